"""Loops reading ``np.roll``'s elements split where they wrap around (``transforms/output/rolled_pieces.py``):
which loops split, and gradients through the pieces against central differences for shifts of
every sign and size."""

import libcst as cst
import numpy as np
import pytest
from test_fused_gradients import _check

import srcad
from srcad.transforms.output.rolled_pieces import in_rolled_pieces


def _split(body):
    code = "def f(a, b, n, offset, length):\n" + body
    return cst.Module([in_rolled_pieces(cst.parse_module(code).body[0])]).code


def test_a_loop_reading_rolled_positions_of_its_index_runs_in_two_pieces():
    code = _split("    for i in range(n):\n        i_step = i\n        p = rolled_position(i_step, offset, length)\n        a[i] = b[p]\n")
    assert "for i in range(min(offset, n)):" in code and "for i in range(min(offset, n), n):" in code
    assert "p = i_step - offset + length" in code and "p = i_step - offset\n" in code


def test_loops_the_pieces_would_not_make_affine_stay_whole():
    cases = {
        "a position at a step": "    for i in range(n):\n        k = 2 * i\n        p = rolled_position(k, offset, length)\n        a[i] = b[p]\n",
        "two offsets": ("    for i in range(n):\n        p = rolled_position(i, offset, length)\n"
                        "        q = rolled_position(i, n, length)\n        a[i] = b[p] + b[q]\n"),
        "an offset the loop changes": "    for i in range(n):\n        p = rolled_position(i, offset, length)\n        offset = p\n",
        "a loop counting down": "    for i in range(n - 1, -1, -1):\n        p = rolled_position(i, offset, length)\n        a[i] = b[p]\n",
    }
    for why, body in cases.items():
        assert "min(" not in _split(body), why


def advected(u0, speed, shift, steps):
    u = u0 * 1.0
    for _ in range(steps):
        flux = speed * u
        u = u - 0.3 * (flux - np.roll(flux, shift))
    return np.sum(u * u * u)


@pytest.mark.parametrize("shift", [1, -1, 0, 3, 7, -9])
def test_gradients_through_the_pieces(shift):
    rng = np.random.default_rng(6)
    args = (rng.normal(size=7), 1.0 + 0.1 * rng.uniform(size=7), shift, 3)
    _check(advected, args, (0, 1))
    direction = rng.normal(size=7)
    _, tangent = srcad.jvp(advected, args, (direction, None, None, None))
    h = 1e-6
    expected = (advected(args[0] + h * direction, *args[1:]) - advected(args[0] - h * direction, *args[1:])) / (2 * h)
    assert abs(tangent - expected) <= 1e-6 * max(1.0, abs(expected))
    for stage in ("adjoint", "tangent"):
        assert "min(" in srcad.source(advected, stage, args=args, wrt=(0, 1))
