"""Generated code that reads as written by hand (issue 21): no dead stores, loop positions and
tape sizes without ``* 1`` and ``- 1 > -1``, headings that say what follows. The gradients of the
programs read here are checked against central differences of the plain functions."""

import math

import libcst as cst
import numpy as np
import pytest

import srcad
from oracles import central_difference
from srcad.transforms.output.dead_stores import without_dead_stores
from srcad.transforms.ir.precedence import module_code


def _tidied(source):
    return module_code([without_dead_stores(cst.parse_statement(source))])


def _run(source, *args):
    namespace = {}
    exec(source, namespace)
    return namespace["f"](*args)


DEAD_STORES = [  # (source, what the tidied function must no longer hold, what it must still hold)
    ("def f(x, g):\n    s = 0.0\n    s = g\n    return s * x\n", ["s = 0.0"], ["s = g"]),
    ("def f(x, g):\n    # reverse sweep\n    s = 0.0\n    t = x\n    s = g\n    return s * t\n",
     ["s = 0.0"], ["# reverse sweep\n    t = x"]),
    ("def f(x, g):\n    s = x\n    return g\n", ["s = x"], ["return g"]),  # never read before the return
    ("def f(x, g):\n    s = 0.0\n    for k in range(3):\n        s = s + x\n        t = s\n    return s + g\n",
     [], ["s = 0.0", "t = s"]),  # read in the loop; the loop body's last store kept
    ("def f(x, g):\n    s = 0.0\n    if g > 0:\n        s = x\n    return s\n", [], ["s = 0.0"]),  # bound again in a branch only
    ("def f(x, g):\n    s = 0.0\n    u = s + 1.0\n    s = g\n    return s * u\n", [], ["s = 0.0"]),  # read first
    ("def f(x, g):\n    s = 0.0\n    s = s + g\n    return s * x\n", [], ["s = 0.0"]),  # read by its own rebinding
    ("def f(x, g):\n    s = x\n    for k in range(2):\n        s = 0.0\n        s = g + k\n        x = x + s\n    return x\n",
     ["        s = 0.0"], ["s = g + k"]),
]


@pytest.mark.parametrize("source, dropped, kept", DEAD_STORES)
def test_only_stores_nothing_reads_are_dropped_and_the_function_computes_the_same(source, dropped, kept):
    tidied = _tidied(source)
    for text in dropped:
        assert text not in tidied, tidied
    for text in kept:
        assert text in tidied, tidied
    for x, g in ((1.5, 2.0), (-0.5, -3.0)):
        assert _run(tidied, x, g) == _run(source, x, g)


def neighbours(x, n):
    s = 0.0
    for i in range(1, n):
        s = 0.9 * s + math.sin(x[i]) * x[i - 1]  # reads s: reversed after the loop, not term by term
    return s


def every_other_backwards(x, n):
    s = 0.0
    for i in range(n - 1, 0, -2):
        s = s * 0.5 + x[i] ** 2
    return s


def branching(x, n):
    s = 1.0
    for i in range(n):
        if x[i] > 0.3:
            s = s * math.sin(x[i])
        else:
            s = s + x[i]
    return s


@pytest.mark.parametrize("function", [neighbours, every_other_backwards, branching], ids=lambda f: f.__name__)
def test_loop_adjoints_read_cleanly_and_are_right(function):
    x, n = np.linspace(0.1, 0.9, 7), 7
    gradient = srcad.grad(function)(x, n)
    for k in range(len(x)):
        def along(value, k=k):
            moved = x.copy()
            moved[k] = value
            return function(moved, n)
        assert gradient[k] == pytest.approx(central_difference(along, (x[k],), 0), rel=1e-7, abs=1e-9)
    source = srcad.source(function, "adjoint")
    assert "* 1\n" not in source and " * 1 " not in source and "> -1" not in source and "1 * len(" not in source
    assert "s_adj = 0.0\n    s_adj = output_adj" not in source
    assert "# tape: values" not in source  # the old heading over declarations, tape and adjoints alike


def test_the_generated_positions_and_sizes_are_folded():
    srcad.grad(neighbours)(np.linspace(0.1, 0.9, 7), 7)
    source = srcad.source(neighbours, "adjoint")
    assert "i = 1 + i_iteration\n" in source
    assert "if i_iterations > 0:" in source
    assert "carried from one iteration to the next in" in source
    srcad.grad(branching)(np.linspace(0.1, 0.9, 7), 7)
    assert "floats_top + len(range(n))" in srcad.source(branching, "adjoint")
    srcad.grad(every_other_backwards)(np.linspace(0.1, 0.9, 7), 7)
    assert "tape_ints[ints_top] = -2" not in srcad.source(every_other_backwards, "adjoint")  # a literal step is not saved


def test_the_command_line_shows_the_tangent(tmp_path, capsys):
    from srcad.__main__ import main

    path = tmp_path / "program.py"
    path.write_text("import math\n\n\ndef f(x):\n    return math.sin(x) * x\n")
    assert main(["show", f"{path}:f", "--stage", "tangent"]) == 0
    shown = capsys.readouterr().out
    assert "forward mode (tangent)" in shown and "def f_tangent(x, x_dot):" in shown
