"""A reverse loop adding into several elements of one array per iteration runs as one loop per element.

The adjoint of a stencil ``v[i + 1] = u[i] - 2 * u[i + 1] + u[i + 2]`` adds into ``u_adj[i]``,
``u_adj[i + 1]`` and ``u_adj[i + 2]`` in each iteration: iteration ``i + 1`` adds into an element
iteration ``i`` added into, so the compiler keeps the iterations in order, one element at a time
(a 1-D wave's reverse loop: 2.4x slower than the same additions in loops of their own). Once
``loop_order`` has found the iterations independent (every array either only added into, or
read and written at the iteration's own element), such a loop is split: loop ``k`` makes the
``k``-th addition into each such array, with the statements that compute its value (computed
again: they are element reads and arithmetic, cheaper than keeping them); the last loop makes the
rest, the array writes other than those additions, in the order written. Each loop adds into one
element of each array per iteration, which vectorizes.

Only loops whose body is straight statements, one per line, are split, only for arrays added into
at elements each iteration owns (``u_adj[i_plus_2]``, not ``x_adj[a_k]``: a gather's additions may
meet whichever loop makes them), and only where every element the loop both reads and writes is
read before it is written (the values the earlier loops read are the ones the original read).
"""

from dataclasses import dataclass, field

import libcst as cst

from ..ir import all_names, nodes_in
from ..ir.precedence import spelled
from ..ir.statements import index_spelling

_PURE = {"abs", "min", "max", "float", "int", "len", "range", "rolled_position", "integer_power"}  # plain-name calls computed again


def split_additions(loop, added_at):
    """``loop`` as a list of loops (itself alone where it is not split). ``added_at``: {array only
    added into: [the element spellings of its additions, first seen first]}, for arrays added into
    at elements the iterations own."""
    spreading = {array: spellings for array, spellings in added_at.items() if len(spellings) > 1}
    body = list(loop.body.body)
    if not spreading or not all(_single(statement) for statement in body):
        return [loop]
    facts = [_facts(statement) for statement in body]
    if not _reads_before_writes(facts):
        return [loop]
    rounds = max(len(spellings) for spellings in spreading.values())
    round_of = {}  # position of an addition into a spreading array -> the loop making it
    for position, fact in enumerate(facts):
        if fact.array in spreading and fact.added:
            round_of[position] = spreading[fact.array].index(fact.element)
    loops = []
    for k in range(rounds):
        if k < rounds - 1:
            effects = [p for p, r in round_of.items() if r == k]
        else:
            effects = [p for p, fact in enumerate(facts) if fact.array is not None and round_of.get(p, k) == k]
        kept = sorted(_with_inputs(effects, facts))
        statements = [body[p] for p in kept]
        if body[0].leading_lines and kept[0] != 0:  # each loop under the line it comes from
            statements[0] = statements[0].with_changes(leading_lines=body[0].leading_lines)
        loops.append(loop.with_changes(body=loop.body.with_changes(body=statements),
                                       leading_lines=loop.leading_lines if k == 0 else []))
    return loops


@dataclass
class _Facts:
    """What one statement of a loop body binds, reads and writes."""

    binds: set
    reads: set
    array: str | None = None  # the array of the element it writes, its spelling, whether it adds into it
    element: str | None = None
    added: bool = False
    arrays_read: set = field(default_factory=set)


def _single(statement):
    """A line binding one name or writing one element of a named array, calling nothing that could
    give another value when computed again (a random draw)."""
    if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
        return False
    small = statement.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = small.targets[0].target
    elif isinstance(small, cst.AugAssign):
        target = small.target
    else:
        return False
    if not (isinstance(target, cst.Name) or (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name))):
        return False
    calls = [node for node in nodes_in(small) if isinstance(node, cst.Call)]
    return all(not isinstance(call.func, cst.Name) or call.func.value in _PURE for call in calls) and all(
        "random" not in spelled(call.func) for call in calls)


def _facts(statement):
    small = statement.body[0]
    target = small.target if isinstance(small, cst.AugAssign) else small.targets[0].target
    arrays_read = {node.value.value for node in nodes_in(small.value)
                   if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name)}
    reads = all_names(small.value)
    if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
        added = isinstance(small, cst.AugAssign) and isinstance(small.operator, (cst.AddAssign, cst.SubtractAssign))
        if isinstance(small, cst.AugAssign) and not added:
            arrays_read.add(target.value.value)
        reads |= set().union(*(all_names(element) for element in target.slice))
        return _Facts(set(), reads, target.value.value, index_spelling(target), added, arrays_read)
    binds = {target.value} if isinstance(target, cst.Name) else set()
    if isinstance(small, cst.AugAssign):
        reads |= binds
    return _Facts(binds, reads, arrays_read=arrays_read)


def _reads_before_writes(facts):
    """Whether each array the body writes other than by additions alone is read only before it is
    first written (then the split loops, all reading before the last writes, read the same values)."""
    written_at = {}
    for position, fact in enumerate(facts):
        if fact.array is not None:
            written_at.setdefault(fact.array, position)
    for position, fact in enumerate(facts):
        for array in fact.arrays_read:
            if array in written_at and written_at[array] < position:
                return False
    return True


def _with_inputs(effects, facts):
    """The positions of ``effects`` and of the statements computing what they read, transitively
    (each read from the last statement before it binding that name)."""
    kept, pending = set(effects), list(effects)
    while pending:
        position = pending.pop()
        for name in facts[position].reads:
            source = next((p for p in range(position - 1, -1, -1) if name in facts[p].binds), None)
            if source is not None and source not in kept:
                kept.add(source)
                pending.append(source)
    return kept
