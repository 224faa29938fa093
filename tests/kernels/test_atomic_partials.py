"""CUDA kernels sum each thread's atomic additions first (transforms/kernel/atomic_partials.py): which
additions are summed, where the sums are added, and the cases that keep their atomics. The values
are checked in numba's simulator (tests/kernels/cuda_simulated.py: ``block_sums``) and compiled to PTX here."""

import numpy as np
import pytest

import srcad

cuda = pytest.importorskip("numba.cuda")
from numba.core import types  # noqa: E402

F64, F32 = types.float64[::1], types.float32[::1]


@srcad.kernel
def pulled(x, k, y):
    i = srcad.tid()
    y[i] = k[0] * x[i] * x[i] + k[1] * x[i]


@srcad.kernel(block_size=96)
def pulled_in_odd_blocks(x, k, y):
    i = srcad.tid()
    y[i] = k[0] * x[i]


@srcad.kernel
def neighbours(x, k, y):
    i = srcad.tid()
    j = i
    if i > 0:
        j = i - 1
    y[i] = k[0] * x[j] + x[i]


@srcad.kernel
def loop_of_reads(x, k, y):
    i = srcad.tid()
    z = x[i]
    for _ in range(3):
        z = k[0] * z * z
    y[i] = z


def _adjoint(kernel, argument_types):
    return kernel.module("adjoint", (types.int64,) + argument_types, "cuda")


def test_a_parameter_read_by_every_thread_is_added_once_per_block():
    source = _adjoint(pulled, (F64, F64, F64)).source
    assert "cuda.shared.array((2, 256), numba.float64)" in source
    assert source.count("cuda.atomic.add(k_adj") == 2  # after the block's sum, by its first thread
    assert source.count("x_adj[i] +=") == 3  # no other thread adds to x_adj[i]: plain additions


def test_an_index_bound_twice_keeps_its_atomic_additions():
    source = _adjoint(neighbours, (F64, F64, F64)).source
    assert "cuda.atomic.add(x_adj, j, x_j_adj)" in source  # j: i, or i - 1 (another thread's own element)
    assert "cuda.atomic.add(x_adj, i, x_adj_sum_i)" in source


def test_blocks_that_are_not_a_power_of_two_and_kernels_that_stop_early_keep_atomics():
    assert "cuda.shared.array" not in _adjoint(pulled_in_odd_blocks, (F64, F64, F64)).source
    source = _adjoint(loop_of_reads, (F64, F64, F64)).source
    assert "overflow[0] = 1" in source and "cuda.shared.array" not in source and "cuda.syncthreads" not in source


def test_float32_arrays_are_summed_in_float64_and_compile():
    module = _adjoint(pulled, (F32, F32, F32))
    argument_types = (types.int64, F32, F32, F32, types.float64, F32, F32, F32)  # no stacks: no overflow flag
    ptx, _ = cuda.compile_ptx(module.module.srcad_kernel_function, argument_types, cc=(8, 0))
    assert "bar.sync" in ptx and "atom.global.add.f32" in ptx


def test_the_cpu_kernels_are_untouched():
    cpu = pulled.module("adjoint", (types.int64, F64, F64, F64), "cpu").source
    assert "shared" not in cpu and "x_adj_sum_i" not in cpu


@srcad.kernel
def rebinds_its_index(x, k, j, y):
    i = srcad.tid()
    y[i] = k[j] * x[i]
    j = 0
    y[i] += k[j] * x[i]


def test_a_parameter_index_is_added_where_it_is_read():
    source = _adjoint(rebinds_its_index, (F64, F64, types.int64, F64)).source
    assert "cuda.atomic.add(k_adj, j, k_j_adj)" in source  # the argument j: its value at the read
    assert "cuda.atomic.add(k_adj, j_2, k_adj_sum_j_2)" in source  # j = 0 (renamed j_2): summed, added once
