"""Random loops over rows that add up independent terms, built from the pieces such loops are made of
(a dot product, the nearest of some centers, a log-sum-exp through a work array, a branch), all
reversed term by term; their gradients against a Richardson central difference along a random
direction (tests/fuzz/oracle.py), which is skipped where it does not settle (a branch flipping
within the steps)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import srcad
from fuzz.oracle import Unreliable, directional
from fuzz.test_random_scalar_programs import load_function

DOT = """\
    a{k} = 0.0
    for j in range(d):
        a{k} += X[i, j] * {weight}
"""
NEAREST = """\
    a{k} = math.inf
    for c in range(m):
        dist = 0.0
        for j in range(d):
            diff = X[i, j] - C[c, j]
            dist += diff * diff
        if dist < a{k}:
            a{k} = dist
"""
LOG_SUM_EXP = """\
    for c in range(m):
        s = 0.0
        for j in range(d):
            s += C[c, j] * X[i, j] * {weight_c}
        q[c] = s
    top = q[0]
    for c in range(1, m):
        if q[c] > top:
            top = q[c]
    e = 0.0
    for c in range(m):
        e += math.exp(q[c] - top)
    a{k} = top + math.log(e)
"""
BRANCH = """\
    if {previous} > 0.2:
        a{k} = {previous} * {previous}
    else:
        a{k} = math.sin({previous}) + X[i, 0] * w[0]
"""
PAIRS = """\
    a{k} = X[i, 2] * {weight_0}
    for j in range(i + 1, n):
        r = X[i, 0] - X[j, 0] * {weight_0}
        if r * r < 1.5:
            total {operator} {previous} * r * r
        else:
            total {operator} math.exp(-r * r) * a{k}
"""
REBIND = """\
    a{k} = {previous} * 0.5
    {previous} = math.sin(X[i, 1]) + w[2]
"""
WEIGHTS = ["w[j]", "math.sin(w[j])", "w[j] * w[j]"]
WEIGHTS_C = ["1.0", "w[j]", "math.cos(w[j])"]
ENDINGS = ["return total", "return total * total", "return math.log(1.0 + total * total)",
           "return total + w[0] * w[1]"]  # the last adds into w's adjoint before the loop's reverse


@st.composite
def programs(draw):
    lines = ["import math", "", "import numpy as np", "", "", "def f(w, C, X):", "    n, d = X.shape", "    m = C.shape[0]", "    q = np.empty(m)", "    total = 0.0",
             "    for i in range(n):"]
    pieces = draw(st.lists(st.sampled_from(["dot", "nearest", "lse", "branch", "pairs", "rebind"]), min_size=1, max_size=4))
    for k, piece in enumerate(pieces):
        if piece == "dot":
            text = DOT.format(k=k, weight=draw(st.sampled_from(WEIGHTS)))
        elif piece == "nearest":
            text = NEAREST.format(k=k)
        elif piece == "lse":
            text = LOG_SUM_EXP.format(k=k, weight_c=draw(st.sampled_from(WEIGHTS_C)))
        elif piece == "pairs":  # adding into total itself, inside the term: reversed pair by pair
            text = PAIRS.format(k=k, weight_0=draw(st.sampled_from(["w[0]", "math.sin(w[1])"])),
                                operator=draw(st.sampled_from(["+=", "-="])), previous=f"a{k - 1}" if k else "w[1]")
        elif piece == "rebind" and k:  # a value an earlier pair loop read, assigned again after it
            text = REBIND.format(k=k, previous=f"a{k - 1}")
        else:
            text = BRANCH.format(k=k, previous=f"a{k - 1}" if k else "X[i, 1]")
        lines += ["    " + line for line in text.splitlines()]
    used = draw(st.lists(st.integers(0, len(pieces) - 1), min_size=1, max_size=3, unique=True))
    term = " * ".join(f"math.tanh(a{k})" for k in used)
    lines.append(f"        total {draw(st.sampled_from(['+=', '-=']))} {draw(st.sampled_from(['1.0', '0.5', '2.0']))} * {term}")
    lines.append("    " + draw(st.sampled_from(ENDINGS)))
    seed = draw(st.integers(0, 2**31))
    return "\n".join(lines) + "\n", seed


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(programs())
def test_random_sums_of_terms_match_central_differences(program):
    source, seed = program
    plain = load_function(source)
    rng = np.random.default_rng(seed)
    args = (rng.normal(size=3), rng.normal(size=(3, 3)), rng.normal(size=(4, 3)))
    direction = (rng.normal(size=3), rng.normal(size=(3, 3)), None)
    try:
        expected, error = directional(plain, args, direction)
    except Unreliable:
        assume(False)
    function = srcad.differentiable(plain)
    gradient_w, gradient_c = srcad.grad(function, wrt=(0, 1))(*[a.copy() for a in args])
    got = float(np.sum(gradient_w * direction[0]) + np.sum(gradient_c * direction[1]))
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-6 + 10 * error), source
    assert "adjoint taken as 1" in srcad.source(function, "adjoint", args=args, wrt=(0, 1)), source
