"""Random programs of the scalar language: srcad's gradient vs finite differences.

Each example is a freshly generated function (`programs.programs()`), written
to its own .py file (srcad reads source with inspect.getsource) and imported
under a unique module name. The plain Python function is the oracle:
Richardson-extrapolated central differences in float64 (`oracle.py`).

Checks per program:
- `srcad.value_and_grad(f, wrt)(*args)` gives the plain value (rel 1e-12) and
  the finite-difference gradient (|g - fd| <= 1e-6 max(1, |fd|) + 10 err_fd);
- `srcad.grad(f, wrt)(*args)` gives the same gradient as value_and_grad (on a third of the
  programs: grad compiles an adjoint of its own, without the value);
- forward mode, on another third (`checks_forward_mode`): `srcad.jvp(f, args, tangents)`, with a
  random direction for the float arguments in wrt (None for the others and for ints), gives the
  plain value (rel 1e-12) and the central difference of f along the direction
  (`oracle.directional`, tolerance `oracle.directional_tolerance`).

Programs may define helper functions before `f` (plain or `@srcad.differentiable`, some
with an int argument and a default, some calling the other helper) that f calls.

`srcad.no_grad(e)` in a program is frozen for the oracle by
`oracles.freeze_no_grad` (tests/oracles.py), which replays the stopped values.

Any exception from srcad fails the test with the program's source.

The programs are a fixed (derandomized) draw unless HYPOTHESIS_PROFILE is
"explore" or "long", so CI is reproducible; new programs are hunted there. They run as SHARDS
pytest items (`shards.py`), spread over the cores by pytest-xdist.

Example count: env SRCAD_FUZZ_EXAMPLES (default 120, 2000 with
`pytest --hypothesis-profile=long`); each example compiles
one adjoint with numba (~0.5-1 s). SRCAD_FUZZ_SHRINK=1 turns on hypothesis'
shrinking; SRCAD_FUZZ_LITERAL_CONDITIONS=0 / SRCAD_FUZZ_NO_GRAD=0 leave out
literal True/False conditions / srcad.no_grad (programs.py). For long bug
hunts without stopping at the first failure: `python -m tests.fuzz.hunt N`.
"""

import importlib.util
import itertools
import math
import os
import random
import sys
import tempfile
import traceback
import zlib

from hypothesis import HealthCheck, Phase, assume, event, given, note, settings
from hypothesis import strategies as st

import numpy as np
import pytest

import srcad

from . import oracle

try:  # the shared oracles of tests/ (tests/conftest.py puts tests/ on sys.path)
    import oracles
except ImportError:  # run from elsewhere (tests/fuzz/hunt.py)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import oracles
from .programs import programs
from .shards import SHARDS, sharded

# 96 programs per run (about 3 s each on one core: the suite's longest part, cut from 120 to keep CI
# near 15 minutes); thousands under `pytest --hypothesis-profile=long` (tests/conftest.py) and in hunts
# (`python -m tests.fuzz.hunt N`: 300 a session)
EXAMPLES = int(os.environ.get("SRCAD_FUZZ_EXAMPLES", "2000" if settings.default.max_examples >= 500 else "96"))
# Shrinking recompiles every candidate (minutes); off unless SRCAD_FUZZ_SHRINK=1.
# A failure prints the whole program either way.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate] + (
    [Phase.shrink] if os.environ.get("SRCAD_FUZZ_SHRINK", "0") == "1" else []
)
_DIRECTORY = tempfile.mkdtemp(prefix="srcad-fuzz-")
_COUNTER = itertools.count()


def load_function(source: str, name: str = "f"):
    """Write `source` to a new file, import it under a unique name, return `name` from it."""
    module_name = f"srcad_fuzz_{os.getpid()}_{next(_COUNTER)}"
    path = os.path.join(_DIRECTORY, module_name + ".py")
    with open(path, "w") as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return getattr(module, name)


def _as_tuple(g):
    return tuple(g) if isinstance(g, (tuple, list)) else (g,)


def checks_forward_mode(source: str) -> bool:
    """jvp is checked on a third of the programs (not the third that checks grad)."""
    return zlib.crc32(source.encode()) % 3 == 1


def tangent_direction(program):
    """A random direction (fixed by the source and args): entries in [-1, 1] for the float arguments
    in wrt, None for the others."""
    rng = random.Random(zlib.crc32((program.source + repr(program.args)).encode()))
    return tuple(round(rng.uniform(-1.0, 1.0), 3) if position in program.wrt else None
                 for position in range(len(program.args)))


def check_program(program):
    """The whole differential check for one Program; raises AssertionError with the source.

    Returns what was checked: {"forward": True} where jvp was checked too, "unreliable" where
    finite differences along its direction did not settle, False where it was not chosen."""
    f = load_function(program.source)
    args = program.args
    try:
        value = f(*args)
    except (ArithmeticError, ValueError):
        assume(False)
    assume(isinstance(value, float) and math.isfinite(value) and abs(value) < 1e8)
    try:
        frozen = oracles.freeze_no_grad(f, args) if program.uses_no_grad else f
        reference = oracle.gradient(frozen, args, program.wrt)
    except (oracle.Unreliable, oracles.OracleError) as why:
        event("oracle unreliable")
        note(str(why))
        assume(False)
    forward = checks_forward_mode(program.source)
    if forward:
        direction = tangent_direction(program)
        try:
            along = oracle.directional(frozen, args, direction)
        except (oracle.Unreliable, oracles.OracleError) as why:
            event("oracle unreliable along the jvp direction")
            note(str(why))
            forward = "unreliable"

    header = f"\nargs={args!r} wrt={program.wrt!r}\n--- program ---\n{program.source}---------------\n"
    try:
        got_value, got = srcad.value_and_grad(f, wrt=program.wrt)(*args)
        # grad compiles an adjoint of its own (without the value): checked on a third of the programs
        got_grad = srcad.grad(f, wrt=program.wrt)(*args) if zlib.crc32(program.source.encode()) % 3 == 0 else got
    except Exception:  # noqa: BLE001 - any srcad failure is a finding
        raise AssertionError("srcad raised on a valid program" + header + traceback.format_exc()) from None

    got = _as_tuple(got)
    got_grad = _as_tuple(got_grad)
    assert len(got) == len(program.wrt), f"value_and_grad gave {got!r}" + header
    assert abs(got_value - value) <= 1e-12 * max(1.0, abs(value)), (
        f"value: srcad {got_value!r} vs plain {value!r}" + header
    )
    problems = []
    for position, g, g2, (fd, err) in zip(program.wrt, got, got_grad, reference):
        tolerance = 1e-6 * max(1.0, abs(fd)) + 10.0 * err
        if not (abs(g - fd) <= tolerance):
            problems.append(f"d f/d {program.arg_names[position]}: srcad {g!r}, finite differences {fd!r} (+-{err:.2e})")
        if not (g2 == g or (math.isnan(g) and math.isnan(g2))):
            problems.append(f"d f/d {program.arg_names[position]}: grad {g2!r} != value_and_grad {g!r}")
    assert not problems, "\n".join(problems) + header
    if forward is True:
        check_forward_mode(f, program, value, direction, along, header)
    return {"forward": forward}


def check_forward_mode(f, program, value, direction, along, header):
    """srcad.jvp along `direction` against the plain value and the finite difference `along`."""
    fd, err = along
    try:
        jvp_value, tangent = srcad.jvp(f, program.args, direction)
    except Exception:  # noqa: BLE001 - any srcad failure is a finding
        raise AssertionError(f"srcad raised on a valid program in jvp (tangents {direction!r})" + header
                             + traceback.format_exc()) from None
    problems = []
    if not abs(jvp_value - value) <= 1e-12 * max(1.0, abs(value)):
        problems.append(f"jvp value: srcad {jvp_value!r} vs plain {value!r}")
    if not abs(tangent - fd) <= oracle.directional_tolerance(fd, err, direction):
        problems.append(f"jvp tangent along {direction!r}: srcad {tangent!r}, finite differences {fd!r} (+-{err:.2e})")
    assert not problems, "\n".join(problems) + header
    if checks_second_order(program.source):
        frozen = oracles.freeze_no_grad(f, program.args) if program.uses_no_grad else f
        check_hessian_vector_product(f, frozen, program.args, direction, header)


# jvp(grad(f)) is checked on every SECOND_ORDER_EVERY-th program that checks jvp (two more compiles
# each: CI checks one in six; hunts may set SRCAD_FUZZ_SECOND_ORDER_EVERY=1).
SECOND_ORDER_EVERY = int(os.environ.get("SRCAD_FUZZ_SECOND_ORDER_EVERY", "6"))


def checks_second_order(source: str) -> bool:
    return (zlib.crc32(source.encode()) // 3) % SECOND_ORDER_EVERY == 0


def check_hessian_vector_product(f, plain, args, direction, header):
    """v . H v from ``srcad.jvp(srcad.grad(f, wrt=<the directions' arguments>), args, direction)``
    (on copies) against second differences of ``plain`` along the direction; shared with the array
    fuzzer. Skipped (an event) where the differences do not settle."""
    try:
        expected, err = oracle.second_directional(plain, copies_of(args), direction)
    except (oracle.Unreliable, oracles.OracleError, ArithmeticError, ValueError) as why:
        event("oracle unreliable along the Hessian-vector product's direction")
        note(str(why))
        return
    wrt = tuple(k for k, d in enumerate(direction) if d is not None)
    try:
        _, products = srcad.jvp(srcad.grad(f, wrt=wrt), copies_of(args), direction)
    except Exception:  # noqa: BLE001 - any srcad failure is a finding
        raise AssertionError(f"srcad raised on a valid program in jvp(grad) (tangents {direction!r})" + header
                             + traceback.format_exc()) from None
    got = sum(float(np.sum(np.asarray(direction[k]) * np.asarray(part))) for k, part in zip(wrt, products))
    size = sum(float(np.sum(np.abs(direction[k]))) for k in wrt)
    tolerance = 1e-5 * max(1.0, abs(expected), size * size) + 10.0 * err
    assert abs(got - expected) <= tolerance, (
        f"hessian-vector product along {direction!r}: srcad v.Hv {got!r}, second differences {expected!r} "
        f"(+-{err:.2e})" + header
    )


def copies_of(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


@pytest.mark.parametrize("shard", range(SHARDS))
def test_random_scalar_program_gradient(shard):
    """Shard ``shard`` of the EXAMPLES programs (tests/fuzz/shards.py: the shards run on all cores)."""
    sharded(shard, programs(), EXAMPLES, PHASES, check_program)


def test_generator_makes_valid_python():
    """The generator alone (no srcad): programs compile and mostly run as plain Python."""
    outcomes = {"ran": 0, "raised": 0}

    @settings(max_examples=200, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(programs())
    def run(program):
        namespace = {}
        # srcad.differentiable reads a helper's source from its file: run the helpers undecorated here
        source = program.source.replace("@srcad.differentiable(inline=False)\n", "").replace("@srcad.differentiable\n", "")
        exec(compile(source, "<fuzz>", "exec"), namespace)
        try:
            value = namespace["f"](*program.args)
        except (ArithmeticError, ValueError):
            outcomes["raised"] += 1
            return
        assert isinstance(value, float), program.source
        outcomes["ran"] += 1

    run()
    assert outcomes["ran"] >= 0.95 * (outcomes["ran"] + outcomes["raised"]), outcomes
