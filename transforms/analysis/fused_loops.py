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
place, through the positions it takes its elements from (``roll_positions``, made once). The
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
"""

import dataclasses

import libcst as cst
from numba.core import types as numba_types

from .. import rules
from ..ir import FUSED_LOOP_NOTE, bound_names, marker_of, variable_counts
from ..ir.statements import assignment_of, element_write_of, in_place_update_of, is_array_type, operation_of, walk
from .aliases import array_aliases, is_new_memory
from .shapes import symbolic_shapes

# Elementwise operations a loop does not compute on floats: a copy (it names the same memory),
# Python's max and min (not defined on arrays), np.where (its condition is boolean) and np.clip
# (numba has no np.clip of floats).
_NOT_FUSED = {"copy", "max", "min", "np.where", "np.clip"}


def fused_elementwise(definition, types, names, filename):
    """``definition`` with its runs of elementwise array statements as loops, or None where it has
    none worth fusing (a run of views alone, or single statements that are not operations)."""
    body = definition.body.body
    parameters = [p.name.value for p in definition.params.params]
    bindings = _bindings(definition)
    context = _Context(types, names, filename, symbolic_shapes(body, parameters, types), array_aliases(body, types),
                       variable_counts(definition), bindings, parameters, _integer_constants(definition, bindings))
    fused = definition.visit(_Fuse(context))
    if not context.changed:
        return None
    lengths = [_assign(name.value, cst.parse_expression(f"{base}.shape[{axis}]"))
               for (_, base, axis), name in context.argument_lengths.items()]
    fused = fused.with_changes(body=fused.body.with_changes(body=lengths + list(fused.body.body)))
    return fused.visit(_Hoist(context.invariant))


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


# -- the statements a run is made of ------------------------------------------------------------------
@dataclasses.dataclass
class _Step:
    statement: cst.SimpleStatementLine
    # "view" (t = a[1:, j]), "op" (t = a * b), "write" (a[1:] = v, a[1:] += v, a += v), "reduce" (s = np.sum(t),
    # or with ``axis`` set, s = np.sum(t, axis=k))
    kind: str
    target: str  # the name bound, or the array written
    rank: int  # of the result, or of the region written
    value: cst.BaseExpression = None  # op: the right-hand side; write: the atom written
    operands: list = dataclasses.field(default_factory=list)  # op: its atoms
    region: list = dataclasses.field(default_factory=list)  # view, write: (kind, ...) per element
    source: str = None  # view: the array viewed
    write_kind: str = "="
    axis: int = None  # reduce: the axis summed along (None: every axis)


def _step_of(statement, types):
    """The step a normal-form statement is in a run, or None where it cannot be one."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    write = element_write_of(statement)
    if write is not None:
        target = statement.body[0].targets[0].target if isinstance(statement.body[0], cst.Assign) else statement.body[0].target
        array_type = types.get(write.array)
        row = write.region is None and is_array_type(array_type) and array_type.ndim > len(write.index)  # f[a_s] -= fs_s
        region = _region(target.slice, array_type, types) if write.region is not None or row else None
        if region is None or not _is_float64_array(types.get(write.array)) or not _is_operand(write.value, types):
            return None
        return _Step(statement, "write", write.array, _rank(region), value=write.value,
                     region=region, write_kind=write.kind)
    update = in_place_update_of(statement)
    if update is not None:
        target, value = update
        if not isinstance(value.operator, (cst.Add, cst.Subtract)) or not _is_float64_array(types.get(target)):
            return None
        if not _is_operand(value.right, types):
            return None
        kind = "+=" if isinstance(value.operator, cst.Add) else "-="
        return _Step(statement, "write", target, types[target].ndim, value=value.right, write_kind=kind)
    small = statement.body[0]
    if not (isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)):
        return None
    target, value = small.targets[0].target.value, small.value
    if (isinstance(value, cst.Call) and _code(value.func) == "np.sum" and len(value.args) == 1 and value.args[0].keyword is None
            and isinstance(value.args[0].value, cst.Name) and _is_float_array(types.get(value.args[0].value.value))
            and types.get(target) == numba_types.float64):
        summed = value.args[0].value
        return _Step(statement, "reduce", target, types[summed.value].ndim, value=summed, operands=[summed])
    along = _summed_along(value, types)
    if along is not None and _is_float64_array(types.get(target)):
        summed, axis = along
        return _Step(statement, "reduce", target, types[summed.value].ndim, value=summed, operands=[summed], axis=axis)
    if not _is_float64_array(types.get(target)):
        return None
    operation = operation_of(value)
    rolled = _rolled(value, operation, types)
    if rolled is not None:  # t = np.roll(a, s, axis=k): element j of axis k is a's element (j - s) % n
        source, region = rolled
        return _Step(statement, "view", target, types[target].ndim, region=region, source=source)
    if isinstance(value, cst.Subscript) and operation.rule in ("view", "index") and _is_float_array(types.get(value.value.value)):
        region = _region(value.slice, types[value.value.value], types, gathers=True)
        if region is None or _rank(region) != types[target].ndim:
            return None
        return _Step(statement, "view", target, types[target].ndim, region=region, source=value.value.value)
    if (operation.rule in rules.ELEMENTWISE_RULES and operation.rule in rules.SCALAR_RULES
            and operation.rule not in _NOT_FUSED and operation.operands
            and all(_is_operand(atom, types) for atom in operation.operands)
            and _keywords_only_constant(value)):
        return _Step(statement, "op", target, types[target].ndim, value=value, operands=list(operation.operands))
    return None


def _rolled(value, operation, types):
    """(the array rolled, its region) of ``roll_along(a, shift, axis)`` or ``np.roll(a, shift)`` of a
    vector, with ("roll", shift) on the axis rolled; None for any other value."""
    if operation.rule not in ("roll_along", "np.roll") or not isinstance(value, cst.Call):
        return None
    array, shift = operation.operands[0], operation.operands[1]
    numba_type = types.get(array.value) if isinstance(array, cst.Name) else None
    if not _is_float_array(numba_type) or not _is_integer_atom(shift, types):
        return None
    if operation.rule == "np.roll":
        axis = 0 if numba_type.ndim == 1 else None  # (np.roll of a matrix rolls it flattened)
    else:
        axis = _literal(operation.operands[2])
    if axis is None or not 0 <= axis < numba_type.ndim:
        return None
    region = [("slice", None, None)] * numba_type.ndim
    region[axis] = ("roll", shift)
    return array.value, region


def _summed_along(value, types):
    """(the array summed, the axis) of ``np.sum(t, axis=k)`` with a literal k; None for anything else."""
    if not (isinstance(value, cst.Call) and _code(value.func) == "np.sum" and len(value.args) == 2):
        return None
    summed, axis = value.args
    if summed.keyword is not None or not isinstance(summed.value, cst.Name) or axis.keyword is None:
        return None
    numba_type = types.get(summed.value.value)
    literal = _literal(axis.value)
    if axis.keyword.value != "axis" or literal is None or not _is_float_array(numba_type):
        return None
    if not -numba_type.ndim <= literal < numba_type.ndim or numba_type.ndim < 2:
        return None
    return summed.value, literal % numba_type.ndim


def _is_float64_array(numba_type):
    return is_array_type(numba_type) and numba_type.dtype == numba_types.float64 and numba_type.ndim >= 1


def _is_float_array(numba_type):
    return is_array_type(numba_type) and isinstance(numba_type.dtype, numba_types.Float) and numba_type.ndim >= 1


def _is_operand(atom, types):
    """A number, a float or integer variable, or a float array of at least one dimension."""
    if isinstance(atom, (cst.Integer, cst.Float)):
        return True
    if isinstance(atom, cst.UnaryOperation):
        return isinstance(atom.expression, (cst.Integer, cst.Float))
    if not isinstance(atom, cst.Name):
        return False
    numba_type = types.get(atom.value)
    return _is_float_array(numba_type) or isinstance(numba_type, (numba_types.Float, numba_types.Integer))


def _keywords_only_constant(value):
    return not isinstance(value, cst.Call) or all(a.keyword is None for a in value.args)


def _region(elements, array_type, types, gathers=False):
    """What each element between the brackets does: ("slice", start, stop) with step 1 (atoms or
    None), ("new",) for None, ("fixed", atom) for an integer, with ``gathers`` ("gather", name) for
    one vector of integers (``x[a]``: element ``x[a[i]]``); None where another kind appears."""
    region = []
    for element in elements:
        index = element.slice
        if isinstance(index, cst.Slice):
            if index.step is not None and not (isinstance(index.step, cst.Integer) and index.step.evaluated_value == 1):
                return None
            bounds = [index.lower, index.upper]
            if not all(bound is None or _is_integer_atom(bound, types) for bound in bounds):
                return None
            region.append(("slice", *bounds))
        elif isinstance(index.value, cst.Name) and index.value.value == "None":
            region.append(("new",))
        elif _is_integer_atom(index.value, types):
            region.append(("fixed", index.value))
        elif gathers and _is_index_vector(index.value, types) and not any(entry[0] == "gather" for entry in region):
            region.append(("gather", index.value.value))
        else:
            return None
    taken = sum(1 for entry in region if entry[0] != "new")
    if not is_array_type(array_type) or taken > array_type.ndim:
        return None
    return region + [("slice", None, None)] * (array_type.ndim - taken)


def _is_index_vector(atom, types):
    numba_type = types.get(atom.value) if isinstance(atom, cst.Name) else None
    return is_array_type(numba_type) and numba_type.ndim == 1 and isinstance(numba_type.dtype, numba_types.Integer)


def _is_integer_atom(atom, types):
    if isinstance(atom, cst.Integer):
        return True
    if isinstance(atom, cst.UnaryOperation) and isinstance(atom.operator, cst.Minus):
        return isinstance(atom.expression, cst.Integer)
    return isinstance(atom, cst.Name) and isinstance(types.get(atom.value), numba_types.Integer)


def _rank(region):
    return sum(1 for entry in region if entry[0] != "fixed")


def _literal(atom):
    """The integer an atom spells, or None for a variable."""
    if isinstance(atom, cst.Integer):
        return atom.evaluated_value
    if isinstance(atom, cst.UnaryOperation) and isinstance(atom.expression, cst.Integer):
        return -atom.expression.evaluated_value
    return None


# -- counting names -----------------------------------------------------------------------------------
def _integer_constants(definition, bindings):
    """{variable: the literal} for the variables bound once, to an integer literal (``t1 = 1``)."""
    constants = {}
    for node, _ in walk(definition.body.body):
        assignment = assignment_of(node)
        if assignment is not None and bindings.get(assignment[0]) == 1 and _literal(assignment[1]) is not None:
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


# -- finding runs ---------------------------------------------------------------------------------------
class _Fuse(cst.CSTTransformer):
    def __init__(self, context):
        super().__init__()
        self.context = context
        self.line = 0  # the user's line of the statements being visited (normalize's markers)
        self.entry_lines = []  # the line where each block being visited starts

    def on_visit(self, node):
        marker = marker_of(node)
        if marker is not None:
            self.line = int(marker.split(":")[0])
        if isinstance(node, cst.IndentedBlock):
            self.entry_lines.append(self.line)
        return super().on_visit(node)

    def leave_IndentedBlock(self, original, updated):
        body = self.fused_block(list(updated.body), self.entry_lines.pop())
        return updated.with_changes(body=body) if body is not None else updated

    def fused_block(self, statements, line):
        """The block with its runs fused, or None where none is."""
        items = []  # (position, statement, step or None, the user's line)
        for position, statement in enumerate(statements):
            marker = marker_of(statement)
            line = int(marker.split(":")[0]) if marker is not None else line
            items.append((position, statement, _step_of(statement, self.context.types), line))
        result = []
        changed = _fuse_runs(self.context, statements, items, result)
        self.context.changed |= changed
        return result if changed else None


def _fuse_runs(context, block, items, result):
    """Append ``items`` (of ``block``) to ``result``, consecutive steps fused into runs; say whether any was.
    A step that cannot join the run (``out[n:] = pred * t`` after ``out[:n] = ...`` wrote the same
    array) takes the values the run computed only for it along to the next run, rather than have
    them made into arrays for it."""
    changed, run, held = False, None, []  # held: the items the run has taken
    for index, item in enumerate(items):
        position, statement, step, line = item
        if run is not None and step is not None and run.admits(step, position):
            held.append(item)
            continue
        if run is not None and step is None and run.passes_over(statement, position):
            held.append(item)
            continue
        moved = _computed_only_for(held, step, context) if step is not None else []
        if moved and len(moved) < len(held):
            changed |= _fuse_runs(context, block, [taken for taken in held if taken not in moved], result)
            return _fuse_runs(context, block, moved + items[index:], result) or changed
        moved_marker = run.moved_marker if run is not None else None
        if run is not None:
            changed |= run.close(result)
        run, held = _Run(context, block, line), []
        run.moved_marker = moved_marker
        if step is not None and run.admits(step, position):
            held.append(item)
            continue
        run = None
        result.append(statement)
    if run is not None:
        changed |= run.close(result)
    return changed


def _reads(step):
    if step.kind == "view":
        return {step.source}
    atoms = step.operands if step.kind in ("op", "reduce") else [step.value]
    return {atom.value for atom in atoms if isinstance(atom, cst.Name)}


def _computed_only_for(held, step, context):
    """The items of ``held`` (a run's) computing values or views that only ``step``, refused by the run,
    reads (directly or through one another), where moving them after the rest changes nothing they
    read; [] where there are none."""
    needed, moved = _reads(step), []
    for item in reversed(held):
        taken = item[2]
        if taken is None or taken.kind not in ("op", "view") or taken.target not in needed:
            continue
        later = [other[2] for other in held[held.index(item) + 1:] if other[2] is not None and other not in moved]
        if any(taken.target in _reads(other) for other in later):
            continue
        moved.insert(0, item)
        needed |= _reads(taken)
    kept = [item[2] for item in held if item not in moved and item[2] is not None]
    written = {step.target for step in kept if step.kind == "write"}
    written |= {name for target in written for name in context.aliases.get(target, ())}
    if any(_reads(item[2]) & written for item in moved):
        return []
    return moved


@dataclasses.dataclass(frozen=True)
class _Along:
    """A base axis that follows the loop: element ``start + position`` of ``base.shape[base_axis]``
    (``start`` and ``stop`` as written, None where left out); ``key`` is equal for provably equal extents."""

    axis: int  # the array's own axis (before aligning to the loop's last axes)
    base_axis: int
    start: object
    stop: object
    key: tuple
    gather: str = None  # the vector of integers an axis of ``x[a]`` is indexed through
    roll: object = None  # the shift of an axis of ``np.roll(x, shift, axis)``: read at (position - shift) % extent


@dataclasses.dataclass
class _Array:
    """An array as the loop reads it: ``base[...]``, per base axis an ``_Along`` or a fixed integer
    atom; ``axes`` holds the extent key of each of the array's own axes (("one",) for a None axis)."""

    base: str
    entries: list
    axes: list

    def form(self):
        """What tells two reads of ``base`` apart."""
        return [(e.axis, e.base_axis, _code(e.start), e.key, e.gather, _code(e.roll)) if isinstance(e, _Along)
                else _code(e) for e in self.entries]


class _Run:
    """Consecutive steps fused into one loop nest."""

    def __init__(self, context, block, line):
        self.context = context
        self.line = line  # the user's line it starts on
        self.passed = []  # statements between its steps that read no element, computed before the loop
        self.deferred = []  # statements between its steps that read its sums, computed after the loop
        self.sums = {}  # name -> its reduce step
        self.waiting = set()  # the names the deferred statements bind or write
        self.waiting_reads = set()  # the names they read
        self.positions = []  # each step's position in the block
        self.last = -1  # the position of the last statement it passed over
        self.block = block  # the block's statements, to tell whether a written array is new memory
        self.steps = []
        self.rank = None
        self.views = {}  # view name -> _Array
        self.results = {}  # op result name -> its step
        self.written = []  # (write step, _Array)
        self.read = []  # _Array read (views at their binding, arrays where an operation reads them)
        self.used = []  # _Array read or written by its operations, writes and sums: what sets its extents
        # the user's line marker of a statement moved before the loop, for the next step of that line
        self.moved_marker = None

    # -- admitting steps ---------------------------------------------------------------------------
    def admits(self, step, position):
        """Whether ``step`` joins the run (then it has joined)."""
        if step.target in self.views or step.target in self.results or step.target in self.sums:
            return False  # bound twice
        if self._reads_what_waits(step):
            return False
        if self.moved_marker is not None and marker_of(step.statement) is None:
            # its line began with a statement moved before a loop: the loop's code names the line again
            step.statement = step.statement.with_changes(leading_lines=self.moved_marker)
        self.moved_marker = None
        if step.kind == "reduce":  # s = np.sum(t) of a value the loop computes: s += t's element (s[i] += t[i, j])
            if step.value.value not in self.results and step.value.value not in self.views or step.rank != self.rank:
                return False
            self.steps.append(step)
            self.positions.append(position)
            self.sums[step.target] = step
            if step.value.value in self.views:
                self.used.append(self.views[step.value.value])
            return True
        if step.kind == "view":
            if step.source in self.results or step.source in self.views or (self.rank is not None and step.rank > self.rank):
                return False  # (a view of a view of the run: the next run reads the first as an array)
            array = self.viewed(step.source, step.region)
            if not self._may_read([array]):
                return False
            self.steps.append(step)
            self.positions.append(position)
            self.views[step.target] = array
            self.read.append(array)
            return True
        if self.rank is None and any(len(view.axes) > step.rank for view in self.views.values()):
            return False
        if self.rank is not None and step.rank != self.rank:
            return False
        atoms = step.operands if step.kind == "op" else [step.value]
        names = [a.value for a in atoms if isinstance(a, cst.Name) and a.value not in self.results]
        arrays = [self.operand(name) for name in names if _is_float_array(self.context.types.get(name))]
        if any(array is None or len(array.axes) > step.rank for array in arrays) or not self._may_read(arrays):
            return False
        written = None
        if step.kind == "write":
            written = self.viewed(step.target, step.region) if step.region else self.whole(step.target)
            if not self._may_write(written, self.read + arrays, position):
                return False
            if self.written and _aligned(written.axes, step.rank) != _aligned(self.written[0][1].axes, step.rank):
                return False  # regions written by one loop have one shape
        if written is not None:
            self.written.append((step, written))
        else:
            self.results[step.target] = step
        self.rank = step.rank
        self.steps.append(step)
        self.positions.append(position)
        self.read += arrays
        self.used += arrays + [written] * (written is not None)
        return True

    def operand(self, name):
        return self.views[name] if name in self.views else self.whole(name)

    def whole(self, name):
        return self.viewed(name, [("slice", None, None)] * self.context.types[name].ndim)

    def viewed(self, base, region):
        entries, axes = [], []
        for entry in region:
            if entry[0] == "new":
                axes.append(("one",))
            elif entry[0] == "fixed":
                entries.append(entry[1])
            elif entry[0] == "gather":
                key = self._axis_key(entry[1], 0)
                entries.append(_Along(len(axes), len(entries), None, None, key, gather=entry[1]))
                axes.append(key)
            elif entry[0] == "roll":
                key = self._axis_key(base, len(entries))
                entries.append(_Along(len(axes), len(entries), None, None, key, roll=entry[1]))
                axes.append(key)
            else:
                along = _Along(len(axes), len(entries), entry[1], entry[2], self._slice_key(base, len(entries), entry[1], entry[2]))
                entries.append(along)
                axes.append(along.key)
        return _Array(base, entries, axes)

    def _axis_key(self, base, axis):
        shape = self.context.shapes.get(base)
        return ("symbol", shape[axis]) if shape is not None else ("axis", base, axis)

    def _slice_key(self, base, axis, start, stop):
        """A key equal for two slices whose extents are provably equal."""
        whole = self._axis_key(base, axis)
        low, high = (0 if start is None else _literal(start)), (0 if stop is None else _literal(stop))
        if low is not None and high is not None and low >= 0 and (stop is None or high < 0):
            return whole if low == high == 0 else ("less", whole, low - high)  # max(0, extent - low + high)
        return ("slice", base, axis, _code(start), _code(stop))

    def _may_read(self, arrays):
        """Reading ``arrays`` is safe: the run writes no memory they may share elsewhere."""
        return all(not self.shares(array.base, written.base) or array.form() == written.form()
                   for array in arrays for _, written in self.written)

    def _may_write(self, written, reads, position):
        """Writing ``written``: every read of memory it may share reads the same elements (an array
        bound to new memory earlier in this block, not mentioned since, shares nothing)."""
        if any(self.shares(written.base, other.base) for _, other in self.written):
            return False
        fresh = self._fresh(written.base, position)
        return all(array.form() == written.form() for array in reads
                   if (array.base == written.base if fresh else self.shares(array.base, written.base)))

    def shares(self, one, other):
        return one == other or other in self.context.aliases.get(one, ())

    def _fresh(self, target, position):
        for statement in reversed(self.block[:position]):
            if target in variable_counts(statement):
                small = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else None
                return (isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Name)
                        and small.targets[0].target.value == target and is_new_memory(small.value))
        return False

    def passes_over(self, statement, position):
        """Whether the run goes on past ``statement``, a scalar assignment or a write of one element
        (``a_s = a[s]`` between ``fs_s = fs[s]`` and ``f[a_s] -= fs_s``; ``total = a_j + s`` after
        ``s = np.sum(t)``) that reads no element the loop computes: computed before the loop, or
        after it where it reads the run's sums (or what waits for them)."""
        if not self.steps or not isinstance(statement, cst.SimpleStatementLine):
            return False
        if marker_of(statement) is not None:
            self.moved_marker = list(statement.leading_lines)
        target, read = self._scalar_statement(statement)
        if target is None or any(name in self.results or name in self.views for name in read):
            return False
        mentioned = set().union(*(variable_counts(step.statement) for step in self.steps))
        if target in mentioned or any(self.shares(target, array.base) for array in self.read + [w for _, w in self.written]):
            return False
        self.last = position
        if read & (set(self.sums) | self.waiting):
            self.deferred.append(statement)
            self.waiting.add(target)
            self.waiting_reads |= read
            return True
        if any(self.shares(name, written.base) for name in read for _, written in self.written):
            return False
        self.passed.append(statement)
        return True

    def _scalar_statement(self, statement):
        """(the name bound or the array written, the names read) of a scalar assignment or of a
        write of one element; (None, None) for any other statement."""
        types = self.context.types
        assignment = assignment_of(statement)
        if assignment is not None and in_place_update_of(statement) is None:
            target, value = assignment
            if isinstance(types.get(target), (numba_types.Integer, numba_types.Float)):
                return target, set(variable_counts(value))
            return None, None
        write = element_write_of(statement)
        if (write is not None and write.region is None and is_array_type(types.get(write.array))
                and len(write.index) == types[write.array].ndim and all(_is_integer_atom(a, types) for a in write.index)):
            return write.array, set(variable_counts(write.value)) | set(write.index_names()) | ({write.array} if write.kind != "=" else set())
        return None, None

    def _reads_what_waits(self, step):
        """Whether ``step`` reads a sum or a name bound after the loop, or writes what a statement
        there reads."""
        if (self.waiting | set(self.sums)) & set(variable_counts(step.statement)):
            return True
        return step.kind == "write" and any(self.shares(step.target, name) for name in self.waiting_reads)

    def close(self, result):
        """Append the run to ``result``, fused where it has an operation or a write; say whether it was.
        A result read after the run that NumPy might give fewer elements than the loop has (computed
        only from operands that may broadcast) ends a run of its own."""
        if not any(step.kind in ("op", "write") for step in self.steps):
            result += self.passed + [step.statement for step in self.steps] + self.deferred
            return False
        writer = _LoopWriter(self)
        short = writer.first_short_result()
        if short is not None:
            cut = self.positions[short] + 1 if short < len(self.steps) - 1 else self.positions[short]
            items = [(p, self.block[p], _step_of(self.block[p], self.context.types), self.line)
                     for p in range(self.positions[0], max(self.positions[-1], self.last) + 1)]
            _fuse_runs(self.context, self.block, [item for item in items if item[0] < cut], result)
            _fuse_runs(self.context, self.block, [item for item in items if item[0] >= cut], result)
            return True
        result += self.passed + writer.statements() + self.deferred
        return True


def _aligned(axes, rank):
    """An array's axis keys aligned to a loop nest of ``rank`` axes (None where it has no axis)."""
    return [None] * (rank - len(axes)) + list(axes)


def _code(node):
    return None if node is None or isinstance(node, str) else cst.Module([]).code_for_node(node)


class _LoopWriter:
    """The statements of one fused run: extents and steps before the loop, arrays for the results
    read after it, the loop nest, and results bound to their names after it."""

    def __init__(self, run):
        self.run = run
        self.context = run.context
        self.names = run.context.names
        self.hoisted, self.before, self.body, self.after = [], [], [], []
        self.known = {}  # extent keys, lengths and starts -> the variable holding them
        self.positions = {}  # (loop axis, start, step) -> the index atom
        self.elements = {}  # (base, index codes) -> the scalar holding that element
        self.scalars = {}  # op result -> its scalar
        self.outside = self._mentioned_outside()
        self.where = cst.SimpleString(repr(f"{self.context.filename}:{run.line}"))
        self.arrays = run.used
        self.loops = [self.names.fresh(name) for name in ("i", "j", "k", "l", "m", "p")[: run.rank]]

    def statements(self):
        steps = self.run.steps
        self.before += [s.statement.with_changes(leading_lines=[]) for s in steps if s.kind == "view" and s.target in self.outside]
        self.extents = [self._loop_extent(axis) for axis in range(self.run.rank)]
        materialized = {s.target: self._materialized(s) for s in steps if s.kind == "op" and s.target in self.outside}
        self.before += [self._sum_start(s) for s in steps if s.kind == "reduce"]
        lines = []  # the user's line markers, each on the first statement made from its statement
        for step in steps:
            lines += list(step.statement.leading_lines)
            made = len(self.body)
            if step.kind == "op":
                self._operation(step, materialized.get(step.target))
            elif step.kind == "write":
                self._write(step)
            elif step.kind == "reduce":
                self.body.append(_element_write(step.target, self._sum_index(step), self._element(step.value.value), "+="))
            if len(self.body) > made and lines:
                self.body[made] = self.body[made].with_changes(leading_lines=lines)
                lines = []
        loop = self._nest()
        statements = self.before + [loop] + self.after
        if statements[0] is not loop:
            statements[0] = statements[0].with_changes(leading_lines=list(steps[0].statement.leading_lines))
        return self.hoisted + statements

    def _mentioned_outside(self):
        inside = {}
        for step in self.run.steps:
            for name, count in variable_counts(step.statement).items():
                inside[name] = inside.get(name, 0) + count
        return {name for name, count in inside.items() if self.context.mentions.get(name, 0) > count}


    # extents, before the loop ---------------------------------------------------------------------------
    def _keys(self, array, axis):
        """The extent key of ``array``'s axis along loop ``axis`` (None where it has none there)."""
        offset = self.run.rank - len(array.axes)
        return array.axes[axis - offset] if axis >= offset else None

    def _loop_extent(self, axis):
        """(extent atom of loop ``axis``, {key: its step} for operands that may broadcast along it,
        the keys of its operands, the key of the region written). Extents and steps are computed
        where nothing they read changes (``_Hoist``); the check that the operands conform, in place."""
        keys = []
        for array in self.arrays:
            key = self._keys(array, axis)
            if key not in (None, ("one",)) and key not in keys:
                keys.append(key)
        anchor = self._keys(self.run.written[0][1], axis) if self.run.written else None
        if anchor not in (None, ("one",)):
            extent, stepped = self._extent(anchor), [key for key in keys if key != anchor]
        elif not keys:
            extent, stepped = cst.Integer("1"), []
        else:
            extent = self._extent(keys[0])
            for key in keys[1:]:
                extent = self._pure("extent", "broadcast_extent", [extent, self._extent(key)])
            stepped = keys if len(keys) > 1 else []
        steps = {key: self._pure("step", "broadcast_step", [self._extent(key), extent]) for key in stepped}
        for key in stepped:
            extent = self._checked("extent", "conforming", [extent, self._extent(key), self.where])
        return extent, steps, keys, anchor

    def _extent(self, key):
        """The variable holding the extent of axes keyed ``key``: an array's length, or its slice's."""
        if key not in self.known:
            array, along = next((a, e) for a in self.arrays for e in a.entries if isinstance(e, _Along) and e.key == key)
            length = self._length(along.gather, 0) if along.gather else self._length(array.base, along.base_axis)
            if along.start is None and along.stop is None:
                self.known[key] = length
            else:
                start = along.start if along.start is not None else cst.Integer("0")
                stop = along.stop if along.stop is not None else length
                self.known[key] = self._pure(f"{array.base}_extent", "slice_extent", [length, start, stop])
        return self.known[key]

    def _length(self, base, axis):
        """``base.shape[axis]``, read from an argument of the same extent where one has it at every
        binding (then nothing rebinding ``base`` changes it)."""
        symbol = self.context.shapes.get(base, (None,) * (axis + 1))[axis]
        if (isinstance(symbol, tuple) and symbol[0] == "dim" and symbol[1] in self.context.parameters
                and self.context.shapes.get(symbol[1], ())[symbol[2]:symbol[2] + 1] == (symbol,)):
            base, axis = symbol[1], symbol[2]
        key = ("length", base, axis)
        if base in self.context.parameters and base in self.context.shapes:  # one name, read once at the top
            if key not in self.context.argument_lengths:
                self.context.argument_lengths[key] = cst.Name(self.names.fresh(f"{base}_extent"))
            return self.context.argument_lengths[key]
        if key not in self.known:
            name = self.names.fresh(f"{base}_extent")
            self.hoisted.append(_assign(name, cst.parse_expression(f"{base}.shape[{axis}]")))
            self.context.invariant[name] = {base}
            self.known[key] = cst.Name(name)
        return self.known[key]

    def _start(self, base, along):
        literal = 0 if along.start is None else _literal(along.start)
        if literal is not None and literal >= 0:
            return None if literal == 0 else cst.Integer(str(literal))
        key = ("start", base, along.base_axis, _code(along.start))
        if key not in self.known:
            self.known[key] = self._pure(f"{base}_start", "slice_start", [self._length(base, along.base_axis), along.start])
        return self.known[key]

    def _pure(self, hint, helper, arguments):
        """An integer computed by a helper that cannot fail: it may move out of loops (``_Hoist``)."""
        name = self.names.fresh(hint)
        self.hoisted.append(_assign(name, cst.Call(cst.Name(helper), [cst.Arg(a) for a in arguments])))
        self.context.invariant[name] = {a.value for a in arguments if isinstance(a, cst.Name)}
        return cst.Name(name)

    def _checked(self, hint, helper, arguments):
        """An integer computed by a helper that raises NumPy's error where operands do not conform: it
        stays where the user's line runs."""
        name = self.names.fresh(hint)
        self.before.append(_assign(name, cst.Call(cst.Name(helper), [cst.Arg(a) for a in arguments])))
        return cst.Name(name)

    def _keys_of_results(self):
        """Per op result, per loop axis, the extent keys of the arrays it is computed from."""
        keys = {}
        for step in self.run.steps:
            if step.kind != "op":
                continue
            found = [set() for _ in range(self.run.rank)]
            for atom in step.operands:
                if not isinstance(atom, cst.Name):
                    continue
                if atom.value in keys:
                    for axis in range(self.run.rank):
                        found[axis] |= keys[atom.value][axis]
                elif _is_float_array(self.context.types.get(atom.value)):
                    array = self.run.operand(atom.value)
                    for axis in range(self.run.rank):
                        key = self._keys(array, axis)
                        if key is not None:
                            found[axis].add(key)
            keys[step.target] = found
        return keys

    def first_short_result(self):
        """The index of the first result read after the run whose operands may all have one element
        along an axis the loop runs along with more (NumPy would give it one), or None."""
        keys = self._keys_of_results()
        for index, step in enumerate(self.run.steps):
            if step.kind == "reduce" and step.value.value in self.run.views:  # a sum counts every element once
                view = self.run.views[step.value.value]
                keys[step.target] = [{key} - {None} for key in (self._keys(view, axis) for axis in range(self.run.rank))]
            elif step.kind == "reduce":
                keys[step.target] = keys[step.value.value]
            elif step.kind != "op" or step.target not in self.outside:
                continue
            for axis in range(self.run.rank):
                anchor = self._keys(self.run.written[0][1], axis) if self.run.written else None
                needed = {anchor} if anchor not in (None, ("one",)) else (
                    {self._keys(array, axis) for array in self.arrays} - {None, ("one",)})
                if not needed <= keys[step.target][axis]:
                    return index
        return None

    def _materialized(self, step):
        """The array a result read after the run is written into (bound to its name after the loop)."""
        reads_old = any(array.base == step.target for array in self.run.read)
        array = self.names.fresh(f"{step.target}_new") if reads_old else step.target
        extents = [extent for extent, *_ in self.extents]
        shape = extents[0] if len(extents) == 1 else cst.Tuple([cst.Element(e) for e in extents])
        self.before.append(_assign(array, cst.Call(cst.parse_expression("np.empty"), [cst.Arg(shape)])))
        if array != step.target:
            self.after.append(_assign(step.target, cst.Name(array)))
        return array

    def _sum_start(self, step):
        """``s = 0.0`` before the loop adding up a whole array, or zeros of the loop's extents less the
        axis summed along."""
        if step.axis is None:
            return _assign(step.target, cst.Float("0.0"))
        extents = [extent for axis, (extent, *_) in enumerate(self.extents) if axis != step.axis]
        shape = extents[0] if len(extents) == 1 else cst.Tuple([cst.Element(e) for e in extents])
        return _assign(step.target, cst.Call(cst.parse_expression("np.zeros"), [cst.Arg(shape)]))

    def _sum_index(self, step):
        """Where an element adds into its sum: the loop's position less the axis summed along."""
        return [cst.Name(loop) for axis, loop in enumerate(self.loops) if axis != step.axis] if step.axis is not None else None

    # the loop's body --------------------------------------------------------------------------------------
    def _index(self, array):
        """The index atoms of ``array``'s element at the loop's current position."""
        atoms = []
        offset = self.run.rank - len(array.axes)
        for entry in array.entries:
            if not isinstance(entry, _Along):
                atoms.append(entry)
                continue
            axis = entry.axis + offset
            if entry.gather:
                atoms.append(self._gathered(entry.gather, self._position(axis, None, self.extents[axis][1].get(entry.key))))
                continue
            if entry.roll is not None:
                positions = self._roll_positions(array.base, entry.base_axis, entry.roll)
                atoms.append(self._gathered(positions.value, self._position(axis, None, self.extents[axis][1].get(entry.key))))
                continue
            atoms.append(self._position(axis, self._start(array.base, entry), self.extents[axis][1].get(entry.key)))
        return atoms

    def _roll_positions(self, base, axis, shift):
        """The vector of positions ``np.roll`` of ``base`` by ``shift`` reads along ``axis`` (made
        once, before the loops that change neither; a shift bound once to a number is that number)."""
        shift = self.context.constants.get(shift.value, shift) if isinstance(shift, cst.Name) else shift
        key = ("roll", base, axis, _code(shift))
        if key not in self.known:
            self.known[key] = self._pure(f"{base}_rolled", "roll_positions", [self._length(base, axis), shift])
        return self.known[key]

    def _gathered(self, vector, position):
        """The integer ``vector[position]`` (read once per position)."""
        key = ("gathered", vector, _code(position))
        if key not in self.positions:
            self.positions[key] = self._int_statement(f"{vector}_{_code(position)}", _subscript(vector, [position]))
        return self.positions[key]

    def _position(self, axis, start, step):
        key = (axis, _code(start), _code(step))
        if key not in self.positions:
            position = cst.Name(self.loops[axis])
            if step is not None:
                position = self._int_statement(f"{self.loops[axis]}_step", cst.BinaryOperation(step, cst.Multiply(), position))
            if start is not None:
                position = self._int_statement(f"{self.loops[axis]}_from", cst.BinaryOperation(position, cst.Add(), start))
            self.positions[key] = position
        return self.positions[key]

    def _int_statement(self, hint, value):
        name = self.names.fresh(hint)
        self.body.append(_assign(name, value))
        return cst.Name(name)

    def _element(self, name):
        """The scalar holding operand ``name``'s element at the loop's position (read once)."""
        if name in self.scalars:
            return cst.Name(self.scalars[name])
        array = self.run.operand(name)
        index = self._index(array)
        key = (array.base, tuple(_code(atom) for atom in index))
        if key not in self.elements:
            own = name != array.base and name not in self.outside and self.context.bindings.get(name) == 1
            scalar = name if own else self.names.fresh(f"{name}_element")
            self.body.append(_assign(scalar, _subscript(array.base, index)))
            self.elements[key] = scalar
        return cst.Name(self.elements[key])

    def _atom(self, atom):
        if isinstance(atom, cst.Name) and (atom.value in self.scalars or _is_float_array(self.context.types.get(atom.value))):
            return self._element(atom.value)
        return atom

    def _operation(self, step, array):
        replaced = {atom.value: self._atom(atom) for atom in step.operands if isinstance(atom, cst.Name)}
        own = step.target not in self.outside and self.context.bindings.get(step.target) == 1
        scalar = step.target if own else self.names.fresh(f"{step.target}_element")
        self.body.append(_assign(scalar, step.value.visit(_Replace(replaced))))
        self.scalars[step.target] = scalar
        if array is not None:
            self.body.append(_element_write(array, [cst.Name(loop) for loop in self.loops], cst.Name(scalar), "="))

    def _write(self, step):
        value = self._atom(step.value)
        array = next(written for s, written in self.run.written if s is step)
        self.body.append(_element_write(step.target, self._index(array), value, step.write_kind))
        for key in [key for key in self.elements if self.run.shares(key[0], step.target)]:
            del self.elements[key]  # read again after the write

    def _nest(self):
        body = cst.IndentedBlock(self.body)
        loop = None
        for axis in reversed(range(self.run.rank)):
            loop = cst.For(target=cst.Name(self.loops[axis]), iter=cst.Call(cst.Name("range"), [cst.Arg(self.extents[axis][0])]),
                           body=body)
            body = cst.IndentedBlock([loop])
        return loop.with_changes(leading_lines=[cst.EmptyLine(comment=cst.Comment(FUSED_LOOP_NOTE))])


class _Hoist(cst.CSTTransformer):
    """Extents and steps of fused loops computed before the loops around them that change nothing
    they read (a time loop's statements get theirs once, not per step)."""

    def __init__(self, invariant):
        super().__init__()
        self.invariant = invariant

    def leave_For(self, original, updated):
        return self._hoisted(updated)

    def leave_While(self, original, updated):
        return self._hoisted(updated)

    def _hoisted(self, loop):
        bound = bound_names(loop)
        hoisted, kept = [], []
        for statement in loop.body.body:
            assignment = assignment_of(statement)
            if assignment is not None and assignment[0] in self.invariant and not self.invariant[assignment[0]] & bound:
                hoisted.append(statement)
                bound.discard(assignment[0])
            else:
                kept.append(statement)
        if not hoisted:
            return loop
        loop = loop.with_changes(body=loop.body.with_changes(body=kept))
        return cst.FlattenSentinel(hoisted + [loop])


class _Replace(cst.CSTTransformer):
    """Operand names replaced by the scalars holding their elements (function names left alone)."""

    def __init__(self, replaced):
        super().__init__()
        self.replaced = replaced

    def visit_Attribute(self, node):
        return False

    def leave_Name(self, original, updated):
        return self.replaced.get(original.value, updated)


def _assign(name, value):
    return cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(cst.Name(name))], value)])


def _subscript(base, index):
    return cst.Subscript(cst.Name(base), [cst.SubscriptElement(cst.Index(atom)) for atom in index])


def _element_write(base, index, value, kind):
    """``base[index] = value`` (or ``+=``, ``-=``); ``base`` itself where ``index`` is None."""
    target = _subscript(base, index) if index is not None else cst.Name(base)
    if kind == "=":
        return cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(target)], value)])
    operator = cst.AddAssign() if kind == "+=" else cst.SubtractAssign()
    return cst.SimpleStatementLine([cst.AugAssign(target, operator, value)])
