"""The maximum (minimum) of a vector read at its position (``transforms/analysis/max_positions.py``):
``m = np.max(x)`` becomes ``m_at = np.argmax(x); m = x[m_at]``, whose adjoint adds into one element
instead of an array of zeros the size of ``x``. Gradients against central differences and closed
forms (ties, NaN), tangents against central differences, and the values against the functions."""

import math

import numpy as np
import pytest

import srcad
from oracles import plain_central_differences


def log_sum_exp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def spread(x, w):
    return np.max(x * w) - np.min(x) + np.amax(w) * np.amin(x * x)


def per_row_softmax_loss(scores, targets):
    total = 0.0
    for i in range(scores.shape[0]):
        row = scores[i] * 1.5
        m = np.max(row)
        total += m + math.log(np.sum(np.exp(row - m))) - row[targets[i]]
    return total


def of_a_matrix(a):
    return np.max(a) * np.min(a * a)  # (two dimensions: the call stays)


def largest(x):
    return np.max(x)


def _gradient_matches(function, args, wrt):
    gradients = srcad.grad(function, wrt=wrt)(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    gradients = gradients if isinstance(gradients, tuple) else (gradients,)
    for position, gradient in zip(wrt, gradients):
        np.testing.assert_allclose(gradient, plain_central_differences(function, args, position), rtol=1e-6, atol=1e-8)
    assert srcad.value_and_grad(function, wrt=wrt)(*args)[0] == pytest.approx(function(*args), rel=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradients_of_maxima_and_minima_of_vectors(seed):
    rng = np.random.default_rng(seed)
    _gradient_matches(log_sum_exp, (rng.normal(size=9),), (0,))
    _gradient_matches(spread, (rng.normal(size=6), rng.normal(size=6)), (0, 1))
    _gradient_matches(per_row_softmax_loss, (rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)), (0,))
    _gradient_matches(of_a_matrix, (rng.normal(size=(3, 4)),), (0,))


def test_the_adjoint_adds_into_one_element():
    source = srcad.source(log_sum_exp, "adjoint", args=(np.linspace(0.0, 1.0, 5),), wrt=(0,))
    assert "np.argmax(x)" in source and "at_first" not in source
    source = srcad.source(of_a_matrix, "adjoint", args=(np.ones((2, 3)),), wrt=(0,))
    assert "at_first" in source


def test_a_tie_gives_the_gradient_to_the_first_and_a_nan_to_the_first_nan():
    gradient = srcad.grad(largest)(np.array([1.0, 3.0, -2.0, 3.0]))
    np.testing.assert_array_equal(gradient, [0.0, 1.0, 0.0, 0.0])
    value, gradient = srcad.value_and_grad(largest)(np.array([1.0, np.nan, 5.0, np.nan]))
    assert math.isnan(value)
    np.testing.assert_array_equal(gradient, [0.0, 1.0, 0.0, 0.0])


def test_tangents_of_maxima_of_vectors():
    rng = np.random.default_rng(3)
    x, direction = rng.normal(size=7), rng.normal(size=7)
    _, tangent = srcad.jvp(log_sum_exp, (x,), (direction,))
    step = 1e-6
    expected = (log_sum_exp(x + step * direction) - log_sum_exp(x - step * direction)) / (2 * step)
    assert tangent == pytest.approx(expected, rel=1e-6)


def test_second_derivatives_of_log_sum_exp():
    # forward mode over the gradient, which reads the maximum at its position: the softmax's Jacobian
    x = np.random.default_rng(4).normal(size=6)
    p = np.exp(x - x.max())
    p /= p.sum()
    np.testing.assert_allclose(srcad.hessian(log_sum_exp)(x), np.diag(p) - np.outer(p, p), rtol=1e-10, atol=1e-14)
