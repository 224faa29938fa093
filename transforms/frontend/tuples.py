"""A tuple value while a function is normalized: its structure (``srcad.structure``), and for each
part an atom or a nested ``Packed``. The normal form itself has no tuples: one variable per part."""

from srcad.structure import Structure


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
