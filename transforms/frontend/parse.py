"""Pass 1: read a user function's source into a libcst tree, keep positions,
and resolve the names it uses (math, builtins, constants) once."""

import builtins
import functools
import textwrap
import types
from dataclasses import dataclass, field

import libcst as cst
import numpy
from libcst.metadata import MetadataWrapper, PositionProvider

from srcad.errors import DifferentiabilityError, SourceLocator
from srcad.introspect import free_values, source_lines, unwrap

from .. import rules
from ..ir import bound_names, nodes_in, target_names

# Modules whose attributes generated code may call, under their canonical names.
KNOWN_MODULES = {"math": "math", "numpy": "np", "numpy.linalg": "np.linalg", "srcad": "srcad"}


@dataclass
class Resolved:
    """What a free name (or dotted name) in the user's function refers to."""

    kind: str  # "local", "module", "function", "dtype", "constant" or "unknown"
    name: str = ""  # canonical name: "math", "math.sin", "abs", ...
    value: object = None


@dataclass
class ParsedFunction:
    function: types.FunctionType
    name: str
    filename: str
    source: str  # dedented source of the function alone
    definition: cst.FunctionDef
    positions: dict
    locator: SourceLocator
    parameters: list
    local_names: set
    free_values: dict = field(default_factory=dict)  # free name -> value, for the cache key

    def error(self, why, node=None, fix=None):
        return self.locator.error(why, self.positions.get(node) if node is not None else None, fix)

    @functools.cached_property
    def range_counters(self):
        """The names bound only as the variable of a ``for`` loop over ``range(...)``: one integer each."""
        counters, others = set(), set(self.parameters)
        for node in nodes_in(self.definition.body):
            if isinstance(node, cst.For):
                iterated = node.iter
                over_range = isinstance(iterated, cst.Call) and isinstance(iterated.func, cst.Name) and (
                    iterated.func.value == "range")
                (counters if over_range and isinstance(node.target, cst.Name) else others).update(target_names(node.target))
            elif isinstance(node, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.NamedExpr)):
                others.update(target_names(node.target))
        return frozenset(counters - others)

    @functools.cached_property
    def returns_a_value(self):
        """Whether some ``return`` of the function itself (not of a function defined in it) returns a
        value: a function that returns nothing is a procedure, called for what it writes."""
        pending = list(self.definition.body.body)
        while pending:
            node = pending.pop()
            if isinstance(node, cst.Return) and node.value is not None:
                return True
            if not isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                pending.extend(node.children)
        return False

    def resolve(self, node):
        """Resolve a Name or a dotted Attribute chain that is not a local variable."""
        if isinstance(node, cst.Name):
            if node.value in self.local_names:
                return Resolved("local", node.value)
            return _classify(self._lookup(node.value))
        if isinstance(node, cst.Attribute):
            base = self.resolve(node.value)
            if base.kind == "unknown" and isinstance(base.value, types.ModuleType):
                value = getattr(base.value, node.attr.value, None)
                if _classify(value).kind == "constant":  # C.G, cfg.DT: a number of the user's module, as math.pi
                    return _classify(value)
                return Resolved("unknown", f"{base.value.__name__}.{node.attr.value}", value)  # operator.mul: no rule
            if base.kind != "module":
                return Resolved("unknown")
            try:
                value = getattr(base.value, node.attr.value)
            except AttributeError:
                return Resolved("unknown", f"{base.name}.{node.attr.value}")
            resolved = _classify(value)
            if resolved.kind == "unknown":
                resolved.name = f"{base.name}.{node.attr.value}"
            return resolved
        return Resolved("unknown")

    def _lookup(self, name):
        code = self.function.__code__
        if name in code.co_freevars and self.function.__closure__:
            cell = self.function.__closure__[code.co_freevars.index(name)]
            try:
                return cell.cell_contents
            except ValueError:
                return MISSING
        if name in self.function.__globals__:
            return self.function.__globals__[name]
        return getattr(builtins, name, MISSING)


MISSING = object()


def _classify(value):
    if isinstance(value, types.ModuleType):
        name = KNOWN_MODULES.get(value.__name__)
        return Resolved("module", name, value) if name else Resolved("unknown", value.__name__, value)
    if isinstance(value, type) and issubclass(value, numpy.generic):
        return Resolved("dtype", f"np.{value.__name__}", value)
    canonical = rules.canonical_name_of(value)
    if canonical is not None:
        return Resolved("function", canonical, value)
    if value is None:  # np.newaxis, or a global None
        return Resolved("constant", "None", None)
    if isinstance(value, (bool, int, float)) and not isinstance(value, complex):
        return Resolved("constant", repr(value), value)
    if type(value) is numpy.ndarray and value.dtype.kind in "biuf":
        return Resolved("constant array", "", value)  # a module-level table: its values are copied in
    if is_tuple_of_numbers(value):  # TUP = (0.5, 2.0): the same, as numba reads a global tuple as a constant
        return Resolved("constant array", "", numpy.array(value))
    return Resolved("unknown", "", value)


def is_tuple_of_numbers(value):
    """``(0.5, 2.0)``: a module-level tuple srcad reads as a constant array (number_lists.py checks
    that the function uses it only as an array would be used)."""
    return isinstance(value, tuple) and bool(value) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)


def parse_function(function):
    """Parse ``function``'s source. Raises DifferentiabilityError without source."""
    function = unwrap(function)
    code = function.__code__
    try:
        lines, first_line = source_lines(function)
    except (OSError, TypeError):
        raise DifferentiabilityError(
            f"srcad cannot read the source code of {function.__qualname__!r}",
            filename=code.co_filename,
            lineno=code.co_firstlineno,
            fix="Define the function with 'def' in a file (not with exec or in an interactive prompt without files).",
        ) from None
    raw = "".join(lines)
    source = textwrap.dedent(raw)
    indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
    locator = SourceLocator(code.co_filename, first_line, indent)
    if code.co_name == "<lambda>":
        raise locator.error(
            "srcad cannot differentiate a lambda",
            fix="Write the function with 'def' instead of 'lambda'.",
        )
    try:
        wrapper = MetadataWrapper(cst.parse_module(source))
    except cst.ParserSyntaxError as error:
        raise DifferentiabilityError(
            f"srcad could not parse the source of {function.__qualname__!r}: {error.message}",
            filename=code.co_filename,
            lineno=first_line + error.raw_line - 1,
            col=error.raw_column + indent + 1,
        ) from None
    positions = dict(wrapper.resolve(PositionProvider))
    definition = next(
        (s for s in wrapper.module.body if isinstance(s, cst.FunctionDef) and s.name.value == code.co_name),
        None,
    )
    if definition is None:
        raise locator.error(
            f"srcad could not find 'def {code.co_name}' in its source",
            fix="Was the file edited after it was imported? Reload the module (or restart) and try again.",
        )
    definition = definition.visit(_BlocksForOneLineBodies(positions))
    parsed = ParsedFunction(
        function=function,
        name=code.co_name,
        filename=code.co_filename,
        source=source,
        definition=definition,
        positions=positions,
        locator=locator,
        parameters=[],
        local_names=set(),
    )
    parsed.parameters = _parameters(parsed)
    parsed.local_names = set(parsed.parameters) | bound_names(definition.body, unpacked=True)
    parsed.free_values = free_values(function)
    return parsed


class PositionKeeping(cst.CSTTransformer):
    """A transformer of the user's code whose every rebuilt node keeps the user's position of the
    node it replaces (in ``positions``, for errors)."""

    def __init__(self, positions):
        super().__init__()
        self.positions = positions

    def on_leave(self, original_node, updated_node):
        rebuilt = super().on_leave(original_node, updated_node)
        if isinstance(rebuilt, cst.CSTNode) and rebuilt is not original_node and original_node in self.positions:
            self.positions.setdefault(rebuilt, self.positions[original_node])
        return rebuilt


class _BlocksForOneLineBodies(PositionKeeping):
    """Rewrite one-line bodies (``def f(x): return x * x``, ``if c: y = 0``) as indented blocks, the
    only form the passes read."""

    def leave_SimpleStatementSuite(self, original_node, updated_node):
        line = cst.SimpleStatementLine(body=updated_node.body)
        self.positions[line] = self.positions[original_node]
        return cst.IndentedBlock(body=[line])


def _parameters(parsed):
    params = parsed.definition.params
    for bad in (params.star_arg, params.star_kwarg):
        if isinstance(bad, cst.Param):
            raise parsed.error(
                "srcad cannot differentiate a function with *args or **kwargs",
                bad,
                fix="Name each argument explicitly.",
            )
    for param in params.kwonly_params:
        raise parsed.error(
            "srcad does not support keyword-only arguments yet", param, fix="Make it a positional argument."
        )
    if parsed.definition.asynchronous is not None:
        raise parsed.error("srcad cannot differentiate an 'async def' function", parsed.definition)
    return [p.name.value for p in list(params.posonly_params) + list(params.params)]
