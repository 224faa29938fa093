"""``axis=`` arguments numba lacks or srcad writes out: np.cumsum and np.linalg.norm along an axis,
np.stack and np.concatenate along any axis. Gradients against central differences, over random
shapes (size-1 axes included), and the compiled helpers against NumPy."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import srcad
from srcad.kernels import arrays
from oracles import plain_central_differences


def cumsum_rows_and_columns(x, w):
    return np.sum(np.cumsum(x, axis=1) * w) + np.sum(np.cumsum(x * x, axis=0) * w) + np.sum(np.cumsum(x, -1) ** 2)


def row_norms(x, w):
    lengths = np.linalg.norm(x, axis=1)
    kept = np.linalg.norm(x * w, axis=0, keepdims=True)
    return np.sum(lengths**3) + np.sum(kept * w) + np.linalg.norm(x - w, None, -1).sum()


def whole_norm_kept(x, w):
    return np.sum(np.linalg.norm(x, keepdims=True) * w)


def stacked_and_joined(x, w):
    side = np.concatenate((x, w, x * w), axis=1)
    deep = np.stack((x, np.sin(w)), axis=-1)
    rows = np.stack((x[0], w[0]), axis=1)
    return np.sum(side**2 * np.cos(side)) + np.sum(deep**3) + np.sum(np.tanh(rows)) + np.sum(np.concatenate([x, w], -1))


@pytest.mark.parametrize("function", [cumsum_rows_and_columns, row_norms, whole_norm_kept, stacked_and_joined])
@settings(max_examples=5, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_gradients_along_an_axis(function, n, m, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.uniform(0.3, 1.2, size=(n, m)), rng.uniform(-1.0, 1.0, size=(n, m))
    value, (dx, dw) = srcad.value_and_grad(function, wrt=(0, 1))(x, w)
    assert value == pytest.approx(function(x, w), rel=1e-12)
    np.testing.assert_allclose(dx, plain_central_differences(function, [x, w], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dw, plain_central_differences(function, [x, w], 1), rtol=1e-6, atol=1e-8)


def compiled_scans(x):
    return arrays.cumsum_along(x, 0), arrays.cumsum_along(x, -1), arrays.cumsum_adjoint_along(x, 1)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_compiled_scans_match_numpy(n, m, k, seed):
    from numba import njit

    x = np.random.default_rng(seed).normal(size=(n, m, k))
    forward_0, forward_last, backward_1 = njit(compiled_scans)(x)
    np.testing.assert_allclose(forward_0, np.cumsum(x, axis=0), rtol=1e-12)
    np.testing.assert_allclose(forward_last, np.cumsum(x, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(backward_1, np.flip(np.cumsum(np.flip(x, 1), axis=1), 1), rtol=1e-12)


def compiled_sums(x, b):
    return arrays.sum_along(x, 1, False), arrays.sum_along(x, -1, False), arrays.sum_along(b, 0, False)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32, np.uint16, np.int64])
def test_compiled_sums_along_an_axis_match_numpy(dtype):
    """The generated modules spell np.sum(x, axis=k) as sum_along(x, k, False) (emit.py): the same
    numbers and dtype, integers and booleans added up in 64 bits."""
    from numba import njit

    x = (np.arange(24) % 7).astype(dtype).reshape(2, 3, 4)
    b = np.arange(10) % 3 == 0
    for got, want in zip(njit(compiled_sums)(x, b), (np.sum(x, axis=1), np.sum(x, axis=-1), np.sum(b, axis=0))):
        np.testing.assert_array_equal(got, want)
        assert np.asarray(got).dtype == np.asarray(want).dtype


def norm_with_ord(x):
    return np.linalg.norm(x, ord=1)


def stack_with_a_variable_axis(x, k):
    return np.sum(np.stack((x, x), axis=k))


@pytest.mark.parametrize("function, args, words", [
    (norm_with_ord, (np.ones(3),), "2-norm"),
    (stack_with_a_variable_axis, (np.ones(3), 0), "axis of np.stack written as a number"),
])
def test_unsupported_axis_arguments_are_refused_at_the_line(function, args, words):
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(function)(*args)
    assert words in str(caught.value)
    assert "test_array_axes.py" in str(caught.value)


def branches_on_reductions_along_an_axis(x, y, s):
    if 0.3 > np.min(y / 2.0, axis=0):  # numba cannot compile np.min(..., axis=0) as written
        x = x * 2.0
    z = np.sum(y) if np.max(x[:-1], axis=0) * x.sum() > 1.0 else s
    return np.sum(x * x) + z * s


@pytest.mark.parametrize("y", [np.array([0.5, -0.2, 0.9]), np.array([0.9, 0.7, 0.8])], ids=["taken", "not-taken"])
def test_tests_on_reductions_along_an_axis(y):
    x, s = np.array([0.3, 1.0, 0.7]), 0.4
    value, (dx, ds) = srcad.value_and_grad(branches_on_reductions_along_an_axis, wrt=(0, 2))(x, y, s)
    assert value == pytest.approx(branches_on_reductions_along_an_axis(x, y, s), rel=1e-14)
    np.testing.assert_allclose(dx, plain_central_differences(branches_on_reductions_along_an_axis, [x, y, s], 0), rtol=1e-6)
    np.testing.assert_allclose(ds, plain_central_differences(branches_on_reductions_along_an_axis, [x, y, s], 2), rtol=1e-6)
