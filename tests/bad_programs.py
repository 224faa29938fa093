"""Functions srcad must refuse, each with the line and column of the offending code.

Each function's docstring-free body has the bad construct on the line marked
``# <- here``; tests read the expected column from the text after the marker.
"""

import math
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


def loop_over_list(x):
    s = 0.0
    for v in [1.0, 2.0]:  # <- here:[
        s += v * x
    return s


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
