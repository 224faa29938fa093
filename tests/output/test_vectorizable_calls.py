"""Generated CPU code calls srcad's vectorizable exp, log and tanh (``output/simd_calls.py``) and adds
float accumulations of innermost loops in any order (``output/any_order_sums.py``); the functions
themselves are tested in tests/kernels/test_vectorizable.py."""

import math

import libcst as cst
import numpy as np

import srcad
from oracles import plain_central_differences
from srcad.transforms.ir.precedence import module_code
from srcad.transforms.output.any_order_sums import with_any_order_sums
from srcad.transforms.output.simd_calls import with_simd_calls


def _rewritten(rewrite, body, parameters="x, n"):
    code = f"def f({parameters}):\n" + body
    return module_code([rewrite(cst.parse_module(code).body[0])])  # printed as srcad prints: with precedence


def test_exp_log_and_tanh_call_the_twins():
    code = _rewritten(with_simd_calls, "    a = math.exp(x) + np.log(x)\n    b = np.tanh(np.sin(x))\n"
                                       "    c = np.exp(x, out=y)\n    return a + b + math.log(x, 2.0)\n")
    assert "simd_exp(x) + simd_log(x)" in code and "simd_tanh(np.sin(x))" in code
    assert "np.exp(x, out=y)" in code and "math.log(x, 2.0)" in code  # not one positional argument


def test_float_accumulations_of_innermost_loops_add_in_any_order():
    code = _rewritten(with_any_order_sums, (
        "    s = 0.0\n    d_adj = 0.0\n    top = 0\n    g_adj = np.zeros(n)\n    t = x[0]\n    outer = 0.0\n"
        "    for i in range(n):\n"
        "        s += x[i] * 2.0\n"
        "        if x[i] > 0.0:\n            d_adj -= x[i]\n"
        "        top += 1\n"
        "        g_adj += x\n"
        "        t += x[i]\n"
        "    for j in range(n):\n        outer += 1.0\n        for k in range(n):\n            s += 1.0\n"
        "    return s, d_adj, top, g_adj, t, outer\n"
    ))
    assert "s = sum_in_any_order(s, x[i] * 2.0)" in code and "d_adj = sum_in_any_order(d_adj, -x[i])" in code
    assert "s = sum_in_any_order(s, 1.0)" in code  # the innermost loop of a nest
    for kept in ("top += 1", "g_adj += x", "t += x[i]", "outer += 1.0"):  # an int, an array, not a literal's, not innermost
        assert kept in code


def test_a_sum_starting_from_a_float_variable_adds_in_any_order_where_types_say_float():
    body = "    z = b\n    k = n\n    for j in range(n):\n        z += x[j]\n        k += 1\n    return z\n"
    assert "z += x[j]" in _rewritten(with_any_order_sums, body, "x, b, n")  # without types: unknown
    code = module_code([with_any_order_sums(cst.parse_module("def f(x, b, n):\n" + body).body[0], {"z", "b"})])
    assert "z = sum_in_any_order(z, x[j])" in code and "k += 1" in code


def logistic_loss_rows(w, b, X):
    total = 0.0
    for i in range(X.shape[0]):
        z = b
        for j in range(X.shape[1]):
            z += X[i, j] * w[j]
        total += math.log1p(math.exp(-z))
    return total


def test_a_row_dot_product_from_a_parameter_adds_in_any_order_and_its_gradient_holds():
    rng = np.random.default_rng(3)
    args = (rng.standard_normal(6), 0.3, rng.standard_normal((9, 6)))
    gradient = srcad.grad(logistic_loss_rows, wrt=(0, 1))(*args)
    for k in (0, 1):
        np.testing.assert_allclose(gradient[k], plain_central_differences(logistic_loss_rows, args, k), rtol=1e-6, atol=1e-8)
    assert "z = sum_in_any_order(z, " in srcad.source(logistic_loss_rows, "adjoint", args=args, wrt=(0, 1))


def test_a_negated_sum_keeps_its_meaning():
    code = _rewritten(with_any_order_sums, "    s = 0.0\n    for i in range(n):\n        s -= x[i] - 1.0\n    return s\n")
    assert "sum_in_any_order(s, -(x[i] - 1.0))" in code


def logsumexp_loops(x, w):
    a = x[0]
    for i in range(1, x.shape[0]):
        if x[i] > a:
            a = x[i]
    s = 0.0
    t = 0.0
    for i in range(x.shape[0]):
        s += math.exp(x[i] - a)
        t -= w[i] * np.tanh(x[i])
    return a + math.log(s) + t


def test_gradients_and_hessians_through_the_twins():
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal(40), rng.standard_normal(40)
    gradient = srcad.grad(logsumexp_loops, wrt=(0, 1))(x, w)
    for k in (0, 1):
        np.testing.assert_allclose(gradient[k], plain_central_differences(logsumexp_loops, (x, w), k), rtol=1e-6, atol=1e-8)
    adjoint = srcad.source(logsumexp_loops, "adjoint", args=(x, w), wrt=(0, 1))
    assert "simd_exp(" in adjoint and "simd_tanh(" in adjoint and "sum_in_any_order(" in adjoint
    assert "from srcad.kernels.vectorizable import" in adjoint
    # forward mode over the gradient reads the twins' rules: the Hessian in closed form
    hessian = srcad.hessian(logsumexp_loops, wrt=0)(x, w)
    p = np.exp(x - x.max()) / np.sum(np.exp(x - x.max()))
    tanh = np.tanh(x)
    expected = np.diag(p) - np.outer(p, p) + np.diag(2.0 * w * tanh * (1.0 - tanh * tanh))
    np.testing.assert_allclose(hessian, expected, rtol=1e-9, atol=1e-12)
