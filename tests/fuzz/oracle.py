"""Finite-difference oracle for the fuzz tests: Richardson-extrapolated central differences.

Runs only the plain Python function (never anything srcad generated). For
each float argument, central differences D(h) at several steps are combined as
R(h) = (4 D(h/2) - D(h)) / 3 (error O(h^4)); the pair of consecutive R that
agree best gives the estimate and an error bound. A function whose estimates
do not settle (a branch switch between the sample points, or derivatives too
wild for h ~ 1e-3) is reported as unreliable rather than given a wrong answer.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence, Tuple

STEPS = (4e-3, 2e-3, 1e-3, 5e-4, 2.5e-4)


class Unreliable(Exception):
    """Finite differences cannot be trusted at this point."""


def _value(f: Callable, args: Sequence, index: int, x: float) -> float:
    shifted = list(args)
    shifted[index] = x
    try:
        v = f(*shifted)
    except (ArithmeticError, ValueError) as error:
        raise Unreliable(f"plain function raised {error!r} at {tuple(shifted)}") from error
    v = float(v)
    if not math.isfinite(v):
        raise Unreliable(f"plain function not finite at {tuple(shifted)}")
    return v


def _central(f, args, index, h) -> float:
    x = args[index]
    step = (x + h) - x  # exactly representable step
    return (_value(f, args, index, x + step) - _value(f, args, index, x - step)) / (2.0 * step)


def richardson(f: Callable, args: Sequence, index: int) -> Tuple[float, float]:
    """(derivative estimate, error estimate) of d f / d args[index]; an infinite error at a kink
    (``x * (x % 2.5)`` at 0), where central differences settle on the mean of the two slopes."""
    scale = max(1.0, abs(args[index]))
    d = [_central(f, args, index, h * scale) for h in STEPS]
    r = [(4.0 * d[k + 1] - d[k]) / 3.0 for k in range(len(d) - 1)]
    best = None
    for k in range(len(r) - 1):
        err = abs(r[k + 1] - r[k])
        if best is None or err < best[1]:
            best = (r[k + 1], err)
    if _kinked(f, args, index, STEPS[-1] * scale, best[0]):
        return best[0], math.inf
    return best


def _kinked(f, args, index, h, estimate):
    """Whether the forward and backward differences disagree by an amount that does not shrink with
    the step (a smooth function's differ by about h f'', halving with h)."""
    x = args[index]
    middle = _value(f, args, index, x)

    def one_sided_gap(step):
        step = (x + step) - x
        forward = (_value(f, args, index, x + step) - middle) / step
        backward = (middle - _value(f, args, index, x - step)) / step
        return abs(forward - backward)

    coarse, fine = one_sided_gap(h), one_sided_gap(h / 2.0)
    return fine > 1e-6 * max(1.0, abs(estimate)) and fine > 0.75 * coarse


def gradient(f: Callable, args: Sequence, wrt: Sequence[int], max_relative_error: float = 1e-7):
    """Tuple of (estimate, error) per position in wrt; Unreliable if any does not settle."""
    out = []
    for index in wrt:
        estimate, err = richardson(f, args, index)
        if err > max_relative_error * max(1.0, abs(estimate)):
            raise Unreliable(f"finite differences for argument {index} do not settle: {estimate} +- {err}")
        out.append((estimate, err))
    return tuple(out)


def directional(f: Callable, args: Sequence, direction: Sequence, max_relative_error: float = 1e-7):
    """(estimate, error) of the derivative of f at args along direction, for checking jvp.

    `direction` has one entry per argument: a float (or an array of the argument's shape), or
    None for an argument held fixed. f is differentiated as the function of one variable
    t -> f(args + t * direction) at t = 0 (Richardson, as above: the steps are STEPS times the
    direction's entries). Unreliable if the estimates do not settle.
    """

    def along(t):
        return f(*[a if d is None else a + t * d for a, d in zip(args, direction)])

    estimate, err = richardson(along, (0.0,), 0)
    if err > max_relative_error * max(1.0, abs(estimate)):
        raise Unreliable(f"finite differences along the direction do not settle: {estimate} +- {err}")
    return estimate, err


def second_directional(f: Callable, args: Sequence, direction: Sequence, max_relative_error: float = 1e-5):
    """(estimate, error) of d^2/dt^2 f(args + t * direction) at t = 0: v . H v, for checking
    Hessian-vector products. Second differences (g(h) - 2 g(0) + g(-h)) / h^2 at three steps, two
    Richardson estimates; Unreliable where they disagree (a kink or a branch within the steps)."""

    def along(t):
        return f(*[a if d is None else a + t * d for a, d in zip(args, direction)])

    middle = along(0.0)
    seconds = [(along(h) - 2.0 * middle + along(-h)) / (h * h) for h in (1e-2, 5e-3, 2.5e-3)]
    coarse, fine = (4.0 * seconds[1] - seconds[0]) / 3.0, (4.0 * seconds[2] - seconds[1]) / 3.0
    err = abs(fine - coarse)
    if not err <= max_relative_error * max(1.0, abs(fine), abs(middle)):
        raise Unreliable(f"second differences along the direction do not settle: {fine} +- {err}")
    return fine, err


def directional_tolerance(estimate: float, err: float, direction: Sequence) -> float:
    """Allowed |tangent - estimate|: what `gradient`'s checks allow per argument (1e-6 max(1, |fd|)),
    summed along the direction (scaled by its 1-norm), plus ten times the estimate's error."""
    size = sum(0.0 if d is None else float(abs(d).sum() if hasattr(d, "sum") else abs(d)) for d in direction)
    return 1e-6 * max(size, abs(estimate), 1e-3) + 10.0 * err
