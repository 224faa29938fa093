"""Every scalar derivative rule against central differences of the operation itself.

The templates of ``srcad.transforms.rules`` are evaluated as plain Python, so a
wrong formula in the table fails here, independently of the rest of srcad.
"""

import math

import libcst as cst
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from srcad.transforms import rules

OPERATIONS = {
    "copy": (lambda x: x, [(-3, 3)]),
    "neg": (lambda x: -x, [(-3, 3)]),
    "+": (lambda a, b: a + b, [(-3, 3), (-3, 3)]),
    "-": (lambda a, b: a - b, [(-3, 3), (-3, 3)]),
    "*": (lambda a, b: a * b, [(-3, 3), (-3, 3)]),
    "/": (lambda a, b: a / b, [(-3, 3), (0.5, 3)]),
    "%": (lambda a, b: a % b, [(0.1, 0.9), (1.1, 3)]),
    "**": (lambda a, b: a**b, [(0.5, 3), (-2, 2)]),
    "pow": (lambda a, b: pow(a, b), [(0.5, 3), (-2, 2)]),
    "float": (float, [(-3, 3)]),
    "abs": (abs, [(0.2, 3)]),
    "max": (max, [(-3, -0.1), (0.1, 3)]),
    "min": (min, [(-3, -0.1), (0.1, 3)]),
    "np.maximum": (np.maximum, [(-3, -0.1), (0.1, 3)]),
    "np.minimum": (np.minimum, [(-3, -0.1), (0.1, 3)]),
    "math.sin": (math.sin, [(-3, 3)]),
    "math.cos": (math.cos, [(-3, 3)]),
    "math.tan": (math.tan, [(-1.2, 1.2)]),
    "math.asin": (math.asin, [(-0.9, 0.9)]),
    "math.acos": (math.acos, [(-0.9, 0.9)]),
    "math.atan": (math.atan, [(-3, 3)]),
    "math.atan2": (math.atan2, [(-3, 3), (0.2, 3)]),
    "math.sinh": (math.sinh, [(-3, 3)]),
    "math.cosh": (math.cosh, [(-3, 3)]),
    "math.tanh": (math.tanh, [(-3, 3)]),
    "math.exp": (math.exp, [(-3, 3)]),
    "math.expm1": (math.expm1, [(-3, 3)]),
    "math.log": (math.log, [(0.1, 5)]),
    "math.log1p": (math.log1p, [(-0.9, 5)]),
    "math.log2": (math.log2, [(0.1, 5)]),
    "math.log10": (math.log10, [(0.1, 5)]),
    "math.sqrt": (math.sqrt, [(0.1, 5)]),
    "math.pow": (math.pow, [(0.5, 3), (-2, 2)]),
    "math.hypot": (math.hypot, [(0.2, 3), (-3, -0.2)]),
    "math.fabs": (math.fabs, [(-3, -0.2)]),
    "math.erf": (math.erf, [(-2, 2)]),
    "math.erfc": (math.erfc, [(-2, 2)]),
    "math.asinh": (math.asinh, [(-3, 3)]),
    "math.acosh": (math.acosh, [(1.1, 4)]),
    "math.atanh": (math.atanh, [(-0.9, 0.9)]),
    "math.exp2": (lambda x: 2.0**x, [(-3, 3)]),
    "math.radians": (lambda x: x * math.pi / 180.0, [(-360, 360)]),
    "math.degrees": (lambda x: x * 180.0 / math.pi, [(-3, 3)]),
    "np.cbrt": (lambda x: math.copysign(abs(x) ** (1.0 / 3.0), x), [(0.2, 3)]),
    "np.reciprocal": (lambda x: 1.0 / x, [(0.3, 3)]),
    "np.logaddexp": (lambda a, b: math.log(math.exp(a) + math.exp(b)), [(-3, 3), (-3, 3)]),
    "np.square": (lambda x: x * x, [(-3, 3)]),
    "np.clip": (lambda x, low, high: min(max(x, low), high), [(-3, 3), (-3.5, -3.1), (3.1, 3.5)]),
    "np.where": (lambda c, a, b: a if c > 0.5 else b, [(0.9, 1.0), (-3, 3), (-3, 3)]),
    "scalar_where": (lambda c, a, b: a if c > 0.5 else b, [(0.9, 1.0), (-3, 3), (-3, 3)]),
}


def test_every_rule_has_an_oracle():
    twins = {**rules.NUMPY_TWINS, **rules.VECTORIZABLE_TWINS}
    assert set(OPERATIONS) == set(rules.SCALAR_RULES) - set(twins)
    for twin, name in twins.items():
        assert rules.SCALAR_RULES[twin] is rules.SCALAR_RULES[name]


def _evaluate(template, bindings):
    expression = cst.Module([]).code_for_node(rules.instantiate(template, **{k: cst.Name(k) for k in bindings}))
    return eval(expression, {"math": math, "np": np}, bindings)


def _central_difference(function, point, index):
    h = 1e-6 * max(1.0, abs(point[index]))
    plus, minus = list(point), list(point)
    plus[index] += h
    minus[index] -= h
    return (function(*plus) - function(*minus)) / (2 * h)


@pytest.mark.parametrize("key", sorted(OPERATIONS))
@given(data=st.data())
def test_rule_matches_central_differences(key, data):
    function, domains = OPERATIONS[key]
    rule = rules.SCALAR_RULES[key]
    point = [data.draw(st.floats(lo, hi)) for lo, hi in domains]
    y = function(*point)
    bindings = dict(zip(rule.operands, point), y=y, y_adj=1.0)
    for index, template in enumerate(rule.adjoints):
        expected = _central_difference(function, point, index)
        assert _evaluate(template, bindings) == pytest.approx(expected, rel=1e-5, abs=1e-6)
    # forward mode: the tangent along each axis is the same partial derivative
    for index in range(len(point)):
        tangents = {f"{name}_dot": float(i == index) for i, name in enumerate(rule.operands)}
        expected = _central_difference(function, point, index)
        assert _evaluate(rule.tangent, {**bindings, **tangents}) == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_conventions_at_kinks():
    """abs has derivative 0 at 0; min/max give a tie to their first argument."""
    abs_rule = rules.SCALAR_RULES["abs"]
    assert _evaluate(abs_rule.adjoints[0], {"x": 0.0, "y": 0.0, "y_adj": 1.0}) == 0.0
    for key in ("max", "min"):
        rule = rules.SCALAR_RULES[key]
        bindings = {"a": 1.0, "b": 1.0, "y": 1.0, "y_adj": 1.0}
        assert [_evaluate(t, bindings) for t in rule.adjoints] == [1.0, 0.0]


def test_instantiate_parenthesizes_negative_operands():
    node = rules.instantiate("y_adj * b * a ** (b - 1)", y_adj="g", a=cst.parse_expression("-2.0"), b="n")
    assert cst.Module([]).code_for_node(node) == "g * n * (-2.0) ** (n - 1)"


def test_canonical_names_see_through_aliases():
    from math import sin as sine

    assert rules.canonical_name_of(sine) == "math.sin"
    assert rules.canonical_name_of(abs) == "abs"
    assert rules.canonical_name_of(print) is None


ELEMENTWISE = {key: OPERATIONS[key] for key in rules.ELEMENTWISE_RULES if key in OPERATIONS}


@pytest.mark.parametrize("key", sorted(ELEMENTWISE))
@given(data=st.data())
def test_elementwise_rule_matches_central_differences_per_element(key, data):
    """The array form of a rule, evaluated on arrays, is the scalar derivative at every element."""
    function, domains = OPERATIONS[key]
    rule = rules.ELEMENTWISE_RULES[key]
    points = [np.array([data.draw(st.floats(lo, hi)) for _ in range(3)]) for lo, hi in domains]
    y = np.array([function(*p) for p in zip(*points)])
    bindings = dict(zip(rule.operands, points), y=y, y_adj=np.ones(3))
    for index, template in enumerate(rule.adjoints):
        expected = [_central_difference(function, list(p), index) for p in zip(*points)]
        np.testing.assert_allclose(_evaluate(template, bindings), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "key, function, make",
    [
        ("np.sum", np.sum, lambda rng: [rng.normal(size=4)]),
        ("np.mean", np.mean, lambda rng: [rng.normal(size=4)]),
        ("np.dot", np.dot, lambda rng: [rng.normal(size=4), rng.normal(size=4)]),
        ("np.linalg.norm", np.linalg.norm, lambda rng: [rng.normal(size=4)]),
        ("np.var", np.var, lambda rng: [rng.normal(size=4)]),
        ("np.var", np.var, lambda rng: [rng.normal(size=(2, 3))]),
        ("np.std", np.std, lambda rng: [rng.normal(size=(3, 2))]),
        ("np.trace", np.trace, lambda rng: [rng.normal(size=(3, 3))]),
        ("np.trace", np.trace, lambda rng: [rng.normal(size=(2, 4))]),
    ],
)
def test_reduction_rules_match_central_differences(key, function, make):
    rule = rules.REDUCTION_RULES[key]
    operands = make(np.random.default_rng(1))
    bindings = dict(zip(rule.operands, operands), y=function(*operands), y_adj=1.0)
    for index, template in enumerate(rule.adjoints):
        expected = np.zeros(operands[index].shape)
        for element in np.ndindex(expected.shape):
            def along(t, element=element):
                moved = [o.copy() for o in operands]
                moved[index][element] = t
                return function(*moved)
            expected[element] = _central_difference(along, [operands[index][element]], 0)
        np.testing.assert_allclose(_evaluate(template, bindings) * np.ones(expected.shape), expected,
                                   rtol=1e-6, atol=1e-7)
        tangent = {f"{name}_dot": np.zeros_like(o) for name, o in zip(rule.operands, operands)}
        direction = np.random.default_rng(2).normal(size=expected.shape)
        tangent[f"{rule.operands[index]}_dot"] = direction
        assert _evaluate(rule.tangent, {**bindings, **tangent}) == pytest.approx(np.sum(expected * direction), rel=1e-6)


@pytest.mark.parametrize("shape", [(5,), (3, 4)])
def test_the_rule_of_np_diff_is_the_transposed_difference(shape):
    """The adjoint of y = np.diff(x) is J^T y_adj, J the Jacobian (by central differences); its
    helper's own rule (forward mode through a gradient) is the transpose again."""
    from srcad.kernels import arrays

    rng = np.random.default_rng(4)
    x = rng.normal(size=shape)
    y_adj = rng.normal(size=np.diff(x).shape)
    jacobian_transposed = np.zeros(shape + y_adj.shape)
    for element in np.ndindex(shape):
        step = np.zeros(shape)
        step[element] = 1e-6
        jacobian_transposed[element] = (np.diff(x + step) - np.diff(x - step)) / 2e-6
    expected = np.tensordot(jacobian_transposed, y_adj, axes=y_adj.ndim)
    namespace = {"math": math, "np": np, "diff_adjoint": arrays.diff_adjoint}
    rule = rules.ARRAY_RULES["np.diff"]
    code = cst.Module([]).code_for_node(rules.instantiate(rule.adjoints[0], x=cst.Name("x"), y_adj=cst.Name("y_adj")))
    np.testing.assert_allclose(eval(code, namespace, {"x": x, "y_adj": y_adj}), expected, rtol=1e-6, atol=1e-8)
    helper = rules.ARRAY_RULES["diff_adjoint"]
    g = rng.normal(size=shape)
    code = cst.Module([]).code_for_node(rules.instantiate(helper.adjoints[0], y_adj=cst.Name("g")))
    np.testing.assert_allclose(np.sum(eval(code, namespace, {"g": g}) * y_adj), np.sum(g * arrays.diff_adjoint(y_adj)))
