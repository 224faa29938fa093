"""Runs the passes of ``srcad.transforms`` on a user function, one stage at a time.

Each stage is Python source: ``normalized`` (AD-normal form, single exit) and
``adjoint`` (reverse mode, specialized to a call signature and ``wrt``).
"""

import contextlib
import functools
import inspect
import re
import sys
import threading

import numba
import numpy

from srcad.errors import DifferentiabilityError


# The passes are imported inside the methods, not at `import srcad`: they need libcst,
# which a warm process (everything in the on-disk cache) never imports.


# libcst and the passes walk expression trees recursively: `a + b + ... ` with 500 terms is a tree
# 500 deep, and every inlined helper nests one level more. Python runs such code; srcad raises the
# recursion limit while its passes run (process-wide, so threads share one raise, undone by the last).
DEEP_TREES_LIMIT = 30_000
_deep_lock = threading.Lock()
_deep_users = 0
_limit_before = None


@contextlib.contextmanager
def _recursion_room():
    global _deep_users, _limit_before
    with _deep_lock:
        if _deep_users == 0:
            _limit_before = sys.getrecursionlimit()
            sys.setrecursionlimit(max(_limit_before, DEEP_TREES_LIMIT))
        _deep_users += 1
    try:
        yield
    finally:
        with _deep_lock:
            _deep_users -= 1
            if _deep_users == 0:
                sys.setrecursionlimit(_limit_before)


def _deep_trees(method):
    """Runs a pass with room for deep trees; past even that, a located error instead of a RecursionError."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        try:
            with _recursion_room():
                return method(self, *args, **kwargs)
        except RecursionError:
            function = args[0] if method.__name__ == "__init__" else self.parsed.function
            code = getattr(inspect.unwrap(function), "__code__", None)
            filename = code.co_filename if code else "<unknown>"
            lineno = code.co_firstlineno if code else 0
            raise DifferentiabilityError(
                "this function nests expressions or helper calls too deeply for srcad's passes",
                filename=filename, lineno=lineno, col=1 if lineno else 0,
                fix="Split the longest expressions into several statements (s = a + b, then s = s + c, ...), "
                    "or turn a deep chain of helper calls into a loop.",
            ) from None

    return run


class Normalized:
    """A parsed function in AD-normal form, with what later passes need."""

    @_deep_trees
    def __init__(self, function, procedure=False, structures=None, kernel=False, inline_everything=False):
        """``inline_everything``: no call through a callee's own derivatives (``srcad.callees``), as kernels
        and derivatives differentiated again need."""
        from srcad.transforms import emit, names, normalize, parse, single_exit, versions
        from srcad.transforms.inline import inlining_everything

        self.parsed = parse.parse_function(function)
        with inlining_everything() if kernel or inline_everything else contextlib.nullcontext():
            definition, normalizer = normalize.normalize(self.parsed, procedure, structures, kernel)
        self.constants = normalizer.constants
        self.reads_before_writing = normalizer.reads_before_writing  # see transforms/overlaps.py
        self.output_structure = normalizer.output_structure  # None: one value; else srcad.structure.Structure
        definition, renamed = names.rename_clashing_locals(definition, self.parsed.local_names | set(self.parsed.parameters))
        # per argument, its parameters in the generated code: one, or one per leaf of a tuple argument
        self.parameter_groups = [[renamed.get(p, p) for p in group] for group in normalizer.parameter_groups]
        self.parameters = [p for group in self.parameter_groups for p in group]
        self.threads = normalizer.threads  # a kernel's thread index, one per dimension: its first parameters
        self.parameters[:0] = self.threads
        self.names = names.NameFactory(set())
        self.names.taken |= names.all_names(definition) | set(self.constants) | {"math", "srcad"}
        definition = versions.separate_rebindings(definition, self.parameters, self.names)
        if kernel:
            from srcad.transforms.kernel import forwarded_stores

            definition = forwarded_stores(definition)
        self.definition = single_exit.single_exit(definition, self.names)
        self._written_parameters = None
        self.origin = f"{self.parsed.name} in {self.parsed.filename}:{self.parsed.locator.first_line}"
        self.source = emit.module_source(
            self.definition, stage="normalized form", origin=self.origin, constants=self.constants
        )

    def python_function(self):
        """The normalized function itself, executed from its source."""
        return _function_from(self.source, self.parsed.name)

    @_deep_trees
    def adjoint_source(self, wrt, argument_types, with_value=True):
        """Source of the adjoint module and the name of its function (``with_value=False``: the
        gradient alone, 0.0 in the value's place)."""
        from srcad.transforms import emit, reverse

        analysis, names, definition = self._analysis(wrt, argument_types)
        adjoint = self._generated(reverse.reverse_mode, definition, self.parameters, wrt, analysis, names, with_value)
        source = emit.module_source(
            adjoint, stage="reverse mode (adjoint)", origin=self.origin, constants=self.constants
        )
        return source, adjoint.name.value

    @_deep_trees
    def thread_adjoint_source(self, wrt, argument_types):
        """A kernel's thread adjoint: ``f_adjoint(tid, *args, output_adj, *adjoints of the arrays in wrt)``
        adds into the adjoint arrays it is given (the values the arrays hold after the launch count as
        the kernel's outputs). Source of its module, and its name."""
        from srcad.transforms import emit, reverse

        analysis, names, definition = self._analysis(wrt, argument_types, also_useful=[self.parameters[k] for k in wrt])
        adjoint = self._generated(reverse.reverse_mode, definition, self.parameters, wrt, analysis, names, False, True)
        source = emit.module_source(
            adjoint, stage="reverse mode (kernel thread)", origin=self.origin, constants=self.constants
        )
        return source, adjoint.name.value

    @_deep_trees
    def tangent_source(self, wrt, argument_types, only_tangent=False):
        """Source of the tangent (forward-mode) module and the name of its function (returning
        ``(value, tangent)``, or with ``only_tangent`` the tangent alone)."""
        from srcad.transforms import emit, forward

        analysis, names, definition = self._analysis(wrt, argument_types)
        tangent = self._generated(forward.forward_mode, definition, self.parameters, wrt, analysis, names, only_tangent)
        source = emit.module_source(tangent, stage="forward mode (tangent)", origin=self.origin, constants=self.constants)
        return source, tangent.name.value

    def _analysis(self, wrt, argument_types, also_useful=()):
        """Types (numba's inference on the normalized function), activity, a name factory, and the
        definition they are of: the normal form with the rewrites these argument types call for
        (``_with_types``; kept out of ``self.definition``, which serves every signature).
        Sets ``self.output_kinds`` (see ``output_kinds``)."""
        from srcad.transforms import activity, emit, names

        types, return_type = self._types(self.definition, self.source, argument_types)
        definition = self._with_types(types)
        if definition is not self.definition:
            source = emit.module_source(definition, stage="normalized form", origin=self.origin, constants=self.constants)
            types, return_type = self._types(definition, source, argument_types)
        self.output_kinds = output_kinds(self.parsed.name, return_type)
        analysis = activity.analyze(definition, self.parameters, wrt, types, also_useful)
        return analysis, names.NameFactory(set(self.names.taken)), definition

    def _types(self, definition, source, argument_types):
        """numba's types of the variables of ``definition`` (whose module is ``source``) and its return type."""
        from srcad.transforms import infer_types

        try:
            types, return_type = infer_types.infer_types(_function_from(source, self.parsed.name), argument_types)
        except infer_types.TypingFailure as failure:
            if definition is self.definition and self._drop_result_placeholders(failure):
                return self._types(self.definition, self.source, argument_types)
            why = f"this cannot be compiled: {failure.message}"
            raise error_at_generated_line(source, failure.line, why, self.parsed.filename) from None
        for name, value in self.constants.items():  # module-level arrays: frozen, as numba reads globals
            if isinstance(value, numpy.ndarray) and name not in types:
                types[name] = numba.typeof(value).copy(readonly=True)
        return types, return_type

    def _generated(self, transform, *arguments):
        """``transform(*arguments)``, with what it cannot do yet as a DifferentiabilityError at the user's line."""
        from srcad.transforms.reverse_arrays import UnsupportedHere

        try:
            return transform(*arguments)
        except UnsupportedHere as unsupported:
            raise DifferentiabilityError(
                unsupported.why,
                filename=self.parsed.filename,
                lineno=unsupported.lineno,
                col=_first_column(self.parsed.filename, unsupported.lineno),
                fix=unsupported.fix,
            ) from None

    def _with_types(self, types):
        """The normal form with the rewrites that need the types: ``x[mask]`` with a boolean array as
        ``x[np.flatnonzero(mask)]`` (transforms/masks.py), and integer powers checked
        (transforms/integer_powers.py); ``self.definition`` itself where none applies."""
        from srcad.transforms import integer_powers, masks

        definition = masks.positions_for_masks(self.definition, types, self.names) or self.definition
        return integer_powers.checked_integer_powers(definition, types, self.parsed.filename) or definition

    def _drop_result_placeholders(self, failure):
        """Results that are arrays cannot start as single_exit's ``0.0``: when numba says so, drop the
        placeholders (once) and say whether it did."""
        from srcad.transforms import emit, single_exit

        if "Cannot unify" not in failure.detail:
            return False
        definition = single_exit.without_placeholders(self.definition)
        if definition is self.definition or len(definition.body.body) == len(self.definition.body.body):
            return False
        self.definition = definition
        self.source = emit.module_source(definition, stage="normalized form", origin=self.origin, constants=self.constants)
        return True

    def written_parameters(self):
        """Positions of the array arguments the function writes in place (directly or through `b = a`)."""
        if self._written_parameters is None:  # the tape asks at every recorded call
            self._written_parameters = self._find_written_parameters()
        return self._written_parameters

    def _find_written_parameters(self):
        from srcad.transforms.statements import assignment_of, element_write_of, operation_of, walk
        from srcad.transforms.recompute import in_place_update_of

        parameters = self.parameters
        names_of = {p: p for p in parameters}  # local name -> the argument it is bound to
        written = set()
        for statement, _ in walk(self.definition.body.body):
            target_value = assignment_of(statement)
            if target_value is not None and in_place_update_of(statement) is None:
                operation = operation_of(target_value[1])  # b = a, b = a[1:], b = a.T: the same memory
                if operation.rule in ("copy", "view") and operation.operands[0].value in names_of:
                    names_of[target_value[0]] = names_of[operation.operands[0].value]
            write = element_write_of(statement)
            update = in_place_update_of(statement)  # x += t: in place when x is an array
            written_name = write.array if write is not None else (update[0] if update is not None else None)
            if written_name in names_of:
                written.add(names_of[written_name])
        return tuple(sorted(parameters.index(p) for p in written))

    def located_error(self, line, why):
        """A DifferentiabilityError at the user line a line of ``self.source`` came from."""
        return error_at_generated_line(self.source, line, why, self.parsed.filename)


def _function_from(source, name):
    """The function ``name`` of a generated module's ``source``, executed."""
    namespace = {}
    exec(compile(source, f"<srcad normalized {name}>", "exec"), namespace)
    return namespace[name]


_MARKER = re.compile(r"#(?: adjoint of)? line (\d+): ")


def error_at_generated_line(source, line, why, filename):
    lineno = 0
    if line:
        for text in reversed(source.splitlines()[:line]):
            match = _MARKER.search(text)
            if match:
                lineno = int(match.group(1))
                break
    if not lineno:
        return DifferentiabilityError(why, filename=filename)
    return DifferentiabilityError(why, filename=filename, lineno=lineno, col=_first_column(filename, lineno))


def at_users_line(error):
    """``error``, raised in a module srcad generated (a derivative it differentiates again), moved to
    the user's line that module's code came from; other errors as they are."""
    try:
        with open(error.filename) as module:
            source = module.read()
    except OSError:
        return error
    origin = _ORIGIN.search(source, 0, 2000)
    if origin is None:
        return error
    filename = origin.group(1)
    lineno = error_at_generated_line(source, error.lineno, error.why, filename).lineno or int(origin.group(2))
    return DifferentiabilityError(
        error.why, filename=filename, lineno=lineno, col=_first_column(filename, lineno), fix=error.fix
    )


_ORIGIN = re.compile(r"^# srcad [^:\n]+: [^\n]* of \S+ in (.+):(\d+)\.$", re.MULTILINE)  # a module's header


def _first_column(filename, lineno):
    import linecache

    text = linecache.getline(filename, lineno)
    return len(text) - len(text.lstrip()) + 1


def output_kinds(name, return_type):
    """``(kind, type)`` per output (per part of a tuple output): kind ``"float"``, ``"array"`` (of
    floats) or ``"other"`` (ints, booleans: no derivative); other outputs raise TypeError."""
    from numba.core import types as numba_types

    parts = list(return_type) if isinstance(return_type, numba_types.BaseTuple) else [return_type]
    kinds = []
    for part in parts:
        dtype = getattr(part, "dtype", part) if isinstance(part, numba_types.Array) else part
        if isinstance(dtype, numba_types.Float):
            kinds.append(("array" if isinstance(part, numba_types.Array) else "float", str(part)))
        elif isinstance(dtype, (numba_types.Integer, numba_types.Boolean)):
            kinds.append(("other", str(part)))
        else:
            raise TypeError(
                f"srcad cannot differentiate {name}: it returns {return_type}; srcad differentiates functions "
                "returning floats, float arrays, or tuples of them"
            )
    return tuple(kinds)
