"""Pass 5d: an array adjoint started again from zeros reuses the memory of the one it replaces.

The reverse sweep of a time loop that binds arrays anew each step (``u_next = ...``, ``u = u_next``)
starts each binding's adjoint from zeros: ``u_adj_in = u_adj`` (the adjoint so far), ``u_adj =
np.zeros_like(u)``, then ``u_next_adj += u_adj_in``. That is an allocation per binding per step, which
an adjoint written by hand does not make: once ``u_adj_in`` has been added where it goes, its memory
is free, and zeroing it in place gives the new adjoint. This pass writes ``u_adj = zeroed(u_adj_in,
u)`` after the last read of ``u_adj_in`` (``zeroed`` allocates only where the shapes differ).

Only where nothing else can refer to that memory: across the whole function, the adjoint and the
names it is handed to (``u_adj_in``) are bound only to new arrays or to each other, and read only
element by element, as operands of arithmetic, by their shape, or added into other adjoints; never
viewed, passed to a call, returned, or given to another name.
"""

import functools

import libcst as cst

from ..analysis.carried_adjoints import views_whole
from ..ir import all_names, assign, call, nodes_in
from ..ir.precedence import spelled
from ..ir.statements import with_inner_blocks

_FRESH = {"np.zeros", "np.zeros_like", "np.copy", "np.empty", "zeroed", "zeroed_to", "recycled_zeros"}  # calls whose result is new memory
_READING = _FRESH | {"np.outer", "np.sum", "np.dot", "np.matmul"}  # calls that keep no reference to an argument


def recycled_adjoints(statements, array_adjoints, ranks):
    """``statements`` (a whole adjoint function's body) with ``X_adj = np.zeros_like(T)`` that follows
    ``H = X_adj`` written as ``X_adj = zeroed(H, T)`` after the last read of ``H``, where that is safe
    (``zeroed_to(H, shape)`` for ``np.zeros(shape, ...)``, a shape the tape gave).
    ``array_adjoints``: the names of the array adjoints; ``ranks``: their number of dimensions."""
    handoffs = handoffs_of(statements, array_adjoints)
    owned = owned_adjoints(statements, array_adjoints, handoffs, ranks)
    if not owned:
        return statements
    return _Rewrite(owned, handoffs, _live_across_blocks(statements, set(handoffs))).block(statements)


def handoffs_of(statements, array_adjoints):
    """{H: X_adj} for each name H (not an adjoint) bound only to one adjoint, ``H = X_adj``."""
    sources = {}
    for node in _assignments(statements):
        target, value = node.targets[0].target, node.value
        if isinstance(target, cst.Name) and target.value not in array_adjoints:
            source = value.value if isinstance(value, cst.Name) and value.value in array_adjoints else None
            sources.setdefault(target.value, set()).add(source)
    return {name: next(iter(found)) for name, found in sources.items() if len(found) == 1 and None not in found}


def owned_adjoints(statements, array_adjoints, handoffs, ranks):
    """The adjoints whose memory only they and their handoffs refer to (every use safe)."""
    names = set(array_adjoints) | set(handoffs)
    unsafe = set()

    class Uses(cst.CSTVisitor):
        def __init__(self):
            self.parents = []

        def on_visit(self, node):
            if isinstance(node, cst.Name) and node.value in names and not self._safe(node):
                unsafe.add(node.value)
            self.parents.append(node)
            return True

        def on_leave(self, original_node):
            self.parents.pop()

        def _safe(self, name):
            parent = self.parents[-1] if self.parents else None
            if isinstance(parent, (cst.BinaryOperation, cst.UnaryOperation, cst.Comparison, cst.ComparisonTarget)):
                return True  # arithmetic makes a new value
            if isinstance(parent, cst.Attribute):
                return parent.value is name and parent.attr.value in ("shape", "size", "ndim")
            if isinstance(parent, cst.AugAssign):
                return True  # added into (as target), or added to another (as value)
            if isinstance(parent, cst.AssignTarget):
                assignment = self.parents[-2]
                value = assignment.value
                return _fresh(value) or (
                    name.value in handoffs and isinstance(value, cst.Name) and value.value == handoffs[name.value])
            if isinstance(parent, cst.Assign):  # the value bound: another name for the memory
                target = parent.targets[0].target
                return isinstance(target, cst.Name) and handoffs.get(target.value) == name.value
            if isinstance(parent, cst.Subscript) and parent.value is name:
                return self._element_or_written(parent, ranks.get(handoffs.get(name.value, name.value)))
            if isinstance(parent, cst.Arg) and len(self.parents) >= 2:
                caller = self.parents[-2]
                return isinstance(caller, cst.Call) and spelled(caller.func) in _READING
            return False

        def _element_or_written(self, subscript, rank):
            """``X[...]`` written (a target), or read as one element, or inside arithmetic."""
            holder = self.parents[-2] if len(self.parents) >= 2 else None
            if isinstance(holder, cst.AugAssign) or (isinstance(holder, cst.AssignTarget) and holder.target is subscript):
                return True  # written, or added into another
            if isinstance(holder, (cst.BinaryOperation, cst.UnaryOperation, cst.Comparison, cst.ComparisonTarget)):
                return True
            elements = subscript.slice  # (``X[None]`` and ``X[...]`` are views of the whole, not elements)
            return rank is not None and len(elements) == rank and all(
                isinstance(e.slice, cst.Index) and not views_whole(e.slice.value) for e in elements)

    cst.IndentedBlock(list(statements)).visit(Uses())
    unsafe |= _handoffs_sharing(statements, handoffs)
    unsafe |= {adjoint for handoff, adjoint in handoffs.items() if handoff in unsafe}
    return {name for name in array_adjoints if name not in unsafe}


def _handoffs_sharing(statements, handoffs):
    """The adjoints some handoff ``H = X_adj`` shares memory with: the next statement of its block
    that mentions ``X_adj`` does not bind it to new memory (then H alone holds the old)."""
    sharing = set()

    def visit(block):
        for index, statement in enumerate(block):
            for handoff in _bound_names(statement) & set(handoffs):
                adjoint = handoffs[handoff]
                later = next((s for s in block[index + 1:] if adjoint in _names_in(s)), None)
                if later is None or adjoint not in _bound_names(later) or not _fresh(_bound_value(later, adjoint)):
                    sharing.add(adjoint)
            for inner in _inner_blocks(statement):
                visit(inner)

    visit(statements)
    return sharing


def _bound_value(statement, name):
    return next(small.value for small in statement.body if isinstance(small, cst.Assign)
                and any(isinstance(t.target, cst.Name) and t.target.value == name for t in small.targets))


def _fresh(value):
    return isinstance(value, (cst.BinaryOperation, cst.UnaryOperation)) or (
        isinstance(value, cst.Call) and spelled(value.func) in _FRESH)


def _assignments(statements):
    return [node for statement in statements for node in nodes_in(statement)
            if isinstance(node, cst.Assign) and len(node.targets) == 1]


def _live_across_blocks(statements, handoffs):
    """The handoffs some block reads before binding them (their value comes from elsewhere)."""
    live = set()

    def visit(block):
        bound = set()
        for statement in block:
            live.update((handoffs - bound) & _read_names(statement, header_only=True))
            bound |= {t for t in _bound_names(statement) if t in handoffs}
            for inner in _inner_blocks(statement):
                visit(inner)

    visit(statements)
    return live


def _inner_blocks(statement):
    if isinstance(statement, (cst.For, cst.While)):
        return [statement.body.body] + ([statement.orelse.body.body] if statement.orelse is not None else [])
    if isinstance(statement, cst.If):
        blocks = [statement.body.body]
        orelse = statement.orelse
        while orelse is not None:
            blocks.append(orelse.body.body)
            orelse = orelse.orelse if isinstance(orelse, cst.If) else None
        return blocks
    return []


@functools.lru_cache(maxsize=16384)  # asked of each statement many times; nodes hash by identity
def _names_in(node):
    return frozenset(all_names(node))


def _bound_names(statement):
    """Names a simple statement binds (``x = ...``)."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return set()
    return {t.target.value for small in statement.body if isinstance(small, cst.Assign)
            for t in small.targets if isinstance(t.target, cst.Name)}


def _read_names(statement, header_only=False):
    """Names a statement mentions other than as the whole target of a simple binding (of a loop or an
    ``if``, with ``header_only``, those of its header: its blocks are followed on their own)."""
    if isinstance(statement, cst.SimpleStatementLine):
        if all(isinstance(s, cst.Assign) for s in statement.body):
            return set().union(*(_names_in(small.value) for small in statement.body))
        return _names_in(statement)
    if not header_only:
        return _names_in(statement)
    if isinstance(statement, cst.For):
        return _names_in(statement.iter)
    if isinstance(statement, (cst.If, cst.While)):
        headers = [statement.test]
        orelse = statement.orelse
        while isinstance(orelse, cst.If):
            headers.append(orelse.test)
            orelse = orelse.orelse
        return set().union(*(_names_in(h) for h in headers))
    return _names_in(statement)


def _zeros_binding(statement, owned):
    """(X_adj, the call recycling H's memory instead, given H) of ``X_adj = np.zeros_like(T)`` or
    of ``X_adj = np.zeros((e0, e1), dtype=...)`` (a shape the tape gave), X_adj owned; else None."""
    if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
        return None
    small = statement.body[0]
    if not (isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)):
        return None
    target, value = small.targets[0].target.value, small.value
    if target not in owned or not isinstance(value, cst.Call) or not value.args:
        return None
    shape = value.args[0].value
    if spelled(value.func) == "np.zeros_like" and len(value.args) == 1 and isinstance(shape, cst.Name):
        return target, lambda handoff: call("zeroed", cst.Name(handoff), shape)
    extents = shape.elements if isinstance(shape, cst.Tuple) else None
    if spelled(value.func) == "np.zeros" and extents and all(isinstance(e.value, cst.Name) for e in extents):
        return target, lambda handoff: call("zeroed_to", cst.Name(handoff), shape)
    return None


class _Rewrite:
    def __init__(self, owned, handoffs, live_across):
        self.owned, self.handoffs, self.live_across = owned, handoffs, live_across

    def block(self, statements):
        statements = [with_inner_blocks(s, self.block) for s in statements]
        index = 0
        while index < len(statements):
            moved = self._recycle(statements, index)
            if moved is None:
                index += 1
                continue
            statements = moved
        return statements

    def _recycle(self, statements, index):
        """The block with statement ``index`` (``X_adj = np.zeros_like(T)``, or of a shape) recycled, or None."""
        found = _zeros_binding(statements[index], self.owned)
        if found is None:
            return None
        adjoint, recycling = found
        handoff = self._handoff_before(statements, index, adjoint)
        if handoff is None or handoff in self.live_across:
            return None
        last = index
        for later in range(index + 1, len(statements)):
            if handoff in _bound_names(statements[later]) and handoff not in _read_names(statements[later]):
                break
            if handoff in _names_in(statements[later]):
                last = later
        between = statements[index + 1 : last + 1]
        shape_names = _names_in(statements[index].body[0].value) - {"np"}  # (T, or the extents)
        for statement in between:
            if adjoint in _names_in(statement) or _binds_within(statement, shape_names | {adjoint}) or (
                    shape_names & _bound_names(statement)):
                return None
        recycled = assign(adjoint, recycling(handoff))
        rest = list(statements)
        original = rest.pop(index)
        if original.leading_lines and index < len(rest) and not rest[index].leading_lines:
            rest[index] = rest[index].with_changes(leading_lines=original.leading_lines)
        rest.insert(last, recycled)
        return rest

    def _handoff_before(self, statements, index, adjoint):
        """H of the nearest ``H = adjoint`` before ``index``, with no mention of ``adjoint`` between."""
        for earlier in range(index - 1, -1, -1):
            statement = statements[earlier]
            bound = _bound_names(statement)
            handoff = next((h for h in bound if self.handoffs.get(h) == adjoint), None)
            if handoff is not None:
                return handoff
            if adjoint in _names_in(statement):
                return None
        return None


def _binds_within(statement, names):
    """Whether a compound statement binds one of ``names`` anywhere inside."""
    return not isinstance(statement, cst.SimpleStatementLine) and bool(
        {n.target.value for n in _assignments([statement]) if isinstance(n.targets[0].target, cst.Name)} & names)

