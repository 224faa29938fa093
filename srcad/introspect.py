"""Facts about user functions that need no parsing (kept free of libcst for fast warm starts)."""

import inspect
import types


def unwrap(function):
    """The plain Python function behind a srcad wrapper (or a staticmethod object)."""
    function = getattr(function, "python_function", function)
    if isinstance(function, types.MethodType):
        raise TypeError(
            f"srcad differentiates functions, not methods bound to an object ({function.__qualname__}): "
            "compiled code cannot take 'self'. Write a function that takes the numbers the method reads "
            "from self as arguments, e.g. def energy(k, x) instead of self.k."
        )
    function = getattr(function, "__func__", function)
    if hasattr(function, "srcad_derived"):
        raise TypeError(
            f"{function.srcad_derived} is made by srcad, not written with 'def': srcad does not differentiate "
            "it again (third derivatives are not supported yet). For second derivatives use srcad.hessian(f), "
            "srcad.jacobian(srcad.grad(f)) or srcad.jvp(srcad.grad(f), primals, tangents)."
        )
    if not isinstance(function, types.FunctionType):
        raise TypeError(
            f"srcad differentiates Python functions written with 'def'; got {function!r}, "
            "which has no Python source. Wrap it in a def."
        )
    return function


def helper_function(value):
    """The Python function srcad can read and inline behind a called helper: the helper itself, a
    srcad wrapper's function, or a numba dispatcher's ``py_func`` (an ``@numba.njit`` helper);
    None for anything else."""
    value = getattr(value, "python_function", value)
    if not isinstance(value, types.FunctionType) and type(value).__module__.startswith("numba"):
        value = getattr(value, "py_func", value)
    return value if isinstance(value, types.FunctionType) else None


def free_values(function):
    """Values of the globals and closure cells a function refers to."""
    values = {}
    code = function.__code__
    names = set(code.co_names)
    for const in code.co_consts:  # names used inside nested code objects
        if isinstance(const, types.CodeType):
            names |= set(const.co_names)
    for name in names:
        if name in function.__globals__:
            values[name] = function.__globals__[name]
    for name, cell in zip(code.co_freevars, function.__closure__ or ()):
        try:
            values[name] = cell.cell_contents
        except ValueError:
            pass
    return values


def named_after(function, what):
    """A decorator naming a wrapper srcad makes of ``function`` (as functools.wraps would, but with no
    ``__wrapped__``: inspect would read ``function``'s source for the wrapper, and differentiating
    the wrapper would silently differentiate ``function``). ``what`` says what the wrapper gives:
    "hessian" or "grad(grad({}))", ``{}`` standing for the function's name."""

    def name(wrapper):
        for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(wrapper, attribute, getattr(function, attribute, None))
        wrapper.srcad_derived = what.format(function.__name__) if "{}" in what else f"{what}({function.__name__})"
        return wrapper

    return name


def source_lines(function):
    """``inspect.getsourcelines`` of the function's own code: not of what ``__wrapped__`` points to
    (a decorator's wrapper made with functools.wraps would read as the function it wraps, and its
    derivative would silently be that function's)."""
    return inspect.getsourcelines(function.__code__)


def source_text(function):
    return "".join(source_lines(function)[0])


def derivative_maker(function):
    """Mark one of srcad's functions that make derivatives (``srcad.grad``, ``srcad.jvp``, ...): a
    call of what they return inside differentiated code is refused with its own message."""
    function.srcad_makes_derivatives = True
    return function


def makes_derivatives(value):
    """Whether ``value`` is srcad.grad, srcad.jvp, ... (see ``derivative_maker``)."""
    return getattr(value, "srcad_makes_derivatives", False) is True
