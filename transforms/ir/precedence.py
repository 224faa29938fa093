"""Printing that means the tree: every expression srcad prints gets the parentheses Python's
precedence and associativity ask for, whoever built it.

Passes build expressions node by node (``BinaryOperation(UnaryOperation(-, 1), **, i)``), and libcst
prints a node as it is, parentheses only where a node carries them: that tree prints as
``-1 ** i``, which Python reads as ``-(1 ** i)``. So no pass decides parentheses; every printer of
generated code goes through ``spelled`` / ``module_code`` here, which add them where a child binds
more loosely than its place needs (and keep the ones the user wrote).

>>> minus_one = cst.UnaryOperation(cst.Minus(), cst.Integer("1"))
>>> spelled(cst.BinaryOperation(minus_one, cst.Power(), cst.Name("i")))
'(-1) ** i'
"""

import functools

import libcst as cst

# How tightly each kind of expression binds, loosest first (the Python grammar's order).
_TUPLE = 0  # a tuple without its own parentheses
_LAMBDA = 1
_CONDITIONAL = 2  # a if c else b
_OR = 3
_AND = 4
_NOT = 5
_COMPARISON = 6
_BIT_OR = 7
_BIT_XOR = 8
_BIT_AND = 9
_SHIFT = 10
_SUM = 11  # + -
_PRODUCT = 12  # * @ / // %
_UNARY = 13  # -x +x ~x
_POWER = 14
_AWAIT = 15
_PRIMARY = 16  # calls, subscripts, attributes, names, literals, anything in parentheses

_BINARY = {
    cst.BitOr: _BIT_OR, cst.BitXor: _BIT_XOR, cst.BitAnd: _BIT_AND,
    cst.LeftShift: _SHIFT, cst.RightShift: _SHIFT,
    cst.Add: _SUM, cst.Subtract: _SUM,
    cst.Multiply: _PRODUCT, cst.MatrixMultiply: _PRODUCT, cst.Divide: _PRODUCT,
    cst.FloorDivide: _PRODUCT, cst.Modulo: _PRODUCT,
    cst.Power: _POWER,
}  # fmt: skip


def binding(node):
    """How tightly ``node`` binds as printed: parentheses it carries make it an atom."""
    if getattr(node, "lpar", None):
        return _PRIMARY
    if isinstance(node, cst.Tuple):
        return _TUPLE
    if isinstance(node, cst.Lambda):
        return _LAMBDA
    if isinstance(node, cst.IfExp):
        return _CONDITIONAL
    if isinstance(node, cst.BooleanOperation):
        return _OR if isinstance(node.operator, cst.Or) else _AND
    if isinstance(node, cst.UnaryOperation):
        return _NOT if isinstance(node.operator, cst.Not) else _UNARY
    if isinstance(node, cst.Comparison):
        return _COMPARISON
    if isinstance(node, cst.BinaryOperation):
        return _BINARY[type(node.operator)]
    if isinstance(node, cst.Await):
        return _AWAIT
    return _PRIMARY


def _grouped(node):
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def _at_least(node, needed):
    """``node`` in parentheses if it binds more loosely than ``needed``."""
    return _grouped(node) if binding(node) < needed else node


class _Parenthesize(cst.CSTTransformer):
    """Adds the parentheses each place needs, leaves by leaves (children are done first)."""

    def leave_BinaryOperation(self, original, updated):
        level = _BINARY[type(updated.operator)]
        if level == _POWER:  # right-associative; its right side may be unary (2 ** -x)
            return updated.with_changes(left=_at_least(updated.left, _AWAIT), right=_at_least(updated.right, _UNARY))
        return updated.with_changes(left=_at_least(updated.left, level), right=_at_least(updated.right, level + 1))

    def leave_UnaryOperation(self, original, updated):
        needed = _NOT if isinstance(updated.operator, cst.Not) else _UNARY
        return updated.with_changes(expression=_at_least(updated.expression, needed))

    def leave_BooleanOperation(self, original, updated):
        level = binding(updated.with_changes(lpar=[], rpar=[]))
        return updated.with_changes(left=_at_least(updated.left, level), right=_at_least(updated.right, level + 1))

    def leave_Comparison(self, original, updated):
        comparisons = [c.with_changes(comparator=_at_least(c.comparator, _BIT_OR)) for c in updated.comparisons]
        return updated.with_changes(left=_at_least(updated.left, _BIT_OR), comparisons=comparisons)

    def leave_IfExp(self, original, updated):
        return updated.with_changes(
            body=_at_least(updated.body, _OR), test=_at_least(updated.test, _OR), orelse=_at_least(updated.orelse, _CONDITIONAL)
        )

    def leave_Attribute(self, original, updated):
        value = updated.value
        if isinstance(value, cst.Integer) and not value.lpar:  # `1.real` does not parse
            return updated.with_changes(value=_grouped(value))
        return updated.with_changes(value=_at_least(value, _PRIMARY))

    def leave_Subscript(self, original, updated):
        return updated.with_changes(value=_at_least(updated.value, _PRIMARY))

    def leave_Call(self, original, updated):
        return updated.with_changes(func=_at_least(updated.func, _PRIMARY))

    def leave_Await(self, original, updated):
        return updated.with_changes(expression=_at_least(updated.expression, _PRIMARY))

    def leave_Arg(self, original, updated):
        return updated.with_changes(value=_at_least(updated.value, _LAMBDA))

    def leave_Element(self, original, updated):
        return updated.with_changes(value=_at_least(updated.value, _LAMBDA))


def parenthesized(node):
    """``node`` with parentheses wherever printing it as it is would read back as another tree."""
    return node.visit(_Parenthesize())


_PRINTER = cst.Module([])


@functools.lru_cache(maxsize=4096)  # asked of the same nodes again and again; nodes hash by identity
def spelled(node):
    """The source of an expression, statement or block, printed to mean what its tree means."""
    return _PRINTER.code_for_node(parenthesized(node))


def module_code(body):
    """The source of a module of statements ``body``, printed to mean what their trees mean."""
    return parenthesized(cst.Module(body=list(body))).code
