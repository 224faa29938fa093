"""Array adjoints of zeros taking a whole contribution by exchanging memory with it
(``transforms/reverse/handed_adjoints.py``): gradients against central differences of the user's
plain function, second derivatives (forward mode over the generated gradient) against closed forms,
and the reverse sweep of a time loop neither adding nor filling an array per rebinding."""

import re

import numpy as np
import pytest
from test_fused_gradients import _check  # the user's plain function against central differences
from test_rebound_arrays import integrate
from test_recycled_adjoints import _reverse_loop, leapfrog

import srcad


def test_a_leapfrog_rotation_hands_its_adjoints_on():
    rng = np.random.default_rng(0)
    args = (rng.normal(size=12), 0.2, 9)
    _check(leapfrog, args, (0, 1))
    reverse = _reverse_loop(srcad.source(leapfrog, "adjoint", args=args, wrt=(0, 1)))
    # u = u_next and u_prev = u: the adjoints exchange memory (of one shape: no test, shaped_zeros.py)
    assert "u_adj = u_next_adj" in reverse and "u_prev_adj = u_adj" in reverse
    assert "u_next_adj += " not in reverse and "u_adj += u_prev_adj" not in reverse


def growing(u0, speed, steps):
    u = u0 * 1.0
    for _ in range(steps):
        flux = speed * u
        u = u - 0.4 * (flux - np.roll(flux, 1))  # u of one element grows to speed's extent
    return np.sum(u * u)


@pytest.mark.parametrize("sizes", [(7, 7), (1, 7)])
def test_a_state_whose_shape_changes_gets_new_zeros(sizes):
    rng = np.random.default_rng(1)
    _check(growing, (rng.normal(size=sizes[0]), 1.0 + 0.1 * rng.uniform(size=sizes[1]), 4), (0, 1))


def test_a_helpers_results_named_in_a_time_loop():
    rng = np.random.default_rng(2)
    args = (rng.normal(size=6), rng.uniform(0.5, 1.0, 6), 0.1, 5)
    _check(integrate, args, (0, 1))  # RK4 stages, each a helper's result given a name
    source = srcad.source(integrate, "adjoint", args=args, wrt=(0, 1))
    assert re.search(r"\n\s+x_adj = x_new\w*_adj\n", source)  # the step's new state hands its adjoint on


def two_names(x0, steps):
    x = x0 * 1.0
    for _ in range(steps):
        y = np.sin(x)
        z = y  # y's adjoint is added into twice: once through z, once below
        x = z + 0.5 * y
    return np.sum(x)


def test_an_adjoint_added_into_twice_is_handed_only_the_first():
    _check(two_names, (np.linspace(-1.0, 1.0, 5), 4), (0,))


def linear_steps(u0, steps):
    u_prev = u0.copy()
    u = u0.copy()
    for _ in range(steps):
        u_next = np.zeros(u.shape[0])
        u_next[1:-1] = 1.5 * u[1:-1] - 0.5 * u_prev[1:-1] + 0.1 * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u_prev = u
        u = u_next
    return np.sum(u * u)


def test_second_derivatives_of_a_gradient_that_hands_its_adjoints_on():
    """f(u0) = |M u0|^2 with M the steps' matrix (built here from the scheme, with NumPy): the Hessian
    is 2 M^T M. srcad.hessian runs forward mode over the generated gradient."""
    n, steps = 7, 5
    stencil = np.zeros((n, n))
    for i in range(1, n - 1):
        stencil[i, i - 1], stencil[i, i], stencil[i, i + 1] = 0.1, 1.5 - 0.2, 0.1
    previous = np.zeros((n, n))
    previous[np.arange(1, n - 1), np.arange(1, n - 1)] = -0.5
    m_prev, m = np.eye(n), np.eye(n)
    for _ in range(steps):
        m_prev, m = m, stencil @ m + previous @ m_prev
    u0 = np.random.default_rng(3).normal(size=n)
    assert "u_adj = u_next_adj" in srcad.source(linear_steps, "adjoint", args=(u0, steps), wrt=(0,))
    np.testing.assert_allclose(srcad.hessian(linear_steps)(u0, steps), 2.0 * m.T @ m, rtol=1e-10, atol=1e-12)
