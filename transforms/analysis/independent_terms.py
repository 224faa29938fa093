"""Which loops add up independent terms, so that each iteration's adjoint can run right after it.

    total = 0.0
    for i in range(n):          # one row's squared residual per iteration
        pred = 0.0
        for j in range(d):
            pred += X[i, j] * w[j]
        r = pred - y[i]
        total += r * r
    return total / n

An iteration hands the next one nothing but ``total``, and only by adding to it. The loop's
adjoint is then the sum of each term's adjoint, all scaled by ``total``'s adjoint, the one value
the reverse sweep knows only when it reaches the loop. So each iteration's adjoint can run as soon
as the iteration has, with ``total``'s adjoint taken as 1, adding into adjoints of its own for
what it read from before the loop (``w``'s); where the loop's reverse would run, those are added
in, times ``total``'s real adjoint. Nothing an iteration computes has to outlive it: nothing goes
on the tape from one iteration to the next, and the values an iteration's adjoint reads are still
in cache. That is how a person writes the adjoint of such a sum by hand.

A loop qualifies when it is a ``for`` loop at the top level of the function, without ``break``,
and:
- exactly one active variable is carried from one iteration to the next or out of the loop (the
  *accumulator*): a float, which every statement assigning it changes by adding or subtracting a
  term that does not read it, and which nothing else in the loop reads;
- every other variable the loop assigns is assigned before the loop body reads it (in every
  iteration), or is inactive and never read by the reverse sweep (a count), and the code after
  the loop reads it only after assigning it again;
- every array the loop writes into, and everything sharing its memory, is bound in the loop
  (a work array of the iteration), or is made before it, written whole at the start of each
  iteration (``q = np.empty(k)``, then ``for c in range(k): ... q[c] = s`` in the body before any
  other use of q) and not read after it;
- it has statements of the normal form only.

(The reverse sweep must also not save the accumulator's old values there, which ``to_be_recorded``
decides with this answer in hand; ``activity`` drops a loop where it would.)

Inside such a loop the accumulator's adjoint is 1, known while the forward sweep runs, so a ``for``
loop of its body that adds up independent terms of its own into the same accumulator is reversed
term by term too (``nested_term_loops``: the pairs ``j > i`` of a pair energy), each inner term's
adjoint adding straight into the adjoints of what it reads, there being nothing to scale. That
needs one more condition: nothing after the inner loop in the enclosing iterations assigns or
writes what the inner loop reads, since that statement's adjoint, which would have run first,
takes the adjoint of the value it replaces.
"""

from collections import Counter

import libcst as cst
from numba.core import types as numba_types

from .. import rules
from ..ir import bound_names, variables_in
from ..ir.flow import read_after, reads_before_assignment
from ..ir.precedence import spelled
from ..ir.statements import (
    assignment_of,
    element_write_of,
    in_place_update_of,
    is_array_type,
    operation_of,
    walk,
)


def independent_term_loops(body, types, active, overwritten, aliases, invariant):
    """{id of a top-level ``for`` loop of ``body`` that adds up independent terms: its accumulator}.
    ``overwritten``: variables assigned more than once that the reverse sweep reads;
    ``aliases``: array name -> the names that may share its memory; ``invariant``: variables that
    hold one value throughout."""
    loops = {}
    for statement in body:
        if isinstance(statement, cst.For) and isinstance(statement.target, cst.Name):
            accumulator = _accumulator(statement, body, types, active, overwritten, aliases, invariant)
            if accumulator is not None:
                loops[id(statement)] = accumulator
    return loops


def nested_term_loops(body, per_term_loops, types, active, overwritten, aliases, invariant):
    """{id of a ``for`` loop in the body of a loop of ``per_term_loops`` (or, in turn, of such a
    nested loop) that adds up independent terms into the same accumulator: that accumulator}."""
    nested = {}

    def collect(loop, accumulator, changed_after):
        statements = loop.body.body
        for position, statement in enumerate(statements):
            if not (isinstance(statement, cst.For) and isinstance(statement.target, cst.Name)):
                continue
            later = changed_after | _changed_by(statements[position + 1:], aliases)
            if (variables_in(statement) - bound_names(statement)) & later:
                continue
            if _accumulator(statement, body, types, active, overwritten, aliases, invariant) == accumulator:
                nested[id(statement)] = accumulator
                collect(statement, accumulator, later)

    for loop in body:
        if id(loop) in per_term_loops:
            collect(loop, per_term_loops[id(loop)], frozenset())
    return nested


def _changed_by(statements, aliases):
    """The names ``statements`` assign, and the arrays they write into (with what shares their memory)."""
    changed = set(bound_names(cst.Module(body=list(statements))))
    for statement, _ in walk(statements):
        write = element_write_of(statement)
        update = in_place_update_of(statement)
        for array in ([write.array] if write is not None else []) + ([update[0]] if update else []):
            changed |= aliases.get(array, {array})
    return changed


def values_kept_per_term(body, per_term_loops):
    """ids of the statements, inside the inner loops of ``per_term_loops``, that compute a value by
    calling a function (``math.exp``, a helper): the reverse sweep keeps such values rather than
    calling again, since what a term keeps is given back before the next term starts (values of
    arithmetic and element reads are computed again, as everywhere)."""
    kept = set()
    for loop in body:
        if id(loop) in per_term_loops:
            for statement, depth in walk(loop.body.body):
                target_value = assignment_of(statement)
                if depth and target_value is not None and _calls(target_value[1]):
                    kept.add(id(statement))
    return kept


def bindings_without_saves(body, per_term_loops, arrays, parameters):
    """ids of the statements binding an array at the top of a ``per_term_loops`` loop's body, the
    only binding of that name in the function (not a parameter): the array it replaces is the
    previous iteration's, which no adjoint reads once that iteration's has run (nothing before the
    loop binds the name, and the loop reads it neither before binding it nor after), so the binding
    saves nothing and the reverse sweep puts nothing back (``lse = np.empty(k)`` for each point)."""
    bindings = Counter(parameters)
    for statement, _ in walk(body):
        target_value = assignment_of(statement)
        if target_value is not None:
            bindings[target_value[0]] += 1
        elif isinstance(statement, cst.For) and isinstance(statement.target, cst.Name):
            bindings[statement.target.value] += 1
    unsaved = set()
    for loop in body:
        if id(loop) not in per_term_loops:
            continue
        for statement in loop.body.body:
            target_value = assignment_of(statement)
            if target_value is not None and target_value[0] in arrays and bindings[target_value[0]] == 1 and (
                    in_place_update_of(statement) is None):
                unsaved.add(id(statement))
    return unsaved


def _calls(value):
    rule = operation_of(value).rule
    return isinstance(value, cst.Call) and rule is not None and rule not in ("view", "ravel") or rule == "**"


def accumulations(loop, accumulator):
    """The statements of ``loop`` assigning ``accumulator``."""
    return [s for s, _ in walk(loop.body.body) if assignment_of(s) is not None and assignment_of(s)[0] == accumulator]


def _accumulator(loop, body, types, active, overwritten, aliases, invariant):
    statements = [s for s, _ in walk(loop.body.body)]
    if _leaves_early(loop.body.body) or not all(map(_is_normal_form, statements)):
        return None
    index = loop.target.value
    assigned = bound_names(loop)
    carried = (reads_before_assignment(loop.body.body, {index}) & assigned) | read_after(body, loop, assigned)
    carried_active = carried & active
    if len(carried_active) != 1:
        return None
    (accumulator,) = carried_active
    if not isinstance(types.get(accumulator), numba_types.Float) or accumulator == index:
        return None
    if any(name in overwritten or is_array_type(types.get(name)) for name in carried - {accumulator}):
        return None  # the reverse sweep would restore or compute again a value the next iteration reads
    updates = {id(s) for s in accumulations(loop, accumulator)}
    for statement in statements:
        if id(statement) in updates:
            if not _adds_to(statement, accumulator):
                return None
        elif accumulator in _header_reads(statement):
            return None
    rewritten = _rewritten_work_arrays(loop, body, aliases, invariant)
    for statement in statements:
        write = element_write_of(statement)
        update = in_place_update_of(statement)
        written = write.array if write is not None else (update[0] if update and is_array_type(types.get(update[0])) else None)
        if written is not None and written not in rewritten and not aliases.get(written, {written}) <= assigned - carried:
            return None  # an array outliving the iteration: its adjoint would flow into earlier ones
    return accumulator


def _rewritten_work_arrays(loop, body, aliases, invariant):
    """Arrays made before ``loop`` that each of its iterations writes whole before reading, and that
    nothing reads after it: ``q = np.empty(k)`` before the loop, and in its body, before any other
    use of q, ``for c in range(k): ... q[c] = s`` (k holding one value, the write not under a branch,
    and nothing else in that loop using q)."""
    made = {}  # array -> the atom giving its length, for arrays bound once, by np.empty/zeros/ones(n)
    bindings = Counter(t[0] for t in (assignment_of(s) for s, _ in walk(body)) if t is not None)
    for statement in body:
        target_value = assignment_of(statement)
        if target_value is None or not isinstance(target_value[1], cst.Call) or bindings[target_value[0]] != 1:
            continue
        target, value = target_value
        arguments = [a for a in value.args if a.keyword is None]
        if (spelled(value.func) in _ALLOCATIONS and len(arguments) == 1 and isinstance(arguments[0].value, cst.Name)
                and arguments[0].value.value in invariant):
            made[target] = arguments[0].value.value
    rewritten, seen = set(), set()
    for statement in loop.body.body:
        for name in _whole_writes(statement, made) - seen:
            if aliases.get(name, {name}) == {name}:
                rewritten.add(name)
        seen |= variables_in(statement)
    return rewritten - read_after(body, loop, rewritten)


_ALLOCATIONS = {"np.empty", "np.zeros", "np.ones"}


def _whole_writes(statement, made):
    """The arrays of ``made`` (array -> its length) that ``statement``, a ``for c in range(n)`` over
    an array's length n, writes at ``[c]`` in every iteration."""
    if not (isinstance(statement, cst.For) and isinstance(statement.target, cst.Name)
            and isinstance(statement.iter, cst.Call) and spelled(statement.iter.func) == "range"
            and len(statement.iter.args) == 1 and isinstance(statement.iter.args[0].value, cst.Name)):
        return set()
    index, length = statement.target.value, statement.iter.args[0].value.value
    if index in bound_names(statement.body) or _leaves_early(statement.body.body):
        return set()
    written = set()
    for inner in statement.body.body:
        write = element_write_of(inner)
        if (write is not None and write.kind == "=" and write.region is None and len(write.index) == 1
                and isinstance(write.index[0], cst.Name) and write.index[0].value == index
                and made.get(write.array) == length and write.array not in variables_in(write.value)):
            written.add(write.array)
    uses = Counter(name for inner, _ in walk(statement.body.body) for name in _header_reads(inner) if name in written)
    return {name for name in written if uses[name] == 1}  # written once, read nowhere else in the loop


def _leaves_early(statements):
    """Whether a ``break`` in ``statements`` (not in a loop inside them) ends their loop."""
    for statement in statements:
        if isinstance(statement, cst.SimpleStatementLine) and any(isinstance(s, cst.Break) for s in statement.body):
            return True
        if isinstance(statement, cst.If) and (_leaves_early(statement.body.body) or (
                statement.orelse is not None and _leaves_early(statement.orelse.body.body))):
            return True
    return False


def _is_normal_form(statement):
    if isinstance(statement, (cst.If, cst.For, cst.While)):
        return True
    if assignment_of(statement) is not None or element_write_of(statement) is not None:
        return True
    return isinstance(statement, cst.SimpleStatementLine) and all(isinstance(s, cst.Pass) for s in statement.body)


def _header_reads(statement):
    """Names a statement reads itself (for a compound statement: its test or its range)."""
    if isinstance(statement, (cst.If, cst.While)):
        return variables_in(statement.test)
    if isinstance(statement, cst.For):
        return variables_in(statement.iter)
    return variables_in(statement)


def _adds_to(statement, accumulator):
    """``acc = acc + t``, ``acc += t``, ``acc -= t`` (t not reading acc): acc's adjoint passes through."""
    operation = operation_of(assignment_of(statement)[1])
    rule = rules.rule_for(operation.rule)
    positions = [k for k, atom in enumerate(operation.operands) if isinstance(atom, cst.Name) and atom.value == accumulator]
    return rule is not None and len(positions) == 1 and rule.adjoints[positions[0]] == "y_adj" and not any(
        accumulator in variables_in(atom) for atom in operation.index)
