"""Indexing with arrays of integers, vectorized: gathers ``x[idx]`` and scatters ``b[idx] = v``.

NumPy semantics are the reference: a gather copies (repeated indices copy an element twice, so its
gradient adds up), a scatter keeps the last of repeated writes (the earlier values' gradients are
zero), negative indices count from the end. Oracle: central differences of the plain functions.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import srcad
from oracles import plain_central_difference, plain_central_differences


def _check(function, args, position=0):
    got = srcad.grad(srcad.differentiable(function), wrt=position)(*args)
    expected = plain_central_differences(function, args, position)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def squares_of_picked(x, idx):
    return np.sum(np.sin(x[idx]) * x[idx])


def spring_edges(x, first, second, rest):
    stretch = np.abs(x[second] - x[first]) - rest
    return 0.5 * np.sum(stretch * stretch)


def picked_rows(A, idx):
    B = A[idx]
    return np.sum(B * B[:, ::-1]) + np.sum(A[idx[0]] * 2.0)


def set_picked(x, idx, n):
    b = np.ones(n)
    b[idx] = x
    return np.sum(b * b * b)


def add_into_picked(x, idx, n):
    b = np.ones(n) * 0.5
    b[idx] += x * x
    b[idx] -= x
    return np.sum(np.exp(b))


def scale_picked(x, idx, n):
    b = np.ones(n) + np.sum(x)
    b[idx] *= x
    return np.sum(b * b * b)


def set_picked_to_a_float(x, idx, n):
    b = np.ones(n) * x[0]
    b[idx] = x[1] * x[-1]
    return np.sum(b * b)


def relax_along_neighbours(x, neighbour, steps):
    for t in range(steps):
        x = x + 0.1 * np.tanh(x[neighbour] - x)
    return np.sum(x * x)


indices = st.integers(1, 6).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.integers(-n, n - 1), min_size=0, max_size=8),
        st.lists(st.floats(-2.0, 2.0, allow_nan=False), min_size=8, max_size=8),
    )
)


@settings(max_examples=12, deadline=None)
@given(indices)
def test_gather_with_repeated_and_negative_indices(case):
    n, index_list, values = case
    x = np.array(values[:n])
    _check(squares_of_picked, (x, np.array(index_list, dtype=np.int64)))


@settings(max_examples=12, deadline=None)
@given(indices)
def test_scatter_keeps_the_last_of_repeated_writes(case):
    n, index_list, values = case
    idx = np.array(index_list, dtype=np.int64)
    x = np.array(values[: len(index_list)])
    for function in (set_picked, add_into_picked, scale_picked):
        _check(function, (x, idx, n))


def test_spring_network_over_an_edge_list():
    rng = np.random.default_rng(3)
    x = rng.normal(size=7)
    first, second = np.array([0, 1, 2, 3, 4, 5, 0]), np.array([1, 2, 3, 4, 5, 6, 6])
    _check(spring_edges, (x, first, second, 0.5))
    value, gradient = srcad.value_and_grad(srcad.differentiable(spring_edges), wrt=(0, 3))(x, first, second, 0.5)
    assert value == pytest.approx(spring_edges(x, first, second, 0.5), rel=1e-12)
    rest_fd = plain_central_difference(lambda r: spring_edges(x, first, second, r), (0.5,), 0)
    assert gradient[1] == pytest.approx(rest_fd, rel=1e-6)


def test_gather_of_rows():
    A = np.arange(12.0).reshape(4, 3) / 7.0
    _check(picked_rows, (A, np.array([3, 0, 3, -4])))


def test_scatter_of_one_float_over_the_picked_elements():
    _check(set_picked_to_a_float, (np.array([0.3, -1.2, 0.7]), np.array([2, 2, 0]), 4))


def test_gather_in_a_loop_of_rebindings():
    _check(relax_along_neighbours, (np.array([0.1, -0.4, 0.9, 0.3]), np.array([1, 2, 3, 0]), 6))


def test_forward_mode_through_gathers_and_scatters():
    x, idx, direction = np.array([0.4, -0.3, 1.1]), np.array([1, 1, 0]), np.array([0.3, -0.2, 0.5])
    for function in (set_picked, scale_picked):
        plain = lambda t: function(x + t * direction, idx, 3)
        _, tangent = srcad.jvp(srcad.differentiable(function), (x, idx, 3), (direction, None, None))
        assert tangent == pytest.approx(plain_central_difference(plain, (0.0,), 0), rel=1e-6)


def masked_write(x, mask):
    y = x * 2.0
    y[mask] = 0.0  # <- the mask
    return np.sum(y * x)


def mixed_index(A, idx):
    return np.sum(A[idx, 0])  # <- the mix


@pytest.mark.parametrize("function, args, words", [
    (masked_write, (np.ones((2, 2)), np.array([[True, False], [False, True]])), "boolean mask along the first axis only"),
    (mixed_index, (np.ones((3, 2)), np.array([0, 2])), "one 1-D array of integers"),
])  # fmt: skip
def test_unsupported_index_arrays_are_refused_at_their_line(function, args, words):
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(srcad.differentiable(function))(*args)
    error = caught.value
    assert words in str(error)
    assert "# <- the" in error.source_line and error.filename == __file__


def test_an_inactive_mask_is_fine():
    def weighted(x, w, mask):
        return np.sum(x * x) * np.sum(w[mask])

    x = np.array([0.5, -1.5])
    got = srcad.grad(srcad.differentiable(weighted))(x, np.array([1.0, 2.0, 4.0]), np.array([True, False, True]))
    np.testing.assert_allclose(got, 2.0 * x * 5.0)
