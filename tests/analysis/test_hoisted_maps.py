"""Element-wise functions of arrays a loop leaves alone, computed once before it
(``transforms/analysis/hoisted_maps.py``).

Each program's value and gradient are checked against the user's plain function and central
differences of it, and its adjoint source says whether the chain was computed once before the loop.
A chain moved where the loop changes its array, its operands or its index gives a wrong value.
"""

import math

import numpy as np
import pytest
from oracles import plain_central_differences

import srcad


def _check(function, args, wrt):
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    value, gradient = srcad.value_and_grad(function, wrt=wrt)(*copies)
    np.testing.assert_allclose(value, function(*[a.copy() if isinstance(a, np.ndarray) else a for a in args]),
                               rtol=1e-12)
    gradient = gradient if isinstance(gradient, tuple) else (gradient,)
    for position, computed in zip(wrt, gradient):
        on_copies = lambda *a: function(*[v.copy() if isinstance(v, np.ndarray) else v for v in a])  # noqa: E731
        expected = plain_central_differences(on_copies, list(args), position)
        np.testing.assert_allclose(computed, expected, rtol=1e-6, atol=1e-8)


def _forward_sweep(function, args, wrt):
    source = srcad.source(function, "adjoint", args=args, wrt=wrt)
    return source.split("# forward sweep")[1].split("# reverse sweep")[0]


def _before_the_loop(function, args, wrt, index="i"):
    """The forward sweep before the function's own loop over ``index``."""
    return _forward_sweep(function, args, wrt).split(f"\n    for {index} in range(")[0]


def mixture(alphas, means, icf, x):
    n = x.shape[0]
    k = alphas.shape[0]
    total = 0.0
    for i in range(n):
        lse = np.empty(k)
        for j in range(k):
            scaled = np.exp(icf[j]) * (x[i] - means[j])
            lse[j] = alphas[j] + np.sum(icf[j]) - 0.5 * np.sum(scaled * scaled)
        m = np.max(lse)
        total += m + np.log(np.sum(np.exp(lse - m)))
    return total


def gmm(alphas, means, log_sigmas, x):
    n, d = x.shape
    k = alphas.shape[0]
    total = 0.0
    for i in range(n):
        for c in range(k):
            s = alphas[c]
            for j in range(d):
                z = (x[i, j] - means[c, j]) * math.exp(-log_sigmas[c, j])
                s -= log_sigmas[c, j] + 0.5 * z * z
            total += s * s
    return total


def scaled_by_an_argument(w, a, x):
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(w.shape[0]):
            total += x[i] * math.tanh(a * w[j] + 1.0)
    return total


def rows_of_a_matrix(w, x):
    total = 0.0
    for t in range(x.shape[0]):
        for r in range(w.shape[0]):
            total += np.sum(np.tanh(w[r] * w[r] + 1.0) * x[t])
    return total


def test_a_mixtures_exponentials_are_computed_once():
    rng = np.random.default_rng(0)
    args = (rng.normal(size=3), rng.normal(size=(3, 4)), 0.3 * rng.normal(size=(3, 4)), rng.normal(size=(5, 4)))
    _check(mixture, args, (0, 1, 2, 3))
    assert "= simd_exp(icf_element" in _before_the_loop(mixture, args, (0, 1, 2, 3))


def test_a_scalar_chain_with_a_minus_sign():
    rng = np.random.default_rng(1)
    args = (rng.normal(size=3), rng.normal(size=(3, 2)), 0.3 * rng.normal(size=(3, 2)), rng.normal(size=(4, 2)))
    _check(gmm, args, (0, 1, 2, 3))
    assert "exp(neg_log_sigmas" in _before_the_loop(gmm, args, (0, 1, 2, 3))


def test_a_chain_with_an_argument_the_loop_leaves_alone():
    rng = np.random.default_rng(2)
    args = (rng.normal(size=4), 0.7, rng.normal(size=6))
    _check(scaled_by_an_argument, args, (0, 1, 2))
    assert "tanh" in _before_the_loop(scaled_by_an_argument, args, (0, 1, 2))


def test_rows_through_arithmetic_and_a_tanh():
    rng = np.random.default_rng(3)
    args = (rng.normal(size=(3, 4)), rng.normal(size=(5, 4)))
    _check(rows_of_a_matrix, args, (0, 1))
    assert "tanh" in _before_the_loop(rows_of_a_matrix, args, (0, 1), "t")


def test_the_tangent_of_a_hoisted_chain():
    rng = np.random.default_rng(4)
    w, a, x = rng.normal(size=4), 0.7, rng.normal(size=6)
    dw = rng.normal(size=4)
    _, tangent = srcad.jvp(scaled_by_an_argument, (w, a, x), (dw, 0.0, np.zeros(6)))
    step = 1e-6
    expected = (scaled_by_an_argument(w + step * dw, a, x) - scaled_by_an_argument(w - step * dw, a, x)) / (2 * step)
    np.testing.assert_allclose(tangent, expected, rtol=1e-6)


# -- chains that must stay where they are ----------------------------------------------------------


def array_changed_in_the_loop(w, x):
    v = w.copy()
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(v.shape[0]):
            total += x[i] * math.exp(v[j])
        v[i % v.shape[0]] += 0.1 * x[i]
    return total


def view_written_in_the_loop(w, x):
    v = w.copy()
    head = v[:2]
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(v.shape[0]):
            total += x[i] * math.exp(v[j])
        head[0] = head[0] * 0.5 + x[i]
    return total


def operand_changed_in_the_loop(w, x):
    a = 0.5
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(w.shape[0]):
            total += x[i] * math.exp(a * w[j])
        a = a + 0.1 * x[i]
    return total


def index_of_the_loop_itself(w, x):
    total = 0.0
    for i in range(w.shape[0]):
        total += x[i] * math.exp(w[i])
    return total


def index_changed_in_the_loop(w, x):
    total = 0.0
    j = 0
    for i in range(x.shape[0]):
        total += x[i] * math.exp(w[j])
        j = (j + 1) % w.shape[0]
    return total


def logarithms_of_all_but_the_first(w, x):
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(1, w.shape[0]):
            total += x[i] * math.log(w[j]) + math.sqrt(w[j]) / (1.0 + w[j])
    return total


def test_a_logarithm_is_left_where_an_unread_element_would_make_its_derivative_nan():
    rng = np.random.default_rng(6)
    w, x = np.concatenate([[0.0], rng.uniform(0.5, 1.5, 3)]), rng.normal(size=4)
    gradient = srcad.grad(logarithms_of_all_but_the_first, wrt=0)(w, x)
    assert gradient[0] == 0.0  # w[0] is never read
    _check(logarithms_of_all_but_the_first, (w + 0.5, x), (0, 1))


def row_written_after(w, x):
    total = 0.0
    for t in range(x.shape[0]):
        for r in range(w.shape[0]):
            u = np.tanh(w[r])
            u[0] = u[0] + x[t]  # a new row each time: computed once, it would pile up
            total += np.sum(u)
    return total


def guarded_softplus(x, y):
    total = 0.0
    for i in range(y.shape[0]):
        for j in range(x.shape[0]):
            if x[j] < 30.0:  # exp(1000) overflows; the guard skips it
                total += y[i] * math.log1p(math.exp(x[j]))
            else:
                total += y[i] * x[j]
    return total


def test_a_guarded_chain_stays_under_its_guard():
    x, y = np.array([0.1, -0.2, 1000.0]), np.array([1.0, 2.0])
    gradient = srcad.grad(guarded_softplus, wrt=0)(x, y)
    assert np.isfinite(gradient).all() and gradient[2] == 3.0
    _check(guarded_softplus, (np.array([0.1, -0.2, 0.5]), y), (0, 1))


def scaled_by_a_divisor(w, c, x):
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(w.shape[0]):
            total += x[i] * math.exp(w[j] / c)
    return total


@pytest.mark.parametrize("function", [row_written_after, scaled_by_a_divisor, array_changed_in_the_loop, view_written_in_the_loop,
                                      operand_changed_in_the_loop, index_of_the_loop_itself,
                                      index_changed_in_the_loop])
def test_chains_that_stay_in_the_loop(function):
    rng = np.random.default_rng(5)
    args = (rng.normal(size=(3, 4)), rng.normal(size=4)) if function is row_written_after else (
        (rng.normal(size=4), 0.7, rng.normal(size=4)) if function is scaled_by_a_divisor else (rng.normal(size=4), rng.normal(size=4)))
    wrt = tuple(range(len(args)))
    _check(function, args, wrt)
    forward = _forward_sweep(function, args, wrt)
    if function is row_written_after:
        assert "= simd_tanh(w_r" in forward.split("\n    for t in range(")[1]  # each row's own tanh, in the loop
    else:
        assert "math.exp(" in forward and "np.exp(" not in forward  # (a hoisted chain is computed by NumPy)
