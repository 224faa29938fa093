"""Adjoint additions carried in local variables across a loop's iterations
(transforms/analysis/carried_adjoints.py): which loops and arrays are carried, which must not be, and
random loops computing the same arrays, to the last bit, carried and not (the pass's input run as
Python is the oracle for the pass). Gradients of stencils with several adjoint arrays are checked
against central differences."""

import textwrap

import libcst as cst
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import srcad
from oracles import plain_central_difference
from srcad.transforms.ir import all_names
from srcad.transforms.analysis.carried_adjoints import carried_accumulations
from srcad.transforms.ir.names import NameFactory


def _carried(source):
    definition = cst.parse_statement(textwrap.dedent(source))
    names = NameFactory(all_names(definition))
    body = carried_accumulations(list(definition.body.body), lambda name: name in ("x", "y"), names)
    return cst.Module([]).code_for_node(definition.with_changes(body=definition.body.with_changes(body=body)))


def _run(source, *args):
    namespace = {"np": np}
    exec(textwrap.dedent(source), namespace)
    return namespace["f"](*args)


STENCIL = """
def f(x, y):
    a = np.zeros_like(x)
    b = np.zeros_like(x)
    for j in range(x.shape[0]):
        a[j] += x[j]
    for i in range(x.shape[0] - 2, -1, -1):
        i_plus_1 = i + 1
        a[i] += x[i] * y[i]
        b[i_plus_1] -= 2.0 * x[i_plus_1]
        a[i_plus_1] += y[i]
        b[i] += 0.5 * y[i]
    return (0.0, a, b)
"""


def test_two_arrays_added_to_at_i_and_i_plus_1_are_carried():
    result = _carried(STENCIL)
    assert "a_at_i_plus_1 += y[i]" in result and "b_at_i_plus_1 -= 2.0 * x[i_plus_1]" in result
    assert "a[i + 1] = a_at_i_plus_1" in result and "a[0] = a_at_i_plus_1" in result
    assert "a[j] += x[j]" in result  # one addition per iteration: nothing to carry
    x, y = np.linspace(-1.0, 2.0, 7), np.cos(np.arange(7.0))
    for got, expected in zip(_run(result, x, y), _run(STENCIL, x, y)):
        assert np.array_equal(got, expected)


@pytest.mark.parametrize("change, carried", [
    ("for i in range(x.shape[0] - 2, -1, -1):|for i in range(x.shape[0] - 2, -2, -1):", (False, False)),  # i - 1 < 0
    ("        b[i] += 0.5 * y[i]|        b[i] += a[0]", (False, True)),  # a read of a
    ("    return (0.0, a, b)|    c = a[1:]\n    return (0.0, c, b)", (False, True)),  # a view of a
    ("        a[i_plus_1] += y[i]|        if y[i] > 0.0:\n            a[i_plus_1] += y[i]", (False, True)),
    ("        i_plus_1 = i + 1|        i_plus_1 = i + 1\n        if x[i] > 5.0:\n            break", (False, False)),
    ("        i_plus_1 = i + 1|        i_plus_1 = i + 1\n        i_plus_1 = i_plus_1 + 0", (False, False)),
    ("    b = np.zeros_like(x)|    b = np.zeros((x.shape[0],))", (True, False)),  # not np.zeros_like
    ("for i in range(x.shape[0] - 2, -1, -1):|for i in range(x.shape[0] - 2, -1, -2):", (False, False)),
    ("    return (0.0, a, b)|    c = a[...]\n    return (0.0, c, b)", (False, True)),  # a[...] is a view
    ("    return (0.0, a, b)|    c = a[None]\n    return (0.0, c, b)", (False, True)),
    ("for i in range(x.shape[0] - 2, -1, -1):|m = x.shape[0] - 2\n    for i in range(m, -1, -1):\n        m = 0",
     (False, False)),  # the bound rebound in the body: the stores after the loop would read the new value
])
def test_what_is_not_carried(change, carried):
    old, new = change.split("|")
    source = STENCIL.replace(old, new)
    assert source != STENCIL
    result = _carried(source)
    assert ("a_at" in result, "b_at" in result) == carried, result


@st.composite
def _loops(draw):
    """A loop adding into two arrays at random offsets of its index, counting up or down."""
    offsets = draw(st.lists(st.integers(-2, 2), min_size=1, max_size=5))
    down = draw(st.booleans())
    low = max(0, -min(offsets))
    lines = ["def f(x, y):", "    a = np.zeros_like(x)", "    b = np.zeros_like(x)",
             "    for j in range(x.shape[0]):", "        a[j] += x[j] * x[j]"]
    top = f"x.shape[0] - {max(0, max(offsets)) + 1}"
    if down:
        lines.append(f"    for i in range({top}, {low - 1}, -1):")
    else:
        lines.append(f"    for i in range({low}, {top} + 1):" if low else f"    for i in range({top} + 1):")
    for k, offset in enumerate(sorted(set(offsets))):
        lines.append(f"        k{k} = i {'+' if offset >= 0 else '-'} {abs(offset)}")
    index = {offset: f"k{k}" for k, offset in enumerate(sorted(set(offsets)))}
    for n, offset in enumerate(offsets):
        array = draw(st.sampled_from("ab"))
        operator = draw(st.sampled_from(["+=", "-="]))
        lines.append(f"        {array}[{index[offset]}] {operator} {0.3 + n} * x[i] * y[{index[offset]}]")
        if draw(st.booleans()):
            lines.append(f"        t{n} = x[i] + {n}.0")
    lines.append("    c = a * 2.0 - b[0] + np.sum(b)")  # uses after the loop that make no other name for a or b
    lines.append("    return (0.0, a, b, c)")
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None)
@given(_loops(), st.integers(0, 6))
def test_random_loops_compute_the_same_arrays_carried_and_not(source, extra):
    x = np.linspace(-1.3, 2.1, 4 + extra) ** 3
    y = np.sin(np.arange(4.0 + extra) + 0.5)
    result = _carried(source)
    for got, expected in zip(_run(result, x, y), _run(source, x, y)):
        assert np.array_equal(got, expected), result


def chain_with_velocities(x, v, k):
    e = 0.0
    for i in range(1, x.shape[0] - 1):
        left = x[i] - x[i - 1]
        right = x[i + 1] - x[i]
        e += k * (left * left + right * right) * v[i] + 0.5 * v[i - 1] * v[i + 1] * x[i]
    return e


def central_stencil(x, v):
    e = 0.0
    for i in range(x.shape[0] - 2):
        d = x[i + 2] - x[i]
        e += np.sin(d) * v[i + 2] - v[i] * v[i] * d
    return e


def springs_with_a_force_array(x0, v0, k, steps):
    x = x0.copy()
    v = v0.copy()
    force = np.zeros(x.shape[0])
    for _ in range(steps):
        for i in range(x.shape[0]):
            force[i] = -0.1 * v[i]
        for i in range(x.shape[0] - 1):
            d = x[i + 1] - x[i] - 0.5
            s = k * (d + 0.1 * d ** 3)
            force[i] += s
            force[i + 1] -= s
        for i in range(x.shape[0]):
            v[i] += 0.05 * force[i]
            x[i] += 0.05 * v[i]
    return np.sum(x * x) + np.sum(force)


STENCILS = [
    (chain_with_velocities, (np.linspace(0.0, 1.5, 9) ** 2, np.cos(np.arange(9.0)), 1.7)),
    (central_stencil, (np.linspace(-1.0, 1.5, 8) ** 3, np.sin(np.arange(8.0)))),
    (springs_with_a_force_array, (np.linspace(0.0, 3.0, 7) + 0.1 * np.sin(np.arange(7.0)), np.zeros(7), 2.0, 4)),
]


def _fd(function, args, position, element=None, direction=None):
    def along(t):
        moved = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        if direction is not None:
            moved[position] = args[position] + t * direction
        else:
            moved[position][element] = t
        return function(*moved)

    start = 0.0 if direction is not None else float(args[position][element])
    return plain_central_difference(along, (start,), 0)


@pytest.mark.parametrize("function, args", STENCILS[:2], ids=lambda a: getattr(a, "__name__", ""))
def test_gradients_of_stencils_over_two_arrays_match_central_differences(function, args):
    source = srcad.source(function, "adjoint", args=args, wrt=(0, 1))
    assert "_adj_at_i" in source  # carried: the gradient would be right without, but slower
    gradients = srcad.grad(function, wrt=(0, 1))(*args)
    for position, gradient in zip((0, 1), gradients):
        expected = [_fd(function, args, position, element) for element in range(args[position].shape[0])]
        np.testing.assert_allclose(gradient, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("function, args", STENCILS, ids=lambda a: getattr(a, "__name__", ""))
def test_tangents_of_stencils_match_central_differences(function, args):
    """Forward mode carries additions too: a tangent array beside each array added to at i and i + 1
    (the force array of the springs; the other two add into numbers only)."""
    tangents = (np.cos(np.arange(args[0].shape[0]) + 0.3),) + (None,) * (len(args) - 1)
    if function is springs_with_a_force_array:
        assert "force_dot_at_i" in srcad.source(function, "tangent", args=args, wrt=(0,))
    value, tangent = srcad.jvp(function, args, tangents)
    assert value == pytest.approx(function(*[a.copy() if isinstance(a, np.ndarray) else a for a in args]), rel=1e-13)
    assert tangent == pytest.approx(_fd(function, args, 0, direction=tangents[0]), rel=1e-6, abs=1e-8)
