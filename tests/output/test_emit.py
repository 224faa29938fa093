"""The emit pass: a generated function printed as a module with its header and imports."""

import libcst as cst

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
