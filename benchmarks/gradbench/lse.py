"""GradBench's ``lse`` eval: log-sum-exp with the maximum taken out first, and its gradient."""

import math

import numpy as np

import srcad


@srcad.differentiable
def logsumexp(x):
    largest = x[0]
    for i in range(1, x.shape[0]):
        if x[i] > largest:
            largest = x[i]
    total = 0.0
    for i in range(x.shape[0]):
        total += math.exp(x[i] - largest)
    return largest + math.log(total)


gradient = srcad.grad(logsumexp)


def prepare(input):
    return (np.array(input["x"], dtype=np.float64),)


def compile():
    logsumexp(np.ones(3))
    gradient(np.ones(3))


FUNCTIONS = {"primal": (logsumexp, float), "gradient": (gradient, lambda g: g.tolist())}
