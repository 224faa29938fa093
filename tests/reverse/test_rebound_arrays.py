"""Arrays bound again in each iteration: the reverse sweep keeps a binding only where an adjoint
reads its values and cannot compute them again. A temporary of one shape (``analysis/shapes.py``)
that no adjoint reads is not kept (its adjoint takes the current binding's shape); one that an
adjoint reads is computed again elementwise; a row ``X[i]`` of an array nothing writes is taken
again, with its adjoint row, where its iteration's reverse needs it. Shapes that change, views read
elsewhere, or indices that do not hold are kept as before. Gradients against central differences."""

import numpy as np
import pytest

import srcad
from oracles import plain_central_differences


def _check(function, args, wrt):
    gradient = srcad.grad(function, wrt=wrt)(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    gradient = gradient if isinstance(gradient, tuple) else (gradient,)
    for position, computed in zip(wrt, gradient):
        expected = plain_central_differences(function, args, position)
        np.testing.assert_allclose(computed, expected, rtol=1e-6, atol=1e-8)


def chain_rate(x, y):
    n = x.shape[0]
    out = np.empty(n)
    out[0] = -x[0] * y[0]
    for i in range(1, n):
        out[i] = y[i] * (x[i - 1] - x[i])
    return out


def integrate(x0, y, h, steps):
    x = x0.copy()
    for _ in range(steps):
        k1 = chain_rate(x, y)
        k2 = chain_rate(x + 0.5 * h * k1, y)
        k3 = chain_rate(x + 0.5 * h * k2, y)
        k4 = chain_rate(x + h * k3, y)
        x = x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return np.sum(x * x)


@pytest.mark.parametrize("seed", [0, 1])
def test_rk4_keeps_only_its_state(seed):
    """Each step's stages and sums are new arrays of the state's shape; only the state's values are
    read again (by the helper's adjoint), so only the state's bindings are kept."""
    rng = np.random.default_rng(seed)
    args = (rng.normal(size=7), rng.uniform(0.5, 1.5, size=7), 0.05, 6)
    _check(integrate, args, (0, 1))
    source = srcad.source(srcad.differentiable(integrate, checkpoint=None), "adjoint", args=args, wrt=(0, 1))
    assert source.count(".append(") == source.count("x_saved.append(x)")  # (the stages are loops: no arrays kept)


def relax(x0, h, steps):
    x = x0.copy()
    for _ in range(steps):
        e = np.exp(-x)  # only exp's own adjoint reads e (its value)
        x = x + h * e
    return np.sum(x * x)


def test_a_value_only_its_own_adjoint_reads_is_computed_again():
    args = (np.random.default_rng(4).normal(size=5), 0.1, 4)
    _check(relax, args, (0,))
    source = srcad.source(relax, "adjoint", args=args, wrt=(0,))
    assert " e_saved =" not in source and "e = np.exp(" in source.split("# reverse sweep")[1]


def grow(x0, y, n):
    x = x0.copy()
    for _ in range(n):
        x = np.sin(x) * y  # x may grow from one element to y's length in the first step
    return np.sum(x * x)


@pytest.mark.parametrize("sizes", [(1, 4), (4, 4)])
def test_a_state_whose_shape_may_change_keeps_its_bindings(sizes):
    rng = np.random.default_rng(2)
    args = (rng.normal(size=sizes[0]), rng.normal(size=sizes[1]), 3)
    _check(grow, args, (0, 1))


def springs(x0, v0, k, steps, dt):
    x = x0.copy()
    v = v0.copy()
    for _ in range(steps):
        d = x[1:] - x[:-1]
        length = np.sqrt(np.sum(d * d, axis=1))
        fs = (k * (length - 1.0) / length)[:, None] * d
        f = np.zeros_like(x)
        f[:-1] += fs
        f[1:] -= fs
        v = 0.98 * v + dt * f  # v0 of one row grows to x's rows in the first step
        x = x + dt * v
    return np.sum(x[:, 0] ** 2) + np.sum(x[:, 1])


@pytest.mark.parametrize("rows", [(5, 5, 4), (5, 1, 4), (1, 5, 1)])
def test_states_of_two_arguments_keep_only_their_shapes(rows):
    """x and v combine two arguments, so their shapes are equal only at run time: each binding
    pushes the shape it replaces on the int tape instead of keeping the array. (With x0 of one row,
    x, d, length and fs all change shape after the first step.) Calls where they have one shape get
    code made for that, which keeps no shapes."""
    position_rows, velocity_rows, springs_count = rows
    rng = np.random.default_rng(velocity_rows)
    args = (rng.normal(size=(position_rows, 2)), 0.1 * rng.normal(size=(velocity_rows, 2)),
            rng.uniform(1.0, 3.0, springs_count), 12, 0.02)
    _check(springs, args, (0, 1, 2))
    source = srcad.source(springs, "adjoint", args=args, wrt=(0, 1, 2))
    assert " v_saved =" not in source and " f_saved =" not in source
    if position_rows == velocity_rows:  # code made for x0 and v0 of one shape: no shape changes, none kept
        assert "v.shape[" not in source and "v0.shape[0] != x0.shape[0]" in source
    else:
        assert "= v.shape[1]" in source


def grow_joined(x, n):
    u = x[:1] * 1.0
    total = 0.0
    for _ in range(n):
        z = np.concatenate((np.sin(u), x))  # np.sin(u) grows each step; its adjoint is z's first part
        total += np.sum(z * z)
        u = z * 0.5
    return total


def after_a_growing_constant(x, n):
    c = np.ones(1)
    total = 0.0
    for _ in range(n):
        z = np.concatenate((c, x))  # x's part of z starts after c, whose length grows
        total += np.sum(np.sin(z) * z)
        c = np.ones(c.shape[0] + 1)
    return total


@pytest.mark.parametrize("function", [grow_joined, after_a_growing_constant])
def test_a_joined_piece_whose_shape_changes_finds_its_part(function):
    _check(function, (np.random.default_rng(8).normal(size=3), 4), (0,))


def shrink(x, n):
    total = 0.0
    for i in range(1, n):
        t = np.sin(x[:i]) * x[i]  # i elements: a shape that follows the loop
        total += np.sum(t * t)
    return total


def test_temporaries_whose_shape_follows_the_loop_are_right():
    _check(shrink, (np.random.default_rng(3).normal(size=6), 6), (0,))


def mixture(alphas, means, log_scales, x):
    n = x.shape[0]
    k = alphas.shape[0]
    total = 0.0
    for i in range(n):
        scores = np.empty(k)
        for j in range(k):
            diff = x[i] - means[j]
            scaled = np.exp(log_scales[j]) * diff
            scores[j] = alphas[j] + np.sum(log_scales[j]) - 0.5 * np.sum(scaled * scaled)
        top = np.max(scores)
        total += top + np.log(np.sum(np.exp(scores - top)))
    return total


@pytest.mark.parametrize("seed", [0, 1])
def test_rows_are_taken_again_and_small_temporaries_computed_again(seed):
    rng = np.random.default_rng(seed)
    args = (rng.normal(size=3), rng.normal(size=(3, 2)), 0.3 * rng.normal(size=(3, 2)), rng.normal(size=(4, 2)))
    _check(mixture, args, (0, 1, 2))
    source = srcad.source(mixture, "adjoint", args=args, wrt=(0, 1, 2))
    for kept in ("means_j_saved", "diff_saved", "scaled_saved", "log_scales_j_saved"):
        assert f" {kept} =" not in source


def last_row_again(X, w):
    total = 0.0
    for i in range(X.shape[0]):
        row = X[i]
        total += np.sum(np.sin(row) * w)
    return total + np.sum(row * row)  # the last row is read after the loop


def rows_by_computed_index(X, w):
    total = 0.0
    n = X.shape[0]
    for i in range(n):
        k = (3 * i + 1) % n
        row = X[k]
        k = (k + 2) % n  # where the reverse sweep needs the row again, k is another index
        total += np.sum(np.sin(row) * w) * X[k, 0]
    return total


def carried_row(X, w):
    previous = X[0]
    total = 0.0
    for i in range(1, X.shape[0]):
        total += np.sum(previous * X[i] * w)
        previous = X[i]  # read in the next iteration, before it is bound again
    return total


def written_rows(X, w):
    total = 0.0
    for i in range(X.shape[0]):
        row = X[i]
        total += np.sum(np.sin(row) * w)
        X[i] = row * 0.5  # the viewed array changes
    return total + np.sum(X * X)


@pytest.mark.parametrize("function", [last_row_again, rows_by_computed_index, carried_row, written_rows])
def test_rows_that_cannot_be_taken_again_are_kept(function):
    rng = np.random.default_rng(5)
    args = (rng.normal(size=(5, 3)), rng.normal(size=3))
    _check(function, args, (0, 1))


def copies_unpacked(a0, b0, steps):
    a, b = a0.copy(), b0.copy()  # two temporaries, each used once, then both names bound again
    for _ in range(steps):
        a = a * b
        b = b + 0.1 * a
    return np.sum(a * b)


def test_copies_unpacked_then_bound_again():
    """The adjoint of ``a = copy_a0`` added into ``copy_a0``'s adjoint, which nothing had made (a
    temporary used once gets its adjoint from its one contribution): generated code numba could
    not compile. Found by this session's stencil tests; older than it."""
    rng = np.random.default_rng(23)
    _check(copies_unpacked, (rng.normal(size=5), rng.normal(size=5), 3), (0, 1))
