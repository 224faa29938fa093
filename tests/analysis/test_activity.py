"""Activity and to-be-recorded analysis."""

import math

from numba.core import types as numba_types

from srcad.pipeline import Normalized
from srcad.transforms.analysis.activity import analyze
from srcad.transforms.analysis.infer_types import infer_types


def _analysis(function, wrt, argument_types=None):
    normalized = Normalized(function)
    parameters = normalized.parsed.parameters
    argument_types = argument_types or tuple(numba_types.float64 for _ in parameters)
    types, _ = infer_types(normalized.python_function(), argument_types)
    return analyze(normalized.definition, parameters, wrt, types)


def chain(x, y):
    a = x * 2.0
    b = y * 3.0  # depends only on y
    c = a + b
    unused = a * a  # never reaches the output
    return c


def test_only_values_between_wrt_and_output_are_active():
    analysis = _analysis(chain, wrt=(0,))
    assert {"x", "a", "c"} <= analysis.active
    assert "b" not in analysis.active and "y" not in analysis.active
    assert "unused" not in analysis.active


def counted(x, n):
    s = 0.0
    for i in range(n):
        k = i * 2
        s = s + x * k
    flag = s > 1.0
    return s


def test_integers_and_booleans_are_never_active():
    analysis = _analysis(counted, wrt=(0,), argument_types=(numba_types.float64, numba_types.int64))
    assert not {"i", "k", "n", "flag"} & analysis.active
    assert isinstance(analysis.types["k"], numba_types.Integer)


def test_integers_read_by_adjoints_and_overwritten_in_loops_are_recorded():
    analysis = _analysis(counted, wrt=(0,), argument_types=(numba_types.float64, numba_types.int64))
    # x_adj += product_adj * k needs each iteration's k: computed again from the loop index
    assert "k" in analysis.recomputed and "k" not in analysis.recorded


def cut(x):
    y = x * x
    z = int(y) + math.floor(y) + y // 1.0
    w = y * 2.0
    return w + z


def test_integer_valued_operations_cut_the_derivative():
    analysis = _analysis(cut, wrt=(0,))
    assert "z" not in analysis.active and "w" in analysis.active


def recurrence(x, k):
    neg_k = -k
    for i in range(10):
        x = x + 0.1 * neg_k * math.sin(x)
    return x


def test_overwritten_values_are_recorded_and_invariant_ones_are_not():
    analysis = _analysis(recurrence, wrt=(0, 1))
    assert "x" in analysis.recorded  # overwritten each iteration, read by the sin rule
    assert "neg_k" not in analysis.recorded  # one value for the whole call


def test_values_assigned_once_outside_loops_are_not_recorded():
    analysis = _analysis(chain, wrt=(0, 1))
    assert analysis.recorded == set()


def clobbered(x):
    s = 0.0
    for i in range(5):
        t = math.sin(x)
        x = x * 1.1
        s = s + t * x  # reads t after x changed: t cannot be recomputed from x here
    return s


def test_values_whose_operands_change_before_their_use_are_saved_not_recomputed():
    analysis = _analysis(clobbered, wrt=(0,))
    assert "t" in analysis.recorded and "t" not in analysis.recomputed


def test_temporaries_of_restored_values_are_recomputed():
    analysis = _analysis(recurrence, wrt=(0, 1))
    recomputed = set(analysis.recomputed)
    assert recomputed and not recomputed & analysis.recorded
    assert any(name.startswith("sin") for name in recomputed)
