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
    body, _ = _block(list(definition.body.body), function_level=True)
    return definition.with_changes(body=definition.body.with_changes(body=body))


def _block(statements, function_level=False):
    """(the block without its dead stores, the names its statements mention). Each statement's
    names are found once: a compound statement's are its header's and its blocks'."""
    tidied = [_tidied(s) for s in statements]
    # walking back from the end: what comes first after each statement, for each name it mentions:
    # a rebinding ("bound") or anything else ("read"); at the function's end nothing comes at all
    next_use, dead = {}, set()
    for position in range(len(tidied) - 1, -1, -1):
        statement, mentioned = tidied[position]
        assigned = _single_assignment(statement)
        if assigned is not None and is_atom(assigned[1]):
            if next_use.get(assigned[0], "bound" if function_level else "read") == "bound":
                dead.add(position)
                continue
        for mention in mentioned:
            next_use[mention] = "read"
        if assigned is not None and assigned[0] not in all_names(assigned[1]):
            next_use[assigned[0]] = "bound"
    kept, comments, names = [], [], set()
    for position, (statement, mentioned) in enumerate(tidied):
        if position in dead:
            comments += list(statement.leading_lines)
            continue
        if comments:
            own = list(statement.leading_lines)
            moved = [line for line in comments if not (own and _is_marker(line))]
            statement = statement.with_changes(leading_lines=moved + own)
            comments = []
        kept.append(statement)
        names |= mentioned
    return kept, names


def _tidied(statement):
    """(``statement`` with its blocks tidied, the names it mentions)."""
    if isinstance(statement, (cst.For, cst.While)) and statement.orelse is not None:
        return statement, all_names(statement)  # a loop's else: not in srcad's normal form, left as it is
    if isinstance(statement, cst.For):
        body, names = _block(list(statement.body.body))
        header = all_names(statement.target) | all_names(statement.iter)
        return statement.with_changes(body=statement.body.with_changes(body=body)), names | header
    if isinstance(statement, cst.While):
        body, names = _block(list(statement.body.body))
        return statement.with_changes(body=statement.body.with_changes(body=body)), names | all_names(statement.test)
    if isinstance(statement, cst.If):
        body, names = _block(list(statement.body.body))
        orelse = statement.orelse
        if isinstance(orelse, cst.Else):
            else_body, else_names = _block(list(orelse.body.body))
            orelse, names = orelse.with_changes(body=orelse.body.with_changes(body=else_body)), names | else_names
        elif isinstance(orelse, cst.If):
            orelse, else_names = _tidied(orelse)
            names |= else_names
        statement = statement.with_changes(body=statement.body.with_changes(body=body), orelse=orelse)
        return statement, names | all_names(statement.test)
    return statement, all_names(statement)


def _single_assignment(statement):
    """(v, value) of a statement ``v = value`` standing alone on its line, else None."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if not isinstance(small, cst.Assign) or len(small.targets) != 1 or not isinstance(small.targets[0].target, cst.Name):
        return None
    return small.targets[0].target.value, small.value


def _is_marker(line):
    return line.comment is not None and line.comment.value.startswith(("# adjoint of line ", "# line "))
