"""The types of call arguments: checked (what compiled code cannot take is refused with what to
pass instead), as numba types (cached per kind of array), and as a cheap key for the calls after
the first."""

import numba
import numpy
from numba._dispatcher import compute_fingerprint as _fingerprint
from numba.core import types as numba_types


def check_argument(function, name, value):
    """Refuse, with what to do, arguments numba would only fail on later: lists, object arrays."""
    if isinstance(value, list):
        raise TypeError(
            f"argument {name!r} of {function} is a list: srcad takes NumPy arrays "
            f"(pass numpy.asarray({name}, dtype=float); every row of a nested list must have the same length)"
        )
    if isinstance(value, numpy.ndarray) and (value.dtype.kind not in "fiub" or value.dtype == numpy.float16):
        raise TypeError(
            f"argument {name!r} of {function} is an array of {value.dtype}: srcad takes arrays of floats "
            "(float32, float64), integers or booleans (float16, complex and object arrays are not supported)"
        )
    if not isinstance(value, _ARGUMENT_KINDS) or isinstance(value, numpy.float16):
        what = "None" if value is None else f"a {type(value).__name__}"
        raise TypeError(
            f"argument {name!r} of {function} is {what}: srcad passes floats, ints, bools, NumPy arrays "
            "and tuples (or NamedTuples) of them to compiled code. Pass the numbers it holds as such arguments."
        )


_ARGUMENT_KINDS = (int, float, bool, numpy.number, numpy.bool_, numpy.ndarray, tuple, str)


def argument_type(value):
    kind = type(value)
    if kind is float:
        return numba_types.float64
    if kind is int:
        return numba_types.int64
    if kind is bool:
        return numba_types.boolean
    if kind is numpy.ndarray:  # numba.typeof builds a new type object per call: ~10 us, more than a small gradient
        flags = value.flags
        key = (value.dtype, value.ndim, flags.c_contiguous, flags.f_contiguous, flags.writeable, flags.aligned)
        cached = _ARRAY_TYPES.get(key)
        if cached is None:
            cached = _ARRAY_TYPES[key] = numba.typeof(value)
        return cached
    return numba.typeof(value)


_ARRAY_TYPES = {}  # (dtype, ndim, contiguity, writeable, aligned) -> the numba type of such arrays


def equal_extents(values):
    """Which extents of the arrays among ``values`` are equal, for code specialized to that (see
    ``transforms/analysis/shapes.py``): per axis of each array, in order, the position of the first axis
    of the same extent; None where no two are equal (code for any extents serves). Extents equal by
    chance specialize too: the code is right for them, and other calls get code of their own."""
    first = {}
    pattern = []
    for value in values:
        if isinstance(value, numpy.ndarray):  # (a subclass too: numba types it as an array)
            for extent in value.shape:
                pattern.append(first.setdefault(extent, len(pattern)))
    return tuple(pattern) if len(first) < len(pattern) else None


def fast_type_key(args):
    """A cheap key for the types of ``args`` (numba types hash slowly): the Python type of floats,
    ints and booleans, and for arrays the fingerprint numba's dispatcher computes in C (dtype,
    rank, layout, writeability; 0.1 us where building a numba type costs 0.4); None for other
    arguments."""
    key = []
    for value in args:
        kind = type(value)
        if kind is float or kind is int or kind is bool:
            key.append(kind)
        elif kind is numpy.ndarray:
            try:
                key.append(_fingerprint(value))
            except NotImplementedError:  # float16, object arrays: left to the checks
                return None
        else:
            return None
    return tuple(key)


def carries_derivatives(numba_type):
    """Whether arguments of ``numba_type`` have derivatives: floats and arrays of floats."""
    if isinstance(numba_type, numba_types.Array):
        return isinstance(numba_type.dtype, numba_types.Float)
    return isinstance(numba_type, numba_types.Float)
