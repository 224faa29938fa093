"""Gradients of simulations whose forces are gradients: ``f = -srcad.grad(energy)(x, ...)`` inside the
function differentiated, against JAX's ``jax.grad`` inside ``jax.jit(jax.grad(loss))``, measured side by
side.

Programs, each written as a user writes it for srcad (loops over pairs, or whole arrays), with the
force taken by ``srcad.grad`` of an energy:

- ``lennard_jones``: 16 atoms in 2-D, a Lennard-Jones energy summed over pairs in two loops,
  velocity Verlet, 200 steps; loss: squared distance of the final positions from targets;
  gradient with respect to the start ``x0`` and the potential's ``epsilon`` and ``sigma``;
- ``chain``: a chain of 64 beads relaxed by 100 steps of gradient descent on a whole-array energy
  (stretch and bend terms on slices, per-segment stiffnesses ``k``); loss: the relaxed chain's
  height; gradient with respect to ``k`` (a bilevel problem: the inner descent is unrolled);
- ``pendulum``: one angle in a potential ``k (1 - cos q) + c q^4``, 20,000 leapfrog steps, the force
  a scalar ``srcad.grad``; gradient with respect to ``k`` and ``c``;
- ``soft_spheres``: 64 discs in 2-D relaxed by 100 steps of gradient descent on an overlap energy
  written with broadcasting (``x[:, None, :] - x[None, :, :]``, ``np.maximum``), the energy and its
  gradient by ``srcad.value_and_grad`` inside; loss: the relaxed positions and the last energy;
  gradient with respect to the start and the discs' size ``sigma``.

Contenders, per program:

- numba primal: ``numba.njit`` of the same simulation with the forces written by hand;
- srcad primal: srcad's compiled function (the forces by the generated gradient);
- srcad.grad: the gradient of the simulation (the energy's second derivatives inside);
- jax.jit(jax.grad): ``jax.numpy``, forces by ``jax.grad`` of the energy, the time loop in
  ``jax.lax.fori_loop``, float64, on ``--jax-threads`` threads (default 1, like numba); only when
  ``jax`` is importable (``pip install "srcad[bench]"``).

srcad's gradient is checked first against central differences of the numba primal (an oracle that
shares no code with srcad), and JAX's against srcad's. Each contender is called once to compile, then
all are timed in turn, round after round, best round kept (``timing.py``). Nothing about time is
asserted; the script exits non-zero only when a gradient is wrong.

Run:  python benchmarks/nested.py [--programs lennard_jones,chain,pendulum,soft_spheres] [--repeats 10] [--quick]
      (CHAIN_BEADS=1024 in the environment: a longer chain)
"""

import argparse
import math
import os
import sys
import time

import numba
import numpy as np
from array_steps import import_jax  # benchmarks/array_steps.py: JAX with float64, on --jax-threads
from timing import timed_rounds  # benchmarks/timing.py

import srcad

PROGRAMS = ("lennard_jones", "chain", "pendulum", "soft_spheres")


# -- the programs, as written for srcad ------------------------------------------------------------------
def lj_energy(x, epsilon, sigma):
    n = x.shape[0]
    energy = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            dx = x[i, 0] - x[j, 0]
            dy = x[i, 1] - x[j, 1]
            s6 = (sigma * sigma / (dx * dx + dy * dy)) ** 3
            energy += 4.0 * epsilon * (s6 * s6 - s6)
    return energy


def lennard_jones(x0, v0, epsilon, sigma, target, steps):
    x = x0.copy()
    v = v0.copy()
    f = -srcad.grad(lj_energy)(x, epsilon, sigma)
    for _ in range(steps):
        v = v + 0.0025 * f
        x = x + 0.005 * v
        f = -srcad.grad(lj_energy)(x, epsilon, sigma)
        v = v + 0.0025 * f
    return np.sum((x - target) ** 2)


def chain_energy(y, k):
    stretch = np.sum(k * (y[1:] - y[:-1]) ** 2)
    bend = np.sum((y[2:] - 2.0 * y[1:-1] + y[:-2]) ** 2)
    return stretch + 0.5 * bend + np.sum(0.1 * y)  # gravity pulls the beads down


def chain(y0, k, steps):
    y = y0.copy()
    for _ in range(steps):
        g = srcad.grad(chain_energy)(y, k)
        y = y - 0.05 * g
        y[0] = 0.0  # the ends are held
        y[-1] = 0.0
    return np.sum(y)


def overlap_energy(x, sigma):
    n = x.shape[0]
    d = x[:, None, :] - x[None, :, :]
    r = np.sqrt(np.sum(d * d, axis=2) + np.eye(n))
    overlap = np.maximum(1.0 - r / sigma, 0.0) * (1.0 - np.eye(n))
    return 0.5 * np.sum(overlap ** 2)


def soft_spheres(x0, sigma, steps):
    x = x0.copy()
    energy = 0.0
    for _ in range(steps):
        energy, g = srcad.value_and_grad(overlap_energy)(x, sigma)
        x = x - 0.1 * g
    return np.sum(x[:, 0] ** 2) + energy


def well(q, k, c):
    return k * (1.0 - math.cos(q)) + c * q ** 4


def pendulum(q0, k, c, steps):
    q = q0
    p = 0.0
    for _ in range(steps):
        p = p - 0.0005 * srcad.grad(well)(q, k, c)
        q = q + 0.001 * p
        p = p - 0.0005 * srcad.grad(well)(q, k, c)
    return q * q + p


# -- the same simulations with the forces by hand, for numba (the primal and the oracle) ---------------
@numba.njit(cache=True)
def lj_forces_by_hand(x, epsilon, sigma):
    n = x.shape[0]
    f = np.zeros_like(x)
    for i in range(n):
        for j in range(i + 1, n):
            dx = x[i, 0] - x[j, 0]
            dy = x[i, 1] - x[j, 1]
            r2 = dx * dx + dy * dy
            s6 = (sigma * sigma / r2) ** 3
            push = 24.0 * epsilon * (2.0 * s6 * s6 - s6) / r2
            f[i, 0] += push * dx
            f[i, 1] += push * dy
            f[j, 0] -= push * dx
            f[j, 1] -= push * dy
    return f


@numba.njit(cache=True)
def lennard_jones_by_hand(x0, v0, epsilon, sigma, target, steps):
    x = x0.copy()
    v = v0.copy()
    f = lj_forces_by_hand(x, epsilon, sigma)
    for _ in range(steps):
        v = v + 0.0025 * f
        x = x + 0.005 * v
        f = lj_forces_by_hand(x, epsilon, sigma)
        v = v + 0.0025 * f
    return np.sum((x - target) ** 2)


@numba.njit(cache=True)
def chain_by_hand(y0, k, steps):
    y = y0.copy()
    n = y.shape[0]
    for _ in range(steps):
        g = np.full(n, 0.1)
        for i in range(n - 1):
            d = 2.0 * k[i] * (y[i + 1] - y[i])
            g[i + 1] += d
            g[i] -= d
        for i in range(n - 2):
            b = y[i + 2] - 2.0 * y[i + 1] + y[i]
            g[i + 2] += b
            g[i + 1] -= 2.0 * b
            g[i] += b
        y = y - 0.05 * g
        y[0] = 0.0
        y[-1] = 0.0
    return np.sum(y)


@numba.njit(cache=True)
def soft_spheres_by_hand(x0, sigma, steps):
    x = x0.copy()
    n = x.shape[0]
    energy = 0.0
    for _ in range(steps):
        g = np.zeros_like(x)
        energy = 0.0
        for i in range(n):
            for j in range(n):
                if i != j:
                    dx = x[i, 0] - x[j, 0]
                    dy = x[i, 1] - x[j, 1]
                    r = math.sqrt(dx * dx + dy * dy)
                    overlap = max(1.0 - r / sigma, 0.0)
                    energy += 0.5 * overlap * overlap
                    push = -2.0 * overlap / sigma / r
                    g[i, 0] += push * dx
                    g[i, 1] += push * dy
        x = x - 0.1 * g
    return np.sum(x[:, 0] ** 2) + energy


@numba.njit(cache=True)
def pendulum_by_hand(q0, k, c, steps):
    q = q0
    p = 0.0
    for _ in range(steps):
        p = p - 0.0005 * (k * math.sin(q) + 4.0 * c * q ** 3)
        q = q + 0.001 * p
        p = p - 0.0005 * (k * math.sin(q) + 4.0 * c * q ** 3)
    return q * q + p


# -- inputs, and what is differentiated ----------------------------------------------------------------
def inputs(name, quick):
    rng = np.random.default_rng(0)
    if name == "lennard_jones":
        side = 3 if quick else 4
        grid = np.stack(np.meshgrid(np.arange(float(side)), np.arange(float(side))), axis=-1).reshape(-1, 2) * 1.15
        x0 = grid + 0.04 * rng.standard_normal(grid.shape)
        return (x0, 0.2 * rng.standard_normal(grid.shape), 1.0, 1.02, grid * 1.03, 20 if quick else 200), (0, 2, 3)
    if name == "chain":
        n = 16 if quick else int(os.environ.get("CHAIN_BEADS", 64))
        y0 = np.zeros(n)
        return (y0, 1.0 + 0.5 * rng.random(n - 1), 10 if quick else 100), (1,)
    if name == "soft_spheres":
        n = 6 if quick else 64
        return (rng.random((n, 2)) * np.sqrt(n) * 0.8, 1.0, 10 if quick else 100), (0, 1)
    return (0.8, 2.0, 0.05, 200 if quick else 20_000), (1, 2)


PAIRS = {"lennard_jones": (lennard_jones, lennard_jones_by_hand), "chain": (chain, chain_by_hand),
         "pendulum": (pendulum, pendulum_by_hand), "soft_spheres": (soft_spheres, soft_spheres_by_hand)}


def check_against_differences(name, gradient, by_hand, args, wrt):
    """The worst relative error of srcad's gradient against central differences of the hand-written
    numba primal, over every coordinate of the differentiated arguments."""
    worst = 0.0
    for index, position in enumerate(wrt):
        value = np.asarray(args[position], dtype=float)
        got = np.asarray(gradient[index])
        for coordinate in np.ndindex(value.shape):
            step = 1e-6 * max(1.0, abs(float(value[coordinate])))
            shifted = []
            for sign in (1.0, -1.0):
                moved = value.copy()
                moved[coordinate] += sign * step
                changed = list(args)
                changed[position] = moved if value.shape else float(moved)
                shifted.append(by_hand(*changed))
            expected = (shifted[0] - shifted[1]) / (2.0 * step)
            worst = max(worst, abs(float(got[coordinate]) - expected) / max(1e-3, abs(expected)))
    return worst


# -- JAX: forces by jax.grad inside jit(grad(loss)) ----------------------------------------------------
def jax_gradient(jax, name, wrt, steps):
    import jax.numpy as jnp

    if name == "lennard_jones":
        def energy(x, epsilon, sigma):
            d = x[:, None, :] - x[None, :, :]
            r2 = jnp.sum(d * d, axis=-1) + jnp.eye(x.shape[0])  # the diagonal kept away from 0
            s6 = (sigma * sigma / r2) ** 3
            pair = 4.0 * epsilon * (s6 * s6 - s6) * (1.0 - jnp.eye(x.shape[0]))
            return 0.5 * jnp.sum(pair)

        force = jax.grad(energy)

        def loss(x0, v0, epsilon, sigma, target):
            def step(_, state):
                x, v, f = state
                v = v - 0.0025 * f
                x = x + 0.005 * v
                f = force(x, epsilon, sigma)
                return x, v - 0.0025 * f, f

            x, _, _ = jax.lax.fori_loop(0, steps, step, (x0, v0, force(x0, epsilon, sigma)))
            return jnp.sum((x - target) ** 2)
    elif name == "chain":
        def energy(y, k):
            return (jnp.sum(k * (y[1:] - y[:-1]) ** 2) + 0.5 * jnp.sum((y[2:] - 2.0 * y[1:-1] + y[:-2]) ** 2)
                    + jnp.sum(0.1 * y))

        force = jax.grad(energy)

        def loss(y0, k):
            def step(_, y):
                y = y - 0.05 * force(y, k)
                return y.at[0].set(0.0).at[-1].set(0.0)

            return jnp.sum(jax.lax.fori_loop(0, steps, step, y0))
    elif name == "soft_spheres":
        def energy(x, sigma):
            n = x.shape[0]
            d = x[:, None, :] - x[None, :, :]
            r = jnp.sqrt(jnp.sum(d * d, axis=2) + jnp.eye(n))
            overlap = jnp.maximum(1.0 - r / sigma, 0.0) * (1.0 - jnp.eye(n))
            return 0.5 * jnp.sum(overlap ** 2)

        value_and_force = jax.value_and_grad(energy)

        def loss(x0, sigma):
            def step(_, state):
                x, _ = state
                e, g = value_and_force(x, sigma)
                return x - 0.1 * g, e

            x, e = jax.lax.fori_loop(0, steps, step, (x0, 0.0))
            return jnp.sum(x[:, 0] ** 2) + e
    else:
        def energy(q, k, c):
            return k * (1.0 - jnp.cos(q)) + c * q ** 4

        force = jax.grad(energy)

        def loss(q0, k, c):
            def step(_, state):
                q, p = state
                p = p - 0.0005 * force(q, k, c)
                q = q + 0.001 * p
                return q, p - 0.0005 * force(q, k, c)

            q, p = jax.lax.fori_loop(0, steps, step, (q0, 0.0))
            return q * q + p

    compiled = jax.jit(jax.grad(loss, argnums=wrt))

    def run(*args):
        return jax.block_until_ready(compiled(*args[:-1]))

    return run


# -- the run -----------------------------------------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", default=",".join(PROGRAMS))
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 rounds: a smoke run")
    parser.add_argument("--jax-threads", type=int, default=1)
    options = parser.parse_args()
    repeats = options.repeats or (3 if options.quick else 10)
    jax = import_jax(options.jax_threads)
    print(f"numba {numba.__version__}, srcad {srcad.__version__}, "
          + (f"jax {jax.__version__}" if jax is not None else "jax not installed (pip install 'srcad[bench]')"))
    failed = False
    rows = []
    for name in options.programs.split(","):
        program, by_hand = PAIRS[name]
        small, wrt = inputs(name, quick=True)
        compiled = srcad.differentiable(program)
        start = time.perf_counter()
        gradient = srcad.grad(compiled, wrt=wrt)
        worst = check_against_differences(name, gradient(*small), by_hand, small, wrt)
        first = time.perf_counter() - start
        print(f"{name}: srcad's gradient vs central differences of the hand-written primal: worst relative error "
              f"{worst:.1e}; first call (transform and compile) {first:.1f} s")
        failed |= worst > 1e-5
        args, _ = inputs(name, quick=options.quick)
        contenders = {"numba primal": by_hand, "srcad primal": compiled, "srcad.grad": gradient}
        if jax is not None:
            jax_run = jax_gradient(jax, name, wrt, args[-1])
            placed = tuple(jax.numpy.asarray(a) if isinstance(a, np.ndarray) else a for a in args)
            got, expected = jax_run(*placed), gradient(*args)
            difference = max(float(np.max(np.abs(np.asarray(g) - np.asarray(e)))) / max(1e-300, float(np.max(np.abs(e))))
                             for g, e in zip(got, expected))
            print(f"{name}: max |jax - srcad| / max |srcad| = {difference:.1e}")
            failed |= difference > 1e-6
            contenders["jax.jit(jax.grad)"] = lambda *a, run=jax_run, placed=placed: run(*placed)
        for contender in contenders.values():
            contender(*args)
        best = timed_rounds(contenders, args, repeats)
        rows.append((name, best))
    print()
    print(f"{'program':<15}{'numba primal':>14}{'srcad primal':>14}{'srcad.grad':>12}{'jax grad':>12}"
          f"{'grad/primal':>13}{'srcad/jax':>11}")
    for name, best in rows:
        jax_time = best.get("jax.jit(jax.grad)", math.nan)
        print(f"{name:<15}{best['numba primal'] * 1e3:>12.3f}ms{best['srcad primal'] * 1e3:>12.3f}ms"
              f"{best['srcad.grad'] * 1e3:>10.3f}ms{jax_time * 1e3:>10.3f}ms"
              f"{best['srcad.grad'] / best['numba primal']:>12.2f}x{best['srcad.grad'] / jax_time:>10.2f}x")
    if failed:
        sys.exit("a gradient was wrong")


if __name__ == "__main__":
    main()
