"""Pass 5c, second half: reverse-sweep loops whose iterations are independent run forwards.

The reverse sweep runs a loop's iterations last first, as it must when an iteration pops the
tape or reads what another iteration wrote. Many adjoint loops need neither: the adjoint of an
element-wise update like ``v[i] += dt * f[i]`` touches element ``i`` of each array it writes and
nothing else. Such a loop may run in any order, and counting up is the order compilers vectorize
and prefetch best (the spring chain's element-wise adjoint loops ran ~0.07 ms slower of 2 ms
counting down).

A loop ``for i in range(N - 1, -1, -1)`` of the reverse sweep counts up when its body:
- has no inner loop, neither pushes nor pops the tape (reading it in place, as ``indexed_pops``
  makes it, is fine);
- reads no variable it assigns before assigning it (no value flows from one iteration to the
  next: no accumulator like ``k_adj += ...``, whose rounding would change with the order);
- writes each array either only by adding into its elements, at any of them, reading none
  (``u_adj[i + 2] += t``, ``c_adj[k] += t``: a stencil's adjoint; the sums are the same in any
  order, but for rounding, as a vectorized sum's are), or only at an index that differs from one
  iteration to the next (``i``, or ``i_plus_1 = i + 1``: ``index_names``), or a tuple with one and
  numbers or names the loop does not assign, reading it (and any array sharing its memory) only at
  that same index; and passes none of them whole to anything;
and no variable it assigns (``i`` included) is read after the loop before being assigned again.
"""

import libcst as cst

from ..ir import nodes_in
from ..ir.flow import (
    assigned_names,
    index_names,
    owned_element,
    read_after,
    reads_before_assignment,
)
from ..ir.statements import index_atoms, index_spelling
from .indexed_pops import counting_down, pops_in_place
from .split_additions import split_additions


class _Independence(cst.CSTVisitor):
    """Whether a loop body's iterations commute (see the module's docstring), given the memory
    group of every array name; a name subscripted but not in ``groups`` makes it say no."""

    def __init__(self, indices, assigned, groups, tape):
        self.indices, self.assigned, self.groups, self.tape = indices, assigned, groups, tape
        self.accesses = {}  # array name -> set of index spellings
        self.whole = set()  # array names used other than by an element access
        self.written = set()
        self.added_at = {}  # array name -> {spelling of an element added into: whether the iteration owns it}
        self.stored = set()  # array names written by ``a[...] = v``
        self.read = set()  # array names of elements read (not as the target of ``+=``)
        self.unowned = set()  # array names written at an element an iteration may not own
        self.targets_added = set()  # ids of the subscripts ``+=`` / ``-=`` write
        self.ok = True

    def visit_For(self, node):
        self.ok = False

    def visit_While(self, node):
        self.ok = False

    def visit_Subscript(self, node):
        if not isinstance(node.value, cst.Name):
            return True  # `a.shape[0]` and the like
        name = node.value.value
        if name in (self.tape.floats, self.tape.ints):
            return False  # a value read where it lies on the tape (a write there is a push: see _note_write)
        element = index_spelling(node)
        if name not in self.groups or element is None:
            self.ok = False  # an array of unknown memory, or a region (`a[1:]`): more than one element
            return False
        self.accesses.setdefault(name, set()).add(element)
        if id(node) not in self.targets_added:
            self.read.add(name)
        for element in node.slice:
            element.visit(self)
        return False

    def visit_Attribute(self, node):
        if isinstance(node.value, cst.Name) and node.attr.value in ("shape", "size", "ndim"):
            return False
        return True

    def visit_Name(self, node):
        if node.value in self.tape.names():
            self.ok = False
        elif node.value in self.groups:
            self.whole.add(node.value)

    def visit_AssignTarget(self, node):
        self._note_write(node.target)
        if isinstance(node.target, cst.Subscript) and isinstance(node.target.value, cst.Name):
            self.stored.add(node.target.value.value)

    def visit_AugAssign(self, node):
        self._note_write(node.target)
        target = node.target
        if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
            if isinstance(node.operator, (cst.AddAssign, cst.SubtractAssign)):
                self.targets_added.add(id(target))
                spelling = index_spelling(target)
                owned = spelling is not None and owned_element(index_atoms(target), self.indices, self.assigned)
                self.added_at.setdefault(target.value.value, {}).setdefault(spelling, owned)
            else:
                self.stored.add(target.value.value)

    def _note_write(self, target):
        if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
            if target.value.value in self.tape.names():
                self.ok = False
                return
            self.written.add(target.value.value)
            if index_spelling(target) is None or not owned_element(index_atoms(target), self.indices, self.assigned):
                self.unowned.add(target.value.value)

    def added_only(self):
        return {name for name in self.written if name not in self.stored and name not in self.read}

    def spread_additions(self):
        """{array only added into, at elements each iteration owns: their spellings, first seen first}."""
        return {name: list(at) for name, at in self.added_at.items() if name in self.added_only() and all(at.values())}

    def verdict(self):
        if not self.ok or self.whole:
            return False
        # only added into: the sums come out the same in any order (but for rounding), whichever
        # names share that memory, as long as the loop neither reads nor otherwise writes it
        added_only = self.added_only()
        added_groups = frozenset().union(*(self.groups[name] for name in added_only))
        written_groups = set()
        for name in self.written - added_only:
            if written_groups & self.groups[name] or added_groups & self.groups[name]:
                return False  # two names written for one memory (``y[i]``, and ``v[i]`` with ``v = y[1:]``)
            written_groups |= self.groups[name]
            if len(self.accesses[name]) != 1 or name in self.unowned:
                return False  # read elsewhere than where it is written, or written where other iterations write
        for name in self.accesses:
            if name not in self.written and self.groups[name] & (written_groups | added_groups):
                return False  # another name for memory the loop writes
        return True


def loops_counting_up(function_body, reverse, groups, tape):
    """``function_body`` (every statement of the adjoint) with the loops of ``reverse`` (its reverse
    sweep's statements, a part of it) reading their pops in place where they can (``indexed_pops``),
    and counting up where their iterations are then independent. ``groups``: array name -> the
    memory groups it may share; ``tape``: the stacks (reserve.Tape)."""
    counts_up = {}  # id of a loop -> whether it counts up, for the loops this pass changes
    additions = {}  # id of a loop counting up -> its arrays only added into (see split_additions)
    for statement in reverse:
        for node in nodes_in(statement):
            if not isinstance(node, cst.For) or counting_down(node) is None:
                continue
            in_place = pops_in_place(node, tape, groups)
            loop = in_place[-1] if in_place else node
            index = loop.target.value
            assigned = assigned_names(loop.body.body) | {index}
            up = not reads_before_assignment(loop.body.body, {index}) & assigned
            if up:
                check = _Independence(index_names(loop.body.body, index), assigned, groups, tape)
                loop.body.visit(check)
                up = check.verdict() and not read_after(function_body, node, assigned)
                additions[id(node)] = check.spread_additions()
            if in_place or up:
                counts_up[id(node)] = up

    class Rewrite(cst.CSTTransformer):
        def leave_For(self, original, updated):
            if id(original) not in counts_up:
                return updated
            statements = pops_in_place(updated, tape, groups) or [updated]
            if counts_up[id(original)]:
                loop = statements[-1]
                loop = loop.with_changes(iter=cst.Call(cst.Name("range"), [cst.Arg(counting_down(loop))]))
                statements[-1:] = split_additions(loop, additions[id(original)])
            return cst.FlattenSentinel(statements) if len(statements) > 1 else statements[0]

    return list(cst.Module(body=function_body).visit(Rewrite()).body) if counts_up else function_body
