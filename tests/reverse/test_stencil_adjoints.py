"""Stencils of the shapes physicists write, through everything that rewrites their loops: reverse
loops counting up and split per neighbour (``split_additions``), two versions for operands that may
broadcast (``unit_steps``), rolls in two pieces (``rolled_pieces``) and adjoints handed on
(``handed_adjoints``). Gradients and tangents against central differences of the user's function,
with coefficients of the state's extent and of one element."""

import numpy as np
import pytest
from test_fused_gradients import _check

import srcad


def five_point(u0, c, steps):
    u = u0.copy()
    for _ in range(steps):
        u_new = u.copy()
        u_new[2:-2] = u[2:-2] + c * (-u[4:] + 16.0 * u[3:-1] - 30.0 * u[2:-2] + 16.0 * u[1:-3] - u[:-4]) / 12.0
        u = u_new
    return np.sum(u * u * u)


def one_sided(u0, c, steps):
    u = u0 * 1.0
    for _ in range(steps):
        u_next = np.zeros_like(u)
        u_next[:-2] = u[:-2] - c * (3.0 * u[:-2] - 4.0 * u[1:-1] + u[2:]) * 0.1
        u_next[-2:] = u[-2:]
        u = np.tanh(u_next)
    return np.sum(u * np.arange(u.shape[0]))


def two_fields(a0, b0, c, steps):
    a, b = a0.copy(), b0.copy()
    for _ in range(steps):
        lap_a = np.roll(a, 1) + np.roll(a, -1) - 2.0 * a
        b_new = b + 0.1 * c * (np.roll(b, 2) - b) + 0.05 * a * b
        a = a + 0.1 * lap_a - 0.02 * a * b
        b = b_new
    return np.sum(a * b) + np.sum(b * b)


@pytest.mark.parametrize("broadcast", [False, True])
@pytest.mark.parametrize("program, inner", [(five_point, 7), (one_sided, 9)])
def test_slice_stencils(program, inner, broadcast):
    """``c`` of the interior's extent, or of one element (broadcast: the general version runs)."""
    rng = np.random.default_rng(21)
    u0, c = rng.normal(size=11), 0.2 + 0.1 * rng.uniform(size=1 if broadcast else inner)
    args = (u0, c, 4)
    _check(program, args, (0, 1))
    direction = (rng.normal(size=11), rng.normal(size=c.shape[0]), None)
    _, tangent = srcad.jvp(program, args, direction)
    h = 1e-6
    expected = (program(u0 + h * direction[0], c + h * direction[1], 4)
                - program(u0 - h * direction[0], c - h * direction[1], 4)) / (2 * h)
    assert abs(tangent - expected) <= 1e-6 * max(1.0, abs(expected))


@pytest.mark.parametrize("c_size", [9, 1])
def test_two_rolled_fields(c_size):
    rng = np.random.default_rng(22)
    args = (rng.normal(size=9), rng.normal(size=9), 0.5 + rng.uniform(size=c_size), 3)
    _check(two_fields, args, (0, 1, 2))
