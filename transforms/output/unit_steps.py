"""Element loops whose operands may broadcast, run without their steps where none does.

An operand whose extent srcad cannot prove equal to its loop's is read at ``i_step = step * i``
(``broadcast_step``: 1 where it runs along the loop, 0 where its one element is repeated). The
compiler cannot tell that ``step * i`` counts up by one, nor that it is not negative, so it neither
vectorizes such a loop nor leaves out numba's wraparound of negative indices: a 1-D stencil reading
a coefficient array so ran 2.3x slower than with ``r2[i + 1]``. Operands of the same extent are the
rule, broadcasting the exception, so each loop nest that reads at a step runs in two versions:

    if step == 1 and step_2 == 1:    # no operand broadcasts: ``i_step = i``
        for i in range(extent): ...
    else:
        for i in range(extent): ...  # as written

The same statements in the same order, so the same values bit for bit. A loop is versioned where
its steps do not change inside it (they are computed before it), at the outermost loop of its nest
that reads one, in the forward and reverse sweeps alike; and only where every element it reads or
writes is at the loop variables' sums and products with numbers and values the loop leaves alone
(or at a rolled position of them: ``rolled_pieces`` makes those so), and no value is carried from
one iteration to the next. A loop gathering ``x[a_k]``, pushing onto the tape or summing floats is
no faster without its steps; a second copy of it would only cost compile time (the spring chain's
first call: +3.5 s).
"""

import libcst as cst

from ..ir import bound_names, nodes_in
from ..ir.flow import reads_before_assignment
from ..ir.statements import assignment_of


def with_unit_steps(definition):
    """``definition`` with every element loop reading at a broadcast step versioned (see above)."""
    steps = _broadcast_steps(definition)
    if not steps:
        return definition
    return definition.visit(_Versioned(steps))


def _broadcast_steps(definition):
    """Names bound to ``broadcast_step(...)`` (elsewhere, maybe, to their values kept on the tape:
    integers all the same; ``step * i`` is ``i`` where ``step == 1`` whatever bound it)."""
    steps = set()
    for node in nodes_in(definition.body):
        assigned = assignment_of(node) if isinstance(node, cst.SimpleStatementLine) else None
        value = assigned[1] if assigned else None
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == "broadcast_step":
            steps.add(assigned[0])
    return steps


def _counters(loop):
    """The variables of ``loop`` and of the loops inside it."""
    return {node.target.value for node in nodes_in(loop) if isinstance(node, cst.For) and isinstance(node.target, cst.Name)}


def _products(loop, steps):
    """{id of each statement ``x = step * i`` in ``loop``: (step, i)} with ``i`` a loop variable of
    ``loop`` or of a loop inside it, and ``step`` a broadcast step ``loop`` does not bind; empty where
    none reads ``loop``'s own variable (a time loop around element loops: those are versioned)."""
    counters = _counters(loop)
    changed = bound_names(loop)
    found = {}
    for node in nodes_in(loop.body):
        if not isinstance(node, cst.SimpleStatementLine):
            continue
        assigned = assignment_of(node)
        value = assigned[1] if assigned and isinstance(node.body[0], cst.Assign) else None
        if not (isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Multiply)):
            continue
        names = [side.value if isinstance(side, cst.Name) else None for side in (value.left, value.right)]
        for step, counter in (names, names[::-1]):
            if step in steps and step not in changed and counter in counters:
                found[id(node)] = (step, counter)
                break
    own = isinstance(loop.target, cst.Name) and any(counter == loop.target.value for _, counter in found.values())
    return found if own else {}


def _affine_indices(loop):
    """Whether every element index in ``loop`` is the loop variables' sums and products with numbers
    and values the loop does not change: what a compiler vectorizes once the steps are 1."""
    values = {}
    for node in nodes_in(loop.body):
        assigned = assignment_of(node) if isinstance(node, cst.SimpleStatementLine) else None
        if assigned and isinstance(node.body[0], cst.Assign):
            values.setdefault(assigned[0], []).append(assigned[1])
    counters = _counters(loop)

    def affine(value, seen=frozenset()):
        if isinstance(value, cst.Integer):
            return True
        if isinstance(value, cst.Name):
            if value.value in counters or value.value not in values:
                return True
            return value.value not in seen and len(values[value.value]) == 1 and affine(values[value.value][0], seen | {value.value})
        if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, (cst.Add, cst.Subtract, cst.Multiply)):
            return affine(value.left, seen) and affine(value.right, seen)
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == "rolled_position":
            return all(affine(argument.value, seen) for argument in value.args)  # made affine by rolled_pieces
        return False

    subscripts = [node for node in nodes_in(loop.body) if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name)]
    return all(isinstance(element.slice, cst.Index) and affine(element.slice.value)
               for subscript in subscripts for element in subscript.slice)


def _carries_values(loop):
    """Whether a variable of ``loop`` carries a value from one iteration to the next (a push's tape
    top, a sum in floating point), which keeps the iterations in order whatever the steps."""
    counters = _counters(loop)
    return bool(reads_before_assignment(loop.body.body, counters) & bound_names(loop.body))


class _Versioned(cst.CSTTransformer):
    def __init__(self, steps):
        self.steps = steps
        self.versions = {}  # id of a loop versioned -> its If

    def visit_For(self, node):
        products = _products(node, self.steps)
        if not products:
            return True
        if not _affine_indices(node) or _carries_values(node):
            return False  # a gather, a rolled position, a tape push: no faster without the steps
        unit = node.visit(_WithoutSteps(products)).with_changes(leading_lines=[])
        used = sorted({step for step, _ in products.values()})
        test = cst.parse_expression(" and ".join(f"{step} == 1" for step in used))
        self.versions[id(node)] = cst.If(
            test=test,
            body=cst.IndentedBlock(
                [unit],
                header=cst.TrailingWhitespace(
                    whitespace=cst.SimpleWhitespace("  "),
                    comment=cst.Comment("# no operand broadcasts: the same loop without its steps"),
                ),
            ),
            orelse=cst.Else(cst.IndentedBlock([node.with_changes(leading_lines=[])])),
            leading_lines=node.leading_lines,
        )
        return False

    def leave_For(self, original_node, updated_node):
        return self.versions.get(id(original_node), updated_node)


class _WithoutSteps(cst.CSTTransformer):
    """A loop with each ``x = step * i`` of ``products`` as ``x = i``."""

    def __init__(self, products):
        self.products = products

    def leave_SimpleStatementLine(self, original_node, updated_node):
        if id(original_node) not in self.products:
            return updated_node
        _, counter = self.products[id(original_node)]
        assignment = updated_node.body[0]
        return updated_node.with_changes(body=[assignment.with_changes(value=cst.Name(counter))])
