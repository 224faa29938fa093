"""Pass 4: which variables carry derivatives, and which values the reverse sweep needs.

* *Active* variables depend on a differentiated (``wrt``) argument and reach the
  returned value, and are floats (numba's own type inference of the normalized
  function decides types: integers and booleans are never active). Only active
  variables get adjoints.
* *Recorded* variables are read by some adjoint rule and are overwritten (or
  assigned inside a loop): the forward sweep saves the old value before each
  assignment, and the reverse sweep restores it. Values that are cheaper to
  compute again than to save (see ``recompute``) are not recorded.

The analysis is per variable name, not per assignment: a variable active
anywhere is active everywhere, which costs a few extra zero adjoints, never a
wrong one.
"""

from dataclasses import dataclass, field

import libcst as cst
from numba.core import types as numba_types

from srcad.transforms import rules
from srcad.transforms.flatten_arrays import VIEW_METHODS, is_view_subscript
from srcad.transforms.recompute import blocks, in_place_update_of, last_writes, recomputable
from srcad.transforms.single_exit import is_exit_check

_CODE = cst.Module([])


@dataclass
class Operation:
    """The right-hand side of a normal-form assignment, classified."""

    rule: str | None  # key into rules.RULES, or None for an inactive value
    operands: list = field(default_factory=list)  # atoms (names or numbers)
    index: list = field(default_factory=list)  # for "index": the atoms between the brackets

    def operand_names(self):
        return [a.value for a in self.operands + self.index if isinstance(a, cst.Name)]


def index_atoms(subscript):
    return [element.slice.value for element in subscript.slice]


def operation_of(value):
    if isinstance(value, cst.Name) and value.value not in ("True", "False"):
        return Operation("copy", [value])
    if isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Minus):
        if isinstance(value.expression, cst.Name):
            return Operation("neg", [value.expression])
        return Operation(None)
    if isinstance(value, cst.BinaryOperation):
        symbol = rules.operator_symbol(value.operator)
        if symbol in rules.SCALAR_RULES or symbol == "@":
            return Operation(symbol, [value.left, value.right])
        return Operation(None)
    if isinstance(value, cst.Subscript) and isinstance(value.value, cst.Name):
        if is_view_subscript(value):
            return Operation("view", [value.value], _names_in_region(value))
        return Operation("index", [value.value], index_atoms(value))
    if isinstance(value, cst.Attribute) and value.attr.value == "T" and isinstance(value.value, cst.Name):
        return Operation("view", [value.value])
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value in VIEW_METHODS:
        if isinstance(value.func.value, cst.Name) and value.func.value.value not in ("np", "math"):
            kind = "view" if value.func.attr.value in ("reshape", "transpose") else "ravel"
            return Operation(kind, [value.func.value])
    if isinstance(value, cst.Call):
        callee = _CODE.code_for_node(value.func)
        if callee in rules.ARRAY_FILLS:
            fill = [a for a in value.args if a.keyword is None][rules.ARRAY_FILLS[callee]]
            return Operation(callee, [fill.value])
        if callee in rules.ASSEMBLED_RULES and value.args:
            return Operation(callee, [atom for atom, _ in assembled_pieces(value)])
        if callee in rules.RULES:
            return Operation(callee, [a.value for a in value.args])
    return Operation(None)


def assembled_pieces(call):
    """(atom, position) per piece of ``np.array([a, [b, c]])``, ``np.stack((u, v))`` or
    ``np.concatenate((u, v))``: the position is a list of indices into the result, or for
    concatenate the atoms before it (their lengths along the first axis add up to its start)."""
    pieces = []
    for k, element in enumerate(call.args[0].value.elements):
        if isinstance(element.value, (cst.List, cst.Tuple)):
            pieces += [(inner.value, [k, j]) for j, inner in enumerate(element.value.elements)]
        else:
            pieces.append((element.value, [k]))
    if _CODE.code_for_node(call.func) == "np.concatenate":
        pieces = [(atom, [a for a, _ in pieces[:k]]) for k, (atom, _) in enumerate(pieces)]
    return pieces


@dataclass
class ElementWrite:
    """``b[i, j] = v``, ``b[i, j] += v`` or ``b[i, j] -= v`` in normal form."""

    array: str
    index: list
    value: cst.BaseExpression
    kind: str  # "=", "+=" or "-="
    region: cst.Subscript | None = None  # for ``b[1:, j] = v``: a region, not one element

    def index_names(self):
        return [a.value for a in self.index if isinstance(a, cst.Name)]


def element_write_of(statement):
    if not isinstance(statement, cst.SimpleStatementLine):
        return None
    small = statement.body[0]
    if isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Subscript):
        target, kind = small.targets[0].target, "="
    elif isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Subscript):
        target, kind = small.target, "+=" if isinstance(small.operator, cst.AddAssign) else "-="
    else:
        return None
    if is_view_subscript(target):
        return ElementWrite(target.value.value, _names_in_region(target), small.value, kind, region=target)
    return ElementWrite(target.value.value, index_atoms(target), small.value, kind)


def _names_in_region(subscript):
    """The variables a region's bounds and indices read, as atoms."""
    found = []

    class Collect(cst.CSTVisitor):
        def visit_Name(self, node):
            if node.value not in ("None", "True", "False"):
                found.append(node)

        def visit_Attribute(self, node):
            return False  # np.int64, x.shape: the variable in x.shape[0] is an array, read as-is

        def visit_Call(self, node):
            for argument in node.args:
                argument.visit(self)
            return False

    for element in subscript.slice:
        element.visit(Collect())
    return found


def assignment_of(statement):
    """(target name, value) of a one-name assignment line, else None."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return None
    small = statement.body[0]
    if isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Name):
        return small.targets[0].target.value, small.value
    return in_place_update_of(statement)


def walk(statements, loop_depth=0):
    """Yield (statement, loop_depth) for every statement, depth-first, in order."""
    for statement in statements:
        yield statement, loop_depth
        if isinstance(statement, cst.If) and not is_exit_check(statement):
            yield from walk(statement.body.body, loop_depth)
            if statement.orelse is not None:
                yield from walk(statement.orelse.body.body, loop_depth)
        elif isinstance(statement, (cst.For, cst.While)):
            yield from walk(statement.body.body, loop_depth + 1)


def is_float_type(numba_type):
    """Whether values of this type can carry derivatives: floats and float arrays."""
    if isinstance(numba_type, numba_types.Array):
        return isinstance(numba_type.dtype, numba_types.Float)
    return isinstance(numba_type, numba_types.Float) or numba_type is None


def is_array_type(numba_type):
    return isinstance(numba_type, numba_types.Array)


@dataclass
class Analysis:
    types: dict  # variable -> numba type
    active: set
    recorded: set
    returned: cst.BaseExpression
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
    written_arrays: set = field(default_factory=set)  # arrays changed in place: b[i] = v, b += t
    aliases: dict = field(default_factory=dict)  # array -> the names sharing its memory
    # views (b = a[1:], b = a.T, b = a) read only while neither b nor a changes: their adjoint can be
    # added back into a's where the view is taken, as for a copy (ids of the defining statements)
    read_only_views: set = field(default_factory=set)

    def is_active(self, atom):
        return isinstance(atom, cst.Name) and atom.value in self.active


def analyze(definition, parameters, wrt, types):
    """Activity and to-be-recorded analysis of a normal-form, single-exit function."""
    body = definition.body.body
    returned = body[-1].body[0].value
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
        elif isinstance(statement, cst.For):
            name = statement.target.value
            assignments[name] = assignments.get(name, 0) + 1
    dependencies += _shared_array_dependencies(body, dependencies, types)
    group = array_aliases(body, types)
    for statement, _ in walk(body):  # a write through one name of a shared array changes them all
        write = element_write_of(statement)
        update = in_place_update_of(statement)
        written = write.array if write is not None else (update[0] if update is not None else None)
        for other in group.get(written, ()):
            if other != written:
                assignments[other] = assignments.get(other, 0) + 2

    varied = {parameters[k] for k in wrt}
    useful = {returned.value} if isinstance(returned, cst.Name) else set()
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
        if operation.rule is None:
            continue
        rule = rules.RULES[operation.rule]
        if operation.rule in ("index", "view") and operation.operands[0].value in active:
            for atom in operation.index:  # a_adj[i] += t_adj
                if isinstance(atom, cst.Name):
                    needed.add(atom.value)
                    reads.setdefault(atom.value, []).append(statement)
        for atom, template in zip(operation.operands, rule.adjoints):
            if not (isinstance(atom, cst.Name) and atom.value in active):
                continue
            for placeholder, other in zip(rule.operands, operation.operands):
                if isinstance(other, cst.Name) and rules.template_uses(template, placeholder):
                    needed.add(other.value)
                    reads.setdefault(other.value, []).append(statement)
            if rules.template_uses(template, "y"):
                needed.add(target)
                reads.setdefault(target, []).append(statement)
    for name in [n for n in needed if n in group]:  # reading one name of a shared array reads them all
        members = group[name]
        needed |= members
        readers = [r for m in members for r in reads.get(m, [])]
        for member in members:
            reads[member] = readers
    invariant = _invariant_names(body, parameters, assignments)
    overwritten = {name for name in needed if assignments.get(name, 0) >= 2 and name not in invariant}
    overwritten -= _loop_indices_read_only_in_their_loops(body, reads)
    arrays = frozenset(name for name, numba_type in types.items() if is_array_type(numba_type))
    overwritten -= _arrays_read_after_their_last_write(body, reads, arrays, group)
    rebound = _rebound_arrays(body, parameters, types)
    overwritten |= rebound & active  # the reverse sweep restores each binding, for its shape if nothing else
    written = _written_arrays(body, types)
    recomputed = recomputable(body, overwritten, invariant, reads, arrays, group, rebound, written)
    recorded = overwritten - set(recomputed)
    always_defined = set(parameters) | {t[0] for t in map(assignment_of, body) if t is not None}
    single_use = _single_use_adjoints(body, parameters, active, types, rebound | set(group) | written)
    return Analysis(
        rebound=rebound,
        rebound_views=_rebound_views(body, parameters, types, rebound),
        written_arrays=written,
        aliases=group,
        read_only_views=_read_only_views(body, types, group),
        single_use=single_use,
        types=types,
        active=active,
        recorded=recorded,
        returned=returned,
        recomputed=recomputed,
        maybe_undefined=((needed & set(assignments)) - always_defined) | (recorded - set(parameters)),
    )


def _rebound_arrays(body, parameters, types):
    counts = {name: 1 for name in parameters}
    for statement, depth in walk(body):
        target_value = assignment_of(statement)
        if target_value is not None and in_place_update_of(statement) is None and is_array_type(types.get(target_value[0])):
            counts[target_value[0]] = counts.get(target_value[0], 0) + (2 if depth else 1)
    return {name for name, count in counts.items() if count >= 2 and is_array_type(types.get(name))}


def _rebound_views(body, parameters, types, rebound):
    sources = {}  # name -> whether every binding so far views an array bound once
    for statement, _ in walk(body):
        target_value = assignment_of(statement)
        if target_value is None or in_place_update_of(statement) is not None or target_value[0] not in rebound:
            continue
        target, value = target_value
        operation = operation_of(value)
        views = operation.rule in SHARING_RULES | {"index"} and is_array_type(types.get(operation.operands[0].value))
        sources[target] = sources.get(target, True) and views and operation.operands[0].value not in rebound
    return {name for name, views in sources.items() if views and name not in parameters}


def _read_only_views(body, types, group):
    """Views whose every reader follows them in the same block, with no write to the shared
    memory from the view to its last reader (and none through the view itself, anywhere)."""
    written = _written_arrays(body, types)
    safe = set()
    for block, _ in blocks(body):
        for index, statement in enumerate(block):
            target_value = assignment_of(statement)
            if target_value is None or in_place_update_of(statement) is not None:
                continue
            target, value = target_value
            if operation_of(value).rule not in SHARING_RULES | {"index"} or not is_array_type(types.get(target)):
                continue
            if target in written:
                continue
            readers = [k for k, s in enumerate(block) if k > index and target in _names_read(s)]
            readers += [k for k, s in enumerate(block) if k > index and not isinstance(s, cst.SimpleStatementLine)
                        and any(target in _names_read(inner) for inner, _ in walk([s]))]
            elsewhere = sum(target in _names_read(s) for s, _ in walk(body)) - len(readers)
            last = max(readers, default=index)
            members = group.get(target, {target})
            # the last reader may itself write the memory (x[1:3] += view): it reads before it writes
            end = last if isinstance(block[last], cst.SimpleStatementLine) else last + 1  # a loop reads again
            changed = any(_written_arrays([s], types) & members for s in block[index + 1 : end])
            if not elsewhere and not changed:
                safe.add(id(statement))
    return safe


def _names_read(statement):
    """Variables a statement reads (for a compound statement, in its test or range only)."""
    if isinstance(statement, (cst.If, cst.While)):
        return _names_in(statement.test)
    if isinstance(statement, cst.For):
        return _names_in(statement.iter)
    target_value = assignment_of(statement)
    if target_value is not None and in_place_update_of(statement) is None:
        return _names_in(target_value[1])
    return _names_in(statement)


def _written_arrays(body, types):
    written = set()
    for statement, _ in walk(body):
        write = element_write_of(statement)
        update = in_place_update_of(statement)
        if write is not None:
            written.add(write.array)
        elif update is not None and is_array_type(types.get(update[0])):
            written.add(update[0])
    return written


def array_aliases(body, types):
    """Groups of array names that may share memory: ``b = a`` and views such as ``b = a[1:]``
    (one group per array created or passed in), as {name: frozenset of the names in its group}."""
    group = {}
    for statement, _ in walk(body):
        target_value = assignment_of(statement)
        if target_value is None or in_place_update_of(statement) is not None:
            continue
        target, value = target_value
        operation = operation_of(value)
        if operation.rule in SHARING_RULES | {"index"} and is_array_type(types.get(target)):  # A[i]: a row
            source = operation.operands[0].value
            merged = group.get(source, frozenset([source])) | group.get(target, frozenset([target]))
            for name in merged:
                group[name] = merged
    return group


# Operations whose array result shares memory with their first operand.
SHARING_RULES = {"copy", "view"}


def _shared_array_dependencies(body, dependencies, types):
    """A write through one name of a shared array changes what every other name sees: each
    dependency of one member is a dependency of all, so activity flows both ways through ``b = a``."""
    group = array_aliases(body, types)
    shared = []
    for target, operands in dependencies:
        for other in group.get(target, ()):
            if other != target:
                shared.append((other, operands + [target]))
    return shared


def _invariant_names(body, parameters, assignments):
    """Variables that hold one value from their first assignment on.

    A variable assigned by a single statement (even inside a loop) from
    literals and other invariant variables, like ``neg_k = -k``, recomputes
    the same value every time: it never needs saving on the tape.
    """
    single = {}
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
            if name in invariant or len(values) != 1:
                continue
            names = _names_in(values[0])
            if names <= invariant and not _calls_anything_but_rules(values[0]):
                invariant.add(name)
                changed = True
    return invariant


def _names_in(expression):
    found = set()

    class Collect(cst.CSTVisitor):
        def visit_Attribute(self, node):
            return False  # math.sin: a function, not a variable

        def visit_Name(self, node):
            if node.value not in ("True", "False"):
                found.add(node.value)

    expression.visit(Collect())
    return found


def _calls_anything_but_rules(expression):
    return operation_of(expression).rule is None and not isinstance(expression, (cst.Integer, cst.Float))


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


def _arrays_read_after_their_last_write(body, reads, arrays, group):
    """Arrays whose every reading by an adjoint comes after the last write to them: the reverse
    sweep finds the same values there, so nothing needs saving."""
    positions, last_write = last_writes(body, arrays, group)
    return {
        name
        for name, readers in reads.items()
        if name in last_write and all(positions[id(r)] > last_write[name] for r in readers)
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
    returned = body[-1].body[0].value
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
        if isinstance(returned, cst.Name) and returned.value == name:
            continue
        (def_block, def_index), (use_block, use_index) = place[id(definitions[name][0])], place[id(readers[name])]
        if def_block == use_block and def_index < use_index:
            single.add(name)
    return single
