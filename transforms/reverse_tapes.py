"""What the forward sweep saves and the reverse sweep gets back (mixed into ``ReverseMode``): floats
and ints pushed on the two tapes, arrays' overwritten values and old bindings in lists, values for
variables before their first assignment, and the argument arrays' final contents."""

import libcst as cst

from srcad.transforms.ir import assign
from srcad.transforms.precedence import spelled



class TapeOperations:
    """Mixed into ``ReverseMode``: ``self.floats``, ``self.analysis``, ``self.names``... come from it."""

    def push(self, code, as_float=False):
        """Save the value of ``code`` (a variable, or an integer expression) on the tape."""
        stack, top = (self.floats, self.floats_top) if as_float else (self.ints, self.ints_top)
        return cst.parse_statement(f"{stack}[{top}] = {code}; {top} += 1")

    def final_argument_values(self):
        """The reverse sweep puts back the old values of arrays it saved; for argument arrays, the
        caller must still see what the function did to them: a copy of their contents after the
        forward sweep is written back at the end. (The argument is held under its own name here,
        since the function may bind the parameter's name to other arrays.)"""
        entry, after_forward, before_return = [], [], []
        for name in self.parameters:
            shared = self.analysis.aliases.get(name, {name})
            if not self.is_array(name) or not shared & set(self.saved_arrays):
                continue
            argument, final = self.names.fresh(f"{name}_argument"), self.names.fresh(f"{name}_final")
            entry.append(assign(argument, cst.Name(name)))
            after_forward.append(cst.parse_statement(f"{final} = {argument}.copy()"))
            before_return.append(cst.parse_statement(f"{argument}[...] = {final}"))
        return entry, after_forward, before_return

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

    def save(self, name):
        if self.is_array(name):
            raise self.unsupported(
                f"srcad cannot differentiate this yet: the array '{name}' is changed after a use whose "
                "derivative needs its values",
                "Work on a copy (b = a.copy()) for the later changes, or write the use as a loop.",
            )
        return self.push(name, as_float=self.is_float(name))

    def pop(self, name, as_float=None):
        as_float = self.is_float(name) if as_float is None else as_float
        stack, top = (self.floats, self.floats_top) if as_float else (self.ints, self.ints_top)
        return cst.parse_statement(f"{top} -= 1; {name} = {stack}[{top}]")

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
