"""Constants folded through forward mode's tangent code (transforms/forward/fold_tangents.py): what is
folded, what must not be (a name rebound in between, a tangent used twice, a branch in between),
and random straight-line programs computing the same values folded and not (the pass's input run
as Python is the oracle for the pass). Derivatives themselves are checked against central
differences by the jvp corpora."""

import math
import textwrap

import libcst as cst
import numpy as np
from hypothesis import given, settings, strategies as st

import srcad
from srcad.transforms.forward.fold_tangents import folded


def _fold(source, tangents):
    definition = cst.parse_statement(textwrap.dedent(source))
    return cst.Module([]).code_for_node(folded(definition, set(tangents)))


def _run(source, *args):
    namespace = {}
    exec(source, namespace)
    return namespace["f"](*args)


def test_constant_factors_and_signs_are_merged_into_the_single_use():
    source = """
    def f(d, d_dot, e, x_dot, s_dot):
        d2_dot = (2 * d) * d_dot
        product_dot = 100.0 * d2_dot
        e_dot = -x_dot
        e2_dot = (2 * e) * e_dot
        n_dot = -x_dot
        s_dot += n_dot
        return product_dot + e2_dot + s_dot
    """
    result = _fold(source, {"d2_dot", "product_dot", "e_dot", "e2_dot", "n_dot"})
    assert "product_dot = 200.0 * (d * d_dot)" in result
    assert "e2_dot = -2.0 * e * x_dot" in result or "e2_dot = (-2.0 * e) * x_dot" in result
    assert "s_dot -= x_dot" in result and "d2_dot" not in result and "e_dot =" not in result
    args = (0.3, -1.7, 0.9, 2.5, 0.25)
    assert math.isclose(_run(result, *args), _run(textwrap.dedent(source), *args), rel_tol=1e-15)


def test_a_name_rebound_in_between_stops_the_fold():
    source = """
    def f(a, a_dot):
        t_dot = 2.0 * a_dot
        a_dot = 1.0
        u_dot = 3.0 * t_dot
        return u_dot
    """
    result = _fold(source, {"t_dot", "u_dot"})
    assert "t_dot = 2.0 * a_dot" in result and _run(result, 0.0, 5.0) == 30.0


def test_a_tangent_used_twice_or_across_a_branch_is_kept():
    source = """
    def f(a, a_dot, flag):
        t_dot = 2.0 * a_dot
        u_dot = 3.0 * t_dot + t_dot
        w_dot = 4.0 * a_dot
        if flag:
            a_dot = 0.0
        v_dot = 5.0 * w_dot
        return u_dot + v_dot
    """
    result = _fold(source, {"t_dot", "u_dot", "w_dot", "v_dot"})
    assert "t_dot = 2.0 * a_dot" in result and "w_dot = 4.0 * a_dot" in result
    assert _run(result, 0.0, 1.0, True) == _run(textwrap.dedent(source), 0.0, 1.0, True) == 28.0


def test_each_block_of_a_loop_or_branch_is_folded_on_its_own():
    source = """
    def f(x, x_dot, n):
        total_dot = 0.0
        for i in range(n):
            t_dot = 3.0 * x_dot
            if i > 1:
                u_dot = -x_dot
                total_dot += u_dot
            total_dot += 2.0 * t_dot
        return total_dot
    """
    result = _fold(source, {"t_dot", "u_dot"})
    assert "total_dot += 6.0 * x_dot" in result and "total_dot -= x_dot" in result
    assert _run(result, 0.0, 1.5, 5) == _run(textwrap.dedent(source), 0.0, 1.5, 5)


def test_primal_statements_are_never_touched_and_the_tangent_is_right():
    def rosenbrock(x):
        total = 0.0
        for i in range(x.shape[0] - 1):
            total += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
        return total

    x = np.array([0.3, -0.8, 1.1, 0.5])
    v = np.array([1.0, -0.5, 0.25, 2.0])
    source = srcad.source(rosenbrock, "tangent", args=(x,))
    assert "product = 100.0 * difference_pow_2" in source  # the primal's own rounding
    assert "200.0 * (difference * difference_dot)" in source
    value, tangent = srcad.jvp(rosenbrock, (x,), (v,))
    gradient = np.zeros(4)  # closed form
    gradient[:-1] += -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    gradient[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    assert math.isclose(tangent, gradient @ v, rel_tol=1e-13)


_FORMS = ["{k} * {x}", "{x} * {k}", "({k} * {y}) * {x}", "-{x}", "{y} + {x}", "{y} - {x}", "{x} + {y}", "{y} * {x}"]


@st.composite
def _straight_line_programs(draw):
    """Tangent-like code: each t_j from earlier names by one operation; some inputs rebound."""
    names, lines = ["a", "b"], []
    for j in range(draw(st.integers(2, 10))):
        if draw(st.integers(0, 5)) == 0:
            lines.append(f"{draw(st.sampled_from(['a', 'b']))} = {draw(st.sampled_from(['1.5', '-0.5']))}")
            continue
        form = draw(st.sampled_from(_FORMS))
        x, y = draw(st.sampled_from(names)), draw(st.sampled_from(names))
        k = draw(st.sampled_from(["2", "3.0", "-1.5", "0.1"]))
        target = f"t{j}"
        if draw(st.integers(0, 6)) == 0 and target != "t0" and len(names) > 2:
            lines.append(f"{names[-1]} += {form.format(k=k, x=x, y=y)}")  # an in-place update
            continue
        lines.append(f"{target} = {form.format(k=k, x=x, y=y)}")
        names.append(target)
    body = "\n".join("    " + line for line in lines)
    return f"def f(a, b):\n{body}\n    return {names[-1]}\n", {n for n in names if n.startswith("t")}


@settings(max_examples=300, deadline=None)
@given(_straight_line_programs(), st.floats(-3, 3), st.floats(-3, 3))
def test_folded_programs_compute_what_they_did(program, a, b):
    source, tangents = program
    result = _fold(source, tangents)
    expected, got = _run(source, a, b), _run(result, a, b)
    assert math.isclose(got, expected, rel_tol=1e-12, abs_tol=1e-12), (source, result)
