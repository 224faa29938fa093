"""Pass 5e: an array adjoint known to hold zeros takes a whole contribution by taking its memory.

The adjoint of a rebinding ``u = u_next`` (a time step's state moving on, a helper's result given
a name, ``x = x0.copy()``) adds the adjoint so far into the other name's and starts this one again
from zeros (``recycled_adjoints`` writes the zeros into the memory just read):

    u_adj_in = u_adj
    u_next_adj += u_adj_in        # u_next_adj holds zeros here
    u_adj = zeroed(u_adj_in, u)

Where ``u_next_adj`` is certainly all zeros there (``known_zeros``: it was started from zeros and
nothing wrote it since), that is one addition and one fill of the whole array per step, which a
person writing the adjoint by hand does not spend: the two arrays swap roles instead,

    u_adj_in = u_adj
    u_adj = recycled_zeros(u_next_adj, u)    # the zeros u_next_adj held (new ones if u's shape differs)
    u_next_adj = u_adj_in                    # the values, not a copy

The same values bit for bit, but for the sign of a zero (``0.0 + -0.0``). Only where both adjoints
are ``recycled_adjoints``' own (no other name, view or caller refers to their memory), of the same
number of dimensions and element type, the contribution is the whole other adjoint (a bare name: a
rebinding's, so of the same shape), and nothing between the addition and the fill mentions either.
"""

import libcst as cst

from ..ir import all_names, assign, call
from ..ir.precedence import spelled
from ..ir.statements import name_binding_of, with_inner_blocks
from .known_zeros import zeros_before
from .recycled_adjoints import handoffs_of, owned_adjoints

_ZEROS = {"np.zeros", "np.zeros_like", "zeroed", "zeroed_to", "recycled_zeros"}  # calls whose result is all zeros


def handed_adjoints(statements, kinds):
    """``statements`` (a whole adjoint function's body) with each addition of a whole adjoint into an
    adjoint of zeros, followed by the first one's fill, written as the two exchanging memory.
    ``kinds``: {array adjoint: (its number of dimensions, its element type)}."""
    handoffs = handoffs_of(statements, set(kinds))
    owned = owned_adjoints(statements, set(kinds), handoffs, {a: kind[0] for a, kind in kinds.items()})
    if not owned:
        return statements
    aliases = {**{a: a for a in owned}, **{h: a for h, a in handoffs.items() if a in owned}}
    zero = zeros_before(statements, owned, lambda small: _effect(small, aliases))
    return _Rewrite(owned, handoffs, kinds, zero).block(statements)


def _effect(small, aliases):
    """(the owned adjoints a small statement may leave other than all zeros, those it fills with zeros)."""
    mentioned = {aliases[name] for name in all_names(small) if name in aliases}
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
        target = small.targets[0].target.value
        if target in aliases and aliases[target] == target and _fills_zeros(small.value):
            return frozenset(mentioned), frozenset({target})
    return frozenset(mentioned), frozenset()


def _fills_zeros(value):
    return isinstance(value, cst.Call) and spelled(value.func) in _ZEROS


def _addition(statement):
    """(Y, H) of a line ``Y += H`` of two names, else None."""
    if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
        return None
    small = statement.body[0]
    if (isinstance(small, cst.AugAssign) and isinstance(small.operator, cst.AddAssign)
            and isinstance(small.target, cst.Name) and isinstance(small.value, cst.Name)):
        return small.target.value, small.value.value
    return None


def _zeroed_call(statement, adjoint, handoff):
    """The shape argument T of a line ``adjoint = zeroed(handoff, T)``, else None."""
    binding = name_binding_of(statement)
    if binding is None:
        return None
    target, value = binding
    if (target == adjoint and isinstance(value, cst.Call) and spelled(value.func) == "zeroed"
            and len(value.args) == 2 and isinstance(value.args[0].value, cst.Name) and value.args[0].value.value == handoff):
        return value.args[1].value
    return None


class _Rewrite:
    def __init__(self, owned, handoffs, kinds, zero):
        self.owned, self.handoffs, self.kinds, self.zero = owned, handoffs, kinds, zero

    def block(self, statements):
        statements = [with_inner_blocks(s, self.block) for s in statements]
        index = 0
        while index < len(statements):
            statements = self._handed(statements, index) or statements
            index += 1
        return statements

    def _handed(self, statements, index):
        """The block with the addition at ``index`` and the fill after it exchanged, or None."""
        found = _addition(statements[index])
        if found is None:
            return None
        zeros, handoff = found
        adjoint = self.handoffs.get(handoff)
        if (adjoint not in self.owned or zeros not in self.owned or adjoint == zeros
                or self.kinds[adjoint] != self.kinds[zeros]
                or zeros not in self.zero.get(id(statements[index].body[0]), ())):
            return None
        for later in range(index + 1, len(statements)):
            mentioned = all_names(statements[later])
            if handoff in mentioned:
                break
            if zeros in mentioned or adjoint in mentioned:
                return None
        else:
            return None
        like = _zeroed_call(statements[later], adjoint, handoff)
        if like is None:
            return None
        fill = statements[later]
        handed = [
            assign(adjoint, call("recycled_zeros", cst.Name(zeros), like)).with_changes(leading_lines=fill.leading_lines),
            assign(zeros, cst.Name(handoff)),
        ]
        addition = statements[index]
        rest = statements[:index] + statements[index + 1:later] + handed + statements[later + 1:]
        if addition.leading_lines and index < len(rest):  # the addition's comments stay where it was
            rest[index] = rest[index].with_changes(leading_lines=list(addition.leading_lines) + list(rest[index].leading_lines))
        return rest

