"""Gradient of a nonlinear spring chain written with loops: srcad against a
numba primal, a hand-written numba adjoint and (when installed) JAX,
measured side by side in one run.

``n`` masses (256 by default) on a line, neighbours joined by springs with
force ``k * (d + 0.1 * d**3)`` where ``d`` is the stretch beyond the rest
length, both ends free, a little linear damping; ``steps`` (2000 by default)
semi-implicit Euler steps; the loss is the sum of the squared final
positions. srcad differentiates it with respect to the initial positions
``x0`` (an array) and the stiffness ``k`` (a float). The function is written
as a user would, loop style: copies of the initial state made once, a force
array made once, then the time loop updating force, velocity and position in
place.

Run:  python benchmarks/springs.py [--n 256] [--steps 2000] [--repeats 15]

Each contender is called once to compile, then the contenders are timed in
turn, round after round, and the best round of each is kept, so a slow
moment on the machine touches all of them alike. The script prints times,
ratios and the memory each adjoint keeps for its reverse sweep; it asserts
nothing about time. It exits non-zero only when srcad fails to produce a
gradient.
"""

import argparse
import sys
import time
import traceback

import numba
import numpy as np

from tape_count import srcad_tape_length  # benchmarks/tape_count.py
from timing import timed_rounds  # benchmarks/timing.py

HAND_WRITTEN_TARGET = 1.15  # srcad gradient time / hand-written adjoint time
JAX_TARGET = 2.0  # jax time / srcad time: srcad at least this much faster

STIFFNESS, DAMPING, REST, DT = 50.0, 0.05, 1.0, 0.01


def spring_chain_loss(x0, v0, k, c, rest, dt, steps):
    n = x0.shape[0]
    x = x0.copy()
    v = v0.copy()
    force = np.zeros(n)
    for t in range(steps):
        for i in range(n):
            force[i] = -c * v[i]
        for i in range(n - 1):
            d = x[i + 1] - x[i] - rest
            s = k * (d + 0.1 * d**3)
            force[i] += s
            force[i + 1] -= s
        for i in range(n):
            v[i] += dt * force[i]
            x[i] += dt * v[i]
    loss = 0.0
    for i in range(n):
        loss += x[i] * x[i]
    return loss


@numba.njit
def spring_chain_hand_adjoint(x0, v0, k, c, rest, dt, steps):
    """(loss, d loss / d x0, d loss / d k), written by hand as an expert would.

    The forward sweep stores the positions before every step in a
    preallocated (steps + 1, n) array (velocities are not needed: damping is
    linear); the reverse sweep walks the steps backwards. Per step, with x, v
    the state before it:
        f_i  = -c v_i + s_i - s_{i-1},  s_i = k (d_i + 0.1 d_i^3),
                                         d_i = x_{i+1} - x_i - rest
        v'   = v + dt f
        x'   = x + dt v'
    """
    n = x0.shape[0]
    xs = np.empty((steps + 1, n))
    x = x0.copy()
    v = v0.copy()
    force = np.empty(n)
    for i in range(n):
        xs[0, i] = x[i]
    for t in range(steps):
        for i in range(n):
            force[i] = -c * v[i]
        for i in range(n - 1):
            d = x[i + 1] - x[i] - rest
            s = k * (d + 0.1 * d * d * d)
            force[i] += s
            force[i + 1] -= s
        for i in range(n):
            v[i] += dt * force[i]
            x[i] += dt * v[i]
            xs[t + 1, i] = x[i]
    loss = 0.0
    for i in range(n):
        loss += x[i] * x[i]

    x_adj = np.empty(n)  # adjoints of the state after the step being reversed
    v_adj = np.zeros(n)
    force_adj = np.empty(n)
    k_adj = 0.0
    for i in range(n):
        x_adj[i] = 2.0 * x[i]
    for t in range(steps - 1, -1, -1):
        for i in range(n):
            v_adj[i] += dt * x_adj[i]  # x' = x + dt v'
            force_adj[i] = dt * v_adj[i]  # v' = v + dt f
            v_adj[i] -= c * force_adj[i]  # f = -c v + ...
        for i in range(n - 1):
            d = xs[t, i + 1] - xs[t, i] - rest
            s_adj = force_adj[i] - force_adj[i + 1]
            k_adj += s_adj * (d + 0.1 * d * d * d)
            d_adj = s_adj * k * (1.0 + 0.3 * d * d)
            x_adj[i + 1] += d_adj
            x_adj[i] -= d_adj
    return loss, x_adj, k_adj


def initial_state(n):
    """A centred chain at rest length, stretched by a smooth wave plus noise."""
    i = np.arange(n, dtype=np.float64)
    x0 = (i - 0.5 * (n - 1)) * REST + 0.3 * np.sin(6.0 * np.pi * i / n)
    x0 += 0.05 * np.random.default_rng(0).standard_normal(n)
    v0 = np.zeros(n)
    return x0, v0


def central_differences(f, x0, v0, k, rest_args, relative_step=1e-6):
    """(d f / d x0, d f / d k) by central differences in float64."""
    x0_grad = np.empty_like(x0)
    for j in range(x0.shape[0]):
        h = relative_step * max(1.0, abs(x0[j]))
        plus = x0.copy()
        minus = x0.copy()
        plus[j] += h
        minus[j] -= h
        x0_grad[j] = (f(plus, v0, k, *rest_args) - f(minus, v0, k, *rest_args)) / (2.0 * h)
    h = relative_step * max(1.0, abs(k))
    k_grad = (f(x0, v0, k + h, *rest_args) - f(x0, v0, k - h, *rest_args)) / (2.0 * h)
    return x0_grad, k_grad


def max_relative_error(gradient, reference):
    """Worst of the two: ||dx0 - ref||_inf / ||ref||_inf and |dk - ref| / |ref|."""
    (x0_grad, k_grad), (x0_ref, k_ref) = gradient, reference
    x0_error = np.max(np.abs(np.asarray(x0_grad) - x0_ref)) / np.max(np.abs(x0_ref))
    k_error = abs(float(k_grad) - k_ref) / abs(k_ref)
    return max(x0_error, k_error)


def max_abs_difference(gradient, other):
    (x0_a, k_a), (x0_b, k_b) = gradient, other
    return max(float(np.max(np.abs(np.asarray(x0_a) - np.asarray(x0_b)))), abs(float(k_a) - float(k_b)))


def srcad_tape_bytes(srcad, args, wrt, steps_list=(4, 8)):
    """Bytes srcad's tape holds at the end of the forward sweep, measured.

    Runs srcad's generated adjoint source as plain Python (no numba) with the
    tape's ``reserve`` replaced by a counting version, for a few short runs of
    the time loop: srcad reserves room for exactly the pushes that follow, so
    the largest reservation is the tape's length. Returns the float and int
    pushes per step and at ``steps = 0``. The tape grows linearly with the
    number of steps (the same pushes happen in every step), so the caller
    extrapolates.
    """
    counts = []
    for steps in steps_list:
        small = tuple(args[:-1]) + (steps,)
        counts.append(srcad_tape_length(srcad, spring_chain_loss, small, wrt))
    (f0, i0), (f1, i1) = counts
    span = steps_list[1] - steps_list[0]
    floats_per_step, ints_per_step = (f1 - f0) / span, (i1 - i0) / span
    floats_base = f0 - floats_per_step * steps_list[0]
    ints_base = i0 - ints_per_step * steps_list[0]
    return floats_per_step, ints_per_step, floats_base, ints_base


def jax_contender(n, steps):
    """jax.jit(jax.grad(...)) of the vectorized chain with lax.fori_loop, or None."""
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def jax_spring_chain_loss(x0, v0, k, c, rest, dt):
        def step(t, state):
            x, v = state
            d = x[1:] - x[:-1] - rest
            s = k * (d + 0.1 * d**3)
            force = -c * v + jnp.pad(s, (0, 1)) - jnp.pad(s, (1, 0))
            v = v + dt * force
            x = x + dt * v
            return x, v

        x, _ = jax.lax.fori_loop(0, steps, step, (x0, v0))
        return jnp.sum(x * x)

    jax_gradient = jax.jit(jax.grad(jax_spring_chain_loss, argnums=(0, 2)))

    def call(x0, v0, k, c, rest, dt, steps_unused):
        x0_grad, k_grad = jax.block_until_ready(jax_gradient(x0, v0, k, c, rest, dt))
        return np.asarray(x0_grad), float(k_grad)

    return call


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="masses (default 256)")
    parser.add_argument("--steps", type=int, default=2000, help="time steps (default 2000)")
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds (default 15)")
    options = parser.parse_args(argv)
    n, steps = options.n, options.steps
    x0, v0 = initial_state(n)
    args = (x0, v0, STIFFNESS, DAMPING, REST, DT, steps)
    wrt = (0, 2)

    primal = numba.njit(spring_chain_loss)
    loss = primal(*args)  # compile
    hand_loss, hand_x0, hand_k = spring_chain_hand_adjoint(*args)  # compile
    hand_gradient = (hand_x0, hand_k)
    print(f"spring chain: n = {n} masses, {steps} steps, k = {STIFFNESS}, c = {DAMPING}, dt = {DT}")
    print(f"loss = {loss:.12g}  (hand-written adjoint's forward sweep: {hand_loss:.12g})")
    print(f"hand-written adjoint   d/dk = {hand_k:+.10e}   |d/dx0|_inf = {np.max(np.abs(hand_x0)):.6e}")

    # Central differences on a smaller chain, where all n + 1 components are cheap.
    check_x0, check_v0 = initial_state(16)
    check_args = (check_x0, check_v0, STIFFNESS, DAMPING, REST, DT, 200)
    reference = central_differences(primal, check_x0, check_v0, STIFFNESS, check_args[3:])
    _, check_hand_x0, check_hand_k = spring_chain_hand_adjoint(*check_args)
    check_hand = (check_hand_x0, check_hand_k)
    print(
        "hand-written adjoint vs central differences (n = 16, 200 steps): "
        f"max rel error {max_relative_error(check_hand, reference):.2e}"
    )

    contenders = {"numba primal": primal, "hand-written adjoint": spring_chain_hand_adjoint}

    srcad_failed = False
    tape = None
    try:
        import srcad

        srcad_gradient = srcad.grad(spring_chain_loss, wrt=wrt)
        start = time.perf_counter()
        gradient = srcad_gradient(*args)  # compiles (or loads from the cache)
        first_call = time.perf_counter() - start
        print(f"srcad.grad             d/dk = {gradient[1]:+.10e}   |d/dx0|_inf = {np.max(np.abs(gradient[0])):.6e}")
        print(f"srcad vs hand-written adjoint: max abs diff {max_abs_difference(gradient, hand_gradient):.2e}, "
              f"max rel error {max_relative_error(gradient, hand_gradient):.2e}")
        check_srcad = srcad.grad(spring_chain_loss, wrt=wrt)(*check_args)
        print(
            "srcad vs central differences (n = 16, 200 steps): "
            f"max rel error {max_relative_error(check_srcad, reference):.2e}"
        )
        print(f"srcad first call (compile or cache load + run): {first_call:.3f} s")
        contenders["srcad.grad"] = srcad_gradient
        try:
            tape = srcad_tape_bytes(srcad, args, wrt)
        except Exception:
            print("could not measure srcad's tape:", file=sys.stderr)
            traceback.print_exc()
    except Exception:
        srcad_failed = True
        print("\nsrcad FAILED; timing the other contenders only:", file=sys.stderr)
        traceback.print_exc()

    jax_gradient = jax_contender(n, steps)
    if jax_gradient is not None:
        start = time.perf_counter()
        gradient = jax_gradient(*args)
        print(f"jax first call (trace + XLA compile + run): {time.perf_counter() - start:.3f} s")
        print(f"jax vs hand-written adjoint: max abs diff {max_abs_difference(gradient, hand_gradient):.2e}, "
              f"max rel error {max_relative_error(gradient, hand_gradient):.2e}")
        contenders["jax.jit(jax.grad)"] = jax_gradient

    best = timed_rounds(contenders, args, options.repeats)

    work = n * steps
    print(f"\nn = {n}, steps = {steps}, best of {options.repeats} rounds, after warm-up")
    print(f"{'contender':<24}{'time (ms)':>12}{'ns / mass-step':>16}")
    for name, seconds in best.items():
        print(f"{name:<24}{seconds * 1e3:>12.3f}{seconds * 1e9 / work:>16.2f}")

    print("\nmemory kept for the reverse sweep")
    hand_bytes = (steps + 1) * n * 8
    print(f"  hand-written adjoint  {hand_bytes / 2**20:8.2f} MiB   (positions per step: (steps + 1) x n float64)")
    if tape is not None:
        floats_per_step, ints_per_step, floats_base, ints_base = tape
        floats = floats_base + floats_per_step * steps
        ints = ints_base + ints_per_step * steps
        print(
            f"  srcad tape            {(floats + ints) * 8 / 2**20:8.2f} MiB   "
            f"({floats:.0f} floats + {ints:.0f} ints; per step {floats_per_step:.0f} floats + "
            f"{ints_per_step:.0f} ints, counted in short runs and scaled to {steps} steps)"
        )
        print("                        (reserved once, before the time loop: its trip counts are known there)")

    print()
    print(f"hand-written / primal   {best['hand-written adjoint'] / best['numba primal']:6.2f}x   (for reference)")
    if "srcad.grad" in best:
        print(f"srcad / primal          {best['srcad.grad'] / best['numba primal']:6.2f}x   (for reference)")
        ratio = best["srcad.grad"] / best["hand-written adjoint"]
        verdict = "within target" if ratio <= HAND_WRITTEN_TARGET else "ABOVE target"
        print(f"srcad / hand-written    {ratio:6.2f}x   (target <= {HAND_WRITTEN_TARGET}x: {verdict})")
        if "jax.jit(jax.grad)" in best:
            ratio = best["jax.jit(jax.grad)"] / best["srcad.grad"]
            verdict = "within target" if ratio >= JAX_TARGET else "BELOW target"
            print(f"jax / srcad             {ratio:6.2f}x   (target >= {JAX_TARGET}x, srcad faster: {verdict})")
    elif "jax.jit(jax.grad)" in best:
        print(f"jax / hand-written      {best['jax.jit(jax.grad)'] / best['hand-written adjoint']:6.2f}x")
    return 1 if srcad_failed else 0


if __name__ == "__main__":
    sys.exit(main())
