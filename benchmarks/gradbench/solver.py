"""The gradient descent GradBench's ``particle`` and ``saddle`` evals specify (Pearlmutter and Siskind's):
from a step of 1e-5, doubled after 10 steps that lowered the value and halved after one that did not,
until the gradient's or the step's length is at most 1e-5. Run in Python: what it calls is srcad's."""

import numpy as np


def argmin(value, gradient, x):
    """The point the descent on ``value`` (a function of a float array) reaches from ``x``;
    ``gradient(x)`` gives its gradient there."""
    fx, gx = value(x), gradient(x)
    eta, count = 1e-5, 0
    while np.sqrt(np.sum(gx * gx)) > 1e-5:
        if count == 10:
            eta, count = 2.0 * eta, 0
            continue
        moved = x - eta * gx
        if np.sqrt(np.sum((x - moved) ** 2)) <= 1e-5:
            break
        f_moved = value(moved)
        if f_moved < fx:
            x, fx, gx, count = moved, f_moved, gradient(moved), count + 1
        else:
            eta, count = eta / 2.0, 0
    return x
