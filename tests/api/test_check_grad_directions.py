"""``srcad.check_grad(f, *args, directions=k)``: the gradient checked along random directions,
against central differences of the compiled function, for functions whose gradients are known in
closed form; a wrong rule is caught; a long simulation with many parameters is checked."""

import numpy as np
import pytest

import srcad


def quadratic_and_sine(x, k, c):
    return np.sum(k * x * x) + c * np.sin(np.sum(x))


def closed_form(x, k, c):
    return 2.0 * k * x + c * np.cos(np.sum(x)), x * x, np.sin(np.sum(x))


def test_directional_derivatives_match_the_closed_form():
    rng = np.random.default_rng(4)
    x, k, c = rng.normal(size=50), rng.uniform(0.5, 2.0, size=50), 0.7
    result = srcad.check_grad(quadratic_and_sine, x, k, c, directions=5, seed=3)
    assert result.ok, result
    assert len(result.directions) == 5 and result.gradients[0].shape == (5,)
    gx, gk, gc = closed_form(x, k, c)
    for value, (dx, dk, dc) in zip(result.gradients[0], result.directions):
        assert np.sum(dx * dx) + np.sum(dk * dk) + dc * dc == pytest.approx(1.0, rel=1e-12)  # unit length
        assert value == pytest.approx(np.sum(gx * dx) + np.sum(gk * dk) + gc * dc, rel=1e-10, abs=1e-12)
    again = srcad.check_grad(quadratic_and_sine, x, k, c, directions=5, seed=3)
    np.testing.assert_array_equal(again.differences[0], result.differences[0])  # seeded


def test_only_the_arguments_in_wrt_move():
    x, k = np.linspace(-1.0, 1.0, 4), np.full(4, 1.5)
    result = srcad.check_grad(quadratic_and_sine, x, k, 0.2, wrt=1, directions=3)
    assert result.ok
    for value, (dk,) in zip(result.gradients[0], result.directions):
        assert value == pytest.approx(np.sum(x * x * dk), rel=1e-12)


def cube(x):
    return x ** 3


@srcad.derivative(of=cube)
def cube_vjp_twice(x, g):
    return (g * 6.0 * x * x,)  # twice the derivative: the mistake check_grad must see


def total_of_cubes(x):
    total = 0.0
    for i in range(x.shape[0]):
        total += cube(x[i])
    return total


def test_a_wrong_derivative_is_caught():
    result = srcad.check_grad(total_of_cubes, np.array([0.5, -1.0, 2.0]), directions=2)
    assert not result.ok and result.worst_error > 0.5, result
    assert "MISMATCH" in repr(result)


def long_chain(x0, k, steps):
    x = x0.copy()
    for t in range(steps):
        x = x + 0.001 * (np.tanh(k * x) - x)
    return np.sum(x * x)


def test_a_long_simulation_with_many_parameters():
    rng = np.random.default_rng(0)
    x0, k = rng.normal(size=10_000), rng.uniform(0.5, 1.5, size=10_000)
    result = srcad.check_grad(long_chain, x0, k, 1000, directions=3)
    assert result.ok, result


@pytest.mark.parametrize("count", [0, -1, 2.5, True])
def test_a_bad_number_of_directions_is_refused(count):
    with pytest.raises(ValueError, match="directions"):
        srcad.check_grad(quadratic_and_sine, np.ones(2), np.ones(2), 1.0, directions=count)
