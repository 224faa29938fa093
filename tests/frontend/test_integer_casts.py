"""NumPy's integer types called as casts (``np.int64(i * 0.5)``, ``np.intp(i)``, ``np.int32(x[0] * 3.0)``):
integers, which carry no derivative (of a float: truncated, piecewise constant), as ``int(...)``.
They were refused as calls without a derivative rule."""

import numpy as np
import pytest

import srcad
from oracles import plain_central_differences


def indexed_by_casts(x, n):
    total = 0.0
    for i in range(n):
        k = np.int64(i * 0.5)
        total += x[k] * x[np.intp(i) % x.shape[0]] + x[np.int32(x[0] * 3.0)] * np.uint8(i)
    return total


def test_casts_to_integers_carry_no_derivative():
    x = np.linspace(0.2, 1.0, 5)
    gradient = srcad.grad(indexed_by_casts, wrt=0)(x, 7)
    np.testing.assert_allclose(gradient, plain_central_differences(indexed_by_casts, (x, 7), 0), rtol=1e-7)
    direction = np.linspace(-1.0, 1.0, 5)
    _, tangent = srcad.jvp(indexed_by_casts, (x, 7), (direction, None))
    along = plain_central_differences(lambda t: indexed_by_casts(x + t * direction, 7), (0.0,), 0)
    assert tangent == pytest.approx(along, rel=1e-7)
