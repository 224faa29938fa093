"""Kernels and the tape on a CUDA GPU: the throughput of one large launch, forward and adjoint, as
effective memory bandwidth, and the cost per launch of recording and differentiating many small
launches. Needs a GPU (numba.cuda.is_available()); prints why and exits 0 without one.

1. Throughput: the damped spring chain of ``tape.py`` (``chain_step``), n = 2**24 threads, one
   launch forward and one adjoint, each next to the same kernel written by hand with numba.cuda
   (the adjoint by hand as an expert writes it: each thread gathers its element's adjoint from its
   neighbours, no atomics on arrays; the stiffness adjoints summed per block in shared memory, then
   one atomic addition per block). Bandwidth counts the bytes the kernel must move at least: forward reads x, v
   and writes x_out, v_out; the adjoint also reads the two output adjoints and adds into x_adj, v_adj.
2. Tape overhead: n = 256, T = 2000 steps recorded on a srcad.Tape on the GPU, then backward; per
   launch, next to a loop launching the hand-written kernels alone (the floor a tape can reach).

Run:  python benchmarks/gpu.py [--repeats 5] [--n 16777216]

Times are best of rounds, synchronized; the script asserts nothing about them. It exits non-zero
only if srcad's adjoint disagrees with the hand-written one.
"""

import argparse
import sys
import time

import numba
import numpy as np
from numba import cuda

import srcad
from tape import COUPLING, DAMPING, DT, STIFFNESS, chain_step, sum_of_squares  # benchmarks/tape.py


@cuda.jit
def step_by_hand(x, v, k, x_out, v_out, dt):
    i = cuda.grid(1)
    n = x.shape[0]
    if i < n:
        f = -k[0] * x[i] - DAMPING * v[i]
        if i > 0:
            f += k[1] * (x[i - 1] - x[i])
        if i < n - 1:
            f += k[1] * (x[i + 1] - x[i])
        v_out[i] = v[i] + dt * f
        x_out[i] = x[i] + dt * v_out[i]


BLOCK = 256  # threads per block, for the launches by hand and their shared-memory sums


@cuda.jit
def step_adjoint_by_hand(x, v, k, x_out_adj, v_out_adj, dt, x_adj, v_adj, k_adj):
    """The adjoint an expert writes: each thread gathers its own element's adjoint from its
    neighbours' force adjoints (no atomics on x_adj), and the stiffness adjoints every thread
    contributes to are summed over the block in shared memory, then added once per block."""
    i = cuda.grid(1)
    t = cuda.threadIdx.x
    n = x.shape[0]
    sums = cuda.shared.array((2, BLOCK), dtype=numba.float64)
    k0_bar = 0.0
    k1_bar = 0.0
    if i < n:
        v_new_bar = v_out_adj[i] + dt * x_out_adj[i]
        f_bar = dt * v_new_bar
        own = x_out_adj[i] - k[0] * f_bar
        k0_bar = -x[i] * f_bar
        if i > 0:
            own -= k[1] * f_bar
            own += k[1] * dt * (v_out_adj[i - 1] + dt * x_out_adj[i - 1])  # from f[i - 1]
            k1_bar += (x[i - 1] - x[i]) * f_bar
        if i < n - 1:
            own -= k[1] * f_bar
            own += k[1] * dt * (v_out_adj[i + 1] + dt * x_out_adj[i + 1])  # from f[i + 1]
            k1_bar += (x[i + 1] - x[i]) * f_bar
        x_adj[i] += own
        v_adj[i] += v_new_bar - DAMPING * f_bar
    sums[0, t] = k0_bar
    sums[1, t] = k1_bar
    cuda.syncthreads()
    stride = BLOCK // 2
    while stride > 0:
        if t < stride:
            sums[0, t] += sums[0, t + stride]
            sums[1, t] += sums[1, t + stride]
        cuda.syncthreads()
        stride //= 2
    if t == 0:
        cuda.atomic.add(k_adj, 0, sums[0, 0])
        cuda.atomic.add(k_adj, 1, sums[1, 0])


def best_of(fn, repeats, inner):
    """Best time of ``inner`` calls of ``fn`` (synchronized), over ``repeats`` rounds, per call."""
    best = float("inf")
    for _ in range(repeats):
        cuda.synchronize()
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        cuda.synchronize()
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def throughput(n, repeats):
    rng = np.random.default_rng(0)
    x, v = cuda.to_device(rng.uniform(-1.0, 1.0, n)), cuda.to_device(rng.normal(size=n))
    k = cuda.to_device(np.array([STIFFNESS, COUPLING]))
    x_out, v_out = cuda.device_array(n), cuda.device_array(n)
    x_out_adj, v_out_adj = cuda.to_device(rng.normal(size=n)), cuda.to_device(rng.normal(size=n))
    block, grid = BLOCK, (n + BLOCK - 1) // BLOCK
    chain_step.launch(n, x, v, k, x_out, v_out, DT, device="cuda")
    module = chain_step.module("adjoint", chain_step.last_signature, "cuda")

    def adjoint_buffers():
        return [cuda.to_device(np.zeros(n)), cuda.to_device(np.zeros(n)), cuda.to_device(np.zeros(2))]

    ours, theirs = adjoint_buffers(), adjoint_buffers()
    out_adjoints = [cuda.device_array(n), cuda.device_array(n)]  # kept on the GPU: restored by device copies
    out_adjoints[0].copy_to_device(x_out_adj)
    out_adjoints[1].copy_to_device(v_out_adj)

    def restore_output_adjoints():  # the generated adjoint clears the output adjoints it reads
        x_out_adj.copy_to_device(out_adjoints[0])
        v_out_adj.copy_to_device(out_adjoints[1])

    def srcad_adjoint():
        chain_step.run(module, (n,), [x, v, k, x_out, v_out, DT, 0.0, ours[0], ours[1], ours[2], x_out_adj, v_out_adj],
                       "cuda")

    def adjoint_by_hand():
        step_adjoint_by_hand[grid, block](x, v, k, x_out_adj, v_out_adj, DT, *theirs)

    restore_output_adjoints()
    srcad_adjoint()
    restore_output_adjoints()
    adjoint_by_hand()
    cuda.synchronize()
    agree = all(np.allclose(a.copy_to_host(), b.copy_to_host(), rtol=1e-9, atol=1e-9) for a, b in zip(ours, theirs))
    # Timed as launched: the values read change after the first call (srcad's adjoint zeroes the output
    # adjoints; sums grow), the work does not, so nothing is restored or subtracted between calls.
    inner = 10
    times = {
        "forward, by hand (numba.cuda)": best_of(lambda: step_by_hand[grid, block](x, v, k, x_out, v_out, DT), repeats, inner),
        "forward, srcad launch": best_of(lambda: chain_step.launch(n, x, v, k, x_out, v_out, DT, device="cuda"), repeats,
                                         inner),
        "adjoint, by hand (numba.cuda)": best_of(adjoint_by_hand, repeats, inner),
        "adjoint, srcad": best_of(srcad_adjoint, repeats, inner),
    }
    forward_bytes, adjoint_bytes = 4 * 8 * n, 8 * 8 * n
    print(f"throughput: n = {n}, best of {repeats} rounds of {inner} launches")
    for name, seconds in times.items():
        moved = forward_bytes if name.startswith("forward") else adjoint_bytes
        print(f"  {name:34s} {seconds * 1e3:9.3f} ms  {moved / seconds / 1e9:8.0f} GB/s")
    print(f"  adjoint / forward, srcad: {times['adjoint, srcad'] / times['forward, srcad launch']:.2f}x; "
          f"srcad / by hand: forward {times['forward, srcad launch'] / times['forward, by hand (numba.cuda)']:.2f}x, "
          f"adjoint {times['adjoint, srcad'] / times['adjoint, by hand (numba.cuda)']:.2f}x")
    print(f"  srcad's adjoint agrees with the hand-written one: {agree}")
    return agree


def tape_overhead(n, steps, repeats):
    x0 = np.linspace(-1.0, 1.0, n) + 0.05 * np.sin(np.arange(n))
    xs, vs = cuda.to_device(np.zeros((steps + 1, n))), cuda.to_device(np.zeros((steps + 1, n)))
    xs[0].copy_to_device(x0)
    x_rows, v_rows = [xs[t] for t in range(steps + 1)], [vs[t] for t in range(steps + 1)]  # one view per step
    k, loss, tape = cuda.to_device(np.array([STIFFNESS, COUPLING])), cuda.to_device(np.zeros(1)), srcad.Tape()

    def record():
        with tape:
            for t in range(steps):
                chain_step.launch(n, x_rows[t], v_rows[t], k, x_rows[t + 1], v_rows[t + 1], DT, device="cuda")
            sum_of_squares.launch(n, x_rows[steps], loss, device="cuda")

    def backward():
        tape.zero()
        tape.backward(loss)

    record()
    backward()
    block, grid = BLOCK, (n + BLOCK - 1) // BLOCK
    adjoints = [cuda.to_device(np.zeros(n)) for _ in range(4)] + [cuda.to_device(np.zeros(2))]

    def by_hand():
        for t in range(steps):
            step_by_hand[grid, block](x_rows[t], v_rows[t], k, x_rows[t + 1], v_rows[t + 1], DT)
        for t in range(steps - 1, -1, -1):
            step_adjoint_by_hand[grid, block](x_rows[t], v_rows[t], k, adjoints[0], adjoints[1], DT, adjoints[2],
                                              adjoints[3], adjoints[4])

    times = {
        "srcad tape: record": best_of(record, repeats, 1),
        "srcad tape: backward": best_of(backward, repeats, 1),
        "by hand: launches forward + adjoint": best_of(by_hand, repeats, 1),
    }
    launches = steps + 1
    print(f"\ntape overhead on the GPU: n = {n}, {steps} steps ({launches} launches), best of {repeats}")
    for name, seconds in times.items():
        print(f"  {name:36s} {seconds * 1e3:9.2f} ms  {seconds / launches * 1e6:7.1f} us per launch")
    pair = (times["srcad tape: record"] + times["srcad tape: backward"]) / launches * 1e6
    print(f"  srcad launch + adjoint per step: {pair:.1f} us; by hand: "
          f"{times['by hand: launches forward + adjoint'] / launches * 1e6:.1f} us")
    gradient = tape.gradient(xs[0]).copy_to_host()
    print(f"  d loss / d x0 finite everywhere: {bool(np.all(np.isfinite(gradient)))}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n", type=int, default=2**24)
    parser.add_argument("--steps", type=int, default=2000)
    options = parser.parse_args()
    if not cuda.is_available():
        print("no CUDA GPU here: nothing measured")
        return 0
    name = getattr(cuda.get_current_device(), "name", "numba's CUDA simulator")
    print(f"GPU: {name.decode() if isinstance(name, bytes) else name}")
    agree = throughput(options.n, options.repeats)
    tape_overhead(256, options.steps, options.repeats)
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
