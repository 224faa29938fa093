"""What the reverse sweep restores once, where it is bound, to compute values again per element
(``analysis/recompute.py``) and to count loops again (``activity._loops_counted_again``) instead of
keeping something per element or per run of an inner loop. Gradients against central differences;
the tape's comment (what each loop keeps) shows what is kept."""

import numpy as np
import pytest
from oracles import plain_central_differences

import srcad


def _check(function, args, wrt):
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    gradient = srcad.grad(function, wrt=wrt)(*copies)
    gradient = gradient if isinstance(gradient, tuple) else (gradient,)
    for position, computed in zip(wrt, gradient):
        expected = plain_central_differences(function, list(args), position)
        np.testing.assert_allclose(computed, expected, rtol=1e-6, atol=1e-8)


def _kept(function, args, wrt):
    """The lines of the adjoint's tape comment: what each loop keeps per iteration."""
    source = srcad.source(function, "adjoint", args=args, wrt=wrt)
    return [line.strip() for line in source.splitlines() if line.startswith("    #   ")]


def pairwise(x, m, steps, dt):
    v = np.zeros_like(x)
    for _ in range(steps):
        d = x[None, :, :] - x[:, None, :]  # filled by one loop, read by a later one
        r2 = np.sum(d * d, axis=2) + 0.01
        inv = m[None, :] / (r2 * np.sqrt(r2))
        v = v + dt * np.sum(inv[:, :, None] * d, axis=1)
        x = x + dt * v
    return np.sum(x * x)


def test_arrays_filled_then_read_are_read_again_from_their_bindings():
    rng = np.random.default_rng(0)
    args = (rng.normal(size=(5, 3)), rng.uniform(0.5, 1.0, 5), 4, 0.01)
    _check(pairwise, args, (0, 1))
    kept = _kept(pairwise, args, (0, 1))
    per_iteration = [line for line in kept if "bytes" in line or "nothing" in line]
    assert "float" not in " ".join(kept)  # nothing per element: d, r2 and inv are read again from their bindings
    assert all("for _ in range(steps)" in line or "reversed as it ends" in line for line in per_iteration)


def written_after_it_is_read(x, steps):
    total = 0.0
    for _ in range(steps):
        s = np.zeros((x.shape[0], x.shape[0]))
        for i in range(x.shape[0]):
            for j in range(x.shape[0]):
                s[i, j] = x[i] * x[j]
        for i in range(x.shape[0]):
            for j in range(x.shape[0]):
                total += np.sin(s[i, j])  # read before the write below: these values must be kept
        for i in range(x.shape[0]):
            s[i, i] = 2.0 * x[i]
        x = 0.9 * x + 0.1 * s[0, 1]  # (its adjoint reads no value of s)
    return total


def test_an_array_written_after_a_read_keeps_what_the_read_took():
    _check(written_after_it_is_read, (np.random.default_rng(1).normal(size=4) * 0.3, 3), (0,))


def triangle(x, steps):
    total = 0.0
    n = x.shape[0]
    for _ in range(steps):
        m = n - 1  # bounds that change from step to step, not while the inner loops run
        for i in range(m):
            for j in range(i + 1):  # a bound set by the reverse loop around
                total += np.sin(x[i] * x[j])
        x = x * 0.9 + 0.05
        n = n - 1 if n > 3 else x.shape[0]
    return total


def test_inner_loops_are_counted_again_from_restored_bounds():
    args = (np.random.default_rng(2).normal(size=6), 5)
    _check(triangle, args, (0,))
    kept = " ".join(_kept(triangle, args, (0,)))
    assert "for j in range" not in kept and "for i in range" not in kept  # no count per run of the inner loops


def bound_changed_between(x, steps):
    total = 0.0
    k = 2
    for _ in range(steps):
        for i in range(k):
            total += x[i] * x[i + 1]
        k = k + 1 if k < x.shape[0] - 1 else 2  # rebound after the loop that reads it
        for i in range(k):
            total += np.cos(x[i])
    return total


@pytest.mark.parametrize("steps", [1, 5])
def test_a_bound_rebound_between_two_loops(steps):
    _check(bound_changed_between, (np.random.default_rng(3).normal(size=6), steps), (0,))
