"""``@srcad.differentiable``: a function marked differentiable, callable as before and compiled by numba.

The decorator validates the function at once, checks at the first call with new argument types
that srcad can differentiate it (before it runs), and records calls on arrays on the active
``srcad.Tape``.
"""

import functools
import weakref

import numpy

from srcad import recording
from srcad.argument_types import argument_type, carries_derivatives, equal_extents, fast_type_key
from srcad.checkpointing import check_option
from srcad.errors import DifferentiabilityError
from srcad.introspect import unwrap
from srcad.kernels import cpu
from srcad.kernels import cuda as device_memory
from srcad.specialize import specializer_of


class Differentiable:
    """A function marked ``@srcad.differentiable``: callable as before, compiled by numba.

    >>> @differentiable
    ... def square(x):
    ...     return x * x
    >>> square(3.0)
    9.0
    """

    def __init__(self, function, **options):
        self.python_function = unwrap(function)
        for name, value in options.items():
            if name == "checkpoint":
                check_option(value)
            elif not (name == "inline" and value in (True, False, None) or name == "wrt" and _is_positions(value)):
                raise TypeError(
                    "@srcad.differentiable takes the options inline=True or inline=False, wrt= (a position or "
                    f"a tuple of positions) and checkpoint= ('auto', None or a number); got {name}={value!r}"
                )
        self.options = options
        functools.update_wrapper(self, self.python_function)
        specializer_of(self.python_function).validate(procedure=True)
        specializer_of(self.python_function).checkpoint = options.get("checkpoint", "auto")
        self._primal = None  # numba's dispatcher of the function as written, made at the first call
        self._compiled = {}  # argument types -> what runs for them (see _compiled_for)

    def __call__(self, *args, **kwargs):
        if kwargs or len(args) != self.python_function.__code__.co_argcount:
            args = specializer_of(self.python_function).bind(args, kwargs)
        key = fast_type_key(args)
        if key is None:  # tuples, other objects: numba's types are the key (slower to hash)
            if any(device_memory.is_device_array(a) for a in args):
                return self._on_device_arrays(args)
            key = tuple(argument_type(a) for a in args)
        output = self._run(key, args)
        tape = recording.active_tape()
        if tape is not None and any(isinstance(a, numpy.ndarray) for a in args):
            tape.record_call(self, args, output)
        return output

    def _run(self, key, args):
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compiled_for(args)
        return compiled(*args)

    def _on_device_arrays(self, args):
        """A call on CUDA arrays runs on the host, on copies, and gives its array outputs back as
        device arrays (recorded on the active tape with the device arrays, so that its adjoint adds
        into their adjoints): it is compiled code for the CPU, not a CUDA kernel."""
        specializer = specializer_of(self.python_function)
        for position in specializer.normalized(procedure=specializer.returns_nothing).written_parameters():
            if device_memory.is_device_array(args[position]):
                raise ValueError(
                    f"{self.__name__} writes its argument {specializer.parameters[position]!r} in place, and a call on "
                    "CUDA arrays runs on host copies, so the GPU array would not change; return the new values "
                    "instead, or write it as a @srcad.kernel"
                )
        on_host = tuple(device_memory.to_host(a) if device_memory.is_device_array(a) else a for a in args)
        key = fast_type_key(on_host) or tuple(argument_type(a) for a in on_host)
        output = _on_device(self._run(key, on_host))
        tape = recording.active_tape()
        if tape is not None:
            tape.record_call(self, args, output, on_host)
        return output

    def _compiled_for(self, args):
        """What runs for arguments like ``args``: numba's compilation of the function as written, or
        of srcad's normal form where numba cannot compile it as written, or the Python function."""
        from numba.core.errors import NumbaError

        signature = tuple(argument_type(a) for a in args)
        specializer = specializer_of(self.python_function)
        if not any(isinstance(a, tuple) for a in args) and not specializer.returns_nothing:
            self._check_differentiable(signature, equal_extents(args))  # (a function returning nothing has no derivative)
        if specializer.reads_before_writing:  # y += y[0]: numba would read y[0] as it writes y
            return self._normalized_for(signature, args)
        if self._primal is None:
            self._primal = cpu.jit(self.python_function)
        try:
            cpu.compile_for(self._primal, signature)
        except (NumbaError, AssertionError):  # numba asserts on some calls it does not take: enumerate(x, start=2)
            return self._normalized_for(signature, args)
        return self._primal

    def _check_differentiable(self, signature, extents=None):
        """Refuse, before the first call with these argument types runs, what srcad could not
        differentiate with respect to the float arguments (or the ``wrt=`` option's): a simulation
        should not run for an hour before its gradient is refused. The gradient's source is made
        (not compiled) and kept in srcad's cache, so a second process reads it back."""
        wrt = self.options.get("wrt")
        if wrt is None:
            wrt = tuple(k for k, t in enumerate(signature) if carries_derivatives(t))
        wrt = (wrt,) if isinstance(wrt, int) else wrt
        if not wrt or max(wrt) >= len(signature):
            return
        try:
            specializer = specializer_of(self.python_function)
            specializer._stage_module("gradient", wrt, signature, checkpoint=specializer.first_policy(), extents=extents)
        except DifferentiabilityError:
            raise
        except Exception:  # noqa: BLE001 - the check must not stop the function itself; grad will say it
            pass

    def _normalized_for(self, signature, args):
        """Calls numba cannot compile as written (np.mean(x, axis=1), keepdims=...) run srcad's
        normalized form compiled instead; anything numba cannot compile at all runs as Python."""
        from numba.core.errors import NumbaError

        if any(isinstance(a, tuple) for a in args):  # the normal form takes tuples apart: run it as written
            return self.python_function
        normalized = specializer_of(self.python_function).normalized_primal()
        try:
            cpu.compile_for(normalized, signature)
        except (NumbaError, AssertionError):
            return self.python_function
        return normalized

    def __repr__(self):
        return f"<srcad.differentiable {self.python_function.__qualname__}>"


def _on_device(output):
    """``output`` with its arrays copied to the GPU (a tuple or NamedTuple keeps its type)."""
    if isinstance(output, numpy.ndarray):
        return device_memory.to_device(output)
    if isinstance(output, tuple):
        parts = [_on_device(part) for part in output]
        return type(output)(*parts) if hasattr(output, "_fields") else tuple(parts)
    return output


def differentiable(function=None, **options):
    """Mark ``function`` as differentiable. Bare (``@differentiable``) or with options.

    Code srcad cannot differentiate is rejected here, with a
    ``DifferentiabilityError`` pointing at the line; what depends on the argument types (arrays
    or floats) is checked at the first call with new types, before the function runs, with
    respect to its float arguments (``wrt=0`` or ``wrt=(0, 2)``: only those).

    Where another differentiated function calls this one, srcad inlines a small function into the
    caller and calls a large one (40 statements or more in normal form) through its own adjoint and
    tangent, compiled once and shared by every caller. ``inline=True`` always inlines it;
    ``inline=False`` always calls it through its derivatives (where the call allows: plain arguments,
    one value returned, no argument written in place; otherwise it is inlined).
    """
    if function is None:
        return lambda f: Differentiable(f, **options)
    return Differentiable(function, **options)


def _is_positions(value):
    return isinstance(value, int) or isinstance(value, tuple) and value and all(isinstance(v, int) for v in value)


def _primal(function):
    """``function`` compiled by numba, as ``@differentiable`` compiles it."""
    if isinstance(function, Differentiable):
        return function
    python_function = unwrap(function)
    primal = _PRIMALS.get(python_function)
    if primal is None:
        primal = _PRIMALS[python_function] = Differentiable(python_function)
    return primal


_PRIMALS = weakref.WeakKeyDictionary()  # plain function -> its Differentiable (compiled primal)
