"""Pass 6: print a generated function as a Python module with its header and imports."""

import math

import libcst as cst
import numpy

from srcad.version import __version__

from ..analysis.fused_steps import integer_literal
from ..ir import all_names
from ..ir.names import ARRAY_HELPERS, RUNTIME_FUNCTIONS, VECTORIZABLE_FUNCTIONS
from ..ir.precedence import module_code, spelled
from ..rules.calls import Spelled


def module_source(definition, *, stage, origin, constants, index_arrays_as_views=True, after=(), imports=()):
    """The source of a module holding ``definition``, then the statements ``after`` (a kernel's
    launchers), with the ``imports`` these need beyond the header's.

    ``origin`` names the user's function and file; ``constants`` are the user's
    global or closure numbers the code refers to, defined at the top. Kernels, whose
    launchers copy the thread's body into other functions, keep index arrays global.
    """
    lines = [
        f"# srcad {__version__}: {stage} of {origin}.",
        "# Generated code: edits are overwritten.",
        "import math",
        "",
        *[line for line in imports if not line.startswith("from srcad")],
        "import numpy as np",
        "",
        "import srcad",
    ]
    if index_arrays_as_views:  # (CPU code: a kernel's thread has neither)
        definition, constants = _index_arrays_bound_in_the_function(definition, constants)
        definition = definition.visit(_AxisSums())
    body = [definition, *_spaced(after)]
    code = module_code(body)  # printed once: printing a large function takes a while
    called = set().union(*map(all_names, body))
    helpers = [h for h in ARRAY_HELPERS if h in called]  # only what the code calls
    if helpers:
        lines.append(f"from srcad.kernels.arrays import {', '.join(helpers)}")
    runtime = [f for f in RUNTIME_FUNCTIONS if f in called]
    if runtime:
        lines.append(f"from srcad.kernels.runtime import {', '.join(runtime)}")
    vectorizable = [f for f in VECTORIZABLE_FUNCTIONS if f in called]
    if vectorizable:
        lines.append(f"from srcad.kernels.vectorizable import {', '.join(vectorizable)}")
    lines += [line for line in imports if line.startswith("from srcad")]
    lines.append("")
    for name, value in sorted(constants.items()):
        what = "a function compiled apart, called here" if isinstance(value, Spelled) else (
            "constant from the user's code")
        lines.append(f"{name} = {spelled_constant(value)}  # {what}")
    lines += ["", ""]
    return "\n".join(lines) + code


class _AxisSums(cst.CSTTransformer):
    """``np.sum(x, axis=k)`` (k a number) spelled ``sum_along(x, k, False)``: the same sums, but numba
    compiles its own np.sum along an axis in about a second per process (its bounds check formats
    the error message), the loops of ``srcad.kernels.along`` in a tenth of that."""

    def leave_Call(self, original_node, updated_node):
        arguments = updated_node.args
        if not (spelled(updated_node.func) == "np.sum" and len(arguments) == 2 and arguments[0].keyword is None
                and not arguments[0].star and arguments[1].keyword is not None and arguments[1].keyword.value == "axis"
                and integer_literal(arguments[1].value) is not None):
            return updated_node
        return cst.Call(cst.Name("sum_along"), [cst.Arg(arguments[0].value), cst.Arg(arguments[1].value), cst.Arg(cst.Name("False"))])


def _spaced(statements):
    """``statements`` as they follow a function: two blank lines before each compound statement and
    before the first simple one after it, as PEP 8 spaces a module."""
    spaced, after_compound = [], True
    for statement in statements:
        compound = not isinstance(statement, cst.SimpleStatementLine)
        if compound or after_compound:
            lines = list(statement.leading_lines)
            while lines and lines[0].comment is None:  # counted afresh
                lines.pop(0)
            statement = statement.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine(), *lines])
        spaced.append(statement)
        after_compound = compound
    return spaced


def _index_arrays_bound_in_the_function(definition, constants):
    """Read the user's global integer (and boolean) arrays through a local view bound at entry.

    numba turns ``x[G]``, G a global array, into a getitem with the array as its constant index, and
    its IR then compares such getitems with ``==`` (an array of booleans: numba crashes). A view is
    not a constant to numba, and costs no copy."""
    used = all_names(definition)
    taken = used | set(constants)
    bindings, renamed = [], dict(constants)
    for name, value in sorted(constants.items()):
        if not (isinstance(value, numpy.ndarray) and value.dtype.kind in "biu" and name in used):
            continue
        frozen = f"{name}_frozen"
        while frozen in taken:
            frozen += "_"
        taken.add(frozen)
        renamed[frozen] = renamed.pop(name)
        bindings.append(cst.parse_statement(f"{name} = {frozen}[:]  # a view: numba cannot index with a global array\n"))
    if not bindings:
        return definition, constants
    body = definition.body.with_changes(body=[*bindings, *definition.body.body])
    return definition.with_changes(body=body), renamed


def spelled_constant(value):
    """Source that evaluates to ``value``: a number, or a NumPy array with its exact values."""
    if isinstance(value, numpy.ndarray):
        items = ", ".join(spelled_constant(v) for v in value.ravel().tolist())
        return f"np.array([{items}], dtype=np.{value.dtype.name}).reshape({value.shape!r})"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float('{value}')"
    return repr(value)
