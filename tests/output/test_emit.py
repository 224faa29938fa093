"""The emit pass: a generated function printed as a module with its header and imports."""

import libcst as cst
import numpy as np
from oracles import plain_central_differences

import srcad
from srcad.transforms.output.emit import module_source


def test_module_has_header_imports_and_constants():
    definition = cst.parse_statement("def f(x):\n    return x * K\n")
    source = module_source(definition, stage="normalized form", origin="f in file.py:1", constants={"K": 2.5})
    assert source.startswith("# srcad ")
    assert "normalized form of f in file.py:1" in source
    assert "import math" in source and "K = 2.5" in source
    namespace = {}
    exec(source, namespace)
    assert namespace["f"](2.0) == 5.0


def test_non_finite_constants_are_valid_python():
    definition = cst.parse_statement("def f(x):\n    return x\n")
    source = module_source(definition, stage="s", origin="o", constants={"BIG": float("inf"), "NAN": float("nan")})
    namespace = {}
    exec(source, namespace)
    assert namespace["BIG"] == float("inf")


def axis_sums(x, w):
    s = np.sum(x * w, axis=1)  # spelled sum_along(..., 1, False) in the module numba compiles
    t = np.sum(x, axis=-1) * np.sum(x, axis=0)[0]
    return np.sum(s * t)


def test_sums_along_an_axis_are_spelled_as_srcads_own_loops():
    rng = np.random.default_rng(3)
    args = (rng.normal(size=(4, 3)), rng.normal(size=(4, 3)))
    source = srcad.source(axis_sums, "adjoint", args=args, wrt=(0, 1))
    assert "sum_along(" in source
    assert not any("np.sum(" in line and "axis=" in line for line in source.splitlines() if not line.strip().startswith("#"))
    gradient = srcad.grad(axis_sums, wrt=(0, 1))(*args)
    for position, computed in enumerate(gradient):
        expected = plain_central_differences(axis_sums, list(args), position)
        np.testing.assert_allclose(computed, expected, rtol=1e-6, atol=1e-8)
