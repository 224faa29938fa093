"""Printed code means what the user wrote: precedence and associativity, whoever built the tree.

Two oracles, neither of them srcad: Python's own parser reads back what srcad's printer wrote
(random trees built without parentheses, as passes build them), and the user's function, run as
plain Python, gives the values the normal form must give (random user expressions printed by
Python's ``ast.unparse``), with their derivatives checked against central differences.
"""

import ast
import math

import libcst as cst
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st

import srcad
from fuzz import oracle
from fuzz.test_random_scalar_programs import load_function
from srcad.pipeline import Normalized
from srcad.transforms.ir.precedence import spelled

# -- the printer against Python's parser ---------------------------------------------------------

_BINARY = [
    (cst.Add, ast.Add), (cst.Subtract, ast.Sub), (cst.Multiply, ast.Mult), (cst.Divide, ast.Div),
    (cst.FloorDivide, ast.FloorDiv), (cst.Modulo, ast.Mod), (cst.Power, ast.Pow), (cst.MatrixMultiply, ast.MatMult),
    (cst.BitOr, ast.BitOr), (cst.BitAnd, ast.BitAnd), (cst.BitXor, ast.BitXor), (cst.LeftShift, ast.LShift),
]  # fmt: skip
_UNARY = [(cst.Minus, ast.USub), (cst.Plus, ast.UAdd), (cst.BitInvert, ast.Invert), (cst.Not, ast.Not)]
_COMPARE = [(cst.LessThan, ast.Lt), (cst.GreaterThanEqual, ast.GtE), (cst.Equal, ast.Eq), (cst.NotEqual, ast.NotEq)]
_BOOLEAN = [(cst.And, ast.And), (cst.Or, ast.Or)]


def _leaves():
    names = st.sampled_from("abcxyz").map(lambda n: (cst.Name(n), ast.Name(n, ast.Load())))
    integers = st.integers(0, 9).map(lambda v: (cst.Integer(str(v)), ast.Constant(v)))
    floats = st.sampled_from(["0.5", "2.0", "1e3"]).map(lambda v: (cst.Float(v), ast.Constant(float(v))))
    return names | integers | floats


def _boolean(left, operator, right):
    """``left <op> right`` as Python reads it back: ``(a and b) and c`` (the same values, the same
    short circuits) is one ``BoolOp`` of three values, as Python parses ``a and b and c``."""
    if isinstance(left, ast.BoolOp) and isinstance(left.op, operator):
        return ast.BoolOp(operator(), left.values + [right])
    return ast.BoolOp(operator(), [left, right])


def _compound(children):
    binary = st.tuples(children, st.sampled_from(_BINARY), children).map(
        lambda t: (cst.BinaryOperation(t[0][0], t[1][0](), t[2][0]), ast.BinOp(t[0][1], t[1][1](), t[2][1]))
    )
    unary = st.tuples(st.sampled_from(_UNARY), children).map(
        lambda t: (cst.UnaryOperation(t[0][0](), t[1][0]), ast.UnaryOp(t[0][1](), t[1][1]))
    )
    compare = st.tuples(children, st.lists(st.tuples(st.sampled_from(_COMPARE), children), min_size=1, max_size=2)).map(
        lambda t: (
            cst.Comparison(t[0][0], [cst.ComparisonTarget(op[0](), c[0]) for op, c in t[1]]),
            ast.Compare(t[0][1], [op[1]() for op, _ in t[1]], [c[1] for _, c in t[1]]),
        )
    )
    boolean = st.tuples(children, st.sampled_from(_BOOLEAN), children).map(
        lambda t: (cst.BooleanOperation(t[0][0], t[1][0](), t[2][0]), _boolean(t[0][1], t[1][1], t[2][1]))
    )
    conditional = st.tuples(children, children, children).map(
        lambda t: (cst.IfExp(test=t[0][0], body=t[1][0], orelse=t[2][0]), ast.IfExp(t[0][1], t[1][1], t[2][1]))
    )
    subscript = st.tuples(children, children).map(
        lambda t: (
            cst.Subscript(t[0][0], [cst.SubscriptElement(cst.Index(t[1][0]))]),
            ast.Subscript(t[0][1], t[1][1], ast.Load()),
        )
    )
    attribute = children.map(lambda c: (cst.Attribute(c[0], cst.Name("real")), ast.Attribute(c[1], "real", ast.Load())))
    call = st.tuples(children, st.lists(children, max_size=2)).map(
        lambda t: (cst.Call(t[0][0], [cst.Arg(a[0]) for a in t[1]]), ast.Call(t[0][1], [a[1] for a in t[1]], []))
    )
    bare_tuple = st.lists(children, min_size=2, max_size=2).map(
        lambda t: (cst.Tuple([cst.Element(e[0]) for e in t], lpar=[], rpar=[]), ast.Tuple([e[1] for e in t], ast.Load()))
    )
    return binary | unary | compare | boolean | conditional | subscript | attribute | call | bare_tuple


_TREES = st.recursive(_leaves(), _compound, max_leaves=12)


def _read_back(source):
    return ast.dump(ast.parse(source, mode="eval").body)


@settings(max_examples=600)
@given(_TREES)
def test_every_printed_expression_reads_back_as_the_tree_it_was_built_as(pair):
    tree, meant = pair
    printed = spelled(tree)
    note(printed)
    assert _read_back(printed) == ast.dump(meant)


@pytest.mark.parametrize(
    "build, printed",
    [
        (lambda: cst.BinaryOperation(cst.UnaryOperation(cst.Minus(), cst.Integer("1")), cst.Power(), cst.Name("i")), "(-1) ** i"),
        (lambda: cst.BinaryOperation(cst.Name("a"), cst.Power(), cst.UnaryOperation(cst.Minus(), cst.Name("b"))), "a ** -b"),
        (lambda: cst.BinaryOperation(cst.Name("a"), cst.Subtract(),
                                     cst.BinaryOperation(cst.Name("b"), cst.Subtract(), cst.Name("c"))), "a - (b - c)"),
        (lambda: cst.Attribute(cst.Integer("1"), cst.Name("real")), "(1).real"),
        (lambda: cst.Name("x"), "x"),
    ],
)
def test_parentheses_are_added_only_where_needed(build, printed):
    assert spelled(build()) == printed


def test_parentheses_the_user_wrote_are_kept():
    assert spelled(cst.parse_expression("(a + b) + ((c))")) == "(a + b) + ((c))"


# -- the user's expressions through the normal form, the adjoint and the tangent -------------------


def _negative(node):
    return ast.UnaryOp(ast.USub(), node)  # how Python itself reads -2.0


def _float_expressions():
    leaves = st.sampled_from(["x", "y"]).map(ast.Name) | st.sampled_from([0.5, 1.5, 2.0, 3.0]).flatmap(
        lambda v: st.sampled_from([ast.Constant(v), _negative(ast.Constant(v))])
    )

    def compound(floats):
        arithmetic = st.tuples(floats, st.sampled_from([ast.Add, ast.Sub, ast.Mult]), floats).map(
            lambda t: ast.BinOp(t[0], t[1](), t[2])
        )
        # denominators kept away from zero: e / (1.5 + e * e)
        quotient = st.tuples(floats, floats).map(
            lambda t: ast.BinOp(t[0], ast.Div(), ast.BinOp(ast.Constant(1.5), ast.Add(), ast.BinOp(t[1], ast.Mult(), t[1])))
        )
        negation = floats.map(_negative)
        plus = floats.map(lambda e: ast.UnaryOp(ast.UAdd(), e))
        # small whole powers, of negative literal bases too: (-2.0) ** 2, (-1) ** n
        powers = st.tuples(floats, st.integers(0, 3)).map(lambda t: ast.BinOp(t[0], ast.Pow(), ast.Constant(t[1])))
        signs = st.tuples(st.sampled_from([1, 2]), _INTEGERS).map(
            lambda t: ast.BinOp(_negative(ast.Constant(t[0])), ast.Pow(), t[1])
        )
        signed_products = st.tuples(signs, floats).map(lambda t: ast.BinOp(t[0], ast.Mult(), t[1]))
        remainders = st.tuples(floats, st.sampled_from([2.5, 3.5]), st.booleans()).map(
            lambda t: ast.BinOp(t[0], ast.Mod(), _negative(ast.Constant(t[1])) if t[2] else ast.Constant(t[1]))
        )
        floors = st.tuples(floats, st.sampled_from([2.5, 3.5]), st.booleans()).map(
            lambda t: ast.BinOp(t[0], ast.FloorDiv(), _negative(ast.Constant(t[1])) if t[2] else ast.Constant(t[1]))
        )
        conditional = st.tuples(_conditions(floats), floats, floats).map(lambda t: ast.IfExp(t[0], t[1], t[2]))
        calls = floats.map(lambda e: ast.Call(ast.Attribute(ast.Name("math"), "sin"), [e], []))
        return (arithmetic | quotient | negation | plus | powers | signed_products | remainders | floors
                | conditional | calls)

    return st.recursive(leaves, compound, max_leaves=8)


def _integer_expressions():
    leaves = st.just(ast.Name("n")) | st.integers(1, 3).flatmap(
        lambda v: st.sampled_from([ast.Constant(v), _negative(ast.Constant(v))])
    )

    def compound(integers):
        arithmetic = st.tuples(integers, st.sampled_from([ast.Add, ast.Sub, ast.Mult]), integers).map(
            lambda t: ast.BinOp(t[0], t[1](), t[2])
        )
        divisions = st.tuples(integers, st.sampled_from([ast.FloorDiv, ast.Mod]), st.sampled_from([2, 3]), st.booleans()).map(
            lambda t: ast.BinOp(t[0], t[1](), _negative(ast.Constant(t[2])) if t[3] else ast.Constant(t[2]))
        )
        powers = st.tuples(integers, st.integers(0, 3)).map(lambda t: ast.BinOp(t[0], ast.Pow(), ast.Constant(t[1])))
        return arithmetic | divisions | powers | integers.map(_negative)

    return st.recursive(leaves, compound, max_leaves=4)


_INTEGERS = _integer_expressions()


def _conditions(floats):
    comparisons = st.lists(st.tuples(st.sampled_from([ast.Lt, ast.LtE, ast.Gt]), floats), min_size=1, max_size=2)
    compare = st.tuples(floats, comparisons).map(lambda t: ast.Compare(t[0], [op() for op, _ in t[1]], [e for _, e in t[1]]))
    integer_compare = st.tuples(_INTEGERS, st.sampled_from([ast.Lt, ast.Eq, ast.NotEq]), _INTEGERS).map(
        lambda t: ast.Compare(t[0], [t[1]()], [t[2]])
    )
    simple = compare | integer_compare

    def compound(conditions):
        boolean = st.tuples(st.sampled_from([ast.And, ast.Or]), conditions, conditions).map(
            lambda t: ast.BoolOp(t[0](), [t[1], t[2]])
        )
        return boolean | conditions.map(lambda c: ast.UnaryOp(ast.Not(), c))

    return st.recursive(simple, compound, max_leaves=3)


def _user_function(expression, second):
    """``f(x, y, n)`` returning the expression, also through a tuple assignment and a nesting in
    another operation (a place where its precedence matters)."""
    body = [
        ast.Assign([ast.Tuple([ast.Name("a"), ast.Name("b")], ast.Store())], ast.Tuple([expression, second]), lineno=0),
        ast.Return(ast.BinOp(ast.BinOp(ast.Name("a"), ast.Mult(), ast.Constant(2.0)), ast.Sub(),
                             ast.UnaryOp(ast.USub(), ast.Name("b")))),
    ]
    function = ast.FunctionDef("f", ast.arguments([], [ast.arg("x"), ast.arg("y"), ast.arg("n")], None, [], [], None, []),
                               body, [], lineno=0)
    return "import math\n\n\n" + ast.unparse(ast.fix_missing_locations(ast.Module([function], []))) + "\n"


_ARGUMENTS = st.tuples(st.floats(-2.0, 2.0), st.floats(-2.0, 2.0), st.integers(-3, 3))


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(_float_expressions(), _float_expressions(), _ARGUMENTS)
def test_the_normal_form_and_the_derivatives_of_random_expressions_are_the_users(expression, second, arguments):
    source = _user_function(expression, second)
    note(source)
    f = load_function(source)
    x, y, n = arguments
    try:
        value = f(x, y, n)
    except (ArithmeticError, ValueError):
        assume(False)
    assume(math.isfinite(value) and abs(value) < 1e6)

    normalized = Normalized(f).python_function()(x, y, n)
    assert normalized == value or (math.isnan(value) and math.isnan(normalized))

    try:
        got_value, (dx, dy) = srcad.value_and_grad(f, wrt=(0, 1))(x, y, n)
    except ValueError as error:  # (-2) ** -1 of integers: numba's 0, Python's -0.5; srcad says so
        assert "negative integer power" in str(error)
        event("an integer to a negative integer power, refused")
        return
    assert got_value == value
    try:
        reference = oracle.gradient(f, (x, y, n), (0, 1))
    except oracle.Unreliable:  # a floor, a remainder or a branch switches between the samples
        event("central differences do not settle")
        return
    event("gradient checked")
    for got, (fd, error) in zip((dx, dy), reference):
        assert abs(got - fd) <= 1e-6 * max(1.0, abs(fd)) + 10.0 * error
    tangent_value, tangent = srcad.jvp(f, (x, y, n), (1.0, -0.5, None))  # (its powers were refused above)
    assert tangent_value == value
    (fd_x, error_x), (fd_y, error_y) = reference
    along = fd_x - 0.5 * fd_y
    assert abs(tangent - along) <= 1e-6 * max(1.0, abs(along)) + 10.0 * (error_x + 0.5 * error_y)


@pytest.mark.parametrize(
    "source, x, expected_value, expected_derivative",
    [
        ("def f(x):\n    s = 0.0\n    for i in range(6):\n        s += (-1) ** i * x ** i / (i + 1)\n    return s\n",
         0.7, sum((-1) ** i * 0.7 ** i / (i + 1) for i in range(6)), sum((-1) ** i * i * 0.7 ** (i - 1) / (i + 1) for i in range(1, 6))),
        ("def f(x):\n    return (-2.0) ** 2 * x\n", 0.7, 2.8, 4.0),
        ("def f(x):\n    return -x ** 2\n", 3.0, -9.0, -6.0),
        ("def f(x):\n    return 2.0 ** -x\n", 1.0, 0.5, -0.5 * math.log(2.0)),
        ("def f(x):\n    return x - (x - (-x) * 2.0)\n", 1.5, -3.0, -2.0),
        ("def f(x):\n    return (x if x > 0.0 else -x) * 3.0 - -x\n", -2.0, 4.0, -2.0),
    ],
)
def test_the_issues_programs_give_python_s_values_and_closed_form_derivatives(source, x, expected_value, expected_derivative):
    f = load_function("import math\n\n\n" + source)
    value, derivative = srcad.value_and_grad(f)(x)
    assert value == pytest.approx(expected_value, rel=1e-14)
    assert derivative == pytest.approx(expected_derivative, rel=1e-12)
    assert srcad.jvp(f, (x,), (1.0,))[1] == pytest.approx(expected_derivative, rel=1e-12)


def _integer_function(expression):
    function = ast.FunctionDef("g", ast.arguments([], [ast.arg("n")], None, [], [], None, []),
                               [ast.Return(expression)], [], lineno=0)
    return ast.unparse(ast.fix_missing_locations(ast.Module([function], []))) + "\n"


@settings(max_examples=200)
@given(_INTEGERS, st.integers(-3, 3))
def test_integer_expressions_through_the_normal_form_give_the_same_ints(expression, n):
    source = _integer_function(expression)
    note(source)
    g = load_function(source, "g")
    try:
        expected = g(n)
    except ArithmeticError:
        assume(False)
    got = Normalized(g).python_function()(n)
    assert got == expected and type(got) is type(expected)


def test_the_slope_of_a_zeroth_power_is_zero_at_a_subnormal_base():
    # found by the random expressions: y ** 0 at y = 5e-324 had the derivative 0 * inf = nan
    f = load_function("def f(x, y, n):\n    return x + -(-(y ** 0)) + y ** n\n")
    assert srcad.grad(f, wrt=(0, 1))(0.0, 5e-324, 0) == (1.0, 0.0)
    assert srcad.jvp(f, (0.0, 5e-324, 0), (0.0, 1.0, None))[1] == 0.0


def signed_terms(x, n):
    s = 0.0
    for i in range(n):
        s += (-1) ** i * x ** i + 2 ** (i + 1) * x - 3 ** (n - i - 1)
    return s


def halves(x, n):
    s = 0.0
    for i in range(n):
        s += 2 ** (i - 1) * x  # 2 ** -1 is 0.5 in Python, 0 in numba's integers
    return s


def test_integer_powers_are_python_s_or_refused_at_run_time_naming_the_line():
    value, derivative = srcad.value_and_grad(signed_terms)(0.5, 4)
    assert value == signed_terms(0.5, 4)
    assert derivative == pytest.approx(sum((-1) ** i * i * 0.5 ** (i - 1) + 2 ** (i + 1) for i in range(1, 4)) + 2.0)
    with pytest.raises(ValueError, match="test_precedence.py:[0-9]+: an integer to a negative integer power") as caught:
        srcad.grad(halves)(0.5, 3)
    assert f":{halves.__code__.co_firstlineno + 3}:" in str(caught.value)


@srcad.kernel
def alternate(x, y):
    i = srcad.tid()
    y[i] = (-1) ** i * x[i] * 2 ** i


def test_integer_powers_in_a_kernel():
    x, y = np.array([1.0, 2.0, 3.0]), np.zeros(3)
    tape = srcad.Tape()
    with tape:
        alternate.launch(3, x, y)
    np.testing.assert_array_equal(y, [1.0, -4.0, 12.0])
