"""Gradients of whole-array programs whose statements become element loops
(``transforms/analysis/fused_loops.py``), against central differences; the adjoints read as loops."""

import re

import numpy as np
import pytest
from oracles import plain_central_differences
from test_fused_loops import (column_sums, damped, softmax_rows, heat, mixture_terms, moved_then_written, one_element_result, pairwise, reaction_diffusion,
                              predator_prey_steps, reads_what_it_writes, short_along_the_sum,
                              rolls_a_row_vector, shifted, springs, upwind, wave)

import srcad
from srcad.transforms.ir import FUSED_LOOP_NOTE


def _check(function, args, wrt):
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    gradient = srcad.grad(function, wrt=wrt)(*copies)
    gradient = gradient if isinstance(gradient, tuple) else (gradient,)
    for position, computed in zip(wrt, gradient):
        on_copies = lambda *a: function(*[v.copy() if isinstance(v, np.ndarray) else v for v in a])  # noqa: E731
        expected = plain_central_differences(on_copies, list(args), position)
        np.testing.assert_allclose(computed, expected, rtol=1e-6, atol=1e-8)


def test_a_stencil_on_slices():
    rng = np.random.default_rng(0)
    args = (rng.normal(size=12), rng.uniform(0.5, 1.0, 12), 7)
    _check(wave, args, (0, 1))
    source = srcad.source(wave, "adjoint", args=args, wrt=(0, 1))
    assert FUSED_LOOP_NOTE in source and "np.zeros_like(u_2)" not in source


@pytest.mark.parametrize("sizes", [(9, 1), (1, 9), (9, 9)])
def test_arguments_of_one_element_broadcast(sizes):
    rng = np.random.default_rng(1)
    _check(damped, (rng.normal(size=sizes[0]), 0.5 + rng.uniform(size=sizes[1]), 5), (0, 1))


@pytest.mark.parametrize("k", [1, 3])
def test_bounds_held_in_variables_and_negative_starts(k):
    _check(shifted, (np.linspace(-1.0, 2.0, 10), k), (0,))


@pytest.mark.parametrize("v_rows", [5, 1])
def test_rows_of_an_n_by_2_array(v_rows):
    rng = np.random.default_rng(2)
    x0 = np.stack([1.1 * np.arange(5.0), 0.1 * rng.normal(size=5)], axis=1)
    args = (x0, 0.1 * rng.normal(size=(v_rows, 2)), np.arange(4), np.arange(1, 5), 1.0, rng.uniform(5, 10, 4), 8, 0.01)
    _check(springs, args, (0, 1, 5))


def test_a_two_dimensional_stencil():
    _check(heat, (np.random.default_rng(3).normal(size=(6, 7)), 0.1, 4), (0, 1))


def test_overlapping_reads_and_writes():
    _check(reads_what_it_writes, (np.linspace(0.0, 1.0, 6), np.linspace(-1.0, 1.0, 6)), (0, 1))


@pytest.mark.parametrize("c", [np.array([0.5]), np.arange(5.0) + 1.0])
def test_a_result_of_one_element(c):
    _check(one_element_result, (c, np.arange(5.0)), (0, 1))


def test_a_result_moved_to_its_name_then_written():
    _check(moved_then_written, (np.linspace(-1.0, 1.0, 4), np.linspace(0.5, 1.5, 4)), (0, 1))


def written_then_bound_again(x0, steps):
    x = x0.copy()
    x[0] = 1.0
    for _ in range(steps):
        x = np.outer(x, x)[1] * 0.9  # read by outer's adjoint: each step's x is restored
    return np.sum(x)


def test_an_array_written_once_then_bound_again_in_a_loop():
    """The reverse sweep took x as unchanged after its last write (x[0] = 1.0), although x names
    new memory at each step: a silently wrong gradient found while building fused loops."""
    _check(written_then_bound_again, (np.linspace(0.1, 1.0, 5), 3), (0,))


def rotated(a0, weights, steps):
    n = a0.shape[0]
    a = a0.copy()
    c = np.empty(n)
    for i in range(n):
        c[i] = a0[i] * weights[i]
    for _ in range(steps):
        d = np.empty(n)
        for i in range(n):
            d[i] = a[i] * 0.3 + np.sin(c[i])
        a = c
        c = d
    return np.sum(a * c)


def test_element_reads_of_a_rotated_array():
    _check(rotated, (np.sin(np.linspace(0.0, 3.0, 9)), 0.2 + 0.01 * np.arange(9.0), 3), (0, 1))


def grows(x0, y, n):
    x = x0.copy()
    for _ in range(n):
        x = np.sin(x) * y  # one element at first, y's length after the first step
    return np.sum(x * x)


@pytest.mark.parametrize("sizes", [(1, 4), (4, 4), (4, 1)])
def test_a_state_whose_length_changes(sizes):
    rng = np.random.default_rng(5)
    _check(grows, (rng.normal(size=sizes[0]), rng.normal(size=sizes[1]), 3), (0, 1))


def test_sums_and_the_scalars_computed_from_them():
    from test_fused_loops import mixture, sum_read_in_the_same_line
    rng = np.random.default_rng(5)
    for icf_columns in (4, 1):
        args = (rng.normal(size=3), rng.normal(size=(3, 4)), 0.1 * rng.normal(size=(3, icf_columns)), rng.normal(size=(5, 4)))
        _check(mixture, args, (0, 1, 2))
    _check(sum_read_in_the_same_line, (np.linspace(0.5, 2.0, 7),), (0,))


@pytest.mark.parametrize("function, args", [
    (wave, (np.sin(np.linspace(0.0, 3.0, 12)), np.linspace(0.5, 1.0, 12), 7)),
    (heat, (np.cos(np.arange(42.0)).reshape(6, 7), 0.1, 4)),
    (shifted, (np.linspace(-1.0, 2.0, 10), 3)),
    (reaction_diffusion, (np.cos(np.arange(30.0)).reshape(5, 6) ** 2, np.sin(np.arange(30.0)).reshape(5, 6) ** 2, 0.04, 3)),
    (upwind, (np.sin(np.arange(9.0)), 1.0 + np.cos(np.arange(9.0)) ** 2, -2, 5)),
])
def test_forward_mode_runs_the_same_loops(function, args):
    """jvp differentiates the fused normal form too (the tangent of each element, in the loop)."""
    direction = np.cos(np.arange(args[0].size, dtype=np.float64)).reshape(args[0].shape)
    value, tangent = srcad.jvp(function, args, (direction,) + (None,) * (len(args) - 1))
    assert value == pytest.approx(function(*args), rel=1e-12)
    along = lambda t: function(args[0] + t * direction, *args[1:])  # noqa: E731
    expected = plain_central_differences(along, [0.0], 0)
    assert tangent == pytest.approx(float(expected), rel=1e-6, abs=1e-8)
    assert FUSED_LOOP_NOTE in srcad.source(function, "tangent", args=args, wrt=(0,))


# -- np.roll, and what the reverse sweep restores once per step to compute each element's indices --------
@pytest.mark.parametrize("steps", [1, 4])
def test_rolled_stencils(steps):
    rng = np.random.default_rng(10)
    args = (rng.uniform(size=(5, 6)), rng.uniform(size=(5, 6)), 0.04, steps)
    _check(reaction_diffusion, args, (0, 1, 2))


@pytest.mark.parametrize("shift", [1, -2, 11])
def test_a_roll_whose_shift_changes_each_step(shift):
    rng = np.random.default_rng(11)
    _check(upwind, (rng.normal(size=9), 1.0 + rng.uniform(size=9), shift, 5), (0, 1))


def test_a_rolled_row_broadcast_over_the_rows():
    rng = np.random.default_rng(12)
    _check(rolls_a_row_vector, (rng.normal(size=(4, 5)), rng.normal(size=(1, 5))), (0, 1))


def _fused_loop_bodies(source):
    """The lines inside each fused element loop of a generated function."""
    bodies = []
    for chunk in source.split(FUSED_LOOP_NOTE)[1:]:
        lines = chunk.split("\n")
        head = next(line for line in lines if line.lstrip().startswith("for "))
        depth = len(head) - len(head.lstrip())
        inside = lines[lines.index(head) + 1:]
        end = next((k for k, line in enumerate(inside) if line.strip() and len(line) - len(line.lstrip()) <= depth), len(inside))
        bodies.append(inside[:end])
    return bodies


def test_element_indices_are_computed_again_not_kept():
    """Per element, the reverse sweep computes the operands' positions again from what it restores once
    per step (the broadcast steps, the rolled positions, the state's binding): nothing per element."""
    rng = np.random.default_rng(13)
    args = (rng.normal(size=9), 1.0 + rng.uniform(size=9), 1, 5)
    source = srcad.source(upwind, "adjoint", args=args, wrt=(0, 1))
    forward = source[source.index("# forward sweep"):source.index("# reverse sweep")]
    bodies = _fused_loop_bodies(forward)
    assert len(bodies) == 3 and not any("tape_" in line for body in bodies for line in body)
    _check(upwind, args, (0, 1))


@pytest.mark.parametrize("steps", [1, 3])
def test_pairwise_forces_summed_along_axes(steps):
    rng = np.random.default_rng(16)
    _check(pairwise, (rng.normal(size=(5, 3)), rng.uniform(0.5, 1.0, 5), steps, 0.01), (0, 1))


@pytest.mark.parametrize("w_shape", [(4, 1), (1, 5), (4, 5)])
def test_sums_along_an_axis_of_broadcast_values(w_shape):
    rng = np.random.default_rng(17)
    _check(column_sums, (rng.normal(size=(4, 5)), rng.normal(size=w_shape)), (0, 1))
    _check(short_along_the_sum, (rng.normal(size=(4, 5)), rng.normal(size=(4, 1))), (0, 1))


def test_each_reverse_loop_is_named_after_its_own_line():
    """A statement moved before a fused loop (``np.roll``'s shift) takes its line's marker along; the
    loop computing the rest of that line is named after it again, in the adjoint too."""
    args = (np.sin(np.arange(9.0)), 1.0 + np.cos(np.arange(9.0)) ** 2, 1, 5)
    lines = srcad.source(upwind, "adjoint", args=args, wrt=(0, 1)).splitlines()
    start = lines.index("    # reverse sweep")
    reverse_loops = [k for k, line in enumerate(lines) if k > start and line.lstrip().startswith("for i")
                     and "# adjoint of line" in lines[k + 1]]
    assert len(reverse_loops) >= 2
    for k in reverse_loops:
        named_before = next(line for line in reversed(lines[:k]) if "# adjoint of line" in line)
        assert named_before.strip() == lines[k + 1].strip()


def test_a_helper_writing_two_halves_of_its_result():
    args = (1.0 + np.arange(6.0) / 10, np.array([1.1, 0.4, 0.1, 0.4]), 4, 0.05)
    _check(predator_prey_steps, args, (0, 1))


def ravel_read_then_base_written(x, y, s):
    y = np.tanh(y) + 0.1 * np.sin(x.ravel() + 0.9)  # x.ravel(): a view of x where x is contiguous
    x[0, 0] = np.cos(s)  # written after the read: a fused loop must not read x.ravel() after it
    return np.sum(y) + np.sum(x ** 3)


def test_a_fused_loop_does_not_read_a_raveled_array_after_a_write_to_its_base():
    """Found by the array hunt: the loop computing y was moved past ``x[0, 0] = ...`` (x.ravel() taken
    as a copy), so the value and the gradient read the new x[0, 0]."""
    args = lambda: (np.array([[-0.67, 0.21], [0.3, 1.25]]), np.array([-0.16, -0.67, -0.59, 0.94]), 1.37)  # noqa: E731
    value, gradients = srcad.value_and_grad(ravel_read_then_base_written, wrt=(0, 1, 2))(*args())
    assert value == pytest.approx(ravel_read_then_base_written(*args()), rel=1e-14)
    on_copies = lambda x, y, s: ravel_read_then_base_written(x.copy(), y.copy(), s)  # noqa: E731 (it writes x)
    for k in range(3):
        np.testing.assert_allclose(gradients[k], plain_central_differences(on_copies, args(), k), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("icf_columns", [4, 1])
def test_a_sum_of_a_row_computed_apart_from_the_loop_beside_it(icf_columns):
    rng = np.random.default_rng(17)
    args = (rng.normal(size=3), rng.normal(size=(3, 4)), 0.1 * rng.normal(size=(3, icf_columns)), rng.normal(size=(5, 4)))
    _check(mixture_terms, args, (0, 1, 2, 3))


@pytest.mark.parametrize("sizes", [(9, 9), (9, 1), (1, 9)])
def test_loops_over_operands_that_may_broadcast_run_in_two_versions(sizes):
    """``c`` and ``u`` may differ in extent, so their loop reads ``c`` at ``step * i``; it runs
    without the step where no operand broadcasts (transforms/output/unit_steps.py). Both versions
    against central differences, in reverse and forward mode. (Calls where they have one length
    get code made for that, without steps.)"""
    rng = np.random.default_rng(11)
    args = (rng.normal(size=sizes[0]), 0.5 + rng.uniform(size=sizes[1]), 5)
    _check(damped, args, (0, 1))
    direction = (rng.normal(size=sizes[0]), rng.normal(size=sizes[1]), None)
    _, tangent = srcad.jvp(damped, args, direction)
    h = 1e-6
    ahead = damped(args[0] + h * direction[0], args[1] + h * direction[1], 5)
    behind = damped(args[0] - h * direction[0], args[1] - h * direction[1], 5)
    assert abs(tangent - (ahead - behind) / (2 * h)) <= 1e-6 * max(1.0, abs(tangent))
    for stage in ("adjoint", "tangent"):
        source = srcad.source(damped, stage, args=args, wrt=(0, 1))
        if sizes[0] == sizes[1]:  # code made for c and u of one length: no steps at all
            assert "broadcast_step" not in source and "c.shape[0] != u.shape[0]" in source
            continue
        assert re.search(r"(i\w*)_step = \1\n", source) and re.search(r"(i\w*)_step = step\w* \* \1\n", source)
        assert re.search(r"if step\w* == 1", source)


def clamped_diffusion(u0, d, steps):
    u = u0.copy()
    for _ in range(steps):
        u = u + d * (np.roll(u, 1) + np.roll(u, -1) - 2.0 * u)
        u = np.where(u > 0.0, u, 0.0)
    return np.sum(u ** 3)


def relu_layer(w, x, floor):
    h = x * w - 0.3
    h = np.where(h >= floor, h, floor * h)  # a leaky floor, a scalar in both places
    wall = x < w  # a boolean array read after the loop
    return np.sum(h * h) + np.sum(np.where(wall, x, 2.0 * w)) + np.sum(wall)


def test_np_where_of_a_comparison_is_computed_in_the_loop():
    rng = np.random.default_rng(11)
    args = (rng.uniform(-0.2, 1.0, 16), 0.2, 6)
    _check(clamped_diffusion, args, (0, 1))
    source = srcad.source(clamped_diffusion, "adjoint", args=args, wrt=(0, 1))
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
    assert "scalar_where(" in code and "np.where(" not in code  # one loop, each element chosen
    assert "tape_ints[ints_top] = test" not in code  # the comparison is computed again, not kept per element
    w, x = rng.normal(size=9), rng.normal(size=9)
    _check(relu_layer, (w, x, 0.1), (0, 1, 2))
    _, tangent = srcad.jvp(relu_layer, (w, x, 0.1), (np.ones(9), np.zeros(9), 0.0))
    expected = (relu_layer(w + 1e-6, x, 0.1) - relu_layer(w - 1e-6, x, 0.1)) / 2e-6
    assert tangent == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("columns", [4, 1])
def test_gradients_through_axes_of_one_element(columns):
    rng = np.random.default_rng(4)
    _check(softmax_rows, (rng.normal(size=(5, columns)), rng.normal(size=columns)), (0, 1))
