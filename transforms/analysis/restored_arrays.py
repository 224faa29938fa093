"""Which arrays the reverse sweep restores, so that values read out of them are read again rather
than kept.

A value read out of an array (``y_i = y[i]``) that a later adjoint needs, and that the program
overwrites before then, is kept on the tape where it is read: one float per read. Alternatively the
forward sweep can save each element of the array that a write overwrites, the reverse sweep put it
back, and the read be done again there. The second costs one float per write; it is what a person
does who saves the state of a time step and reads it again. In a Runge-Kutta step that calls
``rhs(y, p, k)``, which reads ``y[i - 1]`` and ``y[i]`` for every i, the reads cost two floats per
element per call and the step's one update of ``y`` costs one.

So an array is restored when its writes cost less than the kept reads they would replace, counting
each statement by the loops around it (a statement in a loop nest of depth d counts ``TRIPS ** d``:
the trip counts are not known here, and any loop runs more than a few times), and a write of a
region or of the whole array (``y[1:] = ...``, ``y += t``) as a loop over its elements.
"""

from numba.core import types as numba_types

from ..ir.statements import (
    assignment_of,
    element_write_of,
    in_place_update_of,
    is_array_type,
    is_float_type,
    operation_of,
    walk,
)

TRIPS = 64  # how many times a loop is taken to run, to weigh statements inside loops against those outside


def arrays_cheaper_to_restore(body, overwritten, invariant, types, group, rebound):
    """Arrays of floats (with every name sharing their memory) whose writes, saved, cost less than
    the reads out of them that would be kept: ``overwritten`` holds the values the reverse sweep
    needs that the program overwrites; ``group``: array name -> the names sharing its memory;
    ``rebound``: array variables bound more than once (their values are not restored in place)."""
    kept_reads, writes = {}, {}
    for statement, depth in walk(body):
        weight = TRIPS ** depth
        target_value = assignment_of(statement)
        write = element_write_of(statement)
        update = in_place_update_of(statement)
        if write is not None:  # a region saves as many floats as an element loop around it would
            whole = (write.region is not None or len(write.index) < getattr(types.get(write.array), "ndim", 1)
                     or any(is_array_type(types.get(name)) for name in write.index_names()))  # b[idx] = v
            writes[write.array] = writes.get(write.array, 0) + (weight * TRIPS if whole else weight)
        elif update is not None and is_array_type(types.get(update[0])):
            writes[update[0]] = writes.get(update[0], 0) + weight * TRIPS
        elif target_value is not None:
            target, value = target_value
            operation = operation_of(value)
            if (operation.rule == "index" and target in overwritten and target not in invariant
                    and is_float_type(types.get(target)) and not is_array_type(types.get(target))):
                array = operation.operands[0].value
                kept_reads[array] = kept_reads.get(array, 0) + weight
    restored = set()
    for array in kept_reads:
        members = group.get(array, {array})
        if overwritten & members or rebound & members or not all(
                is_array_type(types.get(m)) and isinstance(types[m].dtype, numba_types.Float) for m in members):
            continue
        cost = sum(writes.get(m, 0) for m in members)
        if 0 < cost < sum(kept_reads.get(m, 0) for m in members):
            restored |= members
    return restored
