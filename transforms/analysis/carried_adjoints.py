"""Additions into neighbouring elements of an array, carried in local variables across a loop's
iterations instead of read back from memory.

The reverse sweep of a stencil adds into neighbouring elements: ``x_adj[i] += a`` and
``x_adj[i_plus_1] += b`` with ``i_plus_1 = i + 1``; so does a simulation's force loop,
``force[i] += s; force[i + 1] -= s``, and its tangent beside it. Each element gets additions from
two iterations, read back from memory in between. LLVM turns that into a value carried from one
iteration to the next, and then vectorizes the loop, but only where it can tell that no other
store touches the array: with two such arrays (a gradient of two arrays, a tangent beside its
primal, the tangent of a gradient) it cannot, and the loop runs 3-5x slower. This pass writes the
carried form itself:

    x_adj_at_i = x_adj[i]                 # the element first added to in this iteration
    x_adj_at_i += a                       # (was x_adj[i] += a)
    x_adj_at_i_plus_1 += b                # (was x_adj[i_plus_1] += b)
    x_adj[i + 1] = x_adj_at_i_plus_1      # the element no later iteration adds to
    x_adj_at_i_plus_1 = x_adj_at_i        # moves one place along for the next iteration

with the elements in flight loaded before the loop and stored after it. Each element gets the same
additions in the same order, so the result is the same to the last bit.

An array qualifies when it is a 1-D float64 array made once by ``np.zeros_like`` or ``np.zeros``
whose name is used nowhere in a way that could give its memory another name (see
``_unshared_arrays``); a loop qualifies when it runs over ``range`` by steps of 1 or -1 from a
known lowest index (so no index is negative: NumPy's wrap-around would bring two offsets to one
element), has no ``break``, ``continue`` or ``return``, and uses the array only to add to it, in
statements directly in its body, at ``i + c`` for constants c, more than once (one addition per
iteration reads and writes each element once anyway).
"""

import libcst as cst

from ..ir import assign, comment_lines, names_in, nodes_in, target_names
from ..ir.precedence import spelled


def carried_accumulations(body, is_float_vector, names):
    """``body`` (a function's statements) with the qualifying loops rewritten; ``is_float_vector(name)``
    says whether a variable is a 1-D float64 array; ``names`` hands out fresh names."""
    arrays = _unshared_arrays(body, is_float_vector)
    if not arrays:
        return body
    return _Rewrite(arrays, names).block(body)


_FRESH = {"np.zeros_like", "np.zeros"}  # allocations whose memory no other name holds
_READ_WHOLE = {"np.zeros_like", "np.empty_like", "np.sum", "len"}  # calls that keep no reference to an argument
_SIZES = {"shape", "size", "ndim", "dtype"}


def _unshared_arrays(body, is_float_vector):
    """1-D float64 arrays made once by ``np.zeros_like`` / ``np.zeros`` whose name is only ever used
    in ways that cannot make another name for their memory: elements read or written, operands of
    arithmetic and comparisons, ``+=`` on the whole, sizes, the final ``return``."""
    allocated, seen, allowed = {}, {}, {}

    def allow(node):
        if isinstance(node, cst.Name):
            allowed[id(node)] = True

    class Uses(cst.CSTVisitor):
        def visit_Name(self, node):
            seen.setdefault(node.value, []).append(node)

        def visit_Assign(self, node):
            value, target = node.value, node.targets[0].target
            if (len(node.targets) == 1 and isinstance(target, cst.Name) and isinstance(value, cst.Call)
                    and spelled(value.func) in _FRESH and value.args):
                sample = value.args[0].value
                is_like = spelled(value.func) == "np.zeros_like"
                if is_float_vector(sample.value if is_like and isinstance(sample, cst.Name) else target.value):
                    allocated[target.value] = allocated.get(target.value, 0) + 1
                    allow(target)

        def visit_Subscript(self, node):
            index = node.slice[0].slice if len(node.slice) == 1 else None
            if isinstance(index, cst.Index) and not views_whole(index.value):
                allow(node.value)  # an element (a number: the array is 1-D), or a gather (a copy)

        def visit_BinaryOperation(self, node):
            allow(node.left)
            allow(node.right)

        def visit_UnaryOperation(self, node):
            allow(node.expression)

        def visit_Comparison(self, node):
            allow(node.left)
            for target in node.comparisons:
                allow(target.comparator)

        def visit_AugAssign(self, node):
            allow(node.target)
            allow(node.value)

        def visit_Call(self, node):
            if spelled(node.func) in _READ_WHOLE:
                for argument in node.args:
                    allow(argument.value)

        def visit_Attribute(self, node):
            if node.attr.value in _SIZES:
                allow(node.value)
            node.value.visit(self)
            return False

    for statement in body:
        statement.visit(Uses())
    final = body[-1].body[0] if isinstance(body[-1], cst.SimpleStatementLine) else None
    if isinstance(final, cst.Return) and final.value is not None:  # handed to the caller as the function ends
        for element in final.value.elements if isinstance(final.value, cst.Tuple) else [cst.Element(final.value)]:
            allow(element.value)
    return {name for name, count in allocated.items()
            if count == 1 and all(id(node) in allowed for node in seen.get(name, ()))}


def views_whole(index):
    """``a[...]`` and ``a[None]``: views of the whole array, not elements."""
    return isinstance(index, cst.Ellipsis) or (isinstance(index, cst.Name) and index.value == "None")


def _every_statement(statements):
    for statement in statements:
        yield statement
        if isinstance(statement, (cst.If, cst.For, cst.While)):
            yield from _every_statement(statement.body.body)
            orelse = getattr(statement, "orelse", None)
            if isinstance(orelse, cst.If):
                yield from _every_statement([orelse])
            elif orelse is not None:
                yield from _every_statement(orelse.body.body)


def _element_added_to(statement):
    """The subscript ``a[k]`` of ``a[k] += v`` or ``a[k] -= v`` (one index, a name), else None."""
    small = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1 else None
    if not (isinstance(small, cst.AugAssign) and isinstance(small.operator, (cst.AddAssign, cst.SubtractAssign))):
        return None
    target = small.target
    if not (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name) and len(target.slice) == 1):
        return None
    index = target.slice[0].slice
    return target if isinstance(index, cst.Index) and isinstance(index.value, cst.Name) else None


def _integer(node):
    """The value of an integer literal (``3``, ``-1``), else None."""
    if isinstance(node, cst.Integer):
        return int(node.value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = _integer(node.expression)
        return None if inner is None else -inner
    return None


def _range_of(loop):
    """(start, stop, step, lowest index) of ``for i in range(...)`` with step 1 or -1 and a known
    lowest index; else None."""
    call = loop.iter
    if not (isinstance(loop.target, cst.Name) and isinstance(call, cst.Call)
            and isinstance(call.func, cst.Name) and call.func.value == "range" and 1 <= len(call.args) <= 3):
        return None
    arguments = [a.value for a in call.args]
    if any(a.keyword is not None for a in call.args):
        return None
    start, stop = (cst.Integer("0"), arguments[0]) if len(arguments) == 1 else (arguments[0], arguments[1])
    step = _integer(arguments[2]) if len(arguments) == 3 else 1
    if step == 1:
        lowest = _integer(start)
    elif step == -1:
        lowest = None if _integer(stop) is None else _integer(stop) + 1
    else:
        return None
    return None if lowest is None else (start, stop, step, lowest)


def _offsets(loop_body, index):
    """name -> (c, position of its binding) for the names bound once directly in the loop body as
    the loop index plus a constant c (the index itself: 0); None where the body binds the index."""
    offsets = {index: (0, -1)}
    bound = _bindings(loop_body)
    for position, statement in enumerate(loop_body):
        small = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else None
        if not (isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)):
            continue
        name = small.targets[0].target.value
        shift = _shift(small.value, offsets)
        if bound.get(name) == 1 and shift is not None:
            offsets[name] = (shift, position)
    if bound.get(index):
        return None
    return offsets


def _shift(value, offsets):
    """c where ``value`` is the loop index plus c (``i_plus_1 = i + 1``, ``i = 1 + i_iteration * 1``
    where the loop runs over i_iteration), through names in ``offsets``; else None."""
    if isinstance(value, cst.Name):
        return offsets[value.value][0] if value.value in offsets else None
    if not isinstance(value, cst.BinaryOperation):
        return None
    left, right = value.left, value.right
    if isinstance(value.operator, cst.Multiply) and _integer(right) == 1:
        return _shift(left, offsets)
    if isinstance(value.operator, cst.Add) and _integer(left) is not None:
        inner = _shift(right, offsets)
        return None if inner is None else inner + _integer(left)
    if isinstance(value.operator, (cst.Add, cst.Subtract)) and _integer(right) is not None:
        inner = _shift(left, offsets)
        sign = 1 if isinstance(value.operator, cst.Add) else -1
        return None if inner is None else inner + sign * _integer(right)
    return None


def _bindings(statements):
    """name -> how many times ``statements`` bind it (a loop target counts twice: it is bound again
    and again)."""
    bound = {}
    for statement in _every_statement(statements):
        for small in statement.body if isinstance(statement, cst.SimpleStatementLine) else ():
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else (
                [small.target] if isinstance(small, (cst.AugAssign, cst.AnnAssign)) else [])
            for target in targets:
                for name in target_names(target):
                    bound[name] = bound.get(name, 0) + 1
        if isinstance(statement, cst.For):
            for name in target_names(statement.target):
                bound[name] = bound.get(name, 0) + 2
    return bound


def _leaves_early(loop_body):
    return any(isinstance(node, (cst.Break, cst.Continue, cst.Return)) for s in loop_body for node in nodes_in(s))


class _Rewrite:
    def __init__(self, arrays, names):
        self.arrays = arrays
        self.names = names

    def block(self, statements):
        result = []
        for statement in statements:
            if isinstance(statement, cst.For):
                statement = self.nested(statement)
                result += self.loop(statement)
            elif isinstance(statement, (cst.If, cst.While)):
                result.append(self.nested(statement))
            else:
                result.append(statement)
        return result

    def nested(self, statement):
        changes = {"body": statement.body.with_changes(body=self.block(list(statement.body.body)))}
        orelse = getattr(statement, "orelse", None)
        if isinstance(orelse, cst.If):
            changes["orelse"] = self.nested(orelse)
        elif orelse is not None:
            changes["orelse"] = orelse.with_changes(body=orelse.body.with_changes(body=self.block(list(orelse.body.body))))
        return statement.with_changes(**changes)

    def loop(self, loop):
        """The loop with its qualifying arrays carried, and what goes before and after it."""
        shape = _range_of(loop)
        body = list(loop.body.body)
        if shape is None or loop.orelse is not None or _leaves_early(body):
            return [loop]
        index = loop.target.value
        offsets = _offsets(body, index)
        if offsets is None or set(_bindings(body)) & (names_in(shape[0]) | names_in(shape[1])):
            return [loop]  # range's bounds are read once; the stores after the loop read them again
        before, after = [], []
        for array in sorted(self.arrays):
            found = self.additions(body, array, offsets)
            if found is None or len(found) == 1 or shape[3] + min(c for c, _ in found.values()) < 0:
                continue  # one addition per iteration: each element is read and written once anyway
            body, loads, stores = self.carried(body, array, found, index, shape)
            before += loads
            after += stores
        if not before and not after and body == list(loop.body.body):
            return [loop]
        return before + [loop.with_changes(body=loop.body.with_changes(body=body))] + after

    def additions(self, body, array, offsets):
        """position in body -> offset of each ``array[k] += v`` there, if those are all the loop does
        with ``array`` (and each k is bound before it); else None."""
        found = {}
        for position, statement in enumerate(body):
            target = _element_added_to(statement)
            if target is not None and target.value.value == array:
                name = target.slice[0].slice.value.value
                offset = offsets.get(name)
                if offset is None or offset[1] >= position:
                    return None
                found[position] = (offset[0], name)
        if not found:
            return None
        uses = sum(isinstance(node, cst.Name) and node.value == array for s in body for node in nodes_in(s))
        return found if uses == len(found) else None

    def carried(self, body, array, found, index, shape):
        start, stop, step, _ = shape
        named = {}  # offset -> the name the loop body gives that element's index (i_minus_1)
        for offset, name in found.values():
            named.setdefault(offset, name)
        low, high = min(named), max(named)
        lead, trail = (low, high) if step == -1 else (high, low)
        register = {c: self.names.fresh(f"{array}_at_{named.get(c) or _spelled(index, c)}") for c in range(low, high + 1)}
        rewritten = list(body)
        for position, (offset, _) in found.items():
            small = body[position].body[0]
            rewritten[position] = body[position].with_changes(body=[small.with_changes(target=cst.Name(register[offset]))])
        first = [assign(register[lead], _element(array, index, lead))]
        last = [_store(array, index, trail, register[trail])]
        # each register moves one place along, from the element just stored towards the one loaded next
        last += [assign(register[c], cst.Name(register[c + step])) for c in range(trail, lead, step)]
        runs = _compared(start, cst.LessThan() if step == 1 else cst.GreaterThan(), stop)
        others = [c for c in range(low, high + 1) if c != lead]
        loads = [assign(register[c], cst.Float("0.0")) for c in range(low, high + 1)]
        elements = ", ".join(spelled(_element(array, index, c)) for c in range(low, high + 1))
        carriers = ", ".join(register[c] for c in range(low, high + 1))
        loads[0] = loads[0].with_changes(leading_lines=comment_lines(
            f"# {elements}: carried from one iteration to the next in {carriers}"))
        if others:
            loads.append(_if(runs, [assign(register[c], _element(array, start, c)) for c in others]))
        stores = [_if(runs, [_store(array, stop, c, register[c]) for c in others])] if others else []
        return first + rewritten + last, loads, stores


def _compared(left, operator, right):
    """``left <op> right``, an integer added to ``left`` moved over to ``right``: ``n - 1 > -1`` is ``n > 0``."""
    if isinstance(left, cst.BinaryOperation) and isinstance(left.operator, (cst.Add, cst.Subtract)):
        added = _integer(left.right)
        if added is not None and _integer(right) is not None:
            sign = 1 if isinstance(left.operator, cst.Add) else -1
            left, right = left.left, _shifted(right, -sign * added)
    return cst.Comparison(left, [cst.ComparisonTarget(operator, right)])


def _spelled(index, offset):
    if offset == 0:
        return index
    return f"{index}_plus_{offset}" if offset > 0 else f"{index}_minus_{-offset}"


def _shifted(base, offset):
    """``base + offset`` as source, with integers added up: ``n - 1`` shifted by 1 is ``n``."""
    base = cst.Name(base) if isinstance(base, str) else base
    if _integer(base) is not None:
        total = _integer(base) + offset
        return cst.Integer(str(total)) if total >= 0 else cst.UnaryOperation(cst.Minus(), cst.Integer(str(-total)))
    if isinstance(base, cst.BinaryOperation) and isinstance(base.operator, (cst.Add, cst.Subtract)) and _integer(base.right) is not None:
        sign = 1 if isinstance(base.operator, cst.Add) else -1
        return _shifted(base.left, sign * _integer(base.right) + offset)
    if offset == 0:
        return base
    operator = cst.Add() if offset > 0 else cst.Subtract()
    return cst.BinaryOperation(base, operator, cst.Integer(str(abs(offset))))


def _element(array, base, offset):
    return cst.Subscript(cst.Name(array), [cst.SubscriptElement(cst.Index(_shifted(base, offset)))])


def _store(array, base, offset, register):
    return cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(_element(array, base, offset))], cst.Name(register))])


def _if(test, statements):
    return cst.If(test=test, body=cst.IndentedBlock(statements))
