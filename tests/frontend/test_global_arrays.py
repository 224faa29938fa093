"""Module-level NumPy arrays (and tuples of numbers) read by differentiated code: constants, their
values copied into the generated modules (numba freezes global arrays and tuples the same way) and
part of the cache key; writes into them, and uses of a tuple an array would not stand for, are refused."""

import numpy as np
import pytest

import srcad
from oracles import plain_central_difference
from srcad.cache_keys import source_key_of

WEIGHTS = np.array([0.5, -1.25, 2.0])
MIXING = np.arange(6.0).reshape(2, 3) / 7.0
ORDER = np.array([2, 0, 1])
HUGE = np.zeros(20_000)
SCALES = (0.5, 2.0, -1.5)  # tuples of numbers: read as arrays
PICK = (2, 0)


def _fd_gradient(function, x):
    gradient = np.empty_like(x)
    for k in range(x.size):

        def along(t, k=k):
            moved = x.copy()
            moved[k] = t
            return function(moved)

        gradient[k] = plain_central_difference(along, (float(x[k]),), 0)
    return gradient


def weighted(x):
    total = 0.0
    for i in range(x.shape[0]):
        total += WEIGHTS[i] * x[i] ** 2 + MIXING[1, i] * x[ORDER[i]]
    for k, s in enumerate(SCALES):
        total += s * x[k] ** 3 + SCALES[-1] * x[PICK[k % len(PICK)]]
    return total + np.sum(MIXING @ x) + np.dot(WEIGHTS, np.sin(x)) + WEIGHTS.shape[0] + len(WEIGHTS) + max(SCALES)


def vectorized(x):
    return np.sum(np.tanh(WEIGHTS * x) * MIXING)


def helper(x):
    return np.sum(WEIGHTS * x * x)


def calls_a_helper_reading_a_table(x):
    return helper(x) * WEIGHTS[0]


@pytest.mark.parametrize("function", [weighted, vectorized, calls_a_helper_reading_a_table])
def test_gradients_and_tangents_of_functions_reading_module_level_arrays(function):
    x = np.array([0.3, 0.7, -0.2])
    expected = _fd_gradient(function, x)
    np.testing.assert_allclose(srcad.grad(function)(x), expected, rtol=1e-7, atol=1e-9)
    direction = np.array([1.0, -0.5, 0.25])
    value, tangent = srcad.jvp(function, (x,), (direction,))
    assert value == pytest.approx(function(x), rel=1e-12)
    assert tangent == pytest.approx(float(expected @ direction), rel=1e-7)


def test_the_generated_source_holds_the_arrays_values():
    source = srcad.source(weighted, "adjoint", args=(np.zeros(3),))
    assert "WEIGHTS = np.array([0.5, -1.25, 2.0], dtype=np.float64).reshape((3,))" in source
    # an index array is read through a view (numba crashes on a global array as a getitem's index)
    assert "ORDER_frozen = np.array([2, 0, 1], dtype=np.int64).reshape((3,))" in source
    assert "ORDER = ORDER_frozen[:]" in source


@srcad.kernel
def scaled_squares(x, loss):
    i = srcad.tid()
    srcad.atomic_add(loss, 0, WEIGHTS[i] * x[i] * x[i])


def test_kernels_read_module_level_arrays_too():
    x, loss = np.array([0.3, 0.7, -0.2]), np.zeros(1)
    tape = srcad.Tape()
    with tape:
        scaled_squares.launch(3, x, loss)
    assert loss[0] == pytest.approx(float(np.sum(WEIGHTS * x * x)), rel=1e-12)
    tape.backward(loss)
    np.testing.assert_allclose(tape.gradient(x), 2.0 * WEIGHTS * x, rtol=1e-12)


def writes_into_a_table(x):
    WEIGHTS[0] = x[0]  # <- the write
    return np.sum(WEIGHTS * x)


def reads_a_huge_table(x):
    return np.sum(x) * HUGE[0]


def test_the_values_of_module_level_arrays_and_tuples_are_part_of_the_cache_key():
    global SCALES
    before, saved = source_key_of(weighted), (WEIGHTS.copy(), SCALES)
    WEIGHTS[1] = 7.0  # another process, or the module edited and imported again, sees other values
    assert source_key_of(weighted) != before
    WEIGHTS[:] = saved[0]
    SCALES = (0.5, 2.0, -1.25)
    try:
        assert source_key_of(weighted) != before
    finally:
        SCALES = saved[1]
    assert source_key_of(weighted) == before


def concatenates_a_tuple(x):
    return np.sum(x) * (SCALES + PICK)[3]  # <- a tuple's concatenation, where arrays would add


def test_writes_into_module_level_arrays_and_huge_ones_are_refused_at_their_line():
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(writes_into_a_table)(np.ones(3))
    message = str(caught.value)
    assert "WEIGHTS[0] = x[0]" in message and "cannot write" in message and "copy" in message
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(reads_a_huge_table)(np.ones(3))
    message = str(caught.value)
    assert "HUGE" in message and "20000" in message and "argument" in message
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(concatenates_a_tuple)
    message = str(caught.value)
    line = concatenates_a_tuple.__code__.co_firstlineno + 1
    assert (caught.value.lineno, caught.value.col) == (line, caught.value.source_line.index("SCALES") + 1)
    assert "module-level tuple 'SCALES'" in message and "elements (SCALES[i])" in message
