"""The reserve pass: tape capacity is reserved ahead of every push, never by the push itself."""

import libcst as cst

from srcad.transforms.reserve import Tape, with_reserves

TAPE = Tape("tape_floats", "floats_top", "tape_ints", "ints_top")


def _code(source):
    module = cst.parse_module(source)
    return cst.Module(with_reserves(list(module.body), TAPE)).code


def test_a_straight_run_reserves_for_its_pushes_and_the_longer_branch():
    code = _code(
        "floats_top = push(tape_floats, floats_top, a)\n"
        "if c:\n"
        "    floats_top = push(tape_floats, floats_top, b)\n"
        "    floats_top = push(tape_floats, floats_top, d)\n"
        "else:\n"
        "    floats_top = push(tape_floats, floats_top, e)\n"
        "ints_top = push(tape_ints, ints_top, c)\n"
    )
    assert code.startswith(
        "tape_floats = reserve(tape_floats, floats_top + 3)\n"
        "tape_ints = reserve(tape_ints, ints_top + 1)\n"
    )


def test_a_loop_without_inner_loops_reserves_once_for_all_iterations():
    code = _code("for i in range(a, b, s):\n    floats_top = push(tape_floats, floats_top, x)\n")
    assert code.splitlines()[0] == "tape_floats = reserve(tape_floats, floats_top + 1 * len(range(a, b, s)))"


def test_a_loop_with_inner_loops_reserves_per_iteration_and_after_each_inner_loop():
    code = _code(
        "while True:\n"
        "    floats_top = push(tape_floats, floats_top, x)\n"
        "    for j in range(n):\n"
        "        floats_top = push(tape_floats, floats_top, y)\n"
        "    ints_top = push(tape_ints, ints_top, j_iterations)\n"
    )
    lines = [line.strip() for line in code.splitlines()]
    assert lines[1] == "tape_floats = reserve(tape_floats, floats_top + 1)"
    inner = lines.index("for j in range(n):")
    assert lines[inner - 1] == "tape_floats = reserve(tape_floats, floats_top + 1 * len(range(n)))"
    assert lines[inner + 2] == "tape_ints = reserve(tape_ints, ints_top + 1)"


def test_code_without_pushes_is_unchanged():
    source = "x = y * 2.0\nfor i in range(3):\n    x = x + i\n"
    assert _code(source) == source
