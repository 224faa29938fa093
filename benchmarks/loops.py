"""Gradients of five loop-style programs: srcad against a numba primal, a
hand-written numba adjoint and (when installed) JAX, measured side by side.

The programs are written as a user of srcad writes them: explicit ``for``
loops over elements, ``math.exp`` and ``math.log``, scalar accumulators, an
``if`` for a max or a min, work arrays made once with ``np.empty``:

- ``logsumexp(x)``: a max loop, then a sum of ``exp(x[i] - max)``;
  n = 320_000, gradient with respect to ``x``;
- ``gmm_objective(alphas, means, log_sigmas, x)``: a Gaussian mixture's
  log-likelihood with diagonal covariances (the log-sum-exp over the
  components written as loops, per point, into a work array ``q``), minus
  ``n * logsumexp(alphas)``; n = 1000 points, d = 10, k = 25, gradient with
  respect to ``alphas``, ``means`` and ``log_sigmas``;
- ``rk4(y0, p, steps)``: classic Runge-Kutta on a chain of ``n`` = 40
  compartments (``y[i]`` flows into ``y[i + 1]`` at rate ``p[i]``); the
  right-hand side is a plain module-level helper ``rhs(y, p, out)`` that
  writes its result in place, called four times per step; the loss is the
  sum of the squared final state; gradient with respect to ``y0`` and ``p``;
  10 steps (GradBench's ``ode`` size) and 1000 steps;
- ``kmeans_cost(points, centers)``: the sum over points of the squared
  distance to the nearest center; n = 10_000, k = 20, d = 8, gradient with
  respect to ``centers``;
- ``least_squares(w, X, y)``: the mean squared residual of a linear model
  written as a dot-product loop per row; n = 100_000, d = 16, gradient with
  respect to ``w``.

Run:  python benchmarks/loops.py [--programs logsumexp,gmm,rk4,kmeans,least_squares]
                                 [--rk4-steps 10,1000] [--repeats 10] [--quick]
                                 [--jax-threads 1]

``--quick`` uses small sizes (and 3 rounds unless ``--repeats`` is given):
a smoke run of every code path in a few seconds plus the compiles.

Contenders, per program:

- numba primal: ``numba.njit`` of the same function (for ``rk4``, with the
  ``rhs`` helper compiled by numba too): the cost of one evaluation;
- hand-written adjoint: a ``numba.njit`` adjoint written as an expert would:
  a forward sweep keeping only what the reverse sweep needs, then the reverse
  sweep. Where the objective is a sum of independent terms (a point's
  log-likelihood, a point's nearest distance, a row's residual), each term is
  reversed right after it is computed, so nothing is kept across terms. The
  adjoints keep the programs' arithmetic (the GMM's ``exp(-log_sigmas)`` is
  evaluated per point, as the primal does), so the ratio measures
  differentiation, not a hoisting the primal lacks;
- ``srcad.grad(f, wrt=...)``;
- ``jax.jit(jax.grad(...))`` of an idiomatic vectorized ``jax.numpy``
  version in float64 (``rk4``'s time loop in ``jax.lax.fori_loop``), inputs
  placed on JAX's device once; only when ``jax`` is importable. XLA's CPU
  thread pool is limited to ``--jax-threads`` (default 1, like the numba
  contenders; 0 leaves XLA's default).

Before timing, each hand-written adjoint is checked against float64 central
differences of the numba primal on a few random coordinates of every
argument it differentiates, at a small size; srcad is checked on the same
coordinates, and at full size the largest difference between srcad's
gradient and the hand-written one is printed (``max |srcad - hand| / max
|hand|``, the worst over the arguments). srcad's tape is counted by running
its generated adjoint source as plain Python with a counting ``reserve`` at
two short sizes and scaling linearly to the benchmark's (as
``springs.py`` does); the hand-written adjoint's kept memory is printed
beside it.

Each contender is called once to compile, then the contenders are timed in
turn, round after round, and the best round of each is kept, so a slow
moment on the machine touches all of them alike. The script prints times
and ratios; it asserts nothing about time. It exits non-zero only when
srcad fails to produce a gradient (an error, or a gradient that disagrees
with the hand-written adjoint or with central differences), or when a
hand-written adjoint disagrees with central differences.
"""

import argparse
import math
import os
import sys
import time
import traceback

import numba
import numpy as np
from tape_count import srcad_tape_length  # benchmarks/tape_count.py
from timing import timed_rounds  # benchmarks/timing.py

PROGRAMS = ("logsumexp", "gmm", "rk4", "kmeans", "least_squares")
FD_RELATIVE_STEP = 1e-6
FD_TOLERANCE = 1e-6  # relative, on top of the difference quotient's rounding noise
FD_COORDINATES = 5  # random coordinates checked per differentiated argument
SRCAD_TOLERANCE = 1e-8  # max |srcad - hand| / max |hand| above which srcad's gradient is called wrong


# ---------------------------------------------------------------------------
# The programs, as a user writes them (srcad differentiates these).
# ---------------------------------------------------------------------------


def logsumexp(x):
    n = x.shape[0]
    a = x[0]
    for i in range(1, n):
        if x[i] > a:  # noqa: PLR1730 - the branch a user writes, as benchmarked
            a = x[i]
    s = 0.0
    for i in range(n):
        s += math.exp(x[i] - a)
    return a + math.log(s)


def gmm_objective(alphas, means, log_sigmas, x):
    n, d = x.shape
    k = alphas.shape[0]
    q = np.empty(k)
    total = 0.0
    for i in range(n):
        for c in range(k):
            s = alphas[c]
            for j in range(d):
                z = (x[i, j] - means[c, j]) * math.exp(-log_sigmas[c, j])
                s -= log_sigmas[c, j] + 0.5 * z * z
            q[c] = s
        m = q[0]
        for c in range(1, k):
            if q[c] > m:  # noqa: PLR1730 - the branch a user writes, as benchmarked
                m = q[c]
        e = 0.0
        for c in range(k):
            e += math.exp(q[c] - m)
        total += m + math.log(e)
    am = alphas[0]
    for c in range(1, k):
        if alphas[c] > am:  # noqa: PLR1730 - the branch a user writes, as benchmarked
            am = alphas[c]
    ae = 0.0
    for c in range(k):
        ae += math.exp(alphas[c] - am)
    return total - n * (am + math.log(ae))


def rhs(y, p, out):
    n = y.shape[0]
    out[0] = -p[0] * y[0]
    for i in range(1, n):
        out[i] = p[i - 1] * y[i - 1] - p[i] * y[i]


def rk4(y0, p, steps):
    n = y0.shape[0]
    h = 2.0 / steps
    y = y0.copy()
    k1 = np.empty(n)
    k2 = np.empty(n)
    k3 = np.empty(n)
    k4 = np.empty(n)
    tmp = np.empty(n)
    for t in range(steps):
        rhs(y, p, k1)
        for i in range(n):
            tmp[i] = y[i] + 0.5 * h * k1[i]
        rhs(tmp, p, k2)
        for i in range(n):
            tmp[i] = y[i] + 0.5 * h * k2[i]
        rhs(tmp, p, k3)
        for i in range(n):
            tmp[i] = y[i] + h * k3[i]
        rhs(tmp, p, k4)
        for i in range(n):
            y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
    total = 0.0
    for i in range(n):
        total += y[i] * y[i]
    return total


def kmeans_cost(points, centers):
    n, d = points.shape
    k = centers.shape[0]
    total = 0.0
    for i in range(n):
        best = math.inf
        for c in range(k):
            dist = 0.0
            for j in range(d):
                diff = points[i, j] - centers[c, j]
                dist += diff * diff
            if dist < best:  # noqa: PLR1730 - the branch a user writes, as benchmarked
                best = dist
        total += best
    return total


def least_squares(w, X, y):
    n, d = X.shape
    total = 0.0
    for i in range(n):
        pred = 0.0
        for j in range(d):
            pred += X[i, j] * w[j]
        r = pred - y[i]
        total += r * r
    return total / n


# The numba primal of rk4 must call a numba-compiled rhs: the same code object, with ``rhs``
# bound to its numba compilation in the globals numba reads.
rhs_jit = numba.njit(rhs)
rk4_primal = numba.njit(type(rk4)(rk4.__code__, dict(globals(), rhs=rhs_jit), "rk4_primal"))


# ---------------------------------------------------------------------------
# Hand-written adjoints, as an expert writes them.
# ---------------------------------------------------------------------------


@numba.njit
def logsumexp_hand_adjoint(x):
    """d/dx of a + log(sum exp(x - a)), a = max(x) (the first maximal element)."""
    n = x.shape[0]
    a = x[0]
    arg = 0
    for i in range(1, n):
        if x[i] > a:
            a = x[i]
            arg = i
    e = np.empty(n)  # exp(x[i] - a): what the reverse sweep needs
    s = 0.0
    for i in range(n):
        e[i] = math.exp(x[i] - a)
        s += e[i]
    # reverse: result = a + log(s)
    s_adj = 1.0 / s
    a_adj = 1.0
    x_adj = np.empty(n)
    for i in range(n):  # s += exp(x[i] - a)
        g = e[i] * s_adj
        x_adj[i] = g
        a_adj -= g
    x_adj[arg] += a_adj  # a = x[arg] (mathematically a_adj is 0; kept as the program says)
    return x_adj


@numba.njit
def gmm_hand_adjoint(alphas, means, log_sigmas, x):
    """d/d(alphas, means, log_sigmas) of gmm_objective.

    Each point's term m + log(sum_c exp(q_c - m)) is reversed right after it is
    computed; the forward part keeps the point's z[c, j] in a k x d scratch array, and
    exp(-log_sigmas) is computed once, before the points (it does not depend on them).
    Per (c, j), with inv = exp(-ls):
        z = (x - mu) inv,   q_c -= ls + z^2 / 2
    so  mu_adj += q_adj z inv,   ls_adj += q_adj (z^2 - 1).
    """
    n, d = x.shape
    k = alphas.shape[0]
    alphas_adj = np.zeros(k)
    means_adj = np.zeros((k, d))
    log_sigmas_adj = np.zeros((k, d))
    q = np.empty(k)
    w = np.empty(k)
    q_adj = np.empty(k)
    z = np.empty((k, d))
    inv = np.exp(-log_sigmas)
    for i in range(n):
        for c in range(k):
            s = alphas[c]
            for j in range(d):
                zz = (x[i, j] - means[c, j]) * inv[c, j]
                z[c, j] = zz
                s -= log_sigmas[c, j] + 0.5 * zz * zz
            q[c] = s
        m = q[0]
        arg = 0
        for c in range(1, k):
            if q[c] > m:
                m = q[c]
                arg = c
        e = 0.0
        for c in range(k):
            w[c] = math.exp(q[c] - m)
            e += w[c]
        # reverse of total += m + log(e)
        e_adj = 1.0 / e
        m_adj = 1.0
        for c in range(k):
            g = w[c] * e_adj
            q_adj[c] = g
            m_adj -= g
        q_adj[arg] += m_adj
        for c in range(k):
            g = q_adj[c]
            alphas_adj[c] += g
            for j in range(d):
                zz = z[c, j]
                means_adj[c, j] += g * zz * inv[c, j]
                log_sigmas_adj[c, j] += g * (zz * zz - 1.0)
    # reverse of - n * (am + log(ae))
    am = alphas[0]
    arg = 0
    for c in range(1, k):
        if alphas[c] > am:
            am = alphas[c]
            arg = c
    ae = 0.0
    for c in range(k):
        ae += math.exp(alphas[c] - am)
    ae_adj = -n / ae
    am_adj = -float(n)
    for c in range(k):
        g = math.exp(alphas[c] - am) * ae_adj
        alphas_adj[c] += g
        am_adj -= g
    alphas_adj[arg] += am_adj
    return alphas_adj, means_adj, log_sigmas_adj


@numba.njit
def rhs_adjoint(y, p, out_adj, y_adj, p_adj):
    """The reverse of rhs(y, p, out): y_adj = (d out / d y)^T out_adj; p_adj += (d out / d p)^T out_adj.

    out[j] has -p[j] y[j] and out[j + 1] has +p[j] y[j], so both derivatives carry
    out_adj[j + 1] - out_adj[j] (out_adj[n] taken as 0)."""
    n = y.shape[0]
    for j in range(n - 1):
        g = out_adj[j + 1] - out_adj[j]
        y_adj[j] = p[j] * g
        p_adj[j] += y[j] * g
    g = -out_adj[n - 1]
    y_adj[n - 1] = p[n - 1] * g
    p_adj[n - 1] += y[n - 1] * g


@numba.njit
def rk4_hand_adjoint(y0, p, steps):
    """d/d(y0, p) of rk4.

    The forward sweep keeps each step's four stage inputs (y, y + h/2 k1, y + h/2 k2,
    y + h k3) in a preallocated (steps, 4, n) array: rhs is linear in y, so the
    reverse sweep needs the stage inputs only for p's adjoint, and no stage is
    recomputed. The reverse of one step, with y_adj the adjoint of the new y:
        k4_adj = h/6 y_adj;                 Y4_adj = J^T k4_adj
        k3_adj = h/3 y_adj + h Y4_adj;      Y3_adj = J^T k3_adj
        k2_adj = h/3 y_adj + h/2 Y3_adj;    Y2_adj = J^T k2_adj
        k1_adj = h/6 y_adj + h/2 Y2_adj
        y_adj  = y_adj + Y4_adj + Y3_adj + Y2_adj + J^T k1_adj
    """
    n = y0.shape[0]
    h = 2.0 / steps
    stages = np.empty((steps, 4, n))
    y = y0.copy()
    k1 = np.empty(n)
    k2 = np.empty(n)
    k3 = np.empty(n)
    k4 = np.empty(n)
    for t in range(steps):
        for i in range(n):
            stages[t, 0, i] = y[i]
        rhs_jit(y, p, k1)
        for i in range(n):
            stages[t, 1, i] = y[i] + 0.5 * h * k1[i]
        rhs_jit(stages[t, 1], p, k2)
        for i in range(n):
            stages[t, 2, i] = y[i] + 0.5 * h * k2[i]
        rhs_jit(stages[t, 2], p, k3)
        for i in range(n):
            stages[t, 3, i] = y[i] + h * k3[i]
        rhs_jit(stages[t, 3], p, k4)
        for i in range(n):
            y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])

    y_adj = np.empty(n)
    for i in range(n):
        y_adj[i] = 2.0 * y[i]  # total += y[i] * y[i]
    p_adj = np.zeros(n)
    k_adj = np.empty(n)
    stage_adj = np.empty(n)
    y_adj_new = np.empty(n)
    for t in range(steps - 1, -1, -1):
        for i in range(n):
            k_adj[i] = h / 6.0 * y_adj[i]
        rhs_adjoint(stages[t, 3], p, k_adj, stage_adj, p_adj)
        for i in range(n):
            y_adj_new[i] = y_adj[i] + stage_adj[i]
            k_adj[i] = h / 3.0 * y_adj[i] + h * stage_adj[i]
        rhs_adjoint(stages[t, 2], p, k_adj, stage_adj, p_adj)
        for i in range(n):
            y_adj_new[i] += stage_adj[i]
            k_adj[i] = h / 3.0 * y_adj[i] + 0.5 * h * stage_adj[i]
        rhs_adjoint(stages[t, 1], p, k_adj, stage_adj, p_adj)
        for i in range(n):
            y_adj_new[i] += stage_adj[i]
            k_adj[i] = h / 6.0 * y_adj[i] + 0.5 * h * stage_adj[i]
        rhs_adjoint(stages[t, 0], p, k_adj, stage_adj, p_adj)
        for i in range(n):
            y_adj[i] = y_adj_new[i] + stage_adj[i]
    return y_adj, p_adj


@numba.njit
def kmeans_hand_adjoint(points, centers):
    """d/d centers of kmeans_cost: each point's nearest center gets -2 (point - center)."""
    n, d = points.shape
    k = centers.shape[0]
    centers_adj = np.zeros((k, d))
    for i in range(n):
        best = math.inf
        arg = 0
        for c in range(k):
            dist = 0.0
            for j in range(d):
                diff = points[i, j] - centers[c, j]
                dist += diff * diff
            if dist < best:
                best = dist
                arg = c
        for j in range(d):
            centers_adj[arg, j] -= 2.0 * (points[i, j] - centers[arg, j])
    return centers_adj


@numba.njit
def least_squares_hand_adjoint(w, X, y):
    """d/dw of least_squares: sum_i 2 r_i X[i, :] / n, one pass over the rows."""
    n, d = X.shape
    w_adj = np.zeros(d)
    scale = 2.0 / n
    for i in range(n):
        pred = 0.0
        for j in range(d):
            pred += X[i, j] * w[j]
        r_adj = (pred - y[i]) * scale
        for j in range(d):
            w_adj[j] += r_adj * X[i, j]
    return w_adj


# ---------------------------------------------------------------------------
# JAX versions (vectorized jax.numpy, float64).
# ---------------------------------------------------------------------------


def import_jax(threads):
    """jax, with float64 enabled, or None. XLA's thread pool is set before XLA starts."""
    if threads > 0:
        xla = f"intra_op_parallelism_threads={threads}"
        if threads == 1:
            xla = "--xla_cpu_multi_thread_eigen=false " + xla
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + xla).strip()
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def jax_function(jax, name, size):
    """The jax.numpy version of program ``name`` at ``size``: a function of the wrt-and-data
    arguments (rk4's ``steps`` is fixed here, a Python int)."""
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp as jax_logsumexp

    if name == "logsumexp":
        return jax_logsumexp

    if name == "gmm":

        def jax_gmm_objective(alphas, means, log_sigmas, x):
            z = (x[:, None, :] - means[None, :, :]) * jnp.exp(-log_sigmas)[None, :, :]  # (n, k, d)
            q = alphas[None, :] - jnp.sum(log_sigmas[None, :, :] + 0.5 * z * z, axis=2)  # (n, k)
            return jnp.sum(jax_logsumexp(q, axis=1)) - x.shape[0] * jax_logsumexp(alphas)

        return jax_gmm_objective

    if name == "rk4":
        steps = size["steps"]
        h = 2.0 / steps

        def jax_rhs(y, p):
            inflow = jnp.concatenate((jnp.zeros(1), p[:-1] * y[:-1]))
            return inflow - p * y

        def jax_rk4(y0, p):
            def step(t, y):
                k1 = jax_rhs(y, p)
                k2 = jax_rhs(y + 0.5 * h * k1, p)
                k3 = jax_rhs(y + 0.5 * h * k2, p)
                k4 = jax_rhs(y + h * k3, p)
                return y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

            y = jax.lax.fori_loop(0, steps, step, y0)
            return jnp.sum(y * y)

        return jax_rk4

    if name == "kmeans":

        def jax_kmeans_cost(points, centers):
            diff = points[:, None, :] - centers[None, :, :]  # (n, k, d)
            return jnp.sum(jnp.min(jnp.sum(diff * diff, axis=2), axis=1))

        return jax_kmeans_cost

    if name == "least_squares":

        def jax_least_squares(w, X, y):
            r = X @ w - y
            return jnp.sum(r * r) / X.shape[0]

        return jax_least_squares

    raise ValueError(name)


def jax_contender(jax, program, size, args):
    """A call of jax.jit(jax.grad(...)) on ``args`` placed on JAX's device once, returning
    NumPy arrays shaped like srcad's result (one array, or a tuple for several wrt)."""
    jax_args = args[:2] if program.name == "rk4" else args  # steps is baked into jax_rk4
    gradient = jax.jit(jax.grad(jax_function(jax, program.name, size), argnums=program.wrt))
    device_args = tuple(jax.device_put(a) for a in jax_args)

    def call(*numpy_args_unused):
        result = jax.block_until_ready(gradient(*device_args))
        if isinstance(result, tuple):
            return tuple(np.asarray(g) for g in result)
        return np.asarray(result)

    return call


# ---------------------------------------------------------------------------
# Problems: inputs, sizes and what each adjoint keeps.
# ---------------------------------------------------------------------------


class Program:
    def __init__(self, name, function, primal, hand, wrt, wrt_names, make_args, sizes, describe,
                 scale_key, hand_kept):
        self.name = name
        self.function = function  # what srcad differentiates
        self.primal = primal  # numba-compiled
        self.hand = hand
        self.wrt = wrt
        self.wrt_names = wrt_names
        self.make_args = make_args  # (size, rng) -> args
        self.sizes = sizes  # {"full": size, "quick": size, "check": size}
        self.describe = describe  # size -> str
        self.scale_key = scale_key  # the size entry the tape grows linearly with
        self.hand_kept = hand_kept  # size -> (floats, what they are)


def logsumexp_args(size, rng):
    return (rng.standard_normal(size["n"]),)


def gmm_args(size, rng):
    n, d, k = size["n"], size["d"], size["k"]
    alphas = rng.standard_normal(k)
    means = rng.standard_normal((k, d))
    log_sigmas = 0.1 * rng.standard_normal((k, d))
    x = rng.standard_normal((n, d))
    return alphas, means, log_sigmas, x


def rk4_args(size, rng):
    n = size["n"]
    y0 = rng.uniform(0.5, 1.5, n)
    p = rng.uniform(0.5, 1.5, n)  # h p <= 0.3 at 10 steps: well inside RK4's stability region
    return y0, p, size["steps"]


def kmeans_args(size, rng):
    return rng.standard_normal((size["n"], size["d"])), rng.standard_normal((size["k"], size["d"]))


def least_squares_args(size, rng):
    n, d = size["n"], size["d"]
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d)
    y = X @ w_true + 0.1 * rng.standard_normal(n)
    w = rng.standard_normal(d)
    return w, X, y


def make_programs(rk4_steps, quick_rk4_steps):
    programs = {
        "logsumexp": [Program(
            "logsumexp", logsumexp, numba.njit(logsumexp), logsumexp_hand_adjoint, 0, ("x",),
            logsumexp_args,
            {"full": {"n": 320_000}, "quick": {"n": 2000}, "check": {"n": 50}},
            lambda s: f"n = {s['n']}", "n",
            lambda s: (s["n"], "exp(x[i] - max) per element"),
        )],
        "gmm": [Program(
            "gmm", gmm_objective, numba.njit(gmm_objective), gmm_hand_adjoint, (0, 1, 2),
            ("alphas", "means", "log_sigmas"), gmm_args,
            {"full": {"n": 1000, "d": 10, "k": 25}, "quick": {"n": 50, "d": 4, "k": 5},
             "check": {"n": 20, "d": 3, "k": 4}},
            lambda s: f"n = {s['n']} points, d = {s['d']}, k = {s['k']}", "n",
            lambda s: (2 * s["k"] * s["d"] + 3 * s["k"], "z of one point and exp(-log_sigmas), k x d each, + 3 k"),
        )],
        "rk4": [],
        "kmeans": [Program(
            "kmeans", kmeans_cost, numba.njit(kmeans_cost), kmeans_hand_adjoint, 1, ("centers",),
            kmeans_args,
            {"full": {"n": 10_000, "k": 20, "d": 8}, "quick": {"n": 200, "k": 5, "d": 3},
             "check": {"n": 50, "k": 4, "d": 3}},
            lambda s: f"n = {s['n']} points, k = {s['k']}, d = {s['d']}", "n",
            lambda s: (0, "nothing: each point reversed right away"),
        )],
        "least_squares": [Program(
            "least_squares", least_squares, numba.njit(least_squares), least_squares_hand_adjoint, 0, ("w",),
            least_squares_args,
            {"full": {"n": 100_000, "d": 16}, "quick": {"n": 1000, "d": 4}, "check": {"n": 50, "d": 5}},
            lambda s: f"n = {s['n']} rows, d = {s['d']}", "n",
            lambda s: (0, "nothing: each row reversed right away"),
        )],
    }
    for steps, quick_steps in zip(rk4_steps, quick_rk4_steps):
        programs["rk4"].append(Program(
            "rk4", rk4, rk4_primal, rk4_hand_adjoint, (0, 1), ("y0", "p"), rk4_args,
            {"full": {"n": 40, "steps": steps}, "quick": {"n": 8, "steps": quick_steps},
             "check": {"n": 6, "steps": 10}},
            lambda s: f"n = {s['n']}, steps = {s['steps']}", "steps",
            lambda s: (4 * s["n"] * s["steps"], "the 4 stage inputs per step, (steps, 4, n)"),
        ))
    return programs


# ---------------------------------------------------------------------------
# Checks.
# ---------------------------------------------------------------------------


def as_tuple(gradient):
    return tuple(gradient) if isinstance(gradient, tuple) else (gradient,)


def wrt_tuple(wrt):
    return wrt if isinstance(wrt, tuple) else (wrt,)


def central_difference_check(primal, args, wrt, gradients, rng):
    """Worst relative error of ``gradients`` against central differences of ``primal`` on
    FD_COORDINATES random coordinates of each argument in ``wrt``, and whether all are
    within FD_TOLERANCE (plus the difference quotient's rounding noise: a few ulps of f
    divided by the step). ``gradients`` is a list of gradient tuples, one per candidate."""
    eps = np.finfo(np.float64).eps
    worst = [0.0] * len(gradients)
    ok = [True] * len(gradients)
    for position, k in enumerate(wrt_tuple(wrt)):
        base = args[k]
        picks = rng.choice(base.size, size=min(FD_COORDINATES, base.size), replace=False)
        for flat in picks:
            index = np.unravel_index(flat, base.shape)
            h = FD_RELATIVE_STEP * max(1.0, abs(base[index]))
            plus, minus = base.copy(), base.copy()
            plus[index] += h
            minus[index] -= h
            f_plus = primal(*(args[:k] + (plus,) + args[k + 1:]))
            f_minus = primal(*(args[:k] + (minus,) + args[k + 1:]))
            difference = (f_plus - f_minus) / (2.0 * h)
            noise = 64.0 * eps * max(abs(f_plus), abs(f_minus)) / h
            for c, gradient in enumerate(gradients):
                g = float(np.asarray(gradient[position])[index])
                error = abs(g - difference)
                worst[c] = max(worst[c], error / max(abs(g), noise, 1e-300))
                if error > FD_TOLERANCE * abs(g) + noise:
                    ok[c] = False
    return worst, ok


def max_relative_difference(gradient, reference):
    """Worst over the arguments of max |g - ref| / max |ref|."""
    worst = 0.0
    for g, r in zip(as_tuple(gradient), as_tuple(reference)):
        g, r = np.asarray(g, dtype=np.float64), np.asarray(r, dtype=np.float64)
        worst = max(worst, float(np.max(np.abs(g - r))) / max(float(np.max(np.abs(r))), 1e-300))
    return worst


def copied(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def srcad_tape_estimate(srcad, program, size, rng):
    """(floats, ints, how) for srcad's tape at ``size``: counted exactly when the size is
    small, else counted at two short sizes and scaled linearly in ``program.scale_key``."""
    scale = size[program.scale_key]
    short = max(10, scale // 100)
    if scale <= 4 * short:
        floats, ints = srcad_tape_length(srcad, program.function, program.make_args(size, rng), program.wrt)
        return floats, ints, "counted at this size"
    counts = []
    for s in (short, 2 * short):
        small = dict(size, **{program.scale_key: s})
        counts.append(srcad_tape_length(srcad, program.function, program.make_args(small, rng), program.wrt))
    (f1, i1), (f2, i2) = counts
    floats = f1 + (f2 - f1) * (scale - short) / short
    ints = i1 + (i2 - i1) * (scale - short) / short
    return floats, ints, f"counted at {program.scale_key} = {short}, {2 * short} and scaled to {scale}"


# ---------------------------------------------------------------------------
# One program's block.
# ---------------------------------------------------------------------------


def run_program(program, size_name, repeats, jax):
    """Check, time and print one program; returns (srcad_failed, hand_failed)."""
    rng = np.random.default_rng(PROGRAMS.index(program.name))  # the same inputs whatever else runs
    size = program.sizes[size_name]
    check_size = program.sizes["check"]
    wrt_label = ", ".join(program.wrt_names)
    print(f"\n=== {program.name}: {program.describe(size)}; gradient with respect to ({wrt_label}) ===")
    srcad_failed = hand_failed = False

    # Correctness at a small size, before anything is timed.
    check_args = program.make_args(check_size, rng)
    program.primal(*check_args)  # compile
    candidates = [as_tuple(program.hand(*check_args))]
    srcad = None
    try:
        import srcad

        start = time.perf_counter()
        candidates.append(as_tuple(srcad.grad(program.function, wrt=program.wrt)(*check_args)))
        first_call = time.perf_counter() - start
        print(f"srcad first call (compile or cache load + run, at the check size): {first_call:.3f} s")
    except Exception:  # noqa: BLE001 - any failure of srcad is reported, then the others run
        srcad_failed = True
        print(f"srcad FAILED on {program.name} ({program.describe(check_size)}):", file=sys.stderr)
        traceback.print_exc()
    worst, ok = central_difference_check(program.primal, check_args, program.wrt, candidates, rng)
    where = f"({program.describe(check_size)}; {FD_COORDINATES} random coordinates per argument)"
    print(f"hand-written adjoint vs central differences {where}: max rel error {worst[0]:.2e}"
          + ("" if ok[0] else "   FAILED"))
    if not ok[0]:
        hand_failed = True
        print(f"hand-written adjoint of {program.name} disagrees with central differences", file=sys.stderr)
    if len(candidates) > 1:
        print(f"srcad vs central differences (same coordinates): max rel error {worst[1]:.2e}"
              + ("" if ok[1] else "   WRONG"))
        if not ok[1]:
            srcad_failed = True
            print(f"srcad's gradient of {program.name} disagrees with central differences "
                  f"({program.describe(check_size)}, rng seed {PROGRAMS.index(program.name)})", file=sys.stderr)

    # Full size.
    args = program.make_args(size, rng)
    value = program.primal(*args)
    hand_gradient = program.hand(*args)  # compile
    print(f"{program.name} = {value:.12g}")
    contenders = {"numba primal": program.primal, "hand-written adjoint": program.hand}

    if srcad is not None:
        try:
            srcad_gradient = srcad.grad(program.function, wrt=program.wrt)
            gradient = srcad_gradient(*args)
            difference = max_relative_difference(gradient, hand_gradient)
            wrong = not difference <= SRCAD_TOLERANCE
            print(f"srcad vs hand-written adjoint: max |srcad - hand| / max |hand| {difference:.2e}"
                  + ("   WRONG" if wrong else ""))
            if wrong:
                srcad_failed = True
                print(f"srcad's gradient of {program.name} ({program.describe(size)}) differs from the "
                      "hand-written adjoint's", file=sys.stderr)
            contenders["srcad.grad"] = srcad_gradient
        except Exception:  # noqa: BLE001 - any failure of srcad is reported, then the others run
            srcad_failed = True
            print(f"srcad FAILED on {program.name}; timing the other contenders only:", file=sys.stderr)
            traceback.print_exc()

    if jax is not None:
        try:
            jax_gradient = jax_contender(jax, program, size, args)
            start = time.perf_counter()
            gradient = jax_gradient(*args)
            print(f"jax first call (trace + XLA compile + run): {time.perf_counter() - start:.3f} s")
            print(f"jax vs hand-written adjoint: max rel difference "
                  f"{max_relative_difference(gradient, hand_gradient):.2e}")
            contenders["jax.jit(jax.grad)"] = jax_gradient
        except Exception:  # noqa: BLE001 - a JAX failure leaves its row out
            print(f"jax failed on {program.name}; leaving it out:", file=sys.stderr)
            traceback.print_exc()

    hand_floats, hand_what = program.hand_kept(size)
    print("kept for the reverse sweep:")
    print(f"  hand-written adjoint  {hand_floats * 8 / 2**20:9.3f} MiB   ({hand_floats} floats: {hand_what})")
    if "srcad.grad" in contenders:
        try:
            floats, ints, how = srcad_tape_estimate(srcad, program, size, rng)
            print(f"  srcad tape            {(floats + ints) * 8 / 2**20:9.3f} MiB   "
                  f"({floats:.0f} floats + {ints:.0f} ints; {how})")
        except Exception:  # noqa: BLE001 - the tape is information only
            print("  srcad tape            (could not be counted)")
            traceback.print_exc()

    best = timed_rounds(contenders, args, repeats)
    print(f"best of {repeats} rounds, after warm-up")
    print(f"  {'contender':<24}{'time (ms)':>12}")
    for name, seconds in best.items():
        print(f"  {name:<24}{seconds * 1e3:>12.4f}")
    ratios = [("hand-written / primal", "hand-written adjoint", "numba primal")]
    if "srcad.grad" in best:
        ratios = [
            ("srcad / primal", "srcad.grad", "numba primal"),
            ("srcad / hand-written", "srcad.grad", "hand-written adjoint"),
            ("srcad / jax", "srcad.grad", "jax.jit(jax.grad)"),
        ] + ratios
    elif "jax.jit(jax.grad)" in best:
        ratios.append(("jax / hand-written", "jax.jit(jax.grad)", "hand-written adjoint"))
    for label, top, bottom in ratios:
        if top in best and bottom in best:
            print(f"  {label:<24}{best[top] / best[bottom]:>8.2f}x")
    return srcad_failed, hand_failed


def comma_list(text, convert=str):
    return [convert(item) for item in text.split(",") if item.strip()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", default=",".join(PROGRAMS),
                        help=f"comma-separated subset of {','.join(PROGRAMS)} (default all)")
    parser.add_argument("--rk4-steps", default="10,1000",
                        help="rk4 step counts, one block each (default 10,1000; n = 40; with --quick "
                             "n = 8 and at most 10, 20, ... steps)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 10; 3 with --quick)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--jax-threads", type=int, default=1,
                        help="XLA's CPU threads, set before it starts (default 1; 0: XLA's default)")
    options = parser.parse_args(argv)
    names = comma_list(options.programs)
    unknown = [name for name in names if name not in PROGRAMS]
    if unknown:
        parser.error(f"unknown program(s) {', '.join(unknown)}; choose from {', '.join(PROGRAMS)}")
    rk4_steps = comma_list(options.rk4_steps, int)
    quick_rk4_steps = [min(steps, 10 * (k + 1)) for k, steps in enumerate(rk4_steps)]
    repeats = options.repeats if options.repeats is not None else (3 if options.quick else 10)
    size_name = "quick" if options.quick else "full"

    jax = import_jax(options.jax_threads)
    print(f"jax: {'version ' + jax.__version__ if jax is not None else 'not installed (no JAX rows)'}")
    programs = make_programs(rk4_steps, quick_rk4_steps)
    srcad_failures, hand_failures = [], []
    for name in names:
        for program in programs[name]:
            srcad_failed, hand_failed = run_program(program, size_name, repeats, jax)
            label = f"{program.name} ({program.describe(program.sizes[size_name])})"
            if srcad_failed:
                srcad_failures.append(label)
            if hand_failed:
                hand_failures.append(label)
    print()
    if srcad_failures:
        print(f"srcad failed (error or wrong gradient) on: {'; '.join(srcad_failures)}")
    if hand_failures:
        print(f"hand-written adjoint disagrees with central differences on: {'; '.join(hand_failures)}")
    return 1 if srcad_failures or hand_failures else 0


if __name__ == "__main__":
    sys.exit(main())
