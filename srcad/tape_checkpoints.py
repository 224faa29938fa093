"""Checkpoints of a ``srcad.Tape``'s launches: ``srcad.Tape(checkpoint=k)`` or ``checkpoint="auto"``.

A tape that stores everything copies an array before each launch that overwrites memory an earlier
launch read (a buffer updated in place every step: one copy per step, T copies for T steps). A
checkpointed tape cuts its launches into segments instead and copies such an array only at its
first overwrite in a segment: the segment's *snapshot*, the memory the segment changes as it was
when the segment started. ``backward`` then takes the segments last first: it puts the segment's
snapshot back, runs the segment's launches again on a tape of its own (which copies as a storing
tape does, for k launches only), reverses those, and puts the snapshot back again, which leaves
the memory as the segment before left it. Memory: T/k snapshots and k launches' copies instead of
T copies; time: every launch runs twice.

What a snapshot covers: an array a launch writes where a storing tape would copy it (the memory
was read before, or the launch reads it itself), where the launch adds into it (``loss[0] +=``:
run again, it would add twice), and where an earlier launch wrote that memory (run again, an
earlier segment would leave its own values there, not the last ones). Why that is
enough: a segment's launches read memory the segment wrote (their run again writes it again) or
memory written before it; of the latter, what the segment or a later one overwrites was
snapshotted at the first overwrite, and the later segments' snapshots were put back before this
one runs again. Memory written once, by one launch (``xs[t + 1]`` of a preallocated trajectory),
needs no snapshot: running its launch again writes the same values.
"""

import math

from srcad import memory


def check_option(value):
    """Raise TypeError for a ``checkpoint=`` value of a tape that is none of None, "auto" or a
    positive integer."""
    if value is None or value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return
    raise TypeError(f"srcad.Tape(checkpoint=) takes None, 'auto' or a number of launches per segment (from 1 up); got {value!r}")


class Segments:
    """The segments of a checkpointed tape: where each starts among the tape's entries, and its
    snapshot, ``(array, copy)`` pairs in the order taken."""

    def __init__(self, every):
        self.every = every  # launches per segment, or "auto": about the square root of those recorded so far
        self.starts = []
        self.snapshots = []
        self._taken = set()  # the current segment's snapshots, by the byte range and shape they cover
        self.written = {"cpu": memory.Ranges(), "cuda": memory.Extents()}  # the memory recorded launches wrote
        self.launches = {}  # the tape's launches by what they run on (one object for launches alike)
        self.in_segment = set()  # the launches the current segment recorded (their keys in ``launches``)

    def entering(self, count):
        """Called before the tape's entry number ``count`` is recorded: starts a segment where one is due."""
        if self.starts and count - self.starts[-1] < self._length(self.starts[-1]):
            return
        self.starts.append(count)
        self.snapshots.append([])
        self._taken = set()
        self.in_segment = set()

    def _length(self, start):
        return self.every if self.every != "auto" else max(1, math.isqrt(start))

    def snapshot(self, array, extent):
        """Copy ``array`` (its bytes span ``extent``) into the current segment's snapshot, unless the
        segment has a copy of it already (then the launch about to overwrite it needs none)."""
        key = (extent, array.shape, array.strides)
        if key not in self._taken:
            self._taken.add(key)
            self.snapshots[-1].append((array, memory.copy(array)))

    def kept_bytes(self):
        return sum(copy.nbytes for taken in self.snapshots for _, copy in taken)

    def final_values(self):
        """Copies of the arrays the snapshots cover, as they are now (``backward`` puts them back when done)."""
        arrays = {id(array): array for taken in self.snapshots for array, _ in taken}
        return [(array, memory.copy(array)) for array in arrays.values()]

    def reversed(self, entries):
        """Each segment's entries, last segment first, each yielded while the memory its snapshot
        covers holds what it held when the segment started; then as the segment before left it."""
        ends = self.starts[1:] + [len(entries)]
        for start, end, taken in reversed(list(zip(self.starts, ends, self.snapshots))):
            self._put_back(taken)
            yield entries[start:end]
            self._put_back(taken)

    @staticmethod
    def _put_back(taken):
        for array, copy in reversed(taken):  # where snapshots overlap, the earliest's bytes last
            memory.copy_into(array, copy)
