"""A float64 central difference, the oracle the pass tests use (independent of srcad)."""


def central_difference(function, args, index, relative_step=1e-6):
    h = relative_step * max(1.0, abs(args[index]))
    plus, minus = list(args), list(args)
    plus[index] += h
    minus[index] -= h
    return (function(*plus) - function(*minus)) / (2 * h)
