"""Pass 5c, first half: a reverse-sweep loop reads the values its iterations pop where they lie on the tape.

A forward loop that pushes the same number of values in every iteration (the old ``tmp[i]``
before ``tmp[i] = y[i] + h * k[i]``) leaves them on the tape in rows, one row per iteration, and
its reverse loop pops them back, last first. Popping carries the top of the stack from one
iteration to the next, so the loop must count down and no compiler vectorizes it. Where a reverse
loop ``for k in range(N - 1, -1, -1)`` pops a fixed number P of values per iteration, straight in
its body and nowhere deeper, this pass lowers the top by N * P once before the loop and reads
iteration k's values in place, at ``top + k * P + j``: the iterations no longer depend on each
other through the tape, and ``loop_order`` may make the loop count up.

A pop that gives an array element back its old value (``tmp[i] = tape_floats[...]``) moves into a
loop of its own before the loop, where that is the same thing: the element differs from one
iteration to the next, and the loop touches the array only there, after the restore. The restores
become a copy, and the loop no longer writes a primal array next to its adjoints, which kept LLVM
from vectorizing it (RK4's four element loops per step: its gradient 0.41 -> 0.29 ms).
"""

from collections import Counter

import libcst as cst

from ..ir import all_names, assign, bound_names, names_in, nodes_in, variables_in
from ..ir.flow import assigned_names, index_names, owned_element
from ..ir.precedence import spelled
from ..ir.statements import index_atoms, index_spelling
from .reserve import is_pop


def counting_down(loop):
    """N for ``for i in range(N - 1, -1, -1)``, else None."""
    call = loop.iter
    if not (isinstance(loop.target, cst.Name) and isinstance(call, cst.Call) and spelled(call.func) == "range"):
        return None
    arguments = [spelled(a.value) for a in call.args]
    if len(arguments) != 3 or arguments[1:] != ["-1", "-1"]:
        return None
    first = call.args[0].value
    if isinstance(first, cst.BinaryOperation) and isinstance(first.operator, cst.Subtract):
        if isinstance(first.right, cst.Integer) and first.right.value == "1":
            return first.left
    return None


def pops_in_place(loop, tape, groups):
    """The statements replacing ``loop`` (a reverse loop, ``counting_down``), or None where it pops
    nothing or not a fixed number of values per iteration. ``tape``: the stacks (reserve.Tape);
    ``groups``: array name -> the memory groups it may share."""
    body = list(loop.body.body)
    pops = [k for k, statement in enumerate(body) if is_pop(statement, tape)]
    if not pops:
        return None
    stacks = {tape.floats: tape.floats_top, tape.ints: tape.ints_top}
    others = [statement for position, statement in enumerate(body) if position not in pops]
    if all_names(cst.Module(body=others)) & tape.names():
        return None  # a push, or a pop deeper in the body: the rows are not all alike
    count = counting_down(loop)
    iteration = loop.target.value
    if iteration in assigned_names(body):
        return None  # (the iteration's number is where its row is)
    popped = Counter(_popped_stack(body[position]) for position in pops)  # stack -> values popped per iteration
    taken = dict.fromkeys(popped, 0)
    for position in pops:
        stack = _popped_stack(body[position])
        per_iteration = popped[stack]
        offset = per_iteration - 1 - taken[stack]  # the last value pushed is popped first
        taken[stack] += 1
        row = iteration if per_iteration == 1 else f"{iteration} * {per_iteration}"
        place = f"{stacks[stack]} + {row}" + (f" + {offset}" if offset else "")
        target = body[position].body[1].targets[0].target
        body[position] = assign(target, cst.parse_expression(f"{stack}[{place}]")).with_changes(
            leading_lines=body[position].leading_lines)
    before = [
        cst.parse_statement(f"{stacks[stack]} -= {_times(count, per_iteration)}") for stack, per_iteration in popped.items()
    ]
    restores = []
    for position in reversed(pops):
        restore = _restore_loop(body, position, iteration, count, groups)
        if restore is not None:
            restores.insert(0, restore)
            following = body[position + 1] if position + 1 < len(body) else None
            if following is not None:
                body[position + 1] = following.with_changes(
                    leading_lines=[*body[position].leading_lines, *following.leading_lines])
            del body[position]
    if not body:
        body = [cst.SimpleStatementLine([cst.Pass()])]
    statements = before + restores + [loop.with_changes(body=loop.body.with_changes(body=body), leading_lines=[])]
    statements[0] = statements[0].with_changes(leading_lines=loop.leading_lines)
    return statements


def _popped_stack(pop):
    return pop.body[1].value.value.value  # `top -= 1; name = stack[top]`


def _times(count, factor):
    if factor == 1:
        return spelled(count)
    return spelled(cst.BinaryOperation(count, cst.Multiply(), cst.Integer(str(factor))))


def _restore_loop(body, position, iteration, count, groups):
    """A loop restoring, for every iteration at once, the array element that ``body[position]`` (an
    in-place pop) gives back, or None where moving it would change what the body reads."""
    restore = body[position]
    target = restore.body[0].targets[0].target
    if not (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name)):
        return None
    array, element = target.value.value, index_spelling(target)
    if array not in groups or element is None:
        return None
    memory = groups[array]
    sharing = {name for name, group in groups.items() if group & memory}
    for earlier in body[:position]:  # the body reads the array only after it is restored ...
        if variables_in(earlier) & sharing:
            return None
    for later in body[position + 1:]:  # ... and there, only the restored element, never writing it
        if not _reads_only(later, array, element, sharing):
            return None
    own, assigned, parts = index_names(body, iteration), assigned_names(body), index_atoms(target)
    if not owned_element(parts, own, assigned):
        # an element that may be the same in two iterations (``tmp[m]``, ``tmp[j]`` with ``j = i - 1``):
        # each restore is read before the next one
        return None
    needed = {p.value for p in parts if isinstance(p, cst.Name)}
    definitions = []  # the statements computing the element's index from the iteration's number
    for earlier in reversed(body[:position]):
        names = bound_names(earlier)
        if names & needed:
            if not (isinstance(earlier, cst.SimpleStatementLine) and names <= own):
                return None
            definitions.insert(0, earlier.with_changes(leading_lines=[]))
            needed = (needed - names) | names_in(earlier.body[0].value)
    if (needed - {iteration}) & assigned:
        return None  # a name the body assigns only after the restore: the previous iteration's value
    loop = cst.parse_statement(f"for {iteration} in range({spelled(count)}):\n    pass")
    return loop.with_changes(body=cst.IndentedBlock(definitions + [restore.with_changes(leading_lines=[])]))


def _reads_only(statement, array, element, sharing):
    """Whether ``statement`` uses the memory of ``array`` only to read ``array[element]`` (or its
    sizes)."""
    for node in nodes_in(statement):
        if isinstance(node, (cst.Assign, cst.AugAssign)):
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            for target in targets:
                if isinstance(target, cst.Subscript) and variables_in(target.value) & sharing:
                    return False
    uses = 0
    accepted = 0
    for node in nodes_in(statement):
        if isinstance(node, cst.Name) and node.value in sharing:
            uses += 1
        elif isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name) and node.value.value == array:
            accepted += index_spelling(node) == element
        elif isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value in sharing and (
                node.attr.value in ("shape", "size", "ndim")):
            accepted += 1
    return uses == accepted
