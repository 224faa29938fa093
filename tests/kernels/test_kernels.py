"""Kernels and the tape on the CPU: launches, recorded adjoints, overwrite safety, refusals.

Every tape gradient is checked against central differences of a plain NumPy reference of the same
simulation (never against srcad's own forward kernels), and every forward launch against that
reference's values.
"""

import numpy as np
import pytest

import srcad

N, STEPS, DT = 12, 15, 0.05


@srcad.kernel
def spring_step(x, v, k, x_out, v_out, dt):
    i = srcad.tid()
    f = -k[0] * x[i] + 0.3 * np.sin(x[i])
    if i > 0:
        f += k[1] * (x[i - 1] - x[i])
    if i < x.shape[0] - 1:
        f += k[1] * (x[i + 1] - x[i])
    v_out[i] = v[i] + dt * f
    x_out[i] = x[i] + dt * v_out[i]


@srcad.kernel
def sum_of_squares(x, loss):
    i = srcad.tid()
    srcad.atomic_add(loss, 0, x[i] * x[i])


def reference_springs(x0, v0, k, steps=STEPS, dt=DT):
    x, v = x0.copy(), v0.copy()
    for _ in range(steps):
        f = -k[0] * x + 0.3 * np.sin(x)
        f[1:] += k[1] * (x[:-1] - x[1:])
        f[:-1] += k[1] * (x[1:] - x[:-1])
        v = v + dt * f
        x = x + dt * v
    return np.sum(x * x), x


def fd_gradient(f, value, step=1e-6):
    value = np.asarray(value, dtype=float)
    gradient = np.zeros_like(value)
    for index in np.ndindex(value.shape):
        up, down = value.copy(), value.copy()
        h = step * max(1.0, abs(value[index]))
        up[index] += h
        down[index] -= h
        gradient[index] = (f(up) - f(down)) / (2 * h)
    return gradient


def _state(seed=0):
    rng = np.random.default_rng(seed)
    return np.linspace(-1.0, 1.0, N) + 0.1 * rng.normal(size=N), 0.2 * rng.normal(size=N), np.array([2.0, 5.0])


def record_springs(x0, v0, k, tape):
    xs, vs = np.zeros((STEPS + 1, N)), np.zeros((STEPS + 1, N))
    xs[0], vs[0] = x0, v0
    loss = np.zeros(1)
    with tape:
        for t in range(STEPS):
            spring_step.launch(N, xs[t], vs[t], k, xs[t + 1], vs[t + 1], DT)
        sum_of_squares.launch(N, xs[STEPS], loss)
    return xs, vs, loss


def test_launches_compute_what_numpy_computes():
    x0, v0, k = _state()
    xs, _, loss = record_springs(x0, v0, k, srcad.Tape())
    expected_loss, expected_x = reference_springs(x0, v0, k)
    np.testing.assert_allclose(xs[STEPS], expected_x, rtol=1e-12)
    assert loss[0] == pytest.approx(expected_loss, rel=1e-12)


def test_tape_gradients_match_central_differences_of_a_numpy_reference():
    x0, v0, k = _state()
    tape = srcad.Tape()
    xs, vs, loss = record_springs(x0, v0, k, tape)
    tape.backward(loss)
    np.testing.assert_allclose(tape.gradient(xs[0]), fd_gradient(lambda x: reference_springs(x, v0, k)[0], x0),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(tape.gradient(vs[0]), fd_gradient(lambda v: reference_springs(x0, v, k)[0], v0),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(tape.gradient(k), fd_gradient(lambda q: reference_springs(x0, v0, q)[0], k),
                               rtol=1e-6, atol=1e-8)


def test_a_tape_is_reused_across_iterations():
    tape = srcad.Tape()
    gradients = []
    for seed in (0, 1, 0):
        x0, v0, k = _state(seed)
        xs, _, loss = record_springs(x0, v0, k, tape)
        tape.zero()
        tape.backward(loss)
        gradients.append(tape.gradient(xs[0]))
    np.testing.assert_array_equal(gradients[0], gradients[2])
    assert not np.allclose(gradients[0], gradients[1])


@srcad.kernel
def euler_in_place(x, v, k, dt):
    i = srcad.tid()
    v[i] += dt * (-k[0] * x[i] ** 3)
    x[i] += dt * v[i]


def reference_in_place(x0, v0, k, steps):
    x, v = x0.copy(), v0.copy()
    for _ in range(steps):
        v = v + DT * (-k[0] * x**3)
        x = x + DT * v
    return np.sum(x * x)


def test_kernels_writing_in_place_get_the_gradient_of_the_values_they_read():
    x0, v0, k = _state(2)
    x, v, loss = x0.copy(), v0.copy(), np.zeros(1)
    tape = srcad.Tape()
    with tape:
        for _ in range(STEPS):
            euler_in_place.launch(N, x, v, k, DT)
        sum_of_squares.launch(N, x, loss)
    assert loss[0] == pytest.approx(reference_in_place(x0, v0, k, STEPS), rel=1e-12)
    tape.backward(loss)
    # the gradient with respect to the values x held before the first launch
    np.testing.assert_allclose(tape.gradient(x), fd_gradient(lambda a: reference_in_place(a, v0, k, STEPS), x0),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(tape.gradient(k), fd_gradient(lambda q: reference_in_place(x0, v0, q, STEPS), k),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(x, reference_in_place_state(x0, v0, k), rtol=1e-12)  # backward leaves x as the launches did


def reference_in_place_state(x0, v0, k):
    x, v = x0.copy(), v0.copy()
    for _ in range(STEPS):
        v = v + DT * (-k[0] * x**3)
        x = x + DT * v
    return x


@srcad.kernel
def scatter(values, bins, weights, histogram):
    i = srcad.tid()
    srcad.atomic_add(histogram, bins[i], weights[i] * np.tanh(values[i]))


@srcad.kernel
def weighted_square_sum(histogram, loss):
    j = srcad.tid()
    srcad.atomic_add(loss, 0, (j + 1.0) * histogram[j] ** 2)


def test_scatter_adds_with_repeated_indices():
    rng = np.random.default_rng(3)
    values, weights = rng.normal(size=40), rng.uniform(0.5, 1.5, size=40)
    bins = rng.integers(0, 5, size=40)

    def reference(values, weights):
        histogram = np.zeros(5)
        np.add.at(histogram, bins, weights * np.tanh(values))
        return np.sum((np.arange(5) + 1.0) * histogram**2)

    histogram, loss = np.zeros(5), np.zeros(1)
    tape = srcad.Tape()
    with tape:
        scatter.launch(40, values, bins, weights, histogram)
        weighted_square_sum.launch(5, histogram, loss)
    assert loss[0] == pytest.approx(reference(values, weights), rel=1e-12)
    tape.backward(loss)
    np.testing.assert_allclose(tape.gradient(values), fd_gradient(lambda a: reference(a, weights), values), rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(weights), fd_gradient(lambda w: reference(values, w), weights), rtol=1e-6)
    assert tape.gradient(bins) is None or not np.any(tape.gradient(bins))


@srcad.kernel
def scale32(x, y, s):
    i = srcad.tid()
    y[i] = s * x[i] * x[i]


def test_float32_kernels():
    x = np.linspace(0.5, 1.5, 8).astype(np.float32)
    y, loss = np.zeros(8, np.float32), np.zeros(1, np.float32)
    tape = srcad.Tape()
    with tape:
        scale32.launch(8, x, y, 3.0)
        sum_of_squares.launch(8, y, loss)
    tape.backward(loss)
    gradient = tape.gradient(x)
    assert gradient.dtype == np.float32
    np.testing.assert_allclose(gradient, 4 * 9.0 * x.astype(float) ** 3, rtol=1e-5)


# -- refusals ---------------------------------------------------------------------------------------
def reads_neighbours_in_place(x, dt):
    i = srcad.tid()
    if i > 0:
        x[i] += dt * x[i - 1]


def returns_a_value(x):
    i = srcad.tid()
    return x[i]


def test_reading_other_threads_elements_of_an_array_written_in_place_is_refused():
    kernel = srcad.kernel(reads_neighbours_in_place)
    with pytest.raises(srcad.DifferentiabilityError, match="order threads run in") as caught:
        kernel.launch(4, np.ones(4), 0.1)
    assert caught.value.lineno == reads_neighbours_in_place.__code__.co_firstlineno + 3
    assert "x[i] += dt * x[i - 1]" in str(caught.value)


def test_kernels_return_nothing():
    with pytest.raises(srcad.DifferentiabilityError, match="a kernel returns nothing") as caught:
        srcad.kernel(returns_a_value)
    assert caught.value.lineno == returns_a_value.__code__.co_firstlineno + 2


def test_tid_outside_a_kernel_is_refused():
    def f(x):
        return x * srcad.tid()

    with pytest.raises(srcad.DifferentiabilityError, match="only in a @srcad.kernel"):
        srcad.grad(f)(1.0)


def test_launch_mistakes_are_plain_errors():
    with pytest.raises(TypeError, match="takes 6 arguments"):
        spring_step.launch(4, np.ones(4))
    with pytest.raises(ValueError, match="number of threads"):
        spring_step.launch(-1, *([np.ones(4)] * 5), 0.1)
    with pytest.raises(TypeError, match="launch"):
        spring_step(np.ones(4))
    with pytest.raises(ValueError, match="one-element float array"):
        srcad.Tape().backward(np.ones(3))


@srcad.kernel
def neighbour_products(x, k, y):
    i = srcad.tid()
    if i < x.shape[0] - 1:
        y[i] = k[0] * x[i] * x[i + 1]


def test_large_launches_run_in_parallel_and_add_up_shared_adjoints():
    # enough threads for the parallel launcher: x's and k's adjoints get contributions from many threads
    n = 20000
    x, k = np.random.default_rng(5).normal(size=n), np.array([1.7])
    y, loss = np.zeros(n), np.zeros(1)
    tape = srcad.Tape()
    with tape:
        neighbour_products.launch(n, x, k, y)
        sum_of_squares.launch(n, y, loss)
    products = k[0] * x[:-1] * x[1:]
    assert loss[0] == pytest.approx(np.sum(products**2), rel=1e-12)
    tape.backward(loss)
    expected = np.zeros(n)  # the closed form: d sum(y^2) / dx
    expected[:-1] += 2 * products * k[0] * x[1:]
    expected[1:] += 2 * products * k[0] * x[:-1]
    np.testing.assert_allclose(tape.gradient(x), expected, rtol=1e-12, atol=1e-14)
    assert tape.gradient(k)[0] == pytest.approx(np.sum(2 * products * x[:-1] * x[1:]), rel=1e-12)


@srcad.kernel
def diffuse(u, c, u_out):
    i, j = srcad.tid()
    total = -4.0 * u[i, j]
    if i > 0:
        total += u[i - 1, j]
    if i < u.shape[0] - 1:
        total += u[i + 1, j]
    if j > 0:
        total += u[i, j - 1]
    if j < u.shape[1] - 1:
        total += u[i, j + 1]
    u_out[i, j] = u[i, j] + c[0] * total * u[i, j]


@srcad.kernel
def grid_sum_of_squares(u, loss):
    i, j = srcad.tid()
    srcad.atomic_add(loss, 0, u[i, j] ** 2)


def reference_diffusion(u0, c, steps):
    u = u0.copy()
    for _ in range(steps):
        total = -4.0 * u
        total[1:, :] += u[:-1, :]
        total[:-1, :] += u[1:, :]
        total[:, 1:] += u[:, :-1]
        total[:, :-1] += u[:, 1:]
        u = u + c[0] * total * u
    return np.sum(u**2)


def record_diffusion(u0, c, steps, tape, device="cpu", place=lambda a: a):
    us = place(np.stack([u0] + [np.zeros_like(u0)] * steps))
    loss = place(np.zeros(1))
    with tape:
        for t in range(steps):
            diffuse.launch(u0.shape, us[t], c, us[t + 1], device=device)
        grid_sum_of_squares.launch(u0.shape, us[steps], loss, device=device)
    return us, loss


def test_two_dimensional_launches():
    u0, c = np.random.default_rng(7).uniform(0.5, 1.5, size=(5, 7)), np.array([0.05])
    tape = srcad.Tape()
    us, loss = record_diffusion(u0, c, 4, tape)
    assert loss[0] == pytest.approx(reference_diffusion(u0, c, 4), rel=1e-12)
    tape.backward(loss)
    np.testing.assert_allclose(tape.gradient(us[0]), fd_gradient(lambda u: reference_diffusion(u, c, 4), u0),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(tape.gradient(c), fd_gradient(lambda q: reference_diffusion(u0, q, 4), c), rtol=1e-6)
    with pytest.raises(ValueError, match="2 thread dimension"):
        diffuse.launch(35, us[0], c, us[1])


# -- kernels as users write them: loops, gathers, data-dependent while loops --------------------------
@srcad.kernel
def matvec(A, x, y):
    i = srcad.tid()
    acc = 0.0
    for j in range(x.shape[0]):
        acc += A[i, j] * np.tanh(x[j])
    y[i] = acc


@srcad.kernel
def gather(x, idx, y):
    i = srcad.tid()
    y[i] = x[idx[i]] ** 2 + max(x[i], 0.5)


NEIGHBOURS = np.array([[1, 2], [0, 3], [3, 5], [4, 1], [5, 0], [2, 4]])  # a module-level index table


@srcad.kernel
def gather_neighbours(x, y):
    i = srcad.tid()
    y[i] = x[NEIGHBOURS[i, 0]] * x[i] + np.sin(x[NEIGHBOURS[i, 1]])


@srcad.kernel
def grow_until(x, y):
    i = srcad.tid()
    z = x[i]
    k = 0
    while z < 10.0 and k < 20:
        z = z * 1.5 + 0.1
        k += 1
    y[i] = z


def _grown(x):
    out = []
    for z in x:
        k = 0
        while z < 10.0 and k < 20:
            z, k = z * 1.5 + 0.1, k + 1
        out.append(z)
    return np.array(out)


_RNG = np.random.default_rng(11)
_IDX = np.array([5, 0, 0, 3, 2, 2])
USER_KERNELS = {  # kernel, threads, arguments (the output last), NumPy reference of the output
    "matvec": (matvec, 4, [_RNG.normal(size=(4, 5)), _RNG.normal(size=5), np.zeros(4)],
               lambda A, x: A @ np.tanh(x)),
    "gather": (gather, 6, [_RNG.uniform(0.1, 2.0, size=6), _IDX, np.zeros(6)],
               lambda x, idx: x[idx] ** 2 + np.maximum(x, 0.5)),
    "grow_until": (grow_until, 5, [_RNG.uniform(0.5, 3.0, size=5), np.zeros(5)], _grown),
    "gather_neighbours": (gather_neighbours, 6, [_RNG.normal(size=6), np.zeros(6)],
                          lambda x: x[NEIGHBOURS[:, 0]] * x + np.sin(x[NEIGHBOURS[:, 1]])),
}


def run_user_kernel(name, device="cpu", place=lambda a: a, fetch=lambda a: a):
    """(loss, gradients of the float inputs) of sum(output**2), on a tape, and from the reference."""
    kernel, threads, arguments, reference = USER_KERNELS[name]
    inputs = [place(a.copy()) for a in arguments[:-1]]
    output, loss = place(np.zeros_like(arguments[-1])), place(np.zeros(1))
    tape = srcad.Tape()
    with tape:
        kernel.launch(threads, *inputs, output, device=device)
        sum_of_squares.launch(threads, output, loss, device=device)
    tape.backward(loss)
    got = [fetch(tape.gradient(a)) for a, host in zip(inputs, arguments) if host.dtype.kind == "f"]
    expected = []
    for position, host in enumerate(arguments[:-1]):
        if host.dtype.kind == "f":
            def loss_of(value, position=position):
                moved = [a.copy() for a in arguments[:-1]]
                moved[position] = value
                return np.sum(reference(*moved) ** 2)
            expected.append(fd_gradient(loss_of, host))
    return fetch(loss)[0], np.sum(reference(*arguments[:-1]) ** 2), got, expected


@pytest.mark.parametrize("name", sorted(USER_KERNELS))
def test_kernels_with_loops_gathers_and_while_loops(name):
    loss, expected_loss, got, expected = run_user_kernel(name)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)


# -- calls of differentiable functions recorded on the tape ---------------------------------------------
@srcad.differentiable
def smoothed(x, width):
    y = x.copy()
    y[1:] += width * x[:-1]
    y[:-1] += width * x[1:]
    return np.tanh(y)


@srcad.differentiable
def energy(x, k):
    return np.sum(k * x**2) + np.sum(np.sin(x))


def test_calls_of_differentiable_functions_are_recorded_between_launches():
    x0, v0, k = _state(4)

    def reference(x0):
        x = reference_springs_state(x0, v0, k)
        return energy.python_function(smoothed.python_function(x, 0.3), 1.5)

    xs, vs = np.zeros((STEPS + 1, N)), np.zeros((STEPS + 1, N))
    xs[0], vs[0] = x0, v0
    tape = srcad.Tape()
    with tape:
        for t in range(STEPS):
            spring_step.launch(N, xs[t], vs[t], k, xs[t + 1], vs[t + 1], DT)
        y = smoothed(xs[STEPS], 0.3)
        e = energy(y, 1.5)
    assert e == pytest.approx(reference(x0), rel=1e-12)
    tape.backward(e)
    np.testing.assert_allclose(tape.gradient(xs[0]), fd_gradient(reference, x0), rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="no recorded"):
        tape.backward(e * 2.0)


def reference_springs_state(x0, v0, k):
    return reference_springs(x0, v0, k)[1]


@srcad.kernel
def squares_with_a_helper_defined_below(x, y):
    i = srcad.tid()
    y[i] = kernel_helper_below(x[i])


def kernel_helper_below(v):
    return v * v + 1.0


def test_kernels_may_call_helpers_defined_below():
    x, y = np.array([0.5, -1.0, 2.0]), np.zeros(3)
    squares_with_a_helper_defined_below.launch(3, x, y)
    np.testing.assert_allclose(y, x * x + 1.0, rtol=1e-15)


@srcad.kernel
def gather_and_neighbour(x, idx, w, y):
    i = srcad.tid()
    t = w[0] * x[idx[i]]
    if i > 0:
        t += x[i - 1] * x[i]
    y[i] = t


def test_large_launches_spill_additions_outside_their_chunk_and_add_them_up():
    # parallel launches: each chunk adds directly into its own rows of x's adjoint and spills the rest
    # (a neighbour's row at its edge, the rows a gather picks at random, w's one element)
    n = 50000
    rng = np.random.default_rng(0)
    x, idx, w = rng.normal(size=n), rng.integers(0, n, size=n), np.array([0.7])
    y, loss = np.zeros(n), np.zeros(1)
    tape = srcad.Tape()
    with tape:
        gather_and_neighbour.launch(n, x, idx, w, y)
        sum_of_squares.launch(n, y, loss)
    tape.backward(loss)
    y_adj = 2.0 * y  # the closed form, element by element
    expected = np.zeros(n)
    np.add.at(expected, idx, y_adj * w[0])
    expected[:-1] += y_adj[1:] * x[1:]
    expected[1:] += y_adj[1:] * x[:-1]
    np.testing.assert_allclose(tape.gradient(x), expected, rtol=1e-12, atol=1e-12)
    assert tape.gradient(w)[0] == pytest.approx(np.sum(y_adj * x[idx]), rel=1e-12)


def test_launches_alternating_contiguous_and_strided_arrays_are_each_right():
    grid = np.arange(1.0, 13.0).reshape(4, 3)
    for x in (grid[:, 0], grid[1], grid[:, 2], grid[2], grid.T[1].astype(np.float32)):  # strided, contiguous, ...
        for _ in range(2):  # the second launch takes the fast path
            loss = np.zeros(1, dtype=x.dtype)
            tape = srcad.Tape()
            with tape:
                sum_of_squares.launch(x.shape[0], x, loss)
            assert loss[0] == pytest.approx(np.sum(x.astype(np.float64) ** 2), rel=1e-6)
            tape.backward(loss)
            np.testing.assert_allclose(tape.gradient(x), 2.0 * x, rtol=1e-6)


def test_ping_pong_buffers_are_copied_before_they_are_overwritten():
    # Two buffers used in turn: each launch after the first two writes memory an earlier launch read.
    # Launches of known types are recorded in one compiled call, which must still ask for the copies.
    x0, v0, k = _state(4)
    xa, va, xb, vb, loss = x0.copy(), v0.copy(), np.zeros(N), np.zeros(N), np.zeros(1)
    tape = srcad.Tape()
    with tape:
        for t in range(STEPS):
            if t % 2 == 0:
                spring_step.launch(N, xa, va, k, xb, vb, DT)
            else:
                spring_step.launch(N, xb, vb, k, xa, va, DT)
        sum_of_squares.launch(N, xb if STEPS % 2 else xa, loss)
    assert sum(1 for launch in tape.launches if launch.saved) >= STEPS - 2
    value, _ = reference_springs(x0, v0, k)
    assert loss[0] == pytest.approx(value, rel=1e-12)
    tape.backward(loss)
    np.testing.assert_allclose(tape.gradient(xa), fd_gradient(lambda a: reference_springs(a, v0, k)[0], x0),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(tape.gradient(k), fd_gradient(lambda q: reference_springs(x0, v0, q)[0], k),
                               rtol=1e-6, atol=1e-8)


def test_launches_of_known_types_are_recorded_in_one_compiled_call():
    # xs[t] -> xs[t + 1]: nothing to copy; the compiled bookkeeping keeps one range per array read.
    x0, v0, k = _state(5)
    tape = srcad.Tape()
    xs, vs, loss = record_springs(x0, v0, k, tape)
    ranges = tape._read["cpu"]
    assert not any(launch.saved for launch in tape.launches)
    assert ranges.count == 3  # xs's rows, vs's rows and k, each merged into one range
    tape.backward(loss)
    np.testing.assert_allclose(tape.gradient(xs[0]), fd_gradient(lambda a: reference_springs(a, v0, k)[0], x0),
                               rtol=1e-6, atol=1e-8)


@srcad.kernel
def clipped_cubes(x, y):
    i = srcad.tid()
    if x[i] > 0.0: y[i] = x[i] ** 3
    else: y[i] = -x[i]


def test_kernels_with_one_line_branches():
    x = np.linspace(-1.0, 1.0, 10) + 0.05
    y, loss = np.zeros(10), np.zeros(1)
    tape = srcad.Tape()
    with tape:
        clipped_cubes.launch(10, x, y)
        sum_of_squares.launch(10, y, loss)
    np.testing.assert_allclose(y, np.where(x > 0.0, x**3, -x), rtol=1e-14)
    tape.backward(loss)
    np.testing.assert_allclose(tape.gradient(x), np.where(x > 0.0, 6.0 * x**5, 2.0 * x), rtol=1e-12)
