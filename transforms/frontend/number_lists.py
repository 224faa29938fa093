"""Lists of numbers used as small arrays: ``v = [a, b, c]`` then ``v[i]``, ``len(v)``, ``for e in v``.

NumPy users write them where an array would do, and srcad reads them as arrays
(``np.array([a, b, c])``). That is exact only while the list is used as an array would be: ``v + w``
concatenates lists and adds arrays, ``v * 2`` repeats a list and doubles an array, ``v.append(e)``
has no array twin. So a name is read as an array only if every binding of it is a list literal and
every use reads or writes its elements, takes its length, loops over it (also through enumerate,
zip and reversed), sums it, takes its maximum or minimum or converts it to an array; any other use
is refused at its line, before anything runs. Module-level tuples of numbers (``TUP = (0.5, 2.0)``),
read as constant arrays, are held to the same uses.
"""

import libcst as cst

from ..ir import nodes_in
from ..ir.precedence import spelled

# Calls that treat a list of numbers as an array would be treated (builtin sum adds the items of
# either; enumerate, zip and reversed give them one by one, as loops read them).
_ARRAY_LIKE_CALLS = {"len", "np.array", "np.asarray", "np.sum", "np.mean", "np.dot", "numpy.array", "numpy.sum",
                     "sum", "enumerate", "zip", "reversed"}
# ... and calls that do where the list is their only argument (max(v, w) compares two lists).
_ARRAY_LIKE_ALONE = {"max", "min", "np.max", "np.min", "np.prod", "numpy.max", "numpy.min"}


def number_lists(definition, error, constant_tuples=()):
    """The names of ``definition`` bound only to list literals and used only as arrays would be;
    ``error(why, node, fix)`` makes the DifferentiabilityError for a use that is not, of these and of
    ``constant_tuples``, module-level tuples of numbers read as constant arrays (``TUP[0] * x``)."""
    bound_to_lists, bound_otherwise = set(), set()
    for node in nodes_in(definition.body):
        if isinstance(node, cst.Assign):
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    listed = isinstance(node.value, cst.List) and not _holds_comprehension(node.value)
                    (bound_to_lists if listed else bound_otherwise).add(target.target.value)
        elif isinstance(node, (cst.AugAssign, cst.For)) and isinstance(getattr(node, "target", None), cst.Name):
            bound_otherwise.add(node.target.value)
    names = bound_to_lists - bound_otherwise
    tuples = set(constant_tuples) - bound_to_lists - bound_otherwise
    if names or tuples:
        definition.body.visit(_Uses(names | tuples, tuples, error))
    return names


def _holds_comprehension(node):
    return any(isinstance(e.value, (cst.ListComp, cst.GeneratorExp)) for e in node.elements)


class _Uses(cst.CSTVisitor):
    """Raises at the first use of a list name that an array would not stand for."""

    def __init__(self, names, tuples, error):
        super().__init__()
        self.names = names
        self.tuples = tuples  # of these, the module-level tuples
        self.error = error
        self.allowed = set()  # ids of Name nodes in a use that reads the list as an array

    def visit_Subscript(self, node):
        if isinstance(node.value, cst.Name):
            self.allowed.add(id(node.value))

    def visit_Call(self, node):
        function = spelled(node.func)
        if function in _ARRAY_LIKE_CALLS or function in _ARRAY_LIKE_ALONE and len(node.args) == 1:
            for argument in node.args:
                if isinstance(argument.value, cst.Name) and argument.keyword is None:
                    self.allowed.add(id(argument.value))

    def visit_Attribute(self, node):  # x.shape names an attribute, not the variable shape
        self.allowed.add(id(node.attr))

    def visit_Arg(self, node):  # f(x, start=2): the keyword is no variable
        if node.keyword is not None:
            self.allowed.add(id(node.keyword))

    def visit_For(self, node):
        if isinstance(node.iter, cst.Name):
            self.allowed.add(id(node.iter))

    def visit_AssignTarget(self, node):
        if isinstance(node.target, cst.Name):
            self.allowed.add(id(node.target))

    def visit_Name(self, node):
        if node.value in self.tuples and id(node) not in self.allowed:
            raise self.error(
                f"srcad reads the module-level tuple {node.value!r} as a constant NumPy array, and this use of "
                f"it means something else for a tuple than for an array",
                node,
                f"Use the tuple only through its elements ({node.value}[i]), len({node.value}) and loops over it, "
                f"or make it an array ({node.value} = np.array([...])) or pass it in as an argument.",
            )
        if node.value in self.names and id(node) not in self.allowed:
            raise self.error(
                f"srcad reads the list {node.value!r} as a NumPy array, and this use of it means something "
                f"else for a list than for an array",
                node,
                f"Make it an array ({node.value} = np.array([...])) and use array operations, or use the list "
                f"only through its elements ({node.value}[i]), len({node.value}) and loops over it.",
            )
