"""NumPy functions simulation code reaches for, differentiated in both modes: each gradient against
central differences of the plain NumPy function, each tangent against a directional difference."""

import numpy as np
import pytest

import srcad
from oracles_local import central_difference


def _copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def gradient_by_differences(function, args, position):
    """d function / d args[position], element by element, by float64 central differences."""
    if not isinstance(args[position], np.ndarray):
        return central_difference(lambda t: function(*_replaced(args, position, t)), (float(args[position]),), 0)
    gradient = np.zeros_like(args[position])
    for element in np.ndindex(args[position].shape):

        def along(t, element=element):
            moved = _copies(args)
            moved[position][element] = t
            return function(*moved)

        gradient[element] = central_difference(along, (float(args[position][element]),), 0)
    return gradient


def _replaced(args, position, value):
    moved = _copies(args)
    moved[position] = value
    return moved


def check_both_modes(function, args, wrt):
    """value_and_grad against the plain value and central differences; jvp along a fixed direction
    against the directional difference."""
    value, gradients = srcad.value_and_grad(function, wrt=wrt)(*_copies(args))
    assert value == pytest.approx(function(*_copies(args)), rel=1e-12, abs=1e-14)
    for position, gradient in zip(wrt, gradients):
        expected = gradient_by_differences(function, args, position)
        np.testing.assert_allclose(gradient, expected, rtol=1e-6, atol=1e-7, err_msg=f"d/d args[{position}]")
    rng = np.random.default_rng(3)
    tangents = [rng.normal(size=np.shape(a)) if k in wrt else None for k, a in enumerate(args)]
    tangents = [float(t) if t is not None and np.ndim(t) == 0 else t for t in tangents]

    def along(t):
        return function(*[a + t * d if d is not None else a for a, d in zip(_copies(args), tangents)])

    jvp_value, tangent = srcad.jvp(function, tuple(_copies(args)), tuple(tangents))
    assert jvp_value == pytest.approx(value, rel=1e-12, abs=1e-14)
    assert tangent == pytest.approx(central_difference(along, (0.0,), 0), rel=1e-6, abs=1e-7)


# -- np.roll: periodic boundaries ------------------------------------------------------------------


def periodic_heat(u, kappa, steps):
    for t in range(steps):
        u = u + kappa * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))
    return np.sum(u ** 3)


def periodic_laplacian_on_a_grid(g, w, steps):
    for t in range(steps):
        lap = np.roll(g, 1, axis=0) + np.roll(g, -1, axis=0) + np.roll(g, 2, axis=1) + np.roll(g, shift=-1, axis=-1) - 4.0 * g
        g = g + 0.1 * w * lap
    return np.sum(g * g * w)


def rolled_by_a_computed_shift(g, w, k):
    return np.sum(np.roll(g, k + 1) * w) + np.sum(np.roll(g * g, -7, axis=1) * w)


VECTOR = np.sin(np.arange(7.0))
GRID = np.sin(np.arange(12.0)).reshape(3, 4)
WEIGHTS = np.cos(np.arange(12.0)).reshape(3, 4)


@pytest.mark.parametrize("function, args", [
    (periodic_heat, (VECTOR, 0.1 + 0.01 * np.arange(7.0), 3)),
    (periodic_laplacian_on_a_grid, (GRID, WEIGHTS, 2)),
    (rolled_by_a_computed_shift, (GRID, WEIGHTS, 2)),
], ids=lambda v: getattr(v, "__name__", ""))  # fmt: skip
def test_np_roll_any_shift_any_axis(function, args):
    check_both_modes(function, args, (0, 1))


def test_np_roll_of_several_axes_at_once_is_refused_with_the_fix():
    def rolls_two_axes(g):
        return np.sum(np.roll(g, (1, 1), axis=(0, 1)) * g)

    with pytest.raises(srcad.DifferentiabilityError, match="one axis at a time"):
        srcad.grad(rolls_two_axes)(GRID)


# -- clipping with array bounds, sign-guarded terms ------------------------------------------------


def clipped_by_arrays(x, low, high):
    return np.sum(np.clip(x, low, high) ** 2)


def sign_guarded(x):
    s = np.sum(np.sign(x) * x ** 2 + np.where(np.sign(x) > 0, x, 0.0))
    for i in range(x.shape[0]):
        s += np.sign(x[i]) * x[i] ** 3
    return s


POINTS = np.array([-1.5, -0.2, 0.3, 0.9, 2.0])


def test_np_clip_with_array_bounds():
    check_both_modes(clipped_by_arrays, (POINTS, np.full(5, -1.0), np.array([0.5, 1.0, 0.1, 2.0, 1.5])), (0, 1, 2))


def test_np_sign_guarded_terms():
    check_both_modes(sign_guarded, (POINTS,), (0,))
