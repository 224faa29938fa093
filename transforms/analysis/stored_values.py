"""Values the reverse sweep reads back from the element they were stored in, instead of computing
them again.

An element loop lowered from whole-array code computes each value and stores it:

    h_element = simd_tanh(x_matmul_W1_plus_b1)
    h[i, j] = h_element

The adjoint of ``tanh`` reads its result, which ``recompute.py`` would compute again in the reverse
loop, with all it needs; but the element holds it, and a load costs less than any computation
(a Euler step of a ``tanh`` network: half the gradient's time went to ``tanh`` computed twice). The
element still holds the value wherever the reverse sweep needs it when:

- the store is the array's only write anywhere in the function, ``=`` of the value itself into an
  array of floats, and no other name, view or call that might write refers to the array's memory;
- the value is defined in the block of the store (so it is needed only there, in the reverse of
  that iteration), and the store's indices are the variables of the loops around it, up to the
  block where the array is bound to new memory (each element is written once per binding);
- the array is bound only there, in a block that runs once, or its bindings are restored by the
  reverse sweep (recorded): the reverse of each iteration sees the memory its forward wrote.
"""

import libcst as cst
from numba.core import types as numba_types

from .. import rules
from ..ir.precedence import spelled
from ..ir.statements import assignment_of, element_write_of, in_place_update_of, is_array_type, walk
from .aliases import is_new_memory


def stored_values(body, recomputed, recorded, types, group):
    """{recomputed value: the element (a ``cst.Subscript``) holding it where the reverse sweep needs
    it}, by the conditions above. ``recomputed``: {name: its defining statement}; ``recorded``: the
    variables whose bindings the reverse sweep restores; ``group``: {array: the names sharing its memory}."""
    writes, bindings, unsafe = {}, {}, set()
    for statement, depth in walk(body):
        write = element_write_of(statement)
        if write is not None:
            writes.setdefault(write.array, []).append(statement)
        update = in_place_update_of(statement)
        if update is not None and write is None:
            unsafe.add(update[0])
        target_value = assignment_of(statement)
        if target_value is not None and update is None and write is None:
            bindings.setdefault(target_value[0], []).append((statement, depth))
        unsafe |= _passed_to_unknown_calls(statement)
    found = {}
    defined = {id(statement) for statement in recomputed.values()}
    for block, loops in _blocks_with_loops(body):
        defined_here = {assignment_of(s)[0] for s in block if id(s) in defined}
        for statement in block:
            write = element_write_of(statement)
            if (write is None or write.kind != "=" or write.region is not None or not isinstance(write.value, cst.Name)
                    or write.value.value not in defined_here or write.array in unsafe
                    or len(writes.get(write.array, ())) != 1 or len(group.get(write.array, {write.array})) > 1):
                continue
            if _holds_its_stores(write, loops, bindings.get(write.array, []), recorded, types):
                found[write.value.value] = statement.body[0].targets[0].target
    return found


def _holds_its_stores(write, loops, bindings, recorded, types):
    """Whether ``write`` stores each element of its array once per binding, into memory the reverse
    sweep of the same iteration sees (see the module's conditions)."""
    array_type = types.get(write.array)
    if not (is_array_type(array_type) and isinstance(array_type.dtype, numba_types.Float)
            and types.get(write.value.value) == array_type.dtype and len(write.index) == array_type.ndim):
        return False
    if not bindings or not all(is_new_memory(statement.body[0].value) for statement, _ in bindings):
        return False
    if not (write.array in recorded or (len(bindings) == 1 and bindings[0][1] == 0)):
        return False
    # the loops from the nearest block binding the array down to the store: their variables index it
    binding_statements = {id(statement) for statement, _ in bindings}
    for block, enclosing in reversed(loops):
        if any(id(s) in binding_statements for s in block):
            variables = [loop.target.value for loop in enclosing]
            index = [atom.value if isinstance(atom, cst.Name) else None for atom in write.index]
            return sorted(variables) == sorted(n for n in index if n is not None) and None not in index
    return False


def _blocks_with_loops(body):
    """(block, [(each enclosing block, the for loops from it down to this block)]) for every block."""

    def visit(block, outer):
        # outer: [(a block around this one, [the for loops between it and this block])]
        here = [(b, loops) for b, loops in outer] + [(block, [])]
        yield block, here
        for statement in block:
            if isinstance(statement, cst.For) and isinstance(statement.target, cst.Name):
                inner = [(b, loops + [statement]) for b, loops in here]
                yield from visit(list(statement.body.body), inner)
            elif isinstance(statement, (cst.For, cst.While)):
                yield from visit(list(statement.body.body), [])
            elif isinstance(statement, cst.If):
                yield from visit(list(statement.body.body), [])
                orelse = statement.orelse
                while orelse is not None:
                    yield from visit(list(orelse.body.body), [])
                    orelse = orelse.orelse if isinstance(orelse, cst.If) else None

    yield from visit(list(body), [])


def _passed_to_unknown_calls(statement):
    """The names a statement passes whole to a call without a derivative rule (which might write them)."""
    names = set()

    class Calls(cst.CSTVisitor):
        def visit_Call(self, node):
            if not rules.is_operation(spelled(node.func)):
                names.update(a.value.value for a in node.args if isinstance(a.value, cst.Name))

    if isinstance(statement, cst.SimpleStatementLine):
        statement.visit(Calls())
    return names
