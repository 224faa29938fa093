"""The front end in one call: a user function parsed, normalized, its locals renamed apart, its
rebindings separated and its exits made one, with what later stages need of it.

``NormalForm(f)`` runs the passes of the front end in order (parse, normalize with the user's
helpers inlined, rename, separate rebindings, single exit). A helper is normalized the same way
when it is inlined (``inline.py`` makes a ``NormalForm`` of it through ``Normalizer.normal_form_of``).
"""

from .. import rules
from ..ir import all_names, names
from ..ir.statements import assignment_of, element_write_of, in_place_update_of, operation_of, walk
from . import nested_derivatives, normalize, parse, single_exit, versions
from .stores import forwarded_stores


class NormalForm:
    """A function in AD-normal form. ``structures``: which arguments are tuples (None: none are;
    ``srcad.structure.UNKNOWN``: not known yet, checking before any call); ``kernel``: one thread
    of a ``@srcad.kernel``; ``inline_everything``: no call through a callee's own derivatives
    (``srcad.callees``), as kernels and derivatives differentiated again need."""

    def __init__(self, function, procedure=False, structures=None, kernel=False, inline_everything=False):
        self.parsed = parse.parse_function(function)
        with nested_derivatives.counted() as derivatives_called:
            definition, normalizer = normalize.normalize(
                self.parsed, procedure, structures, kernel, inline_everything=kernel or inline_everything,
                normal_form_of=NormalForm,
            )
        # the names the derivatives called inside get, in the order met (see nested_derivatives.inlined)
        self.derivatives_called = list(derivatives_called)
        self.constants = normalizer.constants
        self.call_rules = normalizer.call_rules  # see rules.overlay: every later stage runs under it
        self.inlined_names = normalizer.inlined_names  # for messages in the user's words (pipeline.py)
        self.reads_before_writing = normalizer.reads_before_writing  # see overlaps.py
        self.output_structure = normalizer.output_structure  # None: one value; else srcad.structure.Structure
        with rules.overlay(self.call_rules):  # the passes read calls that stay calls as operations
            definition, renamed = names.rename_clashing_locals(definition, self.parsed.local_names | set(self.parsed.parameters))
            # per argument, its parameters in the generated code: one, or one per leaf of a tuple argument
            self.parameter_groups = [[renamed.get(p, p) for p in group] for group in normalizer.parameter_groups]
            self.parameters = [p for group in self.parameter_groups for p in group]
            self.threads = normalizer.threads  # a kernel's thread index, one per dimension: its first parameters
            self.parameters[:0] = self.threads
            self.names = names.NameFactory(set())
            self.names.taken |= all_names(definition) | set(self.constants) | {"math", "srcad"}
            definition = versions.separate_rebindings(definition, self.parameters, self.names)
            if kernel:
                definition = forwarded_stores(definition)
            self.definition = single_exit.single_exit(definition, self.names)
        self._written_parameters = None

    def written_parameters(self):
        """Positions of the array arguments the function writes in place (directly or through `b = a`)."""
        if self._written_parameters is None:  # the tape asks at every recorded call
            with rules.overlay(self.call_rules):
                self._written_parameters = self._find_written_parameters()
        return self._written_parameters

    def _find_written_parameters(self):
        parameters = self.parameters
        names_of = {p: p for p in parameters}  # local name -> the argument it is bound to
        written = set()
        for statement, _ in walk(self.definition.body.body):
            target_value = assignment_of(statement)
            if target_value is not None and in_place_update_of(statement) is None:
                operation = operation_of(target_value[1])  # b = a, b = a[1:], b = a.T: the same memory
                if operation.rule in ("copy", "view") and operation.operands[0].value in names_of:
                    names_of[target_value[0]] = names_of[operation.operands[0].value]
            write = element_write_of(statement)
            update = in_place_update_of(statement)  # x += t: in place when x is an array
            written_name = write.array if write is not None else (update[0] if update is not None else None)
            if written_name in names_of:
                written.add(names_of[written_name])
        return tuple(sorted(parameters.index(p) for p in written))
