"""Reverse mode for arrays, mixed into ``ReverseMode``.

An array's adjoint is an array of its shape: ``np.zeros_like(x)`` for an
argument (allocated before the forward sweep) and for an array the function
creates (allocated next to it). ``b = a`` binds ``b_adj`` to ``a_adj``, as the
primal binds ``b`` to ``a``. Element writes need no saved values: the reverse
sweep never reads arrays, only the scalars read out of them (saved or
recomputed like any other scalar).
"""

import libcst as cst

from srcad.transforms import rules
from srcad.transforms.activity import assembled_pieces, operation_of
from srcad.transforms.recompute import in_place_update_of
from srcad.transforms.flatten import assign

_ZERO = cst.Float("0.0")
_CODE = cst.Module([])


class UnsupportedHere(Exception):
    """Raised while generating code for something srcad cannot differentiate yet;
    the pipeline turns it into a DifferentiabilityError at ``lineno``."""

    def __init__(self, why, fix, lineno):
        super().__init__(why)
        self.why, self.fix, self.lineno = why, fix, lineno


def _accumulate(target, increment, subtract=False):
    operator = cst.SubtractAssign() if subtract else cst.AddAssign()
    return cst.SimpleStatementLine([cst.AugAssign(target, operator, increment)])


def _number_of(node):
    if isinstance(node, cst.UnaryOperation):
        return -_number_of(node.expression)
    return int(node.value)


def _names(atoms):
    return [a.value for a in atoms if isinstance(a, cst.Name)]


def _with_base(value, base):
    """The view expression ``value`` (``a[1:]``, ``a.T``, ``a.reshape(n)``, ``a``) taken of ``base`` instead."""
    if isinstance(value, cst.Name):
        return base
    if isinstance(value, cst.Call):
        return value.with_changes(func=value.func.with_changes(value=base))
    return value.with_changes(value=base)


def _call(function, *arguments):
    return cst.Call(cst.parse_expression(function), [cst.Arg(a) for a in arguments])


def _writes_whole(write):
    return len(write.index) == 1 and isinstance(write.index[0], cst.Ellipsis)


def _element(array, index):
    return cst.Subscript(value=cst.Name(array), slice=[cst.SubscriptElement(cst.Index(i)) for i in index])


class ArrayAdjoints:
    def contribution(self, accumulator, increment, subtract=False):
        """``t_adj = increment`` for a single-use temporary, else ``accumulator += increment``."""
        if isinstance(accumulator, cst.Name) and self.adjoint_owner.get(accumulator.value) in self.analysis.single_use:
            return assign(accumulator, cst.UnaryOperation(cst.Minus(), increment) if subtract else increment)
        return _accumulate(accumulator, increment, subtract)

    def unsupported(self, why, fix):
        lineno = int(self.current_marker.split(":")[0]) if self.current_marker else 0
        return UnsupportedHere(why, fix, lineno)

    def array_assignment(self, statement, target, value):
        """``b = np.zeros(n)``, ``b = np.copy(a)``, ``b = np.full(n, v)`` or ``b = a``."""
        forward = [statement]
        if in_place_update_of(statement) is not None:
            return self.in_place_update(statement, target, value)
        if target not in self.analysis.active:
            return forward, []
        if self.loop_depth or self.array_bindings.get(target, 0) > 1:
            raise self.unsupported(
                f"srcad cannot differentiate an array variable ('{target}') bound more than once or inside a loop yet",
                "Create each array once, before the loops, and overwrite its elements.",
            )
        operation = operation_of(value)
        adjoint = cst.Name(self.adjoint(target))
        if operation.rule == "index" and any(self.is_array(name) for name in _names(operation.index)):
            raise self.unsupported(
                "srcad cannot differentiate indexing with an array of indices or a boolean mask yet",
                "Write a loop over the elements, or use np.where(mask, x, 0.0) for a mask.",
            )
        if operation.rule in ("copy", "view", "index") and self.is_array(operation.operands[0].value):
            # b = a, b = a[1:], b = a.T, b = A[i]: one memory, two names; the adjoints share theirs alike
            source = operation.operands[0].value
            return forward + [assign(adjoint, _with_base(value, cst.Name(self.adjoint(source))))], []
        forward.append(assign(adjoint, cst.parse_expression(f"np.zeros_like({target})")))
        if operation.rule is None:
            return forward, []
        if operation.rule in rules.ASSEMBLED_RULES:
            return forward, self.assembled(value, adjoint)
        rule = rules.ARRAY_RULES.get(operation.rule) or rules.ELEMENTWISE_RULES.get(operation.rule)
        if operation.rule in rules.MATRIX_PRODUCTS:
            rule = rules.MATRIX_PRODUCT_RULES.get(tuple(self.rank(a) for a in operation.operands))
        extra = {}
        if operation.rule in rules.AXIS_REDUCTION_RULES:  # np.sum(x, axis=k) with an array result
            rule = rules.AXIS_REDUCTION_RULES[operation.rule]
            axis = next(a.value for a in value.args if a.keyword is not None and a.keyword.value == "axis")
            extra["axis"] = cst.Integer(str(_number_of(axis) % self.rank(operation.operands[0])))
        if rule is None:
            raise self.unsupported(
                f"srcad cannot differentiate {operation.rule} with an array result yet",
                "Write it as a loop over the elements.",
            )
        bindings = dict(zip(rule.operands, operation.operands), y=cst.Name(target), y_adj=adjoint, **extra)
        reverse = []
        for atom, template in zip(operation.operands, rule.adjoints):
            if not self.analysis.is_active(atom):
                continue
            for placeholder, bound in bindings.items():
                if isinstance(bound, cst.Name) and rules.template_uses(template, placeholder):
                    reverse += self.recompute(bound.value)
            increment = rules.instantiate(template, **bindings)
            if not self.is_array(atom.value):  # a float spread over the array: its adjoint sums
                increment = cst.Call(cst.parse_expression("np.sum"), [cst.Arg(increment)])
            elif operation.rule not in rules.NOT_BROADCAST and self.may_broadcast(atom.value, operation.operands, target):
                increment = _call("unbroadcast", increment, atom)
            reverse.append(self.contribution(cst.Name(self.adjoint(atom.value)), increment))
        return forward, reverse

    def in_place_update(self, statement, target, value):
        """``x += t`` or ``x -= t`` on an array: x's adjoint flows through; t's collects it."""
        symbol = rules.operator_symbol(value.operator)
        if target in self.analysis.active and symbol not in ("+", "-"):
            raise self.unsupported(
                f"srcad cannot differentiate the in-place '{symbol}=' of the array '{target}' yet",
                f"Write '{target} = {target} {symbol} ...' (a new array) if nothing else refers to '{target}'.",
            )
        if target in self.analysis.recorded:
            self.save(target)  # refuses: the values it overwrites would be needed
        if target not in self.analysis.active:
            return [statement], []
        operand = value.right
        if not self.analysis.is_active(operand):
            return [statement], []
        increment = cst.Name(self.adjoint(target))
        if not self.is_array(operand.value):
            increment = _call("np.sum", increment)
        elif self.may_broadcast(operand.value, [value.left, operand], target):
            increment = _call("unbroadcast", increment, operand)
        return [statement], [self.contribution(cst.Name(self.adjoint(operand.value)), increment, symbol == "-")]

    def assembled(self, value, adjoint):
        """Each active piece of np.array([...]), np.stack or np.concatenate collects its part of the adjoint."""
        reverse = []
        template = rules.ASSEMBLED_RULES[_CODE.code_for_node(value.func)]
        for atom, position in assembled_pieces(value):
            if not self.analysis.is_active(atom):
                continue
            if _CODE.code_for_node(value.func) == "np.concatenate":
                start = " + ".join(f"{a.value}.shape[0]" for a in position) or "0"
                part = f"{start}:{start if start != '0' else ''}{' + ' if start != '0' else ''}{atom.value}.shape[0]"
            else:
                part = ", ".join(str(k) for k in position)
            increment = cst.parse_expression(template.replace("y_adj", adjoint.value).replace("part", part))
            reverse.append(self.contribution(cst.Name(self.adjoint(atom.value)), increment))
        return reverse

    def rank(self, atom):
        numba_type = self.analysis.types.get(atom.value) if isinstance(atom, cst.Name) else None
        return getattr(numba_type, "ndim", 0)

    def may_broadcast(self, name, operands, result):
        """Whether NumPy may have stretched the array ``name`` to the result's shape: it has fewer
        dimensions than the result, or another array operand (shapes are only known at run time)."""
        arrays = [a.value for a in operands if isinstance(a, cst.Name) and self.is_array(a.value)]
        return self.analysis.types[name].ndim < self.analysis.types[result].ndim or len(set(arrays)) > 1

    def element_write(self, statement, write):
        """``b[i] = v`` (v_adj += b_adj[i]; b_adj[i] = 0), ``b[i] += v`` and ``b[i] -= v``."""
        if write.array in self.analysis.recorded:
            self.save(write.array)  # refuses: the overwritten values would be needed
        if write.array not in self.analysis.active:
            return [statement], []
        reverse = []
        for name in write.index_names():
            reverse += self.recompute(name)
        element = _element(self.adjoint(write.array), write.index)
        if _writes_whole(write) and self.analysis.is_active(write.value):  # a[1:] = t: t may be broadcast
            increment = element
            if not self.is_array(write.value.value):
                increment = _call("np.sum", element)
            else:
                increment = _call("unbroadcast", element, write.value)
            reverse.append(self.contribution(cst.Name(self.adjoint(write.value.value)), increment))
        elif self.analysis.is_active(write.value):
            reverse.append(self.contribution(cst.Name(self.adjoint(write.value.value)), element, write.kind == "-="))
        if write.kind == "=":
            reverse.append(assign(element, _ZERO))
        return [statement], reverse

    def read_target(self, operation, name):
        """Where an operand's adjoint accumulates: ``a_adj``, or ``a_adj[i]`` for a read of ``a[i]``."""
        if operation.rule == "index":
            return _element(self.adjoint(name), operation.index)
        return cst.Name(self.adjoint(name))

    def parameter_adjoints(self, wrt_names):
        """Adjoint arrays of the array arguments, allocated before the forward sweep."""
        return [
            assign(self.adjoint(name), cst.parse_expression(f"np.zeros_like({name})"))
            for name in self.parameters
            if self.is_array(name) and (name in self.analysis.active or name in wrt_names)
        ]

