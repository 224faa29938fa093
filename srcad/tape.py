"""``srcad.Tape``: records kernel launches and runs their adjoints in reverse.

    tape = srcad.Tape()
    with tape:
        for t in range(steps):
            step.launch(n, xs[t], vs[t], k, xs[t + 1], vs[t + 1], dt)
        loss_kernel.launch(n, xs[steps], loss)
    tape.backward(loss)              # loss: a one-element float array
    tape.gradient(xs[0]), tape.gradient(k)

Adjoint arrays are made when first needed, one per allocation (the array that owns the memory),
so views share them as they share memory: the adjoint of ``xs[t]`` is row t of the adjoint of
``xs``, whichever launch wrote or read it.

Overwrites. A launch that writes an array whose values this or an earlier recorded launch reads
(``x[i] += dt * v[i]`` in place, or a buffer reused across steps) would leave those adjoints
reading the new values. The tape copies such an array before the launch runs, and ``backward``
puts the copy back around the launch's adjoint, so every adjoint sees the values its launch saw;
when it is done, the arrays hold what the launches left in them, as before ``backward``.
"""

import threading

import numba
import numpy

_active = threading.local()


def active_tape():
    stack = getattr(_active, "stack", None)
    return stack[-1] if stack else None


class _Launch:
    def __init__(self, kernel, n, args, signature, saved):
        self.kernel, self.n, self.args, self.signature = kernel, n, args, signature
        self.saved = saved  # argument position -> a copy of that array as it was before the launch


class Tape:
    def __init__(self):
        self.launches = []
        self._read = []  # arrays whose values recorded launches read
        self._adjoints = {}  # id of an owning array -> (that array, its adjoint)

    def __enter__(self):
        """Start recording (again): launches recorded before are forgotten; adjoint arrays are kept."""
        self.launches, self._read = [], []
        stack = getattr(_active, "stack", None)
        if stack is None:
            stack = _active.stack = []
        stack.append(self)
        return self

    def __exit__(self, *exc):
        _active.stack.pop()
        return False

    def record(self, kernel, n, args, signature, module):
        reads = [args[k] for k in module.srcad_value_reads]
        saved = {}
        for k in module.srcad_writes:
            written = args[k]
            if any(numpy.may_share_memory(written, r) for r in self._read + reads):
                saved[k] = written.copy()
        kernel.module("adjoint", signature)  # generated now: what cannot be differentiated fails here
        self._read += reads
        self.launches.append(_Launch(kernel, n, args, signature, saved))

    def backward(self, loss):
        """Run the adjoints of the recorded launches, last first, from d loss / d loss = 1."""
        if not (isinstance(loss, numpy.ndarray) and loss.size == 1 and loss.dtype.kind == "f"):
            raise ValueError("tape.backward(loss) takes the loss as a one-element float array (written by a kernel)")
        self.adjoint(loss)[...] = 1.0
        restored = {id(launch.args[k]): launch.args[k] for launch in self.launches for k in launch.saved}
        final = [(array, array.copy()) for array in restored.values()]  # put back when done
        for launch in reversed(self.launches):
            module = launch.kernel.module("adjoint", launch.signature)
            for k, copy in launch.saved.items():  # the values the launch read
                launch.args[k][...] = copy
            adjoints = [self.adjoint(launch.args[k]) for k in module.srcad_float_arrays]
            module.srcad_launch(launch.n, numba.get_num_threads(), *launch.args, 0.0, *adjoints)
            for k, copy in launch.saved.items():  # its replay wrote them again
                launch.args[k][...] = copy
        for array, values in final:  # the arrays as the recorded launches left them
            array[...] = values

    def gradient(self, array):
        """d loss / d ``array`` after ``backward``: an array of its shape (zeros if the loss does not depend on it)."""
        return self.adjoint(array).copy()

    def zero(self):
        """Set every adjoint to zero (they are kept, for the next backward)."""
        for _, adjoint in self._adjoints.values():
            adjoint[...] = 0.0

    def adjoint(self, array):
        """The adjoint of ``array``: a view, with its strides, of the adjoint of the array owning its memory."""
        owner = array
        while isinstance(owner.base, numpy.ndarray):
            owner = owner.base
        entry = self._adjoints.get(id(owner))
        if entry is None or entry[0] is not owner:
            entry = self._adjoints[id(owner)] = (owner, numpy.zeros_like(owner, dtype=array.dtype))
        adjoint = entry[1]
        if owner is array:
            return adjoint
        offset = array.__array_interface__["data"][0] - owner.__array_interface__["data"][0]
        return numpy.ndarray(array.shape, array.dtype, buffer=adjoint, offset=offset, strides=array.strides)
