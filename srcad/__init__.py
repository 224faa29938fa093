"""srcad: automatic differentiation of numeric Python by source transformation.

Decorate a function with ``@srcad.differentiable`` (or not), call
``srcad.grad(f)``, and srcad writes the derivative as new Python source, which
numba compiles. ``srcad.source(f, "adjoint")`` shows that source.
"""

from srcad.api import check_grad, differentiable, grad, hessian, jacobian, jvp, source, value_and_grad, vjp
from srcad.errors import DifferentiabilityError
from srcad.kernels.runtime import no_grad
from srcad.version import __version__

__all__ = [
    "DifferentiabilityError",
    "check_grad",
    "differentiable",
    "grad",
    "hessian",
    "jacobian",
    "jvp",
    "no_grad",
    "source",
    "value_and_grad",
    "vjp",
    "__version__",
]
