"""Reverse mode of control flow, mixed into ``ReverseMode``: ``if`` and loops.

A branch's decision is kept for the reverse sweep, which takes the same branch; a loop counts its
iterations and the reverse sweep runs them backwards (``range`` loops recompute their index from
the saved start and step). ``block``, ``push``, ``pop`` and ``save`` come from ``ReverseMode``.
"""

import libcst as cst

from srcad.transforms.statements import is_exit_check
from srcad.transforms.ir import assign
from srcad.transforms.precedence import spelled



def _line(code):
    return cst.parse_statement(code)


def _branches(test, body, orelse):
    """``if test: body else: orelse`` (a ``pass`` for an empty body; no else for an empty one)."""
    return cst.If(
        test=cst.Name(test),
        body=cst.IndentedBlock(body or [_line("pass")]),
        orelse=cst.Else(cst.IndentedBlock(orelse)) if orelse else None,
    )


def _is_literal(node, text):
    return isinstance(node, cst.Integer) and node.value == text


class ControlFlowAdjoints:
    def conditional(self, statement):
        """``if``: its decision is kept for the reverse sweep, in a variable of its own where the ``if``
        runs once (not in a loop), else on the int tape (pushed after the branch's own pushes)."""
        if is_exit_check(statement):
            return [statement], []
        depth = self.branch_depth
        if depth == len(self.branch_names):
            self.branch_names.append(self.names.fresh("branch"))
        self.branch_depth += 1
        body_forward, body_reverse = self.block(statement.body.body)
        else_forward, else_reverse = self.block(statement.orelse.body.body) if statement.orelse else ([], [])
        self.branch_depth -= 1
        if not body_reverse and not else_reverse:
            return [statement], []
        once = self.loop_depth == 0
        decision = self.names.fresh("took_branch") if once else self.branch_names[depth]
        if once and depth > 0:
            self.nested_decisions.append(decision)
        forward = [
            assign(decision, statement.test).with_changes(leading_lines=statement.leading_lines),
            _branches(decision, body_forward, else_forward),
        ]
        if once:
            return forward, [_branches(decision, body_reverse, else_reverse)]
        reverse = [self.pop(self.took_branch, as_float=False), _branches(self.took_branch, body_reverse, else_reverse)]
        return forward + [self.push(decision)], reverse

    def _loop_body(self, statement, counter):
        body = list(statement.body.body)
        leading = [body.pop(0)] if body and is_exit_check(body[0]) else []
        body_forward, body_reverse = self.block(body)
        count = _line(f"{counter} += 1")
        return leading + [count] + body_forward, body_reverse

    def for_loop(self, statement):
        index = statement.target.value
        # one counter per nesting depth: nested loops may share an index name (`for _ in ...`)
        counter = self.scratch_name(index, "iterations" if not self.loop_depth else f"iterations_{self.loop_depth}")
        self.loop_depth += 1
        body_forward, body_reverse = self._loop_body(statement, counter)
        self.loop_depth -= 1
        recorded = index in self.analysis.recorded
        if not body_reverse:
            if not recorded:
                return [statement], []
            return [self.save(index).with_changes(leading_lines=statement.leading_lines), statement.with_changes(leading_lines=[])], [self.pop(index)]
        bounds = [a.value for a in statement.iter.args]
        start = bounds[0] if len(bounds) >= 2 else cst.Integer("0")
        step = bounds[2] if len(bounds) == 3 else cst.Integer("1")
        saved = [(b, self.scratch_name(index, role)) for b, role in ((start, "start"), (step, "step"))
                 if not isinstance(b, cst.Integer)]  # fmt: skip
        forward = [self.save(index)] if recorded else []
        forward += [
            assign(counter, cst.Integer("0")),
            statement.with_changes(body=cst.IndentedBlock(body_forward), leading_lines=[]),
        ]
        forward += [self.push(spelled(b)) for b, _ in saved] + [self.push(counter)]
        forward[0] = forward[0].with_changes(leading_lines=statement.leading_lines)
        reverse = [self.pop(counter, as_float=False)]
        reverse += [self.pop(name, as_float=False) for _, name in reversed(saved)]
        restored = {id(b): cst.Name(n) for b, n in saved}
        start, step = restored.get(id(start), start), restored.get(id(step), step)
        if _is_literal(start, "0") and _is_literal(step, "1"):
            loop = _line(f"for {index} in range({counter} - 1, -1, -1):\n    pass").with_changes(
                body=cst.IndentedBlock(body_reverse)
            )
        else:
            iteration = self.scratch_name(index, "iteration")
            position = cst.BinaryOperation(start, cst.Add(), cst.BinaryOperation(cst.Name(iteration), cst.Multiply(), step))
            loop = _line(f"for {iteration} in range({counter} - 1, -1, -1):\n    pass").with_changes(
                body=cst.IndentedBlock([assign(index, position)] + body_reverse)
            )
        reverse.append(loop)
        if recorded:
            reverse.append(self.pop(index))
        return forward, reverse

    def while_loop(self, statement):
        counter = self.names.fresh("iterations")
        self.loop_depth += 1
        body_forward, body_reverse = self._loop_body(statement, counter)
        self.loop_depth -= 1
        if not body_reverse:
            return [statement], []
        forward = [
            assign(counter, cst.Integer("0")).with_changes(leading_lines=statement.leading_lines),
            statement.with_changes(body=cst.IndentedBlock(body_forward), leading_lines=[]),
            self.push(counter),
        ]
        loop = _line(f"for _ in range({counter}):\n    pass").with_changes(body=cst.IndentedBlock(body_reverse))
        return forward, [self.pop(counter, as_float=False), loop]
