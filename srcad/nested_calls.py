"""Derivatives called inside differentiated code: ``srcad.grad(g)(...)`` in a function srcad differentiates.

The normal form calls such a derivative as one operation (``transforms/frontend/nested_derivatives.py``),
through a stub of ``srcad.callees`` whose key names the derivative it stands for. This module says,
for argument types numba typed at the call, which generated code each of the stub's three entries
runs:

``vjp k`` (``srcad.grad(g, wrt=k)(*a)`` is ``vjp k`` of ``(*a, 1.0)``; ``pullback k``, of ``y, pullback =
srcad.vjp(g, *a)``, is the same with 0.0 for an integer argument k), stub arguments ``(*a, ybar)``:
  - primal: g's cotangent of argument k for the output's cotangent ``ybar`` (g's adjoint);
  - reverse, given the cotangent ``c`` of that result: the cotangents of ``a`` and of ``ybar``. They are
    the gradient of ``ybar . (J_k c)``, where ``J_k c`` (g's tangent along ``c`` in argument k) is g's
    generated tangent function: reverse mode over forward mode, the adjoint of that tangent function,
    whose value ``J_k c`` is ``ybar``'s cotangent;
  - forward, given tangents of ``a`` and ``ybar``: the tangent of g's generated gradient function
    (forward over reverse), for g returning one float.

``jvp`` (``srcad.jvp(g, a, t)``'s tangent), stub arguments ``(*a, *t)``:
  - primal: g's tangent; reverse: the adjoint of g's tangent function (with respect to ``a`` and ``t``);
    forward: the tangent of g's tangent function.

Each is generated once per argument types and cached as any derivative is; the caller's code stays
small, and the second derivatives it needs are computed, never approximated. (For the reverse entry,
reverse over forward measured about 10 % faster than forward over reverse, the tangent of g's
gradient, on a Lennard-Jones energy and on a whole-array one.)
"""

from numba.core import types

from srcad.argument_types import carries_derivatives
from srcad.compiled import NotOneFloat, _check_one_float
from srcad.errors import DifferentiabilityError
from srcad.specialize import specializer_of


def implementation(kind, function, what, signature, forwarding, passed_types):
    """A Python function running the stub's ``what`` for arguments of ``signature`` (the stub's own
    arguments: g's and then ``ybar``, or g's and their tangents); ``forwarding`` is
    ``srcad.callees._forwarding``; ``passed_types``: the types of everything the stub is passed
    (a tangent the caller knows to be zero comes as 0.0, an array's too)."""
    specializer = specializer_of(function)
    zeros = _Zeros(signature, passed_types)
    if kind == "jvp":
        return _jvp(specializer, what, signature, forwarding, zeros)
    return _vjp(specializer, int(kind.split()[1]), what, signature, forwarding, zeros, lenient=kind.startswith("pullback"))


class _Zeros:
    """How forwarded code passes a tangent: as given, or ``np.zeros_like(a)`` where an array's tangent
    comes as the number 0.0 (a constant the caller's tangent code knows is zero)."""

    def __init__(self, signature, passed_types):
        self.signature, self.passed_types = signature, passed_types

    def __call__(self, name, position, of):
        """``name``, the parameter at ``position`` among the passed, tangent of argument ``of``."""
        argument, given = self.signature[of], self.passed_types[position]
        if isinstance(argument, types.Array) and not isinstance(given, types.Array):
            return f"np.zeros_like(a{of})"
        return name


def inlined_derivative(kind, function, signature):
    """For ``transforms/frontend/nested_derivatives.inlined`` (a CUDA kernel's code): (the generated
    Python function computing derivative ``kind`` of ``function`` for the stub's arguments of
    ``signature``, the positions of the stub's arguments it takes, the part of its result that is
    the derivative or None)."""
    specializer = specializer_of(function)
    if kind == "jvp":
        n = len(signature) // 2
        every = _differentiable(signature[:n])
        return specializer.tangent_function(every, signature[:n]), list(range(n)) + [n + j for j in every], None
    arguments, seed = signature[:-1], signature[-1]
    k = int(kind.split()[1])
    if k not in _differentiable(arguments) and kind.startswith("pullback"):
        return _zero, [], None
    if k not in _differentiable(arguments):
        raise _not_float(specializer, k, arguments[k])
    if not isinstance(seed, types.Float):
        raise DifferentiabilityError(f"in a CUDA kernel srcad takes srcad.grad of {specializer.name!r} returning one "
                                     "float only", fix="Return one float from the function srcad.grad takes.")
    gradient = specializer.gradient_function((k,), arguments, "srcad.grad")
    if gradient is None:
        raise DifferentiabilityError(
            f"in a CUDA kernel srcad cannot take srcad.grad of {specializer.name!r}: it calls a function with a "
            "@srcad.derivative rule", fix="Write that function's body out, or run the kernel with device='cpu'.")
    return gradient, list(range(len(signature))), 1


def _zero():
    return 0.0


def _differentiable(signature):
    return tuple(k for k, t in enumerate(signature) if carries_derivatives(t))


def _vjp(specializer, k, what, signature, forwarding, zeros, lenient=False):
    arguments, seed = signature[:-1], signature[-1]
    count = len(signature)
    every = _differentiable(arguments)
    if k not in every:
        if not lenient:
            raise _not_float(specializer, k, arguments[k])
        # a pullback's cotangent of an integer argument: 0.0, a constant
        parameters = [f"a{j}" for j in range(count)] + {"primal": [], "reverse": ["y_adj"], "forward": [_tangents(count)]}[what]
        namespace = {}
        exec(f"def constant({', '.join(parameters)}):\n    return {'0.0' if what != 'reverse' else '(' + '0.0, ' * count + ')'}\n",
             namespace)
        return namespace["constant"]
    if what == "primal":
        module = specializer._stage_module("gradient", (k,), arguments, checkpoint=None)
        _check_seed(specializer, module, seed)
        return forwarding(module.dispatcher, count, "", "r[1]")
    if what == "reverse":  # (*a, ybar, c): the adjoint of a -> J_k c, seeded with ybar
        along = specializer.tangent_function((k,), arguments)
        # with respect to a only: c's cotangent would be the primal's value again, which no one reads
        module = specializer_of(along)._stage_module("adjoint", every, arguments + (arguments[k],), checkpoint=None)
        slots = {position: f"r[{1 + index}]" for index, position in enumerate(every)}
        cotangents = ", ".join([slots.get(j, "0.0") for j in range(len(arguments))] + ["r[0]"])
        passed = ", ".join([f"a{j}" for j in range(len(arguments))] + ["y_adj", f"a{len(arguments)}"])
        return forwarding(module.dispatcher, count, "y_adj", f"({cotangents},)", passed, arguments_passed=False)
    # forward: (*a, ybar, *ta, tybar): the tangent of g's gradient function, seeded with ybar
    gradient = _gradient_function(specializer, every, arguments)
    along = every + (len(arguments),)
    module = specializer_of(gradient)._stage_module("tangent", along, arguments + (seed,))
    passed = ", ".join([f"a{j}" for j in range(count)] + [zeros(f"t{j}", count + j, j) for j in along])
    return forwarding(module.dispatcher, count, _tangents(count), f"r[1][{1 + every.index(k)}]", passed,
                      arguments_passed=False)


def _jvp(specializer, what, signature, forwarding, zeros):
    count = len(signature)
    arguments = signature[: count // 2]
    n = len(arguments)
    every = _differentiable(arguments)
    tangents_of = ", ".join(zeros(f"a{n + j}", n + j, j) for j in every)
    if what == "primal":
        module = specializer._stage_module("tangent", every, arguments)
        return forwarding(module.dispatcher, count, "", "r[1]", ", ".join(f"a{j}" for j in range(n)) + ", " + tangents_of,
                          arguments_passed=False)
    tangent = specializer.tangent_function(every, arguments)
    inputs = arguments + tuple(arguments[j] for j in every)  # the tangent function's: a, then t of every
    wrt = every + tuple(range(n, len(inputs)))
    passed = ", ".join([f"a{j}" for j in range(n)] + [zeros(f"a{n + j}", n + j, j) for j in every])
    if what == "reverse":
        module = specializer_of(tangent)._stage_module("gradient", wrt, inputs, checkpoint=None)
        slots = {position: f"r[{1 + index}]" for index, position in enumerate(every)}
        slots.update({n + position: f"r[{1 + len(every) + index}]" for index, position in enumerate(every)})
        cotangents = ", ".join(slots.get(j, "0.0") for j in range(count))
        return forwarding(module.dispatcher, count, "y_adj", f"({cotangents},)", passed + ", y_adj",
                          arguments_passed=False)
    module = specializer_of(tangent)._stage_module("tangent", wrt, inputs)
    second = ", ".join([zeros(f"t{j}", count + j, j) for j in every] + [zeros(f"t{n + j}", count + n + j, j) for j in every])
    return forwarding(module.dispatcher, count, _tangents(count), "r[1]", passed + ", " + second, arguments_passed=False)


def _tangents(count):
    """The parameters of a forward stub's tangents (numba matches a stub's parameters by name)."""
    return ", ".join(f"t{j}" for j in range(count))


def _gradient_function(specializer, every, arguments):
    try:
        gradient = specializer.gradient_function(every, arguments, "forward mode over srcad.grad")
    except NotOneFloat as error:
        raise DifferentiabilityError(
            f"srcad cannot take forward derivatives of a nested srcad.vjp of {specializer.name!r}: {error}",
            fix="Use srcad.grad of a function returning one float there.",
        ) from None
    if gradient is None:
        raise DifferentiabilityError(
            f"srcad cannot take forward derivatives through srcad.grad of {specializer.name!r}: it calls a "
            "function with a @srcad.derivative rule",
            fix="Differentiate the outer function in reverse mode (srcad.grad), or write the rule's function out.",
        )
    return gradient


def _check_seed(specializer, module, seed):
    """grad needs g to return one float; vjp's seed has the output's type (numba says if not)."""
    if isinstance(seed, types.Float):
        try:
            _check_one_float(specializer.name, module.facts.outputs, "srcad.grad")
        except NotOneFloat as error:
            raise DifferentiabilityError(str(error), fix="Return one float from the function srcad.grad takes.") from None


def _not_float(specializer, k, kind):
    name = specializer.parameters[k] if k < len(specializer.parameters) else str(k)
    return DifferentiabilityError(
        f"srcad cannot differentiate {specializer.name!r} with respect to argument {name!r} (wrt={k}) here: it "
        f"is {kind}, and srcad differentiates floats and float arrays only",
        fix=f"Pass {name} as a float (float(...), or an array .astype(np.float64)).",
    )
