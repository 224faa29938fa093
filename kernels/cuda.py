"""The CUDA back end's runtime: the operations the tape needs on device memory (numba device arrays,
any ``__cuda_array_interface__`` object, or the arrays of numba's simulator). The kernels
themselves are written by ``transforms/kernel/cuda.py``.
"""

def is_device_array(value):
    return hasattr(value, "__cuda_array_interface__") or type(value).__name__ == "FakeCUDAArray"


def _interface(array):
    """(data pointer, shape, strides in bytes, dtype string) of a device array (or the simulator's)."""
    pointer = getattr(array, "device_ctypes_pointer", None)  # numba's device arrays: no dict built
    if pointer is not None:
        return pointer.value or 0, array.shape, array.strides, array.dtype.str
    wrapped = getattr(array, "_ary", None)  # numba's simulator keeps a NumPy array inside
    if wrapped is not None:
        info = wrapped.__array_interface__
        return info["data"][0], wrapped.shape, wrapped.strides, wrapped.dtype.str
    info = array.__cuda_array_interface__
    shape = tuple(info["shape"])
    itemsize = int(info["typestr"][2:])
    strides = info.get("strides") or _c_strides(shape, itemsize)
    return info["data"][0], shape, tuple(strides), info["typestr"]


def _c_strides(shape, itemsize):
    strides, step = [], itemsize
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def identity(array):
    """A key naming this view of device memory: the same view passed again has the same key."""
    return _interface(array)


def extent(array):
    """The bytes ``[start, end)`` a device array may touch."""
    pointer, shape, strides, typestr = _interface(array)
    itemsize = int(typestr[2:])
    if 0 in shape:
        return pointer, pointer
    low = pointer + sum(min(0, (n - 1) * s) for n, s in zip(shape, strides))
    high = pointer + sum(max(0, (n - 1) * s) for n, s in zip(shape, strides)) + itemsize
    return low, high


def overlap(a, b):
    (a0, a1), (b0, b1) = extent(a), extent(b)
    return a0 < b1 and b0 < a1


def zeros_like(array):
    import numpy
    from numba import cuda

    return cuda.to_device(numpy.zeros(array.shape, dtype=array.dtype))


def copy(array):
    from numba import cuda

    duplicate = cuda.device_array(array.shape, dtype=array.dtype)
    duplicate.copy_to_device(array)
    return duplicate


def to_host(array):
    """A NumPy copy of a device array (numba's, the simulator's, or any ``__cuda_array_interface__`` object)."""
    from numba import cuda

    if hasattr(array, "copy_to_host"):
        return array.copy_to_host()
    return cuda.as_cuda_array(array).copy_to_host()


def to_device(array):
    from numba import cuda

    return cuda.to_device(array)


def add_into(target, values):
    """``target += values`` for a device array and NumPy values (through the host: for calls, not kernels)."""
    total = to_host(target)
    total += values
    target.copy_to_device(total)


def copy_into(target, source):
    target.copy_to_device(source)


def fill(array, value):
    import numpy

    wrapped = getattr(array, "_ary", None)  # numba's simulator
    if value == 0.0 and wrapped is None and hasattr(array, "device_ctypes_pointer") and array.is_c_contiguous():
        from numba.cuda.cudadrv import driver

        driver.device_memset(array, 0, array.nbytes)  # on the GPU: no host array, no copy
        return
    array.copy_to_device(numpy.full(array.shape, value, dtype=array.dtype))
