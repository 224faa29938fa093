"""How long srcad's tape grows, shared by the benchmarks that print it beside a hand-written adjoint's storage."""

import re

import numpy as np


def srcad_tape_length(srcad, function, args, wrt):
    """(floats, ints) on srcad's tape at the end of the forward sweep for ``args``, counted by
    running srcad's generated adjoint source as plain Python (no numba) with a counting
    ``reserve``: srcad reserves room for the pushes that follow, so the largest reservation per
    stack is its length."""
    adjoint_source = srcad.source(function, "adjoint", args=args, wrt=wrt)
    name = re.search(r"^def (\w+_adjoint)\(", adjoint_source, re.MULTILINE).group(1)
    namespace = {"__name__": f"srcad_{function.__name__}_adjoint_counted"}
    exec(compile(adjoint_source, "<srcad adjoint>", "exec"), namespace)  # noqa: S102 - srcad's own output
    peaks = {}

    def reserve(stack, needed):
        key = stack.dtype.kind
        peaks[key] = max(peaks.get(key, 0), needed)
        if needed > stack.shape[0]:
            bigger = np.empty(max(needed, 2 * stack.shape[0]), dtype=stack.dtype)
            bigger[: stack.shape[0]] = stack
            return bigger
        return stack

    namespace.update(reserve=reserve)
    namespace[name](*[a.copy() if isinstance(a, np.ndarray) else a for a in args], 1.0)
    return peaks.get("f", 0), peaks.get("i", 0)
