"""exp, log and tanh in generated CPU code call srcad's vectorizable twins.

numba compiles ``math.exp(x)`` and ``np.exp(x)`` to a call of the C library, one element at a time,
so the element loops the normal form fuses whole-array statements into, and the reverse sweeps
that recompute ``exp(x[i] - a)``, cannot use the CPU's vector units. ``srcad.kernels.vectorizable``
has the same functions as inline instructions LLVM vectorizes (within 3 units in the last place of
NumPy's values; see there):

    y = math.exp(x_i - a)      ->      y = simd_exp(x_i - a)
    h = np.tanh(v)             ->      h = simd_tanh(v)

The twins take what NumPy's functions take (floats, arrays, integers), so no types are needed here.
Only calls with one positional argument change (``np.exp(x, out=y)`` keeps NumPy's). Generated code
for CUDA keeps its calls: CUDA's own exp is vectorized per thread.
"""

import libcst as cst

from ..ir.names import VECTORIZABLE_FUNCTIONS

# the calls that change -> the twin's name (also the names srcad.kernels.vectorizable defines)
TWINS = {f"{module}.{function}": f"simd_{function}" for module in ("math", "np") for function in ("exp", "log", "tanh")}
assert set(TWINS.values()) < set(VECTORIZABLE_FUNCTIONS)


def with_simd_calls(definition):
    """``definition`` with its calls of exp, log and tanh calling the vectorizable twins."""
    return definition.visit(_Twins())


class _Twins(cst.CSTTransformer):
    def leave_Call(self, original, updated):
        if len(updated.args) != 1 or updated.args[0].keyword is not None or updated.args[0].star:
            return updated
        func = updated.func
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            twin = TWINS.get(f"{func.value.value}.{func.attr.value}")
            if twin is not None:
                return updated.with_changes(func=cst.Name(twin))
        return updated
