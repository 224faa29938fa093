"""In-place writes whose right-hand side shares memory with the array written (``y += y[0]``,
``c = y[1:]; c += y[:-1]``, through other names, views and helpers): NumPy reads the right-hand
side before writing, and so must srcad, in the primal, the gradient and the tangent. Checked
against the plain NumPy function and central differences of it."""

import numpy as np
import pytest

import srcad
from oracles import plain_central_difference


def add_the_left_neighbours_through_a_view(y):
    c = y[1:]
    c += y[:-1]
    return np.sum(y * y * y)


def add_the_transpose_into_itself(y):
    b = y.T
    b += y
    return np.sum(y * np.arange(1.0, 1.0 + y.size).reshape(y.shape))


def shift_right_through_another_name(y):
    b = y
    b[1:] = y[:-1]
    return np.sum(np.sin(y) * np.arange(1.0, 1.0 + y.size))


def tail(a):
    return a[1:]


def add_through_a_helpers_view(y):
    t = tail(y)
    t += y[:-1]
    return np.sum(y * y)


def add_the_reversed_array(y):
    r = y[::-1]
    y += r
    return np.sum(y * np.arange(1.0, 1.0 + y.size))


def add_a_reshaped_transpose(y):
    flat = y.reshape(y.size)
    square = flat.reshape(y.shape)
    y -= 0.5 * square.T + square.T
    y *= square.T
    return np.sum(y * y)


def add_the_first_row_in_a_loop(y, steps):
    for _ in range(steps):
        b = y
        b += 0.5 * y[0]
        b += y[0]
    return np.sum(np.cos(y))


VECTOR = np.array([0.3, -1.2, 0.7, 2.1, -0.4])
MATRIX = np.array([[0.5, -1.0, 0.25], [1.5, 0.75, -2.0], [-0.3, 1.1, 0.6]])
CASES = [
    (add_the_left_neighbours_through_a_view, (VECTOR,)),
    (add_the_transpose_into_itself, (MATRIX,)),
    (shift_right_through_another_name, (VECTOR,)),
    (add_through_a_helpers_view, (VECTOR,)),
    (add_the_reversed_array, (VECTOR,)),
    (add_a_reshaped_transpose, (MATRIX,)),
    (add_the_first_row_in_a_loop, (MATRIX, 3)),
]


def _copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def _fd_gradient(function, args):
    gradient = np.zeros_like(args[0])
    for element in np.ndindex(args[0].shape):

        def along(t, element=element):
            copies = _copies(args)
            copies[0][element] = t
            return function(*copies)

        gradient[element] = plain_central_difference(along, (float(args[0][element]),), 0)
    return gradient


@pytest.mark.parametrize("function, args", CASES, ids=[c[0].__name__ for c in CASES])
def test_the_primal_reads_the_right_hand_side_before_writing(function, args):
    plain_args, srcad_args = _copies(args), _copies(args)
    expected = function(*plain_args)
    assert srcad.differentiable(function)(*srcad_args) == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(srcad_args[0], plain_args[0], rtol=1e-14)


@pytest.mark.parametrize("function, args", CASES, ids=[c[0].__name__ for c in CASES])
def test_value_side_effect_and_gradient_follow_numpy(function, args):
    plain_args, srcad_args = _copies(args), _copies(args)
    expected = function(*plain_args)
    value, gradient = srcad.value_and_grad(function)(*srcad_args)
    assert value == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(srcad_args[0], plain_args[0], rtol=1e-14)
    np.testing.assert_allclose(gradient, _fd_gradient(function, args), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("function, args", CASES, ids=[c[0].__name__ for c in CASES])
def test_tangent_follows_numpy(function, args):
    direction = np.random.default_rng(5).normal(size=args[0].shape)
    value, tangent = srcad.jvp(function, tuple(_copies(args)), (direction,) + (None,) * (len(args) - 1))
    assert value == pytest.approx(function(*_copies(args)), rel=1e-14)

    def along(t):
        copies = _copies(args)
        copies[0] = args[0] + t * direction
        return function(*copies)

    assert tangent == pytest.approx(plain_central_difference(along, (0.0,), 0), rel=1e-6, abs=1e-6)


def running_sums(x, y):
    s = x[0]
    for i in range(1, x.shape[0]):
        s += x[i]
        y[i] = y[i - 1] + s
        y[i] += y[i - 1]
    return s + np.sum(y)


def test_reads_that_cannot_overlap_are_not_copied():
    """Numbers of a vector added to a number of the same vector, an element written from its
    neighbour in the same array: nothing shares memory in a way the order could change."""
    assert "snapshot" not in srcad.source(running_sums, "normalized")
