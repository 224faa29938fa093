"""The vocabulary of the AD-normal form, shared by every pass: building its statements, the
``# line N:`` markers that tie them to the user's lines, the names they read and bind, and the
exception a pass raises for what srcad cannot differentiate yet. Imports nothing of srcad's.

(Reading a statement as an operation is ``statements.py``; fresh names are ``names.py``.)
"""

import dataclasses

import libcst as cst


class UnsupportedHere(Exception):
    """Raised while generating code for something srcad cannot differentiate yet;
    the pipeline turns it into a DifferentiabilityError at ``lineno``."""

    def __init__(self, why, fix, lineno):
        super().__init__(why)
        self.why, self.fix, self.lineno = why, fix, lineno


# -- building statements ----------------------------------------------------------------------------
def assign(target, value):
    """``target = value`` (``target`` a name or a node)."""
    target = cst.Name(target) if isinstance(target, str) else target
    return cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(target)], value)])


def accumulate(target, increment, subtract=False):
    """``target += increment`` (or ``-=``)."""
    operator = cst.SubtractAssign() if subtract else cst.AddAssign()
    return cst.SimpleStatementLine([cst.AugAssign(target, operator, increment)])


def call(function, *arguments):
    """``function(*arguments)``, ``function`` spelled as source (``np.zeros_like``)."""
    return cst.Call(cst.parse_expression(function), [cst.Arg(a) for a in arguments])


def statement(code):
    """One statement from its source."""
    return cst.parse_statement(code)


def is_atom(node):
    """A name or a number (an operand of the normal form's operations)."""
    return isinstance(node, (cst.Name, cst.Integer, cst.Float)) or (
        isinstance(node, cst.UnaryOperation)
        and isinstance(node.operator, cst.Minus)
        and isinstance(node.expression, (cst.Integer, cst.Float))
    )


# -- the user's lines ---------------------------------------------------------------------------------
def line_marker(lineno, text):
    """The ``# line N: text`` comment above the first statement made from the user's line N."""
    return cst.EmptyLine(comment=cst.Comment(f"# line {lineno}: {text.strip()}"))


def statements_of(text):
    """The statements of ``text``, lines of code at the margin (generated code written as a template)."""
    return list(cst.parse_module(text).body)


def comment_lines(text):
    """Leading lines of one comment (``text`` starts with ``#``), for a statement's ``leading_lines``."""
    return [cst.EmptyLine(comment=cst.Comment(text))]


# The comment above a loop nest that whole-array statements became (transforms/analysis/fused_loops.py):
# each element write in it writes a different element, once.
FUSED_LOOP_NOTE = "# whole-array statements, computed element by element in one loop"


def marker_of(node):
    """``"N: text"`` of the ``# line N: text`` comment (``line_marker``) above a statement, if any."""
    for line in getattr(node, "leading_lines", ()):
        if line.comment is not None and line.comment.value.startswith("# line "):
            return line.comment.value[len("# line ") :]
    return None


# -- names read and bound -------------------------------------------------------------------------------
def all_names(node):
    """Every name a CST node mentions (its ``Name`` nodes, attribute names included)."""
    found = set()
    pending = [node]
    while pending:  # a plain walk over the nodes' fields: libcst's visitors rebuild every node they pass
        current = pending.pop()
        if isinstance(current, cst.Name):
            found.add(current.value)
            continue
        pending += _children(current)
    return found


def _children(node):
    """The nodes in ``node``'s fields that may hold names, in field order."""
    children = []
    for field in _node_fields(type(node)):
        value = getattr(node, field)
        if isinstance(value, cst.CSTNode):
            children.append(value)
        elif isinstance(value, (list, tuple)):
            children.extend(item for item in value if isinstance(item, cst.CSTNode))
    return children


_LAYOUT_FIELDS = {"lpar", "rpar", "leading_lines", "lines_after_decorators", "header", "footer", "comma",
                  "semicolon", "trailing_whitespace", "whitespace_before", "whitespace_after"}
_FIELDS = {}


def _node_fields(node_type):
    """The fields of a libcst node type that may hold names: not its whitespace, parentheses, commas."""
    fields = _FIELDS.get(node_type)
    if fields is None:
        fields = _FIELDS[node_type] = tuple(
            f.name for f in dataclasses.fields(node_type)
            if f.name not in _LAYOUT_FIELDS and not f.name.startswith(("whitespace_", "leading_", "trailing_"))
        )
    return fields


def names_in(expression):
    """The variables an expression reads (not the names of functions or attributes, nor ``x`` of
    ``x.shape``: see ``variables_in``)."""
    found = set()

    class Collect(cst.CSTVisitor):
        def visit_Attribute(self, node):
            return False  # math.sin: a function, not a variable

        def visit_Name(self, node):
            if node.value not in ("True", "False"):
                found.add(node.value)

    expression.visit(Collect())
    return found


def variables_in(node):
    """The variables ``node`` mentions, also as the base of an attribute (``x`` of ``x.shape``), but
    not attribute names (``np.sum``'s ``sum``) or keywords (``axis=1``)."""
    return set(variable_counts(node))


def variable_counts(node):
    """{variable: how many times ``node`` (or each node of a list) mentions it}, as ``variables_in``
    reads mentions."""
    counts = {}
    pending = list(node) if isinstance(node, (list, tuple)) else [node]
    while pending:  # a plain walk over the nodes' fields (see all_names)
        current = pending.pop()
        kind = type(current)
        if kind is cst.Name:
            counts[current.value] = counts.get(current.value, 0) + 1
        elif kind is cst.Attribute or kind is cst.Arg:  # not `sum` of np.sum, nor the keyword of axis=1
            pending.append(current.value)
        else:
            pending += _children(current)
    return counts


def nodes_in(node):
    """Every node under ``node``, itself included, parents before children (not whitespace, commas,
    parentheses or comments)."""
    found = []
    pending = [node]
    while pending:  # a plain walk over the nodes' fields (see all_names)
        current = pending.pop()
        found.append(current)
        pending.extend(reversed(_children(current)))
    return found


def target_names(target):
    """The names an assignment or loop target binds: ``x``, and each name of ``a, (b, c)``."""
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [name for element in target.elements for name in target_names(element.value)]
    if isinstance(target, cst.StarredElement):
        return target_names(target.value)
    return []


def bound_names(node, unpacked=False):
    """Names a CST node binds: assignment and augmented-assignment targets, for-loop variables (with
    ``unpacked``, also each name of a tuple target ``a, b = ...`` and annotated assignments)."""
    bound = set()

    def collect(target):
        if unpacked:
            bound.update(target_names(target))
        elif isinstance(target, cst.Name):
            bound.add(target.value)

    class Collect(cst.CSTVisitor):
        def visit_AssignTarget(self, target):
            collect(target.target)

        def visit_AugAssign(self, statement):
            collect(statement.target)

        def visit_AnnAssign(self, statement):
            if unpacked:
                collect(statement.target)

        def visit_For(self, loop):
            collect(loop.target)

    node.visit(Collect())
    return bound
