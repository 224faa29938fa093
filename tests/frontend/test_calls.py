"""Calls between functions: the user's helpers (plain or @srcad.differentiable) are inlined.

Gradients and tangents against central differences of the plain functions; calls three deep,
keyword arguments and defaults, helpers that write into arrays, helpers' own globals; recursion
and helpers without source refused at the call."""

import functools
import inspect
import math

import numpy as np
import pytest

import srcad

if __package__:
    from . import oracles
else:
    import oracles

LIMIT = 3.0  # a global of the helpers: the caller below has a local of the same name


def soft_spring(d, k=2.0):
    s = k * (d + 0.1 * d**3)
    if s > LIMIT:
        return LIMIT + 0.01 * s
    return s


@srcad.differentiable  # returns nothing: a helper called for what it writes, accepted decorated too
def add_spring_forces(force, x, k):
    for i in range(x.shape[0] - 1):
        s = soft_spring(x[i + 1] - x[i], k=k)
        force[i] += s
        force[i + 1] -= s


@srcad.differentiable
def chain_energy(x, k):
    LIMIT = 0.5 * k  # noqa: N806 - the same name as the helpers' global, on purpose
    force = np.zeros_like(x)
    add_spring_forces(force, x, k)
    e = LIMIT
    for i in range(x.shape[0]):
        e += force[i] ** 2 + soft_spring(x[i], k=k) + soft_spring(x[i])
    return e


def inner(x):
    d = x * x
    return d


def middle(x, scale=1.5):
    return inner(x) * scale + math.sin(x)


def outer(x, y):
    total = 0.0
    for i in range(3):
        total += middle(x + i * y) * middle(y, scale=x)
    return total


def _fd_array(function, args, position):
    value = args[position]
    gradient = np.zeros_like(value)
    for element in np.ndindex(value.shape):
        def along(t, element=element):
            moved = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
            moved[position][element] = t
            return function(*moved)

        gradient[element] = oracles.central_difference(along, (float(value[element]),), 0)
    return gradient


def test_gradients_through_helpers_that_write_arrays_and_read_their_own_globals():
    x, k = np.array([0.1, 0.5, 0.3, 1.2, 0.9]), 1.5
    plain = chain_energy.python_function
    dx, dk = srcad.grad(chain_energy, wrt=(0, 1))(x, k)
    np.testing.assert_allclose(dx, _fd_array(plain, [x, k], 0), rtol=1e-7, atol=1e-8)
    assert dk == pytest.approx(oracles.central_difference(plain, (x, k), 1), rel=1e-7)
    assert chain_energy(x, k) == pytest.approx(plain(x, k), rel=1e-13)


def test_calls_three_deep_with_keywords_and_defaults():
    for x, y in ((0.7, -0.3), (1.3, 0.4)):
        got = srcad.grad(outer, wrt=(0, 1))(x, y)
        expected = oracles.gradient_by_central_differences(outer, (x, y), (0, 1))
        assert got == pytest.approx(expected, rel=1e-8)
        _, tangent = srcad.jvp(outer, (x, y), (0.25, -1.0))
        assert tangent == pytest.approx(0.25 * expected[0] - expected[1], rel=1e-8)


def ping(x):
    if x > 1.0:
        return pong(x / 2.0)
    return x


def pong(x):
    return ping(x) * 2.0


def halve(x):
    if x > 1.0:
        return halve(x / 2.0)
    return x


NO_SOURCE = {}
exec("def no_source(x):\n    return x * 2.0\n", NO_SOURCE)
no_source = NO_SOURCE["no_source"]


def calls_no_source(x):
    return no_source(x) + 1.0


@pytest.mark.parametrize("function, words", [
    (halve, "recursive call to 'halve'"),
    (ping, "recursive call"),
    (calls_no_source, "cannot read the source of 'no_source'"),
])
def test_recursion_and_helpers_without_source_are_refused_at_the_call(function, words):
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(function)(3.0)
    assert words in str(caught.value)
    assert "test_calls.py" in str(caught.value)


def no_return(x):
    y = x * 2.0  # noqa: F841


def returns_on_one_path(x):
    if x > 0.0:
        return x
    y = x * 2.0  # noqa: F841


def test_a_function_without_a_return_is_refused_when_differentiated():
    with pytest.raises(srcad.DifferentiabilityError, match="can reach its end without a return"):
        srcad.grad(returns_on_one_path)(1.0)
    for function in (no_return, add_spring_forces):
        with pytest.raises(srcad.DifferentiabilityError, match="returns nothing, so it has no value") as caught:
            srcad.grad(function)
        lines, first = inspect.getsourcelines(getattr(function, "python_function", function))
        at_def = first + next(k for k, line in enumerate(lines) if line.startswith("def "))
        assert (caught.value.lineno, caught.value.col) == (at_def, 1)
    x, k = np.array([0.1, 0.5, 0.3]), 1.5
    force, expected = np.zeros(3), np.zeros(3)
    add_spring_forces(force, x, k)  # the decorated helper runs compiled, as written
    add_spring_forces.python_function(expected, x, k)
    np.testing.assert_allclose(force, expected, rtol=1e-14)


def clipped_sum(x, n):
    s = 0.0
    for i in range(n):  # the same loop variable as the caller's
        s += x * i
        if s > 4.0:
            return 4.0 + 0.1 * s  # an early return inside a loop
    x = -x  # rebinding a parameter does not touch the caller's variable
    return s + x


def uses_clipped_sum(x, n):
    total = 0.0
    for i in range(n):
        total += clipped_sum(x + i, i) * clipped_sum(x, 3)
    return total + x


def test_helpers_with_early_returns_loops_and_rebound_parameters():
    for x, n in ((0.3, 4), (1.7, 5)):
        got = srcad.grad(uses_clipped_sum)(x, n)
        expected = oracles.central_difference(uses_clipped_sum, (x, n), 0)
        assert got == pytest.approx(expected, rel=1e-8)
        assert srcad.value_and_grad(uses_clipped_sum)(x, n)[0] == pytest.approx(uses_clipped_sum(x, n), rel=1e-14)


@srcad.differentiable
def calls_a_helper_defined_below(x):
    return helper_defined_below(x) * 2.0


def helper_defined_below(x):
    return math.sin(x) * x


def test_a_helper_may_be_defined_below_its_caller():
    # decorating checks the caller before the helper exists; the check waits for the first call
    expected = 2.0 * (math.cos(0.4) * 0.4 + math.sin(0.4))
    assert srcad.grad(calls_a_helper_defined_below)(0.4) == pytest.approx(expected, rel=1e-13)


def doubled_tanh(v):
    return math.tanh(v) * 2.0


def helpers_in_tests_and_inactive_calls(x):
    y = x
    if doubled_tanh(x) > 0.5:  # a helper in an if's test
        y = y * 3.0 + math.sin(x)
    z = math.copysign(1.0, doubled_tanh(y) - 10.0) * y  # ... in an argument of a function without derivative
    return (y if doubled_tanh(z) < 0.0 else z * x) + z  # ... in a conditional expression's test


def helper_in_a_while_test(x):
    while doubled_tanh(x) < 1.9:  # <- here:doubled_tanh
        x = x + 0.1
    return x


def test_helpers_called_in_tests_and_inactive_arguments():
    for x in (0.4, 0.1, -0.3):  # both sides of each test
        expected = oracles.central_difference(helpers_in_tests_and_inactive_calls, (x,), 0)
        value, gradient = srcad.value_and_grad(helpers_in_tests_and_inactive_calls)(x)
        assert value == pytest.approx(helpers_in_tests_and_inactive_calls(x), rel=1e-14)
        assert gradient == pytest.approx(expected, rel=1e-8)
        assert srcad.jvp(helpers_in_tests_and_inactive_calls, (x,), (1.0,))[1] == pytest.approx(expected, rel=1e-8)


def test_a_helper_in_a_while_test_is_refused_with_what_to_write():
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(helper_in_a_while_test)(0.3)
    assert caught.value.lineno == helper_in_a_while_test.__code__.co_firstlineno + 1
    assert "into a variable first" in str(caught.value)


def doubled(function):
    """A user's decorator: its wrapper, made with functools.wraps, computes something else."""
    @functools.wraps(function)
    def wrapper(x, k):
        return 2.0 * function(x, k) + k
    return wrapper


@doubled
def decorated_square(x, k):
    return k * x * x


def calls_the_decorated_square(x):
    return decorated_square(x, 3.0) + x


def test_a_function_wrapped_by_a_users_decorator_is_differentiated_as_the_wrapper_computes():
    """functools.wraps gives the wrapper the function's __wrapped__; srcad once read the wrapped
    function's source for it (d/dx of k x^2 instead of 2 k x^2 + k), silently."""
    assert srcad.grad(decorated_square, wrt=(0, 1))(1.5, 3.0) == pytest.approx((4.0 * 3.0 * 1.5, 2.0 * 1.5**2 + 1.0))
    assert srcad.grad(calls_the_decorated_square)(1.5) == pytest.approx(4.0 * 3.0 * 1.5 + 1.0)
    assert srcad.jvp(decorated_square, (1.5, 3.0), (1.0, 0.0))[1] == pytest.approx(4.0 * 3.0 * 1.5)
