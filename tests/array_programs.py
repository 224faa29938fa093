"""The loop-style array corpus: simulations and ML losses, written as users write them.

Every function here is an ordinary module-level def over NumPy arrays and
floats, written with explicit loops (no slicing, no vectorized arithmetic, no
reductions), and returns a float. None is decorated: srcad reads them with
`inspect.getsource`, and the tests call them as plain Python for the oracle.

`PROGRAMS` lists each one with:

- `make(rng)`: a tuple of arguments drawn from a `numpy.random.Generator`
  (sizes vary too; dtypes and ranks never do, so one compiled signature
  serves all draws). Inputs keep away from branch boundaries, ties and
  singularities by margins far larger than a finite-difference step.
- `wrt`: the positions differentiated (array or float arguments).
- `float32`: the arrays are float32; the oracle runs on float64 twins.
- `writes_arguments`: the function writes some argument arrays in place.
"""

import math
from typing import Callable, NamedTuple

import numpy as np


# --- springs, chains and meshes ------------------------------------------------


def spring_chain_energy(x, k, rest):
    e = 0.0
    for i in range(x.shape[0] - 1):
        d = x[i + 1] - x[i] - rest
        e += 0.5 * k * d * d
    return e


def spring_network_2d(pos, edges, rest, k):
    energy = 0.0
    for e in range(edges.shape[0]):
        a = edges[e, 0]
        b = edges[e, 1]
        dx = pos[a, 0] - pos[b, 0]
        dy = pos[a, 1] - pos[b, 1]
        length = math.sqrt(dx * dx + dy * dy)
        stretch = length - rest[e]
        energy += 0.5 * k * stretch ** 2
    return energy


def laplacian_smoothing_1d(u, lam):
    n = len(u)
    e = 0.0
    for i in range(1, n - 1):
        lap = u[i - 1] - 2.0 * u[i] + u[i + 1]
        e += lap * lap
    for i in range(n):
        e += lam * u[i] ** 2
    return e


def laplacian_energy_2d(U, alpha):
    n = U.shape[0]
    m = U.shape[1]
    e = 0.0
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            lap = U[i - 1, j] + U[i + 1, j] + U[i, j - 1] + U[i, j + 1] - 4.0 * U[i, j]
            e += 0.5 * lap * lap
    for i in range(n):
        for j in range(m):
            e += alpha * U[i, j] * U[i, j]
    return e


def total_variation_2d(img, eps):
    tv = 0.0
    for i in range(img.shape[0] - 1):
        for j in range(img.shape[1] - 1):
            gx = img[i + 1, j] - img[i, j]
            gy = img[i, j + 1] - img[i, j]
            tv += math.sqrt(gx * gx + gy * gy + eps)
    return tv


# --- pairwise interactions -----------------------------------------------------


def lennard_jones_softened(pos, epsilon, sigma):
    n = pos.shape[0]
    dim = pos.shape[1]
    energy = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            r2 = 0.3
            for d in range(dim):
                diff = pos[i, d] - pos[j, d]
                r2 += diff * diff
            s2 = sigma * sigma / r2
            s6 = s2 * s2 * s2
            energy += 4.0 * epsilon * (s6 * s6 - s6)
    return energy


def gaussian_kernel_mmd(X, Y, bandwidth):
    n = X.shape[0]
    m = Y.shape[0]
    d = X.shape[1]
    inv = 1.0 / (2.0 * bandwidth * bandwidth)
    kxx = 0.0
    for i in range(n):
        for j in range(n):
            r2 = 0.0
            for c in range(d):
                r2 += (X[i, c] - X[j, c]) ** 2
            kxx += math.exp(-r2 * inv)
    kyy = 0.0
    for i in range(m):
        for j in range(m):
            r2 = 0.0
            for c in range(d):
                r2 += (Y[i, c] - Y[j, c]) ** 2
            kyy += math.exp(-r2 * inv)
    kxy = 0.0
    for i in range(n):
        for j in range(m):
            r2 = 0.0
            for c in range(d):
                r2 += (X[i, c] - Y[j, c]) ** 2
            kxy += math.exp(-r2 * inv)
    return kxx / (n * n) + kyy / (m * m) - 2.0 * kxy / (n * m)


def mds_stress(X, target):
    n = X.shape[0]
    D = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            r2 = 1e-3
            for c in range(X.shape[1]):
                r2 += (X[i, c] - X[j, c]) ** 2
            D[i, j] = math.sqrt(r2)
    stress = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            stress += (D[i, j] - target[i, j]) ** 2
    return stress


# --- simulations that write their arguments ------------------------------------


def semi_implicit_euler_chain(x, v, k, dt, steps):
    n = len(x)
    for t in range(steps):
        for i in range(n):
            f = -k * x[i]
            if i > 0:
                f += x[i - 1] - x[i]
            if i < n - 1:
                f += x[i + 1] - x[i]
            v[i] += dt * f
        for i in range(n):
            x[i] += dt * v[i]
    s = 0.0
    for i in range(n):
        s += x[i] * x[i]
    return s


def nbody_leapfrog(pos, vel, mass, dt, steps):
    n = pos.shape[0]
    acc = np.zeros_like(pos)
    for t in range(steps):
        for i in range(n):
            acc[i, 0] = 0.0
            acc[i, 1] = 0.0
            for j in range(n):
                if j != i:
                    dx = pos[j, 0] - pos[i, 0]
                    dy = pos[j, 1] - pos[i, 1]
                    r2 = dx * dx + dy * dy + 0.1
                    inv = mass[j] / (r2 * math.sqrt(r2))
                    acc[i, 0] += inv * dx
                    acc[i, 1] += inv * dy
        for i in range(n):
            vel[i, 0] += dt * acc[i, 0]
            vel[i, 1] += dt * acc[i, 1]
            pos[i, 0] += dt * vel[i, 0]
            pos[i, 1] += dt * vel[i, 1]
    kinetic = 0.0
    for i in range(n):
        kinetic += 0.5 * mass[i] * (vel[i, 0] ** 2 + vel[i, 1] ** 2)
    spread = 0.0
    for i in range(n):
        spread += pos[i, 0] ** 2 + pos[i, 1] ** 2
    return kinetic + 0.01 * spread


def heat_equation_2d_inplace(U, kappa, steps):
    n = U.shape[0]
    m = U.shape[1]
    new = np.empty_like(U)
    for t in range(steps):
        for i in range(n):
            for j in range(m):
                centre = U[i, j]
                lap = 0.0
                if i > 0:
                    lap += U[i - 1, j] - centre
                if i < n - 1:
                    lap += U[i + 1, j] - centre
                if j > 0:
                    lap += U[i, j - 1] - centre
                if j < m - 1:
                    lap += U[i, j + 1] - centre
                new[i, j] = centre + kappa * lap
        for i in range(n):
            for j in range(m):
                U[i, j] = new[i, j]
    s = 0.0
    for i in range(n):
        for j in range(m):
            s += (i + 1) * U[i, j] * U[i, j]
    return s


def damped_pendulums_inplace(theta, omega, damping, dt, steps):
    n = len(theta)
    torque = np.zeros(n)
    for t in range(steps):
        for i in range(n):
            torque[i] = -math.sin(theta[i]) - damping * omega[i]
        for i in range(n):
            omega[i] += dt * torque[i]
            theta[i] += dt * omega[i]
    energy = 0.0
    for i in range(n):
        energy += 0.5 * omega[i] ** 2 + 1.0 - math.cos(theta[i])
    return energy


def prefix_sum_inplace(x, w):
    for i in range(1, len(x)):
        x[i] += x[i - 1]
    s = 0.0
    for i in range(len(x)):
        s += w[i] * math.sin(x[i])
    return s


def inplace_operator_mix(x, y, s):
    for i in range(len(x)):
        x[i] *= s
        x[i] -= 0.5 * y[i]
        x[i] /= 1.0 + y[i] * y[i]
        y[i] **= 2
    total = 0.0
    for i in range(len(x)):
        total += x[i] * y[i] + x[i] * x[i]
    return total


# --- local scratch arrays -------------------------------------------------------


def moving_average_energy(x, width):
    n = len(x)
    avg = np.zeros(n - width + 1)
    for i in range(n - width + 1):
        for k in range(width):
            avg[i] += x[i + k]
        avg[i] /= width
    s = 0.0
    for i in range(len(avg)):
        s += math.exp(-avg[i] * avg[i]) * (i + 1)
    return s


def cumulative_sum_scratch(x):
    c = np.zeros_like(x)
    c[0] = x[0]
    for i in range(1, len(x)):
        c[i] = c[i - 1] + x[i]
    s = 0.0
    for i in range(len(c)):
        s += math.sin(c[i]) + 0.1 * c[i] * c[i]
    return s


def cumulative_product_ones(x):
    n = len(x)
    w = np.ones(n + 1)
    for i in range(n):
        w[i + 1] = w[i] * (1.0 + 0.1 * x[i])
    s = 0.0
    for i in range(n + 1):
        s += math.log(w[i])
    return s


def copy_then_recursive_filter(a, s):
    b = a.copy()
    for i in range(1, len(b)):
        b[i] = 0.5 * b[i] + s * b[i - 1]
    r = 0.0
    for i in range(len(b)):
        r += b[i] * a[i]
    return r


def gauss_seidel_smoothing(u, f, sweeps):
    w = np.copy(u)
    weight = np.ones_like(u)
    n = len(w)
    for i in range(n):
        weight[i] = 1.0 + 0.1 * i
    for s in range(sweeps):
        for i in range(1, n - 1):
            w[i] = 0.5 * (w[i - 1] + w[i + 1] - 0.01 * f[i])
    e = 0.0
    for i in range(n):
        e += weight[i] * (w[i] - u[i]) ** 2 + 0.1 * w[i] ** 2
    return e


def full_with_active_fill(x, c):
    n = len(x)
    buf = np.full(n, c)
    for i in range(n):
        buf[i] += x[i] * buf[i]
    for i in range(1, n):
        buf[i] *= 0.5 + 0.1 * buf[i - 1]
    s = 0.0
    for i in range(n):
        s += buf[i]
    return s


def empty_scratch_chebyshev(c, xs):
    deg = len(c)
    T = np.empty(deg)
    total = 0.0
    for p in range(len(xs)):
        x = xs[p]
        T[0] = 1.0
        T[1] = x
        for k in range(2, deg):
            T[k] = 2.0 * x * T[k - 1] - T[k - 2]
        value = 0.0
        for k in range(deg):
            value += c[k] * T[k]
        total += value * value
    return total


# --- machine learning losses ----------------------------------------------------


def mlp_regression_loss(X, y, W1, b1, W2, b2):
    n = X.shape[0]
    d = X.shape[1]
    H = W1.shape[1]
    hidden = np.zeros(H)
    loss = 0.0
    for i in range(n):
        for j in range(H):
            a = b1[j]
            for k in range(d):
                a += X[i, k] * W1[k, j]
            hidden[j] = math.tanh(a)
        out = b2
        for j in range(H):
            out += W2[j] * hidden[j]
        r = out - y[i]
        loss += r * r
    return loss / n


def mlp_classifier_loss(X, labels, W1, b1, W2, b2):
    n = X.shape[0]
    H = W1.shape[1]
    C = W2.shape[1]
    hidden = np.zeros(H)
    logits = np.zeros(C)
    loss = 0.0
    for i in range(n):
        for j in range(H):
            a = b1[j]
            for k in range(X.shape[1]):
                a += X[i, k] * W1[k, j]
            hidden[j] = math.tanh(a)
        for c in range(C):
            z = b2[c]
            for j in range(H):
                z += hidden[j] * W2[j, c]
            logits[c] = z
        m = logits[0]
        for c in range(1, C):
            if logits[c] > m:
                m = logits[c]
        s = 0.0
        for c in range(C):
            s += math.exp(logits[c] - m)
        loss += m + math.log(s) - logits[labels[i]]
    return loss / n


def softmax_cross_entropy(logits, labels):
    n = logits.shape[0]
    c = logits.shape[1]
    loss = 0.0
    for i in range(n):
        m = logits[i, 0]
        for j in range(1, c):
            if logits[i, j] > m:
                m = logits[i, j]
        s = 0.0
        for j in range(c):
            s += math.exp(logits[i, j] - m)
        loss += math.log(s) + m - logits[i, labels[i]]
    return loss / n


def gmm_log_likelihood(x, means, log_sigmas, weight_logits):
    K = len(means)
    log_w = np.zeros(K)
    wmax = weight_logits[0]
    for k in range(1, K):
        wmax = max(wmax, weight_logits[k])
    wsum = 0.0
    for k in range(K):
        wsum += math.exp(weight_logits[k] - wmax)
    for k in range(K):
        log_w[k] = weight_logits[k] - wmax - math.log(wsum)
    comp = np.zeros(K)
    total = 0.0
    for i in range(len(x)):
        for k in range(K):
            z = (x[i] - means[k]) / math.exp(log_sigmas[k])
            comp[k] = log_w[k] - 0.5 * z * z - log_sigmas[k] - 0.5 * math.log(2.0 * math.pi)
        m = comp[0]
        for k in range(1, K):
            if comp[k] > m:
                m = comp[k]
        s = 0.0
        for k in range(K):
            s += math.exp(comp[k] - m)
        total += m + math.log(s)
    return total


def logistic_regression_loss(w, b, X, y, lam):
    n = X.shape[0]
    loss = 0.0
    for i in range(n):
        z = b
        for j in range(X.shape[1]):
            z += X[i, j] * w[j]
        margin = -y[i] * z
        if margin > 0.0:
            loss += margin + math.log1p(math.exp(-margin))
        else:
            loss += math.log1p(math.exp(margin))
    reg = 0.0
    for j in range(len(w)):
        reg += w[j] * w[j]
    return loss / n + 0.5 * lam * reg


def attention_readout(q, K, V, target):
    n = K.shape[0]
    d = K.shape[1]
    scores = np.zeros(n)
    scale = 1.0 / math.sqrt(d)
    for i in range(n):
        for c in range(d):
            scores[i] += q[c] * K[i, c]
        scores[i] *= scale
    m = scores[0]
    for i in range(1, n):
        m = max(m, scores[i])
    z = 0.0
    for i in range(n):
        scores[i] = math.exp(scores[i] - m)
        z += scores[i]
    out = np.zeros(V.shape[1])
    for i in range(n):
        for c in range(V.shape[1]):
            out[c] += scores[i] / z * V[i, c]
    loss = 0.0
    for c in range(len(out)):
        loss += (out[c] - target[c]) ** 2
    return loss


def rnn_sequence_loss(xs, Wx, Wh, h0, target):
    H = len(h0)
    h = h0.copy()
    h_next = np.zeros_like(h0)
    for t in range(len(xs)):
        for j in range(H):
            a = Wx[j] * xs[t]
            for k in range(H):
                a += Wh[j, k] * h[k]
            h_next[j] = math.tanh(a)
        for j in range(H):
            h[j] = h_next[j]
    loss = 0.0
    for j in range(H):
        loss += (h[j] - target[j]) ** 2
    return loss


# --- indexing: scatter and gather ------------------------------------------------


def scatter_add_histogram(x, w, idx, bins):
    acc = np.zeros(bins)
    for k in range(len(idx)):
        acc[idx[k]] += w[k] * x[k]
    s = 0.0
    for b in range(bins):
        s += math.tanh(acc[b]) * (b + 1)
    return s


def gather_embedding_loss(table, idx, targets):
    loss = 0.0
    for k in range(len(idx)):
        row = idx[k]
        for c in range(table.shape[1]):
            d = table[row, c] - targets[k, c]
            loss += d * d
    return loss


# --- linear algebra and polynomials -----------------------------------------------


def least_squares_matvec(A, x, b):
    n = A.shape[0]
    y = np.zeros(n)
    for i in range(n):
        for j in range(A.shape[1]):
            y[i] += A[i, j] * x[j]
    r = 0.0
    for i in range(n):
        d = y[i] - b[i]
        r += d * d
    return 0.5 * r


def polynomial_fit_loss(coeffs, xs, ys):
    deg = len(coeffs)
    loss = 0.0
    for i in range(len(xs)):
        p = 0.0
        for k in range(deg - 1, -1, -1):
            p = p * xs[i] + coeffs[k]
        loss += (p - ys[i]) ** 2
    return loss


def trilinear_form(T, a, b, c):
    s = 0.0
    for i in range(T.shape[0]):
        for j in range(T.shape[1]):
            for k in range(T.shape[2]):
                s += T[i, j, k] * a[i] * b[j] * c[k]
    return math.tanh(s)


def normalized_squared_error(A, B):
    total = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            d = A[i, j] - B[i, j]
            total += d * d
    if A.ndim == 2:
        total = total / A.size
    return total


def bilinear_sample_loss(grid, pts):
    s = 0.0
    for p in range(pts.shape[0]):
        gx = pts[p, 0]
        gy = pts[p, 1]
        i = int(math.floor(gx))
        j = int(math.floor(gy))
        fx = gx - i
        fy = gy - j
        v = (1.0 - fx) * (1.0 - fy) * grid[i, j] + fx * (1.0 - fy) * grid[i + 1, j]
        v += (1.0 - fx) * fy * grid[i, j + 1] + fx * fy * grid[i + 1, j + 1]
        s += v * v
    return s


def dynamic_time_warping(a, b):
    n = len(a)
    m = len(b)
    D = np.full((n + 1, m + 1), 1e10)
    D[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost = (a[i - 1] - b[j - 1]) ** 2
            D[i, j] = cost + min(D[i - 1, j], D[i, j - 1], D[i - 1, j - 1])
    return D[n, m]


# --- while loops and early exits --------------------------------------------------


def strided_while_sum(x, stride):
    i = 0
    s = 0.0
    while i < len(x):
        s += math.sin(x[i]) * (i + 1)
        i += stride
    return s


def newton_cube_roots(a):
    total = 0.0
    for i in range(len(a)):
        r = 1.0
        iterations = 0
        while iterations < 60:
            step = (r * r * r - a[i]) / (3.0 * r * r)
            r -= step
            iterations += 1
            if abs(step) < 1e-14:
                break
        total += r * (i + 1)
    return total


def sum_until_first_negative(x, w):
    s = 0.0
    for i in range(len(x)):
        if x[i] < 0.0:
            break
        s += w[i] * x[i] * x[i]
    return s


def while_until_budget(x, budget):
    i = 0
    s = 0.0
    while i < len(x):
        if i >= budget:
            break
        s += math.exp(-x[i] * x[i]) * x[i]
        i += 1
    return s


# --- the table ---------------------------------------------------------------------


class ArrayProgram(NamedTuple):
    name: str
    function: Callable
    make: Callable
    wrt: tuple
    float32: bool = False
    writes_arguments: bool = False


def _away_from_zero(rng, size, low=0.3, high=1.5):
    """Values with |v| in [low, high] and random signs."""
    return rng.uniform(low, high, size=size) * rng.choice([-1.0, 1.0], size=size)


def _spring_chain(rng):
    n = int(rng.integers(3, 8))
    return (np.sort(rng.uniform(0.0, 3.0, n)), float(rng.uniform(0.5, 3.0)), float(rng.uniform(0.1, 0.5)))


def _spring_chain_f32(rng):
    x, k, rest = _spring_chain(rng)
    return (x.astype(np.float32), k, rest)


def _spring_network(rng):
    n = int(rng.integers(3, 6))
    pos = rng.uniform(-1.0, 1.0, (n, 2)) + 2.0 * np.arange(n)[:, None]
    edges = []
    for a in range(n):
        for b in range(a + 1, n):
            edges.append((a, b))
    edges = np.array(edges, dtype=np.int64)
    return (pos, edges, rng.uniform(0.5, 1.5, len(edges)), float(rng.uniform(0.5, 2.0)))


def _laplacian_1d(rng):
    return (rng.normal(size=int(rng.integers(4, 9))), float(rng.uniform(0.01, 0.5)))


def _laplacian_2d(rng):
    return (rng.normal(size=(int(rng.integers(3, 6)), int(rng.integers(3, 6)))), float(rng.uniform(0.01, 0.3)))


def _tv_2d(rng):
    return (rng.normal(size=(int(rng.integers(3, 5)), int(rng.integers(3, 5)))), float(rng.uniform(0.05, 0.3)))


def _lennard_jones(rng):
    n = int(rng.integers(3, 6))
    return (rng.uniform(-1.5, 1.5, (n, 3)), float(rng.uniform(0.5, 2.0)), float(rng.uniform(0.5, 0.9)))


def _mmd(rng):
    d = 2
    return (
        rng.normal(size=(int(rng.integers(2, 5)), d)),
        rng.normal(0.5, 1.0, size=(int(rng.integers(2, 5)), d)),
        float(rng.uniform(0.5, 2.0)),
    )


def _mds(rng):
    n = int(rng.integers(3, 6))
    return (rng.normal(size=(n, 2)), rng.uniform(0.5, 2.0, (n, n)))


def _euler_chain(rng):
    n = int(rng.integers(2, 6))
    return (rng.normal(size=n), rng.normal(size=n), float(rng.uniform(0.5, 2.0)),
            float(rng.uniform(0.01, 0.1)), int(rng.integers(1, 15)))


def _nbody(rng):
    n = int(rng.integers(2, 5))
    return (rng.normal(size=(n, 2)) * 1.5, rng.normal(size=(n, 2)) * 0.3, rng.uniform(0.5, 1.5, n),
            float(rng.uniform(0.01, 0.05)), int(rng.integers(1, 8)))


def _heat(rng):
    return (rng.normal(size=(int(rng.integers(2, 5)), int(rng.integers(2, 5)))),
            float(rng.uniform(0.05, 0.2)), int(rng.integers(1, 6)))


def _pendulums(rng):
    n = int(rng.integers(1, 5))
    return (rng.uniform(-1.0, 1.0, n), rng.normal(size=n), float(rng.uniform(0.0, 0.5)),
            float(rng.uniform(0.01, 0.1)), int(rng.integers(1, 20)))


def _prefix_sum(rng):
    n = int(rng.integers(2, 8))
    return (rng.normal(size=n), rng.normal(size=n))


def _inplace_mix(rng):
    n = int(rng.integers(1, 6))
    return (rng.normal(size=n), rng.normal(size=n), float(rng.uniform(-2.0, 2.0)))


def _moving_average(rng):
    n = int(rng.integers(4, 10))
    return (rng.normal(size=n), int(rng.integers(1, 4)))


def _one_vector(rng):
    return (rng.normal(size=int(rng.integers(2, 9))),)


def _copy_filter(rng):
    return (rng.normal(size=int(rng.integers(2, 8))), float(rng.uniform(-0.9, 0.9)))


def _gauss_seidel(rng):
    n = int(rng.integers(3, 9))
    return (rng.normal(size=n), rng.normal(size=n), int(rng.integers(1, 6)))


def _full_fill(rng):
    return (rng.normal(size=int(rng.integers(1, 7))) * 0.5, float(rng.uniform(-1.5, 1.5)))


def _chebyshev(rng):
    return (rng.normal(size=int(rng.integers(2, 7))), rng.uniform(-1.0, 1.0, int(rng.integers(1, 6))))


def _mlp_regression(rng):
    n, d, h = int(rng.integers(2, 6)), int(rng.integers(1, 4)), int(rng.integers(2, 5))
    return (rng.normal(size=(n, d)), rng.normal(size=n), rng.normal(size=(d, h)) * 0.7,
            rng.normal(size=h) * 0.3, rng.normal(size=h), float(rng.normal() * 0.3))


def _mlp_regression_f32(rng):
    X, y, W1, b1, W2, b2 = _mlp_regression(rng)
    return (X.astype(np.float32), y.astype(np.float32), W1.astype(np.float32),
            b1.astype(np.float32), W2.astype(np.float32), b2)


def _mlp_classifier(rng):
    n, d, h, c = int(rng.integers(2, 5)), int(rng.integers(1, 4)), int(rng.integers(2, 5)), int(rng.integers(2, 5))
    return (rng.normal(size=(n, d)), rng.integers(0, c, n), rng.normal(size=(d, h)) * 0.7,
            rng.normal(size=h) * 0.3, rng.normal(size=(h, c)), rng.normal(size=c) * 0.3)


def _softmax(rng):
    n, c = int(rng.integers(1, 6)), int(rng.integers(2, 6))
    return (rng.normal(size=(n, c)) * 2.0, rng.integers(0, c, n))


def _gmm(rng):
    k = int(rng.integers(1, 4))
    return (rng.normal(size=int(rng.integers(2, 8))) * 2.0, rng.normal(size=k), rng.normal(size=k) * 0.3,
            rng.normal(size=k))


def _logistic(rng):
    n, d = int(rng.integers(2, 7)), int(rng.integers(1, 4))
    return (rng.normal(size=d), float(rng.normal()), rng.normal(size=(n, d)),
            rng.choice([-1.0, 1.0], size=n), float(rng.uniform(0.0, 0.5)))


def _attention(rng):
    n, d, dv = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    return (rng.normal(size=d), rng.normal(size=(n, d)), rng.normal(size=(n, dv)), rng.normal(size=dv))


def _rnn(rng):
    h = int(rng.integers(1, 4))
    return (rng.normal(size=int(rng.integers(1, 6))), rng.normal(size=h), rng.normal(size=(h, h)) * 0.5,
            rng.normal(size=h) * 0.5, rng.normal(size=h) * 0.5)


def _scatter(rng):
    m, bins = int(rng.integers(2, 10)), int(rng.integers(1, 4))
    idx = rng.integers(0, bins, m)
    idx[0] = idx[-1]  # at least one repeated index
    return (rng.normal(size=m), rng.normal(size=m), idx, bins)


def _gather(rng):
    rows, cols, m = int(rng.integers(2, 5)), int(rng.integers(1, 4)), int(rng.integers(2, 8))
    idx = rng.integers(0, rows, m)
    idx[0] = idx[-1]
    return (rng.normal(size=(rows, cols)), idx, rng.normal(size=(m, cols)))


def _least_squares(rng):
    n, m = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    return (rng.normal(size=(n, m)), rng.normal(size=m), rng.normal(size=n))


def _polynomial_inputs(rng):
    m = int(rng.integers(1, 7))
    return (rng.normal(size=int(rng.integers(1, 6))), rng.uniform(-1.5, 1.5, m), rng.normal(size=m))


def _trilinear(rng):
    a, b, c = (int(rng.integers(1, 4)) for _ in range(3))
    return (rng.normal(size=(a, b, c)) * 0.5, rng.normal(size=a), rng.normal(size=b), rng.normal(size=c))


def _two_matrices(rng):
    shape = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    return (rng.normal(size=shape), rng.normal(size=shape))


def _bilinear(rng):
    n, m, p = int(rng.integers(2, 6)), int(rng.integers(2, 6)), int(rng.integers(1, 5))
    cells = np.stack([rng.integers(0, n - 1, p), rng.integers(0, m - 1, p)], axis=1)
    pts = cells + rng.uniform(0.1, 0.9, (p, 2))  # keep away from cell boundaries
    return (rng.normal(size=(n, m)), pts)


def _dtw(rng):
    return (rng.normal(size=int(rng.integers(1, 6))), rng.normal(size=int(rng.integers(1, 6))))


def _strided(rng):
    return (rng.normal(size=int(rng.integers(1, 10))), int(rng.integers(1, 4)))


def _cube_roots(rng):
    return (rng.uniform(0.5, 8.0, int(rng.integers(1, 6))),)


def _first_negative(rng):
    n = int(rng.integers(1, 9))
    x = np.abs(_away_from_zero(rng, n))
    x[rng.integers(0, n)] *= -1.0 if rng.uniform() < 0.8 else 1.0
    return (x, rng.normal(size=n))


def _budget(rng):
    n = int(rng.integers(1, 9))
    return (rng.normal(size=n), int(rng.integers(0, n + 2)))


def _entry(function, make, wrt, float32=False, writes_arguments=False, name=None):
    return ArrayProgram(name or function.__name__, function, make, tuple(wrt), float32, writes_arguments)


PROGRAMS = [
    _entry(spring_chain_energy, _spring_chain, (0, 1, 2)),
    _entry(spring_chain_energy, _spring_chain_f32, (0, 1), float32=True, name="spring_chain_energy_float32"),
    _entry(spring_network_2d, _spring_network, (0, 2, 3)),
    _entry(laplacian_smoothing_1d, _laplacian_1d, (0, 1)),
    _entry(laplacian_energy_2d, _laplacian_2d, (0, 1)),
    _entry(total_variation_2d, _tv_2d, (0, 1)),
    _entry(lennard_jones_softened, _lennard_jones, (0, 1, 2)),
    _entry(gaussian_kernel_mmd, _mmd, (0, 1, 2)),
    _entry(mds_stress, _mds, (0, 1)),
    _entry(semi_implicit_euler_chain, _euler_chain, (0, 1, 2, 3), writes_arguments=True),
    _entry(nbody_leapfrog, _nbody, (0, 1, 2, 3), writes_arguments=True),
    _entry(heat_equation_2d_inplace, _heat, (0, 1), writes_arguments=True),
    _entry(damped_pendulums_inplace, _pendulums, (0, 1, 2, 3), writes_arguments=True),
    _entry(prefix_sum_inplace, _prefix_sum, (0, 1), writes_arguments=True),
    _entry(inplace_operator_mix, _inplace_mix, (0, 1, 2), writes_arguments=True),
    _entry(moving_average_energy, _moving_average, (0,)),
    _entry(cumulative_sum_scratch, _one_vector, (0,)),
    _entry(cumulative_product_ones, _one_vector, (0,)),
    _entry(copy_then_recursive_filter, _copy_filter, (0, 1)),
    _entry(gauss_seidel_smoothing, _gauss_seidel, (0, 1)),
    _entry(full_with_active_fill, _full_fill, (0, 1)),
    _entry(empty_scratch_chebyshev, _chebyshev, (0, 1)),
    _entry(mlp_regression_loss, _mlp_regression, (2, 3, 4, 5)),
    _entry(mlp_regression_loss, _mlp_regression_f32, (0, 2, 3, 4, 5), float32=True, name="mlp_regression_loss_float32"),
    _entry(mlp_classifier_loss, _mlp_classifier, (0, 2, 3, 4, 5)),
    _entry(softmax_cross_entropy, _softmax, (0,)),
    _entry(gmm_log_likelihood, _gmm, (0, 1, 2, 3)),
    _entry(logistic_regression_loss, _logistic, (0, 1, 2, 4)),
    _entry(attention_readout, _attention, (0, 1, 2, 3)),
    _entry(rnn_sequence_loss, _rnn, (0, 1, 2, 3, 4)),
    _entry(scatter_add_histogram, _scatter, (0, 1)),
    _entry(gather_embedding_loss, _gather, (0, 2)),
    _entry(least_squares_matvec, _least_squares, (0, 1, 2)),
    _entry(polynomial_fit_loss, _polynomial_inputs, (0, 1, 2)),
    _entry(trilinear_form, _trilinear, (0, 1, 2, 3)),
    _entry(normalized_squared_error, _two_matrices, (0, 1)),
    _entry(bilinear_sample_loss, _bilinear, (0, 1)),
    _entry(dynamic_time_warping, _dtw, (0, 1)),
    _entry(strided_while_sum, _strided, (0,)),
    _entry(newton_cube_roots, _cube_roots, (0,)),
    _entry(sum_until_first_negative, _first_negative, (0, 1)),
    _entry(while_until_budget, _budget, (0,)),
]


# --- more programs: sorting, periodic indices, sparse formats, factorizations ------


def bubble_sort_weighted(x, w):
    n = len(x)
    for i in range(n):
        for j in range(n - 1 - i):
            if x[j] > x[j + 1]:
                tmp = x[j]
                x[j] = x[j + 1]
                x[j + 1] = tmp
    s = 0.0
    for i in range(n):
        s += w[i] * x[i] * (i + 1)
    return s


def periodic_ring_energy(x, k):
    n = len(x)
    e = 0.0
    for i in range(n):
        d = x[i] - x[i - 1]
        e += k * (1.0 - math.cos(d))
    for i in range(n):
        e += 0.1 * x[i] * x[(i + 1) % n]
    return e


def csr_matvec_loss(data, indptr, indices, x, y):
    n = len(indptr) - 1
    r = np.zeros(n)
    for i in range(n):
        for p in range(indptr[i], indptr[i + 1]):
            r[i] += data[p] * x[indices[p]]
    loss = 0.0
    for i in range(n):
        loss += (r[i] - y[i]) ** 2
    return loss


def coo_bilinear(vals, rows, cols, u, v):
    s = 0.0
    for k in range(len(vals)):
        s += vals[k] * u[rows[k]] * v[cols[k]]
    return s * s


def cholesky_logdet(A):
    n = A.shape[0]
    L = np.zeros_like(A)
    for j in range(n):
        s = A[j, j]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        L[j, j] = math.sqrt(s)
        for i in range(j + 1, n):
            t = A[i, j]
            for k in range(j):
                t -= L[i, k] * L[j, k]
            L[i, j] = t / L[j, j]
    logdet = 0.0
    for i in range(n):
        logdet += 2.0 * math.log(L[i, i])
    return logdet


def forward_substitution_inplace(L, b):
    n = len(b)
    for i in range(n):
        for k in range(i):
            b[i] -= L[i, k] * b[k]
        b[i] /= L[i, i]
    s = 0.0
    for i in range(n):
        s += b[i] * b[i]
    return s


def power_iteration_rayleigh(A, v0, iterations):
    n = A.shape[0]
    v = v0.copy()
    w = np.zeros(n)
    for it in range(iterations):
        norm = 0.0
        for i in range(n):
            acc = 0.0
            for j in range(n):
                acc += A[i, j] * v[j]
            w[i] = acc
            norm += acc * acc
        norm = math.sqrt(norm)
        for i in range(n):
            v[i] = w[i] / norm
    num = 0.0
    den = 0.0
    for i in range(n):
        for j in range(n):
            num += v[i] * A[i, j] * v[j]
        den += v[i] * v[i]
    return num / den


def matmul_frobenius(A, B):
    n = A.shape[0]
    p = B.shape[1]
    C = np.zeros((n, p))
    for i in range(n):
        for j in range(p):
            for k in range(A.shape[1]):
                C[i, j] += A[i, k] * B[k, j]
    s = 0.0
    for i in range(n):
        for j in range(p):
            s += math.sin(C[i, j])
    return s


def conv1d_maxpool(x, kernel):
    n = len(x) - len(kernel) + 1
    out = np.zeros(n)
    for i in range(n):
        for k in range(len(kernel)):
            out[i] += kernel[k] * x[i + k]
    best = out[0]
    for i in range(1, n):
        best = max(best, out[i])
    s = 0.0
    for i in range(n):
        s += math.tanh(out[i])
    return s + best


def running_max_inplace(x, w):
    for i in range(1, len(x)):
        x[i] = max(x[i], x[i - 1] * 0.9)
    s = 0.0
    for i in range(len(x)):
        s += w[i] * x[i]
    return s


def early_return_in_loop(x, threshold):
    s = 0.0
    for i in range(len(x)):
        s += x[i] * x[i]
        if s > threshold:
            return s * 2.0
    return s


def nested_index_arrays(x, outer, inner):
    s = 0.0
    for k in range(len(outer)):
        v = x[inner[outer[k]]]
        s += v * v * (k + 1)
    return s


def conv2d_energy(img, kern):
    H = img.shape[0] - kern.shape[0] + 1
    W = img.shape[1] - kern.shape[1] + 1
    out = np.zeros((H, W))
    for i in range(H):
        for j in range(W):
            for a in range(kern.shape[0]):
                for b in range(kern.shape[1]):
                    out[i, j] += kern[a, b] * img[i + a, j + b]
    s = 0.0
    for i in range(H):
        for j in range(W):
            s += out[i, j] ** 2
    return s


def float32_heat_inplace(u, kappa, steps):
    n = len(u)
    tmp = np.empty_like(u)
    for t in range(steps):
        for i in range(n):
            tmp[i] = u[i] + kappa * (u[(i + 1) % n] - 2.0 * u[i] + u[i - 1])
        for i in range(n):
            u[i] = tmp[i]
    s = 0.0
    for i in range(n):
        s += u[i] ** 2 * (i + 1)
    return s


def full_like_active_fill(x, k):
    y = np.full_like(x, k)
    for i in range(len(x)):
        y[i] = y[i] * x[i] + k
    s = 0.0
    for i in range(len(y)):
        s += y[i] * y[i]
    return s


def _bubble(rng):
    n = int(rng.integers(1, 7))
    x = rng.permutation(n) + rng.uniform(-0.3, 0.3, n)  # no near-ties
    return (x, rng.normal(size=n))


def _ring(rng):
    return (rng.normal(size=int(rng.integers(1, 7))), float(rng.uniform(0.5, 2.0)))


def _csr(rng):
    n, m = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    counts = rng.integers(0, m + 2, n)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = rng.integers(0, m, indptr[-1])
    return (rng.normal(size=indptr[-1]), indptr, indices, rng.normal(size=m), rng.normal(size=n))


def _coo(rng):
    n, m, nnz = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 8))
    return (rng.normal(size=nnz), rng.integers(0, n, nnz), rng.integers(0, m, nnz),
            rng.normal(size=n), rng.normal(size=m))


def _spd(rng):
    n = int(rng.integers(1, 5))
    B = rng.normal(size=(n, n))
    return (B @ B.T + n * np.eye(n),)


def _lower(rng):
    n = int(rng.integers(1, 5))
    L = np.tril(rng.normal(size=(n, n)) * 0.3)
    L[np.arange(n), np.arange(n)] = rng.uniform(1.0, 2.0, n)
    return (L, rng.normal(size=n))


def _power(rng):
    n = int(rng.integers(2, 5))
    B = rng.normal(size=(n, n))
    return ((B + B.T) / 2 + 0.5 * n * np.eye(n), rng.uniform(0.5, 1.5, n), int(rng.integers(1, 6)))


def _matmul(rng):
    n, k, p = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    return (rng.normal(size=(n, k)), rng.normal(size=(k, p)))


def _conv1d(rng):
    k = int(rng.integers(1, 4))
    return (rng.normal(size=k + int(rng.integers(1, 6))), rng.normal(size=k))


def _running_max(rng):
    n = int(rng.integers(1, 7))
    x = rng.normal(size=n)
    for i in range(1, n):  # keep x[i] away from 0.9 * x[i - 1] (no ties)
        while abs(x[i] - 0.9 * x[i - 1]) < 0.1:
            x[i] = rng.normal()
    return (x, rng.normal(size=n))


def _early_return(rng):
    n = int(rng.integers(1, 8))
    x = rng.uniform(0.5, 1.5, n)
    partial = np.cumsum(x * x)
    # a threshold halfway between two partial sums, or beyond all of them
    cut = int(rng.integers(0, n))
    low = partial[cut - 1] if cut > 0 else 0.0
    return (x, float(0.5 * (low + partial[cut])) if rng.uniform() < 0.8 else float(partial[-1] + 5.0))


def _nested_index(rng):
    n, m, k = int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 7))
    return (rng.normal(size=n), rng.integers(0, m, k), rng.integers(0, n, m))


def _conv2d(rng):
    ka, kb = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    return (rng.normal(size=(ka + int(rng.integers(0, 3)), kb + int(rng.integers(0, 3)))),
            rng.normal(size=(ka, kb)))


def _heat32(rng):
    return (rng.normal(size=int(rng.integers(1, 6))).astype(np.float32), float(rng.uniform(0.05, 0.2)),
            int(rng.integers(1, 6)))


def _full_like(rng):
    return (rng.normal(size=int(rng.integers(1, 6))), float(rng.normal()))


PROGRAMS += [
    _entry(bubble_sort_weighted, _bubble, (0, 1), writes_arguments=True),
    _entry(periodic_ring_energy, _ring, (0, 1)),
    _entry(csr_matvec_loss, _csr, (0, 3, 4)),
    _entry(coo_bilinear, _coo, (0, 3, 4)),
    _entry(cholesky_logdet, _spd, (0,)),
    _entry(forward_substitution_inplace, _lower, (0, 1), writes_arguments=True),
    _entry(power_iteration_rayleigh, _power, (0, 1)),
    _entry(matmul_frobenius, _matmul, (0, 1)),
    _entry(conv1d_maxpool, _conv1d, (0, 1)),
    _entry(running_max_inplace, _running_max, (0, 1), writes_arguments=True),
    _entry(early_return_in_loop, _early_return, (0, 1)),
    _entry(nested_index_arrays, _nested_index, (0,)),
    _entry(conv2d_energy, _conv2d, (0, 1)),
    _entry(float32_heat_inplace, _heat32, (0, 1), float32=True, writes_arguments=True),
    _entry(full_like_active_fill, _full_like, (0, 1)),
]


# --- output buffers, copies written back, bool masks, memory layouts ---------------


def sine_features_into_buffer(x, out):
    s = 0.0
    for i in range(len(x)):
        out[i] = math.sin(x[i])
        s += out[i] * out[i] * (i + 1)
    return s


def smooth_and_copy_back(x, w):
    y = np.copy(x)
    for i in range(1, len(y)):
        y[i] += 0.5 * y[i - 1]
    for i in range(len(x)):
        x[i] = y[i]
    s = 0.0
    for i in range(len(x)):
        s += w[i] * x[i] ** 2
    return s


def backward_recurrence_inplace(x):
    for i in range(len(x) - 2, -1, -1):
        x[i] = x[i] * x[i + 1] + 0.1
    s = 0.0
    for i in range(len(x)):
        s += x[i]
    return s


def gradient_flow_while_inplace(x, rate):
    it = 0
    while it < 5:
        i = 0
        while i < len(x):
            x[i] -= rate * x[i] ** 3
            i += 1
        it += 1
    s = 0.0
    for i in range(len(x)):
        s += x[i] * (i + 1)
    return s


def masked_cubic_sum(x, mask):
    s = 0.0
    for i in range(len(x)):
        if mask[i]:
            s += x[i] ** 3
        else:
            s -= 0.5 * x[i]
    return s


def weighted_quadratic_form(A, x):
    s = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            s += A[i, j] * x[i] * x[j] * (i + 2 * j + 1)
    return s


def zeros_with_dtype_keyword(x):
    b = np.zeros(len(x), dtype=np.float64)
    for i in range(len(x)):
        b[i] = x[i] * x[i]
    s = 0.0
    for i in range(len(x)):
        s += b[i] * x[i]
    return s


def _buffer(rng):
    n = int(rng.integers(1, 6))
    return (rng.normal(size=n), np.zeros(n))


def _uniform_vector(rng):
    return (rng.uniform(0.5, 1.5, int(rng.integers(1, 7))),)


def _flow(rng):
    return (rng.uniform(-1.0, 1.0, int(rng.integers(1, 6))), float(rng.uniform(0.05, 0.2)))


def _masked(rng):
    n = int(rng.integers(1, 7))
    return (rng.normal(size=n), rng.uniform(size=n) < 0.5)


def _fortran_square(rng):
    n = int(rng.integers(1, 5))
    return (np.asfortranarray(rng.normal(size=(n, n))), rng.normal(size=n))


PROGRAMS += [
    _entry(sine_features_into_buffer, _buffer, (0,), writes_arguments=True),
    _entry(smooth_and_copy_back, _prefix_sum, (0, 1), writes_arguments=True),
    _entry(backward_recurrence_inplace, _uniform_vector, (0,), writes_arguments=True),
    _entry(gradient_flow_while_inplace, _flow, (0, 1), writes_arguments=True),
    _entry(masked_cubic_sum, _masked, (0,)),
    _entry(weighted_quadratic_form, _fortran_square, (0, 1), name="weighted_quadratic_form_fortran_order"),
    # np.zeros(n, dtype=np.float64) is refused with "name 'dtype' is not defined" (srcad bug, reported)
    _entry(zeros_with_dtype_keyword, _one_vector, (0,)),
]
