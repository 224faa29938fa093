"""The largest (smallest) element of a vector as the element at its position: on the typed normal
form, ``m = np.max(x)`` of a 1-D float array becomes ::

    m_at = np.argmax(x)
    m = x[m_at]

the same value (a NaN anywhere: the first NaN, as both give it; ties: the first). Its adjoint is
then ``x_adj[m_at] += m_adj``, one element, where the rule of ``np.max`` (``at_first``, for arrays
of any shape) makes an array of zeros as large as ``x`` for each call and adds it in whole; its
tangent reads one element too. ``np.min`` (``np.amax``, ``np.amin``) alike. Arrays of several
dimensions, and calls with an axis, keep their call.
(CUDA kernels keep the call: a thread's code has no arrays to reduce.)
"""

import libcst as cst
from numba.core import types as numba_types

from ..ir import assign, call
from ..ir.precedence import spelled
from ..ir.statements import assignment_of

_POSITIONS = {"np.max": "np.argmax", "np.amax": "np.argmax", "np.min": "np.argmin", "np.amin": "np.argmin"}


def max_positions(definition, types, names):
    """``definition`` with the maxima and minima of vectors read at their positions, or None where it
    has none. ``types``: numba's types of its variables; ``names``: the NameFactory."""
    rewrite = _Positions(types, names)
    rewritten = definition.visit(rewrite)
    return rewritten if rewrite.changed else None


class _Positions(cst.CSTTransformer):
    def __init__(self, types, names):
        super().__init__()
        self.types, self.names = types, names
        self.changed = False

    def leave_SimpleStatementLine(self, original, updated):
        target_value = assignment_of(updated)
        if target_value is None or not isinstance(target_value[1], cst.Call):
            return updated
        target, value = target_value
        position_of = _POSITIONS.get(spelled(value.func))
        if position_of is None or len(value.args) != 1 or value.args[0].keyword is not None:
            return updated
        vector = value.args[0].value
        vector_type = self.types.get(vector.value) if isinstance(vector, cst.Name) else None
        if not (isinstance(vector_type, numba_types.Array) and vector_type.ndim == 1
                and isinstance(vector_type.dtype, numba_types.Float)):
            return updated
        self.changed = True
        position = self.names.fresh(f"{target}_at")
        element = cst.Subscript(vector, [cst.SubscriptElement(cst.Index(cst.Name(position)))])
        return cst.FlattenSentinel([
            assign(position, call(position_of, vector)).with_changes(leading_lines=updated.leading_lines),
            assign(target, element),
        ])
