"""``a[i][j]``: one element access ``a[i, j]`` where ``i`` is surely one integer, a row and then its
element otherwise. With an index array, ``a[idx][j]`` is row ``idx[j]`` of ``a``, which ``a[idx, j]``
is not (it pairs ``idx`` with ``j``): merged, a square array gave a wrong value silently and other
shapes a false broadcasting error. Values against NumPy's, gradients against central differences.
"""

import numpy as np
import pytest
from oracles import plain_central_differences

import srcad


def first_of_a_gather(y):
    order = np.array([2, 0, 1])
    return np.sum(y[order][0] ** 2)


def gather_with_a_negative_index(y):
    order = np.array([2, -2, 1])
    return np.sum(y[order][0] ** 2)


def subtracted_in_place(y):
    order = np.array([1, 0, 1])
    w = y.copy()
    w[0] -= y[order][0]
    return np.sum(w * w)


def in_a_loop(x, y):
    rows = np.array([-2, 0, 0, 0, 0], dtype=np.int64)
    picks = np.array([2, -2, 1])
    w = y[rows]
    for j in range(3):
        w[0] -= 0.1 * np.cos(w[4, :] + (w[picks])[0])
    return np.sum(np.cos(y) * y) + 0.7 * np.mean(w ** 3) + np.sum(x)


def loop_counters(a):
    total = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            total += a[i][j] * a[i - 1][j] + a[i][j] ** 2
    return total


def an_integer_variable(a):
    k = 1
    return np.sum(a[k][0] * a)


CASES = {
    "first_of_a_gather, square": (first_of_a_gather, (np.arange(9.0).reshape(3, 3) / 7.0,)),
    "first_of_a_gather, one column": (first_of_a_gather, (np.array([[0.8], [0.1], [-1.4]]),)),
    "gather_with_a_negative_index": (gather_with_a_negative_index, (np.arange(6.0).reshape(3, 2) / 5.0,)),
    "subtracted_in_place": (subtracted_in_place, (np.array([[0.8], [0.1], [-1.4]]),)),
    "in_a_loop": (in_a_loop, (np.array([[1.17, -1.5], [1.24, -0.83]]), np.array([[0.82], [0.15], [-1.45]]))),
    "loop_counters": (loop_counters, (np.arange(12.0).reshape(3, 4) / 10.0,)),
    "an_integer_variable": (an_integer_variable, (np.arange(6.0).reshape(2, 3) / 4.0,)),
}


@pytest.mark.parametrize("case", CASES)
def test_value_and_gradient(case):
    function, args = CASES[case]
    wrt = tuple(range(len(args)))
    value, gradient = srcad.value_and_grad(function, wrt=wrt)(*[a.copy() for a in args])
    np.testing.assert_allclose(value, function(*[a.copy() for a in args]), rtol=1e-12)
    gradient = gradient if isinstance(gradient, tuple) else (gradient,)
    for position, computed in zip(wrt, gradient):
        on_copies = lambda *a: function(*[v.copy() for v in a])  # noqa: E731
        np.testing.assert_allclose(computed, plain_central_differences(on_copies, list(args), position),
                                   rtol=1e-6, atol=1e-8)


def test_loop_counters_still_read_one_element():
    normalized = srcad.source(loop_counters, "normalized")
    assert "a[i, j]" in normalized


# -- a loop's variable set in its own body ----------------------------------------------------------


def index_set_in_the_body(x, c, order):
    y = x.copy()
    for t in range(2):
        for i in range(order.shape[0]):
            y[i] = np.sin(y[i] * c) + y[i]
            i = order[i]  # noqa: PLW2901 - as a user may write it: the rest of the iteration works on row order[i]
            y[i] = np.sin(y[i] * c) + 0.5 * y[i]
    total = 0.0
    for i in range(y.shape[0]):
        total += y[i] * y[i]
    return total + i


def test_a_loop_setting_its_own_variable():
    """The reverse sweep sets the loop's counter for each iteration; the user's variable must be
    what the iteration left in it (order[i]), not the counter: before, the second write's adjoint
    went to y[i]."""
    args = (np.array([0.3, 0.5, 0.7, 0.2]), 0.8, np.array([2, 0, 3, 1]))
    value, gradient = srcad.value_and_grad(index_set_in_the_body, wrt=(0, 1))(*[np.copy(a) for a in args])
    np.testing.assert_allclose(value, index_set_in_the_body(*[np.copy(a) for a in args]), rtol=1e-12)
    for position, computed in zip((0, 1), gradient):
        on_copies = lambda *a: index_set_in_the_body(*[np.copy(v) for v in a])  # noqa: E731
        np.testing.assert_allclose(computed, plain_central_differences(on_copies, list(args), position),
                                   rtol=1e-6, atol=1e-8)
