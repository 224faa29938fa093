"""A kernel's stores read back: in one thread's straight-line code, reading an element the thread
has just stored reads the stored value instead, so the adjoint need not replay the store."""

import libcst as cst

from ..ir import assign
from ..ir.precedence import spelled
from ..ir.statements import assignment_of, element_write_of, in_place_update_of, operation_of


def forwarded_stores(definition):
    """A kernel's normal form with reads of an element the thread has just stored (``v_out[i] = t``
    ... ``u = v_out[i]``, no other write between, in straight-line code) reading ``t`` instead: the
    adjoint then need not replay the store, nor the tape copy the array for it."""

    code = spelled
    known = {}  # (array, index spelled) -> the atom stored there
    body = []
    for statement in definition.body.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            known.clear()
            body.append(statement)
            continue
        write = element_write_of(statement)
        target_value = assignment_of(statement)
        if write is not None:
            known.clear()  # another name may share the memory: only this store stays known
            if write.kind == "=" and write.region is None and isinstance(write.value, (cst.Name, cst.Integer, cst.Float)):
                known[(write.array, tuple(code(a) for a in write.index))] = write.value
        elif target_value is not None and in_place_update_of(statement) is None:
            target, value = target_value
            operation = operation_of(value)
            key = (operation.operands[0].value, tuple(code(a) for a in operation.index)) if operation.rule == "index" else None
            if key in known:
                statement = assign(target, known[key]).with_changes(leading_lines=statement.leading_lines)
            known = {k: v for k, v in known.items()
                     if target not in k[1] and k[0] != target and getattr(v, "value", None) != target}
        else:
            known.clear()
        body.append(statement)
    return definition.with_changes(body=definition.body.with_changes(body=body))
