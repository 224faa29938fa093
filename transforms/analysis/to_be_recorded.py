"""Which assignments save the value they overwrite: to-be-recorded analysis, statement by statement.

``activity`` finds the variables some adjoint reads and that are assigned more than once (the
*recorded* names). An assignment of such a variable needs to save the old value only where a read
of the reverse sweep can come before it in the forward sweep: that read's adjoint runs after the
assignment's in the reverse sweep, and must find the old value again (Hascoët and Pascual's
to-be-recorded analysis). A read comes before an assignment when it is earlier in the function's
text, when one loop holds both (an earlier iteration's read), or when it is the assignment's own
operand (``s = s * a``); a read of the assignment's own result (``y = exp(x)``, whose adjoint
reads ``y``) comes before it only in a loop. So

    s = 0.0
    for i in range(n):
        s += math.exp(x[i] - a)    # the adjoint of s += e reads neither s nor e's old values
    return a + math.log(s)         # reads the final s, which the reverse sweep still holds

saves nothing for ``s``. The reverse sweep also reads the operands of the values it computes
again (``recompute``), where it computes them: at the reads of those values.
"""

import libcst as cst

from ..ir.statements import assignment_of, operation_of


def unsaved_assignments(body, recorded, reads, own_reads, recomputed, arrays):
    """ids of the statements assigning scalar names in ``recorded`` (assignments, and ``for``
    loops of their index) that need not save the value they overwrite. ``reads``: name -> the
    statements whose adjoint reads it; ``own_reads``: {(name, id(statement))} where the statement's
    adjoint reads the name's value from before the statement assigns it; ``recomputed``: name -> its
    defining statement, run again in the reverse sweep; ``arrays``: names of arrays (left alone)."""
    places = {}
    _place(body, (), places)
    reads, own_reads = _with_recomputed_operands(reads, own_reads, recomputed)
    unsaved = set()
    for statement in _assignments(body):
        name = _assigned_name(statement)
        if name not in recorded or name in arrays:
            continue
        if not any(_comes_before(reader, statement, name, own_reads, places) for reader in reads.get(name, ())):
            unsaved.add(id(statement))
    return unsaved


def _with_recomputed_operands(reads, own_reads, recomputed):
    """``reads`` and ``own_reads`` with the operands of every recomputed value read where it is."""
    reads = {name: list(readers) for name, readers in reads.items()}
    own_reads = set(own_reads)
    changed = True
    while changed:
        changed = False
        for name, statement in recomputed.items():
            for operand in operation_of(assignment_of(statement)[1]).operand_names():
                known = {id(r) for r in reads.get(operand, ())}
                for reader in reads.get(name, ()):
                    if id(reader) not in known:
                        reads.setdefault(operand, []).append(reader)
                        known.add(id(reader))
                        changed = True
                    target = assignment_of(reader)
                    if target is not None and target[0] == operand:  # computed again after the reader's own restore
                        own_reads.add((operand, id(reader)))
    return reads, own_reads


def _comes_before(reader, assignment, name, own_reads, places):
    """Whether ``reader`` (reading ``name`` in the reverse sweep) can run before ``assignment`` in the forward sweep."""
    order, loops = places[id(reader)]
    assignment_order, assignment_loops = places[id(assignment)]
    if reader is assignment:
        return (name, id(assignment)) in own_reads or bool(assignment_loops)
    return order < assignment_order or bool(set(loops) & set(assignment_loops))


def _place(statements, loops, places):
    """id(statement) -> (its position in the text, the ids of the loops around it)."""
    for statement in statements:
        places[id(statement)] = (len(places), loops)
        if isinstance(statement, cst.If):
            _place(statement.body.body, loops, places)
            if statement.orelse is not None:
                _place(statement.orelse.body.body, loops, places)
        elif isinstance(statement, (cst.For, cst.While)):
            _place(statement.body.body, loops + (id(statement),), places)


def _assignments(statements):
    for statement in statements:
        if _assigned_name(statement) is not None:
            yield statement
        if isinstance(statement, cst.If):
            yield from _assignments(statement.body.body)
            if statement.orelse is not None:
                yield from _assignments(statement.orelse.body.body)
        elif isinstance(statement, (cst.For, cst.While)):
            yield from _assignments(statement.body.body)


def _assigned_name(statement):
    if isinstance(statement, cst.For):
        return statement.target.value if isinstance(statement.target, cst.Name) else None
    target_value = assignment_of(statement)
    return target_value[0] if target_value is not None else None
