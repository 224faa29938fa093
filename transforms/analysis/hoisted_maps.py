"""Element-wise functions of arrays a loop leaves alone, computed once before it.

A mixture model written point by point computes ``np.exp(icf[j])`` (or ``math.exp(-log_sigmas[c, j])``)
for every point ``i``: n times the same k x d exponentials, in the primal and again in the adjoint.
NumPy code written for whole arrays computes ``np.exp(icf)`` once, and so does JAX. This pass does
what that person would: a chain of the normal form that starts by reading an element or a row of a
float64 array, ``t = A[idx]``, and goes on through element-wise functions (``np.exp``, ``math.sin``,
``np.tanh``, ..., at least one of them: see ``_COSTLY``) and arithmetic with numbers or values the
loop does not change (``-t``, ``0.5 * t``), becomes one whole-array statement before the outermost loop that
changes neither the array nor those values and runs the chain again for the same elements, and a
read of its result where the chain ended::

    for i in range(n):                      exp_icf = np.exp(icf)
        for j in range(k):                  for i in range(n):
            icf_j = icf[j]           ->         for j in range(k):
            exp_icf_j = np.exp(icf_j)               exp_icf_j = exp_icf[j]

The elements are the same numbers (an element-wise function of an array is the function of each
element), so the primal's value does not change, and the derivative of the new code is the
derivative of the old: the adjoint adds ``exp_icf``'s adjoint up over every point, then applies the
exponential's rule once. ("Runs the chain again for the same elements": the element's index does
not change with that loop's iterations; it is an inner loop's index, or a value the loop does not
assign.) The whole array is computed where the chain read some of its elements: a cost only
where those loops read few of many.

Runs on the typed normal form (``srcad.pipeline`` types it again afterwards), not in kernels' threads,
which allocate nothing.
"""

import libcst as cst
from numba.core import types as numba_types

from ..ir import (
    assign,
    bound_names,
    marker_of,
    nodes_in,
    target_names,
    variable_counts,
    variables_in,
)
from ..ir.names import describe
from ..ir.precedence import spelled
from ..ir.statements import assignment_of, in_place_update_of, is_array_type, list_append_of, walk
from .aliases import possible_aliases, written_arrays

# The element-wise functions worth computing once (a call each, tens of cycles), as NumPy spells
# them for a whole array: those finite, with a finite derivative, at every finite argument short of
# an overflow. The whole array is computed, elements the loops never read included, and the adjoint
# multiplies each element's (zero) adjoint by the function's derivative there: log, sqrt, 1 / t and
# the like at an unread zero would give 0 * inf = nan where the gradient is 0. For the same reason
# a chain under an ``if`` inside the loop stays (``if x[j] < 30.0: ... np.exp(x[j])`` guards the
# elements it skips); an unread element that makes exp, sinh or cosh overflow (above ~709) or is
# nan still gives that element's gradient as nan.
_COSTLY = {f"np.{name}": f"np.{name}" for name in ("exp", "expm1", "sin", "cos", "sinh", "cosh", "tanh", "arctan", "arcsinh")}
_COSTLY |= {f"math.{name}": f"np.{name}" for name in ("exp", "expm1", "sin", "cos", "sinh", "cosh", "tanh")}
_COSTLY |= {"math.atan": "np.arctan", "math.asinh": "np.arcsinh"}


def hoisted_maps(definition, types, names):
    """``definition`` with the chains described above computed once before their loops, or None where
    there is none. ``types``: numba's types of its variables; ``names``: the NameFactory."""
    body = list(definition.body.body)
    finder = _Finder(body, types, names)
    finder.block(body, [])
    if not finder.hoisted:
        return None
    return definition.with_changes(body=definition.body.with_changes(body=finder.rewritten(body)))


class _Finder:
    def __init__(self, body, types, names):
        self.types, self.names = types, names
        self.mentions = variable_counts(body)
        self.groups = possible_aliases(body, types)
        self.hoisted = {}  # id of a loop -> the statements computing the chains' arrays before it
        self.by_expression = {}  # (id of the loop, spelled whole-array value) -> the name holding it
        self.replaced = {}  # id of a chain's last statement -> its replacement
        self.dropped = set()  # ids of the chain's other statements
        self.changed_in = {}  # id of a loop -> (names it binds, arrays it writes), computed once
        self.written_anywhere = self.written(body)

    # -- finding the chains -------------------------------------------------------------------------
    def block(self, statements, loops, guarded=frozenset()):
        """Find the chains of ``statements`` inside ``loops`` (outermost first); ``guarded``: the ids
        of those with an ``if`` between them and ``statements``."""
        for position, statement in enumerate(statements):
            if isinstance(statement, (cst.For, cst.While)):
                self.block(statement.body.body, loops + [statement], guarded)
            elif isinstance(statement, cst.If):
                inside = guarded | {id(loop) for loop in loops}
                self.block(statement.body.body, loops, inside)
                if statement.orelse is not None:
                    self.block(statement.orelse.body.body, loops, inside)
            elif loops and id(statement) not in self.dropped:
                self.chain_from(statements, position, [loop for loop in loops if id(loop) not in guarded])

    def chain_from(self, statements, position, loops):
        start = _assignment(statements[position])
        if start is None or not isinstance(start[1], cst.Subscript) or not isinstance(start[1].value, cst.Name):
            return
        array, index = start[1].value.value, start[1].slice
        if not _is_float64_array(self.types.get(array)) or not all(isinstance(e.slice, cst.Index) for e in index):
            return
        links, current, chain, last_costly = [], start[0], [position], None
        for later in range(position + 1, len(statements)):
            step = _assignment(statements[later])
            if step is None or current not in variables_in(step[1]):
                if current in variables_in(statements[later]):
                    break
                continue
            if self.mentions.get(current) != 1 + variable_counts(step[1]).get(current):
                break  # assigned once and read only by the next link
            link = self.link(step[1], current)
            if link is None:
                break
            links.append(link)
            chain.append(later)
            current = step[0]
            if link.costly:
                last_costly = len(chain)
        if last_costly is None:
            return
        chain, links = chain[:last_costly], links[: last_costly - 1]
        invariants = {name for link in links for name in link.operands}
        indices = {name for e in index for name in variables_in(e.slice.value)}
        between = cst.Module(body=[statements[k] for k in range(position + 1, chain[-1])])
        if indices & bound_names(between):
            return  # the index changes before the chain ends
        last = statements[chain[-1]]
        result = _assignment(last)[0]
        if is_array_type(self.types.get(result)) and self.written_anywhere & (self.groups.get(result, frozenset()) | {result}):
            return  # a row written after: it would be a row of the array computed once
        loop = self.outermost(loops, array, indices, invariants)
        if loop is None:
            return
        whole = self.computed_once(loop, array, links, _marker_before(statements, position))
        read = cst.Subscript(cst.Name(whole), index)
        self.replaced[id(last)] = assign(result, read).with_changes(leading_lines=last.leading_lines)
        self.dropped.update(id(statements[k]) for k in chain[:-1])

    def computed_once(self, loop, array, links, marker):
        """The name of the chain's whole-array result before ``loop``: its statements, one per link,
        go there (once for chains computing the same)."""
        previous, statements = array, []
        for link in links:
            value = link.whole(previous)
            key = (id(loop), spelled(value))
            if key not in self.by_expression:
                self.by_expression[key] = self.names.fresh(describe(value))
                statements.append(assign(self.by_expression[key], value))
            previous = self.by_expression[key]
        if statements:
            statements[0] = statements[0].with_changes(leading_lines=marker)
            self.hoisted.setdefault(id(loop), []).extend(statements)
        return previous

    def link(self, value, current):
        """The ``_Link`` by which ``value`` extends the chain ending in ``current``, else None."""
        if isinstance(value, cst.Call) and spelled(value.func) in _COSTLY and len(value.args) == 1 and (
                _is_name(value.args[0].value, current)):
            return _Link(value, current, _COSTLY[spelled(value.func)], frozenset())
        if isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Minus) and _is_name(value.expression, current):
            return _Link(value, current, None, frozenset())
        if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, (cst.Add, cst.Subtract, cst.Multiply)):
            for own, other in ((value.left, value.right), (value.right, value.left)):
                if _is_name(own, current) and (self._scalar_operand(other) or _is_name(other, current)):
                    operands = {other.value} - {current} if isinstance(other, cst.Name) else set()
                    return _Link(value, current, None, frozenset(operands))
        return None

    def _scalar_operand(self, node):
        if isinstance(node, (cst.Integer, cst.Float)):
            return True
        return isinstance(node, cst.Name) and isinstance(self.types.get(node.value), (numba_types.Float, numba_types.Integer))

    def outermost(self, loops, array, indices, invariants):
        """The outermost of ``loops`` (around the chain, outermost first) that changes neither the
        array (nor any name for its memory) nor the chain's operands, and whose iterations read the
        same elements: the index's names are numbers it does not assign, or inner loops' indices."""
        memory = self.groups.get(array, frozenset([array])) | {array}
        for position, loop in enumerate(loops):
            bound, written = self.changed(loop)
            if memory & written or array in bound or invariants & bound:  # (binding a view of it changes nothing)
                continue
            inner_indices = {name for inner in loops[position + 1:] if isinstance(inner, cst.For)
                             for name in variables_in(inner.target)}
            own = variables_in(loop.target) if isinstance(loop, cst.For) else set()
            if indices & own or any(name in bound and name not in inner_indices for name in indices):
                continue
            if any(self._bound_outside_inner_loops(loop, name) for name in indices & inner_indices):
                continue
            return loop
        return None

    def changed(self, loop):
        """(names ``loop`` binds, arrays it writes or hands to a list), computed once per loop."""
        if id(loop) not in self.changed_in:
            self.changed_in[id(loop)] = (bound_names(loop), self.written(list(loop.body.body)))
        return self.changed_in[id(loop)]

    def written(self, statements):
        """The arrays ``statements`` write, or hand to a list (whose items may be written)."""
        appended = {found[1].value for statement, _ in walk(statements)
                    if (found := list_append_of(statement)) is not None and isinstance(found[1], cst.Name)}
        return written_arrays(statements, self.types) | appended

    @staticmethod
    def _bound_outside_inner_loops(loop, name):
        """Whether ``loop`` assigns ``name`` other than as the index of a loop inside it."""
        for node in nodes_in(loop.body):
            if isinstance(node, cst.Assign) and any(name in target_names(t.target) for t in node.targets):
                return True
            if isinstance(node, cst.AugAssign) and _is_name(node.target, name):
                return True
        return False

    # -- the rewritten function ----------------------------------------------------------------------
    def rewritten(self, statements):
        result, pending = [], []  # pending: the markers of dropped statements, for the next one kept
        for statement in statements:
            if id(statement) in self.dropped:
                pending += statement.leading_lines
                continue
            new = self.replaced.get(id(statement), statement)
            if isinstance(statement, (cst.For, cst.While, cst.If)):
                new = new.with_changes(body=new.body.with_changes(body=self.rewritten(statement.body.body)))
            if isinstance(statement, cst.If) and statement.orelse is not None:
                new = new.with_changes(orelse=new.orelse.with_changes(
                    body=new.orelse.body.with_changes(body=self.rewritten(statement.orelse.body.body))))
            if pending:
                new = new.with_changes(leading_lines=[*pending, *new.leading_lines])
                pending = []
            result += self.hoisted.get(id(statement), [])
            result.append(new)
        return result


class _Link:
    """One statement of a chain: ``value`` computed from ``current`` (the chain so far) and numbers
    or ``operands``; ``function``: the NumPy function of a costly call (None for arithmetic)."""

    def __init__(self, value, current, function, operands):
        self.value, self.current, self.function, self.operands = value, current, function, operands
        self.costly = function is not None

    def whole(self, array):
        """The link's value for the whole array named ``array`` (the chain's result so far)."""
        if self.costly:
            return cst.Call(cst.parse_expression(self.function), [cst.Arg(cst.Name(array))])

        class Swap(cst.CSTTransformer):
            def leave_Name(_, original, updated):
                return updated.with_changes(value=array) if original.value == self.current else updated

        return self.value.visit(Swap())


def _assignment(statement):
    """(target name, value) of ``name = value`` (not ``name += value``, which reads the name), else None."""
    return assignment_of(statement) if in_place_update_of(statement) is None else None


def _is_name(node, name):
    return isinstance(node, cst.Name) and node.value == name


def _is_float64_array(numba_type):
    return isinstance(numba_type, numba_types.Array) and numba_type.dtype == numba_types.float64


def _marker_before(statements, position):
    """The ``# line N:`` marker of the user line ``statements[position]`` came from, as leading lines."""
    for statement in reversed(statements[: position + 1]):
        if marker_of(statement) is not None:
            return [line for line in statement.leading_lines if line.comment is not None
                    and line.comment.value.startswith("# line ")]
    return []
