"""The CPU back end: numba.njit of generated modules, cached on disk.

Generated modules are files in the srcad cache directory (``$SRCAD_CACHE_DIR``,
default ``~/.cache/srcad``), named by a hash of everything they depend on, so
numba's own ``cache=True`` finds its machine code again in a second process.
"""

import glob
import hashlib
import importlib.abc
import importlib.util
import os
import sys
import tempfile
import types
from dataclasses import dataclass, field

import numba
from numba.core.dispatcher import Dispatcher

_CHECKSUM_PREFIX = "# srcad-checksum: "
PARALLEL_FROM = 4096  # CPU launches of fewer threads run on one thread: waking the others costs more


def _unique_array_expression_names():
    """Work around a numba bug: lowering a whole-array expression renames its variables
    ``name.version`` to ``name_version`` and asserts the results are distinct, which fails when
    one variable's name is another's plus ``_<digits>`` (``x_0_1`` and ``x_0`` at version 1, or
    ``d_2`` and ``d``), names generated code uses freely. Same renaming, made unique."""
    from collections import OrderedDict
    from contextlib import contextmanager

    from numba.np.ufunc import array_exprs

    if getattr(array_exprs._legalize_parameter_names, "srcad_unique", False):
        return

    @contextmanager
    def legalized(var_list):
        var_map = OrderedDict()
        for var in var_list:
            old_name = var.name
            new_name = var.scope.redefine(old_name, loc=var.loc).name.replace("$", "_").replace(".", "_")
            while new_name in var_map:
                new_name += "_"
            var_map[new_name] = var, old_name
            var.name = new_name
        try:
            yield list(var_map)
        finally:
            for var, old_name in var_map.values():
                var.name = old_name

    legalized.srcad_unique = True
    array_exprs._legalize_parameter_names = legalized


_unique_array_expression_names()


def cache_directory():
    root = os.environ.get("SRCAD_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "srcad"
    )
    os.makedirs(root, exist_ok=True)
    return root


def _checksum(key, text):
    """Of the text and the entry it is stored under: srcad's own code for another entry, copied
    under this one's name, is as foreign as any other file."""
    return hashlib.sha256(f"{key}\n{text}".encode()).hexdigest()


def module_path(key):
    return os.path.join(cache_directory(), f"srcad_{key}.py")


def read_cached(key):
    """The generated source stored under ``key``, or None if absent or damaged."""
    try:
        with open(module_path(key), encoding="utf-8") as file:
            first, _, rest = file.read().partition("\n")
    except (OSError, UnicodeDecodeError):
        return None
    if first != _CHECKSUM_PREFIX + _checksum(key, rest):
        return None
    return rest


def store(key, source):
    """Write ``source`` under ``key`` atomically (concurrent writers can't tear it)."""
    path = module_path(key)
    descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(_CHECKSUM_PREFIX + _checksum(key, source) + "\n" + source)
    os.replace(temporary, path)
    return path


_GENERATED = "srcad_generated_"


def load_module(key):
    """The module stored under ``key``, run from the source ``read_cached`` checks, never from
    bytecode in ``__pycache__`` (which Python's import system would run unchecked)."""
    name = _GENERATED + key[:24]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, module_path(key))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        _run_module(module, key)
    except BaseException:
        del sys.modules[name]
        raise
    return module


@dataclass(eq=False)
class GeneratedModule:
    """A generated module loaded in this process, with what srcad knows of it and builds from it:
    kept here, typed, rather than set as attributes on the module object."""

    module: types.ModuleType  # the generated functions (srcad_entry, srcad_launch, ...)
    source: str  # the source it runs from, as ``srcad.source`` shows it
    facts: object  # its ``srcad_facts`` (kernels/facts.py), None for a module without
    dispatcher: object = None  # a derivative's entry as numba dispatches it (``jit``)
    compiled: dict = field(default_factory=dict)  # per-signature compilations of the dispatcher
    signature: tuple = None  # a kernel module's types, kept alive (their ids are keys)
    record_plan: object = None  # a kernel's tape bookkeeping, worked out at its first recorded launch


def loaded(key, source):
    """The module stored under ``key`` (whose text is ``source``), loaded, as a ``GeneratedModule``."""
    module = load_module(key)
    return GeneratedModule(module, source, getattr(module, "srcad_facts", None))


def _run_module(module, key):
    source = read_cached(key)
    if source is None:
        raise ImportError(f"srcad's cache entry {module_path(key)} was damaged or replaced while in use")
    module.__file__ = path = module_path(key)
    code = compile("\n" + source, path, "exec")  # the checksum's line left blank: line numbers as in the file
    exec(code, module.__dict__)
    for value in list(vars(module).values()):  # the launchers of kernels, numba-compiled at their first call
        if isinstance(value, Dispatcher):
            _tolerate_damaged_cache(value)


class _GeneratedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Generated modules found by name, as numba asks for them: loading a function from its cache, numba
    rebuilds the environment of every function compiled into it by importing that function's module, and
    a helper's derivatives (``srcad.callees``) are compiled into their callers while a new process has not
    loaded the helper's module yet."""

    def find_spec(self, name, path=None, target=None):
        if not name.startswith(_GENERATED):
            return None
        prefix = name[len(_GENERATED):]
        keys = {os.path.basename(p)[len("srcad_"):-len(".py")]
                for p in glob.glob(os.path.join(cache_directory(), f"srcad_{prefix}*.py"))}
        keys = [k for k in keys if len(k) == 64]  # a stage's key, not a marker's (key + "_valid")
        if len(keys) != 1:
            return None
        return importlib.util.spec_from_loader(name, self, origin=module_path(keys[0]))

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        _run_module(module, os.path.basename(module.__spec__.origin)[len("srcad_"):-len(".py")])


if not any(isinstance(finder, _GeneratedModules) for finder in sys.meta_path):
    sys.meta_path.append(_GeneratedModules())


def _tolerate_damaged_cache(dispatcher):
    """numba reads its cache files with pickle and lets a damaged one (truncated, foreign) raise
    wherever the function is first called. Read it as a miss instead, with the index forgotten, so
    that the compilation that follows writes a good entry."""
    cache = getattr(dispatcher, "_cache", None)
    load = getattr(cache, "load_overload", None)
    if load is None or getattr(load, "srcad_tolerant", False):
        return dispatcher

    def load_overload(signature, target_context):
        try:
            return load(signature, target_context)
        except Exception:
            cache.flush()
            return None

    load_overload.srcad_tolerant = True
    cache.load_overload = load_overload
    return dispatcher


def jit(function):
    """numba.njit with the on-disk cache where the function has a file to key it by. NumPy's rules
    for floats (``error_model="numpy"``): 1.0 / 0.0 is inf and 0.0 / 0.0 nan, as in JAX, so a
    gradient at a singular point comes back inf or nan instead of raising ZeroDivisionError.
    Without the GIL: other Python threads run meanwhile (gradients in threads, a progress bar)."""
    try:
        return numba.njit(cache=True, error_model="numpy", nogil=True)(function)
    except RuntimeError:  # no file to cache against (exec'd or interactive code)
        return numba.njit(error_model="numpy", nogil=True)(function)


def compile_for(dispatcher, signature):
    """Compile (or load from numba's cache) ``dispatcher`` for ``signature``.

    A damaged numba cache entry (truncated or foreign files) is dropped and the
    function compiled afresh, instead of failing.
    """
    from numba.core.errors import NumbaError

    if not hasattr(dispatcher, "compile"):  # NUMBA_DISABLE_JIT=1: a plain Python function
        return None
    try:
        return dispatcher.compile(signature)
    except NumbaError:
        raise
    except Exception:
        cache = getattr(dispatcher, "_cache", None)  # numba's per-function cache object
        if cache is None:
            raise
        cache.flush()  # forget the damaged index; the compile below writes a fresh entry
        return dispatcher.compile(signature)
