"""Pass 3: lower ``break``, ``continue`` and early ``return`` to flags, leaving one exit.

After this pass a loop body contains no ``continue``, and ``break`` only in an
*exit check* ``if <test>: break``, which stands first or last in the body. The
reverse pass counts the iterations a loop ran and needs nothing else: code
after a jump is guarded by ``if not (<flags>):``, an ``if`` like any other.
The function ends with its only ``return``.
"""

import libcst as cst

from ..ir import assign
from ..ir.statements import is_exit_check

_TRUE = cst.Name("True")


def _small(statement):
    return statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else None


def _flag_test(flags, negate):
    names = [cst.Name(f) for f in sorted(flags)]
    test = names[0]
    for name in names[1:]:
        test = cst.BooleanOperation(test, cst.Or(), name)
    if negate:
        if len(names) > 1:
            test = test.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        test = cst.UnaryOperation(cst.Not(), test)
    return test


class _Loop:
    def __init__(self, names):
        self.names = names
        self.broke = None
        self.continued = None

    def flag(self, kind):
        if getattr(self, kind) is None:
            setattr(self, kind, self.names.fresh(kind))
        return getattr(self, kind)


class SingleExit:
    def __init__(self, names):
        self.names = names
        self.result = None  # the variables holding the result: one, or one per part of a tuple
        self.is_tuple = False
        self.returned = None

    def function(self, definition):
        body = list(definition.body.body)
        if _count_jumps(body) == 0 and isinstance(_small(body[-1]), cst.Return):
            return definition
        last = _small(body[-1])
        final_return = None
        if isinstance(last, cst.Return) and _count_returns(body) == 1:
            final_return, body = body[-1], body[:-1]
        lowered, _ = self.block(body, loop=None)
        if final_return is None:
            if self.result is None:
                raise AssertionError("normalize guarantees a return")  # pragma: no cover
            results = [cst.Name(r) for r in self.result]
            value = results[0] if not self.is_tuple else cst.Tuple([cst.Element(r) for r in results])
            final_return = cst.SimpleStatementLine([cst.Return(value)])
        prologue = []
        if self.returned:
            # `result = 0.0` gives numba a definition on every path, even when it prunes the branches
            # that return under constant tests (`if DEBUG:`); `without_placeholders` drops it for results
            # that are arrays, which 0.0 cannot stand for.
            prologue = [assign(self.returned, cst.Name("False"))] + [assign(r, cst.Float("0.0")) for r in self.result]
        return definition.with_changes(body=definition.body.with_changes(body=prologue + lowered + [final_return]))

    def block(self, statements, loop):
        lowered = []
        for index, statement in enumerate(statements):
            produced, flags = self.statement(statement, loop)
            lowered.extend(produced)
            if flags:
                rest, rest_flags = self.block(statements[index + 1 :], loop)
                if rest:
                    lowered.append(cst.If(test=_flag_test(flags, negate=True), body=cst.IndentedBlock(rest)))
                return lowered, flags | rest_flags
        return lowered, set()

    def statement(self, statement, loop):
        small = _small(statement)
        if isinstance(small, cst.Return):
            values = [e.value for e in small.value.elements] if isinstance(small.value, cst.Tuple) else [small.value]
            if self.result is None:  # a tuple output (normalize made it a tuple of atoms) has one result per part
                self.is_tuple = isinstance(small.value, cst.Tuple)
                self.result = [self.names.fresh("result") for _ in values]
                self.returned = self.names.fresh("returned")
            produced = [assign(r, v) for r, v in zip(self.result, values)] + [assign(self.returned, _TRUE)]
            produced[0] = produced[0].with_changes(leading_lines=statement.leading_lines)
            return produced, {self.returned}
        if isinstance(small, cst.Break):
            return [assign(loop.flag("broke"), _TRUE).with_changes(leading_lines=statement.leading_lines)], {
                loop.broke
            }
        if isinstance(small, cst.Continue):
            flag = loop.flag("continued")
            return [assign(flag, _TRUE).with_changes(leading_lines=statement.leading_lines)], {flag}
        if isinstance(statement, cst.If):
            body, flags = self.block(statement.body.body, loop)
            orelse = statement.orelse
            if orelse is not None:
                else_body, else_flags = self.block(orelse.body.body, loop)
                flags |= else_flags
                orelse = orelse.with_changes(body=cst.IndentedBlock(else_body)) if else_body else None
            body = body or [cst.SimpleStatementLine([cst.Pass()])]
            return [statement.with_changes(body=cst.IndentedBlock(body), orelse=orelse)], flags
        if isinstance(statement, (cst.For, cst.While)):
            return self.loop(statement)
        return [statement], set()

    def loop(self, statement):
        body = list(statement.body.body)
        leading_check = [body.pop(0)] if body and is_exit_check(body[0]) else []
        loop = _Loop(self.names)
        lowered, flags = self.block(body, loop)
        before, prologue, epilogue = [], [], []
        if loop.continued:
            prologue.append(assign(loop.continued, cst.Name("False")))
        exits = {f for f in (loop.broke, self.returned) if f and f in flags}
        if loop.broke:
            before.append(assign(loop.broke, cst.Name("False")))
        if exits:
            epilogue.append(
                cst.If(
                    test=_flag_test(exits, negate=False),
                    body=cst.IndentedBlock([cst.SimpleStatementLine([cst.Break()])]),
                )
            )
        new_body = leading_check + prologue + lowered + epilogue
        if before:
            before[0] = before[0].with_changes(leading_lines=statement.leading_lines)
            statement = statement.with_changes(leading_lines=[])
        escaping = {self.returned} if self.returned in flags else set()
        return before + [statement.with_changes(body=cst.IndentedBlock(new_body))], escaping


class _Jumps(cst.CSTVisitor):
    def __init__(self):
        self.jumps = 0
        self.returns = 0

    def visit_Break(self, node):
        self.jumps += 1

    def visit_Continue(self, node):
        self.jumps += 1

    def visit_Return(self, node):
        self.returns += 1


def _visit(statements):
    visitor = _Jumps()
    for statement in statements:
        statement.visit(visitor)
    return visitor


def _count_jumps(statements):
    visitor = _visit(statements)
    return visitor.jumps + visitor.returns - 1


def _count_returns(statements):
    return _visit(statements).returns


def single_exit(definition, names):
    """``definition`` with breaks, continues and early returns lowered to flags."""
    return SingleExit(names).function(definition)


def without_placeholders(definition):
    """``definition`` without the ``result = 0.0`` placeholders of its results (for results that
    turn out to be arrays); the same definition when it has none."""
    body = list(definition.body.body)
    returned = body[-1].body[0].value
    results = {e.value.value for e in returned.elements} if isinstance(returned, cst.Tuple) else {getattr(returned, "value", None)}

    def is_placeholder(statement):
        small = _small(statement)
        return (isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Name)
                and small.targets[0].target.value in results and isinstance(small.value, cst.Float))

    kept = [s for k, s in enumerate(body) if not (k < len(results) + 1 and is_placeholder(s))]
    return definition.with_changes(body=definition.body.with_changes(body=kept))
