"""Tuple values, as a part of normalization: in the normal form a tuple or NamedTuple has one
variable per part (``TupleVariables``, ``tuple_variables.py``, keeps which); these functions of
the normalizer read tuple-valued expressions as a ``Packed`` of atoms (a display, a tuple
variable or part, ``s._replace(v=w)``, a NamedTuple built), and assign them part by part
(``a, b = b, a + b`` through temporaries).
"""

import libcst as cst

from srcad.structure import NeedsStructures

from ..ir import assign
from .tuples import Packed


def value_of(normalizer, node, statements, into=None):
    """An atom, or a Packed for a tuple-valued expression (a display, a tuple variable or part,
    a NamedTuple built or replaced, a helper returning a tuple)."""
    if isinstance(node, cst.Tuple):
        items = []
        for element in node.elements:
            if isinstance(element, cst.StarredElement):
                raise normalizer.error("srcad cannot differentiate starred expressions", element)
            items.append(value_of(normalizer, element.value, statements))
        if not items:
            raise normalizer.error("srcad cannot differentiate an empty tuple", node)
        return Packed(tuple, items)
    part = normalizer.tuples.part(node)
    if part is not None:
        return part
    if isinstance(node, cst.Call):
        replaced = with_replaced_parts(normalizer, node, statements)
        if replaced is not None:
            return replaced
        return normalizer.call(node, statements, into)
    return normalizer.flatten(node, statements, into)


def with_replaced_parts(normalizer, node, statements):
    """``s._replace(v=w)``: s with some parts replaced; None for any other call."""
    function = node.func
    if not (isinstance(function, cst.Attribute) and function.attr.value == "_replace"):
        return None
    whole = normalizer.tuples.part(function.value)
    if not isinstance(whole, Packed) or whole.kind is tuple:
        return None
    items = list(whole.items)
    for argument in node.args:
        if argument.keyword is None or argument.keyword.value not in whole.fields:
            raise normalizer.error(f"_replace takes the names of the parts ({', '.join(whole.fields)}) as keywords", argument)
        items[whole.fields.index(argument.keyword.value)] = value_of(normalizer, argument.value, statements)
    return Packed(whole.kind, items)


def constructed(normalizer, node, kind, statements):
    """``State(x, v)`` or ``State(x=x, v=v)`` for a NamedTuple class: a Packed, defaults filled in."""
    fields = kind._fields
    given = {}
    for position, argument in enumerate(node.args):
        if argument.star:
            raise normalizer.error("srcad cannot build a NamedTuple from *args", argument)
        name = argument.keyword.value if argument.keyword is not None else (fields[position] if position < len(fields) else None)
        if name not in fields or name in given:
            raise normalizer.error(f"this does not match {kind.__name__}({', '.join(fields)})", argument)
        given[name] = value_of(normalizer, argument.value, statements)
    items = []
    for name in fields:
        if name in given:
            items.append(given[name])
        elif name in kind._field_defaults and isinstance(kind._field_defaults[name], (int, float)):
            items.append(cst.parse_expression(repr(kind._field_defaults[name])))
        else:
            raise normalizer.error(f"{kind.__name__}() is missing its part {name!r}", node)
    return Packed(kind, items)


def tuple_assignment(normalizer, target, value):
    """``a, b = e1, e2``, ``x, v = state``, ``a, (b, c) = helper(x)``: every part bound in turn, the
    values read first (parts that a target overwrites go through temporaries)."""
    if isinstance(value, cst.Attribute) and normalizer.is_array_attribute(value) and value.attr.value == "shape":
        parts = [cst.Subscript(value, [cst.SubscriptElement(cst.Index(cst.Integer(str(k))))]) for k in range(len(target.elements))]
        value = cst.Tuple([cst.Element(p) for p in parts])  # n, m = a.shape
    statements, packed = normalizer.expression(value, allow_tuple=True)
    if not isinstance(packed, Packed):
        if normalizer.lenient and isinstance(value, cst.Name):
            raise NeedsStructures(value.value)
        raise normalizer.error(
            "srcad can only unpack tuples here (a tuple written out, a tuple variable or argument, "
            "or a helper returning a tuple)",
            value,
            "Assign the parts one by one.",
        )
    pairs = normalizer.tuples.unpacked(target, packed)
    for element, part in pairs:
        normalizer.check_target(element)
        if isinstance(element, cst.Subscript) and isinstance(part, Packed):
            raise normalizer.error("srcad cannot store a tuple in an array element", element)
    written = normalizer.tuples.written_by([element for element, _ in pairs])

    def read_first(part):  # values first: `a, b = b, a + b` reads the old b
        if isinstance(part, Packed):
            return Packed(part.kind, [read_first(item) for item in part.items])
        if isinstance(part, cst.Name) and part.value in written:
            temporary = normalizer.names.fresh(f"{part.value}_old")
            statements.append(assign(temporary, part))
            return cst.Name(temporary)
        return part

    for element, part in [(element, read_first(part)) for element, part in pairs]:
        if isinstance(part, Packed):
            statements += normalizer.tuples.bind(element.value, part, element)
        elif isinstance(element, cst.Name):
            normalizer.tuples.single(element.value, element)
            statements.append(assign(element, part))
        else:
            statements.append(assign(normalizer.target(element, statements), part))
    return statements
