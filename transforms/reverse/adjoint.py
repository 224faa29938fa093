"""Pass 5: reverse mode. A normal-form function becomes its adjoint:

    def f_adjoint(<f's parameters>, <output>_adj):
        <forward sweep: f's statements, saving overwritten values and control flow on the tape>
        <reverse sweep: each statement's adjoint, last statement first>
        return value, <adjoint of each differentiated parameter>

The tape is two stacks (floats, integers) behind the small runtime interface of
``srcad.kernels.runtime``; branch decisions and loop trip counts go on the
integer stack. Each user line's adjoint block carries a comment naming it.

Three pieces make it: ``ReverseMode`` (here: the function, its blocks, scalar statements and
control flow), ``ArrayAdjoints`` (``array_adjoints.py``: statements binding or writing arrays) and
the ``SweepState`` both generate into (``sweep_state.py``: adjoint names, the tape, values computed
again and fresh where the code is made). ReverseMode hands each array statement to ArrayAdjoints.

Control flow. A branch's decision is kept for the reverse sweep, which takes the same branch; a loop counts its
iterations and the reverse sweep runs them backwards (``range`` loops recompute their index from
the saved start and step). A loop of ``if x[i] > a: a = x[i]`` (and the work after such a branch
that only propagates what it passed on) keeps the last iteration taking the branch and reverses
that one alone. A loop adding up independent terms (``analysis/independent_terms.py``) runs each
iteration's adjoint as the iteration ends, with the sum's adjoint taken as 1, and the reverse sweep
scales what the terms added.

The tape. What the forward sweep saves and the reverse sweep gets back: floats
and ints pushed on the two tapes, arrays' overwritten values and old bindings in lists, values for
variables before their first assignment, and the argument arrays' final contents.
"""

from collections import Counter

import libcst as cst

from srcad.kernels.runtime import REPORT_ROWS

from .. import rules
from ..analysis.carried_adjoints import carried_accumulations
from ..ir import (
    accumulate,
    assign,
    bound_names,
    call,
    comment_lines,
    marker_of,
    nodes_in,
    variables_in,
)
from ..ir.flow import read_after, reads_before_assignment
from ..ir.names import renamed_in
from ..ir.precedence import spelled
from ..ir.statements import (
    LIST_POP,
    assignment_of,
    element_write_of,
    is_exit_check,
    list_append_of,
    operation_of,
    walk,
)
from .array_adjoints import ArrayAdjoints, element_of, with_base
from .checkpoints import checkpointed_loop
from .first_contributions import assign_first_contributions
from .handed_adjoints import handed_adjoints
from .hoisted_buffers import hoisted_buffers
from .loop_order import loops_counting_up
from .recycled_adjoints import recycled_adjoints
from .reserve import push_kind, storage_lines, with_reserves
from .shaped_zeros import shaped_zeros
from .sweep_state import ZERO, SweepState


def _groups(statements):
    """Split a block at user-line markers: each group came from one user statement."""
    groups = []
    for statement in statements:
        compound = not isinstance(statement, cst.SimpleStatementLine)
        if marker_of(statement) is not None or not groups or compound:
            groups.append([])
        groups[-1].append(statement)
    return groups


def _branches(test, body, orelse):
    """``if test: body else: orelse`` (a ``pass`` for an empty body; no else for an empty one)."""
    return cst.If(
        test=cst.Name(test),
        body=cst.IndentedBlock(body or [cst.parse_statement("pass")]),
        orelse=cst.Else(cst.IndentedBlock(orelse)) if orelse else None,
    )


def _is_integer(node):
    """An integer literal, ``3`` or ``-2``."""
    return isinstance(node, cst.Integer) or (
        isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus) and isinstance(node.expression, cst.Integer)
    )


def _is_literal(node, text):
    return isinstance(node, cst.Integer) and node.value == text


class ReverseMode:
    """The adjoint of one normal-form function."""

    def __init__(self, definition, parameters, wrt, analysis, names, checkpoint=None):
        self.definition = definition
        self.checkpoint = checkpoint  # a CheckpointPolicy for the outermost loops, or None (see checkpoints.py)
        self.parameters = parameters
        self.wrt = wrt
        self.analysis = analysis
        self.names = names
        self.state = SweepState(analysis, names)  # adjoint names, the tape, values fresh where code is made
        self.arrays = ArrayAdjoints(self.state)  # statements binding or writing arrays
        self.branch_names = []  # one per nesting depth: a decision is pushed after its branch ran
        self.took_branch = names.fresh("took_branch")
        self.branch_depth = 0
        # decisions of ifs inside ifs: defined before the forward sweep, for numba, which prunes branches
        # it can decide (`m = 0; if m > 2:`) and then cannot type a decision only assigned in them
        self.nested_decisions = []
        self.last_taken_indices = []  # likewise the index of a loop's last iteration taking its branch (last_taken)
        self.single_branches = {}  # id of a reverse `if took_branch:` -> its forward `if` (no else), see last_taken
        self.reversed_indices = []  # indices of the enclosing for loops, each set by its reverse loop
        self.trip_bounds = set()  # variables the reverse sweep reads to count a loop's trips again
        self.loop_depth = 0
        self.per_term_reverse = []  # the adjoint parts of loops reversed term by term (inside the forward sweep)
        self.per_term_arrays = []  # the array adjoints those loops add into, per unit of the accumulator's
        self.per_term_depth = 0  # how many loops reversed term by term enclose the code being made
        self.nested_adjoints = 0  # loops reversed term by term inside those (their adjoint is in their forward code)
        self.checkpoint_bindings = []  # first bindings of the variables of checkpointed loops (checkpoints.py)
        self.reported_loops = 0  # checkpointed loops with a row in the report (srcad.memory_report)
        self.report = names.fresh("checkpoint_report") if checkpoint is not None and checkpoint.report else None

    # -- the whole function ---------------------------------------------------------------------
    def function(self, seed_names, with_value=True, external_adjoints=False):
        """The adjoint function. ``external_adjoints`` (a kernel's thread): the adjoints of the array
        arguments in ``wrt`` are parameters after the seeds, accumulated into, not allocated."""
        body = list(self.definition.body.body)
        outputs = self.analysis.outputs
        forward, reverse = self.block(body[:-1])
        forward = with_reserves(forward, self.state.tape)
        value = self.names.fresh("value")
        # (a loop's bounds, read again in reverse, are defined up front too where numba may drop their definition)
        top_level = set(self.parameters) | {t[0] for t in map(assignment_of, body) if t is not None}
        undefined = self.analysis.maybe_undefined | (self.trip_bounds - top_level)
        inits = [assign(name, self.state.placeholder_value(name)) for name in sorted(undefined)]
        inits += [assign(name, cst.Name("False")) for name in self.nested_decisions] + self.checkpoint_bindings
        inits += [assign(name, cst.parse_expression("-1")) for name in self.last_taken_indices]
        views = sorted(self.analysis.rebound_views & self.analysis.active)
        inits += [assign(self.state.adjoint(name), self.state.strided_placeholder(name)) for name in views]
        code = spelled(cst.IndentedBlock(forward + reverse))
        tape = self.state.tape.creation(code)
        tape += [assign(saved, call("empty_list_like", sample)) for saved, sample in self.state.array_tapes.values()]
        saved_lists = self.state.saved_lists()
        if tape:
            tape[0] = tape[0].with_changes(leading_lines=[cst.EmptyLine(comment=cst.Comment(line))
                                                          for line in storage_lines(forward, self.state.tape, saved_lists)])
        seed = []
        wrt_names = [self.parameters[k] for k in self.wrt]
        scalars = [n for n in sorted(self.analysis.active | set(wrt_names)) if not self.state.is_array(n)]
        adjoint_inits = [assign(self.state.adjoint(n), ZERO) for n in scalars if n not in self.analysis.single_use]
        adjoint_inits += [
            assign(self.state.adjoint(n), cst.parse_expression(f"np.zeros_like({n})"))
            for n in sorted((self.analysis.rebound - self.analysis.rebound_views) & self.analysis.active)
        ]
        array_adjoints = [] if external_adjoints else self.parameter_adjoints(wrt_names)
        seeded = set()
        for output, seed_name in zip(outputs, seed_names):  # each output's adjoint starts as its seed
            if not self.analysis.is_active(output):
                continue
            adjoint = cst.Name(self.state.adjoint(output.value))
            if self.state.is_array(output.value) or output.value in seeded:
                seed.append(accumulate(adjoint, cst.Name(seed_name)))
            else:
                seed.append(assign(adjoint, cst.Name(seed_name)))
            seeded.add(output.value)
        # without the value (grad discards it), work the reverse sweep does not need is dead code to numba
        results = [cst.Name(value) if with_value else ZERO] + [cst.Name(self.state.adjoint(n)) for n in wrt_names]
        if external_adjoints:  # a thread adds into arrays it was given: returning them would cost reference counts
            results = results[:1]
        final = cst.SimpleStatementLine(
            [cst.Return(cst.Tuple([cst.Element(r) for r in results]))], leading_lines=comment_lines("# results")
        )
        float_adjoints = {adjoint for adjoint, owner in self.state.adjoint_owner.items() if not self.state.is_array(owner)}
        reverse = assign_first_contributions(adjoint_inits + seed + reverse, float_adjoints)
        adjoint_inits, reverse = reverse[: len(adjoint_inits + seed)], reverse[len(adjoint_inits + seed) :]
        seed = []
        entry, after_forward, before_return = self.final_argument_values()
        statements = (
            _with_comment(inits, "# variables the sweeps share, bound before their first value (numba types them here)")
            + tape
            + _with_comment(array_adjoints, "# the adjoints of the array arguments")
            + _with_comment(entry, "# the argument arrays, held under names of their own")
            + _with_comment(forward, "# forward sweep")
            + ([assign(value, self.returned_value(outputs))] if with_value else [])
            + after_forward
            + _with_comment(adjoint_inits + seed, "# reverse sweep")
            + reverse
            + _with_comment(before_return, "# the caller's arrays as the forward sweep left them")
            + [final]
        )
        statements = loops_counting_up(statements, reverse + self.per_term_reverse, self.memory_groups(), self.state.tape)
        statements = carried_accumulations(statements, self.state.is_float_vector, self.names)
        if not external_adjoints:  # (a thread's adjoints are numbers and the arrays it was given)
            kinds = self.array_kinds()
            ranks = {adjoint: rank for adjoint, (rank, _) in kinds.items()}
            statements = recycled_adjoints(statements, set(ranks), ranks)
            statements = handed_adjoints(statements, kinds)
            statements = shaped_zeros(statements, self.state.adjoint_owner, self.analysis.fixed_shapes)
            statements = hoisted_buffers(statements, self.buffer_candidates(), self.array_ranks(), self.parameters, self.names.fresh)
        params = list(self.definition.params.params) + [cst.Param(cst.Name(seed)) for seed in seed_names]
        if self.report is not None:
            params.append(cst.Param(cst.Name(self.report)))
        if external_adjoints:
            params += [cst.Param(cst.Name(self.state.adjoint(n))) for n in wrt_names]
            if entry:
                raise self.state.unsupported(
                    "srcad cannot differentiate this kernel yet: it overwrites parts of an argument array "
                    "that its derivative needs back",
                    "Write the new values into a separate output array.",
                )
        params = [p.with_changes(comma=cst.MaybeSentinel.DEFAULT) for p in params]
        return self.definition.with_changes(
            name=cst.Name(self.names.fresh(f"{self.definition.name.value}_adjoint")),
            params=self.definition.params.with_changes(params=params),
            body=cst.IndentedBlock(statements),
        )

    def buffer_candidates(self):
        """Arrays that may share one buffer across their bindings (hoisted_buffers): of one shape at
        every binding, no binding kept for the reverse sweep, no other name for their memory, not
        returned; each with the value it holds before its first binding (numba types it there)."""
        analysis = self.analysis
        returned = {atom.value for atom in analysis.outputs if isinstance(atom, cst.Name)}
        return {name: self.state.placeholder_value(name) for name in analysis.fixed_shapes
                if name not in analysis.recorded and name not in returned and name not in self.parameters
                and len(analysis.aliases.get(name, {name})) <= 1}

    def array_ranks(self):
        return {name: numba_type.ndim for name, numba_type in self.analysis.types.items() if self.state.is_array(name)}

    def array_kinds(self):
        """{array adjoint: (its number of dimensions, its element type)}, from its variable's type."""
        kinds = {}
        for adjoint, owner in self.state.adjoint_owner.items():
            if self.state.is_array(owner):
                numba_type = self.analysis.types.get(owner)
                kinds[adjoint] = (numba_type.ndim, str(numba_type.dtype))
        return kinds

    def parameter_adjoints(self, wrt_names):
        """Adjoint arrays of the array arguments, allocated before the forward sweep."""
        return [
            assign(self.state.adjoint(name), cst.parse_expression(f"np.zeros_like({name})"))
            for name in self.parameters
            if self.state.is_array(name) and (name in self.analysis.active or name in wrt_names)
        ]

    def memory_groups(self):
        """Every array name of the adjoint (primal arrays and their adjoints) -> the memory it may
        share with others: names of one alias group, and their adjoints, share."""
        groups = {}
        for name in self.analysis.types:
            if self.state.is_array(name):
                shared = self.analysis.aliases.get(name, {name})
                groups[name] = frozenset(shared)
                if name in self.state.adjoint_names:
                    groups[self.state.adjoint_names[name]] = frozenset(("adjoint", q) for q in shared)
        for unit in self.per_term_arrays:  # made by np.zeros_like: memory of their own
            groups[unit] = frozenset({unit})
        return groups

    def returned_value(self, outputs):
        """The function's value: a tuple for a tuple output; arrays copied, since the reverse sweep
        restores the elements the forward sweep overwrote."""
        values = [call("np.copy", atom) if isinstance(atom, cst.Name) and self.state.is_array(atom.value) else atom for atom in outputs]
        return values[0] if len(values) == 1 and not isinstance(self.analysis.returned, cst.Tuple) else cst.Tuple(
            [cst.Element(v) for v in values]
        )

    # -- blocks: (forward statements, reverse statements) ---------------------------------------------
    def block(self, statements, fresh=frozenset()):
        """Forward and reverse code of a block; the reverse is generated last statement first,
        the order it runs in, so recomputed values are known to be fresh where they are (``fresh``:
        those that still hold their value where the block's reverse starts)."""
        forward, reverse = [], []
        outer_fresh, self.state.fresh = self.state.fresh, set(fresh)
        groups = _groups(statements)
        markers = [marker_of(group[0]) for group in groups]
        for k in range(1, len(groups)):  # a loop after its setup (``i_stop = n - 1``) is from the same line
            if markers[k] is None and not isinstance(groups[k][0], cst.SimpleStatementLine):
                markers[k] = markers[k - 1]
        for group, marker in reversed(list(zip(groups, markers))):
            group_forward, group_reverse = [], []
            self.state.current_marker = marker or self.state.current_marker
            for statement in reversed(group):
                statement_forward, statement_reverse = self.statement(statement)
                statement_reverse = self.rederived_views_before(statement) + statement_reverse
                group_forward = statement_forward + group_forward
                group_reverse += statement_reverse
            if marker is not None and group_reverse:
                group_reverse[0] = group_reverse[0].with_changes(leading_lines=comment_lines(f"# adjoint of line {marker}"))
            forward = group_forward + forward
            reverse += group_reverse
        self.state.fresh = outer_fresh
        return forward, reverse

    def rederived_views_before(self, statement):
        """The rebound views (and their adjoint views) taken again before ``statement``'s adjoint,
        the first in their iteration's reverse to read them (see recompute.rederived_views)."""
        lines = []
        for name in self.analysis.rederive_at.get(id(statement), ()):
            view = self.analysis.rederived_views[name]
            if name not in self.state.fresh:  # (not already taken again for a value computed from it)
                lines.append(view.with_changes(leading_lines=[]))
                self.state.fresh.add(name)
            if name in self.analysis.active:
                source = operation_of(assignment_of(view)[1]).operands[0].value
                lines.append(assign(self.state.adjoint(name), with_base(assignment_of(view)[1], cst.Name(self.state.adjoint(source)))))
        return lines

    def statement(self, statement):
        target_value = assignment_of(statement)
        if list_append_of(statement) is not None or (
            target_value is not None and operation_of(target_value[1]).rule == LIST_POP
        ):
            raise self.state.unsupported(
                "srcad cannot differentiate typed lists in reverse mode", "Keep the arrays in a 2-D array instead."
            )
        if target_value is not None:
            return self.assignment(statement, *target_value)
        write = element_write_of(statement)
        if write is not None:
            return self.arrays.element_write(statement, write)
        if isinstance(statement, cst.If):
            return self.conditional(statement)
        if isinstance(statement, cst.For):
            return self.for_loop(statement)
        if isinstance(statement, cst.While):
            return self.while_loop(statement)
        return [statement], []  # pass

    def assignment(self, statement, target, value):
        reverse = self._assignment_reverse(statement, target, value)
        self.state.fresh.discard(target)  # above its definition, a recomputed value is stale again
        return reverse

    def _assignment_reverse(self, statement, target, value):
        if self.state.is_array(target):
            return self.arrays.array_assignment(statement, target, value)
        forward = [statement]
        recorded = target in self.analysis.recorded and id(statement) not in self.analysis.unsaved
        if recorded:
            forward = [
                self.state.save(target).with_changes(leading_lines=statement.leading_lines),
                statement.with_changes(leading_lines=[]),
            ]
        reverse = []
        if target not in self.analysis.active:
            return forward, [self.state.pop(target)] if recorded else []
        operation = operation_of(value)
        target_adjoint = cst.Name(self.state.adjoint(target))
        contributions = []
        if operation.rule is not None:
            rule = rules.rule_for(operation.rule)
            contributions = [
                (atom.value, template)
                for atom, template in zip(operation.operands, rule.adjoints)
                if self.analysis.is_active(atom)
            ]
        if not contributions:
            reset = [] if target in self.analysis.single_use else [assign(target_adjoint, ZERO)]
            return forward, ([self.state.pop(target)] if recorded else []) + reset
        uses_result = any(rules.template_uses(t, "y") for _, t in contributions)
        result = cst.Name(target)
        if uses_result and recorded:
            result = cst.Name(self.state.scratch_name(target, "out"))
            reverse.append(assign(result, cst.Name(target)))
        incoming = target_adjoint
        reads_itself = target in operation.operand_names()
        if reads_itself and _passes_adjoint_through(operation, rule, target):
            # `s = s + t`: s's adjoint flows through unchanged; only t's accumulates.
            contributions = [(name, template) for name, template in contributions if name != target]
            reads_itself = False
            zero_target = False
        else:
            zero_target = True
        if reads_itself:
            incoming = cst.Name(self.state.scratch_name(target, "adj_in"))
            reverse += [assign(incoming, target_adjoint), assign(target_adjoint, ZERO)]
        if recorded:
            reverse.append(self.state.pop(target))
        bindings = dict(zip(rule.operands, operation.operands), y=result, y_adj=incoming)
        templates = [template for _, template in contributions] + [rule.shared or "0.0"]
        for placeholder, bound in bindings.items():
            if isinstance(bound, cst.Name) and any(rules.template_uses(t, placeholder) for t in templates):
                reverse += self.state.recompute(bound.value)
        for atom in operation.index:
            if isinstance(atom, cst.Name):
                reverse += self.state.recompute(atom.value)
        reverse += self.state.shared_value(target, rule, bindings)
        for name, template in contributions:
            increment = rules.instantiate(template, **bindings)
            accumulator = self.read_target(operation, name)
            reverse.append(self.state.contribution(accumulator, increment))
        if not reads_itself and zero_target and target not in self.analysis.single_use:
            reverse.append(assign(target_adjoint, ZERO))
        return forward, reverse

    def read_target(self, operation, name):
        """Where an operand's adjoint accumulates: ``a_adj``, or ``a_adj[i]`` for a read of ``a[i]``."""
        if operation.rule == "index":
            return element_of(self.state.adjoint(name), operation.index)
        return cst.Name(self.state.adjoint(name))

    # -- control flow: if and loops ------------------------------------------------------------
    def conditional(self, statement):
        """``if``: its decision is kept for the reverse sweep, in a variable of its own where the ``if``
        runs once (not in a loop), else on the int tape (pushed after the branch's own pushes)."""
        if is_exit_check(statement):
            return [statement], []
        depth = self.branch_depth
        if depth == len(self.branch_names):
            self.branch_names.append(self.names.fresh("branch"))
        self.branch_depth += 1
        body_forward, body_reverse = self.block(statement.body.body)
        else_forward, else_reverse = self.block(statement.orelse.body.body) if statement.orelse else ([], [])
        self.branch_depth -= 1
        if not body_reverse and not else_reverse:
            return [statement], []
        once = self.loop_depth == 0
        decision = self.names.fresh("took_branch") if once else self.branch_names[depth]
        if once and depth > 0:
            self.nested_decisions.append(decision)
        forward = [
            assign(decision, statement.test).with_changes(leading_lines=statement.leading_lines),
            _branches(decision, body_forward, else_forward),
        ]
        if once:
            return forward, [_branches(decision, body_reverse, else_reverse)]
        reverse = [self.state.pop(self.took_branch, as_float=False), _branches(self.took_branch, body_reverse, else_reverse)]
        if not else_reverse and not else_forward:  # a candidate for keeping only the last taken iteration
            self.single_branches[id(reverse[1])] = forward[1]
        return forward + [self.state.push(decision)], reverse

    def _loop_body(self, statement, counter, counted=True):
        body = list(statement.body.body)
        leading = [body.pop(0)] if body and is_exit_check(body[0]) else []
        body_forward, body_reverse = self.block(body)
        count = [cst.parse_statement(f"{counter} += 1")] if counted else []
        return leading + count + body_forward, body_reverse

    def last_taken(self, statement, counter, body_forward, body_reverse):
        """Forward and reverse code of a ``for`` loop whose reverse starts with one ``if`` without ``else``
        that passes an adjoint on and zeroes it (``if x[i] > a: a = x[i]``: ``x_adj[i] += a_adj;
        a_adj = 0.0``), or None. Only the last iteration taking the branch passes on anything but
        zeros there, so the forward sweep keeps that iteration's index instead of a decision per
        iteration, and the reverse sweep runs that one iteration: what the loop costs a person who
        writes it by hand. The rest of the reverse body may run too (``if dist < best: best = dist``
        after computing ``dist``), when it only propagates what the branch passed on (see
        ``only_propagates``), as zeros in every other iteration."""
        index = statement.target.value
        if len(body_reverse) < 2 or id(body_reverse[1]) not in self.single_branches:
            return None
        taken, rest = body_reverse[1].body.body, body_reverse[2:]
        adjoints = set(self.state.adjoint_owner)
        allowed = {index} | self.analysis.invariant | set(self.reversed_indices)  # what a skipped iteration leaves alone
        zeroed, passed_on, passed_to = set(), set(), set()
        for line in taken:  # only `adjoint = 0.0` and additions into adjoints, of adjoints it zeroes
            small = line.body[0] if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 else None
            if (isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Name)
                    and small.targets[0].target.value in adjoints and isinstance(small.value, cst.Float)
                    and float(small.value.value) == 0):
                zeroed.add(small.targets[0].target.value)
            elif isinstance(small, cst.AugAssign) and isinstance(small.operator, (cst.AddAssign, cst.SubtractAssign)):
                passed_on |= variables_in(small.value) & adjoints
                passed_to |= {small.target.value} if isinstance(small.target, cst.Name) else set()
            else:
                return None
        if not passed_on or not passed_on <= zeroed or not variables_in(cst.Module(body=list(taken))) <= allowed | adjoints:
            return None  # reads values of the iteration, or passes on an adjoint it keeps
        if rest and not self.only_propagates(statement, rest, passed_to, zeroed, allowed):
            return None
        branch = self.single_branches[id(body_reverse[1])]
        pushes = [s for s in nodes_in(cst.Module(body=list(body_forward))) if push_kind(s, self.state.tape) is not None]
        saved_lists = self.state.saved_lists()
        if (len(pushes) != 1 or pushes[0] not in body_forward or index in bound_names(statement.body)
                or branch not in body_forward or variables_in(cst.Module(body=list(body_forward))) & saved_lists):
            return None
        last = self.names.fresh(f"{index}_last_taken")
        self.last_taken_indices.append(last)
        counting = spelled(cst.parse_statement(f"{counter} += 1"))
        body = [s for s in body_forward if s is not pushes[0] and spelled(s) != counting]
        body[body.index(branch)] = branch.with_changes(
            body=branch.body.with_changes(body=list(branch.body.body) + [assign(last, cst.Name(index))]))
        forward = [assign(last, cst.parse_expression("-1")),
                   statement.with_changes(body=cst.IndentedBlock(body), leading_lines=[])]
        reverse = [cst.parse_statement(f"if {last} >= 0:\n    pass").with_changes(
            body=cst.IndentedBlock([assign(index, cst.Name(last))] + list(taken) + list(rest)))]
        if self.loop_depth:  # one index per run of the loop
            forward.append(self.state.push(last))
            reverse.insert(0, self.state.pop(last, as_float=False))
        return forward, reverse

    def only_propagates(self, loop, rest, passed_to, zeroed, allowed):
        """Whether ``rest``, the reverse of ``loop``'s body after its branch, is zero work in an iteration
        whose branch passed nothing on: it reads no adjoint but those of the iteration's own
        variables (zero at the start of each reversed iteration) and the ones the branch adds to
        (``passed_to``), only adds into others, leaves the ones the branch zeroes alone, keeps
        nothing on the tape, and reads no value of the iteration it does not compute again."""
        index = loop.target.value
        assigned = bound_names(loop)
        own = assigned - reads_before_assignment(loop.body.body, {index}) - read_after(self.definition.body.body, loop, assigned)
        own_adjoints = {self.state.adjoint_names[name] for name in own if name in self.state.adjoint_names}
        adjoints = set(self.state.adjoint_owner)
        code = cst.Module(body=list(rest))
        saved_lists = self.state.saved_lists()
        if not passed_to <= own_adjoints or variables_in(code) & (self.state.tape.names() | saved_lists | zeroed):
            return False
        if not (reads_before_assignment(rest, {index}) - adjoints) & set(self.analysis.types) <= allowed:
            return False  # (names the function does not bind are globals: `len`, `range`)
        for node in nodes_in(code):
            if isinstance(node, (cst.If, cst.While)) and variables_in(node.test) & adjoints:
                return False
            if isinstance(node, cst.Assign):
                targets = {t.target.value for t in node.targets if isinstance(t.target, cst.Name)}
                if not (variables_in(node.value) & adjoints) <= own_adjoints or (targets & adjoints) - own_adjoints:
                    return False
                if any(isinstance(t.target, cst.Subscript) and variables_in(t.target.value) & adjoints for t in node.targets):
                    return False  # a_adj[i] = ...: not an addition
            elif isinstance(node, cst.AugAssign):
                if variables_in(node.target) & adjoints and not isinstance(node.operator, (cst.AddAssign, cst.SubtractAssign)):
                    return False
                if not (variables_in(node.value) & adjoints) <= own_adjoints:
                    return False
        return True

    def known_trip_count(self, statement):
        """``len(range(...))`` of a ``for`` loop whose trip count the reverse sweep computes again
        rather than keeping it: no ``break``, and bounds of variables that hold one value throughout,
        or that hold it while the loop runs and are restored where they are bound (or set by the
        reverse loops around: ``analysis.counted_again``)."""
        if any(isinstance(node, cst.Break) for node in nodes_in(statement.body)):
            return None
        if not (isinstance(statement.iter, cst.Call) and spelled(statement.iter.func) == "range"):
            return None
        bounds = variables_in(cst.Tuple([cst.Element(a.value) for a in statement.iter.args]))
        restored = set()
        if id(statement) in self.analysis.counted_again:
            restored = self.analysis.recorded | set(self.reversed_indices) | set(self.analysis.recomputed)
        if not bounds <= self.analysis.invariant | restored:
            return None
        self.trip_bounds |= bounds
        return f"len({spelled(statement.iter)})"

    def for_loop(self, statement):
        if id(statement) in self.analysis.per_term_loops:
            return self.per_term_loop(statement, self.analysis.per_term_loops[id(statement)])
        index = statement.target.value
        line = int(self.state.current_marker.split(":")[0]) if self.state.current_marker else 0  # (the loop's own)
        # one counter per nesting depth: nested loops may share an index name (`for _ in ...`)
        counter = self.state.scratch_name(index, "iterations" if not self.loop_depth else f"iterations_{self.loop_depth}")
        trips = self.known_trip_count(statement)
        self.loop_depth += 1
        own_index = index not in bound_names(statement.body)  # the reverse loop sets it for its whole body
        self.reversed_indices += [index] if own_index else []
        body_forward, body_reverse = self._loop_body(statement, counter, counted=trips is None)
        self.reversed_indices = self.reversed_indices[:-1] if own_index else self.reversed_indices
        self.loop_depth -= 1
        recorded = index in self.analysis.recorded and id(statement) not in self.analysis.unsaved
        last_taken = self.last_taken(statement, counter, body_forward, body_reverse)
        if last_taken is not None:
            forward, reverse = last_taken
            if recorded:
                forward = [self.state.save(index)] + forward
                reverse = reverse + [self.state.pop(index)]
            forward[0] = forward[0].with_changes(leading_lines=statement.leading_lines)
            return forward, reverse
        if not body_reverse:
            if not recorded:
                return [statement], []
            return [self.state.save(index).with_changes(leading_lines=statement.leading_lines), statement.with_changes(leading_lines=[])], [self.state.pop(index)]
        if self.loop_depth == 0 and trips is not None:
            reported = self.report is not None and self.reported_loops < REPORT_ROWS
            report = (self.report, self.reported_loops, line) if reported else None
            checkpointed = checkpointed_loop(self.state, self.definition.body.body, statement, trips, body_forward,
                                             body_reverse, self.checkpoint, report)
            if checkpointed is not None:
                forward, reverse, first_bindings = checkpointed
                self.checkpoint_bindings += first_bindings
                self.reported_loops += report is not None
                if recorded:
                    forward, reverse = [self.state.save(index)] + forward, reverse + [self.state.pop(index)]
                return forward, reverse
        bounds = [a.value for a in statement.iter.args]
        start = bounds[0] if len(bounds) >= 2 else cst.Integer("0")
        step = bounds[2] if len(bounds) == 3 else cst.Integer("1")
        saved = [(b, self.state.scratch_name(index, role)) for b, role in ((start, "start"), (step, "step"))
                 if not _is_integer(b) and trips is None]  # fmt: skip
        forward = [self.state.save(index)] if recorded else []
        forward += [assign(counter, cst.Integer("0"))] if trips is None else []
        forward += [statement.with_changes(body=cst.IndentedBlock(body_forward), leading_lines=[])]
        forward += [self.state.push(spelled(b)) for b, _ in saved] + ([self.state.push(counter)] if trips is None else [])
        forward[0] = forward[0].with_changes(leading_lines=statement.leading_lines)
        if trips is None:
            reverse = [self.state.pop(counter, as_float=False)]
        else:  # the same bounds give the same count: nothing kept
            recomputed = [line for name in sorted(variables_in(statement.iter)) for line in self.state.recompute(name)]
            reverse = recomputed + [assign(counter, cst.parse_expression(trips))]
        reverse += [self.state.pop(name, as_float=False) for _, name in reversed(saved)]
        restored = {id(b): cst.Name(n) for b, n in saved}
        start, step = restored.get(id(start), start), restored.get(id(step), step)
        if _is_literal(start, "0") and _is_literal(step, "1"):
            loop = cst.parse_statement(f"for {index} in range({counter} - 1, -1, -1):\n    pass").with_changes(
                body=cst.IndentedBlock(body_reverse)
            )
        else:
            iteration = self.state.scratch_name(index, "iteration")
            position = cst.Name(iteration) if _is_literal(step, "1") else cst.BinaryOperation(
                cst.Name(iteration), cst.Multiply(), step)
            if not _is_literal(start, "0"):
                position = cst.BinaryOperation(start, cst.Add(), position)
            loop = cst.parse_statement(f"for {iteration} in range({counter} - 1, -1, -1):\n    pass").with_changes(
                body=cst.IndentedBlock([assign(index, position)] + body_reverse)
            )
        reverse.append(loop)
        if recorded:
            reverse.append(self.state.pop(index))
        return forward, reverse

    def per_term_loop(self, statement, accumulator):
        """Forward and reverse code of a loop adding up independent terms (``independent_terms``). Each
        iteration's adjoint runs as the iteration ends, with the accumulator's adjoint taken as 1,
        adding into adjoints of its own (``w_adj_per_total``) for what it reads from before the loop;
        where the loop's reverse would run, those are added in, times the accumulator's adjoint."""
        index = statement.target.value
        touched_later = set(self.state.adjoint_owner.values())  # by the code after the loop, generated first
        outer_indices, self.reversed_indices = self.reversed_indices, self.reversed_indices + [index]
        bound = bound_names(statement)
        # as if the body ran once; values it computes once, outside its inner loops and branches, are
        # still there when its adjoint runs (so are those of an enclosing term it does not assign)
        assigned = Counter(t[0] for t in (assignment_of(s) for s, _ in walk(statement.body.body)) if t is not None)
        assigned.update(n.target.value for n in nodes_in(statement.body) if isinstance(n, cst.For))
        held = {t[0] for t in map(assignment_of, statement.body.body) if t is not None and assigned[t[0]] == 1}
        nested = self.per_term_depth > 0
        if nested:
            held |= self.state.fresh - bound
        self.per_term_depth += 1
        nested_before = self.nested_adjoints
        body_forward, body_reverse = self.block(list(statement.body.body), held)
        self.per_term_depth -= 1
        self.reversed_indices = outer_indices
        recorded = index in self.analysis.recorded and id(statement) not in self.analysis.unsaved
        forward, reverse = ([self.state.save(index)], [self.state.pop(index)]) if recorded else ([], [])
        if not body_reverse and self.nested_adjoints == nested_before:
            return forward + [statement], reverse
        seed = self.state.adjoint(accumulator)
        if seed in bound_names(cst.Module(body=body_reverse)):
            raise AssertionError(f"srcad: the adjoint of the accumulator {accumulator!r} changes inside its loop")
        if nested:
            self.nested_adjoints += 1
            return forward + self.nested_per_term_loop(statement, body_forward, body_reverse, seed), reverse
        renamed, local_scalars, scaled_in_place = {seed: cst.Float("1.0")}, [], []
        outputs = {atom.value for atom in self.analysis.outputs if isinstance(atom, cst.Name)}
        for name in sorted(variables_in(cst.Module(body=body_forward + body_reverse)) & set(self.state.adjoint_owner)):
            owner = self.state.adjoint_owner[name]
            if owner in bound:  # zero at the start of each iteration's adjoint, as the previous one left it
                if not self.state.is_array(owner) and owner not in self.analysis.single_use:
                    local_scalars.append(name)
            elif self.state.is_array(owner) and owner in self.parameters and owner not in self.analysis.rebound and (
                    self.analysis.aliases.get(owner, {owner}) == {owner}) and not ({owner} & (touched_later | outputs)):
                # nothing adds into this adjoint before the loop's reverse would: it can hold the loop's
                # per-unit sums itself, then be scaled in place (an argument's, never bound again: the
                # only adjoints made before the forward sweep and not made again in the reverse one)
                scaled_in_place.append(name)
            elif owner != accumulator:
                renamed[name] = cst.Name(self.names.fresh(f"{name}_per_{accumulator}"))
        per_unit = {name: unit for name, unit in renamed.items() if name != seed}
        self.per_term_arrays += [unit.value for name, unit in per_unit.items() if self.state.is_array(self.state.adjoint_owner[name])]
        starts = [assign(unit, call("np.zeros_like", cst.Name(self.state.adjoint_owner[name])) if self.state.is_array(
            self.state.adjoint_owner[name]) else ZERO) for name, unit in per_unit.items()]
        starts += [assign(name, ZERO) for name in local_scalars]
        # arrays bound again in each iteration: their adjoint starts as zeros of this iteration's binding
        rebound = sorted((self.analysis.rebound - self.analysis.rebound_views) & self.analysis.active & bound)
        starts_of_adjoint = [assign(self.state.adjoint(n), call("np.zeros_like", cst.Name(n))) for n in rebound]
        body = [renamed_in(s, renamed) for s in body_forward + starts_of_adjoint + body_reverse]
        loop = statement.with_changes(body=cst.IndentedBlock(body), leading_lines=[])
        loop = assign_first_contributions(starts + [loop], set(local_scalars))[-1]
        self.per_term_reverse += list(loop.body.body[len(body_forward) + len(starts_of_adjoint):])
        forward += starts + [loop]
        forward[0] = forward[0].with_changes(leading_lines=list(statement.leading_lines) + comment_lines(
            f"#   each iteration's adjoint runs as it ends, with {accumulator}'s adjoint taken as 1"))
        scaled = []
        for name, unit in per_unit.items():
            if self.state.is_array(self.state.adjoint_owner[name]):  # the per-unit sums scaled where they are:
                # no temporary array for seed * unit (the unit array is the loop's own, read no more)
                scaled += [cst.SimpleStatementLine([cst.AugAssign(unit, cst.MultiplyAssign(), cst.Name(seed))]),
                           accumulate(cst.Name(name), unit)]
            else:
                scaled.append(accumulate(cst.Name(name), cst.BinaryOperation(cst.Name(seed), cst.Multiply(), unit)))
        scaled += [cst.SimpleStatementLine([cst.AugAssign(cst.Name(name), cst.MultiplyAssign(), cst.Name(seed))])
                   for name in scaled_in_place]
        return forward, scaled + reverse

    def nested_per_term_loop(self, statement, body_forward, body_reverse, seed):
        """The forward code of a loop reversed term by term inside another (``nested_term_loops``):
        the accumulator's adjoint is 1 there, so each term's adjoint adds straight into the adjoints
        of what it reads; only those of the values the loop binds start from zero."""
        bound = bound_names(statement) - {self.state.adjoint_owner[seed]}
        # (zero where the loop starts: the outermost loop reversed term by term sets them so, and each
        # term leaves them so)
        local_scalars = {name for name in variables_in(cst.Module(body=body_forward + body_reverse))
                         if name in self.state.adjoint_owner and self.state.adjoint_owner[name] in bound
                         and not self.state.is_array(self.state.adjoint_owner[name])
                         and self.state.adjoint_owner[name] not in self.analysis.single_use}
        rebound = sorted((self.analysis.rebound - self.analysis.rebound_views) & self.analysis.active & bound)
        starts_of_adjoint = [assign(self.state.adjoint(n), call("np.zeros_like", cst.Name(n))) for n in rebound]
        body = [renamed_in(s, {seed: cst.Float("1.0")}) for s in body_forward + starts_of_adjoint + body_reverse]
        starts = [assign(name, ZERO) for name in sorted(local_scalars)]
        loop = statement.with_changes(body=cst.IndentedBlock(body), leading_lines=list(statement.leading_lines) + comment_lines(
            "#   each iteration's adjoint runs as it ends, inside the enclosing one's"))
        return assign_first_contributions(starts + [loop], local_scalars)[len(starts):]

    def while_loop(self, statement):
        counter = self.names.fresh("iterations")
        self.loop_depth += 1
        body_forward, body_reverse = self._loop_body(statement, counter)
        self.loop_depth -= 1
        if not body_reverse:
            return [statement], []
        forward = [
            assign(counter, cst.Integer("0")).with_changes(leading_lines=statement.leading_lines),
            statement.with_changes(body=cst.IndentedBlock(body_forward), leading_lines=[]),
            self.state.push(counter),
        ]
        loop = cst.parse_statement(f"for _ in range({counter}):\n    pass").with_changes(body=cst.IndentedBlock(body_reverse))
        return forward, [self.state.pop(counter, as_float=False), loop]

    # -- the argument arrays' final contents ----------------------------------------------------
    def final_argument_values(self):
        """The reverse sweep puts back the old values of arrays it saved; for argument arrays, the
        caller must still see what the function did to them: a copy of their contents after the
        forward sweep is written back at the end. (The argument is held under its own name here,
        since the function may bind the parameter's name to other arrays.)"""
        entry, after_forward, before_return = [], [], []
        for name in self.parameters:
            shared = self.analysis.aliases.get(name, {name})
            if not self.state.is_array(name) or not shared & set(self.state.saved_arrays):
                continue
            argument, final = self.names.fresh(f"{name}_argument"), self.names.fresh(f"{name}_final")
            entry.append(assign(argument, cst.Name(name)))
            after_forward.append(cst.parse_statement(f"{final} = {argument}.copy()"))
            before_return.append(cst.parse_statement(f"{argument}[...] = {final}"))
        return entry, after_forward, before_return


def _passes_adjoint_through(operation, rule, target):
    """Whether ``target`` is read once, as an operand whose adjoint is exactly ``y_adj``."""
    positions = [i for i, atom in enumerate(operation.operands) if isinstance(atom, cst.Name) and atom.value == target]
    return len(positions) == 1 and rule.adjoints[positions[0]] == "y_adj"


def _with_comment(statements, text):
    if statements:
        first = statements[0]
        statements = [first.with_changes(leading_lines=comment_lines(text) + list(first.leading_lines))] + statements[1:]
    return statements


def reverse_mode(definition, parameters, wrt, analysis, names, with_value=True, external_adjoints=False, checkpoint=None):
    """The adjoint function of a normal-form, single-exit ``definition``, returning ``(value, *adjoints)``
    (with 0.0 for the value unless ``with_value``; see ``ReverseMode.function`` for ``external_adjoints``);
    ``checkpoint``: a ``srcad.checkpointing.CheckpointPolicy`` for its outermost loops (``checkpoints.py``), or None."""
    seeds = [names.fresh("output_adj") for _ in analysis.outputs]  # one per output (per part of a tuple)
    return ReverseMode(definition, parameters, wrt, analysis, names, checkpoint).function(seeds, with_value, external_adjoints)
