"""Forward mode and second derivatives: jvp, hessian, and the derivatives of ``grad(f)``.

``jvp`` runs the tangent function srcad generates (``transforms/forward/tangent.py``). Second derivatives
(Hessian-vector products, ``hessian``, ``grad(grad(f))``) are forward mode over reverse mode: the
tangent of the gradient function srcad generates for f, which is itself Python source that forward
mode reads like the user's. Where forward mode cannot read that gradient (it saves whole arrays in
lists, calls a custom rule, or takes tuple arguments), they are reverse mode over forward mode
instead: the gradient of f's directional derivative along the tangents.
"""


import numpy
from numba.core import types as numba_types

from srcad import custom
from srcad.argument_types import equal_extents, fast_type_key
from srcad.calls import FlatCall, checked_like, differentiable_value
from srcad.compiled import NotOneFloat, _check_one_float
from srcad.errors import DifferentiabilityError, at_users_line
from srcad.gradients import Gradient, _copied, _protected, _run_adjoint
from srcad.introspect import derivative_maker, named_after, unwrap
from srcad.specialize import specializer_of
from srcad.structure import cotangent_leaves, rebuilt


def second_derivative(gradient, wrt):
    """``grad(grad(f, wrt=i), wrt=j)``: d/dx_j of df/dx_i, for a float x_i (see ``_second_order``)."""
    inner = gradient.wrt
    if isinstance(inner, tuple):
        raise TypeError(f"{gradient!r} returns a tuple of gradients; grad needs one float: use grad(f, wrt=i)")

    @named_after(unwrap(gradient.function), "grad(grad({}))")
    def second(*args):
        args = specializer_of(gradient.function).bind(args, None)
        if not isinstance(args[inner], (float, numpy.floating)):
            raise TypeError(
                f"grad(grad(f)) needs f's argument {inner} to be a float (the gradient is then a float); "
                f"it is {type(args[inner]).__name__}: use srcad.hessian or srcad.jvp(srcad.grad(f), ...) instead"
            )
        tangents = [0.0 if k != inner % len(args) else 1.0 for k in range(len(args))]
        return _second_order(gradient.function, args, tangents, wrt, what="grad(grad(f))")

    return second


def _second_order(function, args, tangents, wrt, with_gradient=False, what="srcad.hessian"):
    """The Hessian of f times the tangents (the rows of the arguments ``wrt``), and with
    ``with_gradient`` f's gradient too: forward mode over the generated gradient, where forward mode
    can differentiate that gradient; else reverse mode over forward mode."""
    results = _tangent_of_gradient(function, args, tangents, wrt, what)
    if results is None:
        try:
            return _gradient_of_tangent(function, args, tangents, wrt, with_gradient, what)
        except DifferentiabilityError as error:  # raised in the generated tangent: shown at the user's line
            raise at_users_line(error) from None
    hessian_times, gradients = results
    every = wrt if isinstance(wrt, tuple) else (wrt,)
    return _hessian_times_and_gradients(hessian_times + gradients, wrt, every, with_gradient)


_NOT_FORWARD = "reverse over forward"  # cached: forward mode cannot differentiate this gradient


def _tangent_of_gradient(function, args, tangents, wrt, what):
    """(Hessian times tangents, gradients), each a list over ``wrt``, from the tangent of f's generated
    gradient function (forward over reverse: about twice a gradient's work, where reverse over forward
    does the tangent's work in its forward sweep and again in its reverse sweep); None where it
    cannot be used (see ``Specializer.gradient_function``)."""
    specializer = specializer_of(function)
    fast_key = _tangent_of_gradient_key(wrt, tangents, fast_type_key(args))
    known = specializer.fast_calls.get(fast_key) if fast_key[3] is not None else None
    if known is None:
        known = _forward_over_reverse(specializer, args, tangents, wrt, what)
        if fast_key[3] is not None:
            specializer.fast_calls[fast_key] = _NOT_FORWARD if known is None else known
    if known is None or known is _NOT_FORWARD:
        return None
    return _run_tangent_of_gradient(specializer, known, args, tangents)


def _tangent_of_gradient_key(wrt, tangents, types):
    """The key of ``fast_calls`` under which the tangent of the gradient for these types is kept."""
    return ("tangent of gradient", wrt, tuple([t is not None for t in tangents]), types)


def _run_tangent_of_gradient(specializer, known, args, tangents):
    """(Hessian times tangents, gradients) from ``known``, the tangent of the gradient compiled for
    these argument types (see ``_forward_over_reverse``)."""
    compiled, along, names = known
    values = [_checked_tangent(names[k], args[k], tangents[k]) for k in along]
    written = [k for k in compiled.written_parameters if k < len(args) and isinstance(args[k], numpy.ndarray)]
    if written:  # f writes arrays in place: it does so on copies (and their tangents)
        specializer.check_aliasing(args, written)
        args = _protected(args, written)
        values = [_copied(t) for t in values]
    gradients, hessian_times = compiled(*args, 1.0, *values)  # each (0.0 for the value, then one per wrt)
    return list(hessian_times[1:]), list(gradients[1:])


def _forward_over_reverse(specializer, args, tangents, wrt, what):
    """(the compiled tangent of f's gradient function, the arguments it takes tangents of, their names),
    or None."""
    call = FlatCall(specializer, args)
    along = tuple(k for k, a in enumerate(args) if tangents[k] is not None and differentiable_value(a))
    if call.structures is not None or not along or custom.rules_for(specializer.function):
        return None
    every = tuple(k % len(args) for k in (wrt if isinstance(wrt, tuple) else (wrt,)))
    signature, every = specializer.check_call(call.leaves, every, call.names)
    for k in along:
        _checked_tangent(call.names[k], args[k], tangents[k])  # bad tangents are the user's error, not a reason to fall back
    gradient = specializer.gradient_function(every, signature, what)
    if gradient is None:
        return None
    try:
        compiled = specializer_of(gradient).tangent(along, signature + (numba_types.float64,))
    except DifferentiabilityError:  # the gradient uses what forward mode does not differentiate yet
        return None
    return compiled, along, call.names


def _gradient_of_tangent(function, args, tangents, wrt, with_gradient=False, what="srcad.hessian"):
    """The gradient, with respect to ``wrt``, of f's directional derivative along ``tangents``:
    the Hessian of f times the tangents (reverse mode over forward mode). ``with_gradient``: also
    f's own gradient, from the same reverse pass, as the derivative with respect to the tangents
    (the directional derivative is the gradient times the tangents)."""
    specializer = specializer_of(function)
    fast_key = ("gradient of tangent", wrt, with_gradient, fast_type_key(args))
    known = specializer.fast_calls.get(fast_key) if fast_key[3] is not None else None
    if known is not None:  # arguments of types seen before: checked then
        tangent_function, positions, every, along, names = known
        leaves = list(args) + [_checked_tangent(names[j], args[j], tangents[j]) for j in positions]
        results = _run_adjoint(tangent_function, every + along, leaves, with_value=False, protect=True)[1:]
        return _hessian_times_and_gradients(results, wrt, every, with_gradient)
    specializer.validate()
    every = (wrt,) if not isinstance(wrt, tuple) else wrt
    every = tuple(k % len(args) for k in every)
    # Tuple arguments (parameters held fixed) pass as their leaves; their tangents are zero.
    call = FlatCall(specializer, args)
    plain = [call.structures is None or call.structures[k] is None for k in range(len(args))]
    if not all(plain[k] for k in every):
        _refuse_tuple_arguments([args[k] for k in every], "second derivatives with respect to a tuple argument")
    leaf_of = {k: call.leaf_positions(k)[0] for k in range(len(args)) if plain[k]}
    positions = tuple(leaf_of[k] for k, a in enumerate(args) if plain[k] and differentiable_value(a))
    argument_of = {leaf: k for k, leaf in leaf_of.items()}
    values = [_checked_tangent(call.names[j], call.leaves[j], tangents[argument_of[j]]) for j in positions]
    signature, positions = specializer.check_call(call.leaves, positions, call.names)
    tangent_function = specializer.tangent_function(positions, signature, call.structures)
    every = tuple(leaf_of[k] for k in every)
    along = tuple(len(call.leaves) + positions.index(j) for j in every) if with_gradient else ()
    try:
        _, *results = _run_adjoint(
            tangent_function, every + along, list(call.leaves) + values, with_value=False, protect=True
        )
    except NotOneFloat as error:  # said of the generated tangent function: say it of the user's
        _check_one_float(specializer.name, error.outputs, what)
        raise
    if call.structures is None and fast_key[3] is not None:
        specializer.fast_calls[fast_key] = (tangent_function, positions, every, along, call.names)
    return _hessian_times_and_gradients(results, wrt, every, with_gradient)


def _hessian_times_and_gradients(results, wrt, every, with_gradient):
    hessian_times, gradients = results[: len(every)], results[len(every) :]
    if not isinstance(wrt, tuple):
        hessian_times, gradients = hessian_times[0], (gradients[0] if gradients else None)
    else:
        hessian_times, gradients = tuple(hessian_times), tuple(gradients)
    return (gradients, hessian_times) if with_gradient else hessian_times


@derivative_maker
def jvp(function, primals, tangents):
    """``(f(*primals), tangent)``: the value and its directional derivative along ``tangents``,
    by forward mode (one pass alongside the primal, nothing stored).

    ``tangents`` has one entry per primal: a float for a float, an array of the same shape for a
    float array (None means zero); integer and boolean arguments take None. ``f`` may return a
    float or a float array; the tangent has the same shape.

    >>> import math
    >>> def f(x, y):
    ...     return math.sin(x) * y
    >>> jvp(f, (0.0, 2.0), (1.0, 0.0))
    (0.0, 2.0)
    """
    if isinstance(function, Gradient):
        return _jvp_of_gradient(function, primals, tangents)
    specializer = specializer_of(function)
    if type(primals) is not tuple or type(tangents) is not tuple:
        for what, given in (("primals", primals), ("tangents", tangents)):
            if not isinstance(given, (tuple, list)):
                raise TypeError(
                    f"srcad.jvp takes the {what} as a tuple, one entry per argument: "
                    f"jvp(f, (x, y), (x_dot, y_dot)), not jvp(f, x, y)"
                )
        primals, tangents = tuple(primals), tuple(tangents)
    fast_key = ("tangent", tuple([t is not None for t in tangents]), fast_type_key(primals), equal_extents(primals))
    fast = specializer.fast_calls.get(fast_key) if fast_key[2] is not None else None
    if fast is not None and len(tangents) == len(primals):  # calls after the first skip most checks
        compiled, wrt, names = fast
        values = [_checked_tangent(names[k], primals[k], tangents[k]) for k in wrt]
        if compiled.written_parameters:
            specializer.check_aliasing(primals, compiled.written_parameters)
            values = [t.copy() if isinstance(t, numpy.ndarray) else t for t in values]
        return compiled(*primals, *values)
    specializer.validate()
    if len(primals) != len(tangents):
        raise ValueError(f"jvp got {len(primals)} primals but {len(tangents)} tangents; give one tangent per primal")
    args = specializer.bind(primals, None)
    tangents = tangents + (None,) * (len(args) - len(tangents))  # defaults filled in: zero tangents
    call = FlatCall(specializer, args)
    tangent_values, wrt = [], []  # arguments given None get no tangent: their terms are dropped as zeros
    for position, (leaf, name, tangent) in enumerate(zip(call.leaves, call.names, _tangent_leaves(call, tangents))):
        if tangent is None:
            continue
        if not differentiable_value(leaf):
            raise ValueError(
                f"argument {name!r} of {specializer.name} is {type(leaf).__name__}, which has no tangent: pass None for it"
            )
        wrt.append(position)
        tangent_values.append(_checked_tangent(name, leaf, tangent))
    signature, wrt = call.signature(tuple(wrt))
    registered = custom.rules_for(function)
    if registered and "forward" in registered and call.structures is None:  # the user's rule wins over transforming f
        key = custom.key_of(specializer.function)
        by_position = dict(zip(wrt, tangent_values))
        every_tangent = [by_position.get(k, 0.0) for k in range(len(args))]
        return custom.compiled(key, "primal")(*args), custom.compiled(key, "forward")(*args, *every_tangent)
    compiled = specializer.tangent(wrt, signature, call.structures, extents=equal_extents(call.leaves))
    call.check_aliasing(compiled.written_parameters)
    if compiled.written_parameters:  # the tangents of arguments written in place are written too
        tangent_values = [t.copy() if isinstance(t, numpy.ndarray) else t for t in tangent_values]
    value, tangent = compiled(*call.leaves, *tangent_values)
    output = specializer.output_structure(compiled.module, call.structures)
    if output is None:
        if call.structures is None and len(primals) == len(args) and fast_key[2] is not None:
            specializer.fast_calls[fast_key] = (compiled, wrt, call.names)
        return value, tangent
    return rebuilt(output, value), rebuilt(output, tangent)


def _tangent_leaves(call, tangents):
    """The tangents given, one per leaf of the arguments (None for every leaf of an argument given None)."""
    leaves = []
    for position, tangent in enumerate(tangents):
        structure = None if call.structures is None else call.structures[position]
        if structure is None or tangent is None:
            leaves += [tangent] * len(call.leaf_positions(position))
        else:
            leaves += cotangent_leaves(structure, tangent, f"the tangent of {call.specializer.parameters[position]!r}")
    return leaves


def _jvp_of_gradient(gradient, primals, tangents):
    """``jvp(grad(f), primals, tangents)``: the gradient and the Hessian of f times the tangents."""
    primals, tangents = tuple(primals), tuple(tangents)
    specializer = specializer_of(gradient.function)
    if len(primals) == len(tangents) == specializer.function.__code__.co_argcount:
        # calls with argument types seen before go straight to the compiled code (an HVP of a small
        # problem costs about what its Python layers do)
        types = fast_type_key(primals)
        key = _tangent_of_gradient_key(gradient.wrt, tangents, types)
        known = specializer.fast_calls.get(key) if types is not None else None
        if known is not None and known is not _NOT_FORWARD:
            hessian_times, gradients = _run_tangent_of_gradient(specializer, known, primals, tangents)
            every = gradient.wrt if isinstance(gradient.wrt, tuple) else (gradient.wrt,)
            return _hessian_times_and_gradients(hessian_times + gradients, gradient.wrt, every, True)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp got {len(primals)} primals but {len(tangents)} tangents; give one tangent per primal")
    args = specializer.bind(primals, None)
    tangents = tangents + (None,) * (len(args) - len(tangents))
    return _second_order(gradient.function, args, tangents, gradient.wrt, with_gradient=True, what="jvp(grad(f))")


@derivative_maker
def hessian(function, wrt=0):
    """The matrix of second derivatives of a float-valued ``function`` with respect to argument
    ``wrt`` (a float, or an array: then the Hessian has shape ``x.shape + x.shape``), column by
    column as Hessian-vector products (see ``_second_order``). With ``wrt`` a tuple of positions,
    the blocks ``H[i][j]`` of shape ``x_i.shape + x_j.shape``, as a tuple of tuples.

    >>> def f(x):
    ...     return x[0] ** 2 * x[1]
    >>> hessian(f)(numpy.array([1.0, 3.0])).tolist()
    [[6.0, 2.0], [2.0, 0.0]]
    """

    @named_after(unwrap(function), "hessian")
    def hessian_at(*args):
        args, positions = checked_arguments(function, args, wrt, "Hessians")
        if not isinstance(wrt, tuple):
            x = args[positions[0]]
            if not isinstance(x, numpy.ndarray):
                return second_derivative(Gradient(function, wrt), wrt)(*args)
            columns = [_second_order(function, args, direction, wrt) for direction in _basis(args, positions[0])]
            return numpy.stack(columns, axis=-1).reshape(x.shape + x.shape)
        blocks = [[None] * len(positions) for _ in positions]
        for j, k in enumerate(positions):  # column by column of argument k: H[i][k] for every i at once
            columns = [_second_order(function, args, direction, tuple(positions)) for direction in _basis(args, k)]
            for i, row in enumerate(positions):
                block = numpy.stack([numpy.asarray(c[i]) for c in columns], axis=-1)
                block = block.reshape(numpy.shape(args[row]) + numpy.shape(args[k]))
                blocks[i][j] = block if block.ndim else float(block)
        return tuple(tuple(row) for row in blocks)

    return hessian_at


def checked_arguments(function, args, wrt, what):
    """(the arguments bound to ``function``'s parameters, the positions of ``wrt``) for a dense second
    derivative or Jacobian, after refusing tuples at those positions and arguments sharing memory
    (the copies made for each column would hide it)."""
    specializer = specializer_of(function)
    args = specializer.bind(args, None)
    positions = specializer.check_wrt(wrt if isinstance(wrt, tuple) else (wrt,))
    _refuse_tuple_arguments([args[k] for k in positions], f"{what} with respect to a tuple argument")
    specializer.check_aliasing_before_compiling(args)
    return args, positions


def _refuse_tuple_arguments(args, what):
    if any(isinstance(a, tuple) for a in args):
        raise TypeError(f"srcad does not compute {what} yet; pass the parts as separate arguments")


def _basis(args, wrt):
    """Tangents for every argument, zero but for one element of ``args[wrt]`` (or the float itself)."""
    x = args[wrt]
    for k in range(x.size if isinstance(x, numpy.ndarray) else 1):
        direction = [None] * len(args)
        if isinstance(x, numpy.ndarray):
            direction[wrt] = numpy.zeros_like(x)
            direction[wrt].flat[k] = 1.0
        else:
            direction[wrt] = 1.0
        yield direction


def _checked_tangent(name, primal, tangent):
    """The tangent as the generated code takes it: a float, or an array of the primal's shape and dtype."""
    return checked_like(primal, tangent, lambda: f"the tangent of {name!r}", lambda: repr(name))
