"""Independent gradient oracles for the test corpus.

Everything here runs the user's *plain Python* function — never code srcad
generated or compiled — so a gradient srcad computes can be checked against
something that does not share its bugs.

    >>> import math
    >>> derivative = central_difference(math.sin, (0.3,), 0)
    >>> abs(derivative - math.cos(0.3)) < 1e-10
    True

`srcad.no_grad(e)` promises "the value of e, with its derivative cut". Finite
differences cannot cut a derivative on their own, so `freeze_no_grad` records
the stopped values at the point of interest and replays them, unchanged, while
the oracle perturbs the inputs. That treats every stopped expression as a
constant, which is exactly the derivative srcad must compute.
"""

from __future__ import annotations

import math
import types
from typing import Any, Callable, Sequence

__all__ = [
    "OracleError",
    "plain_function",
    "central_difference",
    "gradient_by_central_differences",
    "freeze_no_grad",
    "fd_tolerance",
    "assert_close_to_fd",
]


class OracleError(AssertionError):
    """The oracle itself cannot give a trustworthy answer at this point."""


def plain_function(function: Callable) -> Callable:
    """The undecorated Python function behind `function`.

    Follows `__wrapped__` (what `functools.wraps`-style decorators such as
    `@srcad.differentiable` leave behind) and numba's `py_func`, so the oracle
    always evaluates the user's own source, not a compiled version of it.
    """
    seen = set()
    while id(function) not in seen:
        seen.add(id(function))
        if hasattr(function, "__wrapped__"):
            function = function.__wrapped__
        elif hasattr(function, "py_func"):
            function = function.py_func
        else:
            break
    return function


def _step_for(x: float, relative_step: float) -> float:
    """A step scaled to |x| and chosen so that x + h and x - h are exact."""
    h = relative_step * max(1.0, abs(x))
    # Round the step to a number exactly representable next to x, so the
    # difference quotient divides by the step that was really taken.
    return (x + h) - x


def _evaluate(function: Callable, args: Sequence[Any], index: int, x: float) -> float:
    shifted = list(args)
    shifted[index] = x
    value = function(*shifted)
    if not isinstance(value, (int, float)):
        raise OracleError(f"{function.__name__} returned {type(value).__name__}, not a scalar")
    value = float(value)
    if not math.isfinite(value):
        raise OracleError(f"{function.__name__}{tuple(shifted)} is not finite ({value})")
    return value


def central_difference(
    f: Callable,
    args: Sequence[Any],
    index: int,
    h: float | None = None,
    richardson: bool = True,
) -> float:
    """d f(*args) / d args[index] by float64 central differences.

    With `richardson=True` (the default) two central differences, with steps
    h and h/2, are combined to cancel the O(h^2) error term; the result has
    O(h^4) truncation error, so a larger step (default 1e-4 * max(1, |x|))
    can be used and rounding error stays small. With `richardson=False` the
    plain quotient (f(x+h) - f(x-h)) / 2h is returned, default step
    1e-6 * max(1, |x|).

    `f` is unwrapped to its plain Python function first.
    """
    function = plain_function(f)
    x = args[index]
    if not isinstance(x, float):
        # An int argument is a count or an index: it has no derivative.
        raise OracleError(f"argument {index} is {x!r}, not a float")
    x = float(x)
    if h is None:
        h = _step_for(x, 1e-4 if richardson else 1e-6)
    else:
        h = (x + h) - x
    if h == 0.0:
        raise OracleError(f"finite-difference step vanished at x = {x!r}")

    def quotient(step: float) -> float:
        step = (x + step) - x
        forward = _evaluate(function, args, index, x + step)
        backward = _evaluate(function, args, index, x - step)
        return (forward - backward) / (2.0 * step)

    coarse = quotient(h)
    if not richardson:
        return coarse
    fine = quotient(h / 2.0)
    return (4.0 * fine - coarse) / 3.0


def plain_central_difference(f: Callable, args: Sequence[Any], index: int, relative_step: float = 1e-6) -> float:
    """The plain quotient (f(x + h) - f(x - h)) / 2h with h = relative_step * max(1, |x|), no
    Richardson step: the oracle of the pass and feature tests, whose programs may have kinks a
    larger step would cross."""
    x = float(args[index])
    return central_difference(f, args, index, h=relative_step * max(1.0, abs(x)), richardson=False)


def plain_central_differences(f: Callable, args: Sequence[Any], index: int) -> Any:
    """``plain_central_difference`` with respect to argument ``index``, element by element where it
    is an array (each step on copies of the array arguments, which ``f`` may change in place)."""
    import numpy as np

    value = args[index]
    if not isinstance(value, np.ndarray):
        return plain_central_difference(f, args, index)
    gradient = np.zeros_like(value)
    for element in np.ndindex(value.shape):

        def along(t: float, element: tuple = element) -> float:
            moved = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
            moved[index][element] = t
            return f(*moved)

        gradient[element] = plain_central_difference(along, (float(value[element]),), 0)
    return gradient


def gradient_by_central_differences(
    f: Callable, args: Sequence[Any], wrt: Sequence[int], **options: Any
) -> tuple[float, ...]:
    """One central difference per position in `wrt`."""
    return tuple(central_difference(f, args, index, **options) for index in wrt)


# ---------------------------------------------------------------------------
# srcad.no_grad: freeze stopped values for the oracle


class _RecordedStops:
    """Stands in for `srcad.no_grad`: records values once, then replays them."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.cursor: int | None = None  # None while recording

    def no_grad(self, value: Any) -> Any:
        if self.cursor is None:
            self.values.append(value)
            return value
        if self.cursor >= len(self.values):
            raise OracleError(
                "control flow changed under the finite-difference step: "
                "no_grad was reached more often than at the base point"
            )
        value = self.values[self.cursor]
        self.cursor += 1
        return value


class _SrcadStandIn(types.ModuleType):
    """A module object that is srcad except that `no_grad` replays values."""

    def __init__(self, real_module: types.ModuleType, no_grad: Callable) -> None:
        super().__init__(real_module.__name__)
        self._real_module = real_module
        self.no_grad = no_grad

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real_module, name)


def _is_srcad_no_grad(value: Any) -> bool:
    return (
        callable(value)
        and getattr(value, "__name__", None) == "no_grad"
        and str(getattr(value, "__module__", "")).split(".")[0] == "srcad"
    )


def _names_used(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _names_used(constant)
    return names


def _with_no_grad_replaced(function: types.FunctionType, no_grad: Callable) -> Callable:
    namespace = dict(function.__globals__)
    used = _names_used(function.__code__)
    replaced = False
    for name, value in list(namespace.items()):
        if name not in used:
            continue
        if isinstance(value, types.ModuleType) and value.__name__ == "srcad":
            namespace[name] = _SrcadStandIn(value, no_grad)
            replaced = True
        elif _is_srcad_no_grad(value):
            namespace[name] = no_grad
            replaced = True
    if not replaced:
        return function
    copy = types.FunctionType(
        function.__code__,
        namespace,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    copy.__kwdefaults__ = function.__kwdefaults__
    return copy


def freeze_no_grad(f: Callable, args: Sequence[Any]) -> Callable:
    """A plain function equal to `f` whose `srcad.no_grad(e)` results are
    frozen at their values at `args`.

    Finite differences of the returned function give the derivative with
    every stopped expression held constant. The program's control flow must
    not change under the finite-difference step (the replay checks that the
    number of `no_grad` calls matches). Functions whose code never names
    srcad or its `no_grad` are returned unchanged.
    """
    function = plain_function(f)
    stops = _RecordedStops()
    patched = _with_no_grad_replaced(function, stops.no_grad)
    if patched is function:
        return function
    patched(*args)  # record the stopped values at the base point

    def frozen(*call_args: Any) -> Any:
        stops.cursor = 0
        result = patched(*call_args)
        if stops.cursor != len(stops.values):
            raise OracleError(
                "control flow changed under the finite-difference step: "
                f"no_grad reached {stops.cursor} times, {len(stops.values)} at the base point"
            )
        return result

    frozen.__name__ = function.__name__
    frozen.__qualname__ = function.__qualname__
    return frozen


# ---------------------------------------------------------------------------
# comparison


def fd_tolerance(fd_value: float, scale: float = 1.0, rtol: float = 1e-5, atol: float = 1e-6) -> float:
    """Allowed |gradient - fd| for a finite-difference estimate.

    `scale` is the magnitude the rounding error of the difference quotient
    grows with: pass max(1, |f(x)|) (and the size of the argument when the
    step was scaled by it).
    """
    return atol * max(1.0, abs(scale)) + rtol * abs(fd_value)


def assert_close_to_fd(
    grad_value: Any,
    fd_value: float,
    scale: float = 1.0,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    what: str = "gradient",
) -> None:
    """Assert a computed derivative agrees with a central-difference estimate."""
    if grad_value is None:
        raise AssertionError(f"{what} is None, expected about {fd_value!r}")
    if isinstance(grad_value, bool) or not isinstance(grad_value, (int, float)):
        # numpy scalars are fine; arrays and tuples are not.
        try:
            import numpy as np

            if isinstance(grad_value, np.generic) and np.ndim(grad_value) == 0:
                grad_value = float(grad_value)
            else:
                raise TypeError
        except (ImportError, TypeError):
            raise AssertionError(
                f"{what} is {type(grad_value).__name__} {grad_value!r}, expected a float"
            ) from None
    grad_value = float(grad_value)
    if not math.isfinite(grad_value):
        raise AssertionError(f"{what} is {grad_value!r}, expected about {fd_value!r}")
    tolerance = fd_tolerance(fd_value, scale, rtol, atol)
    error = abs(grad_value - fd_value)
    if not error <= tolerance:
        raise AssertionError(
            f"{what} {grad_value!r} differs from central differences {fd_value!r} "
            f"by {error:.3e} (tolerance {tolerance:.3e})"
        )
