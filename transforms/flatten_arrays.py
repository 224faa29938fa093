"""Flattening of array expressions (mixed into ``Flattener``): element reads, views, array
methods, reductions with ``axis=``/``keepdims=``, arrays assembled from pieces, fills."""

import libcst as cst

from srcad.transforms import rules
from srcad.transforms.precedence import spelled
from srcad.transforms.statements import is_none_or_ellipsis

# Methods whose result shares memory with the array (numba's reshape needs a contiguous array, so it
# never copies), and those whose result is a new array: both get the adjoint of a view or copy.


class ArrayFlattening:
    """Mixed into ``Flattener``: ``self._operand``, ``self._result``, ``self.error``... come from it."""

    def element(self, node, statements):
        """``a[i, j]`` with the array a local name and each index an atom (``a[i][j]`` reads as ``a[i, j]``)."""
        if isinstance(node.value, cst.Subscript) and all(isinstance(e.slice, cst.Index) for e in node.value.slice):
            node = node.with_changes(value=node.value.value, slice=list(node.value.slice) + list(node.slice))
        if isinstance(node.value, cst.Name) and self.parsed.resolve(node.value).kind == "constant array":
            self.name(node.value)  # a module-level table, read only
        elif not (isinstance(node.value, cst.Name) and self.parsed.resolve(node.value).kind == "local"):
            if isinstance(node.value, cst.Name):  # WEIGHTS[1] with WEIGHTS a global list, dict, array...
                value = self.parsed.resolve(node.value).value
                what = f"a {type(value).__name__}" if value is not None else "not a local variable"
                raise self.error(
                    f"srcad cannot index {node.value.value!r} ({what} from outside the function): a differentiated "
                    "function reads arrays from its arguments",
                    node.value,
                    f"Pass it in as an argument (as a NumPy array: np.asarray(...)), or pass the numbers it holds.",
                )
            if not isinstance(node.value, (cst.Attribute, cst.Subscript, cst.Call, cst.BinaryOperation)):
                raise self.error(
                    "srcad can only index arrays held in local variables or arguments",
                    node.value,
                    "Assign the array to a variable first.",
                )
            node = node.with_changes(value=self._operand(node.value, statements))  # A.T[1], (a * b)[i]
        indices = []
        for element in node.slice:
            if not isinstance(element.slice, cst.Index) or element.slice.star is not None:
                raise self.error(
                    "srcad cannot differentiate slices yet",
                    element,
                    "Index single elements in a loop: 'for i in range(n): ... a[i] ...'.",
                )
            index = element.slice.value
            if isinstance(index, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
                raise self.error(
                    f"srcad cannot differentiate through a dict ({spelled(node)}): its items cannot carry derivatives",
                    node,
                    "Use a NamedTuple for named parts (class Params(NamedTuple): k: float, then params.k), "
                    "or pass the numbers as separate arguments.",
                )
            if isinstance(index, (cst.BooleanOperation, cst.UnaryOperation)) and not isinstance(
                getattr(index, "operator", None), (cst.Minus, cst.Plus, cst.BitInvert)
            ):
                raise self.error(
                    "'and', 'or' and 'not' do not combine arrays of booleans elementwise",
                    index,
                    "Combine masks with &, | and ~: x[(x > 0) & (x < 1)].",
                )
            if isinstance(index, cst.Comparison) or (
                isinstance(index, cst.BinaryOperation) and isinstance(index.operator, (cst.BitAnd, cst.BitOr, cst.BitXor))
            ) or (isinstance(index, cst.UnaryOperation) and isinstance(index.operator, cst.BitInvert)):
                indices.append(self._result(self.inactive(index, statements=statements), statements, None))  # a mask
                continue
            if isinstance(index, (cst.Tuple, cst.List)) or (
                isinstance(index, cst.Name) and index.value == "None"
            ):
                raise self.error("srcad supports integer indices only here", index, "Index with integers.")
            indices.append(self._operand(index, statements))
        return cst.Subscript(
            value=node.value.with_changes(lpar=[], rpar=[]),
            slice=[cst.SubscriptElement(cst.Index(atom)) for atom in indices],
        )

    def view(self, node, statements):
        """``a[1:, j]``, ``a[:, None]``, ``a[..., ::2]``: the array flattened to an atom, the
        bounds and indices copied (they only pick the elements; the reverse sweep never reads them)."""
        array = self._operand(node.value, statements)
        elements = []
        for element in node.slice:
            if element.slice.__class__ is cst.Slice:
                bounds = {
                    part: self.inactive(getattr(element.slice, part))
                    for part in ("lower", "upper", "step")
                    if getattr(element.slice, part) is not None
                }
                elements.append(element.with_changes(slice=element.slice.with_changes(**bounds)))
            elif is_none_or_ellipsis(element.slice.value):
                elements.append(element)
            else:
                elements.append(element.with_changes(slice=cst.Index(self.inactive(element.slice.value))))
        elements[-1] = elements[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return cst.Subscript(value=array, slice=elements)

    def method_call(self, node, statements, into):
        method = node.func.attr.value
        if method == "pop" and not node.args and self.is_typed_list(node.func.value):
            return self._result(cst.Call(cst.Attribute(self.name(node.func.value), cst.Name("pop"))), statements, into)
        if method in rules.VIEW_METHODS and not any(a.star or a.keyword for a in node.args):
            array = self._operand(node.func.value, statements)
            shape = [a.with_changes(value=self.inactive(a.value, allow_tuples=True)) for a in node.args]
            call = cst.Call(cst.Attribute(array, cst.Name(method)), shape)
            return self._result(call, statements, into)
        if f"np.{method}" in rules.REDUCTIONS:  # x.sum(axis=0) is np.sum(x, axis=0)
            return self.reduction(node, f"np.{method}", node.func.value, list(node.args), statements, into)
        function = {"copy": "np.copy", "dot": "np.dot", "trace": "np.trace", "var": "np.var", "std": "np.std",
                    "cumsum": "np.cumsum"}.get(method)
        if function is not None and not any(a.keyword or a.star for a in node.args):
            array = self._operand(node.func.value, statements)
            arguments = [array] + [self._operand(a.value, statements) for a in node.args]
            if len(arguments) == len(rules.RULES[function].operands):
                return self._result(_call(function, arguments), statements, into)
        if method == "_replace" and self.lenient:
            from srcad.structure import NeedsStructures

            raise NeedsStructures(method)  # state._replace(...): a NamedTuple argument, perhaps
        advice = {
            "item": "An element x[i] is already a number: drop '.item()'.",
            "tolist": "Keep the array: srcad differentiates arrays, not lists.",
            "astype": "Differentiated arrays stay float; for indices, compute them with int(...) or pass an int array.",
        }.get(method, "Write it with NumPy functions, or as a loop over the elements.")
        raise self.error(f"srcad cannot differentiate the method '.{method}()'", node, advice)

    def is_typed_list(self, node):
        """Whether ``node`` names a typed list made in this function by ``empty_list_like`` (generated
        gradients keep arrays in them; forward mode reads them, reverse mode refuses them)."""
        if self._typed_lists is None:
            resolve, found = self.parsed.resolve, set()

            class Find(cst.CSTVisitor):
                def visit_Assign(self, assign):
                    value, target = assign.value, assign.targets[0].target
                    if isinstance(value, cst.Call) and isinstance(target, cst.Name):
                        if resolve(value.func).name == "empty_list_like":
                            found.add(target.value)

            self.parsed.definition.visit(Find())
            self._typed_lists = found
        return isinstance(node, cst.Name) and node.value in self._typed_lists

    _typed_lists = None

    def reduction(self, node, callee, array, arguments, statements, into):
        """``np.sum(x)``, ``np.max(x)``, ``x.mean()``, and ``np.sum(x, axis=k)`` with k a number."""
        axis, keepdims = None, cst.Name("False")
        for position, argument in enumerate(arguments):
            keyword = argument.keyword.value if argument.keyword is not None else ("axis" if position == 0 else None)
            if argument.star or keyword not in ("axis", "keepdims"):
                raise self.error(f"srcad supports only the axis= and keepdims= arguments of {callee}", argument)
            if keyword == "keepdims":
                keepdims = argument.value
                if not (isinstance(keepdims, cst.Name) and keepdims.value in ("True", "False")):
                    raise self.error("srcad needs keepdims written as True or False here", keepdims)
            else:
                axis = argument.value
        if axis is None or (isinstance(axis, cst.Name) and axis.value == "None"):
            operand = self._operand(array, statements)
            if keepdims.value == "True":  # every axis kept, with size 1
                reduced = self._result(_call(callee, [operand]), statements, None)
                return self._result(_call("keep_dims", [reduced, operand]), statements, into)
            return self._result(_call(callee, [operand]), statements, into)
        literal = axis.expression if isinstance(axis, cst.UnaryOperation) and isinstance(axis.operator, cst.Minus) else axis
        if not isinstance(literal, cst.Integer):
            raise self.error("srcad needs the axis written as a number here", axis, "Write axis=0, axis=1, ...")
        operand = self._operand(array, statements)
        axis = axis.with_changes(lpar=[], rpar=[])
        if callee == "np.sum" and keepdims.value == "False":  # numba's own
            keyword = cst.Name("axis")
            equal = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
            return self._result(_call_with(callee, [cst.Arg(operand), cst.Arg(axis, keyword=keyword, equal=equal)]), statements, into)
        kind = {"np.amax": "max", "np.amin": "min"}.get(callee, callee[len("np."):])
        return self._result(_call(f"{kind}_along", [operand, axis, cst.Name(keepdims.value)]), statements, into)

    def with_axis(self, node, callee, statements, into):
        """``np.cumsum(x, axis=k)`` as ``cumsum_along(x, k)``; ``np.linalg.norm(x, axis=k, keepdims=b)``
        as the square root of a sum of squares (numba has neither argument)."""
        array, *others = node.args
        named = {}
        for position, argument in enumerate(others):
            keyword = argument.keyword.value if argument.keyword is not None else (["axis"] if callee == "np.cumsum" else ["ord", "axis", "keepdims"])[position]
            if argument.star or keyword not in ("ord", "axis", "keepdims") or (keyword != "axis" and callee == "np.cumsum"):
                raise self.error(f"srcad supports only the axis= argument of np.cumsum and ord=, axis= and keepdims= of np.linalg.norm", argument)
            named[keyword] = argument.value
        axis = named.get("axis", cst.Name("None"))
        no_axis = isinstance(axis, cst.Name) and axis.value == "None"
        order = spelled(named["ord"]) if "ord" in named else "None"
        if order in ("2", "2.0") and no_axis:  # a vector's 2-norm, or a matrix's spectral norm: rank unknown here
            raise self.error("srcad differentiates np.linalg.norm(x, 2) along an axis only: without one, ord=2 of "
                             "a matrix is its largest singular value", named["ord"],
                             "For a vector, leave ord out (np.linalg.norm(v)) or give the axis "
                             "(np.linalg.norm(v, 2, axis=0)).")
        if order not in ("None", "2", "2.0"):
            raise self.error("srcad differentiates np.linalg.norm only as the 2-norm (ord=None, or ord=2 along an axis)",
                             named["ord"], "Write the norm out, e.g. np.sum(np.abs(x), axis=1) for ord=1.")
        if callee == "np.cumsum":
            operand = self._operand(array.value, statements)
            if isinstance(axis, cst.Name) and axis.value == "None":
                return self._result(_call(callee, [operand]), statements, into)
            literal = axis.expression if isinstance(axis, cst.UnaryOperation) and isinstance(axis.operator, cst.Minus) else axis
            if not isinstance(literal, cst.Integer):
                raise self.error("srcad needs the axis written as a number here", axis, "Write axis=0, axis=1, ...")
            return self._result(_call("cumsum_along", [operand, axis.with_changes(lpar=[], rpar=[])]), statements, into)
        operand = self._operand(array.value, statements)
        squares = self._result(cst.BinaryOperation(operand, cst.Multiply(), operand), statements, None)
        reduce = [cst.Arg(axis, keyword=cst.Name("axis"))] + (
            [cst.Arg(named["keepdims"], keyword=cst.Name("keepdims"))] if "keepdims" in named else [])
        summed = self.reduction(node, "np.sum", squares, reduce, statements, None)
        return self._result(_call("np.sqrt", [summed]), statements, into)

    def roll(self, node, statements, into):
        """``np.roll(x, shift)`` (of x flattened, as numba has it) and ``np.roll(x, shift, axis=k)`` as
        ``roll_along(x, shift, k)``; the shift is any integer expression, the axis a number."""
        named = {}
        for position, argument in enumerate(node.args):
            keyword = argument.keyword.value if argument.keyword is not None else ("a", "shift", "axis")[min(position, 2)]
            if argument.star or keyword not in ("a", "shift", "axis") or keyword in named or position > 2:
                raise self.error("srcad supports np.roll(x, shift) and np.roll(x, shift, axis=k)", argument)
            named[keyword] = argument.value
        if "a" not in named or "shift" not in named:
            raise self.error("np.roll takes an array and a shift", node)
        if isinstance(named["shift"], (cst.Tuple, cst.List)):
            raise self.error("srcad rolls along one axis at a time", named["shift"],
                             "Roll twice: np.roll(np.roll(x, s0, axis=0), s1, axis=1).")
        array = self._operand(named["a"], statements)
        shift = self._result(self.inactive(named["shift"], statements=statements), statements, None)
        axis = named.get("axis", cst.Name("None"))
        if isinstance(axis, cst.Name) and axis.value == "None":
            return self._result(_call("np.roll", [array, shift]), statements, into)
        literal = axis.expression if isinstance(axis, cst.UnaryOperation) and isinstance(axis.operator, cst.Minus) else axis
        if not isinstance(literal, cst.Integer):
            raise self.error("srcad needs the axis written as a number here", axis, "Write axis=0, axis=1, ...")
        return self._result(_call("roll_along", [array, shift, axis.with_changes(lpar=[], rpar=[])]), statements, into)

    def assembled(self, node, callee, statements, into):
        """``np.array([a, b])`` (also nested one level), ``np.stack((u, v))``, ``np.concatenate((u, v))``:
        each piece flattened to an atom; other arguments (dtype, axis=0) copied."""
        pieces, *others = node.args
        if not isinstance(pieces.value, (cst.List, cst.Tuple)) or pieces.keyword is not None:
            raise self.error(f"srcad needs the pieces of {callee} written out as a list or tuple", pieces)
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
                raise self.error(f"srcad needs the axis of {callee} written as a number here", other.value)
            raise self.error(
                f"srcad supports only the pieces and axis= of {callee}, and only the pieces and dtype= of np.array",
                other,
                "Build the array with a loop instead.",
            )

        def flattened(sequence, depth):
            elements = []
            for element in sequence.elements:
                if isinstance(element, cst.StarredElement):
                    raise self.error(f"srcad cannot differentiate a starred piece of {callee}", element)
                value = element.value
                if callee == "np.array" and depth == 0 and isinstance(value, (cst.List, cst.Tuple)):
                    value = flattened(value, 1)
                else:
                    value = self._operand(value, statements)
                elements.append(cst.Element(value))
            if isinstance(sequence, cst.List) and callee == "np.array":
                return cst.List(elements)
            return cst.Tuple(elements)  # numba's np.stack and np.concatenate take tuples only

        arguments = [cst.Arg(flattened(pieces.value, 0))] + [
            other.with_changes(value=self.inactive(other.value)) for other in others
        ]
        return self._result(cst.Call(cst.parse_expression(callee), arguments), statements, into)

    def array_fill(self, node, callee, statements, into):
        """``np.full(shape, value)``: the shape is copied, the fill value may be active."""
        position = rules.ARRAY_FILLS[callee]
        arguments = []
        for index, argument in enumerate(node.args):
            if index == position and argument.keyword is None:
                arguments.append(argument.with_changes(value=self._operand(argument.value, statements)))
            else:
                arguments.append(argument.with_changes(value=self.inactive(argument.value, allow_tuples=True)))
        return self._result(node.with_changes(func=cst.parse_expression(callee), args=arguments), statements, into)


def _call_with(callee, arguments):
    return cst.Call(cst.parse_expression(callee), arguments)


def _call(callee, arguments):
    return cst.Call(cst.parse_expression(callee), [cst.Arg(a) for a in arguments])

