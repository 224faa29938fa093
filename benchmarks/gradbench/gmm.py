"""GradBench's ``gmm`` eval (ADBench's Gaussian mixture): the log-likelihood of points ``x`` under
``k`` Gaussians with weights ``alpha`` (log-space), means ``mu`` and inverse-covariance factors
(``q``: the logs of the diagonal, ``l``: the strictly lower triangle, column by column), plus a
Wishart prior; and its gradient with respect to ``alpha``, ``mu``, ``q`` and ``l``."""

import math

import numpy as np

import srcad


@srcad.differentiable
def objective(alpha, mu, q, l, x, gamma, m, constant):
    n, d = x.shape
    k = alpha.shape[0]
    diagonal = np.exp(q)
    sum_q = np.sum(q, axis=1)
    lower = np.zeros((k, d, d))  # the strictly lower triangles, from l's columns
    for c in range(k):
        position = 0
        for col in range(d):
            for row in range(col + 1, d):
                lower[c, row, col] = l[c, position]
                position += 1
    inner = np.zeros(k)
    likelihood = 0.0
    for i in range(n):
        for c in range(k):
            squares = 0.0
            for r in range(d):
                value = diagonal[c, r] * (x[i, r] - mu[c, r])
                for col in range(r):
                    value += lower[c, r, col] * (x[i, col] - mu[c, col])
                squares += value * value
            inner[c] = alpha[c] + sum_q[c] - 0.5 * squares
        largest = inner[0]
        for c in range(1, k):
            if inner[c] > largest:
                largest = inner[c]
        total = 0.0
        for c in range(k):
            total += math.exp(inner[c] - largest)
        likelihood += largest + math.log(total)
    largest = alpha[0]
    for c in range(1, k):
        if alpha[c] > largest:
            largest = alpha[c]
    total = 0.0
    for c in range(k):
        total += math.exp(alpha[c] - largest)
    prior = 0.0
    for c in range(k):
        for r in range(d):
            prior += 0.5 * gamma * gamma * math.exp(2.0 * q[c, r]) - m * q[c, r]
        for j in range(l.shape[1]):
            prior += 0.5 * gamma * gamma * l[c, j] * l[c, j]
    return constant + likelihood - n * (largest + math.log(total)) - prior


gradient = srcad.grad(objective, wrt=(0, 1, 2, 3))


def _multigammaln(a, p):
    return p * (p - 1) / 4.0 * math.log(math.pi) + sum(math.lgamma(a + (1 - j) / 2.0) for j in range(1, p + 1))


def prepare(input):
    d, k, n, m, gamma = int(input["d"]), int(input["k"]), int(input["n"]), int(input["m"]), float(input["gamma"])
    x = np.array(input["x"], dtype=np.float64).reshape(n, d)
    dof = d + m + 1
    constant = -n * d * 0.5 * math.log(2.0 * math.pi) + k * (
        dof * d * math.log(gamma / math.sqrt(2.0)) - _multigammaln(0.5 * dof, d))
    parameters = [np.array(input[name], dtype=np.float64).reshape(shape) for name, shape in
                  (("alpha", (k,)), ("mu", (k, d)), ("q", (k, d)), ("l", (k, d * (d - 1) // 2)))]
    return (*parameters, x, gamma, float(m), constant)


def _as_json(gradients):
    return {name: g.tolist() for name, g in zip(("alpha", "mu", "q", "l"), gradients)}


def compile():
    rng = np.random.default_rng(0)
    d, k, n = 2, 2, 3
    example = {"d": d, "k": k, "n": n, "m": 0, "gamma": 1.0, "x": rng.normal(size=(n, d)).tolist(),
               "alpha": rng.normal(size=k).tolist(), "mu": rng.normal(size=(k, d)).tolist(),
               "q": rng.normal(size=(k, d)).tolist(), "l": rng.normal(size=(k, 1)).tolist()}
    args = prepare(example)
    objective(*args)
    gradient(*args)


FUNCTIONS = {"objective": (objective, float), "jacobian": (gradient, _as_json)}
