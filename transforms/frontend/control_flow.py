"""The normal form of ``if``, ``for`` and ``while``: a test checked without derivatives (arrays it
assembles from lists computed first), a ``for`` over ``range`` with its bounds evaluated once
(other loops rewritten as one by ``iteration``), a ``while`` as ``while True`` with its exit check
first. Each takes the ``Normalizer`` (normalize.py), which normalizes their bodies.
"""

import libcst as cst

from .. import rules
from ..ir import assign, bound_names, nodes_in
from . import iteration
from .known_values import UNDECIDED, decided_value


def if_statement(normalizer, node):
    decided = decided_value(normalizer.parsed, node.test)
    if decided is not UNDECIDED:  # if USE_DRAG: (a module's flag): only the branch taken, as numba compiles it
        if decided:
            return normalizer.block(node.body.body)
        if isinstance(node.orelse, cst.If):
            return normalizer.statement(node.orelse)
        return normalizer.block(node.orelse.body.body) if isinstance(node.orelse, cst.Else) else []
    computed = []  # helpers the test calls, computed before it
    test = normalizer.inactive(_assembled_in_test(normalizer, node.test, computed), statements=computed)
    body = normalizer.block(node.body.body) or [cst.SimpleStatementLine([cst.Pass()])]
    orelse = None
    if isinstance(node.orelse, cst.If):
        orelse = cst.Else(cst.IndentedBlock(normalizer.statement(node.orelse)))
    elif isinstance(node.orelse, cst.Else):
        orelse_body = normalizer.block(node.orelse.body.body)
        orelse = cst.Else(cst.IndentedBlock(orelse_body)) if orelse_body else None
    return computed + [cst.If(test=test, body=cst.IndentedBlock(body), orelse=orelse)]

def for_statement(normalizer, node):
    if node.orelse is not None:
        raise normalizer.error("srcad does not support 'else' on loops", node.orelse, "Use a flag variable instead.")
    if node.asynchronous is not None:
        raise normalizer.error("srcad cannot differentiate 'async for'", node)
    if not (isinstance(node.target, cst.Name) and iteration.is_range(normalizer, node.iter)):
        before, loop = iteration.range_loop(normalizer, node, bound_names(node.body, unpacked=True))
        return [made for statement in before for made in normalizer.statement(statement)] + for_statement(normalizer, loop)
    iterator = node.iter
    if not 1 <= len(iterator.args) <= 3 or any(a.keyword or a.star for a in iterator.args):
        raise normalizer.error("range() takes one to three positional arguments here", iterator)
    statements, bounds = [], []
    roles = {1: ("stop",), 2: ("start", "stop"), 3: ("start", "stop", "step")}[len(iterator.args)]
    for argument, role in zip(iterator.args, roles):
        produced, atom = normalizer.expression(argument.value)
        if produced:  # evaluated once, before the loop, as Python does
            name = normalizer.names.fresh(f"{node.target.value}_{role}")
            produced[-1] = assign(name, produced[-1].body[0].value)
            atom = cst.Name(name)
        statements += produced
        bounds.append(atom)
    loop_range = cst.Call(cst.Name("range"), [cst.Arg(b) for b in bounds])
    body = normalizer.block(node.body.body) or [cst.SimpleStatementLine([cst.Pass()])]
    target = node.target
    if target.value in bound_names(node.body, unpacked=True):
        # the body sets the loop's variable itself (``i = idx[i]``): the loop counts in a variable of
        # its own, and each iteration starts the user's from it, so that the reverse sweep, which
        # sets the counter, finds the user's variable as the iteration left it
        counter = normalizer.names.fresh(f"{target.value}_counter")
        body = [assign(target.value, cst.Name(counter))] + body
        target = cst.Name(counter)
    return statements + [cst.For(target=target, iter=loop_range, body=cst.IndentedBlock(body))]

def while_statement(normalizer, node):
    if node.orelse is not None:
        raise normalizer.error("srcad does not support 'else' on loops", node.orelse, "Use a flag variable instead.")
    body = normalizer.block(node.body.body)
    if not (isinstance(node.test, cst.Name) and node.test.value == "True"):
        computed = []  # arrays the test assembles, computed again before each check
        test = normalizer.inactive(_assembled_in_test(normalizer, node.test, computed))  # (a helper called here is refused: see Canonicalize)
        exit_check = cst.If(
            test=cst.UnaryOperation(cst.Not(), test.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])),
            body=cst.IndentedBlock([cst.SimpleStatementLine([cst.Break()])]),
        )
        body = computed + [exit_check] + body
    return [cst.While(test=cst.Name("True"), body=cst.IndentedBlock(body))]

def _assembled_in_test(normalizer, test, statements):
    """``test`` with the arrays it assembles from lists (``np.array([s, x[0]])``, ``np.stack``) computed
    first, into ``statements``, as values are: a condition is checked without its lists."""

    def assembling(node):
        return isinstance(node, cst.Call) and normalizer.parsed.resolve(node.func).name in rules.ASSEMBLED_RULES and any(
            isinstance(argument.value, (cst.List, cst.Tuple)) for argument in node.args)

    if not any(assembling(node) for node in nodes_in(test)):
        return test  # (the same nodes: errors inside the test keep their positions)

    class Assembled(cst.CSTTransformer):
        def leave_Call(self, original, updated):
            return normalizer.flatten(original, statements, None) if assembling(original) else updated

    return test.visit(Assembled())


# the compound statements a function's body may hold -> the function giving their normal form
COMPOUND_STATEMENTS = {cst.If: if_statement, cst.For: for_statement, cst.While: while_statement}
