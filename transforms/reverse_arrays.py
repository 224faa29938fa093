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
from srcad.transforms.activity import operation_of
from srcad.transforms.flatten import assign

_ZERO = cst.Float("0.0")


class UnsupportedHere(Exception):
    """Raised while generating code for something srcad cannot differentiate yet;
    the pipeline turns it into a DifferentiabilityError at ``lineno``."""

    def __init__(self, why, fix, lineno):
        super().__init__(why)
        self.why, self.fix, self.lineno = why, fix, lineno


def _accumulate(target, increment, subtract=False):
    operator = cst.SubtractAssign() if subtract else cst.AddAssign()
    return cst.SimpleStatementLine([cst.AugAssign(target, operator, increment)])


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
        if target not in self.analysis.active:
            return forward, []
        if self.loop_depth or self.array_bindings.get(target, 0) > 1:
            raise self.unsupported(
                f"srcad cannot differentiate an array variable ('{target}') bound more than once or inside a loop yet",
                "Create each array once, before the loops, and overwrite its elements.",
            )
        operation = operation_of(value)
        adjoint = cst.Name(self.adjoint(target))
        if operation.rule == "copy" and self.is_array(operation.operands[0].value):
            # b = a: one array, two names; so too for their adjoints
            return forward + [assign(adjoint, cst.Name(self.adjoint(operation.operands[0].value)))], []
        forward.append(assign(adjoint, cst.parse_expression(f"np.zeros_like({target})")))
        if operation.rule is None:
            return forward, []
        rule = rules.ARRAY_RULES.get(operation.rule) or rules.ELEMENTWISE_RULES.get(operation.rule)
        if rule is None:
            raise self.unsupported(
                f"srcad cannot differentiate {operation.rule} with an array result yet",
                "Write it as a loop over the elements.",
            )
        bindings = dict(zip(rule.operands, operation.operands), y=cst.Name(target), y_adj=adjoint)
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
            reverse.append(self.contribution(cst.Name(self.adjoint(atom.value)), increment))
        return forward, reverse

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
        if self.analysis.is_active(write.value):
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

