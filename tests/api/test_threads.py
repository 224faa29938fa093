"""Thread safety: threads asking at once for a derivative nobody compiled yet get it compiled once,
and all get the right answer; threads launching one kernel, each with its own tape, don't mix.

Each test points the on-disk cache at a fresh folder and uses functions no other test touches, so
the threads really are the first to ask. Every result is checked against a closed form or central
differences of the plain function, never against srcad itself.
"""

import math
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import srcad
from srcad.kernels import cpu

THREADS = 8


def run_at_once(work, count=THREADS):
    """``work(k)`` for k in 0..count-1, each on its own thread, released together by a barrier; the
    results in order (an exception in any thread is raised here)."""
    barrier = threading.Barrier(count)

    def released(k):
        barrier.wait(timeout=120)
        return work(k)

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(released, k) for k in range(count)]
        return [future.result() for future in futures]


@pytest.fixture
def compilations(tmp_path, monkeypatch):
    """A cold on-disk cache, and counts of what srcad generates and compiles while the test runs:
    ``stored`` (generated modules written, per cache key), ``dispatchers`` (numba dispatchers made of
    generated functions, per name) and ``compiles`` (compilations of one of those, per dispatcher).
    The user's own function, compiled as the primal, is left out: numba's dispatcher takes care of
    threads compiling it at once."""
    monkeypatch.setenv("SRCAD_CACHE_DIR", str(tmp_path / "cache"))
    counts = {"stored": Counter(), "dispatchers": Counter(), "compiles": Counter()}
    store, jit, compile_for = cpu.store, cpu.jit, cpu.compile_for

    def counted_store(key, source):
        counts["stored"][key] += 1
        return store(key, source)

    def generated(function):
        return function.__module__.startswith("srcad_generated_")

    def counted_jit(function):
        if generated(function):
            counts["dispatchers"][f"{function.__module__}.{function.__qualname__}"] += 1
        return jit(function)

    def counted_compile_for(dispatcher, signature):
        if generated(dispatcher.py_func):
            counts["compiles"][id(dispatcher)] += 1
        return compile_for(dispatcher, signature)

    monkeypatch.setattr(cpu, "store", counted_store)
    monkeypatch.setattr(cpu, "jit", counted_jit)
    monkeypatch.setattr(cpu, "compile_for", counted_compile_for)
    return counts


def central_difference(f, args, k, step=1e-6):
    up, down = list(args), list(args)
    up[k] += step
    down[k] -= step
    return (f(*up) - f(*down)) / (2 * step)


def spring_energy(x, k):
    e = 0.0
    for i in range(12):
        e += k * math.sin(x * i) ** 2 + 0.5 * x * x
    return e


def spring_energy_gradient(x, k):
    dx = sum(2 * k * i * math.sin(x * i) * math.cos(x * i) + x for i in range(12))
    dk = sum(math.sin(x * i) ** 2 for i in range(12))
    return dx, dk


def test_threads_asking_for_one_new_gradient_compile_it_once(compilations):
    points = [(0.1 + 0.05 * k, 1.0 + 0.25 * k) for k in range(THREADS)]  # one call signature, values differ
    results = run_at_once(lambda k: srcad.grad(spring_energy, wrt=(0, 1))(*points[k]))
    for point, result in zip(points, results):
        assert result == pytest.approx(spring_energy_gradient(*point), rel=1e-12)
    assert compilations["stored"] and max(compilations["stored"].values()) == 1, compilations["stored"]
    assert list(compilations["dispatchers"].values()) == [1], compilations["dispatchers"]  # one derivative,
    assert list(compilations["compiles"].values()) == [1], compilations["compiles"]  # compiled once


def bumpy(x, y):
    return math.exp(0.3 * x) * math.cos(y) + x * y * y


def test_threads_calling_value_and_grad_and_vjp_at_once(compilations):
    x, y = 0.7, -0.4

    def work(k):
        if k % 2:
            return srcad.value_and_grad(bumpy, wrt=(0, 1))(x, y)
        value, pullback = srcad.vjp(bumpy, x, y)
        return value, pullback(2.0)

    expected_gradient = (central_difference(bumpy, (x, y), 0), central_difference(bumpy, (x, y), 1))
    for k, (value, gradient) in enumerate(run_at_once(work)):
        scale = 1.0 if k % 2 else 2.0  # the pullback got ybar = 2
        assert value == pytest.approx(bumpy(x, y), rel=1e-14)
        assert gradient == pytest.approx(tuple(scale * g for g in expected_gradient), rel=1e-7)
    assert max(compilations["stored"].values()) == 1, compilations["stored"]
    # two derivatives (value_and_grad's with the value, vjp's without), each made and compiled once
    assert sorted(compilations["dispatchers"].values()) == [1, 1], compilations["dispatchers"]
    assert sorted(compilations["compiles"].values()) == [1, 1], compilations["compiles"]


def wave_0(x):
    return math.sin(x) * x


def wave_1(x):
    return math.cos(2.0 * x) + x * x


def wave_2(x):
    return math.exp(-x * x)


def wave_3(x):
    return math.log(1.0 + x * x) * x


WAVES = [
    (wave_0, lambda x: math.cos(x) * x + math.sin(x)),
    (wave_1, lambda x: -2.0 * math.sin(2.0 * x) + 2.0 * x),
    (wave_2, lambda x: -2.0 * x * math.exp(-x * x)),
    (wave_3, lambda x: 2.0 * x * x / (1.0 + x * x) + math.log(1.0 + x * x)),
]


def test_threads_differentiating_different_functions_at_once(compilations):
    def work(k):
        function, _ = WAVES[k % len(WAVES)]
        return srcad.grad(function)(0.3 + 0.1 * k)

    for k, result in enumerate(run_at_once(work)):
        _, derivative = WAVES[k % len(WAVES)]
        assert result == pytest.approx(derivative(0.3 + 0.1 * k), rel=1e-12)
    assert max(compilations["stored"].values()) == 1, compilations["stored"]
    assert sorted(compilations["dispatchers"].values()) == [1] * len(WAVES), compilations["dispatchers"]
    assert sorted(compilations["compiles"].values()) == [1] * len(WAVES), compilations["compiles"]


DT = 0.1


@srcad.kernel
def drift(x, a, x_out):
    i = srcad.tid()
    x_out[i] = x[i] + DT * a[0] * np.sin(x[i])


@srcad.kernel
def squares(x, loss):
    i = srcad.tid()
    srcad.atomic_add(loss, 0, x[i] * x[i])


def drift_gradient(x0, a):
    """loss = sum(x2 ** 2) after two drift steps; d loss / d x0 and d loss / d a by the chain rule."""
    x1 = x0 + DT * a * np.sin(x0)
    x2 = x1 + DT * a * np.sin(x1)
    dx2_dx1 = 1.0 + DT * a * np.cos(x1)
    dx2_da = DT * np.sin(x1) + dx2_dx1 * DT * np.sin(x0)
    return np.sum(x2 * x2), 2.0 * x2 * dx2_dx1 * (1.0 + DT * a * np.cos(x0)), np.sum(2.0 * x2 * dx2_da)


def test_threads_launching_one_kernel_each_with_its_own_tape(compilations):
    # 200 threads run on one CPU thread; 5000 on all of them (numba prange), in each Python thread
    def work(k):
        results = []
        for n in (200, 5000):
            xs = np.zeros((3, n))
            xs[0] = np.linspace(-2.0, 2.0, n) + 0.01 * k
            a = np.array([1.0 + 0.1 * k])
            loss = np.zeros(1)
            tape = srcad.Tape()
            with tape:
                drift.launch(n, xs[0], a, xs[1])
                drift.launch(n, xs[1], a, xs[2])
                squares.launch(n, xs[2], loss)
            tape.backward(loss)
            results.append((xs[0].copy(), a[0], loss[0], len(tape.launches), tape.gradient(xs[0]), tape.gradient(a)))
        return results

    for results in run_at_once(work):
        for x0, a, loss, launches, dx0, da in results:
            expected_loss, expected_dx0, expected_da = drift_gradient(x0, a)
            assert launches == 3  # only this thread's launches are on its tape
            assert loss == pytest.approx(expected_loss, rel=1e-12)
            np.testing.assert_allclose(dx0, expected_dx0, rtol=1e-12, atol=1e-14)
            assert da[0] == pytest.approx(expected_da, rel=1e-10)
    # the forward and adjoint modules of both kernels, each generated once
    assert len(compilations["stored"]) == 4 and max(compilations["stored"].values()) == 1, compilations["stored"]
