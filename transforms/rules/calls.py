"""Calls that stay calls in the normal form, each one operation with a rule of its own.

A call of a function with a ``@srcad.derivative`` rule calls the function compiled, and its
adjoint calls the user's rule (``srcad.custom``). A call of a large helper through its own
derivatives calls the helper's compiled normal form, its generated adjoint and its generated
tangent (``srcad.callees``). Either way the call gets a fresh name, module-level definitions
that find what it calls at run time, and a ``Rule`` that goes in the compilation's rule overlay
(``rules.overlay``), never in the global table.
"""

import re
from dataclasses import replace

from srcad import custom
from srcad.cache_keys import callee_key, nested_key
from srcad.introspect import unwrap

from . import Rule


class Spelled(str):
    """A module-level value of generated code written as source (``srcad.custom.compiled(...)``)."""

    def __repr__(self):
        return str(self)


def derived_names(names, hint, suffixes):
    """Fresh names ``stem + suffix``, one per suffix, of one stem. The rule is keyed by the first
    (the name generated code calls), and its templates name the others."""
    while True:
        stem = names.fresh(hint)
        spelled = [stem + suffix for suffix in suffixes]
        if not any(name in names.taken for name in spelled[1:]):
            for name in spelled:
                names.reserve(name)
            return spelled
        hint = stem


def custom_call_rule(function, names, arity):
    """(the name generated code calls ``function`` by, the module-level definitions it needs, its
    rule). The rule's adjoints call the reverse rule; its tangent, the forward rule if there is one."""
    plain = unwrap(function)
    key = custom.key_of(plain)
    registered = custom.rules_for(plain)
    alias, vjp, jvp = derived_names(names, f"{plain.__name__}_custom{arity}", ("", "_vjp", "_jvp"))
    definitions = {alias: Spelled(f"srcad.custom.compiled({key!r}, 'primal')")}
    operands = tuple(f"a{k}" for k in range(arity))
    definitions[vjp] = Spelled(f"srcad.custom.compiled({key!r}, 'reverse')")
    shared = f"{vjp}({', '.join(operands + ('y_adj',))})"  # the rule runs once for all the cotangents
    adjoints = tuple(f"srcad.custom.cotangent(shared, {k}, {arity}, {key!r})" for k in range(arity))
    tangent = None
    if "forward" in registered:
        definitions[jvp] = Spelled(f"srcad.custom.compiled({key!r}, 'forward')")
        tangent = f"{jvp}({', '.join(operands + tuple(o + '_dot' for o in operands))})"
    return alias, definitions, Rule(operands, adjoints, tangent, shared, origin=plain.__name__)


def callee_call_rule(function, names, arity):
    """Like ``custom_call_rule``, for a helper called through its generated derivatives."""
    key = callee_key(function)
    return stub_call_rule(key, key.split(":")[1].replace(".", "_") + f"_call{arity}", names, arity)


def nested_call_rule(kind, function, names, arity, hint):
    """Like ``callee_call_rule``, for a derivative of ``function`` called inside differentiated code
    (``kind``: see ``srcad.nested_calls``), named after ``hint``."""
    return stub_call_rule(nested_key(kind, callee_key(function)), hint, names, arity)


def stub_call_rule(key, hint, names, arity):
    """(name, definitions, rule) of a call through the stubs of ``srcad.callees`` for ``key``."""
    spelled = derived_names(names, hint, ("", "_adjoint", "_tangent"))
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


def renamed_rule(rule, renamed):
    """``rule`` with the names of generated code its templates mention (``f_custom1_vjp``) renamed by
    ``renamed`` (old -> new): a callee's call, inlined into a caller that has a name of its own so."""
    if not renamed:
        return rule
    pattern = re.compile(r"\b(" + "|".join(re.escape(name) for name in sorted(renamed, key=len, reverse=True)) + r")\b")

    def rename(template):
        return None if template is None else pattern.sub(lambda match: renamed[match.group(1)], template)

    return replace(rule, adjoints=tuple(rename(t) for t in rule.adjoints), tangent=rename(rule.tangent),
                   shared=rename(rule.shared))


def calls_through_derivatives(constants):
    """Whether a normal form with these module-level ``constants`` calls a helper through its derivatives."""
    return any(isinstance(value, Spelled) and value.startswith("srcad.callees.") for value in constants.values())
