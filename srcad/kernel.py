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

from srcad import recording
from srcad.argument_types import argument_type, fast_type_key
from srcad.errors import DifferentiabilityError, first_column
from srcad.introspect import unwrap
from srcad.structure import UNKNOWN, NeedsStructures
from srcad.kernels import cpu
from srcad.kernels.facts import KernelFacts
from srcad.kernels.facts import spelled as spelled_facts
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
        return self.module(stage, signature, device).srcad_source

    def run(self, module, shape, args, device):
        """Launch the generated ``module`` over threads of ``shape`` (threads are numbered in C order;
        the launcher recovers each index from the thread's number and the sizes after the first)."""
        n = 1
        for size in shape:
            n *= size
        inner = shape[1:]
        if device == "cpu":
            if n < cpu.PARALLEL_FROM:
                module.srcad_serial_launch(n, 1, *inner, *args)
            else:
                module.srcad_launch(n, numba.get_num_threads(), *inner, *args)
        elif n > 0:
            from numba import cuda

            block = int(self.options.get("block_size", 256))
            if not module.srcad_facts.may_overflow:  # no flag to read back: the launch stays asynchronous
                module.srcad_kernel[(n + block - 1) // block, block](n, *inner, *args)
                return
            overflow = cuda.to_device(numpy.zeros(1, dtype=numpy.int32))
            module.srcad_kernel[(n + block - 1) // block, block](n, overflow, *inner, *args)
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
                    module = self._modules[key] = cpu.load_module(cache_key)
                    module.srcad_source = source
                    module.srcad_signature = signature  # keeps the types in the key alive, so their ids stay theirs
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
            raise self._error(why, line, fix)
        return access

    def _error(self, why, line, fix=None):
        """A DifferentiabilityError at the user's ``line`` of the kernel."""
        filename = self.normalized().parsed.filename
        if not line:
            return DifferentiabilityError(why, filename=filename, fix=fix)
        return DifferentiabilityError(why, filename=filename, lineno=line, col=first_column(filename, line), fix=fix)

    def _generated(self, stage, signature, device):
        """The source of ``module``'s module, generated with the rules of the kernel's calls that stay
        calls known (``rules.overlay``)."""
        from srcad.transforms import rules

        with rules.overlay(self.normalized().call_rules):
            return self._generated_source(stage, signature, device)

    def _generated_source(self, stage, signature, device):
        from srcad.transforms import rules
        from srcad.transforms.kernel import launchers
        from srcad.transforms.kernel import threads as kernels
        from srcad.transforms.output import emit
        from srcad.transforms.reverse.adjoint import reverse_mode

        normalized = self.normalized()
        dimensions = self.dimensions
        parameters = self.arguments
        access = self.access()
        float_arrays = [  # positions in the thread function's parameters
            k + dimensions for k, t in enumerate(signature[dimensions:]) if hasattr(t, "dtype") and "float" in str(t.dtype)
        ]
        may_overflow = False  # a CUDA kernel's tape may overflow
        if stage == "forward":
            thread = normalized.definition
            atomic = set(access.shared_adds)
            arguments = parameters
        else:
            wrt = tuple(float_arrays)
            analysis, names, definition = normalized._analysis(
                wrt, signature, also_useful=[normalized.parameters[k] for k in wrt]
            )
            thread = normalized._generated(
                reverse_mode, definition, normalized.parameters, wrt, analysis, names, False, True
            )
            thread = kernels.without_replayed_writes(thread, [p for p in parameters if p not in access.value_reads])
            atomic = {f"{normalized.parameters[k]}_adj" for k in wrt if normalized.parameters[k] in access.shared_reads}
            arguments = parameters + ["output_adj"] + [f"{normalized.parameters[k]}_adj" for k in wrt]
        thread_function = thread.name.value
        header = dict(origin=normalized.origin, constants=normalized.constants,
                      index_arrays_as_views=False)
        if device == "cpu":
            source = emit.module_source(thread, stage=f"kernel {stage} (one thread)", **header)
            ranks = {}  # the private arrays' numbers of dimensions (an adjoint's are its array's)
            for position, parameter in enumerate(parameters):
                kind = signature[dimensions + position]
                for name_ in (parameter, f"{parameter}_adj"):
                    if name_ in atomic and hasattr(kind, "ndim"):
                        ranks[name_] = kind.ndim
            launcher = launchers.cpu_launcher(f"{thread_function}_launch", thread, arguments, atomic, dimensions, ranks)
            serial = launchers.serial_launcher(f"{thread_function}_serial", thread, arguments, dimensions)
            source += (
                "\n\nimport numba\nfrom numba import prange\n\n\n"
                + "# The launchers: the thread's code above, inlined into a loop over the threads.\n"
                + launcher + "\n\n" + serial
                + f"\n\nsrcad_launch = numba.njit(parallel=True, cache=True, error_model=\"numpy\")({thread_function}_launch)\n"
                + f"srcad_serial_launch = numba.njit(cache=True, error_model=\"numpy\")({thread_function}_serial)\n"
            )
            positions = {p: k for k, p in enumerate(parameters)}
            if stage == "forward":  # a launch recorded on a tape, bookkeeping and threads in one call
                is_array = [hasattr(t, "ndim") for t in signature[dimensions:]]
                recorded = launchers.recorded_launcher(
                    f"{thread_function}_recorded", "srcad_serial_launch", arguments, is_array,
                    sorted(positions[a] for a in access.value_reads), sorted(positions[a] for a in access.writes),
                    sorted(positions[a] for a in access.reads_before_writes), dimensions,
                )
                source += (
                    "\n\nfrom srcad.kernels.recording import extent_of, reads_overlap, add_read\n\n\n" + recorded
                    + f"\n\nsrcad_recorded_launch = numba.njit(cache=True, error_model=\"numpy\")({thread_function}_recorded)\n"
                )
            if stage == "adjoint":  # the tape's backward pass over many launches of this adjoint
                is_array = [hasattr(t, "ndim") for t in signature[dimensions:]]
                adjoint_arguments = [k - dimensions for k in float_arrays]
                for replay, launcher in (("srcad_replay", "srcad_serial_launch"), ("srcad_parallel_replay", "srcad_launch")):
                    source += "\n\n" + launchers.replay_launcher(f"{replay}_python", launcher, is_array, adjoint_arguments,
                                                               dimensions)
                    source += f"{replay} = numba.njit(cache=True)({replay}_python)\n"
        else:
            from srcad.transforms.kernel import cuda as device_code

            try:
                text, may_overflow = device_code.kernel_source(
                    thread, f"{thread_function}_kernel", atomic, rules.NUMPY_TWINS, self.options.get("tape_capacity", 64),
                    dimensions, int(self.options.get("block_size", 256)),
                )
            except device_code.NotOnCuda as refused:
                line = kernels.user_line(refused.statement)
                raise self._error(refused.why, line, "Run this kernel with device='cpu'.") from None
            source = emit.module_source(cst_definition(text), stage=f"CUDA kernel {stage}", **header)
            source += (
                "\n\nimport numba\nfrom numba import cuda\n\n"
                + f"srcad_kernel_function = {thread_function}_kernel\n"
                + f"srcad_kernel = cuda.jit({thread_function}_kernel)\n"
            )
        positions = {p: k for k, p in enumerate(parameters)}
        facts = KernelFacts(
            value_reads=tuple(sorted(positions[a] for a in access.value_reads)),
            reads_before_writes=tuple(sorted(positions[a] for a in access.reads_before_writes)),
            writes=tuple(sorted(positions[a] for a in access.writes)),
            float_arrays=tuple(k - dimensions for k in float_arrays),
            may_overflow=may_overflow,
        )
        return source + "\n" + spelled_facts(facts)


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


def cst_definition(text):
    import libcst as cst

    return cst.parse_statement(text)


def _is_on_gpu(value):
    return hasattr(value, "__cuda_array_interface__") or type(value).__name__ == "FakeCUDAArray"


def kernel(function=None, **options):
    """Mark ``function`` as a data-parallel kernel: launched with ``k.launch(n, *args)``, its body
    runs once per thread, ``srcad.tid()`` giving the thread's index. See ``srcad.kernel`` module docs."""
    if function is None:
        return lambda f: Kernel(f, **options)
    return Kernel(function, **options)
