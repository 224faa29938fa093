"""Reverse mode at run time: ``grad``'s ``Gradient``, ``value_and_grad`` and ``vjp`` call the adjoint
srcad generated for the argument types (or the user's ``@srcad.derivative`` rule)."""

import numpy

from srcad import custom
from srcad.argument_types import argument_type, equal_extents, fast_type_key
from srcad.calls import FlatCall, checked_like, differentiable_value
from srcad.decorated import _primal
from srcad.introspect import derivative_maker, named_after, unwrap
from srcad.memory_use import gradient_with_progress
from srcad.specialize import specializer_of
from srcad.structure import cotangent_leaves, leaves_of, structure_of


def _normalize_wrt(wrt):
    return (wrt,) if not isinstance(wrt, tuple) else wrt


def _run_adjoint(function, wrt, args, kwargs=None, with_value=True, protect=False):
    """``(f(*args), *gradients)`` of a float-valued f, one gradient per position in ``wrt`` (the value
    0.0 unless ``with_value``: computing only the gradient may take less work). With ``protect``,
    arrays f writes in place are copied first, so the caller's stay as they are."""
    specializer = specializer_of(function)
    args = specializer.bind(args, kwargs)
    extents = equal_extents(args)  # (code made for the extents equal here serves calls where they are again)
    fast_key = (with_value, wrt, fast_type_key(args), extents)  # calls after the first skip the checks
    adjoint = specializer.fast_calls.get(fast_key) if fast_key[2] is not None else None
    if adjoint is not None:
        if adjoint.written_parameters:
            args = _protected(args, adjoint.written_parameters) if protect else args
            specializer.check_aliasing(args, adjoint.written_parameters)
        return adjoint(*args, 1.0)
    call = FlatCall(specializer, args)
    wrt = specializer.check_wrt(wrt)
    if call.structures is not None:  # tuple arguments: differentiated leaf by leaf
        flat_wrt = call.wrt_leaves(wrt)
        signature, flat_wrt = call.signature(flat_wrt)
        adjoint = specializer.adjoint(flat_wrt, signature, call.structures, with_value=with_value,
                                      extents=equal_extents(call.leaves))
        call.check_aliasing(adjoint.written_parameters)
        value, *adjoints = adjoint(*call.leaves, 1.0)
        return (value, *call.grouped(wrt, flat_wrt, adjoints))
    signature, wrt = specializer.check_call(args, wrt)
    seed = 1.0
    registered = custom.rules_for(function)
    if registered and "reverse" in registered:  # the user's rule wins over transforming f
        key = custom.key_of(specializer.function)
        value = custom.compiled(key, "primal")(*args)
        cotangents = custom.compiled(key, "reverse")(*args, float(seed))
        if not isinstance(cotangents, tuple) or len(cotangents) != len(args):
            raise TypeError(
                f"the reverse rule {registered['reverse'].__qualname__!r} for {specializer.name!r} must return a "
                f"tuple of {len(args)} cotangents (one per argument), got {cotangents!r}"
            )
        return (value, *[cotangents[k] for k in wrt])
    adjoint = specializer.adjoint(wrt, signature, with_value=with_value, extents=extents)
    args = _protected(args, adjoint.written_parameters) if protect else args
    specializer.check_aliasing(args, adjoint.written_parameters)
    if fast_key[2] is not None:
        specializer.fast_calls[fast_key] = adjoint
    return adjoint(*args, float(seed))


def _protected(args, written_parameters):
    """``args`` with the arrays at ``written_parameters`` copied."""
    return [_copied(a) if k in written_parameters else a for k, a in enumerate(args)]


@derivative_maker
def value_and_grad(function, wrt=0):
    """A function returning ``(f(*args), gradient)``; the gradient as in ``grad``.

    >>> import math
    >>> def f(x, y):
    ...     return math.sin(x) * y
    >>> value_and_grad(f, wrt=1)(0.5, 2.0)  # doctest: +ELLIPSIS
    (0.958..., 0.479...)
    """
    wrt_tuple = _normalize_wrt(wrt)
    specializer_of(function).validate()

    @named_after(unwrap(function), "value_and_grad")
    def value_and_gradient(*args, **kwargs):
        value, *gradients = _run_adjoint(function, wrt_tuple, args, kwargs)
        return value, (tuple(gradients) if isinstance(wrt, tuple) else gradients[0])

    value_and_gradient.srcad_nested = ("value_and_grad", function, wrt)  # called inside differentiated code

    return value_and_gradient


class Gradient:
    """What ``grad(f, wrt)`` returns: callable like f, giving the gradient. srcad differentiates
    it again: ``jvp(grad(f), ...)`` (Hessian-vector products), ``grad(grad(f))``."""

    def __init__(self, function, wrt, progress=False):
        self.function = function
        self.wrt = wrt
        self._wrt = _normalize_wrt(wrt)
        # a progress bar over the time loops' iterations (not for a function the user gave a rule)
        self.progress = progress and not (custom.rules_for(function) or {}).get("reverse")
        specializer_of(function).validate()
        self.__name__ = self.srcad_derived = f"grad({getattr(unwrap(function), '__name__', 'f')})"
        self.srcad_nested = ("grad", function, wrt)  # called inside differentiated code
        self.__doc__ = f"The gradient of {unwrap(function).__qualname__} with respect to argument(s) {wrt}."

    def __call__(self, *args, **kwargs):
        if self.progress:
            gradients = gradient_with_progress(self.function, self._wrt, args, kwargs)
        else:
            _, *gradients = _run_adjoint(self.function, self._wrt, args, kwargs, with_value=False)
        return tuple(gradients) if isinstance(self.wrt, tuple) else gradients[0]

    def __repr__(self):
        return f"<srcad {self.__name__}, wrt={self.wrt}>"


@derivative_maker
def vjp(function, *args):
    """``(y, pullback)`` with ``pullback(ybar)`` giving one cotangent per argument.

    ``f`` may return a float, a float array, or a tuple (or NamedTuple) of them; ``ybar`` has
    the same structure, shapes and dtypes. Float arguments (and float arrays, and the float
    parts of tuple arguments) get ``ybar`` times the derivative; integer and boolean arguments
    get None. The pullback reruns the function from the arguments as they were on entry, so
    in-place writes do not pile up, and may be called many times.

    >>> def f(x, n):
    ...     return x ** n, 2.0 * x
    >>> y, pullback = vjp(f, 2.0, 3)
    >>> y, pullback((1.0, 0.0))
    ((8.0, 4.0), (12.0, None))
    """
    specializer = specializer_of(function)
    specializer.validate()
    args = specializer.bind(args, None)
    call = FlatCall(specializer, args)
    positions = tuple(k for k in range(len(args)) if any(differentiable_value(call.leaves[j]) for j in call.leaf_positions(k)))
    flat_wrt = tuple(k for k, leaf in enumerate(call.leaves) if differentiable_value(leaf))
    signature, flat_wrt = call.signature(flat_wrt)
    entry = [_copied(leaf) for leaf in call.leaves]  # the pullback reruns the function from the arguments on entry
    value = _primal(function)(*[_copied_tree(a) for a in args])
    output = structure_of(value)
    outputs = leaves_of(value)
    seed_types = tuple(_seed_type(leaf) for leaf in outputs)
    adjoint = specializer.adjoint(flat_wrt, signature, call.structures, seed_types, with_value=False,
                                  extents=equal_extents(call.leaves))
    call.check_aliasing(adjoint.written_parameters)

    def pullback(cotangent):
        seeds = [_seed(leaf, given, k, len(outputs)) for k, (leaf, given) in enumerate(
            zip(outputs, cotangent_leaves(output, cotangent, f"the output of {specializer.name}")))]
        _, *adjoints = adjoint(*[_copied(leaf) for leaf in entry], *seeds)
        gradients = call.grouped(positions, flat_wrt, adjoints)
        by_position = dict(zip(positions, gradients))
        return tuple(by_position.get(k) for k in range(len(args)))

    return value, pullback


def _seed_type(output):
    if isinstance(output, numpy.ndarray):
        return argument_type(numpy.ascontiguousarray(output))
    return argument_type(output if isinstance(output, (bool, int)) else float(output))


def _seed(output, given, index, count):
    """The cotangent of one output as the adjoint takes it: a float, a contiguous array of the
    output's shape and dtype, or 0 for an integer output."""
    if isinstance(output, numpy.ndarray) and output.dtype.kind != "f":
        return numpy.zeros(output.shape, output.dtype)
    if isinstance(output, (bool, int, numpy.integer, numpy.bool_)):
        return type(output)(0) if isinstance(output, (bool, int)) else 0
    where = "the cotangent" + (f" of output part {index}" if count > 1 else "")
    return checked_like(output, given, where, "the output")


def _copied(value):
    return value.copy() if isinstance(value, numpy.ndarray) else value


def _copied_tree(value):
    if isinstance(value, tuple):
        parts = [_copied_tree(part) for part in value]
        return type(value)(*parts) if hasattr(type(value), "_fields") else tuple(parts)
    return _copied(value)
