"""Second derivatives and Jacobians: ``jvp(grad(f))``, ``grad(grad(f))``, ``hessian``, ``jacobian``.

Checked against closed forms (Rosenbrock, quadratic forms, log-sum-exp) and against central
differences of the plain function's closed-form gradient or of the function itself — never against
srcad's own first derivatives.
"""

import math
from typing import NamedTuple

import numpy as np
import pytest

import srcad

if __package__:
    from . import oracles
else:
    import oracles


def rosenbrock(x):
    total = 0.0
    for i in range(x.shape[0] - 1):
        total += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return total


def rosenbrock_hessian(x):
    n = x.shape[0]
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0
        H[i + 1, i + 1] += 200.0
        H[i, i + 1] = H[i + 1, i] = -400.0 * x[i]
    return H


def rosenbrock_gradient(x):
    g = np.zeros_like(x)
    g[:-1] += -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g


def quadratic_form(x, A):
    return 0.5 * (x @ (A @ x))


def log_sum_exp(z):
    shifted = z - np.max(z)
    return np.log(np.sum(np.exp(shifted))) + np.max(z)


RNG = np.random.default_rng(5)


def test_hessian_vector_products_of_rosenbrock_match_the_closed_form():
    x = np.array([0.3, -1.2, 0.8, 1.1, -0.4])
    for _ in range(3):
        v = RNG.normal(size=5)
        gradient, hv = srcad.jvp(srcad.grad(rosenbrock), (x,), (v,))
        np.testing.assert_allclose(gradient, rosenbrock_gradient(x), rtol=1e-12)
        np.testing.assert_allclose(hv, rosenbrock_hessian(x) @ v, rtol=1e-11, atol=1e-11)


def test_dense_hessians_match_closed_forms():
    x = np.array([0.3, -1.2, 0.8, 1.1])
    np.testing.assert_allclose(srcad.hessian(rosenbrock)(x), rosenbrock_hessian(x), rtol=1e-12, atol=1e-12)
    A = RNG.normal(size=(4, 4))
    np.testing.assert_allclose(srcad.hessian(quadratic_form)(x, A), 0.5 * (A + A.T), rtol=1e-12, atol=1e-14)
    z = RNG.normal(size=5)
    p = np.exp(z - z.max()) / np.sum(np.exp(z - z.max()))
    np.testing.assert_allclose(srcad.hessian(log_sum_exp)(z), np.diag(p) - np.outer(p, p), rtol=1e-10, atol=1e-12)


def pendulum_energy(theta, omega, n):
    e = 0.0
    for i in range(n):
        theta = theta + 0.1 * omega
        omega = omega - 0.1 * math.sin(theta)
        if omega > 0.0:
            e += 0.5 * omega * omega
        else:
            e += 1.0 - math.cos(theta)
    return e


def test_second_derivatives_of_a_loop_match_differences_of_the_first():
    for theta, omega in ((0.4, 1.3), (-0.7, 0.2)):
        def first_by_differences(t, w=omega):
            return oracles.central_difference(pendulum_energy, (t, w, 6), 0)

        second = srcad.grad(srcad.grad(pendulum_energy))(theta, omega, 6)
        expected = oracles.central_difference(first_by_differences, (theta,), 0, richardson=False, h=1e-4)
        assert second == pytest.approx(expected, rel=1e-5, abs=1e-6)
        mixed = srcad.grad(srcad.grad(pendulum_energy, wrt=1), wrt=0)(theta, omega, 6)
        expected_mixed = oracles.central_difference(
            lambda t: oracles.central_difference(pendulum_energy, (t, omega, 6), 1), (theta,), 0, richardson=False, h=1e-4
        )
        assert mixed == pytest.approx(expected_mixed, rel=1e-5, abs=1e-6)


def test_grad_of_grad_is_the_closed_form_second_derivative():
    def f(x, y):
        return math.sin(x) * y + x**3

    assert srcad.grad(srcad.grad(f))(0.7, 2.0) == pytest.approx(-math.sin(0.7) * 2.0 + 6 * 0.7, rel=1e-14)
    assert srcad.grad(srcad.grad(f), wrt=1)(0.7, 2.0) == pytest.approx(math.cos(0.7), rel=1e-14)


def swirl(x, s):
    y = np.sin(x * s)
    y[1:] += x[:-1] * x[1:]
    return y * np.sum(x)


def test_jacobians_match_central_differences_column_by_column():
    x, s = RNG.normal(size=4), 0.8
    J = srcad.jacobian(swirl)(x, s)
    assert J.shape == (4, 4)
    for k in range(4):
        def component(t, k=k):
            moved = x.copy()
            moved[k] = t
            return swirl(moved, s)

        h = 1e-6
        column = (component(x[k] + h) - component(x[k] - h)) / (2 * h)
        np.testing.assert_allclose(J[:, k], column, rtol=1e-6, atol=1e-8)
    ds = srcad.jacobian(swirl, wrt=1)(x, s)
    np.testing.assert_allclose(ds, (swirl(x, s + 1e-6) - swirl(x, s - 1e-6)) / 2e-6, rtol=1e-6, atol=1e-8)


def moments(x, w):
    centered = x - np.mean(x)
    return np.array([np.sum(w * centered**2), np.sum(np.sin(x) * w)])


def test_jacobians_of_few_outputs_match_central_differences_row_by_row():
    x, w = RNG.normal(size=6), RNG.uniform(0.5, 1.5, size=6)
    for position in (0, 1):
        J = srcad.jacobian(moments, wrt=position)(x, w)
        assert J.shape == (2, 6)
        for k in range(6):
            moved_up, moved_down = [x.copy(), w.copy()], [x.copy(), w.copy()]
            moved_up[position][k] += 1e-6
            moved_down[position][k] -= 1e-6
            column = (moments(*moved_up) - moments(*moved_down)) / 2e-6
            np.testing.assert_allclose(J[:, k], column, rtol=1e-6, atol=1e-8)


class Summary(NamedTuple):
    energy: float
    forces: np.ndarray


def summarized(x, k):
    return Summary(k * np.sum(x**2), -2.0 * k * np.sin(x))


def polar(r, theta):
    return r * math.cos(theta), r * math.sin(theta)


def _columns_by_differences(function, args, position, part):
    """d part(function(args)) / d args[position], as output.shape + argument.shape."""
    x = np.asarray(args[position], dtype=float)
    columns = []
    for k in range(x.size):
        step = np.zeros(x.size)
        step[k] = 1e-6
        up, down = list(args), list(args)
        up[position] = (x.ravel() + step).reshape(x.shape) if x.ndim else float(x + step[0])
        down[position] = (x.ravel() - step).reshape(x.shape) if x.ndim else float(x - step[0])
        columns.append((np.asarray(part(function(*up))) - np.asarray(part(function(*down)))) / 2e-6)
    return np.stack(columns, axis=-1).reshape(np.shape(part(function(*args))) + x.shape)


@pytest.mark.parametrize("size", [2, 6])  # forward mode (more outputs), reverse mode (fewer)
def test_jacobians_of_tuple_outputs_and_several_arguments_keep_their_structure(size):
    x, k = RNG.normal(size=size), 1.3
    J = srcad.jacobian(summarized, wrt=(0, 1))(x, k)
    assert isinstance(J, Summary) and all(isinstance(part, tuple) and len(part) == 2 for part in J)
    for name in Summary._fields:
        for position in (0, 1):
            expected = _columns_by_differences(summarized, (x, k), position, lambda out: getattr(out, name))
            np.testing.assert_allclose(J._asdict()[name][position], expected, rtol=1e-6, atol=1e-8)
    only_x = srcad.jacobian(summarized)(x, k)
    np.testing.assert_allclose(only_x.forces, np.diag(-2.0 * k * np.cos(x)), rtol=1e-12)
    r, theta = 2.0, 0.3
    J = srcad.jacobian(polar, wrt=(0, 1))(r, theta)
    np.testing.assert_allclose(np.array(J), [[math.cos(theta), -r * math.sin(theta)],
                                             [math.sin(theta), r * math.cos(theta)]], rtol=1e-12)


def sine_field(x, s, n):
    return np.sum(np.sin(x) * s * s) + s * x[0] * x[1] * n


def test_hessian_blocks_for_several_arguments_match_closed_forms():
    x, s, n = np.array([0.3, -0.7, 1.1]), 1.5, 2
    (xx, xs), (sx, ss) = srcad.hessian(sine_field, wrt=(0, 1))(x, s, n)
    expected_xx = np.diag(-np.sin(x) * s * s)
    expected_xx[0, 1] = expected_xx[1, 0] = n * s
    expected_xs = 2.0 * s * np.cos(x) + n * np.array([x[1], x[0], 0.0])
    np.testing.assert_allclose(xx, expected_xx, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(xs, expected_xs, rtol=1e-12)
    np.testing.assert_allclose(sx, expected_xs, rtol=1e-12)
    assert ss == pytest.approx(2.0 * np.sum(np.sin(x)), rel=1e-12)
    assert srcad.hessian(lambda_free_quadratic, wrt=(0, 1))(0.5, 2.0) == ((4.0, 1.0), (1.0, 12.0))


def lambda_free_quadratic(x, y):
    return x * x * y + y**3


def test_grad_of_an_array_gradient_is_refused_with_what_to_use():
    with pytest.raises(TypeError, match="hessian"):
        srcad.grad(srcad.grad(rosenbrock))(np.ones(3))


class Weights(NamedTuple):
    scale: float
    per_element: np.ndarray


def weighted_energy(x, weights, offsets):
    """Parameters in a NamedTuple and a plain tuple, held fixed while x varies."""
    shift, power = offsets
    return weights.scale * np.sum(weights.per_element * (x - shift) ** 2) + np.sum(np.sin(x)) * power


def weighted_energy_hessian(x, weights, offsets):
    return np.diag(2.0 * weights.scale * weights.per_element - np.sin(x) * offsets[1])


def scalar_with_parameters(t, params):
    a, b = params
    return a * t**3 + math.exp(b * t)


def test_second_derivatives_with_tuple_parameters_held_fixed_match_closed_forms():
    x = np.array([0.3, -1.2, 0.8])
    weights, offsets = Weights(1.5, np.array([2.0, 0.5, 1.0])), (0.25, 3.0)
    expected = weighted_energy_hessian(x, weights, offsets)
    np.testing.assert_allclose(srcad.hessian(weighted_energy)(x, weights, offsets), expected, rtol=1e-12, atol=1e-12)
    v = np.array([1.0, -2.0, 0.5])
    gradient, hv = srcad.jvp(srcad.grad(weighted_energy), (x, weights, offsets), (v, None, None))
    closed_gradient = 2.0 * weights.scale * weights.per_element * (x - offsets[0]) + np.cos(x) * offsets[1]
    np.testing.assert_allclose(gradient, closed_gradient, rtol=1e-12)
    np.testing.assert_allclose(hv, expected @ v, rtol=1e-12)
    t, params = 0.7, (2.0, 0.5)  # d2/dt2 (a t^3 + exp(b t)) = 6 a t + b^2 exp(b t)
    second = srcad.grad(srcad.grad(scalar_with_parameters))(t, params)
    assert second == pytest.approx(6.0 * 2.0 * t + 0.25 * math.exp(0.5 * t), rel=1e-12)
    assert srcad.hessian(scalar_with_parameters)(t, params) == pytest.approx(second, rel=1e-12)


def test_jacobians_with_tuple_parameters_held_fixed_match_the_closed_form():
    def scaled(x, params):
        a, b = params
        return a * x**2 + b

    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(srcad.jacobian(scaled)(x, (3.0, np.ones(2))), np.diag(6.0 * x), rtol=1e-12)


def test_second_derivatives_with_respect_to_a_tuple_are_refused():
    with pytest.raises(TypeError, match="tuple argument"):
        srcad.hessian(scalar_with_parameters, wrt=1)(0.7, (2.0, 0.5))


def cubic(x):
    return x**3 + 0.5 * x * x


@pytest.mark.parametrize("derived, again", [
    (lambda: srcad.grad(srcad.grad(cubic)), lambda d: srcad.grad(d)(0.5)),
    (lambda: srcad.grad(srcad.grad(cubic)), lambda d: srcad.jvp(d, (0.5,), (1.0,))),
    (lambda: srcad.grad(cubic), lambda d: srcad.hessian(d)(0.5)),
    (lambda: srcad.hessian(cubic), lambda d: srcad.grad(d)(0.5)),
    (lambda: srcad.jacobian(cubic), lambda d: srcad.jvp(d, (0.5,), (1.0,))),
    (lambda: srcad.value_and_grad(cubic), lambda d: srcad.grad(d)(0.5)),
], ids=["grad-grad-grad", "jvp-grad-grad", "hessian-grad", "grad-hessian", "jvp-jacobian", "grad-value_and_grad"])
def test_derivatives_of_what_srcad_made_are_refused_never_silently_of_the_function(derived, again):
    """These wrappers once carried the function's __wrapped__: srcad read cubic's source for them and
    gave its first derivative as the third (0.75 at 0.5, not 6.0)."""
    with pytest.raises(TypeError, match="is made by srcad, not written with 'def'"):
        again(derived())


def test_the_jacobian_of_a_gradient_is_the_hessian():
    x = np.array([0.3, -0.7, 1.1])
    expected = np.diag(-np.sin(x) * 1.5 * 1.5)
    expected[0, 1] = expected[1, 0] = 2 * 1.5
    np.testing.assert_allclose(srcad.jacobian(srcad.grad(sine_field))(x, 1.5, 2), expected, rtol=1e-12, atol=1e-14)
    d_of_dx_by_ds = srcad.jacobian(srcad.grad(sine_field), wrt=1)(x, 1.5, 2)
    np.testing.assert_allclose(d_of_dx_by_ds, 2.0 * 1.5 * np.cos(x) + 2 * np.array([x[1], x[0], 0.0]), rtol=1e-12)
    blocks = srcad.jacobian(srcad.grad(sine_field, wrt=(0, 1)), wrt=(0, 1))(x, 1.5, 2)
    assert blocks[1][1] == pytest.approx(2.0 * np.sum(np.sin(x)), rel=1e-12)
    np.testing.assert_allclose(blocks[0][1], d_of_dx_by_ds, rtol=1e-12)
    assert srcad.jacobian(srcad.grad(cubic))(0.5) == pytest.approx(6.0 * 0.5 + 1.0, rel=1e-12)
