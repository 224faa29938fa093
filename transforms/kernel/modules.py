"""Pass: a kernel's generated module, for one stage (forward or adjoint) and one device.

    thread function (the kernel's normal form, or its thread adjoint)
      -> CPU:  the thread function, its launchers (``launchers.py``) and the names srcad runs them by:
               srcad_launch (prange over chunks), srcad_serial_launch, and srcad_recorded_launch
               (forward) or srcad_replay / srcad_parallel_replay (adjoint, a tape's backward pass)
      -> CUDA: the kernel (``cuda.py``) as srcad_kernel
      -> and srcad_facts: what the runtime reads of the module (``srcad.kernels.facts.KernelFacts``)

The result, a ``KernelModule`` of libcst statements, is printed with the module's header by
``output/emit.py``.
"""

from dataclasses import dataclass

import libcst as cst

from srcad.kernels.facts import KernelFacts

from .. import rules
from ..ir import comment_lines, statements_of
from . import cuda, launchers
from .threads import without_replayed_writes


@dataclass
class KernelModule:
    definition: cst.FunctionDef  # the thread function (CPU) or the CUDA kernel
    after: list  # the statements after it: launchers, the names srcad runs, the facts
    imports: list  # the import lines those need, beyond the header's


def float_array_positions(signature, dimensions):
    """Positions, among the thread function's parameters (its indices first), of the float arrays:
    the arguments whose adjoints an adjoint launch adds into."""
    return [k for k, kind in enumerate(signature) if k >= dimensions and hasattr(kind, "dtype") and "float" in str(kind.dtype)]


def kernel_module(thread, *, stage, device, signature, dimensions, access, options):
    """The module of ``stage`` ("forward": ``thread`` is the kernel's normal form; "adjoint": its
    thread adjoint, ``f_adjoint(*indices, *arguments, output_adj, *adjoints of the float arrays)``) on
    ``device`` ("cpu" or "cuda"), for argument types ``signature`` (indices first). ``access``: how a
    thread uses the kernel's arrays (``threads.access_of``); ``options``: the kernel's
    (``tape_capacity``, ``block_size``). Raises ``cuda.NotOnCuda`` for what a CUDA kernel cannot do."""
    parameters = [p.name.value for p in thread.params.params[dimensions:]][: len(signature) - dimensions]
    float_arrays = float_array_positions(signature, dimensions)
    if stage == "forward":
        atomic = set(access.shared_adds)
        arguments = parameters
    else:
        thread = without_replayed_writes(thread, [p for p in parameters if p not in access.value_reads])
        adjoints = [f"{parameters[k - dimensions]}_adj" for k in float_arrays]
        atomic = {f"{parameters[k - dimensions]}_adj" for k in float_arrays if parameters[k - dimensions] in access.shared_reads}
        arguments = parameters + ["output_adj"] + adjoints
    may_overflow = False
    if device == "cpu":
        definition, after, imports = thread, *_cpu_launchers(thread, stage, signature, dimensions, parameters, arguments,
                                                             atomic, access, float_arrays)
    else:
        definition, may_overflow = cuda.kernel_definition(
            thread, f"{thread.name.value}_kernel", atomic, rules.NUMPY_TWINS, options.get("tape_capacity", 64),
            dimensions, int(options.get("block_size", 256)),
        )
        after = statements_of(f"srcad_kernel_function = {definition.name.value}\n"
                            f"srcad_kernel = cuda.jit({definition.name.value})\n")
        imports = ["import numba", "from numba import cuda"]
    positions = {p: k for k, p in enumerate(parameters)}
    facts = KernelFacts(
        value_reads=tuple(sorted(positions[a] for a in access.value_reads)),
        reads_before_writes=tuple(sorted(positions[a] for a in access.reads_before_writes)),
        writes=tuple(sorted(positions[a] for a in access.writes)),
        updates=tuple(sorted(positions[a] for a in access.updates)),
        float_arrays=tuple(k - dimensions for k in float_arrays),
        may_overflow=may_overflow,
    )
    after.append(_commented(cst.parse_statement(f"srcad_facts = {facts!r}"), "# What srcad's runtime reads of this module."))
    return KernelModule(definition, after, imports + [f"from srcad.kernels.facts import {type(facts).__name__}"])


def _cpu_launchers(thread, stage, signature, dimensions, parameters, arguments, atomic, access, float_arrays):
    """The CPU launchers of ``thread`` and the names srcad runs them by, and their imports."""
    name = thread.name.value
    ranks = {}  # the private arrays' numbers of dimensions (an adjoint's are its array's)
    for position, parameter in enumerate(parameters):
        kind = signature[dimensions + position]
        for array in (parameter, f"{parameter}_adj"):
            if array in atomic and hasattr(kind, "ndim"):
                ranks[array] = kind.ndim
    launcher = launchers.cpu_launcher(f"{name}_launch", thread, arguments, atomic, dimensions, ranks)
    after = [_commented(launcher, "# The launchers: the thread's code above, inlined into a loop over the threads."),
             launchers.serial_launcher(f"{name}_serial", thread, arguments, dimensions)]
    after += statements_of(f'srcad_launch = numba.njit(parallel=True, cache=True, error_model="numpy")({name}_launch)\n'
                         f'srcad_serial_launch = numba.njit(cache=True, error_model="numpy")({name}_serial)\n')
    imports = ["import numba", "from numba import prange"]
    positions = {p: k for k, p in enumerate(parameters)}
    is_array = [hasattr(t, "ndim") for t in signature[dimensions:]]
    if stage == "forward":  # a launch recorded on a tape, bookkeeping and threads in one call
        after.append(launchers.recorded_launcher(
            f"{name}_recorded", "srcad_serial_launch", arguments, is_array,
            sorted(positions[a] for a in access.value_reads), sorted(positions[a] for a in access.writes),
            sorted(positions[a] for a in access.reads_before_writes), dimensions,
        ))
        after += statements_of(f'srcad_recorded_launch = numba.njit(cache=True, error_model="numpy")({name}_recorded)\n')
        imports.append("from srcad.kernels.recording import extent_of, reads_overlap, add_read")
    else:  # the tape's backward pass over many launches of this adjoint
        for replay, launch in (("srcad_replay", "srcad_serial_launch"), ("srcad_parallel_replay", "srcad_launch")):
            after.append(launchers.replay_launcher(f"{replay}_python", launch, is_array,
                                                   [k - dimensions for k in float_arrays], dimensions))
            after += statements_of(f"{replay} = numba.njit(cache=True)({replay}_python)\n")
    return after, imports


def _commented(statement, comment):
    """``statement`` under a blank line and the line ``comment``."""
    return statement.with_changes(leading_lines=[cst.EmptyLine(), *comment_lines(comment), *statement.leading_lines])
