"""``@srcad.kernel``: data-parallel functions, one thread per element, and their launches.

    @srcad.kernel
    def step(x, v, k, x_out, v_out, dt):
        i = srcad.tid()
        v_out[i] = v[i] - dt * k[0] * x[i]
        x_out[i] = x[i] + dt * v_out[i]

    step.launch(n, x, v, k, x_out, v_out, 0.01)        # n threads, on the CPU (numba prange)

Inside a ``srcad.Tape`` a launch is recorded; ``tape.backward(loss)`` runs the generated adjoint
kernels in reverse. The thread's code is srcad's normal form of the kernel (``srcad.source(step,
"normalized")``), its adjoint the reverse mode of that (``srcad.source(step, "adjoint")``); both
are compiled per argument types, and launched by a small generated loop (``transforms/kernel/threads.py``).
"""

import hashlib
import threading

import numba
import numpy

from srcad import nested_calls, recording
from srcad.argument_types import argument_type, fast_type_key
from srcad.introspect import unwrap
from srcad.structure import UNKNOWN, NeedsStructures
from srcad.kernels import cpu
from srcad.specialize import specializer_of

_lock = threading.RLock()


class Kernel:
    def __init__(self, function, **options):
        self.python_function = unwrap(function)
        self.options = options
        self.__name__ = self.python_function.__name__
        self.__doc__ = self.python_function.__doc__
        self.specializer = specializer_of(self.python_function)
        self._normalized = None
        self._modules = {}  # (stage, signature, device) -> generated module
        self._fast_launches = {}  # (device, a cheap key of the arguments' types) -> (signature, forward module)
        self.last_signature = None
        from srcad.pipeline import Normalized

        try:  # errors in the kernel's code: here, at the decorator (unless it calls a helper defined later)
            self._normalized = Normalized(self.python_function, structures=UNKNOWN, kernel=True)
        except NeedsStructures:
            pass

    def __repr__(self):
        return f"<srcad.kernel {self.python_function.__qualname__}>"

    def __call__(self, *args, **kwargs):
        raise TypeError(f"a kernel runs with {self.__name__}.launch(n, *args): one thread per index 0..n-1")

    def normalized(self):
        if self._normalized is None:
            from srcad.pipeline import Normalized

            self._normalized = Normalized(self.python_function, kernel=True)
        return self._normalized

    @property
    def parameters(self):
        return self.specializer.parameters

    @property
    def dimensions(self):
        return len(self.normalized().threads)

    @property
    def arguments(self):
        """The thread function's parameters after the thread indices (the kernel's own)."""
        return self.normalized().parameters[self.dimensions:]

    def launch(self, n, *args, device="cpu"):
        """Run the kernel on ``n`` threads, ``srcad.tid()`` giving each its index, and record the
        launch on the active ``srcad.Tape``, if any. ``device="cpu"`` takes NumPy arrays;
        ``device="cuda"`` numba device arrays (``numba.cuda.to_device(x)``) or any object with
        ``__cuda_array_interface__`` (CuPy, PyTorch)."""
        fast_key = None
        if type(n) is int and n >= 0:
            types_key = fast_type_key(args) if device == "cpu" else _device_type_key(args) if device == "cuda" else None
            fast_key = (device, types_key) if types_key is not None else None
        known = self._fast_launches.get(fast_key) if fast_key is not None else None
        tape = recording.active_tape()
        if known is not None:  # arguments of types launched before, already checked then
            signature, module = known
            if (tape is not None and device == "cpu" and n < cpu.PARALLEL_FROM
                    and tape.launch_recorded(self, n, args, signature, module)):
                self.last_signature = signature
                return
            shape = (n,)
        else:
            shape = self.check_shape(n)
            args, signature = self.check_launch(args, device)
            module = self.module("forward", signature, device)
            if fast_key is not None and self.dimensions == 1:
                self._fast_launches[fast_key] = (signature, module)
        self.last_signature = signature
        if tape is not None:
            tape.record(self, shape, args, signature, module, device)
        self.run(module, shape, args, device)

    def check_shape(self, n):
        """The launch's threads per dimension, as a tuple: ``n`` an int (one dimension) or a tuple of
        as many ints as the kernel unpacks from ``srcad.tid()``."""
        shape = tuple(n) if isinstance(n, (tuple, list)) else (n,)
        dimensions = len(self.normalized().threads)
        if len(shape) != dimensions:
            raise ValueError(
                f"{self.__name__} has {dimensions} thread dimension(s) (from srcad.tid()), so launch it with "
                + ("n threads" if dimensions == 1 else f"a tuple of {dimensions} sizes") + f", not {n!r}"
            )
        for size in shape:
            if isinstance(size, bool) or not isinstance(size, (int, numpy.integer)) or size < 0:
                raise ValueError(f"{self.__name__}.launch: the number of threads must be an int >= 0, got {n!r}")
        return tuple(int(size) for size in shape)

    def source(self, stage="adjoint", device="cpu", args=None):
        """The generated source: ``"normalized"`` (one thread's work), or the ``"forward"`` or
        ``"adjoint"`` module for ``device``, for the types of ``args``, else of the last launch, else
        float64 arrays for the arguments the kernel indexes and float64 for the others."""
        if stage == "normalized":
            return self.normalized().source
        if stage not in ("forward", "adjoint"):
            raise ValueError(f"unknown stage {stage!r} of a kernel; choose 'normalized', 'forward' or 'adjoint'")
        if args is not None:
            signature = self.check_launch(list(args), device)[1]
        elif self.last_signature is not None:
            signature = self.last_signature
        else:
            from numba.core import types as numba_types

            access = self.access()
            arrays = access.value_reads | access.writes
            signature = (numba_types.int64,) * self.dimensions + tuple(
                numba_types.float64[::1] if p in arrays else numba_types.float64 for p in self.arguments
            )
        return self.module(stage, signature, device).source

    def run(self, module, shape, args, device):
        """Launch the generated ``module`` over threads of ``shape`` (threads are numbered in C order;
        the launcher recovers each index from the thread's number and the sizes after the first)."""
        n = 1
        for size in shape:
            n *= size
        inner = shape[1:]
        if device == "cpu":
            if n < cpu.PARALLEL_FROM:
                module.module.srcad_serial_launch(n, 1, *inner, *args)
            else:
                module.module.srcad_launch(n, numba.get_num_threads(), *inner, *args)
        elif n > 0:
            from numba import cuda

            block = int(self.options.get("block_size", 256))
            if not module.facts.may_overflow:  # no flag to read back: the launch stays asynchronous
                module.module.srcad_kernel[(n + block - 1) // block, block](n, *inner, *args)
                return
            overflow = cuda.to_device(numpy.zeros(1, dtype=numpy.int32))
            module.module.srcad_kernel[(n + block - 1) // block, block](n, overflow, *inner, *args)
            if overflow.copy_to_host()[0]:
                raise RuntimeError(
                    f"the adjoint of kernel {self.__name__} needed more than tape_capacity="
                    f"{self.options.get('tape_capacity', 64)} saved values per thread; give it more: "
                    f"@srcad.kernel(tape_capacity=...)"
                )

    def check_launch(self, args, device):
        """The arguments as the generated code takes them, and their types (the thread indices first)."""
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device={device!r}: kernels run on device='cpu' or device='cuda'")
        if len(args) != len(self.parameters):
            raise TypeError(
                f"{self.__name__}.launch(n, ...) takes {len(self.parameters)} arguments after n "
                f"({', '.join(self.parameters)}), got {len(args)}"
            )
        checked = []
        for name, value in zip(self.parameters, args):
            checked.append(self._checked_argument(name, value, device))
        for name, value in zip(self.parameters, checked):
            if isinstance(value, (bool, int, float)) and name in self._indexed():
                raise TypeError(
                    f"argument {name!r} of kernel {self.__name__} is {type(value).__name__}, but the kernel "
                    f"indexes it ({name}[...]): pass an array"
                )
        from numba.core import types as numba_types

        types = [argument_type(a) if device == "cpu" or not hasattr(a, "shape") else numba.typeof(a) for a in checked]
        return checked, (numba_types.int64,) * self.dimensions + tuple(types)

    def _checked_argument(self, name, value, device):
        if isinstance(value, numpy.floating):
            value = float(value)
        if isinstance(value, (numpy.integer,)) and not isinstance(value, bool):
            value = int(value)
        if isinstance(value, bool) or isinstance(value, (int, float)):
            return value
        if device == "cpu":
            if not isinstance(value, numpy.ndarray):
                if _is_on_gpu(value):
                    raise TypeError(f"argument {name!r} of kernel {self.__name__} is on a GPU: launch with device='cuda'")
                raise TypeError(
                    f"argument {name!r} of kernel {self.__name__} is {type(value).__name__}: kernels take NumPy "
                    "arrays, floats and ints"
                )
            if value.dtype.kind not in "fiub":
                raise TypeError(f"argument {name!r} of kernel {self.__name__} is an array of {value.dtype}")
            return value
        if isinstance(value, numpy.ndarray):
            raise TypeError(
                f"argument {name!r} of kernel {self.__name__} is a NumPy array, which lives in the CPU's memory: "
                f"with device='cuda' pass device arrays (numba.cuda.to_device({name}), or CuPy/PyTorch arrays)"
            )
        from numba import cuda

        if not _is_on_gpu(value):
            raise TypeError(f"argument {name!r} of kernel {self.__name__} is {type(value).__name__}, not a device array")
        return value if hasattr(value, "copy_to_device") else cuda.as_cuda_array(value)

    def module(self, stage, signature, device="cpu"):
        """The generated module of ``stage`` ("forward" or "adjoint") for ``signature`` (thread index
        first) on ``device``: ``srcad_launch`` (CPU) or ``srcad_kernel`` (CUDA), and what the kernel
        reads and writes."""
        key = (stage, tuple(map(id, signature)), device)  # numba types hash slowly; the same types are the same objects
        module = self._modules.get(key)
        if module is None:
            with _lock:
                module = self._modules.get(key)
                if module is None:
                    options = sorted(self.options.items())  # tape_capacity changes the CUDA kernel
                    text = f"{self.specializer.source_key()}|kernel {stage} {device} {options}|{','.join(map(str, signature))}"
                    cache_key = hashlib.sha256(text.encode()).hexdigest()
                    source = cpu.read_cached(cache_key)
                    if source is None:
                        source = self._generated(stage, signature, device)
                        cpu.store(cache_key, source)
                    module = self._modules[key] = cpu.loaded(cache_key, source)
                    module.signature = signature  # keeps the types in the key alive, so their ids stay theirs
        return module

    def _indexed(self):
        """Names of the kernel's parameters it indexes as arrays."""
        if getattr(self, "_indexed_names", None) is None:
            access = self.access()
            indexed = access.value_reads | access.writes | access.shared_reads | access.shared_adds
            self._indexed_names = {self.parameters[self.arguments.index(a)] for a in indexed if a in self.arguments}
        return self._indexed_names

    def access(self):
        """How the kernel uses its arrays (``transforms.kernel.Access``); refusals raised here."""
        from srcad.transforms import rules
        from srcad.transforms.kernel import threads as kernels

        normalized = self.normalized()
        with rules.overlay(normalized.call_rules):
            access = kernels.access_of(normalized.definition, self.arguments, normalized.threads)
        if access.refusals:
            line, why, fix = access.refusals[0]
            raise self.normalized().error_at_user_line(why, line, fix)
        return access

    def _generated(self, stage, signature, device):
        """The source of the module of ``stage`` for ``signature`` on ``device`` (see ``module``)."""
        normalized = self.normalized()
        if device == "cuda":  # a CUDA kernel calls no function compiled apart: derivatives inside are inlined
            normalized = normalized.with_derivatives_inlined(signature, nested_calls.inlined_derivative)
        return normalized.kernel_source(stage, signature, device, self.access(), self.options)


def _device_type_key(args):
    """A cheap key for the types of a CUDA launch's arguments: floats, ints and numba's device arrays
    (what numba types them by: dtype, rank, layout; its simulator's too); None for anything else
    (left to the checks)."""
    key = []
    for value in args:
        kind = type(value)
        if kind is float or kind is int or kind is bool:
            key.append(kind)
        elif hasattr(value, "flags") and (hasattr(value, "device_ctypes_pointer") or kind.__name__ == "FakeCUDAArray"):
            flags = value.flags
            broadcast = 0 in value.strides and value.size != 0
            key.append((kind, value.dtype, value.ndim, flags["C_CONTIGUOUS"], flags["F_CONTIGUOUS"], broadcast))
        else:
            return None
    return tuple(key)


def _is_on_gpu(value):
    return hasattr(value, "__cuda_array_interface__") or type(value).__name__ == "FakeCUDAArray"


def kernel(function=None, **options):
    """Mark ``function`` as a data-parallel kernel: launched with ``k.launch(n, *args)``, its body
    runs once per thread, ``srcad.tid()`` giving the thread's index. See ``srcad.kernel`` module docs."""
    if function is None:
        return lambda f: Kernel(f, **options)
    return Kernel(function, **options)
