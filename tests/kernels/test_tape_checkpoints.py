"""``srcad.Tape(checkpoint=...)``: snapshots every k launches, segments run again in ``backward``.

Gradients against central differences of the NumPy reference of the same simulation, and bit for bit
against a storing tape (the same adjoint launches, in the same order); the arrays left as the
launches left them; what the tape keeps."""

import numpy as np
import pytest

import srcad
from test_kernels import N, STEPS, DT, _state, energy, fd_gradient, reference_springs, smoothed, sum_of_squares, spring_step


@srcad.kernel
def forces(x, k, f):
    i = srcad.tid()
    total = -k[0] * x[i] + 0.3 * np.sin(x[i])
    if i > 0:
        total += k[1] * (x[i - 1] - x[i])
    if i < x.shape[0] - 1:
        total += k[1] * (x[i + 1] - x[i])
    f[i] = total


@srcad.kernel
def advance(x, v, f, dt):
    i = srcad.tid()
    v[i] += dt * f[i]
    x[i] += dt * v[i]


def record_in_place(x0, v0, k, tape, steps=STEPS, device="cpu", place=lambda a: a):
    """The springs of ``reference_springs`` with buffers a user reuses: x, v updated in place, f a
    scratch array written every step."""
    x, v, f, kd, loss = place(x0.copy()), place(v0.copy()), place(np.zeros_like(x0)), place(k), place(np.zeros(1))
    with tape:
        for _ in range(steps):
            forces.launch(len(x0), x, kd, f, device=device)
            advance.launch(len(x0), x, v, f, DT, device=device)
        sum_of_squares.launch(len(x0), x, loss, device=device)
    return x, v, f, kd, loss


def gradients(tape, *arrays):
    return [tape.gradient(a) for a in arrays]


@pytest.mark.parametrize("checkpoint", [1, 4, 7, "auto"])
def test_in_place_buffers_checkpointed(checkpoint):
    x0, v0, k = _state(3)
    stored = srcad.Tape()
    x, v, f, kd, loss = record_in_place(x0, v0, k, stored)
    stored.backward(loss)
    expected = gradients(stored, x, v, kd)

    tape = srcad.Tape(checkpoint=checkpoint)
    x, v, f, kd, loss = record_in_place(x0, v0, k, tape)
    after = [x.copy(), v.copy(), f.copy(), loss.copy()]
    tape.backward(loss)
    got = gradients(tape, x, v, kd)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)  # the same adjoint launches in the same order
    np.testing.assert_allclose(got[0], fd_gradient(lambda a: reference_springs(a, v0, k)[0], x0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got[2], fd_gradient(lambda q: reference_springs(x0, v0, q)[0], k), rtol=1e-6, atol=1e-8)
    for array, values in zip((x, v, f, loss), after):  # backward leaves the arrays as the launches left them
        np.testing.assert_array_equal(array, values)
    np.testing.assert_allclose(x, reference_springs(x0, v0, k)[1], rtol=1e-12)


@pytest.mark.parametrize("checkpoint", [1, 3, "auto"])
def test_two_buffers_in_turn(checkpoint):
    """Ping-pong: each step reads one pair of buffers and writes the other."""
    x0, v0, k = _state(7)
    results = []
    for tape in (srcad.Tape(), srcad.Tape(checkpoint=checkpoint)):
        xa, va, xb, vb, loss = x0.copy(), v0.copy(), np.zeros(N), np.zeros(N), np.zeros(1)
        with tape:
            for t in range(STEPS):
                if t % 2 == 0:
                    spring_step.launch(N, xa, va, k, xb, vb, DT)
                else:
                    spring_step.launch(N, xb, vb, k, xa, va, DT)
            sum_of_squares.launch(N, xb if STEPS % 2 else xa, loss)
        tape.backward(loss)
        results.append((tape.gradient(xa), tape.gradient(va), tape.gradient(k), xb.copy(), loss[0]))
    for got, expected in zip(results[1], results[0]):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(results[1][0], fd_gradient(lambda a: reference_springs(a, v0, k)[0], x0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(results[1][3], reference_springs(x0, v0, k)[1], rtol=1e-12)


def test_snapshots_instead_of_copies_per_launch():
    x0, v0, k = _state(5)
    steps, every = 60, 10
    stored, checkpointed = srcad.Tape(), srcad.Tape(checkpoint=every)
    record_in_place(x0, v0, k, stored, steps)
    record_in_place(x0, v0, k, checkpointed, steps)
    state = 3 * N * 8  # x, v and f
    assert stored.kept_bytes() >= (steps - 1) * state  # each launch copies what it overwrites
    segments = -(-(2 * steps + 1) // every)
    assert checkpointed.kept_bytes() <= segments * (state + 8)  # one snapshot per segment (the loss's 8 bytes too)
    assert checkpointed.kept_bytes() >= (segments - 2) * state


def test_auto_segments_grow_like_the_square_root():
    x0, v0, k = _state(6)
    kept = []
    for steps in (25, 400):
        tape = srcad.Tape(checkpoint="auto")
        record_in_place(x0, v0, k, tape, steps)
        kept.append(tape.kept_bytes())
    assert kept[1] < 6 * kept[0]  # 16x the launches, about 4x the snapshots


def test_memory_written_once_needs_no_snapshot():
    """A preallocated trajectory: each row written by one launch, which writes it again when run again."""
    x0, v0, k = _state(1)
    xs, vs, loss = np.zeros((STEPS + 1, N)), np.zeros((STEPS + 1, N)), np.zeros(1)
    xs[0], vs[0] = x0, v0
    tape = srcad.Tape(checkpoint=4)
    with tape:
        for t in range(STEPS):
            spring_step.launch(N, xs[t], vs[t], k, xs[t + 1], vs[t + 1], DT)
        sum_of_squares.launch(N, xs[STEPS], loss)
    assert tape.kept_bytes() == 8  # only the loss, which the last launch adds into
    tape.backward(loss)
    np.testing.assert_allclose(tape.gradient(xs[0]), fd_gradient(lambda a: reference_springs(a, v0, k)[0], x0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(xs[STEPS], reference_springs(x0, v0, k)[1], rtol=1e-12)


@srcad.kernel
def scaled(x, a, y):
    i = srcad.tid()
    y[i] = a * x[i]


def test_memory_written_twice_ends_with_the_last_values():
    """y written by two launches, nothing reading it between: run again, the first would leave its
    own values in y unless the second's overwrite is snapshotted."""
    x, y, loss = np.array([0.5, -1.0, 2.0]), np.zeros(3), np.zeros(1)
    tape = srcad.Tape(checkpoint=1)
    with tape:
        scaled.launch(3, x, 2.0, y)
        scaled.launch(3, x, 3.0, y)
        sum_of_squares.launch(3, y, loss)
    tape.backward(loss)
    np.testing.assert_array_equal(y, 3.0 * x)
    np.testing.assert_allclose(tape.gradient(x), 18.0 * x, rtol=1e-15)
    assert loss[0] == pytest.approx(np.sum(9.0 * x * x), rel=1e-15)


def test_recorded_calls_inside_checkpointed_segments():
    x0, v0, k = _state(4)

    def reference(x0):
        x = reference_springs(x0, v0, k)[1]
        return energy.python_function(smoothed.python_function(x, 0.3), 1.5)

    tape = srcad.Tape(checkpoint=3)
    x, v, f, loss = x0.copy(), v0.copy(), np.zeros(N), None
    with tape:
        for _ in range(STEPS):
            forces.launch(N, x, k, f)
            advance.launch(N, x, v, f, DT)
        y = smoothed(x, 0.3)
        loss = energy(y, 1.5)
    assert loss == pytest.approx(reference(x0), rel=1e-12)
    tape.backward(loss)
    np.testing.assert_allclose(tape.gradient(x), fd_gradient(reference, x0), rtol=1e-6, atol=1e-8)
    tape.zero()
    tape.backward(loss)  # twice: the snapshots are kept
    np.testing.assert_allclose(tape.gradient(x), fd_gradient(reference, x0), rtol=1e-6, atol=1e-8)


def test_many_threads_checkpointed():
    n = 5000
    x0, v0, k = np.linspace(-1.0, 1.0, n), np.cos(np.linspace(0.0, 3.0, n)) * 0.1, np.array([1.5, 4.0])
    stored, checkpointed = srcad.Tape(), srcad.Tape(checkpoint=5)
    expected = record_in_place(x0, v0, k, stored, steps=12)
    got = record_in_place(x0, v0, k, checkpointed, steps=12)
    stored.backward(expected[-1])
    checkpointed.backward(got[-1])
    np.testing.assert_allclose(checkpointed.gradient(got[0]), stored.gradient(expected[0]), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(checkpointed.gradient(got[3]), stored.gradient(expected[3]), rtol=1e-12)
    np.testing.assert_allclose(got[0], reference_springs(x0, v0, k, steps=12)[1], rtol=1e-12)


@pytest.mark.parametrize("option", [0, -2, 1.5, True, "always"])
def test_checkpoint_options_are_checked(option):
    with pytest.raises(TypeError, match="checkpoint"):
        srcad.Tape(checkpoint=option)


def test_progress_is_shown_where_asked(capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def without_tqdm(name, *args, **kwargs):  # the plain line srcad shows where tqdm is not installed
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_tqdm)
    x0, v0, k = _state(2)
    for checkpoint in (None, 3):
        tape = srcad.Tape(checkpoint=checkpoint)
        x, v, f, kd, loss = record_in_place(x0, v0, k, tape)
        tape.backward(loss)
        assert capsys.readouterr().err == ""
        tape.zero()
        tape.backward(loss, progress=True)
        shown = capsys.readouterr().err
        assert f"backward: {2 * STEPS + 1}/{2 * STEPS + 1} (100%)" in shown, shown
        np.testing.assert_allclose(tape.gradient(x), fd_gradient(lambda a: reference_springs(a, v0, k)[0], x0), rtol=1e-6, atol=1e-8)
