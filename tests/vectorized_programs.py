"""The vectorized array corpus: losses and simulations written the way JAX users write NumPy.

The companion of `array_programs.py` (explicit loops): here the same kind of
programs are written with whole-array arithmetic — broadcasting between
different shapes, slices and views on the active path, reductions with
`axis=` and `keepdims=True`, matrix products, `np.concatenate`/`np.stack`,
NumPy's elementwise functions and `np.where` — and with arrays rebound or
updated through slices inside loops. Every function is an ordinary
module-level def returning a float (a NumPy scalar), and none is decorated:
srcad reads them with `inspect.getsource`, and the tests call them as plain
Python for the oracle.

`PROGRAMS` lists each one in the format of `array_programs.PROGRAMS`:

- `make(rng)`: a tuple of arguments drawn from a `numpy.random.Generator`
  (sizes vary too; dtypes and ranks never do, so one compiled signature
  serves all draws). Inputs keep away from kinks, ties and singularities
  (max, min, abs, sign, clip, where, prod through zero) by margins far larger
  than a finite-difference step. Sizes stay at most 6 along an axis.
- `wrt`: the positions differentiated (array or float arguments).
- `float32`: the arrays are float32; the oracle runs on float64 twins.
- `writes_arguments`: the function writes some argument arrays in place.
"""

from typing import Callable, NamedTuple

import numpy as np


# --- broadcasting between shapes ---------------------------------------------------


def column_minus_row_broadcast(a, b):
    # a has shape (n, 1), b has shape (m,): d has shape (n, m)
    d = a - b
    return np.sum(np.tanh(d) * d) + np.sum(a * a)


def row_broadcast_affine(A, w, c):
    # (n, m) with (m,), and a scalar with an array
    Z = A * w + c
    return np.sum(Z * Z) / A.shape[0]


def size_one_axes(A, row, col):
    # row has shape (1, m), col has shape (n, 1)
    Z = np.sin(A * row) - col
    return np.mean(np.exp(-Z * Z)) + np.sum(row * col)


def pairwise_gaussian_energy(x, bandwidth):
    d = x[:, None] - x[None, :]
    return np.sum(np.exp(-d * d / (2.0 * bandwidth * bandwidth))) / x.shape[0]


def scalar_array_mix(x, s):
    y = 2.0 * x + s
    z = s / (1.0 + x * x) - y / 3.0
    return np.sum(y * z) + s * np.sum(x) - 1.5 / s


# --- slices and views on the active path ----------------------------------------------


def neighbour_differences_and_strides(x):
    dx = x[1:] - x[:-1]
    even = x[::2]
    odd = x[1::2]
    return np.sum(dx * dx) + np.sum(even ** 3) - np.sum(np.sin(odd))


def row_and_column_views(A, v):
    first_column = A[:, 0]
    lower = A[1:, :]
    return np.sum(first_column * v) + np.sum(lower ** 2 * lower.mean(axis=0))


def transpose_gram_energy(A):
    G = A.T @ A
    return np.sum(G * G) / (1.0 + np.sum(A.T[0] ** 2))


def reshape_and_ravel(x, A, w):
    pairs = x.reshape(2, -1)
    flat = A.ravel()
    return np.sum(pairs[0] * pairs[1]) + np.dot(flat, w) + np.sum(np.cos(flat) * flat)


def newaxis_outer_cosine(x, y):
    K = np.cos(x[:, None] * y[None, :])
    return np.sum(K * x[:, None]) + np.sum(x[:, None] * 0.5 + y)


# --- reductions ---------------------------------------------------------------------


def axis_reductions(A):
    col_sums = np.sum(A, axis=0)
    row_means = np.mean(A, axis=1)
    row_max = np.max(A, axis=1)
    col_min = np.min(A, axis=0)
    return np.sum(col_sums ** 2) + np.sum(row_means * row_max) - np.sum(col_min ** 3)


def keepdims_standardize(A):
    centered = A - np.mean(A, axis=0, keepdims=True)
    scale = np.sqrt(np.sum(centered * centered, axis=0, keepdims=True) + 1.0)
    Z = centered / scale
    peak = np.max(A, axis=1, keepdims=True)
    return np.sum(Z ** 3) + np.sum(Z * peak)


def products_and_extremes(x, A):
    return (np.prod(x) + np.sum(np.prod(A, axis=1)) + np.max(x) * np.min(A)
            + np.sum(np.prod(A, axis=0, keepdims=True) * A))


def method_reductions(A):
    return A.sum(axis=1).dot(A.max(axis=1)) + A.mean() * A.min() + A.prod(axis=0).sum() + A.sum()


def norm_regularized_distance(x, target, lam):
    r = x - target
    return np.linalg.norm(r) + lam * np.linalg.norm(x) ** 2


# --- products and array construction ------------------------------------------------


def matvec_forms(A, x, y):
    Ax = A @ x
    return np.dot(y, Ax) + np.sum(np.dot(A, x) ** 2) + x @ x


def matmul_chain_energy(A, B):
    C = A @ B
    return np.sum(C * C) + np.sum(np.tanh(A @ B @ B.T))


def outer_product_energy(a, b, M):
    P = np.outer(a, b)
    return np.sum(P * M) + np.sum(np.outer(a, a) ** 2)


def cumulative_path_cost(x, target):
    path = np.cumsum(x)
    return np.sum((path - target) ** 2) + np.cumsum(x * x)[-1]


def concatenate_and_stack(a, b):
    c = np.concatenate((a, b))
    S = np.stack((a, b))
    return np.sum(np.sin(c) * c) + np.sum(S[0] * S[1]) + np.sum(np.sum(S, axis=0) ** 3)


def array_literal_of_scalars(x, t):
    v = np.array([x[0], 2.0 * x[1], t * x[2], t])
    return np.dot(v, v) + np.sum(np.sin(v)) * x[-1]


# --- elementwise functions ------------------------------------------------------------


def smooth_elementwise_zoo(x, p):
    # x in (0.2, 0.9): inside every function's domain, tan far from its poles
    a = np.sin(x) * np.cos(2.0 * x) + np.tan(x)
    b = np.exp(-x) + np.log(x) + np.log1p(x) + np.expm1(0.5 * x)
    c = np.sqrt(x) * np.tanh(3.0 * x) + np.arctan(x / p)
    return np.sum(a * b + c)


def kinks_away_from_ties(x, w):
    magnitude = np.abs(x) * w
    signed_square = np.sign(x) * x * x
    relu = np.maximum(x, 0.0) * w
    lower = np.minimum(x, w)
    upper = np.maximum(w, x)
    clipped = np.clip(x, -1.0, 1.0)
    return np.sum(magnitude + signed_square + relu + lower * upper + clipped ** 2)


def where_with_comparisons(x, y):
    big = np.where(x > y, x * y, np.sin(x) + y)
    negative = np.where(x <= 0.0, -x ** 3, np.exp(-x))
    both = np.where((x > 0.0) & (y > 0.0), x + y, 0.5 * x * y)
    return np.sum(big + negative + both)


def hypot_power_square(x, y, p):
    r = np.hypot(x, y)
    return np.sum(np.power(x, p) + np.square(y - x) + r ** 1.5 + x ** p * np.power(2.0, y))


# --- machine learning losses -------------------------------------------------------


def mlp_tanh_batch_loss(X, y, W1, b1, w2, b2):
    H = np.tanh(X @ W1 + b1)
    prediction = H @ w2 + b2
    return np.mean((prediction - y) ** 2) + 1e-2 * (np.sum(W1 ** 2) + np.sum(w2 ** 2))


def softmax_cross_entropy_shifted(X, W, b, Y):
    logits = X @ W + b
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(Y * log_probs) / X.shape[0]


def logsumexp_scores(A, x, w):
    z = A @ x + w
    m = np.max(z)
    return m + np.log(np.sum(np.exp(z - m))) - 0.5 * np.dot(x, x)


def gmm_negative_log_likelihood(x, means, log_sigmas, logits):
    log_weights = logits - np.max(logits)
    log_weights = log_weights - np.log(np.sum(np.exp(log_weights)))
    sigmas = np.exp(log_sigmas)
    z = (x[:, None] - means[None, :]) / sigmas
    log_pdf = -0.5 * z * z - log_sigmas - 0.5 * np.log(2.0 * np.pi)
    a = log_pdf + log_weights
    a_max = a.max(axis=1, keepdims=True)
    ll = a_max[:, 0] + np.log(np.sum(np.exp(a - a_max), axis=1))
    return -np.mean(ll)


def linear_regression_mse(w, b, X, y):
    residual = X @ w + b - y
    return np.mean(residual ** 2)


def logistic_regression_l2(w, b, X, y, lam):
    margins = y * (X @ w + b)
    return np.mean(np.log1p(np.exp(-margins))) + 0.5 * lam * np.sum(w ** 2)


def attention_output_energy(Q, K, V):
    scores = Q @ K.T / np.sqrt(Q.shape[1])
    scores = scores - scores.max(axis=1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=1, keepdims=True)
    out = weights @ V
    return np.sum(out * out)


def huber_regression(w, X, y, delta):
    r = X @ w - y
    a = np.abs(r)
    return np.sum(np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta)))


def polynomial_ridge(x, y, c, lam):
    V = x[:, None] ** np.arange(4)
    r = V @ c - y
    return np.mean(r ** 2) + lam * np.sum(c[1:] ** 2)


# --- physics: energies ---------------------------------------------------------------


def lennard_jones_broadcast(pos, epsilon, sigma):
    n = pos.shape[0]
    diff = pos[:, None, :] - pos[None, :, :]
    r2 = np.sum(diff * diff, axis=-1) + 0.3
    s6 = (sigma * sigma / r2) ** 3
    pair = 4.0 * epsilon * (s6 * s6 - s6)
    off_diagonal = 1.0 - np.eye(n)
    return 0.5 * np.sum(pair * off_diagonal)


def pairwise_distance_stress(X, target):
    diff = X[:, None, :] - X[None, :, :]
    D = np.sqrt(np.sum(diff ** 2, axis=2) + 1e-3)
    return 0.5 * np.sum((D - target) ** 2)


def spring_chain_2d_slices(pos, k, rest):
    seg = pos[1:] - pos[:-1]
    length = np.sqrt(np.sum(seg * seg, axis=1))
    return 0.5 * k * np.sum((length - rest) ** 2)


def stencil_smoothness(u, lam):
    lap = u[2:] - 2.0 * u[1:-1] + u[:-2]
    return np.sum(lap * lap) + lam * np.sum(u * u)


def total_variation_slices(img, eps):
    gx = img[1:, :-1] - img[:-1, :-1]
    gy = img[:-1, 1:] - img[:-1, :-1]
    return np.sum(np.sqrt(gx * gx + gy * gy + eps))


# --- physics: time loops ---------------------------------------------------------------


def damped_oscillators_time_loop(x, v, k, dt, steps):
    for _ in range(steps):
        a = -k * x - 0.2 * v
        v = v + dt * a
        x = x + dt * v
    return np.sum(x * x) + 0.5 * np.sum(v * v)


def soft_particles_time_loop(pos, vel, strength, dt, steps):
    for _ in range(steps):
        diff = pos[:, None, :] - pos[None, :, :]
        r2 = np.sum(diff * diff, axis=2) + 0.5
        force = strength * np.sum(diff / r2[:, :, None] ** 2, axis=1) - pos
        vel = vel + dt * force
        pos = pos + dt * vel
    return np.sum(pos ** 2) + 0.5 * np.sum(vel ** 2)


def chain_dynamics_inplace(x, v, k, dt):
    for _ in range(4):
        f = -k * (x[1:] - x[:-1] - 1.0)
        v[1:] += dt * f
        v[:-1] -= dt * f
        x += dt * v
    return np.sum(x ** 2) + np.sum(v ** 2)


def center_and_scale_inplace(x, w):
    x -= np.mean(x)
    x /= np.sqrt(np.sum(x * x) + 1.0)
    return np.dot(w, x) + np.sum(x ** 3)


def column_assignment_inplace(A, b):
    A[:, 0] = np.tanh(A[:, 0]) + b
    A[1:, :] *= 0.5
    return np.sum(A @ A.T)


def heat_stencil_inplace(u, kappa, steps):
    for _ in range(steps):
        u[1:-1] += kappa * (u[2:] - 2.0 * u[1:-1] + u[:-2])
    return np.sum(u * u)


# --- the table ---------------------------------------------------------------------


class ArrayProgram(NamedTuple):
    name: str
    function: Callable
    make: Callable
    wrt: tuple
    float32: bool = False
    writes_arguments: bool = False


def _size(rng, low=1, high=5):
    return int(rng.integers(low, high + 1))


def _away_from_zero(rng, size, low=0.3, high=1.5):
    """Values with |v| in [low, high] and random signs."""
    return rng.uniform(low, high, size=size) * rng.choice([-1.0, 1.0], size=size)


def _distinct(rng, shape, low=-1.5, high=1.5):
    """Values in [low, high], pairwise apart by at least a third of their spacing (no ties for max/min)."""
    count = int(np.prod(shape))
    grid = np.linspace(low, high, count)
    spacing = (high - low) / max(count - 1, 1)
    values = rng.permutation(grid) + rng.uniform(-spacing / 3, spacing / 3, count)
    return values.reshape(shape)


def _distinct_nonzero(rng, shape):
    """Distinct values with |v| in [0.5, 1.5] and random signs: no ties, no product through zero."""
    magnitudes = _distinct(rng, shape, 0.5, 1.5)
    return magnitudes * rng.choice([-1.0, 1.0], size=shape)


def _avoiding(rng, size, low, high, kinks, margin=0.2):
    """Uniform values in [low, high], each at least `margin` from every kink."""
    x = rng.uniform(low, high, size)
    for i in np.ndindex(x.shape):
        while any(abs(x[i] - k) < margin for k in kinks):
            x[i] = rng.uniform(low, high)
    return x


def _column_row(rng):
    return (rng.normal(size=(_size(rng), 1)), rng.normal(size=_size(rng)))


def _row_affine(rng):
    n, m = _size(rng), _size(rng)
    return (rng.normal(size=(n, m)), rng.normal(size=m), float(rng.normal()))


def _size_one(rng):
    n, m = _size(rng), _size(rng)
    return (rng.normal(size=(n, m)), rng.normal(size=(1, m)), rng.normal(size=(n, 1)))


def _pairwise_gauss(rng):
    return (rng.normal(size=_size(rng, 2, 6)), float(rng.uniform(0.5, 1.5)))


def _scalar_mix(rng):
    return (rng.normal(size=_size(rng, 1, 6)), float(rng.uniform(0.5, 2.0)))


def _strided(rng):
    return (rng.normal(size=_size(rng, 3, 6)),)


def _views(rng):
    n, m = _size(rng, 2, 5), _size(rng)
    return (rng.normal(size=(n, m)), rng.normal(size=n))


def _matrix(rng):
    return (rng.normal(size=(_size(rng), _size(rng))),)


def _reshape(rng):
    n, m = _size(rng), _size(rng)
    return (rng.normal(size=2 * _size(rng, 1, 3)), rng.normal(size=(n, m)), rng.normal(size=n * m))


def _two_vectors(rng):
    return (rng.normal(size=_size(rng)), rng.normal(size=_size(rng)))


def _distinct_matrix(rng):
    return (_distinct(rng, (_size(rng, 2, 5), _size(rng, 1, 5))),)


def _products(rng):
    n = _size(rng)
    return (_distinct(rng, (n,), 0.5, 1.5), _distinct_nonzero(rng, (_size(rng), _size(rng))))


def _distinct_nonzero_matrix(rng):
    return (_distinct_nonzero(rng, (_size(rng), _size(rng))),)


def _norm_reg(rng):
    n = _size(rng, 1, 6)
    return (rng.normal(size=n), rng.normal(size=n) + 2.0, float(rng.uniform(0.1, 1.0)))


def _matvec(rng):
    n, m = _size(rng), _size(rng)
    return (rng.normal(size=(n, m)), rng.normal(size=m), rng.normal(size=n))


def _matmul(rng):
    n, k, p = _size(rng, 1, 4), _size(rng, 1, 4), _size(rng, 1, 4)
    return (rng.normal(size=(n, k)) * 0.7, rng.normal(size=(k, p)) * 0.7)


def _outer(rng):
    n, m = _size(rng), _size(rng)
    return (rng.normal(size=n), rng.normal(size=m), rng.normal(size=(n, m)))


def _paired_vectors(rng):
    n = _size(rng, 1, 6)
    return (rng.normal(size=n), rng.normal(size=n))


def _literal(rng):
    return (rng.normal(size=_size(rng, 3, 6)), float(rng.normal()))


def _zoo(rng):
    return (rng.uniform(0.2, 0.9, _size(rng, 1, 6)), float(rng.uniform(0.5, 2.0)))


def _kinks(rng):
    n = _size(rng, 1, 6)
    x = _avoiding(rng, n, -2.0, 2.0, (0.0, -1.0, 1.0))
    return (x, x + _away_from_zero(rng, n, 0.2, 0.8))


def _where(rng):
    n = _size(rng, 1, 6)
    x = _avoiding(rng, n, -2.0, 2.0, (0.0,))
    y = np.array([_avoiding(rng, 1, -2.0, 2.0, (0.0, xi))[0] for xi in x])
    return (x, y)


def _hypot(rng):
    n = _size(rng, 1, 6)
    return (rng.uniform(0.5, 1.5, n), rng.uniform(0.5, 1.5, n), float(rng.uniform(0.5, 2.5)))


def _mlp(rng):
    n, d, h = _size(rng, 2, 6), _size(rng, 1, 3), _size(rng, 2, 4)
    return (rng.normal(size=(n, d)), rng.normal(size=n), rng.normal(size=(d, h)) * 0.7,
            rng.normal(size=h) * 0.3, rng.normal(size=h), float(rng.normal() * 0.3))


def _mlp_f32(rng):
    X, y, W1, b1, w2, b2 = _mlp(rng)
    f32 = np.float32
    return (X.astype(f32), y.astype(f32), W1.astype(f32), b1.astype(f32), w2.astype(f32), b2)


def _softmax(rng):
    n, d, c = _size(rng, 2, 5), _size(rng, 1, 3), _size(rng, 2, 4)
    Y = np.eye(c)[rng.integers(0, c, n)]
    return (rng.normal(size=(n, d)), rng.normal(size=(d, c)), rng.normal(size=c) * 0.3, Y)


def _softmax_f32(rng):
    return tuple(a.astype(np.float32) for a in _softmax(rng))


def _logsumexp(rng):
    n, m = _size(rng), _size(rng)
    return (rng.normal(size=(n, m)), rng.normal(size=m), rng.normal(size=n))


def _gmm(rng):
    n, k = _size(rng, 1, 6), _size(rng, 1, 4)
    return (rng.normal(size=n) * 2.0, rng.normal(size=k) * 2.0, rng.uniform(-0.5, 0.5, k), rng.normal(size=k))


def _linreg(rng):
    n, d = _size(rng, 1, 6), _size(rng, 1, 4)
    return (rng.normal(size=d), float(rng.normal()), rng.normal(size=(n, d)), rng.normal(size=n))


def _logreg(rng):
    n, d = _size(rng, 1, 6), _size(rng, 1, 4)
    return (rng.normal(size=d), float(rng.normal()), rng.normal(size=(n, d)),
            rng.choice([-1.0, 1.0], size=n), float(rng.uniform(0.01, 0.5)))


def _attention(rng):
    n, m, d, e = _size(rng, 1, 4), _size(rng, 1, 4), _size(rng, 1, 3), _size(rng, 1, 3)
    return (rng.normal(size=(n, d)) * 0.7, rng.normal(size=(m, d)) * 0.7, rng.normal(size=(m, e)))


def _huber(rng):
    n, d = _size(rng, 1, 6), _size(rng, 1, 3)
    w, X = rng.normal(size=d), rng.normal(size=(n, d))
    delta = float(rng.uniform(0.6, 1.2))
    # residuals X @ w - y kept away from 0 and from +-delta (the kinks of |r| and of the branch)
    inner = rng.uniform(0.15, delta - 0.15, n)
    outer = rng.uniform(delta + 0.15, delta + 1.5, n)
    r = np.where(rng.uniform(size=n) < 0.5, inner, outer) * rng.choice([-1.0, 1.0], size=n)
    return (w, X, X @ w - r, delta)


def _poly(rng):
    n = _size(rng, 1, 6)
    return (rng.uniform(-1.2, 1.2, n), rng.normal(size=n), rng.normal(size=4), float(rng.uniform(0.01, 0.5)))


def _lennard_jones(rng):
    n = _size(rng, 2, 5)
    return (rng.uniform(-1.5, 1.5, (n, 3)), float(rng.uniform(0.5, 1.5)), float(rng.uniform(0.6, 1.0)))


def _stress(rng):
    n = _size(rng, 2, 5)
    T = rng.uniform(0.5, 2.0, (n, n))
    return (rng.normal(size=(n, 2)), (T + T.T) / 2.0)


def _spring_2d(rng):
    n = _size(rng, 2, 6)
    pos = np.cumsum(rng.uniform(0.5, 1.2, (n, 2)), axis=0)
    return (pos, float(rng.uniform(0.5, 3.0)), float(rng.uniform(0.5, 1.5)))


def _spring_2d_f32(rng):
    pos, k, rest = _spring_2d(rng)
    return (pos.astype(np.float32), k, rest)


def _stencil(rng):
    return (rng.normal(size=_size(rng, 3, 6)), float(rng.uniform(0.01, 0.5)))


def _tv(rng):
    return (rng.normal(size=(_size(rng, 2, 5), _size(rng, 2, 5))), float(rng.uniform(0.05, 0.2)))


def _oscillators(rng):
    n = _size(rng, 1, 6)
    return (rng.normal(size=n), rng.normal(size=n) * 0.5, float(rng.uniform(0.5, 2.0)),
            float(rng.uniform(0.05, 0.2)), _size(rng, 1, 5))


def _soft_particles(rng):
    n = _size(rng, 1, 5)
    return (rng.uniform(-1.0, 1.0, (n, 2)), rng.normal(size=(n, 2)) * 0.1, float(rng.uniform(0.1, 0.5)),
            float(rng.uniform(0.05, 0.1)), _size(rng, 1, 4))


def _chain(rng):
    n = _size(rng, 2, 6)
    return (np.arange(n) * 1.0 + rng.uniform(-0.3, 0.3, n), rng.normal(size=n) * 0.2,
            float(rng.uniform(0.5, 2.0)), float(rng.uniform(0.05, 0.15)))


def _center(rng):
    n = _size(rng, 2, 6)
    return (rng.normal(size=n) + 1.0, rng.normal(size=n))


def _column(rng):
    return (rng.normal(size=(_size(rng, 1, 5), _size(rng, 1, 5))), float(rng.normal()))


def _heat_f32(rng):
    return (rng.normal(size=_size(rng, 3, 6)).astype(np.float32), float(rng.uniform(0.05, 0.2)), _size(rng, 1, 5))


def signal_statistics(x, A):
    """Differences, spread and trace, and NumPy's elementwise functions without a math twin."""
    steps = np.diff(x)
    rows = np.diff(A)
    score = np.var(x) * A.trace() + x.std() + np.sum(steps * steps * np.arcsinh(steps))
    score += np.sum(np.sin(rows)) + np.trace(A @ A.T) * 0.1 + np.sum(x.cumsum() ** 2) * 0.05
    return score + np.sum(np.cbrt(x * x + 1.0) + np.logaddexp(x, 0.5 * x) + np.exp2(np.deg2rad(x)))


def weighted_rows_in_loops_over_items(A, w):
    """Rows of a matrix, enumerate, zip and reversed, nested."""
    total = 0.0
    for i, (row, weight) in enumerate(zip(A, reversed(w))):
        total += weight * np.sum(np.tanh(row)) * (i + 1)
    for row in A:
        for k, value in enumerate(row, 1):
            total += k * value * value * w[0]
    return total


def _statistics(rng):
    n = _size(rng, 3, 7)
    return (rng.normal(size=n), rng.normal(size=(n, n)))


def _rows_and_weights(rng):
    return (rng.normal(size=(_size(rng, 1, 5), _size(rng, 1, 5))), rng.normal(size=_size(rng, 1, 6)))


def _entry(function, make, wrt, float32=False, writes_arguments=False, name=None):
    return ArrayProgram(name or function.__name__, function, make, tuple(wrt), float32, writes_arguments)


PROGRAMS = [
    # broadcasting
    _entry(column_minus_row_broadcast, _column_row, (0, 1)),
    _entry(row_broadcast_affine, _row_affine, (0, 1, 2)),
    _entry(size_one_axes, _size_one, (0, 1, 2)),
    _entry(pairwise_gaussian_energy, _pairwise_gauss, (0, 1)),
    _entry(scalar_array_mix, _scalar_mix, (0, 1)),
    # slices and views
    _entry(neighbour_differences_and_strides, _strided, (0,)),
    _entry(row_and_column_views, _views, (0, 1)),
    _entry(transpose_gram_energy, _matrix, (0,)),
    _entry(reshape_and_ravel, _reshape, (0, 1, 2)),
    _entry(newaxis_outer_cosine, _two_vectors, (0, 1)),
    # reductions
    _entry(axis_reductions, _distinct_matrix, (0,)),
    _entry(keepdims_standardize, _distinct_matrix, (0,)),
    _entry(products_and_extremes, _products, (0, 1)),
    _entry(method_reductions, _distinct_nonzero_matrix, (0,)),
    _entry(norm_regularized_distance, _norm_reg, (0, 1, 2)),
    # products and construction
    _entry(matvec_forms, _matvec, (0, 1, 2)),
    _entry(matmul_chain_energy, _matmul, (0, 1)),
    _entry(outer_product_energy, _outer, (0, 1, 2)),
    _entry(cumulative_path_cost, _paired_vectors, (0, 1)),
    _entry(concatenate_and_stack, _paired_vectors, (0, 1)),
    _entry(array_literal_of_scalars, _literal, (0, 1)),
    # elementwise
    _entry(smooth_elementwise_zoo, _zoo, (0, 1)),
    _entry(kinks_away_from_ties, _kinks, (0, 1)),
    _entry(where_with_comparisons, _where, (0, 1)),
    _entry(hypot_power_square, _hypot, (0, 1, 2)),
    # machine learning
    _entry(mlp_tanh_batch_loss, _mlp, (0, 2, 3, 4, 5)),
    _entry(mlp_tanh_batch_loss, _mlp_f32, (2, 3, 4, 5), float32=True, name="mlp_tanh_batch_loss_float32"),
    _entry(softmax_cross_entropy_shifted, _softmax, (0, 1, 2)),
    _entry(softmax_cross_entropy_shifted, _softmax_f32, (0, 1, 2), float32=True,
           name="softmax_cross_entropy_shifted_float32"),
    _entry(logsumexp_scores, _logsumexp, (0, 1, 2)),
    _entry(gmm_negative_log_likelihood, _gmm, (0, 1, 2, 3)),
    _entry(linear_regression_mse, _linreg, (0, 1, 2, 3)),
    _entry(logistic_regression_l2, _logreg, (0, 1, 2, 4)),
    _entry(attention_output_energy, _attention, (0, 1, 2)),
    _entry(huber_regression, _huber, (0, 1, 2, 3)),
    _entry(polynomial_ridge, _poly, (0, 1, 2, 3)),
    # physics: energies
    _entry(lennard_jones_broadcast, _lennard_jones, (0, 1, 2)),
    _entry(pairwise_distance_stress, _stress, (0, 1)),
    _entry(spring_chain_2d_slices, _spring_2d, (0, 1, 2)),
    _entry(spring_chain_2d_slices, _spring_2d_f32, (0, 1, 2), float32=True, name="spring_chain_2d_slices_float32"),
    _entry(stencil_smoothness, _stencil, (0, 1)),
    _entry(total_variation_slices, _tv, (0, 1)),
    # physics: time loops, arrays rebound or written in place
    _entry(damped_oscillators_time_loop, _oscillators, (0, 1, 2, 3)),
    _entry(soft_particles_time_loop, _soft_particles, (0, 1, 2, 3)),
    _entry(chain_dynamics_inplace, _chain, (0, 1, 2, 3), writes_arguments=True),
    _entry(center_and_scale_inplace, _center, (0, 1), writes_arguments=True),
    _entry(column_assignment_inplace, _column, (0, 1), writes_arguments=True),
    _entry(heat_stencil_inplace, _heat_f32, (0, 1), float32=True, writes_arguments=True,
           name="heat_stencil_inplace_float32"),
    # np.diff, np.var, np.std, np.trace, and loops over items
    _entry(signal_statistics, _statistics, (0, 1)),
    _entry(weighted_rows_in_loops_over_items, _rows_and_weights, (0, 1)),
]
