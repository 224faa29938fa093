"""``srcad.memory_report(f, *args)``: what a gradient keeps for the reverse sweep of each time loop, with
and without checkpoints, and how much it runs again; ``srcad.grad(f, progress=True)``, which
reads the same report while the gradient runs.

It runs the gradient once, with each checkpointed loop (``transforms/reverse/checkpoints.py``)
writing what it measured into a report: the loop's iterations, the bytes its first iteration put
on the tape, the bytes of the state it keeps per segment, and the segment length it chose under
the function's ``checkpoint=`` option and ``SRCAD_MEMORY_BUDGET``.
"""

import dataclasses
import math
import threading

import numpy

from srcad import progress
from srcad.kernels.runtime import REPORT_ROWS


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
    run = _ReportedRun(function, args, None, wrt, "srcad.memory_report")
    run.gradient(*run.args, 1.0, run.report)
    return run.memory()


class _ReportedRun:
    """The gradient of ``function`` at ``args`` with its report: the ``memory`` stage, whose
    checkpointed loops write their rows of ``report`` (``REPORT_ROWS`` x 6: the user's line, the
    iterations, the bytes an iteration keeps, the state's bytes, the segment length, the iterations
    done in either sweep). ``wrt``: None for every float argument."""

    def __init__(self, function, args, kwargs, wrt, what):
        from srcad.argument_types import argument_type, carries_derivatives
        from srcad.calls import FlatCall
        from srcad.specialize import specializer_of

        specializer = specializer_of(function)
        specializer.validate()
        args = specializer.bind(args, kwargs)
        if FlatCall(specializer, args).structures is not None:
            raise TypeError(f"{what} takes float, int and array arguments (no tuples) for now")
        if wrt is None:  # every float argument, as srcad.source shows it
            wrt = tuple(k for k, a in enumerate(args) if carries_derivatives(argument_type(a)))
        signature, self.wrt = specializer.check_call(args, wrt if isinstance(wrt, tuple) else (wrt,))
        self.name = specializer.name
        self.gradient = specializer.reporting_gradient(self.wrt, signature)
        self.args = [a.copy() if isinstance(a, numpy.ndarray) else a for a in args]  # (arrays written in place too)
        self.report = numpy.zeros((REPORT_ROWS, 6), dtype=numpy.int64)

    def memory(self):
        return MemoryReport(self.name, tuple(LoopMemory(*map(int, row[:5])) for row in self.report if row[1] > 0))

    def progress(self):
        """(iterations done, iterations to do) of the loops that have started, over both sweeps."""
        return int(self.report[:, 5].sum()), 2 * int(self.report[:, 1].sum())


def gradient_with_progress(function, wrt, args, kwargs):
    """``srcad.grad(function, wrt, progress=True)(*args)``: the gradient computed in a thread of its own
    while this one shows its time loops' iterations done (``srcad.progress``; the compiled code
    releases the GIL and counts into its report array, which this thread reads ten times a
    second). The gradients, one per position in ``wrt``."""
    run = _ReportedRun(function, args, kwargs, wrt, "srcad.grad(f, progress=True)")
    outcome = {}

    def compute():
        try:
            outcome["result"] = run.gradient(*run.args, 1.0, run.report)
        except BaseException as error:  # raised again in the caller's thread
            outcome["error"] = error

    worker = threading.Thread(target=compute, name=f"srcad gradient of {run.name}", daemon=True)
    worker.start()
    shown, told, running = None, 0, True
    while running:  # (once more after the thread ends: a quick gradient may end before the first look)
        worker.join(0.1)
        running = worker.is_alive()
        done, total = run.progress()
        if total and shown is None:
            shown = progress.bar(total, f"grad({run.name})", True)
        if shown is not None and done > told:
            shown.update(done - told)
            told = done
    if shown is not None:
        shown.close()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"][1:]
