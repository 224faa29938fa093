"""``srcad.check_grad``: srcad's gradient next to central differences of the plain function."""

import numpy

from srcad.api import _normalize_wrt, grad
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


def check_grad(function, *args, wrt=None, step=1e-6, tolerance=1e-5):
    """Compare srcad's gradient with central differences of the plain Python function.

    Arrays are differentiated element by element (each evaluation gets fresh
    copies of the arguments, since a function may write them in place), so
    keep them small.

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
    if not all(numpy.all(numpy.isfinite(d)) for d in differences):
        raise ValueError("the function is not finite around the point given")
    return GradCheck(list(gradients), differences, tolerance)


def _is_float_array(value):
    return isinstance(value, numpy.ndarray) and numpy.issubdtype(value.dtype, numpy.floating)


def _copies(args):
    return [a.copy() if isinstance(a, numpy.ndarray) else a for a in args]
