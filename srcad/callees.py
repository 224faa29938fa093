"""Calls to a large helper through the helper's own derivatives, instead of inlining its body.

srcad inlines the helpers a differentiable function calls (``transforms/frontend/inline.py``). A large
helper, or one decorated with ``@srcad.differentiable(inline=False)``, is instead called the
way a function with a ``@srcad.derivative`` rule is: the caller's code calls the helper's
compiled primal, its reverse sweep calls the helper's generated adjoint (which runs the
helper's forward sweep again: the caller keeps none of the helper's intermediate values), and
its tangent calls the helper's generated tangent. Those are generated and compiled once per
argument types and shared by every call site and every caller, so the caller's generated code
and its compile time stay small.

The three entry points are stubs numba compiles through ``numba.extending.overload``: at each
new argument types, the overload asks srcad for the helper's normalized primal, adjoint or
tangent specialized to those types.
"""

import re
import threading

import numpy

from numba import typeof
from numba.core import types
from numba.extending import overload

from srcad import nested_calls
from srcad.argument_types import carries_derivatives
from srcad.cache_keys import callee_of, split_key
from srcad.compiled import keep_typing_error
from srcad.errors import DifferentiabilityError
from srcad.specialize import specializer_of

_stubs = {}
_lock = threading.RLock()
_local = threading.local()  # .building: the (key, what, types) being generated


def stub(key, what, arity):
    """The function generated code calls: ``what`` is "primal" (``f(*args)``), "reverse"
    (``f_vjp(*args, y_adj)``, a tuple of one cotangent per argument, 0.0 for those that are not
    floats) or "forward" (``f_jvp(*args, *tangents)``, the output's tangent)."""
    with _lock:
        if (key, what, arity) not in _stubs:
            _stubs[key, what, arity] = _make_stub(key, what, arity)
        return _stubs[key, what, arity]


def _make_stub(key, what, arity):
    arguments = [f"a{k}" for k in range(arity)]
    extra = {"primal": [], "reverse": ["y_adj"], "forward": [f"t{k}" for k in range(arity)]}[what]
    parameters = ", ".join(arguments + extra)
    values = f"({parameters},)" if parameters else "()"
    kind, callee = split_key(key)
    name = re.sub(r"\W", "_", f"{kind + '_' if kind else ''}{callee.split(':')[1]}_{what}")
    namespace = {"_in_python": _in_python, "_typed": _typed, "key": key, "what": what}
    exec(
        f"def {name}({parameters}):\n"  # run as Python (NUMBA_DISABLE_JIT=1): the same code, uncompiled
        f"    return _in_python(key, what, {values})\n"
        f"def typer({parameters}):\n"
        f"    return _typed(key, what, {values})\n",
        namespace,
    )
    overload(namespace[name])(namespace["typer"])
    return namespace[name]


def _in_python(key, what, values):
    argument_types = tuple(typeof(v) for v in values)
    implementation = _in_python_cache.get((key, what, argument_types))
    if implementation is None:
        implementation = _in_python_cache[key, what, argument_types] = _implementation(key, what, argument_types)
    return implementation(*values)


_in_python_cache = {}


def _typed(key, what, argument_types):
    """numba's typing of a call of the stub: the Python function to compile for these types, or None
    (with the reason kept for ``srcad.compiled.take_typing_error``)."""
    try:
        return _implementation(key, what, argument_types)
    except DifferentiabilityError as error:
        keep_typing_error(error)
        return None


def _implementation(key, what, argument_types):
    """A Python function running the stub's work for arguments of ``argument_types``: it calls the
    helper's compiled normal form, adjoint or tangent (plain Python where numba's JIT is disabled)."""
    argument_types = tuple(types.unliteral(t) for t in argument_types)
    arity = len(argument_types) if what == "primal" else (
        len(argument_types) - 1 if what == "reverse" else len(argument_types) // 2)
    signature = argument_types[:arity]
    building = getattr(_local, "building", None)
    if building is None:
        building = _local.building = set()
    kind, callee = split_key(key)
    function = callee_of(callee)
    if (key, what, signature) in building:
        raise _recursion(function)
    building.add((key, what, signature))
    try:
        if kind is not None:  # a derivative of the helper (srcad.grad(g)(...) inside differentiated code)
            return nested_calls.implementation(kind, function, what, signature, _forwarding, argument_types)
        specializer = specializer_of(function)
        wrt = tuple(k for k, t in enumerate(signature) if carries_derivatives(t))
        if what == "primal":
            return _forwarding(specializer.normalized_primal(), arity, "")
        if what == "reverse":
            module = specializer._stage_module("gradient", wrt, signature)
            slots = {position: f"r[{1 + index}]" for index, position in enumerate(wrt)}
            cotangents = ", ".join(slots.get(k, "0.0") for k in range(arity))
            return _forwarding(module.dispatcher, arity, "y_adj", f"({cotangents},)")
        module = specializer._stage_module("tangent", wrt, signature)
        tangents = ", ".join(f"t{k}" for k in wrt)
        return _forwarding(module.dispatcher, arity, ", ".join(f"t{k}" for k in range(arity)), "r[1]", tangents)
    finally:
        building.discard((key, what, signature))


def _recursion(function):
    code = function.__code__
    return DifferentiabilityError(
        f"srcad cannot differentiate {function.__qualname__!r}: through the helpers it calls, it calls itself",
        filename=code.co_filename, lineno=code.co_firstlineno, col=1, fix="Rewrite the recursion as a loop.",
    )


def _forwarding(compiled, arity, extra, result="r", passed_extra=None, arguments_passed=True):
    """``def f(a0, ..., *extra): r = compiled(a0, ..., *passed_extra); return result`` (without
    ``arguments_passed``: ``compiled(*passed_extra)``)."""
    arguments = ", ".join(f"a{k}" for k in range(arity))
    parameters = ", ".join(p for p in (arguments, extra) if p)
    passed = ", ".join(p for p in (arguments if arguments_passed else "", extra if passed_extra is None else passed_extra) if p)
    namespace = {"compiled": compiled, "np": numpy}  # (np: zeros for a tangent known to be zero)
    exec(f"def forwarded({parameters}):\n    r = compiled({passed})\n    return {result}\n", namespace)
    return namespace["forwarded"]
