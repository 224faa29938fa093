"""Derivatives inside differentiated code: forces from energies (``srcad.grad(energy)(x, k)``),
``srcad.value_and_grad``, ``srcad.jvp`` and ``srcad.vjp`` called in a function srcad differentiates,
or in a kernel on the tape.

The outer gradient needs second derivatives of the inner function; every check is against closed
forms or central differences of NumPy code written with the forces by hand (never srcad's)."""

import math

import numpy as np
import pytest

import srcad


def _along(function, h=1e-4):
    """d/dt function(t) at t = 0: central differences, Richardson-extrapolated."""
    def quotient(step):
        return (np.asarray(function(step)) - np.asarray(function(-step))) / (2.0 * step)

    return (4.0 * quotient(h / 2.0) - quotient(h)) / 3.0


def _gradient_by_differences(function, x):
    x = np.asarray(x, dtype=float)
    units = np.eye(x.size).reshape((x.size,) + x.shape)
    return np.array([_along(lambda t: function(x + t * unit)) for unit in units]).reshape(x.shape)


def _check_both_modes(function, by_hand, x, k, direction=(1.0, -0.5)):
    """``function(x, k)`` of two floats: its value, gradient and derivative along ``direction`` against
    ``by_hand`` (the same computation with the forces written out) and its central differences."""
    assert function(x, k) == pytest.approx(by_hand(x, k), rel=1e-14)
    gradient = srcad.grad(function, wrt=(0, 1))(x, k)
    expected = (_along(lambda t: by_hand(x + t, k)), _along(lambda t: by_hand(x, k + t)))
    np.testing.assert_allclose(gradient, expected, rtol=1e-8)
    _, along = srcad.jvp(function, (x, k), direction)
    assert along == pytest.approx(_along(lambda t: by_hand(x + direction[0] * t, k + direction[1] * t)), rel=1e-8)


# -- a particle in a potential: the force is -dE/dr, the loss is where it ends --------------------------
def pair_energy(r, k):
    return 0.5 * k * (r - 1.0) ** 2 + 0.1 * r ** 3


def pair_force_by_hand(r, k):
    return -(k * (r - 1.0) + 0.3 * r * r)


@srcad.differentiable
def verlet_end(x0, k):
    x = x0
    v = 0.0
    f = -srcad.grad(pair_energy)(x, k)
    for _ in range(40):
        v = v + 0.025 * f
        x = x + 0.05 * v
        f = -srcad.grad(pair_energy)(x, k)
        v = v + 0.025 * f
    return x * x + v


def verlet_end_by_hand(x0, k):
    x, v = x0, 0.0
    f = pair_force_by_hand(x, k)
    for _ in range(40):
        v = v + 0.025 * f
        x = x + 0.05 * v
        f = pair_force_by_hand(x, k)
        v = v + 0.025 * f
    return x * x + v


def test_forces_from_an_energy_in_a_time_loop_in_both_modes():
    _check_both_modes(verlet_end, verlet_end_by_hand, 0.3, 2.0)


def test_the_outer_gradient_calls_the_second_derivatives_and_says_so():
    adjoint = srcad.source(verlet_end, "adjoint", args=(0.3, 2.0))
    assert "srcad.callees.stub('vjp 0|" in adjoint and "_adjoint(" in adjoint


# -- every form: value_and_grad with a tuple wrt, jvp with an integer argument, vjp and its pullback ------
def shaped(x, k, n):
    return k * math.sin(x) ** 2 + x * n


@srcad.differentiable
def every_form(x, k):
    y, pullback = srcad.vjp(shaped, x, k, 3)
    gx, gk, gn = pullback(2.0 * k)  # an active cotangent
    v, (g0, g1) = srcad.value_and_grad(shaped, wrt=(0, 1))(x, k, 3)
    _, t = srcad.jvp(shaped, (x, k, 3), (1.0, 0.5, 0))
    gradient_k = srcad.grad(shaped, wrt=-2)(x, k, 3)
    return y * gx + gk * k + gn + v * g0 + t * g1 + gradient_k


def every_form_by_hand(x, k):
    y = k * math.sin(x) ** 2 + 3 * x
    g0 = 2 * k * math.sin(x) * math.cos(x) + 3
    g1 = math.sin(x) ** 2
    t = g0 * 1.0 + g1 * 0.5
    return y * 2.0 * k * g0 + 2.0 * k * g1 * k + 0.0 + y * g0 + t * g1 + g1


def test_value_and_grad_jvp_and_vjp_inside():
    _check_both_modes(every_form, every_form_by_hand, 0.7, 1.3, direction=(0.25, 1.0))


def weighted_sines(x, n, w):
    return np.sum(np.sin(x) * w) * n


@srcad.differentiable
def directional(x, w):
    _, along_x = srcad.jvp(weighted_sines, (x, 3, w), (np.ones(3), None, None))  # None: a zero tangent
    _, along_w = srcad.jvp(weighted_sines, (x, 3, w), (None, None, 1.0))
    return along_x * along_x + along_w


def directional_by_hand(x, w):
    return (3.0 * np.sum(np.cos(x) * w)) ** 2 + 3.0 * np.sum(np.sin(x))


def test_jvp_inside_with_zero_tangents_of_arrays_and_integers():
    x, w = np.array([0.1, 0.5, 0.9]), 1.3
    assert directional(x, w) == pytest.approx(directional_by_hand(x, w), rel=1e-14)
    gradient_x, gradient_w = srcad.grad(directional, wrt=(0, 1))(x, w)
    np.testing.assert_allclose(gradient_x, _gradient_by_differences(lambda v: directional_by_hand(v, w), x), rtol=1e-8)
    assert gradient_w == pytest.approx(_along(lambda t: directional_by_hand(x, w + t)), rel=1e-8)
    _, along = srcad.jvp(directional, (x, w), (np.array([1.0, 0.0, -1.0]), 0.5))
    assert along == pytest.approx(_along(lambda t: directional_by_hand(x + t * np.array([1.0, 0.0, -1.0]), w + 0.5 * t)),
                                  rel=1e-8)


force_of = srcad.grad(pair_energy)  # made once at the top of a module, called inside


@srcad.differentiable
def with_a_module_level_gradient(x, k):
    return force_of(x, k) ** 2 + srcad.grad(pair_energy, wrt=1)(x * 2.0, k)


def test_a_gradient_made_at_module_level_is_called_like_the_others():
    def by_hand(x, k):
        return pair_force_by_hand(x, k) ** 2 + 0.5 * (2.0 * x - 1.0) ** 2

    _check_both_modes(with_a_module_level_gradient, by_hand, 0.8, 1.5)


# -- molecular dynamics: Lennard-Jones pairs, forces by srcad.grad, velocity Verlet -----------------------
def lennard_jones(x, epsilon, sigma):
    n = x.shape[0]
    energy = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            dx = x[i, 0] - x[j, 0]
            dy = x[i, 1] - x[j, 1]
            s6 = (sigma * sigma / (dx * dx + dy * dy)) ** 3
            energy += 4.0 * epsilon * (s6 * s6 - s6)
    return energy


def lennard_jones_forces_by_hand(x, epsilon, sigma):
    d = x[:, None, :] - x[None, :, :]
    r2 = np.sum(d * d, axis=-1) + np.eye(len(x))
    s6 = (sigma * sigma / r2) ** 3
    magnitude = 24.0 * epsilon * (2.0 * s6 * s6 - s6) / r2
    np.fill_diagonal(magnitude, 0.0)
    return np.sum(magnitude[:, :, None] * d, axis=1)


@srcad.differentiable
def molecular_dynamics(x0, v0, epsilon, sigma, target):
    x = x0.copy()
    v = v0.copy()
    f = -srcad.grad(lennard_jones)(x, epsilon, sigma)
    for _ in range(30):
        v = v + 0.0025 * f
        x = x + 0.005 * v
        f = -srcad.grad(lennard_jones)(x, epsilon, sigma)
        v = v + 0.0025 * f
    return np.sum((x - target) ** 2)


def molecular_dynamics_by_hand(x0, v0, epsilon, sigma, target):
    x, v = x0.copy(), v0.copy()
    f = lennard_jones_forces_by_hand(x, epsilon, sigma)
    for _ in range(30):
        v = v + 0.0025 * f
        x = x + 0.005 * v
        f = lennard_jones_forces_by_hand(x, epsilon, sigma)
        v = v + 0.0025 * f
    return np.sum((x - target) ** 2)


def _lattice():
    rng = np.random.default_rng(3)
    grid = np.stack(np.meshgrid(np.arange(3.0), np.arange(2.0)), axis=-1).reshape(-1, 2) * 1.15
    return grid + 0.04 * rng.standard_normal(grid.shape), 0.2 * rng.standard_normal(grid.shape), grid * 1.03


def test_molecular_dynamics_gradient_with_respect_to_the_potential_and_the_start():
    x0, v0, target = _lattice()
    epsilon, sigma = 1.0, 1.02
    assert molecular_dynamics(x0, v0, epsilon, sigma, target) == pytest.approx(
        molecular_dynamics_by_hand(x0, v0, epsilon, sigma, target), rel=1e-12)
    gradient_x0, gradient_epsilon, gradient_sigma = srcad.grad(molecular_dynamics, wrt=(0, 2, 3))(
        x0, v0, epsilon, sigma, target)
    np.testing.assert_allclose(
        gradient_epsilon, _along(lambda t: molecular_dynamics_by_hand(x0, v0, epsilon + t, sigma, target)), rtol=1e-7)
    np.testing.assert_allclose(
        gradient_sigma, _along(lambda t: molecular_dynamics_by_hand(x0, v0, epsilon, sigma + t, target)), rtol=1e-7)
    np.testing.assert_allclose(
        gradient_x0, _gradient_by_differences(lambda x: molecular_dynamics_by_hand(x, v0, epsilon, sigma, target), x0),
        rtol=1e-6, atol=1e-9)


def stretch_energy(x, k):
    return k * np.sum((x[1:] - x[:-1] - 1.0) ** 2)


@srcad.differentiable
def relaxed(x0, k):
    x = x0.copy()
    for _ in range(5):
        x = x - 0.05 * srcad.grad(stretch_energy)(x, k)
    return np.sum(x * x * x)


def relaxed_by_hand(x0, k):
    x = x0.copy()
    for _ in range(5):
        d = x[1:] - x[:-1] - 1.0
        g = np.zeros_like(x)
        g[1:] += 2.0 * k * d
        g[:-1] -= 2.0 * k * d
        x = x - 0.05 * g
    return np.sum(x * x * x)


def test_whole_array_energy_relaxed_by_gradient_steps():
    x0, k = np.array([0.0, 0.7, 2.3, 2.9, 4.4]), 1.3
    assert relaxed(x0, k) == pytest.approx(relaxed_by_hand(x0, k), rel=1e-13)
    gradient_x0, gradient_k = srcad.grad(relaxed, wrt=(0, 1))(x0, k)
    np.testing.assert_allclose(gradient_x0, _gradient_by_differences(lambda x: relaxed_by_hand(x, k), x0), rtol=1e-7)
    assert gradient_k == pytest.approx(_along(lambda t: relaxed_by_hand(x0, k + t)), rel=1e-7)
    direction = np.array([1.0, -1.0, 0.5, 0.0, 2.0])
    _, along = srcad.jvp(relaxed, (x0, k), (direction, 0.3))
    assert along == pytest.approx(_along(lambda t: relaxed_by_hand(x0 + t * direction, k + 0.3 * t)), rel=1e-7)


# -- kernels on the tape: a force kernel calling srcad.grad --------------------------------------------
@srcad.kernel
def force_kernel(x, k, f):
    i = srcad.tid()
    f[i] = -srcad.grad(pair_energy)(x[i], k[0])


def series_energy(r, k):
    """An energy with a loop: in a CUDA kernel its derivatives use the thread's own stack."""
    total = 0.0
    for m in range(1, 4):
        total += k * math.cos(r * m) / m
    return total


def series_force_by_hand(r, k):
    return sum(k * np.sin(r * m) for m in range(1, 4))


@srcad.kernel
def series_force_kernel(x, k, f):
    i = srcad.tid()
    f[i] = -srcad.grad(series_energy)(x[i], k[0])


@srcad.kernel
def kick_and_drift(x, v, f, dt):
    i = srcad.tid()
    v[i] = v[i] + dt * f[i]
    x[i] = x[i] + dt * v[i]


@srcad.kernel
def squares_into(x, loss):
    i = srcad.tid()
    srcad.atomic_add(loss, 0, x[i] * x[i])


def particles_by_hand(k, n=8, steps=20, dt=0.05, force=pair_force_by_hand):
    x, v = np.linspace(0.5, 1.5, n), np.zeros(n)
    for _ in range(steps):
        v = v + dt * force(x, k)
        x = x + dt * v
    return np.sum(x * x)


FORCE_KERNELS = [(force_kernel, pair_force_by_hand), (series_force_kernel, series_force_by_hand)]


@pytest.mark.parametrize("kernel, force", FORCE_KERNELS, ids=["pair", "series"])
def test_a_force_kernel_calling_srcad_grad_on_the_tape(kernel, force):
    n = 8
    x, v, f, k, loss = np.linspace(0.5, 1.5, n), np.zeros(n), np.zeros(n), np.array([2.0]), np.zeros(1)
    tape = srcad.Tape()
    with tape:
        for _ in range(20):
            kernel.launch(n, x, k, f)
            kick_and_drift.launch(n, x, v, f, 0.05)
        squares_into.launch(n, x, loss)
    assert loss[0] == pytest.approx(particles_by_hand(2.0, force=force), rel=1e-13)
    tape.backward(loss)
    assert tape.gradient(k)[0] == pytest.approx(_along(lambda t: particles_by_hand(2.0 + t, force=force)), rel=1e-8)


@srcad.kernel
def every_form_kernel(x, k, f):
    i = srcad.tid()
    e, de = srcad.jvp(pair_energy, (x[i], k[0]), (1.0, 0.0))
    _, pullback = srcad.vjp(pair_energy, x[i], k[0])
    gx, gk = pullback(2.0)
    f[i] = de * e + gx * gk


def every_form_kernel_by_hand(x, k):
    e = 0.5 * k * (x - 1.0) ** 2 + 0.1 * x ** 3
    return -pair_force_by_hand(x, k) * e + 2.0 * -pair_force_by_hand(x, k) * 2.0 * 0.5 * (x - 1.0) ** 2


def test_jvp_and_vjp_in_a_kernel_on_the_tape():
    x, k, f, loss = np.array([0.3, 0.9, 1.4]), np.array([1.7]), np.zeros(3), np.zeros(1)
    tape = srcad.Tape()
    with tape:
        every_form_kernel.launch(3, x, k, f)
        squares_into.launch(3, f, loss)
    np.testing.assert_allclose(f, every_form_kernel_by_hand(x, 1.7), rtol=1e-13)
    tape.backward(loss)

    def loss_by_hand(x, k):
        return np.sum(every_form_kernel_by_hand(x, k) ** 2)

    np.testing.assert_allclose(tape.gradient(x), _gradient_by_differences(lambda v: loss_by_hand(v, 1.7), x), rtol=1e-8)
    assert tape.gradient(k)[0] == pytest.approx(_along(lambda t: loss_by_hand(x, 1.7 + t)), rel=1e-8)


def test_a_force_kernel_inlines_the_derivative_for_cuda():
    pytest.importorskip("numba.cuda")
    from numba.core import types

    signature = (types.int64, types.float64[::1], types.float64[::1], types.float64[::1])
    for stage in ("forward", "adjoint"):
        source = force_kernel.module(stage, signature, "cuda").source
        assert "srcad.callees" not in source and "pair_energy_adjoint_" in source, source
        source = every_form_kernel.module(stage, signature, "cuda").source
        assert "srcad.callees" not in source and "pair_energy_tangent_" in source, source


# -- a derivative inside a helper, and in an if's test ----------------------------------------------------
def spring_pull(x, k):
    """A helper taking a force by srcad.grad: inlined into its caller like any helper."""
    return -srcad.grad(pair_energy)(x, k)


def through_a_helper(x0, k):
    x, v = x0, 0.0
    for _ in range(20):
        v = v + 0.1 * spring_pull(x, k)
        x = x + 0.1 * v
    return x * x


def test_a_helper_taking_the_force_is_inlined_with_it():
    def by_hand(x0, k):
        x, v = x0, 0.0
        for _ in range(20):
            v = v + 0.1 * pair_force_by_hand(x, k)
            x = x + 0.1 * v
        return x * x

    _check_both_modes(through_a_helper, by_hand, 0.3, 2.0)


def branches_on_a_slope(x, k):
    if srcad.grad(pair_energy)(x, k) > 0.0:  # in a test: computed into a variable first, as a helper's value is
        return math.sin(x) * k
    return x * k


def test_a_derivative_in_an_if_test():
    for x in (1.5, 0.2):  # the slope of pair_energy at k = 2 is positive at 1.5, negative at 0.2
        expected = (math.cos(x) * 2.0, math.sin(x)) if x > 1.0 else (2.0, x)
        np.testing.assert_allclose(srcad.grad(branches_on_a_slope, wrt=(0, 1))(x, 2.0), expected, rtol=1e-13)


# -- refused, each at the user's line --------------------------------------------------------------------
def tuple_parameters(r, parameters):
    k, r0 = parameters
    return k * (r - r0) ** 2


def passes_a_tuple(x, k):
    return srcad.grad(tuple_parameters)(x, (k, 1.0))


def _made_in_a_function():
    def inner(r):
        return r * r

    def local_definitions(x):
        return srcad.grad(inner)(x)

    return local_definitions


local_definitions = _made_in_a_function()


def with_a_lambda(x):
    return srcad.grad(lambda r: r * r)(x)


def writes_its_argument(x):
    x[0] = x[0] * 2.0
    return np.sum(x)


def calls_an_in_place_energy(x):
    return np.sum(srcad.grad(writes_its_argument)(x))


def tuple_valued(x):
    return x, x * x


def grad_of_a_tuple(x):
    return srcad.grad(tuple_valued)(x)


def a_gradient_as_a_value(x):
    force = srcad.grad(pair_energy)
    return force(x, 1.0)


def integer_position(x):
    return srcad.grad(shaped, wrt=2)(x, 1.0, 3)


@pytest.mark.parametrize("function, args, words", [
    (local_definitions, (0.5,), "defined at the top level of a module"),
    (with_a_lambda, (0.5,), "lambda"),
    (calls_an_in_place_energy, (np.ones(3),), "writes its array arguments in place"),
    (grad_of_a_tuple, (0.5,), "not a tuple"),
    (a_gradient_as_a_value, (0.5,), "srcad.grad(...) inside a differentiated function"),
    (integer_position, (0.5,), "argument 'n'"),
    (passes_a_tuple, (0.5, 2.0), "cannot pass a tuple to srcad.grad(tuple_parameters)"),
])
def test_what_is_not_read_is_refused_at_its_line(function, args, words):
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(function)(*args)
    error = caught.value
    assert words in str(error), str(error)
    assert error.filename == __file__ and error.lineno > function.__code__.co_firstlineno, str(error)
    assert "Traceback" not in str(error) and "numba" not in str(error).lower(), str(error)


def test_a_third_derivative_is_refused_with_what_to_do():
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.hessian(verlet_end)(0.3, 2.0)
    assert "third derivative" in str(caught.value)
    assert caught.value.filename == __file__


# -- a second process: generated code finds the inner function by its name ---------------------------------
USER_MODULE = '''
import numba
import srcad


@numba.njit  # a numba function: srcad reads its Python source (found by name in a later process)
def energy(r, k):
    return 0.5 * k * (r - 1.0) ** 2 + 0.1 * r ** 3


def end(x0, k):
    x, v = x0, 0.0
    for _ in range(10):
        v = v - 0.05 * srcad.grad(energy)(x, k)
        x = x + 0.05 * v
    return x * x
'''

PROBE = '''
import json, sys
sys.path.insert(0, sys.argv[1])
import srcad, user_nested
print(json.dumps({"gradient": srcad.grad(user_nested.end, wrt=(0, 1))(0.3, 1.5), "libcst": "libcst" in sys.modules}))
'''


def _end_by_hand(x0, k):
    x, v = x0, 0.0
    for _ in range(10):
        v = v + 0.05 * pair_force_by_hand(x, k)
        x = x + 0.05 * v
    return x * x


def test_a_second_process_loads_it_from_the_cache_and_python_runs_it_without_numba(tmp_path):
    """The energy is an @numba.njit function: the derivative's stub finds its Python function by name."""
    import json
    import os
    import subprocess
    import sys

    (tmp_path / "user_nested.py").write_text(USER_MODULE)
    runs = []
    for cache, jit_disabled in (("cache", "0"), ("cache", "0"), ("plain", "1")):
        environment = dict(os.environ, SRCAD_CACHE_DIR=str(tmp_path / cache), NUMBA_DISABLE_JIT=jit_disabled)
        result = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True,
                                env=environment, timeout=600)
        assert result.returncode == 0, result.stderr
        runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    expected = (_along(lambda t: _end_by_hand(0.3 + t, 1.5)), _along(lambda t: _end_by_hand(0.3, 1.5 + t)))
    np.testing.assert_allclose(runs[0]["gradient"], expected, rtol=1e-8)
    assert runs[1]["gradient"] == runs[0]["gradient"] and not runs[1]["libcst"]
    np.testing.assert_allclose(runs[2]["gradient"], runs[0]["gradient"], rtol=1e-13)
