"""The scalar-language corpus: plain numeric Python, written as users write it.

These functions are deliberately *not* decorated: srcad must read them with
`inspect.getsource`, and the tests also call them as ordinary Python to get
the oracle's values. `PROGRAMS` lists each one with the input domain of every
argument and the float arguments to differentiate.

A domain is `(low, high)` for a float argument or `"int:low:high"` (inclusive)
for an int argument. Domains keep every input away from branch boundaries,
ties of min/max/abs and singularities by a margin far larger than the
finite-difference step, so central differences are a valid oracle anywhere in
the domain. Branches are mostly chosen by int arguments; where a float picks
the branch, either the margin is wide or the function is smooth across the
boundary (stable softplus, Newton iterations that converge either way).
"""

import math
from math import exp, sin
from math import sqrt as root
from typing import Callable, NamedTuple

import srcad

GRAVITY = 9.81
DRAG_COEFFICIENT = 0.1
TIME_STEP = 0.01
N_STEPS = 200


# --- arithmetic ------------------------------------------------------------


def cubic_polynomial(x):
    return 3.0 * x ** 3 - 2.0 * x ** 2 + x - 7.0


def rational_function(x, y):
    numerator = x * y + 1.0
    denominator = x * x + y * y + 1.0
    return numerator / denominator


def fractional_and_negative_powers(x):
    return x ** 2.5 + x ** -1.5 + 3.0 * x ** -2 - x ** 0.5


def power_with_active_exponent(x, y):
    return x ** y + y ** 2 * x


def integer_exponents(x, n):
    total = x ** n
    total = total + x ** (n - 3)  # a negative exponent when n < 3
    total = total + 2.0 ** n * x
    return total


def unary_minus(x, y):
    a = -x
    b = -(y - x) * a
    return -a * -b + -(-y) - (-x) ** 3


def floor_division_and_modulo(x, y):
    quotient = x // y  # 2.0 everywhere in the domain
    remainder = x % y
    return quotient * x + remainder * remainder + remainder * y


def integer_arithmetic(x, n, m):
    quotient = n // m
    remainder = n % m
    square = n ** 2
    negated = -n
    count = quotient * m + remainder - negated - square
    return x * count + x * x * (quotient - remainder + 1)


# --- conditions ------------------------------------------------------------


def piecewise_branches(x, k):
    t = x + k  # lies in (0.1, 0.9), (1.1, 1.9) or (2.1, 2.9)
    if t < 1.0:
        y = t * t
    elif t < 2.0:
        y = math.sin(t) + t
    else:
        y = math.exp(-t) * 10.0
    return y * x


def boolean_conditions(x, y, k):
    result = x * y
    if k > 1 and k != 3:
        result = result + x
    if x < y or k == 0:
        result = result * y
    if not (x > y):
        result = result - y * y
    if not k == 1 and (y > 0.5 or x > 10.0):
        result = result / (1.0 + x * x)
    else:
        pass
    return result


def chained_comparison(x, k):
    if 0 <= k < 2:
        y = x * x
    elif 2 <= k <= 3 and x < 5.0:
        y = math.sin(x)
    else:
        y = x
    return y + k * x


def conditional_expressions(x, k):
    a = x * x if k % 2 == 0 else math.sin(x)
    b = a + 1.0 if k > 1 else 3.0 * a
    c = math.sqrt(a) if a > 0.0 else 0.0
    return b * c + (x if k >= 2 else -x)


def stable_softplus(x):
    """log(1 + exp(x)) without overflow; smooth across the branch at 0."""
    if x > 0.0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))


def stable_sigmoid_times(x, y):
    if x >= 0:
        s = 1.0 / (1.0 + math.exp(-x))
    else:
        e = math.exp(x)
        s = e / (1.0 + e)
    return s * y


# --- loops -----------------------------------------------------------------


def exp_taylor_series(x, n):
    total = 1.0
    term = 1.0
    for i in range(n):
        term *= x / (i + 1)
        total += term
    return total


def cosine_sum_start_stop(x, start, stop):
    total = 0.0
    for i in range(start, stop):
        total += math.cos(i * x) / (i + 1)
    return total + x


def horner_negative_step(x, n):
    """sum_{i=1..n} x**i / i by Horner's rule, highest power first."""
    acc = 0.0
    for i in range(n, 0, -1):
        acc = acc * x + 1.0 / i
    acc = acc * x
    for j in range(10, -3, -4):  # 10, 6, 2, -2
        acc += x * j * 0.01
    return acc


def geometric_series_while(x, n):
    total = 0.0
    term = 1.0
    i = 0
    while i < n:
        total += term
        term *= x
        i += 1
    return total + term


def newton_square_root(a):
    """sqrt(a) by Newton's method, iterating until the residual is tiny."""
    # The first guess is never the root itself: with zero iterations the
    # derivative of the executed program would be that of the guess.
    x = a + 1.0 if a > 1.0 else 1.5
    iterations = 0
    while abs(x * x - a) > 1e-13 * a and iterations < 100:
        x = 0.5 * (x + a / x)
        iterations += 1
    return x


def kepler_eccentric_anomaly(mean_anomaly, eccentricity):
    """Solve E - e sin(E) = M for E by Newton's method."""
    E = mean_anomaly
    delta = 1.0
    iterations = 0
    while abs(delta) > 1e-14 and iterations < 50:
        delta = (E - eccentricity * math.sin(E) - mean_anomaly) / (
            1.0 - eccentricity * math.cos(E)
        )
        E -= delta
        iterations += 1
    return E


def cubic_root_newton_early_return(c):
    """Solve x**3 + x = c; return from inside the loop once converged."""
    x = c / 2.0
    count = 0
    while True:
        step = (x ** 3 + x - c) / (3.0 * x * x + 1.0)
        x -= step
        count += 1
        if abs(step) < 1e-14 * (1.0 + abs(x)):
            return x
        if count >= 100:
            break
    return x


def partial_sums_with_break(x, n):
    total = 0.0
    for i in range(100):
        if i >= n:
            break
        total += x ** i / (i + 1.0)
    # A data-dependent exit: the level passes 10.5 on the eleventh step for
    # every x in the domain, with a wide margin.
    level = 0.0
    for step in range(50):
        level += 1.0 + 0.01 * x * x
        if level > 10.5:
            break
    return total + level * x


def skip_terms_with_continue(x, n):
    total = 0.0
    for i in range(n):
        if i % 2 == 1:
            continue
        total += math.sin(x * (i + 1))
        if i % 3 == 0:
            continue
        total *= 1.0 + 0.1 * x
    return total + 0.5 * x


def while_with_continue(x, n):
    i = 0
    acc = x
    while i < n:
        i += 1
        if i % 3 == 0:
            continue
        acc = acc * 0.9 + math.cos(acc) * x
    return acc


def early_return_in_loop(x, n):
    acc = 1.0
    for i in range(n):
        acc = acc * x + math.cos(acc)
        if i == 3:
            return acc * acc
    return acc + x


def early_return_in_branches(x, y, mode):
    if mode == 0:
        return x * y
    elif mode == 1:
        if x > y:  # always true on the domain
            return math.log(x - y)
        return 0.0
    z = x / y
    if mode == 2:
        return z * z
    return math.exp(-z) + y


def triangular_double_loop(x, y, n):
    total = 0.0
    for i in range(n):
        row = 0.0
        for j in range(i + 1):
            row += x ** j * y / (j + 1.0)
        total += row * math.cos(i * y)
    return total + x * y


def while_nested_in_for(x, n):
    total = 0.0
    for i in range(n):
        j = 0
        term = x
        while j < 10:
            term = term * x / (j + 1.0) + 0.1
            j += 1
            if j > i:
                break
        total += term
    return total + x


# --- assignment ------------------------------------------------------------


def repeatedly_overwritten(x):
    t = x
    t = t * t
    t = math.sin(t) + x
    t = t * x - t / 3.0
    t = math.sqrt(t * t + 1.0)
    for i in range(8):
        t = math.cos(t) * x + t * 0.5
    t = t + x
    return t


def augmented_assignments(x, y):
    a = x
    a += y
    a -= 0.5 * x
    a *= y
    a /= 1.0 + x * x
    count = 0
    count += 3
    count *= 2
    count -= 1
    a += count * x
    return a


def fibonacci_tuple_assignment(x, y, n):
    a, b = x, y
    for _ in range(n):
        a, b = b, a + b
    a, b = b, a  # swap
    return a * b + a


def projectile_with_drag(speed, angle):
    """Euler steps of a projectile under gravity and linear drag (module constants)."""
    vx = speed * math.cos(angle)
    vy = speed * math.sin(angle)
    px = 0.0
    py = 0.0
    for _ in range(N_STEPS):
        vx -= DRAG_COEFFICIENT * vx * TIME_STEP
        vy -= (GRAVITY + DRAG_COEFFICIENT * vy) * TIME_STEP
        px += vx * TIME_STEP
        py += vy * TIME_STEP
    return px + 0.5 * py


def make_spring_energy(stiffness, damping):
    """A factory: the returned closure reads two float constants from its cells."""

    def spring_energy(x, v):
        force = -stiffness * x - damping * v
        return 0.5 * stiffness * x * x + 0.5 * v * v + force * v * 0.1

    return spring_energy


spring_energy = make_spring_energy(4.0, 0.3)


# --- builtins --------------------------------------------------------------


def abs_min_max(x, y, k):
    a = abs(x - k)  # positive for k = 0, negative for k >= 1
    b = min(x, 2.0 * k - x)
    c = max(x, y)
    d = max(x * y, 3.0 * k - 3.0, 0.1)
    e = min(y - 1.0, x + 1.5, 3.0)
    return a * y + b + c * x + d + e * e


def numeric_conversions(x, n):
    whole = int(x)  # 2 everywhere in the domain
    scale = float(n) / 3.0
    total = float(x) * scale
    for i in range(whole):
        total += x * i
    total += int(n * 1.5) * x
    return total + float(whole) * x * x


def log_sum_exp3(a, b, c):
    m = max(a, b, c)  # the result is smooth even where the maximum switches
    return m + math.log(math.exp(a - m) + math.exp(b - m) + math.exp(c - m))


# --- math functions --------------------------------------------------------


def trigonometry(x, y):
    value = math.sin(x) * math.cos(y) + math.tan(x * 0.5)
    value += math.atan(x * y) + math.atan2(y, x)
    return value


def inverse_trigonometry(x):
    return math.asin(x) * 2.0 + math.acos(x * 0.5) - math.asin(x) * math.acos(x)


def hyperbolic_functions(x):
    return math.sinh(x) + math.cosh(0.5 * x) * math.tanh(x)


def exponentials_and_logarithms(x):
    growth = math.exp(0.5 * x) + math.expm1(-x)
    logs = math.log(x) + math.log1p(x) + math.log2(x + 1.0) * math.log10(3.0 * x)
    return growth + logs


def roots_powers_and_norms(x, y):
    r = math.hypot(x, y)
    value = math.sqrt(r) + math.pow(x, 3.0) / r + math.pow(r, y)
    return value + math.fabs(x - y) * y + math.fabs(y) * x


def multiline_expressions(x, y):
    """Expressions that span lines: in parentheses, in a call, after a backslash."""
    total = (
        x * y
        + math.sin(x)
        - y / (1.0 + x * x)
    )
    angle = math.atan2(
        y,
        x + 3.0,
    )
    return total * angle + \
        x


def error_functions(x):
    return math.erf(x) * x + math.erfc(0.5 * x) - math.erf(x * x)


def gaussian_bump(x, width):
    return exp(-x * x / (2.0 * width * width)) * sin(3.0 * x) / root(width)


def damped_wave(x, decay, n):
    total = 0.0
    for i in range(1, n + 1):
        total += exp(-decay * i) * sin(i * x) / i
    return total + decay * x


def builtin_pow(x, y):
    return pow(x, 3) + pow(x, y) - pow(y, 2.0)


def power_series_from_zeroth_power(x, n):
    """x**0 has derivative 0 everywhere, x = 0 included (the domain contains 0)."""
    total = 0.0
    for i in range(n):
        total += x ** i / (i + 1.0)
    return total + x


# --- srcad.no_grad ---------------------------------------------------------


def stopped_normalization(x, y):
    norm = srcad.no_grad(math.sqrt(x * x + y * y))
    return (x * x + y) / norm


def straight_through_rounding(x):
    rounded = float(int(x * 4.0)) / 4.0
    return x + srcad.no_grad(rounded - x)  # value rounded, derivative 1


def no_grad_weights_in_loop(x, n):
    total = 0.0
    for i in range(n):
        weight = srcad.no_grad(math.exp(-x * i))
        total += weight * math.sin(x + i)
    return total + x


# --- long loops ------------------------------------------------------------


def harmonic_oscillator_energy(x0, omega):
    """Symplectic Euler for 2000 steps; returns the final energy."""
    x = x0
    v = 0.0
    dt = 0.005
    for _ in range(2000):
        v -= omega * omega * x * dt
        x += v * dt
    return 0.5 * v * v + 0.5 * omega * omega * x * x


def logistic_map_average(r, x0):
    x = x0
    total = 0.0
    count = 0
    while count < 1200:
        x = r * x * (1.0 - x)
        total += x
        count += 1
    return total / count


def rk4_decay(rate, y0):
    y = y0
    t = 0.0
    h = 0.05
    for _ in range(40):
        k1 = -rate * y + math.sin(t)
        k2 = -rate * (y + 0.5 * h * k1) + math.sin(t + 0.5 * h)
        k3 = -rate * (y + 0.5 * h * k2) + math.sin(t + 0.5 * h)
        k4 = -rate * (y + h * k3) + math.sin(t + h)
        y += h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        t += h
    return y


# --- more of what users write ----------------------------------------------


def overwritten_parameters(x, y, n):
    x = x * x + y
    y = math.sin(y) * x
    for i in range(n):
        x, y = y * 0.5 + x * 0.1, math.cos(x) * 0.5
    return x + 2.0 * y


def early_return_from_nested_loop(x, n):
    total = 0.0
    for i in range(4):
        for j in range(4):
            total += math.sin(x * (i + 1)) * (j + 1) * 0.1
            if i * 4 + j == n:
                return total * x  # leaves both loops at once
    return total + x


def boolean_flags_and_chained_assignment(x, y, k):
    even = k % 2 == 0
    large = x > 2.0
    a = b = x * y
    if even and not large:
        a += math.cos(x)
    use_square = even or k > 2
    if use_square:
        b *= b
    return a + b + x


def driven_oscillator_time_loop(amplitude, frequency):
    """Integrate from t = 0 to 1 with a float clock; uses math.pi and math.e."""
    t = 0.0
    dt = 0.01
    position = 0.0
    velocity = amplitude
    while t < 1.0 - 0.5 * dt:
        force = amplitude * math.sin(2.0 * math.pi * frequency * t) - position
        velocity += force * dt
        position += velocity * dt
        t += dt
    return position + math.e * velocity


def one_line_square(v): return v * v


def one_line_bodies(x, y, n):
    """Bodies written on their header's line, with semicolons; a helper defined on one line."""
    total = 0.0; scale = one_line_square(y)
    for i in range(n): total += math.sin(x * i) * scale
    k = n
    while k > 0: total *= 0.9; k -= 1
    if n % 2 == 0: total -= x * y
    elif n == 3: total += math.cos(y)
    else: total *= x
    return total + x


# --- the table -------------------------------------------------------------


class Program(NamedTuple):
    """A corpus entry: the function, one domain per argument, the float positions."""

    function: Callable
    domains: tuple
    wrt: tuple

    @property
    def name(self) -> str:
        return self.function.__name__

    @property
    def int_positions(self) -> tuple:
        return tuple(i for i, domain in enumerate(self.domains) if isinstance(domain, str))


def program(function, *domains):
    """An entry differentiated with respect to every float argument."""
    wrt = tuple(i for i, domain in enumerate(domains) if not isinstance(domain, str))
    return Program(function, tuple(domains), wrt)


PROGRAMS = [
    program(cubic_polynomial, (-3.0, 3.0)),
    program(rational_function, (-2.0, 2.0), (-2.0, 2.0)),
    program(fractional_and_negative_powers, (0.5, 3.0)),
    program(power_with_active_exponent, (0.5, 3.0), (-2.0, 2.0)),
    program(integer_exponents, (0.5, 2.0), "int:0:5"),
    program(unary_minus, (-2.0, 2.0), (-2.0, 2.0)),
    program(floor_division_and_modulo, (1.6, 2.0), (0.7, 0.78)),
    program(integer_arithmetic, (-2.0, 2.0), "int:1:9", "int:1:4"),
    program(piecewise_branches, (0.1, 0.9), "int:0:2"),
    program(boolean_conditions, (0.1, 0.4), (0.6, 0.9), "int:0:3"),
    program(chained_comparison, (-2.0, 2.0), "int:0:4"),
    program(conditional_expressions, (0.2, 1.2), "int:0:3"),
    program(stable_softplus, (-6.0, 6.0)),
    program(stable_sigmoid_times, (-6.0, 6.0), (-2.0, 2.0)),
    program(exp_taylor_series, (-2.0, 2.0), "int:0:15"),
    program(cosine_sum_start_stop, (-1.0, 1.0), "int:0:3", "int:0:8"),
    program(horner_negative_step, (-0.9, 0.9), "int:1:12"),
    program(geometric_series_while, (-0.9, 0.9), "int:0:12"),
    program(newton_square_root, (0.25, 100.0)),
    program(kepler_eccentric_anomaly, (0.1, 3.0), (0.0, 0.7)),
    program(cubic_root_newton_early_return, (-5.0, 10.0)),
    program(partial_sums_with_break, (0.2, 0.9), "int:0:12"),
    program(skip_terms_with_continue, (-1.5, 1.5), "int:0:10"),
    program(while_with_continue, (-1.5, 1.5), "int:0:10"),
    program(early_return_in_loop, (-1.5, 1.5), "int:0:7"),
    program(early_return_in_branches, (1.5, 2.5), (0.1, 1.0), "int:0:3"),
    program(triangular_double_loop, (0.2, 1.0), (-1.0, 1.0), "int:0:6"),
    program(while_nested_in_for, (-1.5, 1.5), "int:0:8"),
    program(repeatedly_overwritten, (-1.2, 1.2)),
    program(augmented_assignments, (-2.0, 2.0), (-2.0, 2.0)),
    program(fibonacci_tuple_assignment, (-1.0, 1.0), (-1.0, 1.0), "int:0:10"),
    program(projectile_with_drag, (5.0, 20.0), (0.2, 1.2)),
    program(spring_energy, (-2.0, 2.0), (-2.0, 2.0)),
    program(abs_min_max, (0.2, 0.8), (1.2, 1.8), "int:0:2"),
    program(numeric_conversions, (2.1, 2.9), "int:0:6"),
    program(log_sum_exp3, (-2.0, 2.0), (-2.0, 2.0), (-2.0, 2.0)),
    program(trigonometry, (0.2, 2.0), (-1.5, 1.5)),
    program(inverse_trigonometry, (-0.8, 0.8)),
    program(hyperbolic_functions, (-3.0, 3.0)),
    program(exponentials_and_logarithms, (0.1, 5.0)),
    program(roots_powers_and_norms, (0.5, 2.0), (-3.0, -0.5)),
    program(multiline_expressions, (-2.0, 2.0), (-2.0, 2.0)),
    program(error_functions, (-2.0, 2.0)),
    program(gaussian_bump, (-2.0, 2.0), (0.5, 2.0)),
    program(damped_wave, (-2.0, 2.0), (0.1, 1.0), "int:0:8"),
    program(builtin_pow, (0.5, 2.0), (-1.0, 1.0)),
    program(power_series_from_zeroth_power, (-1.0, 1.0), "int:0:6"),
    program(stopped_normalization, (0.5, 2.0), (0.5, 2.0)),
    program(straight_through_rounding, (-3.0, 3.0)),
    program(no_grad_weights_in_loop, (-1.0, 1.0), "int:0:6"),
    program(harmonic_oscillator_energy, (0.5, 2.0), (0.5, 2.0)),
    program(logistic_map_average, (2.2, 2.8), (0.2, 0.8)),
    program(rk4_decay, (0.1, 2.0), (-1.0, 1.0)),
    program(overwritten_parameters, (-1.0, 1.0), (-1.0, 1.0), "int:0:6"),
    program(early_return_from_nested_loop, (-1.5, 1.5), "int:0:20"),
    program(boolean_flags_and_chained_assignment, (0.3, 1.5), (-1.0, 1.0), "int:0:3"),
    program(driven_oscillator_time_loop, (0.5, 2.0), (0.5, 3.0)),
    program(one_line_bodies, (-1.5, 1.5), (0.5, 1.5), "int:0:6"),
]
