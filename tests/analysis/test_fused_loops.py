"""Whole-array statements as element loops (``transforms/analysis/fused_loops.py``): the fused
normal form still computes what NumPy computes on the user's code, run through numba and as plain
Python, on programs written in several styles; bad shapes give NumPy's error."""

import re

import numba
import numpy as np
import pytest

from srcad.pipeline import Normalized, _function_from
from srcad.transforms.analysis.fused_loops import fused_elementwise
from srcad.transforms.analysis.infer_types import infer_types
from srcad.transforms.ir import FUSED_LOOP_NOTE
from srcad.transforms.output import emit


def _fused_source(function, args):
    normalized = Normalized(function)
    argument_types = tuple(numba.typeof(a) for a in args)
    types, _ = infer_types(normalized.python_function(), argument_types)
    definition = fused_elementwise(normalized.definition, types, normalized.names, normalized.parsed.filename)
    if definition is None:
        return None, normalized
    return emit.module_source(definition, stage="fused", origin="test", constants=normalized.constants), normalized


def _fused_values(function, args):
    """(NumPy's value of the user's code, the fused normal form's under numba, as plain Python)."""
    source, normalized = _fused_source(function, args)
    assert source is not None and FUSED_LOOP_NOTE in source, f"{function.__name__} was not fused"
    fused = _function_from(source, normalized.parsed.name)
    copies = lambda: [a.copy() if isinstance(a, np.ndarray) else a for a in args]  # noqa: E731
    return function(*copies()), numba.njit(fused)(*copies()), fused(*copies())


def _assert_same_as_numpy(function, *args):
    expected, compiled, plain = _fused_values(function, args)
    np.testing.assert_allclose(compiled, expected, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(plain, expected, rtol=1e-13, atol=1e-14)


def wave(u0, c, steps):
    n = u0.shape[0]
    u_prev = u0.copy()
    u = u0.copy()
    r2 = (c * 0.1) ** 2
    for _ in range(steps):
        u_next = np.zeros(n)
        u_next[1:-1] = 2.0 * u[1:-1] - u_prev[1:-1] + r2[1:-1] * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u_prev = u
        u = u_next
    return np.sum(u * u)


def test_a_stencil_on_slices():
    rng = np.random.default_rng(0)
    _assert_same_as_numpy(wave, rng.normal(size=12), rng.uniform(0.5, 1.0, 12), 7)


def damped(u, c, steps):
    for _ in range(steps):
        u = u - 0.1 * c * u + 0.01 * c
    return np.sum(u * u)


def test_an_argument_of_one_element_broadcasts():
    rng = np.random.default_rng(1)
    _assert_same_as_numpy(damped, rng.normal(size=9), np.array([0.7]), 5)
    _assert_same_as_numpy(damped, np.array([0.3]), rng.normal(size=9), 5)
    _assert_same_as_numpy(damped, rng.normal(size=9), rng.normal(size=9), 5)


def meets_late(x, y):
    a = x * 2.0
    b = np.sin(a)
    c = b * y  # the operands that do not conform: NumPy's error names this line
    return np.sum(c)


def test_operands_that_do_not_broadcast_raise_numpys_error():
    with pytest.raises(ValueError):
        wave(np.ones(9), np.ones(5), 2)  # NumPy's own error on the user's code
    source, normalized = _fused_source(wave, (np.ones(9), np.ones(5), 2))
    fused = _function_from(source, normalized.parsed.name)
    with pytest.raises(ValueError, match="could not be broadcast"):
        numba.njit(fused)(np.ones(9), np.ones(5), 2)
    # one loop computes the three statements; the error names the third, where x and y meet
    source, normalized = _fused_source(meets_late, (np.ones(9), np.ones(5)))
    with pytest.raises(ValueError, match=r"extents \((9 and 5|5 and 9)\) differ") as caught:
        numba.njit(_function_from(source, normalized.parsed.name))(np.ones(9), np.ones(5))
    assert f"test_fused_loops.py:{meets_late.__code__.co_firstlineno + 3}:" in str(caught.value)


def shifted(x, k):
    y = np.zeros(x.shape[0])
    y[k:] = x[:-k] * 2.0 + x[-3] - np.sin(x[k:])
    z = y[-4:] * 3.0
    return np.sum(z) + np.sum(y ** 2)


@pytest.mark.parametrize("k", [1, 3, 8])
def test_bounds_held_in_variables_and_negative_starts(k):
    _assert_same_as_numpy(shifted, np.linspace(-1.0, 2.0, 10), k)


def springs(x0, v0, a, b, rest, k, steps, dt):
    x = x0.copy()
    v = v0.copy()
    for _ in range(steps):
        d = x[a] - x[b]
        length = np.sqrt(np.sum(d * d, axis=1))
        fs = (k * (length - rest) / length)[:, None] * d
        f = np.zeros_like(x)
        for s in range(a.shape[0]):
            f[a[s]] -= fs[s]
            f[b[s]] += fs[s]
        f[:, 1] -= 9.8
        v = 0.99 * v + dt * f
        x = x + dt * v
    return np.sum(x[:, 0] ** 2) + np.sum(x[:, 1])


def test_rows_of_an_n_by_2_array_and_a_broadcast_axis():
    rng = np.random.default_rng(2)
    x0 = np.stack([1.1 * np.arange(5.0), 0.1 * rng.normal(size=5)], axis=1)
    _assert_same_as_numpy(springs, x0, np.zeros((5, 2)), np.arange(4), np.arange(1, 5), 1.0, rng.uniform(5, 10, 4), 20, 0.01)


def test_velocities_of_one_row_grow_to_the_positions_rows():
    x0 = np.stack([1.1 * np.arange(4.0), np.zeros(4)], axis=1)
    _assert_same_as_numpy(springs, x0, np.ones((1, 2)), np.arange(3), np.arange(1, 4), 1.0, np.full(3, 7.0), 6, 0.01)


def heat(u, alpha, steps):
    for _ in range(steps):
        lap = np.zeros_like(u)
        lap[1:-1, 1:-1] = u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4.0 * u[1:-1, 1:-1]
        u = u + alpha * lap
    return np.sum(u * u)


def test_a_two_dimensional_stencil():
    _assert_same_as_numpy(heat, np.random.default_rng(3).normal(size=(6, 7)), 0.1, 4)


def reads_what_it_writes(a, b):
    a[1:] = a[:-1] + 1.0  # NumPy reads all of a[:-1] first
    view = b[1:]
    b[:-1] = view * 2.0
    a += a * 0.5
    return np.sum(a * a) + np.sum(b ** 3)


def test_overlapping_reads_and_writes_keep_numpys_order():
    _assert_same_as_numpy(reads_what_it_writes, np.linspace(0.0, 1.0, 6), np.linspace(-1.0, 1.0, 6))


def unrelated(x, n):
    b = np.ones(n) * 0.5
    c = x * x
    return np.sum(b) + np.sum(c)


def test_consecutive_statements_of_unrelated_shapes():
    _assert_same_as_numpy(unrelated, np.arange(4.0), 7)


def one_element_result(c, x):
    t = c * 2.0
    z = t + x
    return np.sum(t) + np.sum(z) + t.shape[0]


def test_a_result_of_one_element_keeps_its_shape():
    _assert_same_as_numpy(one_element_result, np.array([0.5]), np.arange(5.0))
    _assert_same_as_numpy(one_element_result, np.arange(5.0) + 1.0, np.arange(5.0))


def moved_then_written(x, y):
    for _ in range(3):
        x = x + 0.05 * np.cos(x) * y
    x[1:3] += x[::2] * 2.0
    return np.sum(x ** 2)


def test_a_result_moved_to_its_name_then_written():
    _assert_same_as_numpy(moved_then_written, np.linspace(-1.0, 1.0, 4), np.linspace(0.5, 1.5, 4))


def scalars_only(x):
    y = x * 2.0
    return np.sum(y)


def matrix_product_ends_a_run(A, x):
    y = np.tanh(A @ x) * 2.0 - x
    return np.sum(y * y)


def test_a_matrix_product_stays_a_call():
    rng = np.random.default_rng(4)
    _assert_same_as_numpy(matrix_product_ends_a_run, rng.normal(size=(4, 4)), rng.normal(size=4))
    source, _ = _fused_source(matrix_product_ends_a_run, (np.ones((4, 4)), np.ones(4)))
    assert "@" in source


def mixture(alphas, means, icf, x):
    total = 0.0
    for i in range(x.shape[0]):
        lse = np.empty(alphas.shape[0])
        for j in range(alphas.shape[0]):
            diff = x[i] - means[j]
            scaled = np.exp(icf[j]) * diff
            lse[j] = alphas[j] + np.sum(icf[j]) - 0.5 * np.sum(scaled * scaled)
        m = np.max(lse)
        total += m + np.log(np.sum(np.exp(lse - m)))
    return total


def test_sums_and_the_scalars_computed_from_them():
    rng = np.random.default_rng(5)
    args = (rng.normal(size=3), rng.normal(size=(3, 4)), 0.1 * rng.normal(size=(3, 4)), rng.normal(size=(5, 4)))
    _assert_same_as_numpy(mixture, *args)
    source, _ = _fused_source(mixture, args)
    assert "np.sum(scaled_times_scaled)" not in source and "sum_scaled_times_scaled +=" in source


def test_a_sum_of_a_row_that_may_broadcast_counts_each_element_once():
    rng = np.random.default_rng(6)
    # icf's rows have one element: np.sum(icf[j]) adds one number, whatever the loop's extent
    _assert_same_as_numpy(mixture, rng.normal(size=3), rng.normal(size=(3, 4)), 0.1 * rng.normal(size=(3, 1)),
                          rng.normal(size=(5, 4)))


def sum_read_in_the_same_line(x):
    s = np.sum(x * x)
    y = x / s + 1.0
    return np.sum(y * y) + s


def test_a_sum_read_by_the_next_statement():
    _assert_same_as_numpy(sum_read_in_the_same_line, np.linspace(0.5, 2.0, 7))


def a_view_for_the_next_line(x, y):
    x[:, 1:] += 0.1 * np.tanh(x[:, 1:])
    y[1:, :] *= 0.75 + 0.25 * np.tanh(y[1, :])  # y[1, :] joins the loop above, and is read after it
    return np.sum(x * x) + np.sum(y * y)


def test_a_view_no_operation_of_the_loop_reads_sets_none_of_its_extents():
    """Found by the random array programs: y[1, :] (3 elements) checked against x[:, 1:] (1)."""
    _assert_same_as_numpy(a_view_for_the_next_line, np.array([[1.3, 1.46], [-0.99, 1.03]]),
                          np.array([[0.31, 0.15, 1.1], [0.85, -0.7, -0.67]]))


# -- np.roll read in place: element j of the rolled axis is the array's (j - shift) % n ---------------
def reaction_diffusion(a, b, f, steps):
    for _ in range(steps):
        la = np.roll(a, 1, axis=0) + np.roll(a, -1, axis=0) + np.roll(a, 1, axis=1) + np.roll(a, -1, axis=1) - 4 * a
        abb = a * b * b
        a = a + 0.2 * (0.16 * la - abb + f * (1 - a))
        b = b + 0.2 * (abb - 0.1 * b)
    return np.sum(b ** 2)


def upwind(u, speed, shift, steps):
    for step in range(steps):
        flux = speed * u
        u = u - 0.4 * (flux - np.roll(flux, shift + step % 3))  # a shift that changes from step to step
    return np.sum(u * u)


def rolls_a_row_vector(w, x):
    return np.sum(w * np.roll(x, 7, axis=1))  # (1, n): a roll by more than the axis has, broadcast rows


def test_rolled_operands_are_read_in_place():
    rng = np.random.default_rng(7)
    args = (rng.uniform(size=(5, 6)), rng.uniform(size=(5, 6)), 0.04, 3)
    _assert_same_as_numpy(reaction_diffusion, *args)
    source, _ = _fused_source(reaction_diffusion, args)
    assert "roll_along" not in source and source.count("roll_offset(") == 4


@pytest.mark.parametrize("shift", [1, -2, 11])
def test_rolled_vectors_with_shifts_of_every_sign_and_size(shift):
    rng = np.random.default_rng(8)
    _assert_same_as_numpy(upwind, rng.normal(size=9), 1.0 + rng.uniform(size=9), shift, 5)


def test_a_rolled_row_broadcast_over_the_rows():
    rng = np.random.default_rng(9)
    _assert_same_as_numpy(rolls_a_row_vector, rng.normal(size=(4, 5)), rng.normal(size=(1, 5)))


# -- sums along an axis of a value the loop computes: added up in the loop ------------------------------
def pairwise(x, m, steps, dt):
    v = np.zeros_like(x)
    for _ in range(steps):
        d = x[None, :, :] - x[:, None, :]
        r2 = np.sum(d * d, axis=2) + 0.01
        inv = m[None, :] / (r2 * np.sqrt(r2))
        v = v + dt * np.sum(inv[:, :, None] * d, axis=-2)
        x = x + dt * v
    return np.sum(x * x)


def short_along_the_sum(x, c):
    u = x * 2.0
    t = c * 3.0  # (n, 1) while the loop runs over x's (n, m)
    s = np.sum(t, axis=1)
    return np.sum(u) + np.sum(s * s)


def mixture_terms(alphas, means, icf, x):
    """A Gaussian mixture's inner loop: ``np.sum(icf[j])`` sums rows that may have one element where
    ``scaled`` has d."""
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(alphas.shape[0]):
            scaled = np.exp(icf[j]) * (x[i] - means[j])
            total += alphas[j] + np.sum(icf[j]) - 0.5 * np.sum(scaled * scaled)
    return total


def column_sums(x, w):
    return np.sum(np.sum(w * x * x, axis=0) ** 2)


def test_sums_along_an_axis_are_added_up_in_the_loop():
    rng = np.random.default_rng(14)
    args = (rng.normal(size=(5, 3)), rng.uniform(0.5, 1.0, 5), 3, 0.01)
    _assert_same_as_numpy(pairwise, *args)
    source, _ = _fused_source(pairwise, args)
    code = [line for line in source.split("def pairwise")[1].splitlines() if not line.strip().startswith("#")]
    assert not any("np.sum(" in line for line in code) and sum("np.zeros((" in line for line in code) == 2


def test_a_sum_along_an_axis_counts_each_element_once():
    rng = np.random.default_rng(15)
    _assert_same_as_numpy(short_along_the_sum, rng.normal(size=(4, 5)), rng.normal(size=(4, 1)))
    _assert_same_as_numpy(column_sums, rng.normal(size=(4, 5)), rng.normal(size=(4, 1)))
    _assert_same_as_numpy(column_sums, rng.normal(size=(4, 5)), rng.normal(size=(1, 5)))


# -- a line whose write cannot join the run before it takes its whole line to the next -----------------
def predator_prey(s, params):
    n = s.shape[0] // 2
    prey = s[:n]
    pred = s[n:]
    out = np.empty_like(s)
    out[:n] = prey * (params[0] - params[1] * pred)
    out[n:] = pred * (params[2] * prey - params[3])  # a second write into out: a loop of its own
    return out


def predator_prey_steps(s, params, steps, h):
    for _ in range(steps):
        k1 = predator_prey(s, params)
        k2 = predator_prey(s + 0.5 * h * k1, params)
        s = s + h * k2
    return np.sum(s * s)


def test_a_line_that_cannot_join_the_run_before_it_starts_the_next():
    args = (1.0 + np.arange(6.0) / 10, np.array([1.1, 0.4, 0.1, 0.4]))
    _assert_same_as_numpy(predator_prey, *args)
    source, _ = _fused_source(predator_prey, args)
    code = source.split("def predator_prey")[1]
    assert code.count(FUSED_LOOP_NOTE) == 2 and "np.empty(" not in code


@pytest.mark.parametrize("icf_columns", [4, 1])
def test_a_sum_of_a_row_that_may_broadcast_is_computed_apart(icf_columns):
    """The sum of ``icf[j]`` alone (its rows may have one element) is computed before the loop of
    ``scaled``, which then needs no array."""
    rng = np.random.default_rng(16)
    args = (rng.normal(size=3), rng.normal(size=(3, 4)), 0.1 * rng.normal(size=(3, icf_columns)), rng.normal(size=(5, 4)))
    _assert_same_as_numpy(mixture_terms, *args)
    source, _ = _fused_source(mixture_terms, args)
    code = source.split("def mixture_terms")[1]
    assert code.count(FUSED_LOOP_NOTE) == 1 and "np.empty(" not in code


def laplacian_then_step(u0, c, steps):
    u = u0.copy()
    u_prev = u0.copy()
    for t in range(steps):
        lap = np.zeros_like(u)
        lap[1:-1] = u[2:] - 2.0 * u[1:-1] + u[:-2]
        u_next = 2.0 * u - u_prev + c * lap  # reads lap, which the loop before it wrote
        u_prev = u
        u = u_next
    return np.sum(u * u)


def test_a_statement_the_run_refuses_starts_the_next_run_with_the_values_it_needs():
    """``c * lap`` cannot join the run writing ``lap[1:-1]``; ``2.0 * u - u_prev``, shorter than that
    run's loop where NumPy gives all of ``u``, goes to the next run with it: two loops, and no array
    made for a value between them."""
    args = (np.sin(np.linspace(0.0, 3.0, 16)), 0.1, 5)
    source, _ = _fused_source(laplacian_then_step, args)
    assert source.count(FUSED_LOOP_NOTE) == 3  # the stencil, the step, the sum
    assert "u_times_2 = np.empty" not in source and "u_times_2_minus_u_prev = np.empty" not in source
    _assert_same_as_numpy(laplacian_then_step, *args)


def softmax_rows(x, w):
    logits = x * w
    mx = np.max(logits, axis=1, keepdims=True)  # an axis of one element, known: read at 0 in the loop
    z = np.exp(logits - mx)
    column = np.zeros((x.shape[0], 1))
    column[:] = np.sum(z, axis=1, keepdims=True) * 2.0  # a region of one element along an axis
    return np.sum(z / column * w) + np.sum(column)


@pytest.mark.parametrize("columns", [4, 1])
def test_axes_of_one_element_known_from_keepdims(columns):
    rng = np.random.default_rng(3)
    _assert_same_as_numpy(softmax_rows, rng.normal(size=(5, columns)), rng.normal(size=columns))
    source, _ = _fused_source(softmax_rows, (rng.normal(size=(5, columns)), rng.normal(size=columns)))
    assert re.search(r"= mx\[i\w*, 0\]", source)
