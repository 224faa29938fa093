"""The first things a physicist writes for a time-stepping simulation, differentiated: a fresh
array each step, filled, then rotated into the state (with slices, with element loops, through a
helper), in reverse and forward mode, against central differences of the plain NumPy function.
Rotations srcad cannot follow are refused at the user's line with advice that fits the code."""

import numpy as np
import pytest

import srcad
from oracles import plain_central_difference


def leapfrog_with_slices(u0, r2, steps):
    n = u0.shape[0]
    u_prev = u0.copy()
    u = u0.copy()
    for t in range(steps):
        u_next = np.zeros(n)
        u_next[1:-1] = 2 * u[1:-1] - u_prev[1:-1] + r2[1:-1] * (u[2:] - 2 * u[1:-1] + u[:-2])
        u_prev, u = u, u_next
    return np.sum(u * u)


def leapfrog_with_element_loops(u0, r2, steps):
    n = u0.shape[0]
    cur = u0.copy()
    prev = u0.copy()
    for t in range(steps):
        nxt = np.empty(n)
        nxt[0] = 0.0
        nxt[n - 1] = 0.0
        for i in range(1, n - 1):
            nxt[i] = 2.0 * cur[i] - prev[i] + r2[i] * (cur[i + 1] - 2.0 * cur[i] + cur[i - 1])
        prev = cur
        cur = nxt
    return np.sum(cur * cur)


def leapfrog_step(u, u_prev, r2):
    u_next = np.zeros_like(u)
    u_next[1:-1] = 2.0 * u[1:-1] - u_prev[1:-1] + r2[1:-1] * (u[2:] - 2.0 * u[1:-1] + u[:-2])
    return u_next


def leapfrog_through_a_helper(u0, r2, steps):
    u_prev = u0.copy()
    u = u0.copy()
    for t in range(steps):
        u_prev, u = u, leapfrog_step(u, u_prev, r2)
    return np.sum(u ** 2)


def periodic_heat_with_empty_like(u0, kappa, steps):
    n = u0.shape[0]
    u = u0.copy()
    for t in range(steps):
        new = np.empty_like(u)
        for i in range(n):
            left = u[i - 1] if i > 0 else u[n - 1]
            right = u[i + 1] if i < n - 1 else u[0]
            new[i] = u[i] + kappa[i] * (left - 2.0 * u[i] + right)
        u = new
    return np.sum(u * u * u)


def three_levels_rotated(a0, weights, steps):
    a = a0.copy()
    b = a0 * 0.5
    c = a0 * weights
    for t in range(steps):
        d = np.empty_like(a)
        d[:] = a * 0.3 + b * weights + np.sin(c)
        a, b, c = b, c, d
    return np.sum(a * b) + np.sum(c)


ROTATIONS = [leapfrog_with_slices, leapfrog_with_element_loops, leapfrog_through_a_helper,
             periodic_heat_with_empty_like, three_levels_rotated]
STATE = np.sin(np.linspace(0.0, 3.0, 9))
COEFFICIENTS = 0.2 + 0.01 * np.arange(9.0)


def _gradient_by_differences(function, args, position):
    gradient = np.zeros_like(args[position])
    for k in range(args[position].size):

        def along(t, k=k):
            moved = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
            moved[position][k] = t
            return function(*moved)

        gradient[k] = plain_central_difference(along, (float(args[position][k]),), 0)
    return gradient


@pytest.mark.parametrize("function", ROTATIONS, ids=lambda f: f.__name__)
def test_a_fresh_array_rotated_into_the_state_has_the_gradient_of_central_differences(function):
    args = (STATE, COEFFICIENTS, 6)
    value, (state_gradient, coefficient_gradient) = srcad.value_and_grad(function, wrt=(0, 1))(*args)
    assert value == pytest.approx(function(*args), rel=1e-12)
    np.testing.assert_allclose(state_gradient, _gradient_by_differences(function, args, 0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(coefficient_gradient, _gradient_by_differences(function, args, 1), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("function", ROTATIONS, ids=lambda f: f.__name__)
def test_a_fresh_array_rotated_into_the_state_has_the_tangent_of_central_differences(function):
    args = (STATE, COEFFICIENTS, 6)
    direction = np.cos(np.arange(9.0))
    value, tangent = srcad.jvp(function, args, (direction, None, None))
    assert value == pytest.approx(function(*args), rel=1e-12)
    expected = plain_central_difference(lambda t: function(STATE + t * direction, COEFFICIENTS, 6), (0.0,), 0)
    assert tangent == pytest.approx(expected, rel=1e-6, abs=1e-8)


def test_the_decorated_rotation_runs_as_numpy_does():
    args = (STATE, COEFFICIENTS, 6)
    assert srcad.differentiable(leapfrog_with_slices)(*args) == pytest.approx(leapfrog_with_slices(*args), rel=1e-13)


def written_through_the_other_name(x, steps):
    cur = x.copy()
    prev = x.copy()
    for t in range(steps):
        nxt = np.zeros(x.shape[0])
        nxt[1:] = cur[:-1] * 0.5 + prev[1:]
        prev = cur
        cur = nxt
        cur[0] = prev[2] * 3.0
    return np.sum(cur * cur) + np.sum(prev)


def written_after_the_rotation(x, steps):
    cur = x.copy()
    for t in range(steps):
        nxt = np.zeros(x.shape[0])
        following = nxt
        nxt[0] = 2.0 * cur[1]
        nxt[1:] = cur[:-1] * 0.5
        cur = following * 1.0 + nxt
    return np.sum(cur * cur)


def new_memory_only_on_some_steps(x, steps):
    cur = x.copy()
    nxt = x.copy()
    for t in range(steps):
        if t % 2 == 0:
            nxt = np.zeros(x.shape[0])
        nxt[1:] = cur[:-1] * 0.5 + cur[1:] ** 2 * 0.1
        cur = nxt
    return np.sum(cur * cur)


@pytest.mark.parametrize(
    "function, line, written",
    [
        (written_through_the_other_name, "prev = cur", "'cur' is written"),  # (cur = nxt hands nxt's memory on)
        (written_after_the_rotation, "following = nxt", "'nxt' is written"),
        (new_memory_only_on_some_steps, "cur = nxt", "'nxt' is written"),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_a_rotation_whose_memory_changes_while_read_is_refused_with_advice_that_fits(function, line, written):
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(function)(np.linspace(0.1, 1.0, 6), 4)
    message = str(caught.value)
    assert line in message and written in message
    assert ".copy()" in message and "np.empty_like" in message
    assert caught.value.filename.endswith("test_time_stepping_idioms.py")


def logged_simulation(x, log, steps):
    log[0] = 1.0  # the simulation has started
    state = x.copy()
    for t in range(steps):
        following = np.empty_like(state)
        view = following
        following[:] = np.tanh(state) * 0.9
        state = view
        following[0] += 0.5  # after `state` took the memory: refused
    return np.sum(state * state) + log[0]


def test_a_decorated_simulation_srcad_cannot_differentiate_is_refused_before_it_runs():
    log = np.zeros(1)
    simulate = srcad.differentiable(logged_simulation)
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        simulate(np.linspace(0.1, 1.0, 6), log, 4)
    assert "view = following" in str(caught.value) or "state = view" in str(caught.value)
    assert log[0] == 0.0  # nothing ran


def test_the_check_before_the_first_call_follows_the_wrt_option():
    log = np.zeros(1)
    # with respect to log alone, x's rotation carries no derivative: nothing to refuse
    simulate = srcad.differentiable(logged_simulation, wrt=1)
    x = np.linspace(0.1, 1.0, 6)
    assert simulate(x, log, 4) == pytest.approx(logged_simulation(x, np.zeros(1), 4), rel=1e-14)
    assert log[0] == 1.0
    with pytest.raises(TypeError, match="wrt="):
        srcad.differentiable(logged_simulation, wrt="x")
