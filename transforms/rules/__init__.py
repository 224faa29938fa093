"""The derivative rules, and which rule applies to an operation.

The rules themselves are the literal tables of ``table.py``: every differentiable operation once,
as source templates (see there). ``rule_for`` is the one lookup every pass makes; the rules of
calls that stay calls (a function with a ``@srcad.derivative`` rule, a large helper called through
its own derivatives: ``calls.py``) live in a per-compilation ``overlay``, never in the tables.
"""

import builtins
import contextlib
import contextvars
import math

import numpy

from srcad.kernels import arrays, runtime, vectorizable

from .table import (  # noqa: F401 - the tables are the rules' API
    ADJOINT_HELPER_RULES,
    ARRAY_CONSTRUCTORS,
    ARRAY_CONVERSIONS,
    ARRAY_FILLS,
    ARRAY_RULES,
    ASSEMBLED_RULES,
    AXIS_REDUCTION_RULES,
    ELEMENT_RULES,
    ELEMENTWISE_RULES,
    INACTIVE_FUNCTIONS,
    INACTIVE_OPERATORS,
    INTEGER_TYPES,
    KERNEL_FUNCTIONS,
    LOCATED_HELPERS,
    LOWERED_FUNCTIONS,
    MATRIX_PRODUCT_RULES,
    MATRIX_PRODUCTS,
    NOT_BROADCAST,
    NUMPY_TWINS,
    OPERATOR_FUNCTIONS,
    REDUCTION_RULES,
    REDUCTIONS,
    REDUCTIONS_ALONG,
    RULES,
    SCALAR_RULES,
    VARIADIC_FUNCTIONS,
    VECTORIZABLE_TWINS,
    VIEW_FUNCTIONS,
    VIEW_METHODS,
    Rule,
    binary,
    unary,
)
from .templates import instantiate, operator_symbol, template_uses  # noqa: F401 - the rules' API

# The rules of the calls of the compilation running in this context (name generated code calls ->
# Rule): see ``overlay``.
_calls = contextvars.ContextVar("srcad_call_rules", default={})


@contextlib.contextmanager
def overlay(call_rules):
    """Within the block, ``rule_for`` also knows ``call_rules`` (name -> Rule), the rules of one
    compilation's calls that stay calls. The dict itself is used, so rules added to it inside the
    block count at once (the normalizer adds them as it meets the calls)."""
    token = _calls.set(call_rules)
    try:
        yield
    finally:
        _calls.reset(token)


def is_operation(name):
    """Whether ``name`` (a canonical function name, an operator symbol, ``index``...) has a rule."""
    return name in RULES or name in _calls.get()


def rule_for(name, operand_ranks=None, array_result=False):
    """The rule of operation ``name`` (a canonical function name, an operator symbol, ``index``...),
    or None where srcad has none. ``operand_ranks``: the ranks of its operands (0 for numbers), where
    known: they choose a matrix product's rule, and a scalar operation's where all are numbers.
    ``array_result``: its result is an array, so only a rule for arrays applies (elementwise, whole
    array, or a reduction's along an axis, whose template names the ``axis``); None if none does."""
    call = _calls.get().get(name)
    if call is not None:
        return call
    if name in MATRIX_PRODUCTS and operand_ranks is not None and any(operand_ranks):
        return MATRIX_PRODUCT_RULES.get(tuple(operand_ranks))
    if array_result:
        return AXIS_REDUCTION_RULES.get(name) or ARRAY_RULES.get(name) or ELEMENTWISE_RULES.get(name)
    if operand_ranks is not None and not any(operand_ranks) and name in SCALAR_RULES:
        return SCALAR_RULES[name]
    return RULES.get(name)


def _object_of(name):
    if name.startswith("srcad."):
        return getattr(runtime, name[len("srcad."):], None)
    module, _, attribute = name.rpartition(".")
    if not module and not hasattr(builtins, name):  # a helper of generated code
        return getattr(arrays, name, None) or getattr(runtime, name, None) or getattr(vectorizable, name, None)
    owner = {"math": math, "np": numpy, "np.linalg": numpy.linalg, "": builtins}.get(module)
    return getattr(owner, attribute, None)


_CANONICAL = {}


def register_object(value, name):
    """Make ``value`` (a callable) known under the canonical ``name``."""
    _CANONICAL[id(value)] = (value, name)


for _name in list(RULES) + sorted(INACTIVE_FUNCTIONS | ARRAY_CONSTRUCTORS | KERNEL_FUNCTIONS | set(OPERATOR_FUNCTIONS)
                                  | set(ARRAY_CONVERSIONS) | LOWERED_FUNCTIONS):
    _value = _object_of(_name)
    if _value is not None and callable(_value):
        register_object(_value, _name)


def canonical_name_of(value):
    """The canonical name of a known function object (``math.sin``), else None."""
    entry = _CANONICAL.get(id(value))
    return entry[1] if entry is not None and entry[0] is value else None
