"""Boolean masks as positions: ``x[mask]`` (read, written, added into) becomes
``x[mask_positions]`` with ``mask_positions = np.flatnonzero(mask)`` computed just before, once the
types say which index atoms are boolean arrays. NumPy selects the same elements (along the first
axis, in order), and the reverse and forward passes differentiate integer-array indexing already:
each selected element's adjoint goes back to its place.

Runs on the typed normal form (``srcad.pipeline`` types it again afterwards). A mask of more than
one dimension selects elements of a flattened array; it stays as written, and the reverse pass
refuses it at its line.
"""

import libcst as cst
from numba.core import types as numba_types

from srcad.transforms.flatten import assign


def positions_for_masks(definition, types, names):
    """``definition`` with every one-dimensional boolean mask index replaced by its positions, or
    None where it has none. ``names``: the NameFactory of the function's names."""
    masks = {name for name, numba_type in types.items()
             if isinstance(numba_type, numba_types.Array) and isinstance(numba_type.dtype, numba_types.Boolean)
             and numba_type.ndim == 1}
    if not masks or not _indexes_with(definition, masks):
        return None
    rewrite = _Positions(masks, names)
    return definition.visit(rewrite)


def _indexes_with(node, masks):
    found = []

    class Find(cst.CSTVisitor):
        def visit_SubscriptElement(self, element):
            value = element.slice.value if isinstance(element.slice, cst.Index) else None
            if isinstance(value, cst.Name) and value.value in masks:
                found.append(value)

    node.visit(Find())
    return bool(found)


class _Positions(cst.CSTTransformer):
    """Before each statement line indexing with a mask, the mask's positions; the index replaced."""

    def __init__(self, masks, names):
        super().__init__()
        self.masks = masks
        self.names = names

    def leave_IndentedBlock(self, original, updated):
        body = []
        for statement in updated.body:
            used = sorted(self._masks_indexed_in(statement)) if isinstance(statement, cst.SimpleStatementLine) else []
            if not used:
                body.append(statement)
                continue
            positions = {mask: self.names.fresh(f"{mask}_positions") for mask in used}
            lines = [assign(positions[mask], cst.parse_expression(f"np.flatnonzero({mask})")) for mask in used]
            lines[0] = lines[0].with_changes(leading_lines=statement.leading_lines)
            body += lines + [statement.with_changes(leading_lines=[]).visit(_Renamed(positions))]
        return updated.with_changes(body=body)

    def _masks_indexed_in(self, statement):
        found = set()
        masks = self.masks

        class Find(cst.CSTVisitor):
            def visit_SubscriptElement(self, element):
                value = element.slice.value if isinstance(element.slice, cst.Index) else None
                if isinstance(value, cst.Name) and value.value in masks:
                    found.add(value.value)

        statement.visit(Find())
        return found


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
