"""Broadcasting and axis reductions over random shapes, size-1 and empty axes included.

The helpers of `srcad.kernels.arrays` are checked compiled by numba against NumPy
itself; srcad's gradients of broadcasting arithmetic and of reductions along an
axis are checked against central differences of the plain function.
"""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import srcad
from srcad.kernels import arrays
from oracles import plain_central_differences


@st.composite
def broadcast_pairs(draw, max_rank=3, min_size=0):
    """Two shapes that broadcast together: the second drops leading axes or has size 1 in some."""
    rank = draw(st.integers(1, max_rank))
    full = tuple(draw(st.lists(st.integers(min_size, 3), min_size=rank, max_size=rank)))
    dropped = draw(st.integers(0, rank - 1))
    small = tuple(1 if draw(st.booleans()) else size for size in full[dropped:])
    return (full, small) if draw(st.booleans()) else (small, full)


@numba.njit
def _unbroadcast_compiled(gradient, like):
    return arrays.unbroadcast(gradient, like)


@settings(max_examples=40, deadline=None)
@given(broadcast_pairs(), st.integers(0, 2**32 - 1))
def test_unbroadcast_sums_what_numpy_broadcast(shapes, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes
    result_shape = np.broadcast_shapes(a_shape, b_shape)
    gradient = rng.normal(size=result_shape)
    for shape in (a_shape, b_shape):
        like = np.zeros(shape)
        # the adjoint of broadcasting: <gradient, broadcast(v)> == <unbroadcast(gradient), v> for every v
        v = rng.normal(size=shape)
        expected = np.sum(gradient * np.broadcast_to(v, result_shape))
        for got in (_unbroadcast_compiled(gradient, like), arrays.unbroadcast(gradient, like)):
            assert got.shape == shape
            assert np.sum(got * v) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@numba.njit
def _reductions(x):
    return (
        arrays.sum_along(x, 1, True),
        arrays.mean_along(x, 0, False),
        arrays.max_along(x, -1, True),
        arrays.min_along(x, 1, False),
        arrays.prod_along(x, 0, True),
    )


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_reductions_along_an_axis_compiled_match_numpy(n, m, k, seed):
    x = np.random.default_rng(seed).normal(size=(n, m, k))
    got = _reductions(x)
    expected = (
        x.sum(axis=1, keepdims=True),
        x.mean(axis=0),
        x.max(axis=-1, keepdims=True),
        x.min(axis=1),
        x.prod(axis=0, keepdims=True),
    )
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12)


def broadcast_sum(a, b):
    return np.sum(np.sin(a * b + a) / (1.5 + np.cos(b - a)))


def broadcast_power(a, b):
    return np.sum(np.maximum(a, b) * (a + 2.0) ** 2 - np.hypot(a, b))


@pytest.mark.parametrize("function", [broadcast_sum, broadcast_power])
@settings(max_examples=6, deadline=None)
@given(broadcast_pairs(min_size=1), st.integers(0, 2**32 - 1))
def test_gradients_of_broadcast_arithmetic(function, shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0.2, 1.0, size=shapes[0]), rng.uniform(1.5, 2.5, size=shapes[1])  # a < b: no ties
    da, db = srcad.grad(function, wrt=(0, 1))(a, b)
    assert da.shape == a.shape and db.shape == b.shape
    np.testing.assert_allclose(da, plain_central_differences(function, [a, b], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, plain_central_differences(function, [a, b], 1), rtol=1e-6, atol=1e-8)


def empty_axis(a, b):
    return np.sum(a * b) + 2.0 * np.sum(b)


def test_an_empty_axis_gives_empty_and_zero_gradients():
    a, b = np.ones((0, 3)), np.full(3, 2.0)
    da, db = srcad.grad(empty_axis, wrt=(0, 1))(a, b)
    assert da.shape == (0, 3)
    np.testing.assert_array_equal(db, [2.0, 2.0, 2.0])


def keepdims_softmax(z, w):
    shifted = z - np.max(z, axis=1, keepdims=True)
    p = np.exp(shifted) / np.sum(np.exp(shifted), axis=1, keepdims=True)
    return np.sum(p * w) + np.sum(np.prod(z, axis=0) * np.mean(z, axis=1).sum())


@settings(max_examples=4, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_gradients_of_reductions_along_an_axis(n, m, seed):
    rng = np.random.default_rng(seed)
    z, w = rng.normal(size=(n, m)), rng.normal(size=(n, m))
    z += np.arange(m) * 0.5  # keep row maxima apart from the rest: no ties within a step
    np.testing.assert_allclose(srcad.grad(keepdims_softmax)(z, w), plain_central_differences(keepdims_softmax, [z, w], 0), rtol=1e-6, atol=1e-8)


def first_of_ties(x):
    return np.max(x) + np.sum(np.min(x, axis=1))


def test_ties_give_the_adjoint_to_the_first_tied_element():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.5, 0.5]])
    expected = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])  # max: first 3.0; each row's min: first
    expected[0, 0] += 1.0
    np.testing.assert_array_equal(srcad.grad(first_of_ties)(x), expected)


def product_with_a_zero(x):
    return np.prod(x)


def test_the_gradient_of_a_product_at_a_zero_is_the_product_of_the_others():
    np.testing.assert_array_equal(srcad.grad(product_with_a_zero)(np.array([1.5, 0.0, 2.0])), [0.0, 3.0, 0.0])


def shadows_generated_names(x):
    push = 2.0 * x
    pop = np.sin(push)
    total = 0.0
    for i in range(3):
        reserve = pop * i
        total += np.sum(reserve)
    return total


def test_variables_named_like_srcad_runtime_functions():
    x = np.array([0.3, -0.7])
    np.testing.assert_allclose(srcad.grad(shadows_generated_names)(x), plain_central_differences(shadows_generated_names, [x], 0), rtol=1e-6)


@srcad.differentiable
def standardized(A):
    m = np.mean(A, axis=0, keepdims=True)
    return np.sum((A - m) ** 2 / np.max(A, axis=1, keepdims=True))


def test_calling_a_function_numba_cannot_compile_as_written_runs_it_compiled():
    A = np.random.default_rng(2).random((5, 4)) + 0.5
    assert standardized(A) == pytest.approx(standardized.python_function(A), rel=1e-12)
    assert numba.extending.is_jitted(srcad.specialize.specializer_of(standardized.python_function).normalized_primal())


def keepdims_without_axis_and_stacked_list(x, y, s):
    w = np.sin(np.stack([np.zeros((1,)) + 1.5, np.ones((1,)) + s]))  # a list: numba wants a tuple
    x *= 0.75 + 0.25 * np.tanh(np.max(np.min(x[0], keepdims=True), axis=0))
    return np.sum(w) + np.sum(np.sin(x)) + np.sum(y / np.sum(y, keepdims=True))


def test_keepdims_without_an_axis_and_np_stack_of_a_list():
    """Found by the random array-program fuzzer: both were refused."""
    x, y = np.array([[0.93], [-0.66], [0.28]]), np.array([[1.19, 0.36, 0.91], [1.2, 0.28, 0.5]])
    dx, dy, ds = srcad.grad(keepdims_without_axis_and_stacked_list, wrt=(0, 1, 2))(x.copy(), y, 0.3)
    np.testing.assert_allclose(dx, plain_central_differences(keepdims_without_axis_and_stacked_list, [x, y, 0.3], 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dy, plain_central_differences(keepdims_without_axis_and_stacked_list, [x, y, 0.3], 1), rtol=1e-6, atol=1e-9)
    on_copies = lambda x, y, s: keepdims_without_axis_and_stacked_list(x.copy(), y, s)  # it writes x  # noqa: E731
    assert ds == pytest.approx(plain_central_differences(on_copies, [x, y, 0.3], 2), rel=1e-6)


def view_of_a_rebound_array_read_by_the_write(x, y):
    for _ in range(3):
        x = x + 0.05 * np.cos(x) * y
    x[1:3] += x[::2] * 2.0  # the view is read, then x is written: found refused by the array fuzzer
    return np.sum(x**2)


def test_a_view_of_a_rebound_array_read_by_the_statement_that_writes_it():
    x, y = np.array([-1.16, 0.61, -1.23, 0.58]), np.array([-0.83, 0.93, 0.13, 0.81])
    got = srcad.grad(view_of_a_rebound_array_read_by_the_write)(x.copy(), y)
    on_copies = lambda x, y: view_of_a_rebound_array_read_by_the_write(x.copy(), y)  # noqa: E731
    np.testing.assert_allclose(got, plain_central_differences(on_copies, [x, y], 0), rtol=1e-6, atol=1e-9)


def array_methods_in_tests_and_indices(x, y, s):
    if (y.sum() + s) > -0.5:  # found refused by the array fuzzer ("srcad cannot call 'y.sum'")
        y = y + 0.2 * np.arctan(s)
    n = int(x.argmax())
    return np.sum(y * y) + x[n] * s


def test_array_methods_in_inactive_expressions():
    x, y = np.array([0.3, 0.9, 0.1]), np.array([[-1.15, 1.35], [0.5, 1.38]])
    grads = srcad.grad(array_methods_in_tests_and_indices, wrt=(0, 1, 2))(x, y, 0.68)
    for position, got in enumerate(grads):
        expected = plain_central_differences(array_methods_in_tests_and_indices, [x, y, 0.68], position)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


def with_np_matmul(A, x):
    return np.sum(np.matmul(A, x) ** 2) + np.matmul(x, x)


def test_np_matmul_is_differentiated_as_the_at_operator():
    """numba compiles `@` but not np.matmul: srcad writes one as the other (refused before)."""
    A, x = np.random.default_rng(6).random((3, 3)), np.random.default_rng(7).random(3)
    dA, dx = srcad.grad(with_np_matmul, wrt=(0, 1))(A, x)
    np.testing.assert_allclose(dA, plain_central_differences(with_np_matmul, [A, x], 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dx, plain_central_differences(with_np_matmul, [A, x], 1), rtol=1e-6, atol=1e-9)
