"""GradBench's ``particle`` eval (Pearlmutter and Siskind): a charged particle starts at (0, 8) with
velocity (0.75, 0) and is pulled by two fixed charges at (10, 10 - w) and (10, 0); Euler steps of
0.1 run while it stays above the x axis, its forces the gradient of the potential. The control w
is found by gradient descent so that the particle crosses the axis at the origin.

A derivative inside a derivative: the descent takes the derivative of the miss, whose every Euler
step takes the gradient of the potential. The four functions pick forward (``f``, srcad.jvp) or
reverse (``r``, srcad.grad) mode for the descent's derivative, then for the forces."""

import math

import numpy as np

import srcad

from .solver import argmin


def potential(x0, x1, w):
    """The potential of the two fixed charges at (x0, x1)."""
    return 1.0 / math.sqrt((x0 - 10.0) ** 2 + (x1 - (10.0 - w)) ** 2) + 1.0 / math.sqrt((x0 - 10.0) ** 2 + x1 ** 2)


@srcad.differentiable
def miss_with_reverse_forces(w):
    """x(t_f)^2 where the particle meets the axis, its forces by reverse mode."""
    x0, x1, v0, v1 = 0.0, 8.0, 0.75, 0.0
    going = True
    while going:
        g0, g1 = srcad.grad(potential, wrt=(0, 1))(x0, x1, w)
        n0 = x0 + 0.1 * v0
        n1 = x1 + 0.1 * v1
        if n1 > 0.0:
            x0, x1 = n0, n1
            v0, v1 = v0 - 0.1 * g0, v1 - 0.1 * g1
        else:
            going = False
    t_f = -x1 / v1
    return (x0 + t_f * v0) ** 2


@srcad.differentiable
def miss_with_forward_forces(w):
    """The same, its forces by forward mode: one directional derivative per coordinate."""
    x0, x1, v0, v1 = 0.0, 8.0, 0.75, 0.0
    going = True
    while going:
        _, g0 = srcad.jvp(potential, (x0, x1, w), (1.0, 0.0, 0.0))
        _, g1 = srcad.jvp(potential, (x0, x1, w), (0.0, 1.0, 0.0))
        n0 = x0 + 0.1 * v0
        n1 = x1 + 0.1 * v1
        if n1 > 0.0:
            x0, x1 = n0, n1
            v0, v1 = v0 - 0.1 * g0, v1 - 0.1 * g1
        else:
            going = False
    t_f = -x1 / v1
    return (x0 + t_f * v0) ** 2


def _reverse(miss):
    gradient = srcad.grad(miss)
    return lambda w: np.array([gradient(float(w[0]))])


def _forward(miss):
    return lambda w: np.array([srcad.jvp(miss, (float(w[0]),), (1.0,))[1]])


def _particle(miss, derivative):
    def found(w0):
        value = lambda w: miss(float(w[0]))  # noqa: E731
        return float(argmin(value, derivative(miss), np.array([w0]))[0])

    return found


def prepare(input):
    return (float(input["w"]),)


FUNCTIONS = {
    "ff": (_particle(miss_with_forward_forces, _forward), float),
    "fr": (_particle(miss_with_reverse_forces, _forward), float),
    "rf": (_particle(miss_with_forward_forces, _reverse), float),
    "rr": (_particle(miss_with_reverse_forces, _reverse), float),
}


def compile():
    for function, _ in FUNCTIONS.values():
        function(0.0)
