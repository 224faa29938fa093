"""A temporary made anew in each iteration gets one buffer, made before the loop
(``transforms/reverse/hoisted_buffers.py``): gradients against central differences of the user's
plain function where the buffer is used and where it must not be, and the loop allocating no more."""

import numpy as np
from test_fused_gradients import _check  # the user's plain function against central differences
from test_recycled_adjoints import _reverse_loop

import srcad


def _loop_of_forward_sweep(source):
    return source.split("# forward sweep")[1].split("# reverse sweep")[0]


def upwind(u0, speed, steps):
    u = u0.copy()
    for _ in range(steps):
        flux = speed * u  # dead by the next step: one buffer
        u = u - 0.4 * (flux - np.roll(flux, 1))
    return np.sum((u - u0) ** 2)


def test_a_temporary_of_each_step_gets_one_buffer():
    rng = np.random.default_rng(0)
    args = (np.sin(np.linspace(0.0, 6.0, 9)), 1.0 + 0.1 * rng.uniform(size=9), 6)
    _check(upwind, args, (0, 1))
    source = srcad.source(upwind, "adjoint", args=args, wrt=(0, 1))
    forward = _loop_of_forward_sweep(source)
    assert "flux_buffer = np.empty(" in forward and "flux = flux_buffer" in forward
    assert "flux = np.empty(u" not in source  # (the placeholder np.empty((0,)) that numba types it with stays)


def moving_spike(u0, steps):
    n = u0.shape[0]
    u = u0 * 1.0
    for t in range(steps):
        spike = np.zeros(n)  # zeros again each step: one element set, a different one each step
        spike[t % n] = u[t % n]
        u = u + 0.5 * np.tanh(spike) * u
    return np.sum(u * u)


def test_a_buffer_of_zeros_is_filled_with_zeros_again_each_step():
    args = (np.linspace(0.2, 1.0, 5), 9)
    _check(moving_spike, args, (0,))  # (stale elements of an earlier step would change the value)
    source = srcad.source(moving_spike, "adjoint", args=args, wrt=(0,))
    assert "spike = spike_buffer" in source and "spike.fill(0)" in source


def carried(u0, steps):
    u = u0 * 1.0
    previous = u0 * 0.0
    for _ in range(steps):
        flux = np.sin(u)
        u = u + 0.1 * (flux - previous)
        previous = flux  # the memory lives on into the next step under another name: no buffer
    return np.sum(u * u)


def shrinking(x, steps):
    u = x * 1.0
    for _ in range(steps):
        d = u[1:] - u[:-1]  # one element fewer each step: no shape to make a buffer of
        u = np.sin(d) + 0.5 * u[:-1]
    return np.sum(u * u)


def test_memory_that_outlives_its_step_or_changes_shape_gets_no_buffer():
    _check(carried, (np.linspace(-1.0, 1.0, 7), 5), (0,))
    assert "flux_buffer = " not in srcad.source(carried, "adjoint", args=(np.linspace(-1.0, 1.0, 7), 5), wrt=(0,))
    _check(shrinking, (np.linspace(-1.0, 1.0, 9), 5), (0,))
    assert "_buffer = " not in srcad.source(shrinking, "adjoint", args=(np.linspace(-1.0, 1.0, 9), 5), wrt=(0,))


def test_the_reverse_sweep_reruns_segments_with_the_buffer():
    """A checkpointed loop runs segments of the forward sweep again in reverse: they use the buffer too."""
    rng = np.random.default_rng(1)
    args = (np.sin(np.linspace(0.0, 6.0, 9)), 1.0 + 0.1 * rng.uniform(size=9), 12)
    checkpointed = srcad.differentiable(upwind, checkpoint=3)  # at most 3 states kept: segments run again
    reverse = _reverse_loop(srcad.source(checkpointed, "adjoint", args=args, wrt=(0, 1)))
    assert "flux = flux_buffer" in reverse
    _check(checkpointed, args, (0, 1))
