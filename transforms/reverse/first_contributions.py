"""Pass 5c: a float adjoint known to be zero takes its first contribution by assignment.

The reverse sweep resets an adjoint (``d_adj = 0.0``) when it has passed the
definition of its variable, and the next statements add into it
(``d_adj += t``). ``0.0 + t`` is one addition more on the critical path of a
reverse loop, one that the compiler may not remove (it is not ``t`` when ``t``
is ``-0.0``). This pass follows which float adjoints are certainly zero through
the reverse sweep, branches and loops included, and writes ``d_adj = t`` (or
``d_adj = -t``) where it is — what one writes by hand.
"""

import libcst as cst


def assign_first_contributions(statements, scalars):
    """``statements`` (the reverse sweep) with ``+=`` / ``-=`` into a zero adjoint among ``scalars``
    (names of float adjoints) written as assignments."""
    return _Rewrite(scalars).block(statements, frozenset())[0]


class _Rewrite:
    def __init__(self, scalars):
        self.scalars = scalars
        self.universe = frozenset(scalars)
        self.summaries = {}  # id of a loop -> its body's summary (computed once: nesting stays linear)

    def block(self, statements, zero):
        """(rewritten statements, the adjoints certainly zero after them), from ``zero`` before."""
        rewritten = []
        for statement in statements:
            statement, zero = self.statement(statement, zero)
            rewritten.append(statement)
        return rewritten, zero

    def statement(self, statement, zero):
        if isinstance(statement, cst.SimpleStatementLine):
            small_statements = []
            for small in statement.body:
                small, zero = self.small(small, zero)
                small_statements.append(small)
            return statement.with_changes(body=small_statements), zero
        if isinstance(statement, cst.If):
            body, zero_body = self.block(statement.body.body, zero)
            orelse, zero_else = statement.orelse, zero
            if isinstance(orelse, cst.If):  # elif
                orelse, zero_else = self.statement(orelse, zero)
            elif orelse is not None:
                else_body, zero_else = self.block(orelse.body.body, zero)
                orelse = orelse.with_changes(body=orelse.body.with_changes(body=else_body))
            return statement.with_changes(body=statement.body.with_changes(body=body), orelse=orelse), zero_body & zero_else
        if isinstance(statement, (cst.For, cst.While)):
            # zero at the top of the body: zero before the loop and after every pass through it, the
            # greatest fixed point of entry = zero & body(entry), which for body(Z) = (Z & keep) | made
            # is zero & (keep | made), reached in one step
            entry = zero - _assigned(statement.target) if isinstance(statement, cst.For) else zero
            keep, made = self.loop_body_summary(statement)
            entry = entry & (keep | made)
            body, _ = self.block(statement.body.body, entry)
            return statement.with_changes(body=statement.body.with_changes(body=body)), entry
        return statement, frozenset()  # anything else: assume nothing

    # What a statement does to the set Z of zero adjoints, as ``Z -> (Z & keep) | made``: such
    # functions compose, meet at branches and close over loops without iterating.

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
                gone, zeroed = self.small_effect(small)
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
                keep = keep - _assigned(statement.target)
            return keep, frozenset()
        return frozenset(), frozenset()

    def small_effect(self, small):
        """(names no longer known zero, names now zero) after one small statement."""
        if isinstance(small, cst.Assign):
            target = small.targets[0].target
            if isinstance(target, cst.Name) and target.value in self.scalars and _is_zero(small.value):
                return frozenset(), frozenset({target.value})
            return frozenset().union(*(_assigned(t.target) for t in small.targets)), frozenset()
        if isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Name):
            return frozenset({small.target.value}), frozenset()
        return frozenset(), frozenset()

    def small(self, small, zero):
        if isinstance(small, cst.Assign):
            names = set().union(*(_assigned(t.target) for t in small.targets))
            target = small.targets[0].target
            if isinstance(target, cst.Name) and target.value in self.scalars and _is_zero(small.value):
                return small, zero | {target.value}
            return small, zero - names
        if isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Name):
            name = small.target.value
            if name in zero and isinstance(small.operator, (cst.AddAssign, cst.SubtractAssign)):
                value = small.value
                if isinstance(small.operator, cst.SubtractAssign):
                    value = cst.UnaryOperation(cst.Minus(), _parenthesized(value))
                return cst.Assign([cst.AssignTarget(small.target)], value), zero - {name}
            return small, zero - {name}
        return small, zero


def _assigned(target):
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        return set().union(*(_assigned(e.value) for e in target.elements))
    return set()


def _is_zero(node):
    return isinstance(node, cst.Float) and float(node.value) == 0.0


def _parenthesized(node):
    if isinstance(node, (cst.Name, cst.Float, cst.Integer, cst.Subscript, cst.Call, cst.Attribute)):
        return node
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
