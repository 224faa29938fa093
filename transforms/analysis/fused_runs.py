"""Finding runs (``fused_loops.py``): consecutive steps of a block that one loop nest computes as
NumPy would (``Run.admits``), the scalar statements it passes over, and where a run ends."""

import libcst as cst
from numba.core import types as numba_types

from ..ir import marker_of, variable_counts
from ..ir.statements import assignment_of, element_write_of, in_place_update_of, is_array_type
from .aliases import is_new_memory
from .fused_loop_writer import LoopWriter
from .fused_steps import Along, Array, code_of, integer_literal, is_float_array, is_integer_atom, step_of
from .shapes import dropped


class Fuse(cst.CSTTransformer):
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
            items.append((position, statement, step_of(statement, self.context.types), line))
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
        split = _split(run, held) if run is not None else None
        if split is not None:  # the first part is fused apart; the second may go on past this item
            changed |= _fuse_runs(context, block, split[0], result)
            return _fuse_runs(context, block, split[1] + items[index:], result) or changed
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
    split = _split(run, held) if run is not None else None
    if split is not None:
        changed |= _fuse_runs(context, block, split[0], result)
        return _fuse_runs(context, block, split[1], result) or changed
    if run is not None:
        changed |= run.close(result)
    return changed


def _split(run, held):
    """The run's items (``held``) in two parts fused one after the other, where the run cannot be
    fused whole (a result NumPy might give fewer elements than the loop has), or None. A result
    computed from the block's arrays alone (``np.sum(icf[j])`` beside ``np.sum(scaled * scaled)``,
    where icf's rows may have one element) is computed apart, before the run, so the rest stays
    one loop and its arrays need no memory; else the run is cut where ``_Run.cut`` says."""
    if not any(step.kind in ("op", "write") for step in run.steps):
        return None
    short = LoopWriter(run).first_short_result()
    if short is None:
        return None
    apart = run.apart(short)
    if apart is not None:
        return [taken for taken in held if taken[0] in apart], [taken for taken in held if taken[0] not in apart]
    cut = run.cut(short)
    return [taken for taken in held if taken[0] < cut], [taken for taken in held if taken[0] >= cut]


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
        self.views = {}  # view name -> Array
        self.results = {}  # op result name -> its step
        self.written = []  # (write step, Array)
        self.read = []  # Array read (views at their binding, arrays where an operation reads them)
        self.used = []  # Array read or written by its operations, writes and sums: what sets its extents
        self.users = []  # the step that reads or writes each of them (to name its line where extents differ)
        # the user's line marker of a statement moved before the loop, for the next step of that line
        self.moved_marker = None

    # -- admitting steps ---------------------------------------------------------------------------
    def admits(self, step, position):
        """Whether ``step`` joins the run (then it has joined)."""
        if step.target in self.views or step.target in self.sums or step.target in self.results and step.kind != "op":
            return False  # bound twice (an operation's result bound again is the scalar's next value: u = np.where(u > 0, u, 0))
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
                self.users.append(step)
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
        if step.condition is not None and step.condition not in self.results:
            return False  # (np.where's condition is read as the run's boolean, never as an array)
        atoms = step.operands if step.kind == "op" else [step.value]
        names = [a.value for a in atoms if isinstance(a, cst.Name) and a.value not in self.results]
        arrays = [self.operand(name) for name in names if is_float_array(self.context.types.get(name))]
        if any(array is None or len(array.axes) > step.rank for array in arrays) or not self._may_read(arrays):
            return False
        written = None
        if step.kind == "write":
            written = self.viewed(step.target, step.region if step.region else self.whole_region(step.target), True)
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
        self.users += [step] * (len(arrays) + (written is not None))
        return True

    def operand(self, name):
        return self.views[name] if name in self.views else self.whole(name)

    def whole(self, name):
        return self.viewed(name, self.whole_region(name))

    def whole_region(self, name):
        return [("slice", None, None)] * self.context.types[name].ndim

    def viewed(self, base, region, written=False):
        """The Array of ``base[region]``; ``written``: as a run writes it, whose axes of one element
        are not read at 0 but checked to conform (NumPy's error where they do not)."""
        entries, axes = [], []
        for entry in region:
            if entry[0] == "new":
                axes.append(("one",))
            elif entry[0] == "fixed":
                entries.append(entry[1])
            elif entry[0] == "gather":
                key = self._axis_key(entry[1], 0, True)  # (an index array of one element still reads idx[0])
                entries.append(Along(len(axes), len(entries), None, None, key, gather=entry[1]))
                axes.append(key)
            elif entry[0] == "roll":
                key = self._axis_key(base, len(entries), True)
                entries.append(Along(len(axes), len(entries), None, None, key, roll=entry[1]))
                axes.append(key)
            else:
                along = Along(len(axes), len(entries), entry[1], entry[2],
                              self._slice_key(base, len(entries), entry[1], entry[2], written))
                entries.append(along)
                axes.append(along.key)
        return Array(base, entries, axes)

    def _axis_key(self, base, axis, whole_key=False):
        """The extent key of ``base``'s axis: ("one",) for an axis known to have one element (read at
        0), unless ``whole_key`` (a region written, a gather, a roll)."""
        shape = self.context.shapes.get(base)
        if shape is not None and shape[axis] == ("const", 1) and not whole_key:
            return ("one",)  # of one element (np.max(a, axis=1, keepdims=True)): read at 0, as NumPy broadcasts it
        return ("symbol", shape[axis]) if shape is not None else ("axis", base, axis)

    def _slice_key(self, base, axis, start, stop, written=False):
        """A key equal for two slices whose extents are provably equal."""
        whole = self._axis_key(base, axis, written)
        low, high = (0 if start is None else integer_literal(start)), (0 if stop is None else integer_literal(stop))
        if low is not None and high is not None and low >= 0 and (stop is None or high < 0):
            if whole[0] == "symbol":  # the symbol symbolic_shapes gives an array of that extent
                return ("symbol", dropped(whole[1], low - high))
            return whole if low == high == 0 else ("less", whole, low - high)  # max(0, extent - low + high)
        return ("slice", base, axis, code_of(start), code_of(stop))

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
                and len(write.index) == types[write.array].ndim and all(is_integer_atom(a, types) for a in write.index)):
            return write.array, set(variable_counts(write.value)) | set(write.index_names()) | ({write.array} if write.kind != "=" else set())
        return None, None

    def _reads_what_waits(self, step):
        """Whether ``step`` reads a sum or a name bound after the loop, or writes what a statement
        there reads."""
        if (self.waiting | set(self.sums)) & set(variable_counts(step.statement)):
            return True
        return step.kind == "write" and any(self.shares(step.target, name) for name in self.waiting_reads)

    def cut(self, short):
        """Where the run must end so that each array keeps NumPy's shape, given ``short``: the index of
        a result read after the run that NumPy might give fewer elements than the loop has (computed
        only from operands that may broadcast, ``LoopWriter.first_short_result``). It is computed in
        the next run, with the steps computing it, where those come after others; else the run ends
        after it (or before it, where it is the last step)."""
        start = min(self.positions[index] for index in self._computing(short))
        if start > self.positions[0]:
            return start
        return self.positions[short] + 1 if short < len(self.steps) - 1 else self.positions[short]

    def apart(self, short):
        """The positions of the steps computing ``short`` (see ``cut``), a sum, where they can run before
        the rest: no other step reads what they compute, they read no name the run's passed statements
        bind and no memory the run writes, and steps with an operation or a write are left. None
        otherwise."""
        if self.steps[short].kind != "reduce":  # (an array result is better computed with its readers)
            return None
        moved = set(self._computing(short))
        kept = [step for index, step in enumerate(self.steps) if index not in moved]
        moved_steps = [self.steps[index] for index in moved]
        targets = {step.target for step in moved_steps}
        reads = set().union(*(_reads(step) for step in moved_steps))
        if (any(step.kind == "write" for step in moved_steps) or not any(step.kind in ("op", "write") for step in kept)
                or any(_reads(step) & targets for step in kept)):
            return None
        passed = set().union(*(variable_counts(statement) for statement in self.passed + self.deferred))
        if reads & passed or any(self.shares(name, written.base) for name in reads for _, written in self.written):
            return None
        return {self.positions[index] for index in moved}

    def close(self, result):
        """Append the run to ``result``, fused where it has an operation or a write (then it has no
        short result: ``_split``); say whether it was."""
        if not any(step.kind in ("op", "write") for step in self.steps):
            result += self.passed + [step.statement for step in self.steps] + self.deferred
            return False
        result += self.passed + LoopWriter(self).statements() + self.deferred
        return True

    def _computing(self, index):
        """The indices of the steps whose values step ``index`` reads, through one another, and its own."""
        needed, found = _reads(self.steps[index]), [index]
        for earlier in range(index - 1, -1, -1):
            step = self.steps[earlier]
            if step.kind in ("op", "view") and step.target in needed:
                found.append(earlier)
                needed |= _reads(step)
        return found


def _aligned(axes, rank):
    """An array's axis keys aligned to a loop nest of ``rank`` axes (None where it has no axis)."""
    return [None] * (rank - len(axes)) + list(axes)
