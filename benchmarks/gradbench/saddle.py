"""GradBench's ``saddle`` eval (Pearlmutter and Siskind): the saddle point of f(x, y) = (x1^2 + y1^2) -
(x2^2 + y2^2) as min over p1 of max over p2 of f(p1, p2), each by the descent of ``solver.py`` from
the given start; then the max over p2 at the p1 found.

A derivative inside a derivative: the outer descent takes the derivative of the inner maximum, a
function that runs the inner descent (a while loop taking f's gradient at each step). The four
functions pick forward (``f``, srcad.jvp along each coordinate) or reverse (``r``, srcad.grad)
mode for the outer derivative, then for the inner one."""

import numpy as np

import srcad

from .solver import argmin


def objective(p1, p2):
    return (p1[0] * p1[0] + p1[1] * p1[1]) - (p2[0] * p2[0] + p2[1] * p2[1])


def lowered(p1, p2):
    """The inner descent maximizes f by minimizing -f."""
    return -objective(p1, p2)


@srcad.differentiable
def inner_max_by_reverse(p1, start):
    """max over p2 of f(p1, p2), the descent's gradients by reverse mode."""
    x = start.copy()
    fx = lowered(p1, x)
    gx = srcad.grad(lowered, wrt=1)(p1, x)
    eta = 1e-5
    count = 0
    going = True
    while going:
        if np.sqrt(np.sum(gx * gx)) <= 1e-5:
            going = False
        elif count == 10:
            eta = 2.0 * eta
            count = 0
        else:
            moved = x - eta * gx
            if np.sqrt(np.sum((x - moved) ** 2)) <= 1e-5:
                going = False
            else:
                f_moved = lowered(p1, moved)
                if f_moved < fx:
                    x = moved
                    fx = f_moved
                    gx = srcad.grad(lowered, wrt=1)(p1, moved)
                    count += 1
                else:
                    eta = eta / 2.0
                    count = 0
    return objective(p1, x)


@srcad.differentiable
def inner_max_by_forward(p1, start):
    """The same, each gradient by forward mode: one directional derivative per coordinate."""
    x = start.copy()
    fx = lowered(p1, x)
    zero, e0, e1 = np.zeros(2), np.array([1.0, 0.0]), np.array([0.0, 1.0])
    _, g0 = srcad.jvp(lowered, (p1, x), (zero, e0))
    _, g1 = srcad.jvp(lowered, (p1, x), (zero, e1))
    eta = 1e-5
    count = 0
    going = True
    while going:
        if np.sqrt(g0 * g0 + g1 * g1) <= 1e-5:
            going = False
        elif count == 10:
            eta = 2.0 * eta
            count = 0
        else:
            moved = x.copy()
            moved[0] = x[0] - eta * g0
            moved[1] = x[1] - eta * g1
            if np.sqrt(np.sum((x - moved) ** 2)) <= 1e-5:
                going = False
            else:
                f_moved = lowered(p1, moved)
                if f_moved < fx:
                    x = moved
                    fx = f_moved
                    _, g0 = srcad.jvp(lowered, (p1, moved), (zero, e0))
                    _, g1 = srcad.jvp(lowered, (p1, moved), (zero, e1))
                    count += 1
                else:
                    eta = eta / 2.0
                    count = 0
    return objective(p1, x)


def _reverse(function, wrt):
    gradient = srcad.grad(function, wrt=wrt)
    return lambda *args: gradient(*args)


def _forward(function, wrt):
    def gradient(*args):
        along = [np.zeros_like(a) if isinstance(a, np.ndarray) else None for a in args]
        parts = []
        for unit in np.eye(args[wrt].shape[0]):
            along[wrt] = unit
            parts.append(srcad.jvp(function, args, tuple(along))[1])
        return np.array(parts)

    return gradient


def _saddle(outer, inner_max):
    outer_gradient = outer(inner_max, 0)
    lowered_gradient = outer(srcad.differentiable(lowered), 1)

    def point(start):
        p1 = argmin(lambda p: inner_max(p, start), lambda p: outer_gradient(p, start), start.copy())
        p2 = argmin(lambda p: lowered(p1, p), lambda p: lowered_gradient(p1, p), start.copy())
        return np.concatenate([p1, p2])

    return point


def prepare(input):
    return (np.array(input["start"], dtype=np.float64),)


FUNCTIONS = {
    "ff": (_saddle(_forward, inner_max_by_forward), lambda point: point.tolist()),
    "fr": (_saddle(_forward, inner_max_by_reverse), lambda point: point.tolist()),
    "rf": (_saddle(_reverse, inner_max_by_forward), lambda point: point.tolist()),
    "rr": (_saddle(_reverse, inner_max_by_reverse), lambda point: point.tolist()),
}


def compile():
    for function, _ in FUNCTIONS.values():
        function(np.array([1.0, 1.0]))
