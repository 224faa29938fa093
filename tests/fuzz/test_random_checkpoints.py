"""Random programs with their loops checkpointed (``transforms/reverse/checkpoints.py``).

The random scalar programs (``programs.programs()``) and array programs
(``array_programs.array_programs()``) of the other fuzz tests, differentiated twice: keeping every
iteration's tape (``checkpoint=None``) and with a memory budget of 0 bytes, which runs every
outermost loop that keeps anything in segments (``checkpoint="auto"``), or with one or two kept
states. A checkpointed gradient runs the same operations in the same order, so the two must agree
bit for bit (the other fuzz tests check the stored one against finite differences). Programs
srcad refuses, that are not valid as plain Python, or whose adjoint checkpoints nothing are skipped.

Example count: env SRCAD_CHECKPOINT_FUZZ_EXAMPLES (default 1 of each kind: each compiles two adjoints,
a checkpointed one the largest code srcad makes, 20-40 s on one core).
"""

import math
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

import srcad

from .array_programs import TooClose, array_programs
from .programs import programs
from .test_random_array_programs import load_function

EXAMPLES = int(os.environ.get("SRCAD_CHECKPOINT_FUZZ_EXAMPLES", "1"))
_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
                     suppress_health_check=list(HealthCheck))


def _copies(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def _plain_is_valid(f, args):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with np.errstate(all="raise"):
                value = f(*_copies(args))
    except (ArithmeticError, ValueError, IndexError, TypeError, Warning, TooClose, RecursionError):
        return False
    return isinstance(value, (float, int, np.floating)) and math.isfinite(value)


def _gradient(f, args, wrt, option):
    result = srcad.grad(srcad.differentiable(f, checkpoint=option), wrt=wrt)(*_copies(args))
    return [np.asarray(g) for g in (result if isinstance(result, tuple) else (result,))]


def check_checkpointed(source, args, wrt, option, monkeypatch):
    assume("\n    for " in source)  # an outermost for loop (the others keep everything)
    f = load_function(source)
    assume(_plain_is_valid(f, args))
    monkeypatch.setenv("SRCAD_MEMORY_BUDGET", "0")
    try:
        text = srcad.source(srcad.differentiable(f, checkpoint=option), "adjoint", args=args, wrt=wrt)
    except srcad.DifferentiabilityError:
        assume(False)
    assume("checkpointed:" in text)
    stored = _gradient(f, args, wrt, None)
    checkpointed = _gradient(f, args, wrt, option)
    for a, b in zip(stored, checkpointed, strict=True):
        assert a.shape == b.shape and np.array_equal(a, b, equal_nan=True), (
            f"checkpoint={option!r}: {b!r}, keeping everything: {a!r}\nargs: {args!r} wrt={wrt!r}\n{source}")


@_SETTINGS
@given(program=programs(), option=st.sampled_from(["auto", 1, 2]))
def test_random_scalar_programs(program, option, monkeypatch_module):
    check_checkpointed(program.source, program.args, program.wrt, option, monkeypatch_module)


@_SETTINGS
@given(program=array_programs(), option=st.sampled_from(["auto", 1, 2]))
def test_random_array_programs(program, option, monkeypatch_module):
    check_checkpointed(program.source, program.args, program.wrt, option, monkeypatch_module)


@pytest.fixture(scope="module")
def monkeypatch_module():
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()
