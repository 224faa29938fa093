"""Rule templates as code: placeholders (``x``, ``y_adj``, ``a_dot``) replaced by the names of
the generated code, constants folded (``2 * x ** (2 - 1)`` becomes ``2 * x``), and which
placeholders a template mentions. The templates themselves are in ````."""

import functools

import libcst as cst


def operator_symbol(node):
    """The rule key of a libcst binary or unary operator node."""
    return _OPERATOR_SYMBOLS.get(type(node))


_OPERATOR_SYMBOLS = {
    cst.Add: "+",
    cst.Subtract: "-",
    cst.Multiply: "*",
    cst.Divide: "/",
    cst.FloorDivide: "//",
    cst.Modulo: "%",
    cst.Power: "**",
    cst.MatrixMultiply: "@",
    cst.Minus: "neg",
}


@functools.lru_cache(maxsize=None)
def _parsed_template(template):
    return cst.parse_expression(template.replace("_sign(x)", _SIGN))


class _Substitute(cst.CSTTransformer):
    def __init__(self, bindings):
        self.bindings = bindings

    def leave_Name(self, original, updated):
        replacement = self.bindings.get(original.value)
        if replacement is None:
            return updated
        if isinstance(replacement, cst.UnaryOperation) or (
            isinstance(replacement, (cst.Integer, cst.Float)) and replacement.value.startswith("-")
        ):
            return replacement.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return replacement


_SIGN = "(1.0 if x > 0 else (-1.0 if x < 0 else 0.0))"


def instantiate(template, **bindings):
    """The expression ``template`` with placeholders replaced by CST nodes or names.

    >>> from srcad.transforms.precedence import spelled
    >>> spelled(instantiate("y_adj * math.cos(x)", y_adj="s_adj", x="t"))
    's_adj * math.cos(t)'
    """
    nodes = {key: cst.Name(value) if isinstance(value, str) else value for key, value in bindings.items()}
    return _parsed_template(template).visit(_Substitute(nodes)).visit(_FoldConstants())


class _FoldConstants(cst.CSTTransformer):
    """``2 * x ** (2 - 1)`` reads better, and runs faster, as ``2 * x``."""

    def leave_Comparison(self, original, updated):
        left = _number(updated.left)
        if len(updated.comparisons) == 1 and left is not None:
            right = _number(updated.comparisons[0].comparator)
            compare = _COMPARISONS.get(type(updated.comparisons[0].operator))
            if right is not None and compare is not None:
                return cst.Name(repr(compare(left, right)))
        return updated

    def leave_BooleanOperation(self, original, updated):
        if isinstance(updated.operator, cst.Or) and _is_true(updated.right):
            return cst.Name("True")
        if isinstance(updated.operator, cst.Or) and _is_true(updated.left):
            return cst.Name("True")
        return updated

    def leave_IfExp(self, original, updated):
        if _is_true(updated.test) or _is_false(updated.test):
            chosen = updated.body if _is_true(updated.test) else updated.orelse
            return chosen.with_changes(lpar=updated.lpar, rpar=updated.rpar) if updated.lpar else chosen
        return updated

    def leave_BinaryOperation(self, original, updated):
        left, right = _number(updated.left), _number(updated.right)
        symbol = operator_symbol(updated.operator)
        if left is not None and right is not None and symbol in ("+", "-", "*"):
            value = {"+": left + right, "-": left - right, "*": left * right}[symbol]
            if value >= 0:
                return cst.Integer(str(value)) if isinstance(value, int) else cst.Float(repr(value))
        if symbol == "**" and right == 1:
            return updated.left
        return updated


def _number(node):
    if isinstance(node, (cst.Integer, cst.Float)):
        return node.evaluated_value
    return None


def _is_true(node):
    return isinstance(node, cst.Name) and node.value == "True"


def _is_false(node):
    return isinstance(node, cst.Name) and node.value == "False"


_COMPARISONS = {
    cst.GreaterThanEqual: lambda a, b: a >= b,
    cst.GreaterThan: lambda a, b: a > b,
    cst.LessThan: lambda a, b: a < b,
    cst.LessThanEqual: lambda a, b: a <= b,
    cst.Equal: lambda a, b: a == b,
    cst.NotEqual: lambda a, b: a != b,
}


def template_uses(template, placeholder):
    """Whether ``template`` mentions ``placeholder`` (e.g. whether a rule needs ``y``)."""
    return placeholder in _template_names(template)


@functools.lru_cache(maxsize=None)
def _template_names(template):
    names = set()

    class Collect(cst.CSTVisitor):
        def visit_Name(self, node):
            names.add(node.value)

    _parsed_template(template).visit(Collect())
    return frozenset(names)
