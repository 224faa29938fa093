"""Pass 4: which variables carry derivatives, and which values the reverse sweep needs.

* *Active* variables depend on a differentiated (``wrt``) argument and reach the
  returned value, and are floats (numba's own type inference of the normalized
  function decides types: integers and booleans are never active). Only active
  variables get adjoints.
* *Recorded* variables are read by some adjoint rule and are overwritten (or
  assigned inside a loop): the forward sweep saves the old value before an
  assignment that such a read can precede (``to_be_recorded``), and the reverse
  sweep restores it. Values that are cheaper to compute again than to save (see
  ``recompute``) are not recorded.

The analysis is per variable name, not per assignment: a variable active
anywhere is active everywhere, which costs a few extra zero adjoints, never a
wrong one.
"""

from dataclasses import dataclass, field

import libcst as cst
from numba.core import types as numba_types

from .. import rules
from ..ir import bound_names, names_in, nodes_in, variables_in
from ..ir.precedence import spelled
from ..ir.statements import (
    assignment_of,
    element_write_of,
    in_place_update_of,
    is_array_type,
    is_float_type,
    list_append_of,
    operation_of,
    returned_atoms,
    walk,
)
from .aliases import (
    array_aliases,
    first_writes_into_new_memory,
    is_new_memory,
    moves,
    privately_written,
    read_only_views,
    rebound_arrays,
    rebound_views,
    shared_array_dependencies,
    written_arrays,
)
from .independent_terms import (
    accumulations,
    bindings_without_saves,
    independent_term_loops,
    nested_term_loops,
    values_kept_per_term,
)
from .recompute import blocks, last_writes, recomputable, rederived_views
from .restored_arrays import arrays_cheaper_to_restore
from .shapes import symbolic_shapes
from .stored_values import stored_values
from .to_be_recorded import unsaved_assignments


@dataclass
class Analysis:
    types: dict  # variable -> numba type
    active: set
    recorded: set
    # assignments of recorded names that need not save the value they overwrite (ids; see to_be_recorded),
    # and array bindings in loops of independent terms that need not save the array they replace
    unsaved: set
    returned: cst.BaseExpression
    outputs: list  # the atoms returned: one, or the parts of a tuple
    recomputed: dict = field(default_factory=dict)  # name -> its defining statement, rerun in the reverse sweep
    # defined up front: saved before their first assignment, or read by the reverse sweep but assigned
    # only inside branches or loops (numba drops code under constant-false tests, definitions included)
    maybe_undefined: set = field(default_factory=set)
    # temporaries whose adjoint gets exactly one contribution, right after (in the reverse sweep)
    # nothing else: written `t_adj = ...` instead of accumulated and zeroed
    single_use: set = field(default_factory=set)
    # arrays bound more than once or in a loop (each binding saved by reference when recorded)
    rebound: set = field(default_factory=set)
    # rebound arrays every binding of which is a view (or another name) of an array bound once:
    # their adjoint is the same view of that array's adjoint, saved and restored with the binding
    rebound_views: set = field(default_factory=set)
    # rebound views taken again in the reverse sweep, not saved ({name: its statement}), and where:
    # {id of a statement: the views to take again before its adjoint} (see recompute.rederived_views)
    rederived_views: dict = field(default_factory=dict)
    rederive_at: dict = field(default_factory=dict)
    # rebound arrays not restored whose shape may change: each binding pushes the shape it replaces
    shapes_kept: set = field(default_factory=set)
    # writes into new memory before anything reads it: they save nothing (aliases.first_writes_into_new_memory)
    first_writes: set = field(default_factory=set)
    # those of them into memory made from nothing differentiable (np.empty, np.zeros): what they
    # overwrite has no adjoint to keep, so the reverse sweep need not zero its element's
    writes_into_made_arrays: set = field(default_factory=set)
    written_arrays: set = field(default_factory=set)  # arrays changed in place: b[i] = v, b += t
    # written arrays written only while no other name holds their memory (see aliases.privately_written)
    privately_written: set = field(default_factory=set)
    aliases: dict = field(default_factory=dict)  # array -> the names sharing its memory
    # views (b = a[1:], b = a.T, b = a) read only while neither b nor a changes: their adjoint can be
    # added back into a's where the view is taken, as for a copy (ids of the defining statements)
    read_only_views: set = field(default_factory=set)
    # variables that hold one value from their first assignment on (see _invariant_names)
    invariant: set = field(default_factory=set)
    # ids of the loops whose trips the reverse sweep counts again from their bounds (_loops_counted_again)
    counted_again: set = field(default_factory=set)
    # loops adding up independent terms, each iteration reversed as it ends (ids -> their
    # accumulator; see independent_terms): top-level ones and the loops nested in them
    per_term_loops: dict = field(default_factory=dict)
    # the arguments' axes the code may take as equal ({("dim", array, axis): the symbol of the axis it
    # equals}; see shapes.argument_extents): the generated function checks them first
    equal_extents: dict = field(default_factory=dict)
    # arrays (not views) of one shape at every binding: {name: its symbolic shape (shapes.py)}
    fixed_shapes: dict = field(default_factory=dict)
    # recomputed values read back from the element they were stored in ({name: that cst.Subscript};
    # see stored_values.py): the reverse sweep loads them instead of computing them again
    stored: dict = field(default_factory=dict)

    def is_active(self, atom):
        return isinstance(atom, cst.Name) and atom.value in self.active


def _moves_then_written(body, types, group, written, read_again):
    """ids of the moves ``b = a`` (``aliases.moves``) of an array ``a`` the reverse sweep reads again,
    whose memory something writes (``written``: the arrays written in place) through ``b`` or another
    name of b's group."""
    moved = moves(body, types)
    found = set()
    for statement, _ in walk(body):
        if id(statement) not in moved:
            continue
        target, source = assignment_of(statement)[0], assignment_of(statement)[1].value
        if source in read_again and group.get(target, frozenset([target])) & written:
            found.add(id(statement))
    return found


def _bound_once_to_new_memory(body, types, group):
    """Arrays of two or more dimensions bound by one statement, to new memory (``np.zeros((n, n))``,
    ``np.empty_like(x)``), whose memory no other name shares. (Restoring a binding costs a reference kept
    per binding, ~0.1 us; a vector of a few elements is cheaper kept element by element.)"""
    bindings = {}
    for statement, _ in walk(body):
        target_value = assignment_of(statement)
        if target_value is not None and is_array_type(types.get(target_value[0])):
            bindings.setdefault(target_value[0], []).append(None if in_place_update_of(statement) else target_value[1])
    return {name for name, values in bindings.items()
            if len(values) == 1 and values[0] is not None and is_new_memory(values[0]) and len(group.get(name, {name})) <= 1
            and types[name].ndim >= 2}


def _writes_of(body, arrays):
    """ids of the statements writing into ``arrays`` in place (``b[i] = v``, ``b[i] += v``, ``b += t``)."""
    found = set()
    for statement, _ in walk(body):
        write = element_write_of(statement)
        update = in_place_update_of(statement)
        if (write is not None and write.array in arrays) or (update is not None and update[0] in arrays):
            found.add(id(statement))
    return found


def _loops_counted_again(body, invariant):
    """{``for`` loop over ``range``: the variables its bounds read} for the loops inside another loop,
    without ``break``, whose bounds change from one run to the next but not while it runs (``for k in
    range(x_extent)`` in a time step): the reverse sweep counts their trips again from the bounds,
    restored once per run of the enclosing loop's body, instead of keeping a count per run."""
    counted = {}
    for statement, depth in walk(body):
        if not (depth and isinstance(statement, cst.For) and isinstance(statement.iter, cst.Call)
                and spelled(statement.iter.func) == "range"):
            continue
        bounds = variables_in(cst.Tuple([cst.Element(a.value) for a in statement.iter.args])) - invariant
        if bounds and not bounds & bound_names(statement.body) and not any(
                isinstance(node, cst.Break) for node in nodes_in(statement.body)):
            counted[statement] = bounds
    return counted


def analyze(definition, parameters, wrt, types, also_useful=(), thread=False, equal_extents=None, not_moves=frozenset()):
    """Activity and to-be-recorded analysis of a normal-form, single-exit function. ``also_useful``:
    variables whose final values count as outputs (a kernel's arrays); ``thread``: the function is a
    kernel's thread, which reverses no loop term by term (it cannot allocate the adjoints the terms
    add into) and restores no array it reads from (its arguments' values must stay as written);
    ``equal_extents``: the arguments' axes known equal (``shapes.argument_extents``)."""
    body = definition.body.body
    returned = body[-1].body[0].value
    outputs = returned_atoms(body)
    dependencies = []  # (target, operand names) of differentiable assignments
    assignments = {name: 1 for name in parameters}
    for statement, depth in walk(body):
        target_value = assignment_of(statement)
        write = element_write_of(statement)
        if target_value is not None:
            target, value = target_value
            assignments[target] = assignments.get(target, 0) + (2 if depth else 1)
            operation = operation_of(value)
            if operation.rule is not None and is_float_type(types.get(target)):
                operands = [a.value for a in operation.operands if isinstance(a, cst.Name)]
                dependencies.append((target, operands))
        elif write is not None:
            assignments[write.array] = assignments.get(write.array, 0) + 2  # an array written is never invariant
            if isinstance(write.value, cst.Name):
                dependencies.append((write.array, [write.value.value]))
        elif (appended := list_append_of(statement)) is not None:  # a typed list varies with what it holds
            items, item = appended
            assignments[items] = assignments.get(items, 0) + 2
            if isinstance(item, cst.Name):
                dependencies.append((items, [item.value]))
        elif isinstance(statement, cst.For):
            name = statement.target.value
            assignments[name] = assignments.get(name, 0) + 1
    dependencies += shared_array_dependencies(body, dependencies, types)
    group = array_aliases(body, types, not_moves)
    for statement, _ in walk(body):  # a write through one name of a shared array changes them all
        write = element_write_of(statement)
        update = in_place_update_of(statement)
        written = write.array if write is not None else (update[0] if update is not None else None)
        for other in group.get(written, ()):
            if other != written:
                assignments[other] = assignments.get(other, 0) + 2

    varied = {parameters[k] for k in wrt}
    useful = {atom.value for atom in outputs if isinstance(atom, cst.Name)} | set(also_useful)
    changed = True
    while changed:
        changed = False
        for target, operands in dependencies:
            if target not in varied and any(o in varied for o in operands):
                varied.add(target)
                changed = True
            if target in useful:
                new = {o for o in operands if o not in useful and is_float_type(types.get(o))}
                if new:
                    useful |= new
                    changed = True
    active = varied & useful

    needed = set()
    reads = {}  # name -> statements whose adjoint reads it
    own_reads = set()  # (name, id(statement)): the statement's adjoint reads the name's value from before it
    for statement, _ in walk(body):
        write = element_write_of(statement)
        if write is not None and write.array in active:
            for name in write.index_names():  # b_adj[i] is read in the reverse sweep
                needed.add(name)
                reads.setdefault(name, []).append(statement)
        target_value = assignment_of(statement)
        if target_value is None or target_value[0] not in active:
            continue
        target, value = target_value
        operation = operation_of(value)
        rule = _rule_as_the_adjoint_reads_it(operation, target, types)
        if rule is None:  # inactive, or a typed list's pop (no reverse mode)
            continue
        if operation.rule == "np.concatenate":  # each piece's part starts after the pieces before it
            for atom in operation.operands:
                if isinstance(atom, cst.Name):
                    needed.add(atom.value)
                    reads.setdefault(atom.value, []).append(statement)
        if operation.rule in ("index", "view") and operation.operands[0].value in active:
            for atom in operation.index:  # a_adj[i] += t_adj
                if isinstance(atom, cst.Name):
                    needed.add(atom.value)
                    reads.setdefault(atom.value, []).append(statement)
        for position, (atom, template) in enumerate(zip(operation.operands, rule.adjoints)):
            if not (isinstance(atom, cst.Name) and atom.value in active):
                continue
            for placeholder, other in zip(rule.operands, operation.operands):
                if isinstance(other, cst.Name) and rule.adjoint_reads(position, placeholder):
                    needed.add(other.value)
                    reads.setdefault(other.value, []).append(statement)
                    if other.value == target:
                        own_reads.add((target, id(statement)))
            if rules.template_uses(template, "y"):
                needed.add(target)
                reads.setdefault(target, []).append(statement)
    rebound = rebound_arrays(body, parameters, types)
    shapes = symbolic_shapes(body, parameters, types, equal_extents)
    shaped = set(shapes)
    invariant = _invariant_names(body, parameters, assignments, shaped | {n for n in types if n not in rebound}, set(types))
    counted_again = _loops_counted_again(body, invariant)
    for loop, bounds in counted_again.items():  # the reverse sweep reads their bounds where they start
        for name in bounds:
            needed.add(name)
            reads.setdefault(name, []).append(loop)
    read_directly = set(needed)
    for name in [n for n in needed if n in group]:  # reading one name of a shared array reads them all
        members = group[name]
        needed |= members
        readers = [r for m in members for r in reads.get(m, [])]
        for member in members:
            reads[member] = readers
    overwritten = {name for name in needed if assignments.get(name, 0) >= 2 and name not in invariant}
    overwritten -= _loop_indices_read_only_in_their_loops(body, reads)
    arrays = frozenset(name for name, numba_type in types.items() if is_array_type(numba_type))
    overwritten -= _arrays_read_after_their_last_write(body, reads, arrays, group, rebound)
    if not thread:
        overwritten |= arrays_cheaper_to_restore(body, overwritten, invariant, types, group, rebound)
    written = written_arrays(body, types)
    # The reverse sweep restores the bindings an adjoint reads (above). Of the others, only a rebound
    # view's (its adjoint is its place in the viewed array's adjoint; every one in a kernel's thread):
    # an array's adjoint takes its shape from the current binding where that shape never changes, else
    # from the int tape (shapes_kept, below).
    views = rebound_views(body, parameters, types, rebound)
    restored_bindings = rebound if thread else views
    overwritten |= rebound & active & restored_bindings
    rederived, rederive_at = {}, {}
    if not thread:  # a rebound name of shared memory whose own values no adjoint reads, and nothing
        # writes through, keeps no binding: its adjoint goes back through the memory's other names
        overwritten -= {n for n in rebound - views if n in group and n not in read_directly | written}
        rederived, rederive_at = rederived_views(body, views, written, group, invariant)
        overwritten -= set(rederived)
    fixed_shape = shaped - views
    private = privately_written(body, types)
    per_term_loops = independent_term_loops(body, types, active, overwritten, group, invariant) if not thread else {}
    new_memory = _bound_once_to_new_memory(body, types, group)
    while True:
        kept = values_kept_per_term(body, per_term_loops)
        recomputed, restored_for_recomputing = recomputable(body, overwritten, invariant, reads, arrays, group,
                                                            restored_bindings, written, kept, rebound, new_memory)
        recorded = (overwritten | restored_for_recomputing) - set(recomputed)
        nested = nested_term_loops(body, per_term_loops, types, active, overwritten, group, invariant)
        unsaved = unsaved_assignments(body, recorded, reads, own_reads, recomputed, arrays, per_term_loops | nested)
        saving = _loops_saving_their_accumulator(body, per_term_loops, recorded, unsaved)
        if not saving:  # (`total = exp(a)` before the loop: its reverse reads what the loop overwrites first)
            break
        per_term_loops = {loop: name for loop, name in per_term_loops.items() if loop not in saving}
    stored = stored_values(body, recomputed, recorded, types, group) if not thread else {}
    # A move ``b = a`` hands a's memory to b (the primal never mentions a again), but the reverse
    # sweep reads a again: where anything writes b's memory, a's values are gone then.
    read_again = needed | {n for s in recomputed.values() for n in variables_in(assignment_of(s)[1])}
    read_again |= {element.value.value for element in stored.values()}
    shared = _moves_then_written(body, types, group, written, read_again) - set(not_moves)
    if shared:
        return analyze(definition, parameters, wrt, types, also_useful, thread, equal_extents, frozenset(not_moves) | shared)
    unsaved |= bindings_without_saves(body, per_term_loops, arrays, parameters)
    always_defined = set(parameters) | {t[0] for t in map(assignment_of, body) if t is not None}
    # rebound arrays whose binding the reverse sweep does not restore, of a shape that may change
    shapes_kept = (rebound & active) - views - fixed_shape - recorded
    single_use = _single_use_adjoints(body, parameters, active, types, rebound | set(group) | written)
    return Analysis(
        rebound=rebound,
        rebound_views=views,
        rederived_views=rederived,
        rederive_at=rederive_at,
        shapes_kept=shapes_kept,
        # (an array restored only to compute values read from it again is read after its writes: none saves)
        first_writes=first_writes_into_new_memory(body) | _writes_of(body, restored_for_recomputing & arrays),
        writes_into_made_arrays=first_writes_into_new_memory(body, made_only=True),
        written_arrays=written,
        privately_written=private,
        aliases=group,
        read_only_views=read_only_views(body, types, group, private, not_moves),
        single_use=single_use,
        types=types,
        active=active,
        recorded=recorded,
        unsaved=unsaved,
        returned=returned,
        outputs=outputs,
        recomputed=recomputed,
        invariant=invariant,
        counted_again={id(loop) for loop in counted_again},
        per_term_loops=per_term_loops | nested,
        equal_extents=dict(equal_extents or {}),
        fixed_shapes={name: shapes[name] for name in fixed_shape},
        stored=stored,
        # (the results of a function with early returns too: numba may prune every branch that sets them)
        # (rebound arrays: their adjoints start as zeros of their shape; shapes kept: each binding
        # pushes the shape of the one it replaces)
        maybe_undefined=((needed & set(assignments)) - always_defined) | (recorded - set(parameters))
        | ((rebound & active) - always_defined) | (shapes_kept - set(parameters))
        | (({a.value for a in outputs if isinstance(a, cst.Name)} & set(assignments)) - always_defined),
    )


def _rule_as_the_adjoint_reads_it(operation, target, types):
    """The rule the reverse sweep applies: for an array result, the array form (np.sum(x, axis=k)'s
    reads x for its shape), else the rule by name."""
    if is_array_type(types.get(target)):
        ranks = tuple(getattr(types.get(a.value), "ndim", 0) if isinstance(a, cst.Name) else 0 for a in operation.operands)
        rule = rules.rule_for(operation.rule, ranks, array_result=True)
        if rule is not None:
            return rule
    return rules.rule_for(operation.rule)


def _loops_saving_their_accumulator(body, per_term_loops, recorded, unsaved):
    """ids of the loops in ``per_term_loops`` where an addition to the accumulator saves the value it
    overwrites: reversed term by term, the loop would put that value back before the next term."""
    saving = set()
    for loop in body:
        accumulator = per_term_loops.get(id(loop))
        if accumulator in recorded and any(id(s) not in unsaved for s in accumulations(loop, accumulator)):
            saving.add(id(loop))
    return saving


def _invariant_names(body, parameters, assignments, steady_shapes, variables):
    """Variables that hold one value from their first assignment on.

    A variable assigned by a single statement (even inside a loop) from
    literals and other invariant variables, like ``neg_k = -k``, recomputes
    the same value every time: it never needs saving on the tape. So does
    ``n = x.shape[0]`` of an array in ``steady_shapes`` (bound once, or of one
    shape at every binding); of another, only while ``x`` is invariant. A method's
    value (``b.ravel()``) is invariant only where ``b`` is.
    """
    single = {}
    # a loop's index takes a value per iteration, whatever it held before (`m = 0`, then `for m in ...`)
    loop_indices = {s.target.value for s, _ in walk(body) if isinstance(s, cst.For) and isinstance(s.target, cst.Name)}
    for statement, _ in walk(body):
        target_value = assignment_of(statement)
        if target_value is not None:
            target, value = target_value
            if assignments.get(target) in (1, 2) and target not in parameters:
                single.setdefault(target, []).append(value)
    invariant = {p for p in parameters if assignments.get(p) == 1}
    changed = True
    while changed:
        changed = False
        for name, values in single.items():
            if name in invariant or len(values) != 1 or name in loop_indices:
                continue
            names = names_in(values[0]) | (variables_in(values[0]) & variables)  # b of b.ravel() too
            if _is_size_of_a_binding(values[0]):
                names -= steady_shapes
            if _is_inactive_call(values[0]):  # a pure function of its arguments (len, slice_extent...)
                names = set().union(*(names_in(argument.value) for argument in values[0].args))
            if names <= invariant and not _calls_anything_but_rules(values[0]):
                invariant.add(name)
                changed = True
    return invariant


def _calls_anything_but_rules(expression):
    if _is_size_of_a_binding(expression) or _is_inactive_call(expression):
        return False
    return operation_of(expression).rule is None and not isinstance(expression, (cst.Integer, cst.Float))


def _is_inactive_call(expression):
    return isinstance(expression, cst.Call) and spelled(expression.func) in rules.INACTIVE_FUNCTIONS


def _is_size_of_a_binding(expression):
    """``a.shape[0]``, ``a.size``, ``a.ndim``, ``len(a)``: fixed for as long as ``a`` names the same array."""
    if isinstance(expression, cst.Subscript):
        expression = expression.value
        return isinstance(expression, cst.Attribute) and expression.attr.value == "shape"
    if isinstance(expression, cst.Attribute):
        return expression.attr.value in ("shape", "size", "ndim")
    return (
        isinstance(expression, cst.Call)
        and isinstance(expression.func, cst.Name)
        and expression.func.value == "len"
        and len(expression.args) == 1
        and isinstance(expression.args[0].value, cst.Name)
    )


def _loop_indices_read_only_in_their_loops(body, reads):
    """Loop indices that only ``for`` statements assign and only their own loops read.

    The reverse sweep sets ``i`` at the top of each reversed iteration, so such
    an index never needs saving, however many loops reuse the name.
    """
    enclosing = {id(s): indices for block, indices in blocks(body) for s in block}  # loops around each statement
    assigned_otherwise = {t[0] for t in (assignment_of(s) for s, _ in walk(body)) if t is not None}
    loop_indices = {s.target.value for s, _ in walk(body) if isinstance(s, cst.For)}
    return {
        name
        for name in loop_indices - assigned_otherwise
        if all(name in enclosing.get(id(reader), ()) for reader in reads.get(name, []))
    }


def _arrays_read_after_their_last_write(body, reads, arrays, group, rebound):
    """Arrays whose every reading by an adjoint comes after the last write to them: the reverse
    sweep finds the same values there, so nothing needs saving. Not an array bound again: its
    name may hold other memory by then (``x[0] = 1.0``, then ``x = np.sin(x)`` in a loop)."""
    positions, last_write = last_writes(body, arrays, group)
    return {
        name
        for name, readers in reads.items()
        if name in last_write and name not in rebound and all(positions[id(r)] > last_write[name] for r in readers)
    }


# Readers after which a single-use array's one contribution has the array's own shape (summed back
# over broadcast axes), and refers to no adjoint the reverse sweep changes later.
_SHAPE_KEEPING_READERS = set(rules.ELEMENTWISE_RULES) | rules.MATRIX_PRODUCTS | {"np.outer", "ravel"}


def _single_use_adjoints(body, parameters, active, types, unsuitable_arrays):
    """Active float temporaries defined once and read once, later in the same block.

    Parameters are never single-use: the call defines them once more, and
    their adjoint is returned, so a later definition must still reset it.

    Their adjoint receives one contribution, from the reader, before the reverse
    sweep reaches the definition: ``t_adj = contribution`` needs no zero
    before it and no reset after the definition's adjoint. Arrays qualify too
    (no ``np.zeros_like`` and no extra pass) when bound once, never written or
    shared, and read by an elementwise operation or a matrix product.
    """
    place = {id(s): (id(block), index) for block, _ in blocks(body) for index, s in enumerate(block)}
    definitions, uses, readers = {}, {}, {}
    for statement, _ in walk(body):
        target_value = assignment_of(statement)
        if target_value is not None:
            target, value = target_value
            definitions.setdefault(target, []).append(statement)
            operation = operation_of(value)
            if target in active and operation.rule is not None:
                for atom in operation.operands:
                    if isinstance(atom, cst.Name) and atom.value in active:
                        uses[atom.value] = uses.get(atom.value, 0) + 1
                        readers[atom.value] = statement
        write = element_write_of(statement)
        if write is not None and isinstance(write.value, cst.Name) and write.array in active:
            uses[write.value.value] = uses.get(write.value.value, 0) + 1
            readers[write.value.value] = statement
    outputs = {atom.value for atom in returned_atoms(body) if isinstance(atom, cst.Name)}
    single = set()
    for name, count in uses.items():
        if count != 1 or name in parameters or len(definitions.get(name, [])) != 1:
            continue
        if is_array_type(types.get(name)):
            reader = readers[name]
            if name in unsuitable_arrays or in_place_update_of(reader) is not None or assignment_of(reader) is None:
                continue
            if types[name].dtype != numba_types.float64:
                continue  # float32: `t_adj += ...` keeps the dtype; a plain assignment could widen it
            if operation_of(assignment_of(reader)[1]).rule not in _SHAPE_KEEPING_READERS:
                continue
        if name in outputs:
            continue
        (def_block, def_index), (use_block, use_index) = place[id(definitions[name][0])], place[id(readers[name])]
        if def_block == use_block and def_index < use_index:
            single.add(name)
    return single
