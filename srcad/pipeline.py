"""Runs the passes of ``srcad.transforms`` on a user function, one stage at a time.

Each stage is Python source: ``normalized`` (AD-normal form, single exit) and
``adjoint`` (reverse mode, specialized to a call signature and ``wrt``).
"""

import contextlib
import dataclasses
import functools
import inspect
import re
import sys
import threading

import libcst as cst
import numba
import numpy

from srcad.compiled import located, take_typing_error
from srcad.errors import DifferentiabilityError, error_at_generated_line, first_column
from srcad.transforms import rules
from srcad.transforms.analysis import (activity, fused_loops, hoisted_maps, infer_types, integer_powers, masks,
                                      max_positions, shapes, vector_sums)
from srcad.transforms.forward.tangent import forward_mode
from srcad.transforms.frontend import nested_derivatives, single_exit
from srcad.transforms.kernel import modules as kernel_modules
from srcad.transforms.kernel.cuda import NotOnCuda
from srcad.transforms.kernel.threads import user_line
from srcad.transforms.frontend.normal_form import NormalForm
from srcad.transforms.ir import UnsupportedHere, all_names, names
from srcad.transforms.ir.statements import assignment_of, walk
from srcad.transforms.output import emit
from srcad.transforms.output.dead_stores import without_dead_stores
from srcad.transforms.output.extent_guards import with_extent_guards
from srcad.transforms.output.rolled_pieces import in_rolled_pieces
from srcad.transforms.output.any_order_sums import with_any_order_sums
from srcad.transforms.output.simd_calls import with_simd_calls
from srcad.transforms.output.unit_steps import with_unit_steps
from srcad.transforms.reverse.adjoint import reverse_mode

# srcad imports this module (and with it the passes and libcst) only when it generates code: a warm
# process, with everything in the on-disk cache, never does.


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
    """Runs a stage with room for deep trees (past even that, a located error instead of a
    RecursionError), and with the rules of the normal form's calls that stay calls known
    (``rules.overlay``)."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        try:
            with _recursion_room(), rules.overlay(getattr(self, "call_rules", {})):
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


class Normalized(NormalForm):
    """A user function in AD-normal form (``transforms/frontend/normal_form.py``) with its source, and the
    stages that follow from it: adjoint and tangent sources for a signature."""

    @_deep_trees
    def __init__(self, function, procedure=False, structures=None, kernel=False, inline_everything=False):
        super().__init__(function, procedure, structures, kernel, inline_everything)
        self.origin = f"{self.parsed.name} in {self.parsed.filename}:{self.parsed.locator.first_line}"
        self.source = emit.module_source(
            self.definition, stage="normalized form", origin=self.origin, constants=self.constants
        )
        self.escapes_budget = False  # of the last adjoint_source (see there)

    def python_function(self):
        """The normalized function itself, executed from its source."""
        return _function_from(self.source, self.parsed.name)

    @_deep_trees
    def adjoint_source(self, wrt, argument_types, with_value=True, checkpoint=None, extents=None):
        """Source of the adjoint module and the name of its function (``with_value=False``: the
        gradient alone, 0.0 in the value's place); ``checkpoint``: how its time loops are
        checkpointed (a ``CheckpointPolicy``; None: they keep every iteration's tape). A policy that
        escapes (``within_budget`` raising) where the function writes an argument in place checkpoints
        instead: the checkpointed gradient would run after some writes. ``extents``: the arguments'
        extents known equal (``srcad.argument_types.equal_extents``; None: any extents). Sets
        ``self.escapes_budget``: whether a loop of the adjoint may raise TapeOverBudget."""
        if checkpoint is not None and checkpoint.escape and self.written_parameters():
            checkpoint = dataclasses.replace(checkpoint, escape=False)
        analysis, names, definition = self._analysis(wrt, argument_types, extents=extents)
        adjoint = _vectorizable(self._generated(reverse_mode, definition, self.parameters, wrt, analysis, names,
                                                with_value, False, checkpoint), analysis.types)
        adjoint = with_extent_guards(adjoint, analysis.equal_extents)
        self.escapes_budget = "within_budget" in all_names(adjoint)
        source = emit.module_source(
            adjoint, stage="reverse mode (adjoint)", origin=self.origin, constants=self.constants
        )
        return source, adjoint.name.value

    def with_derivatives_inlined(self, signature, derivative_of):
        """The kernel's normal form with the derivatives it calls inside (``srcad.grad(energy)(x[i], k)``)
        inlined, generated for the argument types numba finds at each call for ``signature``, as CUDA
        needs (see ``nested_derivatives.inlined``); self where it calls none."""
        called = {name for name, value in self.constants.items() if nested_derivatives.is_nested_stub(value)}
        if not called:
            return self
        types, _ = self._types(self.definition, self.source, signature)
        signatures = {}
        for statement, _ in walk(self.definition.body.body):
            assigned = assignment_of(statement)
            value = assigned[1] if assigned else None
            if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in called:
                signatures[value.func.value] = tuple(_type_of(argument.value, types) for argument in value.args)
        signatures = {position: signatures[name] for position, name in enumerate(self.derivatives_called)
                      if name in signatures}
        with nested_derivatives.inlined(signatures, derivative_of):
            inlined = Normalized(self.parsed.function, kernel=True)
        left = [name for name, value in inlined.constants.items() if nested_derivatives.is_nested_stub(value)]
        if left:
            raise DifferentiabilityError(
                f"srcad cannot run the derivative {left[0]} calls inside a CUDA kernel yet (it is called inside a "
                "helper whose names clash with the kernel's)", filename=self.parsed.filename,
                fix="Call srcad.grad(...) in the kernel's own body, or run the kernel with device='cpu'.")
        return inlined

    @_deep_trees
    def kernel_source(self, stage, signature, device, access, options):
        """Source of a kernel's module (``transforms/kernel/modules.py``): of ``stage`` "forward" (the
        normal form, run per thread) or "adjoint" (its thread adjoint, which adds into the adjoints of
        the float arrays: the values the arrays hold after the launch count as the kernel's outputs),
        on ``device`` "cpu" or "cuda", for argument types ``signature`` (thread indices first).
        ``access``: how a thread uses the arrays; ``options``: the kernel's."""
        dimensions = len(self.threads)
        thread = self.definition
        if stage == "adjoint":
            wrt = tuple(kernel_modules.float_array_positions(signature, dimensions))
            analysis, names, definition = self._analysis(wrt, signature, also_useful=[self.parameters[k] for k in wrt],
                                                         thread=True)
            thread = self._generated(reverse_mode, definition, self.parameters, wrt, analysis, names, False, True)
        try:
            module = kernel_modules.kernel_module(thread, stage=stage, device=device, signature=signature,
                                                  dimensions=dimensions, access=access, options=options)
        except NotOnCuda as refused:
            raise self.error_at_user_line(refused.why, user_line(refused.statement), "Run this kernel with device='cpu'.") from None
        heading = f"kernel {stage} (one thread)" if device == "cpu" else f"CUDA kernel {stage}"
        return emit.module_source(module.definition, stage=heading, origin=self.origin, constants=self.constants,
                                  index_arrays_as_views=False, after=module.after, imports=module.imports)

    @_deep_trees
    def tangent_source(self, wrt, argument_types, only_tangent=False, extents=None):
        """Source of the tangent (forward-mode) module and the name of its function (returning
        ``(value, tangent)``, or with ``only_tangent`` the tangent alone); ``extents`` as for
        ``adjoint_source``."""
        analysis, names, definition = self._analysis(wrt, argument_types, extents=extents)
        tangent = _vectorizable(self._generated(forward_mode, definition, self.parameters, wrt, analysis, names,
                                                only_tangent), analysis.types)
        tangent = with_extent_guards(tangent, analysis.equal_extents)
        source = emit.module_source(tangent, stage="forward mode (tangent)", origin=self.origin, constants=self.constants)
        return source, tangent.name.value

    def _analysis(self, wrt, argument_types, also_useful=(), thread=False, extents=None):
        """Types (numba's inference on the normalized function), activity, a name factory, and the
        definition they are of: the normal form with the rewrites these argument types (and the
        equal ``extents`` of the arguments) call for (``_with_types``; kept out of ``self.definition``,
        which serves every signature). Sets ``self.output_kinds`` (see ``output_kinds``)."""
        types, return_type = self._types(self.definition, self.source, argument_types)
        equal_extents = shapes.argument_extents(self.parameters, types, extents)
        definition = self._with_types(types, argument_types, fuse=not thread, equal_extents=equal_extents)
        if definition is not self.definition:
            source = emit.module_source(definition, stage="normalized form", origin=self.origin, constants=self.constants)
            types, return_type = self._types(definition, source, argument_types)
        self.output_kinds = output_kinds(self.parsed.name, return_type)
        analysis = activity.analyze(definition, self.parameters, wrt, types, also_useful, thread, equal_extents)
        return analysis, names.NameFactory(set(self.names.taken)), definition

    def _types(self, definition, source, argument_types):
        """numba's types of the variables of ``definition`` (whose module is ``source``) and its return type."""
        try:
            types, return_type = infer_types.infer_types(_function_from(source, self.parsed.name), argument_types)
        except infer_types.TypingFailure as failure:
            if definition is self.definition and self._drop_result_placeholders(failure):
                return self._types(self.definition, self.source, argument_types)
            kept = take_typing_error()  # met typing a call through derivatives: the user's error
            if kept is not None:
                raise located(kept, source, failure.line, self.parsed.filename) from None
            why = f"this cannot be compiled: {failure.message}"
            raise error_at_generated_line(source, failure.line, why, self.parsed.filename) from None
        for name, value in self.constants.items():  # module-level arrays: frozen, as numba reads globals
            if isinstance(value, numpy.ndarray) and name not in types:
                types[name] = numba.typeof(value).copy(readonly=True)
        return types, return_type

    def _generated(self, transform, *arguments):
        """``transform(*arguments)`` (a function in reverse or forward mode) without its dead stores, its
        loops over operands that may broadcast versioned for when none does (output/unit_steps.py) and
        loops reading np.roll's elements split where they wrap around (output/rolled_pieces.py), with
        what it cannot do yet as a DifferentiabilityError at the user's line."""
        try:
            return in_rolled_pieces(with_unit_steps(without_dead_stores(transform(*arguments))))
        except UnsupportedHere as unsupported:
            why, helpers = self.in_users_words(unsupported.why)
            if helpers:
                why += f" (in {', '.join(sorted(helpers))}, called on this line)"
            fix = self.in_users_words(unsupported.fix)[0] if unsupported.fix else unsupported.fix
            raise self.error_at_user_line(why, unsupported.lineno, fix) from None

    def in_users_words(self, text):
        """``text`` with the names srcad gave an inlined helper's variables (``helper_x``, and their
        versions ``helper_x_2``) written as the helper writes them, and the helpers they belong to."""
        helpers = set()

        def original(match):
            helper, name = self.inlined_names[match.group(1)]
            helpers.add(helper)
            return name

        if not self.inlined_names:
            return text, helpers
        names = "|".join(sorted(map(re.escape, self.inlined_names), key=len, reverse=True))
        return re.sub(rf"\b({names})(?:_\d+)?\b", original, text), helpers

    def error_at_user_line(self, why, line, fix=None):
        """A DifferentiabilityError at the user's ``line`` (None: the file alone)."""
        filename = self.parsed.filename
        if not line:
            return DifferentiabilityError(why, filename=filename, fix=fix)
        return DifferentiabilityError(why, filename=filename, lineno=line, col=first_column(filename, line), fix=fix)

    def _with_types(self, types, argument_types, fuse=True, equal_extents=None):
        """The normal form with the rewrites that need the types: ``x[mask]`` with a boolean array as
        ``x[np.flatnonzero(mask)]`` (transforms/analysis/masks.py), integer powers checked
        (transforms/analysis/integer_powers.py), and with ``fuse`` sums of vectors along their axis as whole
        sums (transforms/analysis/vector_sums.py), the maxima and minima of vectors read
        at their positions (transforms/analysis/max_positions.py), element-wise functions of arrays a
        loop leaves alone computed once before it (transforms/analysis/hoisted_maps.py) and runs of
        whole-array statements as element loops (transforms/analysis/fused_loops.py);
        ``self.definition`` itself where none applies."""
        definition = masks.positions_for_masks(self.definition, types, self.names) or self.definition
        definition = integer_powers.checked_integer_powers(definition, types, self.parsed.filename) or definition
        if fuse:  # (a kernel's thread allocates no arrays)
            definition = vector_sums.full_sums_of_vectors(definition, types) or definition
            definition = max_positions.max_positions(definition, types, self.names) or definition
            definition = hoisted_maps.hoisted_maps(definition, types, self.names) or definition
        if fuse and definition is not self.definition:  # the rewrites above bind new names: type them first
            source = emit.module_source(definition, stage="normalized form", origin=self.origin, constants=self.constants)
            types, _ = self._types(definition, source, argument_types)
        fused = fused_loops.fused_elementwise(definition, types, self.names, self.parsed.filename,
                                              equal_extents) if fuse else None
        return fused or definition

    def _drop_result_placeholders(self, failure):
        """Results that are arrays cannot start as single_exit's ``0.0``: when numba says so, drop the
        placeholders (once) and say whether it did."""
        if "Cannot unify" not in failure.detail:
            return False
        definition = single_exit.without_placeholders(self.definition)
        if definition is self.definition or len(definition.body.body) == len(self.definition.body.body):
            return False
        self.definition = definition
        self.source = emit.module_source(definition, stage="normalized form", origin=self.origin, constants=self.constants)
        return True

    def located_error(self, line, why):
        """A DifferentiabilityError at the user line a line of ``self.source`` came from."""
        return error_at_generated_line(self.source, line, why, self.parsed.filename)


def _vectorizable(definition, types):
    """A generated CPU function with what keeps LLVM from vectorizing its loops spelled otherwise:
    exp, log and tanh as srcad's inline twins (output/simd_calls.py), float accumulations in
    innermost loops added in any order (output/any_order_sums.py; ``types``: numba's types of the
    normal form's variables, which the generated code keeps). CUDA's code keeps NumPy's."""
    floats = {name for name, numba_type in types.items() if isinstance(numba_type, numba.types.Float)}
    return with_any_order_sums(with_simd_calls(definition), floats)


def _type_of(atom, types):
    """numba's type of an atom of the normal form: a variable's, or a number's."""
    from numba.core import types as numba_types

    if isinstance(atom, cst.Name):
        return types[atom.value]
    if isinstance(atom, cst.Integer) or (isinstance(atom, cst.UnaryOperation) and isinstance(atom.expression, cst.Integer)):
        return numba_types.int64
    return numba_types.float64


def _function_from(source, name):
    """The function ``name`` of a generated module's ``source``, executed."""
    namespace = {}
    exec(compile(source, f"<srcad normalized {name}>", "exec"), namespace)
    return namespace[name]


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
