"""The scalar language, program by program, against finite differences.

Every program in `scalar_programs.PROGRAMS` is differentiated by srcad and the
result is compared with float64 central differences of the *plain Python*
function (`oracles.py`), never with srcad itself:

- `grad(f, wrt=k)` for every float argument, as a hypothesis property;
- `value_and_grad` gives the plain-Python value (and the gradient);
- `grad` of the decorated function with a tuple `wrt` gives a tuple;
- `vjp` gives the value and a pullback that is linear in the cotangent and
  gives None for int arguments;
- the normalized primal (`srcad.source(f, "normalized")`) is Python that
  still computes the same value.

The first tests check the oracle itself on closed-form derivatives and the
corpus on its coverage of the language, so a failure further down points at
srcad rather than at the test.
"""

import ast
import inspect
import math
import random
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import srcad

if __package__:
    from . import oracles, scalar_programs
else:
    import oracles
    import scalar_programs

PROGRAMS = scalar_programs.PROGRAMS
PROGRAM_IDS = [program.name for program in PROGRAMS]

by_program = pytest.mark.parametrize("program", PROGRAMS, ids=PROGRAM_IDS)


# ---------------------------------------------------------------------------
# inputs


def _int_bounds(domain):
    _, low, high = domain.split(":")
    return int(low), int(high)


def argument_strategy(program):
    """Hypothesis strategy for one argument tuple inside the program's domain."""
    parts = []
    for domain in program.domains:
        if isinstance(domain, str):
            parts.append(st.integers(*_int_bounds(domain)))
        else:
            low, high = domain
            parts.append(
                st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)
            )
    return st.tuples(*parts)


def sample_arguments(program, count=3, salt=""):
    """A few reproducible argument tuples inside the domain (no hypothesis)."""
    generator = random.Random(f"{program.name}/{salt}")
    samples = []
    for _ in range(count):
        args = []
        for domain in program.domains:
            if isinstance(domain, str):
                args.append(generator.randint(*_int_bounds(domain)))
            else:
                args.append(generator.uniform(*domain))
        samples.append(tuple(args))
    return samples


# ---------------------------------------------------------------------------
# oracle values


def primal_value(program, args):
    """f(*args) as plain Python."""
    return oracles.plain_function(program.function)(*args)


def fd_gradient(program, args, index):
    """Central difference w.r.t. args[index], with no_grad'd values held constant."""
    stopped = oracles.freeze_no_grad(program.function, args)
    return oracles.central_difference(stopped, args, index)


def fd_scale(value):
    return max(1.0, abs(value))


def assert_matches_fd(program, args, index, got, factor=1.0):
    value = primal_value(program, args)
    expected = factor * fd_gradient(program, args, index)
    oracles.assert_close_to_fd(
        got,
        expected,
        scale=abs(factor) * fd_scale(value),
        what=f"{factor:g} * d {program.name} / d arg{index} at {args}",
    )


# srcad compiles on first call; build each derivative once per session.
_compiled = {}


def compiled(kind, program, wrt=None):
    key = (kind, program.name, wrt)
    if key not in _compiled:
        if kind == "grad":
            _compiled[key] = srcad.grad(program.function, wrt=wrt)
        elif kind == "value_and_grad":
            _compiled[key] = srcad.value_and_grad(program.function)
        elif kind == "grad_of_decorated":
            _compiled[key] = srcad.grad(srcad.differentiable(program.function), wrt=wrt)
        else:
            raise ValueError(kind)
    return _compiled[key]


# ---------------------------------------------------------------------------
# the oracle, checked on closed forms


def _sin_times(x, a):
    return math.sin(a * x)


def _three_args(x, n, y):
    return x ** 3 * y + n * math.exp(y)


@pytest.mark.parametrize(
    "function, x, derivative",
    [
        (math.sin, 0.3, math.cos(0.3)),
        (math.exp, 2.5, math.exp(2.5)),
        (math.log, 0.2, 5.0),
        (math.atan, -3.0, 1.0 / 10.0),
        (lambda x: x ** 3, -2.0, 12.0),
        (lambda x: 1.0 / x, 150.0, -1.0 / 150.0 ** 2),
        (lambda x: math.sqrt(x), 1e4, 0.5 / 100.0),
    ],
)
@pytest.mark.parametrize("richardson", [True, False])
def test_central_difference_matches_closed_forms(function, x, derivative, richardson):
    got = oracles.central_difference(function, (x,), 0, richardson=richardson)
    tolerance = 1e-11 if richardson else 1e-8
    assert abs(got - derivative) <= tolerance * max(1.0, abs(derivative))


def test_central_difference_differentiates_the_requested_argument():
    assert oracles.central_difference(_sin_times, (0.4, 2.0), 0) == pytest.approx(
        2.0 * math.cos(0.8), rel=1e-11
    )
    assert oracles.central_difference(_sin_times, (0.4, 2.0), 1) == pytest.approx(
        0.4 * math.cos(0.8), rel=1e-11
    )
    assert oracles.central_difference(_three_args, (1.5, 2, 0.5), 2) == pytest.approx(
        1.5 ** 3 + 2 * math.exp(0.5), rel=1e-11
    )
    assert oracles.gradient_by_central_differences(_three_args, (1.5, 2, 0.5), (0, 2)) == (
        pytest.approx(3 * 1.5 ** 2 * 0.5, rel=1e-11),
        pytest.approx(1.5 ** 3 + 2 * math.exp(0.5), rel=1e-11),
    )


def test_central_difference_refuses_int_arguments():
    with pytest.raises(oracles.OracleError):
        oracles.central_difference(_three_args, (1.5, 2, 0.5), 1)


def test_oracle_calls_the_plain_python_function():
    calls = []

    def plain(x):
        calls.append(x)
        return x * x

    def decorated(x):
        raise AssertionError("the oracle must not call the wrapper")

    decorated.__wrapped__ = plain
    assert oracles.plain_function(decorated) is plain
    assert oracles.central_difference(decorated, (3.0,), 0) == pytest.approx(6.0, rel=1e-12)
    assert len(calls) == 4


def test_freeze_no_grad_holds_stopped_values_constant():
    # stopped_normalization(x, y) = (x*x + y) / no_grad(|(x, y)|): by hand,
    # d/dx = 2x / norm and d/dy = 1 / norm with norm held fixed.
    x, y = 1.3, 0.7
    norm = math.hypot(x, y)
    stopped = oracles.freeze_no_grad(scalar_programs.stopped_normalization, (x, y))
    assert stopped(x, y) == pytest.approx((x * x + y) / norm, rel=1e-15)
    assert oracles.central_difference(stopped, (x, y), 0) == pytest.approx(2 * x / norm, rel=1e-10)
    assert oracles.central_difference(stopped, (x, y), 1) == pytest.approx(1 / norm, rel=1e-10)
    # Straight-through rounding: the derivative is exactly 1 even across the
    # jumps of the rounding, which only a frozen oracle can see.
    rounding = oracles.freeze_no_grad(scalar_programs.straight_through_rounding, (0.2499,))
    assert oracles.central_difference(rounding, (0.2499,), 0) == pytest.approx(1.0, rel=1e-12)
    # Functions that never mention srcad are passed through untouched.
    assert oracles.freeze_no_grad(scalar_programs.cubic_polynomial, (1.0,)) is (
        scalar_programs.cubic_polynomial
    )


def test_assert_close_to_fd_rejects_wrong_and_missing_gradients():
    oracles.assert_close_to_fd(1.0 + 1e-9, 1.0)
    oracles.assert_close_to_fd(1e6 * (1 + 1e-6), 1e6)  # relative tolerance
    oracles.assert_close_to_fd(1e-7, 0.0, scale=10.0)  # absolute tolerance scales
    with pytest.raises(AssertionError):
        oracles.assert_close_to_fd(1.001, 1.0)
    with pytest.raises(AssertionError):
        oracles.assert_close_to_fd(None, 1.0)
    with pytest.raises(AssertionError):
        oracles.assert_close_to_fd(float("nan"), 1.0)
    with pytest.raises(AssertionError):
        oracles.assert_close_to_fd((1.0,), 1.0)


# ---------------------------------------------------------------------------
# the corpus itself


def _is_closure(function):
    return function.__closure__ is not None


def test_corpus_is_well_formed():
    assert len(PROGRAMS) >= 35
    assert len(set(PROGRAM_IDS)) == len(PROGRAM_IDS), "program names must be unique"
    for program in PROGRAMS:
        function = program.function
        assert not hasattr(function, "__wrapped__"), f"{program.name} must be undecorated"
        parameters = list(inspect.signature(function).parameters)
        assert len(parameters) == len(program.domains), program.name
        assert program.wrt and program.wrt[0] == 0, f"{program.name}: arg 0 must be a float"
        for index, domain in enumerate(program.domains):
            if isinstance(domain, str):
                low, high = _int_bounds(domain)
                assert low <= high and index not in program.wrt
            else:
                low, high = domain
                assert low < high and index in program.wrt
        source = textwrap.dedent(inspect.getsource(function))
        (definition,) = ast.parse(source).body
        assert isinstance(definition, ast.FunctionDef) and definition.name == program.name
        if not _is_closure(function):
            assert getattr(scalar_programs, program.name) is function, "module-level def"


def _corpus_trees():
    return [ast.parse(textwrap.dedent(inspect.getsource(p.function))) for p in PROGRAMS]


def _loop_depth_at_least_two(tree):
    loops = (ast.For, ast.While)
    return any(
        isinstance(inner, loops) and inner is not outer
        for outer in ast.walk(tree)
        if isinstance(outer, loops)
        for inner in ast.walk(outer)
    )


def _inside(tree, node_types, parent_types):
    return any(
        isinstance(node, node_types)
        for parent in ast.walk(tree)
        if isinstance(parent, parent_types)
        for node in ast.walk(parent)
    )


def test_corpus_covers_the_scalar_language():
    trees = _corpus_trees()
    nodes = [node for tree in trees for node in ast.walk(tree)]

    def has(predicate):
        return any(predicate(node) for node in nodes)

    def binop(op):
        return has(lambda n: isinstance(n, ast.BinOp) and isinstance(n.op, op))

    def call(name, nargs=None):
        return has(
            lambda n: isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name)
            and n.func.id == name
            and (nargs is None or len(n.args) == nargs)
        )

    def math_call(name):
        return has(
            lambda n: isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and isinstance(n.func.value, ast.Name)
            and n.func.value.id == "math"
            and n.func.attr == name
        )

    def augmented(op):
        return has(lambda n: isinstance(n, ast.AugAssign) and isinstance(n.op, op))

    def range_with(nargs, negative_step=False):
        def matches(n):
            if not (isinstance(n, ast.Call) and getattr(n.func, "id", None) == "range"):
                return False
            if len(n.args) != nargs:
                return False
            step = n.args[-1]
            return not negative_step or (
                isinstance(step, ast.UnaryOp) and isinstance(step.op, ast.USub)
            )

        return has(matches)

    def integer_constant_at_least(n, limit):
        return isinstance(n, ast.Constant) and type(n.value) is int and n.value >= limit

    float_and_int_args = any(p.int_positions for p in PROGRAMS) and all(p.wrt for p in PROGRAMS)
    checks = {
        "float and int arguments": float_and_int_args,
        "+": binop(ast.Add),
        "-": binop(ast.Sub),
        "*": binop(ast.Mult),
        "/": binop(ast.Div),
        "//": binop(ast.FloorDiv),
        "%": binop(ast.Mod),
        "**": binop(ast.Pow),
        "** with a negative exponent": has(
            lambda n: isinstance(n, ast.BinOp)
            and isinstance(n.op, ast.Pow)
            and isinstance(n.right, ast.UnaryOp)
        ),
        "unary minus": has(lambda n: isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub)),
        "not": has(lambda n: isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Not)),
        "and": has(lambda n: isinstance(n, ast.BoolOp) and isinstance(n.op, ast.And)),
        "or": has(lambda n: isinstance(n, ast.BoolOp) and isinstance(n.op, ast.Or)),
        "every comparison": all(
            has(lambda n, op=op: isinstance(n, ast.Compare) and any(isinstance(o, op) for o in n.ops))
            for op in (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
        ),
        "chained comparison": has(lambda n: isinstance(n, ast.Compare) and len(n.ops) > 1),
        "elif": has(
            lambda n: isinstance(n, ast.If) and len(n.orelse) == 1 and isinstance(n.orelse[0], ast.If)
        ),
        "else": has(lambda n: isinstance(n, ast.If) and n.orelse),
        "conditional expression": has(lambda n: isinstance(n, ast.IfExp)),
        "range(n)": range_with(1),
        "range(a, b)": range_with(2),
        "range(a, b, negative step)": range_with(3, negative_step=True),
        "while": has(lambda n: isinstance(n, ast.While)),
        "while True": has(
            lambda n: isinstance(n, ast.While) and isinstance(n.test, ast.Constant) and n.test.value is True
        ),
        "break": has(lambda n: isinstance(n, ast.Break)),
        "continue": has(lambda n: isinstance(n, ast.Continue)),
        "return inside a loop": any(_inside(t, ast.Return, (ast.For, ast.While)) for t in trees),
        "return inside an if": any(_inside(t, ast.Return, ast.If) for t in trees),
        "break in a while": any(_inside(t, ast.Break, ast.While) for t in trees),
        "continue in a while": any(_inside(t, ast.Continue, ast.While) for t in trees),
        "nested loops": any(_loop_depth_at_least_two(t) for t in trees),
        "+=": augmented(ast.Add),
        "-=": augmented(ast.Sub),
        "*=": augmented(ast.Mult),
        "/=": augmented(ast.Div),
        "chained assignment": has(lambda n: isinstance(n, ast.Assign) and len(n.targets) > 1),
        "reassigned parameter": any(
            isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Store)
            and n.id in [a.arg for a in t.body[0].args.args]
            for t in trees
            for n in ast.walk(t)
        ),
        "boolean variable": has(
            lambda n: isinstance(n, ast.Assign) and isinstance(n.value, (ast.Compare, ast.BoolOp))
        ),
        "math.pi and math.e": has(lambda n: isinstance(n, ast.Attribute) and n.attr == "pi")
        and has(lambda n: isinstance(n, ast.Attribute) and n.attr == "e"),
        "tuple assignment": has(
            lambda n: isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Tuple)
        ),
        "module-level constant": has(
            lambda n: isinstance(n, ast.Name)
            and n.id.isupper()
            and isinstance(getattr(scalar_programs, n.id, None), (int, float))
        ),
        "closure constant": any(
            _is_closure(p.function)
            and any(isinstance(c.cell_contents, float) for c in p.function.__closure__)
            for p in PROGRAMS
        ),
        "abs": call("abs"),
        "min of 2": call("min", 2),
        "min of 3": call("min", 3),
        "max of 2": call("max", 2),
        "max of 3": call("max", 3),
        "float()": call("float"),
        "int()": call("int"),
        "builtin pow": call("pow"),
        "from math import sin, exp": call("sin") and call("exp"),
        "aliased math import": call("root"),
        "srcad.no_grad": has(
            lambda n: isinstance(n, ast.Attribute)
            and n.attr == "no_grad"
            and getattr(n.value, "id", None) == "srcad"
        ),
        "no_grad inside a loop": any(
            isinstance(node, ast.Attribute) and node.attr == "no_grad"
            for loop in nodes
            if isinstance(loop, (ast.For, ast.While))
            for node in ast.walk(loop)
        ),
        "loop of 1000+ iterations": has(lambda n: integer_constant_at_least(n, 1000)),
        "docstring": any(ast.get_docstring(t.body[0]) for t in trees),
    }
    for name in (
        "sin cos tan asin acos atan atan2 sinh cosh tanh exp expm1 log log1p log2 log10 "
        "sqrt pow hypot fabs erf erfc"
    ).split():
        checks[f"math.{name}"] = math_call(name)
    missing = sorted(name for name, present in checks.items() if not present)
    assert not missing, f"the corpus does not cover: {missing}"


def test_corpus_programs_run_as_plain_python():
    for program in PROGRAMS:
        for args in sample_arguments(program, count=2, salt="plain"):
            value = oracles.freeze_no_grad(program.function, args)(*args)
            assert isinstance(value, float) and math.isfinite(value), (program.name, args, value)


# ---------------------------------------------------------------------------
# srcad against the oracle


@by_program
@settings(
    # max_examples comes from the profile in conftest.py: 15 by default,
    # 500 with HYPOTHESIS_PROFILE=long.
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_grad_matches_central_differences(program, data):
    args = data.draw(argument_strategy(program), label="args")
    for index in program.wrt:
        got = compiled("grad", program, wrt=index)(*args)
        assert isinstance(got, float), (
            f"grad of {program.name} w.r.t. float arg{index} is {type(got).__name__}, not float"
        )
        assert_matches_fd(program, args, index, got)


VALUE_SAMPLE = PROGRAMS[::3]  # value_and_grad compiles an adjoint besides grad's: a third of the programs


@pytest.mark.parametrize("program", VALUE_SAMPLE, ids=[p.name for p in VALUE_SAMPLE])
def test_value_and_grad_gives_the_plain_python_value(program):
    value_and_grad = compiled("value_and_grad", program)
    for args in sample_arguments(program, salt="value_and_grad"):
        value, gradient = value_and_grad(*args)
        expected = primal_value(program, args)
        assert value == pytest.approx(expected, rel=1e-12, abs=1e-12), (program.name, args)
        assert_matches_fd(program, args, 0, gradient)


@by_program
def test_grad_of_decorated_function_with_tuple_wrt_gives_a_tuple(program):
    gradient_of = compiled("grad_of_decorated", program, wrt=tuple(program.wrt))
    for args in sample_arguments(program, count=2, salt="tuple"):
        gradients = gradient_of(*args)
        assert isinstance(gradients, tuple), f"{program.name}: got {type(gradients).__name__}"
        assert len(gradients) == len(program.wrt)
        for index, got in zip(program.wrt, gradients):
            assert_matches_fd(program, args, index, got)


@by_program
def test_vjp_pullback_gives_scaled_gradient_and_none_for_ints(program):
    for args in sample_arguments(program, count=2, salt="vjp"):
        value, pullback = srcad.vjp(program.function, *args)
        assert value == pytest.approx(primal_value(program, args), rel=1e-12, abs=1e-12)
        cotangents = pullback(2.0)
        assert isinstance(cotangents, tuple) and len(cotangents) == len(args), (
            f"{program.name}: pullback gave {cotangents!r} for {len(args)} arguments"
        )
        for index in program.int_positions:
            assert cotangents[index] is None, (
                f"{program.name}: int arg{index} got cotangent {cotangents[index]!r}"
            )
        for index in program.wrt:
            assert_matches_fd(program, args, index, cotangents[index], factor=2.0)


def _namespace_for(function):
    namespace = dict(vars(scalar_programs))
    namespace.update(math=math, srcad=srcad)
    if function.__closure__:
        for name, cell in zip(function.__code__.co_freevars, function.__closure__):
            namespace[name] = cell.cell_contents
    return namespace


@by_program
def test_normalized_source_still_computes_the_primal(program):
    function = program.function
    source = srcad.source(function, "normalized")
    assert isinstance(source, str)
    tree = ast.parse(source)
    definitions = [
        node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == program.name
    ]
    assert definitions, f"no def {program.name} in the normalized source:\n{source}"
    parameters = [a.arg for a in definitions[0].args.args]
    assert parameters == list(inspect.signature(function).parameters)

    namespace = _namespace_for(function)
    exec(compile(source, f"<normalized {program.name}>", "exec"), namespace)
    normalized = namespace[program.name]
    assert normalized is not function
    for args in sample_arguments(program, count=4, salt="normalized"):
        expected = primal_value(program, args)
        assert normalized(*args) == pytest.approx(expected, rel=1e-12, abs=1e-12), (
            f"{program.name}{args}: normalized source gives a different value\n{source}"
        )


# ---------------------------------------------------------------------------
# no_grad, by hand


def test_grad_through_no_grad_matches_the_hand_derivative():
    x, y = 1.3, 0.7
    norm = math.hypot(x, y)
    dx, dy = srcad.grad(scalar_programs.stopped_normalization, wrt=(0, 1))(x, y)
    assert dx == pytest.approx(2 * x / norm, rel=1e-12)
    assert dy == pytest.approx(1 / norm, rel=1e-12)
    for x in (-2.9, -0.26, 0.24, 0.26, 1.49):
        assert srcad.grad(scalar_programs.straight_through_rounding)(x) == pytest.approx(1.0, rel=1e-14)
