"""Gradients of four time-step programs written with whole arrays: srcad against a numba
primal and (when installed) JAX, measured side by side.

Written as a physicist writes a simulation in NumPy: slices, fancy indexing, ``np.sum(...,
axis=1)``, ``[:, None]`` broadcasting, fresh arrays each step, and a loop only where the
physics has one (time steps, springs, a mixture's points and components):

- ``wave(u0, c, steps)``: the 1-D wave equation, leapfrog on slices, fixed ends; the loss is
  the sum of the squared final field; 128 points, 2000 steps; gradient with respect to the
  initial field ``u0`` and the wave speeds ``c``;
- ``springs(x0, v0, a, b, rest, k, steps, dt)``: a chain of 20 masses in 2-D, an ``(n, 2)``
  position array, 19 springs given by index arrays ``a`` and ``b``, damping and gravity,
  1000 steps of semi-implicit Euler; gradient with respect to ``x0``, ``v0`` and the spring
  constants ``k``;
- ``rk4(x0, y, h, steps)``: classic Runge-Kutta on a chain of 40 compartments, the right-hand
  side a helper ``rate(x, y)`` that returns a new array; 1000 steps; gradient with respect to
  ``x0`` and the rates ``y``;
- ``mixture(alphas, means, icf, x)``: a Gaussian mixture's log-likelihood (diagonal inverse
  covariances ``exp(icf)``), small array operations per point and component, the log-sum-exp
  taken with ``np.max``; n = 1000 points, d = 10, k = 25; gradient with respect to
  ``alphas``, ``means`` and ``icf``;
- ``heat(u0, alpha, steps)``: the 2-D heat equation, a five-point Laplacian on slices of a
  48 x 48 grid, 300 steps; gradient with respect to ``u0`` and ``alpha``;
- ``burgers(u0, nu, steps, dt, dx)``: viscous Burgers' equation in 1-D, centred differences on
  slices, a copy of the state written inside each step, 200 points, 1000 steps; gradient with
  respect to ``u0`` and ``nu``.

Run:  python benchmarks/array_steps.py [--programs wave,springs,rk4,mixture,heat,burgers] [--repeats 10]
                                       [--quick] [--jax-threads 1]

``--quick`` takes small sizes (and 3 rounds unless ``--repeats`` is given): a smoke run of
every code path, in seconds plus the compiles.

Contenders, per program:

- numba primal: ``numba.njit`` of the same function (``rk4`` calling an njit-compiled
  ``rate``): the cost of one evaluation;
- srcad.grad: ``srcad.grad(function, wrt=...)`` of the plain function;
- jax.jit(jax.grad): an idiomatic ``jax.numpy`` version in float64, the time loop in
  ``jax.lax.fori_loop``, the springs' forces scattered with ``.at[].add``, the mixture
  vectorized over points and components; inputs placed on JAX's device once; only when
  ``jax`` is importable. XLA runs on ``--jax-threads`` threads (default 1, like numba;
  0 leaves XLA's default).

Before timing, srcad's gradient is checked against float64 central differences of the numba
primal on a few random coordinates of each differentiated argument, at the quick size (the
worst relative error is printed); at the timed size JAX's gradient is compared with srcad's
(``max |jax - srcad| / max |srcad|``, the worst over the arguments). Each contender is
called once to compile, then all are timed in turn, round after round, keeping each one's
best round (``timing.py``), so a slow moment on the machine touches all alike.

The ratios: ``srcad / primal`` is what a gradient costs in evaluations of the function
(target <= 3); ``srcad / jax`` below 1 means srcad's gradient is faster than JAX's compiled
one (target <= 1). ``srcad first call`` is the first gradient call, at the quick size: srcad's
transformation and numba's compile, or a load from srcad's cache. The script asserts nothing
about time; it exits non-zero only when srcad fails or its gradient is wrong.
"""

import argparse
import os
import sys
import time
import traceback

import numba
import numpy as np
from timing import timed_rounds  # benchmarks/timing.py

PROGRAMS = ("wave", "springs", "rk4", "mixture", "heat", "burgers", "particles", "upwind", "gray_scott")
FD_STEP = 1e-6  # relative
FD_TOLERANCE = 1e-5  # relative, on top of the difference quotient's rounding noise
FD_COORDINATES = 4  # random coordinates checked per differentiated argument


# ---------------------------------------------------------------------------
# The programs, as a user writes them (srcad differentiates these).
# ---------------------------------------------------------------------------


def wave(u0, c, steps):
    n = u0.shape[0]
    u_prev = u0.copy()
    u = u0.copy()
    r2 = (c * 0.1) ** 2
    for _ in range(steps):
        u_next = np.zeros(n)
        u_next[1:-1] = 2.0 * u[1:-1] - u_prev[1:-1] + r2[1:-1] * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u_prev = u
        u = u_next
    return np.sum(u * u)


def springs(x0, v0, a, b, rest, k, steps, dt):
    x = x0.copy()
    v = v0.copy()
    for _ in range(steps):
        d = x[a] - x[b]
        length = np.sqrt(np.sum(d * d, axis=1))
        fs = (k * (length - rest) / length)[:, None] * d
        f = np.zeros_like(x)
        for s in range(a.shape[0]):
            f[a[s]] -= fs[s]
            f[b[s]] += fs[s]
        f[:, 1] -= 9.8
        v = 0.99 * v + dt * f
        x = x + dt * v
    return np.sum(x[:, 0] ** 2) + np.sum(x[:, 1])


def rate(x, y):
    n = x.shape[0]
    out = np.empty(n)
    out[0] = -x[0] * y[0]
    for i in range(1, n):
        out[i] = y[i] * (x[i - 1] - x[i])
    return out


def rk4(x0, y, h, steps):
    x = x0.copy()
    for _ in range(steps):
        k1 = rate(x, y)
        k2 = rate(x + 0.5 * h * k1, y)
        k3 = rate(x + 0.5 * h * k2, y)
        k4 = rate(x + h * k3, y)
        x = x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return np.sum(x * x)


def mixture(alphas, means, icf, x):
    n, d = x.shape  # noqa: RUF059 - the unpacking a user writes, as benchmarked
    k = alphas.shape[0]
    total = 0.0
    for i in range(n):
        lse = np.empty(k)
        for j in range(k):
            diff = x[i] - means[j]
            scaled = np.exp(icf[j]) * diff
            lse[j] = alphas[j] + np.sum(icf[j]) - 0.5 * np.sum(scaled * scaled)
        m = np.max(lse)
        total += m + np.log(np.sum(np.exp(lse - m)))
    amax = np.max(alphas)
    return total - n * (amax + np.log(np.sum(np.exp(alphas - amax))))


def heat(u0, alpha, steps):
    u = u0.copy()
    for _ in range(steps):
        lap = np.zeros_like(u)
        lap[1:-1, 1:-1] = u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4.0 * u[1:-1, 1:-1]
        u = u + alpha * lap
    return np.sum(u * u)


def burgers(u0, nu, steps, dt, dx):
    u = u0.copy()
    for _ in range(steps):
        ux = (u[2:] - u[:-2]) / (2.0 * dx)
        uxx = (u[2:] - 2.0 * u[1:-1] + u[:-2]) / (dx * dx)
        u_new = u.copy()
        u_new[1:-1] = u[1:-1] + dt * (nu * uxx - u[1:-1] * ux)
        u = u_new
    return np.sum(u ** 2)


def particles(x0, v0, m, steps, dt):
    x = x0
    v = v0
    for _ in range(steps):
        d = x[None, :, :] - x[:, None, :]
        r2 = np.sum(d * d, axis=2) + 0.01
        inv = m[None, :] / (r2 * np.sqrt(r2))
        acc = np.sum(inv[:, :, None] * d, axis=1)
        v = v + dt * acc
        x = x + dt * v
    return np.sum(x * x)


def upwind(u0, speed, steps):
    u = u0.copy()
    for _ in range(steps):
        flux = speed * u
        u = u - 0.4 * (flux - np.roll(flux, 1))
    return np.sum((u - u0) ** 2)


def gray_scott(a0, b0, f, k, steps):
    a = a0
    b = b0
    for _ in range(steps):
        la = np.roll(a, 1, axis=0) + np.roll(a, -1, axis=0) + np.roll(a, 1, axis=1) + np.roll(a, -1, axis=1) - 4 * a
        lb = np.roll(b, 1, axis=0) + np.roll(b, -1, axis=0) + np.roll(b, 1, axis=1) + np.roll(b, -1, axis=1) - 4 * b
        abb = a * b * b
        a = a + 0.2 * (0.16 * la - abb + f * (1 - a))
        b = b + 0.2 * (0.08 * lb + abb - (f + k) * b)
    return np.mean(b ** 2)


def _gray_scott_for_numba(a0, b0, f, k, steps):
    """gray_scott with numba's own np.roll (of the array flattened): rows rolled by n elements, columns
    by one with the wrapped column put back. The same values; numba has no np.roll along an axis."""
    a = a0
    b = b0
    n = a0.shape[1]
    for _ in range(steps):
        la = _laplacian(a, n)
        lb = _laplacian(b, n)
        abb = a * b * b
        a = a + 0.2 * (0.16 * la - abb + f * (1 - a))
        b = b + 0.2 * (0.08 * lb + abb - (f + k) * b)
    return np.mean(b ** 2)


@numba.njit
def _laplacian(a, n):
    right = np.roll(a, 1)
    right[:, 0] = a[:, n - 1]
    left = np.roll(a, -1)
    left[:, n - 1] = a[:, 0]
    return np.roll(a, n) + np.roll(a, -n) + right + left - 4 * a


# numba's rk4 must call a compiled rate: the same code object, with ``rate`` bound to its
# numba compilation in the globals numba resolves it from.
rk4_primal = numba.njit(type(rk4)(rk4.__code__, dict(globals(), rate=numba.njit(rate)), "rk4_primal"))


# ---------------------------------------------------------------------------
# Inputs and sizes: name -> (function, primal, wrt, the int arguments JAX keeps static, sizes, args).
# ---------------------------------------------------------------------------


def wave_args(size, rng):
    n = size["n"]
    return np.exp(-np.linspace(-3.0, 3.0, n) ** 2), rng.uniform(0.5, 1.0, n), size["steps"]


def springs_args(size, rng):
    n = size["n"]
    x0 = np.zeros((n, 2))
    x0[:, 0] = 1.1 * np.arange(n)
    x0 += 0.01 * rng.standard_normal((n, 2))
    k = rng.uniform(5.0, 10.0, n - 1)
    return x0, np.zeros((n, 2)), np.arange(n - 1), np.arange(1, n), 1.0, k, size["steps"], 0.01


def rk4_args(size, rng):
    n = size["n"]
    return rng.standard_normal(n), rng.uniform(0.5, 1.5, n), 0.01, size["steps"]


def mixture_args(size, rng):
    n, d, k = size["n"], size["d"], size["k"]
    return (rng.standard_normal(k), rng.standard_normal((k, d)), 0.1 * rng.standard_normal((k, d)),
            rng.standard_normal((n, d)))


def heat_args(size, rng):
    return rng.standard_normal((size["n"], size["n"])), 0.1, size["steps"]


def burgers_args(size, rng):
    n = size["n"]
    return np.sin(np.linspace(0.0, 2.0 * np.pi, n)), 0.05, size["steps"], 1e-4, 2.0 * np.pi / (n - 1)


def particles_args(size, rng):
    n = size["n"]
    return (rng.standard_normal((n, 3)), 0.1 * rng.standard_normal((n, 3)), rng.uniform(0.5, 1.0, n), size["steps"],
            0.001)


def upwind_args(size, rng):
    n = size["n"]
    return np.sin(np.linspace(0.0, 6.0, n)), 1.0 + 0.1 * rng.uniform(size=n), size["steps"]


def gray_scott_args(size, rng):
    n = size["n"]
    return 1.0 + 0.1 * rng.uniform(size=(n, n)), 0.2 * rng.uniform(size=(n, n)), 0.04, 0.06, size["steps"]


SETUP = {
    "wave": (wave, numba.njit(wave), (0, 1), (2,), wave_args,
             {"full": {"n": 128, "steps": 2000}, "quick": {"n": 32, "steps": 50}}),
    "springs": (springs, numba.njit(springs), (0, 1, 5), (6,), springs_args,
                {"full": {"n": 20, "steps": 1000}, "quick": {"n": 6, "steps": 50}}),
    "rk4": (rk4, rk4_primal, (0, 1), (3,), rk4_args,
            {"full": {"n": 40, "steps": 1000}, "quick": {"n": 8, "steps": 20}}),
    "mixture": (mixture, numba.njit(mixture), (0, 1, 2), (), mixture_args,
                {"full": {"n": 1000, "d": 10, "k": 25}, "quick": {"n": 20, "d": 3, "k": 4}}),
    "heat": (heat, numba.njit(heat), (0, 1), (2,), heat_args,
             {"full": {"n": 48, "steps": 300}, "quick": {"n": 8, "steps": 10}}),
    "burgers": (burgers, numba.njit(burgers), (0, 1), (2,), burgers_args,
                {"full": {"n": 200, "steps": 1000}, "quick": {"n": 16, "steps": 20}}),
    "particles": (particles, numba.njit(particles), (0, 1, 2), (3,), particles_args,
                  {"full": {"n": 32, "steps": 200}, "quick": {"n": 5, "steps": 4}}),
    "upwind": (upwind, numba.njit(upwind), (0, 1), (2,), upwind_args,
               {"full": {"n": 256, "steps": 2000}, "quick": {"n": 12, "steps": 10}}),
    "gray_scott": (gray_scott, numba.njit(_gray_scott_for_numba), (0, 1, 2, 3), (4,), gray_scott_args,
                   {"full": {"n": 48, "steps": 300}, "quick": {"n": 6, "steps": 5}}),
}


def describe(size):
    return ", ".join(f"{key} = {value}" for key, value in size.items())


# ---------------------------------------------------------------------------
# JAX versions (idiomatic jax.numpy, float64), same signatures as the programs.
# ---------------------------------------------------------------------------


def import_jax(threads):
    """jax with float64 on, or None; XLA's CPU thread pool is set before XLA starts."""
    if threads > 0:
        flags = f"intra_op_parallelism_threads={threads}"
        if threads == 1:
            flags = "--xla_cpu_multi_thread_eigen=false " + flags
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def jax_function(jax, name):
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    fori = jax.lax.fori_loop
    if name == "wave":
        def jax_wave(u0, c, steps):
            r2 = (c[1:-1] * 0.1) ** 2

            def step(_, state):
                u_prev, u = state
                inner = 2.0 * u[1:-1] - u_prev[1:-1] + r2 * (u[2:] - 2.0 * u[1:-1] + u[:-2])
                return u, jnp.pad(inner, 1)

            _, u = fori(0, steps, step, (u0, u0))
            return jnp.sum(u * u)
        return jax_wave

    if name == "springs":
        def jax_springs(x0, v0, a, b, rest, k, steps, dt):
            def step(_, state):
                x, v = state
                d = x[a] - x[b]
                length = jnp.sqrt(jnp.sum(d * d, axis=1))
                fs = (k * (length - rest) / length)[:, None] * d
                f = jnp.zeros_like(x).at[a].add(-fs).at[b].add(fs).at[:, 1].add(-9.8)
                v = 0.99 * v + dt * f
                return x + dt * v, v

            x, _ = fori(0, steps, step, (x0, v0))
            return jnp.sum(x[:, 0] ** 2) + jnp.sum(x[:, 1])
        return jax_springs

    if name == "rk4":
        def jax_rate(x, y):
            return jnp.concatenate((-x[:1] * y[:1], y[1:] * (x[:-1] - x[1:])))

        def jax_rk4(x0, y, h, steps):
            def step(_, x):
                k1 = jax_rate(x, y)
                k2 = jax_rate(x + 0.5 * h * k1, y)
                k3 = jax_rate(x + 0.5 * h * k2, y)
                k4 = jax_rate(x + h * k3, y)
                return x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

            x = fori(0, steps, step, x0)
            return jnp.sum(x * x)
        return jax_rk4

    if name == "mixture":
        def jax_mixture(alphas, means, icf, x):
            scaled = jnp.exp(icf)[None, :, :] * (x[:, None, :] - means[None, :, :])  # (n, k, d)
            lse = alphas + jnp.sum(icf, axis=1) - 0.5 * jnp.sum(scaled * scaled, axis=2)  # (n, k)
            return jnp.sum(logsumexp(lse, axis=1)) - x.shape[0] * logsumexp(alphas)
        return jax_mixture

    if name == "heat":
        def jax_heat(u0, alpha, steps):
            def step(_, u):
                lap = u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4.0 * u[1:-1, 1:-1]
                return u + alpha * jnp.pad(lap, 1)

            u = fori(0, steps, step, u0)
            return jnp.sum(u * u)
        return jax_heat

    if name == "burgers":
        def jax_burgers(u0, nu, steps, dt, dx):
            def step(_, u):
                ux = (u[2:] - u[:-2]) / (2.0 * dx)
                uxx = (u[2:] - 2.0 * u[1:-1] + u[:-2]) / (dx * dx)
                return u.at[1:-1].set(u[1:-1] + dt * (nu * uxx - u[1:-1] * ux))

            u = fori(0, steps, step, u0)
            return jnp.sum(u ** 2)
        return jax_burgers

    if name == "particles":
        def jax_particles(x0, v0, m, steps, dt):
            def step(_, state):
                x, v = state
                d = x[None, :, :] - x[:, None, :]
                r2 = jnp.sum(d * d, axis=2) + 0.01
                acc = jnp.sum((m[None, :] / (r2 * jnp.sqrt(r2)))[:, :, None] * d, axis=1)
                v = v + dt * acc
                return x + dt * v, v

            x, _ = fori(0, steps, step, (x0, v0))
            return jnp.sum(x * x)
        return jax_particles

    if name == "upwind":
        def jax_upwind(u0, speed, steps):
            def step(_, u):
                flux = speed * u
                return u - 0.4 * (flux - jnp.roll(flux, 1))

            u = fori(0, steps, step, u0)
            return jnp.sum((u - u0) ** 2)
        return jax_upwind

    if name == "gray_scott":
        def laplacian(a):
            return jnp.roll(a, 1, 0) + jnp.roll(a, -1, 0) + jnp.roll(a, 1, 1) + jnp.roll(a, -1, 1) - 4 * a

        def jax_gray_scott(a0, b0, f, k, steps):
            def step(_, state):
                a, b = state
                abb = a * b * b
                return (a + 0.2 * (0.16 * laplacian(a) - abb + f * (1 - a)),
                        b + 0.2 * (0.08 * laplacian(b) + abb - (f + k) * b))

            _, b = fori(0, steps, step, (a0, b0))
            return jnp.mean(b ** 2)
        return jax_gray_scott

    raise ValueError(name)


def jax_contender(jax, name, wrt, static, args):
    """jax.jit(jax.grad(...)) on ``args`` put on JAX's device once; returns NumPy arrays."""
    gradient = jax.jit(jax.grad(jax_function(jax, name), argnums=wrt), static_argnums=static)
    placed = tuple(a if i in static else jax.device_put(a) for i, a in enumerate(args))

    def call(*_unused):
        return tuple(np.asarray(g) for g in jax.block_until_ready(gradient(*placed)))

    return call


# ---------------------------------------------------------------------------
# Checks, timing, output.
# ---------------------------------------------------------------------------


def fd_check(primal, args, wrt, gradient, rng):
    """Worst relative error of ``gradient`` against central differences of ``primal`` on a
    few random coordinates per argument in ``wrt``, and whether all are within tolerance."""
    worst, ok = 0.0, True
    eps = np.finfo(np.float64).eps
    for g, k in zip(gradient, wrt):
        argument, g = np.asarray(args[k], dtype=np.float64), np.asarray(g)  # a float argument: 0-d
        for flat in rng.choice(argument.size, size=min(FD_COORDINATES, argument.size), replace=False):
            index = np.unravel_index(flat, argument.shape)
            h = FD_STEP * max(1.0, abs(argument[index]))
            values = []
            for sign in (1.0, -1.0):
                moved = argument.copy()
                moved[index] += sign * h
                moved = moved if isinstance(args[k], np.ndarray) else float(moved)
                values.append(primal(*args[:k], moved, *args[k + 1:]))
            difference = (values[0] - values[1]) / (2.0 * h)
            noise = 64.0 * eps * max(abs(values[0]), abs(values[1])) / h
            error = abs(g[index] - difference)
            worst = max(worst, error / max(abs(g[index]), noise, 1e-300))
            ok = ok and error <= FD_TOLERANCE * abs(g[index]) + noise
    return worst, ok


def max_relative_difference(gradient, reference):
    return max(float(np.max(np.abs(g - r))) / max(float(np.max(np.abs(r))), 1e-300)
               for g, r in zip(gradient, reference))


def run_program(name, size_name, repeats, jax):
    """Check, time and print one program; returns (summary row, whether srcad failed)."""
    function, primal, wrt, static, make_args, sizes = SETUP[name]
    rng = np.random.default_rng(PROGRAMS.index(name))  # the same inputs whatever else runs
    size = sizes[size_name]
    print(f"\n=== {name}: {describe(size)}; gradient with respect to arguments {wrt} ===")
    row = {"program": name}
    try:
        import srcad

        check_args = make_args(sizes["quick"], rng)
        primal(*check_args)  # compile
        start = time.perf_counter()
        gradient = srcad.grad(function, wrt=wrt)(*check_args)
        row["first"] = time.perf_counter() - start
        print(f"srcad first call (transform + compile or cache load + run): {row['first']:.2f} s")
        worst, ok = fd_check(primal, check_args, wrt, gradient, rng)
        print(f"srcad vs central differences ({describe(sizes['quick'])}, {FD_COORDINATES} coordinates "
              f"per argument): max rel error {worst:.2e}" + ("" if ok else "   WRONG"))
        if not ok:
            print(f"srcad's gradient of {name} disagrees with central differences", file=sys.stderr)
            return row, True
        srcad_grad = srcad.grad(function, wrt=wrt)
    except Exception:  # noqa: BLE001 - any failure of srcad is reported, then the next program runs
        print(f"srcad FAILED on {name}:", file=sys.stderr)
        traceback.print_exc()
        return row, True

    args = make_args(size, rng)
    print(f"{name} = {primal(*args):.12g}")
    contenders = {"numba primal": primal, "srcad.grad": srcad_grad}
    srcad_gradient = srcad_grad(*args)
    if jax is not None:
        try:
            jax_grad = jax_contender(jax, name, wrt, static, args)
            start = time.perf_counter()
            jax_gradient = jax_grad()
            print(f"jax first call (trace + XLA compile + run): {time.perf_counter() - start:.2f} s")
            print(f"jax vs srcad at this size: max |jax - srcad| / max |srcad| "
                  f"{max_relative_difference(jax_gradient, srcad_gradient):.2e}")
            contenders["jax.jit(jax.grad)"] = jax_grad
        except Exception:  # noqa: BLE001 - a JAX failure leaves its row out
            print(f"jax failed on {name}; leaving it out:", file=sys.stderr)
            traceback.print_exc()

    best = timed_rounds(contenders, args, repeats)
    print(f"best of {repeats} rounds, after warm-up")
    for contender, seconds in best.items():
        print(f"  {contender:<20}{seconds * 1e3:>12.4f} ms")
    row.update(best)
    return row, False


def print_summary(rows):
    columns = ("numba primal", "srcad.grad", "jax.jit(jax.grad)")
    print("\nsummary (ms per call; srcad first call in s)")
    print(f"  {'program':<10}{'primal':>10}{'srcad':>10}{'jax':>10}{'srcad/primal':>14}"
          f"{'srcad/jax':>11}{'first call':>12}")

    def cell(value, form, width):
        return f"{'-' if value is None else format(value, form):>{width}}"

    for row in rows:
        primal_s, srcad_s, jax_s = (row.get(c) for c in columns)
        print(f"  {row['program']:<10}"
              + "".join(cell(None if s is None else s * 1e3, ".3f", 10) for s in (primal_s, srcad_s, jax_s))
              + cell(srcad_s / primal_s if srcad_s and primal_s else None, ".2f", 13) + " "
              + cell(srcad_s / jax_s if srcad_s and jax_s else None, ".2f", 10) + " "
              + cell(row.get("first"), ".2f", 11))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", default=",".join(PROGRAMS),
                        help=f"comma-separated subset of {','.join(PROGRAMS)} (default all)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 10; 3 with --quick)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--jax-threads", type=int, default=1,
                        help="XLA's CPU threads, set before it starts (default 1; 0: XLA's default)")
    options = parser.parse_args(argv)
    names = [name.strip() for name in options.programs.split(",") if name.strip()]
    unknown = [name for name in names if name not in PROGRAMS]
    if unknown:
        parser.error(f"unknown program(s) {', '.join(unknown)}; choose from {', '.join(PROGRAMS)}")
    repeats = options.repeats if options.repeats is not None else (3 if options.quick else 10)

    jax = import_jax(options.jax_threads)
    print(f"jax: version {jax.__version__}, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}" if jax is not None
          else "jax: not installed (no JAX rows)")
    rows, failed = [], []
    for name in names:
        row, srcad_failed = run_program(name, "quick" if options.quick else "full", repeats, jax)
        rows.append(row)
        if srcad_failed:
            failed.append(name)
    print_summary(rows)
    if failed:
        print(f"\nsrcad failed (error or wrong gradient) on: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
