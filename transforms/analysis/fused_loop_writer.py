"""The loop nest of one fused run (``fused_loops.py``): extents and broadcast steps, the elements
read once per position, arrays for the results read after the loop, and ``Hoist``, which moves
extents out of the loops around that change nothing they read."""

import libcst as cst

from ..ir import FUSED_LOOP_NOTE, bound_names, marker_of, variable_counts
from ..ir.statements import assignment_of
from .fused_steps import Along, code_of, integer_literal, is_float_array


def _step_lines(run):
    """The user's line of each step of ``run`` (its marker, else the line of the step before)."""
    lines, line = {}, run.line
    for step in run.steps:
        marker = marker_of(step.statement)
        line = int(marker.split(":")[0]) if marker is not None else line
        lines[id(step)] = line
    return lines


class LoopWriter:
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
        self.lines = _step_lines(run)  # id(step) -> the user's line it came from
        self.arrays = run.used
        self.loops = []  # the loop indices, named when the statements are written

    def statements(self):
        steps = self.run.steps
        self.loops = [self.names.fresh(name) for name in ("i", "j", "k", "l", "m", "p")[: self.run.rank]]
        self.before += [s.statement.with_changes(leading_lines=[]) for s in steps if s.kind == "view" and s.target in self.outside]
        self.extents = [self._loop_extent(axis) for axis in range(self.run.rank)]
        last_bindings = {s.target: s for s in steps if s.kind == "op"}  # (a result bound again: its last value is read after)
        materialized = {id(s): self._materialized(s) for s in last_bindings.values() if s.target in self.outside}
        self.before += [self._sum_start(s) for s in steps if s.kind == "reduce"]
        lines = []  # the user's line markers, each on the first statement made from its statement
        for step in steps:
            lines += list(step.statement.leading_lines)
            made = len(self.body)
            if step.kind == "op":
                self._operation(step, materialized.get(id(step)))
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
        where nothing they read changes (``Hoist``); the check that the operands conform, in place."""
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
            extent = self._checked("extent", "conforming", [extent, self._extent(key), self._where(key, axis, anchor)])
        return extent, steps, keys, anchor

    def _where(self, key, axis, anchor):
        """``"file:line"`` of the statement where operands keyed ``key`` along loop ``axis`` first meet
        another extent (the region written, else any other operand's): NumPy's error names that line."""
        first = {}  # key -> the position in run.used of its first array
        for position, array in enumerate(self.arrays):
            first.setdefault(self._keys(array, axis), position)
        others = [first[anchor]] if anchor in first and anchor != key else [
            position for other, position in first.items() if other not in (None, ("one",), key)]
        position = max(first[key], min(others)) if others else first[key]
        line = self.lines.get(id(self.run.users[position]), self.run.line)
        return cst.SimpleString(repr(f"{self.context.filename}:{line}"))

    def _extent(self, key):
        """The variable holding the extent of axes keyed ``key``: an array's length, or its slice's."""
        if key not in self.known:
            array, along = next((a, e) for a in self.arrays for e in a.entries if isinstance(e, Along) and e.key == key)
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
            self.hoisted.append(assign(name, cst.parse_expression(f"{base}.shape[{axis}]")))
            self.context.invariant[name] = {base}
            self.known[key] = cst.Name(name)
        return self.known[key]

    def _start(self, base, along):
        literal = 0 if along.start is None else integer_literal(along.start)
        if literal is not None and literal >= 0:
            return None if literal == 0 else cst.Integer(str(literal))
        key = ("start", base, along.base_axis, code_of(along.start))
        if key not in self.known:
            self.known[key] = self._pure(f"{base}_start", "slice_start", [self._length(base, along.base_axis), along.start])
        return self.known[key]

    def _pure(self, hint, helper, arguments):
        """An integer computed by a helper that cannot fail: it may move out of loops (``Hoist``)."""
        name = self.names.fresh(hint)
        self.hoisted.append(assign(name, cst.Call(cst.Name(helper), [cst.Arg(a) for a in arguments])))
        self.context.invariant[name] = {a.value for a in arguments if isinstance(a, cst.Name)}
        return cst.Name(name)

    def _checked(self, hint, helper, arguments):
        """An integer computed by a helper that raises NumPy's error where operands do not conform: it
        stays where the user's line runs."""
        name = self.names.fresh(hint)
        self.before.append(assign(name, cst.Call(cst.Name(helper), [cst.Arg(a) for a in arguments])))
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
                elif is_float_array(self.context.types.get(atom.value)):
                    array = self.run.operand(atom.value)
                    for axis in range(self.run.rank):
                        key = self._keys(array, axis)
                        if key is not None:
                            found[axis].add(key)
            keys[step.target] = found
        return keys

    def first_short_result(self):
        """The index of the first result read after the run whose operands may all have one element
        along an axis the loop runs along with more (NumPy would give it one), or, in a run writing a
        region, a result read after it or a sum computed from an operand whose extent may exceed the
        region's (NumPy would give it more elements than the loop has); None where there is none."""
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
                if anchor not in (None, ("one",)) and keys[step.target][axis] - {anchor, ("one",)}:
                    return index  # may have more elements than the region the loop writes (w[:-1] -= t; x = w[:-1] + x)
        return None

    def _materialized(self, step):
        """The array a result read after the run is written into (bound to its name after the loop)."""
        reads_old = any(array.base == step.target for array in self.run.read)
        array = self.names.fresh(f"{step.target}_new") if reads_old else step.target
        extents = [extent for extent, *_ in self.extents]
        shape = extents[0] if len(extents) == 1 else cst.Tuple([cst.Element(e) for e in extents])
        made = [cst.Arg(shape)]
        if not is_float_array(self.context.types.get(step.target)):  # a comparison's booleans
            made.append(cst.Arg(cst.parse_expression("np.bool_"), keyword=cst.Name("dtype")))
        self.before.append(assign(array, cst.Call(cst.parse_expression("np.empty"), made)))
        if array != step.target:
            self.after.append(assign(step.target, cst.Name(array)))
        return array

    def _sum_start(self, step):
        """``s = 0.0`` before the loop adding up a whole array, or zeros of the loop's extents less the
        axis summed along."""
        if step.axis is None:
            return assign(step.target, cst.Float("0.0"))
        extents = [extent for axis, (extent, *_) in enumerate(self.extents) if axis != step.axis]
        shape = extents[0] if len(extents) == 1 else cst.Tuple([cst.Element(e) for e in extents])
        return assign(step.target, cst.Call(cst.parse_expression("np.zeros"), [cst.Arg(shape)]))

    def _sum_index(self, step):
        """Where an element adds into its sum: the loop's position less the axis summed along."""
        return [cst.Name(loop) for axis, loop in enumerate(self.loops) if axis != step.axis] if step.axis is not None else None

    # the loop's body --------------------------------------------------------------------------------------
    def _index(self, array):
        """The index atoms of ``array``'s element at the loop's current position."""
        atoms = []
        offset = self.run.rank - len(array.axes)
        for entry in array.entries:
            if not isinstance(entry, Along):
                atoms.append(entry)
                continue
            axis = entry.axis + offset
            if entry.key == ("one",):  # an axis of one element: the loop's position along it is 0
                atoms.append(cst.Integer("0"))
                continue
            if entry.gather:
                atoms.append(self._gathered(entry.gather, self._position(axis, None, self.extents[axis][1].get(entry.key))))
                continue
            if entry.roll is not None:
                atoms.append(self._rolled(array.base, entry, self._position(axis, None, self.extents[axis][1].get(entry.key))))
                continue
            atoms.append(self._position(axis, self._start(array.base, entry), self.extents[axis][1].get(entry.key)))
        return atoms

    def _rolled(self, base, entry, position):
        """The position ``np.roll`` of ``base`` reads at ``position`` along ``entry``'s axis, computed per
        element from an offset made once, before the loops that change neither (a shift bound once to a
        number is that number)."""
        shift = self.context.constants.get(entry.roll.value, entry.roll) if isinstance(entry.roll, cst.Name) else entry.roll
        length = self._length(base, entry.base_axis)
        offset_key = ("roll", base, entry.base_axis, code_of(shift))
        if offset_key not in self.known:
            self.known[offset_key] = self._pure(f"{base}_offset", "roll_offset", [length, shift])
        offset = self.known[offset_key]
        key = ("rolled", offset.value, code_of(position))
        if key not in self.positions:
            call = cst.Call(cst.Name("rolled_position"), [cst.Arg(a) for a in (position, offset, length)])
            self.positions[key] = self._int_statement(f"{base}_rolled", call)
        return self.positions[key]

    def _gathered(self, vector, position):
        """The integer ``vector[position]`` (read once per position)."""
        key = ("gathered", vector, code_of(position))
        if key not in self.positions:
            self.positions[key] = self._int_statement(f"{vector}_{code_of(position)}", _subscript(vector, [position]))
        return self.positions[key]

    def _position(self, axis, start, step):
        key = (axis, code_of(start), code_of(step))
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
        self.body.append(assign(name, value))
        return cst.Name(name)

    def _element(self, name):
        """The scalar holding operand ``name``'s element at the loop's position (read once)."""
        if name in self.scalars:
            return cst.Name(self.scalars[name])
        array = self.run.operand(name)
        index = self._index(array)
        key = (array.base, tuple(code_of(atom) for atom in index))
        if key not in self.elements:
            own = name != array.base and name not in self.outside and self.context.bindings.get(name) == 1
            scalar = name if own else self.names.fresh(f"{name}_element")
            self.body.append(assign(scalar, _subscript(array.base, index)))
            self.elements[key] = scalar
        return cst.Name(self.elements[key])

    def _atom(self, atom):
        if isinstance(atom, cst.Name) and (atom.value in self.scalars or is_float_array(self.context.types.get(atom.value))):
            return self._element(atom.value)
        return atom

    def _operation(self, step, array):
        replaced = {atom.value: self._atom(atom) for atom in step.operands if isinstance(atom, cst.Name)}
        own = step.target not in self.outside and self.context.bindings.get(step.target) == 1
        scalar = step.target if own else self.names.fresh(f"{step.target}_element")
        self.body.append(assign(scalar, step.value.visit(_Replace(replaced))))
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

class Hoist(cst.CSTTransformer):
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


def assign(name, value):
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
