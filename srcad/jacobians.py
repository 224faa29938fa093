"""Jacobians: ``srcad.jacobian(f)``, row by row in reverse mode or column by column in forward
mode, whichever takes fewer passes; ``jacobian(grad(f))`` is f's Hessian."""

import numpy

from srcad.gradients import Gradient, _copied, vjp
from srcad.introspect import derivative_maker, named_after, unwrap
from srcad.specialize import specializer_of
from srcad.structure import leaves_of, rebuilt, structure_of
from srcad.tangents import _basis, checked_arguments, hessian, jvp


@derivative_maker
def jacobian(function, wrt=0):
    """The Jacobian of ``function`` with respect to argument ``wrt``, of shape ``output.shape +
    x.shape``: row by row in reverse mode (one vjp per output element) when the outputs have fewer
    elements than the arguments differentiated, else column by column in forward mode (one jvp per
    element of those arguments). With ``wrt`` a tuple of positions, a tuple of Jacobians, one per
    position; with a tuple (or NamedTuple) output, the same structure holding each part's Jacobian.

    >>> def f(x):
    ...     return x * x[0]
    >>> jacobian(f)(numpy.array([2.0, 3.0])).tolist()
    [[4.0, 0.0], [3.0, 2.0]]

    ``jacobian(grad(f))`` is f's Hessian (JAX's ``jacfwd(grad(f))``), computed as ``hessian`` does.
    """
    if isinstance(function, Gradient):
        return _jacobian_of_gradient(function, wrt)

    @named_after(unwrap(function), "jacobian")
    def jacobian_at(*args):
        args, positions = checked_arguments(function, args, wrt, "Jacobians")
        value, pullback = vjp(function, *[_copied(a) for a in args])
        structure, outputs = structure_of(value), leaves_of(value)
        if not all(isinstance(o, (float, numpy.ndarray)) for o in outputs):
            raise TypeError("srcad.jacobian needs float or float-array outputs (or tuples of them)")
        inputs = [args[k] for k in positions]
        blocks = [[None] * len(positions) for _ in outputs]  # output part -> argument -> Jacobian
        if sum(numpy.size(o) for o in outputs) < sum(numpy.size(x) for x in inputs):
            for i, output in enumerate(outputs):  # reverse mode: one row per output element
                rows = [[] for _ in positions]
                for unit in _unit_vectors(output):
                    cotangent = [numpy.zeros_like(o) if isinstance(o, numpy.ndarray) else 0.0 for o in outputs]
                    cotangent[i] = unit
                    cotangents = pullback(rebuilt(structure, cotangent))
                    for j, k in enumerate(positions):
                        rows[j].append(numpy.asarray(cotangents[k]))
                for j, x in enumerate(inputs):
                    blocks[i][j] = numpy.stack(rows[j]).reshape(numpy.shape(output) + numpy.shape(x))
        else:
            for j, k in enumerate(positions):  # forward mode: one column per element of the argument
                columns = [[] for _ in outputs]
                for direction in _basis(args, k):
                    tangents = leaves_of(jvp(function, [_copied(a) for a in args], direction)[1])
                    for i, tangent in enumerate(tangents):
                        columns[i].append(numpy.asarray(tangent))
                for i, output in enumerate(outputs):
                    blocks[i][j] = numpy.stack(columns[i], axis=-1).reshape(numpy.shape(output) + numpy.shape(args[k]))
        blocks = [[b if b.ndim else float(b) for b in row] for row in blocks]
        parts = [tuple(row) if isinstance(wrt, tuple) else row[0] for row in blocks]
        return rebuilt(structure, parts)

    return jacobian_at


def _jacobian_of_gradient(gradient, wrt):
    """d/dx_j of df/dx_i for the i of the gradient and the j of ``wrt``: blocks of f's Hessian."""
    inner = gradient.wrt if isinstance(gradient.wrt, tuple) else (gradient.wrt,)
    outer = wrt if isinstance(wrt, tuple) else (wrt,)

    @named_after(unwrap(gradient.function), "jacobian(grad({}))")
    def jacobian_of_gradient_at(*args):
        specializer = specializer_of(gradient.function)
        args = specializer.bind(args, None)
        rows, columns = specializer.check_wrt(inner), specializer.check_wrt(outer)
        positions = tuple(dict.fromkeys(rows + columns))
        blocks = hessian(gradient.function, wrt=positions)(*args)
        picked = [tuple(blocks[positions.index(i)][positions.index(j)] for j in columns) for i in rows]
        picked = [row if isinstance(wrt, tuple) else row[0] for row in picked]
        return tuple(picked) if isinstance(gradient.wrt, tuple) else picked[0]

    return jacobian_of_gradient_at


def _unit_vectors(value):
    """Cotangents of ``value``'s shape, zero but for one element (or 1.0 for a float)."""
    if not isinstance(value, numpy.ndarray):
        yield 1.0
        return
    for k in range(value.size):
        unit = numpy.zeros_like(value)
        unit.flat[k] = 1.0
        yield unit
