"""What the parts of one function's adjoint share while it is generated (see ``adjoint.py``).

``ReverseMode`` (statements, blocks and control flow) and ``ArrayAdjoints`` (statements binding
and writing arrays) generate one adjoint together; ``SweepState`` is what they both read and
extend: the names of adjoints and scratch values, the tape (two stacks, and lists of arrays),
the values computed again and fresh at the point of the reverse sweep being generated, and the
user line being transformed (for errors).
"""

import libcst as cst
from numba.core import types as numba_types

from .. import rules
from ..analysis.recompute import computed_operation
from ..ir import UnsupportedHere, accumulate, assign
from ..ir.precedence import spelled
from ..ir.statements import assignment_of, index_atoms, is_array_type, is_float64_vector_type
from .reserve import Tape

ZERO = cst.Float("0.0")


class SweepState:
    """Names, tape and fresh values of one adjoint function being generated."""

    def __init__(self, analysis, names):
        self.analysis = analysis
        self.names = names
        self.adjoint_names = {}
        self.adjoint_owner = {}  # x_adj -> x
        self.scratch = {}
        self.tape = Tape(names.fresh("tape_floats"), names.fresh("floats_top"), names.fresh("tape_ints"),
                         names.fresh("ints_top"))
        self.array_tapes = {}  # array variable -> its tape: a list of arrays (old values, or old bindings)
        self.saved_arrays = set()  # arrays whose overwritten values the reverse sweep puts back
        self.fresh = set()  # recomputed values valid at the current point of the reverse sweep
        self.current_marker = None  # "N: text" of the user line being transformed

    # -- names and types -------------------------------------------------------------------------
    def adjoint(self, name):
        if name not in self.adjoint_names:
            self.adjoint_names[name] = self.names.fresh(f"{name}_adj")
            self.adjoint_owner[self.adjoint_names[name]] = name
        return self.adjoint_names[name]

    def scratch_name(self, name, suffix):
        key = (name, suffix)
        if key not in self.scratch:
            self.scratch[key] = self.names.fresh(f"{name}_{suffix}")
        return self.scratch[key]

    def is_float_vector(self, name):
        return is_float64_vector_type(self.analysis.types.get(name))

    def is_array(self, name):
        return is_array_type(self.analysis.types.get(name))

    def is_float(self, name):
        return isinstance(self.analysis.types.get(name), numba_types.Float) or name not in self.analysis.types

    def rank(self, atom):
        numba_type = self.analysis.types.get(atom.value) if isinstance(atom, cst.Name) else None
        return getattr(numba_type, "ndim", 0)

    def ranks(self, operation):
        return tuple(self.rank(a) for a in operation.operands)

    # -- contributions and errors --------------------------------------------------------------
    def contribution(self, accumulator, increment, subtract=False):
        """``t_adj = increment`` for a single-use temporary, else ``accumulator += increment``."""
        if isinstance(accumulator, cst.Name) and self.adjoint_owner.get(accumulator.value) in self.analysis.single_use:
            return assign(accumulator, cst.UnaryOperation(cst.Minus(), increment) if subtract else increment)
        return accumulate(accumulator, increment, subtract)

    def shared_value(self, target, rule, bindings):
        """A rule whose adjoints share one computation (a callee's adjoint, giving every argument's
        cotangent at once): the statement computing it, bound as ``shared`` for the adjoints."""
        if rule.shared is None:
            return []
        shared = cst.Name(self.scratch_name(target, "cotangents"))
        bindings["shared"] = shared
        return [assign(shared, rules.instantiate(rule.shared, **bindings))]

    def unsupported(self, why, fix):
        lineno = int(self.current_marker.split(":")[0]) if self.current_marker else 0
        return UnsupportedHere(why, fix, lineno)

    # -- values computed again in the reverse sweep -------------------------------------------
    def recompute(self, name):
        """Statements computing ``name`` again (and what it needs), unless already fresh here."""
        statement = self.analysis.recomputed.get(name)
        if statement is None or name in self.fresh:
            return []
        element = self.analysis.stored.get(name)
        if element is not None:  # read back from where the forward sweep stored it (stored_values.py)
            lines = [line for atom in index_atoms(element) if isinstance(atom, cst.Name) for line in self.recompute(atom.value)]
            self.fresh.add(name)
            return lines + [assign(name, element)]
        lines = []
        for operand in computed_operation(assignment_of(statement)[1]).operand_names():
            lines += self.recompute(operand)
        self.fresh.add(name)
        return lines + [statement.with_changes(leading_lines=[])]

    # -- the tape: what the forward sweep saves and the reverse sweep gets back ----------------
    def push(self, code, as_float=False):
        """Save the value of ``code`` (a variable, or an integer expression) on the tape."""
        return self.tape.push(code, as_float)

    def pop(self, name, as_float=None):
        return self.tape.pop(name, self.is_float(name) if as_float is None else as_float)

    def save(self, name):
        if self.is_array(name):
            raise self.unsupported(
                f"srcad cannot differentiate this yet: the array '{name}' is changed after a use whose "
                "derivative needs its values",
                "Work on a copy (b = a.copy()) for the later changes, or write the use as a loop.",
            )
        return self.push(name, as_float=self.is_float(name))

    def save_values(self, array, written, statement, one_element=False):
        """Forward and reverse code around ``statement``, which overwrites ``written`` (an element of
        ``array``, a region, or all of it) while the reverse sweep still needs the old values."""
        self.saved_arrays.add(array)
        if one_element:  # a float
            code = spelled(written)
            return [self.push(code, as_float=True), statement], [self.pop(code, as_float=True)]
        saved = self.array_tape(array, statement)
        code = spelled(written)
        whole = code if isinstance(written, cst.Subscript) else f"{code}[...]"
        return (
            [cst.parse_statement(f"{saved}.append({code}.copy().reshape(-1))"), statement],
            [cst.parse_statement(f"{whole} = {saved}.pop().reshape({code}.shape)")],
        )



    def array_tape(self, name, statement=None, sample=None):
        """The list saving the bindings of the array variable ``name`` (items like ``sample``, by
        default like ``name``), or with ``statement``, the values that statement overwrites (a list
        per write: regions differ in rank)."""
        key = name if statement is None else (name, id(statement))
        if key not in self.array_tapes:
            # bindings keep the variable's type; saved values are flat copies (one item type per list)
            saved = self.names.fresh(f"{name}_saved" if statement is None else f"{name}_values")
            if statement is not None:
                sample = cst.parse_expression(f"np.empty(0, dtype=np.{self.analysis.types[name].dtype})")
            self.array_tapes[key] = (saved, sample if sample is not None else self.placeholder_value(name))
        return self.array_tapes[key][0]

    def placeholder_value(self, name):
        """A value for a variable before its first assignment: 0.0, 0, or an empty array of its type."""
        numba_type = self.analysis.types.get(name)
        if self.is_array(name) and numba_type.layout == "C":
            return cst.parse_expression(f"np.empty({(0,) * numba_type.ndim}, dtype=np.{numba_type.dtype})")
        if self.is_array(name):  # the variable will hold views (numba's layout "A")
            return self.strided_placeholder(name)
        return cst.Float("0.0") if self.is_float(name) else cst.Integer("0")

    def strided_placeholder(self, name):
        """An empty array of the rank and dtype of ``name``, of numba's layout "A" (any strides)."""
        numba_type = self.analysis.types[name]
        shape = (0,) * numba_type.ndim + (1,)
        return cst.parse_expression(f"np.empty({shape}, dtype=np.{numba_type.dtype})[..., 0]")

    def saved_lists(self):
        """The names of the lists the forward sweep appends arrays to (old values, old bindings)."""
        return {saved for saved, _ in self.array_tapes.values()}

    def tape_names(self):
        return self.tape.names()
