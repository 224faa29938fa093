"""Integer powers as Python computes them, or a clear error: numba computes ``(-2) ** -1`` of two
integers as ``0`` (an integer, as C does), where Python gives ``-0.5``. On the typed normal form,
``a ** b`` of two integers whose exponent is not a non-negative number in the code becomes
``integer_power(a, b, "file.py:12")`` (``srcad.kernels.arrays``): the same integer where the exponent
is not negative, and a ValueError naming the user's line and what to write there where it is,
instead of a silently wrong value.
(CUDA kernels keep ``a ** b``: device code cannot raise.)
"""

import libcst as cst
from numba.core import types as numba_types

from ..ir import marker_of

_INTEGER_OPERATORS = (cst.Add, cst.Subtract, cst.Multiply, cst.FloorDivide, cst.Modulo, cst.Power)


def checked_integer_powers(definition, types, filename):
    """``definition`` with integer powers checked, or None where it has none to check."""
    rewrite = _IntegerPowers(types, filename)
    checked = definition.visit(rewrite)
    return checked if rewrite.changed else None


class _IntegerPowers(cst.CSTTransformer):
    def __init__(self, types, filename):
        super().__init__()
        self.types = types
        self.filename = filename
        self.line = 0  # the user's line the statements being visited came from
        self.changed = False

    def on_visit(self, node):
        marker = marker_of(node)  # normalize's comment naming the user's line
        if marker is not None:
            self.line = int(marker.split(":")[0])
        return super().on_visit(node)

    def leave_BinaryOperation(self, original, updated):
        if not isinstance(updated.operator, cst.Power) or _non_negative_number(updated.right):
            return updated
        if not (self.is_integer(updated.left) and self.is_integer(updated.right)):
            return updated
        self.changed = True
        where = cst.SimpleString(repr(f"{self.filename}:{self.line}"))
        call = cst.Call(cst.Name("integer_power"), [cst.Arg(updated.left), cst.Arg(updated.right), cst.Arg(where)])
        return call.with_changes(lpar=updated.lpar, rpar=updated.rpar)

    def is_integer(self, node):
        if isinstance(node, cst.Integer):
            return True
        if isinstance(node, cst.Name):
            return isinstance(self.types.get(node.value), numba_types.Integer)
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
            return self.is_integer(node.expression)
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "integer_power":
            return True
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, _INTEGER_OPERATORS):
            return self.is_integer(node.left) and self.is_integer(node.right)
        return False


def _non_negative_number(node):
    return isinstance(node, (cst.Integer, cst.Float))
