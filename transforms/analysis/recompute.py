"""Which overwritten values the reverse sweep computes again instead of saving them.

A temporary like ``sin_x = math.sin(x)`` inside a loop is read by the adjoint
of a later statement of the same iteration. Saving it costs a tape slot per
iteration; if ``x`` itself is restored (or never changes), the reverse sweep can
simply run ``sin_x = math.sin(x)`` again where it is needed — what a person
writing an adjoint by hand does.

A variable qualifies when it has exactly one defining statement, a pure
operation with a derivative rule; every adjoint reading it is a statement of
the same block after that definition; and none of the operands is assigned
between the definition and the last reading (the reading statement itself may
assign a recorded operand: its old value is restored before the adjoint runs).
Operands must hold the right value in the reverse sweep: numbers, invariant
variables, restored (recorded) variables, loop indices, or other qualifying
variables, including ones the reverse sweep never reads otherwise, like
``x_i = x[i]`` in ``d = x_i_plus_1 - x_i`` (recomputed first).

An array bound in each iteration qualifies the same way when its operation is elementwise or a view
(its adjoint starts from zeros of a shape the reverse sweep knows: fixed, ``shapes.py``, or pushed on
the int tape). A rebound view of an array nothing writes (``row = X[i]``) is taken again, with its
adjoint view, where its iteration's reverse first needs it (``rederived_views``).
"""

import functools

import libcst as cst

from .. import rules
from ..ir import variables_in
from ..ir.statements import Operation, assignment_of, in_place_update_of, is_exit_check, operation_of


def blocks(statements, loop_indices=frozenset()):
    """Every statement list of the function, outermost first, with the enclosing loops' indices."""
    yield statements, loop_indices
    for statement in statements:
        if isinstance(statement, cst.If) and not is_exit_check(statement):
            yield from blocks(statement.body.body, loop_indices)
            if statement.orelse is not None:
                yield from blocks(statement.orelse.body.body, loop_indices)
        elif isinstance(statement, cst.For):
            index = statement.target.value
            inner = loop_indices if index in _assigned_in(statement.body) else loop_indices | {index}
            yield from blocks(statement.body.body, inner)
        elif isinstance(statement, cst.While):
            yield from blocks(statement.body.body, loop_indices)


@functools.lru_cache(maxsize=8192)  # asked of each statement once per operand read after it; nodes hash by identity
def _assigned_in(statement):
    """Names a statement assigns, including inside nested blocks."""
    names = set()

    class Collect(cst.CSTVisitor):
        def visit_AssignTarget(self, node):
            if isinstance(node.target, cst.Name):
                names.add(node.target.value)
            elif isinstance(node.target, cst.Subscript) and isinstance(node.target.value, cst.Name):
                names.add(node.target.value.value)  # b[i] = v changes b

        def visit_AugAssign(self, node):
            if isinstance(node.target, cst.Subscript) and isinstance(node.target.value, cst.Name):
                names.add(node.target.value.value)
            elif isinstance(node.target, cst.Name):
                names.add(node.target.value)

        def visit_For(self, node):
            names.add(node.target.value)

    statement.visit(Collect())
    return frozenset(names)


def _definition(statement):
    if isinstance(statement, cst.SimpleStatementLine):
        small = statement.body[0]
        if isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Name):
            return small.targets[0].target.value, small.value
    return in_place_update_of(statement)


# Integer helpers of fused loops (kernels/arrays.py): computed again like an operation (``conforming``, which
# raises where operands do not conform, computed again from the same operands, passes again)
_INTEGER_HELPERS = {"slice_start", "slice_extent", "broadcast_extent", "broadcast_step", "conforming", "roll_offset",
                    "rolled_position"}
_INTEGER_HELPER = "integer helper"  # the rule of their operations
_COMPARISON = "comparison"  # the rule of one comparison of two atoms


def computed_operation(value):
    """``operation_of(value)``, where a call of a fused loop's integer helpers (``rolled_position(i,
    offset, n)``, read by the adjoint of ``a[...]``) and one comparison of two atoms (``test = u_i > 0.0``,
    read by the adjoint of ``scalar_where(test, u_i, 0.0)``) are operations too: computed again from
    their operands, never taped per element."""
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in _INTEGER_HELPERS:
        operands = [argument.value for argument in value.args if not isinstance(argument.value, cst.SimpleString)]
        return Operation(_INTEGER_HELPER, operands)  # (conforming's last argument names the user's line)
    if isinstance(value, cst.Comparison) and len(value.comparisons) == 1:
        operands = [value.left, value.comparisons[0].comparator]
        if all(isinstance(atom, (cst.Name, cst.Integer, cst.Float)) for atom in operands):
            return Operation(_COMPARISON, operands)
    return operation_of(value)


def last_writes(body, arrays=frozenset(), group=None):
    """Per array: the position in program order after which nothing writes it again, and the
    position of every statement. A write inside a loop may run again until the outermost loop ends.
    ``group`` maps each array name to the names sharing its memory: a write to one is a write to all."""
    positions, last_write = {}, {}

    def visit(statements, outermost_loop_end):
        for statement in statements:
            position = len(positions)
            positions[id(statement)] = position
            if isinstance(statement, (cst.For, cst.While)):
                visit(statement.body.body, outermost_loop_end if outermost_loop_end is not None else -1)
                end = len(positions)
                if outermost_loop_end == -1 or outermost_loop_end is None:
                    for name in list(pending):
                        last_write[name] = max(last_write.get(name, 0), end)
                    if outermost_loop_end is None:
                        pending.clear()
            elif isinstance(statement, cst.If) and not is_exit_check(statement):
                visit(statement.body.body, outermost_loop_end)
                if statement.orelse is not None:
                    visit(statement.orelse.body.body, outermost_loop_end)
            else:
                for name in _element_writes(statement, arrays):
                    if outermost_loop_end is None:
                        last_write[name] = max(last_write.get(name, 0), position)
                    else:
                        pending.add(name)

    pending = set()
    visit(body, None)
    for name, position in list(last_write.items()):
        for other in (group or {}).get(name, ()):
            last_write[other] = max(last_write.get(other, 0), position)
    return positions, last_write


def _element_writes(statement, arrays):
    """Arrays a statement changes: ``b[i] = v``, ``b[i] += v``, or ``b += t`` for an array b."""
    names = set()
    update = in_place_update_of(statement)
    if update is not None and update[0] in arrays:
        names.add(update[0])
    if isinstance(statement, cst.SimpleStatementLine):
        small = statement.body[0]
        target = small.targets[0].target if isinstance(small, cst.Assign) else getattr(small, "target", None)
        if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
            names.add(target.value.value)
    return names


def _element_writes_within(statement, arrays):
    """Arrays a statement changes in place, in the statements of its blocks too."""
    if isinstance(statement, cst.SimpleStatementLine):
        return _element_writes(statement, arrays)
    names = set()
    for block, _ in blocks([statement]):
        for inner in block:
            if isinstance(inner, cst.SimpleStatementLine):
                names |= _element_writes(inner, arrays)
    return names


def recomputable(body, overwritten, invariant, reads, arrays=frozenset(), group=None, rebound=frozenset(),
                 written=frozenset(), kept=frozenset(), bound_again=frozenset(), new_memory=frozenset()):
    """({name: defining statement} for the overwritten values worth recomputing, the names to restore
    so that they can be). ``written``: the arrays changed in place; an array sharing memory with one of
    them holds its old values in the reverse sweep only if that one's writes are undone too (it is
    restored, i.e. overwritten). ``kept``: ids of defining statements whose values are kept instead
    (see independent_terms). ``bound_again``: the arrays bound more than once; one not restored may
    name other memory by the time the reverse sweep reads it.

    An operand bound outside the innermost loop around a value, and never changed in place, is
    restored where it is bound (pushed once per binding: ``step`` of a time step, ``a_rolled`` a
    fused loop's positions, a state array's binding) so that the value is computed again in each
    iteration of that loop instead of saved in each. So is an array of ``new_memory`` (bound by one
    statement, to new memory, no other name sharing it) read after the last statement of its block
    that writes it (``s = np.zeros(n)``, a loop adding into ``s``, then a loop reading it)."""
    positions, last_write = last_writes(body, arrays, group)
    loops_around = _innermost_loops(body)
    filled = _filled_before(body, new_memory)
    enclosing = _enclosing_statements(body)
    promoted = set()

    definitions = {}  # name -> number of defining statements
    for block, _ in blocks(body):
        for statement in block:
            definition = _definition(statement)
            if definition is not None:
                definitions[definition[0]] = definitions.get(definition[0], 0) + 1

    chosen = {}  # name -> (defining statement, its index in its block)
    pinned = set()  # operands of chosen values: they must stay restored by the tape
    for block, loop_indices in blocks(body):
        position = {id(statement): index for index, statement in enumerate(block)}
        holders = _holders(block)
        # values the reverse sweep never reads, computed once in this block: free to recompute on the way
        local = {}
        for index, statement in enumerate(block):
            definition = _definition(statement)
            if definition is not None and definitions.get(definition[0]) == 1 and definition[0] not in overwritten:
                if computed_operation(definition[1]).rule is not None and definition[0] not in reads:
                    local[definition[0]] = (statement, index)

        loop = loops_around.get(id(block))

        def holds_its_value(operand, start, last, chain, restoring):
            """Whether `operand` read at block[start] has the same value at block[last]'s adjoint.
            `chain`: the values being recomputed that lead here (a value cannot feed itself);
            `restoring`: collects the operands that do once restored where they are bound."""
            if operand in chain:
                return False
            if any(operand in _assigned_in(s) for s in block[start + 1 : last]):
                return False
            if last > start and operand in _assigned_in(block[last]) and (operand not in overwritten or operand in chosen):
                return False  # only a restored value is back in place after the last reader's pop
            if operand in chosen:
                statement, index = chosen[operand]
                if id(statement) not in position:
                    return False
                operands = computed_operation(_definition(statement)[1]).operand_names()
                return all(holds_its_value(o, index, last, chain | {operand}, restoring) for o in operands)
            if operand in local and local[operand][1] < start:
                statement, index = local[operand]
                operands = computed_operation(_definition(statement)[1]).operand_names()
                if all(holds_its_value(o, index, last, chain | {operand}, restoring) for o in operands):
                    chosen[operand] = (statement, index)
                    return True
                return False
            if operand in last_write and positions[id(block[start])] > last_write[operand] and (
                    operand not in bound_again or operand in overwritten):
                return True  # an array nothing writes after this read: the reverse sweep sees the same values
            if any(m in written and m not in overwritten for m in (group or {}).get(operand, ())):
                return False
            if operand in invariant or operand in overwritten or operand in loop_indices:
                return True
            if loop is None or operand not in definitions or operand in _assigned_in(loop):
                return False
            if not any(m in written for m in (group or {}).get(operand, {operand}) | {operand}) or (
                    operand in filled and _after(block, filled[operand], enclosing)):
                restoring.add(operand)  # bound outside the loop: restored there, once per binding
                return True
            return False

        for index, statement in enumerate(block):
            definition = _definition(statement)
            if definition is None:
                continue
            name, value = definition
            operation = computed_operation(value)
            if name not in overwritten or name in pinned or definitions.get(name) != 1 or operation.rule is None:
                continue
            if id(statement) in kept:
                continue
            if name in rebound or (name in (group or {}) and operation.rule not in ("view", "index")):
                continue  # rebound views are restored; a copy of shared memory is not that memory
            if name in arrays and name in written:
                continue  # written in place: kept (recorded), its writes are undone, which other names of its memory rely on
            if name in arrays and operation.rule not in rules.ELEMENTWISE_RULES and operation.rule not in ("view", "index"):
                continue  # an array is computed again only elementwise or as a view (not a product, a sort...)
            readers = [_reader_position(r, position, holders, operation) for r in reads.get(name, [])]
            if not readers or not all(r is not None and r >= index for r in readers):
                continue
            last = max(readers)
            sharing = {name, *(group or {}).get(name, ())}
            if any(sharing & _element_writes_within(s, arrays) for s in block[index + 1 : last]):
                continue  # written in place before it is read: computing it again would give the old values
            operands = operation.operand_names()
            restoring = set()
            if all(holds_its_value(o, index, last, {name}, restoring) for o in operands):
                chosen[name] = (statement, index)
                pinned |= {o for o in operands if o not in chosen}
                promoted |= restoring
    return {name: statement for name, (statement, _) in chosen.items()}, promoted - set(chosen)


def _holders(block):
    """{id of a statement nested in one of ``block``'s: the position of that statement in ``block``}."""
    found = {}
    for index, statement in enumerate(block):
        if not isinstance(statement, cst.SimpleStatementLine):
            for inner, _ in list(blocks([statement]))[1:]:
                found.update((id(nested), index) for nested in inner)
    return found


def _reader_position(reader, position, holders, operation):
    """The position in the block of the statement whose adjoint reads a value: its own, or, for a
    value cheap to compute again in each iteration of a loop nested there (an element or index read,
    ``a_s = a[s]`` read by the loop writing ``f[a_s, i]``), the loop's (then after the definition).
    None for a reader elsewhere."""
    if id(reader) in position:
        return position[id(reader)]
    if id(reader) in holders and operation.rule in ("index", _INTEGER_HELPER):
        return holders[id(reader)]
    return None


def _filled_before(body, new_memory):
    """{array of ``new_memory``: (the block binding it, the position of the last statement there writing
    it)} where every write of the array is in that block, after its binding."""
    filled = {}
    for block, _ in blocks(body):
        for index, statement in enumerate(block):
            target_value = assignment_of(statement)
            if target_value is None or target_value[0] not in new_memory or in_place_update_of(statement):
                continue
            name = target_value[0]
            writes = [k for k, other in enumerate(block) if name in _element_writes_within(other, {name})]
            everywhere = sum(1 for inner, _ in blocks(body) for other in inner
                             if isinstance(other, cst.SimpleStatementLine) and name in _element_writes(other, {name}))
            within = sum(1 for k in writes for inner, _ in blocks([block[k]]) for other in inner
                         if isinstance(other, cst.SimpleStatementLine) and name in _element_writes(other, {name}))
            if writes and min(writes) > index and within == everywhere:
                filled[name] = (block, max(writes))
    return filled


def _enclosing_statements(body):
    """{id of a nested block: (the block around it, the position there of the statement holding it)}."""
    found = {}

    def visit(statements):
        for index, statement in enumerate(statements):
            inner = []
            if isinstance(statement, (cst.For, cst.While)):
                inner = [statement.body.body]
            elif isinstance(statement, cst.If) and not is_exit_check(statement):
                inner = [statement.body.body] + ([statement.orelse.body.body] if statement.orelse is not None else [])
            for nested in inner:
                found[id(nested)] = (statements, index)
                visit(nested)

    visit(body)
    return found


def _after(block, filled, enclosing):
    """Whether ``block`` is nested in the block of ``filled`` (a block, the position of its last write)
    within a statement after that position."""
    home, last = filled
    while id(block) in enclosing:
        block, index = enclosing[id(block)]
        if block is home:
            return index > last
    return False


def _innermost_loops(body):
    """{id of a block: the innermost loop around it} (blocks outside every loop are left out)."""
    found = {}

    def visit(statements, loop):
        if loop is not None:
            found[id(statements)] = loop
        for statement in statements:
            if isinstance(statement, (cst.For, cst.While)):
                visit(statement.body.body, statement)
            elif isinstance(statement, cst.If) and not is_exit_check(statement):
                visit(statement.body.body, loop)
                if statement.orelse is not None:
                    visit(statement.orelse.body.body, loop)

    visit(body, None)
    return found


def rederived_views(body, views, written, group, invariant):
    """The rebound views ``b = a[j]`` the reverse sweep takes again, with their adjoint views
    ``b_adj = a_adj[j]``, instead of saving both references each iteration: ``a`` is never written
    (nor any name sharing its memory); the view's indices are numbers, invariant variables or the
    indices of loops around it not assigned in its block; and every statement mentioning ``b``
    follows the view in the same block (a mention inside a nested block counts as that block's
    statement there). Returns {view: its defining statement} and, per statement id, the views to
    take again where its reverse starts: the last statement mentioning them, whose adjoint is the
    first to read them or to add into their adjoint."""
    definitions, before = {}, {}
    for block, loop_indices in blocks(body):
        assigned = None  # the names the block assigns, found at its first view
        for index, statement in enumerate(block):
            target_value = assignment_of(statement)
            if target_value is None or target_value[0] not in views or in_place_update_of(statement) is not None:
                continue
            name, value = target_value
            if name in definitions or any(m in written for m in (group or {}).get(name, {name})):
                definitions[name] = None  # bound twice, or its memory is written: saved as before
                continue
            assigned = assigned if assigned is not None else set().union(*(_assigned_in(s) for s in block))
            held = all(o in invariant or (o in loop_indices and o not in assigned)
                       for o in computed_operation(value).operand_names()[1:])
            later = [k for k in range(index + 1, len(block)) if _mentions(name, [block[k]])]
            everywhere = _mentions(name, body) - 1  # (the view's own line names it)
            definitions[name] = statement if held and later and everywhere == sum(
                _mentions(name, [block[k]]) for k in later) else None
            if definitions[name] is not None:
                before[name] = id(block[later[-1]])
    chosen = {name: statement for name, statement in definitions.items() if statement is not None}
    at = {}
    for name in chosen:
        at.setdefault(before[name], []).append(name)
    return chosen, at


def _mentions(name, statements):
    """How many of ``statements`` (and the statements nested in them) mention ``name``; a compound
    statement mentions what its test or range reads."""
    count = 0
    for block, _ in blocks(statements):
        for statement in block:
            if isinstance(statement, cst.SimpleStatementLine):
                count += name in variables_in(statement)
            elif isinstance(statement, (cst.If, cst.While)):
                count += name in variables_in(statement.test)
            elif isinstance(statement, cst.For):
                count += name in variables_in(statement.iter) or name == statement.target.value
    return count
