"""Boolean masks as positions: ``x[mask]`` (read, written, added into) becomes
``x[mask_positions]`` with ``mask_positions = np.flatnonzero(mask)`` computed just before, once the
types say which index atoms are boolean arrays. NumPy selects the same elements (along the first
axis, in order), and the reverse and forward passes differentiate integer-array indexing already:
each selected element's adjoint goes back to its place.

A mask with as many dimensions as the array it selects from (``g[g > 0]`` of a matrix) selects
elements in C order: read, it becomes ``x.ravel()[mask_positions]``. Written through, or of fewer
dimensions than the array but more than one, it stays as written, and the reverse pass refuses it
at its line (numba cannot compile it either).

Runs on the typed normal form (``srcad.pipeline`` types it again afterwards).
"""

import libcst as cst
from numba.core import types as numba_types

from ..ir import assign


def positions_for_masks(definition, types, names):
    """``definition`` with every one-dimensional boolean mask index replaced by its positions, or
    None where it has none. ``names``: the NameFactory of the function's names."""
    masks = {name for name, numba_type in types.items()
             if isinstance(numba_type, numba_types.Array) and isinstance(numba_type.dtype, numba_types.Boolean)}
    flat_reads = _flat_reads(definition, masks, types)
    masks = {name for name in masks if types[name].ndim == 1}
    if not flat_reads and not _masks_indexed_in(definition, masks):
        return None
    return definition.visit(_Positions(masks, flat_reads, names))


def _flat_reads(definition, masks, types):
    """Ids of the assignments ``t = x[m]`` with a mask m of x's own rank (above one)."""
    found = set()

    class Find(cst.CSTVisitor):
        def visit_Assign(self, node):
            value = node.value
            if not (isinstance(value, cst.Subscript) and isinstance(value.value, cst.Name) and len(value.slice) == 1):
                return
            index = value.slice[0].slice.value if isinstance(value.slice[0].slice, cst.Index) else None
            array = types.get(value.value.value)
            if (isinstance(index, cst.Name) and index.value in masks and isinstance(array, numba_types.Array)
                    and array.ndim == types[index.value].ndim > 1):
                found.add(id(node))

    definition.visit(Find())
    return found


def _masks_indexed_in(node, masks):
    """The names in ``masks`` that ``node`` indexes with (``x[m]``)."""
    found = set()

    class Find(cst.CSTVisitor):
        def visit_SubscriptElement(self, element):
            value = element.slice.value if isinstance(element.slice, cst.Index) else None
            if isinstance(value, cst.Name) and value.value in masks:
                found.add(value.value)

    node.visit(Find())
    return found


class _Positions(cst.CSTTransformer):
    """Before each statement line indexing with a mask, the mask's positions; the index replaced."""

    def __init__(self, masks, flat_reads, names):
        super().__init__()
        self.masks = masks
        self.flat_reads = flat_reads
        self.names = names

    def leave_IndentedBlock(self, original, updated):
        body = []
        for statement, before in zip(updated.body, original.body):
            if isinstance(before, cst.SimpleStatementLine) and id(before.body[0]) in self.flat_reads:
                body += self._flat_read(statement)
                continue
            used = sorted(_masks_indexed_in(statement, self.masks)) if isinstance(statement, cst.SimpleStatementLine) else []
            if not used:
                body.append(statement)
                continue
            positions = {mask: self.names.fresh(f"{mask}_positions") for mask in used}
            lines = [assign(positions[mask], cst.parse_expression(f"np.flatnonzero({mask})")) for mask in used]
            lines[0] = lines[0].with_changes(leading_lines=statement.leading_lines)
            body += lines + [statement.with_changes(leading_lines=[]).visit(_Renamed(positions))]
        return updated.with_changes(body=body)

    def _flat_read(self, statement):
        """``t = x[m]``, m of x's rank: ``t = x_flat[m_positions]`` of ``x_flat = x.ravel()``."""
        assignment = statement.body[0]
        array, mask = assignment.value.value.value, assignment.value.slice[0].slice.value.value
        positions, flat = self.names.fresh(f"{mask}_positions"), self.names.fresh(f"{array}_flat")
        value = cst.parse_expression(f"{flat}[{positions}]")
        return [
            assign(positions, cst.parse_expression(f"np.flatnonzero({mask})")).with_changes(leading_lines=statement.leading_lines),
            assign(flat, cst.parse_expression(f"{array}.ravel()")),
            statement.with_changes(leading_lines=[], body=[assignment.with_changes(value=value)]),
        ]


class _Renamed(cst.CSTTransformer):
    """Mask names between brackets replaced by their positions (other reads of a mask stay)."""

    def __init__(self, positions):
        super().__init__()
        self.positions = positions

    def leave_SubscriptElement(self, original, updated):
        value = updated.slice.value if isinstance(updated.slice, cst.Index) else None
        if isinstance(value, cst.Name) and value.value in self.positions:
            return updated.with_changes(slice=cst.Index(cst.Name(self.positions[value.value])))
        return updated
