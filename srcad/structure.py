"""Tuples and NamedTuples at the API boundary: values as flat lists of leaves, and back.

srcad's generated code takes and returns leaves only (floats, ints, arrays). A tuple
argument ``state = (x, v)`` or a ``typing.NamedTuple`` becomes one parameter per leaf,
and the normalize pass gives the function's tuple variables one variable per leaf
(``state_x``, ``state_v``). Gradients and outputs are rebuilt here with the same
structure, NamedTuple types included, as JAX does for its pytrees.

A structure is ``None`` for a leaf, or a ``Structure`` of a tuple type and the
structures of its parts.
"""

from dataclasses import dataclass

UNKNOWN = "not known yet"  # the structures of a function's arguments before any call (see NeedsStructures)


class NeedsStructures(Exception):
    """Raised while normalizing with UNKNOWN structures (checking a function before any call) where
    the code uses an argument as a tuple, or calls a function the module has not defined yet (a
    helper further down): which arguments are tuples, and what the helper is, show only at the call,
    so checking waits for it."""


@dataclass(frozen=True)
class Structure:
    kind: type  # tuple, or a NamedTuple class
    parts: tuple  # one structure per element (None for a leaf)

    @property
    def fields(self):
        """Names of the parts: a NamedTuple's fields, else their positions."""
        return tuple(getattr(self.kind, "_fields", None) or (str(k) for k in range(len(self.parts))))

    def leaves(self):
        """How many leaves a value of this structure has."""
        return sum(1 if part is None else part.leaves() for part in self.parts)

    def describe(self):
        """A stable text for cache keys and messages: ``State(x, (0, 1))``."""
        name = "" if self.kind is tuple else f"{self.kind.__module__}.{self.kind.__qualname__}"
        inner = ", ".join(
            f"{field}={'*' if part is None else part.describe()}" for field, part in zip(self.fields, self.parts)
        )
        return f"{name}({inner})"


def is_named_tuple_class(value):
    return isinstance(value, type) and issubclass(value, tuple) and hasattr(value, "_fields")


def structure_of(value):
    """The structure of a value (None for a leaf)."""
    if not isinstance(value, tuple):
        return None
    if not value:
        raise TypeError("srcad cannot take an empty tuple as an argument")
    kind = type(value) if is_named_tuple_class(type(value)) else tuple
    return Structure(kind, tuple(structure_of(part) for part in value))


def leaves_of(value):
    """The leaves of a value, depth first, in order."""
    if not isinstance(value, tuple):
        return [value]
    return [leaf for part in value for leaf in leaves_of(part)]


def rebuilt(structure, leaves):
    """The value of ``structure`` made of ``leaves`` (consumed in order)."""
    leaves = iter(leaves)

    def build(part):
        if part is None:
            return next(leaves)
        items = [build(inner) for inner in part.parts]
        return part.kind(*items) if part.kind is not tuple else tuple(items)

    return build(structure)


def flattened_arguments(args):
    """``(leaves, structures, owners)``: the leaves of every argument, each argument's structure
    (None for a plain value; all None when no argument is a tuple), and for each leaf the
    position of the argument it belongs to."""
    leaves, structures, owners = [], [], []
    for position, value in enumerate(args):
        structures.append(structure_of(value))
        parts = leaves_of(value)
        leaves += parts
        owners += [position] * len(parts)
    return leaves, tuple(structures), owners


def cotangent_leaves(structure, cotangent, what):
    """The leaves of ``cotangent``, checked against the output ``structure``."""
    if structure is None:
        if isinstance(cotangent, tuple):
            raise ValueError(f"{what} is one value, but the cotangent given is a tuple of {len(cotangent)}")
        return [cotangent]
    if not isinstance(cotangent, tuple) or len(cotangent) != len(structure.parts):
        raise ValueError(
            f"{what} is a tuple of {len(structure.parts)} ({structure.describe()}); give a cotangent of the same "
            f"structure, got {type(cotangent).__name__}"
            + (f" of {len(cotangent)}" if isinstance(cotangent, tuple) else "")
        )
    return [
        leaf
        for field, part, inner in zip(structure.fields, structure.parts, cotangent)
        for leaf in cotangent_leaves(part, inner, f"{what}[{field}]")
    ]
