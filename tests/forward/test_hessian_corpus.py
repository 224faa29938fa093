"""Hessian-vector products of every corpus program against second differences of the plain function.

``srcad.jvp(srcad.grad(f, wrt=...), args, (v, ...))`` gives the gradient and the Hessian times v
(forward mode over the generated gradient, or reverse over forward where forward mode cannot read
that gradient). Each is checked on a random pair of directions u, v against the mixed second
difference of the user's own function,

    u . H v ~ [f(x + hu + hv) - f(x + hu - hv) - f(x - hu + hv) + f(x - hu - hv)] / (4 h^2),

with one Richardson step, in float64: never against srcad's own derivatives.
"""

import os
import random

import numpy as np
import pytest

import srcad

if __package__:
    from . import array_programs, oracles, scalar_programs, vectorized_programs
    from .test_corpus_arrays import as_float64, copies, plain_value
    from .test_corpus_scalar import sample_arguments
else:
    import array_programs
    import oracles
    import scalar_programs
    import vectorized_programs
    from test_corpus_arrays import as_float64, copies, plain_value
    from test_corpus_scalar import sample_arguments

ARRAY_PROGRAMS = array_programs.PROGRAMS + vectorized_programs.PROGRAMS

# Every program compiles a gradient and its tangent (seconds each): CI takes every SAMPLE-th program
# of each corpus, SRCAD_FULL_CORPUS=1 all of them.
SAMPLE = 1 if os.environ.get("SRCAD_FULL_CORPUS") == "1" else 5
SCALAR_SAMPLE = scalar_programs.PROGRAMS[::SAMPLE]
ARRAY_SAMPLE = ARRAY_PROGRAMS[::SAMPLE]



def mixed_second_difference(function, args, u, v, step):
    """u . H v of ``function`` at ``args`` (u, v: one direction per argument, None for none)."""

    def at(s, t):
        moved = []
        for value, du, dv in zip(copies(args), u, v):
            if du is None:
                moved.append(value)
            else:
                moved.append(value + s * du + t * dv)
        return float(function(*moved))

    def estimate(h):
        return (at(h, h) - at(h, -h) - at(-h, h) + at(-h, -h)) / (4.0 * h * h)

    return (4.0 * estimate(step / 2) - estimate(step)) / 3.0


def projected(hessian_times, u, wrt):
    """u . (H v) from the Hessian-vector product's parts, one per position in ``wrt``."""
    return sum(float(np.sum(np.asarray(u[k], dtype=np.float64) * np.asarray(part, dtype=np.float64)))
               for k, part in zip(wrt, hessian_times))


def check(function, args, wrt, u, v, scale, what, rtol=1e-5, plain=None):
    """``plain``: the function finite differences take (default ``function``)."""
    gradients, hessian_times = srcad.jvp(srcad.grad(function, wrt=tuple(wrt)), copies(args), v)
    assert len(hessian_times) == len(wrt) == len(gradients), what
    for k, part in zip(wrt, hessian_times):
        assert np.shape(part) == np.shape(args[k]), what
    got = projected(hessian_times, u, wrt)
    size = max(1.0, max(float(np.max(np.abs(a))) for k, a in enumerate(args) if u[k] is not None))
    expected = mixed_second_difference(plain or function, as_float64(args), u, v, 1e-3 * size)
    assert abs(got - expected) <= rtol * (abs(expected) + scale), (what, got, expected)


@pytest.mark.parametrize("program", SCALAR_SAMPLE, ids=[p.name for p in SCALAR_SAMPLE])
def test_hessian_vector_products_of_scalar_programs_match_second_differences(program):
    generator = random.Random(f"hvp/{program.name}")
    (args,) = sample_arguments(program, count=1, salt="hvp")
    u = [None if isinstance(d, str) else generator.uniform(-1.0, 1.0) for d in program.domains]
    v = [None if isinstance(d, str) else generator.uniform(-1.0, 1.0) for d in program.domains]
    plain = oracles.freeze_no_grad(program.function, args)
    scale = max(1.0, abs(plain(*args)))
    check(program.function, args, program.wrt, u, v, scale, f"{program.name} at {args}", rtol=1e-4, plain=plain)


@pytest.mark.parametrize("program", ARRAY_SAMPLE, ids=[p.name for p in ARRAY_SAMPLE])
def test_hessian_vector_products_of_array_programs_match_second_differences(program):
    rng = np.random.default_rng(47)
    args = program.make(rng)
    u, v = [None] * len(args), [None] * len(args)
    for k in program.wrt:
        shape = np.shape(args[k])
        if isinstance(args[k], np.ndarray):
            u[k] = rng.uniform(-1.0, 1.0, size=shape)
            v[k] = rng.uniform(-1.0, 1.0, size=shape).astype(args[k].dtype)
        else:
            u[k], v[k] = float(rng.uniform(-1.0, 1.0)), float(rng.uniform(-1.0, 1.0))
    scale = max(1.0, abs(plain_value(program.function, as_float64(args))))
    check(program.function, args, program.wrt, u, v, scale, program.name, rtol=1e-2 if program.float32 else 1e-4)
