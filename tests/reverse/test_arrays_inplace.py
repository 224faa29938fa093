"""Arrays written in place: gradients with respect to values on entry, side effects, aliasing."""

import math

import numpy as np
import pytest

import srcad
from oracles import plain_central_differences


def step_in_place(x, v, dt, steps):
    n = len(x)
    force = np.zeros(n)
    for t in range(steps):
        for i in range(n):
            force[i] = -math.sin(x[i]) - 0.1 * v[i]
        for i in range(n):
            v[i] += force[i] * dt
            x[i] += v[i] * dt
    s = 0.0
    for i in range(n):
        s += x[i] * x[i] + 0.5 * v[i] * v[i]
    return s


def _inputs():
    rng = np.random.default_rng(3)
    return rng.normal(size=4), rng.normal(size=4)


def test_gradient_is_with_respect_to_the_values_on_entry():
    x, v = _inputs()
    dx, dv = srcad.grad(step_in_place, wrt=(0, 1))(x.copy(), v.copy(), 0.05, 6)
    np.testing.assert_allclose(dx, plain_central_differences(step_in_place, [x, v, 0.05, 6], 0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dv, plain_central_differences(step_in_place, [x, v, 0.05, 6], 1), rtol=1e-5, atol=1e-7)


def test_the_caller_sees_the_same_side_effects_as_the_primal():
    x, v = _inputs()
    x_plain, v_plain = x.copy(), v.copy()
    step_in_place(x_plain, v_plain, 0.05, 6)
    srcad.grad(step_in_place)(x, v, 0.05, 6)
    np.testing.assert_allclose(x, x_plain, rtol=1e-14)
    np.testing.assert_allclose(v, v_plain, rtol=1e-14)


def test_gradients_have_the_shape_and_dtype_of_their_argument():
    x, v = _inputs()
    dx = srcad.grad(step_in_place)(x.astype(np.float32), v.astype(np.float32), 0.05, 3)
    assert dx.shape == x.shape and dx.dtype == np.float32


def test_aliased_arguments_written_in_place_are_refused_naming_both():
    x, _ = _inputs()
    with pytest.raises(ValueError, match="'x' and 'v' of step_in_place share memory"):
        srcad.grad(step_in_place)(x, x, 0.05, 3)
    with pytest.raises(ValueError, match="share memory"):
        srcad.grad(step_in_place)(x[:3], x[1:], 0.05, 3)  # overlapping views


def shift_in_place(x, y):
    x -= 0.5 * y
    return np.sum(x * x)


def scale_through_a_view(x, y):
    tail = x[1:]
    tail *= y[:-1]
    return np.sum(x * y)


def test_arguments_aliasing_one_changed_by_an_in_place_operator_are_refused():
    x = np.array([0.3, -0.2, 0.9, 1.4])
    with pytest.raises(ValueError, match="'x' and 'y' of shift_in_place share memory"):
        srcad.grad(shift_in_place)(x, x[::-1])
    with pytest.raises(ValueError, match="'x' and 'y' of scale_through_a_view share memory"):
        srcad.grad(scale_through_a_view)(x, x)
    with pytest.raises(ValueError, match="share memory"):
        srcad.jvp(shift_in_place, (x, x), (np.ones(4), np.ones(4)))


def test_vjp_pullback_starts_again_from_the_arguments_on_entry():
    x, v = _inputs()
    _, pullback = srcad.vjp(step_in_place, x.copy(), v.copy(), 0.05, 6)
    first, second = pullback(1.0), pullback(1.0)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_allclose(first[0], plain_central_differences(step_in_place, [x, v, 0.05, 6], 0), rtol=1e-5, atol=1e-7)
    assert first[2] is not None and first[3] is None  # dt is a float; steps an int


def scatter(x, weights, index, bins):
    acc = np.zeros(bins)
    for k in range(len(index)):
        acc[index[k]] += weights[k] * x[k]
    s = 0.0
    for b in range(bins):
        s += math.tanh(acc[b]) * (b + 1)
    return s


def test_scatter_add_with_repeated_indices():
    rng = np.random.default_rng(5)
    x, weights = rng.normal(size=7), rng.normal(size=7)
    index = np.array([0, 2, 2, 1, 0, 2, 1])
    dx, dw = srcad.grad(scatter, wrt=(0, 1))(x, weights, index, 3)
    np.testing.assert_allclose(dx, plain_central_differences(scatter, [x, weights, index, 3], 0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dw, plain_central_differences(scatter, [x, weights, index, 3], 1), rtol=1e-5, atol=1e-7)


def test_an_int_array_argument_gets_no_gradient():
    with pytest.raises(TypeError, match="'index'"):
        srcad.grad(scatter, wrt=2)(np.ones(3), np.ones(3), np.array([0, 1, 0]), 2)


def grows_in_loop(x):
    s = 0.0
    for i in range(3):
        scratch = np.zeros(2)
        scratch[0] = x[i]
        s += scratch[0] * scratch[0]
    return s


def test_an_array_created_inside_a_loop_and_written_there():
    x = np.random.default_rng(3).normal(size=3)
    np.testing.assert_allclose(srcad.grad(grows_in_loop)(x), plain_central_differences(grows_in_loop, [x], 0), rtol=1e-6, atol=1e-8)


def test_adjoint_of_an_array_loop_reads_like_hand_written_code():
    source = srcad.source(scatter, "adjoint", args=(np.ones(3), np.ones(3), np.array([0, 1, 0]), 2))
    assert "x_adj = np.zeros_like(x)" in source
    assert "acc_adj = np.zeros_like(acc)" in source
    assert "weights_k_times_x_k_adj = acc_adj[index_k]" in source  # scatter-add's adjoint is a gather
    assert "x_adj[k] += " in source


def add_first_row_through_another_name(y):
    b = y
    b += y[0]  # NumPy reads y[0] before writing the rows (it sees the overlap)
    return np.sum(y * y)


def test_an_in_place_update_through_an_alias_reads_the_view_before_writing():
    y = np.array([[1.0, 2.0], [3.0, 4.0]])
    plain = y.copy()
    expected = add_first_row_through_another_name(plain)  # 72.0, y -> [[2, 4], [4, 6]]
    written = y.copy()
    value, gradient = srcad.value_and_grad(add_first_row_through_another_name)(written)
    assert value == expected
    np.testing.assert_array_equal(written, plain)
    np.testing.assert_allclose(gradient, plain_central_differences(add_first_row_through_another_name, [y], 0), rtol=1e-6, atol=1e-6)


def corrected_step(x0, v, steps):
    x = x0.copy()
    for t in range(steps):
        x_next = x + 0.1 * v  # new memory every step, read element by element, written, handed on
        for i in range(x.shape[0]):
            x_next[i] = x[i] - 0.1 * x_next[i] * x_next[i]
            x_next[i] = x_next[i] + 0.5 * x[i]
        x = x_next
    return np.sum(x * x)


def test_new_memory_read_element_by_element_then_written_is_private():
    """An element read (``x_next[i]``, a float) gives the memory no other name: the writes into
    ``x_next`` change nothing ``x`` reads (this was refused as sharing memory)."""
    x0, v = np.linspace(-0.5, 0.8, 5), np.linspace(1.0, 0.2, 5)
    gradient = srcad.grad(corrected_step)(x0, v, 4)
    np.testing.assert_allclose(gradient, plain_central_differences(corrected_step, (x0, v, 4), 0), rtol=1e-6, atol=1e-9)


def rates_into_new_arrays(x, steps):
    n = x.shape[0]
    y = np.zeros(n)
    k1, k2 = np.zeros(n), np.zeros(n)  # new memory handed on to k1 and k2, then written
    for step in range(steps):
        for i in range(n):
            k1[i] = x[i] * y[i]
        k2[0] = x[0]
        for i in range(1, n):
            k2[i] = x[i] * k1[i - 1]
        y = y + 0.5 * k1 + 0.25 * k2 + x
    return y[n - 1] + y[0]


def test_arrays_unpacked_from_new_memory_then_written():
    x = np.array([0.5, 1.2, 0.8, -0.3])
    gradient = srcad.grad(rates_into_new_arrays)(x, 3)
    np.testing.assert_allclose(gradient, plain_central_differences(rates_into_new_arrays, (x, 3), 0), rtol=1e-6, atol=1e-9)


def view_written_after_its_base_was_read(x, y, n):
    x[1, :] -= 0.5 * np.cos(y[:, 0])  # the reverse sweep reads y's values here
    b1 = y.T  # a view of y...
    b1 += b1.ravel() @ (np.zeros((3, 3)) + 0.1 * n)  # ...written in place: y's old values must come back
    return np.sum(y * y) + np.sum(np.sin(x))


def test_writes_through_a_view_are_undone_for_the_reads_of_its_base_before_them():
    """Found by the array hunt (a wrong gradient): the view's binding was computed again in the
    reverse sweep instead of kept, so its writes were not undone and the adjoint of the first line
    read y's new values."""
    args = lambda: (np.array([[1.22, -1.07, 0.84], [-0.1, -1.46, 0.94]]), np.array([[1.01], [0.67], [0.05]]), 3)  # noqa: E731
    on_copies = lambda x, y, n: view_written_after_its_base_was_read(x.copy(), y.copy(), n)  # noqa: E731
    gradients = srcad.grad(view_written_after_its_base_was_read, wrt=(0, 1))(*args())
    for k in range(2):
        np.testing.assert_allclose(gradients[k], plain_central_differences(on_copies, args(), k), rtol=1e-6, atol=1e-9)


def copy_handed_on_then_written(x, y):
    b1 = y[:, 0].copy()
    x += 0.25 * np.tanh(b1)  # the reverse sweep reads b1's values here
    b2 = b1  # b1's memory handed on: the function never mentions b1 again...
    b2[1:] -= 0.5 * np.sin(y[2, :])  # ...but the reverse sweep does, after this write
    return np.sum(x * x)


@pytest.mark.parametrize("seed", [0, 1])
def test_memory_handed_to_another_name_and_written_is_still_read_by_the_reverse_sweep(seed):
    """Found by the array hunt (a wrong gradient): ``b2 = b1`` counted as a move (the two names never
    hold the memory at once, in the primal), so b1 looked unchanged and tanh's adjoint read the
    values b2's write left."""
    rng = np.random.default_rng(seed)
    args = lambda: (rng_x.copy(), rng_y.copy())  # noqa: E731
    rng_x, rng_y = rng.normal(size=3), rng.normal(size=(3, 1))
    on_copies = lambda x, y: copy_handed_on_then_written(x.copy(), y.copy())  # noqa: E731
    gradients = srcad.grad(copy_handed_on_then_written, wrt=(0, 1))(*args())
    for k in range(2):
        np.testing.assert_allclose(gradients[k], plain_central_differences(on_copies, args(), k), rtol=1e-6, atol=1e-9)
