"""Minimal array programs srcad got wrong (found by the array fuzzer or by hand), each checked
against Richardson central differences of the plain function, with the caller's arrays after
the call compared to the plain function's side effects. Each failed before its fix."""

import numpy as np
import pytest

import srcad

from .test_random_array_programs import copies, element_gradient, run_plain


# A wrong gradient: a row read `y[j - 1]` of a matrix in a loop. The index j - 1 is computed
# again in the reverse sweep for element reads; for the row (a view) it was not, so every
# iteration's adjoint went to the last row read.
def row_read_in_loop(y):
    for j in range(1, 3):
        y[j] += y[j - 1]
    return np.sum(y * y)


# A wrong gradient: `np.sum(y.T)` computed again in the reverse sweep from the view `y.T`,
# although `y -= ...` had changed y's values since (and nothing restores them).
def view_read_then_changed_in_place(x, y):
    for i in range(2):
        x[0, 0] = np.sin(np.sum(y.T))
        y -= x[0, 0]
    return np.sum(x * x)


def slice_read_then_changed_in_place(x, y):
    for i in range(2):
        x[0] = np.sin(np.sum(y[1:]))
        y -= x[0]
    return np.sum(x * x)


# A crash: the only write that saves values sits in a branch numba drops as never taken, so
# the list of saved values had no item type ("ListType[undefined]").
def save_in_branch_never_taken(x, s):
    if 0.5 > 0.9:
        x *= s
    return np.sum(x * x)


# A crash: `z[...] = e` (numba stores into `a[...]` but cannot read it).
def whole_array_write(x, y):
    z = np.zeros_like(x)
    z[...] = np.sin(x)
    x[...] = x * y
    return np.sum(z * y) + np.sum(x)


# Refused: a view of an array bound twice (`x = x.copy()`, then `v = x[1:]` written).
def copy_then_write_through_view(x, s):
    x = x.copy()
    v = x[1:]
    v += s * x[:2]
    x[0] = x[0] * s
    return np.sum(x * x)


def rebound_then_aliased_write(x, y, s):
    x = x + s
    b = x
    b[0] += s
    return np.sum(x * y)


# Refused: names bound in a loop to a row, or to the whole array, written through (found by the fuzzer
# as `b1 = y` in a loop). Their adjoint is the same view of the array's adjoint, saved per binding.
def row_views_written_in_a_loop(x, y, s):
    for i in range(2):
        row = y[i]
        row += s * x[i]
        row *= np.sin(row)
    return np.sum(y * y)


def aliases_and_slices_bound_in_loops(x, y, s, n):
    z = y * 1.0
    for t in range(3):
        p = z[t % 2]
        q = x[1:]
        p += q[:2] * s
        q *= np.cos(p[0])
        for _ in range(n):
            b = z
            b[:, -1] += 0.1 * np.sin(z[:, 0] + b[:, -1])
    return np.sum(z * z) + np.sum(x**3)


# Refused: a.fill(v), a statement "with only side effects"; it is a[...] = v.
def fill(x, y, s):
    v = np.empty_like(x)
    v.fill(x[0] * s)
    y.fill(s * s)
    return np.sum(np.sin(v) * x) + np.sum(y * x)


# A wrong value and gradient (found by the array fuzzer): `y[1:3] += y[:-1]` reads a view of the
# array it writes. NumPy reads the view first; numba, element by element as it writes.
def overlapping_view_updates(x, y):
    y = y + 0.2
    y[1:3] += y[:-1]
    x[1:] = x[:-1]
    y += y[::-1]
    y[1:] -= 0.5 * y[:-1]
    x += x.T
    return np.sum(y * x) + x[0] * y[2]


# A crash inside numba (found by the array fuzzer): lowering `x_0_1 - x_0` (an element and a row
# rebound in a loop) as one array expression, numba renamed both to `x_0_1_1` and asserted. srcad
# makes numba's renaming unique (kernels/cpu.py).
def element_minus_row_in_a_loop(x, y, n):
    for _ in range(n):
        x[0] = np.cos(x[0, 1] - x[0])
    return np.sum(x * y)


# A wrong gradient and side effect (found by the array fuzzer): `v = x.ravel()` of a contiguous x is a
# view in NumPy and numba; srcad took it for a copy, so writes through v were lost to x's gradient.
# Whether ravel copies shows only at run time: writes through it are refused (test below).
def writes_through_ravel(x, y, s):
    v = x.ravel()
    for _ in range(2):
        v += 0.1 * np.tanh(v * s)
    return np.sum(np.sin(x)) + np.sum(y * v[:3])


# A wrong gradient (hunt, 2026-12): `w1 = np.tanh(x)` computed again in the reverse sweep for the
# adjoint of `w1 * w1`, although `w1[0] = s` had changed w1 in place in between: the adjoint
# saw tanh(x) in row 0 instead of s (d/ds 3.90 instead of 2.44).
def recomputed_array_written_in_place_before_its_reader(x, s):
    x += s
    w1 = np.tanh(x)
    w1[0] = s
    return np.sum(w1 * w1) + np.sum(x * x)


# A wrong value (fuzzer, 2026-12): `y += y[0]` with y a matrix adds row 0 to every row. NumPy reads
# the row before writing; numba's loop read it as it changed it (row 0 doubled first, then added).
# `y[0]` is a row here, not a number: it is now copied first (copied only if it is an array).
def row_added_to_its_own_matrix(x, y):
    y += 0.25 * np.tanh(x[:, None] + y)
    y += y[0]
    y /= 2.0 + np.cos(x[:, None])
    return np.mean(y**3) + np.sum(x)


# A crash (fuzzer, 2026-12): a reverse loop whose body updates a region (`x[:, 0] -= ...` in a loop)
# made the check for loops that may count up read a slice as an index. Regions now keep the loop
# counting down.
def region_updated_in_a_loop(x, y, s, n):
    x = np.tanh(x) + 0.1 * np.sin(s)
    for _ in range(2):
        acc1 = -(1.0 + s * s) * y - 0.2 * x
        x = x + 0.1 * acc1
        y = y + 0.1 * x
        for _ in range(2):
            x[:, 0] -= 0.1 * np.arctan(0.3 * (n + 1))
    return np.sum(np.sin(y)) + 0.7 * np.sum(x)


# A wrong value, side effect and gradient (fuzzer, 2026-12): an in-place update through another name
# of the array it reads. NumPy reads the row y[0] before writing; numba read it as it wrote it.
def update_through_an_alias_reading_its_row(y, s):
    b2 = y
    b2 += y[0]
    return np.sum(np.sin(y) * s)


# A wrong gradient (array tests, 2026-12-06; wrong before that session too): `b2.ravel()` of a
# view of y, taken in each iteration, counted as invariant (a method's object was not read), so
# the reverse sweep read the last iteration's ravel for every iteration's sine.
def ravel_of_a_view_taken_in_a_loop(x, y):
    b2 = y[1:, :]
    t = 0.0
    for k in range(3):
        t += np.sum(np.sin(b2.ravel()))
        y[1, 1] -= 0.5 * x[0] * k
    return t


# The same, as the array tests drew it.
def ravel_of_a_view_and_a_scatter(x, y, s, n):
    i1 = np.array([-1, n % 2, -1, 0], dtype=np.int64)
    B1 = 0.5 * x
    B1[i1] += 1.5
    b2 = y[1:, :]
    b2[:, 1:] += 0.1 * 0.25 * np.tanh((b2[:, -1] - (b2[:, -1] - y[1, 0])))
    x[:, -1] = 0.9 * np.tanh(x[0, 1])
    x = 0.5 * x + 0.5 * np.tanh((y * (B1[:, -1] - B1[1, :])))
    for k in range(len(i1)):
        B1[i1[k]] += 0.1 * np.sin((b2.ravel() * (-1.0) ** (n + 1)))
        x *= 0.75 + 0.25 * np.tanh((0.25 + x[:, 0]))
        for i in range(2):
            y[i, 1] -= 0.5 * np.tanh(x[i, 0])
        B1[i1] *= 0.75 + 0.25 * np.tanh(((y[0] + s) * n / 4))
    return 1.0 * np.max(B1) + 0.7 * np.sum(y) + -0.6 * np.sum(x * B1) + 1.3 * np.sin(s)


# A false broadcasting error: a fused loop writing w[:-1] (one element) went on to x = w[:-1] + x
# (four), a result read after the loop with more elements than the region the loop ran over.
def result_longer_than_the_region_written(w, x):
    w[:-1] -= 0.1 * np.cos(w[1:] + w[:-1])
    x = 0.5 * x + 0.5 * np.tanh(w[:-1] + x)
    return np.sum(np.sin(x)) + np.sum(w * w)


# A refusal of a valid program: an array assembled from a list inside an if's or a while's test
# ("srcad cannot differentiate list or tuple values here"); now computed before the check.
def arrays_assembled_in_tests(x, s):
    if np.mean(np.array([[s, x.sum()], [0.75, 0.3]])) > 0.3:
        s = s * x[1]
    while np.sum(np.array([s, 1.0])) < 3.0:
        s = s * 1.5 + 0.1 * x[0]
    return s * x[0]


CASES = [
    (ravel_of_a_view_taken_in_a_loop, (np.array([0.48, -0.64]), np.array([[0.69, -0.88], [-0.96, -0.2]]))),
    (ravel_of_a_view_and_a_scatter, (np.array([[0.48, -0.64], [1.14, 0.76]]), np.array([[0.69, -0.88], [-0.96, -0.2]]),
                                     -0.64, 0)),
    (update_through_an_alias_reading_its_row, (np.array([[0.4, -1.1, 0.2], [0.9, 0.3, -0.7]]), 1.3)),
    (region_updated_in_a_loop, (np.array([[-0.61, 0.55, 1.08], [0.72, 1.13, -0.87]]),
                                np.array([[1.47, -0.47, 1.37], [-1.38, 0.73, -0.42]]), 1.32, 1)),
    (row_read_in_loop, (np.array([[1.49], [1.08], [-0.75]]),)),
    (row_added_to_its_own_matrix, (np.array([0.53, 0.39, -0.56]), np.array([[-1.09], [-0.46], [-0.81]]))),
    (recomputed_array_written_in_place_before_its_reader, (np.array([[0.96], [0.07], [0.0]]), 0.02)),
    (view_read_then_changed_in_place, (np.array([[0.45], [0.0], [0.59]]), np.array([[0.81], [0.19], [0.0]]))),
    (slice_read_then_changed_in_place, (np.array([0.45, 0.1, 0.59]), np.array([0.81, 0.19, -0.3]))),
    (save_in_branch_never_taken, (np.array([1.1, 0.71, 0.48]), 0.99)),
    (whole_array_write, (np.array([0.3, 0.5, 1.1]), np.array([0.2, -0.4, 0.9]))),
    (copy_then_write_through_view, (np.array([0.3, 0.5, 1.1]), 0.7)),
    (rebound_then_aliased_write, (np.array([0.3, 0.5, 1.1]), np.array([0.2, -0.4, 0.9]), 0.5)),
    (row_views_written_in_a_loop, (np.array([0.3, 0.5, 1.1]), np.array([[0.2, -0.4], [0.9, 0.3], [0.5, 0.6]]), 0.5)),
    (aliases_and_slices_bound_in_loops, (np.array([0.3, 0.5, 1.1]), np.array([[0.2, -0.4], [0.9, 0.3], [0.5, 0.6]]), 0.5, 2)),
    (fill, (np.array([0.3, 0.5, 1.1]), np.array([0.2, -0.4, 0.9]), 0.5)),
    (overlapping_view_updates, (np.array([-0.58, -0.86, 0.8]), np.array([0.16, -0.58, -0.86]))),
    (arrays_assembled_in_tests, (np.array([1.0, 2.0, -0.5]), 0.5)),
    (result_longer_than_the_region_written, (np.array([0.7, -0.3]), np.array([1.14, -0.86, -1.22, -0.21]))),
    (element_minus_row_in_a_loop, (np.array([[1.38, -1.09, 0.13], [-0.82, -1.49, -1.46]]),
                                   np.array([[1.04, 0.43, 0.01], [1.33, -1.15, 1.25]]), 2)),
]


@pytest.mark.parametrize("f, args", CASES, ids=[case[0].__name__ for case in CASES])
def test_array_regression(f, args):
    value, plain_after = run_plain(f, args)
    wrt = tuple(k for k, a in enumerate(args) if not isinstance(a, int))
    mine = copies(args)
    got_value, got = srcad.value_and_grad(f, wrt=wrt)(*mine)
    assert got_value == pytest.approx(value, rel=1e-12, abs=1e-12)
    for position, gradient in zip(wrt, got):
        reference, error = element_gradient(f, args, position)
        np.testing.assert_allclose(gradient, reference, rtol=1e-6, atol=1e-7 + 10 * np.max(error))
    for before_srcad, plain in zip(mine, plain_after):
        np.testing.assert_allclose(before_srcad, plain, rtol=1e-12)


def writes_through_ravel_of_a_strided_view(x):
    v = x[:, ::2].ravel()
    v += 1.0
    return np.sum(v * x[:, ::2].ravel())


@pytest.mark.parametrize("function, args", [
    (writes_through_ravel_of_a_strided_view, (np.ones((2, 4)),)),
    (writes_through_ravel, (np.array([[-0.22, -0.49, -0.91], [-0.12, 0.62, -1.03]]), np.array([1.07, 0.41, -0.07]), -0.25)),
])
def test_writes_through_a_ravel_are_refused_with_what_to_write(function, args):
    with pytest.raises(srcad.DifferentiabilityError, match=r"flatten\(\) for a copy"):
        srcad.grad(function, wrt=0)(*args)


I2 = np.array([-1, 1])


# A crash (array hunt, 2026-12-04): numba compares IR statements holding the module-level array I2
# with ==, which raises for arrays ("truth value of an array ... is ambiguous"), while compiling
# the adjoint. Not fixed yet: numba's traceback reaches the user.
def global_index_array_in_a_loop(x, y, s, n):
    i1 = np.array([-2, 0, 3, 2])
    B1 = 0.5 * x
    for k in range(len(i1)):
        B1[i1[k]] += 0.25 * np.cos(y[I2[0]])
    for j in range(1, 4):
        x[j] = x[j] + 0.1 * np.tanh(x[j - 1] * 0.9)
        B2 = np.ones((4,))
        B1[I2] *= 0.75 + 0.25 * np.tanh((B1[1:3] - (n / 4 * x[I2])))
        B2[1:] /= 2.0 + np.cos(y)
    return 1.0 * np.sum(B1) + 0.7 * np.sum(x * x) + -0.6 * s * s


def test_a_global_index_array_in_a_loop():
    test_array_regression(global_index_array_in_a_loop,
                          (np.array([0.76, -0.75, 1.5, -0.15]), np.array([1.06, -0.78, 1.42]), -0.88, 0))
