"""The statements of the AD-normal form, as later passes see them: one operation per assignment
(``operation_of``), element and region writes (``element_write_of``), the walk over nested blocks,
and which numba types carry derivatives."""

from dataclasses import dataclass, field

import libcst as cst
from numba.core import types as numba_types

from .. import rules
from .precedence import spelled


@dataclass
class Operation:
    """The right-hand side of a normal-form assignment, classified."""

    rule: str | None  # the operation, as rules.rule_for knows it; None for an inactive value
    operands: list = field(default_factory=list)  # atoms (names or numbers)
    index: list = field(default_factory=list)  # for "index": the atoms between the brackets

    def operand_names(self):
        return [a.value for a in self.operands + self.index if isinstance(a, cst.Name)]


def index_atoms(subscript):
    return [element.slice.value for element in subscript.slice]


def index_spelling(subscript):
    """``"i, j"`` for ``a[i, j]``: the element a subscript reads or writes, as one string; None for a
    region (``a[1:]``)."""
    if not all(isinstance(element.slice, cst.Index) for element in subscript.slice):
        return None
    return spelled(cst.Tuple([cst.Element(atom) for atom in index_atoms(subscript)]))


def operation_of(value):
    if isinstance(value, cst.Name) and value.value not in ("True", "False"):
        return Operation("copy", [value])
    if isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Minus):
        if isinstance(value.expression, cst.Name):
            return Operation("neg", [value.expression])
        return Operation(None)
    if isinstance(value, cst.BinaryOperation):
        symbol = rules.operator_symbol(value.operator)
        if symbol in rules.SCALAR_RULES or symbol == "@":
            return Operation(symbol, [value.left, value.right])
        return Operation(None)
    if isinstance(value, cst.Subscript) and isinstance(value.value, cst.Name):
        if is_view_subscript(value):
            return Operation("view", [value.value], _names_in_region(value))
        return Operation("index", [value.value], index_atoms(value))
    if isinstance(value, cst.Attribute) and value.attr.value == "T" and isinstance(value.value, cst.Name):
        return Operation("view", [value.value])
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value in rules.VIEW_METHODS:
        if isinstance(value.func.value, cst.Name) and value.func.value.value not in ("np", "math"):
            kind = "view" if value.func.attr.value in ("reshape", "transpose") else "ravel"
            return Operation(kind, [value.func.value])
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "pop":
        if isinstance(value.func.value, cst.Name) and not value.args:
            return Operation(LIST_POP, [value.func.value])
    if isinstance(value, cst.Call):
        callee = spelled(value.func)
        if callee in rules.VIEW_FUNCTIONS and len(value.args) == 1 and isinstance(value.args[0].value, cst.Name):
            return Operation("view", [value.args[0].value])
        if callee in rules.ARRAY_FILLS:
            fill = [a for a in value.args if a.keyword is None][rules.ARRAY_FILLS[callee]]
            return Operation(callee, [fill.value])
        if callee in rules.ASSEMBLED_RULES and value.args:
            return Operation(callee, [atom for atom, _ in assembled_pieces(value)])
        if rules.is_operation(callee):
            return Operation(callee, [a.value for a in value.args])
    return Operation(None)


LIST_POP = "list pop"  # the Operation of ``y = L.pop()``, L a typed list of arrays


def list_append_of(statement):
    """(list name, appended atom) of ``L.append(a)`` in normal form, else None."""
    if not isinstance(statement, cst.SimpleStatementLine) or not isinstance(statement.body[0], cst.Expr):
        return None
    call = statement.body[0].value
    if (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "append"
            and isinstance(call.func.value, cst.Name) and len(call.args) == 1):
        return call.func.value.value, call.args[0].value
    return None


def assembled_pieces(call):
    """(atom, position) per piece of ``np.array([a, [b, c]])``, ``np.stack((u, v))`` or
    ``np.concatenate((u, v))``: the position is a list of indices into the result, or for
    concatenate the atoms before it (their lengths along the first axis add up to its start)."""
    pieces = []
    for k, element in enumerate(call.args[0].value.elements):
        if isinstance(element.value, (cst.List, cst.Tuple)):
            pieces += [(inner.value, [k, j]) for j, inner in enumerate(element.value.elements)]
        else:
            pieces.append((element.value, [k]))
    if spelled(call.func) == "np.concatenate":
        pieces = [(atom, [a for a, _ in pieces[:k]]) for k, (atom, _) in enumerate(pieces)]
    return pieces


@dataclass
class ElementWrite:
    """``b[i, j] = v``, ``b[i, j] += v`` or ``b[i, j] -= v`` in normal form."""

    array: str
    index: list
    value: cst.BaseExpression
    kind: str  # "=", "+=" or "-="
    region: cst.Subscript | None = None  # for ``b[1:, j] = v``: a region, not one element

    def index_names(self):
        return [a.value for a in self.index if isinstance(a, cst.Name)]


def element_write_of(statement):
    if not isinstance(statement, cst.SimpleStatementLine):
        return None
    small = statement.body[0]
    if isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Subscript):
        target, kind = small.targets[0].target, "="
    elif isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Subscript):
        target, kind = small.target, "+=" if isinstance(small.operator, cst.AddAssign) else "-="
    else:
        return None
    if is_view_subscript(target):
        return ElementWrite(target.value.value, _names_in_region(target), small.value, kind, region=target)
    return ElementWrite(target.value.value, index_atoms(target), small.value, kind)


def _names_in_region(subscript):
    """The variables a region's bounds and indices read, as atoms."""
    found = []

    class Collect(cst.CSTVisitor):
        def visit_Name(self, node):
            if node.value not in ("None", "True", "False"):
                found.append(node)

        def visit_Attribute(self, node):
            return False  # np.int64, x.shape: the variable in x.shape[0] is an array, read as-is

        def visit_Call(self, node):
            for argument in node.args:
                argument.visit(self)
            return False

    for element in subscript.slice:
        element.visit(Collect())
    return found


def name_binding_of(statement):
    """(target name, value) of a line that is one plain assignment to one name, ``x = value``, else None."""
    if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
        return None
    small = statement.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
        return small.targets[0].target.value, small.value
    return None


def assignment_of(statement):
    """(target name, value) of a one-name assignment line, else None."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return None
    small = statement.body[0]
    if isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Name):
        return small.targets[0].target.value, small.value
    return in_place_update_of(statement)


def with_inner_blocks(statement, rewrite):
    """``statement`` with each block inside it (a loop's body, an ``if``'s branches, ``elif`` ones
    included) passed through ``rewrite`` (a list of statements -> a list of statements); a simple
    statement as it is."""
    if isinstance(statement, (cst.For, cst.While)):
        return statement.with_changes(body=statement.body.with_changes(body=rewrite(list(statement.body.body))))
    if isinstance(statement, cst.If):
        orelse = statement.orelse
        if isinstance(orelse, cst.If):
            orelse = with_inner_blocks(orelse, rewrite)
        elif orelse is not None:
            orelse = orelse.with_changes(body=orelse.body.with_changes(body=rewrite(list(orelse.body.body))))
        return statement.with_changes(body=statement.body.with_changes(body=rewrite(list(statement.body.body))), orelse=orelse)
    return statement


def walk(statements, loop_depth=0):
    """Yield (statement, loop_depth) for every statement, depth-first, in order."""
    for statement in statements:
        yield statement, loop_depth
        if isinstance(statement, cst.If) and not is_exit_check(statement):
            yield from walk(statement.body.body, loop_depth)
            if statement.orelse is not None:
                yield from walk(statement.orelse.body.body, loop_depth)
        elif isinstance(statement, (cst.For, cst.While)):
            yield from walk(statement.body.body, loop_depth + 1)


def is_float_type(numba_type):
    """Whether values of this type can carry derivatives: floats, float arrays and typed lists of them."""
    if isinstance(numba_type, numba_types.ListType):
        return is_float_type(numba_type.item_type)
    if isinstance(numba_type, numba_types.Array):
        return isinstance(numba_type.dtype, numba_types.Float)
    return isinstance(numba_type, numba_types.Float) or numba_type is None


def is_float64_vector_type(numba_type):
    return isinstance(numba_type, numba_types.Array) and numba_type.ndim == 1 and numba_type.dtype == numba_types.float64


def is_array_type(numba_type):
    return isinstance(numba_type, numba_types.Array)


def is_gather(operation, types):
    """``x[idx]`` with an array of indices (or a mask) between the brackets: a copy, not a view."""
    return operation.rule == "index" and any(
        isinstance(atom, cst.Name) and is_array_type(types.get(atom.value)) for atom in operation.index
    )


def returned_atoms(body):
    """The atoms the function's final ``return`` gives: one, or the parts of a tuple output."""
    returned = body[-1].body[0].value
    return [e.value for e in returned.elements] if isinstance(returned, cst.Tuple) else [returned]


def in_place_update_of(statement):
    """``x += t`` (any operator) as (``x``, ``x + t``): the same value, computed in place when x is an array."""
    small = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else None
    if isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Name):
        operator = getattr(cst, type(small.operator).__name__.replace("Assign", ""))()
        return small.target.value, cst.BinaryOperation(small.target, operator, small.value)
    return None


def is_exit_check(statement):
    """``if <test>: break`` with nothing else."""
    return (
        isinstance(statement, cst.If)
        and statement.orelse is None
        and len(statement.body.body) == 1
        and isinstance(statement.body.body[0], cst.SimpleStatementLine)
        and isinstance(statement.body.body[0].body[0], cst.Break)
    )


def is_view_subscript(node):
    """Whether ``a[...]`` picks a sub-array (slices, ``None``, ``...``) rather than one element."""
    return any(
        isinstance(e.slice, cst.Slice) or (isinstance(e.slice, cst.Index) and is_none_or_ellipsis(e.slice.value))
        for e in node.slice
    )


def is_none_or_ellipsis(node):
    return isinstance(node, cst.Ellipsis) or (isinstance(node, cst.Name) and node.value == "None")
