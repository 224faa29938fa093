"""The reserve pass: tape capacity is reserved ahead of every push, never by the push itself."""

import libcst as cst

from srcad.transforms.reserve import Tape, with_reserves

TAPE = Tape("tape_floats", "floats_top", "tape_ints", "ints_top")


def _code(source):
    module = cst.parse_module(source)
    return cst.Module(with_reserves(list(module.body), TAPE)).code


def test_a_straight_run_reserves_for_its_pushes_and_the_longer_branch():
    code = _code(
        "tape_floats[floats_top] = a; floats_top += 1\n"
        "if c:\n"
        "    tape_floats[floats_top] = b; floats_top += 1\n"
        "    tape_floats[floats_top] = d; floats_top += 1\n"
        "else:\n"
        "    tape_floats[floats_top] = e; floats_top += 1\n"
        "tape_ints[ints_top] = c; ints_top += 1\n"
    )
    assert code.startswith(
        "tape_floats = reserve(tape_floats, floats_top + 3)\n"
        "tape_ints = reserve(tape_ints, ints_top + 1)\n"
    )


def test_a_loop_without_inner_loops_reserves_once_for_all_iterations():
    code = _code("for i in range(a, b, s):\n    tape_floats[floats_top] = x; floats_top += 1\n")
    assert code.splitlines()[0] == "tape_floats = reserve(tape_floats, floats_top + 1 * len(range(a, b, s)))"


def test_a_loop_with_inner_loops_reserves_per_iteration_and_after_each_inner_loop():
    code = _code(
        "while True:\n"
        "    tape_floats[floats_top] = x; floats_top += 1\n"
        "    for j in range(n):\n"
        "        tape_floats[floats_top] = y; floats_top += 1\n"
        "    tape_ints[ints_top] = j_iterations; ints_top += 1\n"
    )
    lines = [line.strip() for line in code.splitlines()]
    assert lines[1] == "tape_floats = reserve(tape_floats, floats_top + 1)"
    inner = lines.index("for j in range(n):")
    assert lines[inner - 1] == "tape_floats = reserve(tape_floats, floats_top + 1 * len(range(n)))"
    assert lines[inner + 2] == "tape_ints = reserve(tape_ints, ints_top + 1)"


def test_code_without_pushes_is_unchanged():
    source = "x = y * 2.0\nfor i in range(3):\n    x = x + i\n"
    assert _code(source) == source
