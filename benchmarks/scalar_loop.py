"""Gradient of a scalar loop: srcad against a numba primal, a hand-written
numba adjoint and (when installed) JAX, measured side by side in one run.

The function integrates a damped pendulum with semi-implicit Euler for
``n`` steps (10**6 by default) and sums x**2 along the way. srcad
differentiates it with respect to the initial position and velocity, the
stiffness and the damping.

Run:  python benchmarks/scalar_loop.py [--n 1000000] [--repeats 15]

Each contender is called once to compile, then the contenders are timed in
turn, round after round, and the best round of each is kept, so a slow
moment on the machine touches all of them alike. The script prints times
and ratios; it asserts nothing about time. It exits non-zero only when srcad
fails to produce a gradient.
"""

import argparse
import math
import sys
import time
import traceback

import numba
import numpy as np

from timing import timed_rounds  # benchmarks/timing.py

PRIMAL_TARGET = 3.0  # srcad gradient time / numba primal time
HAND_WRITTEN_TARGET = 1.2  # srcad gradient time / hand-written adjoint time

# Defaults: one period is about 4.4 time units and the amplitude decays by
# exp(-c * t / 2), about exp(-25) over the run, so nothing drifts into
# subnormal numbers (which would make every contender slow for reasons
# unrelated to differentiation).
X0, V0, STIFFNESS, DAMPING = 1.0, 0.0, 2.0, 0.05


def oscillator_energy(x0, v0, k, c, n):
    dt = 0.001
    x = x0
    v = v0
    e = 0.0
    for i in range(n):
        v = v + dt * (-k * math.sin(x) - c * v)
        x = x + dt * v
        e += x * x
    return e


@numba.njit
def oscillator_energy_hand_adjoint(x0, v0, k, c, n):
    """d e / d (x0, v0, k, c), written by hand as an expert would.

    The forward sweep stores the state after every step in preallocated
    arrays; the reverse sweep walks the steps backwards. Per step i, with
    (x, v) the state before and (x_new, v_new) the state after:
        v_new = v + dt * (-k sin x - c v)
        x_new = x + dt * v_new
        e    += x_new ** 2
    """
    dt = 0.001
    xs = np.empty(n + 1)
    vs = np.empty(n + 1)
    x = x0
    v = v0
    xs[0] = x
    vs[0] = v
    for i in range(n):
        v = v + dt * (-k * math.sin(x) - c * v)
        x = x + dt * v
        xs[i + 1] = x
        vs[i + 1] = v

    x_adj = 0.0  # adjoint of the state after the step being reversed
    v_adj = 0.0
    k_adj = 0.0
    c_adj = 0.0
    for i in range(n - 1, -1, -1):
        x = xs[i]
        v = vs[i]
        x_adj += 2.0 * xs[i + 1]  # e += x_new ** 2
        v_adj += dt * x_adj  # x_new = x + dt * v_new
        k_adj -= dt * math.sin(x) * v_adj  # v_new = v + dt * (-k sin x - c v)
        c_adj -= dt * v * v_adj
        x_adj -= dt * k * math.cos(x) * v_adj
        v_adj *= 1.0 - dt * c
    return x_adj, v_adj, k_adj, c_adj


def central_differences(f, args, wrt, relative_step=1e-5):
    """d f / d args[i] for i in wrt, by central differences in float64.

    Over 10**6 steps the rounding noise in e limits differences to about
    1e-6 relative on the smallest component (d/dk); the default step is the
    best trade between that noise and truncation error for this function.
    """
    gradient = []
    for i in wrt:
        step = relative_step * max(1.0, abs(args[i]))
        plus = list(args)
        minus = list(args)
        plus[i] += step
        minus[i] -= step
        gradient.append((f(*plus) - f(*minus)) / (2.0 * step))
    return tuple(gradient)


def max_relative_error(gradient, reference):
    return max(abs(g - r) / max(abs(r), 1e-300) for g, r in zip(gradient, reference))


def jax_contender(n):
    """jax.jit(jax.grad(...)) of the same loop with lax.fori_loop, or None."""
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def jax_oscillator_energy(x0, v0, k, c):
        dt = 0.001

        def step(i, state):
            x, v, e = state
            v = v + dt * (-k * jnp.sin(x) - c * v)
            x = x + dt * v
            return x, v, e + x * x

        _, _, e = jax.lax.fori_loop(0, n, step, (x0, v0, jnp.float64(0.0)))
        return e

    jax_gradient = jax.jit(jax.grad(jax_oscillator_energy, argnums=(0, 1, 2, 3)))

    def call(x0, v0, k, c, n_unused):
        return tuple(float(g) for g in jax.block_until_ready(jax_gradient(x0, v0, k, c)))

    return call


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10**6, help="loop iterations (default 10**6)")
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds (default 15)")
    options = parser.parse_args(argv)
    args = (X0, V0, STIFFNESS, DAMPING, options.n)
    wrt = (0, 1, 2, 3)

    primal = numba.njit(oscillator_energy)
    primal(*args)  # compile
    reference = central_differences(primal, args, wrt)
    hand_gradient = oscillator_energy_hand_adjoint(*args)  # compile
    print(f"oscillator_energy{args} = {primal(*args):.12g}")
    print("central differences    d/d(x0, v0, k, c) =", "  ".join(f"{g:+.10e}" for g in reference))
    print("hand-written adjoint   d/d(x0, v0, k, c) =", "  ".join(f"{g:+.10e}" for g in hand_gradient))
    print(f"hand-written adjoint vs central differences: max rel error {max_relative_error(hand_gradient, reference):.2e}")
    short_args = args[:4] + (10**4,)  # a short run, where differences are accurate to ~1e-8
    short_error = max_relative_error(
        oscillator_energy_hand_adjoint(*short_args), central_differences(primal, short_args, wrt)
    )
    print(f"hand-written adjoint vs central differences, n = 10**4: max rel error {short_error:.2e}")

    contenders = {"numba primal": primal, "hand-written adjoint": oscillator_energy_hand_adjoint}

    srcad_failed = False
    try:
        import srcad

        srcad_gradient = srcad.grad(oscillator_energy, wrt=wrt)
        start = time.perf_counter()
        gradient = tuple(float(g) for g in srcad_gradient(*args))  # compiles (or loads from the cache)
        first_call = time.perf_counter() - start
        print("srcad.grad             d/d(x0, v0, k, c) =", "  ".join(f"{g:+.10e}" for g in gradient))
        print(f"srcad vs central differences: max rel error {max_relative_error(gradient, reference):.2e}")
        print(f"srcad vs hand-written adjoint: max rel error {max_relative_error(gradient, hand_gradient):.2e}")
        print(f"srcad first call (compile or cache load + run): {first_call:.3f} s")
        contenders["srcad.grad"] = srcad_gradient
    except Exception:
        srcad_failed = True
        print("\nsrcad FAILED; timing the other contenders only:", file=sys.stderr)
        traceback.print_exc()

    jax_gradient = jax_contender(options.n)
    if jax_gradient is not None:
        start = time.perf_counter()
        gradient = jax_gradient(*args)
        print(f"jax first call (trace + XLA compile + run): {time.perf_counter() - start:.3f} s")
        print(f"jax vs central differences: max rel error {max_relative_error(gradient, reference):.2e}")
        contenders["jax.jit(jax.grad)"] = jax_gradient

    best = timed_rounds(contenders, args, options.repeats)

    print(f"\nn = {options.n}, best of {options.repeats} rounds, after warm-up")
    print(f"{'contender':<24}{'time (ms)':>12}{'ns / iteration':>16}")
    for name, seconds in best.items():
        print(f"{name:<24}{seconds * 1e3:>12.3f}{seconds * 1e9 / options.n:>16.2f}")

    print()
    print(f"hand-written / primal   {best['hand-written adjoint'] / best['numba primal']:6.2f}x   (for reference)")
    if "srcad.grad" in best:
        for label, baseline, target in (
            ("srcad / primal        ", "numba primal", PRIMAL_TARGET),
            ("srcad / hand-written  ", "hand-written adjoint", HAND_WRITTEN_TARGET),
        ):
            ratio = best["srcad.grad"] / best[baseline]
            verdict = "within target" if ratio <= target else "ABOVE target"
            print(f"{label}  {ratio:6.2f}x   (target <= {target}x: {verdict})")
        if "jax.jit(jax.grad)" in best:
            print(f"srcad / jax             {best['srcad.grad'] / best['jax.jit(jax.grad)']:6.2f}x")
    return 1 if srcad_failed else 0


if __name__ == "__main__":
    sys.exit(main())
