"""srcad's vectorizable exp, log and tanh against NumPy's (units in the last place over the range of
doubles, the special values), and ``sum_in_any_order`` against ``+``; the passes that call them are
tested in tests/output/test_vectorizable_calls.py."""

import math

import numba
import numpy as np
import pytest

from srcad.kernels.vectorizable import simd_exp, simd_log, simd_tanh, sum_in_any_order

SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308]


def _element_loop(function):
    @numba.njit(error_model="numpy")
    def apply(x, out):
        for i in range(x.shape[0]):
            out[i] = function(x[i])

    return apply


def _ulps(computed, reference):
    """Distance in units of the reference's last place; where the reference is 0, inf or NaN the
    values must be the same (sign of zero included)."""
    regular = np.isfinite(reference) & (reference != 0)
    special = ~regular
    same = (computed[special] == reference[special]) & (np.signbit(computed[special]) == np.signbit(reference[special]))
    assert np.all(same | (np.isnan(computed[special]) & np.isnan(reference[special]))), reference[special][~same]
    return np.abs(computed[regular] - reference[regular]) / np.spacing(np.abs(reference[regular]))


CASES = {
    "exp": (simd_exp, np.exp, np.linspace(-746.0, 710.0, 400_001), 1),
    "log": (simd_log, np.log, np.concatenate([np.logspace(-323.5, 308.2, 400_001), np.linspace(0.7, 1.4, 100_001)]), 2),
    "tanh": (simd_tanh, np.tanh, np.concatenate([np.linspace(-25.0, 25.0, 400_001), np.logspace(-320, 0, 50_001)]), 3),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_within_a_few_units_in_the_last_place_of_numpy(name):
    function, reference, points, bound = CASES[name]
    rng = np.random.default_rng(7)
    points = np.concatenate([points, -points if name == "tanh" else points[:0], SPECIAL,
                             rng.uniform(points.min(), points.max(), 20_000)])
    computed = np.empty_like(points)
    _element_loop(function)(points, computed)
    with np.errstate(all="ignore"):
        ulps = _ulps(computed, reference(points))
    assert ulps.max() <= bound
    assert ulps.mean() < 0.2  # mostly exact: NumPy's value rounded the same way


def test_exact_where_numpy_is():
    @numba.njit(error_model="numpy")
    def values():
        return simd_exp(0.0), simd_log(1.0), simd_tanh(-0.0), simd_tanh(30.0), simd_exp(-800.0), simd_log(-1.0)

    e0, l1, t0, t30, tiny, negative = values()
    assert (e0, l1, t30, tiny) == (1.0, 0.0, 1.0, 0.0)
    assert t0 == 0.0 and math.copysign(1.0, t0) == -1.0
    assert math.isnan(negative)


def test_other_types_take_numpys_functions():
    @numba.njit
    def of(i, f32, array, matrix):
        return simd_exp(i), simd_log(f32), simd_tanh(array), simd_exp(matrix.T)

    matrix = np.arange(6.0).reshape(2, 3) / 7.0
    i, f32, array, transposed = of(2, np.float32(3.0), np.linspace(-2, 2, 5), matrix)
    assert i == pytest.approx(math.exp(2)) and f32 == pytest.approx(math.log(3.0), rel=1e-6)
    np.testing.assert_allclose(array, np.tanh(np.linspace(-2, 2, 5)), rtol=1e-15)
    np.testing.assert_allclose(transposed, np.exp(matrix.T), rtol=1e-15)
    assert simd_exp(1.0) == np.exp(1.0)  # uncompiled: NumPy's own


def test_sum_in_any_order_adds():
    @numba.njit
    def sums(x, n):
        s, count = 0.0, 0
        for i in range(x.shape[0]):
            s = sum_in_any_order(s, x[i])
            count = sum_in_any_order(count, n)
        return s, count

    x = np.random.default_rng(3).standard_normal(10_001)
    s, count = sums(x, 2)
    assert s == pytest.approx(math.fsum(x), rel=1e-12, abs=1e-12) and count == 20_002
    assert sum_in_any_order(np.ones(2), 1.0).tolist() == [2.0, 2.0]
