"""Array adjoints started again from zeros in the memory of the one they replace
(``transforms/reverse/recycled_adjoints.py``): gradients against central differences of the user's
plain function, and the reverse sweep of a time loop allocating no adjoint per step."""

import libcst as cst
import numpy as np
import pytest
from test_fused_gradients import _check  # the user's plain function against central differences

import srcad
from srcad.transforms.reverse.recycled_adjoints import recycled_adjoints


def _reverse_loop(source):
    """The generated adjoint's reverse sweep of the time loop (from its reversed ``for``)."""
    return source.split("# reverse sweep")[1]


def leapfrog(u0, c, steps):
    u_prev = u0.copy()
    u = u0.copy()
    for _ in range(steps):
        u_next = np.zeros(u.shape[0])
        u_next[1:-1] = 2.0 * u[1:-1] - u_prev[1:-1] + c * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u_prev = u
        u = u_next
    return np.sum(u * u)


def test_a_time_loop_of_new_bindings_reuses_its_adjoints_memory():
    rng = np.random.default_rng(0)
    args = (rng.normal(size=12), 0.2, 9)
    _check(leapfrog, args, (0, 1))
    reverse = _reverse_loop(srcad.source(leapfrog, "adjoint", args=args, wrt=(0, 1)))
    assert ".fill(0.0)" in reverse and "np.zeros_like(u" not in reverse.split("for _ in range(")[1]


def shrinking(x, steps):
    u = x * 1.0
    for _ in range(steps):
        u = np.sin(u[1:]) + 0.5 * u[:-1]  # one element fewer each step: the memory has another shape
    return np.sum(u * u)


def test_bindings_of_changing_shape_get_new_memory():
    _check(shrinking, (np.linspace(-1.0, 1.0, 9), 5), (0,))


def rows_of_the_state(x0, w, steps):
    x = x0.copy()
    total = 0.0
    for _ in range(steps):
        row = x[0]  # a view of the state: its adjoint is a view of the state's adjoint
        total += np.sum(row * w)
        x = np.tanh(x) * 1.1
    return total + np.sum(x)


def test_an_adjoint_another_name_views_keeps_its_memory():
    rng = np.random.default_rng(1)
    _check(rows_of_the_state, (rng.normal(size=(3, 4)), rng.normal(size=4), 4), (0, 1))


def state_bound_twice_per_step(x, k, steps):
    u = x.copy()
    for _ in range(steps):
        v = u * k
        u = np.cos(v) + u  # reads its own old binding: the new adjoint takes the contribution
        w = u
        u = w * w * 0.5
    return np.sum(u)


@pytest.mark.parametrize("steps", [0, 1, 4])
def test_state_rebound_through_several_names(steps):
    rng = np.random.default_rng(2)
    _check(state_bound_twice_per_step, (0.3 * rng.normal(size=5), 0.7, steps), (0, 1))


def reads_its_old_binding(x, k, steps):
    u = x.copy()
    for _ in range(steps):
        u = np.cos(u) * k  # the new binding's adjoint adds into the old binding's: new memory first
    return np.sum(u)


def multiplied_in_place_of_itself(x, m, steps):
    u = x.copy()
    for _ in range(steps):
        u = m @ u  # (no element loop: the adjoint of u's new binding adds into the old one's)
    return np.sum(u * u)


def test_a_binding_read_by_its_own_value():
    rng = np.random.default_rng(3)
    _check(reads_its_old_binding, (rng.normal(size=6), 0.9, 5), (0, 1))
    _check(multiplied_in_place_of_itself, (rng.normal(size=4), 0.5 * rng.normal(size=(4, 4)), 3), (0, 1))


def decay(rate):
    u = np.array([0.3, 0.5, 0.2])
    for _ in range(4):
        u_new = u - rate[0] * u * u
        u = u_new
    return np.sum(u)


def _decay_gradient_by_hand(rate):
    u, du = np.array([0.3, 0.5, 0.2]), np.zeros(3)
    for _ in range(4):
        u, du = u - rate * u * u, du - u * u - 2.0 * rate * u * du
    return np.sum(du)


def test_second_derivatives_read_the_gradient_again():
    """srcad.hessian differentiates the generated gradient in forward mode, ``zeroed`` included;
    against central differences of the derivative written by hand."""
    rate = np.array([0.4])
    assert "zeroed(" in srcad.source(decay, "adjoint", args=(rate,))
    hessian = srcad.hessian(decay)(rate)
    h = 1e-5
    expected = (_decay_gradient_by_hand(0.4 + h) - _decay_gradient_by_hand(0.4 - h)) / (2 * h)
    np.testing.assert_allclose(hessian[0, 0], expected, rtol=1e-6)


REVERSE_STEP = """
for t in range(steps):
    u_adj_in = u_adj
    u = u_saved.pop()
    u_adj = np.zeros_like(u)
    u_next_adj += u_adj_in
    {use}
"""


@pytest.mark.parametrize("use, recycled", [
    ("s = u_adj[0]", True),  # an element
    ("w = u_adj[None]", False),  # a view of the whole: another name for the memory
    ("w = u_adj[...]", False),
    ("w = u_adj[1:]", False),
    ("lst.append(u_adj)", False),
])
def test_memory_another_name_may_hold_is_not_reused(use, recycled):
    """The pass alone, on a reverse step written out: ``u_adj``'s memory is reused only where no use
    can give it another name."""
    statements = list(cst.parse_module(REVERSE_STEP.format(use=use)).body)
    code = cst.Module(body=recycled_adjoints(statements, {"u_adj", "u_next_adj"}, {"u_adj": 1, "u_next_adj": 1})).code
    assert ("u_adj = zeroed(u_adj_in, u)" in code) is recycled, code
