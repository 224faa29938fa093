"""The public API on the example of issue #3, each result against an independent oracle."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

import srcad
from oracles import plain_central_difference

_HERE = os.path.dirname(os.path.abspath(__file__))
_TEST_FOLDERS = [_HERE, os.path.dirname(_HERE)]  # this file's, and the shared modules' (oracles)


def f_plain(x, y):
    s = 0.0
    for i in range(10):
        if x > y:
            s += math.sin(x * i) / (i + 1)
        else:
            s -= x * y
        x = 0.9 * x + 0.1 * y
    return s


f = srcad.differentiable(f_plain)


def fd(function, *args):
    return tuple(plain_central_difference(function, args, i) for i in range(len(args)))


def test_decorated_function_is_still_callable_and_compiled():
    assert f(1.0, 0.5) == pytest.approx(f_plain(1.0, 0.5), rel=1e-14)
    assert f.__name__ == "f_plain" and f.__doc__ == f_plain.__doc__
    assert f._primal is not None and hasattr(f._primal, "signatures")  # a numba dispatcher ran it


def test_grad_defaults_to_the_first_argument():
    assert srcad.grad(f)(1.0, 0.5) == pytest.approx(fd(f_plain, 1.0, 0.5)[0], rel=1e-6)


def test_grad_with_a_tuple_of_positions_gives_a_tuple():
    dx, dy = srcad.grad(f, wrt=(0, 1))(1.0, 0.5)
    assert (dx, dy) == pytest.approx(fd(f_plain, 1.0, 0.5), rel=1e-6)
    assert isinstance(dx, float)


def test_grad_of_an_undecorated_function():
    assert srcad.grad(f_plain, wrt=1)(0.3, 0.5) == pytest.approx(fd(f_plain, 0.3, 0.5)[1], rel=1e-6)


def test_negative_wrt_counts_from_the_end():
    assert srcad.grad(f, wrt=-1)(1.0, 0.5) == pytest.approx(fd(f_plain, 1.0, 0.5)[1], rel=1e-6)


def test_value_and_grad():
    value, dy = srcad.value_and_grad(f, wrt=1)(1.0, 0.5)
    assert value == pytest.approx(f_plain(1.0, 0.5), rel=1e-14)
    assert dy == pytest.approx(fd(f_plain, 1.0, 0.5)[1], rel=1e-6)


def power(x, n):
    return x**n


def test_vjp_gives_one_cotangent_per_argument_and_none_for_ints():
    y, pullback = srcad.vjp(power, 2.0, 3)
    assert y == 8.0
    dx, dn = pullback(2.0)
    assert dx == pytest.approx(2.0 * 3 * 2.0**2) and dn is None


def test_vjp_of_the_issue_example():
    y, pullback = srcad.vjp(f, 1.0, 0.5)
    assert y == pytest.approx(f_plain(1.0, 0.5))
    assert pullback(1.0) == pytest.approx(fd(f_plain, 1.0, 0.5), rel=1e-6)


def test_source_shows_readable_stages():
    normalized = srcad.source(f, "normalized")
    adjoint = srcad.source(f, "adjoint")
    assert "def f_plain(x, y):" in normalized
    assert "def f_plain_adjoint(x, y, output_adj):" in adjoint
    assert "# adjoint of line" in adjoint
    with pytest.raises(ValueError, match="unknown stage"):
        srcad.source(f, "bogus")


def test_check_grad_reports_the_worst_error():
    report = srcad.check_grad(f, 1.0, 0.5)
    assert report.ok and report.worst_error < 1e-6
    assert "ok" in repr(report)


def stopped(x):
    return x * srcad.no_grad(x * x)


def test_no_grad_cuts_the_derivative():
    # d/dx [x * c] with c = x*x held constant is c
    assert srcad.grad(stopped)(1.5) == pytest.approx(1.5 * 1.5, rel=1e-14)
    assert srcad.no_grad(2.5) == 2.5


def test_decorator_with_options():
    @srcad.differentiable()
    def square(x):
        return x * x

    assert square(3.0) == 9.0


def test_grad_works_without_numba_jit(tmp_path):
    """NUMBA_DISABLE_JIT=1 runs the same generated source as plain Python."""
    code = (
        "import sys, math; sys.path[:0] = %r\n"
        "import srcad, test_api\n"
        "print(repr(srcad.grad(test_api.f_plain, wrt=(0, 1))(1.0, 0.5)))\n"
    ) % _TEST_FOLDERS
    environment = dict(os.environ, NUMBA_DISABLE_JIT="1", SRCAD_CACHE_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    values = eval(result.stdout.strip().replace("np.float64", "float"))
    assert values == pytest.approx(fd(f_plain, 1.0, 0.5), rel=1e-6)


def array_plain(x, w, steps):
    for _ in range(steps):
        x = x + 0.1 * np.tanh(x[:, None] * w).sum(axis=1)
    x[0] *= 2.0
    return np.sum(x * x) + np.max(x, axis=0, keepdims=True)[0]


def test_array_gradients_work_without_numba_jit(tmp_path):
    """Array code too: NumPy overloads still type, the helpers run as NumPy."""
    code = (
        "import sys; sys.path[:0] = %r\n"
        "import numpy as np, srcad, test_api\n"
        "x, w = np.array([0.3, -0.2, 0.5]), np.array([0.7, 1.1])\n"
        "print(srcad.grad(test_api.array_plain)(x, w, 3).tolist())\n"
    ) % _TEST_FOLDERS
    environment = dict(os.environ, NUMBA_DISABLE_JIT="1", SRCAD_CACHE_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    x, w = np.array([0.3, -0.2, 0.5]), np.array([0.7, 1.1])
    expected = []
    for k in range(3):
        step = np.zeros(3)
        step[k] = 1e-6
        expected.append((array_plain(x + step, w, 3) - array_plain(x - step, w, 3)) / 2e-6)
    assert eval(result.stdout.strip()) == pytest.approx(expected, rel=1e-6)


def test_command_line_shows_a_stage():
    target = f"{__file__}:f_plain"
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(_TEST_FOLDERS))  # this file imports the oracles
    result = subprocess.run(
        [sys.executable, "-m", "srcad", "show", target, "--stage", "normalized"],
        capture_output=True,
        text=True,
        env=environment,
    )
    assert result.returncode == 0, result.stderr
    assert "def f_plain(x, y):" in result.stdout
    result = subprocess.run([sys.executable, "-m", "srcad", "show", target], capture_output=True, text=True,
                            env=environment)
    assert "def f_plain_adjoint" in result.stdout


def with_defaults(x, scale=2.0, n=3):
    s = 0.0
    for i in range(n):
        s += scale * x * i
    return s


def test_keyword_arguments_and_defaults_are_bound_like_python():
    # d/dx of scale * x * (0 + 1 + ... + n-1)
    assert srcad.grad(with_defaults)(1.5) == pytest.approx(2.0 * 3)
    assert srcad.grad(with_defaults)(1.5, n=4) == pytest.approx(2.0 * 6)
    assert srcad.grad(with_defaults, wrt=1)(1.5, scale=0.5) == pytest.approx(1.5 * 3)
    assert srcad.differentiable(with_defaults)(1.0, n=2) == pytest.approx(2.0)
    with pytest.raises(TypeError, match="with_defaults"):
        srcad.grad(with_defaults)(1.5, bogus=1)


def sum_of_squares(x):
    return np.sum(x * x)


@pytest.mark.parametrize(
    "argument, message",
    [
        (np.array([1 + 2j, 3j]), "complex128"),
        (np.array([1.0, "a"], dtype=object), "object"),
        ([[1.0, 2.0], [3.0]], "is a list"),
        ([1.0, 2.0], "numpy.asarray"),
        (np.array([1, 2]), "astype"),
    ],
    ids=["complex", "object", "ragged-list", "list", "int-array"],
)
def test_arguments_srcad_cannot_differentiate_are_refused_before_running(argument, message):
    with pytest.raises(TypeError, match=message):
        srcad.grad(sum_of_squares)(argument)


def weighted_squares(x, w):
    total = 0.0
    for i in range(x.shape[0]):
        total += w[i] * x[i] * x[i]
    return total


def test_repeated_calls_with_other_layouts_and_dtypes_get_their_own_compiled_code():
    # calls after the first take a fast path keyed by the arguments' types: layouts (contiguous,
    # strided, Fortran), dtypes and read-only arrays must each get code of their own
    base = np.arange(1.0, 9.0)
    weights = np.linspace(0.5, 2.0, 8)
    readonly = base.copy()
    readonly.setflags(write=False)
    cases = [base, base[::2], readonly, base.astype(np.float32), np.asfortranarray(base)]
    for x in cases:
        w = weights[: x.shape[0]].astype(x.dtype)
        for _ in range(2):  # the second call takes the fast path
            gradient = srcad.grad(weighted_squares)(x, w)
            assert gradient.dtype == x.dtype
            np.testing.assert_allclose(gradient, 2.0 * w * x, rtol=1e-6 if x.dtype == np.float32 else 1e-14)
