"""Which variables of a reverse sweep certainly hold zeros before each of its statements.

The reverse sweep resets adjoints to zero once it has passed their variable's definition and adds
into them afterwards; a contribution into an adjoint known to be zero can be written as what it is,
the first (``first_contributions``: ``d_adj = t``; ``handed_adjoints``: an array's whole memory).
This is the forward data flow both read: branches meet, and loops close without iterating, because
every statement acts on the set Z of zero variables as ``Z -> (Z & keep) | made``, and such
functions compose and meet in closed form.
"""

import libcst as cst


def zeros_before(statements, universe, effect):
    """{id of each small statement in ``statements``: the names of ``universe`` certainly zero before
    it}. ``effect(small)``: (the names it may make nonzero, the names it makes zero)."""
    flow = _Flow(frozenset(universe), effect)
    flow.block(statements, frozenset())
    return flow.before


def assigned_names(target):
    """The names an assignment target binds (each name of ``a, (b, c)``)."""
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        return set().union(*(assigned_names(e.value) for e in target.elements))
    return set()


class _Flow:
    def __init__(self, universe, effect):
        self.universe, self.effect = universe, effect
        self.before = {}
        self.summaries = {}  # id of a loop -> its body's summary (computed once: nesting stays linear)

    def block(self, statements, zero):
        for statement in statements:
            zero = self.statement(statement, zero)
        return zero

    def statement(self, statement, zero):
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                self.before[id(small)] = zero
                gone, made = self.effect(small)
                zero = (zero - gone) | made
            return zero
        if isinstance(statement, cst.If):
            zero_body = self.block(statement.body.body, zero)
            orelse, zero_else = statement.orelse, zero
            if isinstance(orelse, cst.If):  # elif
                zero_else = self.statement(orelse, zero)
            elif orelse is not None:
                zero_else = self.block(orelse.body.body, zero)
            return zero_body & zero_else
        if isinstance(statement, (cst.For, cst.While)):
            # zero at the top of the body: zero before the loop and after every pass through it, the
            # greatest fixed point of entry = zero & body(entry), which for body(Z) = (Z & keep) | made
            # is zero & (keep | made), reached in one step
            entry = zero - assigned_names(statement.target) if isinstance(statement, cst.For) else zero
            keep, made = self.loop_body_summary(statement)
            entry = entry & (keep | made)
            self.block(statement.body.body, entry)
            return entry
        return frozenset()  # anything else: assume nothing

    def loop_body_summary(self, loop):
        if id(loop) not in self.summaries:
            self.summaries[id(loop)] = self.block_summary(loop.body.body)
        return self.summaries[id(loop)]

    def block_summary(self, statements):
        keep, made = self.universe, frozenset()
        for statement in statements:
            keep_next, made_next = self.statement_summary(statement)
            keep, made = keep & keep_next, (made & keep_next) | made_next
        return keep, made

    def statement_summary(self, statement):
        if isinstance(statement, cst.SimpleStatementLine):
            keep, made = self.universe, frozenset()
            for small in statement.body:
                gone, zeroed = self.effect(small)
                keep, made = keep - gone, (made - gone) | zeroed
            return keep, made
        if isinstance(statement, cst.If):
            keep_body, made_body = self.block_summary(statement.body.body)
            orelse = statement.orelse
            if isinstance(orelse, cst.If):
                keep_else, made_else = self.statement_summary(orelse)
            elif orelse is not None:
                keep_else, made_else = self.block_summary(orelse.body.body)
            else:
                keep_else, made_else = self.universe, frozenset()
            keep = (keep_body & keep_else) | (keep_body & made_else) | (made_body & keep_else)
            return keep, made_body & made_else
        if isinstance(statement, (cst.For, cst.While)):
            keep, made = self.loop_body_summary(statement)
            keep = keep | made
            if isinstance(statement, cst.For):
                keep = keep - assigned_names(statement.target)
            return keep, frozenset()
        return frozenset(), frozenset()
