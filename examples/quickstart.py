"""srcad in one page: decorate a function, differentiate it, read the generated derivative.

Run it with:  python examples/quickstart.py
"""

import math

import srcad


@srcad.differentiable
def f(x, y):
    s = 0.0
    for i in range(10):
        if x > y:
            s += math.sin(x * i) / (i + 1)
        else:
            s -= x * y
        x = 0.9 * x + 0.1 * y
    return s


print("f(1.0, 0.5)              =", f(1.0, 0.5))  # the primal, compiled by numba
print("df/dx                    =", srcad.grad(f)(1.0, 0.5))
print("(df/dx, df/dy)           =", srcad.grad(f, wrt=(0, 1))(1.0, 0.5))
print("(f, df/dy)               =", srcad.value_and_grad(f, wrt=1)(1.0, 0.5))
y, pullback = srcad.vjp(f, 1.0, 0.5)
print("pullback(1.0)            =", pullback(1.0))
print("check against central differences:", srcad.check_grad(f, 1.0, 0.5))
print()
print("The derivative srcad wrote, as Python (numba compiles it):")
print(srcad.source(f, "adjoint"))
