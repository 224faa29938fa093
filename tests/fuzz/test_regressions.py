"""Minimal programs the random-program fuzzer found srcad getting wrong.

Each is a real module-level function (srcad reads its source from this file),
checked against Richardson central differences of the plain function
(`oracle.py`), and value_and_grad's value against the plain value. These fail
until srcad is fixed.
"""

import math

import pytest

import srcad

from . import oracle


# --- bug 1: literal True/False conditions in nested if/else with an early return.
# numba prunes the constant branches of the generated adjoint and then refuses
# it ("Unsupported assignment encountered: ir.UndefinedType"); srcad reports
# "srcad generated code numba could not compile (a bug in srcad ...)".
def literal_conditions_nested_return(x):
    if True:
        if False:
            return x
    else:
        if True:
            x = 3.0 * x
    return x


# --- bug 2: an int local initialised from a module-level int constant, then
# reassigned. srcad's type analysis sees m as Literal[int](3) and refuses:
# "numba cannot compile this: No conversion from int64 to Literal[int](3) for 'm'".
# (numba.njit compiles the same function fine; `m = 3` or `m = n` work.)
COUNT = 3


def int_local_from_module_constant(x):
    m = COUNT
    if x > 0.0:
        m = m + 1
    return x * m


# --- bug 3: a nested condition that is constant after folding (r == 1 with
# r = 0) guarding an early return, and dead code after the final return.
# Same symptom as bug 1: "srcad generated code numba could not compile"
# (numba: "Unsupported assignment encountered: ir.UndefinedType").
# Without the dead `x = 2.0` line it works.
def constant_nested_condition_dead_code(x, n):
    r = 0
    if n > 1:
        if r == 1:
            return x
    return 2.0 * x
    x = 2.0


# --- bug 4: overwriting a variable with tanh/exp/sqrt of an expression of
# itself: RecursionError in ReverseMode.recompute (transforms/reverse/adjoint.py),
# found at commit dcf0499. (x = math.sin(x + x) and x = math.tanh(x * x) work.)
def overwrite_with_tanh_of_itself(x):
    x = math.tanh(2.0 * x)
    return x


def overwrite_with_exp_of_sum(x):
    x = math.exp(x + x)
    return x


# --- bug 5: an early return in a loop, guarded by a condition on an int local
# that is constant (m = 3; m < 2), with the returned variable overwritten in
# the loop: "srcad generated code numba could not compile" (numba: "Type of
# variable 'result.3' cannot be determined"). With `n` an argument instead of
# the constant it works. Probably the same root as bugs 1 and 3: numba folds
# branches of the generated adjoint whose conditions it can prove constant.
def constant_guarded_return_in_loop(x):
    m = 3
    for p in range(2):
        if m < 2:
            return x
        x = 0.5 * x
    return x


# --- bug 6: an early return under a test numba folds to constant-false left the single exit's
# result variable without any definition numba could see.
LIMIT = 3


def constant_false_early_return(x):
    r = LIMIT
    if r > 3:
        for p in range(2):
            return x * 2.0
    return x * x


# --- bug 7 (a wrong gradient): a differentiated parameter read once after being overwritten by a
# value that does not depend on it. Its adjoint was taken for a single-use temporary's, written
# `x_adj = ...` and never reset by the overwrite, so d/dx came out nonzero.
def parameter_overwritten_by_constant(n, x):
    b = math.sqrt(2.0 + math.cos(0.1 * n * x))
    x = 0.9 * math.tanh(float(n))
    return math.erf(math.tanh(x))


# --- bug 8 (a wrong gradient, found by the array fuzzer): nested loops sharing an index name
# (`for _ in ...` inside `for _ in ...`) shared one trip counter, so the outer loop's count was
# wrong and the reverse sweep replayed the wrong number of iterations.
def nested_loops_sharing_an_index(x, n):
    s = 0.0
    for _ in range(n):
        for _ in range(2):
            s += x * x
        s = s * x
    return s


# --- bug 9 (a crash, found by the fuzzer after single_exit stopped writing `result = 0.0` first, to
# let array results through): a return under a constant test in a loop; numba prunes the constant
# branch and leaves `result` undefined on a path ("Unsupported assignment ... UndefinedType"). The
# placeholder is back, and dropped only for results numba says are arrays.
def constant_return_in_a_loop_then_more(x, z, n):
    m = 4
    a = math.exp(math.tanh(math.log(2.0 + math.sin(0.7))))
    for j in range(1, min(m, 6) + 1):
        if m > 2:
            return a * x
        x += 0.1 * math.atan(math.sin(2.0 / (2.0 + math.cos(z))))
    z *= 0.5 + 0.25 * math.tanh(x / (n**2 + 1))
    return math.erf(math.copysign(1.0, 3.0 + math.tanh(x)) * a * z)


SCALE = 0.7


def returns_a_module_constant(x):
    x = math.tanh(math.hypot(1.0, x))
    return SCALE


# --- bug 12 (hunt, 2026-12): an if inside an if whose test numba decides (m = 0, so m >= 2 is
# False), with a tuple assignment in it. The inner if's decision, kept for the reverse sweep,
# was assigned only inside the outer branch; numba pruned that branch and refused the adjoint
# ("Unsupported assignment encountered: ir.UndefinedType"). Nested decisions now start as False.
def decided_outer_branch_with_inner_if(x, y):
    m = 0
    a = x
    if m >= 2 and m != 0:
        if y > -100.0:
            a, y = y, a * 0.5 + math.cos(math.erf(a))
    return math.pow(1.5 + math.tanh(float(y) ** 3), (y if m == 0 else x) / (1.0 + float(y) ** 3 * float(y) ** 3))


# --- bug: a loop reversed only at its last iteration taking a branch (last_taken) inside an `if`
# numba decides (m = 2, if m > 3): numba pruned the branch binding the loop's last index, then could not
# type the reverse sweep's read of it ("Unsupported assignment encountered: ir.UndefinedType").
def last_taken_loop_in_a_decided_branch(x, y):
    m = 2
    a = m + 0.5
    c = 0.7 * y
    if m == 0:
        if m > 3:
            return a
    if m > 3:
        for i in range(min(m, 6), 2, -2):
            if i > 2:
                continue
            a = math.atan(x)
    return c


CASES = [
    (literal_conditions_nested_return, (0.5,), (0,)),
    (int_local_from_module_constant, (0.5,), (0,)),
    (constant_nested_condition_dead_code, (0.5, 2), (0,)),
    (overwrite_with_tanh_of_itself, (0.5,), (0,)),
    (overwrite_with_exp_of_sum, (0.5,), (0,)),
    (constant_guarded_return_in_loop, (0.5,), (0,)),
    (constant_false_early_return, (0.5,), (0,)),
    (parameter_overwritten_by_constant, (1, 0.921), (1,)),
    (nested_loops_sharing_an_index, (0.7, 3), (0,)),
    (constant_return_in_a_loop_then_more, (1.965, -0.209, 0), (0, 1)),
    (returns_a_module_constant, (0.215,), (0,)),
    (decided_outer_branch_with_inner_if, (1.808, 0.927), (0, 1)),
    (last_taken_loop_in_a_decided_branch, (-1.731, -1.509), (0, 1)),
]


def _check(f, args, wrt):
    value = f(*args)
    reference = oracle.gradient(f, args, wrt)
    got_value, got = srcad.value_and_grad(f, wrt=wrt)(*args)
    got = tuple(got)
    assert got_value == pytest.approx(value, rel=1e-12, abs=1e-12)
    for g, (fd, err) in zip(got, reference):
        assert abs(g - fd) <= 1e-6 * max(1.0, abs(fd)) + 10.0 * err, (g, fd)


@pytest.mark.parametrize("f, args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_regression(f, args, wrt):
    _check(f, args, wrt)

