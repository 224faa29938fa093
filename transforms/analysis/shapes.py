"""Arrays whose shape is the same at every binding, for one call signature.

A temporary bound in a time loop (``k2 = rhs(x + 0.5 * h * k1)``, ``x = x + h * k``) is a new array
each iteration, but usually of one shape. The reverse sweep restores a rebound array's old binding
when an adjoint reads its values; when none does, it used to restore it anyway, only to start the
old binding's adjoint from zeros of the right shape. If the shape never changes, the current binding
has it too, and nothing need be kept.

Shapes are symbolic: extents of the array arguments (``x0.shape[0]`` is ``("dim", "x0", 0)``),
integer arguments never assigned, integer literals, and integer arithmetic over those. Each binding
is evaluated with every variable holding its candidate shape (or integer value); a variable whose
bindings all give the same one keeps it, else it is unknown, until nothing changes. By induction
over the program's run, a variable that keeps a shape has it at every binding.
"""

import libcst as cst
from numba.core import types as numba_types

from .. import rules
from ..ir.precedence import spelled
from ..ir.statements import assignment_of, in_place_update_of, is_array_type, operation_of, walk

_UNKNOWN = "unknown"  # a variable bound to values of different (or unknown) shapes

_SAME_SHAPE_AS_OPERANDS = {"copy", "neg", "np.copy", "snapshot"}
_LIKE = {"np.zeros_like", "np.ones_like", "np.empty_like", "np.full_like"}
_NEW = {"np.zeros", "np.ones", "np.empty", "np.full"}
_INTEGER_OPERATORS = {cst.Add: "+", cst.Subtract: "-", cst.Multiply: "*", cst.FloorDivide: "//"}


def fixed_shape_arrays(body, parameters, types):
    """The array variables (arguments included) whose every binding has one shape."""
    return set(symbolic_shapes(body, parameters, types))


def symbolic_shapes(body, parameters, types):
    """{array variable: its symbolic shape} for the arrays whose every binding has one shape: a
    tuple with one symbol per axis; two axes with equal symbols have equal extents."""
    values = {}  # variable -> its symbolic shape (arrays) or value (integers), or _UNKNOWN
    for name in parameters:
        numba_type = types.get(name)
        if is_array_type(numba_type):
            values[name] = tuple(("dim", name, axis) for axis in range(numba_type.ndim))
        elif isinstance(numba_type, numba_types.Integer):
            values[name] = ("int", name)
    bindings = _bindings(body, types)
    changed = True
    while changed:
        changed = False
        for target, value in bindings:
            if values.get(target) == _UNKNOWN:
                continue
            symbol = _UNKNOWN if value is None else _evaluate(value, values, types, types.get(target))
            if symbol is None:
                symbol = _UNKNOWN
            if target not in values:
                values[target] = symbol
                changed = True
            elif values[target] != symbol:
                values[target] = _UNKNOWN
                changed = True
    return {
        name: shape for name, shape in values.items()
        if is_array_type(types.get(name)) and shape != _UNKNOWN
    }


def _bindings(body, types):
    """(name, value) for every binding of a variable; value None where it is not a plain assignment
    (a loop's index, an integer updated in place, a name bound some other way)."""
    found = []
    for statement, _ in walk(body):
        if isinstance(statement, cst.For):
            found += [(name.value, None) for name in _names_bound_by(statement.target)]
            continue
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        update = in_place_update_of(statement)
        if update is not None:  # x += t keeps an array's shape, and changes an integer's value
            found += [] if is_array_type(types.get(update[0])) else [(update[0], None)]
            continue
        target_value = assignment_of(statement)
        if target_value is not None:
            found.append(target_value)
            continue
        for small in statement.body:
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else (
                [small.target] if isinstance(small, (cst.AugAssign, cst.AnnAssign)) else [])
            for target in targets:
                found += [(name.value, None) for name in _names_bound_by(target)]
    return found


def _names_bound_by(target):
    if isinstance(target, cst.Name):
        return [target]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [name for element in target.elements for name in _names_bound_by(element.value)]
    return []  # a subscript or attribute binds no variable


def _evaluate(value, values, types, result_type=None):
    """The symbolic shape (array) or value (integer) of a normal-form right-hand side, or None."""
    if isinstance(value, cst.Integer):
        return ("const", value.evaluated_value)
    if isinstance(value, cst.Name):
        return values.get(value.value)
    if isinstance(value, cst.Subscript) and isinstance(value.value, cst.Attribute) and value.value.attr.value == "shape":
        return _extent(value, values)
    if isinstance(value, cst.BinaryOperation) and type(value.operator) in _INTEGER_OPERATORS:
        left, right = _evaluate(value.left, values, types), _evaluate(value.right, values, types)
        if _is_integer_symbol(left) and _is_integer_symbol(right):
            return ("op", _INTEGER_OPERATORS[type(value.operator)], left, right)
    if isinstance(value, cst.Call) and spelled(value.func) == "len" and len(value.args) == 1:
        shape = _known(_evaluate(value.args[0].value, values, types))
        return shape[0] if shape else None
    return _array_shape(value, values, types, result_type)


def _is_integer_symbol(symbol):
    return isinstance(symbol, tuple) and symbol and symbol[0] in ("const", "int", "dim", "op")


def _extent(subscript, values):
    """``x.shape[k]`` of an array of known shape."""
    owner = subscript.value.value
    if not isinstance(owner, cst.Name) or len(subscript.slice) != 1:
        return None
    shape = values.get(owner.value)
    axis = subscript.slice[0].slice
    if not (isinstance(shape, tuple) and _is_shape(shape) and isinstance(axis, cst.Index)
            and isinstance(axis.value, cst.Integer)):
        return None
    k = axis.value.evaluated_value
    return shape[k] if -len(shape) <= k < len(shape) else None


def _is_shape(symbol):
    return isinstance(symbol, tuple) and all(isinstance(e, tuple) for e in symbol) and not _is_integer_symbol(symbol)


def _array_shape(value, values, types, result_type):
    if isinstance(value, cst.Call):
        callee = spelled(value.func)
        positional = [a.value for a in value.args if a.keyword is None]
        if callee in _NEW and positional:
            return _shape_argument(positional[0], values, types)
        if callee in _LIKE and positional:
            return _known(_evaluate(positional[0], values, types))
    operation = operation_of(value)
    if operation.rule is None:
        return None
    arrays = [a for a in operation.operands if isinstance(a, cst.Name) and is_array_type(types.get(a.value))]
    shapes = [_known(values.get(a.value)) for a in arrays]
    if any(shape is None for shape in shapes) or not shapes:
        return None
    if operation.rule in _SAME_SHAPE_AS_OPERANDS or (
            operation.rule in rules.ELEMENTWISE_RULES and operation.rule not in rules.NOT_BROADCAST):
        return _broadcast(shapes)
    if operation.rule == "index" and not any(
            isinstance(a, cst.Name) and not isinstance(types.get(a.value), numba_types.Integer) for a in operation.index):
        return shapes[0][len(operation.index):]  # A[i] of a matrix: a row
    if operation.rule == "index" and any(
            isinstance(a, cst.Name) and isinstance(getattr(types.get(a.value), "dtype", None), numba_types.Boolean)
            for a in operation.index):
        return None  # x[mask]: as many elements as the mask holds True
    if is_array_type(result_type) and (operation.rule in rules.RULES or operation.rule in rules.MATRIX_PRODUCTS):
        key = _opaque(value, values, types)
        return None if key is None else tuple((*key, axis) for axis in range(result_type.ndim))
    return None


def _broadcast(shapes):
    """NumPy's broadcasting of operand shapes: axes aligned from the last; an axis of one extent
    everywhere keeps it, else its extent is the broadcast of those extents (one symbol for the set)."""
    rank = max(len(shape) for shape in shapes)
    result = []
    for axis in range(-rank, 0):
        extents = set()
        for shape in shapes:
            if -axis <= len(shape):
                extent = shape[axis]
                extents |= set(extent[1:]) if extent[0] == "bcast" else {extent}
        result.append(extents.pop() if len(extents) == 1 else ("bcast", *sorted(extents, key=repr)))
    return tuple(result)


def _opaque(value, values, types):
    """Any other operation whose result's shape follows from its operands' shapes and integers (a
    slice, a reduction along an axis, a matrix product...): the expression with each variable replaced
    by its shape or integer value. A float operand might decide a shape: then none is known."""
    symbols = []

    class Abstract(cst.CSTTransformer):
        def leave_Name(self, original, updated):
            if original.value not in types:
                return updated
            numba_type = types[original.value]
            symbol = values.get(original.value)
            if is_array_type(numba_type):
                symbol = _known(symbol)
            elif not (isinstance(numba_type, numba_types.Integer) and _is_integer_symbol(symbol)):
                symbol = None
            symbols.append(symbol)
            return cst.Name(f"_{len(symbols) - 1}")

    code = spelled(value.visit(Abstract()))
    return None if any(symbol is None for symbol in symbols) else ("of", code, tuple(symbols))


def _known(shape):
    return shape if isinstance(shape, tuple) and _is_shape(shape) else None


def _shape_argument(atom, values, types):
    """np.zeros(n) or np.zeros((n, m))."""
    if isinstance(atom, (cst.Tuple, cst.List)):
        extents = [_evaluate(e.value, values, types) for e in atom.elements]
        return tuple(extents) if all(_is_integer_symbol(e) for e in extents) else None
    extent = _evaluate(atom, values, types)
    return (extent,) if _is_integer_symbol(extent) else None
