"""What srcad knows of a module it generated, written into the module as one typed object
(``srcad_facts``), so that a later process reads the facts back with the code, from the cache.

    srcad_facts = DerivativeFacts(written_parameters=(0,), outputs=(("float", "float64"),), tuple_output=False)
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DerivativeFacts:
    """A derivative's module (adjoint, gradient or tangent)."""

    written_parameters: tuple  # positions of the array arguments the function writes in place
    outputs: tuple  # (kind, numba type) per output, kind "float", "array" or "other" (pipeline.output_kinds)
    tuple_output: bool  # whether the function returns a tuple (its structure is the normal form's)
    # whether a time loop may raise runtime.TapeOverBudget (its checkpoint policy's ``escape``)
    escapes_budget: bool = False


@dataclass(frozen=True)
class KernelFacts:
    """A kernel's module (forward or adjoint, CPU or CUDA); positions count the kernel's arguments."""

    value_reads: tuple  # arrays whose values a thread reads
    reads_before_writes: tuple  # of those, the ones a thread may read (or add to) before writing
    writes: tuple  # arrays written or added into
    updates: tuple  # of those, the ones a thread may read or add to before assigning: new values from the old
    float_arrays: tuple  # the float arrays, whose adjoints an adjoint launch takes
    may_overflow: bool = False  # a CUDA kernel whose per-thread tape may overflow (it reports it in a flag)


def spelled(facts):
    """``facts`` as the source line that defines them in a generated module."""
    return f"from srcad.kernels.facts import {type(facts).__name__}\n\nsrcad_facts = {facts!r}\n"
