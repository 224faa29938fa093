"""``srcad.memory_report(f, *args)``: what a gradient keeps for the reverse sweep of each time loop, with
and without checkpoints, and how much it runs again.

It runs the gradient once, with each checkpointed loop (``transforms/reverse/checkpoints.py``)
writing what it measured into a report: the loop's iterations, the bytes its first iteration put
on the tape, the bytes of the state it keeps per segment, and the segment length it chose under
the function's ``checkpoint=`` option and ``SRCAD_MEMORY_BUDGET``.
"""

import dataclasses
import math

import numpy

_ROWS = 64  # checkpointed loops one function may report


@dataclasses.dataclass(frozen=True)
class LoopMemory:
    """What one outermost loop keeps. ``segment_length`` equal to ``steps - 1`` (or more): nothing is
    checkpointed."""

    line: int
    steps: int
    bytes_per_step: int  # on the tape, measured on the first iteration
    state_bytes: int  # kept at the start of each segment
    segment_length: int

    @property
    def checkpointed(self):
        return self.steps > 1 and self.segment_length < self.steps - 1

    @property
    def bytes_stored(self):
        """Keeping every iteration's tape."""
        return self.steps * self.bytes_per_step

    @property
    def bytes_kept(self):
        """With the segments chosen: the first iteration's tape, one segment's, and a state per
        segment but the last."""
        if not self.checkpointed:
            return self.bytes_stored
        segments = math.ceil((self.steps - 1) / self.segment_length)
        return (1 + self.segment_length) * self.bytes_per_step + (segments - 1) * self.state_bytes

    @property
    def steps_run_again(self):
        """The iterations whose forward sweep runs twice: all but the first and the last segment's."""
        if not self.checkpointed:
            return 0
        last = (self.steps - 1) - (math.ceil((self.steps - 1) / self.segment_length) - 1) * self.segment_length
        return self.steps - 1 - last


@dataclasses.dataclass(frozen=True)
class MemoryReport:
    """``loops``: one ``LoopMemory`` per outermost loop the gradient may checkpoint and ran."""

    function: str
    loops: tuple

    @property
    def bytes_stored(self):
        return sum(loop.bytes_stored for loop in self.loops)

    @property
    def bytes_kept(self):
        return sum(loop.bytes_kept for loop in self.loops)

    @property
    def recomputation(self):
        """Iterations run again over iterations (0: none; at most about 1: each once more)."""
        steps = sum(loop.steps for loop in self.loops)
        return sum(loop.steps_run_again for loop in self.loops) / steps if steps else 0.0

    def __str__(self):
        lines = [f"the gradient of {self.function}: what its time loops keep for the reverse sweep"]
        if not self.loops:
            lines.append("  no outermost loop keeps anything on the tape")
        for loop in self.loops:
            how = (f"checkpointed: segments of {loop.segment_length}, {_size(loop.bytes_kept)} kept, "
                   f"{loop.steps_run_again} iterations run again" if loop.checkpointed else "every iteration kept")
            lines.append(f"  line {loop.line}: {loop.steps} iterations x {_size(loop.bytes_per_step)} "
                         f"= {_size(loop.bytes_stored)} stored; state {_size(loop.state_bytes)}; {how}")
        return "\n".join(lines)


def _size(count):
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"


def memory_report(function, *args, wrt=None):
    """What the gradient of ``function`` at ``args`` keeps for the reverse sweep of its time loops,
    measured by running it once: a ``MemoryReport`` (printable) with, per outermost loop, the bytes
    every iteration's tape would take, the bytes kept with the segments chosen under the
    ``checkpoint=`` option and ``SRCAD_MEMORY_BUDGET``, and the iterations run again.

    >>> import numpy as np
    >>> def chain(x, steps):
    ...     for t in range(steps):
    ...         x = np.sin(x) * 0.9
    ...     return np.sum(x)
    >>> report = memory_report(chain, np.ones(100), 1000)   # doctest: +SKIP
    >>> report.bytes_stored, report.bytes_kept       # doctest: +SKIP
    """
    from srcad.argument_types import argument_type, carries_derivatives
    from srcad.calls import FlatCall
    from srcad.gradients import _copied, _normalize_wrt
    from srcad.specialize import specializer_of

    specializer = specializer_of(function)
    specializer.validate()
    args = specializer.bind(args, None)
    if FlatCall(specializer, args).structures is not None:
        raise TypeError("srcad.memory_report takes float, int and array arguments (no tuples) for now")
    if wrt is None:  # every float argument, as srcad.source shows it
        wrt = tuple(k for k, a in enumerate(args) if carries_derivatives(argument_type(a)))
    signature, wrt = specializer.check_call(args, _normalize_wrt(wrt))
    module = specializer.memory_module(wrt, signature)
    report = numpy.zeros((_ROWS, 5), dtype=numpy.int64)
    module.dispatcher(*[_copied(a) for a in args], 1.0, report)
    loops = tuple(LoopMemory(*map(int, row)) for row in report if row[1] > 0)
    return MemoryReport(specializer.name, loops)
