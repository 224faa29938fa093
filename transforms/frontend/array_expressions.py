"""Array expressions, as a part of normalization: element reads (``a[i, j]``), views (``a[1:, j]``),
array methods (``x.sum(axis=0)``, ``a.reshape(n, 2)``), reductions along an axis, ``np.roll``,
arrays assembled from pieces (``np.array([a, b])``, ``np.stack``), fills and conversions, each
written in the normal form with its operands flattened to atoms (``normalizer.operand``) and its
value bound to a name (``normalizer.result``). Arguments that only pick elements (bounds, axes,
shapes) are copied as they are written; an axis must be a number.
"""

import libcst as cst

from srcad.structure import NeedsStructures

from .. import rules
from ..ir import call
from ..ir.precedence import spelled
from ..ir.statements import is_none_or_ellipsis


def element(normalizer, node, statements):
    """``a[i, j]`` with the array a local name and each index an atom. ``a[i][j]`` reads as ``a[i, j]``
    where ``i`` is surely one integer; with an index array, ``a[idx][j]`` is row ``idx[j]``, which
    ``a[idx, j]`` is not: there the row ``a[idx]`` is read first, as any other operand."""
    if isinstance(node.value, cst.Subscript) and all(
            isinstance(e.slice, cst.Index) and _one_integer(normalizer.parsed, e.slice.value) for e in node.value.slice):
        node = node.with_changes(value=node.value.value, slice=list(node.value.slice) + list(node.slice))
    if isinstance(node.value, cst.Name) and normalizer.parsed.resolve(node.value).kind == "constant array":
        normalizer.name(node.value)  # a module-level table, read only
    elif not (isinstance(node.value, cst.Name) and normalizer.parsed.resolve(node.value).kind == "local"):
        if isinstance(node.value, cst.Name):  # WEIGHTS[1] with WEIGHTS a global list, dict, array...
            value = normalizer.parsed.resolve(node.value).value
            what = f"a {type(value).__name__}" if value is not None else "not a local variable"
            constant = " or make it a tuple of numbers (read as a constant)" if isinstance(value, list) else ""
            raise normalizer.error(
                f"srcad cannot index {node.value.value!r} ({what} from outside the function): a differentiated "
                "function reads arrays from its arguments",
                node.value,
                f"Pass it in as an argument (as a NumPy array: np.asarray(...)){constant}, or pass the numbers it holds.",
            )
        if not isinstance(node.value, (cst.Attribute, cst.Subscript, cst.Call, cst.BinaryOperation)):
            raise normalizer.error(
                "srcad can only index arrays held in local variables or arguments",
                node.value,
                "Assign the array to a variable first.",
            )
        node = node.with_changes(value=normalizer.operand(node.value, statements))  # A.T[1], (a * b)[i]
    indices = []
    for element in node.slice:
        if not isinstance(element.slice, cst.Index) or element.slice.star is not None:
            raise normalizer.error(
                "srcad cannot differentiate slices yet",
                element,
                "Index single elements in a loop: 'for i in range(n): ... a[i] ...'.",
            )
        index = element.slice.value
        if isinstance(index, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
            raise normalizer.error(
                f"srcad cannot differentiate through a dict ({spelled(node)}): its items cannot carry derivatives",
                node,
                "Use a NamedTuple for named parts (class Params(NamedTuple): k: float, then params.k), "
                "or pass the numbers as separate arguments.",
            )
        if isinstance(index, (cst.BooleanOperation, cst.UnaryOperation)) and not isinstance(
            getattr(index, "operator", None), (cst.Minus, cst.Plus, cst.BitInvert)
        ):
            raise normalizer.error(
                "'and', 'or' and 'not' do not combine arrays of booleans elementwise",
                index,
                "Combine masks with &, | and ~: x[(x > 0) & (x < 1)].",
            )
        if isinstance(index, cst.Comparison) or (
            isinstance(index, cst.BinaryOperation) and isinstance(index.operator, (cst.BitAnd, cst.BitOr, cst.BitXor))
        ) or (isinstance(index, cst.UnaryOperation) and isinstance(index.operator, cst.BitInvert)):
            indices.append(normalizer.result(normalizer.inactive(index, statements=statements), statements, None))  # a mask
            continue
        if isinstance(index, cst.List):  # B[[1, 0]]: NumPy's index array, written as a list
            raise normalizer.error(
                "srcad does not read a list as an index", index,
                f"Index with an array of integers, which srcad reads as NumPy reads the list: "
                f"{spelled(node.value)}[np.array({spelled(index)})].")
        if isinstance(index, cst.Tuple) or (
            isinstance(index, cst.Name) and index.value == "None"
        ):
            raise normalizer.error("srcad supports integer indices only here", index, "Index with integers.")
        indices.append(normalizer.operand(index, statements))
    return cst.Subscript(
        value=node.value.with_changes(lpar=[], rpar=[]),
        slice=[cst.SubscriptElement(cst.Index(atom)) for atom in indices],
    )

_INTEGER_OPERATORS = (cst.Add, cst.Subtract, cst.Multiply, cst.FloorDivide, cst.Modulo)


def _one_integer(parsed, index):
    """Whether ``index`` is surely one integer, not an array: a number, a ``for`` variable over a
    ``range`` bound nowhere else (``parsed.range_counters``), or integer arithmetic of these."""
    if isinstance(index, cst.Integer):
        return True
    if isinstance(index, cst.UnaryOperation) and isinstance(index.operator, (cst.Minus, cst.Plus)):
        return _one_integer(parsed, index.expression)
    if isinstance(index, cst.BinaryOperation) and isinstance(index.operator, _INTEGER_OPERATORS):
        return _one_integer(parsed, index.left) and _one_integer(parsed, index.right)
    return isinstance(index, cst.Name) and index.value in parsed.range_counters


def view(normalizer, node, statements):
    """``a[1:, j]``, ``a[:, None]``, ``a[..., ::2]``: the array flattened to an atom, the
    bounds and indices copied (they only pick the elements; the reverse sweep never reads them)."""
    array = normalizer.operand(node.value, statements)
    elements = []
    for element in node.slice:
        if element.slice.__class__ is cst.Slice:
            bounds = {
                part: normalizer.inactive(getattr(element.slice, part))
                for part in ("lower", "upper", "step")
                if getattr(element.slice, part) is not None
            }
            elements.append(element.with_changes(slice=element.slice.with_changes(**bounds)))
        elif is_none_or_ellipsis(element.slice.value):
            elements.append(element)
        else:
            elements.append(element.with_changes(slice=cst.Index(normalizer.inactive(element.slice.value))))
    elements[-1] = elements[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return cst.Subscript(value=array, slice=elements)

def method_call(normalizer, node, statements, into):
    method = node.func.attr.value
    if method == "pop" and not node.args and normalizer.is_typed_list(node.func.value):
        return normalizer.result(cst.Call(cst.Attribute(normalizer.name(node.func.value), cst.Name("pop"))), statements, into)
    if method in rules.VIEW_METHODS and not any(a.star or a.keyword for a in node.args):
        array = normalizer.operand(node.func.value, statements)
        shape = [a.with_changes(value=normalizer.inactive(a.value, allow_tuples=True)) for a in node.args]
        viewed = cst.Call(cst.Attribute(array, cst.Name(method)), shape)
        return normalizer.result(viewed, statements, into)
    if f"np.{method}" in rules.REDUCTIONS:  # x.sum(axis=0) is np.sum(x, axis=0)
        return reduction(normalizer, node, f"np.{method}", node.func.value, list(node.args), statements, into)
    function = {"copy": "np.copy", "dot": "np.dot", "trace": "np.trace", "var": "np.var", "std": "np.std",
                "cumsum": "np.cumsum"}.get(method)
    if function is not None and not any(a.keyword or a.star for a in node.args):
        array = normalizer.operand(node.func.value, statements)
        arguments = [array] + [normalizer.operand(a.value, statements) for a in node.args]
        if len(arguments) == len(rules.rule_for(function).operands):
            return normalizer.result(call(function, *arguments), statements, into)
    if method == "_replace" and normalizer.lenient:
        raise NeedsStructures(method)  # state._replace(...): a NamedTuple argument, perhaps
    advice = {
        "item": "An element x[i] is already a number: drop '.item()'.",
        "tolist": "Keep the array: srcad differentiates arrays, not lists.",
        "astype": "Differentiated arrays stay float; for indices, compute them with int(...) or pass an int array.",
    }.get(method, "Write it with NumPy functions, or as a loop over the elements.")
    raise normalizer.error(f"srcad cannot differentiate the method '.{method}()'", node, advice)

def reduction(normalizer, node, callee, array, arguments, statements, into):
    """``np.sum(x)``, ``np.max(x)``, ``x.mean()``, and ``np.sum(x, axis=k)`` with k a number or a
    tuple of numbers."""
    axis, keepdims = None, cst.Name("False")
    for position, argument in enumerate(arguments):
        keyword = argument.keyword.value if argument.keyword is not None else ("axis" if position == 0 else None)
        if argument.star or keyword not in ("axis", "keepdims"):
            raise normalizer.error(f"srcad supports only the axis= and keepdims= arguments of {callee}", argument)
        if keyword == "keepdims":
            keepdims = argument.value
            if not (isinstance(keepdims, cst.Name) and keepdims.value in ("True", "False")):
                raise normalizer.error("srcad needs keepdims written as True or False here", keepdims)
        else:
            axis = argument.value
    if axis is None or (isinstance(axis, cst.Name) and axis.value == "None"):
        operand = normalizer.operand(array, statements)
        if keepdims.value == "True":  # every axis kept, with size 1
            reduced = normalizer.result(call(callee, operand), statements, None)
            return normalizer.result(call("keep_dims", reduced, operand), statements, into)
        return normalizer.result(call(callee, operand), statements, into)
    if isinstance(axis, cst.Tuple):
        return _along_axes(normalizer, callee, array, axis, keepdims, statements, into)
    if _axis_number(axis) is None:
        raise normalizer.error("srcad needs the axis written as a number here", axis, "Write axis=0, axis=1, ...")
    operand = normalizer.operand(array, statements)
    return _along(normalizer, callee, operand, axis, keepdims, statements, into)


def _axis_number(axis):
    """The number an axis is written as (``1``, ``-1``), or None."""
    negative = isinstance(axis, cst.UnaryOperation) and isinstance(axis.operator, cst.Minus)
    literal = axis.expression if negative else axis
    if not isinstance(literal, cst.Integer):
        return None
    return -literal.evaluated_value if negative else literal.evaluated_value


def _along_axes(normalizer, callee, array, axes, keepdims, statements, into):
    """``np.sum(a, axis=(0, 2))`` as one reduction along each axis: the highest first, so that the
    others keep their numbers (negative axes: the lowest first, for the same reason). Reducing along
    one axis after another gives the same sums, means (of equal counts), products, maxima and minima."""
    numbers = [_axis_number(element.value) for element in axes.elements]
    if not numbers or None in numbers or any(isinstance(e, cst.StarredElement) for e in axes.elements):
        raise normalizer.error("srcad needs the axes written as numbers here", axes, "Write axis=(0, 1), ...")
    if len(set(numbers)) != len(numbers) or min(numbers) < 0 <= max(numbers):
        raise normalizer.error("srcad needs distinct axes, all counted from the front or all from the back, here",
                               axes, "Write axis=(0, 2) or axis=(-1, -3).")
    order = sorted(numbers, reverse=numbers[0] >= 0)
    operand = normalizer.operand(array, statements)
    for position, number in enumerate(order):
        axis = cst.Integer(str(number)) if number >= 0 else cst.UnaryOperation(cst.Minus(), cst.Integer(str(-number)))
        last = position == len(order) - 1
        operand = _along(normalizer, callee, operand, axis, keepdims, statements, into if last else None)
    return operand


def _along(normalizer, callee, operand, axis, keepdims, statements, into):
    """The reduction of the atom ``operand`` along one ``axis`` (a number)."""
    axis = axis.with_changes(lpar=[], rpar=[])
    if callee == "np.sum" and keepdims.value == "False":  # numba's own
        keyword = cst.Name("axis")
        equal = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
        return normalizer.result(cst.Call(cst.parse_expression(callee), [cst.Arg(operand), cst.Arg(axis, keyword=keyword, equal=equal)]), statements, into)
    kind = {"np.amax": "max", "np.amin": "min"}.get(callee, callee[len("np."):])
    return normalizer.result(call(f"{kind}_along", operand, axis, cst.Name(keepdims.value)), statements, into)

def with_axis(normalizer, node, callee, statements, into):
    """``np.cumsum(x, axis=k)`` as ``cumsum_along(x, k)``; ``np.linalg.norm(x, axis=k, keepdims=b)``
    as the square root of a sum of squares (numba has neither argument)."""
    array, *others = node.args
    named = {}
    for position, argument in enumerate(others):
        keyword = argument.keyword.value if argument.keyword is not None else (["axis"] if callee == "np.cumsum" else ["ord", "axis", "keepdims"])[position]
        if argument.star or keyword not in ("ord", "axis", "keepdims") or (keyword != "axis" and callee == "np.cumsum"):
            raise normalizer.error("srcad supports only the axis= argument of np.cumsum and ord=, axis= and keepdims= of np.linalg.norm", argument)
        named[keyword] = argument.value
    axis = named.get("axis", cst.Name("None"))
    no_axis = isinstance(axis, cst.Name) and axis.value == "None"
    order = spelled(named["ord"]) if "ord" in named else "None"
    if order in ("2", "2.0") and no_axis:  # a vector's 2-norm, or a matrix's spectral norm: rank unknown here
        raise normalizer.error("srcad differentiates np.linalg.norm(x, 2) along an axis only: without one, ord=2 of "
                         "a matrix is its largest singular value", named["ord"],
                         "For a vector, leave ord out (np.linalg.norm(v)) or give the axis "
                         "(np.linalg.norm(v, 2, axis=0)).")
    if order not in ("None", "2", "2.0"):
        raise normalizer.error("srcad differentiates np.linalg.norm only as the 2-norm (ord=None, or ord=2 along an axis)",
                         named["ord"], "Write the norm out, e.g. np.sum(np.abs(x), axis=1) for ord=1.")
    if callee == "np.cumsum":
        operand = normalizer.operand(array.value, statements)
        if isinstance(axis, cst.Name) and axis.value == "None":
            return normalizer.result(call(callee, operand), statements, into)
        literal = axis.expression if isinstance(axis, cst.UnaryOperation) and isinstance(axis.operator, cst.Minus) else axis
        if not isinstance(literal, cst.Integer):
            raise normalizer.error("srcad needs the axis written as a number here", axis, "Write axis=0, axis=1, ...")
        return normalizer.result(call("cumsum_along", operand, axis.with_changes(lpar=[], rpar=[])), statements, into)
    operand = normalizer.operand(array.value, statements)
    squares = normalizer.result(cst.BinaryOperation(operand, cst.Multiply(), operand), statements, None)
    reduce = [cst.Arg(axis, keyword=cst.Name("axis"))] + (
        [cst.Arg(named["keepdims"], keyword=cst.Name("keepdims"))] if "keepdims" in named else [])
    summed = reduction(normalizer, node, "np.sum", squares, reduce, statements, None)
    return normalizer.result(call("np.sqrt", summed), statements, into)

def roll(normalizer, node, statements, into):
    """``np.roll(x, shift)`` (of x flattened, as numba has it) and ``np.roll(x, shift, axis=k)`` as
    ``roll_along(x, shift, k)``; the shift is any integer expression, the axis a number."""
    named = {}
    for position, argument in enumerate(node.args):
        keyword = argument.keyword.value if argument.keyword is not None else ("a", "shift", "axis")[min(position, 2)]
        if argument.star or keyword not in ("a", "shift", "axis") or keyword in named or position > 2:
            raise normalizer.error("srcad supports np.roll(x, shift) and np.roll(x, shift, axis=k)", argument)
        named[keyword] = argument.value
    if "a" not in named or "shift" not in named:
        raise normalizer.error("np.roll takes an array and a shift", node)
    if isinstance(named["shift"], (cst.Tuple, cst.List)):
        raise normalizer.error("srcad rolls along one axis at a time", named["shift"],
                         "Roll twice: np.roll(np.roll(x, s0, axis=0), s1, axis=1).")
    array = normalizer.operand(named["a"], statements)
    shift = normalizer.result(normalizer.inactive(named["shift"], statements=statements), statements, None)
    axis = named.get("axis", cst.Name("None"))
    if isinstance(axis, cst.Name) and axis.value == "None":
        return normalizer.result(call("np.roll", array, shift), statements, into)
    literal = axis.expression if isinstance(axis, cst.UnaryOperation) and isinstance(axis.operator, cst.Minus) else axis
    if not isinstance(literal, cst.Integer):
        raise normalizer.error("srcad needs the axis written as a number here", axis, "Write axis=0, axis=1, ...")
    return normalizer.result(call("roll_along", array, shift, axis.with_changes(lpar=[], rpar=[])), statements, into)

def assembled(normalizer, node, callee, statements, into):
    """``np.array([a, b])`` (also nested one level), ``np.stack((u, v))``, ``np.concatenate((u, v))``:
    each piece flattened to an atom; other arguments (dtype, axis=0) copied."""
    pieces, *others = node.args
    if not isinstance(pieces.value, (cst.List, cst.Tuple)) or pieces.keyword is not None:
        raise normalizer.error(f"srcad needs the pieces of {callee} written out as a list or tuple", pieces)
    for other in others:
        keyword = other.keyword.value if other.keyword is not None else None
        if keyword == "dtype" and callee == "np.array":
            continue
        if (keyword == "axis" or (keyword is None and other is others[0])) and callee != "np.array":
            literal = other.value
            if isinstance(literal, cst.UnaryOperation) and isinstance(literal.operator, cst.Minus):
                literal = literal.expression
            if isinstance(literal, cst.Integer):
                continue
            raise normalizer.error(f"srcad needs the axis of {callee} written as a number here", other.value)
        raise normalizer.error(
            f"srcad supports only the pieces and axis= of {callee}, and only the pieces and dtype= of np.array",
            other,
            "Build the array with a loop instead.",
        )

    def flattened(sequence, depth):
        elements = []
        for element in sequence.elements:
            if isinstance(element, cst.StarredElement):
                raise normalizer.error(f"srcad cannot differentiate a starred piece of {callee}", element)
            value = element.value
            if callee == "np.array" and depth == 0 and isinstance(value, (cst.List, cst.Tuple)):
                value = flattened(value, 1)
            else:
                value = normalizer.operand(value, statements)
            elements.append(cst.Element(value))
        if isinstance(sequence, cst.List) and callee == "np.array":
            return cst.List(elements)
        return cst.Tuple(elements)  # numba's np.stack and np.concatenate take tuples only

    arguments = [cst.Arg(flattened(pieces.value, 0))] + [
        other.with_changes(value=normalizer.inactive(other.value)) for other in others
    ]
    return normalizer.result(cst.Call(cst.parse_expression(callee), arguments), statements, into)

def array_fill(normalizer, node, callee, statements, into):
    """``np.full(shape, value)``: the shape is copied, the fill value may be active."""
    position = rules.ARRAY_FILLS[callee]
    arguments = []
    for index, argument in enumerate(node.args):
        if index == position and argument.keyword is None:
            arguments.append(argument.with_changes(value=normalizer.operand(argument.value, statements)))
        else:
            arguments.append(argument.with_changes(value=normalizer.inactive(argument.value, allow_tuples=True)))
    return normalizer.result(node.with_changes(func=cst.parse_expression(callee), args=arguments), statements, into)

def converted(normalizer, node, callee, statements, into):
    """``np.array(x)`` of an array as a copy of it; ``np.asarray(x)`` as x itself (one memory, two
    names, as NumPy has it); a float dtype may be named, no other."""
    array, *others = node.args
    for other in others:
        keyword = other.keyword.value if other.keyword is not None else "dtype"
        dtype = spelled(other.value)
        if other.star or keyword != "dtype" or dtype not in ("float", "np.float64", "numpy.float64"):
            raise normalizer.error(f"srcad supports {callee}(x) and {callee}(x, dtype=float) only", other,
                             "Differentiated arrays are float64; convert other data before the call.")
    operand = normalizer.operand(array.value, statements)
    if rules.ARRAY_CONVERSIONS[callee] == "copy":
        return normalizer.result(operand, statements, into) if into is not None else operand
    return normalizer.result(call("np.copy", operand), statements, into)
