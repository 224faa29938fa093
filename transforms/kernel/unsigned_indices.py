"""Array indices that cannot be negative, spelled unsigned in a kernel's CPU launchers.

numba indexes with a signed integer by first checking for a negative index (Python's ``a[-1]``)
at every access, unless LLVM proves the index non-negative, which it cannot for a thread's number
running over its chunk (``range(low, high)``): in a memory-bound adjoint those checks measured a
third of the time. A thread's number is never negative, nor is a name every binding of which is a
non-negative number, such a name, or a sum of them (``i_plus_1 = i + 1``, and the ``i_plus_1 = 0``
the adjoint starts it at). The launchers index with those cast to an unsigned integer
(``a[numba.uintp(i)]``), which numba indexes directly; ``i - 1`` keeps its check (and ``a[-1]``
its meaning).
"""

import libcst as cst

from ..ir import target_names


def bindings_of(statements):
    """Every name bound in ``statements`` -> the value of each of its bindings (None for one that is
    not a plain ``name = value``: ``+=``, a loop's target, ...)."""
    bindings = {}

    class Bindings(cst.CSTVisitor):
        def visit_Assign(self, node):
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    bindings.setdefault(target.target.value, []).append(node.value if len(node.targets) == 1 else None)

        def visit_AugAssign(self, node):
            if isinstance(node.target, cst.Name):
                bindings.setdefault(node.target.value, []).append(None)

        def visit_AnnAssign(self, node):
            if isinstance(node.target, cst.Name):
                bindings.setdefault(node.target.value, []).append(None)

        def visit_For(self, node):
            for name in target_names(node.target):
                bindings.setdefault(name, []).append(None)

        def visit_NamedExpr(self, node):
            bindings.setdefault(node.target.value, []).append(None)

    cst.Module(body=list(statements)).visit(Bindings())
    return bindings


def non_negative_names(statements, roots):
    """The names of ``statements`` that are never negative, given that ``roots`` (the thread's
    indices) are not."""
    bindings = bindings_of(statements)
    known = {root for root in roots if root not in bindings}
    changed = True
    while changed:  # a name joins once every binding of it is known to be non-negative
        changed = False
        for name, values in bindings.items():
            if name not in known and all(value is not None and _non_negative(value, known) for value in values):
                known.add(name)
                changed = True
    return known


def _non_negative(node, known):
    if isinstance(node, cst.Integer):
        return True
    if isinstance(node, cst.Name):
        return node.value in known
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, (cst.Add, cst.Multiply)):
        return _non_negative(node.left, known) and _non_negative(node.right, known)
    return False


def with_unsigned_indices(statements, names):
    """``statements`` with every array index that is one of ``names`` cast to ``numba.uintp``."""
    if not names:
        return list(statements)

    class Cast(cst.CSTTransformer):
        def leave_Subscript(self, original, updated):
            if not isinstance(updated.value, cst.Name):  # an array variable's element, not x.shape[k]
                return updated
            return updated.with_changes(slice=[_unsigned(element, names) for element in updated.slice])

    return list(cst.Module(body=list(statements)).visit(Cast()).body)


def _unsigned(element, names):
    index = element.slice
    if isinstance(index, cst.Index) and isinstance(index.value, cst.Name) and index.value.value in names:
        unsigned = cst.Call(cst.parse_expression("numba.uintp"), [cst.Arg(index.value)])
        return element.with_changes(slice=index.with_changes(value=unsigned))
    return element
