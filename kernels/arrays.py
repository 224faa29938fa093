"""Array helpers the generated adjoints call: NumPy semantics numba lacks.

Each helper is an ordinary NumPy function (what runs with ``NUMBA_DISABLE_JIT=1``)
with a numba ``overload`` that compiles it in generated code. The compiled
forms are loop nests, written out per number of dimensions: numba types arrays
by their rank, so each rank gets its own source.
"""

import numpy as np
from numba import config, njit
from numba.core import types
from numba.extending import overload

from .along import (  # noqa: F401 - generated modules import them from here
    sum_along, mean_along, max_along, min_along, prod_along, spread_along,
    at_first_along, products_of_others_along, products_of_others_along_tangent, cumsum_along, cumsum_adjoint_along,
    roll_along,
    _compiled,
)


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


@overload(abs)
def _abs_of_an_array(x):
    """Python's ``abs`` of a NumPy array is ``np.abs`` (numba's own takes numbers only): the user's
    ``abs(x)`` and the normal form's compile as written, and srcad differentiates it as np.abs."""
    if isinstance(x, types.Array):
        return lambda x: np.abs(x)
    return None


@njit(cache=True)
def at_first(x, value, adjoint):
    """An array of x's shape, zero but for ``adjoint`` where x first equals ``value`` (C order):
    the adjoint of ``np.max(x)`` / ``np.min(x)``. A tie gives everything to the first of the tied
    elements, as ``np.argmax`` picks it; a NaN value goes to the first NaN (it is what made the
    result NaN)."""
    result = np.zeros(x.shape, dtype=x.dtype)
    for index in np.ndindex(x.shape):
        if x[index] == value or (value != value and x[index] != x[index]):
            result[index] = adjoint
            break
    return result


@njit(cache=True)
def zeroed(old, like):
    """Zeros of ``like``'s shape, written into ``old`` where it has that shape (an adjoint array
    nothing refers to any more: see transforms/reverse/recycled_adjoints.py), else a new array."""
    if old.shape == like.shape:
        old.fill(0.0)
        return old
    return np.zeros_like(like)


@njit(cache=True)
def recycled_zeros(zeros, like):
    """``zeros`` itself, an array of zeros nothing refers to any more, where it has ``like``'s shape,
    else new zeros of that shape: an adjoint started again without writing a zero
    (transforms/reverse/handed_adjoints.py)."""
    if zeros.shape == like.shape:
        return zeros
    return np.zeros_like(like)


@njit(cache=True)
def zeroed_to(old, shape):
    """``zeroed`` for an adjoint whose new shape the tape gives (``shape``, a tuple of extents)."""
    if old.shape == shape:
        old.fill(0.0)
        return old
    return np.zeros(shape, old.dtype)


@njit(cache=True)
def products_of_others(x):
    """For each element, the product of all the other elements: d np.prod(x) / dx, also where x
    holds zeros (no division). Prefix and suffix products over the elements in C order."""
    flat = x.copy().ravel()
    result = np.empty_like(flat)
    running = 1.0
    for k in range(flat.size):
        result[k] = running
        running *= flat[k]
    running = 1.0
    for k in range(flat.size - 1, -1, -1):
        result[k] *= running
        running *= flat[k]
    return result.reshape(x.shape)


@njit(cache=True)
def cumsum_adjoint(adjoint, x):
    """The adjoint of ``y = np.cumsum(x)`` for x: sums of ``adjoint`` from each position to the end,
    in x's shape (np.cumsum runs over x flattened in C order)."""
    result = np.empty(adjoint.size, dtype=x.dtype)
    running = 0.0
    for k in range(adjoint.size - 1, -1, -1):
        running += adjoint[k]
        result[k] = running
    return result.reshape(x.shape)


@njit(cache=True)
def diff_adjoint(adjoint):
    """The adjoint of ``y = np.diff(x)`` for x (differences along the last axis): each element of x
    gets the adjoint of the difference it starts and minus that of the one it ends."""
    result = np.zeros(adjoint.shape[:-1] + (adjoint.shape[-1] + 1,), dtype=adjoint.dtype)
    result[..., 1:] += adjoint
    result[..., :-1] -= adjoint
    return result


@njit(cache=True)
def scatter_add(adjoint, indices, increment):
    """The adjoint of ``y = x[indices]`` (an array of indices, along x's first axis) added into x's:
    ``adjoint[indices[k]] += increment[k]``, once per k, so repeated indices add up (the gather
    copied that element twice)."""
    for k in range(indices.shape[0]):
        adjoint[indices[k]] += increment[k]


@njit(cache=True)
def scattered(x, indices, increment):
    """``scatter_add`` into zeros of x's shape."""
    adjoint = np.zeros_like(x)
    scatter_add(adjoint, indices, increment)
    return adjoint


@njit(cache=True)
def at_last_writes(adjoint, indices):
    """The adjoint of v in ``b[indices] = v`` (or ``+= v``), from b's: ``adjoint[indices[k]]`` where k is
    the last position naming its element (NumPy and numba keep the last of repeated writes), else 0."""
    result = adjoint[indices]
    count = adjoint.shape[0]
    seen = np.zeros(count, dtype=np.bool_)
    for k in range(indices.shape[0] - 1, -1, -1):
        element = indices[k] % count
        if seen[element]:
            result[k] = 0.0
        seen[element] = True
    return result


def snapshot(value):
    """A copy of an array, a number as it is: the right-hand side of ``y += y[0]`` read before the
    write, as NumPy reads it (numba would read the row as the loop changes it)."""
    return value.copy() if isinstance(value, np.ndarray) else value


@overload(snapshot)
def _snapshot_overload(value):
    if isinstance(value, types.Array):
        return lambda value: value.copy()
    return lambda value: value


def keep_dims(value, x):
    """The float ``value`` as an array of x's rank, every axis of size 1: what ``keepdims=True``
    gives for a reduction of the whole array."""
    return np.full((1,) * np.ndim(x), value, dtype=np.asarray(x).dtype)


@overload(keep_dims)
def _keep_dims_overload(value, x):
    if not isinstance(x, types.Array):
        return None
    return _compiled(f"def impl(value, x):\n    return np.full({(1,) * x.ndim}, value, dtype=x.dtype)\n")


def times_transpose(g, x):
    """``g x^T``: the outer product of two vectors, or ``g @ x.T`` of two matrices."""
    return np.outer(g, x) if np.ndim(g) == 1 else g @ x.T


@overload(times_transpose)
def _times_transpose_overload(g, x):
    if isinstance(g, types.Array) and g.ndim == 1:
        return lambda g, x: np.outer(g, x)
    if isinstance(g, types.Array) and g.ndim == 2:
        return lambda g, x: g @ x.T
    return None


@njit(cache=True)
def integer_power(base, exponent, where):
    """``base ** exponent`` of two integers, where Python's value is an integer too: numba computes
    ``(-2) ** -1`` as 0, Python as -0.5, so a negative exponent raises instead, naming ``where``
    (the user's file and line)."""
    if exponent < 0:
        raise ValueError(where + ": an integer to a negative integer power is a fraction in Python, but srcad's "
                         "compiled code (as numba's) computes it in integers; write float(base) ** exponent there")
    return base ** exponent


# Extents of the loops whole-array statements become (transforms/analysis/fused_loops.py). Plain
# functions on integers (what runs with NUMBA_DISABLE_JIT=1), each compiled as itself in generated code.
def slice_start(length, start):
    """Where ``a[start:]`` begins along an axis of ``length``: Python's clamping of a negative start
    (counted from the end) or one past either end."""
    if start < 0:
        start += length
        return start if start > 0 else 0
    return start if start < length else length


def slice_extent(length, start, stop):
    """How many elements ``a[start:stop]`` has along an axis of ``length``."""
    begin, end = slice_start(length, start), slice_start(length, stop)
    return end - begin if end > begin else 0


def broadcast_extent(extent, other):
    """The extent two operands broadcast to along one axis, where they conform (``conforming`` checks)."""
    return other if extent == 1 else extent


def broadcast_step(extent, loop_extent):
    """How far an operand's index moves per step of a loop over ``loop_extent`` elements: 1 where its
    axis runs along with the loop, 0 where its single element is repeated (NumPy's broadcasting)."""
    return 1 if extent == loop_extent else 0


def conforming(loop_extent, extent, where):
    """``loop_extent``, where an operand of ``extent`` elements broadcasts to it; else NumPy's
    broadcasting error, naming ``where`` (the user's line)."""
    if extent != loop_extent and extent != 1:
        raise ValueError(where + ": operands could not be broadcast together: along one axis their extents ("
                         + str(loop_extent) + " and " + str(extent) + ") differ and neither is 1")
    return loop_extent


def roll_offset(length, shift):
    """How far ``np.roll(a, shift)`` moves the elements along an axis of ``length``: ``shift % length``
    (0 for an empty axis)."""
    return shift % length if length > 0 else 0


def rolled_position(position, offset, length):
    """Where element ``position`` of ``np.roll(a, shift)`` comes from: position ``(position - offset)
    % length`` of ``a``, ``offset`` being ``roll_offset(length, shift)`` (no division per element)."""
    return position - offset if position >= offset else position - offset + length


# Generated code calls these compiled once per machine (numba's cache). With NUMBA_DISABLE_JIT=1 the plain
# functions run, and srcad's type inference types them through overloads that compile them as themselves.
if config.DISABLE_JIT:
    @overload(slice_start)
    def _slice_start_overload(length, start):
        return slice_start

    @overload(slice_extent)
    def _slice_extent_overload(length, start, stop):
        return slice_extent

    @overload(broadcast_extent)
    def _broadcast_extent_overload(extent, other):
        return broadcast_extent

    @overload(broadcast_step)
    def _broadcast_step_overload(extent, loop_extent):
        return broadcast_step

    @overload(conforming)
    def _conforming_overload(loop_extent, extent, where):
        return conforming

    @overload(roll_offset)
    def _roll_offset_overload(length, shift):
        return roll_offset

    @overload(rolled_position)
    def _rolled_position_overload(position, offset, length):
        return rolled_position
else:
    slice_start = njit(cache=True)(slice_start)
    slice_extent = njit(cache=True)(slice_extent)
    broadcast_extent = njit(cache=True)(broadcast_extent)
    broadcast_step = njit(cache=True)(broadcast_step)
    # typed once, eagerly: numba would compile it again for every user line, a literal string each
    conforming = njit("intp(intp, intp, unicode_type)", cache=True)(conforming)
    roll_offset = njit(cache=True)(roll_offset)
    rolled_position = njit(cache=True)(rolled_position)
