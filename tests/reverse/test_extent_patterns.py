"""One function, called with arguments whose extents are equal in different ways: each call gets
code made for its own equalities (``srcad.argument_types.equal_extents``), and every one of them
matches central differences, broadcasting included (an argument of one element, a keepdims axis,
a square matrix whose two extents agree by chance)."""

import numpy as np
import pytest

import srcad
from oracles import plain_central_differences


def damped(u, c, d, steps):
    for _ in range(steps):
        u = u - 0.1 * c * u + 0.01 * d
    return np.sum(u * u)


def rows(x, w, b):
    z = x * w[None, :] + b[:, None]
    m = np.max(z, axis=1, keepdims=True)
    return np.sum(np.exp(z - m)) + np.sum(m)


def pairs(x, m):
    d = x[None, :, :] - x[:, None, :]
    r2 = np.sum(d * d, axis=-1) + 0.5
    return np.sum(m[None, :] * m[:, None] / r2)


CASES = [
    (damped, ((5,), (5,), (5,), 3)),
    (damped, ((5,), (1,), (5,), 3)),  # c broadcasts
    (damped, ((1,), (5,), (1,), 3)),  # the state grows to c's length in the first step
    (rows, ((3, 3), (3,), (3,))),  # a square matrix: its extents agree by chance
    (rows, ((3, 4), (1,), (3,))),
    (pairs, ((3, 3), (3,))),
    (pairs, ((4, 3), (1,))),
]


@pytest.mark.parametrize("function, shapes", CASES, ids=lambda c: getattr(c, "__name__", str(c)))
def test_each_pattern_of_equal_extents_gets_its_own_correct_code(function, shapes):
    rng = np.random.default_rng(len(shapes) + sum(len(s) for s in shapes if isinstance(s, tuple)))
    args = [0.5 + rng.uniform(size=s) if isinstance(s, tuple) else s for s in shapes]
    wrt = tuple(k for k, s in enumerate(shapes) if isinstance(s, tuple))
    gradient = srcad.grad(function, wrt=wrt)(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    for k, computed in zip(wrt, gradient):
        np.testing.assert_allclose(computed, plain_central_differences(function, args, k), rtol=1e-6, atol=1e-8)
