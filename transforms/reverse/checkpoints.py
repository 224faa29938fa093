"""Checkpointed time loops: the reverse sweep of a long loop in bounded memory.

Storing what every iteration of a 10^5-step simulation needs back takes gigabytes. An outermost
``for`` loop over a ``range`` runs in segments instead: the first is one iteration, which measures
what an iteration keeps on the tape; where all of them would not fit in the memory budget, the
state at the start of each later segment but the last is kept (the variables the body's forward
sweep reads from before the loop, or from the previous iteration, and the loop changes), and
what those segments put on the tape is dropped as they end. The reverse sweep reverses the last
segment, then for each earlier one puts its kept state back, runs its forward sweep again and
reverses it::

    t_count = len(range(steps))
    t_first, t_length = 0, 1          # the first segment is one iteration: what it keeps measures one
    while t_first < t_count:
        t_end = min(t_first + t_length, t_count)
        if 0 < t_first and t_end < t_count:
            x_kept.append(x)          # the state at the segment's start
        floats_top_before = floats_top
        for t in range(t_first, t_end):
            <the loop body's forward sweep>
        if t_first == 0:
            t_length = segment_length(t_count - 1, <bytes the first iteration kept>, <the state's bytes>, ...)
        elif t_end < t_count:
            floats_top = floats_top_before    # this segment's tape is made again in the reverse sweep
        t_first = t_end
    ...
    t_end = t_count                   # the reverse sweep: the last segment first
    while t_end > 0:
        t_first = <the start of the segment ending at t_end>
        if 0 < t_first and t_end < t_count:
            x = x_kept.pop()
            for t in range(t_first, t_end):
                <the loop body's forward sweep>
        for t in range(t_end - 1, t_first - 1, -1):
            <the loop body's reverse sweep>
        t_end = t_first

Each iteration's forward sweep runs from the same state each time, and the reverse sweeps run in
the same order as without checkpoints: the gradient is the same, bit for bit. Where everything
fits in the budget (``segment_length`` returns all the iterations) nothing is kept and nothing
runs again. ``kernels/runtime.segment_length`` chooses the length: at most ``snapshots`` kept
states where the user asked for a number, else the length keeping the least memory (a tape of
one segment and one state per segment).

The state is kept by reference where no write in the loop can change its memory (arrays bound
again, ``u = u_next``, to new memory each iteration), as a copy otherwise: copied back in place
where the loop never binds the name again (other names of that memory see it), bound to the copy
where it does (then it must have no other name). A loop whose state is anything else (a tuple, a
list), whose bounds change, or that may ``break`` keeps everything.
"""

from dataclasses import dataclass

import libcst as cst
from numba.core import types as numba_types

from ..analysis.aliases import privately_written, written_arrays
from ..ir import FUSED_LOOP_NOTE, assign, bound_names, comment_lines, nodes_in, variables_in
from ..ir.flow import reads_before_assignment
from ..ir.precedence import spelled
from .reserve import pushes_in, with_reserves


@dataclass(frozen=True)
class _Kept:
    name: str  # the variable
    kept: str  # the list holding its value at the start of each segment
    how: str  # "reference", "copy back" (into the same memory) or "copy" (bound to the copy)


def checkpointed_loop(state, function_body, statement, trips, body_forward, body_reverse, policy, report=None):
    """(forward, reverse, the variables' first bindings) of ``statement``, an outermost ``for`` loop
    over a ``range`` whose trip count the reverse sweep knows (``trips``), run in checkpointed
    segments; None where it is not checkpointed (no policy, an element loop whole-array statements
    became, nothing on the tape, or a state that cannot be kept). The first bindings go before the
    forward sweep: numba drops the code of branches it can decide, and the reverse sweep may read
    what they would have bound. ``policy`` has ``budget``, ``snapshots`` and ``report`` (a
    ``srcad.checkpointing.CheckpointPolicy``); ``report``: (the report array's name, this loop's
    row, its user line) where the policy asks for a report."""
    if policy is None:  # (a loop that may break has no known trip count: it never comes here)
        return None
    if any(line.comment is not None and line.comment.value == FUSED_LOOP_NOTE for line in statement.leading_lines):
        return None  # an element loop: its iterations keep a few numbers each
    tape_lists = variables_in(cst.Module(body=list(body_forward))) & state.saved_lists()
    stacks = [(stack, top) for stack, top in ((state.tape.floats, state.tape.floats_top), (state.tape.ints, state.tape.ints_top))
              if stack in spelled(cst.IndentedBlock(body_forward))]
    if not stacks and not tape_lists:
        return None  # the loop keeps nothing: nothing to save
    if policy.snapshots == 0 and _few_numbers(body_forward, state.tape) and not tape_lists:
        return None  # a few numbers per iteration: 10^7 iterations keep well under a gigabyte
    if max(_loop_depth(body_forward), _loop_depth(body_reverse)) + 2 > _PYTHON_NESTED_LOOPS:
        return None  # the while and the for around the body would nest more loops than Python compiles
    kept = _kept_state(state, function_body, statement, body_forward)
    if kept is None:
        return None
    if not policy.escape:  # the reverse sweep writes their memory: an argument gets its final values back
        state.saved_arrays.update(k.name for k in kept if k.how == "copy back")
    segments = _Segments(state, statement, trips, kept, sorted(tape_lists), stacks, policy)
    return segments.code(body_forward, body_reverse, report)


def _kept_state(state, function_body, statement, body_forward):
    """What each variable of the loop's state is kept as, or None where one cannot be kept. The
    state is what the body's forward sweep may read before assigning it (its pushes included: the
    reverse sweep of a segment's first iteration puts back what the last one before it left) and
    the loop changes, the tape aside. What it reads and the loop leaves alone must not change after
    the loop either (the reverse sweep puts back only what adjoints need): else None."""
    analysis, index = state.analysis, statement.target.value
    written = written_arrays(list(body_forward), analysis.types)
    bound = bound_names(cst.Module(body=list(body_forward)))
    changed = bound | written
    read = reads_before_assignment(list(body_forward), {index})
    if read & set(state.adjoint_owner):
        return None  # adds into an adjoint across iterations: it must not run twice
    carried = sorted((read & changed) - {index} - state.tape_names() - state.saved_lists())
    later = _changed_after(function_body, statement, analysis.types)
    inputs = read - changed - state.tape_names() - state.saved_lists()
    if any((analysis.aliases.get(name, {name}) | {name}) & later for name in inputs):
        return None  # (y[1, :] = ... after a loop reading y: its segments would read the new values)
    shared_writes = written - privately_written(list(body_forward), analysis.types)
    kept = []
    for name in carried:
        numba_type = analysis.types.get(name)
        list_name = state.names.fresh(f"{name}_kept")
        if isinstance(numba_type, (numba_types.Float, numba_types.Integer, numba_types.Boolean)):
            kept.append(_Kept(name, list_name, "reference"))
            continue
        if not state.is_array(name):
            return None
        sharing = analysis.aliases.get(name, {name}) | {name}
        if not sharing & shared_writes:
            kept.append(_Kept(name, list_name, "reference"))
        elif name not in bound:
            kept.append(_Kept(name, list_name, "copy back"))
        elif sharing == {name} and numba_type.layout == "C":  # (a copy is C-contiguous: it must be of the same type)
            kept.append(_Kept(name, list_name, "copy"))
        else:
            return None
    return kept


def _changed_after(function_body, loop, types):
    """The names bound, and the arrays written, by code that may run after ``loop`` (an outermost
    loop of ``function_body``): the statements after the one holding it, and that one's other
    statements where it is an ``if``."""
    for position, statement in enumerate(function_body):
        if statement is loop or any(node is loop for node in nodes_in(statement)):
            later = list(function_body[position + 1:])
            if statement is not loop:
                later.append(statement.deep_replace(loop, cst.SimpleStatementLine([cst.Pass()])))
            return bound_names(cst.Module(body=later)) | written_arrays(later, types)
    return set()


class _Segments:
    """The code of one checkpointed loop."""

    def __init__(self, state, statement, trips, kept, tape_lists, stacks, policy):
        self.state = state
        self.statement = statement
        self.trips = trips
        self.kept = kept
        self.tape_lists = tape_lists
        self.stacks = stacks
        self.policy = policy
        index = statement.target.value
        fresh = state.names.fresh
        self.count, self.first, self.end = fresh(f"{index}_count"), fresh(f"{index}_first"), fresh(f"{index}_end")
        self.length = fresh(f"{index}_length")
        bounds = [a.value for a in statement.iter.args]
        self.start = bounds[0] if len(bounds) >= 2 else cst.Integer("0")
        self.step = bounds[2] if len(bounds) == 3 else cst.Integer("1")

    def code(self, body_forward, body_reverse, report=None):
        tops = [(top, self.state.names.fresh(f"{top}_before")) for _, top in self.stacks]
        lengths = [(saved, self.state.names.fresh(f"{saved}_before")) for saved in self.tape_lists]
        index = self.statement.target.value
        setup = [f"{self.count} = {self.trips}", f"{self.first} = 0", f"{self.length} = 1"]
        marks = [f"{before} = {top}" for top, before in tops] + [f"{before} = len({saved})" for saved, before in lengths]
        step_bytes, state_bytes_name = self.state.names.fresh(f"{index}_step_bytes"), self.state.names.fresh(f"{index}_state_bytes")
        integers = [self.count, self.first, self.end, self.length, step_bytes, state_bytes_name] + [
            before for _, before in tops + lengths]
        measured = " + ".join([f"({top} - {before}) * 8" for top, before in tops]
                              + [f"kept_bytes({saved}, {before})" for saved, before in lengths]) or "0"
        if self.policy.escape:
            return self._escaping(body_forward, body_reverse, setup, marks, step_bytes, measured, integers)
        first_bindings = [_statement(f"{name} = 0") for name in integers] + [
            assign(k.kept, cst.Call(cst.Name("empty_list_like"), [cst.Arg(self._sample(k))])) for k in self.kept]
        state_bytes = " + ".join(f"{k.name}.nbytes" if self.state.is_array(k.name) else "8" for k in self.kept) or "0"
        forgotten = [f"{top} = {before}" for top, before in tops] + [f"forget_from({saved}, {before})" for saved, before in lengths]
        forward = [_statement(line) for line in setup] + [_while(
            f"{self.first} < {self.count}",
            [_statement(f"{self.end} = min({self.first} + {self.length}, {self.count})"),
             _if(f"0 < {self.first} and {self.end} < {self.count}", self._keeping())]
            + [_statement(line) for line in marks]
            + [self._loop(self.first, self.end, list(body_forward) + self._counted(report)),
               _if(f"{self.first} == 0", [
                   _statement(f"{step_bytes} = {measured}"), _statement(f"{state_bytes_name} = {state_bytes}"),
                   _statement(f"{self.length} = segment_length({self.count} - 1, {step_bytes}, {state_bytes_name}, "
                              f"{self.policy.budget}, {self.policy.snapshots})")] + self._reported(
                       report, [step_bytes, state_bytes_name]),
                   [_if(f"{self.end} < {self.count}", [_statement(line) for line in forgotten])]),
               _statement(f"{self.first} = {self.end}")])]
        state = ", ".join(k.name for k in self.kept) or "nothing"
        forward[0] = forward[0].with_changes(leading_lines=list(self.statement.leading_lines) + comment_lines(
            "#   checkpointed: where every iteration's tape does not fit in the memory budget, the loop runs in")
            + comment_lines(f"#   segments; the state at the start of each ({state}) is kept, and the segment runs again in reverse"))
        again = with_reserves([self._loop(self.first, self.end, body_forward)], self.state.tape)
        segment_start = (f"0 if {self.end} == 1 else 1 + (({self.end} - 2) // {self.length}) * {self.length}")
        reverse = [_statement(f"{self.end} = {self.count}"), _while(
            f"{self.end} > 0",
            [_statement(f"{self.first} = {segment_start}"),
             _if(f"0 < {self.first} and {self.end} < {self.count}", self._restoring() + again),
             self._reverse_loop(index, list(body_reverse) + self._counted(report)),
             _statement(f"{self.end} = {self.first}")])]
        return forward, reverse, first_bindings

    def _escaping(self, body_forward, body_reverse, setup, marks, step_bytes, measured, integers):
        """The loop keeping every iteration, its first one measuring what an iteration keeps:
        ``within_budget`` raises TapeOverBudget where all would not fit (the policy's ``escape``).
        Its forward sweep is written once, without the kept states and the segments run again."""
        forward = [_statement(line) for line in setup] + [_while(
            f"{self.first} < {self.count}",
            [_statement(f"{self.end} = min({self.first} + {self.length}, {self.count})")]
            + [_statement(line) for line in marks]
            + [self._loop(self.first, self.end, list(body_forward)),
               _if(f"{self.first} == 0", [
                   _statement(f"{step_bytes} = {measured}"),
                   _statement(f"{self.length} = within_budget({self.count} - 1, {step_bytes}, {self.policy.budget})")]),
               _statement(f"{self.first} = {self.end}")])]
        forward[0] = forward[0].with_changes(leading_lines=list(self.statement.leading_lines) + comment_lines(
            "#   every iteration kept: where the first shows that all would not fit in the memory budget,")
            + comment_lines("#   within_budget raises TapeOverBudget, and srcad runs the checkpointed gradient instead"))
        reverse = [_statement(f"{self.end} = {self.count}"), _statement(f"{self.first} = 0"),
                   self._reverse_loop(self.statement.target.value, list(body_reverse))]
        return forward, reverse, [_statement(f"{name} = 0") for name in integers]

    def _reported(self, report, measured):
        """The statements writing this loop's row of the report (none without one)."""
        if report is None:
            return []
        array, row, line = report
        values = [str(line), self.count] + measured + [self.length]
        return [_statement(f"{array}[{row}, {column}] = {value}") for column, value in enumerate(values)]

    @staticmethod
    def _counted(report):
        """With a report, the statement counting an iteration done (in either sweep, not when a segment
        runs again): how ``srcad.grad(f, progress=True)`` sees the gradient's progress."""
        if report is None:
            return []
        array, row, _ = report
        return [_statement(f"{array}[{row}, 5] += 1")]

    def _sample(self, kept):
        """A value of the type the list keeping ``kept.name`` holds (copies are C-contiguous)."""
        numba_type = self.state.analysis.types[kept.name]
        if isinstance(numba_type, numba_types.Boolean):
            return cst.Name("False")
        if kept.how != "reference" and self.state.is_array(kept.name):
            return cst.parse_expression(f"np.empty({(0,) * numba_type.ndim}, dtype=np.{numba_type.dtype})")
        return self.state.placeholder_value(kept.name)

    def _position(self, iteration):
        """The loop index at ``iteration`` (an expression), as the loop's range gives it."""
        position = cst.parse_expression(iteration)
        if not (isinstance(self.step, cst.Integer) and self.step.value == "1"):
            position = cst.BinaryOperation(position, cst.Multiply(), self.step)
        if not (isinstance(self.start, cst.Integer) and self.start.value == "0"):
            position = cst.BinaryOperation(self.start, cst.Add(), position)
        return position

    def _loop(self, first, end, body):
        """``for <index> in range(...)``: iterations ``first`` to ``end`` of the loop, running ``body``."""
        arguments = [self._position(first), self._position(end)]
        if not (isinstance(self.step, cst.Integer) and self.step.value == "1"):
            arguments.append(self.step)
        iteration = cst.Call(cst.Name("range"), [cst.Arg(a) for a in arguments])
        return self.statement.with_changes(iter=iteration, body=cst.IndentedBlock(body), leading_lines=[])

    def _reverse_loop(self, index, body_reverse):
        plain = (isinstance(self.step, cst.Integer) and self.step.value == "1"
                 and isinstance(self.start, cst.Integer) and self.start.value == "0")
        if plain:
            return cst.parse_statement(f"for {index} in range({self.end} - 1, {self.first} - 1, -1):\n    pass").with_changes(
                body=cst.IndentedBlock(body_reverse))
        iteration = self.state.scratch_name(index, "iteration")
        return cst.parse_statement(f"for {iteration} in range({self.end} - 1, {self.first} - 1, -1):\n    pass").with_changes(
            body=cst.IndentedBlock([assign(index, self._position(iteration))] + list(body_reverse)))

    def _keeping(self):
        lines = []
        for k in self.kept:
            value = f"{k.name}.copy()" if k.how != "reference" else k.name
            lines.append(_statement(f"{k.kept}.append({value})"))
        return lines

    def _restoring(self):
        lines = []
        for k in reversed(self.kept):
            lines.append(_statement(f"{k.name}[...] = {k.kept}.pop()" if k.how == "copy back" else f"{k.name} = {k.kept}.pop()"))
        return lines


_FEW_NUMBERS = 8  # values an iteration of a loop without inner loops may push and still keep everything


def _few_numbers(body_forward, tape):
    """Whether an iteration pushes at most ``_FEW_NUMBERS`` values, in no inner loop."""
    if _loop_depth(body_forward) > 0:
        return False
    floats, ints = pushes_in(body_forward, tape)
    return floats + ints <= _FEW_NUMBERS


_PYTHON_NESTED_LOOPS = 20  # "too many statically nested blocks" past it


def _loop_depth(statements):
    """How deeply loops nest in ``statements``."""
    depth = 0
    for statement in statements:
        if isinstance(statement, (cst.For, cst.While)):
            depth = max(depth, 1 + _loop_depth(statement.body.body))
        elif isinstance(statement, cst.If):
            inner = list(statement.body.body) + (list(statement.orelse.body.body) if statement.orelse else [])
            depth = max(depth, _loop_depth(inner))
    return depth


def _statement(code):
    return cst.parse_statement(code)


def _if(test, body, orelse=None):
    if orelse and len(orelse) == 1 and isinstance(orelse[0], cst.If):
        return cst.If(test=cst.parse_expression(test), body=cst.IndentedBlock(body), orelse=orelse[0])  # elif
    return cst.If(test=cst.parse_expression(test), body=cst.IndentedBlock(body),
                  orelse=cst.Else(cst.IndentedBlock(orelse)) if orelse else None)


def _while(test, body):
    return cst.While(test=cst.parse_expression(test), body=cst.IndentedBlock(body))
