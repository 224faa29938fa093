"""Random programs in srcad's scalar language, as Python source text.

`programs()` is a hypothesis strategy giving a `Program`: the source of one
module-level function `f`, its argument kinds, and the argument values to
differentiate at. The language is the one README.md's "What you can write"
lists, restricted so that float central differences are a trustworthy oracle:

- every branch (`if`, `while`, `break`, `continue`, early `return`,
  conditional expressions) is decided by int values, by float comparisons
  with margins far larger than any value the program can reach (`s < 100.0`
  where |s| stays below ~30), or by float comparisons whose outcome changes
  from one input to another (`x > 0.3`, `-0.5 < s <= 1.0`): the oracle's
  estimates do not settle where a step crosses one, and that point is skipped;
- every float value stays bounded: inside loops, assigned values are squashed
  (tanh, scaled by 0.5, ...), denominators are kept away from zero
  (`1.0 + t*t`), `exp` only of bounded values, `log` of `2.0 + sin(t)`,
  `sqrt` of `1.0 + t*t`;
- `abs`/`min`/`max` only where no kink or tie can be reached
  (`abs(2.0 + tanh(t))`, `max(t, t*t + 1.0)`, `min(tanh(t), 2.0 + cos(t))`).

Helper functions: a program may define one or two module-level helpers
before `f` (float arguments `v`, `w`, maybe an int `k`, often with a default;
a body drawn like f's, small, with loops and branches; maybe
`@srcad.differentiable`; the second may call the first), and f calls them
(positional and keyword arguments, defaults left out). Helpers never use
`srcad.no_grad` (the oracle freezes it in `f` only).

Loops run over `range(...)`, also as `reversed(range(...))` and `enumerate(range(...))`.

Negative literals appear where precedence matters: `(-1) ** i * t`, `(-2.0) ** 3 * t`,
`-t ** 2`, `t - -0.5`, `(1.5 + tanh(t)) ** -2`.

Variables that are read are always bound: every float local is initialised at
the top of the function, loop indices are read only inside their loop, and
the counter of a `while` is incremented first thing in its body so that a
`continue` cannot make it spin.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, List, Optional, Sequence, Tuple

from hypothesis import strategies as st

__all__ = ["Program", "programs", "FLOAT_NAMES", "INT_NAME", "Helper"]

FLOAT_NAMES = ("x", "y", "z")
INT_NAME = "n"
LOCAL_FLOATS = ("a", "b", "c", "s", "t", "u")
LOCAL_INTS = ("m", "r")
# module-level constants every program defines (README: "module-level constants")
HEADER = "import math\n\nimport srcad\n\nSCALE = 0.7\nCOUNT = 3\n\n\n"
# Use srcad.no_grad(...) in generated programs (the oracle freezes it).
NO_GRAD = os.environ.get("SRCAD_FUZZ_NO_GRAD", "1") != "0"
MAX_LOOP_COUNT = 6
# Literal `True`/`False` conditions (what `if DEBUG:` becomes); set
# SRCAD_FUZZ_LITERAL_CONDITIONS=0 to leave them out while hunting other bugs.
LITERAL_CONDITIONS = os.environ.get("SRCAD_FUZZ_LITERAL_CONDITIONS", "1") != "0"
# Helper functions before f, called from f; SRCAD_FUZZ_HELPERS=0 leaves them out.
HELPERS = os.environ.get("SRCAD_FUZZ_HELPERS", "1") != "0"
HELPER_FLOAT_NAMES = ("v", "w")
HELPER_INT_NAME = "k"


@dataclasses.dataclass
class Helper:
    """A module-level helper function the program defines: its name and parameters."""

    name: str
    float_params: Tuple[str, ...]
    int_param: Optional[str]  # at the end of the parameters
    default: Optional[int]  # of the int parameter


@dataclasses.dataclass
class Program:
    source: str
    arg_names: Tuple[str, ...]
    arg_kinds: Tuple[str, ...]  # "float" or "int"
    args: Tuple
    wrt: Tuple[int, ...]
    uses_no_grad: bool = False

    def __repr__(self):  # what hypothesis prints for a falsifying example
        return (
            f"Program(args={self.args!r}, wrt={self.wrt!r}) with source:\n"
            + self.source
        )


class _Builder:
    """Draws one function body. `draw` is hypothesis' `data.draw`/composite draw."""

    def __init__(self, draw: Callable, float_args, has_int_arg: bool, int_name: str = INT_NAME,
                 helpers: Sequence[Helper] = (), no_grad: bool = NO_GRAD):
        self.draw = draw
        self.lines: List[str] = []
        self.float_vars = list(float_args)  # floats readable everywhere
        self.int_vars: List[str] = [int_name] if has_int_arg else []
        self.helpers = list(helpers)  # functions this body may call
        self.helper_calls = 0
        self.no_grad = no_grad
        self.loop_vars: List[str] = []  # int loop indices in scope
        self.depth = 0  # loop nesting
        self.statements = 0
        self.counter = 0
        self.uses_no_grad = False

    # -- helpers ---------------------------------------------------------

    def emit(self, indent: int, text: str):
        self.lines.append("    " * indent + text)

    def choice(self, options):
        return self.draw(st.sampled_from(options))

    def integer(self, low, high):
        return self.draw(st.integers(low, high))

    def boolean(self, p=0.5):
        return self.draw(st.floats(0.0, 1.0)) < p

    def const(self):
        return self.choice(["0.5", "0.25", "1.5", "2.0", "0.1", "0.3", "0.75", "1.0", "3.0", "0.9"])

    def fresh(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}"

    # -- int expressions (never active) -------------------------------------

    def int_atom(self):
        pool = self.int_vars + self.loop_vars
        if pool and self.boolean(0.8):
            return self.choice(pool)
        return self.choice(["COUNT", str(self.integer(0, 4))])

    def int_expr(self):
        kind = self.integer(0, 4)
        a = self.int_atom()
        if kind <= 1:
            return a
        b = self.int_atom()
        if kind == 2:
            return f"({a} + {b})"
        if kind == 3:
            return f"({a} * {b} % 5)"
        if self.boolean():
            return f"max({a} - {b}, 1)"
        return f"({a} // 2 - {b})"

    def int_condition(self):
        pool = self.int_vars + self.loop_vars
        if not pool:
            if LITERAL_CONDITIONS:
                return self.choice(["True", "False"])
            return self.safe_float_condition()
        v = self.choice(pool)
        kind = self.integer(0, 6)
        if kind == 0:
            return f"{v} % 2 == 0"
        if kind == 1:
            return f"{v} > {self.integer(0, 4)}"
        if kind == 2:
            return f"{v} == {self.integer(0, 4)}"
        if kind == 3:
            return f"{v} % 3 != 1"
        if kind == 4 and len(pool) > 1:
            w = self.choice(pool)
            return f"{v} < {w}"
        if kind == 5:
            return f"not {v} > {self.integer(1, 3)}"
        if self.boolean(0.3):
            return f"{v} == {self.integer(0, 3)} or {v} > {self.integer(3, 5)}"
        return f"{v} >= {self.integer(0, 3)} and {v} != {self.integer(0, 5)}"

    def safe_float_condition(self):
        """A float comparison no reachable value comes near: constant truth value."""
        v = self.choice(self.float_vars)
        return self.choice([f"{v} < 100.0", f"{v} > -100.0", f"{v} * {v} < 1000.0", f"abs({v}) < 200.0"])

    def varying_float_condition(self):
        """A float comparison whose outcome changes from one input to another (the oracle skips
        points where a finite-difference step would cross it)."""
        v = self.choice(self.float_vars)
        w = self.choice(self.float_vars)
        c = self.choice(["0.3", "-0.2", "0.0", "1.1", "-0.75"])
        return self.choice([
            f"{v} > {c}",
            f"{v} < {w}" if v != w else f"{v} <= {c}",
            f"-0.5 < {v} <= {self.choice(['0.5', '1.0'])}",  # chained
            f"math.sin({v}) > 0.0",
            f"not {v} > {c}",
            f"{v} * {w} > {c} or {v} < -1.0",
        ])

    def condition(self):
        if self.boolean(0.7):
            return self.int_condition()
        if self.boolean(0.5):
            return self.varying_float_condition()
        if self.boolean(0.5):
            return f"{self.int_condition()} and {self.safe_float_condition()}"
        return self.safe_float_condition()

    # -- float expressions -----------------------------------------------------

    def float_atom(self):
        r = self.integer(0, 9)
        pool = self.int_vars + self.loop_vars
        if r <= 5:
            return self.choice(self.float_vars)
        if r <= 7 or not pool:
            return self.choice([self.const(), self.const(), "SCALE"])
        i = self.choice(pool)
        return self.choice([f"{self.const()} * {i}", f"float({i})", f"({i} + {self.const()})", f"{i} / 7"])

    def expr(self, depth: int) -> str:
        """A float expression; bounded where its inputs are bounded (up to ~poly growth)."""
        if depth <= 0 or self.boolean(0.25):
            return self.float_atom()
        a = self.expr(depth - 1)
        kind = self.integer(0, 42 if self.helpers else 39)
        if kind >= 40:
            return self.helper_call(depth)
        if kind == 38:  # negative literal bases, powers and factors: (-2.0) ** 3, (-1) ** i, x * -0.5
            pool = self.int_vars + self.loop_vars
            exponent = f"({self.choice(pool)} % 3)" if pool and self.boolean() else str(self.integer(0, 3))
            return self.choice([
                f"(-{self.const()}) ** {self.integer(0, 3)} * {a}",
                f"(-1) ** {exponent} * {a}",
                f"{a} * -{self.const()}",
                f"{a} - -{self.const()}",
                f"-{a} ** 2",
                f"-{self.const()} * {a}",
            ])
        if kind == 39:
            return f"(1.5 + math.tanh({a})) ** -{self.integer(1, 2)}"
        if kind == 0:
            return f"({a} + {self.expr(depth - 1)})"
        if kind == 1:
            return f"({a} - {self.expr(depth - 1)})"
        if kind == 2:
            return f"{a} * {self.expr(depth - 1)}"
        if kind == 3:
            d = self.expr(depth - 1)
            return f"{a} / (1.0 + {d} * {d})"
        if kind == 4:
            return f"math.sin({a})"
        if kind == 5:
            return f"math.cos({a})"
        if kind == 6:
            return f"math.exp(math.sin({a}))"
        if kind == 7:
            return f"math.tanh({a})"
        if kind == 8:
            return f"math.sqrt(1.0 + {a} * {a})"
        if kind == 9:
            return f"math.log(2.0 + math.sin({a}))"
        if kind == 10:
            return f"math.atan({a})"
        if kind == 11:
            return f"{self.const()} * {a}"
        if kind == 12:
            return f"(-{a})"
        if kind == 13:
            return f"({a} if {self.condition()} else {self.expr(depth - 1)})"
        if kind == 14:
            return f"{a} ** {self.integer(2, 3)}"
        if kind == 15:
            return f"(1.5 + math.tanh({a})) ** math.tanh({self.expr(depth - 1)})"
        if kind == 16:
            return f"abs(2.0 + math.tanh({a}))"
        if kind == 17:
            return f"max({a}, {a} * {a} + 1.0)"
        if kind == 18:
            return f"min(math.tanh({a}), 2.0 + math.cos({a}))"
        if kind == 19:
            return f"math.exp(math.tanh({a}))"
        if kind == 20:
            return f"{a} / (2.0 + math.cos({self.expr(depth - 1)}))"
        if kind == 21:
            return f"math.hypot(1.0, {a})"
        if kind == 22:
            return f"math.atan2({a}, 2.0 + math.cos({self.expr(depth - 1)}))"
        if kind == 23:
            return f"math.erf({a})"
        if kind == 24:
            return f"math.sinh(math.tanh({a}))"
        if kind == 25:
            return f"math.cosh(math.sin({a}))"
        if kind == 26:
            return f"math.tan(0.5 * math.tanh({a}))"
        if kind == 27:
            return self.choice([f"math.asin(0.5 * math.tanh({a}))", f"math.acos(0.5 * math.sin({a}))"])
        if kind == 28:
            return f"math.expm1(math.tanh({a}))"
        if kind == 29:
            return self.choice([f"math.log1p({a} * {a})", f"math.log2(2.0 + math.cos({a}))", f"math.log10(3.0 + math.sin({a}))"])
        if kind == 30:
            return self.choice([f"math.fabs(2.0 + math.sin({a}))", f"math.erfc({a})"])
        if kind == 31:
            pool = self.int_vars + self.loop_vars
            e = self.choice(pool) if pool else str(self.integer(0, 3))
            return f"{a} ** ({e} % 4)"
        if kind == 32:
            return self.choice([f"pow({a}, 2)", f"math.pow(1.5 + math.tanh({a}), {self.expr(depth - 1)} / (1.0 + {a} * {a}))"])
        if kind == 33:
            return f"{a} / ({self.int_atom()} ** 2 + 1)"
        if kind == 34 and self.no_grad:
            self.uses_no_grad = True
            return f"srcad.no_grad({a})"
        if kind == 35:
            return f"math.copysign(1.0, 3.0 + math.tanh({a})) * {self.expr(depth - 1)}"
        if kind == 36:
            return f"math.sqrt(2.0 + math.cos({a}))"
        return f"float({a})"

    def helper_call(self, depth: int) -> str:
        """A call of one of the helpers: floats positional (the last one sometimes by keyword), the int
        positional, by keyword, or left to its default."""
        helper = self.choice(self.helpers)
        self.helper_calls += 1
        arguments = [self.expr(depth - 1) for _ in helper.float_params]
        if len(arguments) > 1 and self.boolean(0.25):
            arguments[-1] = f"{helper.float_params[-1]}={arguments[-1]}"
            keyword = True
        else:
            keyword = False
        if helper.int_param is not None:
            form = self.integer(0, 2)
            if helper.default is not None and form == 0:
                pass  # the default
            elif form == 1 or keyword:
                arguments.append(f"{helper.int_param}={self.int_atom()}")
            else:
                arguments.append(self.int_atom())
        return f"{helper.name}({', '.join(arguments)})"

    def squashed(self, depth: int) -> str:
        """A float expression of magnitude at most ~3, whatever its inputs."""
        e = self.expr(depth)
        return self.choice([
            f"math.tanh({e})",
            f"{self.const()} * math.tanh({e})",
            f"math.sin({e})",
            f"math.cos({e})",
            f"math.atan({e})",
            f"{e} / (1.0 + {e} * {e})" if len(e) < 60 else f"math.tanh({e})",
        ])

    # -- statements ----------------------------------------------------------------

    def assignment(self, indent: int):
        """Overwrite a float variable, keeping it bounded inside loops."""
        target = self.choice([v for v in self.float_vars])
        in_loop = self.depth > 0
        kind = self.integer(0, 7)
        if kind == 0 and len(self.float_vars) >= 2:
            other = self.choice([v for v in self.float_vars if v != target])
            self.emit(indent, f"{target}, {other} = {other}, {target} * 0.5 + {self.squashed(1)}")
        elif kind == 1:
            self.emit(indent, f"{target} += {self.const()} * {self.squashed(2)}")
        elif kind == 2:
            self.emit(indent, f"{target} -= {self.squashed(2)}")
        elif kind == 3:
            self.emit(indent, f"{target} *= 0.5 + 0.25 * math.tanh({self.expr(2)})")
        elif kind == 4:
            self.emit(indent, f"{target} = 0.5 * {target} + {self.squashed(2)}")
        elif kind == 5 and not in_loop:
            self.emit(indent, f"{target} = {self.expr(3)}")
        elif kind == 6 and self.int_vars:
            m = self.choice(self.int_vars)
            if in_loop:  # keep ints small: loops may run this many times
                self.emit(indent, self.choice([f"{m} = {self.int_expr()} % 7", f"{m} += 1", f"{m} //= 2", f"{m} -= 1"]))
            else:
                self.emit(indent, f"{m} = {self.int_expr()} % 7")
        else:
            self.emit(indent, f"{target} = {self.squashed(3)}")
        self.statements += 1

    def block(self, indent: int, budget: int):
        count = self.integer(1, max(2, min(5, budget + 1)))
        exit_at = self.integer(0, count) if self.depth > 0 and self.boolean(0.35) else -1
        for position in range(count):
            if position == exit_at:
                self.loop_exit(indent)
            self.statement(indent, budget - 1)

    def statement(self, indent: int, budget: int):
        if self.statements > 40:
            budget = 0
        loops_ok = budget > 0 and self.depth < 3
        r = self.integer(0, 11)
        if r <= 4 or budget <= 0:
            self.assignment(indent)
        elif r <= 6 and loops_ok:
            if self.depth == 0 and self.boolean(0.4):
                self.term_sum_loop(indent, budget)
            else:
                self.for_loop(indent, budget)
        elif r == 7 and loops_ok:
            if self.boolean(0.3):
                self.data_while_loop(indent, budget)
            else:
                self.while_loop(indent, budget)
        elif r <= 9 and budget > 0:
            self.if_statement(indent, budget)
        elif r == 10 and self.depth > 0:
            self.loop_exit(indent)
        elif r == 11:
            self.early_return(indent)
        else:
            self.assignment(indent)

    def range_args(self) -> str:
        pool = self.int_vars + self.loop_vars
        kind = self.integer(0, 6)
        if kind == 0 or not pool:
            return f"{self.integer(0, MAX_LOOP_COUNT)}"
        v = self.choice(pool)
        # ints reachable here stay in a small range; clamp with min/max
        bound = f"min({v}, {MAX_LOOP_COUNT})"
        if kind == 1:
            return bound
        if kind == 2:
            return f"{self.integer(0, 2)}, {bound} + 1"
        if kind == 3:
            return f"{bound}, -1, -1"
        if kind == 4:
            return f"{self.integer(3, MAX_LOOP_COUNT)}, {self.integer(-2, 1)}, -{self.integer(1, 2)}"
        if kind == 5:
            return f"1, {bound} + 2, 2"
        return f"{bound}, {self.integer(-1, 2)}, -2"

    def for_loop(self, indent: int, budget: int):
        index = self.choice([name for name in ("i", "j", "p", "q") if name not in self.loop_vars])
        arguments = self.range_args()
        form = self.integer(0, 5) if arguments.count(",") < 2 else 0  # (no step inside reversed or enumerate)
        if self.boolean(0.2):  # the index given a value first, as people write `i = 0` before a loop
            self.emit(indent, f"{index} = {self.integer(0, 2)}")
        if form == 1:
            self.emit(indent, f"for {index} in reversed(range({arguments})):")
        elif form == 2:
            self.emit(indent, f"for _, {index} in enumerate(range({arguments})):")
        else:
            self.emit(indent, f"for {index} in range({arguments}):")
        self.loop_vars.append(index)
        self.depth += 1
        self.block(indent + 1, budget)
        self.depth -= 1
        self.loop_vars.pop()
        self.statements += 1

    def term_sum_loop(self, indent: int, budget: int):
        """A loop adding up independent terms (reversed term by term): the iteration's own floats,
        computed from the function's, changed by random statements, then added to a sum that is
        mixed into a float after the loop."""
        acc = self.fresh("acc")
        index = self.choice([name for name in ("i", "j", "p", "q") if name not in self.loop_vars])
        self.emit(indent, f"{acc} = 0.0")
        self.emit(indent, f"for {index} in range({self.range_args()}):")
        outer = self.float_vars
        terms = [self.fresh("u") for _ in range(self.integer(1, 2))]
        for term in terms:
            self.emit(indent + 1, f"{term} = {self.squashed(2)}")
        self.float_vars = list(terms)
        self.loop_vars.append(index)
        self.depth += 1
        self.block(indent + 1, budget)
        self.emit(indent + 1, f"{acc} {self.choice(['+=', '-='])} {self.const()} * {self.squashed(2)}")
        self.depth -= 1
        self.loop_vars.pop()
        self.float_vars = outer
        target = self.choice(outer)
        self.emit(indent, f"{target} = 0.5 * {target} + 0.1 * {acc}")
        self.statements += 1

    def while_loop(self, indent: int, budget: int):
        k = self.fresh("k")
        limit = self.choice(self.int_vars) if self.int_vars and self.boolean(0.6) else str(self.integer(0, MAX_LOOP_COUNT))
        limit = f"min({limit}, {MAX_LOOP_COUNT})" if limit in self.int_vars else limit
        self.emit(indent, f"{k} = 0")
        guard = f"{k} < {limit}"
        if self.boolean(0.6):
            guard += f" and {self.safe_float_condition()}"
        self.emit(indent, f"while {guard}:")
        self.emit(indent + 1, f"{k} += 1")
        self.loop_vars.append(k)
        self.depth += 1
        self.block(indent + 1, budget)
        self.depth -= 1
        self.loop_vars.pop()
        self.statements += 1

    def data_while_loop(self, indent: int, budget: int):
        """A while loop whose exit depends on float data (each step adds >= 0.25).

        A finite-difference step can change its trip count only where the
        accumulator lands on the threshold; the oracle detects that jump.
        """
        k = self.fresh("k")
        acc = self.choice(self.float_vars)
        self.emit(indent, f"{k} = 0")
        self.emit(indent, f"{acc} = math.tanh({acc})")
        self.emit(indent, f"while {acc} < {self.integer(1, 4)}.0 and {k} < 20:")
        self.emit(indent + 1, f"{k} += 1")
        self.emit(indent + 1, f"{acc} += 0.5 + 0.25 * math.tanh({self.expr(2)})")
        self.loop_vars.append(k)
        self.depth += 1
        self.block(indent + 1, budget - 1)
        self.depth -= 1
        self.loop_vars.pop()
        self.statements += 1

    def if_statement(self, indent: int, budget: int):
        self.emit(indent, f"if {self.condition()}:")
        self.block(indent + 1, budget)
        r = self.integer(0, 2)
        if r == 1:
            self.emit(indent, "else:")
            self.block(indent + 1, budget)
        elif r == 2:
            self.emit(indent, f"elif {self.condition()}:")
            self.block(indent + 1, budget)
            if self.boolean():
                self.emit(indent, "else:")
                self.block(indent + 1, budget)
        self.statements += 1

    def loop_exit(self, indent: int):
        self.emit(indent, f"if {self.int_condition()}:")
        if self.boolean(0.2):
            self.emit(indent + 1, f"{self.choice(self.float_vars)} = {self.squashed(1)}")
        self.emit(indent + 1, self.choice(["break", "continue"]))
        self.statements += 1

    def early_return(self, indent: int):
        self.emit(indent, f"if {self.int_condition()}:")
        self.emit(indent + 1, f"return {self.expr(2)}")
        self.statements += 1


def _helper(draw, name: str, earlier: Sequence[Helper]) -> Tuple[Helper, str]:
    """One helper function (float result), drawn like f but smaller; it may call the `earlier` ones."""
    float_params = HELPER_FLOAT_NAMES[: draw(st.integers(1, 2))]
    has_int = draw(st.booleans())
    default = draw(st.sampled_from([None, 2, 3])) if has_int else None
    helper = Helper(name, tuple(float_params), HELPER_INT_NAME if has_int else None, default)
    builder = _Builder(draw, float_params, has_int, HELPER_INT_NAME, earlier, no_grad=False)
    for local in LOCAL_FLOATS[: draw(st.integers(0, 2))]:
        builder.emit(1, f"{local} = {builder.expr(2)}")
        builder.float_vars.append(local)
    for _ in range(draw(st.integers(1, 3))):
        builder.statement(1, draw(st.integers(0, 2)))
    builder.emit(1, f"return {builder.expr(2)}")
    params = list(float_params)
    if has_int:
        params.append(HELPER_INT_NAME if default is None else f"{HELPER_INT_NAME}={default}")
    decorator = {0: "@srcad.differentiable\n", 1: "@srcad.differentiable(inline=False)\n"}.get(draw(st.integers(0, 5)), "")
    source = decorator + f"def {name}({', '.join(params)}):\n" + "\n".join(builder.lines) + "\n\n\n"
    return helper, source


@st.composite
def programs(draw, max_statements: int = 8) -> Program:
    n_float = draw(st.integers(1, 3))
    float_args = list(FLOAT_NAMES[:n_float])
    has_int = draw(st.booleans())
    names = list(float_args)
    if has_int:
        names.insert(draw(st.integers(0, len(names))), INT_NAME)
    kinds = tuple("int" if name == INT_NAME else "float" for name in names)

    helpers: List[Helper] = []
    helper_sources = ""
    if HELPERS:
        for index in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2]))):
            helper, text = _helper(draw, f"h{index + 1}", helpers)
            helpers.append(helper)
            helper_sources += text

    builder = _Builder(draw, float_args, has_int, helpers=helpers)
    # float locals, initialised up front so every later read is bound
    for name in LOCAL_INTS[: draw(st.integers(0, 2))]:
        builder.emit(1, f"{name} = {builder.int_expr()}")
        builder.int_vars.append(name)
    n_locals = draw(st.integers(0, 4))
    for name in LOCAL_FLOATS[:n_locals]:
        builder.emit(1, f"{name} = {builder.expr(2)}")
        builder.float_vars.append(name)
    body_statements = draw(st.integers(1, max_statements))
    for _ in range(body_statements):
        builder.statement(1, draw(st.integers(1, 3)))
    result = builder.expr(3)
    if helpers and builder.helper_calls == 0:  # f calls a helper at least once
        result = f"{result} + 0.5 * {builder.helper_call(2)}"
    builder.emit(1, f"return {result}")

    source = HEADER + helper_sources + "def f(" + ", ".join(names) + "):\n" + "\n".join(builder.lines) + "\n"

    values = []
    for kind in kinds:
        if kind == "int":
            values.append(draw(st.integers(0, MAX_LOOP_COUNT)))
        else:
            values.append(draw(st.floats(-2.0, 2.0, allow_nan=False).map(lambda v: round(v, 3))))
    float_positions = [i for i, k in enumerate(kinds) if k == "float"]
    wrt_subset = draw(st.lists(st.sampled_from(float_positions), min_size=1, unique=True))
    wrt = tuple(sorted(wrt_subset)) if draw(st.booleans()) else tuple(float_positions)
    return Program(source, tuple(names), kinds, tuple(values), wrt, builder.uses_no_grad)
