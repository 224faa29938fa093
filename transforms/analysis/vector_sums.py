"""A sum along the only axis of a vector is the whole sum: on the typed normal form,
``s = np.sum(x, axis=0)`` (or ``axis=-1``) of a 1-D array becomes ``s = np.sum(x)``, the same number.

Python's ``sum(x)`` adds the items of ``x``, its rows for a matrix: the front end writes it as
``np.sum(x, axis=0)`` without knowing the rank (``normalize.builtin_sum``). For a vector, the
whole sum is what the fused element loops add up in a float as they go (``fused_loops.py``),
where a sum along an axis stays a call on an array made for it. Arrays of several dimensions keep
their call.
"""

import libcst as cst
from numba.core import types as numba_types

from ..ir import call
from ..ir.precedence import spelled


def full_sums_of_vectors(definition, types):
    """``definition`` with its sums of vectors along their axis written as whole sums, or None where
    it has none. ``types``: numba's types of its variables."""
    rewrite = _WholeSums(types)
    rewritten = definition.visit(rewrite)
    return rewritten if rewrite.changed else None


class _WholeSums(cst.CSTTransformer):
    def __init__(self, types):
        super().__init__()
        self.types = types
        self.changed = False

    def leave_Call(self, original, updated):
        if spelled(updated.func) != "np.sum" or len(updated.args) != 2:
            return updated
        vector, axis = updated.args
        if vector.keyword is not None or axis.keyword is None or axis.keyword.value != "axis":
            return updated
        if spelled(axis.value) not in ("0", "-1"):
            return updated
        vector_type = self.types.get(vector.value.value) if isinstance(vector.value, cst.Name) else None
        if not (isinstance(vector_type, numba_types.Array) and vector_type.ndim == 1):
            return updated
        self.changed = True
        return call("np.sum", vector.value)
