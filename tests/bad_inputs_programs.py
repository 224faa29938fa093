"""More functions srcad must refuse (see bad_programs.py for the first set), each with the
offending code on the line marked ``# <- here:`` and the text the column must point at."""

import math

import numpy as np

import srcad


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
    return sum(x * k for k in range(3))  # <- here:x * k for k in range(3)


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


def inverse(a):
    return np.sum(np.linalg.inv(a))  # <- here:np.linalg.inv


def sorts(x):
    return np.sum(np.sort(x) * np.arange(x.shape[0]))  # <- here:np.sort


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
