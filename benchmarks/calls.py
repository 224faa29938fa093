"""Calls between functions: a large helper inlined into its caller vs called through its own
generated adjoint and tangent (``srcad/callees.py``), measured side by side in one run.

The helper is one bond's energy of a chain of particles in 2-D (a stretched spring, a bending
term with the next bond, a soft wall), 65 statements in srcad's normal form; the caller
sums it over the bonds from three call sites (stretch of every bond, a stiffer copy of the last
bond, and a check bond across the chain). Both versions come from the same source; only the
helper's decorator differs (``inline=True`` vs ``inline=False``).

Printed per version: the first gradient call (srcad's passes and numba's compile, in a fresh
cache directory), the gradient's time per call (best round), and gradient / primal.

Run:  python benchmarks/calls.py [--repeats 20] [--bonds 2000]

It asserts nothing about time; it exits non-zero only when the two gradients disagree with
each other or with central differences.
"""

import argparse
import math
import os
import sys
import tempfile
import time

os.environ.setdefault("SRCAD_CACHE_DIR", tempfile.mkdtemp(prefix="srcad-calls-bench-"))  # a cold start

import numpy as np  # noqa: E402

import srcad  # noqa: E402
from timing import timed_rounds  # noqa: E402 - benchmarks/timing.py


def bond_energy(ax, ay, bx, by, cx, cy, k, rest):
    """Energy of bond a-b: stretch, bending against bond b-c, and a soft wall on b."""
    dx = bx - ax
    dy = by - ay
    length = math.sqrt(dx * dx + dy * dy + 1e-12)
    stretch = length - rest
    energy = 0.5 * k * stretch * stretch
    energy += 0.01 * k * stretch ** 4
    ex = cx - bx
    ey = cy - by
    next_length = math.sqrt(ex * ex + ey * ey + 1e-12)
    cosine = (dx * ex + dy * ey) / (length * next_length)
    bend = 1.0 - cosine
    energy += 0.2 * k * bend * bend
    twist = math.atan2(dx * ey - dy * ex, dx * ex + dy * ey)
    energy += 0.05 * k * twist * twist
    wall = by + 2.0
    if wall < 0.5:
        energy += 10.0 * (0.5 - wall) ** 2
    height = math.exp(-0.5 * (bx * bx + by * by))
    energy += 0.1 * height * math.tanh(length)
    for _ in range(2):
        energy = energy + 0.001 * math.log(1.0 + energy * energy)
    return energy


bond_inlined = srcad.differentiable(inline=True)(bond_energy)
bond_called = srcad.differentiable(inline=False)(bond_energy)


def chain_with(bond):
    """The caller, summing ``bond`` over a chain from three call sites."""

    def chain(xs, ys, k, rest):
        total = 0.0
        n = xs.shape[0]
        for i in range(n - 2):
            total += bond(xs[i], ys[i], xs[i + 1], ys[i + 1], xs[i + 2], ys[i + 2], k, rest)
        total += bond(xs[n - 3], ys[n - 3], xs[n - 2], ys[n - 2], xs[n - 1], ys[n - 1], 3.0 * k, rest)
        total += bond(xs[0], ys[0], xs[n // 2], ys[n // 2], xs[n - 1], ys[n - 1], 0.1 * k, rest * n / 2)
        return total

    return chain


chain_inlined = chain_with(bond_inlined)
chain_called = chain_with(bond_called)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--bonds", type=int, default=2000)
    options = parser.parse_args()
    n = options.bonds + 2
    rng = np.random.default_rng(0)
    xs = np.cumsum(rng.uniform(0.8, 1.2, n))
    ys = rng.normal(0.0, 0.2, n)
    args = (xs, ys, 40.0, 1.0)

    gradients, first_call = {}, {}
    for name, caller in (("inlined", chain_inlined), ("through its derivatives", chain_called)):
        start = time.perf_counter()
        gradients[name] = srcad.grad(caller, wrt=(0, 1, 2))(*args)
        first_call[name] = time.perf_counter() - start
    called = "bond_energy_call8_adjoint(" in srcad.source(chain_called, "adjoint", args=args)
    inlined = "srcad.callees" not in srcad.source(chain_inlined, "adjoint", args=args)

    primal = srcad.differentiable(chain_inlined)
    primal(*args)
    contenders = {"primal (numba)": lambda: primal(*args)}
    for name, caller in (("inlined", chain_inlined), ("through its derivatives", chain_called)):
        gradient = srcad.grad(caller, wrt=(0, 1, 2))
        contenders[f"grad, {name}"] = lambda gradient=gradient: gradient(*args)
    best = timed_rounds(contenders, (), options.repeats)

    print(f"calls: {n - 2} bonds, a 65-statement helper called from 3 sites, best of {options.repeats}")
    print(f"helper inlined in the generated adjoint: {inlined}; called through its adjoint: {called}")
    print(f"{'version':28s} {'first grad call (s)':>20s} {'grad (ms)':>10s} {'grad / primal':>14s}")
    for name in ("inlined", "through its derivatives"):
        seconds = best[f"grad, {name}"]
        print(f"{name:28s} {first_call[name]:20.2f} {seconds * 1e3:10.3f} {seconds / best['primal (numba)']:14.2f}")
    print(f"{'primal (numba)':28s} {'':20s} {best['primal (numba)'] * 1e3:10.3f}")

    agree = all(np.allclose(a, b, rtol=1e-10, atol=1e-12) for a, b in zip(*gradients.values()))
    h = 1e-6
    step = np.zeros(n)
    step[n // 2] = h
    difference = (chain_inlined(xs + step, ys, 40.0, 1.0) - chain_inlined(xs - step, ys, 40.0, 1.0)) / (2 * h)
    close = math.isclose(gradients["inlined"][0][n // 2], difference, rel_tol=1e-5, abs_tol=1e-6)
    print(f"the two gradients agree: {agree}; d/dx[{n // 2}] matches central differences: {close}")
    return 0 if agree and close and called and inlined else 1


if __name__ == "__main__":
    sys.exit(main())
