"""A kernel's thread function (its normal form, or its adjoint) made into a ``cuda.jit`` kernel.

The thread's body is inlined under ``tid = cuda.grid(1)`` and ``if tid < threads:``, so the kernel
compiles to PTX without a GPU (``cuda.compile_ptx``: no device function to look up) and runs in
numba's simulator (``NUMBA_ENABLE_CUDASIM=1``). Element additions that several threads may make to
one element become ``cuda.atomic.add``; NumPy's elementwise functions of a number become ``math``'s,
and so do the CPU's vectorizable spellings a derivative inlined into the kernel may bring
(``simd_exp`` is ``math.exp``, ``sum_in_any_order(s, e)`` is ``s + e``, ``scalar_where(c, a, b)`` is
``a if c else b``: srcad.kernels.vectorizable compiles for the CPU only).
Device code cannot allocate, so a kernel whose adjoint needs a tape (values a loop overwrites) is
refused, at the statement doing it.
"""

import libcst as cst

from .. import rules
from ..ir.precedence import spelled
from . import atomic_partials


class NotOnCuda(Exception):
    """What a CUDA kernel cannot do, and the normal-form statement doing it."""

    def __init__(self, why, statement):
        super().__init__(why)
        self.why, self.statement = why, statement


def kernel_definition(thread, name, atomic_arrays, math_names, capacity, dimensions=1, block_size=256):
    """``def name(threads, [overflow,] *the thread's parameters but its index):`` running
    ``thread``'s body (a normal-form FunctionDef whose first parameter is the thread index, ending in
    a return) for ``tid < threads``. ``atomic_arrays``: arrays whose element additions become atomic;
    ``math_names``: NumPy function -> its ``math`` twin. The tape's stacks become per-thread local
    arrays of ``capacity`` values; a thread that would overflow them sets ``overflow[0]`` and stops
    (only such kernels take the ``overflow`` flag). Atomic additions are summed per thread first
    (``atomic_partials``), for blocks of ``block_size``. Returns the definition and whether it has such
    stacks (the launch reads the flag back only then)."""
    params = [p.name.value for p in thread.params.params]
    threads, arguments = params[:dimensions], params[dimensions:]
    body = list(thread.body.body)[:-1]  # the final return: a kernel returns nothing
    rewrite = _DeviceCode(set(atomic_arrays), math_names, int(capacity))
    statements = [statement.visit(rewrite) for statement in body]
    start, statements, end, after = atomic_partials.with_partial_sums(
        statements, atomic_arrays, threads, block_size, rewrite.has_stacks,
        parameters=params + ["threads", "overflow"] + [f"size_{k}" for k in range(1, dimensions)],
    )
    number = threads[0] if dimensions == 1 else "thread_number"
    indices, rest = [], number  # the thread's indices from its number, in C order
    for k in range(dimensions - 1, 0, -1):
        indices += [cst.parse_statement(f"{threads[k]} = {rest} % size_{k}"),
                    cst.parse_statement(f"rest_{k} = {rest} // size_{k}")]
        rest = f"rest_{k}"
    if dimensions > 1:
        indices.append(cst.parse_statement(f"{threads[0]} = {rest}"))
    inner = cst.IndentedBlock(indices + statements + end or [cst.SimpleStatementLine([cst.Pass()])])
    guarded = cst.If(test=cst.parse_expression(f"{number} < threads"), body=inner)
    sizes = [f"size_{k}" for k in range(1, dimensions)]
    flag = ["overflow"] if rewrite.has_stacks else []  # kernels without stacks take no flag
    definition = cst.FunctionDef(
        name=cst.Name(name),
        params=cst.Parameters([cst.Param(cst.Name(p)) for p in ["threads"] + flag + sizes + arguments]),
        body=cst.IndentedBlock([cst.parse_statement(f"{number} = cuda.grid(1)"), *start, guarded, *after]),
    )
    return definition, rewrite.has_stacks


_STACKS = {"new_float_stack": "numba.float64", "new_int_stack": "numba.int64"}


class _DeviceCode(cst.CSTTransformer):
    def __init__(self, atomic_arrays, math_names, capacity):
        self.atomic_arrays = atomic_arrays
        self.math_names = math_names
        self.capacity = capacity
        self.statement = None
        self.has_stacks = False

    def visit_SimpleStatementLine(self, node):
        self.statement = node

    def leave_SimpleStatementLine(self, original, updated):
        small = original.body[0]
        call = small.value if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call) else None
        function = spelled(call.func) if call is not None else None
        if function in _STACKS:  # tape = new_float_stack(): a stack in the thread's local memory
            local = cst.parse_expression(f"cuda.local.array({self.capacity}, {_STACKS[function]})")
            return original.with_changes(body=[small.with_changes(value=local)])
        if function == "reserve":  # room for the pushes that follow, or stop with the overflow flag set
            self.has_stacks = True
            needed = spelled(call.args[1].value)
            check = cst.parse_statement(f"if {needed} > {self.capacity}:\n    overflow[0] = 1\n    return\n")
            return check.with_changes(leading_lines=original.leading_lines)
        small = updated.body[0]
        if (
            isinstance(small, cst.AugAssign)
            and isinstance(small.target, cst.Subscript)
            and isinstance(small.target.value, cst.Name)
            and small.target.value.value in self.atomic_arrays
            and isinstance(small.operator, (cst.AddAssign, cst.SubtractAssign))
        ):
            indices = [e.slice.value for e in small.target.slice]
            index = indices[0] if len(indices) == 1 else cst.Tuple([cst.Element(i) for i in indices])
            value = small.value
            if isinstance(small.operator, cst.SubtractAssign):
                value = cst.UnaryOperation(cst.Minus(), value)
            call = cst.Call(
                cst.parse_expression("cuda.atomic.add"),
                [cst.Arg(small.target.value), cst.Arg(index), cst.Arg(value)],
            )
            return updated.with_changes(body=[cst.Expr(call)])
        return updated

    def leave_Call(self, original, updated):
        called = spelled(updated.func)
        arguments = [argument.value for argument in updated.args]
        if called == "scalar_where":
            return cst.IfExp(test=arguments[0], body=arguments[1], orelse=arguments[2])
        if rules.VECTORIZABLE_TWINS.get(called) == "+":
            return cst.BinaryOperation(arguments[0], cst.Add(), arguments[1])
        twin = self.math_names.get(called, rules.VECTORIZABLE_TWINS.get(called))
        if twin is not None and twin not in ("**", "abs", "max", "min"):
            return updated.with_changes(func=cst.parse_expression(twin))
        if twin in ("abs", "max", "min"):
            return updated.with_changes(func=cst.Name(twin))
        if called in _STACKS or called == "reserve":  # rewritten with their statement
            return updated
        if called == "integer_power":  # device code cannot raise: numba's integer power, as the user wrote it
            return cst.BinaryOperation(updated.args[0].value, cst.Power(), updated.args[1].value)
        if called.startswith(("np.", "empty_list_like")) or called.endswith((".append", ".pop", ".copy")):
            raise NotOnCuda(
                f"a CUDA kernel cannot call {called} (device code cannot allocate arrays or grow a tape)",
                self.statement,
            )
        return updated


