"""Facts about the memory a tape sees: where an array's elements lie, which array owns them, and
the byte ranges recorded launches read (kept in Python for CUDA, compiled for the CPU, see
``kernels/recording.py``); copies and fills on either device."""

import bisect
import ctypes

import numpy

from srcad.kernels import cuda as device_memory
from srcad.kernels import recording


class Extents:
    """Byte ranges ``[start, end)`` of memory, merged, sorted: is a range touched? in O(log n)."""

    def __init__(self):
        self.starts, self.ends = [], []

    def add(self, start, end):
        first = bisect.bisect_left(self.ends, start)  # the ranges touching [start, end) are merged into it
        last = bisect.bisect_right(self.starts, end)
        if first < last:
            start, end = min(start, self.starts[first]), max(end, self.ends[last - 1])
        self.starts[first:last], self.ends[first:last] = [start], [end]

    def overlaps(self, start, end):
        index = bisect.bisect_right(self.ends, start)
        return index < len(self.starts) and self.starts[index] < end


class Ranges:
    """The CPU memory recorded launches read, as ``kernels/recording.py`` keeps it (compiled
    launchers add to it too): ``array[:count]``, sorted disjoint byte ranges."""

    def __init__(self):
        self.array, self.count = numpy.zeros((16, 2), dtype=numpy.int64), 0

    def make_room(self, more):
        if self.count + more > self.array.shape[0]:
            bigger = numpy.zeros((2 * (self.count + more), 2), dtype=numpy.int64)
            bigger[: self.count] = self.array[: self.count]
            self.array = bigger

    def add(self, start, end):
        self.make_room(1)
        self.count = recording.add_read(self.array, self.count, start, end)

    def overlaps(self, start, end):
        return recording.reads_overlap(self.array, self.count, start, end)


def owner(array):
    """The NumPy array that owns ``array``'s memory (``xs`` for the view ``xs[t]``)."""
    while isinstance(array.base, numpy.ndarray):
        array = array.base
    return array


def _address_from_interface(array):
    return array.__array_interface__["data"][0]


def _address_from_struct(array):
    return _read_pointer(id(array) + _DATA_OFFSET).value


# An array's data pointer, read from NumPy's array struct (its ``data`` field follows the object
# header): 0.3 us where ``__array_interface__`` takes 1.1 us, which every launch pays per array.
# Used only if it agrees with ``__array_interface__`` here, on arrays and views alike.
_DATA_OFFSET = object.__basicsize__
_read_pointer = ctypes.c_void_p.from_address
_samples = numpy.zeros((3, 4))
address = _address_from_interface
if all(_address_from_struct(a) == _address_from_interface(a) for a in (_samples, _samples[1], _samples[2, 1:], _samples.T)):
    address = _address_from_struct
del _samples


def extent(array, pointer=None):
    """The byte range ``(start, end)`` an array's elements span, on either device."""
    if not isinstance(array, numpy.ndarray):
        return device_memory.extent(array)
    pointer = address(array) if pointer is None else pointer
    if array.flags.c_contiguous:
        return pointer, pointer + array.nbytes
    if array.size == 0:
        return pointer, pointer
    low = pointer + sum(min(0, (n - 1) * s) for n, s in zip(array.shape, array.strides))
    high = pointer + sum(max(0, (n - 1) * s) for n, s in zip(array.shape, array.strides)) + array.itemsize
    return low, high


def copy(array):
    return array.copy() if isinstance(array, numpy.ndarray) else device_memory.copy(array)


def copy_into(target, source):
    if isinstance(target, numpy.ndarray):
        target[...] = source
    else:
        device_memory.copy_into(target, source)


def fill(array, value):
    if isinstance(array, numpy.ndarray):
        array[...] = value
    else:
        device_memory.fill(array, value)
