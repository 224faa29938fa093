"""Arrays that share memory and arrays bound more than once, for the activity analysis.

``b = a``, ``b = a[1:]``, ``b = a.T`` and rows ``b = A[i]`` make groups of names for one memory: a
write through one is a write to all. An array variable bound again (or in a loop) is *rebound*:
the reverse sweep restores each binding. Views of arrays bound once may be rebound freely
(*rebound views*); views read only while nothing writes their memory (*read-only views*) can have
their adjoint added back like a copy's. Writes into new memory before any other name holds it
(*private writes*: ``u_next = np.zeros(n); u_next[1:-1] = ...; u = u_next``, the rotation of a
time-stepping scheme) change nothing another name sees.
"""

import libcst as cst

from .. import rules
from ..ir import FUSED_LOOP_NOTE, names_in, variable_counts, variables_in
from ..ir.flow import assigned_names, index_names, owned_element
from ..ir.precedence import spelled
from ..ir.statements import (
    assignment_of,
    element_write_of,
    in_place_update_of,
    is_array_type,
    is_gather,
    list_append_of,
    operation_of,
    walk,
)
from .recompute import blocks


def rebound_arrays(body, parameters, types):
    counts = {name: 1 for name in parameters}
    for statement, depth in walk(body):
        target_value = assignment_of(statement)
        if target_value is not None and in_place_update_of(statement) is None and is_array_type(types.get(target_value[0])):
            counts[target_value[0]] = counts.get(target_value[0], 0) + (2 if depth else 1)
    return {name for name, count in counts.items() if count >= 2 and is_array_type(types.get(name))}


def rebound_views(body, parameters, types, rebound):
    sources = {}  # name -> whether every binding so far views an array bound once
    for statement, _ in walk(body):
        target_value = assignment_of(statement)
        if target_value is None or in_place_update_of(statement) is not None or target_value[0] not in rebound:
            continue
        target, value = target_value
        operation = operation_of(value)
        views = shares_memory(operation, types)
        sources[target] = sources.get(target, True) and views and operation.operands[0].value not in rebound
    return {name for name, views in sources.items() if views and name not in parameters}


def read_only_views(body, types, group, private, not_moves=frozenset()):
    """Views of memory no name ever writes, and views whose every reader follows them in the same
    block, with no write to the shared memory from the view to its last reader (and none through
    the view itself, anywhere). Writes into ``private`` arrays (``privately_written``) change no view;
    moves (``moves``) are such views but for ``not_moves`` (see ``array_aliases``)."""
    written = written_arrays(body, types) - private
    safe = set(moves(body, types)) - set(not_moves)
    for block, _ in blocks(body):
        for index, statement in enumerate(block):
            target_value = assignment_of(statement)
            if target_value is None or in_place_update_of(statement) is not None:
                continue
            target, value = target_value
            if not shares_memory(operation_of(value), types) or not is_array_type(types.get(target)):
                continue
            if target in written:
                continue
            members = group.get(target, {target})
            if not written & members:  # no name of this memory is ever written: a view reads as a copy would
                safe.add(id(statement))
                continue
            readers = [k for k, s in enumerate(block) if k > index and target in _names_read(s)]
            readers += [k for k, s in enumerate(block) if k > index and not isinstance(s, cst.SimpleStatementLine)
                        and any(target in _names_read(inner) for inner, _ in walk([s]))]
            elsewhere = sum(target in _names_read(s) for s, _ in walk(body)) - len(readers)
            last = max(readers, default=index)
            # the last reader may itself write the memory (x[1:3] += view): it reads before it writes
            end = last if isinstance(block[last], cst.SimpleStatementLine) else last + 1  # a loop reads again
            changed = any(written_arrays([s], types) & written & members for s in block[index + 1 : end])
            if not elsewhere and not changed:
                safe.add(id(statement))
    return safe


def _names_read(statement):
    """Variables a statement reads (for a compound statement, in its test or range only)."""
    if isinstance(statement, (cst.If, cst.While)):
        return names_in(statement.test)
    if isinstance(statement, cst.For):
        return names_in(statement.iter)
    target_value = assignment_of(statement)
    if target_value is not None and in_place_update_of(statement) is None:
        return names_in(target_value[1])
    return names_in(statement)


def written_arrays(body, types):
    written = set()
    for statement, _ in walk(body):
        write = element_write_of(statement)
        update = in_place_update_of(statement)
        if write is not None:
            written.add(write.array)
        elif update is not None and is_array_type(types.get(update[0])):
            written.add(update[0])
    return written


# Calls whose array result is new memory no other name holds: the constructors (np.zeros, np.full, ...), np.copy.
_NEW_MEMORY = rules.ARRAY_CONSTRUCTORS | set(rules.ARRAY_FILLS) | {"np.copy"}


def is_new_memory(value):
    if isinstance(value, (cst.BinaryOperation, cst.UnaryOperation)):  # array arithmetic makes a new array
        return True
    return isinstance(value, cst.Call) and spelled(value.func) in _NEW_MEMORY


def privately_written(body, types):
    """Arrays written only while no other name holds their memory: every write follows a binding
    to new memory (``nxt = np.empty(n)``) in the same block or one around it, with no other name
    bound to that memory (``cur = nxt``, ``v = nxt[1:]``, ``L.append(nxt)``) in between, in this
    pass through a loop or an earlier one. Such writes change no value another name reads."""
    return written_arrays(body, types) - _written_while_shared(body, types, frozenset())


def _written_while_shared(statements, types, unshared):
    """Arrays ``statements`` write while their memory may have another name; ``unshared``: the
    arrays whose memory has none on entry."""
    unshared = set(unshared)
    shared_writes = set()
    for statement in statements:
        if isinstance(statement, (cst.If, cst.For, cst.While)):
            touched = _shared_or_bound_in(statement, types)
            # a loop's body runs again after its own aliases were taken
            entry = unshared - touched if isinstance(statement, (cst.For, cst.While)) else unshared
            inner = [statement.body.body]
            if isinstance(statement, cst.If) and statement.orelse is not None:
                inner.append(statement.orelse.body.body)
            for block in inner:
                shared_writes |= _written_while_shared(block, types, entry)
            unshared -= touched
            continue
        write = element_write_of(statement)
        update = in_place_update_of(statement)
        if write is not None and write.array not in unshared:
            shared_writes.add(write.array)
        elif update is not None and update[0] not in unshared:
            shared_writes.add(update[0])
        unshared -= _shared_or_bound_in(statement, types)
        target_value = assignment_of(statement)
        if target_value is not None and update is None and is_new_memory(target_value[1]):
            unshared.add(target_value[0])
    return shared_writes


def _shared_or_bound_in(statement, types):
    """Names that ``statement`` (nested statements included) binds, or binds another name to the
    memory of: both sides of ``b = a``, ``b = a[1:]``; the appended array of ``L.append(a)``."""
    touched = set()
    for inner, _ in walk([statement]):
        target_value = assignment_of(inner)
        if target_value is not None and in_place_update_of(inner) is None:
            touched.add(target_value[0])
            operation = operation_of(target_value[1])
            if shares_memory(operation, types) and is_array_type(types.get(target_value[0])):  # (not an element read)
                touched.add(operation.operands[0].value)
        appended = list_append_of(inner)
        if appended is not None and isinstance(appended[1], cst.Name):
            touched.add(appended[1].value)
    return touched


def array_aliases(body, types, not_moves=frozenset()):
    """Groups of array names that may share memory: ``b = a`` and views such as ``b = a[1:]``
    (one group per array created or passed in), as {name: frozenset of the names in its group}.
    A move (``moves``) hands memory on: its two names never hold it at once; ``not_moves``: the ids
    of moves taken as sharing all the same (the reverse sweep reads the old name again)."""
    group = {}
    moved = moves(body, types) - set(not_moves)
    for statement, _ in walk(body):
        target_value = assignment_of(statement)
        if target_value is None or in_place_update_of(statement) is not None or id(statement) in moved:
            continue
        target, value = target_value
        operation = operation_of(value)
        if shares_memory(operation, types) and is_array_type(types.get(target)):  # A[i]: a row
            source = operation.operands[0].value
            merged = group.get(source, frozenset([source])) | group.get(target, frozenset([target]))
            for name in merged:
                group[name] = merged
    return group


def possible_aliases(body, types):
    """``array_aliases`` and the arrays ``b = a.ravel()`` binds: a view of ``a`` where ``a`` is
    contiguous and a copy where not (it shows at run time), so a statement writing ``a`` may change
    ``b``. What moves statements past one another (fused runs) must take them as one memory."""
    group = dict(array_aliases(body, types))
    for statement, _ in walk(body):
        target_value = assignment_of(statement)
        if target_value is None or in_place_update_of(statement) is not None:
            continue
        operation = operation_of(target_value[1])
        if operation.rule == "ravel" and operation.operands and is_array_type(types.get(operation.operands[0].value)):
            target, source = target_value[0], operation.operands[0].value
            merged = group.get(source, frozenset([source])) | group.get(target, frozenset([target]))
            for name in merged:
                group[name] = merged
    return group


def moves(body, types):
    """ids of the statements ``b = a`` that hand new memory on: ``a`` was bound to new memory earlier
    in the same block (``a = np.empty(n)``, then written), no other name was bound to that memory
    in between, and the function mentions ``a`` nowhere else (a fused loop's result computed from
    the old ``b``: ``b_new = np.empty(n); ...; b = b_new``)."""
    mentions = variable_counts(body)
    found = set()
    for block, _ in blocks(body):
        for index, statement in enumerate(block):
            target_value = assignment_of(statement)
            if target_value is None or not isinstance(target_value[1], cst.Name) or in_place_update_of(statement):
                continue
            source = target_value[1].value
            if not (is_array_type(types.get(source)) and is_array_type(types.get(target_value[0]))):
                continue
            start = next((k for k in range(index - 1, -1, -1) if (assignment_of(block[k]) or (None,))[0] == source), None)
            binding = assignment_of(block[start]) if start is not None else None
            if binding is None or not is_new_memory(binding[1]) or isinstance(binding[1], (
                    cst.BinaryOperation, cst.UnaryOperation)) or in_place_update_of(block[start]) is not None:
                continue
            between = block[start:index + 1]
            if sum(variable_counts(s).get(source, 0) for s in between) != mentions.get(source, 0):
                continue
            if any(source in _shared_or_bound_in(s, types) for s in block[start + 1:index]):
                continue
            found.add(id(statement))
    return found


# Operations whose array result shares memory with their first operand.
SHARING_RULES = {"copy", "view"}


def shares_memory(operation, types):
    """``b = a``, ``b = a[1:]``, ``b = a.T``, a row ``b = A[i]``; not a gather ``b = a[idx]``, a copy."""
    if operation.rule not in SHARING_RULES | {"index"} or not is_array_type(types.get(operation.operands[0].value)):
        return False
    return not is_gather(operation, types)


def shared_array_dependencies(body, dependencies, types):
    """A write through one name of a shared array changes what every other name sees: each
    dependency of one member is a dependency of all, so activity flows both ways through ``b = a``."""
    group = array_aliases(body, types)
    shared = []
    for target, operands in dependencies:
        for other in group.get(target, ()):
            if other != target:
                shared.append((other, operands + [target]))
    return shared


def first_writes_into_new_memory(body, made_only=False):
    """ids of the writes (``b[i] = v``, ``b[1:] = v``, ``b += t``, ``b -= t``) that come first after
    ``b`` is bound to new memory in the same block, no statement between mentioning ``b``, by an operation
    whose adjoint does not read its result (``np.zeros(n)``, not ``np.exp(a)``): the values they
    overwrite are read by nobody, so the reverse sweep need not put them back. With ``made_only``,
    only where that memory is made from nothing differentiable (``np.empty(n)``, ``np.zeros_like(x)``,
    not ``np.copy(x)``): the adjoint of what such a write overwrites goes nowhere."""
    found = set()
    for block, _ in blocks(body):
        fresh = set()  # names bound to new memory, not mentioned since
        for statement in block:
            write = element_write_of(statement)
            update = in_place_update_of(statement)
            if update is not None and not isinstance(update[1].operator, (cst.Add, cst.Subtract)):
                update = None  # b *= t: its own adjoint reads b's old values
            written = write.array if write is not None else (update[0] if update is not None else None)
            if written in fresh and written not in variables_in(_written_value(write, update)):
                found.add(id(statement))
            found |= _first_writes_in_fused_loop(statement, fresh) | _first_writes_in_counted_loop(statement, fresh)
            fresh -= variables_in(statement)
            target_value = assignment_of(statement)
            if target_value is None or in_place_update_of(statement) is not None:
                continue
            made = isinstance(target_value[1], cst.Call) and spelled(target_value[1].func) in MADE_FROM_NOTHING
            if is_new_memory(target_value[1]) and not _reads_result(target_value[1]) and (made or not made_only):
                fresh.add(target_value[0])
    return found


# calls making new memory whose values carry no derivative of their arguments
MADE_FROM_NOTHING = {"np.empty", "np.zeros", "np.ones", "np.empty_like", "np.zeros_like", "np.ones_like"}


def _first_writes_in_fused_loop(statement, fresh):
    """ids of the element writes into ``fresh`` arrays in a fused loop nest (``fused_loops.py``) that
    mentions those arrays only to write them: each such write is the first into its element."""
    if not (isinstance(statement, cst.For) and any(line.comment is not None and line.comment.value == FUSED_LOOP_NOTE
                                                  for line in statement.leading_lines)):
        return set()
    writes, other = {}, set()
    for inner, _ in walk(statement.body.body):
        write = element_write_of(inner)
        if write is not None and write.kind == "=" and write.array in fresh:
            writes.setdefault(write.array, []).append(id(inner))
            other |= variables_in(write.value) | set(write.index_names())
        elif not isinstance(inner, (cst.For, cst.While, cst.If)):
            other |= variables_in(inner)
    return {found for array, ids in writes.items() if array not in other for found in ids}


def _first_writes_in_counted_loop(statement, fresh):
    """ids of the element writes ``b[i] = v`` into ``fresh`` arrays in a loop ``for i in range(n)``
    (``lse = np.empty(k)``, then ``for j in range(k): ... lse[j] = ...``) that write an element each
    iteration owns (``ir.flow.owned_element``), once per iteration, in the loop's own body (not in a
    loop inside it), the loop mentioning those arrays only there: each is the first write into its
    element."""
    if not (isinstance(statement, cst.For) and isinstance(statement.target, cst.Name) and isinstance(statement.iter, cst.Call)
            and spelled(statement.iter.func) == "range" and len(statement.iter.args) == 1):
        return set()
    body = statement.body.body
    own = index_names(body, statement.target.value)
    assigned = assigned_names(body) | {statement.target.value}
    writes, other = {}, set()
    for inner, depth in walk(body):
        write = element_write_of(inner)
        if (depth == 0 and write is not None and write.kind == "=" and write.region is None and write.array in fresh
                and owned_element(write.index, own, assigned)):
            writes.setdefault(write.array, []).append(id(inner))
            other |= variables_in(write.value)
        elif isinstance(inner, (cst.If, cst.While)):
            other |= variables_in(inner.test)
        elif isinstance(inner, cst.For):
            other |= variables_in(inner.iter)
        else:
            other |= variables_in(inner)
    return {found for array, ids in writes.items() if array not in other and len(ids) == 1 for found in ids}


def _written_value(write, update):
    return write.value if write is not None else update[1].right


def _reads_result(value):
    """Whether the adjoint of ``value``'s operation reads the value it gives (``y``, as exp's does)."""
    rule = rules.rule_for(operation_of(value).rule)
    return rule is not None and any(rules.template_uses(template, "y") for template in rule.adjoints)
