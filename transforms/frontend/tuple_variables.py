"""Which variables of a function being normalized hold tuples, and the variables holding their parts.

The normal form has no tuples: a tuple variable ``state`` of a NamedTuple ``State(x, v)`` is two
variables ``state_x`` and ``state_v``, a tuple argument one parameter per part, and a tuple output
``return (r_0, r_1)`` of its parts. ``TupleVariables`` is the one place that knows this mapping while
the ``Normalizer`` reads the user's code: it answers what a tuple variable or a part of one
(``p[0]``, ``s.v``) holds, binds tuple variables part by part, and checks that every return gives
one structure. The values themselves are ``Packed`` (see ``tuples.py``); reading expressions into
them stays the Normalizer's.
"""

import libcst as cst

from ..ir import assign
from .tuples import Packed, packed_like

SINGLE = "one value"  # the output structure of a function returning one value


def _leaf_paths(structure, prefix=""):
    for field, part in zip(structure.fields, structure.parts):
        path = f"{prefix}_{field}" if prefix else field
        if part is None:
            yield path
        else:
            yield from _leaf_paths(part, path)


class TupleVariables:
    """Tuple variables and what they hold. ``names`` makes the part variables' names; ``error(why,
    node, fix)`` makes a DifferentiabilityError at the user's node."""

    def __init__(self, names, error):
        self.names, self.error = names, error
        self.bundles = {}  # tuple variable -> the Packed of the variables holding its parts
        self.single_values = set()  # variables assigned a single value (never a tuple)
        self.output = None  # the structure of a tuple output; SINGLE for one value; None before a return

    def holds_tuple(self, name):
        return name in self.bundles

    @property
    def output_structure(self):
        """The structure of the function's tuple output, or None when it returns one value."""
        return None if self.output == SINGLE else self.output

    # -- reading ------------------------------------------------------------------------------------
    def of_parameter(self, name, structure):
        """The Packed of parameters standing for the tuple argument ``name``: ``state_x``, ``state_v``..."""

        def made(prefix, structure):
            items = []
            for field, part in zip(structure.fields, structure.parts):
                hint = f"{prefix}_{field}"
                items.append(cst.Name(self.names.fresh(hint)) if part is None else made(hint, part))
            return Packed(structure.kind, items)

        self.bundles[name] = made(name, structure)
        return self.bundles[name]

    def part(self, node):
        """The Packed or atom a tuple variable, or a part of one (``p``, ``p[0]``, ``s.v``, ``s.a[1]``), holds;
        None when ``node`` is no such thing."""
        if isinstance(node, cst.Name):
            return self.bundles.get(node.value)
        if isinstance(node, cst.Attribute):
            whole = self.part(node.value)
            if not isinstance(whole, Packed):
                return None
            fields = whole.fields
            if node.attr.value not in fields or whole.kind is tuple:
                raise self.error(f"this tuple has no part named {node.attr.value!r} (its parts: {', '.join(fields)})", node)
            return whole.items[fields.index(node.attr.value)]
        if isinstance(node, cst.Subscript):
            whole = self.part(node.value)
            if not isinstance(whole, Packed):
                return None
            if len(node.slice) != 1 or not isinstance(node.slice[0].slice, (cst.Index, cst.Slice)):
                raise self.error("index a tuple with one number", node)
            index = node.slice[0].slice
            if isinstance(index, cst.Slice):
                bounds = [self._index(getattr(index, b)) if getattr(index, b) else None for b in ("lower", "upper", "step")]
                return Packed(tuple, whole.items[slice(*bounds)])
            position = self._index(index.value)
            if not -len(whole.items) <= position < len(whole.items):
                raise self.error(f"tuple index {position} is out of range (the tuple has {len(whole.items)} parts)", node)
            return whole.items[position]
        return None

    def _index(self, node):
        negative = isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus)
        literal = node.expression if negative else node
        if not isinstance(literal, cst.Integer):
            raise self.error(
                "srcad needs a tuple's index written as a number",
                node,
                "Index tuples with constants (t[0]), or store the values in an array to index them by a variable.",
            )
        return -int(literal.value) if negative else int(literal.value)

    def length(self, node):
        """``len(t)`` of a tuple variable: a number; None for anything else."""
        if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "len"):
            return None
        if len(node.args) != 1:
            return None
        whole = self.part(node.args[0].value)
        return cst.Integer(str(len(whole.items))) if isinstance(whole, Packed) else None

    def one_value(self, value, node):
        """``value`` where a number or an array is needed: a tuple there is an error at ``node``."""
        if isinstance(value, Packed):
            raise self.error(
                "srcad cannot use a tuple here",
                node,
                "Unpack it first ('a, b = t') or take one part (t[0], state.x).",
            )
        return value

    # -- binding ------------------------------------------------------------------------------------
    def single(self, name, node):
        """Record that ``name`` is assigned a single value at ``node`` (a tuple elsewhere is an error)."""
        if name in self.bundles:
            raise self.error(f"{name!r} holds a single value here and a tuple elsewhere", node, "Use two names.")
        self.single_values.add(name)

    def unpacked(self, target, packed):
        """(target, atom or Packed) pairs of a tuple target and the tuple value it unpacks."""
        elements = [e.value for e in target.elements]
        if any(isinstance(e, cst.StarredElement) for e in target.elements):
            raise self.error("srcad cannot differentiate starred assignment", target)
        if len(elements) != len(packed.items):
            raise self.error(f"cannot unpack a tuple of {len(packed.items)} into {len(elements)} target(s)", target)
        pairs = []
        for element, part in zip(elements, packed.items):
            if isinstance(element, (cst.Tuple, cst.List)):
                if not isinstance(part, Packed):
                    raise self.error("this part is a single value, not a tuple to unpack", element)
                pairs += self.unpacked(element, part)
                continue
            pairs.append((element, part))
        return pairs

    def written_by(self, targets):
        """The variables that assigning the names among ``targets`` writes: the names and their parts."""
        written = set()
        for target in targets:
            if isinstance(target, cst.Name):
                bundle = self.bundles.get(target.value)
                written |= {target.value} | {leaf.value for leaf in (bundle.leaves() if bundle else [])}
        return written

    def bind(self, name, value, node):
        """Statements binding the tuple variable ``name`` to the Packed ``value``, part by part."""
        structure = value.structure()
        if name in self.single_values:
            raise self.error(f"{name!r} holds a tuple here and a single value elsewhere", node, "Use two names.")
        bundle = self.bundles.get(name)
        if bundle is None:
            leaves = iter(cst.Name(self.names.fresh(f"{name}_{path}")) for path in _leaf_paths(structure))
            bundle = self.bundles[name] = packed_like(structure, leaves)
        elif bundle.structure().parts != structure.parts:
            raise self.error(
                f"{name!r} holds tuples of different shapes ({bundle.structure().describe()} and {structure.describe()})",
                node,
                "Use a new name for the new tuple.",
            )
        elif bundle.kind is not tuple and value.kind is not tuple and bundle.kind is not value.kind:
            raise self.error(f"{name!r} holds a {bundle.kind.__name__} elsewhere and a {value.kind.__name__} here", node)
        return self.assigned_parts(bundle.leaves(), value.leaves())

    def assigned_parts(self, targets, atoms):
        """``t_k = a_k`` for each part; parts read after one of the targets is written go through
        temporaries first (``p = (p[1], p[0])`` swaps)."""
        written = {t.value for t in targets if isinstance(t, cst.Name)}
        statements, safe = [], []
        for target, atom in zip(targets, atoms):
            if isinstance(atom, cst.Name) and atom.value in written and atom.value != getattr(target, "value", None):
                temporary = self.names.fresh(f"{atom.value}_old")
                statements.append(assign(temporary, atom))
                atom = cst.Name(temporary)
            safe.append(atom)
        return statements + [assign(target, atom) for target, atom in zip(targets, safe)]

    # -- returning ----------------------------------------------------------------------------------
    def returned(self, value, node):
        """``return (r_0, r_1)`` of a tuple output's leaves; every return must give the same structure."""
        structure = value.structure()
        if self.output is None:
            self.output = structure
        elif self.output != structure:
            if self.output == SINGLE:
                raise self.error(
                    f"this returns a tuple {structure.describe()}, another return gives one value",
                    node,
                    "Return tuples of one structure everywhere.",
                )
            raise self.error(
                f"this returns {structure.describe()}, another return gives {self.output.describe()}",
                node,
                "Return tuples of one structure everywhere.",
            )
        return cst.Tuple([cst.Element(leaf) for leaf in value.leaves()])

    def returned_one(self, node):
        """Record a return of one value at ``node`` (another return giving a tuple is an error)."""
        if self.output not in (None, SINGLE):
            raise self.error(
                f"this returns one value, another return gives a tuple {self.output.describe()}",
                node,
                "Return tuples of one structure everywhere.",
            )
        self.output = SINGLE
