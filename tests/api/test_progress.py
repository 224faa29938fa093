"""``srcad.grad(f, progress=True)``: the gradient, computed in a thread of its own, while the caller's
thread shows the time loops' iterations done; ``tape.backward(progress=True)`` is in
tests/kernels/test_tape_checkpoints.py. Gradients against central differences."""

import builtins

import numpy as np
import pytest

import srcad
from oracles import plain_central_differences


@pytest.fixture
def without_tqdm(monkeypatch):
    """srcad's own progress line (tqdm's bar writes the same counts, differently)."""
    real_import = builtins.__import__

    def refusing(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refusing)


def relax(x, k, steps):
    for t in range(steps):
        x = x + 0.01 * (np.sin(k * x) - 0.5 * x)
    return np.sum(x * x)


def test_a_gradient_with_progress(without_tqdm, capsys):
    x, k, steps = np.linspace(-1.0, 1.0, 7), 1.3, 300
    gradient = srcad.grad(relax, wrt=(0, 1), progress=True)(x, k, steps)
    assert f"grad(relax): {2 * steps}/{2 * steps} (100%)" in capsys.readouterr().err
    np.testing.assert_allclose(gradient[0], plain_central_differences(relax, (x, k, steps), 0), rtol=1e-6)
    assert gradient[1] == pytest.approx(plain_central_differences(relax, (x, k, steps), 1), rel=1e-6)
    np.testing.assert_array_equal(srcad.grad(relax, wrt=0)(x, k, steps), gradient[0])  # same arithmetic without it


def test_progress_of_a_checkpointed_loop(without_tqdm, capsys, monkeypatch):
    monkeypatch.setenv("SRCAD_MEMORY_BUDGET", "0")  # segments run again: counted once
    x, k, steps = np.linspace(-1.0, 1.0, 5), 0.7, 400
    gradient = srcad.grad(relax, progress=True)(x, k, steps)
    assert f"{2 * steps}/{2 * steps} (100%)" in capsys.readouterr().err
    np.testing.assert_allclose(gradient, plain_central_differences(relax, (x, k, steps), 0), rtol=1e-6)


def scale_in_place(x, c):
    x *= c  # no loop: nothing to show
    return np.sum(x)


def test_no_time_loop_shows_nothing(without_tqdm, capsys):
    x = np.array([1.0, 2.0])
    assert srcad.grad(scale_in_place, wrt=1, progress=True)(x, 3.0) == pytest.approx(3.0)
    np.testing.assert_array_equal(x, [1.0, 2.0])  # the caller's array is not written
    assert capsys.readouterr().err == ""


def walk_with_an_index(x, steps):
    total = 0.0
    for t in range(steps):
        total += x[t * 0.5]  # a float index: numba refuses it when compiling
    return total


def product_of_parts(p):
    return p[0] * p[1]


def test_errors_reach_the_caller():
    with pytest.raises(TypeError, match="cannot differentiate relax"):
        srcad.grad(relax, progress=True)("a string", 1.0, 3)
    with pytest.raises(srcad.DifferentiabilityError) as refused:
        srcad.grad(walk_with_an_index, progress=True)(np.ones(4), 2)
    assert refused.value.lineno == walk_with_an_index.__code__.co_firstlineno + 3
    with pytest.raises(TypeError, match="no tuples"):
        srcad.grad(product_of_parts, progress=True)((1.0, 2.0))
