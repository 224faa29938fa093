"""Forward mode: ``srcad.jvp`` against directional central differences of the plain function.

Every program of the scalar corpus and of the array corpora (loop style and
vectorized) is differentiated along a random direction in its float arguments,
and the tangent compared with the derivative of ``t -> f(args + t * direction)``
by Richardson central differences (`oracles.central_difference`), never with
srcad's reverse mode. Also: array outputs, the value, and bad tangents.
"""

import math
import random

import numpy as np
import pytest

import srcad

if __package__:
    from . import array_programs, oracles, scalar_programs, vectorized_programs
    from .test_corpus_arrays import as_float64, copies, plain_value, tolerances
    from .test_corpus_scalar import sample_arguments
else:
    import array_programs
    import oracles
    import scalar_programs
    import vectorized_programs
    from test_corpus_arrays import as_float64, copies, plain_value, tolerances
    from test_corpus_scalar import sample_arguments

ARRAY_PROGRAMS = array_programs.PROGRAMS + vectorized_programs.PROGRAMS


def directional_derivative(function, args, direction):
    """d/dt f(args + t * direction) at t = 0, in float64 (arrays copied for every evaluation)."""
    args = as_float64(args)

    def along(t):
        moved = []
        for value, step in zip(copies(args), direction):
            moved.append(value if step is None else value + t * np.asarray(step, dtype=np.float64) if isinstance(value, np.ndarray) else value + t * step)
        return float(function(*moved))

    return oracles.central_difference(along, (0.0,), 0)


@pytest.mark.parametrize("program", scalar_programs.PROGRAMS, ids=[p.name for p in scalar_programs.PROGRAMS])
def test_jvp_of_scalar_programs_matches_directional_differences(program):
    generator = random.Random(f"jvp/{program.name}")
    for args in sample_arguments(program, count=2, salt="jvp"):
        direction = [None if isinstance(d, str) else generator.uniform(-1.0, 1.0) for d in program.domains]
        value, tangent = srcad.jvp(program.function, args, direction)
        plain = oracles.plain_function(program.function)(*args)
        assert value == pytest.approx(plain, rel=1e-12, abs=1e-12)
        expected = directional_derivative(oracles.freeze_no_grad(program.function, args), args, direction)
        oracles.assert_close_to_fd(tangent, expected, scale=max(1.0, abs(plain)), what=f"jvp {program.name} at {args}")


@pytest.mark.parametrize("program", ARRAY_PROGRAMS, ids=[p.name for p in ARRAY_PROGRAMS])
def test_jvp_of_array_programs_matches_directional_differences(program):
    rng = np.random.default_rng(31)
    args = program.make(rng)
    direction = [None] * len(args)
    for position in program.wrt:
        argument = args[position]
        if isinstance(argument, np.ndarray):
            direction[position] = rng.uniform(-1.0, 1.0, size=argument.shape).astype(argument.dtype)
        else:
            direction[position] = float(rng.uniform(-1.0, 1.0))
    for position, argument in enumerate(args):  # other float arguments: zero tangent
        if position not in program.wrt and isinstance(argument, float):
            direction[position] = 0.0
    mine = copies(args)
    value, tangent = srcad.jvp(program.function, mine, direction)
    rtol, atol = tolerances(program, args)
    assert value == pytest.approx(plain_value(program.function, args), rel=max(rtol, 1e-10) if program.float32 else 1e-10)
    expected = directional_derivative(program.function, args, direction)
    assert abs(float(tangent) - expected) <= rtol * abs(expected) + atol * 10, (program.name, tangent, expected)
    # the caller's arrays end as the plain function leaves them
    plain_args = copies(args)
    program.function(*plain_args)
    for got, plain in zip(mine, plain_args):
        if isinstance(plain, np.ndarray):
            np.testing.assert_allclose(got, plain, rtol=1e-5 if program.float32 else 1e-12)


def rotate_and_squash(x, A, s):
    y = A @ x
    y = np.tanh(y * s)
    y[0] += x[1] * x[2]
    return y * x


def test_jvp_of_an_array_output_matches_closed_form():
    rng = np.random.default_rng(3)
    x, A, s = rng.normal(size=3), rng.normal(size=(3, 3)), 0.7
    v, V, ds = rng.normal(size=3), rng.normal(size=(3, 3)), -0.4
    value, tangent = srcad.jvp(rotate_and_squash, (x, A, s), (v, V, ds))
    np.testing.assert_allclose(value, rotate_and_squash(x, A, s), rtol=1e-13)
    # by hand: y = tanh(s A x); out = y * x, with out[0] also gaining x1 x2 * x0
    u = s * (A @ x)
    du = ds * (A @ x) + s * (V @ x + A @ v)
    y = np.tanh(u)
    dy = (1.0 - y * y) * du
    y0 = y.copy()
    dy0 = dy.copy()
    y0[0] += x[1] * x[2]
    dy0[0] += v[1] * x[2] + x[1] * v[2]
    np.testing.assert_allclose(tangent, dy0 * x + y0 * v, rtol=1e-12, atol=1e-14)


def rosenbrock(x):
    total = 0.0
    for i in range(x.shape[0] - 1):
        total += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return total


def test_jvp_of_rosenbrock_is_the_gradient_along_the_direction():
    x = np.array([0.3, -1.2, 0.8, 1.1])
    v = np.array([1.0, 0.5, -0.25, 2.0])
    gradient = np.zeros_like(x)
    gradient[:-1] += -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    gradient[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    _, tangent = srcad.jvp(rosenbrock, (x,), (v,))
    assert tangent == pytest.approx(float(gradient @ v), rel=1e-13)


def scaled(x, n):
    return math.sin(x) * n


def weighted(x, w):
    return np.sum(x * w)


def test_tangents_that_do_not_fit_their_primals_are_refused_naming_the_argument():
    with pytest.raises(ValueError, match="'w' has shape"):
        srcad.jvp(weighted, (np.ones(3), np.ones(3)), (np.ones(3), np.ones(4)))
    with pytest.raises(ValueError, match="'n'.*no tangent"):
        srcad.jvp(scaled, (0.5, 3), (1.0, 1.0))
    with pytest.raises(ValueError, match="one tangent per primal"):
        srcad.jvp(scaled, (0.5, 3), (1.0,))
    with pytest.raises(ValueError, match="'x'.*must be a float"):
        srcad.jvp(scaled, (0.5, 3), ("a", None))


def test_the_tangent_source_is_readable_python():
    source = srcad.source(scaled, "tangent", args=(0.5, 3))
    assert "def scaled_tangent(x, n, x_dot):" in source
    assert "sin_x_dot = x_dot * math.cos(x)" in source
    compile(source, "<tangent>", "exec")


def _pushed(x, y, k):
    for i in range(x.shape[0]):
        x[i] += k * y[i]
    return np.sum(x * x)


def test_arguments_given_no_tangent_that_come_to_vary_start_from_zero():
    # x has no tangent (None) but is written from k, which has one: d/dk sum((x + k y)^2) = 2 (x + k y) . y
    x, y, k = np.array([1.0, -0.5, 2.0]), np.array([0.0, 1.0, 2.0]), 2.0
    value, tangent = srcad.jvp(_pushed, (x.copy(), y, k), (None, None, 1.0))
    assert value == pytest.approx(np.sum((x + k * y) ** 2), rel=1e-14)
    assert tangent == pytest.approx(2 * np.dot(x + k * y, y), rel=1e-14)


def overwrite_an_element_of_a_new_array(x):
    z = x + 1.0  # z is new memory; so must its tangent be, or the write below goes into x's
    z[0] = 5.0
    return np.sum(z * z) + np.sum(x * x * x)


def add_a_new_arrays_reverse_into_it(x):
    z = x + 1.0
    z += z[::-1]
    return np.sum(z * z) + np.sum(x * x * x)


def scale_the_operand_after_shifting_it(x):
    z = x - 2.0
    x *= 3.0  # x's tangent changes in place; z's must not
    return np.sum(z * z * x)


def add_the_first_element_of_a_new_column(x, y):
    """Found by an array hunt (a silent wrong tangent): `(y[:, None] + 0.25)[0]` is new memory."""
    y += 0.5 * np.cos((0.25 * x) + x)
    y += (y[:, None] + 0.25)[0]
    return np.sum(np.sin(y))


@pytest.mark.parametrize("function", [
    overwrite_an_element_of_a_new_array, add_a_new_arrays_reverse_into_it, scale_the_operand_after_shifting_it,
    add_the_first_element_of_a_new_column,
], ids=lambda f: f.__name__)
def test_tangents_of_new_arrays_are_new_memory_where_arrays_are_written_in_place(function):
    rng = np.random.default_rng(8)
    count = function.__code__.co_argcount
    args = [rng.normal(size=4) for _ in range(count)]
    direction = [rng.normal(size=4) for _ in range(count)]
    value, tangent = srcad.jvp(function, tuple(copies(args)), tuple(copies(direction)))
    assert value == pytest.approx(function(*copies(args)), rel=1e-13)
    expected = directional_derivative(function, args, direction)
    oracles.assert_close_to_fd(tangent, expected, scale=max(1.0, abs(value)), what=function.__name__)
