"""The adjoints of statements that bind or write arrays (part of pass 5, see ``adjoint.py``).

An array's adjoint is an array of its shape: ``np.zeros_like(x)`` for an argument (allocated
before the forward sweep) and for an array the function creates (allocated next to it).
``b = a`` binds ``b_adj`` to ``a_adj``, as the primal binds ``b`` to ``a``. An array bound again
(a step's temporaries) has an adjoint per binding: the reverse sweep restores the old binding only
where an adjoint reads its values and cannot compute them again (elementwise, or as a view);
otherwise the old binding's adjoint starts from zeros of the current binding's shape, which
``analysis/shapes.py`` proves the same, or of the shape the forward sweep pushed on the int tape.
Writes into an array save the values they overwrite where a later adjoint reads them (not a
first write into new memory).
"""

import re
from dataclasses import replace

import libcst as cst
from numba.core import types as numba_types

from .. import rules
from ..analysis.aliases import shares_memory
from ..ir import accumulate, assign, call
from ..ir.precedence import spelled
from ..ir.statements import assembled_pieces, in_place_update_of, is_gather, operation_of
from .sweep_state import ZERO


def _number_of(node):
    if isinstance(node, cst.UnaryOperation):
        return -_number_of(node.expression)
    return int(node.value)


def _names(atoms):
    return [a.value for a in atoms if isinstance(a, cst.Name)]


def with_base(value, base):
    """The view expression ``value`` (``a[1:]``, ``a.T``, ``a.reshape(n)``, ``a``) taken of ``base`` instead."""
    if isinstance(value, cst.Name):
        return base
    if isinstance(value, cst.Call) and spelled(value.func) in rules.VIEW_FUNCTIONS:  # np.atleast_2d(a)
        return value.with_changes(args=[value.args[0].with_changes(value=base)])
    if isinstance(value, cst.Call):
        return value.with_changes(func=value.func.with_changes(value=base))
    return value.with_changes(value=base)


def _is_whole(region):
    """``a[...]``: numba stores into it but cannot read it; the array itself is the same values."""
    elements = region.slice if isinstance(region, cst.Subscript) else ()
    return len(elements) == 1 and isinstance(getattr(elements[0].slice, "value", None), cst.Ellipsis)


def element_of(array, index):
    """``array[i, j]`` of the name ``array`` and the index atoms ``index``."""
    return cst.Subscript(value=cst.Name(array), slice=[cst.SubscriptElement(cst.Index(i)) for i in index])


class ArrayAdjoints:
    """Forward and reverse code of the statements that bind or write arrays, generated into the
    shared ``SweepState`` (adjoint names, tape, fresh values)."""

    def __init__(self, state):
        self.state = state
        self.analysis = state.analysis
        self.current_statement = None  # the array binding being transformed

    def array_assignment(self, statement, target, value):
        """``b = np.zeros(n)``, ``b = a * c``, ``b = a[1:]``, ``b = a``...: a binding of an array variable."""
        if in_place_update_of(statement) is not None:
            return self.in_place_update(statement, target, value)
        operation = operation_of(value)
        if is_gather(operation, self.analysis.types) and target in self.analysis.active:
            self.check_index_array(operation.index)
        self.current_statement = statement
        self.check_ravel(target, value)
        if target in self.analysis.rebound_views:
            return self.rebound_view(statement, target, value, operation)
        if target in self.analysis.rebound:
            return self.rebound_assignment(statement, target, value, operation)
        forward = [statement]
        if target not in self.analysis.active:
            return forward, []
        adjoint = cst.Name(self.state.adjoint(target))
        source = operation.operands[0].value if operation.operands else None
        if (self.shares_memory(operation) and source not in self.analysis.rebound
                and self.analysis.is_active(cst.Name(source))):
            # b = a, b = a[1:], b = a.T, b = A[i]: one memory, two names; the adjoints share theirs alike
            # (an inactive a is new memory handed on to b, which alone is written: b's adjoint is its own)
            return forward + [assign(adjoint, with_base(value, cst.Name(self.state.adjoint(source))))], []
        if target not in self.analysis.single_use:  # else its one contribution will create it
            forward.append(assign(adjoint, cst.parse_expression(f"np.zeros_like({target})")))
        return forward, self.array_contributions(target, value, operation, cst.Name(target), adjoint)

    def rebound_assignment(self, statement, target, value, operation):
        """A binding of an array variable bound again later (or in a loop): the forward sweep saves
        the array it replaces (a reference: rebinding changes no values); the reverse sweep takes
        the adjoint of this binding, restores the old one and starts its adjoint from zero."""
        recorded = target in self.analysis.recorded and id(statement) not in self.analysis.unsaved
        saved = self.state.array_tape(target) if recorded else None
        forward = ([cst.parse_statement(f"{saved}.append({target})")] if recorded else []) + [statement]
        restore = [cst.parse_statement(f"{target} = {saved}.pop()")] if recorded else []
        if target not in self.analysis.active:
            return forward, restore
        zeros = f"np.zeros_like({target})"
        if target in self.analysis.shapes_kept:  # only the shape of the binding it replaces is needed
            extents = [self.state.scratch_name(target, f"extent_{axis}") for axis in range(self.state.rank(cst.Name(target)))]
            forward = [self.state.push(f"{target}.shape[{axis}]", as_float=False) for axis in range(len(extents))] + forward
            restore = [self.state.pop(extent, as_float=False) for extent in reversed(extents)]
            zeros = f"np.zeros(({', '.join(extents)},), dtype=np.{self.analysis.types[target].dtype})"
        adjoint = cst.Name(self.state.adjoint(target))
        incoming = cst.Name(self.state.scratch_name(target, "adj_in"))
        result = cst.Name(self.state.scratch_name(target, "out"))
        reverse = [assign(incoming, adjoint)]
        rule = rules.rule_for(operation.rule, self.state.ranks(operation), array_result=True)
        if rule is not None and any(rules.template_uses(t, "y") for t in rule.adjoints):
            reverse += self.state.recompute(target)
            reverse.append(assign(result, cst.Name(target)))  # the value this binding held
        else:
            result = cst.Name(target)  # unused
        reverse += restore
        reverse.append(assign(adjoint, cst.parse_expression(zeros)))
        return forward, reverse + self.array_contributions(target, value, operation, result, incoming)

    def check_ravel(self, target, value):
        """``b = a.ravel()`` is a view of a contiguous array and a copy of any other (in NumPy and numba
        alike, decided at run time); srcad follows it as a copy, which is right while nobody writes it."""
        if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "ravel"):
            return
        source = value.func.value.value if isinstance(value.func.value, cst.Name) else None
        if self.analysis.aliases.get(target, {target}) & self.analysis.written_arrays:
            raise self.state.unsupported(
                f"srcad cannot differentiate writes through '{target}' = {source}.ravel(): it is a view of "
                f"{source!r} when {source!r} is contiguous in memory and a copy when not, which only shows at run time",
                f"Write {source}.flatten() for a copy, or {source}.reshape(-1) for a view of a contiguous array.",
            )

    def rebound_view(self, statement, target, value, operation):
        """``b = a[i]`` (a view, or ``b = a``) in a loop, or again later, of an array ``a`` bound once:
        b's adjoint is the same view of a's adjoint, which holds still. The forward sweep saves both
        references before binding them; the reverse sweep takes them back (no contribution: the
        adjoint reached a's through the shared memory)."""
        if target in self.analysis.rederived_views:  # taken again where its iteration's reverse needs it
            return [statement], []
        recorded = target in self.analysis.recorded
        forward = ([cst.parse_statement(f"{self.state.array_tape(target)}.append({target})")] if recorded else []) + [statement]
        reverse = [cst.parse_statement(f"{target} = {self.state.array_tape(target)}.pop()")] if recorded else []
        if target not in self.analysis.active:
            return forward, reverse
        adjoint = self.state.adjoint(target)
        saved = self.state.array_tape(adjoint, sample=self.state.strided_placeholder(target))
        source_adjoint = cst.Name(self.state.adjoint(operation.operands[0].value))
        forward = [cst.parse_statement(f"{saved}.append({adjoint})")] + forward + [assign(adjoint, with_base(value, source_adjoint))]
        return forward, reverse + [cst.parse_statement(f"{adjoint} = {saved}.pop()")]

    def shares_memory(self, operation):
        return shares_memory(operation, self.analysis.types)

    def check_index_array(self, index_atoms):
        """``x[idx]`` with one array of integers: NumPy's integer-array indexing along the first axis."""
        index = index_atoms[0] if len(index_atoms) == 1 else None
        index_type = self.analysis.types.get(index.value) if isinstance(index, cst.Name) else None
        if getattr(index_type, "ndim", None) == 1 and isinstance(index_type.dtype, numba_types.Integer):
            return
        if isinstance(getattr(index_type, "dtype", None), numba_types.Boolean):
            raise self.state.unsupported(
                "srcad differentiates indexing with a boolean mask along the first axis only (a mask of one "
                "dimension), not with a mask of several",
                "Flatten both first (x.ravel()[mask.ravel()]), or use np.where(mask, x, 0.0).",
            )
        raise self.state.unsupported(
            "srcad differentiates indexing with one 1-D array of integers (x[idx]), not this mix of indices, yet",
            "Index with one array of integers along the first axis, or write a loop over the elements.",
        )

    def gather_contribution(self, operation, result_adjoint):
        """``b = x[idx]``: each b[k] came from x[idx[k]]; repeated indices add up."""
        source, indices = operation.operands[0].value, operation.index[0]
        if not self.analysis.is_active(cst.Name(source)):
            return []
        accumulator = cst.Name(self.state.adjoint(source))
        reverse = self.state.recompute(indices.value)
        if self.state.adjoint_owner.get(accumulator.value) in self.analysis.single_use:
            return reverse + [assign(accumulator, call("scattered", cst.Name(source), indices, result_adjoint))]
        return reverse + [cst.SimpleStatementLine([cst.Expr(call("scatter_add", accumulator, indices, result_adjoint))])]

    def array_contributions(self, target, value, operation, result, result_adjoint):
        """The reverse sweep's contributions of ``target = value`` (an array result) to its operands'
        adjoints, with ``result`` holding the value and ``result_adjoint`` its adjoint."""
        if operation.rule is None:
            return []
        if operation.rule in rules.ASSEMBLED_RULES:
            return self.assembled(value, result_adjoint)
        if is_gather(operation, self.analysis.types):
            return self.gather_contribution(operation, result_adjoint)
        if self.shares_memory(operation):  # a view of a rebound array: its adjoint is added back
            return self.view_contribution(target, value, operation, result_adjoint)
        rule = rules.rule_for(operation.rule, self.state.ranks(operation), array_result=True)
        extra = {}
        if operation.rule in rules.AXIS_REDUCTION_RULES:  # np.sum(x, axis=k) with an array result
            axis = next(a.value for a in value.args if a.keyword is not None and a.keyword.value == "axis")
            extra["axis"] = cst.Integer(str(_number_of(axis) % self.state.rank(operation.operands[0])))
        if rule is None:
            raise self.state.unsupported(
                f"srcad cannot differentiate {operation.rule} with an array result yet",
                "Write it as a loop over the elements.",
            )
        bindings = dict(zip(rule.operands, operation.operands), y=result, y_adj=result_adjoint, **extra)
        reverse = []
        for position, (atom, template) in enumerate(zip(operation.operands, rule.adjoints)):
            if not self.analysis.is_active(atom):
                continue
            for placeholder, bound in bindings.items():
                if isinstance(bound, cst.Name) and rule.adjoint_reads(position, placeholder):
                    reverse += self.state.recompute(bound.value)
            if rule.shared is not None and "shared" not in bindings:
                reverse += self.state.shared_value(target, rule, bindings)
            increment = rules.instantiate(template, **bindings)
            if not self.state.is_array(atom.value):  # a float spread over the array: its adjoint sums
                increment = cst.Call(cst.parse_expression("np.sum"), [cst.Arg(increment)])
            elif template != "0.0" and operation.rule not in rules.NOT_BROADCAST and self.may_broadcast(
                atom.value, operation.operands, target
            ):  # ("0.0": an operand giving a shape or a position only)
                increment = call("unbroadcast", increment, self.shaped_like(atom))
            reverse.append(self.state.contribution(cst.Name(self.state.adjoint(atom.value)), increment))
        return reverse

    def view_contribution(self, target, value, operation, result_adjoint):
        """``b = a[1:]`` (or a.T, a.reshape(...), b = a) where a or b is bound again: b's adjoint
        is added into the part of a's it came from. Only correct while nobody writes through b."""
        source = operation.operands[0].value
        if id(self.current_statement) not in self.analysis.read_only_views:
            raise self.state.unsupported(*self.view_refusal(target, value, source))
        if not self.analysis.is_active(cst.Name(source)):
            return []
        source_adjoint = cst.Name(self.state.adjoint(source))
        if isinstance(value, cst.Name):  # (a temporary used once takes it as its adjoint: see contribution)
            return [self.state.contribution(source_adjoint, result_adjoint)]
        # a temporary used once has no adjoint yet (its one contribution creates it): zeros first
        start = [assign(source_adjoint, call("np.zeros_like", cst.Name(source)))] if source in self.analysis.single_use else []
        if isinstance(value, cst.Subscript):
            indices = [line for name in _names(operation.index) for line in self.state.recompute(name)]
            return start + indices + [accumulate(with_base(value, source_adjoint), result_adjoint)]
        if isinstance(value, cst.Attribute) or value.func.attr.value == "transpose":  # a.T
            return start + [accumulate(source_adjoint, cst.Attribute(result_adjoint, cst.Name("T")))]
        return start + [accumulate(source_adjoint, cst.parse_expression(f"{result_adjoint.value}.reshape({source_adjoint.value}.shape)"))]

    def view_refusal(self, target, value, source):
        """Why ``target = value`` (one memory, two names, one of them bound again or in a loop) is
        refused, and the fix that fits how it was written."""
        members = self.analysis.aliases.get(target, {target, source})
        written = sorted(members & (self.analysis.written_arrays - self.analysis.privately_written)) or [source]
        text = self.state.current_marker.split(":", 1)[1].split("#")[0].strip() if self.state.current_marker else ""
        held = _held_before(source, text)
        if isinstance(value, cst.Name) and held is not None:  # cur, nxt = nxt, cur: the user never wrote cur_old
            written = sorted({held if name == source else name for name in written})
            why = (f"srcad cannot differentiate {text!r} yet: {target!r} takes the memory {held!r} held before this "
                   f"line, which is bound again (or in a loop), and {' and '.join(map(repr, written))} "
                   f"{'is' if len(written) == 1 else 'are'} written while that memory is still read")
            fix = (f"Bind {target!r} to new memory at the start of each step ({target} = np.empty_like({held})) "
                   f"before writing into it")
            targets, _, values = text.partition("=")
            parts = [part.strip() for part in values.split(",")]
            if text.count("=") == 1 and all(part.isidentifier() for part in parts):  # or copy what the line rotates
                fix += f", or copy the arrays the line rotates ({targets.strip()} = {', '.join(p + '.copy()' for p in parts)})"
            return why, fix + "."
        why = (f"srcad cannot differentiate '{target}' = {spelled(value)} yet: {target!r} shares its memory with "
               f"{source!r}, which is bound again (or in a loop), and {' and '.join(map(repr, written))} "
               f"{'is' if len(written) == 1 else 'are'} written while that memory is still read")
        if isinstance(value, cst.Name):  # cur = nxt: the rotation of a time-stepping scheme
            return why, (f"Take a copy ({target} = {source}.copy()), or bind {source!r} to new memory in each step "
                         f"({source} = np.empty_like(...)) before writing into it, and write no array another name "
                         f"still reads.")
        return why, f"Take a copy ({target} = {spelled(value)}.copy()), or write into {source!r} directly."

    def in_place_update(self, statement, target, value):
        """``x += t`` on an array: x's adjoint flows through and t's collects it; ``x *= t``,
        ``x /= t``, ``x **= t``: the old values of x are saved, and x's adjoint is scaled in place
        (views of x share its adjoint)."""
        symbol = rules.operator_symbol(value.operator)
        forward, restore = [statement], []
        if target in self.analysis.recorded and id(statement) not in self.analysis.first_writes:
            # the values it overwrites are read later: save them
            forward, restore = self.state.save_values(target, cst.Name(target), statement)
        if target not in self.analysis.active:
            return forward, restore
        operand = value.right
        adjoint = cst.Name(self.state.adjoint(target))
        if symbol in ("+", "-"):
            if not self.analysis.is_active(operand):
                return forward, restore
            increment = self.spread_back(adjoint, operand, [value.left, operand], target)
            return forward, restore + [self.state.contribution(cst.Name(self.state.adjoint(operand.value)), increment, symbol == "-")]
        rule = rules.rule_for(symbol, array_result=True)
        if rule is None:
            raise self.state.unsupported(f"srcad cannot differentiate the in-place '{symbol}=' of an array", "Write x = x ... t.")
        reverse = []
        result = cst.Name(target)
        if any(rules.template_uses(t, "y") for t in rule.adjoints):
            result = cst.Name(self.state.scratch_name(target, "out"))
            reverse.append(cst.parse_statement(f"{result.value} = {target}.copy()"))
        reverse += restore  # x holds its old values again
        bindings = {"a": cst.Name(target), "b": operand, "y": result, "y_adj": adjoint}
        if self.analysis.is_active(operand):
            for name in _names([operand]):
                reverse += self.state.recompute(name)
            increment = self.spread_back(rules.instantiate(rule.adjoints[1], **bindings), operand, [value.left, operand], target)
            reverse.append(self.state.contribution(cst.Name(self.state.adjoint(operand.value)), increment))
        scaled = rules.instantiate(rule.adjoints[0], **bindings)
        reverse.append(assign(cst.Subscript(adjoint, [cst.SubscriptElement(cst.Index(cst.Ellipsis()))]), scaled))
        return forward, reverse

    def shaped_like(self, atom):
        """What has ``atom``'s shape where its adjoint is added to: the array itself, or its adjoint
        where the reverse sweep does not restore the binding (``analysis.shapes_kept``)."""
        if atom.value in self.analysis.shapes_kept:
            return cst.Name(self.state.adjoint(atom.value))
        return atom

    def spread_back(self, increment, operand, operands, result):
        """``increment`` (shaped like the result) as a contribution to ``operand``'s adjoint: summed
        for a float, summed over broadcast axes for an array."""
        if not self.state.is_array(operand.value):
            return call("np.sum", increment)
        if self.may_broadcast(operand.value, operands, result):
            return call("unbroadcast", increment, self.shaped_like(operand))
        return increment

    def assembled(self, value, adjoint):
        """Each active piece of np.array([...]), np.stack or np.concatenate collects its part of the adjoint."""
        reverse = []
        callee = spelled(value.func)
        template = rules.ASSEMBLED_RULES[callee]
        axis = next((_number_of(a.value) for a in value.args[1:] if a.keyword is None or a.keyword.value == "axis"), 0)
        pieces = assembled_pieces(value)
        rank = max(self.state.rank(atom) for atom, _ in pieces) + (callee == "np.stack")
        before = ":, " * (axis % rank if rank else 0)  # the part is taken along `axis`
        for atom, position in pieces:
            if not self.analysis.is_active(atom):
                continue
            if callee == "np.concatenate":  # (the pieces before it, computed again if they are)
                reverse += [line for a in position + [atom] for line in self.state.recompute(a.value)]
                length = f"shape[{axis % rank}]"
                start = " + ".join(f"{self.shaped_like(a).value}.{length}" for a in position) or "0"
                extent = f"{self.shaped_like(atom).value}.{length}"
                part = before + f"{start}:{start if start != '0' else ''}{' + ' if start != '0' else ''}{extent}"
            else:
                part = before + ", ".join(str(k) for k in position)
            increment = cst.parse_expression(template.replace("y_adj", adjoint.value).replace("part", part))
            reverse.append(self.state.contribution(cst.Name(self.state.adjoint(atom.value)), increment))
        return reverse

    def may_broadcast(self, name, operands, result):
        """Whether NumPy may have stretched the array ``name`` to the result's shape: it has fewer
        dimensions than the result, or another array operand (shapes are only known at run time)."""
        arrays = [a.value for a in operands if isinstance(a, cst.Name) and self.state.is_array(a.value)]
        return self.analysis.types[name].ndim < self.analysis.types[result].ndim or len(set(arrays)) > 1

    def element_write(self, statement, write):
        """``b[i] = v`` (v_adj += b_adj[i]; b_adj[i] = 0), ``b[i] += v`` and ``b[i] -= v``; also for a
        region ``b[1:, j]``, where v may be a float or an array broadcast over it."""
        forward, restore = [statement], []
        scatter = write.region is None and any(self.state.is_array(name) for name in write.index_names())
        if scatter and write.array in self.analysis.active:
            self.check_index_array(write.index)
        if write.region is None and len(write.index) < self.state.rank(cst.Name(write.array)):
            write = replace(write, region=element_of(write.array, write.index))  # y[0] = v on a matrix: a row
        written = write.region if write.region is not None else element_of(write.array, write.index)
        whole = _is_whole(written)
        if whole:
            written = cst.Name(write.array)
        if write.array in self.analysis.recorded and id(statement) not in self.analysis.first_writes:
            # the values it overwrites are read later: save them
            forward, restore = self.state.save_values(write.array, written, statement, one_element=write.region is None and not scatter)
        if write.array not in self.analysis.active and not restore:
            return forward, []
        # the restore may index with recomputed values too
        reverse = [line for name in write.index_names() for line in self.state.recompute(name)] + restore
        if write.array not in self.analysis.active:
            return forward, reverse
        adjoint = cst.Name(self.state.adjoint(write.array))
        element = with_base(write.region, adjoint) if write.region is not None else element_of(adjoint.value, write.index)
        read = adjoint if whole else element
        if self.analysis.is_active(write.value):
            increment = read
            if scatter:  # b[idx] = v: where idx repeats an index, the last write is the one b keeps
                increment = call("at_last_writes", adjoint, write.index[0])
                if not self.state.is_array(write.value.value):
                    increment = call("np.sum", increment)
                else:  # v may have been stretched over the selected elements
                    increment = call("unbroadcast", increment, self.shaped_like(write.value))
            elif write.region is not None:  # v spread over the region: its adjoint sums
                increment = call("unbroadcast", read, self.shaped_like(write.value)) if self.state.is_array(
                    write.value.value) else call("np.sum", read)
            reverse.append(self.state.contribution(cst.Name(self.state.adjoint(write.value.value)), increment, write.kind == "-="))
        if write.kind == "=" and id(statement) not in self.analysis.writes_into_made_arrays:
            # (the first write into memory made from nothing, np.empty(n): what it overwrote has no
            # adjoint that goes anywhere)
            reverse.append(assign(element, ZERO))
        return forward, reverse


def _held_before(name, text):
    """The variable whose old value ``name`` holds where srcad made ``name`` (``cur_old`` for
    ``cur, nxt = nxt, cur``: normalize reads a tuple assignment's values first), else None:
    ``name`` is not in the user's line ``text``, and the variable it is named after is."""
    match = re.fullmatch(r"(\w+?)_old(?:_\d+)?", name)
    if match is None or re.search(rf"\b{re.escape(name)}\b", text):
        return None
    held = match.group(1)
    return held if re.search(rf"\b{re.escape(held)}\b", text) else None
