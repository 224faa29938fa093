"""Pass 5c: a float adjoint known to be zero takes its first contribution by assignment.

The reverse sweep resets an adjoint (``d_adj = 0.0``) when it has passed the
definition of its variable, and the next statements add into it
(``d_adj += t``). ``0.0 + t`` is one addition more on the critical path of a
reverse loop, one that the compiler may not remove (it is not ``t`` when ``t``
is ``-0.0``). This pass follows which float adjoints are certainly zero through
the reverse sweep, branches and loops included, and writes ``d_adj = t`` (or
``d_adj = -t``) where it is — what one writes by hand.
"""

import libcst as cst

from .known_zeros import assigned_names, zeros_before


def assign_first_contributions(statements, scalars):
    """``statements`` (the reverse sweep) with ``+=`` / ``-=`` into a zero adjoint among ``scalars``
    (names of float adjoints) written as assignments."""
    zero = zeros_before(statements, scalars, lambda small: _effect(small, scalars))
    return [statement.visit(_FirstContributions(zero)) for statement in statements]


def _effect(small, scalars):
    """(names no longer known zero, names now zero) after one small statement."""
    if isinstance(small, cst.Assign):
        target = small.targets[0].target
        if isinstance(target, cst.Name) and target.value in scalars and _is_zero(small.value):
            return frozenset(), frozenset({target.value})
        return frozenset().union(*(assigned_names(t.target) for t in small.targets)), frozenset()
    if isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Name):
        return frozenset({small.target.value}), frozenset()
    return frozenset(), frozenset()


class _FirstContributions(cst.CSTTransformer):
    def __init__(self, zero):
        self.zero = zero  # id of a small statement -> the adjoints zero before it

    def leave_AugAssign(self, original_node, updated_node):
        name = updated_node.target.value if isinstance(updated_node.target, cst.Name) else None
        if name not in self.zero.get(id(original_node), ()) or not isinstance(
                updated_node.operator, (cst.AddAssign, cst.SubtractAssign)):
            return updated_node
        value = updated_node.value
        if isinstance(updated_node.operator, cst.SubtractAssign):
            value = cst.UnaryOperation(cst.Minus(), _parenthesized(value))
        return cst.Assign([cst.AssignTarget(updated_node.target)], value)


def _is_zero(node):
    return isinstance(node, cst.Float) and float(node.value) == 0.0


def _parenthesized(node):
    if isinstance(node, (cst.Name, cst.Float, cst.Integer, cst.Subscript, cst.Call, cst.Attribute)):
        return node
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
