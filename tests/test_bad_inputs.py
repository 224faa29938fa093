"""The bad-input catalogue: what users get wrong, and what srcad answers.

Code srcad cannot differentiate: a DifferentiabilityError at the file, line and column of the
offending code (the functions in bad_inputs_programs.py mark it), with no numba or libcst text in
the message. Mistakes in a call: TypeError or ValueError naming the argument. Awkward but valid
input (NaN, infinities, very deep or very long functions): the right answer, never a crash.
Gradients are checked against closed forms.
"""

import importlib.util
import inspect
import math

import numpy as np
import pytest

import bad_inputs_programs as programs
import srcad
from test_diagnostics import TRACEBACK_WORDS, _expected_position

REFUSED_AT_GRAD = [
    programs.defines_a_class, programs.writes_nonlocal, programs.keyword_arguments, programs.deletes,
    programs.generator_expression, programs.list_comprehension, programs.yields_from, programs.matches,
    programs.formats, programs.imports_inside, programs.complex_literal, programs.lambda_argument,
    programs.try_finally, programs.with_in_a_loop,
]  # fmt: skip
REFUSED_AT_CALL = [  # refused once the argument types are known, before anything runs
    (programs.fourier, (np.ones(4),)),
    (programs.inverse, (np.eye(2),)),
    (programs.sorts, (np.ones(3),)),
    (programs.median, (np.ones(3),)),
    (programs.calls_a_method_of_an_object, (2.0,)),
]


def _check_located(error, function):
    assert (error.lineno, error.col) == _expected_position(function)
    assert error.filename == programs.__file__
    message = str(error)
    assert f"{error.filename}:{error.lineno}:{error.col}:" in message
    source_line, caret = message.splitlines()[1:3]
    assert caret.strip() == "^" and source_line.strip() == error.source_line.strip()
    assert not any(word in message for word in TRACEBACK_WORDS), message


@pytest.mark.parametrize("function", REFUSED_AT_GRAD, ids=lambda f: f.__name__)
def test_unsupported_code_is_refused_at_its_line(function):
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(function)
    _check_located(caught.value, function)


@pytest.mark.parametrize("function, args", REFUSED_AT_CALL, ids=lambda f: getattr(f, "__name__", ""))
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
    statements = 1500
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
    assert error.lineno == _expected_position(kernel)[0]
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
