"""What generated CPU code calls where numba's own spelling keeps LLVM from vectorizing a loop:
exp, log and tanh as inline instructions, and sums that may be added in any order.

numba compiles ``math.exp(x)`` to a call of the C library's ``exp``, one element at a time: a
loop ``out[i] = math.exp(x[i])`` cannot use the CPU's vector units, so an element loop of
transcendentals runs 3-7x slower than NumPy's (or XLA's) vectorized ones. ``simd_exp``,
``simd_log`` and ``simd_tanh`` are written as straight-line LLVM instructions (multiplications,
fused multiply-adds, ``rint``, bit casts, selects), which LLVM inlines into the loop and
vectorizes with it. The method is the textbook one (Cody-Waite range reduction, then a polynomial):

- ``exp(x) = 2**k * exp(r)`` with ``k = rint(x / ln 2)``, ``|r| <= ln(2) / 2`` and ``exp(r)`` by
  its Taylor polynomial of degree 13 (remainder below 5e-18);
- ``log(x) = e * ln 2 + log(m)`` with ``m`` in ``[sqrt(1/2), sqrt(2))`` and ``log(m) = 2 atanh(f)``,
  ``f = (m - 1) / (m + 1)``, summed to ``f**23``;
- ``tanh(x) = sign(x) * u / (u + 2)`` with ``u = expm1(2 |x|)``, itself ``2**k (exp(r) - 1) +
  (2**k - 1)``, where ``exp(r) - 1`` is the polynomial without its constant term: no
  cancellation near 0.

They agree with NumPy to within 3 units in the last place over the whole range of doubles (exp to
1, log to 2; the tests measure it), return NumPy's values at 0, infinities and NaN, and are exact
where NumPy is (``exp(0) = 1``, ``log(1) = 0``, ``tanh(-0.0) = -0.0``). Only float64 goes this way;
other types (integers, float32, complex) call NumPy's function, as arrays of other kinds do.

``sum_in_any_order(s, e)`` is ``s + e`` that LLVM may reassociate: a loop accumulating a float
(``s += math.exp(x[i] - a)``, an adjoint ``dt_adj += f_adj[i] * f[i]``) is a chain of additions
each waiting for the last, which LLVM may only split into vector lanes, partial sums added at the
end, when the order of the additions is free. The result differs from the sequential sum by
rounding, as NumPy's pairwise ``np.sum`` does.

``scalar_where(c, a, b)`` is ``np.where`` of one boolean and two numbers, which compiles to a select:
the element of ``np.where`` of arrays in a fused element loop.

Without numba's compiler (``NUMBA_DISABLE_JIT=1``) all of them are plain NumPy and Python.
"""

import math

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

LN2_HI = 6.93147180369123816490e-01  # ln 2's leading 32 bits: k * LN2_HI is exact for |k| < 2**20
LN2_LO = 1.90821492927058770002e-10  # ln 2 - LN2_HI
INV_LN2 = 1.44269504088896338700e00
EXP_TERMS = 12  # exp(r) - 1 = r * (1 + r / 2! + ... + r**12 / 13!): the rest is below r**14 / 14! < 5e-18
ATANH_TERMS = 11  # of atanh(f) / f past 1: f**24 / 25 < 1e-19 for f <= 3 - 2 sqrt(2)
EXP_OVERFLOW = 709.782712893384  # above: exp(x) is inf
EXP_UNDERFLOW = -745.1332191019412  # below: exp(x) is 0
TANH_SATURATION = 22.0  # above: tanh(x) rounds to 1
SQRT2_MANTISSA = 0x6A09E667F3BCD  # the 52 fraction bits of sqrt(2)


def scalar_where(c, a, b):
    """``np.where(c, a, b)`` of a boolean and two numbers: one of the numbers (NumPy's and numba's
    ``np.where`` of numbers is a 0-d array). Fused element loops compute ``np.where`` of arrays with it."""
    return a if c else b


def sum_in_any_order(s, e):
    """``s + e``, which compiled code may add in another order than written (see the module's docstring)."""
    return s + e


def simd_exp(x):
    """``np.exp(x)``, vectorizable in compiled loops (see the module's docstring)."""
    return np.exp(x)


def simd_log(x):
    """``np.log(x)``, vectorizable in compiled loops (see the module's docstring)."""
    return np.log(x)


def simd_tanh(x):
    """``np.tanh(x)``, vectorizable in compiled loops (see the module's docstring)."""
    return np.tanh(x)


class _Builder:
    """The instructions the three functions share, emitted at the call site (an intrinsic's IR is
    inlined as it is written: nothing for numba to type, little for LLVM to compile)."""

    def __init__(self, builder):
        self.b = builder
        self.double = ir.DoubleType()
        self.int64 = ir.IntType(64)
        module = builder.module
        signature = ir.FunctionType(self.double, [self.double, self.double, self.double])
        self._fmuladd = module.declare_intrinsic("llvm.fmuladd", [self.double], signature)
        self._rint = module.declare_intrinsic("llvm.rint", [self.double])
        self._fabs = module.declare_intrinsic("llvm.fabs", [self.double])
        self._copysign = module.declare_intrinsic(
            "llvm.copysign", [self.double], ir.FunctionType(self.double, [self.double, self.double]))

    def const(self, value):
        return ir.Constant(self.double, value)

    def integer(self, value):
        return ir.Constant(self.int64, value)

    def muladd(self, a, b, c):
        return self.b.call(self._fmuladd, [a, b, c])

    def rint(self, value):
        return self.b.call(self._rint, [value])

    def fabs(self, value):
        return self.b.call(self._fabs, [value])

    def copysign(self, magnitude, sign):
        return self.b.call(self._copysign, [magnitude, sign])

    def where(self, condition, if_true, if_false):
        return self.b.select(condition, if_true, if_false)

    def is_nan(self, value):
        return self.b.fcmp_unordered("uno", value, value)

    def reduced(self, x):
        """``(k, r)``: ``x = k ln 2 + r``, ``|r| <= ln(2) / 2``, ``k`` a whole float clamped to
        [-1100, 1100] (past it the caller's limits apply)."""
        k = self.rint(self.b.fmul(x, self.const(INV_LN2)))
        k = self.where(self.b.fcmp_ordered("<", k, self.const(-1100.0)), self.const(-1100.0), k)
        k = self.where(self.b.fcmp_ordered(">", k, self.const(1100.0)), self.const(1100.0), k)
        r = self.muladd(k, self.const(-LN2_HI), x)
        return k, self.muladd(k, self.const(-LN2_LO), r)

    def power_of_two(self, k):
        """``(a, b)`` with ``a * b == 2**k`` for a whole float ``k`` in [-1100, 1100], both normal
        (2**k alone need not be a double)."""
        whole = self.b.fptosi(k, self.int64)
        half = self.b.ashr(whole, self.integer(1))
        return self._power(half), self._power(self.b.sub(whole, half))

    def _power(self, exponent):
        biased = self.b.add(exponent, self.integer(1023))
        return self.b.bitcast(self.b.shl(biased, self.integer(52)), self.double)

    def exp_minus_one_reduced(self, r):
        """``exp(r) - 1`` for ``|r| <= ln(2) / 2``: r times its Taylor series over r (no constant term)."""
        series = self.const(1.0 / math.factorial(EXP_TERMS + 1))
        for n in range(EXP_TERMS, 0, -1):
            series = self.muladd(series, r, self.const(1.0 / math.factorial(n)))
        return self.b.fmul(series, r)

    def exp(self, x):
        k, r = self.reduced(x)
        scale_a, scale_b = self.power_of_two(k)
        exp_r = self.b.fadd(self.exp_minus_one_reduced(r), self.const(1.0))
        value = self.b.fmul(self.b.fmul(exp_r, scale_a), scale_b)
        value = self.where(self.b.fcmp_ordered(">", x, self.const(EXP_OVERFLOW)), self.const(math.inf), value)
        value = self.where(self.b.fcmp_ordered("<", x, self.const(EXP_UNDERFLOW)), self.const(0.0), value)
        return self.where(self.is_nan(x), x, value)

    def expm1_small(self, x):
        """``exp(x) - 1`` for ``0 <= x <= 2 * TANH_SATURATION`` (2**k stays a double)."""
        k, r = self.reduced(x)
        scale_a, scale_b = self.power_of_two(k)
        scale = self.b.fmul(scale_a, scale_b)
        return self.muladd(scale, self.exp_minus_one_reduced(r), self.b.fsub(scale, self.const(1.0)))

    def tanh(self, x):
        magnitude = self.fabs(x)
        clamped = self.where(self.b.fcmp_ordered(">", magnitude, self.const(TANH_SATURATION)),
                             self.const(TANH_SATURATION), magnitude)
        u = self.expm1_small(self.b.fmul(clamped, self.const(2.0)))
        value = self.b.fdiv(u, self.b.fadd(u, self.const(2.0)))
        value = self.where(self.b.fcmp_ordered(">", magnitude, self.const(TANH_SATURATION)), self.const(1.0), value)
        return self.where(self.is_nan(x), x, self.copysign(value, x))

    def log(self, x):
        b = self.b
        # subnormals: scaled into the normal range first, 54 taken off the exponent after
        subnormal = b.fcmp_ordered("<", x, self.const(2.2250738585072014e-308))
        scaled = self.where(subnormal, b.fmul(x, self.const(2.0**54)), x)
        bits = b.bitcast(scaled, self.int64)
        fraction = b.and_(bits, self.integer((1 << 52) - 1))
        above_sqrt2 = b.icmp_signed(">", fraction, self.integer(SQRT2_MANTISSA))
        # m in [sqrt(1/2), sqrt(2)): the fraction under exponent 0, or -1 where it is above sqrt(2)
        exponent_field = self.where(above_sqrt2, self.integer(1022), self.integer(1023))
        m = b.bitcast(b.or_(fraction, b.shl(exponent_field, self.integer(52))), self.double)
        exponent = b.sub(b.lshr(bits, self.integer(52)), exponent_field)
        exponent = b.sub(exponent, self.where(subnormal, self.integer(54), self.integer(0)))
        e = b.sitofp(exponent, self.double)
        f = b.fdiv(b.fsub(m, self.const(1.0)), b.fadd(m, self.const(1.0)))
        s = b.fmul(f, f)
        series = self.const(1.0 / (2 * ATANH_TERMS + 1))
        for n in range(ATANH_TERMS - 1, 0, -1):
            series = self.muladd(series, s, self.const(1.0 / (2 * n + 1)))
        twice_f = b.fmul(f, self.const(2.0))
        tail = self.muladd(e, self.const(LN2_LO), b.fmul(b.fmul(twice_f, s), series))
        value = self.muladd(e, self.const(LN2_HI), b.fadd(twice_f, tail))
        value = self.where(b.fcmp_ordered("==", x, self.const(math.inf)), x, value)
        value = self.where(b.fcmp_ordered("==", x, self.const(0.0)), self.const(-math.inf), value)
        value = self.where(b.fcmp_ordered("<", x, self.const(0.0)), self.const(math.nan), value)
        return self.where(self.is_nan(x), x, value)


def _float_intrinsic(method):
    @intrinsic
    def float64_only(typingctx, x):
        if x != types.float64:
            return None

        def codegen(context, builder, signature, args):
            return getattr(_Builder(builder), method)(args[0])

        return types.float64(types.float64), codegen

    return float64_only


_exp = _float_intrinsic("exp")
_log = _float_intrinsic("log")
_tanh = _float_intrinsic("tanh")


def _overload(function, of_float, numpy_function):
    @overload(function, jit_options={"error_model": "numpy"})
    def typed(x):
        if isinstance(x, types.Float) and x.bitwidth == 64:
            return lambda x: of_float(x)
        if isinstance(x, types.Array) and x.dtype == types.float64:
            def of_array(x):
                out = np.empty(x.shape)
                flat_in = np.ascontiguousarray(x).reshape(-1)
                flat_out = out.reshape(-1)
                for i in range(flat_in.shape[0]):
                    flat_out[i] = of_float(flat_in[i])
                return out

            return of_array
        if isinstance(x, (types.Number, types.Boolean, types.Array)):
            return lambda x: numpy_function(x)
        return None


_overload(simd_exp, _exp, np.exp)
_overload(simd_log, _log, np.log)
_overload(simd_tanh, _tanh, np.tanh)


@intrinsic
def _reassociable_add(typingctx, s, e):
    if s != types.float64 or e != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.fadd(args[0], args[1], flags=("reassoc",))

    return types.float64(types.float64, types.float64), codegen


@overload(sum_in_any_order)
def _sum_in_any_order(s, e):
    if s == types.float64 and e == types.float64:
        return lambda s, e: _reassociable_add(s, e)
    return lambda s, e: s + e


@overload(scalar_where)
def _scalar_where(c, a, b):
    if isinstance(c, (types.Boolean, types.Integer)) and isinstance(a, types.Number) and isinstance(b, types.Number):
        return lambda c, a, b: a if c else b
    return None
