"""Code specialized to equal extents of its arguments says so, and checks it, first thing.

srcad compiles a gradient for the extents of the arguments that are equal at the call (``x0`` and
``v0`` of one length: see ``analysis/shapes.py``), and calls that code only for calls where they are
equal again. The generated function starts with that assumption, spelled as the check it is:

    if v0.shape[0] != x0.shape[0]:
        raise ValueError("srcad: this code was generated for v0.shape[0] == x0.shape[0]")

so a reader sees what the code assumes, and a call that reached it otherwise stops there instead
of reading past an array's end.
"""

import libcst as cst


def with_extent_guards(definition, equal_extents):
    """``definition`` starting with a check of each equality of ``equal_extents`` ({("dim", array,
    axis): the ("dim", array, axis) it equals}, from ``shapes.argument_extents``)."""
    if not equal_extents:
        return definition
    checks = []
    for (_, name, axis), (_, other, other_axis) in sorted(equal_extents.items()):
        left, right = f"{name}.shape[{axis}]", f"{other}.shape[{other_axis}]"
        checks.append(cst.parse_statement(
            f"if {left} != {right}:\n    raise ValueError({f'srcad: this code was generated for {left} == {right}'!r})\n"))
    checks[0] = checks[0].with_changes(leading_lines=[cst.EmptyLine(comment=cst.Comment(
        "# made for calls where these extents are equal (other calls get code of their own)"))])
    body = definition.body.with_changes(body=checks + list(definition.body.body))
    return definition.with_changes(body=body)
