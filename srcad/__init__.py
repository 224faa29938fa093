"""srcad: automatic differentiation of numeric Python by source transformation.

Decorate a function with ``@srcad.differentiable`` (or not), call
``srcad.grad(f)`` (reverse mode) or ``srcad.jvp(f, primals, tangents)``
(forward mode), and srcad writes the derivative as new Python source, which
numba compiles. ``srcad.source(f, "adjoint")`` and ``srcad.source(f, "tangent")``
show that source. ``srcad.hessian``, ``srcad.jacobian`` and
``srcad.jvp(srcad.grad(f), ...)`` give second derivatives.
"""

from srcad import callees, custom  # noqa: F401 - generated code calls srcad.callees and srcad.custom
from srcad.api import differentiable, grad, source, value_and_grad, vjp
from srcad.checks import check_grad
from srcad.custom import derivative
from srcad.errors import DifferentiabilityError, PerformanceWarning
from srcad.jacobians import jacobian
from srcad.kernel import kernel
from srcad.kernels.runtime import atomic_add, no_grad, tid
from srcad.memory_use import memory_report
from srcad.tangents import hessian, jvp
from srcad.tape import Tape
from srcad.version import __version__

__all__ = [
    "DifferentiabilityError",
    "PerformanceWarning",
    "Tape",
    "atomic_add",
    "kernel",
    "memory_report",
    "tid",
    "check_grad",
    "derivative",
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
