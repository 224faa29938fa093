"""Per-function state: validation, and compiled derivatives per call signature.

Like numba's dispatcher, a derivative is specialized to the types of the
arguments (and to ``wrt``). Generated modules are cached on disk under a key
hashing everything they depend on, so a second process skips the transforms
(and libcst) entirely and numba loads its machine code from its own cache.
"""

import dataclasses
import hashlib
import inspect
import threading
import weakref

import numpy
from numba.core import types as numba_types
from numba.core.compiler_lock import global_compiler_lock

from srcad import custom
from srcad.argument_types import argument_type, check_argument
from srcad.cache_keys import source_key_of
from srcad.checkpointing import CheckpointPolicy, policy_of
from srcad.calls import FlatCall
from srcad.compiled import CheckpointedPastBudget, Compiled, _check_one_float
from srcad.introspect import unwrap
from srcad.structure import UNKNOWN, NeedsStructures
from srcad.kernels import cpu
from srcad.kernels.facts import DerivativeFacts
from srcad.kernels.facts import spelled as spelled_facts


class _GenerationLock:
    """srcad's lock on generating and compiling, taken after numba's compiler lock: numba, compiling a
    call through a helper's derivatives (``srcad.callees``), asks srcad for code while holding its own
    lock, so every thread takes the two in that order."""

    def __init__(self):
        self._own = threading.RLock()

    def __enter__(self):
        global_compiler_lock.acquire()
        self._own.acquire()

    def __exit__(self, *exception):
        self._own.release()
        global_compiler_lock.release()


_lock = _GenerationLock()
_specializers = weakref.WeakKeyDictionary()


def specializer_of(function):
    try:
        specializer = _specializers.get(function)  # the common case, without taking the lock or unwrapping
    except TypeError:  # np.sin and other objects without weak references: unwrap says what they are
        specializer = None
    if specializer is not None:
        return specializer
    wrapper, function = function, unwrap(function)
    with _lock:
        specializer = _specializers.get(function)
        if specializer is None:
            specializer = _specializers[function] = Specializer(function)
        if wrapper is not function:  # a @srcad.differentiable object: found directly next time
            try:
                _specializers[wrapper] = specializer
            except TypeError:  # not weakly referable
                pass
        return specializer


def forget_fast_calls(function):
    specializer = _specializers.get(unwrap(function))
    if specializer is not None:
        specializer.fast_calls.clear()


custom.on_registration(forget_fast_calls)


_READS_BEFORE_WRITING = "# an in-place write reads memory it writes: the primal runs the normal form\n"
_RETURNS_NOTHING = "# returns nothing: a helper called for what it writes, without a derivative of its own\n"


class Specializer:
    def __init__(self, function):
        self.function = function
        self.compiled = {}
        self.last_signature = None  # of the last derivative generated: the leaves' types, and
        self.last_structures = None  # which arguments were tuples
        self.last_extents = None  # which extents of the arguments were equal
        self._normalized = {}  # argument structures (None: no tuple arguments) -> Normalized
        self._source_key = None
        self._valid = False
        # whether an in-place write reads memory it writes (y += y[0]): numba's compilation of the
        # function as written reads it as it writes, srcad's normal form first, as NumPy does
        self.reads_before_writing = False
        self.returns_nothing = False  # a helper called for what it writes (set by validate)
        self._parameters = None
        # (what, wrt, argument types, equal extents) -> Compiled, for calls with plain arguments seen (and
        # checked) before
        self.fast_calls = {}
        self._checkpoint = "auto"

    @property
    def name(self):
        return self.function.__name__

    def source_key(self):
        """Hash of the user's source and of the globals it refers to (see ``srcad.cache_keys``)."""
        if self._source_key is None:
            self._source_key = source_key_of(self.function)
        return self._source_key

    def normalized(self, structures=None, inline_everything=False, procedure=False):
        """The normal form, for arguments of ``structures`` (which are tuples; None: none are);
        ``inline_everything`` for derivatives srcad differentiates again (see ``srcad.callees``): the
        same normal form where it calls no helper through its derivatives; ``procedure``: of a
        function that returns nothing, run for what it writes (the normal form returns 0.0)."""
        key = structures
        if inline_everything and self.calls_through_derivatives(structures):
            key = ("inline everything", structures)
        if procedure:
            key = ("procedure", key)
        normalized = self._normalized.get(key)
        if normalized is None:
            from srcad.pipeline import Normalized

            normalized = self._normalized[key] = Normalized(
                self.function, procedure=procedure, structures=structures, inline_everything=inline_everything
            )
        return normalized

    def calls_through_derivatives(self, structures=None):
        """Whether the normal form calls a helper through the helper's own derivatives."""
        from srcad.transforms.rules.calls import calls_through_derivatives

        return calls_through_derivatives(self.normalized(structures).constants)

    def normalized_primal(self):
        """The normalized function compiled by numba: the primal where numba cannot compile the
        user's source as written (np.mean(x, axis=1), keepdims=...), since srcad spells those calls
        in ways numba can."""
        with _lock:
            if getattr(self, "_normalized_primal", None) is None:
                self.validate(procedure=True)
                key = self._stage_key("normalized", (), ())
                source = cpu.read_cached(key)
                if source is None:
                    normalized = self.normalized(procedure=self.returns_nothing)
                    source = normalized.source + f"\n\nsrcad_entry = {normalized.parsed.name}\n"
                    cpu.store(key, source)
                self._normalized_primal = cpu.jit(cpu.load_module(key).srcad_entry)
            return self._normalized_primal

    def validate(self, procedure=False):
        """Raise DifferentiabilityError now for code srcad cannot read (cached as a marker), and for a
        function that returns nothing unless ``procedure`` (``@srcad.differentiable`` on a helper
        called for what it writes, ``add_forces(out, x, k)``: only a derivative of it is refused)."""
        if not self._valid:
            self._validate()
        if self.returns_nothing and not procedure:
            from srcad.pipeline import Normalized

            Normalized(self.function, structures=UNKNOWN)  # raises, naming the line
            raise AssertionError(f"{self.name} returns nothing, yet normalized as a function")

    def _validate(self):
        if self._valid:
            return
        with _lock:  # threads calling grad(f) at once: one of them normalizes f, the others wait for it
            if self._valid:
                return
            key = self.source_key()
            marker = cpu.read_cached(key + "_valid")
            if marker is None:
                from srcad.pipeline import Normalized
                from srcad.transforms.frontend.normalize import IF_IT_RETURNS_NOTHING

                # a function that returns nothing (add_forces(out, x, k)) is checked as a helper called
                # for what it writes; srcad.grad of it is refused when asked for (validate)
                try:
                    normalized = Normalized(self.function, procedure=IF_IT_RETURNS_NOTHING, structures=UNKNOWN)
                except NeedsStructures:  # it takes tuples: checked at the first call, which shows them
                    self._valid = True
                    return
                returns_nothing = not normalized.parsed.returns_a_value
                if not returns_nothing:
                    self._normalized[None] = normalized
                marker = "# parsed and normalized without errors\n"
                if normalized.reads_before_writing:
                    marker += _READS_BEFORE_WRITING
                if returns_nothing:
                    marker += _RETURNS_NOTHING
                cpu.store(key + "_valid", marker)
            self.reads_before_writing = _READS_BEFORE_WRITING in marker
            self.returns_nothing = _RETURNS_NOTHING in marker
            self._valid = True

    @property
    def parameters(self):
        if self._parameters is None:
            self._parameters = list(inspect.signature(self.function).parameters)
        return self._parameters

    def bind(self, args, kwargs):
        """Every argument by position, defaults filled in, as the generated code takes them."""
        if not kwargs and len(args) == self.function.__code__.co_argcount:
            return args
        signature = inspect.signature(self.function)
        try:
            bound = signature.bind(*args, **(kwargs or {}))
        except TypeError as error:
            raise TypeError(f"{self.name}(): {error}") from None
        bound.apply_defaults()
        return bound.args

    def check_wrt(self, wrt):
        """``wrt`` as non-negative argument positions, checked."""
        parameters = self.parameters
        for index in wrt:
            if not isinstance(index, int) or isinstance(index, bool):
                raise TypeError(f"wrt must be an int or a tuple of ints, got {index!r}")
            if not -len(parameters) <= index < len(parameters):
                raise ValueError(
                    f"wrt={index} is out of range: {self.name}({', '.join(parameters)}) has {len(parameters)} arguments"
                )
        return tuple(i % len(parameters) for i in wrt)

    def check_call(self, args, wrt, names=None):
        """The argument types, and ``wrt`` as non-negative positions; ``args`` as ``bind`` returns them
        (or the leaves of tuple arguments, with ``names`` naming them)."""
        parameters = names or self.parameters
        if names is None:
            wrt = self.check_wrt(wrt)
        for name, value in zip(parameters, args):
            check_argument(self.name, name, value)
        signature = tuple(argument_type(a) for a in args)
        for index in wrt:
            kind = signature[index]
            if not isinstance(getattr(kind, "dtype", kind), numba_types.Float):
                value = args[index]
                what = f"an array of {value.dtype}" if isinstance(value, numpy.ndarray) else type(value).__name__
                fix = f"{parameters[index]}=float(...)" if not isinstance(value, numpy.ndarray) else (
                    f"{parameters[index]}.astype(np.float64)"
                )
                raise TypeError(
                    f"cannot differentiate {self.name} with respect to argument {parameters[index]!r} "
                    f"(wrt={index}): it is {what}, and srcad differentiates floats and float arrays only "
                    f"(pass e.g. {fix}; complex numbers are not supported)"
                )
        return signature, wrt

    def check_aliasing(self, args, written_parameters, names=None):
        """Refuse arguments sharing memory with an argument the function writes in place.

        The generated adjoint, like any AD of in-place code, assumes distinct arrays;
        aliased ones would give wrong gradients without a word.
        """
        if not written_parameters:
            return
        names = names or self.parameters
        for written in written_parameters:
            for other, value in enumerate(args):
                if other == written or not isinstance(value, numpy.ndarray):
                    continue
                if _overlap(args[written], value):
                    raise ValueError(
                        f"arguments {names[written]!r} and {names[other]!r} of {self.name} share memory, "
                        f"and {self.name} writes {names[written]!r} in place: the gradient would be wrong. "
                        f"Pass separate arrays (e.g. {names[other]}.copy())."
                    )

    def check_aliasing_before_compiling(self, args):
        """``check_aliasing`` with the parameters the normalized function writes, for callers that copy
        the arguments before any compiled call would look (jacobian, hessian)."""
        call = FlatCall(self, args)
        self.check_aliasing(call.leaves, self.normalized(call.structures).written_parameters(), call.names)

    def adjoint(self, wrt, signature, structures=None, seed_types=None, with_value=True, extents=None):
        """The compiled adjoint ``f_adjoint(*args, *output seeds) -> (value, *adjoints)``, for arguments of
        ``signature`` (the leaves of tuple arguments) and ``structures``. ``seed_types``: one per output
        (per part of a tuple output); None for ``grad``, which needs one float output. Without
        ``with_value`` the value is 0.0, and the work only it needed is left out. ``extents``: which
        extents of the arguments are equal (``argument_types.equal_extents``), for calls where they are."""
        stage = "adjoint" if with_value else "gradient"
        policy = self.checkpoint_policy()
        module = self._stage_module(stage, wrt, signature, structures, checkpoint=self.first_policy(), extents=extents)
        if seed_types is None:
            _check_one_float(self.name, module.facts.outputs)
            seed_types = (numba_types.float64,)
        compiled = self._compiled(module, signature + tuple(seed_types))
        if not module.facts.escapes_budget:
            return compiled
        key = ("checkpointed past the budget", stage, wrt, signature, structures, tuple(seed_types), extents)
        with _lock:
            if key not in self.compiled:
                self.compiled[key] = CheckpointedPastBudget(compiled, lambda: self._compiled(
                    self._stage_module(stage, wrt, signature, structures, checkpoint=policy, extents=extents),
                    signature + tuple(seed_types)))
            return self.compiled[key]

    def tangent(self, wrt, signature, structures=None, extents=None):
        """The compiled tangent ``f_tangent(*args, *tangents of wrt) -> (value, value_dot)``; ``extents``
        as for ``adjoint``."""
        module = self._stage_module("tangent", wrt, signature, structures, extents=extents)
        return self._compiled(module, signature + tuple(signature[k] for k in wrt))

    def output_structure(self, module, structures):
        """The structure of a tuple output (None for one value): normalizing tells it, once per process."""
        if not module.facts.tuple_output:
            return None
        return self.normalized(structures).output_structure

    @property
    def checkpoint(self):
        """The checkpoint= option of @srcad.differentiable (see ``srcad.checkpointing``)."""
        return self._checkpoint

    @checkpoint.setter
    def checkpoint(self, option):
        if option != self._checkpoint:  # the fast calls went to adjoints checkpointed as before
            self.fast_calls.clear()
        self._checkpoint = option

    def checkpoint_policy(self):
        """How the adjoints made now checkpoint their time loops (see ``srcad.checkpointing``)."""
        return policy_of(self.checkpoint)

    def first_policy(self):
        """The checkpoint policy of the adjoint ``adjoint`` compiles first: where the option checkpoints
        past the memory budget, one keeping every iteration that escapes past it (``CheckpointPolicy.escape``)."""
        policy = self.checkpoint_policy()
        if policy is None or policy.snapshots or not policy.budget:  # (k kept states, or no budget: always checkpointed)
            return policy
        return dataclasses.replace(policy, escape=True)

    def reporting_gradient(self, wrt, signature):
        """The compiled gradient with a report of what its time loops keep and how far they got
        (``srcad.memory_report``, ``grad(f, progress=True)``): ``f(*args, seed, report)``, ``report`` an
        int64 array of rows. With ``checkpoint=None`` it keeps every iteration, as the gradient does,
        and still reports."""
        policy = self.checkpoint_policy() or CheckpointPolicy(budget=1 << 62)
        module = self._stage_module("memory", wrt, signature, checkpoint=dataclasses.replace(policy, report=True))
        _check_one_float(self.name, module.facts.outputs)
        return self._compiled(module, signature + (numba_types.float64, numba_types.int64[:, ::1]))

    def _stage_module(self, stage, wrt, signature, structures=None, checkpoint="option", extents=None):
        """The generated module of a derivative stage (read from the cache, or generated and stored):
        its entry ``srcad_entry`` as numba dispatches it, its source and facts about it. An adjoint's
        time loops are checkpointed as the function's option says, or as ``checkpoint`` (a policy, or
        None) says. ``extents``: the arguments' equal extents it may assume (None: none)."""
        if checkpoint == "option":
            checkpoint = self.checkpoint_policy() if stage != "tangent" else None
        cache_key = (stage, wrt, signature, structures, checkpoint, extents)
        module = self.compiled.get(cache_key)
        if module is not None:
            return module
        with _lock:
            module = self.compiled.get(cache_key)
            if module is None:
                self.validate()
                key = self._stage_key(stage, wrt, signature, structures, checkpoint, extents)
                source = cpu.read_cached(key)
                if source is None:
                    normalized = self.normalized(structures, inline_everything=stage.endswith("inlined"))
                    if stage == "tangent":
                        source, entry = normalized.tangent_source(wrt, signature, extents=extents)
                    else:
                        source, entry = normalized.adjoint_source(wrt, signature, with_value=stage == "adjoint",
                                                                  checkpoint=checkpoint, extents=extents)
                    facts = DerivativeFacts(written_parameters=normalized.written_parameters(),
                                            outputs=normalized.output_kinds,
                                            tuple_output=normalized.output_structure is not None,
                                            escapes_budget=stage != "tangent" and normalized.escapes_budget)
                    source += f"\n\nsrcad_entry = {entry}\n" + spelled_facts(facts)
                    cpu.store(key, source)
                module = cpu.loaded(key, source)
                module.dispatcher = cpu.jit(module.module.srcad_entry)
                self.compiled[cache_key] = module
            self.last_signature, self.last_structures, self.last_extents = signature, structures, extents
            return module

    def _compiled(self, module, signature):
        compiled = module.compiled.get(signature)
        if compiled is None:
            with _lock:
                compiled = module.compiled.get(signature)
                if compiled is None:
                    compiled = module.compiled[signature] = Compiled(
                        module.dispatcher,
                        module.source,
                        self.function.__code__.co_filename,
                        signature,
                        module.facts.written_parameters,
                    )
                    compiled.module = module
        return compiled

    def tangent_function(self, wrt, signature, structures=None):
        """The tangent as a plain Python function ``f_tangent(*args, *tangents of wrt) -> value_dot``
        (tuple arguments as their leaves, given ``structures``), defined in a module file, so that
        srcad can read and differentiate it again (second order)."""
        cache_key = ("tangent function", wrt, signature, None if structures is None else tuple(
            "*" if s is None else s.describe() for s in structures))
        if cache_key not in self.compiled:
            with _lock:
                self.validate()
                key = self._stage_key("tangent function", wrt, signature, structures)
                if cpu.read_cached(key) is None:
                    normalized = self.normalized(structures, inline_everything=True)
                    source, entry = normalized.tangent_source(wrt, signature, only_tangent=True)
                    cpu.store(key, source + f"\n\nsrcad_entry = {entry}\n")
                self.compiled[cache_key] = cpu.load_module(key).srcad_entry
        return self.compiled[cache_key]

    def gradient_function(self, wrt, signature, what="srcad.grad"):
        """The gradient as a plain Python function ``f_adjoint(*args, output_adj) -> (0.0, *adjoints of
        wrt)``, defined in a module file, so that forward mode can differentiate it again (Hessian-vector
        products, forward over reverse). None where the gradient calls a custom rule (forward mode would
        differentiate the rule's code, not use it)."""
        stage = "gradient, inlined" if self.calls_through_derivatives() else "gradient"  # else grad's own module
        module = self._stage_module(stage, wrt, signature, checkpoint=None)  # (forward mode reads no checkpoints)
        _check_one_float(self.name, module.facts.outputs, what)
        if "srcad.custom." in module.source:
            return None
        return module.module.srcad_entry

    def _stage_key(self, stage, wrt, signature, structures=None, checkpoint=None, extents=None):
        text = f"{self.source_key()}|{stage}|{wrt}|{','.join(map(str, signature))}"
        if extents is not None:
            text += f"|extents {extents}"
        if checkpoint is not None:
            text += f"|checkpoint {checkpoint.budget} {checkpoint.snapshots} {checkpoint.report} {checkpoint.escape}"
        if structures is not None:
            text += "|" + ",".join("*" if s is None else s.describe() for s in structures)
        return hashlib.sha256(text.encode()).hexdigest()


def _overlap(a, b):
    """Whether two arrays have an element in common: exactly for strided views (a[::2] and a[1::2]
    do not), conservatively (True) where NumPy finds the exact answer too costly."""
    if not numpy.may_share_memory(a, b):
        return False
    try:
        return bool(numpy.shares_memory(a, b, max_work=100_000))
    except getattr(numpy, "exceptions", numpy).TooHardError:  # numpy.exceptions is new in NumPy 1.25
        return True
