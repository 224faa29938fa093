"""The pieces of a fused run (``fused_loops.py``): the step each elementwise statement of the typed
normal form is (a view, an operation, a write, a sum), and how a run reads an array (``Array``:
per axis of the array, an ``Along`` that follows the loop or a fixed index)."""

import dataclasses

import libcst as cst
from numba.core import types as numba_types

from .. import rules
from ..ir.statements import element_write_of, in_place_update_of, is_array_type, operation_of

# Elementwise operations a loop does not compute on floats: a copy (it names the same memory),
# Python's max and min (not defined on arrays), np.where (its element is ``scalar_where``, see
# ``_where``) and np.clip (numba has no np.clip of floats).
_NOT_FUSED = {"copy", "max", "min", "np.where", "np.clip"}
_COMPARISONS = (cst.LessThan, cst.LessThanEqual, cst.GreaterThan, cst.GreaterThanEqual, cst.Equal, cst.NotEqual)


@dataclasses.dataclass
class _Step:
    statement: cst.SimpleStatementLine
    # "view" (t = a[1:, j]), "op" (t = a * b), "write" (a[1:] = v, a[1:] += v, a += v), "reduce" (s = np.sum(t),
    # or with ``axis`` set, s = np.sum(t, axis=k))
    kind: str
    target: str  # the name bound, or the array written
    rank: int  # of the result, or of the region written
    value: cst.BaseExpression = None  # op: the right-hand side; write: the atom written
    operands: list = dataclasses.field(default_factory=list)  # op: its atoms
    region: list = dataclasses.field(default_factory=list)  # view, write: (kind, ...) per element
    source: str = None  # view: the array viewed
    write_kind: str = "="
    axis: int = None  # reduce: the axis summed along (None: every axis)
    condition: str = None  # op of np.where: the boolean array choosing, a result of the same run


def step_of(statement, types):
    """The step a normal-form statement is in a run, or None where it cannot be one."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    write = element_write_of(statement)
    if write is not None:
        target = statement.body[0].targets[0].target if isinstance(statement.body[0], cst.Assign) else statement.body[0].target
        array_type = types.get(write.array)
        row = write.region is None and is_array_type(array_type) and array_type.ndim > len(write.index)  # f[a_s] -= fs_s
        region = _region(target.slice, array_type, types) if write.region is not None or row else None
        if region is None or not _is_float64_array(types.get(write.array)) or not _is_operand(write.value, types):
            return None
        return _Step(statement, "write", write.array, _rank(region), value=write.value,
                     region=region, write_kind=write.kind)
    update = in_place_update_of(statement)
    if update is not None:
        target, value = update
        if not isinstance(value.operator, (cst.Add, cst.Subtract)) or not _is_float64_array(types.get(target)):
            return None
        if not _is_operand(value.right, types):
            return None
        kind = "+=" if isinstance(value.operator, cst.Add) else "-="
        return _Step(statement, "write", target, types[target].ndim, value=value.right, write_kind=kind)
    small = statement.body[0]
    if not (isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)):
        return None
    target, value = small.targets[0].target.value, small.value
    if (isinstance(value, cst.Call) and code_of(value.func) == "np.sum" and len(value.args) == 1 and value.args[0].keyword is None
            and isinstance(value.args[0].value, cst.Name) and is_float_array(types.get(value.args[0].value.value))
            and types.get(target) == numba_types.float64):
        summed = value.args[0].value
        return _Step(statement, "reduce", target, types[summed.value].ndim, value=summed, operands=[summed])
    along = _summed_along(value, types)
    if along is not None and _is_float64_array(types.get(target)):
        summed, axis = along
        return _Step(statement, "reduce", target, types[summed.value].ndim, value=summed, operands=[summed], axis=axis)
    compared = _compared(value, types)
    if compared is not None and _is_bool_array(types.get(target)):  # t = a > b: a boolean per element
        return _Step(statement, "op", target, types[target].ndim, value=value, operands=compared)
    if not _is_float64_array(types.get(target)):
        return None
    operation = operation_of(value)
    if operation.rule == "np.where":
        return _where(statement, target, value, operation, types)
    rolled = _rolled(value, operation, types)
    if rolled is not None:  # t = np.roll(a, s, axis=k): element j of axis k is a's element (j - s) % n
        source, region = rolled
        return _Step(statement, "view", target, types[target].ndim, region=region, source=source)
    if isinstance(value, cst.Subscript) and operation.rule in ("view", "index") and is_float_array(types.get(value.value.value)):
        region = _region(value.slice, types[value.value.value], types, gathers=True)
        if region is None or _rank(region) != types[target].ndim:
            return None
        return _Step(statement, "view", target, types[target].ndim, region=region, source=value.value.value)
    if (operation.rule in rules.ELEMENTWISE_RULES and operation.rule in rules.SCALAR_RULES
            and operation.rule not in _NOT_FUSED and operation.operands
            and all(_is_operand(atom, types) for atom in operation.operands)
            and _keywords_only_constant(value)):
        return _Step(statement, "op", target, types[target].ndim, value=value, operands=list(operation.operands))
    return None


def _compared(value, types):
    """The two operands of ``a > b`` (one comparison of numbers or float arrays), else None."""
    if not (isinstance(value, cst.Comparison) and len(value.comparisons) == 1
            and isinstance(value.comparisons[0].operator, _COMPARISONS)):
        return None
    operands = [value.left, value.comparisons[0].comparator]
    return operands if all(_is_operand(atom, types) for atom in operands) else None


def _where(statement, target, value, operation, types):
    """``t = np.where(c, a, b)`` of a boolean array ``c`` the run computes: element by element,
    ``scalar_where(c, a, b)`` (srcad.kernels.vectorizable: NumPy's choice of one of two numbers, as
    ``np.where`` of numbers is a 0-d array in numba); None where ``c`` is not a boolean array or the
    choices are not operands."""
    condition, *choices = operation.operands
    if not (len(operation.operands) == 3 and isinstance(condition, cst.Name) and _is_bool_array(types.get(condition.value))
            and all(_is_operand(atom, types) for atom in choices) and _keywords_only_constant(value)):
        return None
    element = value.with_changes(func=cst.Name("scalar_where"))
    return _Step(statement, "op", target, types[target].ndim, value=element, operands=list(operation.operands),
                 condition=condition.value)


def _is_bool_array(numba_type):
    return is_array_type(numba_type) and isinstance(numba_type.dtype, numba_types.Boolean) and numba_type.ndim >= 1


def _rolled(value, operation, types):
    """(the array rolled, its region) of ``roll_along(a, shift, axis)`` or ``np.roll(a, shift)`` of a
    vector, with ("roll", shift) on the axis rolled; None for any other value."""
    if operation.rule not in ("roll_along", "np.roll") or not isinstance(value, cst.Call):
        return None
    array, shift = operation.operands[0], operation.operands[1]
    numba_type = types.get(array.value) if isinstance(array, cst.Name) else None
    if not is_float_array(numba_type) or not is_integer_atom(shift, types):
        return None
    if operation.rule == "np.roll":
        axis = 0 if numba_type.ndim == 1 else None  # (np.roll of a matrix rolls it flattened)
    else:
        axis = integer_literal(operation.operands[2])
    if axis is None or not 0 <= axis < numba_type.ndim:
        return None
    region = [("slice", None, None)] * numba_type.ndim
    region[axis] = ("roll", shift)
    return array.value, region


def _summed_along(value, types):
    """(the array summed, the axis) of ``np.sum(t, axis=k)`` with a literal k; None for anything else."""
    if not (isinstance(value, cst.Call) and code_of(value.func) == "np.sum" and len(value.args) == 2):
        return None
    summed, axis = value.args
    if summed.keyword is not None or not isinstance(summed.value, cst.Name) or axis.keyword is None:
        return None
    numba_type = types.get(summed.value.value)
    literal = integer_literal(axis.value)
    if axis.keyword.value != "axis" or literal is None or not is_float_array(numba_type):
        return None
    if not -numba_type.ndim <= literal < numba_type.ndim or numba_type.ndim < 2:
        return None
    return summed.value, literal % numba_type.ndim


def _is_float64_array(numba_type):
    return is_array_type(numba_type) and numba_type.dtype == numba_types.float64 and numba_type.ndim >= 1


def is_float_array(numba_type):
    return is_array_type(numba_type) and isinstance(numba_type.dtype, numba_types.Float) and numba_type.ndim >= 1


def _is_operand(atom, types):
    """A number, a float or integer variable, or a float array of at least one dimension."""
    if isinstance(atom, (cst.Integer, cst.Float)):
        return True
    if isinstance(atom, cst.UnaryOperation):
        return isinstance(atom.expression, (cst.Integer, cst.Float))
    if not isinstance(atom, cst.Name):
        return False
    numba_type = types.get(atom.value)
    return is_float_array(numba_type) or isinstance(numba_type, (numba_types.Float, numba_types.Integer))


def _keywords_only_constant(value):
    return not isinstance(value, cst.Call) or all(a.keyword is None for a in value.args)


def _region(elements, array_type, types, gathers=False):
    """What each element between the brackets does: ("slice", start, stop) with step 1 (atoms or
    None), ("new",) for None, ("fixed", atom) for an integer, with ``gathers`` ("gather", name) for
    one vector of integers (``x[a]``: element ``x[a[i]]``); None where another kind appears."""
    region = []
    for element in elements:
        index = element.slice
        if isinstance(index, cst.Slice):
            if index.step is not None and not (isinstance(index.step, cst.Integer) and index.step.evaluated_value == 1):
                return None
            bounds = [index.lower, index.upper]
            if not all(bound is None or is_integer_atom(bound, types) for bound in bounds):
                return None
            region.append(("slice", *bounds))
        elif isinstance(index.value, cst.Name) and index.value.value == "None":
            region.append(("new",))
        elif is_integer_atom(index.value, types):
            region.append(("fixed", index.value))
        elif gathers and _is_index_vector(index.value, types) and not any(entry[0] == "gather" for entry in region):
            region.append(("gather", index.value.value))
        else:
            return None
    taken = sum(1 for entry in region if entry[0] != "new")
    if not is_array_type(array_type) or taken > array_type.ndim:
        return None
    return region + [("slice", None, None)] * (array_type.ndim - taken)


def _is_index_vector(atom, types):
    numba_type = types.get(atom.value) if isinstance(atom, cst.Name) else None
    return is_array_type(numba_type) and numba_type.ndim == 1 and isinstance(numba_type.dtype, numba_types.Integer)


def is_integer_atom(atom, types):
    if isinstance(atom, cst.Integer):
        return True
    if isinstance(atom, cst.UnaryOperation) and isinstance(atom.operator, cst.Minus):
        return isinstance(atom.expression, cst.Integer)
    return isinstance(atom, cst.Name) and isinstance(types.get(atom.value), numba_types.Integer)


def _rank(region):
    return sum(1 for entry in region if entry[0] != "fixed")


def integer_literal(atom):
    """The integer an atom spells, or None for a variable."""
    if isinstance(atom, cst.Integer):
        return atom.evaluated_value
    if isinstance(atom, cst.UnaryOperation) and isinstance(atom.expression, cst.Integer):
        return -atom.expression.evaluated_value
    return None

def code_of(node):
    return None if node is None or isinstance(node, str) else cst.Module([]).code_for_node(node)


# -- the arrays a run reads ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Along:
    """A base axis that follows the loop: element ``start + position`` of ``base.shape[base_axis]``
    (``start`` and ``stop`` as written, None where left out); ``key`` is equal for provably equal extents."""

    axis: int  # the array's own axis (before aligning to the loop's last axes)
    base_axis: int
    start: object
    stop: object
    key: tuple
    gather: str = None  # the vector of integers an axis of ``x[a]`` is indexed through
    roll: object = None  # the shift of an axis of ``np.roll(x, shift, axis)``: read at (position - shift) % extent


@dataclasses.dataclass
class Array:
    """An array as the loop reads it: ``base[...]``, per base axis an ``Along`` or a fixed integer
    atom; ``axes`` holds the extent key of each of the array's own axes (("one",) for a None axis)."""

    base: str
    entries: list
    axes: list

    def form(self):
        """What tells two reads of ``base`` apart."""
        return [(e.axis, e.base_axis, code_of(e.start), e.key, e.gather, code_of(e.roll)) if isinstance(e, Along)
                else code_of(e) for e in self.entries]
