"""Random programs over NumPy arrays, as Python source text.

`array_programs()` is a hypothesis strategy giving an `ArrayProgram`: the
source of one module-level function

    def f(x, y, s, n):

(`x`, `y` float64 arrays of small fixed shapes such as (3,), (2, 3), (3, 1);
`s` a float; `n` a small int) that returns a float, and the argument values to
differentiate at (with respect to x, y and s). The statements are the array
language of README.md's "What you can write": elementwise arithmetic with
broadcasting between different shapes, NumPy's elementwise functions, slices
and views (`x[1:]`, `A[:, 0]`, `A.T`, `x[:, None]`, reshape/ravel),
reductions with and without `axis=`/`keepdims=True`, matrix products,
`np.cumsum`, `np.concatenate`/`np.stack`/`np.array([...])`, local arrays
(`.copy()`, `np.zeros_like`, ...), in-place updates of whole arrays, of
regions and of elements (also through another name of the same memory), time
loops `for _ in range(n):` that rebind arrays or update them in place,
element loops `for j in range(k):` (also as `reversed(range(k))`, `enumerate(x)` and
`zip(range(k), x)`), and `if`/`else` on float conditions.

Indexing with arrays of integers, NumPy's way (on about 40% of the programs):
int arrays built at the top of f (`i1 = np.array([0, 2, 2, -1])`, with
repeated and negative entries, sometimes one that depends on n, `n % 2`;
rarely, with SRCAD_ARRAY_FUZZ_EXOTIC, a module-level constant `I1 = ...`,
which srcad refuses today), each valid for the first axis of x or y (and of
any array as long); gathers `x[i1]`, rows `A[i1]`, `(e)[i1]` and elements
`x[i1[0]]`; scatters into local arrays (sometimes into x, y)
`b[i1] = v`, `b[i1] += v`, `b[i1] *= v` (NumPy keeps the last of repeated
writes); and scatter-add loops `for k in range(len(i1)): b[i1[k]] += ...`.

Shapes are tracked while generating, so programs are valid NumPy; the test
still runs each one as plain Python first (warnings are errors) and skips the
few that are not.

Central differences must be a trustworthy oracle, so values are kept bounded
(updates inside loops are squashed by tanh/sin and small steps, `exp` only of
bounded values, `sqrt`/`log` of values bounded away from zero, denominators
`1 + e*e` or `2 + cos(e)`), and kinks and ties are kept away from the point of
interest *at run time*: `checked_source` is the same function in which float
conditions call `_gt(lhs, rhs)` and `np` is `CheckedNumpy()`, whose `max`,
`min` and `abs` raise `TooClose` when the largest two candidates (or a value
and zero) are within `MARGIN`. The test runs `checked_source` once at the
arguments and skips programs that raise. (`np.prod` has no kink, so it is
left unchecked on purpose: its derivative through zeros is a fair question.)
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
from hypothesis import strategies as st

__all__ = [
    "ArrayProgram",
    "array_programs",
    "CheckedNumpy",
    "TooClose",
    "checked_namespace",
    "ARG_NAMES",
    "MARGIN",
]

ARG_NAMES = ("x", "y", "s", "n")
HEADER = "import math\n\nimport numpy as np\n\n\n"
# shapes of x and y (each program draws one of these per argument)
ARG_SHAPES = ((3,), (2, 3), (3, 1), (4,), (2, 2))
MAX_DIM = 6  # no axis longer than this, and at most 2 axes
MAX_N = 3
# kinks/ties closer than this at the point of interest: the program is skipped
MARGIN = float(os.environ.get("SRCAD_ARRAY_FUZZ_MARGIN", "0.05"))
# Rarely, constructs outside README's list (cumsum along an axis, ...): refusals expected.
EXOTIC = os.environ.get("SRCAD_ARRAY_FUZZ_EXOTIC", "1") != "0"
PIN = os.environ.get("SRCAD_ARRAY_FUZZ_PIN", "1") != "0"
# Constructs to leave out while hunting other bugs (comma-separated):
#   rankdrop: writes into a row or column of a 2-D array (x[0] = ..., A[:, 0] += ...)
#   matmul: np.matmul(a, b) (written a @ b instead)
AVOID = set(filter(None, os.environ.get("SRCAD_ARRAY_FUZZ_AVOID", "").split(",")))

Shape = Tuple[int, ...]


class TooClose(Exception):
    """A kink or tie of the program lies within MARGIN of the point of interest."""


def _check_gap(a, axis, largest: bool):
    a = np.asarray(a, dtype=float)
    if a.ndim == 0:
        return
    if axis is None:
        a = a.reshape(-1)
        axis = 0
    if a.shape[axis] < 2:
        return
    ordered = np.sort(a, axis=axis)
    ordered = np.moveaxis(ordered, axis, 0)
    gap = ordered[-1] - ordered[-2] if largest else ordered[1] - ordered[0]
    if np.any(gap < MARGIN):
        raise TooClose(f"{'max' if largest else 'min'} with a near tie (gap {np.min(gap):.3g})")


class CheckedNumpy:
    """`numpy`, except that max/min/abs raise TooClose near a tie or a kink."""

    def __getattr__(self, name):
        return getattr(np, name)

    def max(self, a, axis=None, keepdims=False):
        _check_gap(a, axis, True)
        return np.max(a, axis=axis, keepdims=keepdims)

    def min(self, a, axis=None, keepdims=False):
        _check_gap(a, axis, False)
        return np.min(a, axis=axis, keepdims=keepdims)

    def abs(self, a):
        if np.any(np.abs(np.asarray(a)) < MARGIN):
            raise TooClose("abs near 0")
        return np.abs(a)


def _gt(lhs, rhs):
    if abs(float(lhs) - float(rhs)) < MARGIN:
        raise TooClose(f"float condition {float(lhs):.4g} > {float(rhs):.4g} nearly even")
    return lhs > rhs


def checked_namespace() -> dict:
    return {"np": CheckedNumpy(), "math": math, "_gt": _gt}


def _literal(value) -> str:
    if isinstance(value, np.ndarray):
        return f"np.array({value.tolist()!r})"
    return repr(value)


@dataclasses.dataclass
class ArrayProgram:
    source: str  # the module srcad differentiates (`f` in it)
    checked_source: str  # `def f` with margin checks; run in checked_namespace()
    args: Tuple  # (x, y, s, n)
    wrt: Tuple[int, ...] = (0, 1, 2)

    def args_source(self) -> str:
        return ", ".join(f"{name}={_literal(value)}" for name, value in zip(ARG_NAMES, self.args))

    def __repr__(self):  # what hypothesis prints for a falsifying example
        return f"ArrayProgram({self.args_source()}, wrt={self.wrt!r}) with source:\n" + self.source


def _broadcast(a: Shape, b: Shape) -> Optional[Shape]:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        return None


def _fits(shape: Shape, want: Optional[Shape]) -> bool:
    return want is None or _broadcast(shape, want) == tuple(want)


def _ok(shape: Optional[Shape]) -> bool:
    return shape is not None and len(shape) <= 2 and all(1 <= d <= MAX_DIM for d in shape)


def _size(shape: Shape) -> int:
    return int(np.prod(shape)) if shape else 1


def _shape_literal(shape: Shape) -> str:
    return f"({shape[0]},)" if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"


class _Builder:
    def __init__(self, draw: Callable, x_shape: Shape, y_shape: Shape):
        self.draw = draw
        self.lines: List[Tuple[str, str]] = []  # (plain, checked)
        self.module_lines: List[str] = []  # module-level constants, before `def f`
        # int arrays: name -> the least and greatest value each entry can take
        self.index_arrays: Dict[str, List[Tuple[int, int]]] = {}
        self.index_loops: List[Tuple[str, str]] = []  # (k, i1) of `for k in range(len(i1)):`
        self.local_arrays = set()  # arrays f made (not views of its arguments)
        self.vars: Dict[str, Shape] = {"x": x_shape, "y": y_shape, "s": ()}
        self.loop_indices: List[Tuple[str, int, int]] = []  # (name, start, stop) of `for j in range(start, stop)`
        self.depth = 0
        self.time_depth = 0
        self.statements = 0
        self.counter = 0
        self.touched: List[str] = []  # names written or created, most recent last
        self.rebound = set()  # names bound again somewhere (x = x + ...)
        # names sharing memory with another name: not bound again, since srcad refuses
        # most views of rebound arrays (README); SRCAD_ARRAY_FUZZ_PIN=0 to generate them anyway
        self.pinned = set()

    # -- helpers -------------------------------------------------------------------

    def emit(self, indent: int, plain: str, checked: Optional[str] = None):
        pad = "    " * indent
        self.lines.append((pad + plain, pad + (plain if checked is None else checked)))

    def choice(self, options):
        return self.draw(st.sampled_from(list(options)))

    def integer(self, low, high):
        return self.draw(st.integers(low, high))

    def boolean(self, p=0.5):
        return self.draw(st.integers(0, 99)) < int(100 * p)

    def const(self):
        return self.choice(["0.5", "0.25", "1.5", "2.0", "0.1", "0.3", "0.75", "1.0", "0.9"])

    def fresh(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}"

    def touch(self, name):
        base = name.split("[")[0].split(".")[0]
        if base in self.vars:
            self.touched.append(base)

    def arrays(self) -> List[str]:
        return [name for name, shape in self.vars.items() if shape]

    def scalars(self) -> List[str]:
        return [name for name, shape in self.vars.items() if not shape]

    def dims(self) -> List[int]:
        found = sorted({d for shape in self.vars.values() for d in shape if d >= 2})
        return found or [2, 3]

    # -- views ------------------------------------------------------------------------

    def views(self, name: str, shape: Shape, for_write: bool = False) -> List[Tuple[str, Shape]]:
        """Readable (or writable) views of array `name`, with their shapes."""
        out: List[Tuple[str, Shape]] = [(name, shape)]
        if len(shape) == 1:
            (k,) = shape
            if k >= 2:
                out += [(f"{name}[1:]", (k - 1,)), (f"{name}[:-1]", (k - 1,))]
            if k >= 3:
                out += [(f"{name}[::2]", ((k + 1) // 2,)), (f"{name}[1:3]", (2,))]
            if not for_write:
                out += [(f"{name}[:, None]", (k, 1)), (f"{name}[None, :]", (1, k))]
                if k >= 4 and k % 2 == 0:
                    out.append((f"{name}.reshape(2, {k // 2})", (2, k // 2)))
                if k >= 2:
                    out.append((f"{name}.reshape({k}, 1)", (k, 1)))
        elif len(shape) == 2:
            r, c = shape
            out += [(f"{name}[:, 0]", (r,)), (f"{name}[0]", (c,)), (f"{name}[{r - 1}, :]", (c,))]
            if r >= 2:
                out.append((f"{name}[1:, :]", (r - 1, c)))
            if c >= 2:
                out += [(f"{name}[:, 1:]", (r, c - 1)), (f"{name}[:, -1]", (r,))]
            if not for_write:
                out += [(f"{name}.T", (c, r)), (f"{name}.ravel()", (r * c,)), (f"{name}.reshape(-1)", (r * c,))]
                if r != c and r > 1 and c > 1:
                    out.append((f"{name}.reshape({c}, {r})", (c, r)))
        if not for_write and shape:
            out += [(f"{name}[{index}]", (self.index_length(index),) + shape[1:]) for index in self.indices_for(shape[0])]
        if for_write and "rankdrop" in AVOID:
            out = [(text, sh) for text, sh in out if len(sh) == len(shape)]
        return [(text, sh) for text, sh in out if _ok(sh)]

    # -- arrays of integers as indices ------------------------------------------------

    def index_length(self, index: str) -> int:
        return len(self.index_arrays[index])

    def indices_for(self, length: int) -> List[str]:
        """The int arrays whose every entry indexes an axis of `length` (negative ones too)."""
        return [name for name, bounds in self.index_arrays.items()
                if all(-length <= low and high < length for low, high in bounds)]

    def index_array(self):
        """`i1 = np.array([0, 2, 2, -1])` at the top of f: entries for the first axis of x or y."""
        length = self.choice(sorted({self.vars["x"][0], self.vars["y"][0]}))
        count = self.integer(2, 5)
        entries = [self.integer(-length, length - 1) for _ in range(count)]
        texts, bounds = [str(e) for e in entries], [(e, e) for e in entries]
        if length >= 2 and self.boolean(0.2):  # an entry the caller's n decides
            position = self.integer(0, count - 1)
            texts[position], bounds[position] = "n % 2", (0, 1)
        literal = f"np.array([{', '.join(texts)}]" + (", dtype=np.int64)" if self.boolean(0.25) else ")")
        if EXOTIC and "n % 2" not in texts and self.boolean(0.1):
            name = f"I{len(self.index_arrays) + 1}"
            self.module_lines.append(f"{name} = {literal}")
        else:
            name = f"i{len(self.index_arrays) + 1}"
            self.emit(1, f"{name} = {literal}")
        self.index_arrays[name] = bounds

    def scatter_target(self, index: str, indent: int) -> str:
        """An array `index` indexes along its first axis: mostly one f made (made here if need be)."""
        length_ok = lambda name: self.vars[name] and index in self.indices_for(self.vars[name][0])  # noqa: E731
        local = [name for name in self.arrays() if name in self.local_arrays and length_ok(name)]
        if local and self.boolean(0.8):
            return self.choice(local)
        arguments = [name for name in ("x", "y") if name in self.vars and length_ok(name)]
        if arguments and self.boolean(0.2):
            return self.choice(arguments)
        source = self.choice([name for name in self.arrays() if length_ok(name)])
        shape = self.vars[source]
        name = self.fresh("B")
        made = self.choice([f"np.zeros_like({source})", f"{source}.copy()", f"np.ones({_shape_literal(shape)})",
                            f"0.5 * {source}"])
        self.emit(indent, f"{name} = {made}")
        self.vars[name] = shape
        self.local_arrays.add(name)
        self.statements += 1
        return name

    def scatter(self, indent):
        """`b[i1] = v`, `b[i1] += v`, `b[i1] *= v`, ... (of repeated entries the last write counts)."""
        index = self.choice(list(self.index_arrays))
        target = self.scatter_target(index, indent)
        shape = (self.index_length(index),) + self.vars[target][1:]
        if self.boolean(0.35):
            self.emit(indent, f"{target}[{index}] = {self.squashed(shape if self.boolean(0.8) else ())[0]}")
        else:
            self.emit(indent, self.update_line(f"{target}[{index}]", shape))
        self.touch(target)
        self.statements += 1

    def scatter_loop(self, indent, budget):
        """`for k in range(len(i1)): b[i1[k]] += ...`: repeated entries add up."""
        index = self.choice(list(self.index_arrays))
        if "k" in [k for k, _ in self.index_loops]:
            return self.scatter(indent)
        target = self.scatter_target(index, indent)
        shape = self.vars[target]
        count = self.index_length(index)
        self.emit(indent, f"for k in range(len({index})):")
        self.loop_indices.append(("k", 0, count))
        self.index_loops.append(("k", index))
        saved = dict(self.vars)
        self.depth += 1
        if len(shape) == 1:
            self.emit(indent + 1, f"{target}[{index}[k]] += {self.choice(['0.5', '0.25'])} * {self.squashed((), 2)[0]}")
        elif self.boolean(0.5):
            self.emit(indent + 1, f"{target}[{index}[k]] += 0.1 * {self.squashed(shape[1:], 2)[0]}")
        else:
            column = self.integer(0, shape[1] - 1)
            self.emit(indent + 1, f"{target}[{index}[k], {column}] += 0.5 * {self.squashed((), 2)[0]}")
        self.touch(target)
        if budget > 0 and self.boolean(0.4):
            self.block(indent + 1, budget - 1)
        self.depth -= 1
        self.vars = {name: shape for name, shape in self.vars.items() if name in saved}
        self.touched = [name for name in self.touched if name in saved]
        self.index_loops.pop()
        self.loop_indices.pop()
        self.statements += 1

    def elements(self, name: str, shape: Shape) -> List[str]:
        """Scalar element reads of `name` (constant or loop indices)."""
        out = []
        if len(shape) == 1:
            out += [f"{name}[{i}]" for i in range(shape[0])] + [f"{name}[-1]"]
        else:
            r, c = shape
            out += [f"{name}[{i}, {j}]" for i in range(r) for j in range(c)]
        for index in self.indices_for(shape[0]):
            entry = f"{index}[{self.integer(0, self.index_length(index) - 1)}]"
            out.append(f"{name}[{entry}]" if len(shape) == 1 else f"{name}[{entry}, {self.integer(0, shape[1] - 1)}]")
        for k, index in self.index_loops:
            if index in self.indices_for(shape[0]):
                out.append(f"{name}[{index}[{k}]]" if len(shape) == 1 else f"{name}[{index}[{k}], 0]")
        for index, start, stop in self.loop_indices:
            if stop <= shape[0]:
                out.append(f"{name}[{index}]" if len(shape) == 1 else f"{name}[{index}, {self.integer(0, shape[1] - 1)}]")
                if start >= 1:
                    out.append(f"{name}[{index} - 1]" if len(shape) == 1 else f"{name}[{index} - 1, 0]")
        return out

    # -- expressions ----------------------------------------------------------------
    # Every expression is (text, shape); with `want`, the shape broadcasts to `want`.

    def scalar_atom(self) -> Tuple[str, Shape]:
        r = self.integer(0, 9)
        if r <= 3:
            return self.choice(self.scalars()), ()
        if r <= 5:
            return self.const(), ()
        if r <= 7:
            name = self.choice(self.arrays())
            return self.choice(self.elements(name, self.vars[name])), ()
        if r == 8:
            return self.choice(["0.1 * n", "0.3 * (n + 1)", "n / 4"]), ()
        name = self.choice(self.arrays())
        return self.choice([f"np.sum({name})", f"np.mean({name})", f"{name}.sum()"]), ()

    def atom(self, want: Optional[Shape]) -> Tuple[str, Shape]:
        if want == () or self.boolean(0.25):
            return self.scalar_atom()
        if self.index_arrays and self.boolean(0.15):
            gathers = [v for n in self.arrays() for v in self.views(n, self.vars[n])
                       if "[i" in v[0] or "[I" in v[0] if _fits(v[1], want)]
            if gathers:
                return self.choice(gathers)
        names = [n for n in self.arrays() if _fits(self.vars[n], want)]
        if names and self.boolean(0.5):
            name = self.choice(names)
            return name, self.vars[name]
        candidates = [v for n in self.arrays() for v in self.views(n, self.vars[n]) if _fits(v[1], want)]
        if not candidates:
            return self.scalar_atom()
        return self.choice(candidates)

    def exact(self, shape: Shape, depth: int) -> Tuple[str, Shape]:
        """An expression of exactly `shape`."""
        candidates = [v for n in self.arrays() for v in self.views(n, self.vars[n]) if v[1] == shape]
        if candidates and self.boolean(0.8):
            base, _ = self.choice(candidates)
            if depth > 0 and self.boolean(0.5):
                other, _ = self.expr(depth - 1, shape)
                return f"({base} {self.choice(['+', '-', '*'])} {other})", shape
            return base, shape
        text, got = self.expr(depth, shape)
        if got == shape:
            return text, shape
        return f"({self.choice(['np.zeros', 'np.ones'])}({_shape_literal(shape)}) + {text})", shape

    def expr(self, depth: int, want: Optional[Shape] = None) -> Tuple[str, Shape]:
        if depth <= 0 or self.boolean(0.25):
            return self.atom(want)
        kind = self.integer(0, 22)
        if kind <= 4:
            result = self.binary(depth, want)
        elif kind == 5:
            result = self.division(depth, want)
        elif kind <= 9:
            result = self.unary(depth, want)
        elif kind <= 12:
            result = self.reduction(depth)
        elif kind == 13:
            result = self.product(depth)
        elif kind == 14:
            result = self.cumsum(depth)
        elif kind == 15:
            result = self.join(depth)
        elif kind == 16:
            result = self.array_literal(depth)
        elif kind == 17:
            a, sh = self.expr(depth - 1, want)
            scale, _ = self.scalar_atom() if self.boolean(0.5) else (self.const(), ())
            if self.boolean(0.25):  # negative literals where precedence matters
                scale = self.choice(["(-1) ** n", "-0.5", "(-2.0) ** 2 / 8.0", "-0.5 ** 2", "(-1.0) ** (n + 1)"])
            result = (f"({scale} * {a})" if self.boolean() else f"({a} * {scale})"), sh
        elif kind == 18:
            result = self.view_of_expr(depth)
        else:
            result = self.binary(depth, want)
        if result is None or not _ok(result[1]) and result[1] != () or not _fits(result[1], want):
            return self.atom(want)
        return result

    def binary(self, depth, want):
        a, sa = self.expr(depth - 1, want)
        if want is not None:
            b, sb = self.expr(depth - 1, want)
        else:
            b, sb = self.expr(depth - 1, sa if self.boolean(0.5) else None)
            if _broadcast(sa, sb) is None or not _ok(_broadcast(sa, sb)) and _broadcast(sa, sb) != ():
                b, sb = self.expr(depth - 1, sa)
        shape = _broadcast(sa, sb)
        return f"({a} {self.choice(['+', '-', '*', '+'])} {b})", shape

    def division(self, depth, want):
        a, sa = self.expr(depth - 1, want)
        b, sb = self.expr(depth - 1, want if want is not None else sa)
        shape = _broadcast(sa, sb)
        form = self.integer(0, 2)
        if form == 0:
            return f"({a} / (1.0 + {b} * {b}))", shape
        if form == 1:
            return f"({a} / (2.0 + np.cos({b})))", shape
        scalar, _ = self.scalar_atom()
        return f"({a} / (1.0 + {scalar} * {scalar}))", sa

    def unary(self, depth, want):
        a, sa = self.expr(depth - 1, want)
        forms = [
            f"np.sin({a})", f"np.cos({a})", f"np.tanh({a})", f"np.exp(np.tanh({a}))",
            f"np.exp(0.5 * np.sin({a}))", f"np.sqrt(1.0 + {a} * {a})", f"np.sqrt(2.0 + np.cos({a}))",
            f"np.log(1.5 + np.tanh({a}))", f"np.log(1.0 + {a} * {a})", f"np.abs({a})",
            f"np.abs(2.0 + np.tanh({a}))", f"{a} ** 2", f"(-{a})", f"np.exp(-{a} * {a})",
        ]
        return self.choice(forms), sa

    def reduction(self, depth):
        a, sa = self.expr(depth - 1, None)
        if sa == ():
            return a, ()
        func = self.choice(["sum", "sum", "mean", "max", "min", "prod"])
        if func == "prod" and _size(sa) > 6:
            func = "sum"
        axis = None
        if self.boolean(0.5):
            axis = self.integer(0, len(sa) - 1)
        keepdims = axis is not None and self.boolean(0.4) or axis is None and self.boolean(0.1)
        if axis is None:
            shape: Shape = tuple(1 for _ in sa) if keepdims else ()
        else:
            shape = tuple(1 if i == axis else d for i, d in enumerate(sa)) if keepdims else tuple(
                d for i, d in enumerate(sa) if i != axis)
        arguments = ([f"axis={axis}"] if axis is not None else []) + (["keepdims=True"] if keepdims else [])
        if func in ("sum", "mean", "prod") and self.boolean(0.3):
            a = a if a.isidentifier() else f"({a})"
            return f"{a}.{func}({', '.join(arguments)})", shape
        return f"np.{func}({', '.join([a] + arguments)})", shape

    def product(self, depth):
        dims = self.dims()
        m, k, p = self.choice(dims), self.choice(dims), self.choice(dims)
        pattern = self.integer(0, 4)
        if pattern == 0:
            left, right, shape = (m, k), (k, p), (m, p)
        elif pattern == 1:
            left, right, shape = (m, k), (k,), (m,)
        elif pattern == 2:
            left, right, shape = (k,), (k, p), (p,)
        elif pattern == 3:
            left, right, shape = (k,), (k,), ()
        else:
            u, _ = self.exact((m,), depth - 1)
            v, _ = self.exact((p,), depth - 1)
            return f"np.outer({u}, {v})", (m, p)
        a, _ = self.exact(left, depth - 1)
        b, _ = self.exact(right, depth - 1)
        form = self.integer(0, 3)
        if form <= 1:
            return f"({a} @ {b})", shape
        if form == 2:
            return f"np.dot({a}, {b})", shape
        if "matmul" in AVOID:
            return f"({a} @ {b})", shape
        return f"np.matmul({a}, {b})", shape

    def cumsum(self, depth):
        a, sa = self.expr(depth - 1, None)
        if sa == ():
            return None
        if len(sa) == 2 and EXOTIC and self.boolean(0.15):
            return f"np.cumsum({a}, axis=0)", sa
        return f"np.cumsum({a})", (_size(sa),)

    def join(self, depth):
        dims = self.dims()
        if self.boolean(0.6):  # rank 1
            p, q = self.choice([1] + dims), self.choice([1] + dims)
            a, _ = self.exact((p,), depth - 1)
            b, _ = self.exact((q,), depth - 1)
            if self.boolean(0.5):
                return f"np.concatenate([{a}, {b}])" if self.boolean() else f"np.concatenate(({a}, {b}), axis=0)", (p + q,)
            a2, _ = self.exact((p,), depth - 1)
            return f"np.stack([{a}, {a2}])" if self.boolean() else f"np.stack(({a}, {a2}), axis=0)", (2, p)
        c = self.choice(dims)
        p, q = self.choice([1, 2]), self.choice([1, 2, 3])
        a, _ = self.exact((p, c), depth - 1)
        b, _ = self.exact((q, c), depth - 1)
        return f"np.concatenate([{a}, {b}])", (p + q, c)

    def array_literal(self, depth):
        k = self.integer(2, 3)
        items = [self.expr(max(depth - 2, 0), ())[0] for _ in range(k)]
        if self.boolean(0.2):
            more = [self.expr(0, ())[0] for _ in range(k)]
            return f"np.array([[{', '.join(items)}], [{', '.join(more)}]])", (2, k)
        return f"np.array([{', '.join(items)}])", (k,)

    def view_of_expr(self, depth):
        """A slice/transpose of a computed (non-variable) array."""
        a, sa = self.expr(depth - 1, None)
        if sa == ():
            return a, ()
        if a.isidentifier():
            options = self.views(a, sa)
        else:
            options = [(t.replace("__E__", f"({a})"), sh) for t, sh in self.views("__E__", sa)]
        return self.choice(options)

    def squashed(self, want: Optional[Shape], depth: int = 2) -> Tuple[str, Shape]:
        """An expression of magnitude at most ~1.5 whatever its inputs."""
        e, shape = self.expr(depth, want)
        form = self.integer(0, 4)
        if form == 0:
            return f"np.tanh({e})", shape
        if form == 1:
            return f"np.sin({e})", shape
        if form == 2:
            return f"np.cos({e})", shape
        if form == 3:
            return f"{self.const()} * np.tanh({e})", shape
        return f"np.arctan({e})", shape

    def scalar_expr(self, depth: int = 2) -> str:
        return self.expr(depth, ())[0]

    # -- statements ----------------------------------------------------------------

    def new_array(self, indent):
        name = self.fresh(self.choice(["v", "w", "B"]))
        arrays = self.arrays()
        kind = self.integer(0, 6)
        if kind == 0:
            src, shape = self.choice([v for n in arrays for v in self.views(n, self.vars[n])])
            text = f"{src}.copy()" if src.isidentifier() or self.boolean(0.7) else f"({src}).copy()"
        elif kind == 1:
            src = self.choice(arrays)
            shape = self.vars[src]
            func = self.choice(["np.zeros_like", "np.ones_like", "np.empty_like"])
            if func == "np.empty_like":  # empty: must be filled before it is read
                self.emit(indent, f"{name} = np.empty_like({src})")
                self.emit(indent, f"{name}[...] = {self.squashed(shape)[0]}" if EXOTIC and self.boolean(0.2)
                          else f"{name}.fill({self.scalar_expr(1)})" if EXOTIC and self.boolean(0.2)
                          else f"{name}[:] = {self.squashed(shape)[0]}")
                self.vars[name] = shape
                self.local_arrays.add(name)
                self.touched.append(name)
                self.statements += 1
                return
            text = f"{func}({src})"
        elif kind == 2:
            shape = self.choice([self.vars[n] for n in arrays])
            func = self.choice(["np.zeros", "np.ones"])
            text = f"{func}({_shape_literal(shape)})" if self.boolean() else f"{func}({shape[0]})" if len(shape) == 1 else f"{func}({_shape_literal(shape)})"
        elif kind == 3:
            text, shape = self.squashed(None, 3)
        else:
            text, shape = self.expr(3 if self.depth == 0 else 2, None)
        if shape == ():
            self.emit(indent, f"{name} = {text}")
            self.vars[name] = ()
        else:
            self.emit(indent, f"{name} = {text}")
            self.vars[name] = shape
            if not text.isidentifier():  # `v1 = x` would be x under another name
                self.local_arrays.add(name)
        self.touched.append(name)
        self.statements += 1

    def new_scalar(self, indent):
        name = self.fresh("t")
        text = self.scalar_expr(3 if self.depth == 0 else 2)
        if self.depth > 0 or self.boolean(0.3):
            text = f"np.tanh({text})" if self.boolean() else f"math.sin({text})"
        self.emit(indent, f"{name} = {text}")
        self.vars[name] = ()
        self.touched.append(name)
        self.statements += 1

    def update_line(self, target: str, shape: Shape) -> str:
        """An in-place update `target op= e`, bounded whatever `target` holds."""
        op = self.integer(0, 5)
        if op <= 1:
            e, _ = self.squashed(shape)
            return f"{target} += {self.choice(['0.1', '0.25', '0.5'])} * {e}"
        if op == 2:
            e, _ = self.squashed(shape)
            return f"{target} -= {self.choice(['0.1', '0.5'])} * {e}"
        if op == 3:
            e, _ = self.expr(2, shape)
            return f"{target} *= 0.75 + 0.25 * np.tanh({e})"
        if op == 4:
            e, _ = self.expr(2, shape)
            return f"{target} /= 2.0 + np.cos({e})"
        if self.depth == 0:
            e, _ = self.expr(2, shape)
            return f"{target} += {e}"
        e, _ = self.squashed(shape)
        return f"{target} = {e}" if shape == () else f"{target} += 0.1 * {e}"

    def inplace(self, indent, target=None):
        target = target or self.choice(self.arrays())
        self.emit(indent, self.update_line(target, self.vars[target]))
        self.touch(target)
        self.statements += 1

    def region(self, indent, target=None):
        target = target or self.choice(self.arrays())
        options = [v for v in self.views(target, self.vars[target], for_write=True) if v[0] != target]
        if not options:
            return self.inplace(indent, target)
        view, shape = self.choice(options)
        if self.boolean(0.35):
            e, _ = self.squashed(shape)
            self.emit(indent, f"{view} = {e}")
        else:
            self.emit(indent, self.update_line(view, shape))
        self.touch(target)
        self.statements += 1

    def element(self, indent, target=None):
        target = target or self.choice(self.arrays())
        shape = self.vars[target]
        loop = [(i, a, b) for i, a, b in self.loop_indices if b <= shape[0]]
        if loop and self.boolean(0.7):
            index, start, _ = self.choice(loop)
            if start >= 1 and self.boolean(0.5):
                column = ", 0" if len(shape) == 2 and "rankdrop" in AVOID else ""
                prev = f"{target}[{index} - 1{column}]"
                here = f"{target}[{index}{column}]"
                if len(shape) == 1 or column:
                    self.emit(indent, f"{here} = {here} + 0.1 * np.tanh({prev} * {self.scalar_expr(1)})")
                else:
                    self.emit(indent, f"{here} = {here} + 0.1 * np.tanh({prev})")
                self.touch(target)
                self.statements += 1
                return
            position = f"{target}[{index}]" if len(shape) == 1 else f"{target}[{index}, {self.integer(0, shape[1] - 1)}]"
        elif len(shape) == 1:
            position = f"{target}[{self.integer(-1, shape[0] - 1)}]"
        elif self.boolean(0.3) and "rankdrop" not in AVOID:  # a whole row
            row = f"{target}[{self.integer(0, shape[0] - 1)}]"
            self.emit(indent, self.update_line(row, shape[1:]) if self.boolean() else f"{row} = {self.squashed(shape[1:])[0]}")
            self.touch(target)
            self.statements += 1
            return
        else:
            position = f"{target}[{self.integer(0, shape[0] - 1)}, {self.integer(0, shape[1] - 1)}]"
        if self.boolean(0.4):
            self.emit(indent, f"{position} = {self.squashed((), 2)[0]}")
        else:
            self.emit(indent, self.update_line(position, ()))
        self.touch(target)
        self.statements += 1

    def alias(self, indent):
        """`b = a` (or a view of a), then writes through b."""
        arrays = self.arrays()
        fresh = [name for name in arrays if name not in self.rebound]
        source = self.choice(fresh if fresh and (self.boolean(0.85) or not PIN) else arrays)
        shape = self.vars[source]
        options = [(source, shape)] * 3 + [v for v in self.views(source, shape, for_write=True) if v[0] != source]
        if len(shape) == 2:
            options.append((f"{source}.T", (shape[1], shape[0])))
        view, view_shape = self.choice(options)
        name = self.fresh("b")
        self.emit(indent, f"{name} = {view}")
        self.vars[name] = view_shape
        if PIN:
            self.pinned.update((name, source))
        self.statements += 1
        for _ in range(self.integer(1, 2)):
            self.choice([self.inplace, self.region, self.element])(indent, name)
        self.touch(source)

    def rebind(self, indent):
        target = self.choice([name for name in self.arrays() if name not in self.pinned] + self.scalars())
        shape = self.vars[target]
        self.rebound.add(target)
        form = self.integer(0, 4)
        if form == 0:
            e, _ = self.expr(2, shape)
            text = f"0.5 * {target} + 0.5 * np.tanh({e})"
        elif form == 1:
            e, _ = self.squashed(shape)
            text = f"{target} + {self.choice(['0.1', '0.05', '0.2'])} * {e}"
        elif form == 2:
            e, _ = self.expr(2, shape)
            text = f"np.tanh({target}) + 0.1 * np.sin({e})"
        elif form == 3:
            e, _ = self.squashed(shape)
            text = f"{target} - 0.1 * ({target} - {e})"
        else:
            if shape == ():
                text = f"0.9 * {target}"
            else:
                text = f"{target} * 0.9 + {self.squashed(shape)[0]} * 0.1"
        self.emit(indent, f"{target} = {text}")
        self.touched.append(target)
        self.statements += 1

    def physics_step(self, indent):
        """acc = -k x - c v; v = v + dt acc; x = x + dt v  (the README's oscillators)."""
        arrays = self.arrays()
        arrays = [name for name in arrays if name not in self.pinned]
        pairs = [(p, q) for p in arrays for q in arrays if p != q and self.vars[p] == self.vars[q]]
        if not pairs:
            name = self.fresh("v")
            src = self.choice(arrays or ["x", "y"])
            self.emit(indent, f"{name} = np.zeros_like({src})")
            self.vars[name] = self.vars[src]
            pairs = [(src, name)]
        p, q = self.choice(pairs)
        acc = self.fresh("acc")
        k = self.choice(["s", "0.7", "(1.0 + s * s)", "np.tanh(s)"])
        self.emit(indent, f"{acc} = -{k} * {p} - 0.2 * {q}")
        if self.boolean(0.5) and p not in self.pinned and q not in self.pinned:
            self.rebound.update((p, q))
            self.emit(indent, f"{q} = {q} + 0.1 * {acc}")
            self.emit(indent, f"{p} = {p} + 0.1 * {q}")
        else:
            self.emit(indent, f"{q} += 0.1 * {acc}")
            self.emit(indent, f"{p} += 0.1 * {q}")
        self.vars[acc] = self.vars[p]
        self.touched += [p, q]
        self.statements += 3

    def scoped_block(self, indent, budget, setup=None):
        saved = dict(self.vars)
        self.depth += 1
        self.block(indent, budget)
        self.depth -= 1
        # names first bound inside the block may be unbound after it
        self.vars = {name: shape for name, shape in self.vars.items() if name in saved}
        self.touched = [name for name in self.touched if name in saved]

    def time_loop(self, indent, budget):
        bound = self.choice(["n", "n", "n + 1", "2", "min(n, 2)"])
        self.emit(indent, f"for _ in range({bound}):")
        self.time_depth += 1
        if self.boolean(0.3):
            saved = dict(self.vars)
            self.depth += 1
            self.physics_step(indent + 1)
            self.block(indent + 1, budget - 1)
            self.depth -= 1
            self.vars = {name: shape for name, shape in self.vars.items() if name in saved}
            self.touched = [name for name in self.touched if name in saved]
        else:
            self.scoped_block(indent + 1, budget - 1)
        self.time_depth -= 1
        self.statements += 1

    def element_loop(self, indent, budget):
        target = self.choice(self.arrays())
        length = self.vars[target][0]
        names = [i for i in ("j", "i") if i not in [index for index, _, _ in self.loop_indices]]
        if length < 2 or not names:
            return self.element(indent, target)
        index = self.choice(names)
        start = self.integer(0, 1)
        self.emit(indent, self.loop_header(index, start, length, target))
        self.loop_indices.append((index, start, length))
        saved = dict(self.vars)
        self.depth += 1
        self.element(indent + 1, target)
        if budget > 0 and self.boolean(0.5):
            self.block(indent + 1, budget - 1)
        self.depth -= 1
        self.vars = {name: shape for name, shape in self.vars.items() if name in saved}
        self.touched = [name for name in self.touched if name in saved]
        self.loop_indices.pop()
        self.statements += 1

    def loop_header(self, index, start, length, target):
        """A loop of ``index`` over ``start..length - 1``, as range, reversed, enumerate or zip
        (the last two over a vector's items, which the body does not use)."""
        bounds = f"{start}, {length}" if start else f"{length}"
        form = self.integer(0, 5)
        if form == 1:
            return f"for {index} in reversed(range({bounds})):"
        if form == 2 and start == 0 and len(self.vars[target]) == 1:
            return f"for {index}, _ in enumerate({target}):"
        if form == 3 and len(self.vars[target]) == 1:
            return f"for {index}, _ in zip(range({bounds}), {target}):"
        return f"for {index} in range({bounds}):"

    def if_statement(self, indent, budget):
        if self.boolean(0.25):
            condition = self.choice(["n > 1", "n % 2 == 0", "n == 0", "n >= 2"])
            checked = condition
        else:
            lhs = self.scalar_expr(2)
            rhs = self.choice(["0.0", "0.3", "-0.5", "1.0"])
            if self.boolean(0.5):
                condition, checked = f"{lhs} > {rhs}", f"_gt({lhs}, {rhs})"
            else:
                condition, checked = f"{rhs} > {lhs}", f"_gt({rhs}, {lhs})"
        self.emit(indent, f"if {condition}:", f"if {checked}:")
        self.scoped_block(indent + 1, budget - 1)
        if self.boolean(0.6):
            self.emit(indent, "else:")
            self.scoped_block(indent + 1, budget - 1)
        self.statements += 1

    def block(self, indent, budget):
        for _ in range(self.integer(1, 3)):
            self.statement(indent, budget)

    def statement(self, indent, budget):
        if self.statements > 30:
            budget = 0
        r = self.integer(0, 19 if self.index_arrays else 15)
        if r in (16, 17):
            self.scatter(indent)
        elif r >= 18:
            if budget > 0 and self.depth < 3:
                self.scatter_loop(indent, budget)
            else:
                self.scatter(indent)
        elif r <= 1:
            self.new_array(indent)
        elif r == 2:
            self.new_scalar(indent)
        elif r <= 4:
            self.inplace(indent)
        elif r <= 6:
            self.region(indent)
        elif r == 7:
            self.element(indent)
        elif r == 8:
            self.alias(indent)
        elif r <= 10:
            self.rebind(indent)
        elif r <= 12 and budget > 0 and self.time_depth < 2:
            self.time_loop(indent, budget)
        elif r == 13 and budget > 0 and self.depth < 3:
            self.element_loop(indent, budget)
        elif r == 14 and budget > 0:
            self.if_statement(indent, budget)
        else:
            self.rebind(indent)

    def return_statement(self):
        names = list(dict.fromkeys(reversed(self.touched)))[:3]
        others = [n for n in self.vars if n not in names]
        names += [self.choice(others) for _ in range(self.integer(0, 2)) if others]
        names = list(dict.fromkeys(names)) or ["x"]
        terms = []
        for position, name in enumerate(names):
            shape = self.vars[name]
            weight = ["1.0", "0.7", "-0.6", "1.3", "0.45"][position % 5]
            if shape == ():
                term = self.choice([name, f"np.sin({name})", f"{name} * {name}"])
            else:
                partners = [n for n in self.arrays() if _fits(self.vars[n], shape)]
                partner = self.choice(partners) if partners else name
                term = self.choice([
                    f"np.sum({name} * {name})", f"np.sum(np.sin({name}))", f"np.mean({name} ** 3)",
                    f"np.sum({name})", f"np.max({name})", f"np.sum(np.cos({name}) * {name})",
                    f"np.sum({name} * {partner})",
                ])
            terms.append(f"{weight} * {term}")
        self.emit(1, "return " + " + ".join(terms))


def _array(draw, shape: Shape) -> np.ndarray:
    size = _size(shape)
    values = draw(st.lists(st.integers(-150, 150), min_size=size, max_size=size))
    return (np.array(values, dtype=np.float64) / 100.0).reshape(shape)


@st.composite
def array_programs(draw, max_statements: int = 7) -> ArrayProgram:
    x_shape = draw(st.sampled_from(ARG_SHAPES))
    y_shape = draw(st.sampled_from(ARG_SHAPES))
    builder = _Builder(draw, x_shape, y_shape)
    if draw(st.integers(0, 9)) < 4:
        for _ in range(draw(st.integers(1, 2))):
            builder.index_array()
    for _ in range(draw(st.integers(1, max_statements))):
        builder.statement(1, draw(st.integers(1, 3)))
    used = "\n".join(line for line, _ in builder.lines)
    if builder.index_arrays and not any(f"{name}[" in used for name in builder.index_arrays):
        builder.scatter(1)  # every program with int arrays uses them
    builder.return_statement()
    plain = "\n".join(line for line, _ in builder.lines) + "\n"
    checked = "\n".join(line for _, line in builder.lines) + "\n"
    constants = "".join(line + "\n" for line in builder.module_lines) + ("\n\n" if builder.module_lines else "")
    source = HEADER + constants + "def f(x, y, s, n):\n" + plain
    checked_source = constants + "def f(x, y, s, n):\n" + checked
    x = _array(draw, x_shape)
    y = _array(draw, y_shape)
    s = draw(st.integers(-150, 150)) / 100.0
    n = draw(st.integers(0, MAX_N))
    return ArrayProgram(source, checked_source, (x, y, s, n))
