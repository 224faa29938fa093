"""Kernels: how one thread uses its arrays (the launchers that run a thread function n times are in
``launchers.py``).

A ``@srcad.kernel`` is normalized as a procedure whose first parameter is the thread index
(``srcad.tid()``). Its forward launcher runs that function for every thread; its adjoint
launcher runs the thread's adjoint (``reverse_mode`` with the arrays' adjoints passed in), which
replays the thread's forward work and then adds into the adjoint arrays.

Threads run at once, so the access analysis decides what is safe. An index is the thread's
*own* when it is the thread index itself (``a[i]``, ``A[i, j]`` with ``i = srcad.tid()``): no two
threads touch that element. Reads anywhere else (``x[i + 1]``, ``k[0]``) make the adjoint add
into other threads' elements, and ``srcad.atomic_add(a, j, v)`` adds into them in the primal:
both accumulate into per-chunk partial arrays on the CPU (summed after the loop) and through
``cuda.atomic.add`` on a GPU. Reading an array at another thread's index while threads write it
depends on thread order and is refused.
"""

from dataclasses import dataclass, field

import libcst as cst

from ..ir import bound_names, names_in, target_names
from ..ir.statements import assignment_of, element_write_of, in_place_update_of, operation_of, walk


@dataclass
class Access:
    """How a kernel uses its array arguments (names)."""

    value_reads: set = field(default_factory=set)  # arrays whose values the thread reads
    reads_before_writes: set = field(default_factory=set)  # value-read arrays a thread may read (or add to) first
    writes: set = field(default_factory=set)  # arrays written or added into
    updates: set = field(default_factory=set)  # written arrays a thread may read or add to first: new values from old
    shared_reads: set = field(default_factory=set)  # read at an index that is not the thread's own
    shared_adds: set = field(default_factory=set)  # added into at an index that is not the thread's own
    refusals: list = field(default_factory=list)  # (the user's line number or None, why, fix)


def thread_names(body, thread):
    """A thread index and the variables that are plain copies of it (``i = tid``), bound nowhere else
    (``j = i`` then ``j = i - 1`` under a branch is not the thread's own index)."""
    bindings = {}
    for statement, _ in walk(body):
        if isinstance(statement, cst.For):
            bound = set(target_names(statement.target))
        elif isinstance(statement, cst.SimpleStatementLine):
            bound = {name for small in statement.body for target in getattr(small, "targets", ())
                     for name in target_names(target.target)} | bound_names(statement)
        else:
            continue
        for name in bound:
            bindings[name] = bindings.get(name, 0) + 1
    names = {thread}
    for statement, depth in walk(body):
        target_value = assignment_of(statement)
        if target_value is not None and depth == 0 and isinstance(target_value[1], cst.Name):
            if target_value[1].value in names and bindings.get(target_value[0]) == 1:
                names.add(target_value[0])
    return names


def access_of(definition, parameters, threads):
    """The ``Access`` of a normalized kernel; ``parameters`` its array-or-scalar argument names,
    ``threads`` its thread indices (one per dimension)."""
    body = definition.body.body
    own = [thread_names(body, thread) for thread in threads]
    arguments = set(parameters)
    access = Access()

    def is_own(index):  # A[i], A[i, k] in one dimension; A[i, j] in two, with i, j = srcad.tid()
        return len(index) >= len(own) and all(
            isinstance(atom, cst.Name) and atom.value in names for atom, names in zip(index, own)
        )

    first_access = {}  # array -> "read" or "write": what a thread does to it first, in program order
    shared_at = {}  # array -> the user's line of its first read or addition at another thread's index
    line = None
    for statement, _ in walk(body):
        line = user_line(statement) or line
        write = element_write_of(statement)
        if write is not None and write.array in arguments:
            first_access.setdefault(write.array, "write" if write.kind == "=" else "read")
            access.writes.add(write.array)
            if write.region is not None:
                access.refusals.append((line, f"a kernel's thread writes elements, not a region of '{write.array}'",
                                        f"Write one element per thread: {write.array}[i] = ..."))
            elif write.kind != "=" and not is_own(write.index):
                access.shared_adds.add(write.array)
                shared_at.setdefault(write.array, line)
            continue
        update = in_place_update_of(statement)
        if update is not None and update[0] in arguments:
            access.refusals.append((line, f"a kernel's thread cannot update the whole array '{update[0]}'",
                                    f"Update its own element: {update[0]}[i] += ..."))
            continue
        target_value = assignment_of(statement)
        if target_value is None:
            continue
        operation = operation_of(target_value[1])
        if operation.rule in ("index", "view") and operation.operands[0].value in arguments:
            array = operation.operands[0].value
            access.value_reads.add(array)
            first_access.setdefault(array, "read")
            if operation.rule == "view" or not is_own(operation.index):
                access.shared_reads.add(array)
                shared_at.setdefault(array, line)
        elif operation.rule == "copy" and operation.operands and operation.operands[0].value in arguments:
            access.refusals.append((line, "a kernel's thread reads elements of its arrays, not whole arrays",
                                    "Index the array: a[i]."))
    access.reads_before_writes = {a for a in access.value_reads if first_access.get(a) == "read"}
    access.updates = {a for a in access.writes if first_access.get(a) == "read"}
    for line, array in every_thread_writes(body, threads, arguments):
        access.refusals.append((line, f"every thread writes the same element of '{array}': the value left would be "
                                      f"whichever thread ran last",
                                f"Write {array}[i] with i = srcad.tid(), guard the write (if i == 0: ...), or add "
                                f"into it with srcad.atomic_add({array}, 0, value)."))
    for array in sorted(access.shared_reads & access.writes):
        access.refusals.append((shared_at[array], f"the kernel reads '{array}' at other threads' elements while threads write "
                                      f"'{array}': the result would depend on the order threads run in",
                                f"Write the new values into a separate output array, not into '{array}'."))
    for array in sorted(access.shared_adds & (access.value_reads | _assigned(body, arguments))):
        access.refusals.append((shared_at[array], f"the kernel adds into '{array}' at other threads' elements and also reads "
                                      f"or assigns '{array}': the result would depend on the order threads run in",
                                f"Only add into '{array}' (srcad.atomic_add), or use two arrays."))
    return access


def thread_varying_names(body, threads):
    """The variables whose values may differ from one thread to another: computed from a thread
    index, directly or through other such variables, or assigned under a condition or in a loop
    that depends on one."""
    varying = set(threads)

    def visit(statements, under_varying):
        grew = False
        for statement in statements:
            if isinstance(statement, cst.SimpleStatementLine):
                small = statement.body[0]
                if isinstance(small, (cst.Assign, cst.AugAssign)) and (
                        under_varying or names_in(small.value) & varying):
                    new = bound_names(statement) - varying
                    varying.update(new)
                    grew |= bool(new)
            elif isinstance(statement, cst.If):
                inner = under_varying or bool(names_in(statement.test) & varying)
                grew |= visit(statement.body.body, inner)
                if statement.orelse is not None:
                    grew |= visit(statement.orelse.body.body, inner)
            elif isinstance(statement, cst.For):
                inner = under_varying or bool(names_in(statement.iter) & varying)
                if inner and not names_in(statement.target) <= varying:
                    varying.update(names_in(statement.target))
                    grew = True
                grew |= visit(statement.body.body, inner)
            elif isinstance(statement, cst.While):
                grew |= visit(statement.body.body, under_varying or bool(names_in(statement.test) & varying))
        return grew

    while visit(body, False):  # loops carry values around: repeat until nothing new varies
        pass
    return varying


def every_thread_writes(body, threads, arguments):
    """(the user's line, array) for each plain write ``a[c] = v`` to an argument array of a value
    that differs between threads at an index that is the same in every thread, not under a
    condition that depends on the thread: a write-write race (the value left is the last thread's,
    and the adjoint would give its cotangent to whichever thread ran first). Threads writing one
    value there all agree, and are let be."""
    varying = thread_varying_names(body, threads)
    found = []

    def visit(statements, under_varying, line):
        for statement in statements:
            line = user_line(statement) or line
            write = element_write_of(statement)
            if write is not None:
                if (write.kind == "=" and write.array in arguments and not under_varying
                        and names_in(write.value) & varying
                        and not any(names_in(atom) & varying for atom in write.index)):
                    found.append((line, write.array))
            elif isinstance(statement, cst.If):
                inner = under_varying or bool(names_in(statement.test) & varying)
                visit(statement.body.body, inner, line)
                if statement.orelse is not None:
                    visit(statement.orelse.body.body, inner, line)
            elif isinstance(statement, (cst.For, cst.While)):
                test = statement.iter if isinstance(statement, cst.For) else statement.test
                visit(statement.body.body, under_varying or bool(names_in(test) & varying), line)

    visit(body, False, None)
    return found


def user_line(statement):
    """The user's line number in the ``# line N:`` comment above a normal-form statement, if any."""
    for line in getattr(statement, "leading_lines", []):
        comment = getattr(line, "comment", None)
        if comment is not None and comment.value.startswith("# line "):
            return int(comment.value.split()[2].rstrip(":"))
    return None


def _assigned(body, arguments):
    found = set()
    for statement, _ in walk(body):
        write = element_write_of(statement)
        if write is not None and write.kind == "=" and write.array in arguments:
            found.add(write.array)
    return found


class _DropWrites(cst.CSTTransformer):
    """Drops element writes to the named arrays (a ``pass`` stays where the write carries a comment;
    libcst prints ``pass`` in a block left empty)."""

    def __init__(self, arrays):
        self.arrays = arrays

    def leave_SimpleStatementLine(self, original, updated):
        write = element_write_of(original)
        if write is not None and write.array in self.arrays:
            if any(line.comment is not None for line in updated.leading_lines):
                return updated.with_changes(body=[cst.Pass()])
            return cst.RemoveFromParent()
        return updated


def without_replayed_writes(adjoint, arrays):
    """The thread adjoint without its replay's writes to ``arrays`` (arguments the thread never
    reads back): the launch wrote them already, and writing them again would add twice."""
    return adjoint.visit(_DropWrites(set(arrays))) if arrays else adjoint
