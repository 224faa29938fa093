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
"""

import libcst as cst

from srcad.transforms.ir import assign, line_marker
from srcad.transforms import rules
from srcad.transforms.flatten import Flattener
from srcad.transforms.statements import is_view_subscript
from srcad.structure import UNKNOWN
from srcad.transforms.flatten_tuples import Packed
from srcad.transforms.kernel import KernelNormalizing
from srcad.transforms.normalize_control import ControlFlowNormalizing
from srcad.transforms.number_lists import number_lists
from srcad.transforms.names import GENERATED_MODULE_NAMES, NameFactory
from srcad.transforms.overlaps import read_before_writing
from srcad.transforms.precedence import spelled

_NO_EFFECT_HINT = "Remove it, or compute it outside the differentiated function."



class Normalizer(Flattener, ControlFlowNormalizing, KernelNormalizing):
    def __init__(self, parsed, procedure=False, structures=None, kernel=False, inline_everything=False,
                 normal_form_of=None):
        self.parsed = parsed
        # how a helper is normalized when it is inlined (normal_form.NormalForm), and whether every
        # call is inlined, none made through the callee's own derivatives (see inline.py)
        self.normal_form_of = normal_form_of
        self.inline_everything = inline_everything
        self.procedure = procedure or kernel
        self.kernel = kernel  # a @srcad.kernel: one thread's work, its index (one per dimension) first parameters
        self.threads = []
        self.lenient = structures is UNKNOWN  # checking before any call: tuple arguments not known yet
        if structures is None or structures is UNKNOWN:
            structures = (None,) * len(parsed.parameters)
        self.structures = structures  # of the arguments: which are tuples (srcad.structure)
        self.bundles = {}  # tuple variable -> the Packed of the variables holding its parts
        self.scalar_variables = set()  # variables assigned a single value (never a tuple)
        self.output_structure = None  # the structure of a tuple output; _SINGLE for one value
        self.parameter_groups = []  # per argument, the parameters standing for it (one per leaf)
        self.names = NameFactory(parsed.local_names | set(parsed.free_values) | GENERATED_MODULE_NAMES)
        self.constants = {}  # global or closure name -> number, defined at the top of generated modules
        self.source_lines = parsed.source.splitlines()
        self.number_lists = number_lists(parsed.definition, self.error)  # v = [a, b]: read as arrays

    # -- helpers --------------------------------------------------------------------------
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
            leaves = self.tuple_parameters(param.name.value, structure).leaves()
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
        handler = getattr(self, "compound_" + type(statement).__name__, None)
        if handler is None:
            raise self._unsupported_statement(statement)
        return self.marked(handler(statement), statement)

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
                return statements + [cst.SimpleStatementLine([cst.Return(self.returned_tuple(value, node.value))])]
            if self.output_structure not in (None, _SINGLE):
                raise self.error(
                    f"this returns one value, another return gives a tuple {self.output_structure.describe()}",
                    node.value,
                    "Return tuples of one structure everywhere.",
                )
            self.output_structure = _SINGLE
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
                from srcad.transforms.inline import inline_call, is_user_function

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
                self.assembled(cst.Call(cst.Name("list"), [cst.Arg(node.value)]), "np.array", statements, name)
                self.single_value(name, node)
                return statements
            statements, value = self.expression(node.value, into=name, allow_tuple=True)
            if isinstance(value, Packed):
                return statements + self.bind_tuple(name, value, node)
            self.single_value(name, node)
            return statements
        if len(targets) == 1 and isinstance(targets[0], (cst.Tuple, cst.List)):
            return self.tuple_assignment(targets[0], node.value)
        for target in targets:
            self.check_target(target)
        statements, atom = self.expression(node.value)
        return statements + [assign(self.target(target, statements), atom) for target in targets]

    def single_value(self, name, node):
        if name in self.bundles:
            raise self.error(f"{name!r} holds a single value here and a tuple elsewhere", node, "Use two names.")
        self.scalar_variables.add(name)

    def target(self, target, statements):
        """A name, or an array element ``b[i]`` with its indices computed into atoms first."""
        if isinstance(target, cst.Subscript) and is_view_subscript(target):  # a[1:] = e: a region of a
            return self.view(target, statements)
        return self.element(target, statements) if isinstance(target, cst.Subscript) else target

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
            element = self.view(target, statements) if view else self.element(target, statements)
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

    # -- compound statements ----------------------------------------------------------------------


_SINGLE = "one value"  # output_structure of a function returning one value


def _is_docstring(statement):
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def normalize(parsed, procedure=False, structures=None, kernel=False, inline_everything=False, normal_form_of=None):
    """The AD-normal form of a parsed function, and the Normalizer that made it (its constants, its
    parameters per argument, its output's structure). A ``procedure`` (a helper called for its
    effects) may return nothing: it returns 0.0 here. ``structures`` says which arguments are
    tuples (see ``srcad.structure``)."""
    normalizer = Normalizer(parsed, procedure, structures, kernel, inline_everything, normal_form_of)
    definition = normalizer.function()
    definition, normalizer.reads_before_writing = read_before_writing(definition, normalizer.names)
    if normalizer.output_structure == _SINGLE:
        normalizer.output_structure = None
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
