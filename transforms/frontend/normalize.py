"""Pass 2: rewrite a parsed function into AD-normal form.

The result is plain Python that computes the same value, in a small subset:
- every active computation is one operation per statement, ``y = a * b`` or
  ``y = math.sin(x)``, whose operands are names or numbers (three-address form);
- tests of ``if``/``while``, comparisons, boolean and integer-valued calls are
  never active, so they stay as the user wrote them;
- ``x += e`` is spelled ``x = x + e``; ``a, b = b, a + b`` goes through
  temporaries; ``a if c else b`` becomes an ``if`` statement;
- ``for`` runs over ``range(...)`` with name or number bounds, and
  ``while c:`` becomes ``while True:`` with ``if not c: break`` first.
``break``, ``continue`` and ``return`` are kept; ``single_exit`` lowers them next.

Each group of statements made from one user statement starts with a comment
``# line N: <the user's line>``; later passes copy it so every stage, and every
error from it, points back at the user's code.

Anything outside the subset raises DifferentiabilityError at the user's line.

The ``Normalizer`` is one class, its methods grouped by what they normalize: the function and its
blocks, statements, control flow, a kernel's threads, then expressions (into three-address form).
Array expressions (element reads, views, methods, reductions, assembled arrays) are
``array_expressions.py``'s functions, and tuple values ``tuple_values.py``'s, called with the
Normalizer; the module's numbers as literals and the tests they decide are ``known_values.py``'s.

Expressions. ``Normalizer.expression(e)`` turns an expression into statements that compute it one
operation at a time, and the atom (a name or a number) that holds its value. Values that can never
carry a derivative (comparisons, booleans, integer-valued calls) are copied as written, with
function names spelled canonically (``math.sin``, ``np.zeros``).

Control flow. ``if`` with its test computed inactive, ``for`` over ``range`` with its bounds
computed once before the loop (loops over items are first written as such, see ``iteration.py``),
and ``while`` as ``while True`` with an exit check first, the form the later passes take.

Tuples. Tuples and NamedTuples have one variable per part in the normal form: ``TupleVariables``
(``tuple_variables.py``) keeps which variables hold tuples; ``tuple_values.py`` reads
tuple-valued expressions and assigns them part by part.
"""

import builtins
import types

import libcst as cst
import numpy

from srcad import custom
from srcad.structure import UNKNOWN, NeedsStructures, is_named_tuple_class

from .. import rules
from ..ir import assign, call, line_marker
from ..ir.names import GENERATED_MODULE_NAMES, NameFactory, describe
from ..ir.precedence import spelled
from ..ir.statements import is_view_subscript
from . import array_expressions, iteration, nested_derivatives, tuple_values
from .canonical import Canonicalize
from .control_flow import COMPOUND_STATEMENTS
from .einsum import einsum
from .inline import (
    custom_call,
    inline_call,
    inline_srcad_helper,
    is_srcad_helper,
    is_user_function,
    refusal_of_call,
)
from .known_values import literal
from .number_lists import number_lists
from .overlaps import read_before_writing
from .parse import MISSING, is_tuple_of_numbers
from .tuple_variables import TupleVariables
from .tuples import Packed

_NO_EFFECT_HINT = "Remove it, or compute it outside the differentiated function."


CONSTANT_ARRAY_LIMIT = 10_000  # elements of a module-level array copied into generated code

class _Temporary(cst.Name):
    """A name this pass made for a value it flattened: an atom, not a user variable to look up."""


def _assigns_to(statement, name):
    if isinstance(statement, cst.If):
        return True  # a conditional expression already assigned `name` in both branches
    small = statement.body[0]
    return (
        isinstance(small, cst.Assign)
        and isinstance(small.targets[0].target, cst.Name)
        and small.targets[0].target.value == name
    )


def _is_module(resolved):
    """A module srcad knows (math, np) or any other module (operator): its attributes are functions."""
    return resolved.kind == "module" or isinstance(resolved.value, types.ModuleType)


# ``procedure=`` for a function checked when decorated: a procedure if no return of it returns a value
IF_IT_RETURNS_NOTHING = "if it returns nothing"


class Normalizer:
    """A user function into AD-normal form, one statement (and expression) at a time."""

    def __init__(self, parsed, procedure=False, structures=None, kernel=False, inline_everything=False,
                 normal_form_of=None):
        self.parsed = parsed
        # how a helper is normalized when it is inlined (normal_form.NormalForm), and whether every
        # call is inlined, none made through the callee's own derivatives (see inline.py)
        self.normal_form_of = normal_form_of
        self.inline_everything = inline_everything
        if procedure == IF_IT_RETURNS_NOTHING:  # @srcad.differentiable on add_forces(out, x, k): a helper
            procedure = not parsed.returns_a_value
        self.procedure = procedure or kernel
        self.kernel = kernel  # a @srcad.kernel: one thread's work, its index (one per dimension) first parameters
        self.threads = []
        self.lenient = structures is UNKNOWN  # checking before any call: tuple arguments not known yet
        if structures is None or structures is UNKNOWN:
            structures = (None,) * len(parsed.parameters)
        self.structures = structures  # of the arguments: which are tuples (srcad.structure)
        self.parameter_groups = []  # per argument, the parameters standing for it (one per leaf)
        self.names = NameFactory(parsed.local_names | set(parsed.free_values) | GENERATED_MODULE_NAMES)
        self.tuples = TupleVariables(self.names, self.error)  # which variables hold tuples, and their parts
        self.constants = {}  # global or closure name -> number, defined at the top of generated modules
        self.call_rules = {}  # the rules of calls that stay calls, by the name the code calls (rules.overlay)
        self.inlined_names = {}  # an inlined helper's variable, as renamed here -> (the helper's name, its own name)
        self.source_lines = parsed.source.splitlines()
        constant_tuples = [name for name, value in parsed.free_values.items()
                           if name not in parsed.local_names and is_tuple_of_numbers(value)]
        self.number_lists = number_lists(parsed.definition, self.error, constant_tuples)  # v = [a, b]: read as arrays

    # -- helpers --------------------------------------------------------------------------
    @property
    def output_structure(self):
        """The structure of the function's tuple output (srcad.structure), None for one value."""
        return self.tuples.output_structure

    def error(self, why, node, fix=None):
        return self.parsed.error(why, node, fix)

    def marked(self, statements, original):
        """Put the user's line as a comment above the first statement made from ``original``."""
        if not statements:
            return statements
        position = self.parsed.positions.get(original)
        if position is None:
            return statements
        lineno = self.parsed.locator.first_line + position.start.line - 1
        text = self.source_lines[position.start.line - 1]
        first = statements[0]
        statements[0] = first.with_changes(leading_lines=[line_marker(lineno, text)])
        return statements

    # -- function and blocks ------------------------------------------------------------------
    def refuse_complex_numbers(self, body):
        """``1j`` anywhere: srcad's numbers are real, whatever the expression around it."""
        found = []

        class Find(cst.CSTVisitor):
            def visit_Imaginary(self, node):
                found.append(node)

        body.visit(Find())
        if found:
            raise self.error(
                "srcad differentiates real numbers only, not complex ones",
                found[0],
                "Carry the real and imaginary parts as two floats (or two arrays).",
            )

    def function(self):
        definition = self.parsed.definition
        params = self.parameters(list(definition.params.posonly_params) + list(definition.params.params))
        if self.kernel:  # srcad.tid() reads these parameters
            dimensions = self.thread_dimensions()
            hints = ["tid"] if dimensions == 1 else [f"tid_{k}" for k in range(dimensions)]
            self.threads = [self.names.fresh(hint) for hint in hints]
            params = [cst.Param(cst.Name(t)) for t in self.threads] + params
            self.parsed.local_names |= set(self.threads)
        self.refuse_complex_numbers(definition.body)
        body = self.block(definition.body.body, top=True)
        if not body:
            raise self.error(f"{self.parsed.name!r} has an empty body", definition)
        if not _always_returns(list(definition.body.body)):
            if not self.procedure and not self.parsed.returns_a_value:
                raise self.error(
                    f"{self.parsed.name!r} returns nothing, so it has no value to differentiate",
                    definition,
                    f"Differentiate a function that returns a float (or vjp one that returns arrays); "
                    f"'{self.parsed.name}' itself may be called from such a function for what it writes.",
                )
            if not self.procedure:
                raise self.error(
                    f"{self.parsed.name!r} can reach its end without a return (it would return None)",
                    definition.body.body[-1],
                    "End every path with 'return <the value to differentiate>'.",
                )
            body.append(cst.SimpleStatementLine([cst.Return(cst.Float("0.0"))]))
        params = definition.params.with_changes(params=params, posonly_params=[], posonly_ind=cst.MaybeSentinel.DEFAULT)
        return definition.with_changes(
            decorators=[],
            params=params,
            returns=None,
            body=cst.IndentedBlock(body),
            leading_lines=[],
            asynchronous=None,
        )

    def parameters(self, params):
        """The parameters as generated code takes them: one per leaf of a tuple argument, no
        defaults (srcad binds every argument before calling generated code), no annotations."""
        plain = []
        for param, structure in zip(params, self.structures):
            param = param.with_changes(
                annotation=None, default=None, equal=cst.MaybeSentinel.DEFAULT, comma=cst.MaybeSentinel.DEFAULT
            )
            if structure is None:
                self.parameter_groups.append([param.name.value])
                plain.append(param)
                continue
            leaves = self.tuples.of_parameter(param.name.value, structure).leaves()
            self.parameter_groups.append([leaf.value for leaf in leaves])
            plain += [param.with_changes(name=leaf) for leaf in leaves]
        self.parsed.local_names |= {name for group in self.parameter_groups for name in group}
        return plain

    def block(self, statements, top=False):
        result = []
        for index, statement in enumerate(statements):
            if top and index == 0 and _is_docstring(statement):
                continue
            result.extend(self.statement(statement))
        return result

    def statement(self, statement):
        if isinstance(statement, cst.SimpleStatementLine):
            produced = []
            for small in statement.body:
                produced.extend(self.small_statement(small))
            return self.marked(produced, statement)
        handler = COMPOUND_STATEMENTS.get(type(statement))
        if handler is None:
            raise self._unsupported_statement(statement)
        return self.marked(handler(self, statement), statement)

    def _unsupported_statement(self, node):
        kind = type(node).__name__
        fixes = {
            "Try": ("try/except", "Move error handling outside the differentiated function."),
            "With": ("'with' blocks", "Move the 'with' block outside the differentiated function."),
            "FunctionDef": ("nested function definitions", "Define the helper at module level."),
            "ClassDef": ("class definitions", "Define the class at module level."),
            "Match": ("'match' statements", "Use if/elif/else."),
        }
        what, fix = fixes.get(kind, (f"'{kind}' statements", None))
        return self.error(f"srcad cannot differentiate {what}", node, fix)

    # -- simple statements ----------------------------------------------------------------------
    def small_statement(self, node):
        if isinstance(node, cst.Assign):
            return self.assignment(node)
        if isinstance(node, cst.AnnAssign):
            if node.value is None:
                return []
            return self.assignment(cst.Assign([cst.AssignTarget(node.target)], node.value))
        if isinstance(node, cst.AugAssign):
            if isinstance(node.operator, cst.MatrixMultiplyAssign):  # numba has no in-place matrix product
                raise self.error("srcad cannot differentiate an in-place matrix product (@=)", node,
                                 "Write a new array: a = a @ b.")
            return self.augmented_assignment(node)
        if isinstance(node, cst.Return):
            if node.value is not None and self.kernel:
                raise self.error(
                    "a kernel returns nothing", node.value, "Write its results into an output array (out[i] = ...)."
                )
            if node.value is None and self.procedure:  # a bare `return` of a helper or kernel
                node = node.with_changes(value=cst.Float("0.0"), whitespace_after_return=cst.SimpleWhitespace(" "))
            if node.value is None:
                raise self.error(
                    "a differentiable function must return a number", node, "Return the value to differentiate."
                )
            statements, value = self.expression(node.value, allow_tuple=True)
            if isinstance(value, Packed):
                return statements + [cst.SimpleStatementLine([cst.Return(self.tuples.returned(value, node.value))])]
            self.tuples.returned_one(node.value)
            return statements + [cst.SimpleStatementLine([cst.Return(value)])]
        if isinstance(node, (cst.Break, cst.Continue)):
            return [cst.SimpleStatementLine([node])]
        if isinstance(node, cst.Pass):
            return []
        if isinstance(node, cst.Expr):
            if isinstance(node.value, (cst.SimpleString, cst.ConcatenatedString)):
                return []
            if isinstance(node.value, (cst.Yield, cst.Await)):
                raise self._unsupported_expression(node.value)
            call = node.value
            if isinstance(call, cst.Call) and self.parsed.resolve(call.func).name == "srcad.atomic_add":
                return self.atomic_add(call)
            if isinstance(call, cst.Call) and not isinstance(call.func, cst.Attribute):
                resolved = self.parsed.resolve(call.func)
                if resolved.kind != "local" and is_user_function(resolved.value):  # helper(force, x): its effects
                    statements = []
                    inline_call(self, call, resolved.value, statements, None, procedure=True)
                    return statements
            if (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "fill"
                    and isinstance(call.func.value, cst.Name) and len(call.args) == 1 and call.args[0].keyword is None):
                # a.fill(v) is a[...] = v
                whole = cst.Subscript(call.func.value, [cst.SubscriptElement(cst.Index(cst.Ellipsis()))])
                return self.small_statement(cst.Assign([cst.AssignTarget(whole)], call.args[0].value))
            if (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "append"
                    and self.is_typed_list(call.func.value) and len(call.args) == 1 and not call.args[0].keyword):
                statements, item = self.expression(call.args[0].value)  # saved.append(x.copy().reshape(-1))
                appended = call.with_changes(func=call.func.with_changes(value=self.name(call.func.value)), args=[cst.Arg(item)])
                return statements + [cst.SimpleStatementLine([cst.Expr(appended)])]
            if (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
                    and self.parsed.resolve(call.func.value).kind == "local"):  # x.sort(), x.resize(...)
                method = call.func.attr.value
                raise self.error(
                    f"srcad cannot differentiate the method '.{method}()', which changes "
                    f"'{spelled(call.func.value)}' in place",
                    node,
                    "Write the new values element by element (a[i] = ...), or compute them outside the "
                    "differentiated function and pass them in.",
                )
            if (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "at"
                    and isinstance(self.parsed.resolve(call.func.value).value, numpy.ufunc)):
                raise self.ufunc_at_refusal(call, node)
            raise self.error(
                "srcad cannot differentiate a statement that only has side effects",
                node,
                "Remove it (e.g. a print), or move it outside the differentiated function.",
            )
        if isinstance(node, (cst.Global, cst.Nonlocal)):
            keyword = "global" if isinstance(node, cst.Global) else "nonlocal"
            raise self.error(
                f"srcad cannot differentiate a function that writes '{keyword}' variables",
                node,
                "Pass the value in as an argument and return the new value.",
            )
        kinds = {
            cst.Import: "imports",
            cst.ImportFrom: "imports",
            cst.Del: "'del'",
            cst.Raise: "'raise'",
            cst.Assert: "'assert'",
        }
        what = kinds.get(type(node), f"'{type(node).__name__}' statements")
        raise self.error(f"srcad cannot differentiate {what}", node, _NO_EFFECT_HINT)

    def assignment(self, node):
        targets = [t.target for t in node.targets]
        if len(targets) == 1 and isinstance(targets[0], cst.Name):
            name = targets[0].value
            if name in self.number_lists and isinstance(node.value, cst.List):
                statements = []
                array_expressions.assembled(self, cst.Call(cst.Name("list"), [cst.Arg(node.value)]), "np.array", statements, name)
                self.tuples.single(name, node)
                return statements
            statements, value = self.expression(node.value, into=name, allow_tuple=True)
            if isinstance(value, Packed):
                return statements + self.tuples.bind(name, value, node)
            self.tuples.single(name, node)
            return statements
        if len(targets) == 1 and isinstance(targets[0], (cst.Tuple, cst.List)):
            return tuple_values.tuple_assignment(self, targets[0], node.value)
        for target in targets:
            self.check_target(target)
        statements, atom = self.expression(node.value)
        return statements + [assign(self.target(target, statements), atom) for target in targets]

    def target(self, target, statements):
        """A name, or an array element ``b[i]`` with its indices computed into atoms first."""
        if isinstance(target, cst.Subscript) and is_view_subscript(target):  # a[1:] = e: a region of a
            return array_expressions.view(self, target, statements)
        return array_expressions.element(self, target, statements) if isinstance(target, cst.Subscript) else target

    def check_target(self, target):
        written = target.value if isinstance(target, cst.Subscript) else None
        if isinstance(written, cst.Name) and self.parsed.resolve(written).kind == "constant array":
            raise self.error(
                f"srcad reads module-level arrays like {written.value!r} as constants (their values when the "
                "function is first compiled) and cannot write into them",
                target,
                f"Write into a copy ({written.value.lower()} = {written.value}.copy()), or pass the array in as an argument.",
            )
        if isinstance(target, (cst.Name, cst.Subscript)):
            return
        if isinstance(target, (cst.Tuple, cst.List)):
            raise self.error("srcad supports one tuple target per assignment", target, "Split the assignment.")
        raise self.error(
            f"srcad cannot assign to {type(target).__name__.lower()} targets",
            target,
            "Assign to a plain local variable.",
        )

    def augmented_assignment(self, node):
        target = node.target
        self.check_target(target)
        operator = getattr(cst, type(node.operator).__name__.replace("Assign", ""), None)
        if operator is None or rules.operator_symbol(operator()) is None:
            raise self.error("srcad cannot differentiate this augmented assignment", node)
        statements, atom = self.expression(node.value)
        if isinstance(target, cst.Subscript):
            view = is_view_subscript(target)
            element = array_expressions.view(self, target, statements) if view else array_expressions.element(self, target, statements)
            if isinstance(node.operator, (cst.AddAssign, cst.SubtractAssign)):  # scatter-add stays one statement
                return statements + [cst.SimpleStatementLine([node.with_changes(target=element, value=atom)])]
            old = self.names.fresh(f"{element.value.value}_{'part' if view else 'element'}")
            new = self.names.fresh(f"{element.value.value}_updated")
            return statements + [
                assign(old, element),
                assign(new, cst.BinaryOperation(cst.Name(old), operator(), atom)),
                assign(element, cst.Name(new)),
            ]
        # `x += e` stays in place: for an array it changes the array other names may share, as in Python
        return statements + [cst.SimpleStatementLine([node.with_changes(target=target.with_changes(lpar=[], rpar=[]), value=atom)])]

    # -- a kernel's threads and atomic additions -----------------------------------------------
    def thread_dimensions(self):
        """1, or k where the kernel unpacks its thread index as ``i, j = srcad.tid()`` (k names)."""
        parsed = self.parsed
        found = set()

        class Uses(cst.CSTVisitor):
            def visit_Assign(self, node):
                value = node.value
                if isinstance(value, cst.Call) and parsed.resolve(value.func).name == "srcad.tid":
                    target = node.targets[0].target
                    found.add(len(target.elements) if isinstance(target, (cst.Tuple, cst.List)) else 1)

        parsed.definition.body.visit(Uses())
        if len(found) > 1:
            raise self.error("this kernel takes srcad.tid() with different numbers of dimensions",
                             parsed.definition, "Unpack it the same way everywhere: i, j = srcad.tid().")
        dimensions = found.pop() if found else 1
        if dimensions > 3:
            raise self.error("kernels have one, two or three thread dimensions", parsed.definition)
        return dimensions

    def atomic_add(self, call):
        """``srcad.atomic_add(a, i, v)``: ``a[i] += v``, a scatter-add (the kernel back ends make it atomic)."""
        arguments = [a.value for a in call.args]
        if len(arguments) != 3 or any(a.keyword or a.star for a in call.args) or not isinstance(arguments[0], cst.Name):
            raise self.error("srcad.atomic_add takes three arguments: an array variable, an index and a value", call)
        array, index, value = arguments
        indices = index.elements if isinstance(index, cst.Tuple) else [cst.Element(index)]
        target = cst.Subscript(array, [cst.SubscriptElement(cst.Index(e.value)) for e in indices])
        return self.augmented_assignment(cst.AugAssign(target, cst.AddAssign(), value))

    # -- expressions, into three-address form --------------------------------------------------
    def expression(self, node, into=None, allow_tuple=False):
        """Flatten ``node`` into statements and an atom holding its value (with ``allow_tuple``,
        a tuple-valued expression gives a Packed instead).

        With ``into``, the last operation assigns straight to that name."""
        statements = []
        atom = tuple_values.value_of(self, node, statements, into) if allow_tuple else self.flatten(node, statements, into)
        if isinstance(atom, Packed):
            return statements, atom
        if into is not None and not (
            statements
            and isinstance(statements[-1], (cst.SimpleStatementLine, cst.If))
            and _assigns_to(statements[-1], into)
        ):
            statements.append(assign(into, atom))
            atom = cst.Name(into)
        return statements, atom

    def operand(self, node, statements):
        return self.flatten(node, statements, None)

    def result(self, value, statements, into):
        name = into or self.names.fresh(describe(value))
        statements.append(assign(name, value))
        return _Temporary(name)

    def flatten(self, node, statements, into):
        if isinstance(node, _Temporary):  # already flattened
            return node
        if isinstance(node, (cst.Name, cst.Attribute, cst.Subscript)):
            part = self.tuples.part(node)  # t[0], state.x: the variable holding that part
            if part is not None:
                return self.tuples.one_value(part, node)
        if isinstance(node, cst.Name):
            return self.name(node).with_changes(lpar=[], rpar=[])
        if isinstance(node, (cst.Integer, cst.Float)):
            return node.with_changes(lpar=[], rpar=[])
        if isinstance(node, cst.Imaginary):
            raise self.error("srcad cannot differentiate complex numbers", node)
        if isinstance(node, cst.Attribute):
            if self.is_array_attribute(node):
                return self.result(self.inactive(node), statements, into)
            if node.attr.value == "T" and self.parsed.resolve(node.value).kind != "module":  # a.T
                array = self.operand(node.value, statements)
                return self.result(node.with_changes(value=array, lpar=[], rpar=[]), statements, into)
            return self.attribute_value(node)
        if isinstance(node, cst.Subscript):
            if isinstance(node.value, cst.Attribute) and self.is_array_attribute(node.value):
                return self.result(self.inactive(node), statements, into)  # a.shape[0]
            if is_view_subscript(node):
                return self.result(array_expressions.view(self, node, statements), statements, into)
            return self.result(array_expressions.element(self, node, statements), statements, into)
        if isinstance(node, cst.UnaryOperation):
            if isinstance(node.operator, cst.Plus):
                return self.flatten(node.expression, statements, into)
            if isinstance(node.operator, cst.Minus):
                operand = self.operand(node.expression, statements)
                if isinstance(operand, (cst.Integer, cst.Float)):
                    return cst.UnaryOperation(cst.Minus(), operand)
                return self.result(cst.UnaryOperation(cst.Minus(), operand), statements, into)
            return self.result(self.inactive(node), statements, into)
        if isinstance(node, cst.BinaryOperation):
            symbol = rules.operator_symbol(node.operator)
            if symbol is None:
                return self.result(self.inactive(node), statements, into)
            left = self.operand(node.left, statements)
            right = self.operand(node.right, statements)
            operator = type(node.operator)()  # the user's spacing may hold line breaks
            return self.result(cst.BinaryOperation(left, operator, right), statements, into)
        if isinstance(node, (cst.Comparison, cst.BooleanOperation)):
            return self.result(self.inactive(node, statements=statements), statements, into)
        if isinstance(node, cst.IfExp):
            return self.conditional_expression(node, statements, into)
        if isinstance(node, cst.Call):
            return self.tuples.one_value(tuple_values.with_replaced_parts(self, node, statements) or self.call(node, statements, into), node)
        raise self._unsupported_expression(node)

    def _unsupported_expression(self, node):
        kind = type(node)
        messages = {
            cst.Lambda: ("srcad cannot differentiate a lambda", "Define the function with 'def' at module level."),
            cst.Yield: ("srcad cannot differentiate generators ('yield')", "Return a value instead."),
            cst.Await: ("srcad cannot differentiate 'await'", None),
            cst.NamedExpr: ("srcad does not support ':=' yet", "Assign on a separate line."),
        }
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
            return self.error(
                "srcad cannot differentiate string values", node, "Only numbers can flow through the computation."
            )
        if isinstance(node, (cst.Dict, cst.Set, cst.DictComp, cst.SetComp)):
            return self.error(
                "srcad cannot differentiate dicts or sets: their items cannot carry derivatives",
                node,
                "Use a NamedTuple for named parts (class Params(NamedTuple): k: float, then params.k), "
                "separate float variables, or a NumPy array.",
            )
        if isinstance(node, (cst.List, cst.Tuple, cst.ListComp, cst.GeneratorExp)):
            return self.error(
                "srcad cannot differentiate list or tuple values here",
                node,
                "Use separate float variables; tuples are supported only in 'a, b = e1, e2'.",
            )
        why, fix = messages.get(kind, (f"srcad cannot differentiate a {kind.__name__} expression", None))
        return self.error(why, node, fix)

    def name(self, node):
        resolved = self.parsed.resolve(node)
        if resolved.kind == "local":
            return node
        if resolved.kind == "constant":
            if node.value in ("True", "False"):
                return node
            self.constants[node.value] = resolved.value
            return node
        if resolved.kind == "constant array":
            return self.constant_array(node, resolved.value)
        if resolved.kind == "function":
            raise self.error(
                f"srcad cannot use the function {node.value!r} as a value", node, "Call it instead."
            )
        if resolved.value is MISSING:
            raise self.error(f"name {node.value!r} is not defined", node)
        raise self.error(
            f"srcad cannot use {node.value!r} (a {type(resolved.value).__name__}) in a differentiated function",
            node,
            "Only numbers, math functions and local variables can be used; pass other values in as arguments.",
        )

    def constant_array(self, node, value):
        """A module-level NumPy array the function reads (``WEIGHTS = np.array([...])``): generated
        modules define it with its values, as numba freezes a global array when it compiles."""
        if value.size > CONSTANT_ARRAY_LIMIT:
            raise self.error(
                f"srcad copies module-level arrays into the code it generates, up to {CONSTANT_ARRAY_LIMIT} "
                f"elements; {node.value!r} has {value.size}",
                node,
                "Pass it in as an argument.",
            )
        self.constants[node.value] = value
        return node

    def attribute_value(self, node):
        resolved = self.parsed.resolve(node)
        if resolved.kind == "constant":
            return literal(resolved.value)
        if self.lenient and isinstance(node.value, cst.Name) and self.parsed.resolve(node.value).kind == "local":
            raise NeedsStructures(node.value.value)  # state.x: a NamedTuple argument, perhaps
        raise self.error(
            f"srcad cannot use {spelled(node)!r} here",
            node,
            "Only numeric constants such as math.pi and calls of supported functions can be used.",
        )

    # -- arrays -----------------------------------------------------------------------------------------
    def is_array_attribute(self, node):
        """``a.shape``, ``a.size``, ``a.ndim`` of a local array (or a tuple's part): integers, never active."""
        if node.attr.value not in ("shape", "size", "ndim"):
            return False
        if isinstance(node.value, cst.Name) and self.parsed.resolve(node.value).kind == "constant array":
            self.name(node.value)
            return True
        if isinstance(node.value, cst.Name) and self.parsed.resolve(node.value).kind == "local":
            return not self.tuples.holds_tuple(node.value.value)
        return isinstance(node.value, (cst.Attribute, cst.Subscript)) and isinstance(self.tuples.part(node.value), cst.Name)

    def conditional_expression(self, node, statements, into):
        name = into or self.names.fresh("choice")
        body, _ = self.expression(node.body, into=name)
        orelse, _ = self.expression(node.orelse, into=name)
        test = self.inactive(node.test, statements=statements)
        statements.append(
            cst.If(
                test=test,
                body=cst.IndentedBlock(body),
                orelse=cst.Else(cst.IndentedBlock(orelse)),
            )
        )
        return cst.Name(name)

    def call(self, node, statements, into):
        """A call's value: an atom, or a Packed for a NamedTuple built or a helper returning a tuple."""
        length = self.tuples.length(node)
        if length is not None:
            return length
        if iteration.is_sum_of_a_generator(self, node):
            loops, total = iteration.sum_of_generator(self, node)
            statements += [made for statement in loops for made in self.statement(statement)]
            if self.parsed.resolve(node.func).name == "np.sum":  # np.sum([...]) adds every element of the e's
                return self.result(call("np.sum", cst.Name(total)), statements, into)
            return self.operand(cst.Name(total), statements) if into is None else self.result(cst.Name(total), statements, into)
        for argument in node.args:  # any(x > k for k in ...), [f(v) for v in x]: comprehensions cannot be done
            if isinstance(argument.value, (cst.GeneratorExp, cst.ListComp, cst.SetComp, cst.DictComp)):
                raise self.error(
                    "srcad cannot differentiate a generator expression or a comprehension",
                    argument.value,
                    "Write it as a loop: total = 0.0, then for k in range(n): total += ...",
                )
        if nested_derivatives.derivative_called(self, node) is not None:  # srcad.grad(energy)(x, k)
            return nested_derivatives.nested_derivative(self, node, statements, into)
        function = node.func
        if isinstance(function, cst.Attribute) and not _is_module(self.parsed.resolve(function.value)):
            if isinstance(function.value, cst.Name) and self.parsed.resolve(function.value).value is MISSING:
                raise self.error(f"name {function.value.value!r} is not defined", function.value,
                                 "Import it: import numpy as np" if function.value.value == "np" else None)
            return array_expressions.method_call(self, node, statements, into)  # a.sum(), np.abs(x).dot(y)
        resolved = self.parsed.resolve(function)
        callee = resolved.name
        if resolved.value is builtins.sum and isinstance(function, cst.Name) and node.args:
            return self.builtin_sum(node, statements, into)
        if callee in ("max", "min") and len(node.args) == 1 and not (node.args[0].keyword or node.args[0].star):
            return self.greatest_item(node, callee, statements, into)
        if callee in rules.INTEGER_TYPES:  # np.int64(x), np.intp(i): an integer (of a float, truncated), no derivative
            return self.result(self.inactive(node, statements=statements), statements, into)
        if resolved.kind != "function":
            if custom.rules_for(resolved.value) and "reverse" in custom.rules_for(resolved.value):
                return custom_call(self, node, resolved.value, statements, into)
            if is_srcad_helper(resolved.value):  # products_of_others: derivatives of np.prod call it; no rule
                return inline_srcad_helper(self, node, resolved.value, statements, into)
            if is_user_function(resolved.value):  # the user's own helper: its body takes the call's place
                return inline_call(self, node, resolved.value, statements, into)
            if is_named_tuple_class(resolved.value):
                return tuple_values.constructed(self, node, resolved.value, statements)
            raise self.unknown_callee(node, resolved)
        if callee == "srcad.tid":
            if not self.kernel or node.args:
                raise self.error(
                    "srcad.tid() takes no arguments and has a meaning only in a @srcad.kernel", node,
                    "Decorate the function with @srcad.kernel and launch it with kernel.launch(n, ...).",
                )
            if len(self.threads) == 1:
                return cst.Name(self.threads[0])
            return Packed(tuple, [cst.Name(t) for t in self.threads])  # i, j = srcad.tid()
        if callee == "srcad.atomic_add":
            raise self.error("srcad.atomic_add(a, i, v) is a statement: it returns nothing", node)
        if callee in rules.INACTIVE_FUNCTIONS and callee != "srcad.no_grad":
            return self.result(self.inactive(node, statements=statements), statements, into)
        if callee in rules.ARRAY_CONSTRUCTORS:
            return self.result(self.inactive(node, allow_tuples=True), statements, into)
        if callee in rules.ARRAY_FILLS:
            return array_expressions.array_fill(self, node, callee, statements, into)
        if callee in rules.OPERATOR_FUNCTIONS:
            return self.flatten(self.operator_of(node, callee), statements, into)
        if callee in rules.ARRAY_CONVERSIONS and node.args and not isinstance(node.args[0].value, (cst.List, cst.Tuple)):
            return array_expressions.converted(self, node, callee, statements, into)
        if callee in rules.ASSEMBLED_RULES and node.args:
            return array_expressions.assembled(self, node, callee, statements, into)
        if callee in rules.REDUCTIONS and node.args:
            return array_expressions.reduction(self, node, callee, node.args[0].value, list(node.args[1:]), statements, into)
        if callee in ("np.cumsum", "np.linalg.norm") and len(node.args) > 1:
            return array_expressions.with_axis(self, node, callee, statements, into)
        if callee == "np.roll":
            return array_expressions.roll(self, node, statements, into)
        if callee == "np.einsum":
            return einsum(self, node, statements, into)
        for argument in node.args:
            if argument.keyword is not None or argument.star:
                raise self.error(f"srcad supports only positional arguments in calls to {callee}", argument)
        arguments = [self.operand(argument.value, statements) for argument in node.args]
        if callee == "srcad.no_grad":
            if len(arguments) != 1:
                raise self.error("srcad.no_grad takes exactly one argument", node)
            function = cst.parse_expression("srcad.no_grad")
            return self.result(cst.Call(function, [cst.Arg(arguments[0])]), statements, into)
        if callee in rules.VARIADIC_FUNCTIONS and len(arguments) > 2:
            result = arguments[0]
            for index, argument in enumerate(arguments[1:]):
                last = index == len(arguments) - 2
                pair = cst.Call(cst.Name(callee), [cst.Arg(result), cst.Arg(argument)])
                result = self.result(pair, statements, into if last else None)
            return result
        if callee == "np.matmul" and len(arguments) == 2:  # numba compiles `@`, not np.matmul
            return self.result(cst.BinaryOperation(arguments[0], cst.MatrixMultiply(), arguments[1]), statements, into)
        if callee == "math.log" and len(arguments) == 2:  # log(x, base) = log(x) / log(base)
            log_x = self.result(call("math.log", *arguments[:1]), statements, None)
            log_base = self.result(call("math.log", *arguments[1:]), statements, None)
            return self.result(cst.BinaryOperation(log_x, cst.Divide(), log_base), statements, into)
        rule = rules.rule_for(callee)
        if len(arguments) != len(rule.operands):
            raise self.error(f"{callee} takes {len(rule.operands)} argument(s) here, got {len(arguments)}", node)
        return self.result(call(callee, *arguments), statements, into)

    def ufunc_at_refusal(self, call, node):
        """``np.add.at(a, idx, v)``: NumPy's unbuffered in-place operation, refused with its loop."""
        function = spelled(call.func)
        operator = {"add": "+=", "subtract": "-=", "multiply": "*=", "divide": "/=", "true_divide": "/="}.get(
            call.func.value.attr.value if isinstance(call.func.value, cst.Attribute) else "")
        arguments = [spelled(a.value) for a in call.args if a.keyword is None and not a.star]
        if operator is not None and len(arguments) == 3 and len(call.args) == 3:
            array, indices, values = arguments
            values = values if isinstance(call.args[2].value, (cst.Integer, cst.Float)) else f"{values}[k]"
            fix = (f"Write it as a loop, which srcad differentiates (repeated indices add up, as in {function}): "
                   f"for k in range(len({indices})): {array}[{indices}[k]] {operator} {values}")
        else:
            fix = "Write it as a loop over the indices, updating one element at a time."
        return self.error(f"srcad does not support {function}(...), NumPy's unbuffered in-place operation", node, fix)

    def builtin_sum(self, node, statements, into):
        """Python's ``sum(x)`` adds the items of ``x``, its rows for a matrix: ``np.sum(x, axis=0)``
        (a number for a vector: analysis/vector_sums.py writes it ``np.sum(x)`` once the types say so);
        ``sum([a, b, c])`` adds the parts; ``start`` comes first, as in Python."""
        items, *others = node.args
        start = None
        for position, argument in enumerate(others):
            if argument.star or (argument.keyword.value if argument.keyword else ("start" if position == 0 else None)) != "start":
                raise self.error("sum() takes an iterable and an optional start here", argument)
            start = argument.value
        if items.star or items.keyword:
            raise self.error("sum() takes an iterable and an optional start here", items)
        if isinstance(items.value, (cst.List, cst.Tuple)):  # the parts of a literal, added in order
            parts = [e.value for e in items.value.elements if not isinstance(e, cst.StarredElement)]
            if len(parts) != len(items.value.elements):
                raise self.error("srcad cannot sum a starred list", items.value, "Write the parts out.")
            terms = ([start] if start is not None else []) + parts
            if not terms:
                return self.result(cst.Integer("0"), statements, into)
            total = terms[0]
            for term in terms[1:]:
                total = cst.BinaryOperation(total.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()]),
                                            cst.Add(), term.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()]))
            return self.flatten(total, statements, into)
        first_axis = [cst.Arg(cst.Integer("0"))]
        if start is None:
            return array_expressions.reduction(self, node, "np.sum", items.value, first_axis, statements, into)
        start = self.operand(start, statements)
        total = array_expressions.reduction(self, node, "np.sum", items.value, first_axis, statements, None)
        return self.result(cst.BinaryOperation(start, cst.Add(), total), statements, into)

    def greatest_item(self, node, callee, statements, into):
        """``max(x)`` of one sequence: its greatest item, ``np.max(x)`` of a vector (Python's max would
        compare a matrix's rows); ``max([a, b, c])`` is ``max(a, b, c)``. The same for ``min``."""
        items = node.args[0].value
        if isinstance(items, (cst.List, cst.Tuple)):
            if not items.elements or any(isinstance(e, cst.StarredElement) for e in items.elements):
                raise self.error(f"{callee}() of an empty or starred list", items, "Write the parts out.")
            if len(items.elements) == 1:
                return self.flatten(items.elements[0].value, statements, into)
            return self.call(node.with_changes(args=[cst.Arg(e.value) for e in items.elements]), statements, into)
        if isinstance(items, (cst.GeneratorExp, cst.ListComp)):
            raise self.error(f"srcad cannot differentiate {callee}() of a generator expression or a comprehension",
                             items, f"Write it as a loop: m = first value, then m = {callee}(m, ...) for each.")
        return array_expressions.reduction(self, node, f"np.{callee}", items, [], statements, into)

    def operator_of(self, node, callee):
        """``np.add(a, b)`` as ``a + b``, ``np.negative(a)`` as ``-a`` (what NumPy computes for them)."""
        symbol = rules.OPERATOR_FUNCTIONS[callee]
        arity = 1 if symbol in ("neg", "copy") else 2
        if len(node.args) != arity or any(a.keyword or a.star for a in node.args):
            raise self.error(f"srcad supports {callee} with {arity} positional argument(s) only", node)
        operands = [a.value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()]) for a in node.args]
        if symbol == "neg":
            return cst.UnaryOperation(cst.Minus(), operands[0])
        if symbol == "copy":
            return cst.UnaryOperation(cst.Plus(), operands[0])
        operator = {"+": cst.Add, "-": cst.Subtract, "*": cst.Multiply, "/": cst.Divide}[symbol]()
        return cst.BinaryOperation(operands[0], operator, operands[1])

    def unknown_callee(self, node, resolved):
        return refusal_of_call(self, node, resolved)

    # -- inactive expressions are copied, with function names spelled canonically ---------------------
    def expression_atom(self, node, statements):
        """An atom holding the value of ``node``, the statements computing it appended to ``statements``."""
        return self.operand(node, statements)

    def inactive(self, node, allow_tuples=False, statements=None):
        """``node`` checked and spelled canonically; with ``statements``, calls of the user's helpers in
        it are computed there first."""
        canonical = node.visit(Canonicalize(self, allow_tuples, statements))
        if "\n" in spelled(canonical) and not getattr(canonical, "lpar", True):
            canonical = canonical.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return canonical

    def is_typed_list(self, node):
        """Whether ``node`` names a typed list made in this function by ``empty_list_like`` (generated
        gradients keep arrays in them; forward mode reads them, reverse mode refuses them)."""
        if self._typed_lists is None:
            resolve, found = self.parsed.resolve, set()

            class Find(cst.CSTVisitor):
                def visit_Assign(self, assign):
                    value, target = assign.value, assign.targets[0].target
                    if isinstance(value, cst.Call) and isinstance(target, cst.Name):
                        if resolve(value.func).name == "empty_list_like":
                            found.add(target.value)

            self.parsed.definition.visit(Find())
            self._typed_lists = found
        return isinstance(node, cst.Name) and node.value in self._typed_lists

    _typed_lists = None


def _is_docstring(statement):
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def normalize(parsed, procedure=False, structures=None, kernel=False, inline_everything=False, normal_form_of=None):
    """The AD-normal form of a parsed function, and the Normalizer that made it (its constants, its
    parameters per argument, its output's structure). A ``procedure`` (a helper called for its
    effects) may return nothing: it returns 0.0 here (``IF_IT_RETURNS_NOTHING``: where no return of it
    returns a value). ``structures`` says which arguments are
    tuples (see ``srcad.structure``)."""
    normalizer = Normalizer(parsed, procedure, structures, kernel, inline_everything, normal_form_of)
    with rules.overlay(normalizer.call_rules):
        definition = normalizer.function()
        definition, normalizer.reads_before_writing = read_before_writing(definition, normalizer.names)
    return definition, normalizer


def _always_returns(statements):
    """Whether every path through ``statements`` ends in a return (else Python returns None)."""
    for statement in statements:  # code after a statement that always returns is dead
        if isinstance(statement, cst.SimpleStatementLine) and isinstance(statement.body[-1], cst.Return):
            return True
        if isinstance(statement, cst.If) and statement.orelse is not None:
            orelse = statement.orelse
            branch = [orelse] if isinstance(orelse, cst.If) else list(orelse.body.body)
            if _always_returns(list(statement.body.body)) and _always_returns(branch):
                return True
    return False
