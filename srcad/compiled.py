"""A compiled derivative for one signature, and the check ``grad`` makes of its outputs."""

import contextlib
import re
import threading
import warnings

from srcad.errors import PerformanceWarning, caught_warnings, error_at_generated_line, numba_message
from srcad.kernels import cpu
from srcad.kernels.runtime import TapeOverBudget

_typing = threading.local()  # .error: a DifferentiabilityError met while numba typed a call


def keep_typing_error(error):
    """Keep ``error``, met while numba typed a call of a helper through its derivatives (numba itself
    reports only that typing failed), for the compilation that asked: it is the user's error."""
    _typing.error = error


def take_typing_error():
    """The error ``keep_typing_error`` kept on this thread, once."""
    error = getattr(_typing, "error", None)
    _typing.error = None
    return error


def located(error, source, line, filename):
    """``error``, kept while typing a call through derivatives, at its own line, or where it has none
    (a derivative called inside differentiated code: its argument types) at the call's ``line`` of
    the generated ``source``."""
    if error.lineno:
        return error
    return error_at_generated_line(source, line, error.why, filename, error.fix)


class NotOneFloat(TypeError):
    """A function differentiated by ``grad`` (or a second derivative) does not return one float."""

    def __init__(self, message, outputs):
        super().__init__(message)
        self.outputs = outputs


def _check_one_float(name, outputs, what="srcad.grad"):
    """``grad`` needs one float output: else a TypeError saying what to use instead."""
    if len(outputs) == 1 and outputs[0][0] == "float":
        return
    if len(outputs) > 1:
        raise NotOneFloat(
            f"{what} needs {name} to return one float, but it returns a tuple "
            f"({', '.join(text for _, text in outputs)}); use srcad.vjp for tuple outputs", outputs
        )
    kind, text = outputs[0]
    if kind == "array":
        raise NotOneFloat(
            f"{what} needs {name} to return one float, but it returns an array ({text}); "
            "reduce it to a scalar (e.g. sum it), or use srcad.vjp or srcad.jacobian", outputs
        )
    raise NotOneFloat(f"{what} needs {name} to return a float, but it returns {text}", outputs)


class Compiled:
    """A compiled derivative for one signature; compiling it turns numba errors into srcad errors."""

    def __init__(self, dispatcher, source, filename, signature, written_parameters):
        self.source = source
        self.dispatcher = dispatcher
        self.written_parameters = written_parameters  # array arguments written in place
        from numba.core.errors import NumbaError

        take_typing_error()  # none left from an earlier compile
        try:
            with _users_lines_for_warnings(source, filename):
                cpu.compile_for(dispatcher, signature)
        except NumbaError as error:
            found = take_typing_error()  # in a helper called through its own derivatives: its line
            if found is not None:
                raise located(found, source, getattr(getattr(error, "loc", None), "line", None), filename) from None

            loc = getattr(error, "loc", None)
            custom_rule = [line for line in str(error).splitlines() if "srcad custom rule:" in line]
            if custom_rule:  # the user's rule, not srcad, is at fault
                why = custom_rule[0].split("srcad custom rule:", 1)[1].strip()
                raise error_at_generated_line(source, getattr(loc, "line", None), why, filename) from None
            raise error_at_generated_line(
                source,
                getattr(loc, "line", None),
                "srcad generated code numba could not compile (a bug in srcad, please report it): "
                + numba_message(error),
                filename,
            ) from None
        except AssertionError:  # numba asserts on some indexing it does not take (a mask of 2 dimensions, written)
            raise error_at_generated_line(
                source, None, "numba cannot compile this function as srcad wrote it (it stopped on an internal "
                "assertion): indexing with a boolean mask of several dimensions, perhaps", filename
            ) from None

    def __call__(self, *args):
        try:
            return self.dispatcher(*args)
        except NotImplementedError as error:
            if "incompatible shape for array" not in str(error):
                raise
            raise ValueError(
                "numba cannot reshape an array that is not contiguous in memory (e.g. x.T.reshape(-1) or "
                "A[:, 1:].reshape(-1)), which NumPy does by copying; copy it in C order first: a.ravel().reshape(...)"
            ) from None


class CheckpointedPastBudget:
    """A gradient's adjoint keeping every iteration of its time loops (``kept``, a ``Compiled``), and
    the checkpointed adjoint ``checkpointed()`` compiles, run instead from the first call where a
    loop's tape would not fit in the memory budget (``kept`` raises TapeOverBudget after measuring
    one iteration). Most gradients fit: they compile ``kept`` alone, without the code that keeps
    states and runs segments again, about half of the checkpointed adjoint."""

    def __init__(self, kept, checkpointed):
        self.kept = kept
        self._compile_checkpointed = checkpointed
        self.checkpointed = None  # compiled at the first call past the budget, then run at every call
        self.written_parameters = kept.written_parameters  # (none: the policy does not escape otherwise)
        self.source = kept.source

    def __call__(self, *args):
        if self.checkpointed is None:
            try:
                return self.kept(*args)
            except TapeOverBudget:
                self.compile_checkpointed()
        return self.checkpointed(*args)

    def compile_checkpointed(self):
        """Compile the checkpointed adjoint now, not at the first call past the budget (a benchmark
        warms it up before timing)."""
        if self.checkpointed is None:
            self.checkpointed = self._compile_checkpointed()
        return self.checkpointed


@contextlib.contextmanager
def _users_lines_for_warnings(source, filename):
    """numba's performance warnings about generated code, said again at the user's line they come
    from, in srcad's words; other warnings pass through as they are."""
    from numba.core.errors import NumbaPerformanceWarning

    try:
        with caught_warnings() as caught:
            yield
    finally:
        for warning in caught:
            if not issubclass(warning.category, NumbaPerformanceWarning):
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
                continue
            where = error_at_generated_line(source, warning.lineno, "", filename)
            message = _performance_message(str(warning.message))
            warnings.warn_explicit(message, PerformanceWarning, where.filename, where.lineno or 1)


def _performance_message(text):
    if re.search(r"'@' is faster on contiguous arrays", text):
        return ("a matrix product (@, np.dot) here runs on an array not contiguous in memory (a transpose or "
                "a strided slice), which is slower; np.ascontiguousarray(...) makes a contiguous copy")
    return "this line compiles to slower code than it could: " + text.splitlines()[0]
