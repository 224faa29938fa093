"""GradBench's ``hello`` eval: ``square(x) = x * x`` and ``double``, its derivative."""

import srcad


@srcad.differentiable
def square(x):
    return x * x


double = srcad.grad(square)


def prepare(input):
    return (float(input),)


def compile():
    square(1.0)
    double(1.0)


FUNCTIONS = {"square": (square, float), "double": (double, float)}
