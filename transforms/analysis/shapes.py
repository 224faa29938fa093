"""Arrays whose shape is the same at every binding, for one call signature.

A temporary bound in a time loop (``k2 = rhs(x + 0.5 * h * k1)``, ``x = x + h * k``) is a new array
each iteration, but usually of one shape. The reverse sweep restores a rebound array's old binding
when an adjoint reads its values; when none does, it used to restore it anyway, only to start the
old binding's adjoint from zeros of the right shape. If the shape never changes, the current binding
has it too, and nothing need be kept.

Shapes are symbolic: extents of the array arguments (``x0.shape[0]`` is ``("dim", "x0", 0)``),
integer arguments never assigned, integer literals, and integer arithmetic over those. Code made for
calls whose arguments have some equal extents (``x0`` and ``v0`` of one length, a gradient's usual
case) gives those one symbol: then ``x0 + dt * v0`` has the shape of ``x0``, a state bound to such
sums in a time loop keeps one shape, and the element loops need no broadcasting steps. Each binding
is evaluated with every variable holding its candidate shape (or integer value); a variable whose
bindings all give the same one keeps it, else it is unknown, until nothing changes. By induction
over the program's run, a variable that keeps a shape has it at every binding.
"""

import libcst as cst
from numba.core import types as numba_types

from .. import rules
from ..ir.precedence import spelled
from ..ir.statements import assignment_of, in_place_update_of, is_array_type, operation_of, walk
from .fused_steps import integer_literal, is_integer_atom

_UNKNOWN = "unknown"  # a variable bound to values of different (or unknown) shapes

_SAME_SHAPE_AS_OPERANDS = {"copy", "neg", "np.copy", "snapshot", "np.roll", "roll_along", "cumsum_along"}
_LIKE = {"np.zeros_like", "np.ones_like", "np.empty_like", "np.full_like"}
_NEW = {"np.zeros", "np.ones", "np.empty", "np.full"}
_INTEGER_OPERATORS = {cst.Add: "+", cst.Subtract: "-", cst.Multiply: "*", cst.FloorDivide: "//"}


def fixed_shape_arrays(body, parameters, types, equal_extents=None):
    """The array variables (arguments included) whose every binding has one shape."""
    return set(symbolic_shapes(body, parameters, types, equal_extents))


def argument_extents(parameters, types, pattern):
    """``equal_extents`` for ``symbolic_shapes`` from the pattern of a call's equal extents
    (``srcad.argument_types.equal_extents``: per axis of each array parameter, in order, the position
    of the first axis of the same extent): {("dim", array, axis): the symbol of the first such axis}."""
    if pattern is None:
        return {}
    axes = [("dim", name, axis) for name in parameters if is_array_type(types.get(name))
            for axis in range(types[name].ndim)]
    return {axis: axes[first] for axis, first in zip(axes, pattern) if axes[first] != axis}


def symbolic_shapes(body, parameters, types, equal_extents=None):
    """{array variable: its symbolic shape} for the arrays whose every binding has one shape: a
    tuple with one symbol per axis; two axes with equal symbols have equal extents. ``equal_extents``
    ({("dim", array, axis): another such symbol}, from ``argument_extents``): axes of the arguments
    known equal, as code specialized to the call's extents knows them, which share a symbol."""
    equal_extents = equal_extents or {}
    values = {}  # variable -> its symbolic shape (arrays) or value (integers), or _UNKNOWN
    for name in parameters:
        numba_type = types.get(name)
        if is_array_type(numba_type):
            values[name] = tuple(equal_extents.get(("dim", name, axis), ("dim", name, axis))
                                 for axis in range(numba_type.ndim))
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
    if isinstance(value, cst.Call) and spelled(value.func) in _EXTENT_HELPERS:
        return _helper_extent(spelled(value.func), [_bound(a.value, values, types) for a in value.args])
    return _array_shape(value, values, types, result_type)


_EXTENT_HELPERS = {"slice_extent", "broadcast_extent", "conforming"}  # of fused loops (kernels/arrays.py)


def _helper_extent(helper, arguments):
    """The extent a fused loop's helper computes, where its arguments' symbols tell it: a slice
    ``slice_extent(n, s, n)`` or ``slice_extent(n, s, -t)`` (numbers s, t >= 0), the broadcast or
    conforming extent of two equal ones."""
    if helper == "slice_extent":
        length, start, stop = arguments
        if start is not None and start[0] == "const" and start[1] >= 0 and stop is not None and (
                stop == length or (stop[0] == "const" and stop[1] < 0)):
            return dropped(length, start[1] - (0 if stop == length else stop[1]))
        return None
    return arguments[0] if arguments[0] is not None and arguments[0] == arguments[1] else None


def _is_integer_symbol(symbol):
    return isinstance(symbol, tuple) and symbol and symbol[0] in ("const", "int", "dim", "op", "drop", "slice")


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
    if operation.rule == "view" and isinstance(value, cst.Subscript):
        return _view_shape(value, shapes[0], values, types)
    if operation.rule in _AXIS_REDUCTIONS and isinstance(value, cst.Call) and is_array_type(result_type):
        return _reduced_shape(value, shapes[0])
    if operation.rule in rules.MATRIX_PRODUCTS and len(shapes) == 2 and is_array_type(result_type):
        return _product_shape(*shapes)
    if operation.rule == "index":
        return _indexed_shape(operation.index, shapes[0], values, types)
    if is_array_type(result_type) and (operation.rule in rules.RULES or operation.rule in rules.MATRIX_PRODUCTS):
        key = _opaque(value, values, types)
        return None if key is None else tuple((*key, axis) for axis in range(result_type.ndim))
    return None


def _broadcast(shapes):
    """NumPy's broadcasting of operand shapes: axes aligned from the last; an axis of one extent
    everywhere keeps it (an extent of 1 beside others takes theirs), else its extent is the broadcast
    of those extents (one symbol for the set)."""
    rank = max(len(shape) for shape in shapes)
    result = []
    for axis in range(-rank, 0):
        extents = set()
        for shape in shapes:
            if -axis <= len(shape):
                extent = shape[axis]
                extents |= set(extent[1:]) if extent[0] == "bcast" else {extent}
        if len(extents) > 1:
            extents.discard(_ONE)
        result.append(extents.pop() if len(extents) == 1 else ("bcast", *sorted(extents, key=repr)))
    return tuple(result)


_ONE = ("const", 1)
# the normal form's reductions along one axis: np.sum(x, axis=k), and <kind>_along(x, k, keepdims)
_AXIS_REDUCTIONS = {"np.sum", "sum_along", "mean_along", "max_along", "min_along", "prod_along"}


def _view_shape(value, shape, values, types):
    """The shape of a view ``a[...]`` of an array of ``shape``: ``None`` adds an axis of 1, ``:`` keeps
    an axis, a number drops it, ``...`` keeps the axes it stands for; a slice with bounds has an extent
    of its own, the same for the same bounds of the same axis (bounds of known values only)."""
    parts = [element.slice for element in value.slice]
    consuming = sum(1 for p in parts if not (isinstance(p, cst.Index) and (_is_none(p.value) or isinstance(p.value, cst.Ellipsis))))
    result, axis = [], 0
    for part in parts:
        if isinstance(part, cst.Index) and _is_none(part.value):
            result.append(_ONE)
        elif isinstance(part, cst.Index) and isinstance(part.value, cst.Ellipsis):
            kept = len(shape) - consuming
            result += shape[axis:axis + kept]
            axis += kept
        elif axis >= len(shape):
            return None
        elif isinstance(part, cst.Index):
            if not is_integer_atom(part.value, types):
                return None
            axis += 1
        elif isinstance(part, cst.Slice):
            if part.lower is None and part.upper is None and part.step is None:
                result.append(shape[axis])
            else:
                given = (part.lower, part.upper, part.step)
                bounds = [None if b is None else _bound(b, values, types) for b in given]
                if any(g is not None and not _is_integer_symbol(b) for b, g in zip(bounds, given)):
                    return None  # a bound of a value not known
                result.append(_sliced_extent(shape[axis], *bounds))
            axis += 1
        else:
            return None
    return tuple(result) + tuple(shape[axis:])


def _sliced_extent(extent, lower, upper, step):
    """The symbol of an axis sliced by known bounds. ``a[s:-t]`` has ``max(0, n - s - t)`` elements for
    numbers s, t >= 0 (``u[2:]``, ``u[:-2]`` and ``u[1:-1]`` alike): one symbol per amount dropped."""
    start = 0 if lower is None else (lower[1] if lower[0] == "const" and lower[1] >= 0 else None)
    end = 0 if upper is None else (-upper[1] if upper[0] == "const" and upper[1] < 0 else None)
    if step is None and start is not None and end is not None:
        return dropped(extent, start + end)
    return ("slice", extent, lower, upper, step)


def dropped(extent, count):
    """The symbol of an axis of extent ``extent`` with ``count`` elements sliced off (none left where
    it has fewer): one symbol for every way of getting there (``a[1:][1:]``, ``a[2:]``)."""
    if count == 0:
        return extent
    if isinstance(extent, tuple) and extent[0] == "drop":
        return ("drop", extent[1], extent[2] + count)
    return ("drop", extent, count)


def _bound(node, values, types):
    """A slice bound's symbol: a number (``-1`` too), or an integer's known value; None if unknown."""
    literal = integer_literal(node)
    return ("const", literal) if literal is not None else _evaluate(node, values, types)


def _indexed_shape(index, shape, values, types):
    """``a[i]`` (a row), ``a[idx]`` and ``a[idx, 0]`` (a gather: the index arrays' broadcast shape, then
    the axes not indexed); None for a boolean mask (as many elements as it holds True)."""
    index_shapes = []
    for atom in index:
        if is_integer_atom(atom, types):
            continue
        numba_type = types.get(atom.value) if isinstance(atom, cst.Name) else None
        if not (is_array_type(numba_type) and isinstance(numba_type.dtype, numba_types.Integer)):
            return None
        index_shapes.append(_known(values.get(atom.value)))
    if any(s is None for s in index_shapes) or len(index) > len(shape):
        return None
    gathered = _broadcast(index_shapes) if index_shapes else ()
    return gathered + shape[len(index):]


def _is_none(node):
    return isinstance(node, cst.Name) and node.value == "None"


def _reduced_shape(call, shape):
    """``np.sum(x, axis=k)`` and ``max_along(x, k, keepdims)``: the shape without axis k (an axis of 1
    with keepdims)."""
    positional = [a.value for a in call.args if a.keyword is None]
    axis = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "axis"),
                positional[1] if len(positional) > 1 else None)
    k = None if axis is None else integer_literal(axis)
    if k is None or not -len(shape) <= k < len(shape):
        return None
    k %= len(shape)
    keep = positional[2] if len(positional) > 2 else None
    kept = (_ONE,) if isinstance(keep, cst.Name) and keep.value == "True" else ()
    return shape[:k] + kept + shape[k + 1:]


def _product_shape(left, right):
    """``a @ b`` (``np.dot``, ``np.matmul``) of vectors and matrices."""
    if len(left) == 2 and len(right) == 2:
        return (left[0], right[1])
    if len(left) == 2 and len(right) == 1:
        return (left[0],)
    if len(left) == 1 and len(right) == 2:
        return (right[1],)
    return None


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
