"""Inactive expressions (tests, indices, shapes), checked and copied with canonical spellings.

Values that carry no derivative are copied as the user wrote them, but every function they
call is spelled canonically (``math.sin``, ``np.zeros``), tuple parts become the variables
holding them, and anything srcad cannot use raises DifferentiabilityError at the user's node.
"""

import libcst as cst

from srcad.introspect import helper_function

from .. import rules
from ..ir.precedence import spelled
from . import nested_derivatives

# Array methods an inactive expression (a test, an index) may call: their values carry no derivative there.
INACTIVE_METHODS = {"sum", "mean", "max", "min", "prod", "any", "all", "argmax", "argmin", "dot", "copy"}


class Canonicalize(cst.CSTTransformer):
    """Checks an inactive expression and spells the functions it calls canonically."""

    def __init__(self, normalizer, allow_tuples=False, statements=None):
        self.normalizer = normalizer
        self.allow_tuples = allow_tuples  # shapes of new arrays: np.zeros((n, m))
        # where calls of the user's helpers go (`if energy(x) > 0:`): computed before the expression,
        # their values read from the variables holding them; None where there is no such place
        self.statements = statements
        self.helper_values = {}  # id of a helper's call -> the atom holding its value
        self.locations = set()  # ids of the "file.py:line" strings srcad's own helpers take (integer_power)

    def visit_Call(self, node):
        if self.statements is not None and self._is_reduction_along_an_axis(node):  # `if np.min(y, axis=0) > 0:`
            self.helper_values[id(node)] = self.normalizer.expression_atom(node, self.statements)
            return False
        if self._is_other_array_method(node):  # `if np.min(y.reshape(4, 1)) > 0:`: differentiated code's spelling
            return self._computed_first(node, f"the method '.{node.func.attr.value}()'")
        if self._is_array_method(node):
            node.func.value.visit(self)  # a test such as `if x.sum() > 0:`: the array is checked
            for argument in node.args:
                argument.visit(self)
            return False
        if nested_derivatives.derivative_called(self.normalizer, node) is not None:  # if srcad.grad(g)(x) > 0:
            return self._computed_first(node, f"{spelled(node.func)}(...)")
        resolved = self.normalizer.parsed.resolve(node.func)
        position = rules.LOCATED_HELPERS.get(resolved.name)
        if position is not None and len(node.args) > position and isinstance(node.args[position].value, cst.SimpleString):
            self.locations.add(id(node.args[position].value))  # generated code differentiated again
        if resolved.kind != "function" and resolved.name not in rules.INTEGER_TYPES:  # (np.int64(i): a cast)
            if resolved.kind != "local" and helper_function(resolved.value) is not None:  # the user's helper
                return self._computed_first(node, f"the helper {spelled(node.func)!r}")
            raise self.normalizer.unknown_callee(node, resolved)
        return True

    def _computed_first(self, node, what):
        """``node``'s value computed before the expression, into the variable that takes its place."""
        if self.statements is None:
            raise self.normalizer.error(
                f"srcad cannot call {what} here (a loop's test, an index or a shape) yet", node,
                "Compute it into a variable first (for a while loop's test: before the loop and again at the end "
                "of its body).",
            )
        self.helper_values[id(node)] = self.normalizer.expression_atom(node, self.statements)
        return False

    def leave_Call(self, original, updated):
        if id(original) in self.helper_values:
            return self.helper_values[id(original)]
        if self._is_array_method(original):
            return original.with_changes(
                func=original.func.with_changes(value=original.func.value.visit(self)),
                args=[a.with_changes(value=a.value.visit(self)) for a in original.args],
            )
        resolved = self.normalizer.parsed.resolve(original.func)
        if resolved.name == "np.matmul" and len(updated.args) == 2 and not any(a.keyword for a in updated.args):
            # numba compiles `@`, not np.matmul (as the differentiated spelling, normalize.py)
            return cst.BinaryOperation(updated.args[0].value, cst.MatrixMultiply(), updated.args[1].value,
                                       lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return updated.with_changes(func=cst.parse_expression(resolved.name))

    def _is_reduction_along_an_axis(self, node):
        """np.sum(x, axis=0), x.max(axis=1), ...: numba cannot compile them as written; computed first,
        the way differentiated code computes them."""
        if not any(a.keyword is not None for a in node.args):
            return False
        if self._is_array_method(node):
            return f"np.{node.func.attr.value}" in rules.REDUCTIONS
        return self.normalizer.parsed.resolve(node.func).name in rules.REDUCTIONS

    def _is_array_method(self, node):
        return self._is_method(node) and node.func.attr.value in INACTIVE_METHODS

    def _is_other_array_method(self, node):
        """x.reshape(...), x.ravel(), x.T.flatten(): methods whose value an inactive expression cannot copy as
        written (views numba reshapes only when contiguous); a tuple's or NamedTuple's method is none of these."""
        return self._is_method(node) and node.func.attr.value not in INACTIVE_METHODS and self._tuple_part(node.func.value) is None

    def _is_method(self, node):
        if not isinstance(node.func, cst.Attribute):
            return False
        root = node.func.value
        while isinstance(root, cst.Attribute):
            root = root.value
        return not (isinstance(root, cst.Name) and self.normalizer.parsed.resolve(root).kind in ("module", "function"))

    def visit_Attribute(self, node):
        return False

    def leave_Attribute(self, original, updated):
        if self.normalizer.is_array_attribute(original):
            return updated
        if self._of_an_array_expression(original):  # v[:-1].shape, x.T.shape, x.T[0]: read as written
            return updated.with_changes(value=original.value.visit(self))
        resolved = self.normalizer.parsed.resolve(original)
        if resolved.kind == "function":
            return updated  # rewritten by leave_Call
        if resolved.kind == "dtype":
            return cst.parse_expression(resolved.name)
        return self.normalizer.attribute_value(original)

    def _of_an_array_expression(self, node):
        """``.shape``, ``.size``, ``.ndim`` or ``.T`` of a view, a slice or an array method's result."""
        if node.attr.value not in ("shape", "size", "ndim", "T"):
            return False
        value = node.value
        if isinstance(value, cst.Name):
            return node.attr.value == "T" and self.normalizer.parsed.resolve(value).kind == "local"
        return isinstance(value, (cst.Subscript, cst.Attribute, cst.Call)) and self._tuple_part(value) is None

    def visit_Arg(self, node):
        return False  # the keyword of `dtype=...` is no variable: only the value is checked, in leave_Arg

    def leave_Arg(self, original, updated):
        return updated.with_changes(value=original.value.visit(self))

    def visit_Name(self, node):
        return False

    def leave_Name(self, original, updated):
        resolved = self.normalizer.parsed.resolve(original)
        if resolved.kind == "function":
            return updated  # the callee of a call, rewritten by leave_Call
        return self.normalizer.name(original)

    def on_visit(self, node):
        if id(node) in self.locations:
            return False
        if self._tuple_part(node) is not None or self.normalizer.tuples.length(node) is not None:
            return False  # replaced whole in on_leave
        if isinstance(node, cst.Tuple) and self.allow_tuples:
            return True
        if isinstance(
            node,
            (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString, cst.Dict, cst.Set, cst.List, cst.Tuple,
             cst.Lambda, cst.Yield, cst.Await, cst.NamedExpr, cst.ListComp, cst.DictComp,
             cst.SetComp, cst.GeneratorExp, cst.Imaginary),
        ):  # fmt: skip
            raise self.normalizer._unsupported_expression(node)
        return super().on_visit(node)

    def on_leave(self, original, updated):
        part = self._tuple_part(original)
        if part is not None:  # t[0], state.x: the variable holding that part
            return self.normalizer.tuples.one_value(part, original)
        length = self.normalizer.tuples.length(original)
        if length is not None:
            return length
        return super().on_leave(original, updated)

    def _tuple_part(self, node):
        if isinstance(node, (cst.Name, cst.Attribute, cst.Subscript)):
            return self.normalizer.tuples.part(node)
        return None
