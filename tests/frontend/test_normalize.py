"""The normalize pass: AD-normal form that is valid Python and computes the primal value."""

import math

import libcst as cst
import pytest
from hypothesis import given
from hypothesis import strategies as st

from srcad.transforms.ir import is_atom
from srcad.pipeline import Normalized
from srcad.transforms.frontend.parse import parse_function

SCALE = 1.5


def mixed(x, y):
    """A docstring, dropped."""
    z = (x + 2.0) * (y - x) / (1.0 + x * x)
    z += -x ** 2 + abs(y - 3.0) ** 0.5
    w = z if z > 0.0 else -z
    a, b = x, y
    a, b = b, a + b
    z -= max(a, b, 0.5) * SCALE + math.log(1.0 + w, 2.0)
    return z * math.exp(-(x * x)) + a * b


def loops(x, n):
    s = 0.0
    for i in range(n * 2 - 1):
        s = s * 0.5 + math.sin(x + i)
    k = 0
    while k < n and s < 100.0:
        s += x * k
        k += 1
    return s


def _normalized(function):
    return Normalized(function)


def _run_normalized(function, *args):
    return _normalized(function).python_function()(*args)


@given(st.floats(-3, 3), st.floats(-3, 3))
def test_normalized_mixed_computes_the_primal(x, y):
    assert _run_normalized(mixed, x, y) == pytest.approx(mixed(x, y), rel=1e-12, abs=1e-12)


@given(st.floats(-2, 2), st.integers(0, 6))
def test_normalized_loops_compute_the_primal(x, n):
    assert _run_normalized(loops, x, n) == pytest.approx(loops(x, n), rel=1e-12, abs=1e-12)


class _Shape(cst.CSTVisitor):
    def __init__(self):
        self.problems = []

    def visit_Assign(self, node):
        value = node.value
        if isinstance(value, cst.BinaryOperation) and not (is_atom(value.left) and is_atom(value.right)):
            self.problems.append(cst.Module([]).code_for_node(node))
        if isinstance(value, cst.Call) and cst.Module([]).code_for_node(value.func).startswith("math."):
            if not all(is_atom(a.value) for a in value.args):
                self.problems.append(cst.Module([]).code_for_node(node))

    def visit_AugAssign(self, node):
        # `x += t` stays (in place for arrays), but only onto a name or an element, with an atom
        if not is_atom(node.value) or not isinstance(node.target, (cst.Name, cst.Subscript)):
            self.problems.append("augmented assignment of an expression: " + cst.Module([]).code_for_node(node))

    def visit_IfExp(self, node):
        self.problems.append("conditional expression left")

    def visit_While(self, node):
        if not (isinstance(node.test, cst.Name) and node.test.value == "True"):
            self.problems.append("while with a test")


@pytest.mark.parametrize("function", [mixed, loops])
def test_every_active_statement_is_one_operation_on_atoms(function):
    shape = _Shape()
    _normalized(function).definition.visit(shape)
    assert shape.problems == []


def test_each_block_names_the_user_line_it_came_from():
    source = _normalized(mixed).source
    first_line = mixed.__code__.co_firstlineno
    assert f"# line {first_line + 2}: z = (x + 2.0) * (y - x) / (1.0 + x * x)" in source
    assert f"# line {first_line + 6}: a, b = b, a + b" in source


def test_temporaries_have_readable_names():
    source = _normalized(mixed).source
    assert "x_times_x = x * x" in source
    body = source.split("def mixed")[1]
    assert "_t1" not in body and "tmp" not in body


def test_module_constants_are_defined_in_the_generated_module():
    assert "SCALE = 1.5" in _normalized(mixed).source


def test_parse_keeps_positions_for_the_users_file():
    parsed = parse_function(mixed)
    assert parsed.filename == __file__
    assert parsed.locator.first_line == mixed.__code__.co_firstlineno
    assert parsed.parameters == ["x", "y"]


def test_aliases_resolve_to_canonical_functions():
    from math import sin as sine

    def uses_alias(x):
        return sine(x) + math.cos(x)

    source = _normalized(uses_alias).source
    assert "math.sin(x)" in source and "math.cos(x)" in source


def rebound_at_top_level(x, n):
    y = x * 2.0
    x = x + y
    for i in range(n):
        x = x * 0.5 + y
    y = y * x
    return x + y


def test_a_variable_bound_again_at_the_top_level_gets_a_new_name_from_there_on():
    normalized = _normalized(rebound_at_top_level)
    code = normalized.source
    # the loop rebinds x inside; the top-level bindings before and after it start new versions
    assert "    x_2 = x + y\n" in code and "x_2 = x_times_0_5 + y" in code  # the loop's binding: same version
    assert "y_2 = y * x_2" in code and "x_2 + y_2" in code
    assert normalized.python_function()(0.3, 3) == pytest.approx(rebound_at_top_level(0.3, 3), rel=1e-15)
