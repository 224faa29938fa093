"""The array corpora, program by program, against finite differences.

Every program in `array_programs.PROGRAMS` (loop style) and
`vectorized_programs.PROGRAMS` (whole arrays, broadcasting, views, reductions,
matrix products, time loops) is differentiated by srcad and
compared with float64 central differences of the *plain Python* function,
element by element (`oracles.central_difference`, never srcad itself):

- `grad(f, wrt=...)`: one gradient per position, with the shape and dtype
  of its argument (a float for a float), close to central differences;
- `value_and_grad` gives the plain function's value;
- the caller's argument arrays end up as the plain function leaves them
  (programs that write their arguments in place), and untouched otherwise.

Arrays are copied before every evaluation, since functions may write their
arguments. float32 programs get the oracle from a float64 twin of the inputs
and a float32-sized tolerance.
"""

import inspect

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

import srcad

if __package__:
    from . import array_programs, oracles, vectorized_programs
else:
    import array_programs
    import oracles
    import vectorized_programs

PROGRAMS = array_programs.PROGRAMS + vectorized_programs.PROGRAMS
by_program = pytest.mark.parametrize("program", PROGRAMS, ids=[p.name for p in PROGRAMS])

quick = settings(
    max_examples=3,  # the explicit seed 0 and two drawn ones: each compiles nothing new, but runs FD
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking a seed teaches nothing
    suppress_health_check=[HealthCheck.too_slow],
)
seeds = st.integers(0, 2**32 - 1)


# ---------------------------------------------------------------------------
# helpers


def copies(args):
    return [a.copy(order="K") if isinstance(a, np.ndarray) else a for a in args]


def as_float64(args):
    return [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]


def plain_value(function, args):
    return float(function(*copies(args)))


def fd_gradient(function, args, position):
    """d f / d args[position] by central differences, element by element, in float64."""
    args = as_float64(args)
    target = args[position]
    if isinstance(target, np.ndarray):
        gradient = np.zeros(target.shape)
        for element in np.ndindex(target.shape):

            def along(t, element=element):
                shifted = copies(args)
                shifted[position][element] = t
                return function(*shifted)

            gradient[element] = oracles.central_difference(along, (float(target[element]),), 0)
        return gradient

    def along_scalar(t):
        shifted = copies(args)
        shifted[position] = t
        return function(*shifted)

    return oracles.central_difference(along_scalar, (float(target),), 0)


def tolerances(program, args):
    value = abs(plain_value(program.function, as_float64(args)))
    scale = max(1.0, value)
    if program.float32:
        return 1e-3, 1e-4 * scale
    return 1e-5, 1e-6 * scale


def check_gradient(program, args, position, got):
    argument = args[position]
    expected = fd_gradient(program.function, args, position)
    rtol, atol = tolerances(program, args)
    what = f"{program.name}: d/d args[{position}]"
    if isinstance(argument, np.ndarray):
        assert isinstance(got, np.ndarray), f"{what} is {type(got).__name__}, expected an array"
        assert got.shape == argument.shape, f"{what} has shape {got.shape}, expected {argument.shape}"
        assert got.dtype == argument.dtype, f"{what} has dtype {got.dtype}, expected {argument.dtype}"
        np.testing.assert_allclose(got.astype(np.float64), expected, rtol=rtol, atol=atol, err_msg=what)
    else:
        assert isinstance(got, float), f"{what} is {type(got).__name__}, expected a float"
        oracles.assert_close_to_fd(got, expected, scale=atol / 1e-6, rtol=rtol, atol=1e-6, what=what)


# ---------------------------------------------------------------------------
# the corpus itself


def test_the_corpus_is_large_and_covers_the_array_language():
    assert len(PROGRAMS) >= 30
    assert any(p.float32 for p in PROGRAMS)
    assert sum(p.writes_arguments for p in PROGRAMS) >= 4
    names = {p.name for p in PROGRAMS}
    assert len(names) == len(PROGRAMS)


def test_the_corpus_is_large_and_covers_the_vectorized_language():
    assert len(vectorized_programs.PROGRAMS) >= 30
    assert any(p.float32 for p in vectorized_programs.PROGRAMS)
    assert sum(p.writes_arguments for p in vectorized_programs.PROGRAMS) >= 4
    names = {p.name for p in vectorized_programs.PROGRAMS}
    assert len(names) == len(vectorized_programs.PROGRAMS)
    source = "\n".join(inspect.getsource(p.function) for p in vectorized_programs.PROGRAMS)
    constructs = [
        "[:, None]", "[None, :]", "[1:]", "[:-1]", "[::2]", "[:, 0]", "[1:, :]", ".T", ".reshape(", ".ravel()",
        "axis=0", "axis=1", "keepdims=True", "np.sum(", "np.mean(", "np.max(", "np.min(", "np.prod(",
        ".sum(axis=1)", "np.linalg.norm(", " @ ", "np.dot(", "np.outer(", "np.cumsum(", "np.concatenate(",
        "np.stack(", "np.array([", "np.where(", "np.clip(", "np.maximum(", "np.minimum(", "np.abs(",
        "np.sign(", "np.hypot(", "np.power(", "np.square(", "np.log1p(", "np.expm1(", "np.arctan(",
        "np.tan(", "+= ", "-= ", "*= ", "/= ",
    ]
    missing = [c for c in constructs if c not in source]
    assert not missing, f"no program uses {missing}"


@by_program
def test_inputs_are_valid_for_the_plain_function(program):
    for seed in range(5):
        args = program.make(np.random.default_rng(seed))
        value = program.function(*copies(args))
        assert np.isfinite(value)
        for position in program.wrt:
            argument = args[position]
            assert isinstance(argument, float) or argument.dtype.kind == "f"
            if isinstance(argument, np.ndarray):
                assert argument.dtype == (np.float32 if program.float32 else np.float64)


# ---------------------------------------------------------------------------
# gradients against central differences


@by_program
@quick
@given(seed=seeds)
@example(seed=0)
def test_grad_matches_central_differences(program, seed):
    args = program.make(np.random.default_rng(seed))
    gradients = srcad.grad(program.function, wrt=program.wrt)(*copies(args))
    assert isinstance(gradients, tuple) and len(gradients) == len(program.wrt)
    for position, got in zip(program.wrt, gradients):
        check_gradient(program, args, position, got)


VALUE_SAMPLE = PROGRAMS[1::3]  # value_and_grad compiles an adjoint besides grad's: a third of the programs


@pytest.mark.parametrize("program", VALUE_SAMPLE, ids=[p.name for p in VALUE_SAMPLE])
def test_value_and_grad_gives_the_plain_value(program):
    args = program.make(np.random.default_rng(12345))
    value, gradients = srcad.value_and_grad(program.function, wrt=program.wrt)(*copies(args))
    expected = plain_value(program.function, args)
    rtol = 1e-4 if program.float32 else 1e-10
    assert value == pytest.approx(expected, rel=rtol, abs=rtol)
    assert len(gradients) == len(program.wrt)
    check_gradient(program, args, program.wrt[0], gradients[0])


SAMPLE = PROGRAMS[::3]  # a second adjoint per program (another wrt): a third of them keeps CI short


@pytest.mark.parametrize("program", SAMPLE, ids=[p.name for p in SAMPLE])
def test_grad_with_a_single_position_gives_one_gradient(program):
    args = program.make(np.random.default_rng(777))
    position = program.wrt[-1]
    got = srcad.grad(program.function, wrt=position)(*copies(args))
    check_gradient(program, args, position, got)


# ---------------------------------------------------------------------------
# side effects on the caller's arrays


@by_program
def test_the_caller_sees_the_side_effects_of_the_plain_function(program):
    args = program.make(np.random.default_rng(2024))
    plain_args = copies(args)
    program.function(*plain_args)
    srcad_args = copies(args)
    srcad.grad(program.function, wrt=program.wrt)(*srcad_args)
    changed = False
    for position, (before, plain, after) in enumerate(zip(args, plain_args, srcad_args)):
        if not isinstance(before, np.ndarray):
            continue
        changed |= not np.array_equal(before, plain)
        rtol = 1e-5 if program.float32 else 1e-10
        np.testing.assert_allclose(
            after, plain, rtol=rtol, atol=rtol,
            err_msg=f"{program.name}: argument {position} after srcad.grad differs from the plain call",
        )
    if not program.writes_arguments:
        assert not changed, f"{program.name} changed its arguments but is not marked writes_arguments"


def test_programs_marked_as_writing_their_arguments_do_write_them():
    for program in PROGRAMS:
        if program.writes_arguments:
            args = program.make(np.random.default_rng(2024))
            plain_args = copies(args)
            program.function(*plain_args)
            assert any(
                isinstance(a, np.ndarray) and not np.array_equal(a, b) for a, b in zip(args, plain_args)
            ), program.name


def test_memory_layouts_survive_the_copies_the_tests_make():
    (program,) = [p for p in PROGRAMS if p.name == "weighted_quadratic_form_fortran_order"]
    args = program.make(np.random.default_rng(3))
    assert args[0].ndim == 2 and args[0].flags.f_contiguous
    if args[0].shape[0] > 1:
        assert not copies(args)[0].flags.c_contiguous
