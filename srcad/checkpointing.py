"""How a gradient keeps a long loop's reverse sweep in bounded memory: the ``checkpoint=`` option
of ``@srcad.differentiable`` and the ``SRCAD_MEMORY_BUDGET`` environment variable.

- ``checkpoint="auto"`` (the default): an outermost ``for`` loop keeps every iteration's tape where
  it fits in the memory budget, and runs in checkpointed segments where it does not (each segment's
  forward sweep runs again in the reverse sweep; see ``transforms/reverse/checkpoints.py``).
  ``grad``, ``value_and_grad`` and ``vjp`` first compile the adjoint that keeps every iteration,
  about half the code; where a loop's first iteration shows that all would not fit, it stops and
  the checkpointed adjoint compiles and runs instead, at that call and every later one;
- ``checkpoint=k`` (an integer): at most k kept states per loop, whatever the budget;
- ``checkpoint=None``: every iteration's tape is kept, as without checkpoints.

``SRCAD_MEMORY_BUDGET`` is the budget of one loop's tape, in bytes or with a unit (``512MB``,
``2GiB``); 1 GiB by default. It is read when a gradient is generated.
"""

import os
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class CheckpointPolicy:
    """How a gradient checkpoints its time loops: ``snapshots`` > 0 keeps at most that many states
    per loop; 0 keeps everything that fits in ``budget`` bytes, and checkpoints past it."""

    budget: int
    snapshots: int = 0
    # with a report (srcad.memory_report), the adjoint takes one more argument, an int64 array with a row
    # per checkpointed loop: the user's line, the iterations, what one keeps on the tape, the
    # state's bytes, the segment length chosen
    report: bool = False
    # keep every iteration, but raise kernels.runtime.TapeOverBudget after a loop's first iteration
    # where all of them would not fit in the budget: the adjoint without the code that runs segments
    # again compiles in about half the time, and its caller falls back on the checkpointed one
    escape: bool = False


DEFAULT_BUDGET = 1 << 30
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def memory_budget():
    """The budget in bytes ``SRCAD_MEMORY_BUDGET`` gives (1 GiB where it is not set)."""
    text = os.environ.get("SRCAD_MEMORY_BUDGET", "").strip()
    if not text:
        return DEFAULT_BUDGET
    match = re.fullmatch(r"(\d+(?:\.\d*)?)\s*([a-zA-Z]*)", text)
    if match is None or match.group(2).lower() not in _UNITS:
        raise ValueError(f"SRCAD_MEMORY_BUDGET={text!r}: write a number of bytes, or with a unit: 512MB, 2GiB")
    return max(0, int(float(match.group(1)) * _UNITS[match.group(2).lower()]))


def check_option(value):
    """Raise TypeError for a ``checkpoint=`` value that is none of "auto", None or a positive integer."""
    if value is None or value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return
    raise TypeError(f"checkpoint= takes 'auto', None or a number of kept states (an integer from 1 up); got {value!r}")


def policy_of(option):
    """The CheckpointPolicy a ``checkpoint=`` option stands for now (None: keep everything)."""
    if option is None:
        return None
    return CheckpointPolicy(memory_budget(), 0 if option == "auto" else option)
