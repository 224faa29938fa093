"""Derivative rules the user supplies: ``@srcad.derivative(of=f)``, Swift's ``@derivative(of:)``.

A reverse rule ``f_vjp(*args, g)`` returns one cotangent per argument of ``f``
(a tuple, also for one argument); a forward rule (``mode="forward"``)
``f_jvp(*args, *tangents)`` returns the output's tangent. Wherever ``f`` is
called in differentiated code, and when ``f`` itself is differentiated, the
rule is used instead of transforming ``f``'s body: straight-through
estimators, numerically stable formulas, code srcad cannot read. ``f`` and its
rules are compiled by numba like everything else.
"""

import inspect

import numba
from numba.core import errors, types
from numba.extending import overload

from srcad.introspect import unwrap

_rules = {}  # the plain function -> {"reverse": rule, "forward": rule}
_by_key = {}  # "module.qualname" -> the plain function, for generated modules
_compiled = {}
_listeners = []  # called with f when a rule of f is registered (see on_registration)


def on_registration(listener):
    """Call ``listener(f)`` whenever a rule of ``f`` is registered from now on."""
    _listeners.append(listener)


def derivative(of, mode="reverse"):
    """Register the decorated function as the reverse (``mode="reverse"``) or forward rule of ``of``.

    >>> import math
    >>> def f(x):
    ...     return math.floor(x)
    >>> @derivative(of=f)
    ... def f_vjp(x, g):
    ...     return (g,)  # straight through
    """
    function = unwrap(of)
    if mode not in ("reverse", "forward"):
        raise ValueError(f"mode must be 'reverse' or 'forward', got {mode!r}")
    arity = len(inspect.signature(function).parameters)

    def register(rule):
        expected = arity + 1 if mode == "reverse" else 2 * arity
        count = len(inspect.signature(rule).parameters)
        if count != expected:
            takes = "the arguments of f and the output's cotangent g" if mode == "reverse" else (
                "the arguments of f and one tangent per argument")
            raise TypeError(
                f"the {mode} rule {rule.__qualname__!r} for {function.__qualname__!r} takes {count} arguments; "
                f"it must take {expected}: {takes}"
            )
        _rules.setdefault(function, {})[mode] = rule
        _by_key[key_of(function)] = function
        _compiled.clear()
        for listener in _listeners:  # srcad.specialize forgets the fast calls of f: they now go to the rule
            listener(function)
        return rule

    return register


def rules_for(value):
    """The rules registered for a function (or a srcad.differentiable one), or None."""
    value = getattr(value, "python_function", value)
    return _rules.get(value) if inspect.isfunction(value) else None


def key_of(function):
    return f"{function.__module__}.{function.__qualname__}"


def compiled(key, what):
    """``f`` (what="primal") or its rule (what="reverse"/"forward"), compiled by numba, for generated code."""
    if (key, what) not in _compiled:
        function = _by_key.get(key)
        if function is None:
            raise LookupError(f"no srcad.derivative rule is registered for {key} in this process; import its module first")
        target = function if what == "primal" else _rules[function][what]
        _compiled[key, what] = numba.njit(target)
    return _compiled[key, what]


def describe(function):
    """The source of the rules registered for ``function``, for cache keys."""
    parts = []
    for mode, rule in sorted(_rules.get(function, {}).items()):
        try:
            parts.append(mode + ":" + inspect.getsource(rule))
        except (OSError, TypeError):
            parts.append(mode + ":" + repr(rule.__code__.co_code))
    return "\n".join(parts)


def cotangent(result, position, count, key):
    """``result[position]``, the cotangent a reverse rule returned for one argument, after checking
    the rule (of the function registered as ``key``) returned ``count`` of them (in compiled code the
    check happens when numba types it)."""
    if not isinstance(result, tuple) or len(result) != count:
        raise TypeError(_wrong_count(key, count, repr(result)))
    return result[position]


def _wrong_count(key, count, returned):
    function = _by_key.get(key)
    rule = _rules.get(function, {}).get("reverse")
    if rule is None:
        return f"a srcad.derivative reverse rule must return a tuple of {count} cotangents, but it returns {returned}"
    return (f"the reverse rule {rule.__qualname__!r} for {function.__qualname__!r} must return a tuple of {count} "
            f"cotangents (one per argument of {function.__qualname__!r}), but it returns {returned}")


@overload(cotangent)
def _cotangent_overload(result, position, count, key):
    if not all(isinstance(t, types.Literal) for t in (position, count, key)):
        return None
    length = len(result) if isinstance(result, types.BaseTuple) else None
    if length != count.literal_value:
        raise errors.TypingError("srcad custom rule: " + _wrong_count(key.literal_value, count.literal_value, str(result)))
    index = position.literal_value
    return lambda result, position, count, key: result[index]
