"""Fresh, readable names for generated variables (``x_adj``, ``sin_t``, ``x_times_y``)."""

import builtins
import keyword
import re

import libcst as cst

from ..rules import operator_symbol
from . import all_names

_OPERATOR_WORDS = {
    "+": "plus", "-": "minus", "*": "times", "/": "over", "//": "floordiv",
    "%": "mod", "**": "pow", "neg": "neg", "@": "matmul",
}  # fmt: skip
_LONGEST = 24
# What generated modules import from srcad.kernels (see output/emit.py).
RUNTIME_FUNCTIONS = ("new_float_stack", "new_int_stack", "reserve", "empty_list_like", "segment_length", "within_budget",
                     "kept_bytes", "forget_from")
ARRAY_HELPERS = (
    "unbroadcast", "at_first", "products_of_others", "cumsum_adjoint", "sum_along", "mean_along", "max_along",
    "min_along", "prod_along", "spread_along", "at_first_along", "products_of_others_along",
    "products_of_others_along_tangent", "keep_dims",
    "cumsum_along", "cumsum_adjoint_along", "roll_along", "diff_adjoint", "scatter_add", "scattered", "at_last_writes", "snapshot",
    "times_transpose", "integer_power", "zeroed", "zeroed_to", "recycled_zeros",
    "slice_start", "slice_extent", "broadcast_extent", "broadcast_step", "conforming", "roll_offset", "rolled_position",
)  # fmt: skip
# exp, log, tanh and sums LLVM vectorizes (srcad.kernels.vectorizable), called by generated CPU code
VECTORIZABLE_FUNCTIONS = ("simd_exp", "simd_log", "simd_tanh", "sum_in_any_order", "scalar_where")
# Module-level names of generated code: no generated variable may shadow them.
GENERATED_MODULE_NAMES = {"math", "np", "srcad", *RUNTIME_FUNCTIONS, *ARRAY_HELPERS, *VECTORIZABLE_FUNCTIONS}


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
        return ("not_" if isinstance(node.operator, (cst.BitInvert, cst.Not)) else "neg_") + _spell(node.expression)
    if isinstance(node, cst.BinaryOperation):
        symbol = operator_symbol(node.operator)
        left, right = node.left, node.right
        if isinstance(left, (cst.Integer, cst.Float)):
            if symbol not in ("+", "*"):
                return _OPERATION_NOUNS.get(symbol, "value")
            left, right = right, left  # `0.5 * x` reads as x_times_0_5
        return f"{_spell(left)}_{_OPERATOR_WORDS.get(symbol, 'op')}_{_spell(right)}"
    if isinstance(node, cst.Call):
        name = _spell(node.func)
        if name.endswith("_along"):  # max_along(z, 1, True) -> max_z
            name = name[: -len("_along")]
            return f"{name}_{_spell(node.args[0].value)}"
        if len(node.args) == 1:
            return f"{name}_{_spell(node.args[0].value)}"
        return name
    if isinstance(node, cst.Comparison):
        return "test"
    return "t"


def rename_clashing_locals(definition, local_names):
    """The normalized ``definition`` with user variables named like a module-level name of the
    generated code (``push = ...``) renamed (``push_var``), and the renaming {old: new}."""
    clashing = set(local_names) & GENERATED_MODULE_NAMES
    if not clashing:
        return definition, {}
    factory = NameFactory(all_names(definition) | GENERATED_MODULE_NAMES)
    renamed = {name: factory.fresh(f"{name}_var") for name in sorted(clashing)}
    return renamed_in(definition, renamed), renamed


def renamed_in(node, renamed):
    """``node`` with the variables in ``renamed`` ({old: new name, or an expression to put in its
    place}) replaced; attribute names (``np.sum``) and keywords (``axis=1``) are no variables and stay."""

    class Rename(cst.CSTTransformer):
        def visit_Attribute(self, node):
            return False

        def leave_Attribute(self, original, updated):
            return updated.with_changes(value=original.value.visit(self))

        def visit_Arg(self, node):
            return False

        def leave_Arg(self, original, updated):
            return updated.with_changes(value=original.value.visit(self))

        def leave_Name(self, original, updated):
            replacement = renamed.get(updated.value, updated.value)
            return updated.with_changes(value=replacement) if isinstance(replacement, str) else replacement

    return node.visit(Rename())
