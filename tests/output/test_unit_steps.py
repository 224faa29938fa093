"""Element loops reading operands at broadcast steps run in two versions where that can make them
vectorize (``transforms/output/unit_steps.py``); gradients through both versions are checked in
tests/reverse/test_fused_gradients.py."""

import libcst as cst

from srcad.transforms.output.unit_steps import with_unit_steps


def _versioned(body):
    code = "def f(a, b, c, n, m):\n    step = broadcast_step(m, n)\n" + body
    return cst.Module([with_unit_steps(cst.parse_module(code).body[0])]).code


def test_an_affine_loop_runs_without_its_step_where_the_step_is_1():
    code = _versioned("    for i in range(n):\n        i_step = step * i\n        j = i + 1\n        a[j] = b[i_step] * c[i]\n")
    assert "if step == 1:" in code and "        i_step = i\n" in code and "            i_step = step * i\n" in code


def test_loops_a_second_version_would_not_speed_up_keep_one():
    cases = {
        "a gather": "    for i in range(n):\n        i_step = step * i\n        k = c[i]\n        a[k] = b[i_step]\n",
        "a tape push": "    for i in range(n):\n        i_step = step * i\n        t[top] = a[i]; top += 1\n        a[i] = b[i_step]\n",
        "a sum": "    for i in range(n):\n        i_step = step * i\n        s += b[i_step]\n",
        "a step the loop changes": "    for i in range(n):\n        i_step = step * i\n        a[i] = b[i_step]\n        step = 0\n",
        "no step at all": "    for i in range(n):\n        a[i] = b[i]\n",
    }
    for why, body in cases.items():
        assert "if step" not in _versioned(body), why


def test_a_time_loop_around_element_loops_is_not_copied():
    code = _versioned("    for t in range(m):\n        for i in range(n):\n            i_step = step * i\n            a[i] = b[i_step]\n")
    assert code.count("for t in range(m):") == 1 and code.count("for i in range(n):") == 2
