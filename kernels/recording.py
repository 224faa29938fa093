"""What a tape keeps of the memory its recorded CPU launches read, compiled.

A tape must know, before a launch writes an array, whether an earlier recorded launch read that
memory (then it copies the array first; see ``srcad/tape.py``). It keeps the byte ranges read as
sorted, disjoint ``[start, end)`` rows of an int64 array, ranges that touch merged into one (the
rows ``xs[0], xs[1], ...`` read one after another stay a single range). A kernel's recorded
launcher (``transforms/kernel/launchers.py: recorded_launcher``) checks and adds its ranges with these
functions inside the same compiled call that runs the threads: done in Python, this bookkeeping
cost more than a small launch itself.

Every function here runs as plain Python too (``NUMBA_DISABLE_JIT=1``).
"""

from numba import njit


@njit(cache=True)
def extent_of(array):
    """The byte range ``(start, end)`` an array's elements span (its strides may be negative)."""
    start = array.ctypes.data
    if array.size == 0:
        return start, start
    end = start + array.itemsize
    for dimension in range(array.ndim):
        span = (array.shape[dimension] - 1) * array.strides[dimension]
        if span < 0:
            start += span
        else:
            end += span
    return start, end


@njit(cache=True)
def _first_ending_at_or_after(ranges, count, position):
    low, high = 0, count
    while low < high:
        middle = (low + high) // 2
        if ranges[middle, 1] < position:
            low = middle + 1
        else:
            high = middle
    return low


@njit(cache=True)
def reads_overlap(ranges, count, start, end):
    """Whether ``[start, end)`` shares a byte with one of the first ``count`` ranges."""
    if start >= end:
        return False  # an empty array's: no byte to share
    low, high = 0, count
    while low < high:  # the first range ending after start
        middle = (low + high) // 2
        if ranges[middle, 1] <= start:
            low = middle + 1
        else:
            high = middle
    return low < count and ranges[low, 0] < end


@njit(cache=True)
def add_read(ranges, count, start, end):
    """Add ``[start, end)`` to the first ``count`` ranges, merged with those it touches; returns the
    new count, or -1 (nothing changed) when ``ranges`` has no room for another row."""
    if start >= end:
        return count
    first = _first_ending_at_or_after(ranges, count, start)
    last = first
    while last < count and ranges[last, 0] <= end:
        last += 1
    if first < last:
        start = min(start, ranges[first, 0])
        end = max(end, ranges[last - 1, 1])
    new_count = count - (last - first) + 1
    if new_count > ranges.shape[0]:
        return -1
    if new_count != count:  # move the ranges after the merged ones
        shift = new_count - count
        if shift > 0:
            for row in range(count - 1, last - 1, -1):
                ranges[row + shift, 0], ranges[row + shift, 1] = ranges[row, 0], ranges[row, 1]
        else:
            for row in range(last, count):
                ranges[row + shift, 0], ranges[row + shift, 1] = ranges[row, 0], ranges[row, 1]
    ranges[first, 0], ranges[first, 1] = start, end
    return new_count
