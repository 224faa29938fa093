"""Expressions into three-address form, for the normalize pass.

``Flattener.expression(e)`` turns an expression into statements that compute it
one operation at a time, and the atom (a name or a number) that holds its
value. Values that can never carry a derivative (comparisons, booleans,
integer-valued calls) are copied as written, with function names spelled
canonically (``math.sin``, ``np.zeros``). Anything srcad cannot differentiate
raises DifferentiabilityError at the user's expression.
"""

import libcst as cst

from srcad import custom

from srcad.transforms import rules
from srcad.transforms.names import describe

def line_marker(lineno, text):
    return cst.EmptyLine(comment=cst.Comment(f"# line {lineno}: {text.strip()}"))


def assign(target, value):
    target = cst.Name(target) if isinstance(target, str) else target
    return cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(target)], value)])


def is_atom(node):
    return isinstance(node, (cst.Name, cst.Integer, cst.Float)) or (
        isinstance(node, cst.UnaryOperation)
        and isinstance(node.operator, cst.Minus)
        and isinstance(node.expression, (cst.Integer, cst.Float))
    )


def _literal(value):
    if isinstance(value, bool):
        return cst.Name(repr(value))
    text = repr(float(value)) if isinstance(value, float) else repr(int(value))
    if text in ("inf", "-inf", "nan"):
        text = f"float('{text}')"
        return cst.parse_expression(text)
    if text.startswith("-"):
        return cst.UnaryOperation(cst.Minus(), _literal(-value))
    return cst.Float(text) if isinstance(value, float) else cst.Integer(text)



class _Temporary(cst.Name):
    """A name this pass made for a value it flattened: an atom, not a user variable to look up."""


class Flattener:
    """Mixed into the Normalizer: ``self.parsed``, ``self.names`` and ``self.constants`` come from it."""

    def expression(self, node, into=None):
        """Flatten ``node`` into statements and an atom holding its value.

        With ``into``, the last operation assigns straight to that name."""
        statements = []
        atom = self._flatten(node, statements, into)
        if into is not None and not (
            statements
            and isinstance(statements[-1], (cst.SimpleStatementLine, cst.If))
            and _assigns_to(statements[-1], into)
        ):
            statements.append(assign(into, atom))
            atom = cst.Name(into)
        return statements, atom

    def _operand(self, node, statements):
        return self._flatten(node, statements, None)

    def _result(self, value, statements, into):
        name = into or self.names.fresh(describe(value))
        statements.append(assign(name, value))
        return _Temporary(name)

    def _flatten(self, node, statements, into):
        if isinstance(node, _Temporary):  # already flattened
            return node
        if isinstance(node, cst.Name):
            return self.name(node).with_changes(lpar=[], rpar=[])
        if isinstance(node, (cst.Integer, cst.Float)):
            return node.with_changes(lpar=[], rpar=[])
        if isinstance(node, cst.Imaginary):
            raise self.error("srcad cannot differentiate complex numbers", node)
        if isinstance(node, cst.Attribute):
            if self.is_array_attribute(node):
                return self._result(self.inactive(node), statements, into)
            if node.attr.value == "T" and self.parsed.resolve(node.value).kind != "module":  # a.T
                array = self._operand(node.value, statements)
                return self._result(node.with_changes(value=array, lpar=[], rpar=[]), statements, into)
            return self.attribute_value(node)
        if isinstance(node, cst.Subscript):
            if isinstance(node.value, cst.Attribute) and self.is_array_attribute(node.value):
                return self._result(self.inactive(node), statements, into)  # a.shape[0]
            if is_view_subscript(node):
                return self._result(self.view(node, statements), statements, into)
            return self._result(self.element(node, statements), statements, into)
        if isinstance(node, cst.UnaryOperation):
            if isinstance(node.operator, cst.Plus):
                return self._flatten(node.expression, statements, into)
            if isinstance(node.operator, cst.Minus):
                operand = self._operand(node.expression, statements)
                if isinstance(operand, (cst.Integer, cst.Float)):
                    return cst.UnaryOperation(cst.Minus(), operand)
                return self._result(cst.UnaryOperation(cst.Minus(), operand), statements, into)
            return self._result(self.inactive(node), statements, into)
        if isinstance(node, cst.BinaryOperation):
            symbol = rules.operator_symbol(node.operator)
            if symbol is None:
                return self._result(self.inactive(node), statements, into)
            left = self._operand(node.left, statements)
            right = self._operand(node.right, statements)
            operator = type(node.operator)()  # the user's spacing may hold line breaks
            return self._result(cst.BinaryOperation(left, operator, right), statements, into)
        if isinstance(node, (cst.Comparison, cst.BooleanOperation)):
            return self._result(self.inactive(node), statements, into)
        if isinstance(node, cst.IfExp):
            return self.conditional_expression(node, statements, into)
        if isinstance(node, cst.Call):
            return self.call(node, statements, into)
        raise self._unsupported_expression(node)

    def _unsupported_expression(self, node):
        kind = type(node)
        messages = {
            cst.Lambda: ("srcad cannot differentiate a lambda", "Define the function with 'def' at module level."),
            cst.Yield: ("srcad cannot differentiate generators ('yield')", "Return a value instead."),
            cst.Await: ("srcad cannot differentiate 'await'", None),
            cst.NamedExpr: ("srcad does not support ':=' yet", "Assign on a separate line."),
        }
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
            return self.error(
                "srcad cannot differentiate string values", node, "Only numbers can flow through the computation."
            )
        if isinstance(node, (cst.Dict, cst.Set, cst.DictComp, cst.SetComp)):
            return self.error(
                "srcad cannot differentiate dict or set values",
                node,
                "Use separate float variables (or, soon, NumPy arrays).",
            )
        if isinstance(node, (cst.List, cst.Tuple, cst.ListComp, cst.GeneratorExp)):
            return self.error(
                "srcad cannot differentiate list or tuple values here",
                node,
                "Use separate float variables; tuples are supported only in 'a, b = e1, e2'.",
            )
        why, fix = messages.get(kind, (f"srcad cannot differentiate a {kind.__name__} expression", None))
        return self.error(why, node, fix)

    def name(self, node):
        resolved = self.parsed.resolve(node)
        if resolved.kind == "local":
            return node
        if resolved.kind == "constant":
            if node.value in ("True", "False"):
                return node
            self.constants[node.value] = resolved.value
            return node
        if resolved.kind == "function":
            raise self.error(
                f"srcad cannot use the function {node.value!r} as a value", node, "Call it instead."
            )
        if resolved.value is _missing_marker():
            raise self.error(f"name {node.value!r} is not defined", node)
        raise self.error(
            f"srcad cannot use {node.value!r} (a {type(resolved.value).__name__}) in a differentiated function",
            node,
            "Only numbers, math functions and local variables can be used; pass other values in as arguments.",
        )

    def attribute_value(self, node):
        resolved = self.parsed.resolve(node)
        if resolved.kind == "constant":
            return _literal(resolved.value)
        raise self.error(
            f"srcad cannot use {cst.Module([]).code_for_node(node)!r} here",
            node,
            "Only numeric constants such as math.pi and calls of supported functions can be used.",
        )

    # -- arrays -----------------------------------------------------------------------------------------
    def is_array_attribute(self, node):
        """``a.shape``, ``a.size``, ``a.ndim`` of a local array: integers, never active."""
        return (
            isinstance(node.value, cst.Name)
            and self.parsed.resolve(node.value).kind == "local"
            and node.attr.value in ("shape", "size", "ndim")
        )

    def element(self, node, statements):
        """``a[i, j]`` with the array a local name and each index an atom (``a[i][j]`` reads as ``a[i, j]``)."""
        if isinstance(node.value, cst.Subscript) and all(isinstance(e.slice, cst.Index) for e in node.value.slice):
            node = node.with_changes(value=node.value.value, slice=list(node.value.slice) + list(node.slice))
        if not (isinstance(node.value, cst.Name) and self.parsed.resolve(node.value).kind == "local"):
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
            if isinstance(index, (cst.Comparison, cst.BooleanOperation)) or (
                isinstance(index, cst.UnaryOperation) and isinstance(index.operator, cst.Not)
            ):
                raise self.error(
                    "srcad cannot differentiate indexing with a boolean mask yet",
                    index,
                    "Use np.where(mask, a, 0.0) instead of a[mask], or write a loop.",
                )
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
            elif _is_none_or_ellipsis(element.slice.value):
                elements.append(element)
            else:
                elements.append(element.with_changes(slice=cst.Index(self.inactive(element.slice.value))))
        elements[-1] = elements[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return cst.Subscript(value=array, slice=elements)

    def method_call(self, node, statements, into):
        method = node.func.attr.value
        if method in VIEW_METHODS and not any(a.star or a.keyword for a in node.args):
            array = self._operand(node.func.value, statements)
            shape = [a.with_changes(value=self.inactive(a.value, allow_tuples=True)) for a in node.args]
            call = cst.Call(cst.Attribute(array, cst.Name(method)), shape)
            return self._result(call, statements, into)
        if f"np.{method}" in rules.REDUCTIONS:  # x.sum(axis=0) is np.sum(x, axis=0)
            return self.reduction(node, f"np.{method}", node.func.value, list(node.args), statements, into)
        function = {"copy": "np.copy", "dot": "np.dot"}.get(method)
        if function is not None and not any(a.keyword or a.star for a in node.args):
            array = self._operand(node.func.value, statements)
            arguments = [array] + [self._operand(a.value, statements) for a in node.args]
            if len(arguments) == len(rules.RULES[function].operands):
                return self._result(_call(function, arguments), statements, into)
        raise self.error(
            f"srcad cannot differentiate the method '.{method}()' yet",
            node,
            "Write it as a loop over the elements.",
        )

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
                raise self.error(f"srcad supports only the axis= argument of np.cumsum and ord=None, axis= and keepdims= of np.linalg.norm", argument)
            named[keyword] = argument.value
        if "ord" in named and not (isinstance(named["ord"], cst.Name) and named["ord"].value == "None"):
            raise self.error("srcad differentiates np.linalg.norm only with its default ord (the 2-norm)", named["ord"],
                             "Write the norm out, e.g. np.sum(np.abs(x)) for ord=1.")
        axis = named.get("axis", cst.Name("None"))
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

    def conditional_expression(self, node, statements, into):
        name = into or self.names.fresh("choice")
        body, _ = self.expression(node.body, into=name)
        orelse, _ = self.expression(node.orelse, into=name)
        statements.append(
            cst.If(
                test=self.inactive(node.test),
                body=cst.IndentedBlock(body),
                orelse=cst.Else(cst.IndentedBlock(orelse)),
            )
        )
        return cst.Name(name)

    def call(self, node, statements, into):
        function = node.func
        if isinstance(function, cst.Attribute) and self.parsed.resolve(function.value).kind != "module":
            return self.method_call(node, statements, into)  # a.sum(), np.abs(x).dot(y)
        resolved = self.parsed.resolve(function)
        callee = resolved.name
        if resolved.kind != "function":
            from srcad.transforms.inline import inline_call, is_user_function

            if custom.rules_for(resolved.value) and "reverse" in custom.rules_for(resolved.value):
                return self.custom_call(node, resolved.value, statements, into)
            if is_user_function(resolved.value):  # the user's own helper: its body takes the call's place
                return inline_call(self, node, resolved.value, statements, into)
            raise self.unknown_callee(node, resolved)
        if callee in rules.INACTIVE_FUNCTIONS and callee != "srcad.no_grad":
            return self._result(self.inactive(node), statements, into)
        if callee in rules.ARRAY_CONSTRUCTORS:
            return self._result(self.inactive(node, allow_tuples=True), statements, into)
        if callee in rules.ARRAY_FILLS:
            return self.array_fill(node, callee, statements, into)
        if callee in rules.ASSEMBLED_RULES and node.args:
            return self.assembled(node, callee, statements, into)
        if callee in rules.REDUCTIONS and node.args:
            return self.reduction(node, callee, node.args[0].value, list(node.args[1:]), statements, into)
        if callee in ("np.cumsum", "np.linalg.norm") and len(node.args) > 1:
            return self.with_axis(node, callee, statements, into)
        for argument in node.args:
            if argument.keyword is not None or argument.star:
                raise self.error(f"srcad supports only positional arguments in calls to {callee}", argument)
        arguments = [self._operand(argument.value, statements) for argument in node.args]
        if callee == "srcad.no_grad":
            if len(arguments) != 1:
                raise self.error("srcad.no_grad takes exactly one argument", node)
            function = cst.parse_expression("srcad.no_grad")
            return self._result(cst.Call(function, [cst.Arg(arguments[0])]), statements, into)
        if callee in rules.VARIADIC_FUNCTIONS and len(arguments) > 2:
            result = arguments[0]
            for index, argument in enumerate(arguments[1:]):
                last = index == len(arguments) - 2
                call = cst.Call(cst.Name(callee), [cst.Arg(result), cst.Arg(argument)])
                result = self._result(call, statements, into if last else None)
            return result
        if callee == "np.matmul" and len(arguments) == 2:  # numba compiles `@`, not np.matmul
            return self._result(cst.BinaryOperation(arguments[0], cst.MatrixMultiply(), arguments[1]), statements, into)
        if callee == "math.log" and len(arguments) == 2:  # log(x, base) = log(x) / log(base)
            log_x = self._result(_call("math.log", arguments[:1]), statements, None)
            log_base = self._result(_call("math.log", arguments[1:]), statements, None)
            return self._result(cst.BinaryOperation(log_x, cst.Divide(), log_base), statements, into)
        rule = rules.RULES[callee]
        if len(arguments) != len(rule.operands):
            raise self.error(f"{callee} takes {len(rule.operands)} argument(s) here, got {len(arguments)}", node)
        return self._result(_call(callee, arguments), statements, into)

    def custom_call(self, node, function, statements, into):
        """A call of a function with a ``@srcad.derivative`` rule: one operation, whose rule calls the user's."""
        from srcad.transforms.inline import bound_arguments

        spelled = cst.Module([]).code_for_node(node.func)
        arguments = bound_arguments(self, node, custom.unwrap(function), spelled, statements)
        alias, definitions, rule = custom.call_rule(function, self.names, len(arguments))
        self.constants.update(definitions)
        rules.RULES[alias] = rules.ARRAY_RULES[alias] = rule
        return self._result(cst.Call(cst.Name(alias), [cst.Arg(a) for a in arguments]), statements, into)

    def unknown_callee(self, node, resolved):
        spelled = cst.Module([]).code_for_node(node.func)
        value = resolved.value
        if value is self.parsed.function or getattr(value, "python_function", None) is self.parsed.function:
            return self.error(
                f"srcad cannot differentiate the recursive call to {spelled!r} yet",
                node,
                "Rewrite the recursion as a loop.",
            )
        if callable(value) and hasattr(value, "__code__"):
            return self.error(
                f"srcad cannot differentiate through the call to {spelled!r} yet",
                node,
                "Inline the helper's body here for now (calls between functions are being added), "
                "or wrap the call in srcad.no_grad(...) if it needs no derivative.",
            )
        if resolved.name.startswith(("math.", "np.")) or callable(value):
            return self.error(
                f"{resolved.name or spelled!r} has no derivative rule in srcad",
                node,
                "Wrap the call in srcad.no_grad(...) if no derivative is needed through it, "
                "or write it with supported functions.",
            )
        return self.error(f"srcad cannot call {spelled!r}", node, "Only functions with derivative rules can be called.")

    # -- inactive expressions are copied, with function names spelled canonically ---------------------
    def inactive(self, node, allow_tuples=False):
        canonical = node.visit(_Canonicalize(self, allow_tuples))
        if "\n" in cst.Module([]).code_for_node(canonical) and not getattr(canonical, "lpar", True):
            canonical = canonical.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return canonical



# Methods whose result shares memory with the array (numba's reshape needs a contiguous array, so it
# never copies), and those whose result is a new array: both get the adjoint of a view or copy.
VIEW_METHODS = {"reshape", "transpose", "ravel", "flatten"}


# Array methods an inactive expression (a test, an index) may call: their values carry no derivative there.
INACTIVE_METHODS = {"sum", "mean", "max", "min", "prod", "any", "all", "argmax", "argmin", "dot", "copy"}


def is_view_subscript(node):
    """Whether ``a[...]`` picks a sub-array (slices, ``None``, ``...``) rather than one element."""
    return any(
        isinstance(e.slice, cst.Slice) or (isinstance(e.slice, cst.Index) and _is_none_or_ellipsis(e.slice.value))
        for e in node.slice
    )


def _is_none_or_ellipsis(node):
    return isinstance(node, cst.Ellipsis) or (isinstance(node, cst.Name) and node.value == "None")


def _call_with(callee, arguments):
    return cst.Call(cst.parse_expression(callee), arguments)


def _call(callee, arguments):
    return cst.Call(cst.parse_expression(callee), [cst.Arg(a) for a in arguments])


def _assigns_to(statement, name):
    if isinstance(statement, cst.If):
        return True  # a conditional expression already assigned `name` in both branches
    small = statement.body[0]
    return (
        isinstance(small, cst.Assign)
        and isinstance(small.targets[0].target, cst.Name)
        and small.targets[0].target.value == name
    )



def _missing_marker():
    from srcad.transforms.parse import _MISSING

    return _MISSING


class _Canonicalize(cst.CSTTransformer):
    """Checks an inactive expression and spells the functions it calls canonically."""

    def __init__(self, normalizer, allow_tuples=False):
        self.normalizer = normalizer
        self.allow_tuples = allow_tuples  # shapes of new arrays: np.zeros((n, m))

    def visit_Call(self, node):
        if self._is_array_method(node):
            node.func.value.visit(self)  # a test such as `if x.sum() > 0:`: the array is checked
            for argument in node.args:
                argument.visit(self)
            return False
        resolved = self.normalizer.parsed.resolve(node.func)
        if resolved.kind != "function":
            raise self.normalizer.unknown_callee(node, resolved)
        return True

    def leave_Call(self, original, updated):
        if self._is_array_method(original):
            return original.with_changes(
                func=original.func.with_changes(value=original.func.value.visit(self)),
                args=[a.with_changes(value=a.value.visit(self)) for a in original.args],
            )
        resolved = self.normalizer.parsed.resolve(original.func)
        return updated.with_changes(func=cst.parse_expression(resolved.name))

    def _is_array_method(self, node):
        return (
            isinstance(node.func, cst.Attribute)
            and node.func.attr.value in INACTIVE_METHODS
            and not (isinstance(node.func.value, cst.Name) and self.normalizer.parsed.resolve(node.func.value).kind == "module")
        )

    def visit_Attribute(self, node):
        return False

    def leave_Attribute(self, original, updated):
        if self.normalizer.is_array_attribute(original):
            return updated
        resolved = self.normalizer.parsed.resolve(original)
        if resolved.kind == "function":
            return updated  # rewritten by leave_Call
        if resolved.kind == "dtype":
            return cst.parse_expression(resolved.name)
        return self.normalizer.attribute_value(original)

    def visit_Arg(self, node):
        return False  # the keyword of `dtype=...` is no variable: only the value is checked, in leave_Arg

    def leave_Arg(self, original, updated):
        return updated.with_changes(value=original.value.visit(self))

    def visit_Name(self, node):
        return False

    def leave_Name(self, original, updated):
        resolved = self.normalizer.parsed.resolve(original)
        if resolved.kind == "function":
            return updated  # the callee of a call, rewritten by leave_Call
        return self.normalizer.name(original)

    def on_visit(self, node):
        if isinstance(node, cst.Tuple) and self.allow_tuples:
            return True
        if isinstance(
            node,
            (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString, cst.Dict, cst.Set, cst.List, cst.Tuple,
             cst.Lambda, cst.Yield, cst.Await, cst.NamedExpr, cst.ListComp, cst.DictComp,
             cst.SetComp, cst.GeneratorExp, cst.Imaginary),
        ):  # fmt: skip
            raise self.normalizer._unsupported_expression(node)
        return super().on_visit(node)
