"""Fewer atomic additions in CUDA kernels: each thread sums what it adds to one element first.

An adjoint kernel adds into shared adjoints atomically (``cuda.atomic.add(k_adj, 0, v)``). Where
every thread adds to the same element (a literal index: the adjoint of a parameter ``k[0]`` read by
all threads), the GPU serializes millions of additions on one address. Where one thread adds to
its own element several times (``x_adj[i]`` from each read of ``x[i]``), each addition is a
separate atomic operation. This pass rewrites, in the thread's code, ``cuda.atomic.add(a, index,
v)`` into ``partial += v`` on a thread-local sum, for arrays only ever added into:

- a literal index: the sums of the block's threads are added up in shared memory after the
  thread's code, and one thread of the block adds the total atomically;
- a name bound once, at the top of the thread's code (or a thread index): the thread adds its sum
  atomically once, at the end of its code (other threads may add to the same element).

The block reduction needs every thread of the block to reach it: kernels that may stop a thread
early (the tape's overflow check) and block sizes that are not a power of two keep their atomics.
"""

import libcst as cst

from ..ir import all_names, statements_of, target_names
from ..ir.names import NameFactory
from ..ir.precedence import spelled

_ADD = "cuda.atomic.add"
_MOST_BLOCK_SUMS = 16  # shared memory: 16 sums x 1024 threads x 8 bytes = 128 KiB at most


def _spelled(node):
    return spelled(node)


def _atomic_add(statement):
    """(array, index node, value node) of ``cuda.atomic.add(array, index, value)``, else None."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if not (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)) or _spelled(small.value.func) != _ADD:
        return None
    array, index, value = (arg.value for arg in small.value.args)
    return (array.value if isinstance(array, cst.Name) else None), index, value


def _literal_index(index):
    elements = [e.value for e in index.elements] if isinstance(index, cst.Tuple) else [index]
    if all(isinstance(e, cst.Integer) for e in elements):
        return tuple(int(e.value) for e in elements)
    return None


class _Uses(cst.CSTVisitor):
    """Arrays used other than as the array of an atomic addition; names bound, and where."""

    def __init__(self):
        self.other_uses, self.bindings, self.top_level = set(), {}, set()
        self.depth = 0

    def visit_Call(self, node):
        if _spelled(node.func) == _ADD:
            for arg in node.args[1:]:
                arg.visit(self)
            return False
        return True

    def visit_Name(self, node):
        self.other_uses.add(node.value)

    def visit_IndentedBlock(self, node):
        self.depth += 1

    def leave_IndentedBlock(self, node):
        self.depth -= 1

    def visit_AssignTarget(self, node):
        self._bound(node.target)

    def visit_AugAssign(self, node):
        self._bound(node.target)

    def visit_For(self, node):
        self._bound(node.target)

    def _bound(self, target):
        for name in target_names(target):  # a tuple's names too: each binding counts
            self.bindings[name] = self.bindings.get(name, 0) + 1
            if self.depth == 0:
                self.top_level.add(name)


class _Partials(cst.CSTTransformer):
    def __init__(self, arrays, fixed_names, names, block_sums_allowed):
        self.arrays, self.fixed_names, self.names = arrays, fixed_names, names
        self.block_sums_allowed = block_sums_allowed
        self.block_sums, self.own_sums = {}, {}  # (array, literal index) / (array, index name) -> the sum's name

    def leave_SimpleStatementLine(self, original, updated):
        found = _atomic_add(updated)
        if found is None or found[0] not in self.arrays:
            return updated
        array, index, value = found
        literal = _literal_index(index)
        if literal is not None and self.block_sums_allowed and (
            (array, literal) in self.block_sums or len(self.block_sums) < _MOST_BLOCK_SUMS
        ):
            sums, key = self.block_sums, (array, literal)
        elif isinstance(index, cst.Name) and index.value in self.fixed_names:
            sums, key = self.own_sums, (array, index.value)
        else:
            return updated
        if key not in sums:
            sums[key] = self.names.fresh(f"{array}_sum_{'_'.join(map(str, key[1])) if literal else key[1]}")
        add = cst.AugAssign(cst.Name(sums[key]), cst.AddAssign(), value)
        return updated.with_changes(body=[add])


def with_partial_sums(statements, atomic_arrays, thread_indices, block_size, may_stop_early, parameters=()):
    """(sums set to 0.0 before the thread's code, the thread's code, what ends it, what follows it
    for the whole block); see the module's docs. ``statements``: the thread's code, atomic additions
    spelled ``cuda.atomic.add``; ``parameters``: the kernel's other names."""
    uses = _Uses()
    for statement in statements:
        statement.visit(uses)
    arrays = set(atomic_arrays) - uses.other_uses
    # an index whose one value is known all along: bound once, at the top, and not a parameter (which
    # holds another value before that binding); or a thread index never bound again
    fixed = {name for name in uses.top_level if uses.bindings[name] == 1} - set(parameters)
    fixed |= set(thread_indices) - set(uses.bindings)
    names = NameFactory(set(parameters).union(thread_indices, *(all_names(s) for s in statements)))
    power_of_two = block_size > 0 and block_size & (block_size - 1) == 0
    rewrite = _Partials(arrays, fixed, names, power_of_two and not may_stop_early)
    body = [statement.visit(rewrite) for statement in statements]
    every_sum = list(rewrite.own_sums.values()) + list(rewrite.block_sums.values())
    start = [cst.parse_statement(f"{name} = 0.0") for name in every_sum]
    end = [cst.parse_statement(f"cuda.atomic.add({array}, {index}, {name})")
           for (array, index), name in rewrite.own_sums.items()]
    return start, body, end, _block_reduction(rewrite.block_sums, block_size, names)


def _block_reduction(block_sums, block_size, names):
    """The block's sums added up in shared memory (a tree: half the threads add the other half's),
    and one atomic addition per sum by the block's first thread."""
    if not block_sums:
        return []
    shared, thread, stride = names.fresh("block_sums"), names.fresh("thread_in_block"), names.fresh("stride")
    sums = list(block_sums.items())
    lines = [
        f"{shared} = cuda.shared.array(({len(sums)}, {block_size}), numba.float64)",
        f"{thread} = cuda.threadIdx.x",
        *(f"{shared}[{k}, {thread}] = {name}" for k, (_, name) in enumerate(sums)),
        "cuda.syncthreads()",
        f"{stride} = {block_size // 2}",
        f"while {stride} > 0:",
        f"    if {thread} < {stride}:",
        *(f"        {shared}[{k}, {thread}] += {shared}[{k}, {thread} + {stride}]" for k in range(len(sums))),
        "    cuda.syncthreads()",
        f"    {stride} //= 2",
        f"if {thread} == 0:",
        *(f"    cuda.atomic.add({array}, {index if len(index) > 1 else index[0]}, {shared}[{k}, 0])"
          for k, ((array, index), _) in enumerate(sums)),
    ]
    return statements_of("\n".join(lines) + "\n")
