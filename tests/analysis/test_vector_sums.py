"""Sums of vectors along their only axis as whole sums (``transforms/analysis/vector_sums.py``):
Python's ``sum(x)`` of a vector is normalized as ``np.sum(x, axis=0)``; on the typed normal form it
becomes ``np.sum(x)``, which the element loops add up in a float. Matrices keep their axis. The
rewritten normal form computes what Python computes on the user's code."""

import numba
import numpy as np
import pytest

from srcad.pipeline import Normalized, _function_from
from srcad.transforms.analysis.infer_types import infer_types
from srcad.transforms.analysis.vector_sums import full_sums_of_vectors
from srcad.transforms.output import emit


def sums(x, A):
    y = x * x
    return sum(np.sin(y)) + np.sum(sum(A) * y) + np.sum(A, axis=-1)[0] + np.sum(y, axis=-1)


def test_sums_of_vectors_along_their_axis_are_whole_sums_and_matrices_keep_theirs():
    args = (np.array([0.3, -0.5, 1.2]), np.arange(9.0).reshape(3, 3) / 4.0)
    normalized = Normalized(sums)
    types, _ = infer_types(normalized.python_function(), tuple(numba.typeof(a) for a in args))
    definition = full_sums_of_vectors(normalized.definition, types)
    source = emit.module_source(definition, stage="vector sums", origin="test", constants=normalized.constants)
    assert "np.sum(sin_y)" in source and "np.sum(y)" in source  # the vectors' sums
    # the matrix's, along an axis (which the module spells sum_along: numba compiles it faster, emit.py)
    assert "sum_along(A, 0, False)" in source and "sum_along(A, -1, False)" in source
    assert _function_from(source, "sums")(*args) == pytest.approx(sums(*args), rel=1e-14)
    assert full_sums_of_vectors(Normalized(matrix_sums).definition, {"A": numba.typeof(args[1])}) is None


def matrix_sums(A):
    return np.sum(np.sum(A, axis=0))
