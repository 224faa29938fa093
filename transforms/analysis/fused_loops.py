"""Whole-array statements as element loops: a run of consecutive elementwise statements of the
typed normal form (``t = u[1:-1]``, ``s = 2.0 * t - w``, ``u_next[1:-1] = s``, ``x += d``,
``total = np.sum(s * s)``) becomes one loop nest over their elements, slices, rows, gathers
(``x[a]``) and broadcast axes turned into index arithmetic:

    extent = slice_extent(u_next_extent, 1, -1)        # before the loops around, where it can
    for i in range(extent):
        i_from = i + 1
        t = u[i_from]
        s = 2.0 * t - ...
        u_next[i_from] = s

The values live in scalars; an array is made (``np.empty``) only for a result read after the run,
and a ``np.sum`` of a value of the run is added up in the loop (a full sum into a float, a sum
along an axis into zeros of the other axes: ``s[i] += t``). ``np.roll(a, s, axis=k)`` is read in
place, each position computed from an offset made once (``roll_offset``, ``rolled_position``). The
primal allocates no temporaries, and the reverse and forward passes see the element loops they
differentiate best (a hand-written adjoint's code). Matrix products, other reductions, calls and
writes through index arrays stay as they are, and end a run. Scalar statements between the steps
of a run that read none of its elements run before the loop, or after it where they read its sums.
A step a run refuses takes the values the run computed only for it along to the next run.

Extents are known at run time. Axes whose extents provably agree (the same symbol in
``shapes.symbolic_shapes``, or slices of such axes that drop as many elements) index alike; any
other operand's axis gets a step (``broadcast_step``: 1 where it runs along, 0 where its single
element repeats); ``conforming`` raises NumPy's broadcasting error where they do not agree. The
loop's extent is a written region's (``a[1:-1] = ...``), else the broadcast of its operands'. A
result read after the run (or summed) that NumPy might give fewer elements than the loop has
(made only from operands that may have one) ends the run, so each array keeps NumPy's shape.

A run stops before a statement that would read memory the run writes elsewhere than where it
writes it (``a[1:] = a[:-1]``: NumPy reads all before writing; a loop would not), that binds a name
a second time, or whose result has another rank. Runs inside a kernel's thread are left alone.

The steps and the arrays a run reads are ``fused_steps.py``'s; finding runs, ``fused_runs.py``;
writing a run's loop nest, ``fused_loop_writer.py``.
"""

import dataclasses

import libcst as cst

from ..ir import variable_counts
from ..ir.statements import assignment_of, walk
from .aliases import possible_aliases
from .fused_loop_writer import Hoist, assign
from .fused_runs import Fuse
from .fused_steps import integer_literal
from .shapes import symbolic_shapes


def fused_elementwise(definition, types, names, filename, equal_extents=None):
    """``definition`` with its runs of elementwise array statements as loops, or None where it has
    none worth fusing (a run of views alone, or single statements that are not operations).
    ``equal_extents``: the arguments' axes known equal (``shapes.argument_extents``)."""
    body = definition.body.body
    parameters = [p.name.value for p in definition.params.params]
    bindings = _bindings(definition)
    context = _Context(types, names, filename, symbolic_shapes(body, parameters, types, equal_extents), possible_aliases(body, types),
                       variable_counts(definition), bindings, parameters, _integer_constants(definition, bindings))
    fused = definition.visit(Fuse(context))
    if not context.changed:
        return None
    lengths = [assign(name.value, cst.parse_expression(f"{base}.shape[{axis}]"))
               for (_, base, axis), name in context.argument_lengths.items()]
    fused = fused.with_changes(body=fused.body.with_changes(body=lengths + list(fused.body.body)))
    return fused.visit(Hoist(context.invariant))


@dataclasses.dataclass
class _Context:
    types: dict
    names: object  # the NameFactory of the function
    filename: str
    shapes: dict  # array -> symbolic shape, where every binding has one
    aliases: dict  # array -> the names that may share its memory
    mentions: dict  # variable -> how many times the function mentions it
    bindings: dict  # variable -> how many statements bind it
    parameters: list = dataclasses.field(default_factory=list)
    constants: dict = dataclasses.field(default_factory=dict)  # variable bound once, to an integer literal -> it
    invariant: dict = dataclasses.field(default_factory=dict)  # extent variable -> the variables it reads
    argument_lengths: dict = dataclasses.field(default_factory=dict)  # ("length", argument, axis) -> its name
    changed: bool = False


def _integer_constants(definition, bindings):
    """{variable: the literal} for the variables bound once, to an integer literal (``t1 = 1``)."""
    constants = {}
    for node, _ in walk(definition.body.body):
        assignment = assignment_of(node)
        if assignment is not None and bindings.get(assignment[0]) == 1 and integer_literal(assignment[1]) is not None:
            constants[assignment[0]] = assignment[1]
    return constants


def _bindings(node):
    counts = {}

    def bind(target):
        if isinstance(target, cst.Name):
            counts[target.value] = counts.get(target.value, 0) + 1
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                bind(element.value)

    class Count(cst.CSTVisitor):
        def visit_AssignTarget(self, target):
            bind(target.target)

        def visit_AugAssign(self, statement):
            bind(statement.target)

        def visit_For(self, loop):
            bind(loop.target)

        def visit_Param(self, parameter):
            bind(parameter.name)

    node.visit(Count())
    return counts
