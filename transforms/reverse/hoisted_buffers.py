"""Pass 5g: a temporary made anew in each iteration of a loop gets one buffer, made before the loop.

Whole-array code lowered to element loops still binds each statement's result to new memory, in
each time step (``flux = np.empty(u0_extent)``, then an element loop filling it). Where that memory
is dead by the next iteration, the allocation and its release are all the loop spends on it (~0.15 us
per step each, and memory that is no longer in the cache: a fifth of a small stencil's step). A
person writes the buffer once:

    flux_buffer = np.empty(u0_extent)      # before the outermost loop
    for _ in range(steps):
        flux = flux_buffer
        for i in range(u0_extent):
            flux[i] = ...

Only where that cannot change a value: every binding of the array in the whole adjoint is that same
call (``np.empty`` or ``np.zeros``, filled again with zeros on each binding), in a loop, of a shape
known not to change (``shapes.symbolic_shapes``) whose extents are bound once, before the loop; no
binding is kept for the reverse sweep, and no other name, view or call ever refers to the memory
(``recycled_adjoints.owned_adjoints``: read and written element by element, as an operand, by its
shape): so what one iteration left in the buffer is never read again.
"""

import libcst as cst

from ..ir import all_names, assign, bound_names, comment_lines, variables_in
from ..ir.precedence import spelled
from ..ir.statements import assignment_of, walk, with_inner_blocks
from .recycled_adjoints import owned_adjoints

_MADE = {"np.empty", "np.zeros"}


def hoisted_buffers(statements, candidates, ranks, parameters, fresh):
    """``statements`` (a whole adjoint function's body) with the allocations of ``candidates`` in loops
    made once, before the top-level statement holding them, where that is safe (above).
    ``candidates``: {array of one shape at every binding, none kept by the tape: the placeholder
    value it is bound to before its first value, for numba's typing}; ``ranks``: {array: its number of
    dimensions}; ``parameters``: the function's; ``fresh``: gives a new name from a wanted one."""
    owned = owned_adjoints(statements, set(candidates), {}, ranks)
    sites = _allocation_sites(statements, {name: candidates[name] for name in owned})
    top_level = _bound_at_top_level(statements, parameters)
    buffers = {}  # array -> (its buffer's name, the top-level index to make it before, the call)
    for name, (first, call) in sites.items():
        extents = variables_in(call) - {"np"}
        if all(top_level.get(variable, len(statements)) < first for variable in extents):
            buffers[name] = (fresh(f"{name}_buffer"), first, call)
    if not buffers:
        return statements

    def rebind(block):
        rewritten = []
        for statement in block:
            statement = with_inner_blocks(statement, rebind)
            target_value = assignment_of(statement)
            if target_value is None or target_value[0] not in buffers or not target_value[1].deep_equals(buffers[target_value[0]][2]):
                rewritten.append(statement)  # (the placeholder numba types the variable with stays)
                continue
            name, call = target_value
            rewritten.append(assign(name, cst.Name(buffers[name][0])).with_changes(leading_lines=statement.leading_lines))
            if spelled(call.func) == "np.zeros":
                rewritten.append(cst.SimpleStatementLine([cst.Expr(cst.parse_expression(f"{name}.fill(0)"))]))
        return rewritten

    made_before = {}
    for name, (buffer, first, call) in buffers.items():
        comment = comment_lines(f"# one buffer for {name}, bound to it anew in each iteration below")
        made_before.setdefault(first, []).append(assign(buffer, call).with_changes(leading_lines=comment))
    result = []
    for index, statement in enumerate(statements):
        result += made_before.get(index, [])
        result += rebind([statement])
    return result


def _allocation_sites(statements, placeholders):
    """{array: (the index of the top-level statement holding its first binding, the call)} for the
    arrays of ``placeholders`` every binding of which, but its placeholder's, is one and the same
    ``np.empty``/``np.zeros`` call, in a loop."""
    calls, first, rejected = {}, {}, set()
    for index, top in enumerate(statements):
        for statement, depth in walk([top]):
            for name in _bound_by(statement) & set(placeholders):
                target_value = assignment_of(statement)
                value = target_value[1] if target_value is not None and target_value[0] == name else None
                if depth == 0 and value is not None and value.deep_equals(placeholders[name]):
                    continue
                if depth == 0 or not isinstance(value, cst.Call) or spelled(value.func) not in _MADE or not calls.setdefault(name, value).deep_equals(value):
                    rejected.add(name)
                first.setdefault(name, index)
    return {name: (first[name], calls[name]) for name in calls if name not in rejected}


def _bound_by(statement):
    if isinstance(statement, cst.SimpleStatementLine):
        return bound_names(statement, unpacked=True)
    if isinstance(statement, cst.For):
        return all_names(statement.target)
    return set()


def _bound_at_top_level(statements, parameters):
    """{variable: the index of the top-level statement binding it} for the parameters (index -1) and
    the variables bound exactly once in the function, by a top-level statement of their own."""
    counts = {}
    for statement, _ in walk(statements):
        for name in _bound_by(statement):
            counts[name] = counts.get(name, 0) + 1
    found = {name: -1 for name in parameters if name not in counts}
    for index, statement in enumerate(statements):
        if isinstance(statement, cst.SimpleStatementLine):
            for name in _bound_by(statement):
                if counts.get(name) == 1:
                    found[name] = index
    return found
