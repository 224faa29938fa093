"""The reserve pass: tape capacity is reserved ahead of every push, never by the push itself."""

import libcst as cst

from srcad.transforms.reverse.reserve import Tape, with_reserves

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
    assert code.splitlines()[0] == "tape_floats = reserve(tape_floats, floats_top + len(range(a, b, s)))"


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
    assert lines[inner - 1] == "tape_floats = reserve(tape_floats, floats_top + len(range(n)))"
    assert lines[inner + 2] == "tape_ints = reserve(tape_ints, ints_top + 1)"


def test_code_without_pushes_is_unchanged():
    source = "x = y * 2.0\nfor i in range(3):\n    x = x + i\n"
    assert _code(source) == source


def test_a_time_loop_over_fixed_inner_loops_reserves_once_for_all_its_steps():
    code = _code(
        "for t in range(steps):\n"
        "    m = n - 1\n"
        "    for i in range(m):\n"
        "        tape_floats[floats_top] = d; floats_top += 1\n"
        "    tape_ints[ints_top] = i_iterations; ints_top += 1\n"
        "    if c:\n"
        "        for j in range(x.shape[0]):\n"
        "            tape_floats[floats_top] = e; floats_top += 1\n"
    )
    lines = code.splitlines()
    assert lines[:2] == [
        "tape_floats = reserve(tape_floats, floats_top + (len(range(n - 1)) + len(range(x.shape[0]))) * len(range(steps)))",
        "tape_ints = reserve(tape_ints, ints_top + len(range(steps)))",
    ]
    assert sum("reserve(" in line for line in lines) == 2  # nothing reserved inside


def test_the_longer_branch_of_an_if_with_loops_is_reserved():
    code = _code(
        "for t in range(steps):\n"
        "    if c:\n"
        "        for i in range(n):\n"
        "            tape_floats[floats_top] = d; floats_top += 1\n"
        "    else:\n"
        "        tape_floats[floats_top] = d; floats_top += 1\n"
    )
    assert code.splitlines()[0] == (
        "tape_floats = reserve(tape_floats, floats_top + max(len(range(n)), 1) * len(range(steps)))"
    )


def test_inner_trip_counts_known_only_inside_the_loop_are_reserved_per_iteration():
    inner_loop = "    for i in range({}):\n        tape_floats[floats_top] = d; floats_top += 1\n"
    for before_inner, stop in [
        ("", "t"),  # a triangular loop
        ("    m = m + 1\n", "m"),  # changes from step to step
        ("    m = t * 2\n", "m"),  # computed from the step
        ("    m = idx[0]\n", "m"),  # an element: a write through a view could change it
        ("", "idx[t]"),
        ("    m = f(n)\n", "m"),  # a call that could have effects
        ("    m = n\n    m = n + 1\n", "m"),  # assigned twice
    ]:
        source = (
            "for t in range(steps):\n"
            + before_inner
            + "    tape_floats[floats_top] = a; floats_top += 1\n"
            + inner_loop.format(stop)
        )
        code = _code(source)
        lines = [line.strip() for line in code.splitlines()]
        assert lines[0] == "for t in range(steps):", (source, code)
        assert any(line.startswith("tape_floats = reserve(tape_floats, floats_top + len(range(") for line in lines[1:])


def test_a_loop_that_can_stop_early_reserves_as_it_goes():
    code = _code(
        "for it in range(max_iterations):\n"
        "    for i in range(n):\n"
        "        tape_floats[floats_top] = d; floats_top += 1\n"
        "    if converged:\n"
        "        break\n"
    )
    assert code.splitlines()[0] == "for it in range(max_iterations):"


def test_a_size_bound_inside_the_loop_keeps_its_meaning_where_it_is_substituted():
    code = _code(
        "for t in range(steps):\n"
        "    m = n - 1\n"
        "    for i in range(m * 2):\n"
        "        tape_floats[floats_top] = d; floats_top += 1\n"
    )
    assert code.splitlines()[0] == "tape_floats = reserve(tape_floats, floats_top + len(range((n - 1) * 2)) * len(range(steps)))"
    steps, n = 3, 5
    assert eval("len(range((n - 1) * 2)) * len(range(steps))") == steps * (n - 1) * 2
