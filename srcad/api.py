"""The public API of reverse mode: differentiable, grad, value_and_grad, vjp, source, check_grad.
Forward mode and second derivatives (jvp, hessian, jacobian) are in ``srcad.tangents``."""

import functools
import weakref

import numpy

from srcad import custom
from srcad import tape as tapes
from srcad.calls import FlatCall, checked_like, differentiable_value
from srcad.structure import cotangent_leaves, leaves_of, structure_of
from srcad.introspect import named_after, unwrap
from srcad.kernels import cpu
from srcad.kernels import cuda as device_memory
from srcad.argument_types import argument_type, fast_type_key
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
            if not (name == "inline" and value in (True, False, None) or name == "wrt" and _is_positions(value)):
                raise TypeError(
                    "@srcad.differentiable takes the options inline=True or inline=False, and wrt= (a position or "
                    f"a tuple of positions); got {name}={value!r}"
                )
        self.options = options
        functools.update_wrapper(self, self.python_function)
        specializer_of(self.python_function).validate()
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
        tape = tapes.active_tape()
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
        for position in specializer.normalized().written_parameters():
            if device_memory.is_device_array(args[position]):
                raise ValueError(
                    f"{self.__name__} writes its argument {specializer.parameters[position]!r} in place, and a call on "
                    "CUDA arrays runs on host copies, so the GPU array would not change; return the new values "
                    "instead, or write it as a @srcad.kernel"
                )
        on_host = tuple(device_memory.to_host(a) if device_memory.is_device_array(a) else a for a in args)
        key = fast_type_key(on_host) or tuple(argument_type(a) for a in on_host)
        output = _on_device(self._run(key, on_host))
        tape = tapes.active_tape()
        if tape is not None:
            tape.record_call(self, args, output, on_host)
        return output

    def _compiled_for(self, args):
        """What runs for arguments like ``args``: numba's compilation of the function as written, or
        of srcad's normal form where numba cannot compile it as written, or the Python function."""
        from numba.core.errors import NumbaError

        signature = tuple(argument_type(a) for a in args)
        if not any(isinstance(a, tuple) for a in args):
            self._check_differentiable(signature)
        if specializer_of(self.python_function).reads_before_writing:  # y += y[0]: numba would read y[0] as it writes y
            return self._normalized_for(signature, args)
        if self._primal is None:
            self._primal = cpu.jit(self.python_function)
        try:
            cpu.compile_for(self._primal, signature)
        except (NumbaError, AssertionError):  # numba asserts on some calls it does not take: enumerate(x, start=2)
            return self._normalized_for(signature, args)
        return self._primal

    def _check_differentiable(self, signature):
        """Refuse, before the first call with these argument types runs, what srcad could not
        differentiate with respect to the float arguments (or the ``wrt=`` option's): a simulation
        should not run for an hour before its gradient is refused. The gradient's source is made
        (not compiled) and kept in srcad's cache, so a second process reads it back."""
        from srcad.errors import DifferentiabilityError

        wrt = self.options.get("wrt")
        if wrt is None:
            wrt = tuple(k for k, t in enumerate(signature) if _carries_derivatives(t))
        wrt = _normalize_wrt(wrt)
        if not wrt or max(wrt) >= len(signature):
            return
        try:
            specializer_of(self.python_function)._stage_module("gradient", wrt, signature)
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


def _carries_derivatives(numba_type):
    from numba.core import types as numba_types

    if isinstance(numba_type, numba_types.Array):
        return isinstance(numba_type.dtype, numba_types.Float)
    return isinstance(numba_type, numba_types.Float)


def _normalize_wrt(wrt):
    return (wrt,) if not isinstance(wrt, tuple) else wrt


def _run_adjoint(function, wrt, args, kwargs=None, with_value=True, protect=False):
    """``(f(*args), *gradients)`` of a float-valued f, one gradient per position in ``wrt`` (the value
    0.0 unless ``with_value``: computing only the gradient may take less work). With ``protect``,
    arrays f writes in place are copied first, so the caller's stay as they are."""
    specializer = specializer_of(function)
    args = specializer.bind(args, kwargs)
    fast_key = (with_value, wrt, fast_type_key(args))  # calls after the first skip the checks
    adjoint = specializer.fast_calls.get(fast_key) if fast_key[2] is not None else None
    if adjoint is not None:
        if adjoint.written_parameters:
            args = _protected(args, adjoint.written_parameters) if protect else args
            specializer.check_aliasing(args, adjoint.written_parameters)
        return adjoint(*args, 1.0)
    call = FlatCall(specializer, args)
    wrt = specializer.check_wrt(wrt)
    if call.structures is not None:  # tuple arguments: differentiated leaf by leaf
        flat_wrt = call.wrt_leaves(wrt)
        signature, flat_wrt = call.signature(flat_wrt)
        adjoint = specializer.adjoint(flat_wrt, signature, call.structures, with_value=with_value)
        call.check_aliasing(adjoint.written_parameters)
        value, *adjoints = adjoint(*call.leaves, 1.0)
        return (value, *call.grouped(wrt, flat_wrt, adjoints))
    signature, wrt = specializer.check_call(args, wrt)
    seed = 1.0
    registered = custom.rules_for(function)
    if registered and "reverse" in registered:  # the user's rule wins over transforming f
        key = custom.key_of(specializer.function)
        value = custom.compiled(key, "primal")(*args)
        cotangents = custom.compiled(key, "reverse")(*args, float(seed))
        if not isinstance(cotangents, tuple) or len(cotangents) != len(args):
            raise TypeError(
                f"the reverse rule {registered['reverse'].__qualname__!r} for {specializer.name!r} must return a "
                f"tuple of {len(args)} cotangents (one per argument), got {cotangents!r}"
            )
        return (value, *[cotangents[k] for k in wrt])
    adjoint = specializer.adjoint(wrt, signature, with_value=with_value)
    args = _protected(args, adjoint.written_parameters) if protect else args
    specializer.check_aliasing(args, adjoint.written_parameters)
    if fast_key[2] is not None:
        specializer.fast_calls[fast_key] = adjoint
    return adjoint(*args, float(seed))


def _protected(args, written_parameters):
    """``args`` with the arrays at ``written_parameters`` copied."""
    return [_copied(a) if k in written_parameters else a for k, a in enumerate(args)]


def value_and_grad(function, wrt=0):
    """A function returning ``(f(*args), gradient)``; the gradient as in ``grad``.

    >>> import math
    >>> def f(x, y):
    ...     return math.sin(x) * y
    >>> value_and_grad(f, wrt=1)(0.5, 2.0)  # doctest: +ELLIPSIS
    (0.958..., 0.479...)
    """
    wrt_tuple = _normalize_wrt(wrt)
    specializer_of(function).validate()

    @named_after(unwrap(function), "value_and_grad")
    def value_and_gradient(*args, **kwargs):
        value, *gradients = _run_adjoint(function, wrt_tuple, args, kwargs)
        return value, (tuple(gradients) if isinstance(wrt, tuple) else gradients[0])

    return value_and_gradient


def grad(function, wrt=0):
    """The gradient of a float-valued ``function`` with respect to argument(s) ``wrt``.

    ``wrt`` is an argument position, or a tuple of positions (then the result is
    a tuple of gradients). Works on ``@srcad.differentiable`` and plain functions;
    compiled for each argument signature on first call. ``grad(grad(f))`` gives
    second derivatives (of a function of floats).

    >>> def f(x, y):
    ...     return x * x * y
    >>> grad(f)(3.0, 2.0)
    12.0
    >>> grad(f, wrt=(0, 1))(3.0, 2.0)
    (12.0, 9.0)
    >>> grad(grad(f))(3.0, 2.0)
    4.0
    """
    if isinstance(function, Gradient):
        from srcad.tangents import second_derivative

        return second_derivative(function, wrt)
    return Gradient(function, wrt)


class Gradient:
    """What ``grad(f, wrt)`` returns: callable like f, giving the gradient. srcad differentiates
    it again: ``jvp(grad(f), ...)`` (Hessian-vector products), ``grad(grad(f))``."""

    def __init__(self, function, wrt):
        self.function = function
        self.wrt = wrt
        self._wrt = _normalize_wrt(wrt)
        specializer_of(function).validate()
        self.__name__ = self.srcad_derived = f"grad({getattr(unwrap(function), '__name__', 'f')})"
        self.__doc__ = f"The gradient of {unwrap(function).__qualname__} with respect to argument(s) {wrt}."

    def __call__(self, *args, **kwargs):
        _, *gradients = _run_adjoint(self.function, self._wrt, args, kwargs, with_value=False)
        return tuple(gradients) if isinstance(self.wrt, tuple) else gradients[0]

    def __repr__(self):
        return f"<srcad {self.__name__}, wrt={self.wrt}>"


def vjp(function, *args):
    """``(y, pullback)`` with ``pullback(ybar)`` giving one cotangent per argument.

    ``f`` may return a float, a float array, or a tuple (or NamedTuple) of them; ``ybar`` has
    the same structure, shapes and dtypes. Float arguments (and float arrays, and the float
    parts of tuple arguments) get ``ybar`` times the derivative; integer and boolean arguments
    get None. The pullback reruns the function from the arguments as they were on entry, so
    in-place writes do not pile up, and may be called many times.

    >>> def f(x, n):
    ...     return x ** n, 2.0 * x
    >>> y, pullback = vjp(f, 2.0, 3)
    >>> y, pullback((1.0, 0.0))
    ((8.0, 4.0), (12.0, None))
    """
    specializer = specializer_of(function)
    specializer.validate()
    args = specializer.bind(args, None)
    call = FlatCall(specializer, args)
    positions = tuple(k for k in range(len(args)) if any(differentiable_value(call.leaves[j]) for j in call.leaf_positions(k)))
    flat_wrt = tuple(k for k, leaf in enumerate(call.leaves) if differentiable_value(leaf))
    signature, flat_wrt = call.signature(flat_wrt)
    entry = [_copied(leaf) for leaf in call.leaves]  # the pullback reruns the function from the arguments on entry
    value = _primal(function)(*[_copied_tree(a) for a in args])
    output = structure_of(value)
    outputs = leaves_of(value)
    seed_types = tuple(_seed_type(leaf) for leaf in outputs)
    adjoint = specializer.adjoint(flat_wrt, signature, call.structures, seed_types, with_value=False)
    call.check_aliasing(adjoint.written_parameters)

    def pullback(cotangent):
        seeds = [_seed(leaf, given, k, len(outputs)) for k, (leaf, given) in enumerate(
            zip(outputs, cotangent_leaves(output, cotangent, f"the output of {specializer.name}")))]
        _, *adjoints = adjoint(*[_copied(leaf) for leaf in entry], *seeds)
        gradients = call.grouped(positions, flat_wrt, adjoints)
        by_position = dict(zip(positions, gradients))
        return tuple(by_position.get(k) for k in range(len(args)))

    return value, pullback


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


def _seed_type(output):
    if isinstance(output, numpy.ndarray):
        return argument_type(numpy.ascontiguousarray(output))
    return argument_type(output if isinstance(output, (bool, int)) else float(output))


def _seed(output, given, index, count):
    """The cotangent of one output as the adjoint takes it: a float, a contiguous array of the
    output's shape and dtype, or 0 for an integer output."""
    if isinstance(output, numpy.ndarray) and output.dtype.kind != "f":
        return numpy.zeros(output.shape, output.dtype)
    if isinstance(output, (bool, int, numpy.integer, numpy.bool_)):
        return type(output)(0) if isinstance(output, (bool, int)) else 0
    where = "the cotangent" + (f" of output part {index}" if count > 1 else "")
    return checked_like(output, given, where, "the output")


def _copied(value):
    return value.copy() if isinstance(value, numpy.ndarray) else value


def _copied_tree(value):
    if isinstance(value, tuple):
        parts = [_copied_tree(part) for part in value]
        return type(value)(*parts) if hasattr(type(value), "_fields") else tuple(parts)
    return _copied(value)


_differentiable_value = differentiable_value


def source(function, stage="adjoint", device="cpu", args=None, wrt=None):
    """The generated Python source of a stage: ``"normalized"``, ``"adjoint"`` or ``"tangent"``
    (for a ``@srcad.kernel``: ``"normalized"`` (one thread), ``"forward"`` or ``"adjoint"``, the
    kernels ``device`` runs).

    The adjoint (or tangent) is shown for the argument types of the last call (or ``args``,
    or all-float arguments) and for ``wrt`` (default: every float argument). The parts of tuple
    arguments are separate parameters there, and ``wrt`` counts them one by one.
    """
    from srcad.kernel import Kernel

    if isinstance(function, Kernel):
        return function.source(stage, device, args)
    if device != "cpu":
        raise ValueError("device='cuda' applies to kernels; srcad functions are compiled for the CPU here")
    specializer = specializer_of(function)
    structures = specializer.last_structures
    if args is not None:
        call = FlatCall(specializer, specializer.bind(tuple(args), None))
        structures = call.structures
    if stage == "normalized":
        return specializer.normalized(structures).source
    if stage not in ("adjoint", "tangent"):
        raise ValueError(f"unknown stage {stage!r}; choose 'normalized', 'adjoint' or 'tangent'")
    from numba.core import types as numba_types

    if args is not None:
        signature = tuple(argument_type(a) for a in call.leaves)
    elif specializer.last_signature is not None:
        signature = specializer.last_signature
    else:
        signature = tuple(numba_types.float64 for _ in specializer.normalized().parsed.parameters)
    if wrt is None:
        wrt = tuple(i for i, t in enumerate(signature) if _differentiable_type(t))
    normalized = specializer.normalized(structures)
    if stage == "tangent":
        return normalized.tangent_source(_normalize_wrt(wrt), signature)[0]
    return normalized.adjoint_source(_normalize_wrt(wrt), signature)[0]


def _differentiable_type(numba_type):
    from numba.core import types as numba_types

    if isinstance(numba_type, numba_types.Array):
        return isinstance(numba_type.dtype, numba_types.Float)
    return isinstance(numba_type, numba_types.Float)
