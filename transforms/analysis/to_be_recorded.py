"""Which assignments save the value they overwrite: to-be-recorded analysis, statement by statement.

``activity`` finds the variables some adjoint reads and that are assigned more than once (the
*recorded* names). An assignment of such a variable needs to save the value it overwrites only if
the reverse sweep reads that very value: if some read can run before the assignment, in the forward
sweep, with no other assignment of the variable in between (Hascoët and Pascual's to-be-recorded
analysis). The read's adjoint then runs after the assignment's in the reverse sweep, which must put
the old value back first. So

    s = 0.0
    for i in range(n):
        s += math.exp(x[i] - a)    # the adjoint of s += e reads neither s nor e's old values
    return a + math.log(s)         # reads the final s, which the reverse sweep still holds

saves nothing for ``s``; and in a loop over points whose body starts ``e = 0.0``, accumulates ``e``
and ends reading ``log(e)``, only ``e = 0.0`` saves (the value the previous point's ``log(e)`` read).

The analysis follows the forward sweep's control flow: at each point, the set of variables whose
current value some read of the reverse sweep has taken (``live``). A read adds its variable; an
assignment finds whether its variable is there (then it saves), and removes it. A statement's own
operand is read before it assigns (``s = s * a``); its own result after (``y = exp(x)``, whose
adjoint reads ``y``). Loops run to a fixed point; a ``for`` loop's index is put back by the reverse
loop itself, so only the value before the loop may need saving. The reverse sweep also reads the
operands of the values it computes again (``recompute``), where it computes them. A loop whose
iterations are reversed as they end (``independent_terms``) consumes its reads within each iteration.
"""

import libcst as cst

from ..ir.statements import assignment_of, is_exit_check
from .recompute import computed_operation


def unsaved_assignments(body, recorded, reads, own_reads, recomputed, arrays, per_term_loops=frozenset()):
    """ids of the statements assigning scalar names in ``recorded`` (assignments, and ``for``
    loops of their index) that need not save the value they overwrite. ``reads``: name -> the
    statements whose adjoint reads it; ``own_reads``: {(name, id(statement))} where the statement's
    adjoint reads the name's value from before the statement assigns it; ``recomputed``: name -> its
    defining statement, run again in the reverse sweep; ``arrays``: names of arrays (left alone);
    ``per_term_loops``: ids of the loops whose iterations are reversed as they end
    (``independent_terms``)."""
    reads, own_reads = _with_recomputed_operands(reads, own_reads, recomputed)
    before, after = {}, {}  # id(statement) -> names its adjoint reads from before / after it assigns
    for name, readers in reads.items():
        for reader in readers:
            target = assignment_of(reader)
            reads_result = target is not None and target[0] == name and (name, id(reader)) not in own_reads
            (after if reads_result else before).setdefault(id(reader), set()).add(name)
    flow = _Flow(recorded - arrays, before, after, per_term_loops)
    flow.block(body, frozenset())
    return flow.assignments - flow.saving


class _Flow:
    """The forward sweep's control flow, with the set of variables whose value a read has taken."""

    def __init__(self, names, before, after, per_term_loops):
        self.names = names  # the variables followed
        self.before, self.after = before, after
        self.per_term_loops = per_term_loops
        self.assignments, self.saving = set(), set()  # ids: assignments of followed names; those that save
        self.exits = []  # per enclosing loop, the sets at its breaks

    def block(self, statements, live):
        for statement in statements:
            live = self.statement(statement, live)
        return live

    def statement(self, statement, live):
        if isinstance(statement, cst.If):
            if is_exit_check(statement):
                self.exits[-1].append(live)
                return live
            taken = self.block(statement.body.body, live)
            other = self.block(statement.orelse.body.body, live) if statement.orelse is not None else live
            return taken | other
        if isinstance(statement, (cst.For, cst.While)):
            return self.loop(statement, live)
        if isinstance(statement, cst.SimpleStatementLine) and isinstance(statement.body[0], cst.Break):
            self.exits[-1].append(live)
            return frozenset()
        live = live | self.before.get(id(statement), frozenset())
        target = assignment_of(statement)
        if target is not None and target[0] in self.names:
            live = self.assign(statement, target[0], live)
        return live | self.after.get(id(statement), frozenset())

    def assign(self, statement, name, live):
        self.assignments.add(id(statement))
        if name in live:
            self.saving.add(id(statement))
        return live - {name}

    def loop(self, statement, live):
        live = live | self.before.get(id(statement), frozenset())  # bounds the reverse sweep counts trips from
        index = statement.target.value if isinstance(statement, cst.For) and isinstance(statement.target, cst.Name) else None
        if index in self.names:  # the reverse loop sets the index per iteration: only the value before it matters
            live = self.assign(statement, index, live)
        if id(statement) in self.per_term_loops:
            # each iteration's adjoint runs as it ends, reading what it reads and putting back what it
            # saved: every iteration starts from the values the loop started from, and leaves them
            self.block(statement.body.body, live - {index})
            return live - {index}
        head = live
        while True:
            self.exits.append([])
            end = self.block(statement.body.body, head - {index})
            exits = self.exits.pop()
            widened = head | end
            if widened == head:
                break
            head = widened
        return frozenset().union(head, *exits) - {index}


def _with_recomputed_operands(reads, own_reads, recomputed):
    """``reads`` and ``own_reads`` with the operands of every recomputed value read where it is."""
    reads = {name: list(readers) for name, readers in reads.items()}
    own_reads = set(own_reads)
    changed = True
    while changed:
        changed = False
        for name, statement in recomputed.items():
            for operand in computed_operation(assignment_of(statement)[1]).operand_names():
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
