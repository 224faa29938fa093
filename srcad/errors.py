"""The one error srcad raises for code it cannot differentiate, its formatter, and the warning it
gives for code that runs slower than it could."""

import contextlib
import linecache
import re
import warnings


class DifferentiabilityError(Exception):
    """Raised, before anything runs, for code srcad cannot differentiate.

    Attributes ``filename``, ``lineno`` (1-based) and ``col`` (1-based) locate
    the offending expression in the user's file; the message shows that line
    with a caret under the column, says why, and says what to do instead.
    """

    def __init__(self, why, *, filename="<unknown>", lineno=0, col=0, fix=None, source_line=None):
        self.why = why
        self.fix = fix
        self.filename = filename
        self.lineno = lineno
        self.col = col
        if source_line is None and lineno:
            source_line = linecache.getline(filename, lineno).rstrip("\n")
        self.source_line = source_line or ""
        super().__init__(self._format())

    def _format(self):
        where = f"{self.filename}:{self.lineno}:{self.col}" if self.lineno else self.filename
        parts = [f"{where}: {self.why}"]
        if self.source_line:
            stripped = self.source_line.lstrip()
            indent = len(self.source_line) - len(stripped)
            parts.append("    " + stripped)
            parts.append("    " + " " * max(self.col - 1 - indent, 0) + "^")
        if self.fix:
            parts.append(self.fix)
        return "\n".join(parts)


class PerformanceWarning(UserWarning):
    """Code srcad differentiates that runs slower than it could (a matrix product of arrays not
    contiguous in memory), reported at the user's line."""


@contextlib.contextmanager
def caught_warnings():
    """The warnings raised inside, as a list, instead of shown. catch_warnings swaps process-wide
    state, so one thread at a time: under numba's own compiler lock (reentrant), which every compile
    takes anyway and which srcad's compiles nested in numba's (helpers typed on demand) already hold."""
    from numba.core.compiler_lock import global_compiler_lock

    with global_compiler_lock, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


class SourceLocator:
    """Turns positions in a parsed (dedented) function into file positions."""

    def __init__(self, filename, first_line, indent):
        self.filename = filename
        self.first_line = first_line
        self.indent = indent

    def error(self, why, position=None, fix=None):
        if position is None:
            return DifferentiabilityError(why, filename=self.filename, lineno=self.first_line, col=1, fix=fix)
        return DifferentiabilityError(
            why,
            filename=self.filename,
            lineno=self.first_line + position.start.line - 1,
            col=position.start.column + self.indent + 1,
            fix=fix,
        )


def numba_message(error):
    """What a numba error says went wrong, in one line without numba's own words: the operation and
    the types it was given, where numba names them; else the first line that is not the pipeline's
    heading."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    for pattern, say in _NUMBA_FAILURES:
        match = pattern.search(text)
        if match:
            return say(*match.groups())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not _HEADING.match(line.strip())]
    return lines[0] if lines else "numba refused it"


_HEADING = re.compile(r"^Failed in .* pipeline|^During:|^File \"|^<source missing")
_OPERATORS = {
    "add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%", "pow": "**", "matmul": "@",
    "neg": "unary -", "pos": "unary +", "iadd": "+=", "isub": "-=", "imul": "*=", "itruediv": "/=",
    "ifloordiv": "//=", "imod": "%=", "ipow": "**=", "imatmul": "@=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=",
    "eq": "==", "ne": "!=", "getitem": "indexing []", "setitem": "element assignment [] =",
}  # fmt: skip


def _spelled(name):
    return f"'{_OPERATORS[name]}'" if name in _OPERATORS else f"{name}()"


def _types(text):
    return text.replace("none", "None").replace("reflected ", "")


_NUMBA_FAILURES = [
    (re.compile(r"reshape\(\) supports contiguous array only"),
     lambda: "compiled code cannot reshape an array that is not contiguous in memory (a strided view like y[:, 0] or "
             "x[::2]), which NumPy does by copying; copy it first: b.copy().reshape(...)"),
    (re.compile(r"Function\(<(?:built-in )?function array>\) found for signature:\s*>>> \w+\((list\(array[^\n]*)\)"),
     lambda types: "np.array() of a list of arrays cannot be compiled: stack them with np.stack([...])"),
    (re.compile(r"No implementation of function Function\(<(?:built-in )?function (\w+)(?: at 0x[0-9a-f]+)?>\) found for "
                r"signature:\s*>>> \w+\((.*)\)"),
     lambda name, types: f"{_spelled(name)} does not take ({_types(types)})"),
    (re.compile(r"Invalid use of <built-in function (\w+)> with parameters \((.*)\)"),
     lambda name, types: f"{_spelled(name)} does not take ({_types(types)})"),
    (re.compile(r"Unknown attribute '(\w+)' of type ([^\n]+)"),
     lambda attribute, kind: f"a value of type {_types(kind.strip())} has no attribute '{attribute}'"),
    (re.compile(r"Cannot unify ([^\n]+?) and ([^\n]+?) for '([^'.$]+)[^']*'"),
     lambda a, b, name: f"'{name}' holds values of two types ({_types(a)} and {_types(b)}); give it one type"),
]


_MARKER = re.compile(r"#(?: adjoint of)? line (\d+): ")


def error_at_generated_line(source, line, why, filename, fix=None):
    """A DifferentiabilityError at the user's line that line ``line`` of generated ``source`` came from
    (the ``# line N:`` marker above it), or in ``filename`` without a line where none is known."""
    lineno = 0
    if line:
        for text in reversed(source.splitlines()[:line]):
            match = _MARKER.search(text)
            if match:
                lineno = int(match.group(1))
                break
    if not lineno:
        return DifferentiabilityError(why, filename=filename, fix=fix)
    return DifferentiabilityError(why, filename=filename, lineno=lineno, col=first_column(filename, lineno), fix=fix)


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
        error.why, filename=filename, lineno=lineno, col=first_column(filename, lineno), fix=error.fix
    )


_ORIGIN = re.compile(r"^# srcad [^:\n]+: [^\n]* of \S+ in (.+):(\d+)\.$", re.MULTILINE)  # a module's header


def first_column(filename, lineno):
    """The column of the first character of a line of the user's file (1 for an empty one)."""
    text = linecache.getline(filename, lineno)
    return len(text) - len(text.lstrip()) + 1
