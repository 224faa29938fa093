"""Values known while normalizing, before the function runs: the module's numbers as literals in
the generated code (``literal``), and the value of an ``if``'s test made of numbers alone
(``decided_value``), whose untaken branch srcad drops as numba does."""

import libcst as cst


def literal(value):
    """The literal spelling ``value`` (a number, a bool or None) as the user writes it."""
    if value is None or isinstance(value, bool):
        return cst.Name(repr(value))
    text = repr(float(value)) if isinstance(value, float) else repr(int(value))
    if text in ("inf", "-inf", "nan"):  # as users write them: normalized again, they read the same
        return cst.parse_expression({"inf": "np.inf", "-inf": "-np.inf", "nan": "np.nan"}[text])
    if text.startswith("-"):
        return cst.UnaryOperation(cst.Minus(), literal(-value))
    return cst.Float(text) if isinstance(value, float) else cst.Integer(text)


UNDECIDED = object()
_COMPARED = {cst.LessThan: lambda a, b: a < b, cst.LessThanEqual: lambda a, b: a <= b, cst.GreaterThan: lambda a, b: a > b,
             cst.GreaterThanEqual: lambda a, b: a >= b, cst.Equal: lambda a, b: a == b, cst.NotEqual: lambda a, b: a != b}
_COMBINED = {cst.Add: lambda a, b: a + b, cst.Subtract: lambda a, b: a - b, cst.Multiply: lambda a, b: a * b}


def decided_value(parsed, test):
    """The value of an ``if``'s test made of numbers alone (literals, the module's constants and
    flags, compared and combined), or UNDECIDED. numba compiles only the branch such a test takes
    and types nothing in the other, so srcad keeps that branch alone too."""
    if isinstance(test, (cst.Integer, cst.Float)):
        return test.evaluated_value
    if isinstance(test, (cst.Name, cst.Attribute)):
        if isinstance(test, cst.Name) and test.value in ("True", "False"):
            return test.value == "True"
        resolved = parsed.resolve(test)
        if resolved.kind == "constant" and isinstance(resolved.value, (bool, int, float)):
            return resolved.value
        return UNDECIDED
    if isinstance(test, cst.UnaryOperation):
        value = decided_value(parsed, test.expression)
        if value is UNDECIDED:
            return UNDECIDED
        return not value if isinstance(test.operator, cst.Not) else -value if isinstance(test.operator, cst.Minus) else value
    if isinstance(test, cst.BinaryOperation) and type(test.operator) in _COMBINED:
        left, right = decided_value(parsed, test.left), decided_value(parsed, test.right)
        return UNDECIDED if UNDECIDED in (left, right) else _COMBINED[type(test.operator)](left, right)
    if isinstance(test, cst.BooleanOperation):
        left, right = decided_value(parsed, test.left), decided_value(parsed, test.right)
        if UNDECIDED in (left, right):
            return UNDECIDED
        return (left and right) if isinstance(test.operator, cst.And) else (left or right)
    if isinstance(test, cst.Comparison):
        left = decided_value(parsed, test.left)
        result = True
        for target in test.comparisons:
            right = decided_value(parsed, target.comparator)
            if UNDECIDED in (left, right) or type(target.operator) not in _COMPARED:
                return UNDECIDED
            result = result and _COMPARED[type(target.operator)](left, right)
            left = right
        return result
    return UNDECIDED
