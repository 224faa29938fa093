"""Kernels: how one thread uses its arrays, and the launchers that run a thread function n times.

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

from srcad.transforms.names import bound_names
from srcad.transforms.statements import element_write_of, names_in, operation_of, walk
from srcad.transforms.recompute import in_place_update_of
from srcad.transforms.statements import assignment_of


class KernelNormalizing:
    """Mixed into the Normalizer: what a kernel's source says of its threads and atomic additions."""

    def thread_dimensions(self):
        """1, or k where the kernel unpacks its thread index as ``i, j = srcad.tid()`` (k names)."""
        parsed = self.parsed
        found = set()

        class Uses(cst.CSTVisitor):
            def visit_Assign(self, node):
                value = node.value
                if isinstance(value, cst.Call) and parsed.resolve(value.func).name == "srcad.tid":
                    target = node.targets[0].target
                    found.add(len(target.elements) if isinstance(target, (cst.Tuple, cst.List)) else 1)

        parsed.definition.body.visit(Uses())
        if len(found) > 1:
            raise self.error("this kernel takes srcad.tid() with different numbers of dimensions",
                             parsed.definition, "Unpack it the same way everywhere: i, j = srcad.tid().")
        dimensions = found.pop() if found else 1
        if dimensions > 3:
            raise self.error("kernels have one, two or three thread dimensions", parsed.definition)
        return dimensions

    def atomic_add(self, call):
        """``srcad.atomic_add(a, i, v)``: ``a[i] += v``, a scatter-add (the kernel back ends make it atomic)."""
        arguments = [a.value for a in call.args]
        if len(arguments) != 3 or any(a.keyword or a.star for a in call.args) or not isinstance(arguments[0], cst.Name):
            raise self.error("srcad.atomic_add takes three arguments: an array variable, an index and a value", call)
        array, index, value = arguments
        indices = index.elements if isinstance(index, cst.Tuple) else [cst.Element(index)]
        target = cst.Subscript(array, [cst.SubscriptElement(cst.Index(e.value)) for e in indices])
        return self.augmented_assignment(cst.AugAssign(target, cst.AddAssign(), value))


@dataclass
class Access:
    """How a kernel uses its array arguments (names)."""

    value_reads: set = field(default_factory=set)  # arrays whose values the thread reads
    reads_before_writes: set = field(default_factory=set)  # value-read arrays a thread may read (or add to) first
    writes: set = field(default_factory=set)  # arrays written or added into
    shared_reads: set = field(default_factory=set)  # read at an index that is not the thread's own
    shared_adds: set = field(default_factory=set)  # added into at an index that is not the thread's own
    refusals: list = field(default_factory=list)  # (the user's line number or None, why, fix)


def thread_names(body, thread):
    """A thread index and the variables that are plain copies of it (``i = tid``)."""
    names = {thread}
    for statement, depth in walk(body):
        target_value = assignment_of(statement)
        if target_value is not None and depth == 0 and isinstance(target_value[1], cst.Name):
            if target_value[1].value in names:
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
    """Drops element writes to the named arrays (``pass`` in their place keeps blocks valid)."""

    def __init__(self, arrays):
        self.arrays = arrays

    def leave_SimpleStatementLine(self, original, updated):
        write = element_write_of(original)
        if write is not None and write.array in self.arrays:
            return updated.with_changes(body=[cst.Pass()])
        return updated


def without_replayed_writes(adjoint, arrays):
    """The thread adjoint without its replay's writes to ``arrays`` (arguments the thread never
    reads back): the launch wrote them already, and writing them again would add twice."""
    return adjoint.visit(_DropWrites(set(arrays))) if arrays else adjoint


def _thread_code(thread, dimensions, indent, body=None):
    """The thread function's body (or ``body``, its statements as rewritten), inlined: lines
    computing its indices (its first parameters) from the thread's number ``srcad_tid`` (C order,
    from the sizes of the dimensions after the first), then its statements without the final
    return. Pasted into the launch loop rather than called, since numba passes every array argument
    of a call with reference counting around it (a small kernel's launch measured 50x slower that way)."""
    indices = [p.name.value for p in thread.params.params[:dimensions]]
    lines, rest = [], "srcad_tid"
    for k in range(dimensions - 1, 0, -1):
        lines += [f"{indices[k]} = {rest} % srcad_size_{k}", f"srcad_rest_{k} = {rest} // srcad_size_{k}"]
        rest = f"srcad_rest_{k}"
    lines.append(f"{indices[0]} = {rest}")
    body = list(thread.body.body)[:-1] if body is None else body
    body = cst.Module(body=body).code.rstrip("\n").split("\n")
    return "\n".join(indent + line if line.strip() else line for line in lines + body)


def accumulated_in_registers(thread):
    """The thread's statements (without the final return), with additions into arrays the thread
    only ever adds into (``+=``, ``-=``: adjoints of the arrays it reads, ``srcad.atomic_add``
    targets) kept in local accumulators where the element is fixed: ``a[c] += v`` at a constant
    index becomes ``acc += v`` on an accumulator per launch chunk, and ``a[i] += v`` at an index
    the thread computes once (its own ``i``) one per thread, added into ``a[i]`` at its end.
    Returns ``(statements, chunk sums, thread sums)``, each sum ``(accumulator, "a[...]")``:
    additions through memory into one element are a chain of dependent loads and stores, as long
    as the launch for a constant element."""
    statements = list(thread.body.body)[:-1]
    once = {p.name.value for p in thread.params.params}  # names bound once, before anything else runs
    bound = {}
    for statement in statements:
        for name in bound_names(statement):
            bound[name] = bound.get(name, 0) + (1 if isinstance(statement, cst.SimpleStatementLine) else 2)
    once |= {name for name, count in bound.items() if count == 1}
    added, other_uses = set(), set()

    class Find(cst.CSTVisitor):
        def visit_AugAssign(self, node):
            target = node.target
            if (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name)
                    and isinstance(node.operator, (cst.AddAssign, cst.SubtractAssign))):
                added.add(target.value.value)
                for element in target.slice:
                    element.visit(self)
                node.value.visit(self)
                return False
            return True

        def visit_Name(self, node):
            other_uses.add(node.value)

    cst.Module(body=statements).visit(Find())
    arrays = added - other_uses
    if not arrays:
        return statements, [], []
    chunk_sums, thread_sums = {}, {}

    def fixed(subscript):
        """'chunk' for a constant element, 'thread' for one at names bound once, else None."""
        atoms = [e.slice.value if isinstance(e.slice, cst.Index) else None for e in subscript.slice]
        if all(isinstance(a, cst.Integer) for a in atoms):
            return "chunk"
        if all(isinstance(a, cst.Integer) or (isinstance(a, cst.Name) and a.value in once) for a in atoms):
            return "thread"
        return None

    class Rewrite(cst.CSTTransformer):
        def leave_AugAssign(self, original, updated):
            target = updated.target
            if not (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name) and target.value.value in arrays):
                return updated
            kind = fixed(target)
            if kind is None:
                return updated
            sums = chunk_sums if kind == "chunk" else thread_sums
            element = cst.Module([]).code_for_node(target)
            if element not in sums:
                sums[element] = f"srcad_sum_{len(chunk_sums) + len(thread_sums)}"
            return updated.with_changes(target=cst.Name(sums[element]))

    statements = list(cst.Module(body=statements).visit(Rewrite()).body)
    if thread_sums:
        statements = ([cst.parse_statement(f"{total} = 0.0") for total in thread_sums.values()] + statements
                      + [cst.parse_statement(f"{element} += {total}") for element, total in thread_sums.items()])
    pairs = lambda sums: [(total, element) for element, total in sums.items()]  # noqa: E731
    return statements, pairs(chunk_sums), pairs(thread_sums)


def _sizes(dimensions):
    return "".join(f"srcad_size_{k}, " for k in range(1, dimensions))


def serial_launcher(name, thread, arguments, dimensions=1):
    """Source of ``name(threads, chunks, *sizes after the first, *arguments)`` running the threads
    one after another: for small launches, where starting the worker threads costs more than the work."""
    body, sums, _ = accumulated_in_registers(thread)
    lines = [f"def {name}(srcad_threads, srcad_chunks, {_sizes(dimensions)}{', '.join(arguments)}):"]
    lines += [f"    {total} = 0.0" for total, _ in sums]
    lines += ["    for srcad_tid in range(srcad_threads):", _thread_code(thread, dimensions, "        ", body)]
    lines += [f"    {element} += {total}" for total, element in sums]
    return "\n".join(lines) + "\n"


def cpu_launcher(name, thread, arguments, private, dimensions=1, ranks=None):
    """Source of ``name(threads, chunks, *arguments)``, running ``thread``'s code for every thread
    under ``prange``, in ``chunks`` chunks (numba's thread count), for arguments in ``private`` that
    threads add into at other threads' elements (``ranks``: their numbers of dimensions).

    A chunk adds directly into the elements whose first index lies in its own range of threads (no
    other chunk writes those), and spills the additions anywhere else (a neighbour's ``x_adj[i + 1]``
    at the chunk's edge) as (index, value) pairs, added after the loop: a stencil's adjoint spills
    a few values per chunk. That needs every addition into the array to be a statement of the
    thread outside its loops (so the spill space is known) with a whole index; other arrays get a
    zeroed partial array per chunk but the first, summed into them after the loop."""
    private = sorted(private)
    whole = {a: f"srcad_whole_{k}" for k, a in enumerate(private)}  # the arrays passed in
    header = f"def {name}(srcad_threads, srcad_chunks, {_sizes(dimensions)}{', '.join(whole.get(a, a) for a in arguments)}):"
    if not private:
        lines = [header, "    for srcad_tid in prange(srcad_threads):", _thread_code(thread, dimensions, "        ")]
        return "\n".join(lines) + "\n"
    body, sums, _ = accumulated_in_registers(thread)
    flushes = [cst.parse_statement(f"{element} += {total}") for total, element in sums]
    # (in one dimension: a chunk's threads own the rows of their numbers; 2-D launches number (i, j))
    spilled = _spillable(body, flushes, private, ranks or {}) if dimensions == 1 else {}
    partial = [a for a in private if a not in spilled]
    lines = [header]
    lines += ["    srcad_chunks = max(1, min(srcad_threads, srcad_chunks))",
              "    srcad_per_chunk = (srcad_threads + srcad_chunks - 1) // srcad_chunks"]
    for k, argument in enumerate(private):
        if argument in spilled:
            room, rank = spilled[argument]
            lines += [f"    srcad_spill_values_{k} = np.empty((srcad_chunks, srcad_per_chunk * {room[0]} + {room[1]}), "
                      f"dtype={whole[argument]}.dtype)",
                      f"    srcad_spill_indices_{k} = np.empty((srcad_chunks, srcad_per_chunk * {room[0]} + {room[1]}, "
                      f"{rank}), dtype=np.int64)",
                      f"    srcad_spill_counts_{k} = np.zeros(srcad_chunks, dtype=np.int64)"]
        else:  # the first chunk adds into the array itself
            lines.append(f"    srcad_parts_{k} = np.empty((srcad_chunks - 1,) + {whole[argument]}.shape, "
                         f"dtype={whole[argument]}.dtype)")
    lines.append("    for srcad_chunk in prange(srcad_chunks):")
    lines.append("        srcad_low = srcad_chunk * srcad_per_chunk")
    lines.append("        srcad_high = min(srcad_threads, srcad_low + srcad_per_chunk)")
    for k, argument in enumerate(private):
        if argument in spilled:
            lines.append(f"        srcad_spilled_{k} = 0")
        else:  # each chunk zeroes its own part, in parallel
            lines.append(f"        {argument} = {whole[argument]} if srcad_chunk == 0 else srcad_parts_{k}[srcad_chunk - 1]")
            lines.append(f"        if srcad_chunk > 0:\n            {argument}.fill(0)")
    numbers = {a: k for k, a in enumerate(private)}
    rewrite = _Spill({a: (whole[a], numbers[a]) for a in spilled})
    body = list(cst.Module(body=body).visit(rewrite).body)
    flushes = list(cst.Module(body=flushes).visit(rewrite).body)
    lines += [f"        {total} = 0.0" for total, _ in sums]
    lines.append("        for srcad_tid in range(srcad_low, srcad_high):")
    lines.append(_thread_code(thread, dimensions, "            ", body))
    lines += ["        " + line for line in cst.Module(body=flushes).code.rstrip("\n").split("\n") if flushes]
    for k, argument in enumerate(private):
        if argument in spilled:
            lines.append(f"        srcad_spill_counts_{k}[srcad_chunk] = srcad_spilled_{k}")
    for k, argument in enumerate(private):
        if argument in spilled:
            rank = spilled[argument][1]
            index = ", ".join(f"srcad_spill_indices_{k}[srcad_chunk, srcad_spill, {d}]" for d in range(rank))
            lines += ["    for srcad_chunk in range(srcad_chunks):",
                      f"        for srcad_spill in range(srcad_spill_counts_{k}[srcad_chunk]):",
                      f"            {whole[argument]}[{index}] += srcad_spill_values_{k}[srcad_chunk, srcad_spill]"]
        else:
            lines.append(f"    for srcad_chunk in range(srcad_chunks - 1):\n        {whole[argument]} += srcad_parts_{k}[srcad_chunk]")
    return "\n".join(lines) + "\n"


def _spillable(body, flushes, private, ranks):
    """{array: ((additions per thread, additions per chunk), rank)} for the arrays in ``private`` whose
    every use is an addition ``a[j, ...] += v`` with one index per dimension, outside the thread's
    loops: the most a chunk can spill."""
    counts, refused = {}, set()

    class Find(cst.CSTVisitor):
        def __init__(self):
            self.loops = 0

        def visit_For(self, node):
            self.loops += 1

        def leave_For(self, node):
            self.loops -= 1

        def visit_While(self, node):
            self.loops += 1

        def leave_While(self, node):
            self.loops -= 1

        def visit_AugAssign(self, node):
            target = node.target
            if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name) and target.value.value in private:
                array = target.value.value
                whole_index = len(target.slice) == ranks.get(array) and all(
                    isinstance(e.slice, cst.Index) and isinstance(e.slice.value, (cst.Name, cst.Integer)) for e in target.slice
                )
                if self.loops or not whole_index or not isinstance(node.operator, (cst.AddAssign, cst.SubtractAssign)):
                    refused.add(array)
                counts[array] = counts.get(array, 0) + 1
                node.value.visit(self)
                return False
            return True

        def visit_Name(self, node):
            if node.value in private:
                refused.add(node.value)  # read, or used whole

    cst.Module(body=body).visit(Find())
    per_thread = dict(counts)
    counts.clear()
    cst.Module(body=flushes).visit(Find())
    return {a: ((per_thread.get(a, 0), counts.get(a, 0)), ranks[a]) for a in set(per_thread) | set(counts)
            if a not in refused and a in ranks}


class _Spill(cst.CSTTransformer):
    """``a[j, k] += v`` (an array of ``arrays``: name -> (its whole array, its number)) as a direct
    addition where the chunk owns row j, else a spilled (index, value) pair."""

    def __init__(self, arrays):
        self.arrays = arrays

    def leave_SimpleStatementLine(self, original, updated):
        small = updated.body[0]
        if not (isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Subscript)
                and isinstance(small.target.value, cst.Name) and small.target.value.value in self.arrays):
            return updated
        whole, k = self.arrays[small.target.value.value]
        atoms = [cst.Module([]).code_for_node(e.slice.value) for e in small.target.slice]
        value = cst.Module([]).code_for_node(small.value)
        if isinstance(small.operator, cst.SubtractAssign):
            value = f"-({value})"
        operator = "+=" if isinstance(small.operator, cst.AddAssign) else "-="
        direct = f"{whole}[{', '.join(atoms)}] {operator} {cst.Module([]).code_for_node(small.value)}"
        spill = [f"srcad_spill_values_{k}[srcad_chunk, srcad_spilled_{k}] = {value}"]
        spill += [f"srcad_spill_indices_{k}[srcad_chunk, srcad_spilled_{k}, {d}] = {atom}" for d, atom in enumerate(atoms)]
        spill.append(f"srcad_spilled_{k} += 1")
        text = (f"if srcad_low <= {atoms[0]} and {atoms[0]} < srcad_high:\n    {direct}\nelse:\n"
                + "".join(f"    {line}\n" for line in spill))
        return cst.parse_statement(text).with_changes(leading_lines=updated.leading_lines)


def replay_launcher(name, launcher, is_array, float_arrays, dimensions=1):
    """Source of ``name(threads, chunks, *sizes, count, ...)``: a tape's backward pass over ``count``
    recorded launches of one adjoint, last first, in one compiled call (a Python call per launch
    costs more than a small launch's work). Per kernel argument k: an array as its owner's memory
    (1-D), each launch's element offset into it and the view's shape (``a{k}_owner, a{k}_offsets,
    a{k}_shape``), or a number as each launch's value (``s{k}_values``); then the owners of the
    adjoints of the arguments in ``float_arrays``, which share their arguments' offsets and shapes."""
    arrays = [k for k, array in enumerate(is_array) if array]
    parameters = []
    for k, array in enumerate(is_array):
        parameters += [f"a{k}_owner", f"a{k}_offsets", f"a{k}_shape"] if array else [f"s{k}_values"]
    parameters += [f"g{k}_owner" for k in float_arrays]
    lines = [f"def {name}(srcad_threads, srcad_chunks, {_sizes(dimensions)}count, {', '.join(parameters)}):"]
    for k in arrays:
        lines += [f"    a{k}_size = 1", f"    for extent in a{k}_shape:", f"        a{k}_size *= extent"]
    lines.append("    for launch in range(count - 1, -1, -1):")
    passed = []
    for k, array in enumerate(is_array):
        if array:
            lines.append(f"        a{k}_start = a{k}_offsets[launch]")
            lines.append(f"        a{k} = a{k}_owner[a{k}_start:a{k}_start + a{k}_size].reshape(a{k}_shape)")
        else:
            lines.append(f"        a{k} = s{k}_values[launch]")
        passed.append(f"a{k}")
    for k in float_arrays:
        lines.append(f"        g{k} = g{k}_owner[a{k}_start:a{k}_start + a{k}_size].reshape(a{k}_shape)")
    passed += ["0.0"] + [f"g{k}" for k in float_arrays]
    lines.append(f"        {launcher}(srcad_threads, srcad_chunks, {_sizes(dimensions)}{', '.join(passed)})")
    return "\n".join(lines) + "\n"


def forwarded_stores(definition):
    """A kernel's normal form with reads of an element the thread has just stored (``v_out[i] = t``
    ... ``u = v_out[i]``, no other write between, in straight-line code) reading ``t`` instead: the
    adjoint then need not replay the store, nor the tape copy the array for it."""
    from srcad.transforms.flatten import assign

    code = cst.Module([]).code_for_node
    known = {}  # (array, index spelled) -> the atom stored there
    body = []
    for statement in definition.body.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            known.clear()
            body.append(statement)
            continue
        write = element_write_of(statement)
        target_value = assignment_of(statement)
        if write is not None:
            known.clear()  # another name may share the memory: only this store stays known
            if write.kind == "=" and write.region is None and isinstance(write.value, (cst.Name, cst.Integer, cst.Float)):
                known[(write.array, tuple(code(a) for a in write.index))] = write.value
        elif target_value is not None and in_place_update_of(statement) is None:
            target, value = target_value
            operation = operation_of(value)
            key = (operation.operands[0].value, tuple(code(a) for a in operation.index)) if operation.rule == "index" else None
            if key in known:
                statement = assign(target, known[key]).with_changes(leading_lines=statement.leading_lines)
            known = {k: v for k, v in known.items()
                     if target not in k[1] and k[0] != target and getattr(v, "value", None) != target}
        else:
            known.clear()
        body.append(statement)
    return definition.with_changes(body=definition.body.with_changes(body=body))
