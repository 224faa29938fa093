"""Facts about user functions that need no parsing (kept free of libcst for fast warm starts)."""

import types


def unwrap(function):
    """The plain Python function behind a srcad wrapper or a bound method."""
    function = getattr(function, "python_function", function)
    function = getattr(function, "__func__", function)
    if not isinstance(function, types.FunctionType):
        raise TypeError(
            f"srcad differentiates Python functions written with 'def'; got {function!r}, "
            "which has no Python source. Wrap it in a def."
        )
    return function


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
