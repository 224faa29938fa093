"""Pass 5b: reserve tape capacity ahead of the pushes of a forward sweep.

Pushes never grow the tape themselves (growing reassigns the stack array, and
numba would reference-count it on every push). Instead, before each straight
run of code this pass reserves room for the pushes the run can make (the
longer branch of an ``if``). A loop without inner loops reserves once for all
its iterations. A loop with inner loops does too when it has no ``break`` and
the trip counts of its inner loops can be computed before it starts (a time
loop over a fixed number of masses: the tape is sized once, not regrown and
copied as it fills); otherwise it reserves once per iteration, as does a loop
that pops in each iteration what it pushed (``reversed_inside``).
"""

from dataclasses import dataclass

import libcst as cst

from ..ir import marker_of, nodes_in, variables_in
from ..ir.names import renamed_in
from ..ir.precedence import spelled


@dataclass(frozen=True)
class Tape:
    """The two stacks of a generated adjoint, by the names its code gives them and their tops. The
    statements that push and pop are written here, beside ``push_kind`` and ``is_pop``, which read
    them back."""

    floats: str
    floats_top: str
    ints: str
    ints_top: str

    def push(self, code, as_float=False):
        """``code`` (a variable, or an integer expression) onto the float or the int stack."""
        stack, top = (self.floats, self.floats_top) if as_float else (self.ints, self.ints_top)
        return cst.parse_statement(f"{stack}[{top}] = {code}; {top} += 1")

    def pop(self, name, as_float=False):
        """The value on top of the float or the int stack, into ``name``."""
        stack, top = (self.floats, self.floats_top) if as_float else (self.ints, self.ints_top)
        return cst.parse_statement(f"{top} -= 1; {name} = {stack}[{top}]")

    def names(self):
        return {self.floats, self.floats_top, self.ints, self.ints_top}

    def creation(self, code):
        """The statements making the stacks ``code`` uses (a kernel's thread allocates none it needs not)."""
        made = []
        if self.floats in code:
            made += [cst.parse_statement(f"{self.floats} = new_float_stack()"), cst.parse_statement(f"{self.floats_top} = 0")]
        if self.ints in code:
            made += [cst.parse_statement(f"{self.ints} = new_int_stack()"), cst.parse_statement(f"{self.ints_top} = 0")]
        return made


def push_kind(statement, tape):
    """'float', 'int' or None: whether a statement is a push, and onto which stack."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return None
    small = statement.body[0]  # a push: `stack[top] = value; top += 1`
    if len(statement.body) == 2 and isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Subscript):
        stack = small.targets[0].target.value
        if isinstance(stack, cst.Name) and isinstance(statement.body[1], cst.AugAssign):
            return {tape.floats: "float", tape.ints: "int"}.get(stack.value)
    return None


def is_pop(statement, tape):
    """Whether a statement is a pop (``top -= 1; name = stack[top]``) off either stack."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 2:
        return False
    small = statement.body[0]
    return (isinstance(small, cst.AugAssign) and isinstance(small.operator, cst.SubtractAssign)
            and isinstance(small.target, cst.Name) and small.target.value in (tape.floats_top, tape.ints_top))


def reversed_inside(loop, tape):
    """Whether ``loop`` pops the tape in its own body: each iteration's adjoint runs as it ends
    (a loop adding up independent terms), so what it pushes is gone by the next iteration."""
    return any(is_pop(node, tape) for node in nodes_in(loop.body))


def _has_loop(statement):
    if isinstance(statement, (cst.For, cst.While)):
        return True
    if isinstance(statement, cst.If):
        blocks = [statement.body.body] + ([statement.orelse.body.body] if statement.orelse else [])
        return any(_has_loop(s) for block in blocks for s in block)
    return False


def pushes_in(statements, tape):
    """(float pushes, int pushes) a run of statements can make, its inner loops' aside (the
    longer branch of an ``if``)."""
    floats = ints = 0
    for statement in statements:
        kind = push_kind(statement, tape)
        floats += kind == "float"
        ints += kind == "int"
        if isinstance(statement, cst.If):
            branches = [pushes_in(statement.body.body, tape)]
            if statement.orelse is not None:
                branches.append(pushes_in(statement.orelse.body.body, tape))
            floats += max(b[0] for b in branches)
            ints += max(b[1] for b in branches)
    return floats, ints


def _reserve(tape, counts, factor=None):
    lines = []
    for count, stack, top in ((counts[0], tape.floats, tape.floats_top), (counts[1], tape.ints, tape.ints_top)):
        if count and count != "0":  # a number of pushes, or an expression counting them
            needed = f"{count}" if factor is None else _times(str(count), factor)
            lines.append(cst.parse_statement(f"{stack} = reserve({stack}, {top} + {needed})"))
    return lines


def _assignments(statements):
    """name -> how many times the statements bind it (loop targets included), nested blocks too.
    An element write ``y[i] = v`` binds neither ``y`` (its shape stays) nor ``i``."""
    counts = {}

    def bound(target):
        if isinstance(target, (cst.Tuple, cst.List)):
            return [name for element in target.elements for name in bound(element.value)]
        return [target.value] if isinstance(target, cst.Name) else []

    class Count(cst.CSTVisitor):
        def visit_AssignTarget(self, node):
            for name in bound(node.target):
                counts[name] = counts.get(name, 0) + 1

        def visit_AugAssign(self, node):
            for name in bound(node.target):
                counts[name] = counts.get(name, 0) + 1

        def visit_For(self, node):
            for name in bound(node.target):
                counts[name] = counts.get(name, 0) + 1

    for statement in statements:
        statement.visit(Count())
    return counts


_PURE = {"range", "len", "min", "max", "int", "abs"}  # calls a hoisted trip count may make


class _Unknown(Exception):
    """A trip count that cannot be computed before the loop being reserved for starts."""


def _times(count, factor):
    """``count * factor`` as source (``factor`` alone where the count is 1)."""
    return factor if count == "1" else f"{_sum([count])} * {factor}"


def _sum(parts):
    """The sum of count expressions, each bracketed where it is a sum itself (to be multiplied)."""
    return " + ".join(f"({p})" if " + " in p else p for p in parts) or "0"


def _total(statements, tape, assigned, known, top_level=False):
    """(float pushes, int pushes) of ``statements``, part of a loop's body, as expressions that
    can be evaluated before that loop starts, or _Unknown. ``assigned`` counts the assignments
    inside the loop; ``known`` maps names assigned once there, at the top level of the body, to
    their expressions in names the loop does not change (their value in the iteration at hand)."""
    known = dict(known)

    def before_loop(expression):
        replaced = {}
        for name in variables_in(expression):
            if assigned.get(name, 0) == 0:
                continue  # the same value before the loop as in it
            if name not in known:
                raise _Unknown
            replaced[name] = cst.parse_expression(known[name])  # spelled() adds the parentheses it needs

        for node in nodes_in(expression):
            if isinstance(node, cst.Call) and spelled(node.func) not in _PURE:
                raise _Unknown
            shape = isinstance(node, cst.Subscript) and isinstance(node.value, cst.Attribute)
            if isinstance(node, cst.Subscript) and not (shape and node.value.attr.value == "shape"):
                raise _Unknown  # an element read: an element write through a view could change it
        return spelled(renamed_in(expression, replaced))

    floats, ints, run = [], [], []
    for statement in statements:
        if top_level and isinstance(statement, cst.SimpleStatementLine):
            small = statement.body[0]
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                target = small.targets[0].target
                if isinstance(target, cst.Name) and assigned.get(target.value) == 1:
                    try:
                        known[target.value] = before_loop(small.value)
                    except _Unknown:
                        pass
        if not _has_loop(statement):
            run.append(statement)
        elif isinstance(statement, cst.For):
            trips = f"len({before_loop(statement.iter)})"
            inner = _total(statement.body.body, tape, assigned, known)
            floats.append(_times(inner[0], trips) if inner[0] != "0" else "0")
            ints.append(_times(inner[1], trips) if inner[1] != "0" else "0")
        elif isinstance(statement, cst.If):
            branches = [_total(statement.body.body, tape, assigned, known)]
            if statement.orelse is not None:
                branches.append(_total(statement.orelse.body.body, tape, assigned, known))
            for kind, sums in ((0, floats), (1, ints)):
                parts = [b[kind] for b in branches if b[kind] != "0"]
                if parts:
                    sums.append(parts[0] if len(parts) == 1 else f"max({', '.join(parts)})")
        else:
            raise _Unknown  # a while loop: its trips are known only as it runs
    loop_free = pushes_in(run, tape)
    floats += [str(loop_free[0])] if loop_free[0] else []
    ints += [str(loop_free[1])] if loop_free[1] else []
    return _sum([p for p in floats if p != "0"]), _sum([p for p in ints if p != "0"])


def _whole_loop_counts(loop, tape):
    """(float pushes, int pushes) of one iteration of a ``for`` loop, inner loops included, as
    expressions evaluated just before it, or None where an inner trip count is known only inside."""
    inner_loops = any(_has_loop(s) for s in loop.body.body)
    if inner_loops and any(isinstance(node, cst.Break) for node in nodes_in(loop.body)):
        # It may stop early: reserving for all its iterations at once could claim far more than
        # it uses (`for it in range(10**6): ... if converged: break`); it reserves as it goes.
        return None
    try:
        return _total(loop.body.body, tape, _assignments([loop]), {}, top_level=True)
    except _Unknown:
        return None


def with_reserves(statements, tape):
    """``statements`` with capacity reserved ahead of every push."""
    result, run = [], []

    def flush():
        if run:
            result.extend(_reserve(tape, pushes_in(run, tape)) + run)
            run.clear()

    for statement in statements:
        if not _has_loop(statement):
            run.append(statement)
            continue
        flush()
        whole = None
        if isinstance(statement, cst.For) and not reversed_inside(statement, tape):
            whole = _whole_loop_counts(statement, tape)
        if whole is not None:
            trips = f"len({spelled(statement.iter)})"
            result.extend(_reserve(tape, whole, factor=trips))
            result.append(statement)
        else:
            result.append(_with_nested_reserves(statement, tape))
    flush()
    return result


def _with_nested_reserves(statement, tape):
    body = statement.body.with_changes(body=with_reserves(statement.body.body, tape))
    if isinstance(statement, cst.If) and statement.orelse is not None:
        orelse = statement.orelse.with_changes(
            body=statement.orelse.body.with_changes(body=with_reserves(statement.orelse.body.body, tape))
        )
        return statement.with_changes(body=body, orelse=orelse)
    return statement.with_changes(body=body)


def storage_lines(forward, tape, saved_lists):
    """Comment lines saying what each iteration of each loop of the forward sweep ``forward`` keeps
    for the reverse sweep, its inner loops aside (8 bytes a float or an int; array copies appended to
    the lists ``saved_lists``): the cost of what the user wrote, where a person can see it. A loop is
    named by the user line of the ``# line N: ...`` comment its code starts under."""
    kept = []

    def visit(statements, marker):
        for statement in statements:
            marker = marker_of(statement) or marker
            if isinstance(statement, cst.If):
                visit(statement.body.body, marker)
                if statement.orelse is not None:
                    visit(statement.orelse.body.body, marker)
            elif isinstance(statement, cst.For) and reversed_inside(statement, tape):
                kept.append((marker, None, None, None))  # each iteration gives back what it kept
            elif isinstance(statement, (cst.For, cst.While)):
                body = statement.body.body
                floats, ints = pushes_in(body, tape)
                arrays = sum(1 for node in nodes_in(cst.Module(body=[s for s in body if not _has_loop(s)]))
                             if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
                             and node.func.attr.value == "append" and spelled(node.func.value) in saved_lists)
                if floats or ints or arrays:
                    kept.append((marker, floats, ints, arrays))
                visit(body, marker)

    visit(forward, None)
    if not kept:
        return ["# the tape: what the reverse sweep needs back (no loop iteration keeps anything)"]
    lines = ["# the tape: what the reverse sweep needs back; each iteration of a loop keeps"]
    for marker, floats, ints, arrays in kept:
        number, _, written = (marker or "?: ").partition(": ")
        if floats is None:
            lines.append(f"#   nothing past the iteration itself (reversed as it ends): the loop of line {number}, {written}")
            continue
        counted = [f"{count} {kind}{'s' if count > 1 else ''}" for count, kind in ((floats, "float"), (ints, "int")) if count]
        text = f"{8 * (floats + ints)} bytes ({', '.join(counted)})" if counted else ""
        if arrays:
            text += (" and " if text else "") + f"{arrays} array cop{'ies' if arrays > 1 else 'y'}"
        lines.append(f"#   {text}: the loop of line {number}, {written}")
    return lines
