"""Loops over items, as a part of normalization: ``for v in x``, ``for i, v in enumerate(x)``,
``for a, b in zip(x, y)`` and ``reversed(...)``, also over a list of numbers (``for v in [a, b]``,
read as an array as ``number_lists.py`` reads ``v = [a, b]``), become loops over ``range`` that read the items
by position, the only loop the later passes take::

    for i, v in enumerate(x):        for i in range(len(x)):
        total += i * v          ->       v = x[i]
                                         total += i * v

Python evaluates the iterable once, before the loop: an expression is bound to a name first, and
so is a name the body binds again (a new name for the same array, not a copy, so writes into its
items show in later iterations as they do in Python).
"""

from dataclasses import dataclass
from typing import Callable

import libcst as cst
import numpy

from ..ir import assign, is_atom, nodes_in, target_names
from .parse import PositionKeeping

_HINT = "Loop over positions instead: 'for i in range(len(a)):' and read a[i]."


@dataclass
class _Items:
    """What a loop runs over: how many items, and the item at a position (an expression, or a
    tuple of items for enumerate and zip)."""

    count: cst.BaseExpression
    item: Callable


def is_range(normalizer, iterable):
    return _called(normalizer, iterable) == "range"


def range_loop(normalizer, loop, rebound):
    """(statements to run first, an equivalent ``for <name> in range(...)``) for a loop over items.
    ``rebound``: the names the loop's body binds."""
    before = []
    if isinstance(loop.target, cst.Name) and _reversed_range(normalizer, loop.iter):
        bounds = _reversed_range_bounds(normalizer, loop.iter.args[0].value)
        iterable = cst.Call(cst.Name("range"), [cst.Arg(b) for b in bounds])
        return before, loop.with_changes(iter=iterable)
    items = _items(normalizer, loop.iter, before, rebound)
    first_name = loop.target.elements[0].value if isinstance(loop.target, cst.Tuple) and loop.target.elements else None
    reads_position = _is_enumerate(normalizer, loop.iter) and _enumerate_start(loop.iter) is None
    if reads_position and isinstance(first_name, cst.Name):
        position = first_name.value  # `for i, v in enumerate(x)`: i itself runs over the positions
    else:
        hint = f"{loop.target.value}_position" if isinstance(loop.target, cst.Name) else "position"
        position = _fresh_local(normalizer, hint)
    bindings = _bindings(normalizer, loop.target, items.item(cst.Name(position)), loop.iter, skip=position)
    body = loop.body.with_changes(body=[*bindings, *loop.body.body])
    iterable = cst.Call(cst.Name("range"), [cst.Arg(items.count)])
    return before, loop.with_changes(target=cst.Name(position), iter=iterable, body=body)


def _items(normalizer, iterable, before, rebound):
    name = _called(normalizer, iterable)
    if name == "enumerate":
        if not 1 <= len(iterable.args) <= 2 or any(a.star for a in iterable.args):
            raise normalizer.error("enumerate() takes an iterable and an optional start here", iterable)
        inner = _items(normalizer, iterable.args[0].value, before, rebound)
        start = _enumerate_start(iterable)
        if start is not None:
            start = _evaluated_once(normalizer, start, "start", before, rebound)

        def counted(k):
            counter = k if start is None else _operation(k, cst.Add(), start)
            return (counter, inner.item(k))

        return _Items(inner.count, counted)
    if name == "zip":
        if not iterable.args or any(a.star or a.keyword for a in iterable.args):
            raise normalizer.error("zip() takes the iterables themselves here (no * or keywords)", iterable)
        zipped = [_items(normalizer, a.value, before, rebound) for a in iterable.args]
        count = zipped[0].count
        if len(zipped) > 1:
            count = cst.Call(cst.Name("min"), [cst.Arg(z.count) for z in zipped])
        return _Items(count, lambda k: tuple(z.item(k) for z in zipped))
    if name == "reversed":
        if len(iterable.args) != 1 or iterable.args[0].star or iterable.args[0].keyword:
            raise normalizer.error("reversed() takes one sequence", iterable)
        inner = _items(normalizer, iterable.args[0].value, before, rebound)
        last = _operation(inner.count, cst.Subtract(), cst.Integer("1"))
        last = _evaluated_once(normalizer, last, "last", before, rebound)
        return _Items(inner.count, lambda k: inner.item(_operation(last, cst.Subtract(), k)))
    if name == "range":
        start, stop = _unit_range(normalizer, iterable)
        start = _evaluated_once(normalizer, start, "start", before, rebound)
        stop = _evaluated_once(normalizer, stop, "stop", before, rebound)
        count = cst.Call(cst.Name("max"), [cst.Arg(_operation(stop, cst.Subtract(), start)),
                                          cst.Arg(cst.Integer("0"))])
        return _Items(count, lambda k: _operation(start, cst.Add(), k))
    if isinstance(iterable, cst.List) and iterable.elements and not any(
            isinstance(e, cst.StarredElement) or isinstance(e.value, (cst.GeneratorExp, cst.ListComp))
            for e in iterable.elements):
        # for v in [a, b, c]: a list of numbers, bound to a name and read as an array (number_lists.py)
        listed = _fresh_local(normalizer, "items")
        normalizer.number_lists.add(listed)
        before.append(assign(listed, iterable))
        return _items(normalizer, cst.Name(listed), before, rebound)
    if isinstance(iterable, (cst.Tuple, cst.List, cst.Set, cst.Dict, cst.SimpleString, cst.FormattedString)) or (
        isinstance(iterable, cst.Name) and normalizer.tuples.holds_tuple(iterable.value)
    ):
        raise normalizer.error("srcad loops over arrays, range, enumerate, zip and reversed, not over the "
                               "parts of a tuple, list or string", iterable, _HINT)
    if not isinstance(iterable, cst.Name):
        sequence = _evaluated_once(normalizer, iterable, "items", before, rebound)
        return _Items(cst.Call(cst.Name("len"), [cst.Arg(sequence)]),
                      lambda k: cst.Subscript(sequence, [cst.SubscriptElement(cst.Index(k))]))
    bound = []  # the sequence, bound before the loop only if an item is read (range() reads len once)

    def item(k):
        def read():
            if not bound:
                bound.append(_evaluated_once(normalizer, iterable, "items", before, rebound))
            return cst.Subscript(bound[0], [cst.SubscriptElement(cst.Index(k))])

        return read

    return _Items(cst.Call(cst.Name("len"), [cst.Arg(iterable)]), item)


def _bindings(normalizer, target, item, iterable, skip):
    """Statements binding a loop's target to one item (``skip``: the loop's own variable). An item
    may be a function giving it, called only for a name the function reads (``for j, _ in ...``)."""
    if isinstance(target, cst.Name):
        if target.value == skip or (callable(item) and _never_read(normalizer, target.value)):
            return []
        item = item() if callable(item) else item
        return [_positioned(normalizer, assign(target.value, item), iterable)]
    if isinstance(target, (cst.Tuple, cst.List)) and isinstance(item, tuple):
        if len(target.elements) != len(item) or any(isinstance(e, cst.StarredElement) for e in target.elements):
            raise normalizer.error(f"this loop unpacks {len(item)} values per item into "
                                   f"{len(target.elements)} names", target)
        return [b for element, part in zip(target.elements, item)
                for b in _bindings(normalizer, element.value, part, iterable, skip)]
    raise normalizer.error("srcad cannot unpack an array's item into several loop variables", target,
                           "Loop over positions and read each value: 'for i in range(len(a)): p, q = a[i, 0], a[i, 1]'.")


def _never_read(normalizer, name):
    """Whether the user's function mentions ``name`` only where a loop binds it."""
    mentions = sum(1 for node in nodes_in(normalizer.parsed.definition.body)
                   if isinstance(node, cst.Name) and node.value == name)
    return mentions == 1


def _evaluated_once(normalizer, expression, hint, before, rebound):
    """``expression`` itself where reading it again in the loop gives the same value, else a new name
    bound to it before the loop."""
    if is_atom(expression) and not (isinstance(expression, cst.Name) and expression.value in rebound):
        return expression
    name = _fresh_local(normalizer, f"{expression.value}_{hint}" if isinstance(expression, cst.Name) else hint)
    before.append(assign(name, expression))
    return cst.Name(name)


def _operation(left, operator, right):
    """``left <operator> right``, each side in parentheses unless it is a name, number, call or subscript."""
    def grouped(side):
        if isinstance(side, (cst.Name, cst.Integer, cst.Call, cst.Subscript, cst.Attribute)):
            return side
        return side.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])

    return cst.BinaryOperation(grouped(left), operator, grouped(right))


_ITERATING_BUILTINS = {range: "range", enumerate: "enumerate", zip: "zip", reversed: "reversed"}


def _called(normalizer, node):
    """'range', 'enumerate', 'zip' or 'reversed' for a call of that builtin, else None."""
    if isinstance(node, cst.Call):
        value = normalizer.parsed.resolve(node.func).value
        return next((name for builtin, name in _ITERATING_BUILTINS.items() if value is builtin), None)
    return None


def _is_enumerate(normalizer, iterable):
    return _called(normalizer, iterable) == "enumerate"


def _enumerate_start(call):
    """enumerate's start argument, or None when it counts from 0."""
    for position, argument in enumerate(call.args):
        if (argument.keyword is not None and argument.keyword.value == "start") or (
            argument.keyword is None and position == 1
        ):
            if isinstance(argument.value, cst.Integer) and argument.value.evaluated_value == 0:
                return None
            return argument.value
    return None


def _unit_range(normalizer, call):
    """(start, stop) of ``range(stop)`` or ``range(start, stop)``; other ranges are refused here."""
    arguments = call.args
    if any(a.star or a.keyword for a in arguments) or not 1 <= len(arguments) <= 2:
        raise normalizer.error("inside enumerate, zip or reversed, srcad takes range(stop) or range(start, stop)",
                               call, "Loop over the range itself and compute the other values from its variable.")
    if len(arguments) == 1:
        return cst.Integer("0"), arguments[0].value
    return arguments[0].value, arguments[1].value


def _reversed_range(normalizer, iterable):
    return (_called(normalizer, iterable) == "reversed" and len(iterable.args) == 1
            and is_range(normalizer, iterable.args[0].value))


def _reversed_range_bounds(normalizer, call):
    """``reversed(range(a, b))`` runs ``range(b - 1, a - 1, -1)``."""
    start, stop = _unit_range(normalizer, call)
    one = cst.Integer("1")
    return (_operation(stop, cst.Subtract(), one), _operation(start, cst.Subtract(), one),
            cst.UnaryOperation(cst.Minus(), one))


def _fresh_local(normalizer, hint):
    name = normalizer.names.fresh(hint)
    normalizer.parsed.local_names.add(name)
    return name


def _positioned(normalizer, statement, original):
    """A new statement whose errors point where the user wrote ``original`` (its line, not the
    statement, gets the position: the loop's line is marked once, above the loop)."""
    position = normalizer.parsed.positions.get(original)
    if position is not None:
        normalizer.parsed.positions[statement.body[0]] = position
    return statement


def is_sum_of_a_generator(normalizer, call):
    """``sum(e for v in x)`` or ``sum([e for v in x], start)``, the builtin sum; or
    ``np.sum([e for v in x])`` (the total of every element of the e's)."""
    function = normalizer.parsed.resolve(call.func).value
    arguments = 2 if function is sum else 1
    return ((function is sum or function is numpy.sum) and 1 <= len(call.args) <= arguments
            and not any(a.keyword or a.star for a in call.args)
            and isinstance(call.args[0].value, (cst.GeneratorExp, cst.ListComp)))


def sum_of_generator(normalizer, call):
    """``sum(e for v in x if c)`` (or of a list comprehension, with an optional start) as statements
    before the expression: ``total = 0``, then the loops (nested as the ``for`` clauses are) add
    ``e`` into ``total``. The comprehension's variables get names of their own where the function
    uses the same names elsewhere (they are local to the comprehension in Python).
    Returns (user-level statements, the name of the total)."""
    comprehension = call.args[0].value
    start = call.args[1].value if len(call.args) == 2 else cst.Integer("0")
    renamed = {}
    clause = comprehension.for_in
    while clause is not None:
        for name in target_names(clause.target):
            if name in normalizer.parsed.local_names or name in normalizer.parsed.free_values:
                renamed[name] = _fresh_local(normalizer, name)
            else:
                normalizer.parsed.local_names.add(name)
        clause = clause.inner_for_in
    total = _fresh_local(normalizer, "total")
    element, clause = comprehension.elt, comprehension.for_in
    if renamed:  # (the first iterable is read outside the comprehension's scope: not renamed)
        rename = _Renaming(renamed, normalizer.parsed.positions)
        element = element.visit(rename)
        clause = clause.with_changes(target=clause.target.visit(rename), ifs=[i.visit(rename) for i in clause.ifs],
                                     inner_for_in=clause.inner_for_in and clause.inner_for_in.visit(rename))
    addition = cst.SimpleStatementLine([cst.AugAssign(cst.Name(total), cst.AddAssign(), element)])
    return [assign(total, start), _loops(clause, addition)], total


def _loops(clause, innermost):
    body = innermost if clause.inner_for_in is None else _loops(clause.inner_for_in, innermost)
    for condition in reversed(clause.ifs):
        body = cst.If(test=condition.test, body=cst.IndentedBlock([body]))
    return cst.For(target=clause.target, iter=clause.iter, body=cst.IndentedBlock([body]))


class _Renaming(PositionKeeping):
    """Rename names, keeping the user's positions on every node rebuilt (for errors)."""

    def __init__(self, renamed, positions):
        super().__init__(positions)
        self.renamed = renamed

    def leave_Name(self, original_node, updated_node):
        if original_node.value in self.renamed:
            return updated_node.with_changes(value=self.renamed[original_node.value])
        return updated_node

    def leave_Attribute(self, original_node, updated_node):
        return updated_node.with_changes(attr=original_node.attr)  # `.x` of `state.x` is no variable

    def leave_Arg(self, original_node, updated_node):
        return updated_node.with_changes(keyword=original_node.keyword)  # nor is `k` of `f(k=v)`
