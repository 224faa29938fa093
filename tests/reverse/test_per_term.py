"""Loops that add up independent terms are reversed term by term: each iteration's adjoint runs as it
ends, with the accumulator's adjoint taken as 1, and the loop's reverse scales what the terms added
(transforms/analysis/independent_terms.py). Gradients against central differences of the plain
functions; loops that carry anything else are reversed as usual, and are checked the same way."""

import math

import numpy as np
import pytest

import srcad
from oracles import plain_central_differences

PER_TERM = "adjoint taken as 1"


def least_squares(w, X, y):
    n, d = X.shape
    total = 0.0
    for i in range(n):
        pred = 0.0
        for j in range(d):
            pred += X[i, j] * w[j]
        r = pred - y[i]
        total += r * r
    return total / n


def nearest_center_cost(points, centers):
    total = 0.0
    for i in range(points.shape[0]):
        best = math.inf
        for c in range(centers.shape[0]):
            dist = 0.0
            for j in range(points.shape[1]):
                diff = points[i, j] - centers[c, j]
                dist += diff * diff
            if dist < best:  # noqa: PLR1730 - the branch a user writes
                best = dist
        total += best
    return total


def scaled_sines(x, a):
    total = 0.0
    for i in range(x.shape[0]):
        total += math.sin(a * x[i]) * a
    return total ** 2


def subtracted_and_spelled_out(x, w):
    total = 1.0
    for i in range(x.shape[0]):
        total -= w * x[i] * x[i]
        total = total + math.cos(x[i])
    return math.log(total * total + 1.0)


def quadratic_form(A, x):
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(x.shape[0]):
            total += A[i, j] * x[i] * x[j]
    return total


def branchy_terms(x):
    total = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            total += x[i] * x[i]
        else:
            total -= math.sin(x[i])
    return total * total


def rows_as_arrays(X, mu):
    total = 0.0
    for i in range(X.shape[0]):
        d = X[i] - mu
        total += np.dot(d, d) * (i + 1)
    return math.sqrt(total)


def two_sums_of_one_array(x):
    s1 = 0.0
    for i in range(x.shape[0]):
        s1 += math.exp(x[i])
    s2 = 0.0
    for i in range(x.shape[0]):
        s2 += x[i] * x[i]
    return s1 * s2


def more_after_the_loop(x):
    total = 0.0
    for i in range(x.shape[0]):
        total += math.tanh(x[i])
    return total * total + x[0] * x[1]


def with_a_work_array_per_term(x):
    total = 0.0
    for i in range(x.shape[0] - 2):
        window = np.empty(3)
        for k in range(3):
            window[k] = x[i + k] * (k + 1)
        total += window[0] * window[2] - window[1]
    return total


def index_used_after_the_loop(x):
    total = 0.0
    for i in range(x.shape[0]):
        total += math.sin(x[i])
    return total * i  # the last index, which the term-by-term adjoint leaves in place


def with_a_while_loop_per_term(x):
    total = 0.0
    for i in range(x.shape[0]):
        t = x[i]
        k = 0
        while k < 3:
            t = math.sin(t) + 0.5 * t
            k += 1
        total += t
    return total


PER_TERM_PROGRAMS = [
    (least_squares, lambda rng: (rng.normal(size=3), rng.normal(size=(6, 3)), rng.normal(size=6))),
    (nearest_center_cost, lambda rng: (rng.normal(size=(7, 2)), rng.normal(size=(3, 2)))),
    (scaled_sines, lambda rng: (rng.normal(size=5), 0.7)),
    (subtracted_and_spelled_out, lambda rng: (rng.normal(size=5), 0.3)),
    (quadratic_form, lambda rng: (rng.normal(size=(4, 4)), rng.normal(size=4))),
    (branchy_terms, lambda rng: (rng.normal(size=8),)),
    (rows_as_arrays, lambda rng: (rng.normal(size=(5, 3)), rng.normal(size=3))),
    (two_sums_of_one_array, lambda rng: (rng.normal(size=6),)),
    (more_after_the_loop, lambda rng: (rng.normal(size=4),)),
    (with_a_work_array_per_term, lambda rng: (rng.normal(size=6),)),
    (with_a_while_loop_per_term, lambda rng: (rng.normal(size=5),)),
    (index_used_after_the_loop, lambda rng: (rng.normal(size=5),)),
]


def _float_positions(args):
    return tuple(k for k, a in enumerate(args) if isinstance(a, float) or (isinstance(a, np.ndarray) and a.dtype.kind == "f"))


def _check(function, args):
    wrt = _float_positions(args)
    gradient = srcad.grad(function, wrt=wrt)(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    gradient = gradient if isinstance(gradient, tuple) else (gradient,)
    for position, computed in zip(wrt, gradient):
        expected = plain_central_differences(function, args, position)
        np.testing.assert_allclose(computed, expected, rtol=1e-6, atol=1e-7)
    value = srcad.value_and_grad(function, wrt=wrt)(*args)[0]
    np.testing.assert_allclose(value, function(*args), rtol=1e-13)
    return srcad.source(function, "adjoint", args=args, wrt=wrt)


@pytest.mark.parametrize("function, make_args", PER_TERM_PROGRAMS, ids=lambda a: getattr(a, "__name__", ""))
@pytest.mark.parametrize("seed", [0, 1])
def test_sums_of_independent_terms_are_reversed_term_by_term(function, make_args, seed):
    source = _check(function, make_args(np.random.default_rng(seed)))
    assert PER_TERM in source
    assert "nothing past the iteration" in source or "tape_floats" not in source.split("# forward sweep")[0]


def test_a_term_by_term_adjoint_keeps_nothing_and_scales_in_place():
    """Least squares, as a person writes its adjoint: no tape, w's adjoint summed per row and scaled once."""
    rng = np.random.default_rng(2)
    source = srcad.source(least_squares, "adjoint", args=(rng.normal(size=3), rng.normal(size=(6, 3)), rng.normal(size=6)), wrt=(0,))
    assert "tape_floats" not in source and "tape_ints" not in source
    assert "w_adj *= total_adj" in source


def test_an_adjoint_that_later_code_adds_into_is_scaled_separately():
    """``x[0] * x[1]`` after the loop adds into x's adjoint before the loop's reverse: the loop's sums
    go into an array of their own, added in times the accumulator's adjoint."""
    source = _check(more_after_the_loop, (np.array([0.3, -0.4, 1.1, 0.2]),))
    assert "x_adj_per_total" in source and "x_adj *= " not in source


# Loops that carry more than one sum, or read their accumulator, or keep arrays across iterations:
# reversed as usual.

def reads_its_accumulator(x):
    total = 0.0
    for i in range(x.shape[0]):
        total += total * 0.1 + x[i] * x[i]
    return total


def two_accumulators(x):
    s1 = 0.0
    s2 = 0.0
    for i in range(x.shape[0]):
        s1 += math.exp(x[i])
        s2 += x[i] * s1
    return s1 * s2


def carries_the_previous_element(x):
    total = 0.0
    previous = x[0]
    for i in range(1, x.shape[0]):
        total += (x[i] - previous) ** 2
        previous = x[i]
    return total


def writes_an_array_kept_across_terms(x):
    kept = np.zeros(x.shape[0])
    total = 0.0
    for i in range(x.shape[0]):
        kept[i] = x[i] * x[i]
        total += kept[i] + kept[i - 1]
    return total


def accumulator_read_before_the_loop(x):
    total = math.exp(x[0])
    y = total * total  # exp's adjoint reads total's first value, which the loop overwrites
    for i in range(x.shape[0]):
        total += x[i] * x[i]
    return total * y


def stops_early(x):
    total = 0.0
    for i in range(x.shape[0]):
        total += x[i] * x[i]
        if total > 2.0:
            break
    return total


def term_kept_after_the_loop(x):
    total = 0.0
    for i in range(x.shape[0]):
        t = math.exp(x[i])
        total += t
    return total * t


@pytest.mark.parametrize("function", [
    reads_its_accumulator, two_accumulators, carries_the_previous_element, writes_an_array_kept_across_terms,
    accumulator_read_before_the_loop, stops_early, term_kept_after_the_loop,
], ids=lambda f: f.__name__)
def test_loops_carrying_more_are_reversed_as_usual(function):
    x = np.array([0.3, -0.8, 0.5, 1.1, -0.2])
    source = _check(function, (x,))
    assert PER_TERM not in source


def sum_of_a_rebound_argument(u, steps):
    for _ in range(steps):
        u = np.sin(u) * 1.1
    s = 0.0
    for i in range(u.shape[0]):
        s += u[i] * u[i]
    return s


def sum_of_a_local_array(u0, steps):
    u = u0.copy()
    for _ in range(steps):
        u = np.sin(u) * 1.1
    s = 0.0
    for i in range(u.shape[0]):
        s += u[i] * u[i]
    return s


@pytest.mark.parametrize("function", [sum_of_a_rebound_argument, sum_of_a_local_array])
def test_terms_adding_into_the_adjoint_of_an_array_made_in_the_function(function):
    """The terms' sums may be kept in an array's own adjoint only when that adjoint is made before
    the forward sweep and not made again: an argument bound again got a zero gradient (silently), a
    local array's adjoint was not defined (numba could not compile)."""
    source = _check(function, (np.linspace(0.1, 1.0, 5), 3))
    assert PER_TERM in source


def mixture_of_points(alphas, means, x):
    # a person's log-sum-exp per point, over a work array bound anew for each point
    total = 0.0
    for i in range(x.shape[0]):
        scores = np.empty(alphas.shape[0])
        for j in range(alphas.shape[0]):
            diff = x[i] - means[j]
            scores[j] = alphas[j] - 0.5 * np.sum(diff * diff)
        m = np.max(scores)
        total += m + np.log(np.sum(np.exp(scores - m)))
    return total


def bound_before_and_in_the_loop(x, w):
    v = np.cumsum(w) * x[0]
    total = np.dot(v, v)  # the adjoint reads the binding made before the loop
    for i in range(x.shape[0]):
        v = np.cumsum(w) * x[i]
        total += np.dot(v, w)
    return total


def test_a_work_array_bound_once_per_term_saves_nothing():
    """``scores = np.empty(k)`` for each point, the name's only binding: the array it replaces is the
    previous term's, which no adjoint reads any more, so no list keeps each point's array."""
    rng = np.random.default_rng(4)
    source = _check(mixture_of_points, (rng.normal(size=4), rng.normal(size=(4, 3)), rng.normal(size=(6, 3))))
    assert PER_TERM in source and "scores_saved" not in source


def test_an_array_also_bound_before_the_loop_is_still_saved():
    source = _check(bound_before_and_in_the_loop, (np.linspace(0.2, 1.1, 5), np.array([0.3, -0.7, 1.2])))
    assert PER_TERM in source and "v_saved" in source


def argument_bound_again_per_term(x, w):
    total = np.sum(x * x)  # the adjoint reads the argument's array
    for i in range(w.shape[0]):
        x = np.cumsum(w) * w[i]
        total += np.dot(x, w)
    return total


def test_an_argument_bound_again_per_term_is_still_saved():
    # (of another length than the terms' arrays: its gradient took their shape, and garbage)
    source = _check(argument_bound_again_per_term, (np.array([0.4, -1.3, 0.8]), np.array([0.3, -0.7, 1.2, 0.5])))
    assert PER_TERM in source and "x_saved" in source


# Loops nested in a loop of independent terms that add into its accumulator themselves: each inner
# term's adjoint runs as it ends too, with the accumulator's adjoint 1 (nested_term_loops).

NESTED = "inside the enclosing one's"


def pair_energy_with_a_cutoff(x, eps):
    e = 0.0
    for i in range(x.shape[0]):
        for j in range(i + 1, x.shape[0]):
            dx = x[i, 0] - x[j, 0]
            dy = x[i, 1] - x[j, 1]
            r2 = dx * dx + dy * dy
            if r2 < 2.0:
                s = 1.0 / r2
                e += eps * (s * s - s)
    return e


def pairs_reading_a_row_value(x, w):
    total = 0.0
    for i in range(x.shape[0]):
        xi = x[i] * w
        for j in range(i + 1, x.shape[0]):
            total += math.exp(-(xi - x[j]) ** 2)
        total -= xi * xi  # reads xi after the pairs too: both add into its adjoint
    return total * total


def triples(x, w):
    total = 0.0
    n = x.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            for k in range(j + 1, n):
                total += math.sin(x[i] * x[j] + w * x[k])
    return total


def pairs_with_a_product_inside(x):
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(x.shape[0]):
            p = 1.0
            for k in range(3):
                p = p * (x[i] + x[j] * k)
            total += p
    return math.log(1.0 + total * total)


def row_value_bound_again_after_the_pairs(x):
    total = 0.0
    for i in range(x.shape[0]):
        a = x[i] * 2.0
        for j in range(x.shape[0]):
            total += a * x[j] * x[j]
        a = math.sin(x[i])  # its adjoint, run first, would take the pairs' additions to a's
        total += a * a
    return total


NESTED_PROGRAMS = [
    (pair_energy_with_a_cutoff, lambda rng: (rng.uniform(0, 2.0, size=(6, 2)), 0.8)),
    (pairs_reading_a_row_value, lambda rng: (rng.normal(size=5), 0.6)),
    (triples, lambda rng: (rng.normal(size=5), 0.4)),
    (pairs_with_a_product_inside, lambda rng: (rng.normal(size=4),)),
]


@pytest.mark.parametrize("function, make_args", NESTED_PROGRAMS, ids=lambda a: getattr(a, "__name__", ""))
def test_inner_loops_adding_into_the_accumulator_are_reversed_term_by_term(function, make_args):
    source = _check(function, make_args(np.random.default_rng(5)))
    assert PER_TERM in source and NESTED in source


def test_a_pair_energy_keeps_nothing():
    source = _check(pair_energy_with_a_cutoff, (np.random.default_rng(6).uniform(0, 2.0, size=(7, 2)), 1.3))
    assert "tape_floats" not in source and "tape_ints" not in source


def test_an_inner_loop_whose_reads_are_assigned_after_it_is_reversed_as_usual():
    source = _check(row_value_bound_again_after_the_pairs, (np.array([0.3, -0.8, 0.5, 1.1]),))
    assert PER_TERM in source and NESTED not in source
