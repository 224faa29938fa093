"""Gradients of twelve programs in as many styles, none written for srcad's passes: srcad against a
numba primal and (when installed) JAX, measured side by side.

The programs were written as a user would, to look for slow gradients in shapes the other
benchmarks do not have (the held-out check of issues 22 and 23):

- ``nbody``: gravity, ``(n, 3)`` positions, all pairs by broadcasting, sums along axes; 32 bodies x 200 steps;
- ``wave2d``: the 2-D wave equation on slices of a 64 x 64 grid written into ``np.zeros_like``; 200 steps;
- ``softmax_xent``: softmax cross-entropy of a linear model, ``np.max(..., axis=1, keepdims=True)``,
  a loop over the labels; 2000 x 32 inputs, 10 classes;
- ``mlp``: a two-layer ``tanh`` network's mean squared error; 512 x 32 inputs, 64 hidden, 4 outputs;
- ``cloth``: a 10 x 10 cloth of springs, every component a scalar in loops over springs and nodes; 200 steps;
- ``lj``: Lennard-Jones energy, a double loop over pairs with a cutoff; 128 atoms;
- ``pendulums``: 100 damped pendulums, midpoint steps on whole arrays with ``np.sin``; 1000 steps;
- ``diffusion_roll``: diffusion on a ring with ``np.roll``, clamped at 0 by ``np.where``; 256 x 1000 steps;
- ``sph``: a smoothed-particle density with ``np.exp`` over all pairs, ``np.log``; 64 particles;
- ``logreg_loop``: logistic regression's loss, a dot-product loop per row, ``math.log1p(math.exp(...))``
  on a branch; 5000 x 16;
- ``neural_ode``: Euler steps of a ``tanh`` network's right-hand side, matrix products in the time
  loop; 64 states x 100 steps;
- ``xy_model``: XY spins on a 32 x 32 torus, ``np.roll`` along both axes inside ``np.sin``; 100 steps.

Run:  python benchmarks/styles.py [--programs nbody,mlp,...] [--repeats 10] [--jax-threads 1]

Contenders: ``numba.njit`` of the same function (srcad's own compiled function where numba cannot
compile it: ``np.max(..., axis=1, keepdims=True)``), ``srcad.grad``, and ``jax.jit(jax.grad)`` of a
``jax.numpy`` version (time loops in ``lax.fori_loop``, float64, one thread, BLAS on one thread too:
the script sets ``OPENBLAS_NUM_THREADS=1`` before NumPy loads, as a 2-core machine shared with
XLA's thread otherwise spends milliseconds per small matrix product). srcad's gradient is checked
against central differences of the primal on a few coordinates (worst relative error printed) and
against JAX's (``max |jax - srcad| / max |srcad|``). The script asserts nothing about time; it exits
non-zero only when srcad fails or its gradient is wrong.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import math
import sys
import time

import numba
import numpy as np
from array_steps import fd_check, import_jax, max_relative_difference
from timing import timed_rounds

# ---------------------------------------------------------------------------
# The programs, as a user writes them (srcad differentiates these).
# ---------------------------------------------------------------------------

def nbody(x0, v0, m, steps, dt):
    x = x0.copy()
    v = v0.copy()
    for _ in range(steps):
        d = x[None, :, :] - x[:, None, :]
        r2 = np.sum(d * d, axis=-1) + 0.01
        inv = m[None, :] / (r2 * np.sqrt(r2))
        a = np.sum(inv[:, :, None] * d, axis=1)
        v = v + dt * a
        x = x + dt * v
    return np.sum(x[:, 2] ** 2) + 0.5 * np.sum(m * np.sum(v * v, axis=1))


def wave2d(u0, c2, steps):
    u_prev = u0.copy()
    u = u0.copy()
    for _ in range(steps):
        lap = np.zeros_like(u)
        lap[1:-1, 1:-1] = u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4.0 * u[1:-1, 1:-1]
        u_next = 2.0 * u - u_prev + c2 * lap
        u_prev = u
        u = u_next
    return np.sum(u ** 2)


def softmax_xent(W, b, X, y):
    logits = X @ W + b
    mx = np.max(logits, axis=1, keepdims=True)
    z = logits - mx
    lse = np.log(np.sum(np.exp(z), axis=1))
    n = X.shape[0]
    loss = 0.0
    for i in range(n):
        loss += lse[i] - z[i, y[i]]
    return loss / n


def mlp(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    r = out - Y
    return np.mean(r * r)


def cloth(x0, v0, springs, rest, k, steps, dt):
    n = x0.shape[0]
    x = x0.copy()
    v = v0.copy()
    for _ in range(steps):
        f = np.zeros((n, 3))
        for s in range(springs.shape[0]):
            i = springs[s, 0]
            j = springs[s, 1]
            dx = x[i, 0] - x[j, 0]
            dy = x[i, 1] - x[j, 1]
            dz = x[i, 2] - x[j, 2]
            l = np.sqrt(dx * dx + dy * dy + dz * dz)
            c = k[s] * (l - rest[s]) / l
            f[i, 0] -= c * dx
            f[i, 1] -= c * dy
            f[i, 2] -= c * dz
            f[j, 0] += c * dx
            f[j, 1] += c * dy
            f[j, 2] += c * dz
        for i in range(n):
            v[i, 0] = 0.99 * v[i, 0] + dt * f[i, 0]
            v[i, 1] = 0.99 * v[i, 1] + dt * f[i, 1]
            v[i, 2] = 0.99 * v[i, 2] + dt * (f[i, 2] - 9.8)
            x[i, 0] += dt * v[i, 0]
            x[i, 1] += dt * v[i, 1]
            x[i, 2] += dt * v[i, 2]
    return np.sum(x[:, 2])


def lj(x, eps, sigma):
    n = x.shape[0]
    e = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            dx = x[i, 0] - x[j, 0]
            dy = x[i, 1] - x[j, 1]
            dz = x[i, 2] - x[j, 2]
            r2 = dx * dx + dy * dy + dz * dz
            if r2 < 6.25:
                s6 = (sigma * sigma / r2) ** 3
                e += 4.0 * eps * (s6 * s6 - s6)
    return e


def pendulums(theta0, omega0, length, steps, dt):
    th = theta0.copy()
    om = omega0.copy()
    for _ in range(steps):
        acc = -9.81 / length * np.sin(th) - 0.1 * om
        om_half = om + 0.5 * dt * acc
        th_half = th + 0.5 * dt * om
        acc2 = -9.81 / length * np.sin(th_half) - 0.1 * om_half
        th = th + dt * om_half
        om = om + dt * acc2
    return np.sum(np.cos(th)) + np.sum(om ** 2)


def diffusion_roll(u0, D, steps):
    u = u0.copy()
    for _ in range(steps):
        u = u + D * (np.roll(u, 1) + np.roll(u, -1) - 2.0 * u)
        u = np.where(u > 0.0, u, 0.0)
    return np.sum(u ** 3)


def sph(x, m, h):
    d = x[:, None, :] - x[None, :, :]
    r2 = np.sum(d * d, axis=2)
    w = np.exp(-r2 / (h * h))
    rho = np.sum(m[None, :] * w, axis=1)
    p = rho ** 2 - 1.0
    return np.sum(p * p) + np.sum(np.log(rho))


def logreg_loop(w, b, X, y):
    n, d = X.shape
    total = 0.0
    for i in range(n):
        z = b
        for j in range(d):
            z += X[i, j] * w[j]
        if y[i] > 0.5:
            total += math.log1p(math.exp(-z))
        else:
            total += math.log1p(math.exp(z))
    return total / n


def neural_ode(W1, b1, W2, x0, steps, dt):
    x = x0.copy()
    for _ in range(steps):
        h = np.tanh(x @ W1 + b1)
        x = x + dt * (h @ W2)
    return np.sum(x ** 2)


def xy_model(theta, J, steps, dt):
    th = theta.copy()
    for _ in range(steps):
        torque = (np.sin(np.roll(th, 1, axis=0) - th) + np.sin(np.roll(th, -1, axis=0) - th)
                  + np.sin(np.roll(th, 1, axis=1) - th) + np.sin(np.roll(th, -1, axis=1) - th))
        th = th + dt * J * torque
    return -np.sum(np.cos(th - np.roll(th, 1, axis=0)))


# ---------------------------------------------------------------------------
# The JAX versions (what a JAX user writes for the same physics).
# ---------------------------------------------------------------------------


def jax_programs(jax):
    """{name: the JAX version} (time loops in lax.fori_loop)."""
    jnp = jax.numpy
    lax = jax.lax

    def nbody(x0, v0, m, steps, dt):
        def body(_, s):
            x, v = s
            d = x[None, :, :] - x[:, None, :]
            r2 = jnp.sum(d * d, axis=-1) + 0.01
            inv = m[None, :] / (r2 * jnp.sqrt(r2))
            a = jnp.sum(inv[:, :, None] * d, axis=1)
            v = v + dt * a
            return x + dt * v, v
        x, v = lax.fori_loop(0, steps, body, (x0, v0))
        return jnp.sum(x[:, 2] ** 2) + 0.5 * jnp.sum(m * jnp.sum(v * v, axis=1))


    def wave2d(u0, c2, steps):
        def body(_, s):
            u_prev, u = s
            lap = jnp.zeros_like(u).at[1:-1, 1:-1].set(u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4.0 * u[1:-1, 1:-1])
            return u, 2.0 * u - u_prev + c2 * lap
        _, u = lax.fori_loop(0, steps, body, (u0, u0))
        return jnp.sum(u ** 2)


    def softmax_xent(W, b, X, y):
        logits = X @ W + b
        lse = jax.nn.logsumexp(logits, axis=1)
        return jnp.mean(lse - logits[jnp.arange(X.shape[0]), y])


    def mlp(W1, b1, W2, b2, X, Y):
        h = jnp.tanh(X @ W1 + b1)
        r = h @ W2 + b2 - Y
        return jnp.mean(r * r)


    def cloth(x0, v0, springs, rest, k, steps, dt):
        i, j = springs[:, 0], springs[:, 1]
        def body(_, s):
            x, v = s
            d = x[i] - x[j]
            l = jnp.sqrt(jnp.sum(d * d, axis=1))
            fs = (k * (l - rest) / l)[:, None] * d
            f = jnp.zeros_like(x).at[i].add(-fs).at[j].add(fs)
            f = f.at[:, 2].add(-9.8)
            v = 0.99 * v + dt * f
            return x + dt * v, v
        x, _ = lax.fori_loop(0, steps, body, (x0, v0))
        return jnp.sum(x[:, 2])


    def lj(x, eps, sigma):
        n = x.shape[0]
        d = x[:, None, :] - x[None, :, :]
        r2 = jnp.sum(d * d, axis=-1) + jnp.eye(n) * 100.0
        s6 = (sigma * sigma / r2) ** 3
        e = jnp.where((r2 < 6.25) & jnp.triu(jnp.ones((n, n), bool), 1), 4.0 * eps * (s6 * s6 - s6), 0.0)
        return jnp.sum(e)


    def pendulums(theta0, omega0, length, steps, dt):
        def body(_, s):
            th, om = s
            acc = -9.81 / length * jnp.sin(th) - 0.1 * om
            om_half = om + 0.5 * dt * acc
            th_half = th + 0.5 * dt * om
            acc2 = -9.81 / length * jnp.sin(th_half) - 0.1 * om_half
            return th + dt * om_half, om + dt * acc2
        th, om = lax.fori_loop(0, steps, body, (theta0, omega0))
        return jnp.sum(jnp.cos(th)) + jnp.sum(om ** 2)


    def diffusion_roll(u0, D, steps):
        def body(_, u):
            u = u + D * (jnp.roll(u, 1) + jnp.roll(u, -1) - 2.0 * u)
            return jnp.where(u > 0.0, u, 0.0)
        return jnp.sum(lax.fori_loop(0, steps, body, u0) ** 3)


    def sph(x, m, h):
        d = x[:, None, :] - x[None, :, :]
        r2 = jnp.sum(d * d, axis=2)
        w = jnp.exp(-r2 / (h * h))
        rho = jnp.sum(m[None, :] * w, axis=1)
        p = rho ** 2 - 1.0
        return jnp.sum(p * p) + jnp.sum(jnp.log(rho))


    def logreg_loop(w, b, X, y):
        z = X @ w + b
        return jnp.mean(jnp.where(y > 0.5, jnp.log1p(jnp.exp(-z)), jnp.log1p(jnp.exp(z))))


    def neural_ode(W1, b1, W2, x0, steps, dt):
        def body(_, x):
            h = jnp.tanh(x @ W1 + b1)
            return x + dt * (h @ W2)
        return jnp.sum(lax.fori_loop(0, steps, body, x0) ** 2)


    def xy_model(theta, J, steps, dt):
        def body(_, th):
            torque = (jnp.sin(jnp.roll(th, 1, axis=0) - th) + jnp.sin(jnp.roll(th, -1, axis=0) - th)
                      + jnp.sin(jnp.roll(th, 1, axis=1) - th) + jnp.sin(jnp.roll(th, -1, axis=1) - th))
            return th + dt * J * torque
        th = lax.fori_loop(0, steps, body, theta)
        return -jnp.sum(jnp.cos(th - jnp.roll(th, 1, axis=0)))

    return {name: value for name, value in locals().items() if name in PROGRAMS}


# ---------------------------------------------------------------------------
# Inputs: (arguments, positions differentiated, positions JAX takes as static)
# ---------------------------------------------------------------------------

PROGRAMS = ("nbody", "wave2d", "softmax_xent", "mlp", "cloth", "lj", "pendulums", "diffusion_roll", "sph",
            "logreg_loop", "neural_ode", "xy_model")


def _grid_springs(g):
    node = np.arange(g * g).reshape(g, g)
    across = [(node[r, c], node[r, c + 1]) for r in range(g) for c in range(g - 1)]
    down = [(node[r, c], node[r + 1, c]) for r in range(g - 1) for c in range(g)]
    return np.array(across + down, dtype=np.int64)


def inputs(name, rng):
    if name == "nbody":
        return (rng.standard_normal((32, 3)), 0.1 * rng.standard_normal((32, 3)), rng.uniform(0.5, 1, 32), 200, 0.001), (0, 1, 2), (3,)
    if name == "wave2d":
        grid = np.arange(64.0)
        bump = np.exp(-((grid[:, None] - 32.0) ** 2 + (grid[None, :] - 30.0) ** 2) / 20.0)
        return (bump, 0.2, 200), (0, 1), (2,)
    if name == "softmax_xent":
        return (0.1 * rng.standard_normal((32, 10)), np.zeros(10), rng.standard_normal((2000, 32)), rng.integers(0, 10, 2000)), (0, 1), ()
    if name == "mlp":
        return ((0.2 * rng.standard_normal((32, 64)), np.zeros(64), 0.2 * rng.standard_normal((64, 4)), np.zeros(4),
                 rng.standard_normal((512, 32)), rng.standard_normal((512, 4))), (0, 1, 2, 3), ())
    if name == "cloth":
        g = 10
        flat = np.stack(np.meshgrid(np.arange(g) * 1.0, np.arange(g) * 1.0, indexing="ij"), -1).reshape(-1, 2)
        x0 = np.concatenate([flat, np.zeros((g * g, 1))], 1) + 0.01 * rng.standard_normal((g * g, 3))
        springs = _grid_springs(g)
        return (x0, np.zeros((g * g, 3)), springs, np.ones(len(springs)), rng.uniform(50, 100, len(springs)), 200, 0.002), (0, 1, 4), (5,)
    if name == "lj":
        return (rng.uniform(0, 6.0, (128, 3)), 1.0, 1.0), (0, 1, 2), ()
    if name == "pendulums":
        return (rng.uniform(-1, 1, 100), np.zeros(100), rng.uniform(0.5, 2, 100), 1000, 0.01), (0, 1, 2), (3,)
    if name == "diffusion_roll":
        return (rng.uniform(0, 1, 256), 0.2, 1000), (0, 1), (2,)
    if name == "sph":
        return (rng.uniform(0, 3, (64, 2)), rng.uniform(0.5, 1.5, 64), 0.7), (0, 1, 2), ()
    if name == "logreg_loop":
        return ((0.1 * rng.standard_normal(16), 0.0, rng.standard_normal((5000, 16)),
                 (rng.uniform(size=5000) > 0.5).astype(np.float64)), (0, 1), ())
    if name == "neural_ode":
        return ((0.3 * rng.standard_normal((4, 32)), np.zeros(32), 0.3 * rng.standard_normal((32, 4)),
                 rng.standard_normal((64, 4)), 100, 0.05), (0, 1, 2, 3), (4,))
    return (rng.uniform(-1, 1, (32, 32)), 1.0, 100, 0.05), (0, 1), (2,)


def run_program(name, repeats, jax, jax_versions):
    """Check, time and print one program; returns (summary row, whether srcad failed or was wrong)."""
    import srcad

    rng = np.random.default_rng(PROGRAMS.index(name))
    args, wrt, static = inputs(name, rng)
    function = globals()[name]
    start = time.perf_counter()
    gradient_of = srcad.grad(function, wrt=wrt)
    gradient = gradient_of(*args)
    first = time.perf_counter() - start
    gradient = gradient if isinstance(gradient, tuple) else (gradient,)
    primal = numba.njit(function)
    try:
        primal(*args)
        primal_kind = "numba"
    except numba.core.errors.TypingError:
        primal, primal_kind = srcad.differentiable(function), "srcad"
        primal(*args)
    worst, ok = fd_check(function, args, wrt, gradient, rng)
    contenders = {"primal": primal, "srcad": gradient_of}
    jax_difference = None
    if jax is not None:
        jitted = jax.jit(jax.grad(jax_versions[name], argnums=wrt), static_argnums=static)
        placed = [a if k in static else jax.device_put(a) for k, a in enumerate(args)]
        reference = [np.asarray(g) for g in jitted(*placed)]
        jax_difference = max_relative_difference(gradient, reference)
        contenders["jax"] = lambda *_: jax.block_until_ready(jitted(*placed))
    best = timed_rounds(contenders, args, repeats)
    row = {"program": name, "primal": best["primal"], "srcad": best["srcad"], "jax": best.get("jax"), "first": first,
           "primal_kind": primal_kind}
    jax_text = "" if jax_difference is None else f", |jax - srcad| / |srcad| {jax_difference:.1e}"
    print(f"{name}: central differences, worst relative error {worst:.1e} ({'ok' if ok else 'WRONG'}){jax_text}; "
          f"first gradient {first:.2f} s", flush=True)
    return row, not ok


def print_summary(rows):
    print("\nsummary (ms per call, best of the rounds; srcad first call in s)")
    print(f"  {'program':15s} {'primal':>9s} {'srcad':>9s} {'jax':>9s} {'srcad/primal':>13s} {'srcad/jax':>10s} {'first call':>11s}")
    for row in rows:
        jax, ratio = ("-", "-") if row["jax"] is None else (f"{row['jax'] * 1e3:.3f}", f"{row['srcad'] / row['jax']:.2f}")
        kind = "" if row["primal_kind"] == "numba" else "  (primal: srcad's)"
        print(f"  {row['program']:15s} {row['primal'] * 1e3:9.3f} {row['srcad'] * 1e3:9.3f} {jax:>9s} "
              f"{row['srcad'] / row['primal']:13.2f} {ratio:>10s} {row['first']:11.2f}{kind}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", default=",".join(PROGRAMS), help="comma-separated, from: " + ", ".join(PROGRAMS))
    parser.add_argument("--repeats", type=int, default=10, help="timed rounds (default 10)")
    parser.add_argument("--jax-threads", type=int, default=1, help="XLA's CPU threads (0: XLA's default)")
    options = parser.parse_args(argv)
    jax = import_jax(options.jax_threads)
    versions = jax_programs(jax) if jax is not None else None
    if jax is None:
        print("jax is not installed (pip install -e '.[bench]'): srcad against numba only")
    rows, failed = [], False
    for name in options.programs.split(","):
        row, wrong = run_program(name.strip(), options.repeats, jax, versions)
        rows.append(row)
        failed = failed or wrong
    print_summary(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
