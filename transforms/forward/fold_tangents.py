"""Constants folded through the tangent code forward mode writes, one statement into the next.

Each rule's tangent is written for one operation, so a chain of operations leaves chains of
constant factors and signs that the compiler may not merge (floating-point multiplication is not
associative, so LLVM keeps ``100.0 * ((2 * d) * d_dot)`` as three multiplications):

    d2_dot = (2 * d) * d_dot            product_dot = 200.0 * (d * d_dot)
    product_dot = 100.0 * d2_dot   ->
    e_dot = -x_dot                      e2_dot = (-2.0 * e) * x_dot
    e2_dot = (2 * e) * e_dot

A scalar tangent ``t = c * R`` (a literal factor c: ``c * R``, ``R * c``, ``(c * a) * b``,
``-R``) is merged into its uses later in the same block, with nothing in between rebinding t or a
name of R, where that saves an operation: ``k * t``, ``(k * a) * t``, ``-t``, and with c = -1,
``a + t``, ``a - t``, ``u += t``. Its own statement goes where it was bound and used once; else it
stays for its other uses (the compiler drops it where none is left: reverse mode's sweeps bind
the same names twice). The tangents change by rounding only (the constants are multiplied
first); primal statements are never touched.
"""

import libcst as cst

from ..ir import all_names as _names_in
from ..ir import target_names


def folded(definition, scalar_tangents):
    """``definition`` (a tangent function) with constants folded through the scalar tangents named
    in ``scalar_tangents``."""
    summaries, uses, bindings = _walked(definition)
    removable = {t for t in scalar_tangents if bindings.get(t) == 1 and uses.get(t) == 1}
    folding = _Folding(set(scalar_tangents), removable, summaries)
    return definition.with_changes(body=definition.body.with_changes(body=folding.block(definition.body.body)))


class _Folding:
    """``tangents``: the scalar tangents; ``removable``: those bound once and used once, whose own
    statement goes once they are folded into their use (the others' stay, for their other uses:
    the compiler drops them where they turn out dead)."""

    def __init__(self, tangents, removable, summaries):
        self.tangents, self.removable = tangents, removable
        self.summaries = summaries  # id of a compound statement -> (names it reads or binds, names it binds)

    def block(self, statements):
        return _block(statements, self)


def _walked(node):
    """In one walk: for every compound statement (by id) the names used and the names bound anywhere
    inside it (each block asks of its compound statements; walking each again would cost depth x
    size), and each name's uses and bindings in the whole function (a loop variable counts as bound
    twice: never folded)."""
    summaries, frames, uses, bindings = {}, [(set(), set())], {}, {}
    compound = (cst.If, cst.For, cst.While, cst.Else)

    def bound(names, times=1):
        frames[-1][1].update(names)
        for name in names:
            bindings[name] = bindings.get(name, 0) + times
            uses[name] = uses.get(name, 0) - (times == 1)  # the binding is not a use

    class Walk(cst.CSTVisitor):
        def visit_Name(self, name):
            frames[-1][0].add(name.value)
            uses[name.value] = uses.get(name.value, 0) + 1

        def on_visit(self, node):
            if isinstance(node, compound):
                frames.append((set(), set()))
            return super().on_visit(node)

        def on_leave(self, node):
            super().on_leave(node)
            if isinstance(node, cst.SimpleStatementLine):
                bound(_bound(node))
            elif isinstance(node, cst.For):
                bound(set(target_names(node.target)), times=2)
            if isinstance(node, compound):
                used, bound_inside = frames.pop()
                summaries[id(node)] = (used, bound_inside)
                frames[-1][0].update(used)
                frames[-1][1].update(bound_inside)

    node.visit(Walk())
    return summaries, uses, bindings


def _literal(node):
    """The value of a number literal (or its negation), else None."""
    if isinstance(node, (cst.Integer, cst.Float)) and not node.lpar:
        return float(node.value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = _literal(node.expression)
        return None if inner is None else -inner
    return None


def _is_simple(node):
    """Names, numbers and arithmetic on them: safe to compute a few statements later."""
    if isinstance(node, cst.Name) or _literal(node) is not None:
        return True
    if isinstance(node, cst.BinaryOperation):
        return _is_simple(node.left) and _is_simple(node.right)
    if isinstance(node, cst.UnaryOperation):
        return _is_simple(node.expression)
    return False


def _product(left, right):
    return cst.BinaryOperation(_grouped(left), cst.Multiply(), _grouped(right))


def _grouped(node):
    if isinstance(node, (cst.BinaryOperation, cst.UnaryOperation)) and not node.lpar and _literal(node) is None:
        return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return node


def _number(value):
    return cst.parse_expression(repr(float(value)))


def _scaled(value):
    """(c, R) with value = c * R for a literal c, else None."""
    value = value.with_changes(lpar=[], rpar=[])
    if isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Minus):
        return -1.0, value.expression
    if not (isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Multiply)):
        return None
    left, right = value.left.with_changes(lpar=[], rpar=[]), value.right
    if _literal(left) is not None:
        return _literal(left), right
    if _literal(right) is not None:
        return _literal(right), left
    if isinstance(left, cst.BinaryOperation) and isinstance(left.operator, cst.Multiply) and _literal(left.left) is not None:
        return _literal(left.left), _product(left.right, right)
    return None


def _merged(value, pending):
    """``value`` with one pending tangent merged into it, and that tangent's name; else None."""
    value = value.with_changes(lpar=[], rpar=[])

    def pending_name(node):
        return node.value if isinstance(node, cst.Name) and node.value in pending else None

    if isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Minus):
        t = pending_name(value.expression)
        if t is not None:
            c, rest = pending[t]
            return (rest if c == -1.0 else _product(_number(-c), rest)), t
        return None
    if not isinstance(value, cst.BinaryOperation):
        return None
    left, right = value.left, value.right
    if isinstance(value.operator, cst.Multiply):
        for factor, other in ((left, right), (right, left)):
            t = pending_name(other)
            if t is None:
                continue
            c, rest = pending[t]
            k = _literal(factor)
            if k is not None:  # k * t
                return _product(_number(k * c), rest), t
            inner = factor.with_changes(lpar=[], rpar=[])
            if isinstance(inner, cst.BinaryOperation) and isinstance(inner.operator, cst.Multiply):
                k = _literal(inner.left)
                if k is not None:  # (k * a) * t
                    return _product(_product(_number(k * c), inner.right), rest), t
        return None
    if isinstance(value.operator, (cst.Add, cst.Subtract)):
        t = pending_name(right)
        if t is not None and pending[t][0] == -1.0:  # a + (-R) = a - R; a - (-R) = a + R
            flipped = cst.Subtract() if isinstance(value.operator, cst.Add) else cst.Add()
            return cst.BinaryOperation(left, flipped, _grouped(pending[t][1])), t
        t = pending_name(left)
        if t is not None and pending[t][0] == -1.0 and isinstance(value.operator, cst.Add):  # -R + a = a - R
            return cst.BinaryOperation(right, cst.Subtract(), _grouped(pending[t][1])), t
    return None


def _block(statements, folding):
    kept = []  # statements, _Removed where a folded tangent's statement was
    pending = {}  # tangent -> (its factor, the rest); where it sits in kept; the names the rest reads
    where, reads = {}, {}

    def drop(used, bound):
        for t in [t for t in pending if t in bound or reads[t] & bound or (t in used and t in folding.removable)]:
            del pending[t]

    for statement in statements:
        if not isinstance(statement, cst.SimpleStatementLine):
            inner = _folded_inside(statement, folding)
            used, bound = folding.summaries.get(id(statement)) or _walked(statement)[0][id(statement)]
            drop(used, bound | (used & set(pending)))  # not folded into blocks inside
            kept.append(inner)
            continue
        small = statement.body[0]
        if len(statement.body) == 1 and isinstance(small, (cst.Assign, cst.AugAssign)):
            merged = _merged_statement(small, pending)
            if merged is not None:
                small, t = merged
                statement = statement.with_changes(body=[small])
                if t in folding.removable:
                    kept[where[t]] = _Removed(kept[where[t]])
                    del pending[t]
        drop(_names_in(statement), _bound(statement))
        kept.append(statement)
        target = small.targets[0].target if isinstance(small, cst.Assign) and len(small.targets) == 1 else None
        if isinstance(target, cst.Name) and target.value in folding.tangents:
            scaled = _scaled(small.value)
            if scaled is not None and _is_simple(scaled[1]) and target.value not in _names_in(scaled[1]):
                pending[target.value] = scaled
                where[target.value], reads[target.value] = len(kept) - 1, _names_in(scaled[1])
    return _without_gaps(kept)


def _merged_statement(small, pending):
    if isinstance(small, cst.Assign):
        merged = _merged(small.value, pending)
        return None if merged is None else (small.with_changes(value=merged[0]), merged[1])
    name = small.value.value if isinstance(small.value, cst.Name) else None
    if name in pending and pending[name][0] == -1.0 and isinstance(small.operator, (cst.AddAssign, cst.SubtractAssign)):
        flipped = cst.SubtractAssign() if isinstance(small.operator, cst.AddAssign) else cst.AddAssign()
        return small.with_changes(operator=flipped, value=pending[name][1]), name
    merged = _merged(small.value, pending)  # u += k * t
    return None if merged is None else (small.with_changes(value=merged[0]), merged[1])


class _Removed:
    """Where a folded tangent's statement was: its comments move to the next statement kept."""

    def __init__(self, statement):
        self.leading_lines = list(statement.leading_lines)


def _without_gaps(kept):
    result, carried = [], []
    for statement in kept:
        if isinstance(statement, _Removed):
            carried += statement.leading_lines
            continue
        if carried:
            statement = statement.with_changes(leading_lines=carried + list(statement.leading_lines))
            carried = []
        result.append(statement)
    return result


def _folded_inside(statement, folding):
    """A compound statement with each of its own blocks folded (blocks inside them by ``_block``)."""

    class Blocks(cst.CSTTransformer):
        def visit_IndentedBlock(self, node):
            return False

        def leave_IndentedBlock(self, original, updated):
            return updated.with_changes(body=_block(updated.body, folding))

    return statement.visit(Blocks())


def _bound(statement):
    """Every name a simple statement binds, tuple targets' names included."""
    names = set()
    for small in statement.body:
        targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else []
        if isinstance(small, (cst.AugAssign, cst.AnnAssign)):
            targets.append(small.target)
        for target in targets:
            names.update(target_names(target))
    return names
