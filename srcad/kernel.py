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
are compiled per argument types, and launched by a small generated loop (``transforms/kernel.py``).
"""

import hashlib
import threading

import numba
import numpy

from srcad.errors import DifferentiabilityError
from srcad.introspect import unwrap
from srcad.kernels import cpu
from srcad.specialize import argument_type, specializer_of

_lock = threading.RLock()


class Kernel:
    def __init__(self, function, **options):
        self.python_function = unwrap(function)
        self.options = options
        self.__name__ = self.python_function.__name__
        self.__doc__ = self.python_function.__doc__
        self.specializer = specializer_of(self.python_function)
        self._normalized = None
        self._modules = {}  # (stage, signature) -> generated module
        self.normalized()  # errors in the kernel's code: here, at the decorator

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

    def launch(self, n, *args, device="cpu"):
        """Run the kernel on ``n`` threads, ``srcad.tid()`` giving each its index, and record the
        launch on the active ``srcad.Tape``, if any."""
        from srcad import tape as tapes

        signature = self.check_launch(n, args, device)
        module = self.module("forward", signature)
        recording = tapes.active_tape()
        if recording is not None:
            recording.record(self, n, args, signature, module)
        module.srcad_launch(n, numba.get_num_threads(), *args)

    def check_launch(self, n, args, device):
        if device != "cpu":
            raise ValueError(f"device={device!r}: kernels run on the CPU here (device='cpu'); CUDA is not built yet")
        if isinstance(n, bool) or not isinstance(n, (int, numpy.integer)) or n < 0:
            raise ValueError(f"{self.__name__}.launch: the number of threads must be an int >= 0, got {n!r}")
        if len(args) != len(self.parameters):
            raise TypeError(
                f"{self.__name__}.launch(n, ...) takes {len(self.parameters)} arguments after n "
                f"({', '.join(self.parameters)}), got {len(args)}"
            )
        for name, value in zip(self.parameters, args):
            if isinstance(value, numpy.ndarray):
                if value.dtype.kind not in "fiub":
                    raise TypeError(f"argument {name!r} of kernel {self.__name__} is an array of {value.dtype}")
            elif isinstance(value, bool) or not isinstance(value, (int, float, numpy.integer, numpy.floating)):
                raise TypeError(
                    f"argument {name!r} of kernel {self.__name__} is {type(value).__name__}: kernels take NumPy "
                    "arrays, floats and ints"
                )
        from numba.core import types as numba_types

        return (numba_types.int64,) + tuple(argument_type(float(a) if isinstance(a, numpy.floating) else a) for a in args)

    def module(self, stage, signature):
        """The generated module of ``stage`` ("forward" or "adjoint") for ``signature`` (thread index
        first): ``srcad_launch``, and what the kernel reads and writes."""
        key = (stage, signature)
        module = self._modules.get(key)
        if module is None:
            with _lock:
                module = self._modules.get(key)
                if module is None:
                    text = f"{self.specializer.source_key()}|kernel {stage}|{','.join(map(str, signature))}"
                    cache_key = hashlib.sha256(text.encode()).hexdigest()
                    source = cpu.read_cached(cache_key)
                    if source is None:
                        source = self._generated(stage, signature)
                        cpu.store(cache_key, source)
                    module = self._modules[key] = cpu.load_module(cache_key)
                    module.srcad_source = source
        return module

    def _generated(self, stage, signature):
        from srcad.transforms import emit, kernel as kernels, reverse

        normalized = self.normalized()
        parameters = normalized.parameters[1:]  # after the thread index
        access = kernels.access_of(normalized.definition, parameters, normalized.thread)
        if access.refusals:
            statement, why, fix = access.refusals[0]
            line = _user_line(statement)
            raise DifferentiabilityError(why, filename=normalized.parsed.filename, lineno=line or None, fix=fix)
        float_arrays = [
            k + 1 for k, t in enumerate(signature[1:]) if hasattr(t, "dtype") and "float" in str(t.dtype)
        ]
        name = normalized.parsed.name
        if stage == "forward":
            source = normalized.source
            thread_function = name
            private = {parameters[k - 1]: parameters[k - 1] for k in range(1, len(signature))
                       if parameters[k - 1] in access.shared_adds}
            launcher = kernels.cpu_launcher(f"{name}_launch", f"{name}_thread", parameters, private)
        else:
            wrt = tuple(float_arrays)
            analysis, names = normalized._analysis(wrt, signature, also_useful=[normalized.parameters[k] for k in wrt])
            adjoint = normalized._generated(
                reverse.reverse_mode, normalized.definition, normalized.parameters, wrt, analysis, names, False, True
            )
            never_read_back = [p for p in parameters if p not in access.value_reads]
            adjoint = kernels.without_replayed_writes(adjoint, never_read_back)
            source = emit.module_source(adjoint, stage="reverse mode (kernel thread)", origin=normalized.origin,
                                        constants=normalized.constants, uses_tape=True)
            thread_function = adjoint.name.value
            adjoints = [f"{normalized.parameters[k]}_adj" for k in wrt]
            private = {f"{normalized.parameters[k]}_adj": f"{normalized.parameters[k]}_adj" for k in wrt
                       if normalized.parameters[k] in access.shared_reads}
            launcher = kernels.cpu_launcher(
                f"{name}_adjoint_launch", f"{thread_function}_thread", parameters + ["output_adj"] + adjoints, private
            )
        positions = {p: k for k, p in enumerate(parameters)}
        return (
            source
            + "\n\nimport numba\nfrom numba import prange\n\n"
            + f"{thread_function}_thread = numba.njit(cache=True)({thread_function})\n\n\n"
            + launcher
            + f"\n\nsrcad_launch = numba.njit(parallel=True, cache=True)({launcher.split('(')[0][4:]})\n"
            + f"srcad_value_reads = {tuple(sorted(positions[a] for a in access.value_reads))!r}\n"
            + f"srcad_writes = {tuple(sorted(positions[a] for a in access.writes))!r}\n"
            + f"srcad_float_arrays = {tuple(k - 1 for k in float_arrays)!r}\n"
        )


def _user_line(statement):
    """The user's line number in the ``# line N:`` comment of a normal-form statement, if any."""
    if statement is None:
        return None
    for line in getattr(statement, "leading_lines", []):
        comment = getattr(line, "comment", None)
        if comment is not None and comment.value.startswith("# line "):
            return int(comment.value.split()[2].rstrip(":"))
    return None


def kernel(function=None, **options):
    """Mark ``function`` as a data-parallel kernel: launched with ``k.launch(n, *args)``, its body
    runs once per thread, ``srcad.tid()`` giving the thread's index. See ``srcad.kernel`` module docs."""
    if function is None:
        return lambda f: Kernel(f, **options)
    return Kernel(function, **options)
