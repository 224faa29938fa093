"""Pass 2b: in-place writes read what they add before writing, as NumPy does.

NumPy sees that ``y += y[0]`` (or ``c += y[:-1]`` with ``c = y[1:]``) reads memory the statement
writes, and reads it all first; numba reads element by element as it writes, so later elements
see earlier results. In the normal form, every such right-hand side is a name: where that name may
share memory with the array written, this pass copies it first (``y_0_before = snapshot(y_0)``:
a copy of an array, a number as it is), so the normal form computes NumPy's result.

Which names may share memory is decided from the code alone (no types yet), conservatively: ``b = a``,
views and elements ``b = a[...]``, ``a.T``, reshapes, lists of arrays, and anything a call not known
to make a new array returns. A needless copy costs time; a missing one gives a wrong answer.
"""

import libcst as cst

from .. import rules
from ..ir import assign
from ..ir.statements import LIST_POP, element_write_of, in_place_update_of, list_append_of, operation_of, walk

_SHARING = {"copy", "view", "index", "ravel", LIST_POP}  # results that may be the operand's memory


def read_before_writing(definition, names):
    """``definition`` with copies before in-place writes whose right-hand side may overlap the array
    written, and whether it made any."""
    body = list(definition.body.body)
    bindings = _bindings(body)
    group = _groups(body, bindings)
    copied = []
    body = _block(body, bindings, group, names, copied)
    if not copied:
        return definition, False
    return definition.with_changes(body=definition.body.with_changes(body=body)), True


def _bindings(body):
    """name -> (Operation, names whose memory the value may be) of every plain assignment to it
    (not ``x += t``, which keeps the memory)."""
    bindings = {}
    for statement, _ in walk(body):
        small = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else None
        if isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Name):
            operation = operation_of(small.value)
            value_names = [n.value for n in _names(small.value)] if isinstance(small.value, cst.Call) else []
            bindings.setdefault(small.targets[0].target.value, []).append((operation, _sources(operation, value_names)))
    return bindings


def _sources(operation, value_names):
    """The names whose memory a value may be: the operand of a view, or every name a call reads."""
    if operation.rule in _SHARING:
        return [operation.operands[0].value] if isinstance(operation.operands[0], cst.Name) else []
    if not rules.is_operation(operation.rule):  # a call srcad knows nothing of (a helper): maybe any of its arguments
        return value_names
    return []


def _groups(body, bindings):
    """name -> the set of names that may share its memory (itself included)."""
    group = {}

    def join(a, b):
        merged = group.get(a, {a}) | group.get(b, {b})
        for name in merged:
            group[name] = merged

    for statement, _ in walk(body):
        appended = list_append_of(statement)
        if appended is not None and isinstance(appended[1], cst.Name):
            join(appended[0], appended[1].value)
    for name, operations in bindings.items():
        for _, sources in operations:
            for source in sources:
                join(name, source)
    return group


def _names(expression):
    found = []

    class Collect(cst.CSTVisitor):
        def visit_Attribute(self, node):
            node.value.visit(self)  # a.reshape(...) reads a; np.reshape(...) names a module
            return False

        def visit_Name(self, node):
            if node.value not in ("np", "math", "srcad", "True", "False", "None"):
                found.append(node)

    expression.visit(Collect())
    return found


def _written_and_read(statement):
    """(array written, name of the value written, whether one element is written) of an in-place
    write ``b[...] = v``, ``b[...] += v`` or ``b += v`` whose value is a name; else None."""
    write = element_write_of(statement)
    if write is not None:
        if isinstance(write.value, cst.Name):
            return write.array, write.value.value, write.region is None
        return None
    update = in_place_update_of(statement)
    if update is not None and isinstance(update[1].right, cst.Name):
        return update[0], update[1].right.value, False
    return None


def _may_overlap(written, read, one_element, bindings, group):
    if read == written or read not in group.get(written, {written}):
        return False
    read_from = _elements_of(read, bindings)
    if read_from is None:
        return True
    if one_element:  # y[i] += y[j]: one element (or row) of the same array, read before it is written
        return read_from != {written}
    # s = y[0]; s += y[i]: numbers of a vector (never written), or rows of a matrix (the same or apart)
    once = all(len(bindings.get(base, ())) <= 1 for base in read_from)
    return not once or len(read_from) != 1 or _elements_of(written, bindings) != read_from


def _elements_of(name, bindings):
    """The arrays ``name`` is an element or a row of (``name = y[i]``), where every binding of it
    that may share memory is one; else None."""
    sharing = [operation for operation, sources in bindings.get(name, ()) if sources]
    if not sharing or any(o.rule != "index" for o in sharing):
        return None
    return {o.operands[0].value for o in sharing}


def _block(statements, bindings, group, names, copied):
    result = []
    for statement in statements:
        if isinstance(statement, (cst.If, cst.For, cst.While)):
            result.append(_nested(statement, bindings, group, names, copied))
            continue
        found = _written_and_read(statement)
        if found is None or not _may_overlap(*found, bindings, group):
            result.append(statement)
            continue
        read = found[1]
        copy = names.fresh(f"{read}_before")
        copied.append(copy)
        copying = assign(copy, cst.Call(cst.Name("snapshot"), [cst.Arg(cst.Name(read))]))
        result.append(copying.with_changes(leading_lines=statement.leading_lines))
        result.append(_reading(statement.with_changes(leading_lines=[]), copy))
    return result


def _reading(statement, copy):
    """The write ``statement`` with its value read from ``copy``."""
    small = statement.body[0]
    return statement.with_changes(body=[small.with_changes(value=cst.Name(copy))])


def _nested(statement, bindings, group, names, copied):
    def block(suite):
        return suite.with_changes(body=_block(list(suite.body), bindings, group, names, copied))

    changes = {"body": block(statement.body)}
    orelse = getattr(statement, "orelse", None)
    if isinstance(orelse, cst.If):
        changes["orelse"] = _nested(orelse, bindings, group, names, copied)
    elif orelse is not None:
        changes["orelse"] = orelse.with_changes(body=block(orelse.body))
    return statement.with_changes(**changes)
