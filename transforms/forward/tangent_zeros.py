"""Symbolic zeros in forward mode's tangent templates: an inactive operand's tangent is a zero,
and the terms it makes vanish before any code is written (``a_dot * b + a * b_dot`` with b
inactive is ``a_dot * b``)."""

import libcst as cst

from .. import rules
from ..ir.precedence import spelled

_ZERO = cst.Float("0.0")
SYMBOLIC_ZERO = "_zero_tangent"  # stands for an inactive operand's tangent while a template is simplified


class NumbersToZero(cst.CSTTransformer):
    """Number pieces of np.array([...]) have zero tangents."""

    def leave_Float(self, original, updated):
        return _ZERO

    def leave_Integer(self, original, updated):
        return _ZERO


class DropZeros(cst.CSTTransformer):
    """Symbolic zeros: ``z * e``, ``e @ z``, ``z / e`` are zero; ``e + z`` is e; ``z - e`` is ``-e``."""

    def leave_BinaryOperation(self, original, updated):
        left, right = _is_zero(updated.left), _is_zero(updated.right)
        symbol = rules.operator_symbol(updated.operator)
        if symbol in ("*", "@") and (left or right) or symbol == "/" and left:
            return cst.Name(SYMBOLIC_ZERO)
        if symbol in ("+", "-") and right:
            return _keep_parentheses(updated.left, updated)
        if symbol == "+" and left:
            return _keep_parentheses(updated.right, updated)
        if symbol == "-" and left:
            return cst.UnaryOperation(cst.Minus(), _parenthesized(updated.right), lpar=updated.lpar, rpar=updated.rpar)
        return updated

    def leave_UnaryOperation(self, original, updated):
        return cst.Name(SYMBOLIC_ZERO) if _is_zero(updated.expression) else updated

    def leave_IfExp(self, original, updated):
        return cst.Name(SYMBOLIC_ZERO) if _is_zero(updated.body) and _is_zero(updated.orelse) else updated

    def leave_Call(self, original, updated):
        callee = spelled(updated.func)
        zeros = [_is_zero(a.value) for a in updated.args]
        if callee in ("np.outer", "np.dot") and any(zeros):
            return cst.Name(SYMBOLIC_ZERO)
        if callee == "np.where" and len(zeros) == 3 and zeros[1] and zeros[2]:
            return cst.Name(SYMBOLIC_ZERO)
        if callee in ("np.sum", "sum_along", "mean_along", "np.mean") and zeros and zeros[0]:
            return cst.Name(SYMBOLIC_ZERO)
        if callee in rules.ADJOINT_HELPER_RULES and any(_is_symbolic_zero(a.value) for a in updated.args):
            return cst.Name(SYMBOLIC_ZERO)  # linear in the one operand whose tangent it takes
        return updated

    def leave_Subscript(self, original, updated):
        return cst.Name(SYMBOLIC_ZERO) if _is_zero(updated.value) else updated

    def leave_Attribute(self, original, updated):
        return cst.Name(SYMBOLIC_ZERO) if _is_zero(updated.value) else updated


def _is_symbolic_zero(node):
    return isinstance(node, cst.Name) and node.value == SYMBOLIC_ZERO


def _is_zero(node):
    """A symbolic zero, or a literal 0.0 of a template (``(... if a > 0 else 0.0)``)."""
    if isinstance(node, cst.Float):
        return float(node.value) == 0.0
    return _is_symbolic_zero(node)


def _keep_parentheses(child, parent):
    if parent.lpar and not getattr(child, "lpar", None):
        return child.with_changes(lpar=parent.lpar, rpar=parent.rpar)
    return child


def _parenthesized(node):
    if isinstance(node, (cst.BinaryOperation, cst.IfExp, cst.UnaryOperation)) and not node.lpar:
        return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return node
