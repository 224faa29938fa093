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
  (a work array of the iteration);
- it has statements of the normal form only.

(The reverse sweep must also not save the accumulator's old values there, which ``to_be_recorded``
decides with this answer in hand; ``activity`` drops a loop where it would.)
"""

import libcst as cst
from numba.core import types as numba_types

from .. import rules
from ..ir import bound_names, variables_in
from ..ir.flow import read_after, reads_before_assignment
from ..ir.statements import (
    assignment_of,
    element_write_of,
    in_place_update_of,
    is_array_type,
    operation_of,
    walk,
)


def independent_term_loops(body, types, active, overwritten, aliases):
    """{id of a top-level ``for`` loop of ``body`` that adds up independent terms: its accumulator}.
    ``overwritten``: variables assigned more than once that the reverse sweep reads;
    ``aliases``: array name -> the names that may share its memory."""
    loops = {}
    for statement in body:
        if isinstance(statement, cst.For) and isinstance(statement.target, cst.Name):
            accumulator = _accumulator(statement, body, types, active, overwritten, aliases)
            if accumulator is not None:
                loops[id(statement)] = accumulator
    return loops


def accumulations(loop, accumulator):
    """The statements of ``loop`` assigning ``accumulator``."""
    return [s for s, _ in walk(loop.body.body) if (assignment_of(s) or ("",))[0] == accumulator]


def _accumulator(loop, body, types, active, overwritten, aliases):
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
    for statement in statements:
        write = element_write_of(statement)
        update = in_place_update_of(statement)
        written = write.array if write is not None else (update[0] if update and is_array_type(types.get(update[0])) else None)
        if written is not None and not aliases.get(written, {written}) <= assigned - carried:
            return None  # an array outliving the iteration: its adjoint would flow into earlier ones
    return accumulator


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
