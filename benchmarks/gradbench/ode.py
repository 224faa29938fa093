"""GradBench's ``ode`` eval: y' = f(y) with f(y)[0] = x[0] and f(y)[i] = x[i] * y[i - 1], from y = 0
over t in [0, 2] in ``s`` RK4 steps; the final y, and the gradient of its last component."""

import numpy as np

import srcad


def rates(x, y, out):
    out[0] = x[0]
    for i in range(1, x.shape[0]):
        out[i] = x[i] * y[i - 1]


@srcad.differentiable
def solve(x, s):
    n = x.shape[0]
    h = 2.0 / s
    y = np.zeros(n)
    k1, k2, k3, k4 = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    for step in range(s):
        rates(x, y, k1)
        rates(x, y + (h / 2.0) * k1, k2)
        rates(x, y + (h / 2.0) * k2, k3)
        rates(x, y + h * k3, k4)
        y = y + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return y


@srcad.differentiable
def last(x, s):
    y = solve(x, s)
    return y[y.shape[0] - 1]


gradient = srcad.grad(last)


def prepare(input):
    return np.array(input["x"], dtype=np.float64), int(input["s"])


def compile():
    solve(np.ones(3), 2)
    gradient(np.ones(3), 2)


FUNCTIONS = {"primal": (solve, lambda y: y.tolist()), "gradient": (gradient, lambda g: g.tolist())}
