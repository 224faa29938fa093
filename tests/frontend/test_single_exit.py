"""The single-exit pass: break, continue and early return become flags; values unchanged."""

import libcst as cst
import pytest
from hypothesis import given
from hypothesis import strategies as st

from srcad.pipeline import Normalized
from srcad.transforms.ir.statements import is_exit_check


def jumps(x, n):
    s = 0.0
    for i in range(n):
        if i == 2:
            continue
        for j in range(3):
            if s > 50.0:
                return s - x
            if j == i:
                break
            s += x * (i + j)
        if s < -40.0:
            break
    return s * 2.0


def searching(x):
    y = x
    while True:
        y = y * 1.5 + 0.1
        if y > 10.0:
            break
        if y < -10.0:
            return -y
    return y


@given(st.floats(-5, 5), st.integers(0, 12))
def test_lowered_jumps_keep_the_value(x, n):
    assert Normalized(jumps).python_function()(x, n) == pytest.approx(jumps(x, n), rel=1e-12, abs=1e-12)


@given(st.floats(-5, 5).filter(lambda v: abs(v + 0.2) > 1e-3))
def test_lowered_while_true_keeps_the_value(x):
    assert Normalized(searching).python_function()(x) == pytest.approx(searching(x), rel=1e-12)


class _Jumps(cst.CSTVisitor):
    def __init__(self):
        self.stray = []
        self.returns = 0

    def visit_If(self, node):
        if is_exit_check(node):
            return False  # an exit check's break is allowed
        return True

    def visit_Break(self, node):
        self.stray.append("break")

    def visit_Continue(self, node):
        self.stray.append("continue")

    def visit_Return(self, node):
        self.returns += 1


@pytest.mark.parametrize("function", [jumps, searching])
def test_only_exit_checks_and_one_return_remain(function):
    definition = Normalized(function).definition
    jumps_left = _Jumps()
    definition.visit(jumps_left)
    assert jumps_left.stray == [] and jumps_left.returns == 1
    assert isinstance(definition.body.body[-1].body[0], cst.Return)


def test_functions_without_jumps_are_left_alone():
    def plain(x):
        y = x * 2.0
        return y

    assert "returned" not in Normalized(plain).source
