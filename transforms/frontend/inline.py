"""Calls to the user's own functions, inlined into the caller's normal form.

A differentiable function may call a plain helper, or another
``@srcad.differentiable`` function, whose source srcad can read. The callee is
normalized on its own (so its own calls are inlined in turn, and its errors
point at its own lines), its variables get fresh names, its parameters are
bound to the caller's arguments (``p = x``: an array argument is the same
memory, as in a Python call), and its body takes the place of the call, the
returned value assigned to the call's result. Everything later — activity,
the adjoint, the tangent — sees one function, so values flow across the call
with no tape of their own.
"""

import inspect
import threading

import libcst as cst

from srcad.cache_keys import findable_by_name
from srcad.errors import DifferentiabilityError
from srcad.introspect import helper_function, source_lines, unwrap
from srcad.structure import UNKNOWN, NeedsStructures

from ..ir import assign, bound_names
from ..ir.names import renamed_in
from ..ir.precedence import spelled
from ..ir.statements import walk
from ..rules.calls import Spelled, callee_call_rule, custom_call_rule, renamed_rule
from . import tuple_values
from .parse import MISSING
from .tuples import Packed, packed_like

# A helper is called through its derivatives when its normal form has at least this many
# statements (or when it says so: @srcad.differentiable(inline=False)).
LARGE_HELPER_STATEMENTS = 40

_inlining = threading.local()  # .stack: the functions being inlined on this thread, outermost first


def is_user_function(value):
    """A Python function (or a srcad.differentiable one) srcad can read and inline."""
    return helper_function(value) is not None


def is_srcad_helper(value):
    """A function of srcad's own runtime (``srcad.kernels``) that generated derivatives call."""
    function = helper_function(value)
    return function is not None and (function.__module__ or "").startswith("srcad.kernels")


# What srcad's helpers without a derivative rule are the derivatives of.
_HELPER_ORIGINS = {"products_of_others": "np.prod"}


def inline_srcad_helper(flattener, node, function, statements, into):
    """Like ``inline_call``, for a helper of srcad's (differentiating a derivative again): where its
    NumPy code cannot be differentiated, the error names what it stands for, not its own line."""
    try:
        return inline_call(flattener, node, function, statements, into)
    except DifferentiabilityError:
        helper = helper_function(function).__name__
        raise flattener.error(
            f"srcad cannot differentiate {helper!r}, which derivatives of "
            f"{_HELPER_ORIGINS.get(helper, 'such operations')} call, a second time yet",
            node,
            "Take first derivatives only here, or write the operation as a loop over the elements.",
        ) from None


def inline_call(flattener, node, function, statements, into, procedure=False):
    """Statements computing ``node`` (a call of ``function``) appended to ``statements``; the atom
    holding its value. A ``procedure`` call is a statement: the callee may return nothing."""
    callee = helper_function(function)
    stack = getattr(_inlining, "stack", None)
    if stack is None:
        stack = _inlining.stack = []
    called = spelled(node.func)
    if callee in stack or callee is flattener.parsed.function:
        raise flattener.error(f"srcad cannot differentiate the recursive call to {called!r}", node,
                              "Rewrite the recursion as a loop.")
    try:
        source_lines(callee)
    except (OSError, TypeError):
        raise flattener.error(
            f"srcad cannot read the source of {called!r}, so it cannot differentiate through this call",
            node,
            "Define it with 'def' in a file, or wrap the call in srcad.no_grad(...) if it needs no derivative.",
        ) from None
    arguments = bound_arguments(flattener, node, callee, called, statements, allow_tuples=True)
    structures = tuple(a.structure() if isinstance(a, Packed) else None for a in arguments)
    stack.append(callee)
    try:
        if not any(structures):  # no tuple arguments (or, checking the caller before any call, none known yet)
            structures = UNKNOWN if flattener.lenient else None
        normalized = flattener.normal_form_of(callee, procedure, structures, inline_everything=flattener.inline_everything)
    finally:
        stack.pop()
    if _through_derivatives(flattener, function, callee, normalized, arguments, procedure):
        return call_with_rule(flattener, callee_call_rule(function, flattener.names, len(arguments)), arguments,
                               statements, into)
    definition = normalized.definition
    body = list(definition.body.body)
    returned = body[-1].body[0].value
    prefix = callee.__name__
    assigned = bound_names(definition.body)
    # a parameter the callee never assigns, passed a variable, is that variable: no copy to bind (a
    # helper called in a loop would otherwise rebind its array parameters each time, and the reverse
    # sweep would keep every binding)
    passed = {}
    for group, value in zip(normalized.parameter_groups, arguments):
        atoms = value.leaves() if isinstance(value, Packed) else [value]
        passed.update({parameter: atom.value for parameter, atom in zip(group, atoms)
                       if isinstance(atom, cst.Name) and parameter not in assigned})
    local_names = ({param.name.value for param in definition.params.params} | assigned) - set(passed)
    renamed = {name: flattener.names.fresh(f"{prefix}_{name}") for name in sorted(local_names)} | passed
    flattener.inlined_names.update({renamed[name]: (prefix, name) for name in local_names})
    flattener.inlined_names.update({renamed[name]: told for name, told in normalized.inlined_names.items() if name in renamed})
    renamed_constants = {}
    for name, value in normalized.constants.items():  # the callee's globals, as the caller's constants
        if not _same_constant(flattener.constants.get(name, value), value) or name in flattener.parsed.local_names:
            renamed[name] = renamed_constants[name] = flattener.names.fresh(f"{prefix}_{name}")
        flattener.constants[renamed.get(name, name)] = value
    for alias, rule in normalized.call_rules.items():  # the callee's calls that stay calls, as the caller's
        flattener.call_rules[renamed_constants.get(alias, alias)] = renamed_rule(rule, renamed_constants)
    for group, value in zip(normalized.parameter_groups, arguments):  # a tuple argument binds part by part
        atoms = value.leaves() if isinstance(value, Packed) else [value]
        statements += [assign(renamed[parameter], atom) for parameter, atom in zip(group, atoms) if parameter not in passed]
    statements += [renamed_in(statement, renamed).visit(_WithoutLineComments()) for statement in body[:-1]]
    result = renamed_in(returned, renamed)
    if normalized.output_structure is not None:  # a tuple: the caller binds its parts
        return packed_like(normalized.output_structure, iter(e.value for e in result.elements))
    if into is not None:
        statements.append(assign(into, result))
        return cst.Name(into)
    return result


def _same_constant(known, value):
    """Whether a callee's constant is the caller's constant of that name: the same object, or the
    same source of a definition of generated code (a call both make to one function with a rule)."""
    return known is value or (isinstance(known, Spelled) and isinstance(value, Spelled) and known == value)


def custom_call(flattener, node, function, statements, into):
    """A call of a function with a ``@srcad.derivative`` rule: one operation, whose rule calls the user's."""
    called = spelled(node.func)
    arguments = bound_arguments(flattener, node, unwrap(function), called, statements)
    return call_with_rule(flattener, custom_call_rule(function, flattener.names, len(arguments)), arguments,
                           statements, into)


def call_with_rule(flattener, made, arguments, statements, into):
    """The call as one operation of the caller, under the name ``made`` gives it (with the module-level
    definitions it needs, and its rule in the table: see ``rules/calls.py``)."""
    alias, definitions, rule = made
    flattener.constants.update(definitions)
    flattener.call_rules[alias] = rule
    return flattener.result(cst.Call(cst.Name(alias), [cst.Arg(a) for a in arguments]), statements, into)


def _through_derivatives(flattener, function, callee, normalized, arguments, procedure):
    """Whether to call ``callee`` through its own adjoint and tangent (``srcad.callees``) rather than
    inline it: when it is large or asks for it (``@srcad.differentiable(inline=False)``), and the call
    is one srcad can make that way (plain arguments, one value returned, no argument written)."""
    wanted = getattr(function, "options", {}).get("inline")
    if wanted is True or flattener.inline_everything:
        return False
    if procedure or normalized.output_structure is not None or any(isinstance(a, Packed) for a in arguments):
        return False
    if not findable_by_name(callee) or normalized.written_parameters():
        return False
    size = sum(1 for _ in walk(normalized.definition.body.body))
    return wanted is False or size >= LARGE_HELPER_STATEMENTS


def bound_arguments(flattener, node, callee, called, statements, allow_tuples=False):
    """The callee's parameters in order, each as an atom of the caller (defaults as numbers), or
    with ``allow_tuples`` a Packed for a tuple."""
    positional, keywords = [], {}
    for argument in node.args:
        if argument.star:
            raise flattener.error(f"srcad cannot inline a call to {called!r} with *args or **kwargs", argument)
        if argument.keyword is None:
            positional.append(argument.value)
        else:
            keywords[argument.keyword.value] = argument.value
    signature = inspect.signature(callee)
    try:
        bound = signature.bind(*positional, **keywords)
    except TypeError as error:
        raise flattener.error(f"this call does not match {called}{signature}: {error}", node) from None
    atoms = []
    for name, parameter in signature.parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise flattener.error(f"srcad cannot inline {called!r}: it takes *args or **kwargs", node)
        if name in bound.arguments:
            value = bound.arguments[name]
            atoms.append(tuple_values.value_of(flattener, value, statements) if allow_tuples else flattener.operand(value, statements))
            continue
        default = parameter.default
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            raise flattener.error(
                f"srcad can inline {called!r} only with number defaults; pass {name}= here", node
            )
        atoms.append(cst.parse_expression(repr(default)) if default >= 0 else cst.parse_expression(f"({default!r})"))
    return atoms


class _WithoutLineComments(cst.CSTTransformer):
    """The callee's ``# line N`` comments name lines of another file: the call's line stands for them."""

    def leave_SimpleStatementLine(self, original, updated):
        return updated.with_changes(leading_lines=[])

    def leave_If(self, original, updated):
        return updated.with_changes(leading_lines=[])

    def leave_For(self, original, updated):
        return updated.with_changes(leading_lines=[])

    def leave_While(self, original, updated):
        return updated.with_changes(leading_lines=[])


def refusal_of_call(flattener, node, resolved):
    """The DifferentiabilityError for a call srcad cannot read, differentiate or inline, saying why."""
    called = spelled(node.func)
    value = resolved.value
    if flattener.lenient and value is MISSING:
        raise NeedsStructures(called)  # a helper defined further down the module: checked at the first call
    if value is flattener.parsed.function or getattr(value, "python_function", None) is flattener.parsed.function:
        return flattener.error(
            f"srcad cannot differentiate the recursive call to {called!r} yet",
            node,
            "Rewrite the recursion as a loop.",
        )
    if callable(value) and hasattr(value, "__code__") and "." not in (resolved.name or ""):  # not a library's
        return flattener.error(
            f"srcad cannot differentiate through the call to {called!r}: it reads and inlines plain "
            "functions, not methods or other callables",
            node,
            "Call a plain function (for a method, one taking the numbers it reads from the object as "
            "arguments), or wrap the call in srcad.no_grad(...) if it needs no derivative.",
        )
    if resolved.name.startswith(("math.", "np.")) or callable(value):
        return flattener.error(
            f"{resolved.name or called!r} has no derivative rule in srcad",
            node,
            "Wrap the call in srcad.no_grad(...) if no derivative is needed through it, "
            "or write it with supported functions.",
        )
    return flattener.error(f"srcad cannot call {called!r}", node, "Only functions with derivative rules can be called.")
