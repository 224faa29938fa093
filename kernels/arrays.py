"""Array helpers the generated adjoints call: NumPy semantics numba lacks.

Each helper is an ordinary NumPy function (what runs with ``NUMBA_DISABLE_JIT=1``)
with a numba ``overload`` that compiles it in generated code. The compiled
forms are loop nests, written out per number of dimensions: numba types arrays
by their rank, so each rank gets its own source.
"""

import numpy as np
from numba.core import types
from numba.extending import overload


def unbroadcast(gradient, like):
    """``gradient`` summed down to the shape of ``like``: the adjoint of broadcasting ``like``.

    NumPy broadcasting stretches size-1 axes and prepends missing ones; every
    element of ``like`` that was used several times collects the sum of their
    adjoints. Returns ``gradient`` itself when the shapes already agree.

    >>> unbroadcast(np.ones((2, 3)), np.zeros((3,))).tolist()
    [2.0, 2.0, 2.0]
    >>> unbroadcast(np.ones((2, 3)), np.zeros((2, 1))).tolist()
    [[3.0], [3.0]]
    """
    gradient = np.asarray(gradient)
    if gradient.shape == np.shape(like):
        return gradient
    leading = gradient.ndim - np.ndim(like)
    summed = gradient.sum(axis=tuple(range(leading))) if leading else gradient
    stretched = tuple(k for k, size in enumerate(np.shape(like)) if size == 1 and summed.shape[k] != 1)
    if stretched:
        summed = summed.sum(axis=stretched, keepdims=True)
    return summed.astype(np.asarray(like).dtype, copy=False)


def _unbroadcast_source(gradient_ndim, like_ndim, same_dtype=True):
    """A loop nest over the gradient's elements, adding each to its broadcast source in ``like``'s shape."""
    leading = gradient_ndim - like_ndim
    loops, indices = [], []
    for axis in range(gradient_ndim):
        loops.append("    " * (axis + 1) + f"for i{axis} in range(gradient.shape[{axis}]):")
    for axis in range(like_ndim):
        # a stretched axis (size 1 in like) always reads index 0: multiply by 0 instead of branching
        indices.append(f"i{leading + axis} * keep{axis}")
    keeps = [f"    keep{axis} = 0 if like.shape[{axis}] == 1 else 1" for axis in range(like_ndim)]
    body = "    " * (gradient_ndim + 1) + f"summed[{', '.join(indices) or '()'}] += gradient[{', '.join(f'i{a}' for a in range(gradient_ndim))}]"
    same_shape = "    if gradient.shape == like.shape:\n        return gradient\n" if leading == 0 and same_dtype else ""
    return (
        "def unbroadcast_impl(gradient, like):\n"
        + same_shape
        + "    summed = np.zeros(like.shape, dtype=like.dtype)\n"
        + "\n".join(keeps + loops + [body])
        + "\n    return summed\n"
    )


@overload(unbroadcast)
def _unbroadcast_overload(gradient, like):
    if not (isinstance(gradient, types.Array) and isinstance(like, types.Array)):
        return None
    if not 0 < like.ndim <= gradient.ndim:
        return None
    namespace = {"np": np}
    exec(_unbroadcast_source(gradient.ndim, like.ndim, gradient.dtype == like.dtype), namespace)
    return namespace["unbroadcast_impl"]
