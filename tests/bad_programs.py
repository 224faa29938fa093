"""The refusal catalogue: programs srcad must refuse, and awkward programs it must take.

Each refused function has the offending code on the line marked ``# <- here:`` followed by the
text the error's column must point at (tests read line and column from the marker). Code srcad
cannot differentiate is refused when the gradient is made (``REFUSED_AT_GRAD``), or, where it
depends on the argument types, at the first call, before anything runs (``REFUSED_AT_CALL``:
tests/refusals/test_bad_inputs.py). The rest are mistakes in calls and awkward but valid input (NaN,
infinities, very deep or very long functions, kernels) used by tests/refusals/test_bad_inputs.py.
"""

import functools
import inspect
import math
import operator
import re

import numba
import numpy as np

import srcad


LIMIT = "a string"


def uses_try(x):
    try:  # <- here:try
        y = x * 2.0
    except ValueError:
        y = 0.0
    return y


def uses_with(x):
    with open("f") as handle:  # <- here:with
        y = x
    return y


def uses_lambda(x):
    square = lambda t: t * t  # <- here:lambda
    return square(x)


def uses_yield(x):
    yield x * 2.0  # <- here:yield


def writes_global(x):
    global LIMIT  # <- here:global
    LIMIT = x
    return x


def calls_gamma(x):
    return math.gamma(x) * 2.0  # <- here:math.gamma


_NO_SOURCE = {}
exec("def helper(x):\n    return x * x\n", _NO_SOURCE)  # a function without a file: srcad cannot read it
helper = _NO_SOURCE["helper"]


def calls_helper(x):
    return helper(x) + 1.0  # <- here:helper


def recursive(x, n):
    if n == 0:
        return x
    return recursive(x * 0.5, n - 1)  # <- here:recursive


def string_value(x):
    s = "abc"  # <- here:"abc"
    return x


def dict_value(x):
    d = {"a": x}  # <- here:{
    return x


def set_value(x):
    d = {x, 2.0}  # <- here:{
    return x


def prints(x):
    print(x)  # <- here:print
    return x


def boolean_mask_made_with_and(x, a):
    return x * np.sum(a[a > 0.0 and a < 1.0])  # <- here:a > 0.0 and a < 1.0


def array_method(x, a):
    return x * a.cumprod()[0]  # <- here:a.cumprod()


def star_args(*xs):  # <- here:*xs
    return xs[0]


def loop_over_tuple(x):  # (a literal list of numbers is read as an array: tests/frontend/test_loops_over_items.py)
    s = 0.0
    for v in (1.0, 2.0):  # <- here:1.0, 2.0)
        s += v * x
    return s


def axes_counted_both_ways(A):
    return np.sum(np.mean(A, axis=(0, -1)))  # <- here:0, -1)


def uses_global_string(x):
    return x * LIMIT  # <- here:LIMIT


def undefined_name(x):
    return x * not_defined_anywhere  # <- here:not_defined_anywhere


def nested_def(x):
    def inner(t):  # <- here:def
        return t
    return inner(x)


def returns_nothing(x):
    y = x * 2.0
    return  # <- here:return


def uses_walrus(x):
    if (y := x * 2.0) > 1.0:  # <- here:y :=
        return y
    return x


def uses_assert(x):
    assert x > 0  # <- here:assert
    return x


async def asynchronous(x):  # <- here:async
    return x * 2.0


def view_in_a_while_test(x):
    s = 0.0
    while np.max(x.ravel()) > s:  # <- here:x.ravel()
        s = s + 1.0
    return s * x[0]


def gamma_in_a_one_line_body(x): return math.gamma(x)  # <- here:math.gamma


def global_in_a_one_line_branch(x):
    if x > 0.0: global GLOBAL_STATE  # <- here:global
    return x


# -- more refusals, mistakes in calls, and awkward input ----------------------------------------

def defines_a_class(x):
    class Box:  # <- here:class
        pass
    return x


def writes_nonlocal(x):
    total = 0.0

    def add(v):  # <- here:def
        nonlocal total
        total += v
    add(x)
    return total


def keyword_arguments(x, **options):  # <- here:**options
    return x


def deletes(x):
    y = x * 2.0
    del y  # <- here:del
    return x


def generator_expression(x):
    return max(x * k for k in range(3))  # <- here:x * k for k in range(3)


def list_comprehension(x):
    values = [x * k for k in range(3)]  # <- here:[
    return values[0]


def yields_from(x):
    yield from range(3)  # <- here:yield from


def matches(x):
    match x:  # <- here:match
        case 0.0:
            return 1.0
    return x


def formats(x):
    label = f"{x}"  # <- here:f"{x}"
    return x


def imports_inside(x):
    import cmath  # <- here:import
    return x


def complex_literal(x):
    return (x + 1j).real  # <- here:1j


def fourier(x):
    return np.sum(np.abs(np.fft.fft(x)))  # <- here:np.fft.fft


def eigenvalues(a):
    return np.sum(np.linalg.eigvalsh(a))  # <- here:np.linalg.eigvalsh


def partitions(x):
    return np.sum(np.partition(x, 1) * np.arange(x.shape[0]))  # <- here:np.partition


def median(x):
    return np.median(x)  # <- here:np.median


def lambda_argument(x):
    return max(x, 1.0, key=lambda t: -t)  # <- here:key=


def calls_a_method_of_an_object(x):
    return x.conjugate()  # <- here:x.conjugate()


def try_finally(x):
    try:  # <- here:try
        y = x * 2.0
    finally:
        y = 0.0
    return y


def with_in_a_loop(x):
    for k in range(2):
        with open("f") as handle:  # <- here:with
            x = x * 2.0
    return x


def raises(x):
    if x > 1e300:
        raise ValueError("too big")  # <- here:raise
    return x * 2.0


_NAMESPACE = {}
exec("def made_by_exec(x):\n    return x * x\n", _NAMESPACE)
made_by_exec = _NAMESPACE["made_by_exec"]


def writes_in_place(a, b):
    for i in range(a.shape[0]):
        a[i] += 2.0 * b[i]
    return np.sum(a * a)


def first_of_many(x):
    return x * 2.0, x * 3.0


def squares(x):
    return x * x


def elementwise(x):
    return x * x


def returns_a_value(x, y):  # a kernel
    i = srcad.tid()
    y[i] = x[i]
    return y[i]  # <- here:return


def reads_a_neighbour_it_writes(x):  # a kernel
    i = srcad.tid()
    x[i] = x[i + 1] * 0.5  # <- here:x[i] = x[i + 1] * 0.5


@srcad.kernel
def copies(x, y):
    i = srcad.tid()
    y[i] = 2.0 * x[i]


def deep_nesting_source(depth):
    """A function of ``depth`` nested ifs around one update (every test true for x > 0)."""
    lines = ["def deep(x):", "    y = x"]
    for level in range(depth):
        lines.append("    " * (level + 1) + f"if x > -{level + 1}.0:")
    lines.append("    " * (depth + 1) + "y = y * 1.01 + math.sin(x)")
    lines.append("    return y")
    return "import math\n\n\n" + "\n".join(lines) + "\n"


def long_function_source(statements):
    lines = ["def long(x):", "    y = x"]
    lines += [f"    y = y + 0.001 * math.sin(y + {k % 7}.0)" for k in range(statements)]
    lines.append("    return y")
    return "import math\n\n\n" + "\n".join(lines) + "\n"


def deep_expression_source(depth):
    return "def nested(x):\n    return " + "(" * depth + "x" + " * 1.001 + 0.5)" * depth + "\n"


def math_function_at(x):
    return math.log(x) + math.sqrt(x)


# --- more of the catalogue: syntax refused where srcad reads the function ---

WEIGHTS = [1.0, 2.0]
PARAMS = {"k": 2.0}
TABLE = np.array([1.0, 2.0])


def keyword_only(x, *, scale):  # <- here:scale
    return x * scale


def dict_comprehension(x):
    d = {k: x * k for k in range(3)}  # <- here:{
    return x


def set_comprehension(x):
    s = {x * k for k in range(3)}  # <- here:{
    return x


def loop_with_else(x):
    for k in range(3):
        x = x * 2.0
    else:  # <- here:else
        x = x + 1.0
    return x


def starred_assignment(x):
    a, *rest = (x, x, x)  # <- here:a, *rest
    return a


def assigns_an_attribute(x, m):
    m.k = x  # <- here:m.k
    return x


def loops_over_a_string(values):
    s = 0.0
    for v in "abc":  # <- here:"abc"
        s += values[0] * len(v)
    return s


def spring_energy_of(x):
    return np.sum((x[1:] - x[:-1]) ** 2)


def newton_steps_with_srcad_hessian_in_a_simulation(x0):
    x = x0.copy()
    for _ in range(3):
        x = x - 0.1 * srcad.hessian(spring_energy_of)(x) @ x  # <- here:srcad.hessian(spring_energy_of)(x)
    return np.sum(x * x)


def calls_complex(x):
    z = complex(x, 1.0)  # <- here:complex
    return z.real


def converts_to_string(x):
    s = str(x)  # <- here:str
    return x


def mutually_recursive(x, n):
    if n == 0:
        return x
    return mutually_recursive_too(x, n - 1)  # <- here:mutually_recursive_too


def mutually_recursive_too(x, n):
    return mutually_recursive(x * 0.5, n)


class Model:
    def __init__(self, k):
        self.k = k

    def energy(self, x):
        return self.k * x * x


def calls_a_method_of_an_argument(x, m):
    return m.energy(x)  # <- here:m.energy(x)


def reads_a_global_list_through_a_local(x):
    w = WEIGHTS  # <- here:WEIGHTS
    return x * w[1]


def sums_a_global_array(x):
    return x * np.sum(TABLE)  # <- here:TABLE


def unique(x):
    return np.sum(np.unique(x))  # <- here:np.unique


def writes_through_a_mask_made_with_and(x):
    y = x.copy()
    y[y < 0.0 and y > -1.0] = 0.0  # <- here:y < 0.0 and y > -1.0
    return np.sum(y * y)


def indexes_a_global_list(x):
    return x * WEIGHTS[1]  # <- here:WEIGHTS


def indexes_a_global_dict(x):
    return x * PARAMS["k"]  # <- here:PARAMS


def calls_operator_mul(x):
    return operator.mul(x, x)  # <- here:operator.mul


# --- refused (or not) once the argument types are known ---


def pseudo_inverse(a):
    return np.sum(np.linalg.pinv(a))  # <- here:np.linalg.pinv


def sorted_by_rank(x):
    return np.sum(x[np.argsort(x)] * np.arange(x.shape[0]))


def updates_with_matmul(a, b):
    a @= b  # <- here:a @= b
    return np.sum(a)


def shape_of_a_float(x):
    n = x.shape[0]  # <- here:n = x.shape
    return x * n


def reshapes_a_column(y):
    column = y[:, 0]
    return np.sum(np.sin(column.reshape(2, 1)))  # <- here:return


@numba.njit
def jitted_square(x):
    return x * x


def calls_a_jitted_function(x):
    return jitted_square(x) + 1.0  # <- here:jitted_square


# --- mistakes in calls ---


def product(x, y):
    return x * y


def scaled_if(x, flag):
    if flag:
        return x * 2.0
    return x


def returns_a_comparison(x):
    return x > 0.0


def power(x, y):
    return x**y


square_by_partial = functools.partial(power, y=2.0)


def uses_a_model(x, m):
    return x * m.k


def total(x):
    return np.sum(x * x)


def writes_the_second(a, b):
    b += a
    return np.sum(b * b)


def writes_a_column(a, b):
    for i in range(a.shape[0]):
        a[i, 0] += b[0, i]
    return np.sum(a * a)


def writes_and_returns(a, b):
    for i in range(a.shape[0]):
        a[i] += 2.0 * b[0]
    return a * a


# --- NaN and infinities ---


def log_of(x):
    return math.log(x)


def reciprocal(x):
    return 1.0 / x


def exp_of(x):
    return math.exp(x)


def halves_while_above_one(x):
    while x > 1.0:
        x = x / 2.0
    return x


def quartic(x):
    return np.sum(x**4)


def largest(x):
    return np.max(x)


def smallest(x):
    return np.min(x)


def sum_of_row_maxima(a):
    return np.sum(np.max(a, axis=1))


def larger(x, y):
    return max(x, y)


def smaller(x, y):
    return min(x, y)


def elementwise_larger(x, y):
    return np.sum(np.maximum(x, y))


def elementwise_smaller(x, y):
    return np.sum(np.minimum(x, y))


def scalar_larger(x, y):
    return np.maximum(x, y)


def sum_of_column_minima(a):
    return np.sum(np.min(a, axis=0, keepdims=True))


# --- kernels ---


def reads_the_first_element_it_writes(x):  # a kernel
    i = srcad.tid()
    x[i] = x[0] * 2.0  # <- here:x[i] = x[0] * 2.0


def reads_a_neighbour_through_a_rebound_copy_of_its_index(x):  # a kernel
    i = srcad.tid()
    j = i
    if i > 0:
        j = i - 1  # j is not the thread's own index after all
    x[i] = 2.0 * x[j]  # <- here:x[i] = 2.0 * x[j]


def calls_gamma_in_a_kernel(x, y):  # a kernel
    i = srcad.tid()
    y[i] = math.gamma(x[i])  # <- here:math.gamma


def every_thread_writes_one_element(x, y):  # a kernel
    i = srcad.tid()
    y[0] = x[i]  # <- here:y[0] = x[i]


@srcad.kernel
def copies_the_positive(x, y):
    i = srcad.tid()
    if x[i] < 0.0:
        return
    y[i] = 3.0 * x[i]


@srcad.kernel
def sum_of_squares(x, loss):
    i = srcad.tid()
    srcad.atomic_add(loss, 0, x[i] * x[i])


@srcad.kernel
def doubles_a_grid(u, v):
    i, j = srcad.tid()
    v[i, j] = 2.0 * u[i, j]


# --- very deep and very long ---


def long_sum_source(terms):
    """``x + x * 0.0 + x * 1.0 + ...``: one expression ``terms`` operations deep."""
    return "def long_sum(x):\n    return x" + "".join(f" + x * {k}.0" for k in range(terms)) + "\n"


def negations_source(depth):
    """``- - - ... x * x``: ``depth`` nested unary minuses (even: the function is x * x)."""
    return "def negated(x):\n    return " + "-" * depth + "x * x\n"


def helper_chain_source(depth):
    """h0 calls h1 calls ... h{depth-1} = sin: h0(x) = 1.01 ** (depth - 1) * sin(x)."""
    source = "import math\n\n"
    for k in range(depth - 1):
        source += f"\ndef h{k}(x):\n    return h{k + 1}(x) * 1.01\n\n"
    return source + f"\ndef h{depth - 1}(x):\n    return math.sin(x)\n"


def many_arguments_source(count):
    parameters = ", ".join(f"x{k}" for k in range(count))
    return f"def many({parameters}):\n    return " + " + ".join(f"x{k} * x{k}" for k in range(count)) + "\n"


def nested_loops_source(depth):
    """``depth`` nested one-trip loops around one update (Python allows 20 nested blocks)."""
    lines = ["def loops(x):", "    y = x"]
    for level in range(depth):
        lines.append("    " * (level + 1) + f"for i{level} in range(1):")
    lines.append("    " * (depth + 1) + "y = y * 1.01 + math.sin(y)")
    lines.append("    return y")
    return "import math\n\n\n" + "\n".join(lines) + "\n"


def every_thread_writes_one_element_in_a_loop(x, y):  # a kernel
    i = srcad.tid()
    s = 0.0
    for t in range(2):
        s = s + x[i] * t
    for t in range(2):
        y[t] = s  # <- here:y[t] = s


def threads_write_their_own_or_agreed_elements(x, y, flag, first):  # a kernel: no race
    i = srcad.tid()
    n = len(x)
    y[n - 1 - i] = x[i] * x[i]  # each thread its own element, reversed
    flag[0] = 2.0  # every thread writes one value
    if i == 0:
        first[0] = x[0] * 3.0  # one thread writes


# --- more of what users write (refused at the line, with what to do) ---
def sorts_in_place(x):
    x.sort()  # <- here:x.sort()
    return np.sum(x * np.arange(x.shape[0]))


def draws_random_numbers(x):
    return x * np.random.rand()  # <- here:np.random.rand()


def takes_an_item(x):
    return x[0].item() * 2.0  # <- here:x[0].item()


def makes_an_array_of_arrays(x):
    return np.sum(np.array([x, x * 2.0]))  # <- here:return


def adds_at(x):
    F = np.zeros(3)
    idx = np.array([0, 1, 1])
    np.add.at(F, idx, x)  # <- here:np.add.at
    return np.sum(F ** 2)


def indexes_with_a_list(x):
    y = x * 2.0
    return np.sum(y[[1, 0]])  # <- here:[1, 0]


def swaps_buffers(u0):
    cur = u0.copy()
    nxt = np.zeros(u0.shape[0])
    for t in range(3):
        for i in range(u0.shape[0]):
            nxt[i] = cur[i] + 0.1 * cur[i - 1]
        cur, nxt = nxt, cur  # <- here:cur, nxt
    return np.sum(cur ** 2)


def reads_a_dict_argument(x, params):
    return x * params["k"]  # <- here:params["k"]


# Refused when the gradient is made (srcad.grad(f), @srcad.differentiable), before any call.
REFUSED_AT_GRAD = [
    uses_try,
    uses_with,
    uses_lambda,
    uses_yield,
    writes_global,
    calls_gamma,
    calls_helper,
    recursive,
    string_value,
    dict_value,
    set_value,
    prints,
    boolean_mask_made_with_and,
    array_method,
    star_args,
    loop_over_tuple,
    uses_global_string,
    undefined_name,
    nested_def,
    returns_nothing,
    uses_walrus,
    uses_assert,
    asynchronous,
    view_in_a_while_test,
    gamma_in_a_one_line_body,
    global_in_a_one_line_branch,
    defines_a_class,
    writes_nonlocal,
    keyword_arguments,
    deletes,
    generator_expression,
    list_comprehension,
    yields_from,
    matches,
    formats,
    imports_inside,
    complex_literal,
    lambda_argument,
    try_finally,
    with_in_a_loop,
    keyword_only,
    dict_comprehension,
    set_comprehension,
    loop_with_else,
    starred_assignment,
    assigns_an_attribute,
    loops_over_a_string,
    newton_steps_with_srcad_hessian_in_a_simulation,
    calls_complex,
    converts_to_string,
    mutually_recursive,
    calls_a_method_of_an_argument,
    reads_a_global_list_through_a_local,
    unique,
    writes_through_a_mask_made_with_and,
    axes_counted_both_ways,
]

# Refused once the argument types are known, at the first call, before anything runs.
REFUSED_AT_CALL = [
    (fourier, (np.ones(4),)),
    (eigenvalues, (np.eye(2),)),
    (partitions, (np.ones(3),)),
    (median, (np.ones(3),)),
    (calls_a_method_of_an_object, (2.0,)),
]


# What no message srcad gives may show: the insides of libcst and numba.
TRACEBACK_WORDS = ("libcst", "numba", "Traceback", "TypingError", "ParserSyntaxError")


def expected_position(function):
    """Line and 1-based column of the text after ``# <- here:`` on the marked line of ``function``."""
    lines, first = inspect.getsourcelines(function)
    for offset, line in enumerate(lines):
        match = re.search(r"# <- here:(.*)$", line)
        if match:
            column = line.index(match.group(1).strip()) + 1
            return first + offset, column
    raise AssertionError(f"{function.__name__} has no marker")
