"""The tape generated CPU code uses: two growable stacks, and typed lists for saved arrays.

A stack is a NumPy array and a separate integer top, both plain variables of
the generated function: a push is ``tape_floats[floats_top] = x; floats_top += 1``
and a pop ``floats_top -= 1; x = tape_floats[floats_top]``, written out in
place (numba compiles a call to a helper returning the new top measurably
slower in hot reverse loops). This module makes and grows the stacks.

Every function here runs as plain Python too (``NUMBA_DISABLE_JIT=1``).
"""

import numpy as np
from numba import njit
from numba.typed import List

_INITIAL_CAPACITY = 64
REPORT_ROWS = 64  # checkpointed loops of one function with a row in a report (srcad.memory_report, progress)
_ARRAY_OVERHEAD = 128  # bytes an array costs beside its elements (numba's meminfo and struct, malloc's header)


@njit(cache=True)
def new_float_stack():
    return np.empty(_INITIAL_CAPACITY, dtype=np.float64)


@njit(cache=True)
def new_int_stack():
    return np.empty(_INITIAL_CAPACITY, dtype=np.int64)


@njit(cache=True)
def _grown(stack, needed):
    # Grow fourfold: a tape filled step by step is copied a third of its size in all, not its whole
    # size as with doubling; np.empty leaves the unused part untouched, so it costs no memory yet.
    bigger = np.empty(max(needed, 4 * stack.shape[0]), dtype=stack.dtype)
    bigger[: stack.shape[0]] = stack
    return bigger


# Capacity is reserved once per loop (or per iteration, or per straight run of
# code) for the pushes that follow, so a push itself never reallocates: the
# stack array is not reassigned in the hot loop, and numba does no reference
# counting there. Pushes are unchecked (the reserve pass counts them); the
# tests run generated code with NUMBA_BOUNDSCHECK=1 and as plain Python, where
# a miscount raises IndexError.
@njit(cache=True)
def reserve(stack, needed):
    """``stack``, or a copy with room for ``needed`` values."""
    if needed > stack.shape[0]:
        return _grown(stack, needed)
    return stack


@njit(cache=True)
def empty_list_like(sample):
    """An empty typed list for items of ``sample``'s type. ``List()`` takes its type from the first
    append, which numba cannot see when that append sits in a branch it prunes as never taken."""
    items = List()
    items.append(sample)
    items.pop()
    return items


# -- checkpointed loops (transforms/reverse/checkpoints.py) ----------------------------------------
@njit(cache=True)
def segment_length(count, step_bytes, snapshot_bytes, budget, snapshots):
    """How many iterations of a checkpointed loop run between two kept states, for ``count``
    iterations that keep ``step_bytes`` each on the tape and a state of ``snapshot_bytes``:
    ``snapshots`` > 0 asks for at most that many kept states; otherwise everything is kept where it
    fits in ``budget`` bytes, and else the segment length that keeps the least (tape of one segment
    plus one state per segment: sqrt(count * state / step) iterations). Every length costs the same
    time: each iteration runs once more, without the tape, except in the first and last segments."""
    if count <= 0:
        return 1
    if snapshots > 0:
        return max(1, (count + snapshots) // (snapshots + 1))  # snapshots + 1 segments: all but the last kept
    if count * step_bytes <= budget:
        return count
    length = int(np.sqrt(count * max(snapshot_bytes, 8) / max(step_bytes, 1)))
    return min(count, max(1, length))


class TapeOverBudget(Exception):
    """Raised by an adjoint that keeps every iteration of its time loops (``within_budget``) where
    one loop's would not fit in the memory budget: its caller runs the checkpointed adjoint instead."""


@njit(cache=True)  # (compiled once per budget: numba takes the budget as a literal)
def within_budget(count, step_bytes, budget):
    """``count``, the iterations left of a loop keeping ``step_bytes`` each on the tape, where they
    all fit in ``budget`` bytes (as ``segment_length`` decides); else raise TapeOverBudget."""
    if count * step_bytes > budget:
        raise TapeOverBudget("a time loop's tape does not fit in the memory budget: run it checkpointed")
    return max(count, 1)


@njit(cache=True)
def forget_from(items, first):
    """Drop the items a typed list holds from position ``first`` on."""
    while len(items) > first:
        items.pop()


@njit(cache=True)
def kept_bytes(items, first):
    """The bytes of the arrays a typed list holds from position ``first`` on (with what each array
    costs beside its elements: its header and its allocation's)."""
    total = 0
    for k in range(first, len(items)):
        total += items[k].nbytes + _ARRAY_OVERHEAD
    return total


@njit(cache=True)
def no_grad(x):
    """The value of ``x`` with its derivative cut: ``srcad.no_grad``."""
    return x


def tid():
    """The index of the thread running a ``@srcad.kernel`` (0 to n - 1 for ``launch(n, ...)``).

    Only meaningful inside a kernel: srcad replaces the call by the thread index when it compiles
    the kernel, on the CPU and on CUDA alike."""
    raise RuntimeError("srcad.tid() gives a thread index only inside a @srcad.kernel launched with kernel.launch(n, ...)")


def atomic_add(array, index, value):
    """``array[index] += value``, safe when many threads of a ``@srcad.kernel`` add to one element
    (``cuda.atomic.add`` on a GPU; per-thread partial sums on the CPU). Differentiable: the adjoint
    of ``value`` is the adjoint of ``array[index]``. Returns nothing."""
    array[index] += value
