"""Types of a normal-form function's variables, from numba's own type inference.

numba's untyped passes (constant folding, dead-branch pruning, literal
propagation) run first, exactly as when numba compiles, then type inference;
lowering to machine code is skipped.
"""

import warnings

from numba.core import config as numba_config
from numba.core import errors as numba_errors
from numba.core import registry
from numba.core import types as numba_types
from numba.core.compiler import CompilerBase, DefaultPassBuilder, Flags, _EarlyPipelineCompletion
from numba.core.compiler_machinery import FunctionPass, PassManager, register_pass
from numba.core.typed_passes import NopythonTypeInference

from srcad.errors import caught_warnings, numba_message


class TypingFailure(Exception):
    """numba could not type the function; ``line`` is the line in the typed source."""

    def __init__(self, message, line, detail=""):
        super().__init__(message)
        self.message = message
        self.line = line
        self.detail = detail  # numba's whole text


@register_pass(mutates_CFG=False, analysis_only=True)
class _StopAfterTyping(FunctionPass):
    _name = "srcad_stop_after_typing"

    def __init__(self):
        FunctionPass.__init__(self)

    def run_pass(self, state):
        raise _EarlyPipelineCompletion((state.typemap, state.return_type))


class _TypesOnly(CompilerBase):
    def define_pipelines(self):
        manager = PassManager("srcad types")
        manager.passes.extend(DefaultPassBuilder.define_untyped_pipeline(self.state).passes)
        manager.add_pass(NopythonTypeInference, "nopython frontend")
        manager.add_pass(_StopAfterTyping, "stop after typing")
        manager.finalize()
        return [manager]


def infer_types(function, argument_types):
    """(variable -> numba type, return type) for ``function`` called with ``argument_types``."""
    target = registry.cpu_target
    target.target_context.refresh()  # loads the typing of NumPy functions too
    target.typing_context.refresh()
    flags = Flags()
    flags.nrt = True
    # NumPy's functions are typed through numba overloads, which jit their implementations while
    # typing; with NUMBA_DISABLE_JIT=1 (plain-Python mode) that jit would hand back plain functions
    # numba cannot type, so typing runs with the jit on. Nothing compiled here is ever run.
    disabled, numba_config.DISABLE_JIT = numba_config.DISABLE_JIT, 0
    try:
        with caught_warnings() as caught:  # typing is not the compile that runs: srcad.compiled says them
            pipeline = _TypesOnly(target.typing_context, target.target_context, None, argument_types, None, flags, {})
            typemap, return_type = pipeline.compile_extra(function)
    except numba_errors.NumbaError as error:
        loc = getattr(error, "loc", None)
        raise TypingFailure(numba_message(error), getattr(loc, "line", None), str(error)) from None
    except AssertionError:  # numba asserts where it does not take a call (x[mask] of a 2-D mask, in a helper)
        raise TypingFailure("numba cannot compile a call made here as written (it stopped on an internal "
                            "assertion)", None, "AssertionError") from None
    finally:
        numba_config.DISABLE_JIT = disabled
    for warning in caught:
        if not issubclass(warning.category, numba_errors.NumbaPerformanceWarning):
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    types = {}
    for name, numba_type in typemap.items():
        if name.startswith("$") or name.startswith("arg."):
            continue
        base = name.split(".")[0]
        numba_type = getattr(numba_type, "literal_type", numba_type)
        if base not in types or isinstance(numba_type, numba_types.Float):
            types[base] = numba_type
    return types, return_type
