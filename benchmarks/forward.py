"""Forward mode and second order: srcad.jvp against the numba primal, and Hessian-vector
products (srcad.jvp(srcad.grad(f))) against the gradient, measured side by side in one run,
with JAX's jvp and jvp(grad) where JAX is installed.

Two functions: the loop-style spring chain of ``springs.py`` (n = 256 masses, 2000 steps;
tangents on the initial positions and the stiffness) and Rosenbrock's function written as a
loop over n = 10**4 coordinates.

Run:  python benchmarks/forward.py [--repeats 10]

Each contender is called once to compile; then all are timed in turn, round after round, and
the best round of each is kept. A round of a contender is --inner calls in a row on the same
arrays (the mean per call): the steady cost of a call repeated, caches warm (for Rosenbrock;
the spring chain's calls are long enough to time one by one); --inner 1 times each call right
after the other contenders', its data pushed out of the caches by theirs, which costs forward
mode more (it reads a tangent beside each value). Times are of the public calls (argument
checks and copies included). The script prints times and ratios; it asserts nothing about time. It exits
non-zero only when srcad fails or disagrees with the closed form / the primal.
"""

import argparse
import sys

import numba
import numpy as np

from springs import DAMPING, DT, REST, STIFFNESS, initial_state, spring_chain_loss  # benchmarks/springs.py
from timing import timed_rounds  # benchmarks/timing.py

JVP_TARGET = 2.0  # jvp time / primal time
HVP_TARGET = 3.0  # Hessian-vector product time / gradient time


def rosenbrock(x):
    total = 0.0
    for i in range(x.shape[0] - 1):
        total += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return total


def rosenbrock_hessian_times(x, v):
    """The closed-form Hessian of Rosenbrock's function times v (a check, not a contender)."""
    hv = np.zeros_like(x)
    hv[:-1] += (1200.0 * x[:-1] ** 2 - 400.0 * x[1:] + 2.0) * v[:-1] - 400.0 * x[:-1] * v[1:]
    hv[1:] += 200.0 * v[1:] - 400.0 * x[:-1] * v[:-1]
    return hv


def jax_contenders(name):
    """jax.jit of jvp and of jvp(grad) for the vectorized twin of `name`, or {}."""
    try:
        import jax
    except ImportError:
        return {}
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    if name == "rosenbrock":

        def f(x):
            return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

        jvp = jax.jit(lambda x, v: jax.jvp(f, (x,), (v,)))
        hvp = jax.jit(lambda x, v: jax.jvp(jax.grad(f), (x,), (v,)))
        return {
            "JAX jit(jvp)": lambda x, v: jax.block_until_ready(jvp(x, v)),
            "JAX jit(jvp(grad))": lambda x, v: jax.block_until_ready(hvp(x, v)),
        }
    if name == "spring chain":  # the vectorized chain with lax.fori_loop; tangents on x0 and k

        def chain(x0, k, v0, c, rest, dt, steps):
            def step(t, state):
                x, v = state
                d = x[1:] - x[:-1] - rest
                s = k * (d + 0.1 * d**3)
                force = -c * v + jnp.pad(s, (0, 1)) - jnp.pad(s, (1, 0))
                v = v + dt * force
                return x + dt * v, v

            x, _ = jax.lax.fori_loop(0, steps, step, (x0, v0))
            return jnp.sum(x * x)

        def along(x0, k, dx0, dk, *rest):
            return jax.jvp(lambda a, b: chain(a, b, *rest), (x0, k), (dx0, dk))

        def hvp(x0, k, dx0, dk, *rest):
            gradient = jax.grad(lambda a, b: chain(a, b, *rest), argnums=(0, 1))
            return jax.jvp(gradient, (x0, k), (dx0, dk))

        jvp, hvp = jax.jit(along, static_argnums=(8,)), jax.jit(hvp, static_argnums=(8,))
        return {
            "JAX jit(jvp)": lambda *a: jax.block_until_ready(jvp(*a)),
            "JAX jit(jvp(grad))": lambda *a: jax.block_until_ready(hvp(*a)),
        }
    return {}


def report(title, times, pairs):
    print(f"\n{title}")
    print(f"{'contender':28s} {'time (ms)':>10s}")
    for name, seconds in times.items():
        print(f"{name:28s} {seconds * 1e3:10.3f}")
    for label, top, bottom, target in pairs:
        if top in times and bottom in times:
            ratio = times[top] / times[bottom]
            verdict = "" if target is None else f"   (target <= {target:.1f}x: {'met' if ratio <= target else 'ABOVE target'})"
            print(f"{label:28s} {ratio:8.2f}x{verdict}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--inner", type=int, default=50, help="calls in a row per round (Rosenbrock)")
    parser.add_argument("--n", type=int, default=10_000, help="Rosenbrock's dimension")
    options = parser.parse_args(argv)
    import srcad

    failed = False

    # -- Rosenbrock, n = 10**4 ---------------------------------------------------------------------
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, size=options.n)
    v = rng.normal(size=options.n)
    primal = numba.njit(rosenbrock)
    gradient = srcad.grad(rosenbrock)
    contenders = {
        "numba primal": lambda x, v: primal(x),
        "srcad.jvp": lambda x, v: srcad.jvp(rosenbrock, (x,), (v,)),
        "srcad.grad": lambda x, v: gradient(x),
        "srcad.jvp(srcad.grad)": lambda x, v: srcad.jvp(gradient, (x,), (v,)),
    }
    contenders.update(jax_contenders("rosenbrock"))
    value, tangent = srcad.jvp(rosenbrock, (x,), (v,))
    _, hv = srcad.jvp(gradient, (x,), (v,))
    expected_hv = rosenbrock_hessian_times(x, v)
    hv_error = np.max(np.abs(hv - expected_hv)) / np.max(np.abs(expected_hv))
    print(f"Rosenbrock n = {options.n}: value {value:.6e}, jvp {tangent:+.6e}; "
          f"Hessian-vector product vs closed form: max rel error {hv_error:.1e}")
    failed |= not (abs(value - primal(x)) <= 1e-9 * abs(value) and hv_error < 1e-10)
    for fn in contenders.values():
        fn(x, v)
    times = timed_rounds(contenders, (x, v), options.repeats, options.inner)
    report(f"Rosenbrock, n = {options.n}, best of {options.repeats} rounds of {options.inner} calls", times, [
        ("jvp / primal", "srcad.jvp", "numba primal", JVP_TARGET),
        ("jvp(grad) / grad", "srcad.jvp(srcad.grad)", "srcad.grad", HVP_TARGET),
        ("JAX jvp / srcad jvp", "JAX jit(jvp)", "srcad.jvp", None),
        ("JAX jvp(grad) / srcad", "JAX jit(jvp(grad))", "srcad.jvp(srcad.grad)", None),
    ])

    # -- the spring chain ---------------------------------------------------------------------------
    n, steps = 256, 2000
    x0, v0 = initial_state(n)
    dx0 = rng.normal(size=n)
    rest = (STIFFNESS, DAMPING, REST, DT, steps)
    chain_primal = numba.njit(spring_chain_loss)
    chain_gradient = srcad.grad(spring_chain_loss, wrt=(0, 2))
    tangents = (dx0, None, 1.0, None, None, None, None)
    chain = {
        "numba primal": lambda: chain_primal(x0, v0, *rest),
        "srcad.jvp": lambda: srcad.jvp(spring_chain_loss, (x0, v0, *rest), tangents),
        "srcad.grad": lambda: chain_gradient(x0, v0, *rest),
        "srcad.jvp(srcad.grad)": lambda: srcad.jvp(chain_gradient, (x0, v0, *rest), tangents),
    }
    for name, fn in jax_contenders("spring chain").items():
        chain[name] = lambda fn=fn: fn(x0, STIFFNESS, dx0, 1.0, v0, DAMPING, REST, DT, steps)
    value, tangent = srcad.jvp(spring_chain_loss, (x0, v0, *rest), tangents)
    failed |= not abs(value - chain_primal(x0, v0, *rest)) <= 1e-9 * abs(value)
    if "JAX jit(jvp)" in chain:
        jax_tangent = float(chain["JAX jit(jvp)"]()[1])
        print(f"spring chain jvp: srcad {tangent:+.10e}, JAX {jax_tangent:+.10e}")
        failed |= not abs(tangent - jax_tangent) <= 1e-8 * abs(jax_tangent)
    for fn in chain.values():
        fn()
    times = timed_rounds(chain, (), options.repeats)
    report(f"spring chain, n = {n}, {steps} steps, best of {options.repeats}", times, [
        ("jvp / primal", "srcad.jvp", "numba primal", JVP_TARGET),
        ("jvp(grad) / grad", "srcad.jvp(srcad.grad)", "srcad.grad", HVP_TARGET),
        ("JAX jvp / srcad jvp", "JAX jit(jvp)", "srcad.jvp", None),
        ("JAX jvp(grad) / srcad", "JAX jit(jvp(grad))", "srcad.jvp(srcad.grad)", None),
    ])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
