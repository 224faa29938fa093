"""Indices that cannot be negative are spelled unsigned in the CPU launchers (numba then skips its
check for a negative index at each access); every other index keeps Python's meaning, a[-1]."""

import libcst as cst
import numpy as np

import srcad
from srcad.transforms.kernel.unsigned_indices import non_negative_names, with_unsigned_indices


def _statements(source):
    return list(cst.parse_module(source).body)


def test_which_names_are_never_negative():
    body = _statements(
        "i = tid\nj = 0\nj = i + 1\nk = i - 1\nm = j * 2 + i\nn = 0\nn += 1\nfor q in range(3):\n    pass\n"
        "p = tid\np = k\ns = x[i]\n"
    )
    assert non_negative_names(body, ["tid"]) == {"tid", "i", "j", "m"}
    assert non_negative_names(_statements("tid = tid - 1\n"), ["tid"]) == set()  # a root bound again is not one


def test_only_array_elements_at_those_names_are_cast():
    body = _statements("y = x[i] + x[k] + x.shape[i] + a[i, 0] + a[k, i]\n")
    cast = cst.Module(body=with_unsigned_indices(body, {"i"})).code
    assert cast == ("y = x[numba.uintp(i)] + x[k] + x.shape[i] + a[numba.uintp(i), 0] + a[k, numba.uintp(i)]\n")


@srcad.kernel
def ring_difference(x, out):
    i = srcad.tid()
    out[i] = x[i] * x[i - 1]  # at i = 0, x[-1]: the last element, as in Python


@srcad.kernel
def total(out, loss):
    i = srcad.tid()
    srcad.atomic_add(loss, 0, out[i] * out[i])


def _loss(x):
    return float(np.sum((x * np.roll(x, 1)) ** 2))


def test_a_negative_index_keeps_its_meaning_in_large_launches():
    n = 100_000  # large enough for the parallel launcher, in chunks
    x = np.random.default_rng(3).uniform(-1.0, 1.0, n)
    launcher = srcad.source(ring_difference, "adjoint", args=(x, np.zeros(n)))
    assert "x[numba.uintp(i)]" in launcher and "x[i_minus_1]" in launcher
    out, loss = np.zeros(n), np.zeros(1)
    with srcad.Tape() as tape:
        ring_difference.launch(n, x, out)
        total.launch(n, out, loss)
    tape.backward(loss)
    assert abs(loss[0] - _loss(x)) <= 1e-9 * abs(_loss(x))
    gradient = tape.gradient(x)
    # closed form of d/dx_k sum_i (x_i x_(i-1))^2 on a ring: the first and last elements meet through x[-1]
    expected = 2.0 * x * (np.roll(x, 1) ** 2 + np.roll(x, -1) ** 2)
    np.testing.assert_allclose(gradient, expected, rtol=1e-12, atol=1e-14)
