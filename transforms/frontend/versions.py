"""A variable bound again at the top level of the function gets a new name from there on.

``x = x.copy()`` at the start of a function, then views and writes of ``x``:
after this pass the copy is ``x_2`` and every later mention of ``x`` is one of
``x_2`` — a variable bound once, which the later passes handle most simply
(arrays bound more than once are saved and restored by reference; an array
bound once needs neither, and views of it may be written). A scalar bound once
needs no tape slot either.

Only top-level bindings split a variable: they always run, and in order, so
everything between two of them (nested loops and branches included, with
whatever they bind) reads and writes the same version. Bindings inside loops
and branches stay as they are.
"""

import libcst as cst

from ..ir import bound_names
from ..ir.names import renamed_in


def _top_level_binding(statement):
    """The name ``statement`` binds as ``name = value`` (not ``name += value``: an array changes
    in place), or None."""
    if isinstance(statement, cst.SimpleStatementLine) and isinstance(statement.body[0], cst.Assign):
        targets = statement.body[0].targets
        if len(targets) == 1 and isinstance(targets[0].target, cst.Name):
            return targets[0].target.value
    return None


def separate_rebindings(definition, parameters, names):
    """``definition`` (normal form) with each top-level rebinding of a variable given a fresh name."""
    body = list(definition.body.body)
    current = {}  # name -> the name its latest version has
    defined = set(parameters)
    for position, statement in enumerate(body):
        bound = _top_level_binding(statement)
        value = statement.body[0].value if bound is not None else None
        if bound is not None:
            # the value reads the versions before this binding; the target starts a new one
            value = renamed_in(value, current)
            if bound in defined:
                current[bound] = names.fresh(bound)
            defined.add(bound)
            target = cst.AssignTarget(cst.Name(current.get(bound, bound)))
            body[position] = statement.with_changes(body=[statement.body[0].with_changes(targets=[target], value=value)])
        else:
            body[position] = renamed_in(statement, current)
            defined |= bound_names(statement)
    return definition.with_changes(body=definition.body.with_changes(body=body))
