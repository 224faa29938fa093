"""The tape's backward pass replays runs of alike launches in one compiled call (``Tape._replay``):
views of one owner per argument (``xs[t]``), numbers that change from launch to launch, 2-D
launches, launches big enough for the parallel launcher, and the fallbacks (column views,
snapshots) between them. Gradients against central differences of plain NumPy references."""

import numpy as np
import pytest

import srcad
from test_kernels import fd_gradient, sum_of_squares


@srcad.kernel
def squash(x, y, a, shift):
    i = srcad.tid()
    y[i] = a * np.tanh(x[(i + shift) % x.shape[0]]) + 0.5 * x[i]


@srcad.kernel
def heat(u, u_out, k):
    i, j = srcad.tid()
    total = u[i, j]
    if i > 0:
        total += k[0] * (u[i - 1, j] - u[i, j])
    if j > 0:
        total += k[1] * (u[i, j - 1] - u[i, j])
    u_out[i, j] = total


@srcad.kernel
def decay(x, y, k):
    i = srcad.tid()
    y[i] = x[i] - 0.1 * k[0] * x[i] * x[i]


@srcad.kernel
def push(x, v, dt):
    i = srcad.tid()
    x[i] += dt * v[i] * x[i]


@pytest.fixture
def replays(monkeypatch):
    """The lengths of the runs the backward passes replayed."""
    lengths = []
    original = srcad.Tape._replay

    def counted(self, run):
        lengths.append(len(run))
        return original(self, run)

    monkeypatch.setattr(srcad.Tape, "_replay", counted)
    return lengths


COEFFICIENTS = [0.9, -0.7, 1.3, 0.4, -1.1, 0.8]
SHIFTS = [0, 1, 3, 2, 0, 5]


def squash_reference(x0):
    x = x0.copy()
    for a, shift in zip(COEFFICIENTS, SHIFTS):
        x = a * np.tanh(np.roll(x, -shift)) + 0.5 * x
    return np.sum(x * x)


def test_numbers_that_change_from_launch_to_launch(replays):
    n = 9
    x0 = np.linspace(-1.0, 1.2, n)
    xs, loss, tape = np.zeros((len(COEFFICIENTS) + 1, n)), np.zeros(1), srcad.Tape()
    xs[0] = x0
    with tape:
        for t, (a, shift) in enumerate(zip(COEFFICIENTS, SHIFTS)):
            squash.launch(n, xs[t], xs[t + 1], a, shift)
        sum_of_squares.launch(n, xs[-1], loss)
    tape.backward(loss)
    assert replays == [len(COEFFICIENTS)]
    assert loss[0] == pytest.approx(squash_reference(x0), rel=1e-12)
    np.testing.assert_allclose(tape.gradient(xs[0]), fd_gradient(squash_reference, x0), rtol=1e-6, atol=1e-8)


def heat_reference(u0, k, steps):
    u = u0.copy()
    for _ in range(steps):
        new = u.copy()
        new[1:, :] += k[0] * (u[:-1, :] - u[1:, :])
        new[:, 1:] += k[1] * (u[:, :-1] - u[:, 1:])
        u = new
    return np.sum(u * u)


def test_two_dimensional_launches(replays):
    steps, shape = 5, (4, 3)
    u0, k = np.arange(12.0).reshape(shape) / 10.0, np.array([0.2, 0.3])
    us, loss, tape = np.zeros((steps + 1,) + shape), np.zeros(1), srcad.Tape()
    us[0] = u0
    with tape:
        for t in range(steps):
            heat.launch(shape, us[t], us[t + 1], k)
        sum_of_squares.launch(us[-1].size, us[-1].reshape(-1), loss)
    tape.backward(loss)
    assert replays == [steps]
    np.testing.assert_allclose(tape.gradient(us[0]), fd_gradient(lambda u: heat_reference(u, k, steps), u0), rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(k), fd_gradient(lambda c: heat_reference(u0, c, steps), k), rtol=1e-6)


def decay_reference(x0, k, steps):
    x = x0.copy()
    for _ in range(steps):
        x = x - 0.1 * k[0] * x * x
    return np.sum(x * x)


@pytest.mark.parametrize("layout", ["rows", "columns"])
def test_many_threads_sharing_a_read_and_strided_fallback(layout, replays):
    """5000 threads: the parallel launcher, with per-chunk partial sums for k's adjoint. Column views
    (not C-ordered) go launch by launch instead of replayed; the gradients are the same either way."""
    n, steps = 5000, 4
    x0, k = np.linspace(0.1, 1.0, n), np.array([0.7])
    xs = np.zeros((steps + 1, n)) if layout == "rows" else np.zeros((n, steps + 1))
    view = (lambda t: xs[t]) if layout == "rows" else (lambda t: xs[:, t])
    view(0)[:] = x0
    loss, tape = np.zeros(1), srcad.Tape()
    with tape:
        for t in range(steps):
            decay.launch(n, view(t), view(t + 1), k)
        sum_of_squares.launch(n, view(steps), loss)
    tape.backward(loss)
    assert replays == ([steps] if layout == "rows" else [])
    # closed form, by the chain rule along each element: d x_{t+1} / d x_t = 1 - 0.2 k x_t
    x, chain, dk = x0.copy(), np.ones(n), np.zeros(n)
    for _ in range(steps):
        dk = dk * (1.0 - 0.2 * k[0] * x) - 0.1 * x * x
        chain *= 1.0 - 0.2 * k[0] * x
        x = x - 0.1 * k[0] * x * x
    np.testing.assert_allclose(tape.gradient(view(0)), 2.0 * x * chain, rtol=1e-10)
    assert tape.gradient(k)[0] == pytest.approx(np.sum(2.0 * x * dk), rel=1e-10)


def test_snapshots_between_replayed_runs(replays):
    """In-place launches need snapshots (launch by launch); the launches around them replay."""
    n, dt = 6, 0.1
    x0, v = np.linspace(0.2, 0.7, n), np.linspace(-0.5, 0.5, n)
    k = np.array([0.4])

    def run(x0, record):
        xs, loss = np.zeros((5, n)), np.zeros(1)
        xs[0] = x0
        tape = srcad.Tape() if record else None
        if record:
            tape.__enter__()
        decay.launch(n, xs[0], xs[1], k)
        decay.launch(n, xs[1], xs[2], k)
        push.launch(n, xs[2], v, dt)
        push.launch(n, xs[2], v, dt)
        decay.launch(n, xs[2], xs[3], k)
        decay.launch(n, xs[3], xs[4], k)
        sum_of_squares.launch(n, xs[4], loss)
        if record:
            tape.__exit__(None, None, None)
            tape.backward(loss)
            return tape.gradient(xs[0]), xs
        return loss[0]

    gradient, xs = run(x0, True)
    assert replays == [2, 2]
    np.testing.assert_allclose(gradient, fd_gradient(lambda x: run(x, False), x0), rtol=1e-6)
    pushed = xs[1] - 0.1 * k[0] * xs[1] ** 2
    for _ in range(2):
        pushed = pushed + dt * v * pushed
    np.testing.assert_allclose(xs[2], pushed, rtol=1e-12)  # the arrays as the launches left them
