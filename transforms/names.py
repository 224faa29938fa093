"""Fresh, readable names for generated variables (``x_adj``, ``sin_t``, ``x_times_y``)."""

import builtins
import keyword
import re

import libcst as cst

_OPERATOR_WORDS = {
    "+": "plus", "-": "minus", "*": "times", "/": "over", "//": "floordiv",
    "%": "mod", "**": "pow", "neg": "neg", "@": "matmul",
}  # fmt: skip
_LONGEST = 24


class NameFactory:
    """Hands out names that collide neither with the user's names nor with each other."""

    def __init__(self, taken):
        self.taken = set(taken) | set(dir(builtins))

    def reserve(self, name):
        self.taken.add(name)

    def fresh(self, hint):
        base = re.sub(r"\W+", "_", hint).strip("_") or "t"
        if base[0].isdigit():
            base = "t" + base
        candidate, counter = base, 1
        while candidate in self.taken or keyword.iskeyword(candidate):
            counter += 1
            candidate = f"{base}_{counter}"
        self.taken.add(candidate)
        return candidate


def describe(node):
    """A short name hint saying what a (flattened) expression computes: ``x_times_y``,
    ``sin_t``; past a couple of dozen characters, just what it is: ``product``."""
    hint = _spell(node)
    if len(hint) <= _LONGEST:
        return hint
    if isinstance(node, cst.BinaryOperation):
        from srcad.transforms.rules import operator_symbol

        return _OPERATION_NOUNS.get(operator_symbol(node.operator), "value")
    if isinstance(node, cst.Call):
        return _spell(node.func)
    return "value"


_OPERATION_NOUNS = {
    "+": "total", "-": "difference", "*": "product", "/": "quotient", "//": "floor_quotient",
    "%": "remainder", "**": "power",
}  # fmt: skip


def _spell(node):
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, (cst.Integer, cst.Float)):
        text = node.value[:-2] if node.value.endswith(".0") else node.value
        return text.replace(".", "_").replace("-", "neg")
    if isinstance(node, cst.Attribute):
        if isinstance(node.value, cst.Name) and node.value.value not in ("math", "np", "srcad"):
            return f"{node.value.value}_{node.attr.value}"  # x.shape -> x_shape
        return node.attr.value
    if isinstance(node, cst.Subscript):  # x[i, j] -> x_i_j
        indices = [_spell(e.slice.value) for e in node.slice if isinstance(e.slice, cst.Index)]
        return "_".join([_spell(node.value)] + indices)
    if isinstance(node, cst.UnaryOperation):
        return "neg_" + _spell(node.expression)
    if isinstance(node, cst.BinaryOperation):
        from srcad.transforms.rules import operator_symbol

        symbol = operator_symbol(node.operator)
        left, right = node.left, node.right
        if isinstance(left, (cst.Integer, cst.Float)):
            if symbol not in ("+", "*"):
                return _OPERATION_NOUNS.get(symbol, "value")
            left, right = right, left  # `0.5 * x` reads as x_times_0_5
        return f"{_spell(left)}_{_OPERATOR_WORDS.get(symbol, 'op')}_{_spell(right)}"
    if isinstance(node, cst.Call):
        name = _spell(node.func)
        if len(node.args) == 1:
            return f"{name}_{_spell(node.args[0].value)}"
        return name
    if isinstance(node, cst.Comparison):
        return "test"
    return "t"
