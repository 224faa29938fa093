"""Kernels on CUDA without a GPU: every forward and adjoint kernel of the kernel tests compiled to PTX
(NVVM from the numba-cuda package), and the simulations run in numba's CUDA simulator in a separate
process (``tests/kernels/cuda_simulated.py``: the simulator must be switched on before numba.cuda loads)."""

import os
import subprocess
import sys

import numpy as np
import pytest

import srcad

cuda = pytest.importorskip("numba.cuda")
from numba.core import types  # noqa: E402

from test_global_arrays import scaled_squares  # noqa: E402
from test_module_constants import drift  # noqa: E402
from test_precedence import alternate  # noqa: E402
from test_kernels import (  # noqa: E402
    diffuse, euler_in_place, gather, gather_neighbours, grid_sum_of_squares, grow_until, matvec, scale32, scatter, spring_step,
    sum_of_squares, weighted_square_sum,
)
from test_tape_checkpoints import advance, forces  # noqa: E402
from test_nested_derivatives import every_form_kernel, force_kernel, series_force_kernel  # noqa: E402

_EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")
sys.path.insert(0, _EXAMPLES)
import cloth_design  # noqa: E402  (examples/cloth_design.py: its kernels run on CUDA with --device cuda)

sys.path.remove(_EXAMPLES)
GRID3 = types.float64[:, :, ::1]

F64, F32, I64, GRID = types.float64[::1], types.float32[::1], types.int64[::1], types.float64[:, ::1]
KERNELS = {  # kernel -> its argument types, and whether its forward / adjoint kernel must add atomically
    "spring_step": (spring_step, (F64, F64, F64, F64, F64, types.float64), False, True),
    "force_kernel": (force_kernel, (F64, F64, F64), False, True),  # srcad.grad(energy) inside: inlined
    "series_force_kernel": (series_force_kernel, (F64, F64, F64), False, True),  # ... an energy with a loop
    "every_form_kernel": (every_form_kernel, (F64, F64, F64), False, True),  # srcad.jvp, srcad.vjp inside
    "sum_of_squares": (sum_of_squares, (F64, F64), True, False),
    "euler_in_place": (euler_in_place, (F64, F64, F64, types.float64), False, True),
    "scatter": (scatter, (F64, I64, F64, F64), True, False),
    "weighted_square_sum": (weighted_square_sum, (F64, F64), True, False),
    "scale32": (scale32, (F32, F32, types.float64), False, False),
    "diffuse": (diffuse, (GRID, F64, GRID), False, True),
    "grid_sum_of_squares": (grid_sum_of_squares, (GRID, F64), True, False),
    "matvec": (matvec, (GRID, F64, F64), False, True),
    "gather": (gather, (F64, I64, F64), False, True),
    "gather_neighbours": (gather_neighbours, (F64, F64), False, True),  # reads a module-level index table
    "grow_until": (grow_until, (F64, F64), False, False),
    "scaled_squares": (scaled_squares, (F64, F64), True, False),  # reads a module-level array
    "drift": (drift, (F64, F64), False, False),  # reads a module's numbers (cfg.DT)
    "alternate": (alternate, (F64, F64), False, False),  # integer powers: a ** b as written on the device
    "forces": (forces, (F64, F64, F64), False, True),  # (a checkpointed tape's in-place simulation)
    "advance": (advance, (F64, F64, F64, types.float64), False, False),
    "cloth_spring_forces": (cloth_design.spring_forces, (GRID3, F64, GRID3), False, True),
    "cloth_advance": (cloth_design.advance, (GRID3, GRID3, GRID3, types.float64), False, False),
    "cloth_bottom_edge_miss": (cloth_design.bottom_edge_miss, (GRID3, F64, F64), True, True),  # target[j]: a column's threads share it
}


def _ptx(kernel, stage, argument_types):
    dimensions = kernel.dimensions
    module = kernel.module(stage, (types.int64,) * dimensions + argument_types, "cuda")
    extra = ()
    if stage == "adjoint":
        extra = (types.float64,) + tuple(t for t in argument_types if isinstance(t, types.Array) and t.dtype in (types.float64, types.float32))
    sizes = (types.int64,) * (dimensions - 1)
    flag = (types.int32[::1],) if module.facts.may_overflow else ()  # kernels with stacks take the overflow flag
    ptx, _ = cuda.compile_ptx(module.module.srcad_kernel_function, (types.int64,) + flag + sizes + argument_types + extra,
                              cc=(8, 0))
    return ptx


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_forward_and_adjoint_kernels_compile_to_ptx(name):
    kernel, argument_types, forward_atomic, adjoint_atomic = KERNELS[name]
    for stage, atomic in (("forward", forward_atomic), ("adjoint", adjoint_atomic)):
        ptx = _ptx(kernel, stage, argument_types)
        assert ".visible .entry" in ptx
        width = "f32" if argument_types[0] is F32 else "f64"
        assert (f"atom.global.add.{width}" in ptx) == atomic, (stage, atomic)


def test_the_adjoint_keeps_branch_decisions_in_local_memory():
    ptx = _ptx(spring_step, "adjoint", KERNELS["spring_step"][1])
    assert ".local" in ptx  # the tape's stack: per-thread local memory, no allocation


def test_the_cuda_source_is_shown():
    source = srcad.source(spring_step, "adjoint", device="cuda")
    assert "cuda.grid(1)" in source and "cuda.atomic.add(x_adj" in source


def test_numpy_arrays_are_refused_on_cuda():
    with pytest.raises(TypeError, match="to_device"):
        sum_of_squares.launch(3, np.ones(3), np.zeros(1), device="cuda")


def _run_simulations(simulated):
    script = os.path.join(os.path.dirname(__file__), "cuda_simulated.py")
    environment = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    if simulated:
        environment["NUMBA_ENABLE_CUDASIM"] = "1"
    result = subprocess.run([sys.executable, script], capture_output=True, text=True, env=environment, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    # four user kernels: a loss each, 5 gradients; the table: 2; differentiable calls on device arrays: 2;
    # block sums: 4, a NumPy array refused after fast launches: 1, a module's numbers: 1; a checkpointed tape: 4
    assert result.stdout.count("ok ") == 8 + 4 + 5 + 2 + 2 + 4 + 1 + 1 + 4 + 4


def test_simulations_on_the_cuda_simulator():
    _run_simulations(simulated=True)


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" or not cuda.is_available(), reason="needs a CUDA GPU")
def test_simulations_on_a_gpu():
    _run_simulations(simulated=False)


@srcad.differentiable
def doubles_in_place(x):
    x *= 2.0
    return np.sum(x)


class _DeviceArrayStandIn:
    """Any object with __cuda_array_interface__ (CuPy, PyTorch) counts as a CUDA array."""

    __cuda_array_interface__ = {"shape": (3,), "typestr": "<f8", "data": (0, False), "version": 3}


def test_a_call_on_cuda_arrays_that_writes_them_in_place_is_refused():
    # such calls run on host copies (see cuda_simulated.py): an in-place write would not reach the GPU
    with pytest.raises(ValueError, match="'x' in place.*host copies"):
        doubles_in_place(_DeviceArrayStandIn())


def test_only_kernels_with_stacks_read_the_overflow_flag_back():
    # reading the flag back waits for the kernel: launches without stacks must not, or every launch synchronizes
    def modules(name):
        kernel, argument_types, _, _ = KERNELS[name]
        signature = (types.int64,) * kernel.dimensions + argument_types
        return [kernel.module(stage, signature, "cuda") for stage in ("forward", "adjoint")]

    assert [m.facts.may_overflow for m in modules("spring_step")] == [False, False]
    forward, adjoint = modules("grow_until")  # its adjoint keeps each iteration's z on a stack
    assert (forward.facts.may_overflow, adjoint.facts.may_overflow) == (False, True)
    assert "overflow[0] = 1" in adjoint.source and "(threads, overflow," in adjoint.source
    assert "overflow" not in forward.source.split("srcad_kernel_function")[0]  # not even a parameter
