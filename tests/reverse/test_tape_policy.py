"""What the reverse sweep keeps: only values a later adjoint reads (to-be-recorded analysis), no
trip counts it can compute again, no rebinding of a helper's array parameters; and the heading of
``srcad.source(f, "adjoint")`` says what each loop iteration keeps. Gradients against central
differences of the plain functions, or closed forms."""

import math

import numpy as np
import pytest

import srcad
from oracles import plain_central_differences


def _check(function, args, wrt):
    gradient = srcad.grad(function, wrt=wrt)(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    gradient = gradient if isinstance(gradient, tuple) else (gradient,)
    for position, computed in zip(wrt, gradient):
        expected = plain_central_differences(function, args, position)
        np.testing.assert_allclose(computed, expected, rtol=1e-6, atol=1e-7)


def log_sum_exp(x):
    a = x[0]
    for i in range(x.shape[0]):
        if x[i] > a:
            a = x[i]
    s = 0.0
    for i in range(x.shape[0]):
        s += math.exp(x[i] - a)
    return a + math.log(s)


def test_an_accumulator_no_adjoint_reads_is_not_kept():
    """``s += e`` reads neither s nor e's old values in reverse; ``log(s)`` reads the final s."""
    x = np.random.default_rng(0).normal(size=50)
    gradient = srcad.grad(log_sum_exp)(x)
    np.testing.assert_allclose(gradient, np.exp(x - x.max()) / np.exp(x - x.max()).sum(), rtol=1e-12)
    source = srcad.source(log_sum_exp, "adjoint", args=(x,))
    assert "= s;" not in source and "s = tape_floats" not in source
    # each exp(x[i] - a) is reversed as it is computed (a sum of independent terms): nothing is kept
    assert "tape_floats" not in source and "tape_ints" not in source and "with s's adjoint taken as 1" in source


def decaying_sum_of_exps(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s * math.cos(x[i]) + math.exp(x[i])  # s is read: the terms are not independent
    return math.log(s)


def test_a_recurrence_keeps_what_its_adjoint_reads():
    x = np.random.default_rng(4).normal(size=9)
    _check(decaying_sum_of_exps, (x,), (0,))
    source = srcad.source(decaying_sum_of_exps, "adjoint", args=(x,))
    assert "i_iterations = tape_ints" not in source  # range(x.shape[0]) is counted again, not kept
    assert "8 bytes (1 float): the loop of line" in source  # s, which the product's adjoint reads
    assert "taken as 1" not in source


def scaled_in_a_loop(a, n):
    s = 1.0
    for i in range(n):
        s = s * a + 0.1  # the adjoint reads the s this statement overwrites
    return s


def read_then_overwritten(x):
    y = x * x
    z = y * y  # reads y ...
    y = math.sin(x)  # ... which is overwritten later: kept
    return z + y * y


def read_after_the_loop_only(x, n):
    t = 0.0
    for i in range(n):
        t = math.sin(x * i)  # overwritten in the loop, read (by the product below) only after it
    return t * x


def result_read_in_a_loop(x, n):
    s = 0.0
    for i in range(n):
        e = math.exp(x / (i + 1))  # exp's adjoint reads e, which the next iteration overwrites
        s += e
    return s


def branches_assign_one_name(x, flag):
    y = x * 2.0
    if flag > 0:
        y = math.exp(x)
    else:
        y = y * y
    return y * x


def loop_with_an_early_exit(x, n):
    s = x
    for i in range(n):
        s = s * 0.9 + math.sin(s)
        if s > 3.0:
            break
    return s * s


def bound_changed_after_the_loop(x, n):
    s = 0.0
    for i in range(n):
        s += math.cos(x * i)
    n = n + 2
    for i in range(n):
        s += s * 0.01
    return s


@pytest.mark.parametrize("function, args, wrt", [
    (scaled_in_a_loop, (0.9, 7), (0,)),
    (read_then_overwritten, (0.7,), (0,)),
    (read_after_the_loop_only, (0.4, 5), (0,)),
    (result_read_in_a_loop, (0.8, 6), (0,)),
    (branches_assign_one_name, (0.3, 1.0), (0,)),
    (branches_assign_one_name, (0.3, -1.0), (0,)),
    (loop_with_an_early_exit, (0.5, 40), (0,)),
    (loop_with_an_early_exit, (2.9, 40), (0,)),
    (bound_changed_after_the_loop, (0.6, 5), (0,)),
])
def test_values_still_needed_are_kept(function, args, wrt):
    _check(function, args, wrt)


def flow(y, p, out):
    n = y.shape[0]
    out[0] = -p[0] * y[0]
    for i in range(1, n):
        out[i] = p[i - 1] * y[i - 1] - p[i] * y[i]


def euler_steps(y0, p, steps):
    y = y0.copy()
    k = np.empty(y0.shape[0])
    for t in range(steps):
        flow(y, p, k)
        for i in range(y.shape[0]):
            y[i] += 0.05 * k[i]
    return np.sum(y * y)


def doubled(y, out):
    y = y * 2.0  # the parameter is rebound: it stays a binding of its own
    for i in range(y.shape[0]):
        out[i] = y[i] * y[i]


def calls_doubled(x, steps):
    out = np.zeros(x.shape[0])
    total = 0.0
    for t in range(steps):
        doubled(x, out)
        total += np.sum(out) * (t + 1)
    return total


def test_a_helper_called_in_a_loop_works_on_its_arguments_directly():
    y0, p = np.linspace(1.0, 2.0, 6), np.linspace(0.5, 1.5, 6)
    _check(euler_steps, (y0, p, 4), (0, 1))
    source = srcad.source(srcad.differentiable(euler_steps, checkpoint=None), "adjoint", args=(y0, p, 4))
    assert "flow_y = " not in source and "empty_list_like" not in source and ".append(" not in source


def test_a_state_read_twice_per_element_is_restored_rather_than_kept_per_read():
    """flow reads y[i - 1] and y[i] for every i; the step's one update of y[i] is saved instead (one
    float per element per step, not two), and the reads are done again in the reverse sweep."""
    y0, p = np.linspace(1.0, 2.0, 6), np.linspace(0.5, 1.5, 6)
    source = srcad.source(euler_steps, "adjoint", args=(y0, p, 4))
    assert "tape_floats[floats_top] = y[i]; floats_top += 1" in source
    assert "16 bytes" not in source and "8 bytes (1 float): the loop of line" in source
    _check(euler_steps, (y0, p, 4), (0, 1))


def test_a_helper_that_rebinds_its_parameter():
    _check(calls_doubled, (np.linspace(0.2, 0.9, 5), 3), (0,))


def test_a_time_loop_reserves_its_tape_once():
    """The trip counts of the inner loops are the arrays' lengths, which element writes never change."""
    y0, p = np.linspace(1.0, 2.0, 6), np.linspace(0.5, 1.5, 6)
    source = srcad.source(srcad.differentiable(euler_steps, checkpoint=None), "adjoint", args=(y0, p, 4))
    forward = source.split("# forward sweep")[1].split("# reverse sweep")[0]
    reserves = [line.strip() for line in forward.splitlines() if "= reserve(" in line]
    assert len(reserves) >= 1 and all(line.startswith(("tape_floats", "tape_ints")) for line in reserves)
    loop = forward.index("for t in range(steps)")
    assert all(forward.index(line) < loop for line in reserves)


def no_loops(x):
    return x * math.sin(x)


def test_the_heading_says_when_no_loop_keeps_anything():
    x = np.random.default_rng(1).normal(size=8)
    assert "each iteration of a loop keeps" in srcad.source(decaying_sum_of_exps, "adjoint", args=(x,))
    assert "# the tape" not in srcad.source(no_loops, "adjoint", args=(0.5,))  # no tape at all


def per_point_log_sum_exp(q):
    total = 0.0
    for i in range(q.shape[0]):
        e = 0.0
        for c in range(q.shape[1]):
            e += math.exp(q[i, c])
        total = 0.5 * total + math.log(e) * (i + 1)  # reads total: the points are not reversed one by one
    return total


def test_only_the_assignment_whose_old_value_was_read_saves_it():
    """The previous point's ``log(e)`` read the value ``e = 0.0`` overwrites; the additions after it
    overwrite values nothing read."""
    q = np.random.default_rng(2).normal(size=(4, 3))
    _check(per_point_log_sum_exp, (q,), (0,))
    source = srcad.source(per_point_log_sum_exp, "adjoint", args=(q,))
    forward = source.split("# forward sweep")[1].split("# reverse sweep")[0]
    assert forward.count("= e;") == 1  # pushed once per point, before e = 0.0


def running_max(x, y):
    a = x[0]
    b = y[0]
    for i in range(1, x.shape[0]):
        if x[i] > a:
            a = x[i]
            b = y[i]  # the partner of the largest x
    return a * b + math.sin(a)


def row_minimum(q):
    total = 0.0
    for i in range(q.shape[0]):
        m = q[i, 0]
        for c in range(1, q.shape[1]):
            if q[i, c] < m:
                m = q[i, c]
        total = total * 0.9 + m * m * (i + 1)  # reads total: the rows are not reversed one by one
    return total


def sum_of_row_minima(q):
    total = 0.0
    for i in range(q.shape[0]):
        m = q[i, 0]
        for c in range(1, q.shape[1]):
            if q[i, c] < m:
                m = q[i, c]
        total += m * m * (i + 1)
    return total


def max_and_sum_of_winners(x):
    a = x[0]
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > a:
            a = x[i]
            s += x[i]  # every taken iteration passes s's adjoint on: all of them count
    return a * s


@pytest.mark.parametrize("x", [
    np.array([0.3, -1.2, 2.5, 0.7, 2.5, -0.4]),  # a tie: the first maximal element wins
    np.array([3.0, 1.0, 2.0, 0.5]),  # the first element is the largest: no branch is taken
    np.array([-2.0, -1.0, 0.5, 1.5, 2.5]),  # taken in every iteration
])
def test_a_running_maximum_keeps_the_last_taken_iteration(x):
    """Against the closed form (central differences straddle a tie): with k the first largest x,
    d/dx[k] = y[k] + cos(x[k]) and d/dy[k] = x[k], zero elsewhere."""
    y = np.linspace(0.5, 1.5, x.shape[0])
    k = int(np.argmax(x))
    expected_x, expected_y = np.zeros_like(x), np.zeros_like(y)
    expected_x[k], expected_y[k] = y[k] + math.cos(x[k]), x[k]
    gradient_x, gradient_y = srcad.grad(running_max, wrt=(0, 1))(x.copy(), y.copy())
    np.testing.assert_allclose(gradient_x, expected_x, rtol=1e-14)
    np.testing.assert_allclose(gradient_y, expected_y, rtol=1e-14)
    if len(set(x.tolist())) == len(x):  # no tie: central differences hold
        _check(max_and_sum_of_winners, (x,), (0,))
    source = srcad.source(running_max, "adjoint", args=(x, y))
    assert "i_last_taken = i" in source and "tape_ints" not in source
    assert "last_taken" not in srcad.source(max_and_sum_of_winners, "adjoint", args=(x,))


def test_a_minimum_per_row_keeps_one_index_per_row():
    q = np.random.default_rng(3).normal(size=(5, 4))
    q[2, 3] = q[2, 1]  # a tie in one row
    _check(row_minimum, (q,), (0,))
    source = srcad.source(row_minimum, "adjoint", args=(q,))
    assert "16 bytes (1 float, 1 int): the loop of line" in source and "c_last_taken" in source  # m, and the index


def test_a_sum_of_row_minima_keeps_nothing():
    """Each row's term is reversed as it is computed: its minimum's index is still in a variable."""
    q = np.random.default_rng(3).normal(size=(5, 4))
    q[2, 3] = q[2, 1]  # a tie in one row
    _check(sum_of_row_minima, (q,), (0,))
    source = srcad.source(sum_of_row_minima, "adjoint", args=(q,))
    assert "tape_ints" not in source and "tape_floats" not in source and "c_last_taken" in source and "q_adj *= total_adj" in source


def loop_under_a_constant_false(x, y):  # as the random-program hunt wrote it
    a = math.fabs(2.0 + math.sin(math.fabs(2.0 + math.sin(y))))
    for _, j in enumerate(range(0)):
        a, x = x, a * 0.5 + math.tanh(j / 7)
        if j % 3 != 1:
            return 3.0 * j
    if False:
        for q in reversed(range(3)):
            y, a = a, y * 0.5 + math.cos(math.atan(a))
        y, a = a, y * 0.5 + math.atan(a)
        x = 3.0 * math.tanh(y)
    else:
        if y * x > -0.75 or y < -1.0:
            a = x
            a -= math.sin((math.sqrt(1.0 + x * x) - (1.5 + math.tanh(a)) ** -1))
        else:
            x = math.sin(math.atan(math.hypot(1.0, y)))
            a = math.sin(0.75 * 0.9)
        y *= 0.5 + 0.25 * math.tanh(math.cosh(math.sin(0.1 * 0.7)))
    if False:
        x -= math.cos(x)
        x *= 0.5 + 0.25 * math.tanh(float((y if False else a)))
    for p in range(6):
        a = 0.1 * math.tanh(math.atan(math.exp(math.tanh(p / 7))))
    x = math.tanh(2.0 ** 2)
    return math.erf(a)


def test_bounds_counted_again_are_defined_where_numba_drops_a_branch():
    """The reverse sweep reads a loop's bounds to count its trips (found by the random-program hunt:
    numba refused the adjoint, the bounds being defined only in a branch it drops)."""
    _check(loop_under_a_constant_false, (0.0, 0.0), (0, 1))
    _check(loop_under_a_constant_false, (0.4, 1.3), (0, 1))


def nearest_distance_decayed(points, centers):
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
        total = 0.5 * total + best  # reads total: the points are reversed after the loop
    return total


def nearest_with_a_penalty_on_every_distance(x, centers):
    best = math.inf
    penalty = 0.0
    for c in range(centers.shape[0]):
        dist = (x - centers[c]) ** 2
        penalty += 0.1 * dist  # every distance counts: every iteration is reversed
        if dist < best:  # noqa: PLR1730 - the branch a user writes
            best = dist
    return best + penalty


def nearest_and_the_last_distance(x, centers):
    best = math.inf
    for c in range(centers.shape[0]):
        dist = (x - centers[c]) ** 2
        if dist < best:  # noqa: PLR1730 - the branch a user writes
            best = dist
    return best * dist  # the last center's distance counts too


def test_a_nearest_center_reverses_only_the_winning_center():
    """The distance loop after the branch's adjoint passes on zeros in every iteration but the last
    one taking the branch: only that center is reversed, its index kept once per point."""
    rng = np.random.default_rng(5)
    points, centers = rng.normal(size=(6, 3)), rng.normal(size=(4, 3))
    _check(nearest_distance_decayed, (points, centers), (0, 1))
    source = srcad.source(nearest_distance_decayed, "adjoint", args=(points, centers))
    assert "c_last_taken" in source and "8 bytes (1 int): the loop of line" in source


@pytest.mark.parametrize("function", [nearest_with_a_penalty_on_every_distance, nearest_and_the_last_distance],
                         ids=lambda f: f.__name__)
def test_a_branch_followed_by_adjoints_that_do_not_start_from_it_reverses_every_iteration(function):
    centers = np.array([0.3, -1.2, 2.5, 0.7, -0.4])
    for x in (0.45, -0.9, 3.0):
        gradient = srcad.grad(function, wrt=(0, 1))(x, centers.copy())
        np.testing.assert_allclose(gradient[0], plain_central_differences(function, (x, centers), 0), rtol=1e-6)
        np.testing.assert_allclose(gradient[1], plain_central_differences(function, (x, centers), 1), rtol=1e-6, atol=1e-7)
    assert "last_taken" not in srcad.source(function, "adjoint", args=(0.45, centers))


def wave_steps(u0, c, steps):
    u_prev = u0.copy()
    u = u0.copy()
    for _ in range(steps):
        u_next = np.zeros(u0.shape[0])
        u_next[1:-1] = 2.0 * u[1:-1] - u_prev[1:-1] + c[1:-1] * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u_prev = u
        u = u_next
    return np.sum(u * u)


def test_a_first_write_into_new_memory_saves_nothing():
    """``u_next[1:-1] = ...`` right after ``u_next = np.zeros(n)`` overwrites zeros nobody reads."""
    rng = np.random.default_rng(6)
    args = (rng.normal(size=9), rng.uniform(0.1, 0.3, size=9), 5)
    _check(wave_steps, args, (0, 1))
    assert "u_next_values" not in srcad.source(wave_steps, "adjoint", args=args, wrt=(0, 1))


def scaled_ones(w, n):
    total = 0.0
    for _ in range(n):
        b = np.ones(w.shape[0])
        b *= w  # its adjoint reads b's old values (the ones)
        e = 1.5 ** b
        e[0] = 1.0  # the power's adjoint reads e (1.5 ** b * log(1.5)) as it was before this write
        total += np.sum(e * b)
    return total


def test_first_writes_whose_old_values_an_adjoint_reads_save_them():
    _check(scaled_ones, (np.random.default_rng(7).normal(size=4), 3), (0,))


def index_bound_before_its_loop(x, k):
    m = 0  # a loop's index, given a value first: still one value per iteration (was taken as invariant)
    s = 0.0
    if x > -100.0:  # (not at the top level: the loop is reversed after it ends, not term by term)
        for m in range(1, 4):
            r = x * m
            a = 1.0 / m
            c = a * k
            s += c * math.sin(r)
    return s * s + m


def test_a_loop_index_assigned_before_its_loop_is_not_invariant():
    """Found by nested derivatives (the generated gradient binds ``m = 0`` before its loop): the values
    computed from the index were read stale by the reverse sweep, neither kept nor computed again."""
    _check(index_bound_before_its_loop, (0.7, 2.0), (0, 1))
    x, k = 0.7, 2.0
    s = sum(k / m * math.sin(x * m) for m in range(1, 4))
    expected = (2 * s * sum(k * math.cos(x * m) for m in range(1, 4)), 2 * s * sum(math.sin(x * m) / m for m in range(1, 4)))
    np.testing.assert_allclose(srcad.grad(index_bound_before_its_loop, wrt=(0, 1))(x, k), expected, rtol=1e-12)


def spring_forces(x, a, b, k):
    """Forces added spring by spring into an (n, 2) array: each spring's ends are read once per spring
    and used by the element loops of its rows."""
    f = np.zeros_like(x)
    for s in range(a.shape[0]):
        d = x[a[s]] - x[b[s]]
        f[a[s]] -= k[s] * d
        f[b[s]] += k[s] * d
    return np.sum(f * f * x)


def test_an_index_read_by_a_nested_loop_is_read_again_not_kept():
    """``a_s = a[s]``, read where the loop over a row writes ``f[a_s, i]``, is read again in the reverse
    sweep (a is never written) instead of kept per spring."""
    rng = np.random.default_rng(7)
    args = (rng.normal(size=(5, 2)), np.array([0, 1, 2, 3, 0]), np.array([1, 2, 3, 4, 4]), rng.uniform(1.0, 2.0, 5))
    _check(spring_forces, args, (0, 3))
    source = srcad.source(spring_forces, "adjoint", args=args, wrt=(0, 3))
    assert "= a_s;" not in source and "= b_s;" not in source and "a_s = a[s]" in source.split("# reverse sweep")[1]


def per_point_log_sums(x, means):
    total = 0.0
    for i in range(x.shape[0]):
        scores = np.empty(means.shape[0])
        for j in range(means.shape[0]):
            scores[j] = -0.5 * (x[i] - means[j]) ** 2  # the first write into each element of new memory
        top = np.max(scores)
        total += top + np.log(np.sum(np.exp(scores - top)))
    return total


def written_twice(x, means):
    total = 0.0
    for i in range(x.shape[0]):
        scores = np.empty(means.shape[0])
        for j in range(means.shape[0]):
            scores[j] = x[i] * means[j]
            scores[j] = np.sin(scores[j])  # overwrites a value its adjoint reads
        total += np.sum(scores * scores)
    return total


def test_a_first_write_into_each_element_of_new_memory_keeps_nothing():
    rng = np.random.default_rng(5)
    args = (rng.normal(size=6), rng.normal(size=4))
    _check(per_point_log_sums, args, (0, 1))
    assert "= scores[j]" not in srcad.source(per_point_log_sums, "adjoint", args=args, wrt=(0, 1)).split("# reverse sweep")[0]
    _check(written_twice, args, (0, 1))
    assert "= scores[j]" in srcad.source(written_twice, "adjoint", args=args, wrt=(0, 1)).split("# reverse sweep")[0]
