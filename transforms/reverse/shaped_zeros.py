"""Pass 5f: adjoints started again from zeros, without a shape test where the shapes never change.

``recycled_adjoints`` and ``handed_adjoints`` start an array adjoint again in the memory of another:

    u_adj = zeroed(u_adj_in, u)              # zeros written into u_adj_in, if it has u's shape
    u_adj = recycled_zeros(u_next_adj, u)    # u_next_adj itself (zeros), if it has u's shape

Each is a call per time step that compares shapes at run time (~30 ns with its reference counts: a
fifth of a small stencil's reverse step). Where ``shapes.symbolic_shapes`` proves that the memory's
owner and ``u`` have one shape at every binding, and the same one, the test cannot fail, and this pass
writes what a person would:

    u_adj_in.fill(0.0)
    u_adj = u_adj_in

    u_adj = u_next_adj

An adjoint has the shape of its owner's current binding (it starts as zeros of it and is only
recycled into memory of that shape), so for an owner of one fixed shape every memory it hands on has
that shape.
"""

import libcst as cst

from ..ir import assign
from ..ir.precedence import spelled
from ..ir.statements import name_binding_of, with_inner_blocks
from .recycled_adjoints import handoffs_of


def shaped_zeros(statements, adjoint_owner, fixed_shapes):
    """``statements`` (a whole adjoint function's body) with ``zeroed`` and ``recycled_zeros`` calls
    whose shape test is known to pass written without it. ``adjoint_owner``: {array adjoint: the
    array it belongs to}; ``fixed_shapes``: {array: its symbolic shape at every binding}."""
    handoffs = handoffs_of(statements, set(adjoint_owner))

    def shape_of_memory(name):
        owner = adjoint_owner.get(handoffs.get(name, name))
        return fixed_shapes.get(owner)

    def rewrite(block):
        rewritten = []
        for statement in block:
            statement = with_inner_blocks(statement, rewrite)
            found = _zeros_call(statement)
            if found is None:
                rewritten.append(statement)
                continue
            target, function, memory, like = found
            shape = shape_of_memory(memory)
            if shape is None or shape != fixed_shapes.get(like):
                rewritten.append(statement)
            elif function == "recycled_zeros":
                rewritten.append(assign(target, cst.Name(memory)).with_changes(leading_lines=statement.leading_lines))
            else:
                fill = cst.SimpleStatementLine([cst.Expr(cst.parse_expression(f"{memory}.fill(0.0)"))],
                                               leading_lines=statement.leading_lines)
                rewritten += [fill, assign(target, cst.Name(memory))]
        return rewritten

    return rewrite(list(statements))


def _zeros_call(statement):
    """(target, "zeroed" or "recycled_zeros", memory, like) of ``target = zeroed(memory, like)`` or
    ``target = recycled_zeros(memory, like)`` (names), else None."""
    binding = name_binding_of(statement)
    value = binding[1] if binding is not None else None
    if not (isinstance(value, cst.Call) and spelled(value.func) in ("zeroed", "recycled_zeros") and len(value.args) == 2
            and all(isinstance(a.value, cst.Name) for a in value.args)):
        return None
    return binding[0], spelled(value.func), value.args[0].value.value, value.args[1].value.value
