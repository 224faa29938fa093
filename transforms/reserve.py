"""Pass 5b: reserve tape capacity ahead of the pushes of a forward sweep.

Pushes never grow the tape themselves (growing reassigns the stack array, and
numba would reference-count it on every push). Instead, before each straight
run of code this pass reserves room for the pushes the run can make (the
longer branch of an ``if``); a loop without inner loops reserves once for all
its iterations, any other loop once per iteration.
"""

from dataclasses import dataclass

import libcst as cst

_CODE = cst.Module([])


@dataclass(frozen=True)
class Tape:
    floats: str
    floats_top: str
    ints: str
    ints_top: str


def _push_kind(statement, tape):
    """'float', 'int' or None: whether a statement is a push, and onto which stack."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return None
    small = statement.body[0]  # a push: `stack[top] = value; top += 1`
    if len(statement.body) == 2 and isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Subscript):
        stack = small.targets[0].target.value
        if isinstance(stack, cst.Name) and isinstance(statement.body[1], cst.AugAssign):
            return {tape.floats: "float", tape.ints: "int"}.get(stack.value)
    return None


def _has_loop(statement):
    if isinstance(statement, (cst.For, cst.While)):
        return True
    if isinstance(statement, cst.If):
        blocks = [statement.body.body] + ([statement.orelse.body.body] if statement.orelse else [])
        return any(_has_loop(s) for block in blocks for s in block)
    return False


def _count(statements, tape):
    """(float pushes, int pushes) a loop-free run of statements can make."""
    floats = ints = 0
    for statement in statements:
        kind = _push_kind(statement, tape)
        floats += kind == "float"
        ints += kind == "int"
        if isinstance(statement, cst.If):
            branches = [_count(statement.body.body, tape)]
            if statement.orelse is not None:
                branches.append(_count(statement.orelse.body.body, tape))
            floats += max(b[0] for b in branches)
            ints += max(b[1] for b in branches)
    return floats, ints


def _reserve(tape, counts, factor=None):
    lines = []
    for count, stack, top, function in (
        (counts[0], tape.floats, tape.floats_top, "reserve"),
        (counts[1], tape.ints, tape.ints_top, "reserve"),
    ):
        if count:
            needed = f"{count}" if factor is None else f"{count} * {factor}"
            lines.append(cst.parse_statement(f"{stack} = {function}({stack}, {top} + {needed})"))
    return lines


def with_reserves(statements, tape):
    """``statements`` with capacity reserved ahead of every push."""
    result, run = [], []

    def flush():
        if run:
            result.extend(_reserve(tape, _count(run, tape)) + run)
            run.clear()

    for statement in statements:
        if not _has_loop(statement):
            run.append(statement)
            continue
        flush()
        if isinstance(statement, cst.For) and not any(_has_loop(s) for s in statement.body.body):
            trips = f"len({_CODE.code_for_node(statement.iter)})"
            result.extend(_reserve(tape, _count(statement.body.body, tape), factor=trips))
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
