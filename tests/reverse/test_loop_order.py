"""Pass 5c: reverse-sweep loops whose iterations are independent count up; the others count down.

Each program's gradient is checked against central differences, and its adjoint source says
which of its loops count up: a loop flipped where the order matters would give a wrong gradient.
"""

import re

import libcst as cst
import numpy as np

import srcad
from srcad.transforms.reverse.loop_order import loops_counting_up
from srcad.transforms.reverse.reserve import Tape
from oracles import plain_central_difference
from test_fused_loops import wave

TAPE = Tape("tape_floats", "floats_top", "tape_ints", "ints_top")


def _flipped(code, groups):
    module = cst.parse_module(code)
    body = list(module.body)
    return cst.Module(loops_counting_up(body, body, groups, TAPE)).code


def _counts_up(code, groups):
    return "range(n - 1, -1, -1)" not in _flipped(code, groups)


SEPARATE = {"a_adj": frozenset({1}), "b_adj": frozenset({2}), "c": frozenset({3})}


def test_an_element_wise_loop_counts_up():
    code = "for i in range(n - 1, -1, -1):\n    t = b_adj[i] * c[i + 1]\n    a_adj[i] += t\n    b_adj[i] = 0.0\n"
    assert _flipped(code, SEPARATE).startswith("for i in range(n):")


def test_loops_whose_order_matters_count_down():
    cases = {
        "an accumulator": "for i in range(n - 1, -1, -1):\n    k_adj += a_adj[i]\n",
        "a neighbour written, not added into": "for i in range(n - 1, -1, -1):\n    a_adj[i + 1] = b_adj[i]\n",
        "a neighbour added into, then read": "for i in range(n - 1, -1, -1):\n    a_adj[i + 1] += b_adj[i]\n    b_adj[i] = a_adj[i]\n",
        "added into and stored": "for i in range(n - 1, -1, -1):\n    a_adj[i + 1] += b_adj[i]\n    a_adj[i] = 0.0\n",
        "a neighbour read": "for i in range(n - 1, -1, -1):\n    a_adj[i] += a_adj[i + 1]\n",
        "a value from the last iteration": "for i in range(n - 1, -1, -1):\n    a_adj[i] = t\n    t = b_adj[i]\n",
        "a tape pop in a branch": "for i in range(n - 1, -1, -1):\n    if c[i] > 0.0:\n        floats_top -= 1; d = tape_floats[floats_top]\n        a_adj[i] = d\n",
        "a tape push": "for i in range(n - 1, -1, -1):\n    tape_floats[floats_top] = a_adj[i]; floats_top += 1\n    a_adj[i] = 0.0\n",
        "an array of unknown memory": "for i in range(n - 1, -1, -1):\n    a_adj[i] = q[i]\n",
        "a whole array passed on": "for i in range(n - 1, -1, -1):\n    a_adj[i] = f(b_adj)\n",
        "an index that may be negative": "for i in range(n - 1, -1, -1):\n    j = i - 1\n    a_adj[j] = 1.0\n",
        "an index assigned twice": "for i in range(n - 1, -1, -1):\n    j = i + 1\n    j = 2 * j\n    a_adj[j] = 1.0\n",
        "an index read before it is computed": "for i in range(n - 1, -1, -1):\n    a_adj[j] = 1.0\n    j = i + 1\n",
        "a region written": "for i in range(n - 1, -1, -1):\n    a_adj[1:] = b_adj[i]\n",
        "a region read": "for i in range(n - 1, -1, -1):\n    a_adj[i] = b_adj[i:]\n",
        "an inner loop": "for i in range(n - 1, -1, -1):\n    for j in range(3):\n        a_adj[i] += 1.0\n",
        "a temporary read after the loop": "for i in range(n - 1, -1, -1):\n    t = b_adj[i]\n    a_adj[i] = t\ny = t\n",
        "the index read after the loop": "for i in range(n - 1, -1, -1):\n    a_adj[i] = 1.0\ny = i\n",
    }
    for why, code in cases.items():
        assert not _counts_up(code, SEPARATE), why


def test_a_stencils_adjoint_adding_into_neighbours_counts_up():
    """Only added into, at any elements (a stencil's three neighbours, a coefficient broadcast to
    every iteration): the sums are the same in any order."""
    code = (
        "for i in range(n - 1, -1, -1):\n    j = i + 1\n    t = b_adj[j] * c[i]\n    b_adj[j] = 0.0\n    a_adj[i] += t\n"
        "    j2 = i + 2\n    a_adj[j2] += t\n    a_adj[j] -= 2.0 * t\n    k = step * i\n    c_adj[k] += t\n"
    )
    assert _counts_up(code, {**SEPARATE, "c_adj": frozenset({4})})


def test_an_index_computed_from_the_loops_own_counts_up():
    code = "for i in range(n - 1, -1, -1):\n    j = 1 + i\n    k = 2 * j + 3\n    a_adj[k] = b_adj[j]\n"
    assert _counts_up(code, SEPARATE)


def test_a_loop_reading_its_pops_in_place_counts_up():
    code = "for i in range(n - 1, -1, -1):\n    floats_top -= 1; d = tape_floats[floats_top]\n    a_adj[i] = d\n"
    flipped = _flipped(code, SEPARATE)
    assert "floats_top -= n\nfor i in range(n):\n    d = tape_floats[floats_top + i]\n" in flipped, flipped


def test_a_temporary_read_after_the_loop_only_once_assigned_again_is_free():
    code = "for i in range(n - 1, -1, -1):\n    t = b_adj[i]\n    a_adj[i] = t\nt = 2.0\ny = t\n"
    assert _counts_up(code, SEPARATE)


def test_a_read_in_an_enclosing_loops_next_iteration_counts():
    code = (
        "for s in range(m):\n"
        "    y = t\n"
        "    for i in range(n - 1, -1, -1):\n"
        "        t = b_adj[i]\n"
        "        a_adj[i] = t\n"
    )
    assert not _counts_up(code, SEPARATE)


def test_arrays_sharing_memory_count_down():
    shared = {"a_adj": frozenset({1}), "b_adj": frozenset({1, 2})}  # b_adj = a_adj[1:], say
    assert not _counts_up("for i in range(n - 1, -1, -1):\n    a_adj[i] += b_adj[i]\n", shared)
    assert not _counts_up("for i in range(n - 1, -1, -1):\n    a_adj[i] = 1.0\n    b_adj[i] = 2.0\n", shared)
    assert _counts_up("for i in range(n - 1, -1, -1):\n    a_adj[i] += b_adj[i]\n", SEPARATE)


# -- whole programs, gradients against central differences -----------------------------------------


def damped_step(x, v, c, dt, steps):
    n = x.shape[0]
    for t in range(steps):
        for i in range(n):
            v[i] = v[i] * (1.0 - c * dt) - dt * np.sin(x[i])
            x[i] += dt * v[i]
    total = 0.0
    for i in range(n):
        total += x[i] * x[i] + v[i]
    return total


def prefix_products(x, a):
    y = x.copy()
    for i in range(y.shape[0] - 1):
        y[i + 1] += a * y[i] * y[i + 1]
    total = 0.0
    for i in range(y.shape[0]):
        total += np.tanh(y[i])
    return total


def through_a_view(x):
    y = x.copy()
    tail = y[1:]
    for i in range(tail.shape[0]):
        tail[i] = tail[i] * y[i]
    total = 0.0
    for i in range(y.shape[0]):
        total += y[i] * (i + 1.0)
    return total


def two_names_written(a, b, c):
    y = np.zeros(a.shape[0] + 1)
    v = y[1:]
    for i in range(a.shape[0]):
        y[i] = c * a[i]
        v[i] = c * b[i]  # y[i + 1]: the next iteration writes it again
    total = 0.0
    for i in range(y.shape[0]):
        total += np.sin(y[i])
    return total


def _check(function, args, wrt):
    gradient = srcad.grad(function, wrt=wrt)(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    gradients = gradient if isinstance(wrt, tuple) else (gradient,)
    for position, value in zip(wrt if isinstance(wrt, tuple) else (wrt,), gradients):
        if isinstance(args[position], np.ndarray):
            for element in range(args[position].size):

                def along(t, element=element):
                    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
                    copies[position][element] = t
                    return function(*copies)

                expected = plain_central_difference(along, (float(args[position][element]),), 0)
                assert abs(value[element] - expected) <= 1e-6 * max(1.0, abs(expected)), (function.__name__, element)
        else:

            def along(t):
                copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
                copies[position] = t
                return function(*copies)

            expected = plain_central_difference(along, (args[position],), 0)
            assert abs(value - expected) <= 1e-6 * max(1.0, abs(expected)), function.__name__


def _loops(function, args, wrt):
    source = srcad.source(function, "adjoint", args=args, wrt=wrt)
    reverse = source.split("# reverse sweep", 1)[1]
    return re.findall(r"for \w+ in range\(([^)]*\)?)\):", reverse)


def test_a_simulation_step_gets_the_right_gradient_counting_up():
    rng = np.random.default_rng(1)
    args = (rng.normal(size=5), rng.normal(size=5), 0.3, 0.1, 4)
    _check(damped_step, args, (0, 1, 2))
    loops = _loops(damped_step, args, (0, 1, 2))
    assert any("-1, -1" not in loop for loop in loops)  # element-wise loops count up


def test_two_names_for_one_memory_written_in_one_loop():
    _check(two_names_written, (np.array([0.3, 0.5, 0.7]), np.array([0.2, 0.4, 0.6]), 0.8), (0, 1, 2))


def test_order_dependent_programs_keep_counting_down_and_stay_right():
    rng = np.random.default_rng(2)
    args = (rng.uniform(0.2, 0.8, size=6), 0.7)
    _check(prefix_products, args, (0, 1))
    assert any("-1, -1" in loop for loop in _loops(prefix_products, args, (0, 1)))
    _check(through_a_view, (rng.uniform(0.5, 1.5, size=5),), 0)


# -- loops adding into several elements of one array split (split_additions) ------------------------


STENCIL_ADJOINT = (
    "for i in range(n - 1, -1, -1):\n"
    "    j = i + 1\n    t = b_adj[j] * c[j]\n    b_adj[j] = 0.0\n    a_adj[i] += t\n"
    "    j2 = i + 2\n    a_adj[j2] += t\n    s = -2.0 * t\n    a_adj[j] += s\n    d_adj[j] -= t\n"
)


def test_a_stencils_adjoint_runs_as_one_loop_per_neighbour():
    flipped = _flipped(STENCIL_ADJOINT, {**SEPARATE, "d_adj": frozenset({4})})
    loops = flipped.split("for i in range(n):\n")[1:]
    assert len(loops) == 3, flipped
    assert [loop.count("a_adj[") for loop in loops] == [1, 1, 1]
    assert "b_adj[j] = 0.0" in loops[2] and "b_adj[j] = 0.0" not in loops[0] + loops[1]  # written last
    assert "s = " not in loops[0] + loops[1] and "s = " in loops[2]  # each computes only what it adds


def test_a_loop_reading_an_element_after_writing_it_is_not_split():
    code = STENCIL_ADJOINT.replace("    b_adj[j] = 0.0\n", "    b_adj[j] = 0.0\n    u = b_adj[j]\n    a_adj[i] += u\n")
    flipped = _flipped(code, SEPARATE)
    assert flipped.count("for i in range(n):") <= 1


def test_additions_at_elements_other_iterations_share_are_not_split():
    code = "for i in range(n - 1, -1, -1):\n    k = idx[i]\n    t = b_adj[i]\n    a_adj[k] += t\n    a_adj[i] += t\n"
    assert _flipped(code, {**SEPARATE, "idx": frozenset({5})}).count("for i in range(n):") == 1


def heat_rod(u0, k, steps):
    u = u0.copy()
    for _ in range(steps):
        u[1:-1] = u[1:-1] + k * (u[2:] - 2.0 * u[1:-1] + u[:-2])
    return np.sum(u ** 3)


def test_stencil_programs_split_their_reverse_loops_and_stay_right():
    rng = np.random.default_rng(4)
    args = (rng.normal(size=9), 0.2, 5)
    _check(heat_rod, args, (0, 1))
    args = (rng.normal(size=10), rng.uniform(0.5, 1.0, size=10), 4)
    _check(wave, args, (0, 1))
    assert sum("-1, -1" not in loop for loop in _loops(wave, args, (0, 1))) >= 3
