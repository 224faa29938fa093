"""Stores nothing reads, dropped from a generated function before it is printed: ``s_adj = 0.0``
right before ``s_adj = output_adj``, or an adjoint reset at the very end of the reverse sweep.

Only a store of a number or a name is dropped (nothing that can fail or have an effect), and only
where the same block binds the name again before any statement mentions it, or where the
function returns without mentioning it again. A store at the end of a loop's body is kept (the
next iteration may read it), as is one followed by a branch or loop that mentions the name.
Comments above a dropped store move to the statement after it, but for a user-line marker
(``# adjoint of line N``) whose code is gone.
"""

import libcst as cst

from ..ir import all_names, is_atom


def without_dead_stores(definition):
    body = _block(list(definition.body.body), function_level=True)
    return definition.with_changes(body=definition.body.with_changes(body=body))


def _block(statements, function_level=False):
    statements = [_with_inner_blocks(s) for s in statements]
    # walking back from the end: what comes first after each statement, for each name it mentions:
    # a rebinding ("bound") or anything else ("read"); at the function's end nothing comes at all
    next_use, dead = {}, set()
    for position in range(len(statements) - 1, -1, -1):
        statement = statements[position]
        name = _stored_name(statement)
        if name is not None and next_use.get(name, "bound" if function_level else "read") == "bound":
            dead.add(position)
            continue
        assigned = _single_assignment(statement)
        mentioned = all_names(statement)
        for mention in mentioned:
            next_use[mention] = "read"
        if assigned is not None and assigned[0] not in all_names(assigned[1]):
            next_use[assigned[0]] = "bound"
    kept, comments = [], []
    for position, statement in enumerate(statements):
        if position in dead:
            comments += list(statement.leading_lines)
            continue
        if comments:
            own = list(statement.leading_lines)
            moved = [line for line in comments if not (own and _is_marker(line))]
            statement = statement.with_changes(leading_lines=moved + own)
            comments = []
        kept.append(statement)
    return kept


def _with_inner_blocks(statement):
    if isinstance(statement, (cst.For, cst.While)):
        return statement.with_changes(body=statement.body.with_changes(body=_block(list(statement.body.body))))
    if isinstance(statement, cst.If):
        orelse = statement.orelse
        if isinstance(orelse, cst.Else):
            orelse = orelse.with_changes(body=orelse.body.with_changes(body=_block(list(orelse.body.body))))
        elif isinstance(orelse, cst.If):
            orelse = _with_inner_blocks(orelse)
        return statement.with_changes(body=statement.body.with_changes(body=_block(list(statement.body.body))),
                                      orelse=orelse)
    return statement


def _stored_name(statement):
    """``v`` of a statement ``v = <a name or a number>`` standing alone on its line, else None."""
    assigned = _single_assignment(statement)
    if assigned is None or not is_atom(assigned[1]):
        return None
    return assigned[0]


def _single_assignment(statement):
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if not isinstance(small, cst.Assign) or len(small.targets) != 1 or not isinstance(small.targets[0].target, cst.Name):
        return None
    return small.targets[0].target.value, small.value


def _is_marker(line):
    return line.comment is not None and line.comment.value.startswith(("# adjoint of line ", "# line "))
