"""Pass 5 (forward mode): the tangent function of a normal-form function.

    def f_tangent(<f's parameters>, <x>_dot for each differentiated x):
        ...each statement, with the statement computing its result's tangent...
        return (value, value_dot)

Every statement of the normal form is one operation; its tangent comes from the
rule table's tangent template (``x_dot * math.cos(x)``), with the tangents of
inactive operands dropped as symbolic zeros. Operations linear in their array
operands (views, rows, sums, reshapes, stacking) take the same operation of the
tangents: ``b = a[1:]`` gives ``b_dot = a_dot[1:]``, so tangents share memory
exactly where values do, and writes through views stay consistent. Writes
``b[i] = v`` write ``b_dot[i] = v_dot``; in-place updates update the tangent in
place. Control flow is kept as is, and nothing is saved: the tangent runs
alongside the primal.
"""

import libcst as cst
from numba.core import types as numba_types

from .. import rules
from ..analysis.aliases import written_arrays
from ..analysis.carried_adjoints import carried_accumulations
from ..ir import UnsupportedHere, assign, comment_lines, marker_of
from ..ir.names import renamed_in
from ..ir.precedence import spelled
from ..ir.statements import (
    LIST_POP,
    assembled_pieces,
    assignment_of,
    element_write_of,
    in_place_update_of,
    is_array_type,
    is_float64_vector_type,
    list_append_of,
    operation_of,
)
from . import fold_tangents
from .tangent_zeros import SYMBOLIC_ZERO, DropZeros, NumbersToZero

_ZERO = cst.Float("0.0")

# Operations linear in their (array) operands: the tangent is the same operation of the tangents.
_LINEAR = {
    "view", "index", "ravel", "np.copy", "np.sum", "np.mean", "np.cumsum", "cumsum_along", "sum_along",
    "mean_along", "np.array", "np.stack", "np.concatenate", "np.full", "np.full_like", "keep_dims",
}  # fmt: skip


def _line(code):
    return cst.parse_statement(code)


class ForwardMode:
    def __init__(self, definition, parameters, wrt, analysis, names, only_tangent=False):
        self.only_tangent = only_tangent  # return value_dot alone (a function reverse mode can take)
        self.definition = definition
        self.parameters = parameters
        self.wrt = wrt
        self.analysis = analysis
        self.names = names
        self.tangent_names = {}
        self.current_line = 0  # the user line being transformed, for errors
        # where arrays are written in place, a new array's tangent must be new memory too (not the
        # tangent of the operand, as `z = x + 1.0` alone would have it): writes into z would go into x's
        self.writes_arrays = bool(written_arrays(definition.body.body, analysis.types))

    # -- names and zeros -----------------------------------------------------------------------------
    def tangent(self, name):
        if name not in self.tangent_names:
            self.tangent_names[name] = self.names.fresh(f"{name}_dot")
        return self.tangent_names[name]

    def is_array(self, name):
        return is_array_type(self.analysis.types.get(name))

    def is_active(self, atom):
        return self.analysis.is_active(atom)

    def zero_like(self, atom):
        """The tangent of a value that does not vary: 0.0, or zeros of an array's shape."""
        if isinstance(atom, cst.Name) and self.is_array(atom.value):
            return cst.parse_expression(f"np.zeros_like({atom.value})")
        return _ZERO

    def tangent_of(self, atom):
        return cst.Name(self.tangent(atom.value)) if self.is_active(atom) else self.zero_like(atom)

    # -- the whole function ------------------------------------------------------------------------
    def function(self):
        body = list(self.definition.body.body)
        returned = self.analysis.returned
        statements = self.block(body[:-1])
        inputs = [self.parameters[k] for k in self.wrt]
        # arguments given no tangent that come to vary (written from ones that do) start from zero
        starts = [assign(self.tangent(p), self.zero_like(cst.Name(p))) for p in self.parameters
                  if p not in inputs and p in self.analysis.active]
        statements = starts + statements
        value = self.names.fresh("value")
        tangents = [self.tangent_of(atom) for atom in self.analysis.outputs]
        tangent = tangents[0] if not isinstance(returned, cst.Tuple) else cst.Tuple([cst.Element(t) for t in tangents])
        results = [cst.Name(value), tangent]
        returned_value = results[1] if self.only_tangent else cst.Tuple([cst.Element(r) for r in results])
        final = cst.SimpleStatementLine([cst.Return(returned_value)], leading_lines=comment_lines("# results"))
        params = list(self.definition.params.params) + [cst.Param(cst.Name(self.tangent(p))) for p in inputs]
        params = [p.with_changes(comma=cst.MaybeSentinel.DEFAULT) for p in params]
        return self.definition.with_changes(
            name=cst.Name(self.names.fresh(f"{self.definition.name.value}_tangent")),
            params=self.definition.params.with_changes(params=params),
            body=cst.IndentedBlock(statements + [assign(value, returned), final]),
        )

    # -- statements -----------------------------------------------------------------------------------
    def block(self, statements):
        result = []
        for statement in statements:
            marker = marker_of(statement)
            self.current_line = int(marker.split(":")[0]) if marker else self.current_line
            produced = self.statement(statement)
            if produced and produced[0] is not statement and statement.leading_lines:
                produced[0] = produced[0].with_changes(leading_lines=statement.leading_lines)
                produced = [produced[0]] + [
                    s.with_changes(leading_lines=[]) if s is statement else s for s in produced[1:]
                ]
            result += produced
        return result

    def statement(self, statement):
        target_value = assignment_of(statement)
        if target_value is not None:
            if in_place_update_of(statement) is not None:
                return self.in_place_update(statement, *target_value)
            return self.assignment(statement, *target_value)
        write = element_write_of(statement)
        if write is not None:
            return self.element_write(statement, write)
        appended = list_append_of(statement)
        if appended is not None:
            return self.list_append(statement, *appended)
        if isinstance(statement, cst.If):
            orelse = statement.orelse
            if orelse is not None:
                orelse = orelse.with_changes(body=orelse.body.with_changes(body=self.block(orelse.body.body)))
            body = statement.body.with_changes(body=self.block(statement.body.body) or [_line("pass")])
            return [statement.with_changes(body=body, orelse=orelse)]
        if isinstance(statement, (cst.For, cst.While)):
            body = statement.body.with_changes(body=self.block(statement.body.body) or [_line("pass")])
            return [statement.with_changes(body=body)]
        return [statement]

    def assignment(self, statement, target, value):
        """``y = op(...)``: the primal, and ``y_dot = <tangent>`` (computed first when y is one of the
        operands; through a temporary when the tangent also needs the new y)."""
        if not self.is_active(cst.Name(target)):
            return [statement]
        operation = operation_of(value)
        tangent = cst.Name(self.tangent(target))
        if operation.rule == LIST_POP:  # the tangents were appended to a list alongside: pop them alike
            return [statement, assign(tangent, self.list_pop(operation.operands[0], target))]
        if isinstance(value, cst.Call) and spelled(value.func) == "empty_list_like":
            return [statement, assign(tangent, value)]  # a list for the tangents, of the same item type
        reads_itself = target in operation.operand_names()
        rule = None if operation.rule is None or self.is_linear(operation) else self.rule(operation, target)
        uses_result = rule is not None and rule.tangent is not None and rules.template_uses(rule.tangent, "y")
        if reads_itself and uses_result:  # `x = math.exp(x)`: the new value in a temporary first
            result = cst.Name(self.names.fresh(f"{target}_new"))
            return [assign(result, value)] + self.tangent_statements(tangent, target, value, operation, result) + [
                assign(target, result)
            ]
        tangent_statements = self.tangent_statements(tangent, target, value, operation, cst.Name(target))
        return tangent_statements + [statement] if reads_itself else [statement] + tangent_statements

    def in_place_update(self, statement, target, value):
        """``x += t`` and ``x -= t`` add into x's tangent in place; ``x *= t`` and the others set it
        in place (views of x share its tangent) from the old x, before x changes."""
        if not self.is_active(cst.Name(target)):
            return [statement]
        symbol = rules.operator_symbol(value.operator)
        operand = value.right
        tangent = cst.Name(self.tangent(target))
        if symbol in ("+", "-"):
            if not self.is_active(operand):
                return [statement]
            operator = cst.AddAssign() if symbol == "+" else cst.SubtractAssign()
            update = cst.SimpleStatementLine([cst.AugAssign(tangent, operator, cst.Name(self.tangent(operand.value)))])
            return [update, statement]
        operation = operation_of(value)
        rule = self.rule(operation, target)
        result = cst.Name(target)
        before = []
        if rules.template_uses(rule.tangent, "y"):
            result = cst.Name(self.names.fresh(f"{target}_new"))
            before = [assign(result, value)]
        expression, _ = self.template_tangent(rule, operation, target, result)
        whole = cst.Subscript(tangent, [cst.SubscriptElement(cst.Index(cst.Ellipsis()))])
        update = assign(whole if self.is_array(target) else tangent, expression)
        return before + [update, statement]

    def element_write(self, statement, write):
        """``b[i] = v`` writes ``b_dot[i] = v_dot``; ``b[i] += v`` adds ``v_dot`` (regions alike)."""
        if not self.is_active(cst.Name(write.array)):
            return [statement]
        small = statement.body[0]
        target = small.targets[0].target if isinstance(small, cst.Assign) else small.target
        tangent_target = target.with_changes(value=cst.Name(self.tangent(write.array)))
        if write.kind == "=":
            return [statement, assign(tangent_target, self.tangent_of(write.value) if self.is_active(write.value) else _ZERO)]
        if not self.is_active(write.value):
            return [statement]
        operator = cst.AddAssign() if write.kind == "+=" else cst.SubtractAssign()
        update = cst.SimpleStatementLine([cst.AugAssign(tangent_target, operator, self.tangent_of(write.value))])
        return [statement, update]

    def list_append(self, statement, items, item):
        """``L.append(a)`` (a typed list of arrays in a generated gradient) appends ``a_dot`` to ``L_dot``."""
        if not self.is_active(cst.Name(items)):
            return [statement]
        appended = cst.Call(cst.Attribute(cst.Name(self.tangent(items)), cst.Name("append")), [cst.Arg(self.tangent_of(item))])
        return [statement, cst.SimpleStatementLine([cst.Expr(appended)])]

    def list_pop(self, items, target):
        if not self.is_active(items):
            return self.zero_like(cst.Name(target))
        return cst.Call(cst.Attribute(cst.Name(self.tangent(items.value)), cst.Name("pop")))

    # -- tangents of operations ---------------------------------------------------------------------
    def is_linear(self, operation):
        return operation.rule in _LINEAR or (operation.rule == "copy" and self.is_array(operation.operands[0].value))

    def rule(self, operation, target):
        ranks = tuple(getattr(self.analysis.types.get(a.value), "ndim", 0) if isinstance(a, cst.Name) else 0
                      for a in operation.operands)
        return rules.rule_for(operation.rule, ranks, array_result=self.is_array(target))

    def tangent_statements(self, tangent, target, value, operation, result):
        if operation.rule is None or not any(self.is_active(a) for a in operation.operands):
            return [assign(tangent, self.zero_like(cst.Name(target)))]
        if self.is_linear(operation):
            return [assign(tangent, self.linear_tangent(value, operation))]
        rule = self.rule(operation, target)
        if rule is not None and rule.tangent is None and rule.origin is not None:
            raise UnsupportedHere(
                f"{rule.origin!r} has a reverse-mode rule (@srcad.derivative) but no forward-mode rule",
                f"Register one too: @srcad.derivative(of={rule.origin}, mode='forward') on a function taking "
                "the arguments and their tangents and returning the tangent; or use srcad.grad.",
                self.current_line,
            )
        if rule is None or rule.tangent is None:
            raise UnsupportedHere(
                f"srcad has no forward-mode rule for {operation.rule} yet",
                "Use srcad.grad (reverse mode) for this function.",
                self.current_line,
            )
        expression, dropped = self.template_tangent(rule, operation, target, result)
        if self.writes_arrays and self.is_array(target) and self.is_array_tangent(expression, operation):
            expression = cst.parse_expression(f"{expression.value}.copy()")  # `z = x + 1.0`: z is new memory
        dtype = getattr(self.analysis.types.get(target), "dtype", None)
        if self.is_array(target) and str(dtype) != "float64":  # numba computes `1.0 - y * y` in float64
            expression = cst.parse_expression(f"({spelled(expression)}).astype(np.{dtype})")
        if dropped and self.is_array(target) and self.may_broadcast(operation, target):
            # a dropped term may have set the shape: start from zeros of the result's shape
            zeros = assign(tangent, cst.parse_expression(f"np.zeros_like({result.value})"))
            return [zeros, cst.SimpleStatementLine([cst.AugAssign(tangent, cst.AddAssign(), expression)])]
        return [assign(tangent, expression)]

    def is_array_tangent(self, expression, operation):
        """Whether ``expression`` is the tangent of an array operand itself (a name, not a new value)."""
        return isinstance(expression, cst.Name) and any(
            isinstance(a, cst.Name) and self.is_active(a) and self.is_array(a.value) and self.tangent(a.value) == expression.value
            for a in operation.operands
        )

    def linear_tangent(self, value, operation):
        """The same operation of the tangents (zeros for inactive array pieces)."""
        if operation.rule in rules.ASSEMBLED_RULES:
            pieces = {atom.value: self.tangent_of(atom) for atom, _ in assembled_pieces(value) if isinstance(atom, cst.Name)}
            numbers = NumbersToZero()
            return renamed_in(value.with_changes(args=[value.args[0].with_changes(value=value.args[0].value.visit(numbers))] + list(value.args[1:])), pieces)
        operands = operation.operands[:1] if operation.rule == "keep_dims" else operation.operands
        replacements = {a.value: self.tangent_of(a) for a in operands if isinstance(a, cst.Name) and self.is_active(a)}
        if isinstance(value, cst.Name):  # b = a, arrays: one memory, one tangent
            return replacements.get(value.value, self.zero_like(value))
        return renamed_in(value, replacements)

    def template_tangent(self, rule, operation, target, result):
        """(the rule's tangent with this operation's atoms, whether an inactive operand's term was dropped)."""
        bindings = dict(zip(rule.operands, operation.operands), y=result)
        for placeholder, atom in zip(rule.operands, operation.operands):
            bindings[f"{placeholder}_dot"] = self.tangent_of(atom) if self.is_active(atom) else cst.Name(SYMBOLIC_ZERO)
        expression = rules.instantiate(rule.tangent, **bindings).visit(DropZeros())
        dropped = any(  # a zero array term may have set the result's shape; a float's cannot
            not self.is_active(atom) and isinstance(atom, cst.Name) and self.is_array(atom.value)
            and rules.template_uses(rule.tangent, f"{placeholder}_dot")
            for placeholder, atom in zip(rule.operands, operation.operands)
        )
        if isinstance(expression, cst.Name) and expression.value == SYMBOLIC_ZERO:
            return self.zero_like(cst.Name(target)), dropped
        return renamed_in(expression, {SYMBOLIC_ZERO: _ZERO}), dropped

    def may_broadcast(self, operation, target):
        arrays = [a.value for a in operation.operands if isinstance(a, cst.Name) and self.is_array(a.value)]
        ndim = self.analysis.types[target].ndim
        return len(set(arrays)) > 1 or any(self.analysis.types[a].ndim < ndim for a in arrays) or len(arrays) < len(
            operation.operands
        )


def forward_mode(definition, parameters, wrt, analysis, names, only_tangent=False):
    """The tangent function of a normal-form, single-exit ``definition``: returning ``(value,
    value_dot)``, or with ``only_tangent`` just ``value_dot``."""
    mode = ForwardMode(definition, parameters, wrt, analysis, names, only_tangent)
    tangent = mode.function()
    floats = {t for name, t in mode.tangent_names.items() if isinstance(analysis.types.get(name), numba_types.Float)}
    tangent = fold_tangents.folded(tangent, floats)
    primal_of = {t: name for name, t in mode.tangent_names.items()}

    def is_float_vector(name):  # a primal array, or the tangent of one
        return is_float64_vector_type(analysis.types.get(primal_of.get(name, name)))

    body = carried_accumulations(list(tangent.body.body), is_float_vector, names)
    return tangent.with_changes(body=tangent.body.with_changes(body=body))
