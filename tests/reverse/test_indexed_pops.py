"""Reverse loops reading their pops where they lie on the tape, and restores of array elements split
into a copy loop before them (``transforms/reverse/indexed_pops.py``, called by ``loop_order``).

The pass alone on small loops, then whole programs whose gradients are checked against central
differences of the user's plain function: a pop read at the wrong place, or a restore moved where
the body reads the array's old values, gives a wrong gradient.
"""

import libcst as cst
import numpy as np
import pytest
from test_fused_gradients import _check  # the user's plain function against central differences

import srcad
from srcad.transforms.reverse.loop_order import loops_counting_up
from srcad.transforms.reverse.reserve import Tape

TAPE = Tape("tape_floats", "floats_top", "tape_ints", "ints_top")
GROUPS = {"tmp": frozenset({1}), "tmp_adj": frozenset({2}), "k_adj": frozenset({3}), "y_adj": frozenset({4}),
          "view": frozenset({1, 5})}


def _rewritten(code, groups=GROUPS):
    body = list(cst.parse_module(code).body)
    return cst.Module(loops_counting_up(body, body, groups, TAPE)).code


RESTORING = (
    "for i in range(n - 1, -1, -1):\n"
    "    floats_top -= 1; tmp[i] = tape_floats[floats_top]\n"
    "    t = tmp_adj[i]\n"
    "    tmp_adj[i] = 0.0\n"
    "    k_adj[i] += t * tmp[i]\n"
)


def test_a_restore_becomes_a_copy_loop_and_the_loop_counts_up():
    assert _rewritten(RESTORING) == (
        "floats_top -= n\n"
        "for i in range(n):\n"
        "    tmp[i] = tape_floats[floats_top + i]\n"
        "for i in range(n):\n"
        "    t = tmp_adj[i]\n"
        "    tmp_adj[i] = 0.0\n"
        "    k_adj[i] += t * tmp[i]\n"
    )


def test_several_pops_per_iteration_are_read_at_their_places_in_the_row():
    code = (
        "for i in range(n - 1, -1, -1):\n"
        "    floats_top -= 1; b = tape_floats[floats_top]\n"
        "    ints_top -= 1; took = tape_ints[ints_top]\n"
        "    floats_top -= 1; a = tape_floats[floats_top]\n"
        "    k_adj[i] = a * b + took\n"
    )
    assert _rewritten(code) == (
        "floats_top -= n * 2\n"
        "ints_top -= n\n"
        "for i in range(n):\n"
        "    b = tape_floats[floats_top + i * 2 + 1]\n"  # pushed last, popped first
        "    took = tape_ints[ints_top + i]\n"
        "    a = tape_floats[floats_top + i * 2]\n"
        "    k_adj[i] = a * b + took\n"
    )


def test_a_branch_before_the_restore_stays_in_the_loop():
    code = (
        "for i in range(n - 1, -1, -1):\n"
        "    if k_adj[i] > 0.0:\n"
        "        k_adj[i] = 0.0\n"
        "    floats_top -= 1; tmp[i] = tape_floats[floats_top]\n"
        "    y_adj[i] += tmp[i]\n"
    )
    assert _rewritten(code) == (
        "floats_top -= n\n"
        "for i in range(n):\n"
        "    tmp[i] = tape_floats[floats_top + i]\n"
        "for i in range(n):\n"
        "    if k_adj[i] > 0.0:\n"
        "        k_adj[i] = 0.0\n"
        "    y_adj[i] += tmp[i]\n"
    )


def test_the_restores_index_computed_from_the_iterations_number_goes_with_it():
    code = (
        "for i_iteration in range(m - 1, -1, -1):\n"
        "    i = 1 + i_iteration\n"
        "    floats_top -= 1; tmp[i] = tape_floats[floats_top]\n"
        "    y_adj[i] += tmp_adj[i] * tmp[i]\n"
    )
    assert _rewritten(code) == (
        "floats_top -= m\n"
        "for i_iteration in range(m):\n"
        "    i = 1 + i_iteration\n"
        "    tmp[i] = tape_floats[floats_top + i_iteration]\n"
        "for i_iteration in range(m):\n"
        "    i = 1 + i_iteration\n"
        "    y_adj[i] += tmp_adj[i] * tmp[i]\n"
    )


STAYING = {
    "read before its restore": (
        "for i in range(n - 1, -1, -1):\n"
        "    k_adj[i] += tmp[i]\n"
        "    floats_top -= 1; tmp[i] = tape_floats[floats_top]\n"),
    "read at another element": (
        "for i in range(n - 1, -1, -1):\n"
        "    floats_top -= 1; tmp[i] = tape_floats[floats_top]\n"
        "    k_adj[i] += tmp[i] * tmp[0]\n"),
    "the same element in every iteration": (
        "for i in range(n - 1, -1, -1):\n"
        "    floats_top -= 1; tmp[m] = tape_floats[floats_top]\n"
        "    k_adj[i] += tmp[m]\n"),
    "restored twice": (
        "for i in range(n - 1, -1, -1):\n"
        "    floats_top -= 1; tmp[i] = tape_floats[floats_top]\n"
        "    k_adj[i] += tmp[i]\n"
        "    floats_top -= 1; tmp[i] = tape_floats[floats_top]\n"),
    "read through another name for its memory": (
        "for i in range(n - 1, -1, -1):\n"
        "    floats_top -= 1; tmp[i] = tape_floats[floats_top]\n"
        "    k_adj[i] += view[i]\n"),
    "an index computed from the iteration's number, not one of its own": (
        "for i in range(n - 1, -1, -1):\n"
        "    floats_top -= 1; tmp[i // 2] = tape_floats[floats_top]\n"
        "    k_adj[i] += tmp[i // 2]\n"),
    "an index read from an array": (
        "for i in range(n - 1, -1, -1):\n"
        "    floats_top -= 1; tmp[y_adj[i]] = tape_floats[floats_top]\n"
        "    k_adj[i] += tmp[y_adj[i]]\n"),
    "an index that may be negative": (
        "for i in range(n - 1, -1, -1):\n"
        "    j = i - 1\n"
        "    floats_top -= 1; tmp[j] = tape_floats[floats_top]\n"
        "    k_adj[i] += tmp[j]\n"),
}


@pytest.mark.parametrize("why", STAYING)
def test_restores_that_stay_in_the_loop(why):
    code = STAYING[why]
    rewritten = _rewritten(code)
    assert rewritten.startswith("floats_top -= n"), why  # the pops are still read in place ...
    assert rewritten.count("for i in range(") == 1, why  # ... in the loop itself
    assert "tmp[" in rewritten.split("for i in range(")[1].split(" = tape_floats[")[0], why


UNEVEN = {
    "a pop in a branch": (
        "for i in range(n - 1, -1, -1):\n"
        "    if k_adj[i] > 0.0:\n"
        "        floats_top -= 1; tmp[i] = tape_floats[floats_top]\n"),
    "a push": (
        "for i in range(n - 1, -1, -1):\n"
        "    floats_top -= 1; tmp[i] = tape_floats[floats_top]\n"
        "    tape_floats[floats_top] = k_adj[i]; floats_top += 1\n"),
    "the loop's own variable set in its body": (
        "for i in range(n - 1, -1, -1):\n"
        "    ints_top -= 1; i = tape_ints[ints_top]\n"
        "    floats_top -= 1; tmp[i] = tape_floats[floats_top]\n"),
    "a pop in an inner loop": (
        "for i in range(n - 1, -1, -1):\n"
        "    floats_top -= 1; tmp[i] = tape_floats[floats_top]\n"
        "    for j in range(3):\n"
        "        floats_top -= 1; k_adj[j] = tape_floats[floats_top]\n"),
}


@pytest.mark.parametrize("why", UNEVEN)
def test_loops_popping_rows_of_different_lengths_are_left_alone(why):
    code = UNEVEN[why]
    assert _rewritten(code).startswith("for i in range(n - 1, -1, -1):"), why


# -- whole programs, gradients against central differences -----------------------------------------


def rhs(y, p, out):
    n = y.shape[0]
    out[0] = -p[0] * y[0]
    for i in range(1, n):
        out[i] = p[i - 1] * y[i - 1] - p[i] * y[i]


def rk4(y0, p, steps):
    n = y0.shape[0]
    h = 1.0 / steps
    y = y0.copy()
    k1 = np.empty(n)
    k2 = np.empty(n)
    tmp = np.empty(n)
    for t in range(steps):
        rhs(y, p, k1)
        for i in range(n):
            tmp[i] = y[i] + 0.5 * h * k1[i]
        rhs(tmp, p, k2)
        for i in range(n):
            y[i] += h * k2[i]
    total = 0.0
    for i in range(n):
        total += y[i] * y[i]
    return total


def rk4_with_a_branch(y0, p, steps, c):
    n = y0.shape[0]
    h = 1.0 / steps
    y = y0.copy()
    k1 = np.empty(n)
    tmp = np.empty(n)
    w = np.zeros(n)
    for t in range(steps):
        rhs(y, p, k1)
        for i in range(n):
            tmp[i] = y[i] + 0.5 * h * k1[i]
            if c > 0.5:
                w[i] += y[i] * tmp[i]
        for i in range(n):
            y[i] += h * (tmp[i] + k1[i])
    total = 0.0
    for i in range(n):
        total += y[i] * y[i] + w[i] * w[i]
    return total


def twice_per_iteration(x, a, steps):
    y = x.copy()
    for t in range(steps):
        for i in range(y.shape[0]):
            y[i] = a * y[i]
            y[i] = np.sin(y[i]) + y[i] * y[i]
    total = 0.0
    for i in range(y.shape[0]):
        total += y[i] * (i + 1.0)
    return total


def from_one_by_twos(x, c, steps):
    y = x.copy()
    for t in range(steps):
        for i in range(1, y.shape[0]):
            y[i] = np.tanh(c * y[i]) + x[i - 1]
        for i in range(0, y.shape[0], 2):
            y[i] = y[i] * y[i] * c
    total = 0.0
    for i in range(y.shape[0]):
        total += y[i] * y[i]
    return total


def running_products(x, a, steps):
    y = x.copy()
    for t in range(steps):
        for i in range(1, y.shape[0]):
            y[i] = y[i] * np.tanh(a * y[i - 1])  # the new y[i - 1]: its restore must wait its turn
    total = 0.0
    for i in range(y.shape[0]):
        total += y[i] * y[i]
    return total


def one_element_again_and_again(x, c, m):
    y = x.copy()
    for i in range(x.shape[0]):
        y[m] = np.sin(y[m] * c + x[i])
    total = 0.0
    for i in range(y.shape[0]):
        total += y[i] * y[i]
    return total


def branchy_rows(a, w, steps):
    b = a.copy()
    for t in range(steps):
        for i in range(b.shape[0]):
            for j in range(b.shape[1]):
                if b[i, j] > 0.0:
                    b[i, j] = b[i, j] * w[j]
                else:
                    b[i, j] = np.sin(b[i, j]) * w[j] * w[j]
    total = 0.0
    for i in range(b.shape[0]):
        for j in range(b.shape[1]):
            total += b[i, j] * b[i, j]
    return total


def test_rk4_with_an_in_place_helper():
    rng = np.random.default_rng(0)
    args = (rng.normal(size=6), rng.uniform(0.5, 1.5, 6), 7)
    _check(rk4, args, (0, 1))
    reverse = srcad.source(rk4, "adjoint", args=args, wrt=(0, 1)).split("# reverse sweep")[1]
    assert "tmp[i] = tape_floats[floats_top + i]" in reverse  # the stage's restores, as a copy loop
    assert "floats_top -= 1" not in reverse


@pytest.mark.parametrize("c", [0.9, 0.1])
def test_a_branch_beside_a_restored_element(c):
    rng = np.random.default_rng(6)
    _check(rk4_with_a_branch, (rng.normal(size=5), rng.uniform(0.5, 1.5, 5), 4, c), (0, 1))


def test_an_element_written_twice_per_iteration():
    rng = np.random.default_rng(1)
    _check(twice_per_iteration, (rng.normal(size=7), 0.8, 3), (0, 1))


def test_loops_from_one_and_by_twos():
    rng = np.random.default_rng(2)
    _check(from_one_by_twos, (rng.normal(size=7), 0.7, 3), (0, 1))


def test_a_loop_reading_what_its_previous_iteration_wrote():
    rng = np.random.default_rng(5)
    _check(running_products, (rng.uniform(0.5, 1.5, 7), 0.8, 3), (0, 1))


@pytest.mark.parametrize("m", [0, 3, -1])
def test_one_element_written_in_every_iteration(m):
    rng = np.random.default_rng(3)
    _check(one_element_again_and_again, (rng.normal(size=6), 0.9, m), (0, 1))


def test_branches_in_a_two_dimensional_loop():
    rng = np.random.default_rng(4)
    _check(branchy_rows, (rng.normal(size=(3, 4)), rng.uniform(0.5, 1.2, 4), 3), (0, 1))
