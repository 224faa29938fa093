"""Adjoints started again from zeros without a shape test where the shapes never change
(``transforms/reverse/shaped_zeros.py``): gradients against central differences of the user's plain
function where the test is dropped and where it stays, and the pass on source it is given."""

import libcst as cst
import numpy as np
import pytest
from test_fused_gradients import _check  # the user's plain function against central differences
from test_handed_adjoints import growing
from test_recycled_adjoints import _reverse_loop, leapfrog

import srcad
from srcad.transforms.reverse.shaped_zeros import shaped_zeros


def test_a_state_of_one_shape_starts_its_adjoints_again_without_calls():
    rng = np.random.default_rng(0)
    args = (rng.normal(size=10), 0.3, 7)
    _check(leapfrog, args, (0, 1))
    reverse = _reverse_loop(srcad.source(leapfrog, "adjoint", args=args, wrt=(0, 1)))
    assert "zeroed(" not in reverse and "recycled_zeros(" not in reverse
    assert ".fill(0.0)" in reverse


@pytest.mark.parametrize("sizes, tested", [((7, 7), False), ((1, 7), True)])
def test_a_state_whose_shape_may_change_keeps_the_test(sizes, tested):
    rng = np.random.default_rng(1)
    args = (rng.normal(size=sizes[0]), 1.0 + 0.1 * rng.uniform(size=sizes[1]), 4)
    _check(growing, args, (0, 1))  # u of one element grows to speed's extent in the first step
    reverse = _reverse_loop(srcad.source(growing, "adjoint", args=args, wrt=(0, 1)))
    assert ("zeroed" in reverse) == tested


def _rewritten(source, shapes):
    module = cst.parse_module(source)
    owners = {"u_adj": "u", "v_adj": "v"}
    return cst.Module(body=shaped_zeros(list(module.body), owners, shapes)).code


@pytest.mark.parametrize("shapes, rewritten", [
    ({"u": (("dim", "x", 0),), "v": (("dim", "x", 0),)}, True),
    ({"u": (("dim", "x", 0),), "v": (("dim", "y", 0),)}, False),  # two extents, maybe different
    ({"u": (("dim", "x", 0),)}, False),  # v's shape changes between bindings
])
def test_only_shapes_proven_equal_drop_the_test(shapes, rewritten):
    source = "h = u_adj\nu_adj = zeroed(h, v)\nv_adj = recycled_zeros(u_adj, v)\n"
    code = _rewritten(source, shapes)
    assert ("zeroed" not in code) == rewritten
    if rewritten:
        assert code == "h = u_adj\nh.fill(0.0)\nu_adj = h\nv_adj = u_adj\n"
