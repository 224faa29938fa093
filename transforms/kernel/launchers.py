"""The CPU launchers of a kernel: functions (libcst trees) of loops that run a thread function's code for n
threads, one after another (small launches), under ``prange`` in chunks (large ones), or for a
tape's many recorded launches in one compiled call.

The thread's code is pasted into the loop, not called (numba passes every array argument of a call
with reference counting around it). Additions into elements other threads may add into too (the
adjoints of shared reads, ``srcad.atomic_add``) are made race-free per chunk: summed in registers
where the element is fixed, added directly where the chunk's own threads number the row, and
spilled for after the loop elsewhere (see ``cpu_launcher``).
"""

import libcst as cst

from ..ir import bound_names, statements_of
from ..ir.precedence import spelled
from .unsigned_indices import bindings_of, non_negative_names, with_unsigned_indices


def _block(header, body):
    """The compound statement ``header:`` (a ``for``, an ``if``) over the statements ``body``."""
    return cst.parse_statement(f"{header}:\n    pass").with_changes(body=cst.IndentedBlock(list(body)))


def _function(name, parameters, body):
    """``def name(*parameters):`` over the statements ``body``."""
    return cst.FunctionDef(
        name=cst.Name(name),
        params=cst.Parameters([cst.Param(cst.Name(p)) for p in parameters]),
        body=cst.IndentedBlock(list(body)),
    )


def _thread_code(thread, dimensions, body=None):
    """The thread function's body (or ``body``, its statements as rewritten), inlined: statements
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
    return statements_of("\n".join(lines) + "\n") + with_unsigned_indices(body, non_negative_names(body, indices))


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
            element = spelled(target)
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
    """The parameters holding the launch's sizes after the first."""
    return [f"srcad_size_{k}" for k in range(1, dimensions)]


def serial_launcher(name, thread, arguments, dimensions=1):
    """``def name(threads, chunks, *sizes after the first, *arguments)`` running the threads one after
    another: for small launches, where starting the worker threads costs more than the work."""
    body, sums, _ = accumulated_in_registers(thread)
    statements = statements_of("".join(f"{total} = 0.0\n" for total, _ in sums))
    statements.append(_block("for srcad_tid in range(srcad_threads)", _thread_code(thread, dimensions, body)))
    statements += statements_of("".join(f"{element} += {total}\n" for total, element in sums))
    return _function(name, ["srcad_threads", "srcad_chunks", *_sizes(dimensions), *arguments], statements)


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
    parameters = ["srcad_threads", "srcad_chunks", *_sizes(dimensions), *(whole.get(a, a) for a in arguments)]
    if not private:
        return _function(name, parameters, [_block("for srcad_tid in prange(srcad_threads)", _thread_code(thread, dimensions))])
    body, sums, _ = accumulated_in_registers(thread)
    flushes = statements_of("".join(f"{element} += {total}\n" for total, element in sums))
    # (in one dimension: a chunk's threads own the rows of their numbers; 2-D launches number (i, j))
    spilled = _spillable(body, flushes, private, ranks or {}) if dimensions == 1 else {}
    before = ["srcad_chunks = max(1, min(srcad_threads, srcad_chunks))",
              "srcad_per_chunk = (srcad_threads + srcad_chunks - 1) // srcad_chunks"]
    chunk = ["srcad_low = srcad_chunk * srcad_per_chunk", "srcad_high = min(srcad_threads, srcad_low + srcad_per_chunk)"]
    after = []
    for k, argument in enumerate(private):
        if argument in spilled:
            (per_thread, per_chunk), rank = spilled[argument]
            room = f"srcad_per_chunk * {per_thread} + {per_chunk}"
            before += [f"srcad_spill_values_{k} = np.empty((srcad_chunks, {room}), dtype={whole[argument]}.dtype)",
                       f"srcad_spill_indices_{k} = np.empty((srcad_chunks, {room}, {rank}), dtype=np.int64)",
                       f"srcad_spill_counts_{k} = np.zeros(srcad_chunks, dtype=np.int64)"]
            chunk.append(f"srcad_spilled_{k} = 0")
            index = ", ".join(f"srcad_spill_indices_{k}[srcad_chunk, srcad_spill, {d}]" for d in range(rank))
            after.append(f"for srcad_chunk in range(srcad_chunks):\n"
                         f"    for srcad_spill in range(srcad_spill_counts_{k}[srcad_chunk]):\n"
                         f"        {whole[argument]}[{index}] += srcad_spill_values_{k}[srcad_chunk, srcad_spill]")
        else:  # the first chunk adds into the array itself; each other chunk zeroes its own part, in parallel
            before.append(f"srcad_parts_{k} = np.empty((srcad_chunks - 1,) + {whole[argument]}.shape, "
                          f"dtype={whole[argument]}.dtype)")
            chunk += [f"{argument} = {whole[argument]} if srcad_chunk == 0 else srcad_parts_{k}[srcad_chunk - 1]",
                      f"if srcad_chunk > 0:\n    {argument}.fill(0)"]
            after.append(f"for srcad_chunk in range(srcad_chunks - 1):\n    {whole[argument]} += srcad_parts_{k}[srcad_chunk]")
    chunk += [f"{total} = 0.0" for total, _ in sums]
    numbers = {a: k for k, a in enumerate(private)}
    own = _thread_number_names(body, thread.params.params[0].name.value) if dimensions == 1 else set()
    rewrite = _Spill({a: (whole[a], numbers[a]) for a in spilled}, own)
    body = list(cst.Module(body=body).visit(rewrite).body)
    flushes = list(cst.Module(body=flushes).visit(rewrite).body)
    counted = [f"srcad_spill_counts_{k}[srcad_chunk] = srcad_spilled_{k}" for k, a in enumerate(private) if a in spilled]
    chunk_statements = (statements_of("\n".join(chunk) + "\n")
                        + [_block("for srcad_tid in range(srcad_low, srcad_high)", _thread_code(thread, dimensions, body))]
                        + flushes + statements_of("".join(line + "\n" for line in counted)))
    statements = (statements_of("\n".join(before) + "\n") + [_block("for srcad_chunk in prange(srcad_chunks)", chunk_statements)]
                  + statements_of("\n".join(after) + "\n"))
    return _function(name, parameters, statements)


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


def _thread_number_names(body, number):
    """``number`` (a 1-D thread's index parameter) and the variables holding it throughout (``i = tid``):
    a thread always owns the row of its own number, so additions there need no check."""
    bindings = bindings_of(body)
    names = {number} if number not in bindings else set()
    for statement in body:  # top-level copies, each the only binding of its name
        small = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else None
        if (isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)
                and isinstance(small.value, cst.Name) and small.value.value in names
                and len(bindings[small.targets[0].target.value]) == 1):
            names.add(small.targets[0].target.value)
    return names


class _Spill(cst.CSTTransformer):
    """``a[j, k] += v`` (an array of ``arrays``: name -> (its whole array, its number)) as a direct
    addition where the chunk owns row j (always, for j the thread's own number: ``own``), else a
    spilled (index, value) pair."""

    def __init__(self, arrays, own=frozenset()):
        self.arrays = arrays
        self.own = own

    def leave_SimpleStatementLine(self, original, updated):
        small = updated.body[0]
        if not (isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Subscript)
                and isinstance(small.target.value, cst.Name) and small.target.value.value in self.arrays):
            return updated
        whole, k = self.arrays[small.target.value.value]
        atoms = [spelled(e.slice.value) for e in small.target.slice]
        value = spelled(small.value)
        if isinstance(small.operator, cst.SubtractAssign):
            value = f"-({value})"
        operator = "+=" if isinstance(small.operator, cst.AddAssign) else "-="
        direct = f"{whole}[{', '.join(atoms)}] {operator} {spelled(small.value)}"
        if atoms[0] in self.own:
            return cst.parse_statement(direct).with_changes(leading_lines=updated.leading_lines)
        spill = [f"srcad_spill_values_{k}[srcad_chunk, srcad_spilled_{k}] = {value}"]
        spill += [f"srcad_spill_indices_{k}[srcad_chunk, srcad_spilled_{k}, {d}] = {atom}" for d, atom in enumerate(atoms)]
        spill.append(f"srcad_spilled_{k} += 1")
        text = (f"if srcad_low <= {atoms[0]} and {atoms[0]} < srcad_high:\n    {direct}\nelse:\n"
                + "".join(f"    {line}\n" for line in spill))
        return cst.parse_statement(text).with_changes(leading_lines=updated.leading_lines)


def replay_launcher(name, launcher, is_array, float_arrays, dimensions=1):
    """``def name(threads, chunks, *sizes, count, ...)``: a tape's backward pass over ``count``
    recorded launches of one adjoint, last first, in one compiled call (a Python call per launch
    costs more than a small launch's work). Per kernel argument k: an array as its owner's memory
    (1-D), each launch's element offset into it and the view's shape (``a{k}_owner, a{k}_offsets,
    a{k}_shape``), or a number as each launch's value (``s{k}_values``); then the owners of the
    adjoints of the arguments in ``float_arrays``, which share their arguments' offsets and shapes."""
    parameters = []
    for k, array in enumerate(is_array):
        parameters += [f"a{k}_owner", f"a{k}_offsets", f"a{k}_shape"] if array else [f"s{k}_values"]
    parameters += [f"g{k}_owner" for k in float_arrays]
    sizes = [f"a{k}_size = 1\nfor extent in a{k}_shape:\n    a{k}_size *= extent\n" for k, array in enumerate(is_array) if array]
    views, passed = [], []
    for k, array in enumerate(is_array):
        if array:
            views += [f"a{k}_start = a{k}_offsets[launch]", f"a{k} = a{k}_owner[a{k}_start:a{k}_start + a{k}_size].reshape(a{k}_shape)"]
        else:
            views.append(f"a{k} = s{k}_values[launch]")
        passed.append(f"a{k}")
    views += [f"g{k} = g{k}_owner[a{k}_start:a{k}_start + a{k}_size].reshape(a{k}_shape)" for k in float_arrays]
    passed += ["0.0"] + [f"g{k}" for k in float_arrays]
    views.append(f"{launcher}({', '.join(['srcad_threads', 'srcad_chunks', *_sizes(dimensions), *passed])})")
    loop = _block("for launch in range(count - 1, -1, -1)", statements_of("\n".join(views) + "\n"))
    return _function(name, ["srcad_threads", "srcad_chunks", *_sizes(dimensions), "count", *parameters],
                     statements_of("".join(sizes)) + [loop])


def recorded_launcher(name, launcher, arguments, is_array, value_reads, writes, reads_before_writes, dimensions=1):
    """``def name(threads, chunks, *sizes, *arguments, log, row, ranges, count)``: a launch recorded
    on a tape in one compiled call (the Python bookkeeping cost more than a small launch). It writes
    each array argument's address into ``log[row]`` and adds the memory the launch reads to
    ``ranges[:count]`` (``kernels/recording.py``), then runs ``launcher``, and returns the new count.
    It returns -1 without running anything when the launch writes memory that it or an earlier
    launch reads (the tape copies that array first, in Python), -2 when ``ranges`` or ``log`` has
    no room."""
    parameters = ["srcad_threads", "srcad_chunks", *_sizes(dimensions), *arguments,
                  "srcad_log", "srcad_row", "srcad_ranges", "srcad_count"]
    if set(reads_before_writes) & set(writes):
        return _function(name, parameters, statements_of("return -1  # it reads what it writes: the old values are always kept\n"))
    lines = [f"if srcad_count + {len(value_reads)} > srcad_ranges.shape[0] or srcad_row >= srcad_log.shape[0] "
             f"or srcad_log.shape[1] < {len(arguments)}:\n    return -2"]
    lines += [f"srcad_start_{k}, srcad_end_{k} = extent_of({arguments[k]})" for k in sorted(set(value_reads) | set(writes))]
    for k in writes:
        lines.append(f"if reads_overlap(srcad_ranges, srcad_count, srcad_start_{k}, srcad_end_{k}):\n    return -1")
        lines += [f"if srcad_start_{j} < srcad_end_{k} and srcad_start_{k} < srcad_end_{j}:\n    return -1"
                  for j in value_reads if j != k]
    lines += [f"srcad_log[srcad_row, {k}] = {arguments[k]}.ctypes.data" for k, array in enumerate(is_array) if array]
    lines += [f"srcad_count = add_read(srcad_ranges, srcad_count, srcad_start_{k}, srcad_end_{k})" for k in value_reads]
    lines.append(f"{launcher}({', '.join(['srcad_threads', 'srcad_chunks', *_sizes(dimensions), *arguments])})")
    lines.append("return srcad_count")
    return _function(name, parameters, statements_of("\n".join(lines) + "\n"))
