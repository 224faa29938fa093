"""GradBench's ``llsq`` eval: half the squared residuals of fitting sign(t) by a polynomial with
coefficients ``x`` at ``n`` points t in [-1, 1], and the gradient."""

import numpy as np

import srcad


@srcad.differentiable
def llsq(x, n):
    total = 0.0
    for i in range(n):
        t = -1.0 + (i * 2.0) / (n - 1.0)
        residual = 0.0
        if t > 0.0:
            residual = 1.0
        elif t < 0.0:
            residual = -1.0
        power = 1.0
        for j in range(x.shape[0]):
            residual -= x[j] * power
            power *= t
        total += residual * residual
    return total / 2.0


gradient = srcad.grad(llsq)


def prepare(input):
    return np.array(input["x"], dtype=np.float64), int(input["n"])


def compile():
    llsq(np.ones(3), 4)
    gradient(np.ones(3), 4)


FUNCTIONS = {"primal": (llsq, float), "gradient": (gradient, lambda g: g.tolist())}
