"""Tuples and NamedTuples: arguments, unpacking, helpers returning tuples, tuple and array outputs.

Gradients, vjps and jvps against central differences of the plain Python functions, taken leaf by
leaf (every float element of every float part of every argument); bad uses refused at the line.
"""

import math
from typing import NamedTuple

import numpy as np
import pytest

import srcad

if __package__:
    from . import oracles
else:
    import oracles


class State(NamedTuple):
    x: np.ndarray
    v: np.ndarray


class Params(NamedTuple):
    k: float
    damping: float = 0.1


# -- the programs, written as users write them --------------------------------------------------------
def spring_forces(x, k):
    f = np.zeros_like(x)
    for i in range(x.shape[0] - 1):
        s = k * (x[i + 1] - x[i] - 1.0)
        f[i] += s
        f[i + 1] -= s
    return f


def step(state, params, dt):
    f = spring_forces(state.x, params.k) - params.damping * state.v
    v = state.v + dt * f
    return state._replace(x=state.x + dt * v, v=v)


def simulate(state, params, dt, steps):
    for _ in range(steps):
        state = step(state, params, dt)
    return np.sum(state.x * state.x) + 0.5 * np.sum(state.v**2)


def simulate_to_state(state, params, dt, steps):
    for _ in range(steps):
        state = step(state, params, dt)
    return state


def polar(x, y):
    r = math.sqrt(x * x + y * y)
    return r, math.atan2(y, x)


def from_polar(x, y):
    r, theta = polar(x, y)
    (a, b), c = (r * math.cos(theta), r * math.sin(2.0 * theta)), r**2
    return a * b + c


def mlp_loss(params, inputs, targets):
    (w1, b1), (w2, b2) = params
    hidden = np.tanh(inputs @ w1 + b1)
    out = hidden @ w2 + b2
    return np.mean((out - targets) ** 2)


def swaps(a, b, n):
    for _ in range(n):
        a, b = b, a + 0.5 * b
    p = (a, b)
    p = (p[1], p[0])
    return p[0] * math.sin(p[-1])


def leapfrog(x, v, dt):
    for _ in range(4):
        x, v = x + dt * v, v - dt * np.sin(x)
    return np.sum(x * v)


def stats(x):
    return np.mean(x), np.sum(x * x), x.shape[0]


def clipped_or_scaled(x, c):
    if c > 0.0:
        return np.sin(x) * c
    y = x * x
    return y + c


def branches_of_pairs(x, y):
    if x > y:
        return x * y, x - y
    return y, x * x


def elementwise(x, w):
    return np.tanh(w * x) * x[0]


# -- an independent oracle: central differences of the plain function, leaf by leaf -----------------
def _leaf_paths(value, path=()):
    if isinstance(value, tuple):
        for index, part in enumerate(value):
            yield from _leaf_paths(part, path + (index,))
    else:
        yield path


def _get(value, path):
    for index in path:
        value = value[index]
    return value


def _replaced(value, path, new):
    if not path:
        return new
    parts = list(value)
    parts[path[0]] = _replaced(value[path[0]], path[1:], new)
    return type(value)(*parts) if hasattr(type(value), "_fields") else tuple(parts)


def _copy(value):
    if isinstance(value, tuple):
        parts = [_copy(p) for p in value]
        return type(value)(*parts) if hasattr(type(value), "_fields") else tuple(parts)
    return value.copy() if isinstance(value, np.ndarray) else value


def _dot(a, b):
    """The sum of the products of the float leaves of two values of one structure."""
    if isinstance(a, tuple):
        return sum(_dot(p, q) for p, q in zip(a, b))
    if isinstance(a, (int, np.integer)) and not isinstance(a, bool) and not isinstance(a, float):
        return 0.0
    return float(np.sum(np.asarray(a, dtype=float) * np.asarray(b, dtype=float)))


def fd_vjp(function, args, cotangent, step=1e-6):
    """d/d args of <cotangent, f(args)>, by central differences, in the structure of the arguments
    (None for integer leaves)."""

    def scalar(moved):
        return _dot(function(*_copy(moved)), cotangent)

    results = []
    for position, argument in enumerate(args):
        gradient = argument
        for path in _leaf_paths(argument):
            leaf = _get(argument, path)
            if isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f":
                slope = np.zeros_like(leaf)
                for element in np.ndindex(leaf.shape):
                    h = step * max(1.0, abs(leaf[element]))
                    values = []
                    for sign in (1, -1):
                        moved_leaf = leaf.copy()
                        moved_leaf[element] += sign * h
                        moved = list(args)
                        moved[position] = _replaced(argument, path, moved_leaf)
                        values.append(scalar(moved))
                    slope[element] = (values[0] - values[1]) / (2 * h)
            elif isinstance(leaf, float):
                h = step * max(1.0, abs(leaf))
                values = []
                for sign in (1, -1):
                    moved = list(args)
                    moved[position] = _replaced(argument, path, leaf + sign * h)
                    values.append(scalar(moved))
                slope = (values[0] - values[1]) / (2 * h)
            else:
                slope = None
            gradient = _replaced(gradient, path, slope) if path else slope
        results.append(gradient)
    return tuple(results)


def assert_close(got, expected, rtol=1e-6, atol=1e-7):
    if isinstance(expected, tuple):
        assert type(got) is type(expected), (got, expected)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert_close(g, e, rtol, atol)
    elif expected is None:
        assert got is None
    else:
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


def _state():
    return State(np.array([0.0, 1.1, 1.9, 3.2]), np.array([0.1, -0.2, 0.05, 0.3]))


# -- gradients with respect to tuple arguments ---------------------------------------------------------
def test_named_tuple_state_through_a_simulation_loop():
    args = (_state(), Params(k=3.0, damping=0.2), 0.05, 12)
    gradient = srcad.grad(simulate, wrt=(0, 1, 2))(*args)
    expected = fd_vjp(simulate, args, 1.0)
    assert isinstance(gradient[0], State) and isinstance(gradient[1], Params)
    assert_close(gradient, expected[:3])
    assert srcad.grad(simulate)(*args).x.shape == (4,)


def test_plain_tuples_of_arrays_as_parameters_of_a_model():
    rng = np.random.default_rng(0)
    params = ((rng.normal(size=(3, 5)), rng.normal(size=5)), (rng.normal(size=(5, 2)), rng.normal(size=2)))
    inputs, targets = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    gradient = srcad.grad(mlp_loss)(params, inputs, targets)
    assert_close(gradient, fd_vjp(mlp_loss, (params, inputs, targets), 1.0)[0], rtol=1e-5, atol=1e-7)


def test_helpers_returning_tuples_and_nested_unpacking():
    for x, y in ((0.7, 0.3), (-1.2, 0.4)):
        assert_close(srcad.grad(from_polar, wrt=(0, 1))(x, y), fd_vjp(from_polar, (x, y), 1.0))


def test_swaps_read_every_value_before_binding():
    args = (0.3, 1.1, 3)
    assert srcad.grad(swaps, wrt=(0, 1))(*args) == pytest.approx(fd_vjp(swaps, args, 1.0)[:2], rel=1e-6)


def test_arrays_rebound_together_in_a_loop():
    args = (np.array([0.2, 0.5, 1.0]), np.array([1.0, 0.0, -0.5]), 0.1)
    assert_close(srcad.grad(leapfrog, wrt=(0, 1, 2))(*args), fd_vjp(leapfrog, args, 1.0))


# -- vjp: outputs that are arrays, tuples, NamedTuples ------------------------------------------------
def test_vjp_of_an_array_output():
    x, w = np.array([0.5, -0.3, 1.2]), np.array([1.0, 2.0, 0.5])
    y, pullback = srcad.vjp(elementwise, x, w)
    np.testing.assert_allclose(y, elementwise(x, w), rtol=1e-13)
    for ybar in (np.ones(3), np.array([0.3, -1.0, 2.0])):
        assert_close(pullback(ybar), fd_vjp(elementwise, (x, w), ybar))


def test_vjp_of_a_named_tuple_output_and_of_its_arguments():
    args = (_state(), Params(k=2.0), 0.05, 6)
    y, pullback = srcad.vjp(simulate_to_state, *args)
    assert isinstance(y, State)
    cotangent = State(np.array([1.0, 0.0, -1.0, 0.5]), np.array([0.2, 0.2, 0.0, 1.0]))
    got = pullback(cotangent)
    expected = fd_vjp(simulate_to_state, args, cotangent)
    assert_close(got[:3], expected[:3])
    assert got[3] is None  # the number of steps, an int


def test_vjp_of_mixed_outputs_with_an_integer_part():
    x = np.array([0.5, 1.5, -2.0])
    y, pullback = srcad.vjp(stats, x)
    assert y[2] == 3
    (gradient,) = pullback((2.0, -0.5, None))
    np.testing.assert_allclose(gradient, fd_vjp(stats, (x,), (2.0, -0.5, 0))[0], rtol=1e-6)


def test_pullbacks_can_be_called_again():
    x = np.array([0.5, 1.5])
    _, pullback = srcad.vjp(elementwise, x, np.ones(2))
    first = pullback(np.ones(2))[0]
    np.testing.assert_array_equal(pullback(np.ones(2))[0], first)


def test_early_returns_of_arrays_and_of_tuples():
    x = np.array([0.3, -0.7])
    for c in (2.0, -1.0):
        _, pullback = srcad.vjp(clipped_or_scaled, x, c)
        assert_close(pullback(np.array([1.0, 3.0])), fd_vjp(clipped_or_scaled, (x, c), np.array([1.0, 3.0])))
    for x, y in ((2.0, 1.0), (0.5, 1.5)):
        _, pullback = srcad.vjp(branches_of_pairs, x, y)
        assert_close(pullback((1.0, 2.0)), fd_vjp(branches_of_pairs, (x, y), (1.0, 2.0)))


# -- jvp with tuples in and out ----------------------------------------------------------------------
def test_jvp_with_named_tuples_in_and_out():
    state, params = _state(), Params(k=2.5)
    tangent_state = State(np.array([1.0, 0.0, 0.5, -1.0]), None)
    y, tangent = srcad.jvp(simulate_to_state, (state, params, 0.05, 5), (tangent_state, None, 0.0, None))
    assert isinstance(y, State) and isinstance(tangent, State)
    expected = simulate_to_state(_state(), params, 0.05, 5)
    np.testing.assert_allclose(y.x, expected.x, rtol=1e-12)
    # <c, J t> for a few cotangents c, against the oracle's vjp
    tangent_full = State(tangent_state.x, np.zeros(4))
    for seed in range(2):
        c = State(*np.random.default_rng(seed).normal(size=(2, 4)))
        fd = fd_vjp(simulate_to_state, (state, params, 0.05, 5), c)[0]
        assert _dot(c, tangent) == pytest.approx(_dot(fd, tangent_full), rel=1e-6)


# -- bad uses, refused where they are written ----------------------------------------------------------
def unpacks_too_many(x):
    a, b, c = polar(x, 1.0)
    return a


def tuple_as_number(x):
    r = polar(x, 1.0)
    return r * 2.0


def tuple_index_by_variable(x, i):
    p = (x, 2.0 * x)
    return p[i]


def mismatched_returns(x):
    if x > 0:
        return x, x
    return x


def one_value_then_a_tuple(x):
    if x > 0:
        return x
    return x, x


def tuples_of_two_structures(x):
    if x > 0:
        return x, x
    return x, (x, x)


@pytest.mark.parametrize("function, args, words", [
    (unpacks_too_many, (0.5,), "cannot unpack a tuple of 2 into 3"),
    (tuple_as_number, (0.5,), "cannot use a tuple here"),
    (tuple_index_by_variable, (0.5, 1), "index written as a number"),
    (mismatched_returns, (0.5,), "another return gives a tuple"),
    (one_value_then_a_tuple, (0.5,), "returns a tuple .*another return gives one value"),
    (tuples_of_two_structures, (0.5,), "another return gives \\("),
])
def test_bad_tuple_code_is_refused_at_its_line(function, args, words):
    with pytest.raises(srcad.DifferentiabilityError, match=words) as caught:
        srcad.grad(function)(*args)
    assert caught.value.filename == __file__
    assert caught.value.lineno > function.__code__.co_firstlineno
    assert "Traceback" not in str(caught.value)


def test_grad_of_a_tuple_output_says_to_use_vjp():
    with pytest.raises(TypeError, match="returns a tuple.*srcad.vjp"):
        srcad.grad(polar)(0.5, 1.0)


def test_a_cotangent_of_the_wrong_structure_is_refused():
    _, pullback = srcad.vjp(polar, 0.5, 1.0)
    with pytest.raises(ValueError, match="tuple of 2"):
        pullback(1.0)
    _, pullback = srcad.vjp(elementwise, np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="shape"):
        pullback(np.ones(4))


def test_second_derivatives_with_respect_to_a_tuple_are_refused_and_past_one_work():
    with pytest.raises(TypeError, match="tuple argument"):
        srcad.hessian(simulate)(_state(), Params(k=1.0), 0.1, 2)
    state, params = _state(), Params(k=1.0)

    def slope(dt):  # d simulate / d dt, by central differences of the plain function
        return oracles.central_difference(lambda t: simulate(state, params, t, 3), (dt,), 0)

    second = srcad.hessian(simulate, wrt=2)(state, params, 0.1, 3)
    expected = oracles.central_difference(slope, (0.1,), 0, richardson=False, h=1e-4)
    assert second == pytest.approx(expected, rel=1e-5)
