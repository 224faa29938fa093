"""A call of generated code: tuple arguments taken apart into their leaves, results put back together.

Generated code takes floats, ints and arrays (see ``srcad.structure``). ``FlatCall`` turns a
call's bound arguments into those leaves, names each leaf for messages (``state.x``,
``pair[1]``), says which leaves ``wrt`` differentiates, and rebuilds gradients with the
structure of their arguments: a ``State`` NamedTuple's gradient is a ``State``.
"""

import numpy

from srcad.structure import flattened_arguments, rebuilt


def differentiable_value(value):
    """A float, or an array of floats."""
    if isinstance(value, numpy.ndarray):
        return value.dtype.kind == "f"
    return isinstance(value, (float, numpy.floating))


def checked_like(primal, given, what, of):
    """``given`` (a tangent or cotangent of ``primal``) as generated code takes it: a float, or a
    C-contiguous array of the primal's shape and dtype (None: zeros). ``what`` names it and ``of``
    the primal in the ValueError for anything else."""
    if type(given) is numpy.ndarray and type(primal) is numpy.ndarray and given.shape == primal.shape:
        if given.dtype is primal.dtype and given.flags.c_contiguous:  # the common case, as it is
            return given
    elif type(given) is float and type(primal) is not numpy.ndarray:
        return given
    return _converted_like(primal, given, what, of)


def _converted_like(primal, given, what, of):
    if callable(what):  # messages are made only when needed
        what, of = what(), of()
    if isinstance(primal, numpy.ndarray):
        if given is None:
            return numpy.zeros_like(primal, order="C")
        given = numpy.asarray(given)
        if given.shape != primal.shape:
            raise ValueError(f"{what} has shape {given.shape}, but {of} has shape {primal.shape}")
        if given.dtype.kind not in "fiu":
            raise ValueError(f"{what} must be real numbers, got an array of {given.dtype}")
        return numpy.ascontiguousarray(given, dtype=primal.dtype)
    if given is None:
        return 0.0
    if isinstance(given, numpy.ndarray) and given.ndim == 0:
        given = given.item()
    if isinstance(given, bool) or not isinstance(given, (int, float, numpy.integer, numpy.floating)):
        raise ValueError(f"{what} ({of} is a float) must be a float, got {type(given).__name__}")
    return float(given)


class FlatCall:
    def __init__(self, specializer, args):
        self.specializer = specializer
        self.args = args
        leaves, structures, self.owners = flattened_arguments(args)
        self.leaves = leaves
        self.structures = structures if any(s is not None for s in structures) else None
        self.names = []
        for name, value in zip(specializer.parameters, args):
            self.names += _leaf_names(name, value)

    def leaf_positions(self, position):
        """The positions of the leaves of argument ``position``."""
        return [k for k, owner in enumerate(self.owners) if owner == position]

    def wrt_leaves(self, wrt):
        """The leaves ``wrt`` (non-negative argument positions) differentiates: a plain argument itself
        (checked to be a float later), the float leaves of a tuple."""
        flat = []
        for position in wrt:
            if self.structures is None or self.structures[position] is None:
                flat += self.leaf_positions(position)
                continue
            floats = [k for k in self.leaf_positions(position) if differentiable_value(self.leaves[k])]
            if not floats:
                raise TypeError(
                    f"cannot differentiate {self.specializer.name} with respect to argument "
                    f"{self.specializer.parameters[position]!r} (wrt={position}): none of its parts is a float "
                    "or a float array"
                )
            flat += floats
        return tuple(flat)

    def signature(self, flat_wrt):
        """The types of the leaves (checked), and ``flat_wrt``."""
        return self.specializer.check_call(self.leaves, flat_wrt, self.names)

    def grouped(self, positions, flat_positions, values):
        """Per argument in ``positions``, its value rebuilt from ``values`` (given for ``flat_positions``;
        None for the other leaves): a tuple argument's gradient has its structure."""
        by_leaf = dict(zip(flat_positions, values))
        grouped = []
        for position in positions:
            structure = None if self.structures is None else self.structures[position]
            leaves = [by_leaf.get(k) for k in self.leaf_positions(position)]
            grouped.append(leaves[0] if structure is None else rebuilt(structure, leaves))
        return grouped

    def check_aliasing(self, written_parameters):
        self.specializer.check_aliasing(self.leaves, written_parameters, self.names)


def _leaf_names(name, value):
    if not isinstance(value, tuple):
        return [name]
    fields = getattr(type(value), "_fields", None)
    names = []
    for index, part in enumerate(value):
        inner = f"{name}.{fields[index]}" if fields else f"{name}[{index}]"
        names += _leaf_names(inner, part)
    return names
