"""The public API of reverse mode: differentiable, grad, value_and_grad, vjp, source.
Forward mode and second derivatives (jvp, hessian, jacobian) are in ``srcad.tangents``."""

from srcad.argument_types import argument_type, carries_derivatives, equal_extents
from srcad.calls import FlatCall
from srcad.decorated import Differentiable, differentiable  # noqa: F401 - the API
from srcad.gradients import Gradient, _normalize_wrt, value_and_grad, vjp  # noqa: F401 - the API
from srcad.introspect import derivative_maker
from srcad.kernel import Kernel
from srcad.specialize import specializer_of
from srcad.tangents import second_derivative


@derivative_maker
def grad(function, wrt=0, progress=False):
    """The gradient of a float-valued ``function`` with respect to argument(s) ``wrt``.

    ``wrt`` is an argument position, or a tuple of positions (then the result is
    a tuple of gradients). Works on ``@srcad.differentiable`` and plain functions;
    compiled for each argument signature on first call. ``grad(grad(f))`` gives
    second derivatives (of a function of floats). ``progress=True`` shows a bar of
    the time loops' iterations done, forward and reverse (tqdm's where installed),
    for float, int and array arguments; the gradient runs in a thread of its own
    meanwhile (a variant of it compiled on the first call, that counts them).

    >>> def f(x, y):
    ...     return x * x * y
    >>> grad(f)(3.0, 2.0)
    12.0
    >>> grad(f, wrt=(0, 1))(3.0, 2.0)
    (12.0, 9.0)
    >>> grad(grad(f))(3.0, 2.0)
    4.0
    """
    if isinstance(function, Gradient):
        return second_derivative(function, wrt)
    return Gradient(function, wrt, progress=progress)


def source(function, stage="adjoint", device="cpu", args=None, wrt=None):
    """The generated Python source of a stage: ``"normalized"``, ``"adjoint"`` or ``"tangent"``
    (for a ``@srcad.kernel``: ``"normalized"`` (one thread), ``"forward"`` or ``"adjoint"``, the
    kernels ``device`` runs).

    The adjoint (or tangent) is shown for the argument types of the last call (or ``args``,
    or all-float arguments) and for ``wrt`` (default: every float argument). Like the code a
    gradient runs, it is made for the extents of those arguments that are equal (two arrays of one
    length), and says so at its top. The parts of tuple
    arguments are separate parameters there, and ``wrt`` counts them one by one.
    """
    if not isinstance(device, str):  # source(f, "adjoint", x): the arguments in device's place
        raise TypeError("srcad.source(f, stage, device='cpu', args=None, wrt=None): device is 'cpu' or 'cuda'; "
                        "pass the arguments by name, args=(x, ...)")
    if isinstance(function, Kernel):
        return function.source(stage, device, args)
    if device != "cpu":
        raise ValueError("device='cuda' applies to kernels; srcad functions are compiled for the CPU here")
    specializer = specializer_of(function)
    structures, extents = specializer.last_structures, specializer.last_extents
    if args is not None:
        call = FlatCall(specializer, specializer.bind(tuple(args), None))
        structures, extents = call.structures, equal_extents(call.leaves)
    if stage == "normalized":
        return specializer.normalized(structures).source
    if stage not in ("adjoint", "tangent"):
        raise ValueError(f"unknown stage {stage!r}; choose 'normalized', 'adjoint' or 'tangent'")
    from numba.core import types as numba_types

    if args is not None:
        signature = tuple(argument_type(a) for a in call.leaves)
    elif specializer.last_signature is not None:
        signature = specializer.last_signature
    else:
        signature = tuple(numba_types.float64 for _ in specializer.normalized().parsed.parameters)
    if wrt is None:
        wrt = tuple(i for i, t in enumerate(signature) if carries_derivatives(t))
    normalized = specializer.normalized(structures)
    if stage == "tangent":
        return normalized.tangent_source(_normalize_wrt(wrt), signature, extents=extents)[0]
    return normalized.adjoint_source(_normalize_wrt(wrt), signature, checkpoint=specializer.checkpoint_policy(),
                                     extents=extents)[0]
