"""Reverse mode: the generated adjoint, run as plain Python, against central differences."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from numba.core import types as numba_types

from oracles import plain_central_difference
from srcad.pipeline import Normalized


def _adjoint_function(function, wrt, argument_types):
    source, entry = Normalized(function).adjoint_source(wrt, argument_types)
    namespace = {}
    exec(compile(source, "<adjoint>", "exec"), namespace)
    return namespace[entry], source


def damped(x, k):
    v = 0.0
    for i in range(30):
        if x > 0.0:
            v = v - 0.1 * k * x
        else:
            v = v - 0.05 * k * x * x
        x = x + 0.1 * v
    return x * x + v


FLOATS = (numba_types.float64, numba_types.float64)


@given(st.floats(-1, 1).filter(lambda x: abs(x) > 1e-3), st.floats(0.1, 1.5))
def test_plain_python_adjoint_matches_central_differences(x, k):
    adjoint, _ = _adjoint_function(damped, (0, 1), FLOATS)
    value, x_adj, k_adj = adjoint(x, k, 1.0)
    assert value == pytest.approx(damped(x, k), rel=1e-12)
    # Branch flips near x == 0 make the function kinked; central differences must not straddle one.
    assert x_adj == pytest.approx(plain_central_difference(damped, (x, k), 0), rel=1e-4, abs=1e-5)
    assert k_adj == pytest.approx(plain_central_difference(damped, (x, k), 1), rel=1e-4, abs=1e-5)


def test_seed_scales_the_adjoint():
    adjoint, _ = _adjoint_function(damped, (0,), FLOATS)
    expected = 2.5 * plain_central_difference(damped, (0.7, 1.3), 0)
    assert adjoint(0.7, 1.3, 2.5)[1] == pytest.approx(expected, rel=1e-5)


def test_adjoint_source_reads_like_hand_written_code():
    _, source = _adjoint_function(damped, (0, 1), FLOATS)
    assert "def damped_adjoint(x, k, output_adj):" in source
    assert "x_adj" in source and "k_adj" in source
    first = damped.__code__.co_firstlineno
    assert f"# adjoint of line {first + 7}: x = x + 0.1 * v" in source
    assert "for i in range(i_iterations - 1, -1, -1):" in source
    assert "return (value, x_adj, k_adj)" in source


def test_inactive_arguments_get_no_adjoint_code():
    _, source = _adjoint_function(damped, (0,), FLOATS)
    assert "k_adj" not in source


def swap(x, y):
    a, b = x, y
    for i in range(4):
        a, b = b, a * b + 0.5
    return a - b


@given(st.floats(-1.2, 1.2), st.floats(-1.2, 1.2))
def test_tuple_swaps_in_loops(x, y):
    adjoint, _ = _adjoint_function(swap, (0, 1), FLOATS)
    _, x_adj, y_adj = adjoint(x, y, 1.0)
    assert x_adj == pytest.approx(plain_central_difference(swap, (x, y), 0), rel=1e-5, abs=1e-6)
    assert y_adj == pytest.approx(plain_central_difference(swap, (x, y), 1), rel=1e-5, abs=1e-6)


def nested(x, n, m):
    s = 0.0
    for i in range(n):
        t = x
        for j in range(i, m, 2):
            t = math.sin(t) * 0.9 + x * j
        k = 0
        while k < i:
            t = t * 0.5 + 0.1
            k += 1
        s += t
    return s


@given(st.floats(-2, 2), st.integers(0, 5), st.integers(0, 7))
def test_nested_loops_with_steps_and_whiles(x, n, m):
    adjoint, _ = _adjoint_function(nested, (0,), (numba_types.float64, numba_types.int64, numba_types.int64))
    _, x_adj = adjoint(x, n, m, 1.0)
    assert x_adj == pytest.approx(plain_central_difference(nested, (x, n, m), 0), rel=1e-5, abs=1e-6)
