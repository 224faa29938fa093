"""Bad input gets a DifferentiabilityError at the user's line and column, before anything runs."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

import bad_programs
import srcad

from bad_programs import TRACEBACK_WORDS, expected_position

BAD = bad_programs.REFUSED_AT_GRAD


@pytest.mark.parametrize("function", BAD, ids=lambda f: f.__name__)
def test_bad_program_is_refused_at_its_line_and_column(function):
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(function)  # refused when the gradient is made, before any call
    error = caught.value
    assert (error.lineno, error.col) == expected_position(function)
    assert error.filename == bad_programs.__file__
    message = str(error)
    assert f"{error.filename}:{error.lineno}:{error.col}:" in message
    source_line, caret = message.splitlines()[1:3]
    assert caret.strip() == "^" and source_line.strip() == error.source_line.strip()
    assert caret.index("^") == source_line.index(error.source_line.strip()) + error.col - 1 - (
        len(error.source_line) - len(error.source_line.lstrip())
    )
    assert not any(word in message for word in TRACEBACK_WORDS), message


@pytest.mark.parametrize("function", [f for f in BAD if f is not bad_programs.returns_nothing], ids=lambda f: f.__name__)
def test_decorating_a_bad_program_fails_at_once(function):  # one returning nothing is a helper, refused at grad
    with pytest.raises(srcad.DifferentiabilityError):
        srcad.differentiable(function)


def test_error_says_what_to_do_instead():
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(bad_programs.calls_gamma)
    assert "math.gamma" in str(caught.value) and "srcad.no_grad" in str(caught.value)


def quadratic(x, y):
    return x * x * y


def counter(x, n):
    return x * n


def pair(x):
    return x, x


def integer_output(x):
    return int(x) * 2


def test_wrt_out_of_range_is_a_value_error_naming_the_arguments():
    with pytest.raises(ValueError, match=r"wrt=2 is out of range: quadratic\(x, y\)"):
        srcad.grad(quadratic, wrt=2)(1.0, 2.0)


def test_wrt_on_an_int_argument_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="'n'"):
        srcad.grad(counter, wrt=1)(1.0, 3)


def test_wrt_must_be_ints():
    with pytest.raises(TypeError, match="wrt"):
        srcad.grad(quadratic, wrt="x")(1.0, 2.0)


def test_grad_of_a_tuple_output_is_a_type_error():
    with pytest.raises(TypeError, match="returns a tuple"):
        srcad.grad(pair)(1.0)


def test_grad_of_an_integer_output_is_a_type_error():
    with pytest.raises(TypeError, match="to return a float, but it returns int64"):
        srcad.grad(integer_output, wrt=0)(1.0)


def test_wrong_number_of_arguments():
    with pytest.raises(TypeError, match="quadratic\(\): missing a required argument: 'y'"):
        srcad.grad(quadratic)(1.0)


def test_string_argument_on_the_active_path_points_at_the_line():
    with pytest.raises((srcad.DifferentiabilityError, TypeError)) as caught:
        srcad.grad(quadratic, wrt=0)(1.0, "abc")
    assert not any(word in str(caught.value) for word in ("Traceback", "libcst"))


def test_builtin_function_has_no_source():
    with pytest.raises(TypeError, match="no Python source"):
        srcad.grad(math.sin)(1.0)


def test_function_made_by_exec_has_no_source():
    namespace = {}
    exec("def made(x):\n    return x * x\n", namespace)
    with pytest.raises(srcad.DifferentiabilityError, match="cannot read the source"):
        srcad.grad(namespace["made"])


def test_lambda_is_refused():
    with pytest.raises(srcad.DifferentiabilityError, match="lambda"):
        srcad.grad(lambda x: x * x)


def test_no_traceback_reaches_the_user_in_a_script(tmp_path):
    script = tmp_path / "user_script.py"
    script.write_text(
        "import math, srcad\n"
        "def f(x):\n"
        "    return math.gamma(x)\n"
        "try:\n"
        "    srcad.grad(f)\n"
        "except srcad.DifferentiabilityError as e:\n"
        "    print(e)\n"
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=os.environ.copy())
    assert result.returncode == 0, result.stderr
    assert f"{script}:3:12:" in result.stdout
    assert "return math.gamma(x)" in result.stdout


SLOW_PRODUCT = """\
import warnings
import numpy as np
import srcad

def product_of_a_strided_view(x, y):
    return np.sum(np.sin(x[:, ::2].T @ y))

x, y = np.linspace(0.1, 1.2, 12).reshape(3, 4), np.linspace(-1.0, 1.0, 6).reshape(3, 2)
warnings.simplefilter("always", srcad.PerformanceWarning)
{call}
"""


@pytest.mark.parametrize("call", [
    "srcad.grad(product_of_a_strided_view)(x, y)",
    "srcad.jvp(product_of_a_strided_view, (x, y), (x, y))",
])
def test_a_slow_matrix_product_is_reported_at_the_users_line_in_srcads_words(tmp_path, call):
    """numba warns once per process and kind of operands, so each case runs in a fresh process."""
    script = tmp_path / "user_script.py"
    script.write_text(SLOW_PRODUCT.format(call=call))
    environment = dict(os.environ, SRCAD_CACHE_DIR=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    # Other libraries' warnings may come first (some builds of libcst warn of mypy_extensions' deprecations).
    said = result.stderr.splitlines()
    performance = [number for number, line in enumerate(said) if "PerformanceWarning" in line]
    assert len(performance) == 1, result.stderr
    warning_line = said[performance[0]]
    assert warning_line.startswith(f"{script}:6: PerformanceWarning: a matrix product"), result.stderr
    assert "ascontiguousarray" in warning_line
    assert said[performance[0] + 1].strip() == "return np.sum(np.sin(x[:, ::2].T @ y))"
    assert not any(word in result.stderr for word in TRACEBACK_WORDS), result.stderr


def flatten_and_scale(grid):
    flat = grid.ravel()
    flat[0] = 2.0 * flat[0]
    return np.sum(flat * flat)


def scaled_energy(cells):
    energy = flatten_and_scale(cells)
    return energy


def test_a_refusal_inside_an_inlined_helper_speaks_of_the_helpers_own_names():
    """srcad renames an inlined helper's variables apart (``flatten_and_scale_flat``); the message
    says ``flat``, names the helper, and points at the line calling it."""
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(scaled_energy)(np.ones((2, 2)))
    message = str(caught.value)
    assert "'flat' = cells.ravel()" in message and "flatten_and_scale_flat" not in message, message
    assert "(in flatten_and_scale, called on this line)" in message
    assert caught.value.lineno == scaled_energy.__code__.co_firstlineno + 1


def test_an_undefined_module_is_named_at_its_use(tmp_path):
    script = tmp_path / "forgot_numpy.py"
    script.write_text("import numpy\nimport srcad\n\n\ndef f(x):\n    return np.sum(x * x)\n\n\n"
                      "try:\n    srcad.grad(f)(numpy.ones(3))\nexcept srcad.DifferentiabilityError as error:\n    print(error)\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"{script}:6:12: name 'np' is not defined" in result.stdout, result.stdout
    assert "import numpy as np" in result.stdout
