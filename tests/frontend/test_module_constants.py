"""Constants read through a module of the user's (``import simulation_constants as C``, then
``C.G * m``, ``range(C.STEPS)``): read as constants, as ``math.pi`` is, in functions and kernels,
and part of the cache key."""

import numpy as np
import pytest

import simulation_constants as C
import simulation_constants as cfg
import srcad
from oracles import plain_central_difference
from srcad.cache_keys import source_key_of


def falling(height, velocity, mass):
    for _ in range(C.STEPS):
        velocity = velocity - C.G * mass * cfg.DT
        height = height + velocity * cfg.DT
    return height * height + mass


@srcad.kernel
def drift(x, v):
    i = srcad.tid()
    x[i] += v[i] * cfg.DT * C.G


def test_gradients_of_a_function_reading_a_modules_numbers_match_central_differences():
    args = (1.5, 0.25, 2.0)
    value, gradient = srcad.value_and_grad(falling, wrt=(0, 1, 2))(*args)
    assert value == pytest.approx(falling(*args), rel=1e-14)
    for position, got in enumerate(gradient):
        assert got == pytest.approx(plain_central_difference(falling, args, position), rel=1e-7)
    assert srcad.jvp(falling, args, (0.0, 0.0, 1.0))[1] == pytest.approx(plain_central_difference(falling, args, 2), rel=1e-7)


def test_the_generated_code_holds_the_numbers():
    source = srcad.source(falling, "normalized")
    code = [line for line in source.splitlines() if not line.strip().startswith("#")]
    assert not any("C." in line or "cfg." in line for line in code)
    assert "range(4)" in source and "0.5" in source and "0.01" in source


def test_a_kernel_reads_a_modules_numbers():
    x, v = np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 3.0])
    tape = srcad.Tape()
    with tape:
        drift.launch(3, x, v)
    np.testing.assert_allclose(x, [0.005, 1.01, 2.015], rtol=1e-14)


def test_a_changed_number_of_the_module_is_another_cache_key():
    before = source_key_of(falling)
    C.G = 0.75
    try:
        assert source_key_of(falling) != before
    finally:
        C.G = 0.5
    assert source_key_of(falling) == before


USE_DRAG = False
DRAG_POWER = 2


def relax(v, steps):
    for t in range(steps):
        if USE_DRAG:  # a module's flag: numba compiles only the branch it takes, srcad too
            v = v - 0.1 * np.cos(v)
        elif DRAG_POWER > 1 and not USE_DRAG:
            v = v + 0.1 * np.sin(v) ** DRAG_POWER
        if 0.0 > 0.1:  # never: a literal test
            v = v / (2.0 + np.cos(v))
    return np.sum(v * v)


def relax_reference(v, steps):
    for t in range(steps):
        v = v + 0.1 * np.sin(v) ** 2
    return np.sum(v * v)


def test_branches_a_modules_flags_decide_are_the_only_ones_differentiated():
    v = np.linspace(-0.5, 1.0, 4)
    gradient = srcad.grad(relax)(v, 3)
    for k in range(4):
        def along(t, k=k):
            moved = v.copy()
            moved[k] = t
            return relax_reference(moved, 3)
        assert gradient[k] == pytest.approx(plain_central_difference(along, (v[k],), 0), rel=1e-6)
    assert "np.cos" not in srcad.source(relax, "normalized")
