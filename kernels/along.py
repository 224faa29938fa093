"""Array helpers along one axis, which the generated code calls: reductions numba lacks
(``keepdims=``, np.mean/max/min/prod along an axis), their adjoints and tangents, and scans.

Like ``srcad.kernels.arrays`` (which re-exports them for generated modules): each helper is an
ordinary NumPy function with a numba ``overload`` that writes its loop nest per number of
dimensions and axis (a literal in the generated code).
"""

import numpy as np
from numba.core import types
from numba.extending import overload


# -- reductions along one axis ------------------------------------------------------------------
# numba compiles np.sum(x, axis=k) but not keepdims=, nor np.mean/max/min/prod along an axis. srcad
# writes those as the calls below (axis and keepdims are numbers in the code, so numba sees literals).
_START = {"sum": "0.0", "mean": "0.0", "prod": "1.0", "max": None, "min": None}
_COMBINE = {"sum": "{a} + {v}", "mean": "{a} + {v}", "prod": "{a} * {v}", "max": "np.maximum({a}, {v})", "min": "np.minimum({a}, {v})"}  # NaN wins, as in np.max


def _reduce_python(kind):
    def reduce(x, axis, keepdims):
        return getattr(np, kind)(x, axis=axis, keepdims=keepdims)

    reduce.__name__ = f"{kind}_along"
    reduce.__doc__ = f"``np.{kind}(x, axis=axis, keepdims=keepdims)``, compiled by numba too."
    return reduce


sum_along, mean_along, max_along, min_along, prod_along = map(_reduce_python, ("sum", "mean", "max", "min", "prod"))


def _indices(ndim, axis, inner="j"):
    """Index variable names of x, with ``inner`` at ``axis``, and of the result (0 there with keepdims)."""
    names = [f"i{k}" for k in range(ndim)]
    names[axis] = inner
    return names


def _loops(ndim, axis, depth=1):
    """Nested loops over every axis of x but ``axis``; returns (lines, indentation of the body)."""
    lines, level = [], depth
    for k in range(ndim):
        if k != axis:
            lines.append("    " * level + f"for i{k} in range(x.shape[{k}]):")
            level += 1
    return lines, "    " * level


def _result_shape(ndim, axis, keepdims):
    parts = [("1" if keepdims else None) if k == axis else f"x.shape[{k}]" for k in range(ndim)]
    parts = [p for p in parts if p is not None]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _result_index(ndim, axis, keepdims):
    parts = [("0" if keepdims else None) if k == axis else f"i{k}" for k in range(ndim)]
    return ", ".join(p for p in parts if p is not None) or "()"


def _reduce_source(kind, ndim, axis, keepdims, integers=False):
    """A reduction along ``axis`` as loops over x in memory order (C order), each element combined
    into its place in the result, which starts from the first slice along the axis (or 0 or 1).
    ``integers``: x holds integers or booleans, which a sum adds up as 64-bit integers, as NumPy
    does (``result_dtype`` in the namespace the source runs in: np.int64 or np.uint64)."""
    if ndim == 1 and not keepdims:  # a number
        start = ("result_dtype(0)" if integers and kind == "sum" else _START[kind]) or "x[0]"
        combine = _COMBINE[kind].format(a="acc", v="x[j]")
        finish = "acc / x.shape[0]" if kind == "mean" else "acc"
        return (
            "def impl(x, axis, keepdims):\n"
            f"    acc = {start}\n    for j in range(x.shape[0]):\n        acc = {combine}\n    return {finish}\n"
        )
    place = f"result[{_result_index(ndim, axis, keepdims)}]"
    first, first_pad = _loops(ndim, axis)
    every, every_pad = [], "    "
    for k in range(ndim):
        every.append(every_pad + f"for {'j' if k == axis else f'i{k}'} in range(x.shape[{k}]):")
        every_pad += "    "
    start = _START[kind] or f"x[{', '.join(_indices(ndim, axis, '0'))}]"
    dtype = "result_dtype" if integers and kind == "sum" else "x.dtype"
    lines = ["def impl(x, axis, keepdims):", f"    result = np.empty({_result_shape(ndim, axis, keepdims)}, dtype={dtype})"]
    lines += first + [first_pad + f"{place} = {start}"]
    lines += every + [every_pad + f"{place} = " + _COMBINE[kind].format(a=place, v=f"x[{', '.join(_indices(ndim, axis))}]")]
    if kind == "mean":
        lines.append(f"    result /= x.shape[{axis}]")
    return "\n".join(lines + ["    return result"]) + "\n"


def _literal_axis(x, axis, keepdims):
    if not (isinstance(x, types.Array) and isinstance(axis, types.IntegerLiteral)):
        return None
    if not isinstance(keepdims, types.BooleanLiteral):
        return None
    return axis.literal_value % x.ndim, keepdims.literal_value


def _register_reduction(kind, function):
    @overload(function, prefer_literal=True)
    def _overload(x, axis, keepdims):
        literal = _literal_axis(x, axis, keepdims)
        if literal is None:
            return None
        integers = isinstance(x.dtype, (types.Integer, types.Boolean))
        unsigned = isinstance(x.dtype, types.Integer) and not x.dtype.signed
        namespace = {"np": np, "result_dtype": np.uint64 if unsigned else np.int64}
        exec(_reduce_source(kind, x.ndim, *literal, integers=integers), namespace)
        return namespace["impl"]


for _kind, _function in (("sum", sum_along), ("mean", mean_along), ("max", max_along), ("min", min_along), ("prod", prod_along)):
    _register_reduction(_kind, _function)


def spread_along(adjoint, x, axis, keepdims):
    """The adjoint of ``np.sum(x, axis=axis, keepdims=keepdims)`` for x: ``adjoint`` repeated along
    ``axis``, in x's shape."""
    adjoint = np.asarray(adjoint)
    if not keepdims:
        adjoint = np.expand_dims(adjoint, axis)
    return np.broadcast_to(adjoint, np.shape(x)).astype(np.asarray(x).dtype)


def at_first_along(x, y, adjoint, axis, keepdims):
    """The adjoint of ``np.max`` / ``np.min`` of x along ``axis``: each result's adjoint goes to the
    first element along the axis equal to it (``np.argmax``'s choice on ties), zero elsewhere."""
    x = np.asarray(x)
    if not keepdims:
        y, adjoint = np.expand_dims(y, axis), np.expand_dims(adjoint, axis)
    hits = (x == y) | ((x != x) & (y != y))  # a NaN result came from the first NaN
    first = hits & (np.cumsum(hits, axis=axis) == 1)
    return np.where(first, adjoint, 0.0).astype(x.dtype)


def products_of_others_along(x, axis):
    """For each element, the product of the others along ``axis`` (no division, zeros allowed)."""
    x = np.asarray(x)
    moved = np.moveaxis(x, axis, -1)
    before = np.cumprod(np.concatenate([np.ones_like(moved[..., :1]), moved[..., :-1]], axis=-1), axis=-1)
    after = np.flip(np.cumprod(np.concatenate([np.ones_like(moved[..., :1]), np.flip(moved, -1)[..., :-1]], axis=-1), axis=-1), -1)
    return np.moveaxis(before * after, -1, axis)


def _spread_source(ndim, axis, keepdims, scalar_adjoint):
    loops, pad = _loops(ndim, axis)
    y_index = "" if scalar_adjoint else f"[{_result_index(ndim, axis, keepdims)}]"
    body = [pad + f"a = adjoint{y_index}", pad + f"for j in range(x.shape[{axis}]):",
            pad + f"    result[{', '.join(_indices(ndim, axis))}] = a"]
    return "\n".join(["def impl(adjoint, x, axis, keepdims):", "    result = np.empty(x.shape, dtype=x.dtype)"]
                     + loops + body + ["    return result"]) + "\n"


def _at_first_source(ndim, axis, keepdims, scalar_y, scalar_adjoint):
    loops, pad = _loops(ndim, axis)
    index = f"[{_result_index(ndim, axis, keepdims)}]"
    each = ", ".join(_indices(ndim, axis))
    body = [pad + f"target = y{'' if scalar_y else index}", pad + "found = False",
            pad + f"for j in range(x.shape[{axis}]):", pad + f"    if not found and (x[{each}] == target or (target != target and x[{each}] != x[{each}])):",
            pad + f"        result[{each}] = adjoint{'' if scalar_adjoint else index}", pad + "        found = True"]
    return "\n".join(["def impl(x, y, adjoint, axis, keepdims):", "    result = np.zeros(x.shape, dtype=x.dtype)"]
                     + loops + body + ["    return result"]) + "\n"


def _others_source(ndim, axis):
    loops, pad = _loops(ndim, axis)
    each = ", ".join(_indices(ndim, axis))
    back = ", ".join(_indices(ndim, axis, "k"))
    body = [pad + "running = 1.0", pad + f"for j in range(x.shape[{axis}]):",
            pad + f"    result[{each}] = running", pad + f"    running *= x[{each}]",
            pad + "running = 1.0", pad + f"for k in range(x.shape[{axis}] - 1, -1, -1):",
            pad + f"    result[{back}] *= running", pad + f"    running *= x[{back}]"]
    return "\n".join(["def impl(x, axis):", "    result = np.empty(x.shape, dtype=x.dtype)"]
                     + loops + body + ["    return result"]) + "\n"


def _compiled(source):
    namespace = {"np": np}
    exec(source, namespace)
    return namespace["impl"]


@overload(spread_along, prefer_literal=True)
def _spread_along_overload(adjoint, x, axis, keepdims):
    literal = _literal_axis(x, axis, keepdims)
    if literal is None:
        return None
    return _compiled(_spread_source(x.ndim, *literal, not isinstance(adjoint, types.Array)))


@overload(at_first_along, prefer_literal=True)
def _at_first_along_overload(x, y, adjoint, axis, keepdims):
    literal = _literal_axis(x, axis, keepdims)
    if literal is None:
        return None
    scalar_y, scalar_adjoint = (not isinstance(value, types.Array) for value in (y, adjoint))
    return _compiled(_at_first_source(x.ndim, *literal, scalar_y, scalar_adjoint))


@overload(products_of_others_along, prefer_literal=True)
def _products_of_others_along_overload(x, axis):
    if not (isinstance(x, types.Array) and isinstance(axis, types.IntegerLiteral)):
        return None
    return _compiled(_others_source(x.ndim, axis.literal_value % x.ndim))


def products_of_others_along_tangent(x, x_dot, axis):
    """The tangent of ``products_of_others_along(x, axis)`` along ``x_dot``: for each element i, the
    sum over the others k of ``x_dot[k]`` times the product of the elements other than i and k (along
    ``axis``). That is symmetric in i and k, so the same function gives the adjoint. Prefix and suffix
    products and their tangents: no division, zeros allowed."""
    x, x_dot = np.asarray(x), np.asarray(x_dot)
    moved, moved_dot = np.moveaxis(x, axis, -1), np.moveaxis(x_dot, axis, -1)
    result, lefts = np.empty(moved.shape), np.empty(moved.shape)
    running, running_dot = np.ones(moved.shape[:-1]), np.zeros(moved.shape[:-1])
    for j in range(moved.shape[-1]):
        result[..., j], lefts[..., j] = running_dot, running
        running, running_dot = running * moved[..., j], running_dot * moved[..., j] + running * moved_dot[..., j]
    running, running_dot = np.ones(moved.shape[:-1]), np.zeros(moved.shape[:-1])
    for k in range(moved.shape[-1] - 1, -1, -1):
        result[..., k] = result[..., k] * running + lefts[..., k] * running_dot
        running, running_dot = running * moved[..., k], running_dot * moved[..., k] + running * moved_dot[..., k]
    return np.moveaxis(result, -1, axis).astype(x.dtype)


def _others_tangent_source(ndim, axis):
    loops, pad = _loops(ndim, axis)
    each = ", ".join(_indices(ndim, axis))
    back = ", ".join(_indices(ndim, axis, "k"))
    body = [pad + "running = 1.0", pad + "running_dot = 0.0", pad + f"for j in range(x.shape[{axis}]):",
            pad + f"    result[{each}] = running_dot", pad + f"    lefts[{each}] = running",
            pad + f"    running_dot = running_dot * x[{each}] + running * x_dot[{each}]", pad + f"    running *= x[{each}]",
            pad + "running = 1.0", pad + "running_dot = 0.0", pad + f"for k in range(x.shape[{axis}] - 1, -1, -1):",
            pad + f"    result[{back}] = result[{back}] * running + lefts[{back}] * running_dot",
            pad + f"    running_dot = running_dot * x[{back}] + running * x_dot[{back}]", pad + f"    running *= x[{back}]"]
    return "\n".join(["def impl(x, x_dot, axis):", "    result = np.empty(x.shape, dtype=x.dtype)",
                      "    lefts = np.empty(x.shape, dtype=x.dtype)"] + loops + body + ["    return result"]) + "\n"


@overload(products_of_others_along_tangent, prefer_literal=True)
def _products_of_others_along_tangent_overload(x, x_dot, axis):
    if not (isinstance(x, types.Array) and isinstance(axis, types.IntegerLiteral)):
        return None
    return _compiled(_others_tangent_source(x.ndim, axis.literal_value % x.ndim))


def cumsum_along(x, axis):
    """``np.cumsum(x, axis=axis)``, compiled by numba too (numba's np.cumsum has no axis)."""
    return np.cumsum(x, axis=axis)


def cumsum_adjoint_along(adjoint, axis):
    """The adjoint of ``np.cumsum(x, axis=axis)`` for x: sums of ``adjoint`` from each position to
    the end of its line along ``axis``."""
    return np.flip(np.cumsum(np.flip(adjoint, axis), axis=axis), axis)


def _scan_source(ndim, axis, backwards):
    loops, pad = _loops(ndim, axis)
    each = ", ".join(_indices(ndim, axis))
    along = f"range(x.shape[{axis}] - 1, -1, -1)" if backwards else f"range(x.shape[{axis}])"
    body = [pad + "running = 0.0", pad + f"for j in {along}:", pad + f"    running += x[{each}]",
            pad + f"    result[{each}] = running"]
    return "\n".join(["def impl(x, axis):", "    result = np.empty(x.shape, dtype=x.dtype)"]
                     + loops + body + ["    return result"]) + "\n"


def _register_scan(function, backwards):
    @overload(function, prefer_literal=True)
    def _overload(x, axis):
        if not (isinstance(x, types.Array) and isinstance(axis, types.IntegerLiteral)):
            return None
        return _compiled(_scan_source(x.ndim, axis.literal_value % x.ndim, backwards))


_register_scan(cumsum_along, backwards=False)
_register_scan(cumsum_adjoint_along, backwards=True)


def roll_along(x, shift, axis):
    """``np.roll(x, shift, axis=axis)``, compiled by numba too (numba's np.roll has no axis)."""
    return np.roll(x, shift, axis=axis)


def _roll_source(ndim, axis):
    loops, pad = _loops(ndim, axis)
    source, target = ", ".join(_indices(ndim, axis)), ", ".join(_indices(ndim, axis, inner="k"))
    body = [pad + "for j in range(n):", pad + "    k = j + s", pad + "    if k >= n:", pad + "        k -= n",
            pad + f"    result[{target}] = x[{source}]"]
    return "\n".join(["def impl(x, shift, axis):", "    result = np.empty(x.shape, dtype=x.dtype)",
                      f"    n = x.shape[{axis}]", "    if n == 0:", "        return result", "    s = shift % n"]
                     + loops + body + ["    return result"]) + "\n"


@overload(roll_along, prefer_literal=True)
def _roll_along_overload(x, shift, axis):
    if not (isinstance(x, types.Array) and isinstance(axis, types.IntegerLiteral)):
        return None
    return _compiled(_roll_source(x.ndim, axis.literal_value % x.ndim))
