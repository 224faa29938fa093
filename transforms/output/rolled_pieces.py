"""Element loops reading ``np.roll``'s elements run in two pieces, each reading them in order.

``np.roll(a, s)[i]`` is ``a[rolled_position(i, offset, n)]``: ``i - offset`` where ``i >= offset``,
else ``i - offset + n``: a branch per element that keeps the compiler from vectorizing the loop (an
upwind scheme's step ran at half the speed of the same loop over a slice). Split where the
elements wrap around, each piece reads its rolled elements at the loop's index plus a number the
loop does not change:

    for i in range(extent):                          for i in range(min(offset, extent)):
        p = rolled_position(i, offset, n)      ->        p = i - offset + n
        ...                                              ...
                                                     for i in range(min(offset, extent), extent):
                                                         p = i - offset
                                                         ...

The same statements in the same order, so the same values. Only a loop ``for i in range(extent)``
whose rolled positions all start from ``i`` itself (or a name bound to it: ``i_step = i``, as
``unit_steps`` leaves it) with one offset and one length the loop does not change.
"""

import libcst as cst

from ..ir import bound_names, nodes_in
from ..ir.precedence import spelled
from ..ir.statements import assignment_of


def in_rolled_pieces(definition):
    """``definition`` with each loop reading rolled positions of its own index split (see above)."""
    return definition.visit(_Pieces())


def _rolled(loop):
    """({id of each line ``p = rolled_position(q, offset, n)``: q, a name for ``loop``'s index},
    (offset, n)) of ``loop``, or None."""
    if not (isinstance(loop.target, cst.Name) and isinstance(loop.iter, cst.Call) and isinstance(loop.iter.func, cst.Name)
            and loop.iter.func.value == "range" and len(loop.iter.args) == 1):
        return None
    counter = loop.target.value
    aliases = {counter}
    lines, pair = {}, None
    changed = bound_names(loop.body)
    for node in nodes_in(loop.body):
        if not isinstance(node, cst.SimpleStatementLine):
            continue
        assigned = assignment_of(node)
        if assigned is None or not isinstance(node.body[0], cst.Assign):
            continue
        name, value = assigned
        if isinstance(value, cst.Name) and value.value in aliases:
            aliases.add(name)
        elif isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == "rolled_position":
            position, offset, length = (argument.value for argument in value.args)
            if not (isinstance(position, cst.Name) and position.value in aliases and isinstance(offset, cst.Name)
                    and isinstance(length, cst.Name)) or {offset.value, length.value} & changed:
                return None
            if pair not in (None, (offset.value, length.value)):
                return None  # rolls of two offsets: more pieces than this makes
            pair = (offset.value, length.value)
            lines[id(node)] = position.value
    return (lines, pair) if lines else None


class _Pieces(cst.CSTTransformer):
    def __init__(self):
        self.pieces = {}  # id of a loop split -> its two pieces

    def visit_For(self, node):
        found = _rolled(node)
        if found is None:
            return True
        lines, (offset, length) = found
        extent = node.iter.args[0].value
        wrap = cst.parse_expression(f"min({offset}, {spelled(extent)})")
        first = node.visit(_Positions(lines, f"{{}} - {offset} + {length}")).with_changes(
            iter=cst.Call(cst.Name("range"), [cst.Arg(wrap)]))
        second = node.visit(_Positions(lines, f"{{}} - {offset}")).with_changes(
            iter=cst.Call(cst.Name("range"), [cst.Arg(wrap), cst.Arg(extent)]), leading_lines=[])
        self.pieces[id(node)] = [first, second]
        return False

    def leave_For(self, original_node, updated_node):
        pieces = self.pieces.get(id(original_node))
        return cst.FlattenSentinel(pieces) if pieces else updated_node


class _Positions(cst.CSTTransformer):
    """A loop with each line ``p = rolled_position(i, ...)`` of ``lines`` computing ``p`` as ``form``."""

    def __init__(self, lines, form):
        self.lines, self.form = lines, form

    def leave_SimpleStatementLine(self, original_node, updated_node):
        if id(original_node) not in self.lines:
            return updated_node
        value = cst.parse_expression(self.form.format(self.lines[id(original_node)]))
        return updated_node.with_changes(body=[updated_node.body[0].with_changes(value=value)])
