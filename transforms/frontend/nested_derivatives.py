"""Derivatives taken inside differentiated code: ``srcad.grad(energy)(x, k)`` in a simulation's step.

A force from an energy (``f = -srcad.grad(energy)(r, k)``), a value with its gradient
(``srcad.value_and_grad``) or a directional derivative (``srcad.jvp(g, (x,), (v,))``) called in a
function srcad differentiates is one operation of the normal form: a call, through the stubs of
``srcad.callees``, of the derivative of ``g`` that srcad generates for the argument types numba
finds there (``srcad.nested_calls``). Its rule's adjoint and tangent are the second derivatives of
``g`` that srcad generates in turn: the outer derivative is exact. ``srcad.value_and_grad``'s and
``srcad.jvp``'s values are ``g`` itself, inlined as a helper is.

The forms read: ``srcad.grad(g)(...)``, ``srcad.grad(g, wrt=k)(...)`` (``k`` a number or a tuple of
numbers written there), the same with ``srcad.value_and_grad``, a module-level ``force =
srcad.grad(g)`` called as ``force(...)``, ``srcad.jvp(g, (a, b), (da, db))``, and ``y, pullback =
srcad.vjp(g, a, b)`` then ``pullback(ybar)`` (the pullback a tuple-like value holding the arguments).

A CUDA kernel calls no function compiled apart: there the derivative's generated Python source is
inlined instead, as a helper's is, once numba has typed its arguments (``inlined``), and the
kernel's own adjoint differentiates it.
"""

import contextlib
import threading

import libcst as cst

from srcad.cache_keys import findable_by_name
from srcad.introspect import helper_function, makes_derivatives, source_lines

from ..ir import assign
from ..ir.precedence import spelled
from ..rules.calls import Spelled, nested_call_rule
from . import tuple_values
from .inline import bound_arguments, call_with_rule, inline_call
from .tuples import Packed

_READ = ("grad", "value_and_grad", "jvp", "vjp", "pullback")
_CALLED_DIRECTLY = ("jvp", "vjp")  # srcad.jvp(g, ...) and srcad.vjp(g, ...) give values, not functions

_inlining = threading.local()  # .signatures, .derivative_of: see ``inlined``
_order = threading.local()  # .calls: the names of the derivatives called, in the order normalizing met them


@contextlib.contextmanager
def counted():
    """Around a normalization: yields the list of the names its derivative calls get, in the order met
    (the helpers' own included); a normalization inside another (a helper's) adds to the outer one's."""
    outermost = getattr(_order, "calls", None) is None
    if outermost:
        _order.calls = []
    try:
        yield _order.calls
    finally:
        if outermost:
            _order.calls = None


@contextlib.contextmanager
def inlined(signatures, derivative_of):
    """Normalize with the derivatives called inside the code inlined, for a CUDA kernel (which calls no
    function compiled apart): ``signatures`` maps the position of a call in the order normalizing meets
    them (``counted``) to its arguments' numba types, and ``derivative_of(kind, function, signature)``
    gives (the generated Python function computing it, the positions of the call's arguments it takes,
    the part of its tuple result that is the derivative or None)."""
    _inlining.signatures, _inlining.derivative_of = signatures, derivative_of
    try:
        yield
    finally:
        _inlining.signatures = _inlining.derivative_of = None


def is_nested_stub(value):
    """Whether a constant of a normal form is the stub of a derivative called inside it."""
    return isinstance(value, Spelled) and value.startswith("srcad.callees.stub(") and "|" in value


def _called(flattener, kind, function, arguments, hint, statements, into):
    """The derivative ``kind`` of ``function`` at ``arguments``: a call through srcad.callees, or its
    generated code inlined (see ``inlined``)."""
    made = nested_call_rule(kind, function, flattener.names, len(arguments), hint)
    calls = getattr(_order, "calls", None)
    signature = (getattr(_inlining, "signatures", None) or {}).get(len(calls) if calls is not None else None)
    if calls is not None:
        calls.append(made[0])
    if signature is None:
        return call_with_rule(flattener, made, arguments, statements, into)
    derivative, taken, part = _inlining.derivative_of(kind, function, signature)
    passed = [arguments[k] for k in taken]
    value = inline_call(flattener, cst.Call(cst.Name(derivative.__name__), [cst.Arg(a) for a in passed]),
                        derivative, statements, into if part is None else None)
    if part is None:
        return value
    value = value.items[part]
    if into is not None:
        statements.append(assign(into, value))
        return cst.Name(into)
    return value


def derivative_called(flattener, node):
    """(the srcad function making the derivative, its function, its ``wrt`` node or value, its call
    node) where ``node`` calls a derivative srcad makes (``srcad.grad(g)(x)``, ``force(x)`` with
    ``force = srcad.grad(g)``, ``srcad.jvp(g, ...)``); None for any other call."""
    function = node.func
    if isinstance(function, cst.Name) and flattener.parsed.resolve(function).kind == "local":
        pullback = flattener.tuples.part(function)
        if isinstance(pullback, Packed) and hasattr(pullback.kind, "srcad_pullback_of"):  # y, pullback = srcad.vjp(g, x)
            return "pullback", pullback.kind.srcad_pullback_of, None, None
        return None
    if isinstance(function, cst.Call):  # srcad.grad(g, wrt=1)(x, k)
        maker = _maker(flattener, function.func)
        if maker is not None:
            return maker, None, None, function
        return None
    if isinstance(function, (cst.Name, cst.Attribute)):
        resolved = flattener.parsed.resolve(function)
        if resolved.kind == "local":
            return None
        nested = getattr(resolved.value, "srcad_nested", None)
        if nested is not None:  # force = srcad.grad(energy) at module level; force(x)
            return nested[0], nested[1], nested[2], None
        maker = _maker(flattener, function)
        if maker is not None:  # srcad.jvp(g, primals, tangents), srcad.hessian(g)(x)...
            return maker, None, None, node
    return None


def _maker(flattener, node):
    if not isinstance(node, (cst.Name, cst.Attribute)):
        return None
    resolved = flattener.parsed.resolve(node)
    if resolved.kind == "local" or not makes_derivatives(resolved.value):
        return None
    return resolved.value.__name__


def nested_derivative(flattener, node, statements, into):
    """The statements computing ``node`` (see ``derivative_called``) appended to ``statements``; an
    atom, or a Packed for a tuple (several gradients, a value with its gradient, a jvp)."""
    maker, function, wrt, made = derivative_called(flattener, node)
    shown = spelled(node.func) if made is not node else f"srcad.{maker}"
    if maker not in _READ or (maker in _CALLED_DIRECTLY) != (made is node):
        raise flattener.error(
            f"srcad cannot differentiate through {shown}(...) inside a differentiated function yet",
            node,
            "Inside differentiated code srcad reads srcad.grad(g)(...), srcad.value_and_grad(g)(...), "
            "srcad.jvp(g, primals, tangents) and srcad.vjp(g, ...); second derivatives of f itself come from srcad.hessian(f) "
            "or srcad.jvp(srcad.grad(f), ...).",
        )
    if maker == "pullback":
        return _pulled_back(flattener, node, function, statements)
    if made is not None:
        function, wrt = _made_of(flattener, made, maker)
    callee = function = _readable(flattener, node, function, shown)  # the Python function (an njit's py_func)
    if maker == "jvp":
        return _jvp(flattener, node, made, function, callee, statements, shown)
    if maker == "vjp":
        return _vjp(flattener, node, function, callee, statements, shown)
    arguments = _plain(flattener, node, bound_arguments(flattener, node, callee, callee.__name__, statements,
                                                        allow_tuples=True), callee, shown)
    every = _positions(flattener, node, wrt, len(arguments), callee)
    one = cst.Float("1.0")
    gradients = []
    for k in every:
        target = into if into is not None and maker == "grad" and not isinstance(wrt, tuple) else None
        gradients.append(_called(flattener, f"vjp {k}", function, arguments + [one], f"{callee.__name__}_grad",
                                 statements, target))
    gradient = Packed(tuple, gradients) if isinstance(wrt, tuple) else gradients[0]
    if maker == "grad":
        return gradient
    value = inline_call(flattener, _call_of(node, arguments), function, statements, None)
    return Packed(tuple, [value, gradient])


def _plain(flattener, node, arguments, callee, shown):
    """``arguments``, checked to be numbers and arrays (not tuples), and ``callee``'s normal form checked
    (after the arguments: a tuple argument's parts read in it would be refused at the callee's line)."""
    if any(isinstance(argument, Packed) for argument in arguments):
        raise flattener.error(
            f"srcad cannot pass a tuple to {shown}(...) inside differentiated code yet", node,
            f"Pass the tuple's parts as separate arguments of {callee.__name__} (numbers or arrays).")
    _checked_normal_form(flattener, node, callee, shown)
    return arguments


def _jvp(flattener, node, made, function, callee, statements, shown):
    """``srcad.jvp(g, (a, b), (da, db))``: (g's value, its tangent), a Packed."""
    if len(node.args) != 3 or any(argument.keyword is not None or argument.star for argument in node.args):
        raise flattener.error("srcad.jvp inside differentiated code takes (g, primals, tangents), all three "
                              "positional", node)
    groups = []
    for argument, what in zip(node.args[1:], ("primals", "tangents")):
        written = argument.value
        if what == "tangents" and isinstance(written, cst.Tuple):  # None: a zero tangent (an integer's)
            written = written.with_changes(elements=[
                e.with_changes(value=cst.Float("0.0")) if isinstance(e.value, cst.Name) and e.value.value == "None" else e
                for e in written.elements])
        value = tuple_values.value_of(flattener, written, statements)
        if not isinstance(value, Packed) or any(isinstance(item, Packed) for item in value.items):
            raise flattener.error(f"srcad.jvp's {what} are a tuple of numbers or arrays here, one per argument "
                                  f"of {callee.__name__}: ({what[0]}1, {what[0]}2, ...)", argument.value)
        groups.append(value.items)
    primals, tangents = groups
    arguments = _plain(flattener, node, bound_arguments(flattener, _call_of(node, primals), callee, callee.__name__,
                                                        statements, allow_tuples=True), callee, shown)
    if len(tangents) != len(arguments) or len(primals) != len(arguments):
        raise flattener.error(f"srcad.jvp needs one primal and one tangent per argument of {callee.__name__} "
                              f"({len(arguments)}) here", node)
    value = inline_call(flattener, _call_of(node, arguments), function, statements, None)
    tangent = _called(flattener, "jvp", function, arguments + list(tangents), f"{callee.__name__}_jvp", statements, None)
    return Packed(tuple, [value, tangent])


def _vjp(flattener, node, function, callee, statements, shown):
    """``y, pullback = srcad.vjp(g, a, b)``: (g's value, a tuple-like ``pullback`` holding the arguments,
    which ``pullback(ybar)`` reads: see ``_pulled_back``)."""
    if any(argument.keyword is not None or argument.star for argument in node.args[1:]):
        raise flattener.error(f"srcad.vjp inside differentiated code takes {callee.__name__}'s arguments positionally",
                              node)
    arguments = _plain(flattener, node, bound_arguments(flattener, _call_of(node, [a.value for a in node.args[1:]]),
                                                        callee, callee.__name__, statements, allow_tuples=True),
                       callee, shown)
    value = inline_call(flattener, _call_of(node, arguments), function, statements, None)
    pullback = type("pullback", (tuple,), {"srcad_pullback_of": function})  # the arguments are its parts
    return Packed(tuple, [value, Packed(pullback, arguments)])


def _pulled_back(flattener, node, function, statements):
    """``pullback(ybar)``: one cotangent per argument of g (0.0 for an integer one), a Packed."""
    if len(node.args) != 1 or node.args[0].keyword is not None or node.args[0].star:
        raise flattener.error("a pullback takes one argument: the cotangent of the function's value", node)
    # the arguments vjp was called with, as the pullback's parts hold them (each taken as an atom of the
    # caller's, the way a call's result is)
    arguments = [flattener.result(leaf, statements, None) for leaf in flattener.tuples.part(node.func).leaves()]
    seed = flattener.operand(node.args[0].value, statements)
    hint = f"{function.__name__}_pullback"
    return Packed(tuple, [_called(flattener, f"pullback {k}", function, arguments + [seed], hint, statements, None)
                          for k in range(len(arguments))])


def _call_of(node, arguments):
    """A call of ``node``'s function (any: bound_arguments and inline_call read only its arguments)
    with ``arguments``, atoms of the caller."""
    function = node.func if not isinstance(node.func, cst.Call) else node.func.func
    return cst.Call(function, [cst.Arg(argument) for argument in arguments])


def _made_of(flattener, made, maker):
    """(the function, wrt) of ``srcad.grad(g, wrt=...)`` or ``srcad.jvp(g, ...)``'s first argument."""
    if not made.args or made.args[0].keyword is not None or made.args[0].star:
        raise flattener.error(f"srcad.{maker} takes the function first", made)
    target = made.args[0].value
    if isinstance(target, cst.Lambda):
        raise flattener.error(
            f"srcad cannot differentiate a lambda inside differentiated code: srcad.{maker} needs a function "
            "written with 'def'", target,
            f"Define it with def, and pass the other values as arguments: srcad.{maker}(g, wrt=0)(r, k).",
        )
    resolved = flattener.parsed.resolve(target) if isinstance(target, (cst.Name, cst.Attribute)) else None
    if resolved is None or resolved.kind == "local":
        raise flattener.error(f"srcad.{maker} inside differentiated code needs a function defined outside it, "
                              f"by its name", target)
    wrt = 0
    for position, argument in enumerate(made.args[1:], start=1):
        keyword = argument.keyword.value if argument.keyword is not None else None
        if maker in _CALLED_DIRECTLY:
            break
        if keyword not in ("wrt", None) or position > 1 or argument.star:
            raise flattener.error(f"srcad.{maker} inside differentiated code takes (g) or (g, wrt=...)", argument)
        wrt = _wrt_value(flattener, argument.value)
    return resolved.value, wrt


def _wrt_value(flattener, node):
    """``wrt`` written as a number or a tuple of numbers (or a module's constant)."""
    if isinstance(node, cst.Tuple):
        return tuple(_wrt_value(flattener, element.value) for element in node.elements)
    if isinstance(node, cst.Integer):
        return int(node.value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus) and isinstance(node.expression, cst.Integer):
        return -int(node.expression.value)
    if isinstance(node, (cst.Name, cst.Attribute)):
        resolved = flattener.parsed.resolve(node)
        if resolved.kind == "constant" and isinstance(resolved.value, int) and not isinstance(resolved.value, bool):
            return resolved.value
    raise flattener.error("srcad needs wrt written as a number, or a tuple of numbers, here", node)


def _positions(flattener, node, wrt, count, callee):
    """``wrt`` as argument positions in range."""
    every = wrt if isinstance(wrt, tuple) else (wrt,)
    if not every:
        raise flattener.error("wrt=() asks for no gradient", node)
    for k in every:
        if not isinstance(k, int) or not -count <= k < count:
            raise flattener.error(f"wrt={wrt!r} is out of range: {callee.__name__} takes {count} argument(s)", node)
    return tuple(k % count for k in every)


def _readable(flattener, node, function, shown):
    """The Python function behind ``function``, checked: srcad reads it, it is not the caller, it takes
    no first-order derivative of its own (a third derivative), and a later process finds it by name
    (its normal form is checked once its arguments are: ``_plain``)."""
    callee = helper_function(function)
    if callee is None or getattr(function, "srcad_derived", None) or getattr(callee, "srcad_derived", None):
        raise flattener.error(
            f"srcad cannot differentiate {shown}(...) here: it takes the derivative of "
            f"{getattr(function, '__name__', repr(function))}, which is not a function written with 'def'",
            node,
            "Pass a function written with def (a derivative of a derivative inside differentiated code "
            "would be a third derivative, not supported yet).",
        )
    if callee is flattener.parsed.function:
        raise flattener.error(f"srcad cannot differentiate {shown}(...) of the function itself (a recursion)", node,
                              "Take the derivative of another function.")
    if flattener.inline_everything and not flattener.kernel:
        raise flattener.error(
            f"srcad cannot differentiate {shown}(...) a second time: with the derivative of the function that "
            "calls it, that is a third derivative, not supported yet",
            node,
            "Take first derivatives of a function calling srcad.grad(...) (srcad.grad, srcad.jvp, srcad.vjp), "
            "not second ones (srcad.hessian, grad(grad(f)), jvp(grad(f))).",
        )
    try:
        source_lines(callee)
    except (OSError, TypeError):
        raise flattener.error(f"srcad cannot read the source of {callee.__name__!r}, so it cannot differentiate "
                              f"{shown}(...)", node, "Define it with 'def' in a file.") from None
    if not findable_by_name(callee):
        raise flattener.error(
            f"srcad needs {callee.__qualname__!r} defined at the top level of a module to differentiate "
            f"{shown}(...) inside differentiated code (its generated derivatives find it by name)",
            node,
            f"Move 'def {callee.__name__}' out of the function that defines it, passing what it reads as arguments.",
        )
    return callee


def _checked_normal_form(flattener, node, callee, shown):
    """Refuse a callee returning a tuple or writing its arguments; its own errors at its own lines."""
    normalized = flattener.normal_form_of(callee, False, None)
    if normalized.output_structure is not None:
        raise flattener.error(f"{shown} needs {callee.__name__} to return one value (a float or an array), "
                              "not a tuple, inside differentiated code", node)
    if normalized.written_parameters():
        raise flattener.error(
            f"srcad cannot differentiate {shown}(...) inside differentiated code: {callee.__name__} writes its "
            "array arguments in place", node,
            f"Make {callee.__name__} compute new arrays (y = x * 2.0) rather than write into its arguments.",
        )
