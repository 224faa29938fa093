"""Whole-array arithmetic, NumPy's elementwise functions and reductions to a float."""

import numpy as np
import pytest

import srcad
from oracles import plain_central_differences


def mean_squared_error(w, b, x, y):
    prediction = w * x + b
    residual = prediction - y
    return np.sum(residual**2) / x.shape[0]


def mixed(x, k):
    s = np.sin(x) * k + np.exp(-x * x)
    return np.dot(s, x) + np.linalg.norm(x) + np.mean(np.tanh(s)) + x.sum()


def softplus(x, t):
    z = np.log1p(np.exp(x)) - t * x
    return z.mean() + np.abs(x).dot(t)


def power_and_sqrt(x, y):
    return np.sum(np.sqrt(x * x + 1.0) ** y + np.power(x * x + 1.0, 0.5) / np.cosh(y))


def hinge_and_relu(x, w):
    relu = np.maximum(x * w, 0.0)
    clipped = np.minimum(relu, 2.0)
    chosen = np.where(x > 0.0, np.square(x), -x)
    bounded = np.clip(x * 3.0, -1.0, w)
    return np.sum(clipped + chosen) + np.sum(bounded * x)


def views_in_tests_and_indices(x, w):
    y = x.reshape(2, 2)
    k = int(np.argmax(y.ravel()))  # an index read from a view
    s = x[k] * w
    if np.min(y.T.flatten()) > -5.0 and y.transpose().sum() > 0.0:  # views inside a branch's test
        s = s + np.sum(y * y) * w
    if y.T.shape[0] == 2:  # shapes of views
        s = s + np.sum(np.ones(x[1:].shape) * x[1:] ** 3)
    return s


RNG = np.random.default_rng(7)
CASES = [
    (mean_squared_error, (0.7, -0.2, RNG.normal(size=6), RNG.normal(size=6)), (0, 1, 2, 3)),
    (mixed, (RNG.normal(size=5), 1.3), (0, 1)),
    (softplus, (RNG.normal(size=5) + 0.5, RNG.normal(size=5)), (0, 1)),
    (power_and_sqrt, (RNG.normal(size=4), RNG.uniform(0.5, 1.5, size=4)), (0, 1)),
    (hinge_and_relu, (np.array([-1.3, -0.4, 0.3, 0.8, 1.9]), 1.7), (0, 1)),
    (views_in_tests_and_indices, (np.array([1.0, 3.0, 2.0, 0.5]), 0.7), (0, 1)),
]


@pytest.mark.parametrize("function, args, wrt", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_vectorized_gradients_match_central_differences(function, args, wrt):
    gradients = srcad.grad(function, wrt=wrt)(*args)
    for gradient, position in zip(gradients, wrt):
        expected = plain_central_differences(function, list(args), position)
        np.testing.assert_allclose(gradient, expected, rtol=1e-6, atol=1e-8)
        assert np.shape(gradient) == np.shape(args[position])


def norm_then_overwrite(x):
    n = np.linalg.norm(x)
    x[0] = 5.0
    return n * x[0]


def test_an_element_overwritten_after_a_use_that_needs_it_is_saved_and_restored():
    x = np.array([0.3, -1.2, 0.8])
    got = srcad.grad(norm_then_overwrite)(x.copy())
    np.testing.assert_allclose(got, plain_central_differences(norm_then_overwrite, [x], 0), rtol=1e-6)
    source = srcad.source(norm_then_overwrite, "adjoint", args=(x,))
    assert "tape_floats[floats_top] = x[0]; floats_top += 1" in source  # the element is saved, not the array


def shared_then_written(x):
    view = x[1:]
    s = np.sum(x * x)
    view += 1.0  # changes x too: x * x's adjoint needs the values from before
    return s + np.sum(x * x)


def alias_then_written(x):
    y = x
    s = np.sum(np.sin(x))
    y[0] = 5.0
    return s + np.sum(x)


@pytest.mark.parametrize("function", [shared_then_written, alias_then_written])
def test_writes_through_another_name_of_the_same_array(function):
    x = np.array([0.3, -1.2, 0.8])
    np.testing.assert_allclose(srcad.grad(function)(x.copy()), plain_central_differences(function, [x], 0), rtol=1e-6, atol=1e-9)


def scale_in_loop(x, k):
    s = 0.0
    for i in range(3):
        y = x * k
        s += np.sum(y)
    return s


def test_array_temporaries_inside_loops():
    x = np.random.default_rng(4).normal(size=3)
    dx, dk = srcad.grad(scale_in_loop, wrt=(0, 1))(x, 2.0)
    np.testing.assert_allclose(dx, plain_central_differences(scale_in_loop, [x, 2.0], 0), rtol=1e-6)
    assert dk == pytest.approx(plain_central_differences(scale_in_loop, [x, 2.0], 1), rel=1e-6)


def reshape_of_a_transpose(x):
    return np.sum(np.sin(x.T.reshape(-1)))


def reshape_of_a_raveled_transpose(x):
    return np.sum(np.sin(x.T.ravel().reshape(3, 2)) * np.arange(6.0).reshape(3, 2))


def test_a_reshape_numba_cannot_do_says_how_to_write_it():
    x = np.arange(6.0).reshape(2, 3) / 10
    with pytest.raises(ValueError, match=r"a\.ravel\(\)\.reshape"):
        srcad.grad(reshape_of_a_transpose)(x)
    np.testing.assert_allclose(
        srcad.grad(reshape_of_a_raveled_transpose)(x), plain_central_differences(reshape_of_a_raveled_transpose, [x], 0), rtol=1e-7
    )
