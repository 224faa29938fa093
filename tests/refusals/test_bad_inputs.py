"""The bad-input catalogue: what users get wrong, and what srcad answers.

Code srcad cannot differentiate: a DifferentiabilityError at the file, line and column of the
offending code (the functions in bad_programs.py mark it; those refused when the gradient is made are checked in test_diagnostics.py), with no numba or libcst text in
the message. Mistakes in a call: TypeError or ValueError naming the argument. Awkward but valid
input (NaN, infinities, very deep or very long functions): the right answer, never a crash.
Gradients are checked against closed forms. (A bug found here is marked
pytest.mark.xfail(strict=True, reason="srcad bug: ...") with the right answer until it is fixed.)
"""

import importlib.util
import inspect
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import bad_programs as programs
import srcad
from bad_programs import TRACEBACK_WORDS, expected_position


def _check_located(error, function):
    assert (error.lineno, error.col) == expected_position(function)
    assert error.filename == programs.__file__
    message = str(error)
    assert f"{error.filename}:{error.lineno}:{error.col}:" in message
    source_line, caret = message.splitlines()[1:3]
    assert caret.strip() == "^" and source_line.strip() == error.source_line.strip()
    assert not any(word in message for word in TRACEBACK_WORDS), message


@pytest.mark.parametrize("function, args", programs.REFUSED_AT_CALL, ids=lambda f: getattr(f, "__name__", ""))
def test_calls_without_a_rule_are_refused_at_their_line(function, args):
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(function)(*args)
    _check_located(caught.value, function)


def test_a_guard_that_raises_is_refused_at_the_raise():
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(programs.raises)
    _check_located(caught.value, programs.raises)


@pytest.mark.parametrize("target", [math.sin, np.sin, len, programs.made_by_exec], ids=["math.sin", "np.sin", "len", "exec"])
def test_functions_without_python_source(target):
    with pytest.raises((srcad.DifferentiabilityError, TypeError)) as caught:
        srcad.grad(target)(0.5)
    message = str(caught.value)
    assert "source" in message or "differentiable" in message, message
    assert not any(word in message for word in TRACEBACK_WORDS), message


@pytest.mark.parametrize("call, error, words", [
    (lambda: srcad.grad(programs.squares, wrt=3)(1.0), ValueError, "wrt"),
    (lambda: srcad.grad(programs.math_function_at, wrt=0)(2), TypeError, "int"),
    (lambda: srcad.grad(programs.elementwise)(np.ones(3)), TypeError, "vjp"),
    (lambda: srcad.grad(programs.first_of_many)(1.0), TypeError, "vjp"),
    (lambda: srcad.grad(programs.squares)(1.0, 2.0), TypeError, "argument"),
    (lambda: srcad.grad(programs.squares)([1.0, 2.0]), TypeError, "list"),
    (lambda: srcad.grad(programs.squares)(np.array([1 + 2j])), TypeError, "complex"),
    (lambda: srcad.grad(programs.squares)(np.array(["a"], dtype=object)), TypeError, "object"),
    (lambda: srcad.jvp(programs.elementwise, (np.ones(3),), (np.ones(4),)), ValueError, "shape"),
    (lambda: srcad.jvp(programs.elementwise, (np.ones(3),), (np.ones(3) * 1j,)), ValueError, "real"),
    (lambda: srcad.jvp(programs.squares, (1.0, 2.0), (1.0,)), ValueError, "tangent"),
    (lambda: srcad.vjp(programs.elementwise, np.ones(3))[1](np.ones(2)), ValueError, "shape"),
])  # fmt: skip
def test_mistakes_in_calls_name_the_problem(call, error, words):
    with pytest.raises(error) as caught:
        call()
    assert words in str(caught.value)
    assert not any(word in str(caught.value) for word in TRACEBACK_WORDS)


def test_aliasing_arguments_written_in_place_are_refused_naming_both():
    a = np.ones(4)
    for second in (a, a[1:]):
        with pytest.raises(ValueError) as caught:
            srcad.grad(programs.writes_in_place)(a, second)
        assert "'a'" in str(caught.value) and "'b'" in str(caught.value)
    gradient = srcad.grad(programs.writes_in_place)(np.ones(4), np.ones(4))  # separate arrays: fine
    np.testing.assert_allclose(gradient, 2.0 * 3.0 * np.ones(4))


def test_nan_and_inf_inputs_propagate():
    value, gradient = srcad.value_and_grad(programs.squares)(float("nan"))
    assert math.isnan(value) and math.isnan(gradient)
    value, gradient = srcad.value_and_grad(programs.squares)(float("inf"))
    assert value == math.inf and gradient == math.inf
    gradient = srcad.grad(programs.math_function_at)(0.0)  # log and sqrt at 0: -inf + inf
    assert math.isnan(gradient) or math.isinf(gradient)
    value, gradient = srcad.value_and_grad(lambda_free_sum)(np.array([1.0, np.nan, 2.0]))
    assert math.isnan(value) and gradient[0] == 2.0 and math.isnan(gradient[1])


def lambda_free_sum(x):
    return np.sum(x * x)


def _module_from(tmp_path, name, source):
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_very_deep_nesting(tmp_path):
    deep = _module_from(tmp_path, "deep_nesting", programs.deep_nesting_source(60)).deep
    assert srcad.grad(deep)(0.3) == pytest.approx(1.01 + math.cos(0.3), rel=1e-12)


def test_very_long_function(tmp_path):
    statements = 1000
    long = _module_from(tmp_path, "long_function", programs.long_function_source(statements)).long
    y, dy = 0.2, 1.0  # the derivative by the chain rule, step by step
    for k in range(statements):
        dy *= 1.0 + 0.001 * math.cos(y + k % 7)
        y += 0.001 * math.sin(y + k % 7)
    assert srcad.grad(long)(0.2) == pytest.approx(dy, rel=1e-12)


def test_very_deep_expression(tmp_path):
    depth = 150  # Python's own parser stops at 200 nested parentheses
    nested = _module_from(tmp_path, "deep_expression", programs.deep_expression_source(depth)).nested
    try:
        gradient = srcad.grad(nested)(0.7)
    except srcad.DifferentiabilityError as error:  # refused cleanly is acceptable; a crash is not
        assert not any(word in str(error) for word in TRACEBACK_WORDS)
    else:
        assert gradient == pytest.approx(1.001**depth, rel=1e-12)


@pytest.mark.parametrize("kernel", [programs.returns_a_value, programs.reads_a_neighbour_it_writes],
                         ids=lambda k: k.__name__)
def test_bad_kernels_are_refused_at_their_line(kernel):
    with pytest.raises(srcad.DifferentiabilityError) as caught:  # at the decorator, or at the launch
        srcad.kernel(kernel).launch(3, *[np.ones(4) for _ in inspect.signature(kernel).parameters])
    error = caught.value
    assert error.lineno == expected_position(kernel)[0]
    assert not any(word in str(error) for word in TRACEBACK_WORDS)


@pytest.mark.parametrize("call, error, words", [
    (lambda: programs.copies.launch(3, np.ones(3)), TypeError, "takes 2 arguments"),
    (lambda: programs.copies.launch(3, np.ones(3), np.ones(3), device="tpu"), ValueError, "device"),
    (lambda: programs.copies.launch(-1, np.ones(3), np.ones(3)), ValueError, "threads"),
    (lambda: programs.copies.launch(3, [1.0, 2.0, 3.0], np.ones(3)), TypeError, "list"),
    (lambda: programs.copies.launch(3, np.ones(3), np.ones(3), device="cuda"), TypeError, "device array"),
])  # fmt: skip
def test_mistakes_in_launches_name_the_problem(call, error, words):
    with pytest.raises(error) as caught:
        call()
    assert words in str(caught.value)


# More of the catalogue (issue 7, second round).

LEAKS = TRACEBACK_WORDS + ("Numba", "nopython", "pipeline", "RecursionError")


def _clean(message):
    return not any(word in message for word in LEAKS)




@pytest.mark.parametrize("function, name, kind", [
    (programs.indexes_a_global_list, "'WEIGHTS'", "list"),
    (programs.indexes_a_global_dict, "'PARAMS'", "dict"),
])  # fmt: skip
def test_indexing_a_global_container_names_it_and_says_pass_it_in(function, name, kind):
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(function)
    _check_located(caught.value, function)
    message = str(caught.value)
    assert name in message and kind in message and "argument" in message, message


def test_a_module_level_array_is_read_as_a_constant():
    # once refused; module-level NumPy arrays are now copied into the generated code
    assert srcad.grad(programs.sums_a_global_array)(2.0) == 3.0  # d/dx x * (1 + 2)


def test_a_call_of_a_c_function_without_a_rule_names_it():
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(programs.calls_operator_mul)
    _check_located(caught.value, programs.calls_operator_mul)
    assert "'operator.mul' has no derivative rule" in str(caught.value)


@pytest.mark.parametrize("function, args", [
    (programs.pseudo_inverse, (np.eye(2),)),
])  # fmt: skip
def test_more_calls_without_a_rule_are_refused_at_their_line(function, args):
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(function)(*args)
    _check_located(caught.value, function)


def test_reshaping_a_strided_view_says_copy_it_first():
    # numba reshapes contiguous arrays only; NumPy copies the others (fuzz find, 2026-12: numba's words leaked)
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(programs.reshapes_a_column)(np.ones((2, 2)))
    _check_located(caught.value, programs.reshapes_a_column)
    message = str(caught.value)
    assert "not contiguous" in message and ".copy().reshape" in message and _clean(message), message


def test_argsort_gives_integer_indices_so_the_gradient_flows_through_the_gather():
    x = np.array([3.0, 1.0, 2.0])  # sum of value times rank: the gradient is each element's rank
    np.testing.assert_array_equal(srcad.grad(programs.sorted_by_rank)(x), [2.0, 0.0, 1.0])


@pytest.mark.parametrize("function, args, gradient", [
    (programs.updates_with_matmul, (np.eye(2) * 2.0, np.array([[1.0, 2.0], [3.0, 4.0]])),
     np.array([[3.0, 7.0], [3.0, 7.0]])),
    (programs.shape_of_a_float, (2.0,), None),
])  # fmt: skip
def test_code_numba_cannot_type_works_or_is_refused_without_numba_text(function, args, gradient):
    try:
        result = srcad.grad(function)(*args)
    except srcad.DifferentiabilityError as error:
        _check_located(error, function)
        assert _clean(str(error)), str(error)
    else:
        assert gradient is not None, "expected a refusal"
        np.testing.assert_allclose(result, gradient)


def test_a_numba_jitted_helper_is_inlined_or_refused_with_current_advice():
    try:
        gradient = srcad.grad(programs.calls_a_jitted_function)(3.0)
    except srcad.DifferentiabilityError as error:
        _check_located(error, programs.calls_a_jitted_function)
        assert "being added" not in str(error), str(error)
    else:
        assert gradient == 6.0


@pytest.mark.parametrize("target", [np.add, programs.jitted_square], ids=["ufunc", "numba-dispatcher"])
def test_compiled_functions_without_python_source(target):
    with pytest.raises(TypeError, match="no Python source"):
        srcad.grad(target)(1.0, 2.0)


@pytest.mark.parametrize("call, words, gradient", [
    (lambda: srcad.grad(programs.Model(2.0).energy)(1.0), "method", 4.0),  # 2 k x
    (lambda: srcad.grad(programs.square_by_partial)(3.0), "partial", 6.0),  # d(x ** 2)/dx
], ids=["bound-method", "partial"])  # fmt: skip
def test_methods_and_partials_work_or_are_refused_by_name(call, words, gradient):
    try:
        result = call()
    except TypeError as caught:
        assert words in str(caught) and _clean(str(caught)), str(caught)
    else:
        assert result == gradient


@pytest.mark.parametrize("call, error, words", [
    (lambda: srcad.grad(programs.scaled_if, wrt=1)(1.0, True), TypeError, "'flag'"),
    (lambda: srcad.grad(programs.product, wrt=-3)(1.0, 2.0), ValueError, "wrt=-3"),
    (lambda: srcad.grad(programs.product, wrt=1.5)(1.0, 2.0), TypeError, "wrt"),
    (lambda: srcad.grad(programs.product)(1.0, y=2.0, z=3.0), TypeError, "'z'"),
    (lambda: srcad.grad(programs.product)(1 + 2j, 1.0), TypeError, "complex"),
    (lambda: srcad.grad(programs.product)(1.0, 1 + 2j), TypeError, "complex"),
    (lambda: srcad.grad(programs.product)("a", 1.0), TypeError, "str"),
    (lambda: srcad.grad(programs.total)(np.array([1, 2, 3])), TypeError, "int64"),
    (lambda: srcad.grad(programs.total)([[1.0, 2.0], [3.0]]), TypeError, "same length"),
    (lambda: srcad.grad(programs.returns_a_comparison)(1.0), TypeError, "bool"),
    (lambda: srcad.jvp(programs.product, (1.0, 2.0), (np.ones(2), 1.0)), ValueError, "float"),
    (lambda: srcad.jvp(programs.scaled_if, (1.0, True), (1.0, 1.0)), ValueError, "None"),
    (lambda: srcad.vjp(programs.first_of_many, 1.0)[1]((1.0,)), ValueError, "tuple of 2"),
    (lambda: srcad.vjp(programs.product, 1.0, 2.0)[1](np.ones(2)), ValueError, "float"),
    (lambda: srcad.hessian(programs.first_of_many)(1.0), TypeError, "tuple"),
    (lambda: srcad.jvp(programs.product, 1.0, 1.0), TypeError, "tuple"),
    (lambda: srcad.vjp(programs.product, 1.0), TypeError, "missing a required argument: 'y'"),
    (lambda: srcad.jacobian(programs.elementwise, wrt=1)(np.ones(3)), ValueError, "wrt=1"),
    (lambda: srcad.hessian(programs.elementwise)(np.ones(3)), TypeError, "srcad.hessian needs elementwise "),
], ids=["wrt-bool", "wrt-negative-out-of-range", "wrt-float", "unknown-keyword", "complex-wrt", "complex-passive",
        "str-wrt", "int-array-wrt", "ragged-list", "bool-output", "jvp-array-tangent-for-float",
        "jvp-tangent-for-bool", "vjp-short-tuple-cotangent", "vjp-array-cotangent-for-float", "hessian-tuple-output",
        "jvp-primals-not-a-tuple", "vjp-missing-argument", "jacobian-wrt-out-of-range",
        "hessian-array-output"])  # fmt: skip
def test_more_mistakes_in_calls_name_the_problem(call, error, words):
    with pytest.raises(error) as caught:
        call()
    assert words in str(caught.value), str(caught.value)
    assert _clean(str(caught.value))


@pytest.mark.parametrize("call, name", [
    (lambda: srcad.grad(programs.product)({"a": 1.0}, 1.0), "'x'"),
    (lambda: srcad.grad(programs.product)({1.0}, 1.0), "'x'"),
    (lambda: srcad.grad(programs.product)(1.0, None), "'y'"),
    (lambda: srcad.grad(programs.uses_a_model)(2.0, programs.Model(3.0)), "'m'"),
    (lambda: srcad.grad(programs.total)(np.ones(3, dtype=np.float16)), "'x'"),
], ids=["dict", "set", "None", "user-object", "float16"])  # fmt: skip
def test_arguments_of_unsupported_types_are_named(call, name):
    with pytest.raises((TypeError, srcad.DifferentiabilityError)) as caught:
        call()
    assert name in str(caught.value) and _clean(str(caught.value)), str(caught.value)


@pytest.mark.parametrize("call", [
    lambda a: srcad.grad(programs.writes_the_second)(a, a),
    lambda a: srcad.grad(programs.writes_a_column)(a.reshape(2, 2), a.reshape(2, 2).T),
    lambda a: srcad.vjp(programs.writes_in_place, a[:3], a[1:]),
    lambda a: srcad.jvp(programs.writes_in_place, (a, a), (np.ones(4), np.ones(4))),
    lambda a: srcad.jacobian(programs.writes_and_returns)(a, a),
    lambda a: srcad.hessian(programs.writes_the_second)(a, a),
], ids=["grad-same-array", "grad-transpose", "vjp-overlapping-views", "jvp-same-array",
        "jacobian-same-array", "hessian-same-array"])  # fmt: skip
def test_aliased_arguments_written_in_place_are_refused_in_every_mode(call):
    with pytest.raises(ValueError) as caught:
        call(np.ones(4))
    assert "'a'" in str(caught.value) and "'b'" in str(caught.value)


@pytest.mark.parametrize("first, second", [
    (slice(0, 2), slice(2, 4)),
    (slice(0, 4, 2), slice(1, 4, 2)),
], ids=["halves", "interleaved"])  # fmt: skip
def test_views_of_one_array_that_do_not_overlap_are_accepted(first, second):
    a = np.array([1.0, 2.0, 3.0, 4.0])
    x, y = a[first].copy(), a[second].copy()
    dx, dy = srcad.grad(programs.writes_in_place, wrt=(0, 1))(a[first], a[second])
    np.testing.assert_allclose(dx, 2.0 * (x + 2.0 * y))  # sum((x + 2 y) ** 2)
    np.testing.assert_allclose(dy, 4.0 * (x + 2.0 * y))


@pytest.mark.parametrize("function, x, value, gradient", [
    (programs.log_of, -1.0, math.nan, -1.0),
    (programs.log_of, 0.0, -math.inf, math.inf),
    (programs.reciprocal, 0.0, math.inf, -math.inf),
    (programs.exp_of, -math.inf, 0.0, 0.0),
    (programs.exp_of, 1000.0, math.inf, math.inf),
    (programs.halves_while_above_one, math.nan, math.nan, 1.0),  # the loop never runs
], ids=["log(-1)", "log(0)", "1/0", "exp(-inf)", "exp(1000)", "while-nan"])  # fmt: skip
def test_singular_points_follow_numpy_float_rules(function, x, value, gradient):
    got_value, got_gradient = srcad.value_and_grad(function)(x)
    np.testing.assert_equal((got_value, got_gradient), (value, gradient))


def test_infinities_in_arrays_propagate_elementwise():
    gradient = srcad.grad(programs.quartic)(np.array([np.inf, 1.0, -np.inf]))
    np.testing.assert_equal(gradient, [np.inf, 4.0, -np.inf])
    value, tangent = srcad.jvp(programs.elementwise, (np.ones(2),), (np.array([np.nan, 1.0]),))
    np.testing.assert_equal(value, [1.0, 1.0])
    np.testing.assert_equal(tangent, [np.nan, 2.0])


def test_nan_through_a_kernel_tape():
    x, loss = np.array([1.0, np.nan, 3.0]), np.zeros(1)
    tape = srcad.Tape()
    with tape:
        programs.sum_of_squares.launch(3, x, loss)
    tape.backward(loss)
    np.testing.assert_equal(tape.gradient(x), [2.0, np.nan, 6.0])


@pytest.mark.parametrize("function", [programs.largest, programs.smallest], ids=lambda f: f.__name__)
def test_a_nan_element_wins_max_and_min_as_in_numpy(function):
    value, gradient = srcad.value_and_grad(function)(np.array([1.0, np.nan, 2.0]))
    assert math.isnan(value)
    np.testing.assert_equal(gradient, [0.0, 1.0, 0.0])


def test_max_along_an_axis_keeps_nan_like_numpy():
    a = np.array([[1.0, np.nan], [1.0, 2.0]])
    assert math.isnan(programs.sum_of_row_maxima(a))
    assert math.isnan(srcad.differentiable(programs.sum_of_row_maxima)(a))
    value, gradient = srcad.value_and_grad(programs.sum_of_row_maxima)(a)
    assert math.isnan(value)
    np.testing.assert_equal(gradient, [[0.0, 1.0], [0.0, 1.0]])
    value, gradient = srcad.value_and_grad(programs.sum_of_column_minima)(a)
    assert math.isnan(value)
    np.testing.assert_equal(gradient, [[1.0, 1.0], [0.0, 0.0]])


@pytest.mark.parametrize("function", [programs.larger, programs.smaller], ids=lambda f: f.__name__)
@pytest.mark.parametrize("x, y", [(math.nan, 1.0), (1.0, math.nan)], ids=["(nan, 1)", "(1, nan)"])
def test_builtin_max_with_nan_gives_the_gradient_to_the_argument_returned(function, x, y):
    value, gradient = srcad.value_and_grad(function, wrt=(0, 1))(x, y)
    np.testing.assert_equal(value, function(x, y))  # Python's max and min return their first argument here
    assert gradient == (1.0, 0.0)
    assert srcad.jvp(function, (x, y), (1.0, 0.0))[1] == 1.0


@pytest.mark.parametrize("function", [programs.elementwise_larger, programs.elementwise_smaller],
                         ids=lambda f: f.__name__)
def test_np_maximum_gives_the_gradient_to_the_nan_it_returns(function):
    x, y = np.array([np.nan, 1.0, np.nan, 1.0]), np.array([1.0, np.nan, np.nan, 2.0])
    value, (dx, dy) = srcad.value_and_grad(function, wrt=(0, 1))(x, y)
    assert math.isnan(value)
    large = function is programs.elementwise_larger
    np.testing.assert_equal(dx, [1.0, 0.0, 1.0, 0.0 if large else 1.0])  # np.maximum(nan, nan) is the first
    np.testing.assert_equal(dy, [0.0, 1.0, 0.0, 1.0 if large else 0.0])
    for a, b, wanted in [(math.nan, 1.0, (1.0, 0.0)), (1.0, math.nan, (0.0, 1.0))]:
        value, gradient = srcad.value_and_grad(programs.scalar_larger, wrt=(0, 1))(a, b)
        assert math.isnan(value) and gradient == wanted


def test_a_300_term_expression(tmp_path):
    long_sum = _module_from(tmp_path, "long_sum", programs.long_sum_source(300)).long_sum
    assert srcad.grad(long_sum)(0.5) == 1.0 + sum(range(300))


def test_200_nested_negations(tmp_path):
    negated = _module_from(tmp_path, "negated", programs.negations_source(200)).negated
    assert srcad.grad(negated)(0.75) == 1.5


def test_a_chain_of_40_helpers(tmp_path):
    h0 = _module_from(tmp_path, "helper_chain", programs.helper_chain_source(40)).h0
    assert srcad.grad(h0)(0.5) == pytest.approx(1.01**39 * math.cos(0.5), rel=1e-12)


def test_300_arguments(tmp_path):
    many = _module_from(tmp_path, "many_arguments", programs.many_arguments_source(300)).many
    args = [float(k) for k in range(300)]
    assert srcad.grad(many, wrt=299)(*args) == 2.0 * 299.0


@pytest.mark.parametrize("name, source, function, gradient", [
    ("long_sum_500", programs.long_sum_source(500), "long_sum", 1.0 + sum(range(500))),
    ("negated_500", programs.negations_source(500), "negated", 1.5),
    ("helper_chain_100", programs.helper_chain_source(100), "h0", 1.01**99 * math.cos(0.75)),
], ids=["500-term-sum", "500-negations", "100-helpers"])  # fmt: skip
def test_very_deep_programs_work_or_are_refused_cleanly(tmp_path, name, source, function, gradient):
    f = getattr(_module_from(tmp_path, name, source), function)
    assert f(0.75) is not None  # Python compiles and runs it
    try:
        result = _without_recursion_error(lambda: srcad.grad(f)(0.75))
    except srcad.DifferentiabilityError as error:
        assert _clean(str(error)), str(error)
    else:
        assert result == pytest.approx(gradient, rel=1e-12)


def _without_recursion_error(call):
    """call(), with a RecursionError turned into a one-line failure (pytest takes minutes to print
    a thousand chained frames)."""
    try:
        return call()
    except RecursionError as error:
        failure = f"RecursionError: {error}"
    pytest.fail(failure, pytrace=False)


NESTED_LOOPS_SCRIPT = """
import importlib.util, sys
import srcad
spec = importlib.util.spec_from_file_location("nested_loops", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(repr(srcad.grad(module.loops)(0.5)))
"""


def test_20_nested_loops_differentiate_in_seconds(tmp_path):
    path = tmp_path / "nested_loops.py"
    path.write_text(programs.nested_loops_source(20))
    try:
        result = subprocess.run([sys.executable, "-c", NESTED_LOOPS_SCRIPT, str(path)], capture_output=True,
                                text=True, timeout=10, env=os.environ.copy())
    except subprocess.TimeoutExpired:
        pytest.fail("20 nested loops took more than 10 s to differentiate", pytrace=False)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) == pytest.approx(1.01 + math.cos(0.5), rel=1e-12)


@pytest.mark.parametrize("kernel", [programs.reads_the_first_element_it_writes, programs.calls_gamma_in_a_kernel,
                                    programs.reads_a_neighbour_through_a_rebound_copy_of_its_index],
                         ids=lambda k: k.__name__)
def test_more_bad_kernels_are_refused_at_their_line(kernel):
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.kernel(kernel).launch(3, *[np.ones(3) for _ in inspect.signature(kernel).parameters])
    _check_located(caught.value, kernel)


@pytest.mark.parametrize("kernel", [programs.every_thread_writes_one_element,
                                    programs.every_thread_writes_one_element_in_a_loop], ids=lambda k: k.__name__)
def test_a_kernel_whose_threads_all_write_one_element_is_refused(kernel):
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.kernel(kernel).launch(3, np.ones(3), np.ones(3))
    _check_located(caught.value, kernel)
    assert "every thread writes the same element of 'y'" in str(caught.value)


def test_threads_writing_distinct_elements_or_one_agreed_value_are_accepted():
    kernel = srcad.kernel(programs.threads_write_their_own_or_agreed_elements)
    x, y, flag, first, loss = np.array([1.0, 2.0, 3.0]), np.zeros(3), np.zeros(1), np.zeros(1), np.zeros(1)
    tape = srcad.Tape()
    with tape:
        kernel.launch(3, x, y, flag, first)
    np.testing.assert_equal((y, flag, first), ([9.0, 4.0, 1.0], [2.0], [3.0]))
    tape.backward(first)
    np.testing.assert_equal(tape.gradient(x), [3.0, 0.0, 0.0])
    tape = srcad.Tape()
    with tape:
        kernel.launch(3, x, y, flag, first)
        programs.sum_of_squares.launch(3, y, loss)
    tape.backward(loss)  # sum(y ** 2) = sum(x ** 4)
    np.testing.assert_allclose(tape.gradient(x), 4.0 * x**3)


def test_a_kernel_may_return_early_without_a_value():
    x, y, loss = np.array([1.0, -2.0, 3.0]), np.zeros(3), np.zeros(1)
    tape = srcad.Tape()
    with tape:
        programs.copies_the_positive.launch(3, x, y)
        programs.sum_of_squares.launch(3, y, loss)
    np.testing.assert_array_equal(y, [3.0, 0.0, 9.0])
    tape.backward(loss)  # loss = sum over x > 0 of 9 x^2
    np.testing.assert_allclose(tape.gradient(x), [18.0, 0.0, 54.0])


def _tape_backward(loss_of):
    x, loss = np.ones(3), np.zeros(1)
    tape = srcad.Tape()
    with tape:
        programs.sum_of_squares.launch(3, x, loss)
    tape.backward(loss_of(loss))


@pytest.mark.parametrize("call, error, words", [
    (lambda: programs.doubles_a_grid.launch(3, np.ones((3, 3)), np.ones((3, 3))), ValueError, "tuple of 2"),
    (lambda: programs.copies.launch((3, 1), np.ones(3), np.ones(3)), ValueError, "1 thread dimension"),
    (lambda: programs.copies.launch(3, np.ones(3, dtype=complex), np.ones(3)), TypeError, "complex128"),
    (lambda: programs.copies(np.ones(3), np.ones(3)), TypeError, "launch"),
    (lambda: _tape_backward(lambda loss: float(loss[0])), ValueError, "float"),
    (lambda: _tape_backward(lambda loss: np.zeros(3)), ValueError, "one-element"),
    (lambda: programs.copies.launch(3, 1.0, np.ones(3)), TypeError, "'x'"),
], ids=["2d-kernel-int-n", "1d-kernel-tuple-n", "complex-array", "called-directly", "backward-float",
        "backward-long-array", "float-for-array"])  # fmt: skip
def test_more_mistakes_in_launches_name_the_problem(call, error, words):
    with pytest.raises(error) as caught:
        call()
    assert words in str(caught.value) and _clean(str(caught.value)), str(caught.value)


@pytest.mark.parametrize("function, words", [
    (programs.sorts_in_place, "changes 'x' in place"),
    (programs.draws_random_numbers, "'numpy.random.rand' has no derivative rule"),
    (programs.takes_an_item, "drop '.item()'"),
    (programs.makes_an_array_of_arrays, "np.stack"),
    (programs.adds_at, "for k in range(len(idx)): F[idx[k]] += x[k]"),
    (programs.indexes_with_a_list, "y[np.array([1, 0])]"),
    (programs.swaps_buffers, "'nxt' takes the memory 'cur' held before this line"),
], ids=lambda value: getattr(value, "__name__", ""))  # fmt: skip
def test_what_users_write_is_refused_at_its_line_with_what_to_do(function, words):
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(function)(np.array([0.5, -1.0, 2.0]))
    _check_located(caught.value, function)
    assert words in str(caught.value) and _clean(str(caught.value)), str(caught.value)
    assert "_old" not in str(caught.value)  # only names the user wrote (not cur_old, made for cur, nxt = nxt, cur)



def test_dicts_are_refused_saying_so_and_suggesting_a_named_tuple():
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(programs.reads_a_dict_argument)(1.5, {"k": 2.0})
    _check_located(caught.value, programs.reads_a_dict_argument)
    with pytest.raises(srcad.DifferentiabilityError) as built:
        srcad.grad(programs.dict_value)
    for message in (str(caught.value), str(built.value)):
        assert "dict" in message and "NamedTuple" in message, message
