"""Tuples and NamedTuples in the normal form (mixed into ``Flattener``): one variable per part.

A tuple never exists in the normal form. ``p = (x, y)`` binds ``p_0 = x; p_1 = y``;
``a, b = p`` reads them back; ``p[1]``, ``s.v`` and ``s._replace(v=w)`` pick or
replace parts; a tuple argument (or a ``typing.NamedTuple``) arrives as one
parameter per leaf and a tuple output leaves as ``return (r_0, r_1)``. Helpers may
take and return tuples, since their parts are bound like any other value. Later
passes see scalars and arrays only, as they do without tuples.

A tuple value while flattening is a ``Packed``: its structure, and for each part an
atom (or a nested ``Packed``).
"""

import libcst as cst

from srcad.structure import NeedsStructures, Structure, is_named_tuple_class


class Packed:
    """A tuple value: ``kind`` (tuple or a NamedTuple class) and one atom or Packed per part."""

    def __init__(self, kind, items):
        self.kind, self.items = kind, list(items)

    def structure(self):
        return Structure(self.kind, tuple(i.structure() if isinstance(i, Packed) else None for i in self.items))

    def leaves(self):
        return [leaf for item in self.items for leaf in (item.leaves() if isinstance(item, Packed) else [item])]

    @property
    def fields(self):
        return self.structure().fields


def packed_like(structure, leaves):
    """A Packed of ``structure`` holding ``leaves`` (an iterator, consumed in order)."""
    items = [next(leaves) if part is None else packed_like(part, leaves) for part in structure.parts]
    return Packed(structure.kind, items)


class TupleFlattening:
    """Mixed into ``Flattener``: ``self.bundles`` maps a tuple variable to the Packed of its part variables."""

    def tuple_parameters(self, name, structure):
        """The Packed of parameters standing for the tuple argument ``name``: ``state_x``, ``state_v``..."""

        def made(prefix, structure):
            items = []
            for field, part in zip(structure.fields, structure.parts):
                hint = f"{prefix}_{field}"
                items.append(cst.Name(self.names.fresh(hint)) if part is None else made(hint, part))
            return Packed(structure.kind, items)

        self.bundles[name] = made(name, structure)
        return self.bundles[name]

    # -- reading ------------------------------------------------------------------------------------
    def value_of(self, node, statements, into=None):
        """An atom, or a Packed for a tuple-valued expression (a display, a tuple variable or part,
        a NamedTuple built or replaced, a helper returning a tuple)."""
        if isinstance(node, cst.Tuple):
            items = []
            for element in node.elements:
                if isinstance(element, cst.StarredElement):
                    raise self.error("srcad cannot differentiate starred expressions", element)
                items.append(self.value_of(element.value, statements))
            if not items:
                raise self.error("srcad cannot differentiate an empty tuple", node)
            return Packed(tuple, items)
        part = self.tuple_part(node)
        if part is not None:
            return part
        if isinstance(node, cst.Call):
            replaced = self.replaced(node, statements)
            if replaced is not None:
                return replaced
            return self.call(node, statements, into)
        return self._flatten(node, statements, into)

    def tuple_part(self, node):
        """The Packed or atom a tuple variable, or a part of one (``p``, ``p[0]``, ``s.v``, ``s.a[1]``), holds;
        None when ``node`` is no such thing."""
        if isinstance(node, cst.Name):
            return self.bundles.get(node.value)
        if isinstance(node, cst.Attribute):
            whole = self.tuple_part(node.value)
            if not isinstance(whole, Packed):
                return None
            fields = whole.fields
            if node.attr.value not in fields or whole.kind is tuple:
                raise self.error(f"this tuple has no part named {node.attr.value!r} (its parts: {', '.join(fields)})", node)
            return whole.items[fields.index(node.attr.value)]
        if isinstance(node, cst.Subscript):
            whole = self.tuple_part(node.value)
            if not isinstance(whole, Packed):
                return None
            if len(node.slice) != 1 or not isinstance(node.slice[0].slice, (cst.Index, cst.Slice)):
                raise self.error("index a tuple with one number", node)
            index = node.slice[0].slice
            if isinstance(index, cst.Slice):
                bounds = [self._tuple_index(getattr(index, b)) if getattr(index, b) else None for b in ("lower", "upper", "step")]
                return Packed(tuple, whole.items[slice(*bounds)])
            position = self._tuple_index(index.value)
            if not -len(whole.items) <= position < len(whole.items):
                raise self.error(f"tuple index {position} is out of range (the tuple has {len(whole.items)} parts)", node)
            return whole.items[position]
        return None

    def _tuple_index(self, node):
        negative = isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus)
        literal = node.expression if negative else node
        if not isinstance(literal, cst.Integer):
            raise self.error(
                "srcad needs a tuple's index written as a number",
                node,
                "Index tuples with constants (t[0]), or store the values in an array to index them by a variable.",
            )
        return -int(literal.value) if negative else int(literal.value)

    def replaced(self, node, statements):
        """``s._replace(v=w)``: s with some parts replaced; None for any other call."""
        function = node.func
        if not (isinstance(function, cst.Attribute) and function.attr.value == "_replace"):
            return None
        whole = self.tuple_part(function.value)
        if not isinstance(whole, Packed) or whole.kind is tuple:
            return None
        items = list(whole.items)
        for argument in node.args:
            if argument.keyword is None or argument.keyword.value not in whole.fields:
                raise self.error(f"_replace takes the names of the parts ({', '.join(whole.fields)}) as keywords", argument)
            items[whole.fields.index(argument.keyword.value)] = self.value_of(argument.value, statements)
        return Packed(whole.kind, items)

    def constructed(self, node, kind, statements):
        """``State(x, v)`` or ``State(x=x, v=v)`` for a NamedTuple class: a Packed, defaults filled in."""
        fields = kind._fields
        given = {}
        for position, argument in enumerate(node.args):
            if argument.star:
                raise self.error("srcad cannot build a NamedTuple from *args", argument)
            name = argument.keyword.value if argument.keyword is not None else (fields[position] if position < len(fields) else None)
            if name not in fields or name in given:
                raise self.error(f"this does not match {kind.__name__}({', '.join(fields)})", argument)
            given[name] = self.value_of(argument.value, statements)
        items = []
        for name in fields:
            if name in given:
                items.append(given[name])
            elif name in kind._field_defaults and isinstance(kind._field_defaults[name], (int, float)):
                items.append(cst.parse_expression(repr(kind._field_defaults[name])))
            else:
                raise self.error(f"{kind.__name__}() is missing its part {name!r}", node)
        return Packed(kind, items)

    def scalar(self, value, node):
        """``value`` where a number or an array is needed: a tuple there is an error at ``node``."""
        if isinstance(value, Packed):
            raise self.error(
                "srcad cannot use a tuple here",
                node,
                "Unpack it first ('a, b = t') or take one part (t[0], state.x).",
            )
        return value

    def tuple_length(self, node):
        """``len(t)`` of a tuple variable: a number; None for anything else."""
        if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "len"):
            return None
        if len(node.args) != 1:
            return None
        whole = self.tuple_part(node.args[0].value)
        return cst.Integer(str(len(whole.items))) if isinstance(whole, Packed) else None

    # -- assignments with tuple targets (the Normalizer's) -------------------------------------------
    def tuple_assignment(self, target, value):
        """``a, b = e1, e2``, ``x, v = state``, ``a, (b, c) = helper(x)``: every part bound in turn, the
        values read first (parts that a target overwrites go through temporaries)."""
        if isinstance(value, cst.Attribute) and self.is_array_attribute(value) and value.attr.value == "shape":
            parts = [cst.Subscript(value, [cst.SubscriptElement(cst.Index(cst.Integer(str(k))))]) for k in range(len(target.elements))]
            value = cst.Tuple([cst.Element(p) for p in parts])  # n, m = a.shape
        statements, packed = self.expression(value, allow_tuple=True)
        if not isinstance(packed, Packed):
            if self.lenient and isinstance(value, cst.Name):
                raise NeedsStructures(value.value)
            raise self.error(
                "srcad can only unpack tuples here (a tuple written out, a tuple variable or argument, "
                "or a helper returning a tuple)",
                value,
                "Assign the parts one by one.",
            )
        pairs = self.unpacked(target, packed)
        written = set()
        for element, part in pairs:
            if isinstance(element, cst.Name):
                bundle = self.bundles.get(element.value)
                written |= {element.value} | {leaf.value for leaf in (bundle.leaves() if bundle else [])}

        def read_first(part):  # values first: `a, b = b, a + b` reads the old b
            if isinstance(part, Packed):
                return Packed(part.kind, [read_first(item) for item in part.items])
            if isinstance(part, cst.Name) and part.value in written:
                temporary = self.names.fresh(f"{part.value}_old")
                statements.append(_assign(temporary, part))
                return cst.Name(temporary)
            return part

        for element, part in [(element, read_first(part)) for element, part in pairs]:
            if isinstance(part, Packed):
                statements += self.bind_tuple(element.value, part, element)
            elif isinstance(element, cst.Name):
                self.single_value(element.value, element)
                statements.append(_assign(element, part))
            else:
                statements.append(_assign(self.target(element, statements), part))
        return statements

    def unpacked(self, target, packed):
        """(target, atom or Packed) pairs of a tuple target and the tuple value it unpacks."""
        elements = [e.value for e in target.elements]
        if any(isinstance(e, cst.StarredElement) for e in target.elements) or len(elements) != len(packed.items):
            raise self.error(
                f"cannot unpack a tuple of {len(packed.items)} into {len(elements)} target(s)"
                if not any(isinstance(e, cst.StarredElement) for e in target.elements)
                else "srcad cannot differentiate starred assignment",
                target,
            )
        pairs = []
        for element, part in zip(elements, packed.items):
            if isinstance(element, (cst.Tuple, cst.List)):
                if not isinstance(part, Packed):
                    raise self.error("this part is a single value, not a tuple to unpack", element)
                pairs += self.unpacked(element, part)
                continue
            self.check_target(element)
            if isinstance(element, cst.Subscript) and isinstance(part, Packed):
                raise self.error("srcad cannot store a tuple in an array element", element)
            pairs.append((element, part))
        return pairs

    # -- binding ------------------------------------------------------------------------------------
    def bind_tuple(self, name, value, node):
        """Statements binding the tuple variable ``name`` to the Packed ``value``, part by part."""
        structure = value.structure()
        if name in self.scalar_variables:
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
                statements.append(_assign(temporary, atom))
                atom = cst.Name(temporary)
            safe.append(atom)
        return statements + [_assign(target, atom) for target, atom in zip(targets, safe)]

    def returned_tuple(self, value, node):
        """``return (r_0, r_1)`` of a tuple output's leaves; every return must give the same structure."""
        structure = value.structure()
        if self.output_structure is None:
            self.output_structure = structure
        elif self.output_structure != structure:
            raise self.error(
                f"this returns {structure.describe()}, another return gives {self.output_structure.describe()}",
                node,
                "Return tuples of one structure everywhere.",
            )
        return cst.Tuple([cst.Element(leaf) for leaf in value.leaves()])


def _leaf_paths(structure, prefix=""):
    for field, part in zip(structure.fields, structure.parts):
        path = f"{prefix}_{field}" if prefix else field
        if part is None:
            yield path
        else:
            yield from _leaf_paths(part, path)


def _assign(target, value):
    target = cst.Name(target) if isinstance(target, str) else target
    return cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(target)], value)])


__all__ = ["Packed", "TupleFlattening", "is_named_tuple_class", "packed_like"]
