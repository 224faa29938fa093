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
            # zero at the top of the body: zero before the loop and after every pass through it
            entry = zero - _assigned(statement.target) if isinstance(statement, cst.For) else zero
            while True:
                _, after = self.block(statement.body.body, entry)
                narrower = entry & after
                if narrower == entry:
                    break
                entry = narrower
            body, _ = self.block(statement.body.body, entry)
            return statement.with_changes(body=statement.body.with_changes(body=body)), entry
        return statement, frozenset()  # anything else: assume nothing

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
