"""``srcad.check_grad``: srcad's gradient next to central differences of the plain function."""

import numpy

from srcad.api import _normalize_wrt, grad
from srcad.decorated import _primal
from srcad.introspect import unwrap


class GradCheck:
    """The result of ``check_grad``: srcad's gradients, central differences, worst error.

    One gradient and one difference per differentiated argument: a float, or an
    array of the argument's shape."""

    def __init__(self, gradients, differences, tolerance):
        self.gradients = gradients
        self.differences = differences
        errors = [
            float(numpy.max(numpy.abs(numpy.subtract(g, d)) / numpy.maximum(1.0, numpy.abs(d)), initial=0.0))
            for g, d in zip(gradients, differences)
        ]
        self.worst_error = max(errors, default=0.0)
        self.ok = self.worst_error <= tolerance

    def __bool__(self):
        return self.ok

    def __repr__(self):
        status = "ok" if self.ok else "MISMATCH"
        return (
            f"GradCheck({status}: worst relative error {self.worst_error:.2e}; "
            f"srcad {self.gradients}, central differences {self.differences})"
        )


def check_grad(function, *args, wrt=None, step=1e-6, tolerance=1e-5, directions=None, seed=0):
    """Compare srcad's gradient with central differences of the function.

    By default arrays are differentiated element by element, in plain Python (each evaluation
    gets fresh copies of the arguments, since a function may write them in place), so keep them
    small. With ``directions=k``, the gradient is checked along k random directions instead
    (together over every argument in ``wrt``, unit length, drawn with ``seed``): the
    derivative along each, srcad's (the gradient's dot product with it) next to a central
    difference of the function compiled by numba, two calls per direction. That answers in
    seconds for a long simulation with many parameters; ``.gradients`` and ``.differences`` then
    hold one directional derivative per direction, ``.directions`` the directions.

    >>> import math
    >>> def f(x):
    ...     return math.exp(x) * x
    >>> check_grad(f, 0.3).ok
    True
    """
    python_function = unwrap(function)
    if wrt is None:
        wrt = tuple(i for i, a in enumerate(args) if isinstance(a, float) or _is_float_array(a))
    wrt = _normalize_wrt(wrt)
    gradients = grad(function, wrt=wrt)(*_copies(args))
    if not isinstance(gradients, tuple):
        gradients = (gradients,)
    if directions is not None:
        return _along_directions(_primal(function), args, wrt, gradients, directions, seed, step, tolerance)

    def moved(index, element, offset):
        values = _copies(args)
        if element is None:
            values[index] = values[index] + offset
        else:
            values[index][element] += offset
        return python_function(*values)

    differences = []
    for index in wrt:
        value = args[index]
        elements = list(numpy.ndindex(value.shape)) if isinstance(value, numpy.ndarray) else [None]
        slopes = []
        for element in elements:
            h = step * max(1.0, abs(float(value if element is None else value[element])))
            slopes.append((moved(index, element, h) - moved(index, element, -h)) / (2 * h))
        differences.append(numpy.array(slopes).reshape(value.shape) if element is not None else slopes[0])
    _check_finite(differences)
    return GradCheck(list(gradients), differences, tolerance)


def _along_directions(compiled, args, wrt, gradients, count, seed, step, tolerance):
    """``check_grad``'s result along ``count`` random unit directions over the arguments in ``wrt``."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"check_grad(directions=...) takes a number of directions from 1 up, got {count!r}")
    rng = numpy.random.default_rng(seed)
    scale = max([1.0] + [float(numpy.max(numpy.abs(args[k]), initial=0.0)) for k in wrt])
    h = step * scale
    drawn, along, differences = [], [], []
    for _ in range(count):
        direction = [rng.standard_normal(numpy.shape(args[k])) for k in wrt]
        length = numpy.sqrt(sum(float(numpy.sum(d * d)) for d in direction))
        direction = [d / length if numpy.ndim(args[k]) else float(d) / length for k, d in zip(wrt, direction)]
        drawn.append(tuple(direction))
        along.append(sum(float(numpy.sum(numpy.asarray(g) * d)) for g, d in zip(gradients, direction)))

        def moved(sign, direction=direction):
            values = _copies(args)
            for k, d in zip(wrt, direction):
                values[k] = values[k] + sign * h * d
            return compiled(*values)

        differences.append((moved(1.0) - moved(-1.0)) / (2 * h))
    _check_finite(differences)
    result = GradCheck([numpy.array(along)], [numpy.array(differences)], tolerance)
    result.directions = drawn
    return result


def _check_finite(differences):
    if not all(numpy.all(numpy.isfinite(d)) for d in differences):
        raise ValueError("the function is not finite around the point given")


def _is_float_array(value):
    return isinstance(value, numpy.ndarray) and numpy.issubdtype(value.dtype, numpy.floating)


def _copies(args):
    return [a.copy() if isinstance(a, numpy.ndarray) else a for a in args]
