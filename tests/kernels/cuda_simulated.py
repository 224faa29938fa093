"""Run with NUMBA_ENABLE_CUDASIM=1 (tests/kernels/test_kernels_cuda.py starts it in a subprocess): the kernel
tests' simulations on device="cuda", in numba's CUDA simulator, checked against the same NumPy
references and central differences as on the CPU. Exits non-zero on any mismatch. Where a GPU is
there, the same test also runs it without the simulator, on the GPU."""

import os
import sys

import numpy as np

from numba import cuda  # noqa: E402

assert os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" or cuda.is_available(), "no GPU: run me with NUMBA_ENABLE_CUDASIM=1"

import srcad  # noqa: E402

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the tests it reuses, and their oracles
sys.path[:0] = [os.path.join(_TESTS, "kernels"), os.path.join(_TESTS, "frontend"), os.path.join(_TESTS, "api"),
                _TESTS]  # as conftest.py
from test_kernels import (  # noqa: E402
    DT, N, STEPS, USER_KERNELS, _state, energy, euler_in_place, fd_gradient, record_diffusion, reference_diffusion,
    reference_in_place, reference_springs, run_user_kernel, smoothed, spring_step, sum_of_squares,
)
from test_tape_checkpoints import record_in_place  # noqa: E402
from test_nested_derivatives import FORCE_KERNELS, kick_and_drift, particles_by_hand, squares_into  # noqa: E402


def check(name, got, expected, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=name)
    print(f"ok {name}")


def springs():
    x0, v0, k = _state()
    xs_host, vs_host = np.zeros((STEPS + 1, N)), np.zeros((STEPS + 1, N))
    xs_host[0], vs_host[0] = x0, v0
    xs, vs, kd, loss = cuda.to_device(xs_host), cuda.to_device(vs_host), cuda.to_device(k), cuda.to_device(np.zeros(1))
    tape = srcad.Tape()
    with tape:
        for t in range(STEPS):
            spring_step.launch(N, xs[t], vs[t], kd, xs[t + 1], vs[t + 1], DT, device="cuda")
        sum_of_squares.launch(N, xs[STEPS], loss, device="cuda")
    check("springs loss", loss.copy_to_host()[0], reference_springs(x0, v0, k)[0], rtol=1e-12)
    tape.backward(loss)
    check("springs d/dx0", tape.gradient(xs[0]).copy_to_host(), fd_gradient(lambda x: reference_springs(x, v0, k)[0], x0))
    check("springs d/dk", tape.gradient(kd).copy_to_host(), fd_gradient(lambda q: reference_springs(x0, v0, q)[0], k))


def in_place():
    x0, v0, k = _state(2)
    x, v, kd, loss = cuda.to_device(x0), cuda.to_device(v0), cuda.to_device(k), cuda.to_device(np.zeros(1))
    tape = srcad.Tape()
    with tape:
        for _ in range(STEPS):
            euler_in_place.launch(N, x, v, kd, DT, device="cuda")
        sum_of_squares.launch(N, x, loss, device="cuda")
    tape.backward(loss)
    check("in place d/dx0", tape.gradient(x).copy_to_host(), fd_gradient(lambda a: reference_in_place(a, v0, k, STEPS), x0))
    check("in place d/dk", tape.gradient(kd).copy_to_host(), fd_gradient(lambda q: reference_in_place(x0, v0, q, STEPS), k))


@srcad.kernel(tape_capacity=4)
def power_sum(x, out, p):
    i = srcad.tid()
    y = x[i]
    for _ in range(p):
        y = y * x[i] + 0.1
    out[i] = y


def checkpointed_in_place():
    """A checkpointed tape on device arrays: snapshots and segments run again on the device."""
    x0, v0, k = _state(3)
    tape = srcad.Tape(checkpoint=4)
    x, v, f, kd, loss = record_in_place(x0, v0, k, tape, device="cuda", place=cuda.to_device)
    tape.backward(loss)
    check("checkpointed d/dx0", tape.gradient(x).copy_to_host(), fd_gradient(lambda a: reference_springs(a, v0, k)[0], x0))
    check("checkpointed d/dk", tape.gradient(kd).copy_to_host(), fd_gradient(lambda q: reference_springs(x0, v0, q)[0], k))
    check("checkpointed x after backward", x.copy_to_host(), reference_springs(x0, v0, k)[1], rtol=1e-12)
    check("checkpointed loss after backward", loss.copy_to_host()[0], reference_springs(x0, v0, k)[0], rtol=1e-12)
    segments = -(-(2 * STEPS + 1) // 4)
    assert 0 < tape.kept_bytes() <= segments * 3 * N * 8 + 8, tape.kept_bytes()  # x, v, f per 4 launches, and the loss


def two_dimensions():
    u0, c = np.random.default_rng(7).uniform(0.5, 1.5, size=(5, 7)), np.array([0.05])
    tape = srcad.Tape()
    cd = cuda.to_device(c)
    us, loss = record_diffusion(u0, cd, 3, tape, device="cuda", place=cuda.to_device)
    tape.backward(loss)
    check("2-D d/du0", tape.gradient(us[0]).copy_to_host(), fd_gradient(lambda u: reference_diffusion(u, c, 3), u0))
    check("2-D d/dc", tape.gradient(cd).copy_to_host(), fd_gradient(lambda q: reference_diffusion(u0, q, 3), c))


def user_kernels():
    for name in sorted(USER_KERNELS):
        loss, expected_loss, got, expected = run_user_kernel(name, "cuda", cuda.to_device, lambda a: a.copy_to_host())
        check(f"{name} loss", loss, expected_loss, rtol=1e-12)
        for g, e in zip(got, expected):
            check(f"{name} gradient", g, e, rtol=1e-6, atol=1e-7)


def differentiable_calls_on_device_arrays():
    """@srcad.differentiable calls between CUDA launches: run on host copies, recorded with the device arrays."""
    x0, v0, k = _state(4)

    def reference(x0):
        x = reference_springs(x0, v0, k)[1]
        return energy.python_function(smoothed.python_function(x, 0.3), 1.5)

    xs_host, vs_host = np.zeros((STEPS + 1, N)), np.zeros((STEPS + 1, N))
    xs_host[0], vs_host[0] = x0, v0
    xs, vs, kd = cuda.to_device(xs_host), cuda.to_device(vs_host), cuda.to_device(k)
    tape = srcad.Tape()
    with tape:
        for t in range(STEPS):
            spring_step.launch(N, xs[t], vs[t], kd, xs[t + 1], vs[t + 1], DT, device="cuda")
        y = smoothed(xs[STEPS], 0.3)  # an array output: a device array
        e = energy(y, 1.5)
    assert type(y).__name__ == "FakeCUDAArray" or cuda.is_cuda_array(y), type(y)
    tape.backward(e)
    check("device call value", e, reference(x0), rtol=1e-12)
    check("device call d/dx0", tape.gradient(xs[0]).copy_to_host(), fd_gradient(reference, x0))


def tape_overflow():
    x, out = cuda.to_device(np.full(3, 0.5)), cuda.to_device(np.zeros(3))
    loss = cuda.to_device(np.zeros(1))
    tape = srcad.Tape()
    with tape:
        power_sum.launch(3, x, out, 10, device="cuda")
        sum_of_squares.launch(3, out, loss, device="cuda")
    try:
        tape.backward(loss)
    except RuntimeError as error:
        assert "tape_capacity" in str(error), error
        print("ok tape overflow refused")
        return
    raise AssertionError("a tape overflow went unnoticed")


def module_level_table():
    from test_global_arrays import WEIGHTS, scaled_squares

    x = np.array([0.3, 0.7, -0.2])
    xd, loss = cuda.to_device(x), cuda.to_device(np.zeros(1))
    tape = srcad.Tape()
    with tape:
        scaled_squares.launch(3, xd, loss, device="cuda")
    tape.backward(loss)
    check("module-level table loss", loss.copy_to_host(), np.sum(WEIGHTS * x * x), rtol=1e-12)
    check("module-level table gradient", tape.gradient(xd).copy_to_host(), 2.0 * WEIGHTS * x, rtol=1e-12)


def module_constants():
    from test_module_constants import drift

    x, v = cuda.to_device(np.array([0.0, 1.0, 2.0])), cuda.to_device(np.array([1.0, 2.0, 3.0]))
    drift.launch(3, x, v, device="cuda")
    check("constants of a module", x.copy_to_host(), [0.005, 1.01, 2.015], rtol=1e-14)


def block_sums():
    """Parameters every thread reads: their adjoints summed per block (the last block part empty)."""
    from test_atomic_partials import pulled, pulled_in_odd_blocks

    n = 1000
    x = np.linspace(-1.0, 1.5, n)
    k = np.array([0.7, -1.3])
    for kernel, expected_k, expected_x in (
        (pulled, [np.sum(x * x), np.sum(x)], 2.0 * k[0] * x + k[1]),
        (pulled_in_odd_blocks, [np.sum(x), 0.0], np.full(n, k[0])),
    ):
        xd, kd, y, loss = cuda.to_device(x), cuda.to_device(k), cuda.to_device(np.zeros(n)), cuda.to_device(np.zeros(1))
        tape = srcad.Tape()
        with tape:
            kernel.launch(n, xd, kd, y, device="cuda")
            sum_of_y.launch(n, y, loss, device="cuda")
        tape.backward(loss)
        check(f"{kernel.__name__} d/dk", tape.gradient(kd).copy_to_host(), expected_k, rtol=1e-12)
        check(f"{kernel.__name__} d/dx", tape.gradient(xd).copy_to_host(), expected_x, rtol=1e-12)
    try:  # launches of argument types seen before skip the checks: new types still get them
        sum_of_y.launch(n, np.zeros(n), loss, device="cuda")
    except TypeError as refused:
        check("a NumPy array refused after launches of device arrays", "to_device" in str(refused), True)
    else:
        raise AssertionError("a NumPy array was launched on device='cuda'")


@srcad.kernel
def sum_of_y(y, loss):
    i = srcad.tid()
    srcad.atomic_add(loss, 0, y[i])


def forces_from_an_energy():
    """A force kernel calling srcad.grad(energy): on CUDA the derivative is inlined into the kernel."""
    n, k_value = 8, 2.0
    for kernel, force in FORCE_KERNELS:
        x, v, f = (cuda.to_device(a) for a in (np.linspace(0.5, 1.5, n), np.zeros(n), np.zeros(n)))
        k, loss = cuda.to_device(np.array([k_value])), cuda.to_device(np.zeros(1))
        tape = srcad.Tape()
        with tape:
            for _ in range(20):
                kernel.launch(n, x, k, f, device="cuda")
                kick_and_drift.launch(n, x, v, f, 0.05, device="cuda")
            squares_into.launch(n, x, loss, device="cuda")
        check(f"{kernel.__name__}: loss", loss.copy_to_host()[0], particles_by_hand(k_value, force=force), rtol=1e-12)
        tape.backward(loss)
        check(f"{kernel.__name__}: d/dk", tape.gradient(k).copy_to_host(),
              fd_gradient(lambda q: particles_by_hand(q[0], force=force), np.array([k_value])))


if __name__ == "__main__":
    forces_from_an_energy()
    block_sums()
    springs()
    module_level_table()
    module_constants()
    in_place()
    checkpointed_in_place()
    two_dimensions()
    user_kernels()
    differentiable_calls_on_device_arrays()
    tape_overflow()
