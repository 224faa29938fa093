"""Kernels and the tape on the CPU: the cost of recording and differentiating many small launches,
and the throughput of one large adjoint launch against its forward launch.

1. Tape overhead: a damped spring chain, n = 256 masses, T = 2000 steps, one kernel launch per step
   and a loss kernel; the forward pass recorded on a srcad.Tape, then tape.backward. Printed per
   launch, next to the same simulation written as one @srcad.differentiable function (its
   srcad.grad), and Warp's CPU tape when warp-lang is installed.
2. Throughput: n = 10**6, one launch of the step kernel forward and its adjoint, with numba's
   threads (2 on CI machines). Target: adjoint <= 3x forward.

Run:  python benchmarks/tape.py [--repeats 5]

Times are best-of-rounds, contenders timed in turn each round. The script prints times and ratios
and asserts nothing about them; it exits non-zero only if srcad's gradient disagrees with the one
from the differentiable function.
"""

import argparse
import sys

import numba
import numpy as np

import srcad
from timing import timed_rounds  # benchmarks/timing.py

TARGET_PER_LAUNCH_PAIR_US = 10.0
TARGET_THROUGHPUT = 3.0
STIFFNESS, COUPLING, DAMPING, DT = 2.0, 5.0, 0.05, 0.01


@srcad.kernel
def chain_step(x, v, k, x_out, v_out, dt):
    i = srcad.tid()
    f = -k[0] * x[i] - DAMPING * v[i]
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


def chain_loss(x0, v0, k, dt, steps):
    """The same simulation as one differentiable function (the reference for the tape's gradient)."""
    n = x0.shape[0]
    x, v = x0.copy(), v0.copy()
    f = np.zeros(n)
    for _ in range(steps):
        for i in range(n):
            f[i] = -k[0] * x[i] - DAMPING * v[i]
            if i > 0:
                f[i] += k[1] * (x[i - 1] - x[i])
            if i < n - 1:
                f[i] += k[1] * (x[i + 1] - x[i])
        for i in range(n):
            v[i] += dt * f[i]
            x[i] += dt * v[i]
    loss = 0.0
    for i in range(n):
        loss += x[i] * x[i]
    return loss


class Recorded:
    """The simulation recorded on a tape: forward() records, backward() differentiates."""

    def __init__(self, n, steps):
        self.n, self.steps = n, steps
        self.xs, self.vs = np.zeros((steps + 1, n)), np.zeros((steps + 1, n))
        self.xs[0] = np.linspace(-1.0, 1.0, n) + 0.05 * np.sin(np.arange(n))
        self.k, self.loss, self.tape = np.array([STIFFNESS, COUPLING]), np.zeros(1), srcad.Tape()

    def forward(self):
        self.loss[0] = 0.0
        with self.tape:
            for t in range(self.steps):
                chain_step.launch(self.n, self.xs[t], self.vs[t], self.k, self.xs[t + 1], self.vs[t + 1], DT)
            sum_of_squares.launch(self.n, self.xs[self.steps], self.loss)

    def backward(self):
        self.tape.zero()
        self.tape.backward(self.loss)


def warp_contender(n, steps):
    try:
        import warp as wp
    except ImportError:
        return None
    wp.init()

    @wp.kernel
    def step(x: wp.array(dtype=float), v: wp.array(dtype=float), k: wp.array(dtype=float),
             x_out: wp.array(dtype=float), v_out: wp.array(dtype=float), dt: float):
        i = wp.tid()
        f = -k[0] * x[i] - 0.05 * v[i]
        if i > 0:
            f += k[1] * (x[i - 1] - x[i])
        if i < n - 1:
            f += k[1] * (x[i + 1] - x[i])
        v_out[i] = v[i] + dt * f
        x_out[i] = x[i] + dt * v_out[i]

    xs = [wp.zeros(n, dtype=float, device="cpu", requires_grad=True) for _ in range(steps + 1)]
    vs = [wp.zeros(n, dtype=float, device="cpu", requires_grad=True) for _ in range(steps + 1)]
    k = wp.array([STIFFNESS, COUPLING], dtype=float, device="cpu", requires_grad=True)

    def forward_and_backward():
        tape = wp.Tape()
        with tape:
            for t in range(steps):
                wp.launch(step, dim=n, inputs=[xs[t], vs[t], k, xs[t + 1], vs[t + 1], DT], device="cpu")
        tape.backward(grads={xs[steps]: wp.ones(n, dtype=float, device="cpu")})

    return forward_and_backward


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2000)
    options = parser.parse_args()
    n, steps = 256, options.steps

    # 1. tape overhead
    recorded = Recorded(n, steps)
    recorded.forward()
    recorded.backward()
    expected = srcad.grad(chain_loss, wrt=(0, 2))(recorded.xs[0].copy(), np.zeros(n), recorded.k, DT, steps)
    got = (recorded.tape.gradient(recorded.xs[0]), recorded.tape.gradient(recorded.k))
    agree = all(np.allclose(g, e, rtol=1e-9, atol=1e-12) for g, e in zip(got, expected))
    gradient = srcad.grad(chain_loss, wrt=(0, 2))
    x0, v0 = recorded.xs[0].copy(), np.zeros(n)
    contenders = {
        "tape: record (forward launches)": lambda: recorded.forward(),
        "tape: backward (adjoint launches)": lambda: recorded.backward(),
        "one differentiable function, grad": lambda: gradient(x0, v0, recorded.k, DT, steps),
    }
    warp = warp_contender(n, steps)
    if warp is not None:
        warp()
        contenders["warp CPU tape, forward + backward"] = warp
    best = timed_rounds(contenders, (), options.repeats)
    launches = steps + 1
    print(f"tape overhead: n = {n}, {steps} steps ({launches} launches), best of {options.repeats}")
    print(f"{'contender':40s} {'total (ms)':>10s} {'per launch (us)':>16s}")
    for name, seconds in best.items():
        print(f"{name:40s} {seconds * 1e3:10.2f} {seconds / launches * 1e6:16.1f}")
    pair = (best["tape: record (forward launches)"] + best["tape: backward (adjoint launches)"]) / launches * 1e6
    verdict = "met" if pair <= TARGET_PER_LAUNCH_PAIR_US else "ABOVE target"
    print(f"launch + adjoint per step: {pair:.1f} us (target <= {TARGET_PER_LAUNCH_PAIR_US} us: {verdict})")
    print(f"tape gradient agrees with grad of the one-function version: {agree}")

    # 2. throughput of a large launch
    big = 10**6
    x, v, k = np.linspace(-1.0, 1.0, big), np.zeros(big), np.array([STIFFNESS, COUPLING])
    x_out, v_out = np.zeros(big), np.zeros(big)
    tape = srcad.Tape()
    with tape:
        chain_step.launch(big, x, v, k, x_out, v_out, DT)
    module = chain_step.module("adjoint", tape.launches[0].signature)
    adjoints = [np.zeros(big), np.zeros(big), np.zeros(2), np.ones(big), np.ones(big)]
    threads = numba.get_num_threads()
    timings = timed_rounds({
        "forward launch": lambda: chain_step.launch(big, x, v, k, x_out, v_out, DT),
        "adjoint launch": lambda: module.module.srcad_launch(big, threads, x, v, k, x_out, v_out, DT, 0.0, *adjoints),
    }, (), options.repeats)
    print(f"\nthroughput: n = {big}, {threads} threads, best of {options.repeats}")
    for name, seconds in timings.items():
        print(f"{name:40s} {seconds * 1e3:10.2f} ms   {big * 8 * 5 / seconds / 1e9:6.2f} GB/s of arguments")
    ratio = timings["adjoint launch"] / timings["forward launch"]
    verdict = "met" if ratio <= TARGET_THROUGHPUT else "ABOVE target"
    print(f"adjoint / forward: {ratio:.2f}x (target <= {TARGET_THROUGHPUT}x: {verdict})")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
