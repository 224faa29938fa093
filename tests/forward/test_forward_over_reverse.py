"""Hessian-vector products by forward mode over the generated gradient (forward over reverse).

``jvp(grad(f))`` differentiates the gradient srcad generates for f, a Python function like any
other, in forward mode. What that gradient calls (tapes, ``reserve``, the array helpers of
``srcad.kernels.arrays``) has a tangent rule in the rule table; these tests check that the path is
taken where it should be, that its answers match closed forms and second differences of the plain
function, and that the helpers' own rules (called by hand) match finite differences.
"""

import math

import numpy as np
import pytest

import srcad
from srcad.kernels.arrays import (
    at_first, at_first_along, at_last_writes, cumsum_adjoint, cumsum_adjoint_along, scattered, spread_along, unbroadcast,
)
from srcad.kernels.runtime import empty_list_like, reserve
from srcad.tangents import _tangent_of_gradient

if __package__:
    from . import oracles
    from .test_hessian_corpus import check
    from .test_higher_order import rosenbrock, rosenbrock_hessian
else:
    import oracles
    from test_hessian_corpus import check
    from test_higher_order import rosenbrock, rosenbrock_hessian


def centered_scores(X, w):
    """Axis sums, broadcasting, a max and a cumulative sum: their adjoints call the array helpers."""
    Z = np.tanh(X * w)
    centered = Z - np.sum(Z, axis=0) / Z.shape[0]
    peak = np.max(centered)
    running = np.cumsum(centered)
    return np.sum(running * running) / running.size + peak * peak + np.sum(np.mean(Z, axis=1) ** 2)


def time_loop(x, k):
    """Element loops in a time loop, overwriting x: the gradient pushes and pops float stacks."""
    v = np.zeros_like(x)
    for step in range(20):
        for i in range(x.shape[0]):
            v[i] += -0.05 * k * math.sin(x[i])
            x[i] = x[i] + 0.05 * v[i] * v[i]
    return np.sum(x * x)


def vectorized_time_loop(x, v, k):
    """Whole arrays bound again at every step: the gradient keeps each step's arrays in typed lists
    (append in the forward sweep, pop in the reverse sweep), which forward mode reads alongside."""
    for step in range(6):
        force = -k * np.sin(x) - 0.1 * v
        v = v + 0.1 * force
        x = x + 0.1 * v * v
    return np.sum(x * x) + k * np.sum(v)


@pytest.mark.parametrize(
    "function, make",
    [
        (rosenbrock, lambda rng: (rng.uniform(-1.0, 1.0, 12),)),
        (centered_scores, lambda rng: (rng.normal(size=(5, 3)), rng.normal(size=3))),
        (time_loop, lambda rng: (rng.uniform(-1.0, 1.0, 4), 1.3)),
        (vectorized_time_loop, lambda rng: (rng.uniform(-1.0, 1.0, 5), rng.uniform(-1.0, 1.0, 5), 1.3)),
    ],
    ids=["rosenbrock", "centered_scores", "time_loop", "vectorized_time_loop"],
)
def test_hessian_vector_products_take_forward_over_reverse_and_match_second_differences(function, make):
    rng = np.random.default_rng(8)
    args = make(rng)
    wrt = tuple(range(len(args)))
    u = [rng.uniform(-1.0, 1.0, np.shape(a)) if np.ndim(a) else float(rng.uniform(-1.0, 1.0)) for a in args]
    v = [rng.uniform(-1.0, 1.0, np.shape(a)) if np.ndim(a) else float(rng.uniform(-1.0, 1.0)) for a in args]
    assert _tangent_of_gradient(function, list(args), v, wrt, "test") is not None  # not the fallback
    check(function, args, wrt, u, v, max(1.0, abs(function(*args))), function.__name__)


def test_the_rosenbrock_hessian_vector_product_is_the_closed_form_at_every_element():
    rng = np.random.default_rng(2)
    x, v = rng.uniform(-1.5, 1.5, 30), rng.normal(size=30)
    gradient, hv = srcad.jvp(srcad.grad(rosenbrock), (x,), (v,))
    H = rosenbrock_hessian(x)
    np.testing.assert_allclose(hv, H @ v, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(srcad.hessian(rosenbrock)(x), H, rtol=1e-12, atol=1e-9)


def scaled_quadratic(x, a, b):
    """x . A x * a + b * sum(x): its Hessian in x is 2 a A, in (x, a) it has the cross term 2 A x."""
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(x.shape[0]):
            total += a * QUADRATIC[i, j] * x[i] * x[j]
    return total + b * np.sum(x)


QUADRATIC = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 3.0]])


def test_repeated_hessian_vector_products_match_the_closed_form_each_call():
    """Calls after the first take a shorter path (argument types seen before): each call's answer is
    still its own, for new points, new directions, another wrt and tangents given None."""
    rng = np.random.default_rng(5)
    for _ in range(3):
        x, v = rng.uniform(-1.5, 1.5, 30), rng.normal(size=30)
        _, hv = srcad.jvp(srcad.grad(rosenbrock), (x,), (v,))
        np.testing.assert_allclose(hv, rosenbrock_hessian(x) @ v, rtol=1e-12, atol=1e-9)
    A = QUADRATIC
    for _ in range(3):
        x, a, b = rng.normal(size=3), float(rng.uniform(0.5, 2.0)), float(rng.normal())
        v, a_dot = rng.normal(size=3), float(rng.normal())
        (g_x, g_a), (hv_x, hv_a) = srcad.jvp(srcad.grad(scaled_quadratic, wrt=(0, 1)), (x, a, b), (v, a_dot, None))
        np.testing.assert_allclose(g_x, 2 * a * A @ x + b, rtol=1e-12)
        np.testing.assert_allclose(g_a, x @ A @ x, rtol=1e-12)
        np.testing.assert_allclose(hv_x, 2 * a * A @ v + 2 * a_dot * A @ x, rtol=1e-12)
        np.testing.assert_allclose(hv_a, 2 * x @ A @ v, rtol=1e-12)
        # the same types with a tangent only for a: the terms of v are gone
        _, (hv_x, hv_a) = srcad.jvp(srcad.grad(scaled_quadratic, wrt=(0, 1)), (x, a, b), (None, a_dot, None))
        np.testing.assert_allclose(hv_x, 2 * a_dot * A @ x, rtol=1e-12)
        assert hv_a == 0.0
    with pytest.raises(ValueError, match="'x'"):  # a wrong tangent is still refused on the short path
        srcad.jvp(srcad.grad(scaled_quadratic, wrt=(0, 1)), (x, a, b), (np.ones(4), a_dot, None))


def through_helpers(X, w, k):
    """Each helper of generated gradients, called by hand (k: int indices into w)."""
    a = unbroadcast(X * X, w)  # (3,) from (4, 3)
    b = spread_along(a * w, X, 0, False)  # (4, 3)
    c = cumsum_adjoint((b * X).ravel(), X)  # the adjoint of np.cumsum(X), flat, in X's shape
    d = at_first(X, np.max(X), np.sum(c))
    e = cumsum_adjoint_along(d + c, 1)
    f = at_first_along(X, np.max(X, axis=0), w * w, 0, False)
    g = scattered(w, k, a[:2] * w[1])
    h = at_last_writes(w * a, k)
    stack = reserve(w * 2.0, 10)
    return np.sum(e * X) + np.sum(f * X) + np.sum(g * w) + np.sum(h * h) + np.sum(stack[:3] * w)


def test_the_helpers_rules_match_finite_differences_in_both_modes():
    rng = np.random.default_rng(4)
    X, w, k = rng.normal(size=(4, 3)), rng.normal(size=3), np.array([2, 0])
    value, (gX, gw) = srcad.value_and_grad(through_helpers, wrt=(0, 1))(X, w, k)
    assert value == pytest.approx(through_helpers(X, w, k), rel=1e-12)
    for position, got in ((0, gX), (1, gw)):
        args = [X.copy(), w.copy(), k]
        expected = np.zeros_like(args[position])
        for element in np.ndindex(expected.shape):

            def along(t, element=element):
                moved = [a.copy() for a in args]
                moved[position][element] = t
                return through_helpers(*moved)

            expected[element] = oracles.central_difference(along, (args[position][element],), 0)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    dX, dw = rng.normal(size=X.shape), rng.normal(size=w.shape)
    _, tangent = srcad.jvp(through_helpers, (X, w, k), (dX, dw, None))
    along = oracles.central_difference(lambda t: through_helpers(X + t * dX, w + t * dw, k), (0.0,), 0)
    assert tangent == pytest.approx(along, rel=1e-6, abs=1e-7)
    u = [rng.normal(size=X.shape), rng.normal(size=w.shape), None]
    check(through_helpers, (X, w, k), (0, 1), u, [dX, dw, None], max(1.0, abs(value)), "through_helpers")


def keeps_arrays_in_a_typed_list(x):
    saved = empty_list_like(x)
    saved.append(x * 2.0)
    y = saved.pop()
    return np.sum(y * y)


def test_reverse_mode_refuses_typed_lists_at_the_line():
    # forward mode reads them (for gradients of gradients); reverse mode would drop what flows through them
    with pytest.raises(srcad.DifferentiabilityError, match="typed lists") as caught:
        srcad.grad(keeps_arrays_in_a_typed_list)(np.ones(3))
    first = keeps_arrays_in_a_typed_list.__code__.co_firstlineno
    assert caught.value.lineno in (first + 2, first + 3)  # the append or the pop
    value, tangent = srcad.jvp(keeps_arrays_in_a_typed_list, (np.arange(3.0),), (np.ones(3),))
    assert (value, tangent) == (20.0, 24.0)  # sum(4 x^2) and its derivative along ones: 8 * sum(x)


def product_along_rows(x):
    return np.sum(np.prod(x, axis=0) ** 2)


def products_along_an_axis_with_zeros(A, w):
    return np.sum(np.prod(A * w, axis=1, keepdims=True) * A) + np.sum(np.sin(A.prod(axis=2)))


def test_second_derivatives_of_products_along_an_axis():
    # forward over reverse reads the derivative helper of np.prod along an axis through its own rule
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 2))
    # forward over reverse, not the fallback
    assert _tangent_of_gradient(product_along_rows, [x], [np.ones_like(x)], (0,), "test") is not None
    check(product_along_rows, (x,), (0,), [rng.uniform(-1, 1, x.shape)], [rng.uniform(-1, 1, x.shape)], 1.0,
          "product_along_rows")
    A = rng.uniform(-1.2, 1.2, (2, 3, 4))
    A[1, 2, 0] = 0.0  # a zero in a line: products of the others, not divisions
    args = (A, 0.8)
    u = [rng.uniform(-1, 1, A.shape), 0.3]
    v = [rng.uniform(-1, 1, A.shape), -0.6]
    check(products_along_an_axis_with_zeros, args, (0, 1), u, v, 1.0, "products_along_an_axis_with_zeros")
    hessian = srcad.hessian(product_along_rows)(x)
    for column in range(x.size):  # the dense Hessian, column by column, vs differences of the closed-form gradient
        step = np.zeros(x.size)
        step[column] = 1e-5
        def gradient(y):
            p = np.prod(y, axis=0)
            return (2 * p * p / y).ravel()  # d/dy_ij of sum_j p_j^2 (no zeros in x here)
        expected = (gradient(x + step.reshape(x.shape)) - gradient(x - step.reshape(x.shape))) / 2e-5
        np.testing.assert_allclose(hessian.reshape(x.size, x.size)[:, column], expected, rtol=1e-6, atol=1e-8)


def product_of_a_row(x, y):
    y *= 0.75 + 0.25 * np.tanh(np.prod(x[0]))
    return np.sum(np.sin(y)) + np.prod(x[1]) ** 2


def test_second_derivatives_of_a_whole_product_still_work():
    # (fuzz find: refusing to read np.prod's derivative helper broke these; its NumPy code is read)
    rng = np.random.default_rng(6)
    args = (rng.uniform(-1.2, 1.2, (2, 3)), rng.uniform(-1.5, 1.5, (3, 1)))
    u = [rng.uniform(-1.0, 1.0, a.shape) for a in args]
    v = [rng.uniform(-1.0, 1.0, a.shape) for a in args]
    check(product_of_a_row, args, (0, 1), u, v, 1.0, "product_of_a_row")


def damped_by_an_integer_power(v, k):
    return math.tanh(v) * (1.0 + k / 7 ** 3 ** (k % 4))  # 3 ** (k % 4): checked as integer_power(...)


def integer_powers_inside(x, n):
    y = x
    for _ in range(2):
        y = damped_by_an_integer_power(y * x, n) + 0.1 * y ** 3
    return y


def test_second_derivatives_of_code_with_checked_integer_powers():
    # the gradient's code names the user's line in a string (integer_power(3, k % 4, "file.py:9")):
    # forward mode over it refused "string values" (CI's random programs found it)
    x, n, h = 0.7, 6, 1e-4
    gradient = srcad.grad(integer_powers_inside)
    _, second = srcad.jvp(gradient, (x, n), (1.0, None))
    plain = integer_powers_inside  # the oracles: differences of the plain function, not of srcad's gradient
    expected = (plain(x + h, n) - 2.0 * plain(x, n) + plain(x - h, n)) / (h * h)
    assert second == pytest.approx(expected, rel=1e-6)
    first = (plain(x + 1e-6, n) - plain(x - 1e-6, n)) / 2e-6
    assert gradient(x, n) == pytest.approx(first, rel=1e-7)


def power(a, b):
    return math.pow(a, b)


@pytest.mark.parametrize("a, b", [(2.0, 0.0), (0.7, 0.0), (2.0, 0.5), (1.5, 3.0)])
def test_second_derivatives_of_a_power_at_every_exponent(a, b):
    """d/da of a ** b is b * a ** (b - 1); at b == 0 its derivative along b is 1 / a, not the 0.0 a
    constant spelling of the b == 0 case gave (found by the random-program hunt)."""
    gradient = srcad.grad(power, wrt=(0, 1))
    mixed = a ** (b - 1) * (1.0 + b * math.log(a))
    expected = {
        (1.0, 0.0): (b * (b - 1) * a ** (b - 2), mixed),
        (0.0, 1.0): (mixed, a ** b * math.log(a) ** 2),
    }
    for direction, (along_a, along_b) in expected.items():
        _, products = srcad.jvp(gradient, (a, b), direction)
        assert products[0] == pytest.approx(along_a, rel=1e-12, abs=1e-14)
        assert products[1] == pytest.approx(along_b, rel=1e-12, abs=1e-14)


def nearest_squared_distances(points, centroids):
    total = 0.0
    for i in range(points.shape[0]):
        nearest = np.inf  # spelled np.inf in the gradient srcad generates, which forward mode reads again
        for c in range(centroids.shape[0]):
            distance = 0.0
            for j in range(points.shape[1]):
                difference = points[i, j] - centroids[c, j]
                distance += difference * difference
            if distance < nearest:
                nearest = distance
        total += nearest
    return total


def test_newtons_direction_of_the_k_means_cost():
    """The gradient and the Hessian times ones, in closed form: a centroid's Hessian is 2 x the
    number of points nearest to it (times the identity); its gradient 2 x the sum of its offsets."""
    points = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0], [4.5, 6.0], [0.2, -0.3]])
    centroids = np.array([[0.5, 0.4], [4.0, 4.0]])
    gradient, curvature = srcad.jvp(srcad.grad(nearest_squared_distances, wrt=1), (points, centroids),
                                    (None, np.ones_like(centroids)))
    nearest = np.argmin(((points[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2), axis=1)
    for c in range(2):
        mine = points[nearest == c]
        np.testing.assert_allclose(gradient[c], 2.0 * (len(mine) * centroids[c] - mine.sum(axis=0)), rtol=1e-12)
        np.testing.assert_allclose(curvature[c], 2.0 * len(mine), rtol=1e-12)
