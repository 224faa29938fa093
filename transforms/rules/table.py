"""The derivative rules: every differentiable operation once, as source templates.

A rule names its operands (``x``, or ``a`` and ``b``) and gives, per operand,
the adjoint contribution in reverse mode (in terms of the operands, the result
``y`` and the result's adjoint ``y_adj``) and the tangent in forward mode (in
terms of the operands, ``y`` and the operand tangents ``x_dot``/``a_dot``/...).
Templates are plain Python expressions; ``_sign(x)`` stands for
``(1.0 if x > 0 else (-1.0 if x < 0 else 0.0))``. Placeholders are replaced by the names
of the generated code (see ``instantiate``).

Conventions at non-differentiable points: ``abs``/``fabs`` have derivative
``sign(x)`` with 0 at 0; ``min``/``max`` give the whole adjoint to the first
argument on a tie; ``x ** y`` with ``x <= 0`` gives 0 for the ``y`` adjoint.
"""

from dataclasses import dataclass

from .templates import template_uses


@dataclass(frozen=True)
class Rule:
    operands: tuple  # placeholder names of the operands, in call order
    adjoints: tuple  # per operand: template of its adjoint contribution
    tangent: str  # template of the result's tangent
    # computed once before the adjoints, which read it as ``shared`` (a callee's adjoint, called once
    # for all its arguments' cotangents)
    shared: str = None
    origin: str = None  # for a rule registered with @srcad.derivative: the name of the function it is of

    def adjoint_reads(self, position, placeholder):
        """Whether operand ``position``'s adjoint contribution reads ``placeholder``."""
        template = self.adjoints[position]
        if self.shared is not None and template_uses(template, "shared"):
            return template_uses(template, placeholder) or template_uses(self.shared, placeholder)
        return template_uses(template, placeholder)


def unary(adjoint, tangent):
    return Rule(("x",), (adjoint,), tangent)


def binary(adjoint_a, adjoint_b, tangent):
    return Rule(("a", "b"), (adjoint_a, adjoint_b), tangent)


def scaled(factor, negated=False):
    """The unary rule whose adjoint and tangent are ``y_adj`` and ``x_dot`` times the same derivative:
    ``scaled("* math.cos(x)")`` is ``unary("y_adj * math.cos(x)", "x_dot * math.cos(x)")``, and
    ``negated=True`` puts a minus sign in front of both."""
    sign = "-" if negated else ""
    return unary(f"{sign}y_adj {factor}", f"{sign}x_dot {factor}")


# d(a ** b)/da = b * a ** (b - 1), spelled so that a == 0 gives the limit instead of 0.0 ** -1, and
# b == 0 gives 0 where a ** -1 overflows (a subnormal a: 0 * inf would be nan). Elsewhere the slope is
# b * a ** (b - 1) itself, b == 0 included: forward mode over a gradient differentiates this spelling,
# and a constant 0.0 there would lose d(slope)/db = 1 / a (found by the random-program hunt).
_POWER_SLOPE = ("(b * a ** (b - 1) if (a != 0.0 and (b != 0 or abs(a) >= 1e-300)) or b >= 1 "
                "else (0.0 if b == 0 else math.inf))")
_POWER = binary(
    f"y_adj * {_POWER_SLOPE}",
    "y_adj * y * math.log(a) if a > 0 else 0.0",
    f"{_POWER_SLOPE} * a_dot + (y * math.log(a) * b_dot if a > 0 else 0.0)",
)

# NumPy's elementwise functions, named after their math module twins.
NUMPY_TWINS = {
    "np.sin": "math.sin", "np.cos": "math.cos", "np.tan": "math.tan", "np.arcsin": "math.asin",
    "np.arccos": "math.acos", "np.arctan": "math.atan", "np.sinh": "math.sinh", "np.cosh": "math.cosh",
    "np.tanh": "math.tanh", "np.exp": "math.exp", "np.expm1": "math.expm1", "np.log": "math.log",
    "np.log1p": "math.log1p", "np.log2": "math.log2", "np.log10": "math.log10", "np.sqrt": "math.sqrt",
    "np.abs": "abs", "np.fabs": "math.fabs", "np.hypot": "math.hypot", "np.arctan2": "math.atan2",
    "np.power": "**", "np.arcsinh": "math.asinh", "np.arccosh": "math.acosh", "np.arctanh": "math.atanh",
    "np.exp2": "math.exp2", "np.deg2rad": "math.radians", "np.radians": "math.radians",
    "np.rad2deg": "math.degrees", "np.degrees": "math.degrees",
}  # fmt: skip

# What generated CPU code calls so that LLVM vectorizes it (srcad.kernels.vectorizable), named after
# what it computes: forward mode reads a gradient's code again for second derivatives.
VECTORIZABLE_TWINS = {"simd_exp": "math.exp", "simd_log": "math.log", "simd_tanh": "math.tanh", "sum_in_any_order": "+"}

# Python's own operations on floats: its operators, builtins and math module. NumPy's twins of them
# (NUMPY_TWINS) have the same rules, and their elementwise forms are derived from them.
_PYTHON_RULES = {
    # Operators. "copy" is `y = x`, "neg" is `y = -x`.
    "copy": unary("y_adj", "x_dot"),
    "neg": unary("-y_adj", "-x_dot"),
    "+": binary("y_adj", "y_adj", "a_dot + b_dot"),
    "-": binary("y_adj", "-y_adj", "a_dot - b_dot"),
    "*": binary("y_adj * b", "y_adj * a", "a_dot * b + a * b_dot"),
    "/": binary("y_adj / b", "-y_adj * y / b", "(a_dot - y * b_dot) / b"),
    "%": binary("y_adj", "-y_adj * math.floor(a / b)", "a_dot - math.floor(a / b) * b_dot"),
    "**": _POWER,
    # Builtins.
    "float": unary("y_adj", "x_dot"),
    "abs": scaled("* _sign(x)"),
    # Python's max(a, b) is b only if b > a (so max(nan, 1) is nan, max(1, nan) is 1): the adjoint
    # follows the argument returned.
    "max": binary("0.0 if b > a else y_adj", "y_adj if b > a else 0.0", "b_dot if b > a else a_dot"),
    "min": binary("0.0 if b < a else y_adj", "y_adj if b < a else 0.0", "b_dot if b < a else a_dot"),
    "pow": _POWER,
    # The math module.
    "math.sin": scaled("* math.cos(x)"),
    "math.cos": scaled("* math.sin(x)", negated=True),
    "math.tan": scaled("* (1.0 + y * y)"),
    "math.asin": scaled("/ math.sqrt(1.0 - x * x)"),
    "math.acos": scaled("/ math.sqrt(1.0 - x * x)", negated=True),
    "math.atan": scaled("/ (1.0 + x * x)"),
    "math.atan2": binary(
        "y_adj * b / (a * a + b * b)", "-y_adj * a / (a * a + b * b)", "(b * a_dot - a * b_dot) / (a * a + b * b)"
    ),
    "math.sinh": scaled("* math.cosh(x)"),
    "math.cosh": scaled("* math.sinh(x)"),
    "math.tanh": scaled("* (1.0 - y * y)"),
    "math.exp": scaled("* y"),
    "math.expm1": scaled("* (y + 1.0)"),
    "math.log": scaled("/ x"),
    "math.log1p": scaled("/ (1.0 + x)"),
    "math.log2": scaled("/ (x * 0.6931471805599453)"),
    "math.log10": scaled("/ (x * 2.302585092994046)"),
    "math.sqrt": scaled("* 0.5 / y"),
    "math.pow": _POWER,
    "math.hypot": binary("y_adj * a / y", "y_adj * b / y", "(a * a_dot + b * b_dot) / y"),
    "math.fabs": scaled("* _sign(x)"),
    "math.erf": scaled("* 1.1283791670955126 * math.exp(-x * x)"),
    "math.erfc": scaled("* 1.1283791670955126 * math.exp(-x * x)", negated=True),
    "math.asinh": scaled("/ math.sqrt(x * x + 1.0)"),
    "math.acosh": scaled("/ math.sqrt(x * x - 1.0)"),
    "math.atanh": scaled("/ (1.0 - x * x)"),
    "math.exp2": scaled("* y * 0.6931471805599453"),
    "math.radians": scaled("* 0.017453292519943295"),
    "math.degrees": scaled("* 57.29577951308232"),
}

# The rules of operations on floats: Python's, and NumPy's functions applied to floats.
SCALAR_RULES = {
    **_PYTHON_RULES,
    # NumPy's elementwise functions without a math module twin (numba has no math.cbrt).
    "np.square": scaled("* 2.0 * x"),
    "np.cbrt": scaled("/ (3.0 * y * y)"),
    "np.reciprocal": scaled("* y * y", negated=True),
    "np.logaddexp": binary(
        "y_adj * math.exp(a - y)", "y_adj * math.exp(b - y)", "a_dot * math.exp(a - y) + b_dot * math.exp(b - y)"
    ),
    # np.clip(x, low, high): x passes through inside [low, high], each bound where it is hit.
    "np.clip": Rule(
        ("x", "low", "high"),
        ("y_adj if low <= x <= high else 0.0", "y_adj if x < low else 0.0", "y_adj if x > high else 0.0"),
        "x_dot if low <= x <= high else (low_dot if x < low else high_dot)",
    ),
    # np.where(c, a, b): the condition carries no derivative. scalar_where (srcad.kernels.vectorizable) is
    # np.where's element in a fused loop.
    "np.where": Rule(
        ("c", "a", "b"), ("0.0 * y_adj", "y_adj if c else 0.0", "0.0 if c else y_adj"), "a_dot if c else b_dot"
    ),
    "scalar_where": Rule(
        ("c", "a", "b"), ("0.0 * y_adj", "y_adj if c else 0.0", "0.0 if c else y_adj"), "a_dot if c else b_dot"
    ),
    **{twin: _PYTHON_RULES[name] for twin, name in NUMPY_TWINS.items()},  # np.sin of a float is math.sin
    **{twin: _PYTHON_RULES[name] for twin, name in VECTORIZABLE_TWINS.items()},
    # np.maximum is not max: np.maximum(1.0, nan) is nan where max(1.0, nan) is 1.0.
    "np.maximum": binary(
        "y_adj if a >= b or a != a else 0.0", "0.0 if a >= b or a != a else y_adj",
        "a_dot if a >= b or a != a else b_dot",
    ),
    "np.minimum": binary(
        "y_adj if a <= b or a != a else 0.0", "0.0 if a <= b or a != a else y_adj",
        "a_dot if a <= b or a != a else b_dot",
    ),
}

_ELEMENTWISE_SPELLING = {
    "math.asin": "np.arcsin", "math.acos": "np.arccos", "math.atan": "np.arctan", "math.": "np.",
    "_sign(x)": "np.sign(x)",
}  # fmt: skip


def _elementwise(template):
    for scalar, array in _ELEMENTWISE_SPELLING.items():
        template = template.replace(scalar, array)
    return template


def _elementwise_rule(rule):
    return Rule(rule.operands, tuple(_elementwise(t) for t in rule.adjoints), _elementwise(rule.tangent))


# The same rules where operands are arrays, element by element (a float operand's adjoint is
# summed over the elements; see reverse/adjoint.py). Conditionals guarding scalar kinks become
# their elementwise forms.
_PYTHON_ELEMENTWISE_RULES = {
    **{
        key: _elementwise_rule(rule)
        for key, rule in _PYTHON_RULES.items()
        if key in ("copy", "neg", "+", "-", "*", "/") or key.startswith("math.") and "if" not in "".join(rule.adjoints)
    },
    "**": binary(
        "y_adj * b * a ** (b - 1)", "y_adj * y * np.log(a)", "b * a ** (b - 1) * a_dot + y * np.log(a) * b_dot"
    ),
    "abs": scaled("* np.sign(x)"),
    # np.maximum and np.minimum return a NaN operand (the first of two); else ties go to the first.
    "max": binary(
        "y_adj * ((a >= b) | (a != a))", "y_adj * ((a < b) | ((b != b) & (a == a)))",
        "np.where((a >= b) | (a != a), a_dot, b_dot)",
    ),
    "min": binary(
        "y_adj * ((a <= b) | (a != a))", "y_adj * ((a > b) | ((b != b) & (a == a)))",
        "np.where((a <= b) | (a != a), a_dot, b_dot)",
    ),
}

# Elementwise operations of arrays: Python's above, and NumPy's functions.
ELEMENTWISE_RULES = {
    **_PYTHON_ELEMENTWISE_RULES,
    # NumPy's elementwise functions without a math module twin: of arrays as of floats (spelled for arrays).
    "np.square": SCALAR_RULES["np.square"],
    "np.cbrt": SCALAR_RULES["np.cbrt"],
    "np.reciprocal": SCALAR_RULES["np.reciprocal"],
    "np.logaddexp": _elementwise_rule(SCALAR_RULES["np.logaddexp"]),
    # np.clip(x, low, high): x passes through inside [low, high], each bound where it is hit.
    "np.clip": Rule(
        ("x", "low", "high"),
        ("y_adj * ((x >= low) & (x <= high))", "y_adj * (x < low)", "y_adj * (x > high)"),
        "np.where(x < low, low_dot, np.where(x > high, high_dot, x_dot))",
    ),
    # np.where(c, a, b): the condition carries no derivative.
    "np.where": Rule(
        ("c", "a", "b"),
        ("0.0 * y_adj", "np.where(c, y_adj, 0.0)", "np.where(c, 0.0, y_adj)"),
        "np.where(c, a_dot, b_dot)",
    ),
    **{twin: _PYTHON_ELEMENTWISE_RULES[name] for twin, name in NUMPY_TWINS.items()},  # np.sin is math.sin, elementwise
    **{twin: _PYTHON_ELEMENTWISE_RULES[name] for twin, name in VECTORIZABLE_TWINS.items()},
    # np.maximum is not max, but max of arrays, element by element, is np.maximum (above).
    "np.maximum": _PYTHON_ELEMENTWISE_RULES["max"],
    "np.minimum": _PYTHON_ELEMENTWISE_RULES["min"],
}

# Array elements. `y = x[i, j]` ("index"): the adjoint accumulates into the same element of
# x's adjoint, x_adj[i, j] += y_adj. Writes `x[i] = y` and `x[i] += y` are statements, not
# operations; reverse/adjoint.py gives them their adjoints (y_adj += x_adj[i], and x_adj[i] = 0 for `=`).
ELEMENT_RULES = {
    "index": unary("y_adj", "x_dot"),
}

# Array constructors. Their results start a fresh array; only a fill value carries a derivative.
ARRAY_CONSTRUCTORS = {
    "np.zeros", "np.ones", "np.empty", "np.zeros_like", "np.ones_like", "np.empty_like",
    "np.arange", "np.linspace", "np.eye", "np.identity",
    # Fresh tapes: they start empty, like np.empty. Typed lists (generated gradients keep arrays bound
    # again in a loop in them) take their item type from a sample; forward mode reads their append and pop.
    "new_float_stack", "new_int_stack", "empty_list_like",
    # zeros in the memory of an adjoint nothing reads any more (generated gradients, read again by forward mode)
    "zeroed", "zeroed_to", "recycled_zeros",
}  # fmt: skip
ARRAY_FILLS = {"np.full": 1, "np.full_like": 1}  # position of the fill value


def _along(adjoint, tangent):
    return Rule(("x", "axis", "keepdims"), (adjoint, "0.0", "0.0"), tangent)


# The reductions numba lacks (keepdims=, and mean, max, min, prod along an axis), as srcad writes
# them: np.mean(x, axis=1, keepdims=True) is mean_along(x, 1, True) (srcad.kernels.arrays).
REDUCTIONS_ALONG = {
    "sum_along": _along("spread_along(y_adj, x, axis, keepdims)", "sum_along(x_dot, axis, keepdims)"),
    "mean_along": _along(
        "spread_along(y_adj, x, axis, keepdims) / x.shape[axis]", "mean_along(x_dot, axis, keepdims)"
    ),
    "max_along": _along(
        "at_first_along(x, y, y_adj, axis, keepdims)",
        "sum_along(at_first_along(x, y, 1.0, axis, keepdims) * x_dot, axis, keepdims)",
    ),
    "min_along": _along(
        "at_first_along(x, y, y_adj, axis, keepdims)",
        "sum_along(at_first_along(x, y, 1.0, axis, keepdims) * x_dot, axis, keepdims)",
    ),
    "prod_along": _along(
        "spread_along(y_adj, x, axis, keepdims) * products_of_others_along(x, axis)",
        "sum_along(products_of_others_along(x, axis) * x_dot, axis, keepdims)",
    ),
}

# np.max and np.min, also spelled np.amax and np.amin. A tie gives the whole adjoint to the first of
# the tied elements (C order), as np.argmax picks it.
_MAX = unary("at_first(x, y, y_adj)", "x_dot.ravel()[np.argmax(x)]")
_MIN = unary("at_first(x, y, y_adj)", "x_dot.ravel()[np.argmin(x)]")

# Reductions of arrays to a float. The adjoint broadcasts back: `x_adj += y_adj` adds to every element.
REDUCTION_RULES = {
    "np.sum": unary("y_adj", "np.sum(x_dot)"),
    "np.mean": unary("y_adj / x.size", "np.mean(x_dot)"),
    "np.dot": binary("y_adj * b", "y_adj * a", "np.dot(a_dot, b) + np.dot(a, b_dot)"),  # of two vectors
    "np.linalg.norm": unary("y_adj * x / y", "np.sum(x * x_dot) / y"),  # the 2-norm (Frobenius for matrices)
    "np.max": _MAX,
    "np.min": _MIN,
    "np.prod": unary("y_adj * products_of_others(x)", "np.sum(products_of_others(x) * x_dot)"),
    "np.amax": _MAX,
    "np.amin": _MIN,
    "np.trace": unary("y_adj * np.eye(x.shape[0], x.shape[1])", "np.trace(x_dot)"),  # of a matrix
    # of all the elements (ddof 0): d var / dx_i = 2 (x_i - mean) / n, and std = sqrt(var)
    "np.var": unary("y_adj * 2.0 * (x - np.mean(x)) / x.size", "2.0 * np.mean((x - np.mean(x)) * x_dot)"),
    "np.std": unary("y_adj * (x - np.mean(x)) / (x.size * y)", "np.mean((x - np.mean(x)) * x_dot) / y"),
    **REDUCTIONS_ALONG,  # of a vector without keepdims: a float
    # Small dense linear algebra (see np.linalg.inv in ARRAY_RULES): d det(A) = det(A) tr(A^-1 dA).
    "np.linalg.det": unary("y_adj * y * np.linalg.inv(x).T", "y * np.trace(np.linalg.solve(x, x_dot))"),
}
# Reductions that take axis=: np.sum(x, axis=k) has an array result, whose adjoint spreads back along k.
REDUCTIONS = {"np.sum", "np.mean", "np.max", "np.min", "np.prod", "np.amax", "np.amin"}
AXIS_REDUCTION_RULES = {"np.sum": unary("spread_along(y_adj, x, axis, False)", "np.sum(x_dot, axis=axis)")}

# Matrix products, by the ranks of their operands (numba's `@`, np.dot and np.matmul): the
# adjoints are products too. Two vectors give a float: the np.dot rule above.
MATRIX_PRODUCTS = {"@", "np.dot", "np.matmul"}
MATRIX_PRODUCT_RULES = {
    (1, 1): REDUCTION_RULES["np.dot"],
    (2, 1): binary("np.outer(y_adj, b)", "a.T @ y_adj", "a_dot @ b + a @ b_dot"),  # matrix @ vector
    (1, 2): binary("b @ y_adj", "np.outer(a, y_adj)", "a_dot @ b + a @ b_dot"),  # vector @ matrix
    (2, 2): binary("y_adj @ b.T", "a.T @ y_adj", "a_dot @ b + a @ b_dot"),
}

# Arrays assembled from pieces: np.array([a, b]) of floats, np.stack((u, v)) and
# np.concatenate((u, v)) along the first axis. Each piece's adjoint is its part of the result's,
# the part given by `part` (an index or a slice over the first axis, or [i, j] for nested lists).
ASSEMBLED_RULES = {"np.array": "y_adj[part]", "np.stack": "y_adj[part]", "np.concatenate": "y_adj[part]"}

# Functions whose result is a view of their array argument: np.atleast_2d(x) of a vector is x[None, :].
VIEW_FUNCTIONS = {"np.atleast_1d", "np.atleast_2d", "np.atleast_3d"}
# Methods whose result shares memory with the array (numba's reshape needs a contiguous array, so it
# never copies), and those whose result is a new array: both get the adjoint of a view or copy.
VIEW_METHODS = {"reshape", "transpose", "ravel", "flatten"}
# y = x[1:, j], x[:, None], x.T, x.reshape(n, m): y shares x's memory, and y_adj is the same
# view of x_adj (see reverse/adjoint.py), so the adjoint needs no code of its own.
_VIEW = unary("y_adj", "x_dot")

# The helpers generated adjoints call (srcad.kernels.arrays and .runtime), so that forward mode can
# differentiate an adjoint (forward-over-reverse Hessian-vector products). Each is linear in the
# adjoint it is given; the other operands only say where it goes (shapes, positions, the argmax).
# Their adjoints are written out too, for a user who calls one.
ADJOINT_HELPER_RULES = {
    # reserve(stack, needed): the stack, or a longer copy of it
    "reserve": Rule(("x", "n"), ("y_adj[: x.shape[0]]", "0.0"), "reserve(x_dot, n)"),
    "unbroadcast": Rule(("g", "like"), ("np.broadcast_to(y_adj, g.shape).copy()", "0.0"), "unbroadcast(g_dot, like)"),
    "spread_along": Rule(
        ("a", "x", "axis", "keepdims"), ("sum_along(y_adj, axis, keepdims)", "0.0", "0.0", "0.0"),
        "spread_along(a_dot, x, axis, keepdims)",
    ),
    "diff_adjoint": unary("np.diff(y_adj)", "diff_adjoint(x_dot)"),
    "cumsum_adjoint": Rule(("a", "x"), ("np.cumsum(y_adj).reshape(a.shape)", "0.0"), "cumsum_adjoint(a_dot, x)"),
    "cumsum_adjoint_along": Rule(("a", "axis"), ("cumsum_along(y_adj, axis)", "0.0"), "cumsum_adjoint_along(a_dot, axis)"),
    "at_first": Rule(("x", "v", "a"), ("0.0", "0.0", "np.sum(at_first(x, v, 1.0) * y_adj)"), "at_first(x, v, a_dot)"),
    "at_first_along": Rule(
        ("x", "v", "a", "axis", "keepdims"),
        ("0.0", "0.0", "sum_along(at_first_along(x, v, 1.0, axis, keepdims) * y_adj, axis, keepdims)", "0.0", "0.0"),
        "at_first_along(x, v, a_dot, axis, keepdims)",
    ),
    "scattered": Rule(("x", "k", "g"), ("0.0", "0.0", "y_adj[k]"), "scattered(x, k, g_dot)"),
    # times_transpose(g, x): g x^T, an outer product for vectors (the solve rule's A adjoint)
    "times_transpose": binary("y_adj @ b", "y_adj.T @ a", "times_transpose(a_dot, b) + times_transpose(a, b_dot)"),
    # d(others)_i/dx_k is the product of the elements but i and k: symmetric, so one helper does both
    "products_of_others_along": Rule(
        ("x", "axis"), ("products_of_others_along_tangent(x, y_adj, axis)", "0.0"),
        "products_of_others_along_tangent(x, x_dot, axis)",
    ),
    "at_last_writes": Rule(
        ("a", "k"), ("scattered(a, k, y_adj * at_last_writes(np.ones_like(a), k))", "0.0"), "at_last_writes(a_dot, k)"
    ),
}

# Whole-array operations (so far the ones that start a new array from an operand).
ARRAY_RULES = {
    "np.copy": unary("y_adj", "x_dot"),  # x_adj += y_adj, element by element
    # y = snapshot(x): np.copy for arrays, x itself for numbers (normalize.buffered)
    "snapshot": unary("y_adj", "snapshot(x_dot)"),
    "view": _VIEW,  # y shares x's memory (see _VIEW)
    # y = x.ravel() or x.flatten(): a copy, unless numba can hand out a view; either way only read
    "ravel": unary("y_adj.reshape(x.shape)", "x_dot.ravel()"),
    "np.full": unary("np.sum(y_adj)", "np.full_like(y, x_dot)"),
    "np.full_like": unary("np.sum(y_adj)", "np.full_like(y, x_dot)"),
    **REDUCTIONS_ALONG,
    # keep_dims(v, x): the float v as an array of x's rank with every axis of size 1 (keepdims=True, no axis).
    "keep_dims": Rule(("v", "x"), ("np.sum(y_adj)", "0.0"), "keep_dims(v_dot, x)"),
    # np.diff(x) along the last axis: y[..., k] = x[..., k + 1] - x[..., k].
    "np.diff": unary("diff_adjoint(y_adj)", "np.diff(x_dot)"),
    # np.roll(x, shift) (of x flattened) and np.roll(x, shift, axis=k) as roll_along(x, shift, k): the
    # adjoint rolls back.
    "np.roll": Rule(("x", "shift"), ("np.roll(y_adj, -shift)", "0.0"), "np.roll(x_dot, shift)"),
    "roll_along": Rule(
        ("x", "shift", "axis"), ("roll_along(y_adj, -shift, axis)", "0.0", "0.0"), "roll_along(x_dot, shift, axis)"
    ),
    # np.cumsum(x) (of x flattened): each element's adjoint sums the adjoints of the elements after it.
    "np.cumsum": unary("cumsum_adjoint(y_adj, x)", "np.cumsum(x_dot)"),
    # np.cumsum(x, axis=k), as srcad writes it (numba's np.cumsum has no axis): along each line.
    "cumsum_along": Rule(
        ("x", "axis"), ("cumsum_adjoint_along(y_adj, axis)", "0.0"), "cumsum_along(x_dot, axis)"
    ),
    **{name: unary(template, "np.zeros_like(y)") for name, template in ASSEMBLED_RULES.items()},
    # np.outer(a, b) of two vectors: y[i, j] = a[i] * b[j].
    "np.outer": binary("y_adj @ b", "a @ y_adj", "np.outer(a_dot, b) + np.outer(a, b_dot)"),
    # Small dense linear algebra (numba calls LAPACK through SciPy for these, as for `@`), from the
    # textbook identities: d det(A) = det(A) tr(A^-1 dA) (np.linalg.det, in REDUCTION_RULES);
    # d A^-1 = -A^-1 dA A^-1; for x = A^-1 b, b_adj = A^-T x_adj (computed once, `shared`) and
    # A_adj = -b_adj x^T.
    "np.linalg.inv": unary("-(y.T @ y_adj @ y.T)", "-(y @ x_dot @ y)"),
    "np.linalg.solve": Rule(
        ("a", "b"), ("-times_transpose(shared, y)", "shared"), "np.linalg.solve(a, b_dot - a_dot @ y)",
        shared="np.linalg.solve(a.T, y_adj)",
    ),
    # np.sort(x) of a vector is x[p], p = np.argsort(x): the adjoint goes back through the permutation.
    "np.sort": Rule(("x",), ("scattered(x, shared, y_adj)",), "x_dot[np.argsort(x)]", shared="np.argsort(x)"),
    **ADJOINT_HELPER_RULES,
    **{name: _VIEW for name in VIEW_FUNCTIONS},
}
# Results NumPy does not broadcast from their operands' shapes.
NOT_BROADCAST = {*MATRIX_PRODUCTS, "np.outer", "np.linalg.inv", "np.linalg.solve", "np.sort"}

# NumPy's integer types, called to cast (np.intp is np.int64, and spelled so): integers, no derivative.
INTEGER_TYPES = {f"np.{kind}{bits}" for kind in ("int", "uint") for bits in (8, 16, 32, 64)}

# Calls whose result carries no derivative: integer-valued, boolean, or explicitly cut.
INACTIVE_FUNCTIONS = INTEGER_TYPES | {
    "int", "bool", "round", "len", "range", "np.shape", "np.size", "np.ndim",
    "math.floor", "math.ceil", "math.trunc", "math.isnan", "math.isinf", "math.isfinite", "math.copysign",
    "srcad.no_grad",
    "np.sign", "np.floor", "np.ceil", "np.trunc", "np.rint", "np.round", "np.argmax", "np.argmin",
    "np.argsort", "np.isnan", "np.isinf", "np.isfinite",
    "integer_power",  # a ** b of two integers (transforms/analysis/integer_powers.py)
    "segment_length", "kept_bytes", "forget_from",  # checkpointed loops of gradients (transforms/reverse/checkpoints.py)
    # extents and steps of fused loops (transforms/analysis/fused_loops.py)
    "slice_start", "slice_extent", "broadcast_extent", "broadcast_step", "conforming", "roll_offset", "rolled_position",
}  # fmt: skip

# Binary operators whose result is piecewise constant.
INACTIVE_OPERATORS = {"//"}

# NumPy's functions for the operators: np.add(a, b) is a + b (for arrays and floats alike).
OPERATOR_FUNCTIONS = {
    "np.add": "+", "np.subtract": "-", "np.multiply": "*", "np.divide": "/", "np.true_divide": "/",
    "np.negative": "neg", "np.positive": "copy",
}  # fmt: skip
# Conversions to an array: np.array(x) copies an array, np.asarray(x) is x itself; a list of pieces
# is assembled (ASSEMBLED_RULES).
ARRAY_CONVERSIONS = {"np.array": "np.copy", "np.asarray": "copy"}

# Functions the normal form writes as other operations (transforms/frontend/einsum.py).
LOWERED_FUNCTIONS = {"np.einsum"}

# Every rule, by operation (a matrix product's rule depends on its ranks: see MATRIX_PRODUCT_RULES).
RULES = {
    **SCALAR_RULES,
    **ELEMENT_RULES,
    **ARRAY_RULES,
    **REDUCTION_RULES,
    "@": REDUCTION_RULES["np.dot"],
    "np.matmul": REDUCTION_RULES["np.dot"],
}

# Functions `min`/`max` with more than two arguments are chained pairwise.
VARIADIC_FUNCTIONS = {"min", "max"}


# srcad's helpers that take the user's "file.py:line" as an argument, at this position, to name it in
# their errors (integer_power): the string is copied as it is where generated code is differentiated again.
LOCATED_HELPERS = {"integer_power": 2, "conforming": 2}


# Functions with a meaning only in kernels: the thread index, and an atomic scatter-add.
KERNEL_FUNCTIONS = {"srcad.tid", "srcad.atomic_add"}
