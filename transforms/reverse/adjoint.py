"""Pass 5: reverse mode. A normal-form function becomes its adjoint:

    def f_adjoint(<f's parameters>, <output>_adj):
        <forward sweep: f's statements, saving overwritten values and control flow on the tape>
        <reverse sweep: each statement's adjoint, last statement first>
        return value, <adjoint of each differentiated parameter>

The tape is two stacks (floats, integers) behind the small runtime interface of
``srcad.kernels.runtime``; branch decisions and loop trip counts go on the
integer stack. Each user line's adjoint block carries a comment naming it.

``ReverseMode`` is one class, its methods grouped by what they differentiate: statements and
blocks, arrays, control flow, and the tape.

Arrays. An array's adjoint is an array of its shape: ``np.zeros_like(x)`` for an
argument (allocated before the forward sweep) and for an array the function
creates (allocated next to it). ``b = a`` binds ``b_adj`` to ``a_adj``, as the
primal binds ``b`` to ``a``. An array bound again (a step's temporaries) has an
adjoint per binding: the reverse sweep restores the old binding only where an
adjoint reads its values and cannot compute them again (elementwise, or as a
view); otherwise the old binding's adjoint starts from zeros of the current
binding's shape, which ``analysis/shapes.py`` proves the same, or of the shape
the forward sweep pushed on the int tape. Writes into an array save the values
they overwrite where a later adjoint reads them (not a first write into new memory).

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
from dataclasses import replace

import libcst as cst
from numba.core import types as numba_types

from .. import rules
from ..analysis.aliases import shares_memory
from ..analysis.carried_adjoints import carried_accumulations
from ..ir import (
    UnsupportedHere,
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
    assembled_pieces,
    assignment_of,
    element_write_of,
    in_place_update_of,
    is_array_type,
    is_exit_check,
    is_float64_vector_type,
    is_gather,
    list_append_of,
    operation_of,
    walk,
)
from .first_contributions import assign_first_contributions
from .loop_order import loops_counting_up
from .reserve import Tape, push_kind, storage_lines, with_reserves

_ZERO = cst.Float("0.0")


def _groups(statements):
    """Split a block at user-line markers: each group came from one user statement."""
    groups = []
    for statement in statements:
        compound = not isinstance(statement, cst.SimpleStatementLine)
        if marker_of(statement) is not None or not groups or compound:
            groups.append([])
        groups[-1].append(statement)
    return groups


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
    if isinstance(value, cst.Call) and spelled(value.func) in rules.VIEW_FUNCTIONS:  # np.atleast_2d(a)
        return value.with_changes(args=[value.args[0].with_changes(value=base)])
    if isinstance(value, cst.Call):
        return value.with_changes(func=value.func.with_changes(value=base))
    return value.with_changes(value=base)


def _is_whole(region):
    """``a[...]``: numba stores into it but cannot read it; the array itself is the same values."""
    elements = region.slice if isinstance(region, cst.Subscript) else ()
    return len(elements) == 1 and isinstance(getattr(elements[0].slice, "value", None), cst.Ellipsis)


def _element(array, index):
    return cst.Subscript(value=cst.Name(array), slice=[cst.SubscriptElement(cst.Index(i)) for i in index])


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

    def __init__(self, definition, parameters, wrt, analysis, names):
        self.definition = definition
        self.parameters = parameters
        self.wrt = wrt
        self.analysis = analysis
        self.names = names
        self.adjoint_names = {}
        self.adjoint_owner = {}  # x_adj -> x
        self.scratch = {}
        self.tape = Tape(names.fresh("tape_floats"), names.fresh("floats_top"), names.fresh("tape_ints"),
                         names.fresh("ints_top"))
        self.branch_names = []  # one per nesting depth: a decision is pushed after its branch ran
        self.took_branch = names.fresh("took_branch")
        self.branch_depth = 0
        # decisions of ifs inside ifs: defined before the forward sweep, for numba, which prunes branches
        # it can decide (`m = 0; if m > 2:`) and then cannot type a decision only assigned in them
        self.nested_decisions = []
        self.single_branches = {}  # id of a reverse `if took_branch:` -> its forward `if` (no else), see last_taken
        self.reversed_indices = []  # indices of the enclosing for loops, each set by its reverse loop
        self.trip_bounds = set()  # variables the reverse sweep reads to count a loop's trips again
        self.fresh = set()  # recomputed values valid at the current point of the reverse sweep
        self.loop_depth = 0
        self.per_term_reverse = []  # the adjoint parts of loops reversed term by term (inside the forward sweep)
        self.per_term_arrays = []  # the array adjoints those loops add into, per unit of the accumulator's
        self.current_marker = None  # "N: text" of the user line being transformed
        self.array_tapes = {}  # array variable -> its tape: a list of arrays (old values, or old bindings)
        self.saved_arrays = set()  # arrays whose overwritten values the reverse sweep puts back
        self.array_bindings = {}
        for statement, _ in walk(definition.body.body):
            target_value = assignment_of(statement)
            if target_value is not None and self.is_array(target_value[0]) and in_place_update_of(statement) is None:
                self.array_bindings[target_value[0]] = self.array_bindings.get(target_value[0], 0) + 1

    # -- names ---------------------------------------------------------------------------------
    def adjoint(self, name):
        if name not in self.adjoint_names:
            self.adjoint_names[name] = self.names.fresh(f"{name}_adj")
            self.adjoint_owner[self.adjoint_names[name]] = name
        return self.adjoint_names[name]

    def scratch_name(self, name, suffix):
        key = (name, suffix)
        if key not in self.scratch:
            self.scratch[key] = self.names.fresh(f"{name}_{suffix}")
        return self.scratch[key]

    def is_float_vector(self, name):
        return is_float64_vector_type(self.analysis.types.get(name))

    def is_array(self, name):
        return is_array_type(self.analysis.types.get(name))

    def is_float(self, name):
        return isinstance(self.analysis.types.get(name), numba_types.Float) or name not in self.analysis.types

    # -- the whole function ---------------------------------------------------------------------
    def function(self, seed_names, with_value=True, external_adjoints=False):
        """The adjoint function. ``external_adjoints`` (a kernel's thread): the adjoints of the array
        arguments in ``wrt`` are parameters after the seeds, accumulated into, not allocated."""
        body = list(self.definition.body.body)
        outputs = self.analysis.outputs
        forward, reverse = self.block(body[:-1])
        forward = with_reserves(forward, self.tape)
        value = self.names.fresh("value")
        # (a loop's bounds, read again in reverse, are defined up front too where numba may drop their definition)
        top_level = set(self.parameters) | {t[0] for t in map(assignment_of, body) if t is not None}
        undefined = self.analysis.maybe_undefined | (self.trip_bounds - top_level)
        inits = [assign(name, self.placeholder_value(name)) for name in sorted(undefined)]
        inits += [assign(name, cst.Name("False")) for name in self.nested_decisions]
        views = sorted(self.analysis.rebound_views & self.analysis.active)
        inits += [assign(self.adjoint(name), self.strided_placeholder(name)) for name in views]
        code = spelled(cst.IndentedBlock(forward + reverse))
        tape = self.tape.creation(code)
        tape += [assign(saved, call("empty_list_like", sample)) for saved, sample in self.array_tapes.values()]
        saved_lists = self.saved_lists()
        if tape:
            tape[0] = tape[0].with_changes(leading_lines=[cst.EmptyLine(comment=cst.Comment(line))
                                                          for line in storage_lines(forward, self.tape, saved_lists)])
        seed = []
        wrt_names = [self.parameters[k] for k in self.wrt]
        scalars = [n for n in sorted(self.analysis.active | set(wrt_names)) if not self.is_array(n)]
        adjoint_inits = [assign(self.adjoint(n), _ZERO) for n in scalars if n not in self.analysis.single_use]
        adjoint_inits += [
            assign(self.adjoint(n), cst.parse_expression(f"np.zeros_like({n})"))
            for n in sorted((self.analysis.rebound - self.analysis.rebound_views) & self.analysis.active)
        ]
        array_adjoints = [] if external_adjoints else self.parameter_adjoints(wrt_names)
        seeded = set()
        for output, seed_name in zip(outputs, seed_names):  # each output's adjoint starts as its seed
            if not self.analysis.is_active(output):
                continue
            adjoint = cst.Name(self.adjoint(output.value))
            if self.is_array(output.value) or output.value in seeded:
                seed.append(accumulate(adjoint, cst.Name(seed_name)))
            else:
                seed.append(assign(adjoint, cst.Name(seed_name)))
            seeded.add(output.value)
        # without the value (grad discards it), work the reverse sweep does not need is dead code to numba
        results = [cst.Name(value) if with_value else _ZERO] + [cst.Name(self.adjoint(n)) for n in wrt_names]
        if external_adjoints:  # a thread adds into arrays it was given: returning them would cost reference counts
            results = results[:1]
        final = cst.SimpleStatementLine(
            [cst.Return(cst.Tuple([cst.Element(r) for r in results]))], leading_lines=comment_lines("# results")
        )
        float_adjoints = {adjoint for adjoint, owner in self.adjoint_owner.items() if not self.is_array(owner)}
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
        statements = loops_counting_up(statements, reverse + self.per_term_reverse, self.memory_groups(), self.tape_names())
        statements = carried_accumulations(statements, self.is_float_vector, self.names)
        params = list(self.definition.params.params) + [cst.Param(cst.Name(seed)) for seed in seed_names]
        if external_adjoints:
            params += [cst.Param(cst.Name(self.adjoint(n))) for n in wrt_names]
            if entry:
                raise self.unsupported(
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

    def memory_groups(self):
        """Every array name of the adjoint (primal arrays and their adjoints) -> the memory it may
        share with others: names of one alias group, and their adjoints, share."""
        groups = {}
        for name in self.analysis.types:
            if self.is_array(name):
                shared = self.analysis.aliases.get(name, {name})
                groups[name] = frozenset(shared)
                if name in self.adjoint_names:
                    groups[self.adjoint_names[name]] = frozenset(("adjoint", q) for q in shared)
        for unit in self.per_term_arrays:  # made by np.zeros_like: memory of their own
            groups[unit] = frozenset({unit})
        return groups

    def tape_names(self):
        return self.tape.names()

    def saved_lists(self):
        """The names of the lists the forward sweep appends arrays to (old values, old bindings)."""
        return {saved for saved, _ in self.array_tapes.values()}

    def returned_value(self, outputs):
        """The function's value: a tuple for a tuple output; arrays copied, since the reverse sweep
        restores the elements the forward sweep overwrote."""
        values = [call("np.copy", atom) if isinstance(atom, cst.Name) and self.is_array(atom.value) else atom for atom in outputs]
        return values[0] if len(values) == 1 and not isinstance(self.analysis.returned, cst.Tuple) else cst.Tuple(
            [cst.Element(v) for v in values]
        )

    # -- blocks: (forward statements, reverse statements) ---------------------------------------------
    def block(self, statements, fresh=frozenset()):
        """Forward and reverse code of a block; the reverse is generated last statement first,
        the order it runs in, so recomputed values are known to be fresh where they are (``fresh``:
        those that still hold their value where the block's reverse starts)."""
        forward, reverse = [], []
        outer_fresh, self.fresh = self.fresh, set(fresh)
        groups = _groups(statements)
        markers = [marker_of(group[0]) for group in groups]
        for k in range(1, len(groups)):  # a loop after its setup (``i_stop = n - 1``) is from the same line
            if markers[k] is None and not isinstance(groups[k][0], cst.SimpleStatementLine):
                markers[k] = markers[k - 1]
        for group, marker in reversed(list(zip(groups, markers))):
            group_forward, group_reverse = [], []
            self.current_marker = marker or self.current_marker
            for statement in reversed(group):
                statement_forward, statement_reverse = self.statement(statement)
                statement_reverse = self.rederived_views_before(statement) + statement_reverse
                group_forward = statement_forward + group_forward
                group_reverse += statement_reverse
            if marker is not None and group_reverse:
                group_reverse[0] = group_reverse[0].with_changes(leading_lines=comment_lines(f"# adjoint of line {marker}"))
            forward = group_forward + forward
            reverse += group_reverse
        self.fresh = outer_fresh
        return forward, reverse

    def rederived_views_before(self, statement):
        """The rebound views (and their adjoint views) taken again before ``statement``'s adjoint,
        the first in their iteration's reverse to read them (see recompute.rederived_views)."""
        lines = []
        for name in self.analysis.rederive_at.get(id(statement), ()):
            view = self.analysis.rederived_views[name]
            if name not in self.fresh:  # (not already taken again for a value computed from it)
                lines.append(view.with_changes(leading_lines=[]))
                self.fresh.add(name)
            if name in self.analysis.active:
                source = operation_of(assignment_of(view)[1]).operands[0].value
                lines.append(assign(self.adjoint(name), _with_base(assignment_of(view)[1], cst.Name(self.adjoint(source)))))
        return lines

    def recompute(self, name):
        """Statements computing ``name`` again (and what it needs), unless already fresh here."""
        statement = self.analysis.recomputed.get(name)
        if statement is None or name in self.fresh:
            return []
        lines = []
        for operand in operation_of(assignment_of(statement)[1]).operand_names():
            lines += self.recompute(operand)
        self.fresh.add(name)
        return lines + [statement.with_changes(leading_lines=[])]

    def statement(self, statement):
        target_value = assignment_of(statement)
        if list_append_of(statement) is not None or (
            target_value is not None and operation_of(target_value[1]).rule == LIST_POP
        ):
            raise self.unsupported(
                "srcad cannot differentiate typed lists in reverse mode", "Keep the arrays in a 2-D array instead."
            )
        if target_value is not None:
            return self.assignment(statement, *target_value)
        write = element_write_of(statement)
        if write is not None:
            return self.element_write(statement, write)
        if isinstance(statement, cst.If):
            return self.conditional(statement)
        if isinstance(statement, cst.For):
            return self.for_loop(statement)
        if isinstance(statement, cst.While):
            return self.while_loop(statement)
        return [statement], []  # pass

    def assignment(self, statement, target, value):
        reverse = self._assignment_reverse(statement, target, value)
        self.fresh.discard(target)  # above its definition, a recomputed value is stale again
        return reverse

    def _assignment_reverse(self, statement, target, value):
        if self.is_array(target):
            return self.array_assignment(statement, target, value)
        forward = [statement]
        recorded = target in self.analysis.recorded and id(statement) not in self.analysis.unsaved
        if recorded:
            forward = [
                self.save(target).with_changes(leading_lines=statement.leading_lines),
                statement.with_changes(leading_lines=[]),
            ]
        reverse = []
        if target not in self.analysis.active:
            return forward, [self.pop(target)] if recorded else []
        operation = operation_of(value)
        target_adjoint = cst.Name(self.adjoint(target))
        contributions = []
        if operation.rule is not None:
            rule = rules.rule_for(operation.rule)
            contributions = [
                (atom.value, template)
                for atom, template in zip(operation.operands, rule.adjoints)
                if self.analysis.is_active(atom)
            ]
        if not contributions:
            reset = [] if target in self.analysis.single_use else [assign(target_adjoint, _ZERO)]
            return forward, ([self.pop(target)] if recorded else []) + reset
        uses_result = any(rules.template_uses(t, "y") for _, t in contributions)
        result = cst.Name(target)
        if uses_result and recorded:
            result = cst.Name(self.scratch_name(target, "out"))
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
            incoming = cst.Name(self.scratch_name(target, "adj_in"))
            reverse += [assign(incoming, target_adjoint), assign(target_adjoint, _ZERO)]
        if recorded:
            reverse.append(self.pop(target))
        bindings = dict(zip(rule.operands, operation.operands), y=result, y_adj=incoming)
        templates = [template for _, template in contributions] + [rule.shared or "0.0"]
        for placeholder, bound in bindings.items():
            if isinstance(bound, cst.Name) and any(rules.template_uses(t, placeholder) for t in templates):
                reverse += self.recompute(bound.value)
        for atom in operation.index:
            if isinstance(atom, cst.Name):
                reverse += self.recompute(atom.value)
        reverse += self.shared_value(target, rule, bindings)
        for name, template in contributions:
            increment = rules.instantiate(template, **bindings)
            accumulator = self.read_target(operation, name)
            reverse.append(self.contribution(accumulator, increment))
        if not reads_itself and zero_target and target not in self.analysis.single_use:
            reverse.append(assign(target_adjoint, _ZERO))
        return forward, reverse

    # -- arrays --------------------------------------------------------------------------------
    def contribution(self, accumulator, increment, subtract=False):
        """``t_adj = increment`` for a single-use temporary, else ``accumulator += increment``."""
        if isinstance(accumulator, cst.Name) and self.adjoint_owner.get(accumulator.value) in self.analysis.single_use:
            return assign(accumulator, cst.UnaryOperation(cst.Minus(), increment) if subtract else increment)
        return accumulate(accumulator, increment, subtract)

    def shared_value(self, target, rule, bindings):
        """A rule whose adjoints share one computation (a callee's adjoint, giving every argument's
        cotangent at once): the statement computing it, bound as ``shared`` for the adjoints."""
        if rule.shared is None:
            return []
        shared = cst.Name(self.scratch_name(target, "cotangents"))
        bindings["shared"] = shared
        return [assign(shared, rules.instantiate(rule.shared, **bindings))]

    def unsupported(self, why, fix):
        lineno = int(self.current_marker.split(":")[0]) if self.current_marker else 0
        return UnsupportedHere(why, fix, lineno)

    def array_assignment(self, statement, target, value):
        """``b = np.zeros(n)``, ``b = a * c``, ``b = a[1:]``, ``b = a``...: a binding of an array variable."""
        if in_place_update_of(statement) is not None:
            return self.in_place_update(statement, target, value)
        operation = operation_of(value)
        if is_gather(operation, self.analysis.types) and target in self.analysis.active:
            self.check_index_array(operation.index)
        self.current_statement = statement
        self.check_ravel(target, value)
        if target in self.analysis.rebound_views:
            return self.rebound_view(statement, target, value, operation)
        if target in self.analysis.rebound:
            return self.rebound_assignment(statement, target, value, operation)
        forward = [statement]
        if target not in self.analysis.active:
            return forward, []
        adjoint = cst.Name(self.adjoint(target))
        if self.shares_memory(operation) and operation.operands[0].value not in self.analysis.rebound:
            # b = a, b = a[1:], b = a.T, b = A[i]: one memory, two names; the adjoints share theirs alike
            source = operation.operands[0].value
            return forward + [assign(adjoint, _with_base(value, cst.Name(self.adjoint(source))))], []
        if target not in self.analysis.single_use:  # else its one contribution will create it
            forward.append(assign(adjoint, cst.parse_expression(f"np.zeros_like({target})")))
        return forward, self.array_contributions(target, value, operation, cst.Name(target), adjoint)

    def rebound_assignment(self, statement, target, value, operation):
        """A binding of an array variable bound again later (or in a loop): the forward sweep saves
        the array it replaces (a reference: rebinding changes no values); the reverse sweep takes
        the adjoint of this binding, restores the old one and starts its adjoint from zero."""
        recorded = target in self.analysis.recorded
        saved = self.array_tape(target) if recorded else None
        forward = ([cst.parse_statement(f"{saved}.append({target})")] if recorded else []) + [statement]
        restore = [cst.parse_statement(f"{target} = {saved}.pop()")] if recorded else []
        if target not in self.analysis.active:
            return forward, restore
        zeros = f"np.zeros_like({target})"
        if target in self.analysis.shapes_kept:  # only the shape of the binding it replaces is needed
            extents = [self.scratch_name(target, f"extent_{axis}") for axis in range(self.rank(cst.Name(target)))]
            forward = [self.push(f"{target}.shape[{axis}]", as_float=False) for axis in range(len(extents))] + forward
            restore = [self.pop(extent, as_float=False) for extent in reversed(extents)]
            zeros = f"np.zeros(({', '.join(extents)},), dtype=np.{self.analysis.types[target].dtype})"
        adjoint = cst.Name(self.adjoint(target))
        incoming = cst.Name(self.scratch_name(target, "adj_in"))
        result = cst.Name(self.scratch_name(target, "out"))
        reverse = [assign(incoming, adjoint)]
        rule = rules.rule_for(operation.rule, self.ranks(operation), array_result=True)
        if rule is not None and any(rules.template_uses(t, "y") for t in rule.adjoints):
            reverse += self.recompute(target)
            reverse.append(assign(result, cst.Name(target)))  # the value this binding held
        else:
            result = cst.Name(target)  # unused
        reverse += restore
        reverse.append(assign(adjoint, cst.parse_expression(zeros)))
        return forward, reverse + self.array_contributions(target, value, operation, result, incoming)

    def check_ravel(self, target, value):
        """``b = a.ravel()`` is a view of a contiguous array and a copy of any other (in NumPy and numba
        alike, decided at run time); srcad follows it as a copy, which is right while nobody writes it."""
        if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "ravel"):
            return
        source = value.func.value.value if isinstance(value.func.value, cst.Name) else None
        if self.analysis.aliases.get(target, {target}) & self.analysis.written_arrays:
            raise self.unsupported(
                f"srcad cannot differentiate writes through '{target}' = {source}.ravel(): it is a view of "
                f"{source!r} when {source!r} is contiguous in memory and a copy when not, which only shows at run time",
                f"Write {source}.flatten() for a copy, or {source}.reshape(-1) for a view of a contiguous array.",
            )

    def rebound_view(self, statement, target, value, operation):
        """``b = a[i]`` (a view, or ``b = a``) in a loop, or again later, of an array ``a`` bound once:
        b's adjoint is the same view of a's adjoint, which holds still. The forward sweep saves both
        references before binding them; the reverse sweep takes them back (no contribution: the
        adjoint reached a's through the shared memory)."""
        if target in self.analysis.rederived_views:  # taken again where its iteration's reverse needs it
            return [statement], []
        recorded = target in self.analysis.recorded
        forward = ([cst.parse_statement(f"{self.array_tape(target)}.append({target})")] if recorded else []) + [statement]
        reverse = [cst.parse_statement(f"{target} = {self.array_tape(target)}.pop()")] if recorded else []
        if target not in self.analysis.active:
            return forward, reverse
        adjoint = self.adjoint(target)
        saved = self.array_tape(adjoint, sample=self.strided_placeholder(target))
        source_adjoint = cst.Name(self.adjoint(operation.operands[0].value))
        forward = [cst.parse_statement(f"{saved}.append({adjoint})")] + forward + [assign(adjoint, _with_base(value, source_adjoint))]
        return forward, reverse + [cst.parse_statement(f"{adjoint} = {saved}.pop()")]

    def shares_memory(self, operation):
        return shares_memory(operation, self.analysis.types)

    def check_index_array(self, index_atoms):
        """``x[idx]`` with one array of integers: NumPy's integer-array indexing along the first axis."""
        index = index_atoms[0] if len(index_atoms) == 1 else None
        index_type = self.analysis.types.get(index.value) if isinstance(index, cst.Name) else None
        if getattr(index_type, "ndim", None) == 1 and isinstance(index_type.dtype, numba_types.Integer):
            return
        if isinstance(getattr(index_type, "dtype", None), numba_types.Boolean):
            raise self.unsupported(
                "srcad differentiates indexing with a boolean mask along the first axis only (a mask of one "
                "dimension), not with a mask of several",
                "Flatten both first (x.ravel()[mask.ravel()]), or use np.where(mask, x, 0.0).",
            )
        raise self.unsupported(
            "srcad differentiates indexing with one 1-D array of integers (x[idx]), not this mix of indices, yet",
            "Index with one array of integers along the first axis, or write a loop over the elements.",
        )

    def gather_contribution(self, operation, result_adjoint):
        """``b = x[idx]``: each b[k] came from x[idx[k]]; repeated indices add up."""
        source, indices = operation.operands[0].value, operation.index[0]
        if not self.analysis.is_active(cst.Name(source)):
            return []
        accumulator = cst.Name(self.adjoint(source))
        reverse = self.recompute(indices.value)
        if self.adjoint_owner.get(accumulator.value) in self.analysis.single_use:
            return reverse + [assign(accumulator, call("scattered", cst.Name(source), indices, result_adjoint))]
        return reverse + [cst.SimpleStatementLine([cst.Expr(call("scatter_add", accumulator, indices, result_adjoint))])]

    def array_contributions(self, target, value, operation, result, result_adjoint):
        """The reverse sweep's contributions of ``target = value`` (an array result) to its operands'
        adjoints, with ``result`` holding the value and ``result_adjoint`` its adjoint."""
        if operation.rule is None:
            return []
        if operation.rule in rules.ASSEMBLED_RULES:
            return self.assembled(value, result_adjoint)
        if is_gather(operation, self.analysis.types):
            return self.gather_contribution(operation, result_adjoint)
        if self.shares_memory(operation):  # a view of a rebound array: its adjoint is added back
            return self.view_contribution(target, value, operation, result_adjoint)
        rule = rules.rule_for(operation.rule, self.ranks(operation), array_result=True)
        extra = {}
        if operation.rule in rules.AXIS_REDUCTION_RULES:  # np.sum(x, axis=k) with an array result
            axis = next(a.value for a in value.args if a.keyword is not None and a.keyword.value == "axis")
            extra["axis"] = cst.Integer(str(_number_of(axis) % self.rank(operation.operands[0])))
        if rule is None:
            raise self.unsupported(
                f"srcad cannot differentiate {operation.rule} with an array result yet",
                "Write it as a loop over the elements.",
            )
        bindings = dict(zip(rule.operands, operation.operands), y=result, y_adj=result_adjoint, **extra)
        reverse = []
        for position, (atom, template) in enumerate(zip(operation.operands, rule.adjoints)):
            if not self.analysis.is_active(atom):
                continue
            for placeholder, bound in bindings.items():
                if isinstance(bound, cst.Name) and rule.adjoint_reads(position, placeholder):
                    reverse += self.recompute(bound.value)
            if rule.shared is not None and "shared" not in bindings:
                reverse += self.shared_value(target, rule, bindings)
            increment = rules.instantiate(template, **bindings)
            if not self.is_array(atom.value):  # a float spread over the array: its adjoint sums
                increment = cst.Call(cst.parse_expression("np.sum"), [cst.Arg(increment)])
            elif template != "0.0" and operation.rule not in rules.NOT_BROADCAST and self.may_broadcast(
                atom.value, operation.operands, target
            ):  # ("0.0": an operand giving a shape or a position only)
                increment = call("unbroadcast", increment, self.shaped_like(atom))
            reverse.append(self.contribution(cst.Name(self.adjoint(atom.value)), increment))
        return reverse

    def view_contribution(self, target, value, operation, result_adjoint):
        """``b = a[1:]`` (or a.T, a.reshape(...), b = a) where a or b is bound again: b's adjoint
        is added into the part of a's it came from. Only correct while nobody writes through b."""
        source = operation.operands[0].value
        if id(self.current_statement) not in self.analysis.read_only_views:
            raise self.unsupported(*self.view_refusal(target, value, source))
        if not self.analysis.is_active(cst.Name(source)):
            return []
        source_adjoint = cst.Name(self.adjoint(source))
        if isinstance(value, cst.Subscript):
            indices = [line for name in _names(operation.index) for line in self.recompute(name)]
            return indices + [accumulate(_with_base(value, source_adjoint), result_adjoint)]
        if isinstance(value, cst.Name):
            return [accumulate(source_adjoint, result_adjoint)]
        if isinstance(value, cst.Attribute) or value.func.attr.value == "transpose":  # a.T
            return [accumulate(source_adjoint, cst.Attribute(result_adjoint, cst.Name("T")))]
        return [accumulate(source_adjoint, cst.parse_expression(f"{result_adjoint.value}.reshape({source_adjoint.value}.shape)"))]

    def view_refusal(self, target, value, source):
        """Why ``target = value`` (one memory, two names, one of them bound again or in a loop) is
        refused, and the fix that fits how it was written."""
        members = self.analysis.aliases.get(target, {target, source})
        written = sorted(members & (self.analysis.written_arrays - self.analysis.privately_written)) or [source]
        why = (f"srcad cannot differentiate '{target}' = {spelled(value)} yet: {target!r} shares its memory with "
               f"{source!r}, which is bound again (or in a loop), and {' and '.join(map(repr, written))} "
               f"{'is' if len(written) == 1 else 'are'} written while that memory is still read")
        if isinstance(value, cst.Name):  # cur = nxt: the rotation of a time-stepping scheme
            return why, (f"Take a copy ({target} = {source}.copy()), or bind {source!r} to new memory in each step "
                         f"({source} = np.empty_like(...)) before writing into it, and write no array another name "
                         f"still reads.")
        return why, f"Take a copy ({target} = {spelled(value)}.copy()), or write into {source!r} directly."

    def in_place_update(self, statement, target, value):
        """``x += t`` on an array: x's adjoint flows through and t's collects it; ``x *= t``,
        ``x /= t``, ``x **= t``: the old values of x are saved, and x's adjoint is scaled in place
        (views of x share its adjoint)."""
        symbol = rules.operator_symbol(value.operator)
        forward, restore = [statement], []
        if target in self.analysis.recorded and id(statement) not in self.analysis.first_writes:
            # the values it overwrites are read later: save them
            forward, restore = self.save_values(target, cst.Name(target), statement)
        if target not in self.analysis.active:
            return forward, restore
        operand = value.right
        adjoint = cst.Name(self.adjoint(target))
        if symbol in ("+", "-"):
            if not self.analysis.is_active(operand):
                return forward, restore
            increment = self.spread_back(adjoint, operand, [value.left, operand], target)
            return forward, restore + [self.contribution(cst.Name(self.adjoint(operand.value)), increment, symbol == "-")]
        rule = rules.rule_for(symbol, array_result=True)
        if rule is None:
            raise self.unsupported(f"srcad cannot differentiate the in-place '{symbol}=' of an array", "Write x = x ... t.")
        reverse = []
        result = cst.Name(target)
        if any(rules.template_uses(t, "y") for t in rule.adjoints):
            result = cst.Name(self.scratch_name(target, "out"))
            reverse.append(cst.parse_statement(f"{result.value} = {target}.copy()"))
        reverse += restore  # x holds its old values again
        bindings = {"a": cst.Name(target), "b": operand, "y": result, "y_adj": adjoint}
        if self.analysis.is_active(operand):
            for name in _names([operand]):
                reverse += self.recompute(name)
            increment = self.spread_back(rules.instantiate(rule.adjoints[1], **bindings), operand, [value.left, operand], target)
            reverse.append(self.contribution(cst.Name(self.adjoint(operand.value)), increment))
        scaled = rules.instantiate(rule.adjoints[0], **bindings)
        reverse.append(assign(cst.Subscript(adjoint, [cst.SubscriptElement(cst.Index(cst.Ellipsis()))]), scaled))
        return forward, reverse

    def shaped_like(self, atom):
        """What has ``atom``'s shape where its adjoint is added to: the array itself, or its adjoint
        where the reverse sweep does not restore the binding (``analysis.shapes_kept``)."""
        if atom.value in self.analysis.shapes_kept:
            return cst.Name(self.adjoint(atom.value))
        return atom

    def spread_back(self, increment, operand, operands, result):
        """``increment`` (shaped like the result) as a contribution to ``operand``'s adjoint: summed
        for a float, summed over broadcast axes for an array."""
        if not self.is_array(operand.value):
            return call("np.sum", increment)
        if self.may_broadcast(operand.value, operands, result):
            return call("unbroadcast", increment, self.shaped_like(operand))
        return increment

    def assembled(self, value, adjoint):
        """Each active piece of np.array([...]), np.stack or np.concatenate collects its part of the adjoint."""
        reverse = []
        callee = spelled(value.func)
        template = rules.ASSEMBLED_RULES[callee]
        axis = next((_number_of(a.value) for a in value.args[1:] if a.keyword is None or a.keyword.value == "axis"), 0)
        pieces = assembled_pieces(value)
        rank = max(self.rank(atom) for atom, _ in pieces) + (callee == "np.stack")
        before = ":, " * (axis % rank if rank else 0)  # the part is taken along `axis`
        for atom, position in pieces:
            if not self.analysis.is_active(atom):
                continue
            if callee == "np.concatenate":  # (the pieces before it, computed again if they are)
                reverse += [line for a in position + [atom] for line in self.recompute(a.value)]
                length = f"shape[{axis % rank}]"
                start = " + ".join(f"{self.shaped_like(a).value}.{length}" for a in position) or "0"
                extent = f"{self.shaped_like(atom).value}.{length}"
                part = before + f"{start}:{start if start != '0' else ''}{' + ' if start != '0' else ''}{extent}"
            else:
                part = before + ", ".join(str(k) for k in position)
            increment = cst.parse_expression(template.replace("y_adj", adjoint.value).replace("part", part))
            reverse.append(self.contribution(cst.Name(self.adjoint(atom.value)), increment))
        return reverse

    def rank(self, atom):
        numba_type = self.analysis.types.get(atom.value) if isinstance(atom, cst.Name) else None
        return getattr(numba_type, "ndim", 0)

    def ranks(self, operation):
        return tuple(self.rank(a) for a in operation.operands)

    def may_broadcast(self, name, operands, result):
        """Whether NumPy may have stretched the array ``name`` to the result's shape: it has fewer
        dimensions than the result, or another array operand (shapes are only known at run time)."""
        arrays = [a.value for a in operands if isinstance(a, cst.Name) and self.is_array(a.value)]
        return self.analysis.types[name].ndim < self.analysis.types[result].ndim or len(set(arrays)) > 1

    def element_write(self, statement, write):
        """``b[i] = v`` (v_adj += b_adj[i]; b_adj[i] = 0), ``b[i] += v`` and ``b[i] -= v``; also for a
        region ``b[1:, j]``, where v may be a float or an array broadcast over it."""
        forward, restore = [statement], []
        scatter = write.region is None and any(self.is_array(name) for name in write.index_names())
        if scatter and write.array in self.analysis.active:
            self.check_index_array(write.index)
        if write.region is None and len(write.index) < self.rank(cst.Name(write.array)):
            write = replace(write, region=_element(write.array, write.index))  # y[0] = v on a matrix: a row
        written = write.region if write.region is not None else _element(write.array, write.index)
        whole = _is_whole(written)
        if whole:
            written = cst.Name(write.array)
        if write.array in self.analysis.recorded and id(statement) not in self.analysis.first_writes:
            # the values it overwrites are read later: save them
            forward, restore = self.save_values(write.array, written, statement, one_element=write.region is None and not scatter)
        if write.array not in self.analysis.active and not restore:
            return forward, []
        # the restore may index with recomputed values too
        reverse = [line for name in write.index_names() for line in self.recompute(name)] + restore
        if write.array not in self.analysis.active:
            return forward, reverse
        adjoint = cst.Name(self.adjoint(write.array))
        element = _with_base(write.region, adjoint) if write.region is not None else _element(adjoint.value, write.index)
        read = adjoint if whole else element
        if self.analysis.is_active(write.value):
            increment = read
            if scatter:  # b[idx] = v: where idx repeats an index, the last write is the one b keeps
                increment = call("at_last_writes", adjoint, write.index[0])
                if not self.is_array(write.value.value):
                    increment = call("np.sum", increment)
                else:  # v may have been stretched over the selected elements
                    increment = call("unbroadcast", increment, self.shaped_like(write.value))
            elif write.region is not None:  # v spread over the region: its adjoint sums
                increment = call("unbroadcast", read, self.shaped_like(write.value)) if self.is_array(
                    write.value.value) else call("np.sum", read)
            reverse.append(self.contribution(cst.Name(self.adjoint(write.value.value)), increment, write.kind == "-="))
        if write.kind == "=":
            reverse.append(assign(element, _ZERO))
        return forward, reverse

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
        reverse = [self.pop(self.took_branch, as_float=False), _branches(self.took_branch, body_reverse, else_reverse)]
        if not else_reverse and not else_forward:  # a candidate for keeping only the last taken iteration
            self.single_branches[id(reverse[1])] = forward[1]
        return forward + [self.push(decision)], reverse

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
        adjoints = set(self.adjoint_owner)
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
        pushes = [s for s in nodes_in(cst.Module(body=list(body_forward))) if push_kind(s, self.tape) is not None]
        saved_lists = self.saved_lists()
        if (len(pushes) != 1 or pushes[0] not in body_forward or index in bound_names(statement.body)
                or branch not in body_forward or variables_in(cst.Module(body=list(body_forward))) & saved_lists):
            return None
        last = self.names.fresh(f"{index}_last_taken")
        counting = spelled(cst.parse_statement(f"{counter} += 1"))
        body = [s for s in body_forward if s is not pushes[0] and spelled(s) != counting]
        body[body.index(branch)] = branch.with_changes(
            body=branch.body.with_changes(body=list(branch.body.body) + [assign(last, cst.Name(index))]))
        forward = [assign(last, cst.parse_expression("-1")),
                   statement.with_changes(body=cst.IndentedBlock(body), leading_lines=[])]
        reverse = [cst.parse_statement(f"if {last} >= 0:\n    pass").with_changes(
            body=cst.IndentedBlock([assign(index, cst.Name(last))] + list(taken) + list(rest)))]
        if self.loop_depth:  # one index per run of the loop
            forward.append(self.push(last))
            reverse.insert(0, self.pop(last, as_float=False))
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
        own_adjoints = {self.adjoint_names[name] for name in own if name in self.adjoint_names}
        adjoints = set(self.adjoint_owner)
        code = cst.Module(body=list(rest))
        saved_lists = self.saved_lists()
        if not passed_to <= own_adjoints or variables_in(code) & (self.tape.names() | saved_lists | zeroed):
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
        rather than keeping it: no ``break``, and bounds of variables that hold one value throughout."""
        if any(isinstance(node, cst.Break) for node in nodes_in(statement.body)):
            return None
        if not (isinstance(statement.iter, cst.Call) and spelled(statement.iter.func) == "range"):
            return None
        bounds = variables_in(cst.Tuple([cst.Element(a.value) for a in statement.iter.args]))
        if not bounds <= self.analysis.invariant:
            return None
        self.trip_bounds |= bounds
        return f"len({spelled(statement.iter)})"

    def for_loop(self, statement):
        if id(statement) in self.analysis.per_term_loops:
            return self.per_term_loop(statement, self.analysis.per_term_loops[id(statement)])
        index = statement.target.value
        # one counter per nesting depth: nested loops may share an index name (`for _ in ...`)
        counter = self.scratch_name(index, "iterations" if not self.loop_depth else f"iterations_{self.loop_depth}")
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
                forward = [self.save(index)] + forward
                reverse = reverse + [self.pop(index)]
            forward[0] = forward[0].with_changes(leading_lines=statement.leading_lines)
            return forward, reverse
        if not body_reverse:
            if not recorded:
                return [statement], []
            return [self.save(index).with_changes(leading_lines=statement.leading_lines), statement.with_changes(leading_lines=[])], [self.pop(index)]
        bounds = [a.value for a in statement.iter.args]
        start = bounds[0] if len(bounds) >= 2 else cst.Integer("0")
        step = bounds[2] if len(bounds) == 3 else cst.Integer("1")
        saved = [(b, self.scratch_name(index, role)) for b, role in ((start, "start"), (step, "step"))
                 if not _is_integer(b) and trips is None]  # fmt: skip
        forward = [self.save(index)] if recorded else []
        forward += [assign(counter, cst.Integer("0"))] if trips is None else []
        forward += [statement.with_changes(body=cst.IndentedBlock(body_forward), leading_lines=[])]
        forward += [self.push(spelled(b)) for b, _ in saved] + ([self.push(counter)] if trips is None else [])
        forward[0] = forward[0].with_changes(leading_lines=statement.leading_lines)
        if trips is None:
            reverse = [self.pop(counter, as_float=False)]
        else:  # the same bounds give the same count: nothing kept
            reverse = [assign(counter, cst.parse_expression(trips))]
        reverse += [self.pop(name, as_float=False) for _, name in reversed(saved)]
        restored = {id(b): cst.Name(n) for b, n in saved}
        start, step = restored.get(id(start), start), restored.get(id(step), step)
        if _is_literal(start, "0") and _is_literal(step, "1"):
            loop = cst.parse_statement(f"for {index} in range({counter} - 1, -1, -1):\n    pass").with_changes(
                body=cst.IndentedBlock(body_reverse)
            )
        else:
            iteration = self.scratch_name(index, "iteration")
            position = cst.Name(iteration) if _is_literal(step, "1") else cst.BinaryOperation(
                cst.Name(iteration), cst.Multiply(), step)
            if not _is_literal(start, "0"):
                position = cst.BinaryOperation(start, cst.Add(), position)
            loop = cst.parse_statement(f"for {iteration} in range({counter} - 1, -1, -1):\n    pass").with_changes(
                body=cst.IndentedBlock([assign(index, position)] + body_reverse)
            )
        reverse.append(loop)
        if recorded:
            reverse.append(self.pop(index))
        return forward, reverse

    def per_term_loop(self, statement, accumulator):
        """Forward and reverse code of a loop adding up independent terms (``independent_terms``). Each
        iteration's adjoint runs as the iteration ends, with the accumulator's adjoint taken as 1,
        adding into adjoints of its own (``w_adj_per_total``) for what it reads from before the loop;
        where the loop's reverse would run, those are added in, times the accumulator's adjoint."""
        index = statement.target.value
        touched_later = set(self.adjoint_owner.values())  # by the code after the loop, generated first
        outer_indices, self.reversed_indices = self.reversed_indices, self.reversed_indices + [index]
        # as if the body ran once; values it computes once, outside its inner loops and branches, are
        # still there when its adjoint runs
        assigned = Counter(t[0] for t in (assignment_of(s) for s, _ in walk(statement.body.body)) if t is not None)
        assigned.update(n.target.value for n in nodes_in(statement.body) if isinstance(n, cst.For))
        held = {t[0] for t in map(assignment_of, statement.body.body) if t is not None and assigned[t[0]] == 1}
        body_forward, body_reverse = self.block(list(statement.body.body), held)
        self.reversed_indices = outer_indices
        recorded = index in self.analysis.recorded and id(statement) not in self.analysis.unsaved
        forward, reverse = ([self.save(index)], [self.pop(index)]) if recorded else ([], [])
        if not body_reverse:
            return forward + [statement], reverse
        seed = self.adjoint(accumulator)
        if seed in bound_names(cst.Module(body=body_reverse)):
            raise AssertionError(f"srcad: the adjoint of the accumulator {accumulator!r} changes inside its loop")
        bound = bound_names(statement)
        renamed, local_scalars, scaled_in_place = {seed: cst.Float("1.0")}, [], []
        outputs = {atom.value for atom in self.analysis.outputs if isinstance(atom, cst.Name)}
        for name in sorted(variables_in(cst.Module(body=body_forward + body_reverse)) & set(self.adjoint_owner)):
            owner = self.adjoint_owner[name]
            if owner in bound:  # zero at the start of each iteration's adjoint, as the previous one left it
                if not self.is_array(owner) and owner not in self.analysis.single_use:
                    local_scalars.append(name)
            elif self.is_array(owner) and owner in self.parameters and owner not in self.analysis.rebound and (
                    self.analysis.aliases.get(owner, {owner}) == {owner}) and not ({owner} & (touched_later | outputs)):
                # nothing adds into this adjoint before the loop's reverse would: it can hold the loop's
                # per-unit sums itself, then be scaled in place (an argument's, never bound again: the
                # only adjoints made before the forward sweep and not made again in the reverse one)
                scaled_in_place.append(name)
            elif owner != accumulator:
                renamed[name] = cst.Name(self.names.fresh(f"{name}_per_{accumulator}"))
        per_unit = {name: unit for name, unit in renamed.items() if name != seed}
        self.per_term_arrays += [unit.value for name, unit in per_unit.items() if self.is_array(self.adjoint_owner[name])]
        starts = [assign(unit, call("np.zeros_like", cst.Name(self.adjoint_owner[name])) if self.is_array(
            self.adjoint_owner[name]) else _ZERO) for name, unit in per_unit.items()]
        starts += [assign(name, _ZERO) for name in local_scalars]
        # arrays bound again in each iteration: their adjoint starts as zeros of this iteration's binding
        rebound = sorted((self.analysis.rebound - self.analysis.rebound_views) & self.analysis.active & bound)
        starts_of_adjoint = [assign(self.adjoint(n), call("np.zeros_like", cst.Name(n))) for n in rebound]
        body = [renamed_in(s, renamed) for s in body_forward + starts_of_adjoint + body_reverse]
        loop = statement.with_changes(body=cst.IndentedBlock(body), leading_lines=[])
        loop = assign_first_contributions(starts + [loop], set(local_scalars))[-1]
        self.per_term_reverse += list(loop.body.body[len(body_forward) + len(starts_of_adjoint):])
        forward += starts + [loop]
        forward[0] = forward[0].with_changes(leading_lines=list(statement.leading_lines) + comment_lines(
            f"#   each iteration's adjoint runs as it ends, with {accumulator}'s adjoint taken as 1"))
        scaled = [accumulate(cst.Name(name), cst.BinaryOperation(cst.Name(seed), cst.Multiply(), unit))
                  for name, unit in per_unit.items()]
        scaled += [cst.SimpleStatementLine([cst.AugAssign(cst.Name(name), cst.MultiplyAssign(), cst.Name(seed))])
                   for name in scaled_in_place]
        return forward, scaled + reverse

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
            self.push(counter),
        ]
        loop = cst.parse_statement(f"for _ in range({counter}):\n    pass").with_changes(body=cst.IndentedBlock(body_reverse))
        return forward, [self.pop(counter, as_float=False), loop]

    # -- the tape: what the forward sweep saves and the reverse sweep gets back ----------------
    def push(self, code, as_float=False):
        """Save the value of ``code`` (a variable, or an integer expression) on the tape."""
        return self.tape.push(code, as_float)

    def final_argument_values(self):
        """The reverse sweep puts back the old values of arrays it saved; for argument arrays, the
        caller must still see what the function did to them: a copy of their contents after the
        forward sweep is written back at the end. (The argument is held under its own name here,
        since the function may bind the parameter's name to other arrays.)"""
        entry, after_forward, before_return = [], [], []
        for name in self.parameters:
            shared = self.analysis.aliases.get(name, {name})
            if not self.is_array(name) or not shared & set(self.saved_arrays):
                continue
            argument, final = self.names.fresh(f"{name}_argument"), self.names.fresh(f"{name}_final")
            entry.append(assign(argument, cst.Name(name)))
            after_forward.append(cst.parse_statement(f"{final} = {argument}.copy()"))
            before_return.append(cst.parse_statement(f"{argument}[...] = {final}"))
        return entry, after_forward, before_return

    def placeholder_value(self, name):
        """A value for a variable before its first assignment: 0.0, 0, or an empty array of its type."""
        numba_type = self.analysis.types.get(name)
        if self.is_array(name) and numba_type.layout == "C":
            return cst.parse_expression(f"np.empty({(0,) * numba_type.ndim}, dtype=np.{numba_type.dtype})")
        if self.is_array(name):  # the variable will hold views (numba's layout "A")
            return self.strided_placeholder(name)
        return cst.Float("0.0") if self.is_float(name) else cst.Integer("0")

    def strided_placeholder(self, name):
        """An empty array of the rank and dtype of ``name``, of numba's layout "A" (any strides)."""
        numba_type = self.analysis.types[name]
        shape = (0,) * numba_type.ndim + (1,)
        return cst.parse_expression(f"np.empty({shape}, dtype=np.{numba_type.dtype})[..., 0]")

    def array_tape(self, name, statement=None, sample=None):
        """The list saving the bindings of the array variable ``name`` (items like ``sample``, by
        default like ``name``), or with ``statement``, the values that statement overwrites (a list
        per write: regions differ in rank)."""
        key = name if statement is None else (name, id(statement))
        if key not in self.array_tapes:
            # bindings keep the variable's type; saved values are flat copies (one item type per list)
            saved = self.names.fresh(f"{name}_saved" if statement is None else f"{name}_values")
            if statement is not None:
                sample = cst.parse_expression(f"np.empty(0, dtype=np.{self.analysis.types[name].dtype})")
            self.array_tapes[key] = (saved, sample if sample is not None else self.placeholder_value(name))
        return self.array_tapes[key][0]

    def save(self, name):
        if self.is_array(name):
            raise self.unsupported(
                f"srcad cannot differentiate this yet: the array '{name}' is changed after a use whose "
                "derivative needs its values",
                "Work on a copy (b = a.copy()) for the later changes, or write the use as a loop.",
            )
        return self.push(name, as_float=self.is_float(name))

    def pop(self, name, as_float=None):
        return self.tape.pop(name, self.is_float(name) if as_float is None else as_float)

    def save_values(self, array, written, statement, one_element=False):
        """Forward and reverse code around ``statement``, which overwrites ``written`` (an element of
        ``array``, a region, or all of it) while the reverse sweep still needs the old values."""
        self.saved_arrays.add(array)
        if one_element:  # a float
            code = spelled(written)
            return [self.push(code, as_float=True), statement], [self.pop(code, as_float=True)]
        saved = self.array_tape(array, statement)
        code = spelled(written)
        whole = code if isinstance(written, cst.Subscript) else f"{code}[...]"
        return (
            [cst.parse_statement(f"{saved}.append({code}.copy().reshape(-1))"), statement],
            [cst.parse_statement(f"{whole} = {saved}.pop().reshape({code}.shape)")],
        )


def _passes_adjoint_through(operation, rule, target):
    """Whether ``target`` is read once, as an operand whose adjoint is exactly ``y_adj``."""
    positions = [i for i, atom in enumerate(operation.operands) if isinstance(atom, cst.Name) and atom.value == target]
    return len(positions) == 1 and rule.adjoints[positions[0]] == "y_adj"


def _with_comment(statements, text):
    if statements:
        first = statements[0]
        statements = [first.with_changes(leading_lines=comment_lines(text) + list(first.leading_lines))] + statements[1:]
    return statements


def reverse_mode(definition, parameters, wrt, analysis, names, with_value=True, external_adjoints=False):
    """The adjoint function of a normal-form, single-exit ``definition``, returning ``(value, *adjoints)``
    (with 0.0 for the value unless ``with_value``; see ``ReverseMode.function`` for ``external_adjoints``)."""
    seeds = [names.fresh("output_adj") for _ in analysis.outputs]  # one per output (per part of a tuple)
    return ReverseMode(definition, parameters, wrt, analysis, names).function(seeds, with_value, external_adjoints)
