"""Pass 5: reverse mode. A normal-form function becomes its adjoint:

    def f_adjoint(<f's parameters>, <output>_adj):
        <forward sweep: f's statements, saving overwritten values and control flow on the tape>
        <reverse sweep: each statement's adjoint, last statement first>
        return value, <adjoint of each differentiated parameter>

The tape is two stacks (floats, integers) behind the small runtime interface of
``srcad.kernels.runtime``; branch decisions and loop trip counts go on the
integer stack. Each user line's adjoint block carries a comment naming it.
"""

import libcst as cst
from numba.core import types as numba_types

from srcad.transforms.ir import accumulate, assign, call, marker_of
from srcad.transforms import rules
from srcad.transforms.statements import LIST_POP, assignment_of, element_write_of, in_place_update_of, is_array_type, is_float64_vector_type, list_append_of, operation_of, walk
from srcad.transforms.first_contributions import assign_first_contributions
from srcad.transforms.loop_order import loops_counting_up
from srcad.transforms.carried_adjoints import carried_accumulations
from srcad.transforms.reserve import Tape, with_reserves
from srcad.transforms.reverse_arrays import ArrayAdjoints
from srcad.transforms.reverse_control import ControlFlowAdjoints
from srcad.transforms.reverse_tapes import TapeOperations
from srcad.transforms.precedence import spelled

_ZERO = cst.Float("0.0")


def _comment(text):
    return [cst.EmptyLine(comment=cst.Comment(text))]


def _groups(statements):
    """Split a block at user-line markers: each group came from one user statement."""
    groups = []
    for statement in statements:
        compound = not isinstance(statement, cst.SimpleStatementLine)
        if marker_of(statement) is not None or not groups or compound:
            groups.append([])
        groups[-1].append(statement)
    return groups


class ReverseMode(ArrayAdjoints, ControlFlowAdjoints, TapeOperations):
    def __init__(self, definition, parameters, wrt, analysis, names):
        self.definition = definition
        self.parameters = parameters
        self.wrt = wrt
        self.analysis = analysis
        self.names = names
        self.adjoint_names = {}
        self.adjoint_owner = {}  # x_adj -> x
        self.scratch = {}
        self.floats = names.fresh("tape_floats")
        self.floats_top = names.fresh("floats_top")
        self.ints = names.fresh("tape_ints")
        self.ints_top = names.fresh("ints_top")
        self.tape = Tape(self.floats, self.floats_top, self.ints, self.ints_top)
        self.branch_names = []  # one per nesting depth: a decision is pushed after its branch ran
        self.took_branch = names.fresh("took_branch")
        self.branch_depth = 0
        # decisions of ifs inside ifs: defined before the forward sweep, for numba, which prunes branches
        # it can decide (`m = 0; if m > 2:`) and then cannot type a decision only assigned in them
        self.nested_decisions = []
        self.fresh = set()  # recomputed values valid at the current point of the reverse sweep
        self.loop_depth = 0
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
        inits = [assign(name, self.placeholder_value(name)) for name in sorted(self.analysis.maybe_undefined)]
        inits += [assign(name, cst.Name("False")) for name in self.nested_decisions]
        views = sorted(self.analysis.rebound_views & self.analysis.active)
        inits += [assign(self.adjoint(name), self.strided_placeholder(name)) for name in views]
        code = spelled(cst.IndentedBlock(forward + reverse))
        tape = []  # the stacks this adjoint uses (a kernel's thread should allocate nothing it needs not)
        if self.floats in code:
            tape += [cst.parse_statement(f"{self.floats} = new_float_stack()"), cst.parse_statement(f"{self.floats_top} = 0")]
        if self.ints in code:
            tape += [cst.parse_statement(f"{self.ints} = new_int_stack()"), cst.parse_statement(f"{self.ints_top} = 0")]
        tape += [assign(saved, call("empty_list_like", sample)) for saved, sample in self.array_tapes.values()]
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
            [cst.Return(cst.Tuple([cst.Element(r) for r in results]))], leading_lines=_comment("# results")
        )
        float_adjoints = {adjoint for adjoint, owner in self.adjoint_owner.items() if not self.is_array(owner)}
        reverse = assign_first_contributions(adjoint_inits + seed + reverse, float_adjoints)
        adjoint_inits, reverse = reverse[: len(adjoint_inits + seed)], reverse[len(adjoint_inits + seed) :]
        seed = []
        entry, after_forward, before_return = self.final_argument_values()
        statements = (
            _with_comment(inits + tape + array_adjoints + entry, "# tape: values the reverse sweep needs back")
            + _with_comment(forward, "# forward sweep")
            + ([assign(value, self.returned_value(outputs))] if with_value else [])
            + after_forward
            + _with_comment(adjoint_inits + seed, "# reverse sweep")
            + reverse
            + _with_comment(before_return, "# the caller's arrays as the forward sweep left them")
            + [final]
        )
        statements = loops_counting_up(statements, reverse, self.memory_groups(), self.tape_names())
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
        return groups

    def tape_names(self):
        return {self.floats, self.floats_top, self.ints, self.ints_top}

    def returned_value(self, outputs):
        """The function's value: a tuple for a tuple output; arrays copied, since the reverse sweep
        restores the elements the forward sweep overwrote."""
        values = [call("np.copy", atom) if isinstance(atom, cst.Name) and self.is_array(atom.value) else atom for atom in outputs]
        return values[0] if len(values) == 1 and not isinstance(self.analysis.returned, cst.Tuple) else cst.Tuple(
            [cst.Element(v) for v in values]
        )

    # -- blocks: (forward statements, reverse statements) ---------------------------------------------
    def block(self, statements):
        """Forward and reverse code of a block; the reverse is generated last statement first,
        the order it runs in, so recomputed values are known to be fresh where they are."""
        forward, reverse = [], []
        outer_fresh, self.fresh = self.fresh, set()
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
                group_forward = statement_forward + group_forward
                group_reverse += statement_reverse
            if marker is not None and group_reverse:
                group_reverse[0] = group_reverse[0].with_changes(leading_lines=_comment(f"# adjoint of line {marker}"))
            forward = group_forward + forward
            reverse += group_reverse
        self.fresh = outer_fresh
        return forward, reverse

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
        recorded = target in self.analysis.recorded
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
            rule = rules.RULES[operation.rule]
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


def _passes_adjoint_through(operation, rule, target):
    """Whether ``target`` is read once, as an operand whose adjoint is exactly ``y_adj``."""
    positions = [i for i, atom in enumerate(operation.operands) if isinstance(atom, cst.Name) and atom.value == target]
    return len(positions) == 1 and rule.adjoints[positions[0]] == "y_adj"


def _with_comment(statements, text):
    if statements:
        first = statements[0]
        statements = [first.with_changes(leading_lines=_comment(text) + list(first.leading_lines))] + statements[1:]
    return statements


def reverse_mode(definition, parameters, wrt, analysis, names, with_value=True, external_adjoints=False):
    """The adjoint function of a normal-form, single-exit ``definition``, returning ``(value, *adjoints)``
    (with 0.0 for the value unless ``with_value``; see ``ReverseMode.function`` for ``external_adjoints``)."""
    seeds = [names.fresh("output_adj") for _ in analysis.outputs]  # one per output (per part of a tuple)
    return ReverseMode(definition, parameters, wrt, analysis, names).function(seeds, with_value, external_adjoints)
