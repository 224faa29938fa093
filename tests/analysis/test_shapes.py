"""Which arrays have one shape at every binding (``transforms/analysis/shapes.py``): a temporary of
a time step whose shape follows from the arguments' does; one whose shape depends on the loop's
index, on data, or on its own previous binding does not."""

import numpy as np
from numba.core import types as numba_types

import srcad
from oracles import plain_central_differences

from srcad.pipeline import Normalized
from srcad.transforms.analysis.infer_types import infer_types
from srcad.transforms.analysis.shapes import argument_extents, fixed_shape_arrays, symbolic_shapes

VECTOR = numba_types.float64[:]
MATRIX = numba_types.float64[:, :]


def _fixed(function, argument_types):
    normalized = Normalized(function)
    parameters = normalized.parsed.parameters
    types, _ = infer_types(normalized.python_function(), argument_types)
    return fixed_shape_arrays(normalized.definition.body.body, parameters, types)


def stages(x0, y, h, steps):
    x = x0.copy()
    for _ in range(steps):
        k1 = np.sin(x) * y[0]
        k2 = np.cos(x + 0.5 * h * k1)
        buffer = np.empty(x.shape[0])
        for i in range(len(buffer)):
            buffer[i] = k2[i] * 2.0
        x = x + h * (k1 + buffer)
    return np.sum(x)


def test_the_temporaries_of_a_time_step_keep_their_shape():
    fixed = _fixed(stages, (VECTOR, VECTOR, numba_types.float64, numba_types.int64))
    assert {"x", "k1", "k2", "buffer"} <= fixed


def growing(x, n):
    total = 0.0
    for i in range(1, n):
        t = np.zeros(i)  # one element more each iteration
        t[0] = x[0]
        total += np.sum(t * t)
    prefix = x
    for _ in range(n):
        prefix = prefix[1:]  # one element fewer
        total += np.sum(prefix)
    return total


def test_shapes_that_follow_the_loop_are_not_fixed():
    fixed = _fixed(growing, (VECTOR, numba_types.int64))
    assert "t" not in fixed and "prefix" not in fixed


def counted(x, n):
    m = 1
    total = 0.0
    for _ in range(n):
        m = m + 1
        t = np.ones(m) * x[0]
        total += np.sum(t)
    return total


def test_an_integer_that_changes_gives_no_fixed_shape():
    assert "t" not in _fixed(counted, (VECTOR, numba_types.int64))


def masked(x, n):
    total = 0.0
    for _ in range(n):
        kept = x[x > total]  # as many elements as pass the test
        total += np.sum(kept)
    return total


def test_a_masked_selection_has_no_fixed_shape():
    assert "kept" not in _fixed(masked, (VECTOR, numba_types.int64))


def broadcast(x, c, n):
    total = 0.0
    for _ in range(n):
        d = x[:, None] - c  # (len(x), len(c)), whatever the two lengths
        e = np.exp(-d * d)
        total += np.sum(e)
    return total


def test_a_broadcast_has_one_shape_while_its_operands_do():
    assert {"d", "e"} <= _fixed(broadcast, (VECTOR, VECTOR, numba_types.int64))


def rows(X, w):
    total = 0.0
    for i in range(X.shape[0]):
        r = X[i] * w  # a row of X: X.shape[1] elements
        s = X @ w
        total += np.sum(r) + np.sum(s)
    return total


def test_rows_and_products_of_fixed_operands_are_fixed():
    assert {"r", "s"} <= _fixed(rows, (MATRIX, VECTOR))


def scaled_state(x0, y, n):
    x = x0.copy()
    for _ in range(n):
        x = x * y  # a state of one element grows to y's length after one step
    return np.sum(x)


def test_a_state_broadcast_with_another_argument_is_not_fixed():
    assert "x" not in _fixed(scaled_state, (VECTOR, VECTOR, numba_types.int64))


def swapped(x, y, n):
    a = x.copy()
    for _ in range(n):
        a = y * 2.0  # y may be longer than x: a's first binding has x's shape, the others y's
    return np.sum(a)


def test_bindings_of_arrays_of_different_arguments_differ():
    assert "a" not in _fixed(swapped, (VECTOR, VECTOR, numba_types.int64))
    np.testing.assert_equal(swapped(np.ones(2), np.ones(3), 1), 6.0)


def updated_in_place(x0, n):
    x = x0 * 1.0
    m = 1
    for _ in range(n):
        x += np.sin(x)  # in place: x keeps its shape
        m += 1
        t = np.ones(m)  # m changes in place: t's length with it
        x = x * t[0]
    return np.sum(x)


def test_an_array_updated_in_place_keeps_its_shape_an_integer_does_not_keep_its_value():
    fixed = _fixed(updated_in_place, (VECTOR, numba_types.int64))
    assert "x" in fixed and "t" not in fixed


def _shapes(function, argument_types, pattern=None):
    normalized = Normalized(function)
    parameters = normalized.parsed.parameters
    types, _ = infer_types(normalized.python_function(), argument_types)
    equal = argument_extents(parameters, types, pattern)
    return symbolic_shapes(normalized.definition.body.body, parameters, types, equal)


def test_equal_extents_of_a_call_make_a_broadcast_state_fixed():
    """The state above, for calls where x0 and y have one length: its shape never changes."""
    assert "x" not in _shapes(scaled_state, (VECTOR, VECTOR, numba_types.int64))
    shapes = _shapes(scaled_state, (VECTOR, VECTOR, numba_types.int64), pattern=(0, 0))
    assert shapes["x"] == shapes["x0"] == shapes["y"] == (("dim", "x0", 0),)


def pairs(x, v, m, a, W, steps):
    for _ in range(steps):
        d = x[None, :, :] - x[:, None, :]  # new axes and whole axes
        r2 = np.sum(d * d, axis=2) + 0.01  # a reduction drops its axis
        acc = np.sum((m[None, :] / r2)[:, :, None] * d, axis=1)
        v = v + acc
        x = x + 0.1 * v
    rows = x[a] - x[a, 0][:, None]  # gathers: the index array's shape, then the axes not indexed
    inner = u = x[1:-1]
    edges = x[2:] - x[:-2]  # slices dropping as many elements have one extent
    return np.sum(rows @ W) + np.sum(u * edges) + np.sum(inner)


def test_views_reductions_gathers_products_and_slices_have_known_shapes():
    shapes = _shapes(pairs, (MATRIX, MATRIX, VECTOR, numba_types.int64[:], MATRIX, numba_types.int64),
                     pattern=(0, 1, 0, 1, 0, 5, 1, 7))  # x, v: (n, 3); m: (n,); a: (k,); W: (3, p)
    n, three = ("dim", "x", 0), ("dim", "x", 1)
    assert shapes["d"] == (n, n, three) and shapes["r2"] == (n, n) and shapes["acc"] == (n, three)
    assert shapes["x"] == shapes["v"] == (n, three)
    assert shapes["rows"] == (("dim", "a", 0), three)
    rows_times_W = [name for name, shape in shapes.items() if shape == (("dim", "a", 0), ("dim", "W", 1))]
    assert rows_times_W, shapes
    assert shapes["edges"] == shapes["u"] == (("drop", n, 2), three)


def test_code_for_equal_extents_checks_them_first_and_other_calls_get_their_own():
    def flow(u0, speed, steps):
        u = u0.copy()
        for _ in range(steps):
            flux = speed * u
            u = u - 0.4 * (flux - np.roll(flux, 1))
        return np.sum((u - u0) ** 2)

    for speed in (np.linspace(1.0, 1.2, 7), np.array([1.1])):  # equal extents, then speed broadcasting
        args = (np.sin(np.linspace(0.0, 3.0, 7)), speed, 5)
        gradient = srcad.grad(flow, wrt=(0, 1))(*args)
        for k in (0, 1):
            np.testing.assert_allclose(gradient[k], plain_central_differences(flow, args, k), rtol=1e-6, atol=1e-9)
        source = srcad.source(flow, "adjoint", args=args, wrt=(0, 1))
        assert ("speed.shape[0] != u0.shape[0]" in source) == (len(speed) == 7)
        assert ("tape_ints" in source) == (len(speed) == 1)  # extents and steps kept per step only where they may change
