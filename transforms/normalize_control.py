"""Normalization of control flow (mixed into ``Normalizer``): ``if`` with its test computed
inactive, ``for`` over ``range`` with its bounds computed once before the loop (loops over items
are first written as such, see ``iteration``), and ``while``
as ``while True`` with an exit check first, the form the later passes take."""

import libcst as cst

from srcad.transforms.ir import assign, bound_names
from srcad.transforms import iteration


class ControlFlowNormalizing:
    """Mixed into ``Normalizer``: ``self.block``, ``self.inactive``, ``self.expression``... come from it."""

    def compound_If(self, node):
        computed = []  # helpers the test calls, computed before it
        test = self.inactive(node.test, statements=computed)
        body = self.block(node.body.body) or [cst.SimpleStatementLine([cst.Pass()])]
        orelse = None
        if isinstance(node.orelse, cst.If):
            orelse = cst.Else(cst.IndentedBlock(self.statement(node.orelse)))
        elif isinstance(node.orelse, cst.Else):
            orelse_body = self.block(node.orelse.body.body)
            orelse = cst.Else(cst.IndentedBlock(orelse_body)) if orelse_body else None
        return computed + [cst.If(test=test, body=cst.IndentedBlock(body), orelse=orelse)]

    def compound_For(self, node):
        if node.orelse is not None:
            raise self.error("srcad does not support 'else' on loops", node.orelse, "Use a flag variable instead.")
        if node.asynchronous is not None:
            raise self.error("srcad cannot differentiate 'async for'", node)
        if not (isinstance(node.target, cst.Name) and iteration.is_range(self, node.iter)):
            before, loop = iteration.range_loop(self, node, bound_names(node.body, unpacked=True))
            return [made for statement in before for made in self.statement(statement)] + self.compound_For(loop)
        iterator = node.iter
        if not 1 <= len(iterator.args) <= 3 or any(a.keyword or a.star for a in iterator.args):
            raise self.error("range() takes one to three positional arguments here", iterator)
        statements, bounds = [], []
        roles = {1: ("stop",), 2: ("start", "stop"), 3: ("start", "stop", "step")}[len(iterator.args)]
        for argument, role in zip(iterator.args, roles):
            produced, atom = self.expression(argument.value)
            if produced:  # evaluated once, before the loop, as Python does
                name = self.names.fresh(f"{node.target.value}_{role}")
                produced[-1] = assign(name, produced[-1].body[0].value)
                atom = cst.Name(name)
            statements += produced
            bounds.append(atom)
        loop_range = cst.Call(cst.Name("range"), [cst.Arg(b) for b in bounds])
        body = self.block(node.body.body) or [cst.SimpleStatementLine([cst.Pass()])]
        return statements + [cst.For(target=node.target, iter=loop_range, body=cst.IndentedBlock(body))]

    def compound_While(self, node):
        if node.orelse is not None:
            raise self.error("srcad does not support 'else' on loops", node.orelse, "Use a flag variable instead.")
        body = self.block(node.body.body)
        if not (isinstance(node.test, cst.Name) and node.test.value == "True"):
            test = self.inactive(node.test)  # (a helper called here is refused: see Canonicalize)
            exit_check = cst.If(
                test=cst.UnaryOperation(cst.Not(), test.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])),
                body=cst.IndentedBlock([cst.SimpleStatementLine([cst.Break()])]),
            )
            body = [exit_check] + body
        return [cst.While(test=cst.Name("True"), body=cst.IndentedBlock(body))]
