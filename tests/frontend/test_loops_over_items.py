"""Loops over items (``for v in x``, ``enumerate``, ``zip``, ``reversed``, rows of a matrix, lists of numbers,
nested in each other) and sums of generators (``sum(e for v in x if c)``): values, side effects, gradients and tangents against the plain Python
function and central differences of it; bad loops refused at the user's line."""

import math

import numpy as np
import pytest

import srcad
from oracles import plain_central_difference


def cubes_of_the_items(x):
    total = 0.0
    for v in x:
        total += v ** 3
    return total


def weighted_by_position(x, start):
    total = 0.0
    for i, v in enumerate(x):
        total += (i + 1) * math.sin(v)
    for k, v in enumerate(x, start):
        total += k * v * v
    for k, v in enumerate(x, start=2):
        total -= k * v
    vals = [x[0], 2.0 * x[1], x[2] * x[3]]  # a list of numbers, read as an array
    for k, v in enumerate(vals):
        total += k * v * v
    for k, v in enumerate([x[1], start * x[4]], start=1):  # a literal list
        total += k * math.cos(v)
    return total


def pairwise_products(x, w):
    total = 0.0
    for a, b in zip(x, w):
        total += a * b * a
    for a, b, c in zip(x, w[1:], x[::-1]):  # stops at the shortest
        total += a * b * c
    return total


def horner_backwards(x, c):
    acc = 0.0
    for coefficient in reversed(c):
        acc = acc * x[0] + coefficient
    for j in reversed(range(1, len(c))):
        acc = acc * 0.5 + c[j] * c[j - 1]
    for j in reversed(range(3)):
        acc += j * c[j]
    return acc


def rows_and_counters(A, x):
    total = 0.0
    for i, (row, weight) in enumerate(zip(A, reversed(x))):
        total += weight * np.sum(row * row) * (i + 1)
    for row in A:
        for v in row:
            total += np.tanh(v)
    return total


def items_of_an_expression_rebound_in_the_body(x):
    """Python reads the items of the array it was given, not of the name bound again."""
    total = 0.0
    for v in x * 2.0:
        total += v * v
    for v in x:
        x = x * 1.5
        total += v * x[0]
    return total


def writes_into_later_items(y, x):
    """Writes into items not yet reached are seen by the loop, as in Python."""
    total = 0.0
    for i, v in enumerate(y):
        if i + 1 < y.shape[0]:
            y[i + 1] += 0.5 * v
        total += v * x[0]
    return total + np.sum(y * y)


def ranges_inside_zip(x, n):
    total = 0.0
    for i, v in zip(range(n), x):
        total += i * v * v
    for i, v in zip(range(1, n + 1), x):
        total += math.cos(i * v)
    return total


def sums_of_generators(x, w, n):
    i = 7  # a comprehension's variables are its own: i is still 7 after the first sum
    total = sum(w[i] * math.sin(x[0] * i) for i in range(n))
    total += sum([v * v for v in x if v > 0.0], 1.5)
    total += sum(p * q * p for p, q in zip(x, reversed(w)))
    total += sum(x[j] * w[k] for j in range(n) for k in range(j) if (j + k) % 2 == 0)
    return total * i


def positions_of_an_array_rebound_in_the_body(x, s):
    # found by the array fuzz: the items (never read) of an array the body writes and rebinds
    for j, _ in enumerate(x):
        x[j] = np.tanh(s) * x[j]
        x = x - 0.1 * (x - 0.3 * np.tanh(x))
    return np.sum(np.cos(x) * x)


VECTOR = np.array([0.3, -1.2, 0.7, 2.1, -0.4])
WEIGHTS = np.array([1.5, -0.5, 0.25, 0.8])
MATRIX = np.array([[0.5, -1.0, 0.25], [1.5, 0.75, -2.0], [-0.3, 1.1, 0.6]])
CASES = [
    (cubes_of_the_items, (VECTOR,)),
    (weighted_by_position, (VECTOR, 3)),
    (pairwise_products, (VECTOR, WEIGHTS)),
    (horner_backwards, (VECTOR, WEIGHTS)),
    (rows_and_counters, (MATRIX, VECTOR)),
    (items_of_an_expression_rebound_in_the_body, (VECTOR,)),
    (writes_into_later_items, (VECTOR, WEIGHTS)),
    (ranges_inside_zip, (VECTOR, 4)),
    (sums_of_generators, (VECTOR, WEIGHTS, 4)),
    (positions_of_an_array_rebound_in_the_body, (VECTOR, 0.6)),
]
IDS = [case[0].__name__ for case in CASES]


def _copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def _float_positions(args):
    return tuple(k for k, a in enumerate(args) if isinstance(a, np.ndarray))


def _fd_gradient(function, args, position):
    gradient = np.zeros_like(args[position])
    for element in np.ndindex(args[position].shape):

        def along(t, element=element):
            copies = _copies(args)
            copies[position][element] = t
            return function(*copies)

        gradient[element] = plain_central_difference(along, (float(args[position][element]),), 0)
    return gradient


@pytest.mark.parametrize("function, args", CASES, ids=IDS)
def test_values_and_gradients_follow_python(function, args):
    plain_args, srcad_args = _copies(args), _copies(args)
    expected = function(*plain_args)
    wrt = _float_positions(args)
    value, gradients = srcad.value_and_grad(function, wrt=wrt)(*srcad_args)
    assert value == pytest.approx(expected, rel=1e-13)
    for plain, written in zip(plain_args, srcad_args):
        np.testing.assert_allclose(written, plain, rtol=1e-14)
    gradients = gradients if isinstance(gradients, tuple) else (gradients,)
    for position, gradient in zip(wrt, gradients):
        np.testing.assert_allclose(gradient, _fd_gradient(function, args, position), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("function, args", CASES, ids=IDS)
def test_the_decorated_primal_and_the_normal_form_follow_python(function, args):
    expected = function(*_copies(args))
    assert srcad.differentiable(function)(*_copies(args)) == pytest.approx(expected, rel=1e-13)
    namespace = {}
    exec(compile(srcad.source(function, "normalized", args=_copies(args)), "<normalized>", "exec"), namespace)
    assert namespace[function.__name__](*_copies(args)) == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("function, args", CASES, ids=IDS)
def test_tangents_follow_directional_differences(function, args):
    rng = np.random.default_rng(7)
    directions = tuple(rng.normal(size=a.shape) if isinstance(a, np.ndarray) else None for a in args)
    value, tangent = srcad.jvp(function, tuple(_copies(args)), directions)
    assert value == pytest.approx(function(*_copies(args)), rel=1e-13)

    def along(t):
        moved = [a + t * d if d is not None else a for a, d in zip(_copies(args), directions)]
        return function(*moved)

    assert tangent == pytest.approx(plain_central_difference(along, (0.0,), 0), rel=1e-6, abs=1e-6)


def test_reversed_ranges_stay_counting_loops():
    source = srcad.source(horner_backwards, "normalized", args=(VECTOR, WEIGHTS))
    assert "range(j_start, j_stop, -1)" in source


def unpacks_too_many(x, w):
    total = 0.0
    for a, b, c in zip(x, w):  # <- the target
        total += a * b * c
    return total


def unpacks_an_item_of_an_array(A):
    total = 0.0
    for p, q in A:  # <- the target
        total += p * q
    return total


def loops_over_a_tuple(x, y):
    total = 0.0
    for v in (x, y):  # <- the iterable
        total += np.sum(v)
    return total


def loops_over_a_stepped_range_inside_zip(x):
    total = 0.0
    for i, v in zip(range(0, 10, 2), x):  # <- the iterable
        total += i * v
    return total


def no_rule_inside_a_generator(x):
    i = 1.0
    return sum(math.gamma(x[0] * i) for i in range(3)) * i  # <- the call


def a_list_comprehension_as_an_array(x):
    return np.sum(np.array([v * v for v in x]))  # <- the comprehension


@pytest.mark.parametrize("function, column_of, why", [
    (no_rule_inside_a_generator, "math.gamma", "'math.gamma' has no derivative rule"),
    (a_list_comprehension_as_an_array, "[v * v", "cannot differentiate a generator expression or a comprehension"),
    (unpacks_too_many, "a, b, c", "unpacks 2 values per item into 3 names"),
    (unpacks_an_item_of_an_array, "p, q", "cannot unpack an array's item"),
    (loops_over_a_tuple, "x, y)", "not over the parts of a tuple"),
    (loops_over_a_stepped_range_inside_zip, "range(0, 10, 2)", "range(stop) or range(start, stop)"),
], ids=lambda v: getattr(v, "__name__", None))
def test_loops_srcad_cannot_take_are_refused_at_the_users_line(function, column_of, why):
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(function)
    error = caught.value
    assert why in str(error)
    assert "# <-" in error.source_line
    assert error.col == error.source_line.index(column_of) + 1
    assert "numba" not in str(error)
