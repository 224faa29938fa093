"""What a generated module's cache key is made of: srcad's own build, and the user's function with
everything it reads (the source and globals of the helpers it calls, their rules and options), so
that a change to any of them is another key and nothing stale is reused."""

import hashlib
import importlib
import types

import numpy

from srcad import custom
from srcad.introspect import free_values, helper_function, source_text, unwrap
from srcad.version import __version__

_build = None
# module-level arrays up to this size have their values in the key (srcad copies up to 10,000 elements
# into the code; a larger one is refused, and hashing it would cost)
_HASHED_ELEMENTS = 100_000


def srcad_build():
    """srcad's version and a hash of its own code: generated code from another build is not reused."""
    global _build
    if _build is None:
        import os

        digest = hashlib.sha256(__version__.encode())
        for package in ("srcad", "srcad.transforms", "srcad.kernels"):
            root = os.path.dirname(__import__(package, fromlist=["_"]).__file__)
            for folder, subfolders, names in sorted(os.walk(root)):
                subfolders[:] = [] if package == "srcad" else sorted(s for s in subfolders if s != "__pycache__")
                for name in sorted(names):
                    if name.endswith(".py"):
                        with open(os.path.join(folder, name), "rb") as file:
                            digest.update(file.read())
        _build = f"{__version__}-{digest.hexdigest()[:16]}"
    return _build


def _describe_free_value(value, attributes, seen=None):
    """``attributes``: the names the reading function's code mentions (its globals and attribute
    names): the numbers it may read from a module of the user's (``C.G``) are part of its key."""
    if isinstance(value, (bool, int, float, complex, str)):
        return repr(value)
    if isinstance(value, tuple) and all(isinstance(v, (bool, int, float)) for v in value):
        return repr(value)  # a module-level tuple of numbers: read as a constant, its values in the code
    if isinstance(value, numpy.ndarray) and value.size <= _HASHED_ELEMENTS:  # the same for an array's values
        values = hashlib.sha256(numpy.ascontiguousarray(value).tobytes()).hexdigest()
        return f"array {value.dtype} {value.shape} {values}"
    if isinstance(value, types.ModuleType):
        numbers = [f"{a}={getattr(value, a)!r}" for a in sorted(attributes)
                   if isinstance(getattr(value, a, None), (bool, int, float))]
        return f"module {value.__name__} " + " ".join(numbers)
    name = getattr(value, "__qualname__", None) or type(value).__qualname__
    function = helper_function(value)
    if function is not None:  # a helper srcad inlines: its source and its own globals count too
        seen = set() if seen is None else seen
        if function in seen:
            return f"function {name}"
        seen.add(function)
        try:
            text = source_text(function)
        except (OSError, TypeError):
            text = repr(function.__code__.co_code)
        inner = [f"{n}={_describe_free_value(v, function.__code__.co_names, seen)}"
                 for n, v in sorted(free_values(function).items())]
        inner.append(custom.describe(function))  # its @srcad.derivative rules
        inner.append(repr(sorted(getattr(value, "options", {}).items())))  # inline=...: how calls are made
        return f"function {name}:" + hashlib.sha256("\n".join([text] + inner).encode()).hexdigest()
    return f"{type(value).__module__}.{name}"


def source_key_of(function):
    """Hash of ``function``'s source and of the globals it refers to, with srcad's build."""
    try:
        text = source_text(function)
    except (OSError, TypeError):
        text = repr(function.__code__.co_code)
    parts = [srcad_build(), str(function.__module__), function.__qualname__, function.__code__.co_filename, text]
    for name, value in sorted(free_values(function).items()):
        parts.append(f"{name}={_describe_free_value(value, function.__code__.co_names)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


_callees = {}  # callee key -> the function


def callee_key(function):
    """The name generated modules find ``function`` by, in this process or the next: its module, its
    name, and a hash of its source and globals (a function defined again is another function).
    ``function``: a Python function, a srcad wrapper of one, or an ``@numba.njit`` one."""
    function = unwrap(helper_function(function) or function)
    key = f"{function.__module__}:{function.__qualname__}:{source_key_of(function)[:16]}"
    _callees[key] = function
    return key


def nested_key(kind, helper_key):
    """The stub key of derivative ``kind`` ("vjp 0", "jvp") of the helper ``callee_key`` names."""
    return f"{kind}|{helper_key}"


def split_key(key):
    """(kind, the helper's key), or (None, key) for a key of a helper itself."""
    if "|" not in key:
        return None, key
    kind, callee = key.split("|", 1)
    return kind, callee


def findable_by_name(function):
    """Whether a later process can find ``function`` by its name (not a function defined inside another)."""
    return "<locals>" not in function.__qualname__ and function.__module__ is not None


def callee_of(key):
    """The function ``callee_key`` gave ``key``: imported by its name in a process that has not seen it."""
    function = _callees.get(key)
    if function is None:
        module, qualname, source_key = key.split(":")
        value = importlib.import_module(module)
        for part in qualname.split("."):
            value = getattr(value, part)
        function = unwrap(helper_function(value) or value)  # a srcad wrapper's, or an @numba.njit's, function
        if not source_key_of(function).startswith(source_key):
            raise LookupError(f"{module}.{qualname} is not the function srcad generated code for: it changed since")
        _callees[key] = function
    return function
