"""Calls to a large helper through the helper's own derivatives, instead of inlining its body.

srcad inlines the helpers a differentiable function calls (``transforms/inline.py``). A large
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

import importlib
import threading

from numba.core import types
from numba.extending import overload

from srcad.introspect import unwrap

# A helper is called through its derivatives when its normal form has at least this many
# statements (or when it says so: @srcad.differentiable(inline=False)).
LARGE_HELPER_STATEMENTS = 40

_functions = {}  # key (see key_of) -> the plain function
_stubs = {}
_lock = threading.RLock()
_local = threading.local()  # .building: the (key, what, types) being generated; .error: for Compiled


def key_of(function):
    """The name generated modules find ``function`` by, in this process or the next: its module, its
    name, and a hash of its source and globals (a function defined again is another function)."""
    from srcad.specialize import specializer_of

    key = f"{function.__module__}:{function.__qualname__}:{specializer_of(function).source_key()[:16]}"
    _functions[key] = function
    return key


def can_be_found(function):
    """Whether a later process can find ``function`` by its name (not a function defined inside another)."""
    return "<locals>" not in function.__qualname__ and function.__module__ is not None


def function_of(key):
    function = _functions.get(key)
    if function is None:
        from srcad.specialize import specializer_of

        module, qualname, source_key = key.split(":")
        value = importlib.import_module(module)
        for part in qualname.split("."):
            value = getattr(value, part)
        function = unwrap(value)
        if not specializer_of(function).source_key().startswith(source_key):
            raise LookupError(f"{module}.{qualname} is not the function srcad generated code for: it changed since")
        _functions[key] = function
    return function


def stub(key, what, arity):
    """The function generated code calls: ``what`` is "primal" (``f(*args)``), "reverse"
    (``f_vjp(*args, y_adj)``, a tuple of one cotangent per argument, 0.0 for those that are not
    floats) or "forward" (``f_jvp(*args, *tangents)``, the output's tangent)."""
    with _lock:
        if (key, what, arity) not in _stubs:
            _stubs[key, what, arity] = _make_stub(key, what, arity)
        return _stubs[key, what, arity]


def take_error():
    """The DifferentiabilityError met while numba compiled a stub on this thread (numba reports
    only that typing failed), once."""
    error = getattr(_local, "error", None)
    _local.error = None
    return error


def _make_stub(key, what, arity):
    arguments = [f"a{k}" for k in range(arity)]
    extra = {"primal": [], "reverse": ["y_adj"], "forward": [f"t{k}" for k in range(arity)]}[what]
    parameters = ", ".join(arguments + extra)
    values = f"({parameters},)" if parameters else "()"
    name = f"{key.split(':')[1].replace('.', '_')}_{what}"
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
    from numba import typeof

    argument_types = tuple(typeof(v) for v in values)
    implementation = _in_python_cache.get((key, what, argument_types))
    if implementation is None:
        implementation = _in_python_cache[key, what, argument_types] = _implementation(key, what, argument_types)
    return implementation(*values)


_in_python_cache = {}


def _typed(key, what, argument_types):
    """numba's typing of a call of the stub: the Python function to compile for these types, or None
    (with the reason kept for ``take_error``)."""
    from srcad.errors import DifferentiabilityError

    try:
        return _implementation(key, what, argument_types)
    except DifferentiabilityError as error:
        _local.error = error
        return None


def _implementation(key, what, argument_types):
    """A Python function running the stub's work for arguments of ``argument_types``: it calls the
    helper's compiled normal form, adjoint or tangent (plain Python where numba's JIT is disabled)."""
    from srcad.specialize import specializer_of

    argument_types = tuple(types.unliteral(t) for t in argument_types)
    arity = len(argument_types) if what == "primal" else (
        len(argument_types) - 1 if what == "reverse" else len(argument_types) // 2)
    signature = argument_types[:arity]
    building = getattr(_local, "building", None)
    if building is None:
        building = _local.building = set()
    function = function_of(key)
    if (key, what, signature) in building:
        raise _recursion(function)
    building.add((key, what, signature))
    try:
        specializer = specializer_of(function)
        wrt = tuple(k for k, t in enumerate(signature) if _is_float(t))
        if what == "primal":
            return _forwarding(specializer.normalized_primal(), arity, "")
        if what == "reverse":
            module = specializer._stage_module("gradient", wrt, signature)
            slots = {position: f"r[{1 + index}]" for index, position in enumerate(wrt)}
            cotangents = ", ".join(slots.get(k, "0.0") for k in range(arity))
            return _forwarding(module.srcad_dispatcher, arity, "y_adj", f"({cotangents},)")
        module = specializer._stage_module("tangent", wrt, signature)
        tangents = ", ".join(f"t{k}" for k in wrt)
        return _forwarding(module.srcad_dispatcher, arity, ", ".join(f"t{k}" for k in range(arity)), "r[1]", tangents)
    finally:
        building.discard((key, what, signature))


def _recursion(function):
    from srcad.errors import DifferentiabilityError

    code = function.__code__
    return DifferentiabilityError(
        f"srcad cannot differentiate {function.__qualname__!r}: through the helpers it calls, it calls itself",
        filename=code.co_filename, lineno=code.co_firstlineno, col=1, fix="Rewrite the recursion as a loop.",
    )


def _forwarding(compiled, arity, extra, result="r", passed_extra=None):
    """``def f(a0, ..., *extra): r = compiled(a0, ..., *passed_extra); return result``."""
    arguments = ", ".join(f"a{k}" for k in range(arity))
    parameters = ", ".join(p for p in (arguments, extra) if p)
    passed = ", ".join(p for p in (arguments, extra if passed_extra is None else passed_extra) if p)
    namespace = {"compiled": compiled}
    exec(f"def forwarded({parameters}):\n    r = compiled({passed})\n    return {result}\n", namespace)
    return namespace["forwarded"]


def _is_float(numba_type):
    if isinstance(numba_type, types.Array):
        return isinstance(numba_type.dtype, types.Float)
    return isinstance(numba_type, types.Float)


def call_rule(function, names, arity):
    """Like ``srcad.custom.call_rule``, for a helper called through its generated derivatives."""
    from srcad.custom import Spelled, derived_names
    from srcad.transforms.rules import Rule

    key = key_of(unwrap(function))
    base = key.split(":")[1].replace(".", "_")
    spelled = derived_names(names, f"{base}_call{arity}", ("", "_adjoint", "_tangent"))
    definitions = {
        name: Spelled(f"srcad.callees.stub({key!r}, {what!r}, {arity})")
        for name, what in zip(spelled, ("primal", "reverse", "forward"))
    }
    primal, vjp, jvp = spelled
    operands = tuple(f"a{k}" for k in range(arity))
    shared = f"{vjp}({', '.join(operands + ('y_adj',))})"
    adjoints = tuple(f"shared[{k}]" for k in range(arity))
    tangent = f"{jvp}({', '.join(operands + tuple(o + '_dot' for o in operands))})"
    return primal, definitions, Rule(operands, adjoints, tangent, shared)

