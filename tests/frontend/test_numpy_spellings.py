"""Other spellings of what srcad already differentiates, as a peer's test corpus writes them: NumPy's
functions for the operators, np.array / np.asarray of an array, np.newaxis, lists of numbers used
as small arrays, np.sum of a list comprehension, np.atleast_1d / 2d, Python's max, min, sum and abs
of arrays, reductions along a tuple of axes. Both modes against central
differences of the plain function; lists used as lists are refused at their line."""

import numpy as np
import pytest

import srcad
from test_simulation_numpy import check_both_modes


def operator_functions(x, y):
    return np.sum(np.add(x, y) * np.multiply(x, 2.0) - np.divide(np.subtract(y, x), 3.0)
                  + np.negative(x) * np.true_divide(x, y) + np.positive(y))


def operator_functions_of_floats(a, b):
    return np.add(a, b) * np.multiply(a, b) - np.negative(a) / np.subtract(3.0, b)


def conversions(x):
    y = np.array(x)
    y[0] = 3.0
    z = np.asarray(x, dtype=float)
    return np.sum(y * z) + np.sum(np.array(x * 2.0, dtype=np.float64))


def new_axes(x, y):
    return np.sum(x[:, np.newaxis] * y[np.newaxis, :] ** 2)


def list_of_numbers(a, b):
    v = [a, b * 2.0, a * b]
    m = [[a, b], [b, 1.0]]
    s = 0.0
    for i in range(len(v)):
        s += v[i] * v[(i + 1) % 3]
    for e in v:
        s += e ** 2
    v[0] = 3.0 * a
    return s + v[0] * m[1][0] + m[0][1] + np.sum(v) + max(v) - 2.0 * min(v) + sum(v)


def sum_of_a_list_comprehension(x, n):
    return np.sum([x[i] * x[i + 1] for i in range(n)]) + np.sum([v ** 2 for v in x])


def at_least_two_dimensions(x, w):
    a = np.atleast_2d(x)
    b = np.atleast_1d(w)
    return np.sum(a * a) + np.sum(a.T * b) + np.sum(np.atleast_2d(x * w)[0] ** 3)


def python_builtins_and_tuples_of_axes(x, C, s):
    # Python's max, min, sum and abs of arrays are NumPy's: sum adds along the first axis
    total = max(x) * 2.0 - min(x * x) + sum(x) * s + np.sum(sum(C) ** 2) + abs(s) * np.sum(abs(x))
    total += max([x[0], s * 0.5, 0.3]) + sum([x[1], s], 0.5)
    # reductions along several axes at once
    total += np.sum(np.sum(C ** 2, axis=(0, 2)) * x) + np.sum(np.mean(C, axis=(-1, -3)) * x)
    total += np.sum(np.max(np.sin(C), axis=(2, 0), keepdims=True)) + np.sum(C.min(axis=(0, 1)) ** 2)
    return total


X = np.array([0.5, 1.5, -0.7])
CUBE = np.array([[[0.3, -1.1], [0.8, 0.25], [-0.6, 1.4]], [[1.2, 0.45], [-0.9, 0.7], [0.15, -0.35]]])
Y = np.array([1.2, 0.3, 2.0])


@pytest.mark.parametrize("function, args, wrt", [
    (operator_functions, (X, Y), (0, 1)),
    (operator_functions_of_floats, (0.3, 0.9), (0, 1)),
    (conversions, (X,), (0,)),
    (new_axes, (X, Y), (0, 1)),
    (list_of_numbers, (0.7, 1.3), (0, 1)),
    (sum_of_a_list_comprehension, (X, 2), (0,)),
    (at_least_two_dimensions, (X, Y), (0, 1)),
    (python_builtins_and_tuples_of_axes, (X, CUBE, -0.8), (0, 1, 2)),
], ids=lambda v: getattr(v, "__name__", ""))  # fmt: skip
def test_other_spellings_are_differentiated_in_both_modes(function, args, wrt):
    check_both_modes(function, args, wrt)


def test_np_asarray_is_the_same_memory_as_numpy_has_it():
    def writes_through_asarray(x):
        y = np.asarray(x)
        y[0] = 2.0 * y[1]
        return np.sum(x * x)

    check_both_modes(writes_through_asarray, (X,), (0,))


def concatenates(a, b):
    v = [a, b]
    w = v + [1.0]  # a list: concatenation, where an array would add
    return w[0]


def appends(a, b):
    v = [a, b]
    v.append(a)
    return v[0]


@pytest.mark.parametrize("function, line", [(concatenates, "w = v + [1.0]"), (appends, "v.append(a)")])
def test_a_list_used_as_a_list_is_refused_at_its_line(function, line):
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(function)
    message = str(caught.value)
    assert line in message and "np.array([...])" in message
    assert caught.value.filename.endswith("test_numpy_spellings.py")


def shrink_when_long(x, y):
    if np.matmul(y, y) > 1.0:  # a test numba compiles as y @ y (found by the random-program hunt)
        x = x * 0.5
    return np.sum(np.sin(x) * y)


def test_np_matmul_in_a_branch_test_is_compiled_as_the_operator():
    x, y = np.array([0.3, -0.8, 1.1]), np.array([0.9, 0.4, -0.7])
    gradient_x, gradient_y = srcad.grad(shrink_when_long, wrt=(0, 1))(x, y)
    scale = 0.5 if y @ y > 1.0 else 1.0
    np.testing.assert_allclose(gradient_x, scale * np.cos(scale * x) * y, rtol=1e-13)
    np.testing.assert_allclose(gradient_y, np.sin(scale * x), rtol=1e-13)
