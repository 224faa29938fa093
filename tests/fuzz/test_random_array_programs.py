"""Random NumPy array programs: srcad's gradient vs finite differences.

Each example is a freshly generated `def f(x, y, s, n)` (`array_programs.array_programs()`):
x, y float64 arrays of small shapes, s a float, n a small int. It is written
to its own .py file (srcad reads source with inspect.getsource) and imported
under a unique module name. The plain Python function is the oracle:
Richardson-extrapolated central differences in float64 (`oracle.richardson`),
element by element, every call on fresh copies of the arguments.

Before srcad sees a program, it must run as plain Python at the arguments
without warnings or floating-point errors, and its margin-checked twin
(`ArrayProgram.checked_source`) must find no tie of max/min, no abs near 0
and no float condition nearly even; otherwise the example is skipped, as are
programs whose finite differences do not settle.

Checks per program (`srcad.value_and_grad(f, wrt=(0, 1, 2))` on copies):
- the value equals the plain value (rel 1e-9: numba and NumPy may sum in a
  different order);
- each gradient has its argument's shape and dtype, and every element agrees
  with finite differences (|g - fd| <= 1e-6 max(1, |fd|) + 10 err_fd);
- the caller's x and y end as the plain function leaves them;
- forward mode, on a third of the programs (`checks_forward_mode`): `srcad.jvp(f, args,
  tangents)` on copies, with random tangents for x, y and s (some None), gives the plain value
  (rel 1e-9), the central difference of f along the tangents (`oracle.directional`, tolerance
  `oracle.directional_tolerance`) and the plain function's side effects on x and y.

Any exception from srcad fails the test with the program's source; a
`DifferentiabilityError` says "srcad refused" (so hunts can count refusals
apart from crashes). In CI a refused program is replaced by another draw, and
counted: a shard fails where srcad refuses more than a tenth of the valid
programs it saw (and more than one).

Example count: env SRCAD_ARRAY_FUZZ_EXAMPLES (default 32, 400 with
`pytest --hypothesis-profile=long`; each example
compiles one adjoint with numba, several seconds). Derandomized by the
test-wide hypothesis profile (tests/conftest.py); HYPOTHESIS_PROFILE=explore
draws fresh programs. They run as SHARDS pytest items (`shards.py`), spread over the cores.
For long bug hunts: `python -m tests.fuzz.array_hunt N`.
"""

import importlib.util
import itertools
import math
import os
import sys
import tempfile
import traceback
import warnings
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, event, given, note, settings

import srcad

from . import oracle
from .array_programs import TooClose, array_programs, checked_namespace
from .shards import SHARDS, sharded
from .test_random_scalar_programs import check_hessian_vector_product, checks_second_order

# 32 programs per run; hundreds under `pytest --hypothesis-profile=long` (tests/conftest.py)
EXAMPLES = int(os.environ.get("SRCAD_ARRAY_FUZZ_EXAMPLES", "400" if settings.default.max_examples >= 500 else "32"))
PHASES = [Phase.explicit, Phase.reuse, Phase.generate] + (
    [Phase.shrink] if os.environ.get("SRCAD_FUZZ_SHRINK", "0") == "1" else []
)
_DIRECTORY = tempfile.mkdtemp(prefix="srcad-array-fuzz-")
_COUNTER = itertools.count()
# what counts as "the plain program is not valid here" (skipped, not a finding)
_PLAIN_ERRORS = (ArithmeticError, ValueError, IndexError, TypeError, Warning, TooClose)


def load_function(source: str, name: str = "f"):
    """Write `source` to a new file, import it under a unique name, return `name` from it."""
    module_name = f"srcad_array_fuzz_{os.getpid()}_{next(_COUNTER)}"
    path = os.path.join(_DIRECTORY, module_name + ".py")
    with open(path, "w") as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return getattr(module, name)


def copies(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def run_plain(f, args):
    """f on copies of args, warnings and floating-point trouble raised: (value, args after)."""
    moved = copies(args)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            value = f(*moved)
    return value, moved


class _Plain(oracle.Unreliable):
    pass


def element_gradient(f, args, position):
    """Finite-difference gradient of f with respect to args[position] (array or float), with error bounds."""
    value = args[position]

    def at(point):
        def shifted(t):
            moved = list(args)
            if point is None:
                moved[position] = t
            else:
                array = value.copy()
                array[point] = t
                moved[position] = array
            try:
                result, _ = run_plain(f, moved)
            except _PLAIN_ERRORS as error:
                raise oracle.Unreliable(f"plain function raised {error!r}") from error
            return float(result)

        return shifted

    points = [None] if not isinstance(value, np.ndarray) else list(np.ndindex(value.shape))
    estimates, errors = [], []
    for point in points:
        start = float(value if point is None else value[point])
        estimate, err = oracle.richardson(at(point), (start,), 0)
        if not (err <= 1e-7 * max(1.0, abs(estimate))):
            raise oracle.Unreliable(f"finite differences for {position}{point or ''} do not settle: {estimate} +- {err}")
        estimates.append(estimate)
        errors.append(err)
    if point is None:
        return estimates[0], errors[0]
    return np.array(estimates).reshape(value.shape), np.array(errors).reshape(value.shape)


class Refused(AssertionError):
    """srcad refused the program with a DifferentiabilityError at a line (not a crash, not a wrong
    gradient): hunts log these for triage; the CI test skips the example."""


def checks_forward_mode(source: str) -> bool:
    """jvp is checked on a third of the programs."""
    return zlib.crc32(source.encode()) % 3 == 1


def tangent_directions(program):
    """Random tangents (fixed by the source and args) for x, y and s, a quarter of them None
    (at least one given); None for n."""
    seed = zlib.crc32((program.source + program.args_source()).encode())
    rng = np.random.default_rng(seed)
    tangents = []
    for value in program.args[:3]:
        shape = value.shape if isinstance(value, np.ndarray) else ()
        tangent = np.round(rng.uniform(-1.0, 1.0, size=shape), 3)
        tangents.append(tangent if shape else float(tangent))
    kept = [k for k in range(3) if rng.uniform() >= 0.25] or [int(rng.integers(0, 3))]
    return tuple(t if k in kept else None for k, t in enumerate(tangents)) + (None,)


def _run_srcad(call, header, where=""):
    """call() (srcad on a valid program); a failure raised as a finding with the program: Refused for a
    DifferentiabilityError (srcad naming its own bug in one is a crash), AssertionError for anything else."""
    try:
        return call()
    except srcad.DifferentiabilityError as error:
        if "a bug in srcad" in str(error):
            raise AssertionError(f"srcad raised on a valid program{where}" + header + traceback.format_exc()) from None
        raise Refused(f"srcad refused a valid program{where}" + header + traceback.format_exc()) from None
    except Exception:  # noqa: BLE001 - any srcad failure is a finding
        raise AssertionError(f"srcad raised on a valid program{where}" + header + traceback.format_exc()) from None


def check_program(program):
    """The whole differential check for one ArrayProgram; raises AssertionError with the source.

    Returns what was checked: {"forward": True} where jvp was checked too, "unreliable" where
    finite differences along its tangents did not settle, False where it was not chosen."""
    f = load_function(program.source)
    namespace = checked_namespace()
    exec(compile(program.checked_source, "<checked>", "exec"), namespace)
    args = program.args
    try:
        run_plain(namespace["f"], args)
        value, after = run_plain(f, args)
    except _PLAIN_ERRORS as why:
        event(f"plain program invalid: {type(why).__name__}")
        assume(False)
    assume(isinstance(value, (float, np.floating)) and math.isfinite(value) and abs(value) < 1e6)
    try:
        reference = [element_gradient(f, args, position) for position in program.wrt]
    except oracle.Unreliable as why:
        event("oracle unreliable")
        note(str(why))
        assume(False)
    forward = checks_forward_mode(program.source)
    if forward:
        tangents = tangent_directions(program)

        def plain_value(*moved):
            try:
                result, _ = run_plain(f, moved)
            except _PLAIN_ERRORS as error:
                raise oracle.Unreliable(f"plain function raised {error!r}") from error
            return float(result)

        try:
            along = oracle.directional(plain_value, args, tangents)
        except oracle.Unreliable as why:
            event("oracle unreliable along the jvp tangents")
            note(str(why))
            forward = "unreliable"

    header = (f"\nargs: {program.args_source()}  wrt={program.wrt!r}\n"
              f"--- program ---\n{program.source}---------------\n")
    mine = copies(args)
    got_value, got = _run_srcad(lambda: srcad.value_and_grad(f, wrt=program.wrt)(*mine), header)

    got = tuple(got) if isinstance(got, (tuple, list)) else (got,)
    assert len(got) == len(program.wrt), f"value_and_grad gave {got!r}" + header
    problems = []
    if not abs(got_value - value) <= 1e-9 * max(1.0, abs(value)):
        problems.append(f"value: srcad {got_value!r} vs plain {value!r}")
    for name, before, plain_after, srcad_after in zip("xy", args, after, mine):
        if not np.allclose(srcad_after, plain_after, rtol=1e-9, atol=1e-12):
            problems.append(f"side effect: caller's {name} after srcad {srcad_after.tolist()!r}, "
                            f"after plain {plain_after.tolist()!r} (before {before.tolist()!r})")
    names = ("x", "y", "s", "n")
    for position, g, (fd, err) in zip(program.wrt, got, reference):
        name = names[position]
        if isinstance(args[position], np.ndarray):
            if not isinstance(g, np.ndarray) or g.shape != args[position].shape or g.dtype != args[position].dtype:
                problems.append(f"d f/d {name}: srcad gave {g!r}, not a {args[position].dtype} array of shape "
                                f"{args[position].shape}")
                continue
            tolerance = 1e-6 * np.maximum(1.0, np.abs(fd)) + 10.0 * err
            bad = ~(np.abs(g - fd) <= tolerance)
            if bad.any():
                problems.append(f"d f/d {name}: srcad {g.tolist()!r}, finite differences {fd.tolist()!r} "
                                f"(wrong at {[tuple(map(int, i)) for i in np.argwhere(bad)]})")
        else:
            if not abs(g - fd) <= 1e-6 * max(1.0, abs(fd)) + 10.0 * err:
                problems.append(f"d f/d {name}: srcad {g!r}, finite differences {fd!r} (+-{err:.2e})")
    assert not problems, "\n".join(problems) + header
    if forward is True:
        check_forward_mode(f, program, value, after, tangents, along, header)
    return {"forward": forward}


def _tangents_source(tangents):
    return ", ".join(repr(t.tolist()) if isinstance(t, np.ndarray) else repr(t) for t in tangents)


def check_forward_mode(f, program, value, after, tangents, along, header):
    """srcad.jvp along `tangents` (on copies) against the plain value, the finite difference
    `along` and the plain function's side effects `after`."""
    fd, err = along
    header = f"\ntangents: ({_tangents_source(tangents)})" + header
    mine = copies(program.args)
    jvp_value, tangent = _run_srcad(lambda: srcad.jvp(f, mine, copies(tangents)), header, " in jvp")
    problems = []
    if not abs(jvp_value - value) <= 1e-9 * max(1.0, abs(value)):
        problems.append(f"jvp value: srcad {jvp_value!r} vs plain {value!r}")
    if not abs(tangent - fd) <= oracle.directional_tolerance(fd, err, tangents):
        problems.append(f"jvp tangent: srcad {tangent!r}, finite differences {fd!r} (+-{err:.2e})")
    for name, before, plain_after, srcad_after in zip("xy", program.args, after, mine):
        if not np.allclose(srcad_after, plain_after, rtol=1e-9, atol=1e-12):
            problems.append(f"jvp side effect: caller's {name} after jvp {srcad_after.tolist()!r}, "
                            f"after plain {plain_after.tolist()!r} (before {before.tolist()!r})")
    assert not problems, "\n".join(problems) + header
    if checks_second_order(program.source):

        def plain_value(*moved):
            try:
                return float(run_plain(f, moved)[0])
            except _PLAIN_ERRORS as error:
                raise oracle.Unreliable(f"plain function raised {error!r}") from error

        check_hessian_vector_product(f, plain_value, program.args, tangents, header)


# The share of valid programs srcad may refuse (at their line, with a DifferentiabilityError) before a
# shard fails: a refusal is no wrong answer, but a change that refuses valid programs is a regression.
MAX_REFUSED_SHARE = 0.1


@pytest.mark.parametrize("shard", range(SHARDS))
def test_random_array_program_gradient(shard):
    """Shard ``shard`` of the EXAMPLES programs (tests/fuzz/shards.py: the shards run on all cores).
    A refused program is not checked (another is drawn in its place), but counted: more than
    MAX_REFUSED_SHARE of the programs srcad saw (and more than one) fails the shard, with the refusals."""
    refusals, checked = [], []

    def check_counting_refusals(program):
        try:
            check_program(program)
        except Refused as refusal:  # an unsupported construct, refused at its line
            event("srcad refused")
            note(str(refusal))
            refusals.append(str(refusal))
            assume(False)
        checked.append(program)

    sharded(shard, array_programs(), EXAMPLES, PHASES, check_counting_refusals)
    seen = len(refusals) + len(checked)
    assert len(refusals) <= max(1, int(MAX_REFUSED_SHARE * seen)), (
        f"srcad refused {len(refusals)} of {seen} valid programs:\n\n" + "\n\n".join(refusals)
    )


def test_array_generator_makes_valid_python():
    """The generator alone (no srcad): programs compile and mostly run as plain Python without warnings."""
    outcomes = {"ran": 0, "too close": 0, "raised": 0}
    failures = []

    @settings(max_examples=200, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(array_programs())
    def run(program):
        compile(program.source, "<fuzz>", "exec")
        namespace = checked_namespace()
        exec(compile(program.checked_source, "<checked>", "exec"), namespace)
        try:
            value, _ = run_plain(namespace["f"], program.args)
        except TooClose:
            outcomes["too close"] += 1
            return
        except _PLAIN_ERRORS as error:
            outcomes["raised"] += 1
            failures.append(f"{error!r}\n{program!r}")
            return
        assert isinstance(value, (float, np.floating)), program.source
        outcomes["ran"] += 1

    run()
    total = sum(outcomes.values())
    assert outcomes["raised"] <= 0.05 * total, (outcomes, failures[:3])
    assert outcomes["ran"] >= 0.6 * total, outcomes
