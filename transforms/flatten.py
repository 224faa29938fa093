"""Expressions into three-address form, for the normalize pass.

``Flattener.expression(e)`` turns an expression into statements that compute it
one operation at a time, and the atom (a name or a number) that holds its
value. Values that can never carry a derivative (comparisons, booleans,
integer-valued calls) are copied as written, with function names spelled
canonically (``math.sin``, ``np.zeros``). Anything srcad cannot differentiate
raises DifferentiabilityError at the user's expression.
"""

import types

import libcst as cst

from srcad.transforms.statements import is_view_subscript
from srcad.transforms.ir import assign
from srcad.transforms.parse import MISSING
from srcad import custom
from srcad.structure import NeedsStructures
from srcad.transforms import rules
from srcad.transforms.flatten_arrays import ArrayFlattening, _call
from srcad.transforms.flatten_tuples import Packed, TupleFlattening, is_named_tuple_class
from srcad.transforms.canonical import Canonicalize
from srcad.transforms.names import describe
from srcad.transforms.precedence import spelled


def _literal(value):
    if value is None or isinstance(value, bool):
        return cst.Name(repr(value))
    text = repr(float(value)) if isinstance(value, float) else repr(int(value))
    if text in ("inf", "-inf", "nan"):
        text = f"float('{text}')"
        return cst.parse_expression(text)
    if text.startswith("-"):
        return cst.UnaryOperation(cst.Minus(), _literal(-value))
    return cst.Float(text) if isinstance(value, float) else cst.Integer(text)



CONSTANT_ARRAY_LIMIT = 10_000  # elements of a module-level array copied into generated code


class _Temporary(cst.Name):
    """A name this pass made for a value it flattened: an atom, not a user variable to look up."""


class Flattener(ArrayFlattening, TupleFlattening):
    """Mixed into the Normalizer: ``self.parsed``, ``self.names`` and ``self.constants`` come from it."""

    def expression(self, node, into=None, allow_tuple=False):
        """Flatten ``node`` into statements and an atom holding its value (with ``allow_tuple``,
        a tuple-valued expression gives a Packed instead).

        With ``into``, the last operation assigns straight to that name."""
        statements = []
        atom = self.value_of(node, statements, into) if allow_tuple else self._flatten(node, statements, into)
        if isinstance(atom, Packed):
            return statements, atom
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
        if isinstance(node, (cst.Name, cst.Attribute, cst.Subscript)):
            part = self.tuple_part(node)  # t[0], state.x: the variable holding that part
            if part is not None:
                return self.scalar(part, node)
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
            return self._result(self.inactive(node, statements=statements), statements, into)
        if isinstance(node, cst.IfExp):
            return self.conditional_expression(node, statements, into)
        if isinstance(node, cst.Call):
            return self.scalar(self.replaced(node, statements) or self.call(node, statements, into), node)
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
                "srcad cannot differentiate dicts or sets: their items cannot carry derivatives",
                node,
                "Use a NamedTuple for named parts (class Params(NamedTuple): k: float, then params.k), "
                "separate float variables, or a NumPy array.",
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
        if resolved.kind == "constant array":
            return self.constant_array(node, resolved.value)
        if resolved.kind == "function":
            raise self.error(
                f"srcad cannot use the function {node.value!r} as a value", node, "Call it instead."
            )
        if resolved.value is MISSING:
            raise self.error(f"name {node.value!r} is not defined", node)
        raise self.error(
            f"srcad cannot use {node.value!r} (a {type(resolved.value).__name__}) in a differentiated function",
            node,
            "Only numbers, math functions and local variables can be used; pass other values in as arguments.",
        )

    def constant_array(self, node, value):
        """A module-level NumPy array the function reads (``WEIGHTS = np.array([...])``): generated
        modules define it with its values, as numba freezes a global array when it compiles."""
        if value.size > CONSTANT_ARRAY_LIMIT:
            raise self.error(
                f"srcad copies module-level arrays into the code it generates, up to {CONSTANT_ARRAY_LIMIT} "
                f"elements; {node.value!r} has {value.size}",
                node,
                "Pass it in as an argument.",
            )
        self.constants[node.value] = value
        return node

    def attribute_value(self, node):
        resolved = self.parsed.resolve(node)
        if resolved.kind == "constant":
            return _literal(resolved.value)
        if self.lenient and isinstance(node.value, cst.Name) and self.parsed.resolve(node.value).kind == "local":
            raise NeedsStructures(node.value.value)  # state.x: a NamedTuple argument, perhaps
        raise self.error(
            f"srcad cannot use {spelled(node)!r} here",
            node,
            "Only numeric constants such as math.pi and calls of supported functions can be used.",
        )

    # -- arrays -----------------------------------------------------------------------------------------
    def is_array_attribute(self, node):
        """``a.shape``, ``a.size``, ``a.ndim`` of a local array (or a tuple's part): integers, never active."""
        if node.attr.value not in ("shape", "size", "ndim"):
            return False
        if isinstance(node.value, cst.Name) and self.parsed.resolve(node.value).kind == "constant array":
            self.name(node.value)
            return True
        if isinstance(node.value, cst.Name) and self.parsed.resolve(node.value).kind == "local":
            return node.value.value not in self.bundles
        return isinstance(node.value, (cst.Attribute, cst.Subscript)) and isinstance(self.tuple_part(node.value), cst.Name)

    def conditional_expression(self, node, statements, into):
        name = into or self.names.fresh("choice")
        body, _ = self.expression(node.body, into=name)
        orelse, _ = self.expression(node.orelse, into=name)
        test = self.inactive(node.test, statements=statements)
        statements.append(
            cst.If(
                test=test,
                body=cst.IndentedBlock(body),
                orelse=cst.Else(cst.IndentedBlock(orelse)),
            )
        )
        return cst.Name(name)

    def call(self, node, statements, into):
        """A call's value: an atom, or a Packed for a NamedTuple built or a helper returning a tuple."""
        length = self.tuple_length(node)
        if length is not None:
            return length
        from srcad.transforms import iteration

        if iteration.is_sum_of_a_generator(self, node):
            loops, total = iteration.sum_of_generator(self, node)
            statements += [made for statement in loops for made in self.statement(statement)]
            if self.parsed.resolve(node.func).name == "np.sum":  # np.sum([...]) adds every element of the e's
                return self._result(_call("np.sum", [cst.Name(total)]), statements, into)
            return self._operand(cst.Name(total), statements) if into is None else self._result(cst.Name(total), statements, into)
        for argument in node.args:  # any(x > k for k in ...), [f(v) for v in x]: comprehensions cannot be done
            if isinstance(argument.value, (cst.GeneratorExp, cst.ListComp, cst.SetComp, cst.DictComp)):
                raise self.error(
                    "srcad cannot differentiate a generator expression or a comprehension",
                    argument.value,
                    "Write it as a loop: total = 0.0, then for k in range(n): total += ...",
                )
        function = node.func
        if isinstance(function, cst.Attribute) and not _is_module(self.parsed.resolve(function.value)):
            return self.method_call(node, statements, into)  # a.sum(), np.abs(x).dot(y)
        resolved = self.parsed.resolve(function)
        callee = resolved.name
        if resolved.kind != "function":
            from srcad.transforms.inline import (
                custom_call, inline_call, inline_srcad_helper, is_srcad_helper, is_user_function,
            )

            if custom.rules_for(resolved.value) and "reverse" in custom.rules_for(resolved.value):
                return custom_call(self, node, resolved.value, statements, into)
            if is_srcad_helper(resolved.value):  # products_of_others: derivatives of np.prod call it; no rule
                return inline_srcad_helper(self, node, resolved.value, statements, into)
            if is_user_function(resolved.value):  # the user's own helper: its body takes the call's place
                return inline_call(self, node, resolved.value, statements, into)
            if is_named_tuple_class(resolved.value):
                return self.constructed(node, resolved.value, statements)
            raise self.unknown_callee(node, resolved)
        if callee == "srcad.tid":
            if not self.kernel or node.args:
                raise self.error(
                    "srcad.tid() takes no arguments and has a meaning only in a @srcad.kernel", node,
                    "Decorate the function with @srcad.kernel and launch it with kernel.launch(n, ...).",
                )
            if len(self.threads) == 1:
                return cst.Name(self.threads[0])
            return Packed(tuple, [cst.Name(t) for t in self.threads])  # i, j = srcad.tid()
        if callee == "srcad.atomic_add":
            raise self.error("srcad.atomic_add(a, i, v) is a statement: it returns nothing", node)
        if callee in rules.INACTIVE_FUNCTIONS and callee != "srcad.no_grad":
            return self._result(self.inactive(node, statements=statements), statements, into)
        if callee in rules.ARRAY_CONSTRUCTORS:
            return self._result(self.inactive(node, allow_tuples=True), statements, into)
        if callee in rules.ARRAY_FILLS:
            return self.array_fill(node, callee, statements, into)
        if callee in rules.OPERATOR_FUNCTIONS:
            return self._flatten(self.operator_of(node, callee), statements, into)
        if callee in rules.ARRAY_CONVERSIONS and node.args and not isinstance(node.args[0].value, (cst.List, cst.Tuple)):
            return self.converted(node, callee, statements, into)
        if callee in rules.ASSEMBLED_RULES and node.args:
            return self.assembled(node, callee, statements, into)
        if callee in rules.REDUCTIONS and node.args:
            return self.reduction(node, callee, node.args[0].value, list(node.args[1:]), statements, into)
        if callee in ("np.cumsum", "np.linalg.norm") and len(node.args) > 1:
            return self.with_axis(node, callee, statements, into)
        if callee == "np.roll":
            return self.roll(node, statements, into)
        if callee == "np.einsum":
            from srcad.transforms.einsum import einsum

            return einsum(self, node, statements, into)
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

    def operator_of(self, node, callee):
        """``np.add(a, b)`` as ``a + b``, ``np.negative(a)`` as ``-a`` (what NumPy computes for them)."""
        symbol = rules.OPERATOR_FUNCTIONS[callee]
        arity = 1 if symbol in ("neg", "copy") else 2
        if len(node.args) != arity or any(a.keyword or a.star for a in node.args):
            raise self.error(f"srcad supports {callee} with {arity} positional argument(s) only", node)
        operands = [a.value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()]) for a in node.args]
        if symbol == "neg":
            return cst.UnaryOperation(cst.Minus(), operands[0])
        if symbol == "copy":
            return cst.UnaryOperation(cst.Plus(), operands[0])
        operator = {"+": cst.Add, "-": cst.Subtract, "*": cst.Multiply, "/": cst.Divide}[symbol]()
        return cst.BinaryOperation(operands[0], operator, operands[1])

    def converted(self, node, callee, statements, into):
        """``np.array(x)`` of an array as a copy of it; ``np.asarray(x)`` as x itself (one memory, two
        names, as NumPy has it); a float dtype may be named, no other."""
        array, *others = node.args
        for other in others:
            keyword = other.keyword.value if other.keyword is not None else "dtype"
            dtype = spelled(other.value)
            if other.star or keyword != "dtype" or dtype not in ("float", "np.float64", "numpy.float64"):
                raise self.error(f"srcad supports {callee}(x) and {callee}(x, dtype=float) only", other,
                                 "Differentiated arrays are float64; convert other data before the call.")
        operand = self._operand(array.value, statements)
        if rules.ARRAY_CONVERSIONS[callee] == "copy":
            return self._result(operand, statements, into) if into is not None else operand
        return self._result(_call("np.copy", [operand]), statements, into)

    def unknown_callee(self, node, resolved):
        from srcad.transforms.inline import refusal_of_call

        return refusal_of_call(self, node, resolved)

    # -- inactive expressions are copied, with function names spelled canonically ---------------------
    def expression_atom(self, node, statements):
        """An atom holding the value of ``node``, the statements computing it appended to ``statements``."""
        return self._operand(node, statements)

    def inactive(self, node, allow_tuples=False, statements=None):
        """``node`` checked and spelled canonically; with ``statements``, calls of the user's helpers in
        it are computed there first."""
        canonical = node.visit(Canonicalize(self, allow_tuples, statements))
        if "\n" in spelled(canonical) and not getattr(canonical, "lpar", True):
            canonical = canonical.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return canonical





def _assigns_to(statement, name):
    if isinstance(statement, cst.If):
        return True  # a conditional expression already assigned `name` in both branches
    small = statement.body[0]
    return (
        isinstance(small, cst.Assign)
        and isinstance(small.targets[0].target, cst.Name)
        and small.targets[0].target.value == name
    )


def _is_module(resolved):
    """A module srcad knows (math, np) or any other module (operator): its attributes are functions."""
    return resolved.kind == "module" or isinstance(resolved.value, types.ModuleType)
