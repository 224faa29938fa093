"""``srcad.Tape``: records kernel launches (and calls of ``@srcad.differentiable`` functions on
arrays) and runs their adjoints in reverse.

    tape = srcad.Tape()
    with tape:
        for t in range(steps):
            step.launch(n, xs[t], vs[t], k, xs[t + 1], vs[t + 1], dt)
        loss_kernel.launch(n, xs[steps], loss)
    tape.backward(loss)              # loss: a one-element float array
    tape.gradient(xs[0]), tape.gradient(k)

On the CPU, adjoint arrays are made when first needed, one per allocation (the NumPy array that
owns the memory), so views share them as they share memory: the adjoint of ``xs[t]`` is row t of
the adjoint of ``xs``, whichever launch wrote or read it. On CUDA, device memory has no owner to
ask, so each view passed to a launch gets its adjoint (``xs[t]`` passed again is the same view);
two different views of overlapping memory are refused, since their adjoints would not add up.

Overwrites. A launch that writes an array whose values this or an earlier recorded launch reads
(``x[i] += dt * v[i]`` in place, or a buffer reused across steps) would leave those adjoints
reading the new values. The tape copies such an array before the launch runs, and ``backward``
puts the copy back around the launch's adjoint, so every adjoint sees the values its launch saw;
when it is done, the arrays hold what the launches left in them, as before ``backward``.

Long runs. Those copies grow with the number of steps. ``srcad.Tape(checkpoint=k)`` copies an
overwritten array once per k launches instead (a snapshot) and runs each segment of k launches
again in ``backward``: memory for T/k snapshots and k launches' copies, time for every launch
twice; ``checkpoint="auto"`` makes segments of about the square root of the launches recorded
so far, for memory growing like sqrt(T) without knowing T. See ``srcad/tape_checkpoints.py``.
"""

import numba
import numpy
from numba.np import numpy_support

from srcad import memory, recording, tape_checkpoints
from srcad.gradients import vjp
from srcad.progress import bar
from srcad.kernels import cuda as device_memory
from srcad.kernels.cpu import PARALLEL_FROM
from srcad.specialize import specializer_of


class _Launch:
    __slots__ = ("kernel", "shape", "args", "signature", "device", "saved", "row")

    def __init__(self, kernel, shape, args, signature, device, saved, row):
        self.kernel, self.shape, self.args, self.signature, self.device = kernel, shape, args, signature, device
        self.saved = saved  # argument position -> a copy of that array as it was before the launch
        self.row = row  # CPU: the row of the tape's log holding its array arguments' addresses


_NOTHING_SAVED = {}  # shared by launches that saved nothing (never written to)


class _Call:
    def __init__(self, function, copies, args, output):
        self.function, self.copies, self.args, self.output = function, copies, args, output


class Tape:
    def __init__(self, checkpoint=None):
        """``checkpoint``: None (copy what launches overwrite, launch by launch), an int k (a snapshot
        every k launches, run again in ``backward``) or "auto" (segments of about the square root of
        the launches so far); see the module's docs."""
        tape_checkpoints.check_option(checkpoint)
        self.checkpoint = checkpoint
        self.segments = None
        self.launches = []
        self._read = {"cpu": memory.Ranges(), "cuda": memory.Extents()}  # the memory recorded launches read, per device
        self._log = numpy.zeros((64, 8), dtype=numpy.int64)  # CPU launches' array addresses, a row each
        self._adjoints = {}  # CPU: id of an owning array -> (that array, its adjoint)
        self._device_adjoints = {}  # CUDA: a view's identity -> (the view, its adjoint)

    def __enter__(self):
        """Start recording (again): launches recorded before are forgotten; adjoint arrays are kept."""
        self.launches = []
        self._read["cpu"].count = 0
        self._read["cuda"] = memory.Extents()
        self.segments = None if self.checkpoint is None else tape_checkpoints.Segments(self.checkpoint)
        recording.start(self)
        return self

    def __exit__(self, *exc):
        recording.stop()
        return False

    def launch_recorded(self, kernel, n, args, signature, module):
        """A small CPU launch, recorded and run in one compiled call (``srcad_recorded_launch``);
        False, having done nothing, where the launch needs a copy of an array first (or more room),
        which ``record`` sees to (and always on a checkpointed tape, which keeps what launches write)."""
        if self.segments is not None:
            return self._launched_again(kernel, (n,), args, module)
        row = len(self.launches)
        ranges = self._read["cpu"]
        count = module.module.srcad_recorded_launch(n, 1, *args, self._log, row, ranges.array, ranges.count)
        if count < 0:
            if count == -2:
                self._room_for(row, len(args))
                ranges.make_room(len(args))
            return False
        ranges.count = count
        self.launches.append(_Launch(kernel, (n,), args, signature, "cpu", _NOTHING_SAVED, row))
        return True

    def _room_for(self, row, width):
        rows, columns = self._log.shape
        if row >= rows or width > columns:
            bigger = numpy.zeros((max(rows, 2 * row + 2), max(columns, width)), dtype=numpy.int64)
            bigger[:rows, :columns] = self._log
            self._log = bigger

    def record(self, kernel, shape, args, signature, module, device):
        """Called by ``kernel.launch`` before the launch runs: copies the arrays it will overwrite that
        this launch (before writing them) or an earlier one read."""
        plan = _record_plan(kernel, module, signature, device)
        read = self._read[device]
        addresses = [memory.address(a) if type(a) is numpy.ndarray else None for a in args]
        extents = {k: memory.extent(args[k], addresses[k]) for k in plan.touched}
        row = None
        segments = self.segments
        if device == "cpu" and segments is None:  # (a checkpointed tape's backward records its launches again)
            row = len(self.launches)
            self._room_for(row, len(args))
            self._log[row, : len(args)] = [0 if a is None else a for a in addresses]
        saved = {}
        if segments is not None:
            segments.entering(len(self.launches))
        for k, others in plan.writes:
            start, end = extents[k]
            overwrites_a_read = k in plan.reads_before_writes or read.overlaps(start, end) or any(
                extents[j][0] < end and start < extents[j][1] for j in others
            )
            if segments is None:
                if overwrites_a_read:
                    saved[k] = memory.copy(args[k])
                continue
            written = segments.written[device]
            if overwrites_a_read or k in plan.updates or written.overlaps(start, end):
                segments.snapshot(args[k], extents[k])
            written.add(start, end)
        for k in plan.value_reads:
            read.add(*extents[k])
        if segments is None:
            self.launches.append(_Launch(kernel, shape, args, signature, device, saved, row))
            return
        # a checkpointed tape keeps one entry per different launch (the same kernel on the same arrays and
        # numbers, step after step), as a storing tape's copies would take more than the launches'
        key = _launch_key(kernel, shape, args, device)
        launch = segments.launches.get(key)
        if launch is None:
            launch = segments.launches[key] = _Launch(kernel, shape, args, signature, device, _NOTHING_SAVED, None)
        segments.in_segment.add(key)
        self.launches.append(launch)

    def _launched_again(self, kernel, shape, args, module):
        """On a checkpointed tape, a small CPU launch alike one this segment recorded: recorded and run
        (True) without asking what it overwrites, since its twin's snapshots and reads cover it;
        False, having done nothing, for any other."""
        segments = self.segments
        segments.entering(len(self.launches))
        key = _launch_key(kernel, shape, args, "cpu")
        if key not in segments.in_segment:
            return False
        self.launches.append(segments.launches[key])
        kernel.run(module, shape, args, "cpu")
        return True

    def record_call(self, function, args, output, on_host=None):
        """Called by a ``@srcad.differentiable`` function run on arrays inside the tape: its arguments
        are copied (the backward pass differentiates it from them) and its output kept. ``on_host``:
        the NumPy copies of a call on CUDA arrays."""
        specializer = specializer_of(function.python_function)
        written = specializer.normalized(procedure=specializer.returns_nothing).written_parameters()
        if written:
            name = specializer.parameters[written[0]]
            raise ValueError(
                f"{function.__name__} writes its argument {name!r} in place, which a tape cannot record; "
                "return the new values instead, or write it as a kernel"
            )
        copies = on_host if on_host is not None else [a.copy() if isinstance(a, numpy.ndarray) else a for a in args]
        if self.segments is not None:
            self.segments.entering(len(self.launches))
        self.launches.append(_Call(function, copies, args, output))

    def backward(self, loss, progress=False):
        """Run the adjoints of the recorded launches (and calls), last first, from d loss / d loss = 1.

        ``loss`` is a one-element float array a kernel wrote, or the float a recorded
        ``@srcad.differentiable`` call returned. ``progress=True`` shows the launches reversed as they
        go (tqdm's bar where tqdm is installed)."""
        seeded = None
        if isinstance(loss, float):
            seeded = next((entry for entry in self.launches if isinstance(entry, _Call) and entry.output is loss), None)
            if seeded is None:
                raise ValueError(
                    "tape.backward(loss) got a float that no recorded @srcad.differentiable call returned; pass that "
                    "call's result itself, or a one-element array a kernel wrote"
                )
        else:
            on_device = not isinstance(loss, numpy.ndarray) and device_memory.is_device_array(loss)
            if not (isinstance(loss, numpy.ndarray) or on_device) or loss.size != 1 or numpy.dtype(loss.dtype).kind != "f":
                raise ValueError("tape.backward(loss) takes the loss as a one-element float array (written by a kernel)")
            memory.fill(self.adjoint(loss), 1.0)
        shown = bar(len(self.launches), "backward", progress)
        if self.segments is None:
            launches = [entry for entry in self.launches if isinstance(entry, _Launch)]
            restored = {id(launch.args[k]): launch.args[k] for launch in launches for k in launch.saved}
            final = [(array, memory.copy(array)) for array in restored.values()]  # put back when done
            self._reverse(self.launches, seeded, shown)
        else:
            final = self.segments.final_values()
            for entries in self.segments.reversed(self.launches):
                again = self._recorded_again(entries)
                again._reverse(again.launches, seeded, shown)
        shown.close()
        for array, values in final:  # the arrays as the recorded launches left them
            memory.copy_into(array, values)

    def _recorded_again(self, entries):
        """A storing tape that shares this one's adjoints, having run ``entries`` again (launches run and
        recorded again, calls taken as they are)."""
        again = Tape()
        again._adjoints, again._device_adjoints = self._adjoints, self._device_adjoints
        with again:
            for entry in entries:
                if isinstance(entry, _Call):
                    again.launches.append(entry)
                else:
                    entry.kernel.launch(entry.shape if len(entry.shape) > 1 else entry.shape[0], *entry.args, device=entry.device)
        return again

    def _reverse(self, entries, seeded, shown):
        """The adjoints of ``entries`` (this tape's, or what it recorded again), last first;
        ``seeded``: the recorded call whose float output is the loss, if any; ``shown``: the
        progress bar told of each entry done."""
        last = len(entries) - 1
        while last >= 0:
            launch = entries[last]
            if isinstance(launch, _Call):
                self._call_adjoint(launch, 1.0 if launch is seeded else None)
                last -= 1
                shown.update(1)
                continue
            first = _first_of_run(entries, last)
            if first < last:  # launches alike, one after another: their adjoints in one compiled call
                self._replay(entries[first : last + 1])
                shown.update(last + 1 - first)
                last = first - 1
                continue
            module = launch.kernel.module("adjoint", launch.signature, launch.device)
            for k, copy in launch.saved.items():  # the values the launch read
                memory.copy_into(launch.args[k], copy)
            adjoints = [self.adjoint(launch.args[k]) for k in module.facts.float_arrays]
            launch.kernel.run(module, launch.shape, list(launch.args) + [0.0] + adjoints, launch.device)
            for k, copy in launch.saved.items():  # its replay wrote them again
                memory.copy_into(launch.args[k], copy)
            last -= 1
            shown.update(1)

    def _replay(self, run):
        """The adjoints of ``run`` (launches with one layout, see ``_layout``), last first, in one call of
        the adjoint module's ``srcad_replay``: each array as its owner's memory and per-launch offsets."""
        first = run[0]
        module = first.kernel.module("adjoint", first.signature, "cpu")
        arguments, owners = [], {}
        rows = numpy.array([launch.row for launch in run], dtype=numpy.int64)
        for k, value in enumerate(first.args):
            if not isinstance(value, numpy.ndarray):
                dtype = numpy_support.as_dtype(first.signature[len(first.signature) - len(first.args) + k])
                arguments.append(numpy.array([launch.args[k] for launch in run], dtype=dtype))
                continue
            owner = owners[k] = memory.owner(value)
            base, size = memory.address(owner), value.itemsize
            offsets = (self._log[rows, k] - base) // size
            arguments += [owner.reshape(-1), offsets, value.shape]
        arguments += [self.adjoint(owners[k]).reshape(-1) for k in module.facts.float_arrays]
        threads = 1
        for size in first.shape:
            threads *= size
        if threads < PARALLEL_FROM:
            module.module.srcad_replay(threads, 1, *first.shape[1:], len(run), *arguments)
        else:
            module.module.srcad_parallel_replay(threads, numba.get_num_threads(), *first.shape[1:], len(run), *arguments)

    def _call_adjoint(self, call, seed):
        """A recorded call's vector-Jacobian product, from its output's adjoint (or ``seed``), added
        into its array arguments' adjoints."""
        output = call.output
        if seed is not None:
            cotangent = seed
        elif _is_array(output) and numpy.dtype(output.dtype).kind == "f":
            cotangent = _on_host(self.adjoint(output))
        elif isinstance(output, tuple):
            cotangent = tuple(_on_host(self.adjoint(o)) if _is_array(o) else None for o in output)
        else:
            return  # a float output that is not the loss: nothing flows back through it
        _, pullback = vjp(call.function, *[a.copy() if isinstance(a, numpy.ndarray) else a for a in call.copies])
        for argument, gradient in zip(call.args, pullback(cotangent)):
            if gradient is None or not _is_array(argument):
                continue
            if isinstance(argument, numpy.ndarray):
                self.adjoint(argument)[...] += gradient
            else:  # a call on CUDA arrays: its adjoint, like its primal, runs on the host
                device_memory.add_into(self.adjoint(argument), gradient)

    def kept_bytes(self):
        """The bytes of the copies the tape keeps for ``backward`` (of recorded calls' arguments, and of
        the arrays launches overwrote: launch by launch, or the checkpointed segments' snapshots)."""
        kept = sum(copy.nbytes for entry in self.launches if isinstance(entry, _Launch) for copy in entry.saved.values())
        kept += sum(a.nbytes for entry in self.launches if isinstance(entry, _Call) for a in entry.copies if _is_array(a))
        return kept + (self.segments.kept_bytes() if self.segments is not None else 0)

    def gradient(self, array):
        """d loss / d ``array`` after ``backward``: an array of its shape on its device (zeros if the
        loss does not depend on it)."""
        return memory.copy(self.adjoint(array))

    def zero(self):
        """Set every adjoint to zero (they are kept, for the next backward)."""
        for _, adjoint in self._adjoints.values():
            adjoint[...] = 0.0
        for _, adjoint in self._device_adjoints.values():
            device_memory.fill(adjoint, 0.0)

    def adjoint(self, array):
        """The adjoint array of ``array`` (see the module's docs), made on first use."""
        if not isinstance(array, numpy.ndarray):
            return self._device_adjoint(array)
        owner = memory.owner(array)
        entry = self._adjoints.get(id(owner))
        if entry is None or entry[0] is not owner:
            entry = self._adjoints[id(owner)] = (owner, numpy.zeros_like(owner, dtype=array.dtype))
        adjoint = entry[1]
        if owner is array:
            return adjoint
        offset = memory.address(array) - memory.address(owner)
        return numpy.ndarray(array.shape, array.dtype, buffer=adjoint, offset=offset, strides=array.strides)

    def _device_adjoint(self, array):
        identity = device_memory.identity(array)
        entry = self._device_adjoints.get(identity)
        if entry is None:
            for other, _ in self._device_adjoints.values():
                if device_memory.overlap(other, array):
                    raise ValueError(
                        "on CUDA, a tape needs the same views of device memory in every launch (xs[t] again, not "
                        "a different slice overlapping it); pass the views the launches used"
                    )
            entry = self._device_adjoints[identity] = (array, device_memory.zeros_like(array))
        return entry[1]


class _RecordPlan:
    """What ``record`` needs of a forward module, worked out at its first launch: the arrays it
    writes (each with the other arrays it reads: a write overlapping one of those needs a copy),
    reads, may read before writing, and updates (its new values from the old: a checkpointed tape
    keeps the old ones, to run the launch again)."""

    def __init__(self, module):
        self.writes = [(k, [j for j in module.facts.value_reads if j != k]) for k in module.facts.writes]
        self.value_reads = module.facts.value_reads
        self.reads_before_writes = set(module.facts.reads_before_writes)
        self.updates = set(module.facts.updates)
        self.touched = sorted(set(module.facts.writes) | set(module.facts.value_reads))


def _record_plan(kernel, module, signature, device):
    plan = module.record_plan
    if plan is None:
        kernel.module("adjoint", signature, device)  # generated at the first launch: what cannot be differentiated fails here
        plan = module.record_plan = _RecordPlan(module)
    return plan


def _first_of_run(entries, last):
    """The first of the launches ending at ``entries[last]`` whose adjoints can run as one replay: the
    same kernel and argument types, on the CPU, with no snapshots, each array argument a C-ordered
    view of the same C-ordered owner in every launch (``xs[t]``), with the same shape."""
    if _layout(entries[last], {}) is None:
        return last
    first = last
    while first > 0 and _alike(entries[first - 1], entries[first]):
        first -= 1
    return first


def _alike(entry, replayable):
    """Whether ``entry`` has the layout of the ``replayable`` launch after it: the same kernel,
    types and threads, each array the same one or a view of the same owner with the same shape
    and strides (so as contiguous). Cheaper than comparing ``_layout``s, launch by launch."""
    if type(entry) is not _Launch or entry.device != "cpu" or entry.saved or entry.kernel is not replayable.kernel:
        return False
    if entry.shape != replayable.shape or entry.signature != replayable.signature:
        return False
    for value, other in zip(entry.args, replayable.args):
        if type(value) is not numpy.ndarray or value is other:
            continue
        base = value.base
        if base is None or base is not other.base or value.shape != other.shape or value.strides != other.strides:
            return False
    return True


def _layout(entry, owners):
    if type(entry) is not _Launch or entry.device != "cpu" or entry.saved:
        return None
    arrays = []
    for value in entry.args:
        if type(value) is not numpy.ndarray:
            continue
        owner = value.base if type(value.base) is numpy.ndarray else value
        if type(owner.base) is numpy.ndarray:
            owner = memory.owner(owner)
        usable = owners.get(id(owner))
        if usable is None:
            usable = owners[id(owner)] = owner.flags.c_contiguous and (owner.dtype, owner)
        if not (usable and value.ndim and value.flags.c_contiguous and usable[0] == value.dtype):
            return None
        arrays.append((id(owner), value.shape))
    return (entry.kernel, entry.signature, entry.shape, arrays)


def _launch_key(kernel, shape, args, device):
    """What makes two launches alike: the same kernel and threads on the same arrays and numbers."""
    return (kernel, shape, device, *(id(a) if type(a) not in (int, float, bool) else (type(a), repr(a)) for a in args))


def _is_array(value):
    return isinstance(value, numpy.ndarray) or device_memory.is_device_array(value)


def _on_host(array):
    """A NumPy copy of a host or device array."""
    return array.copy() if isinstance(array, numpy.ndarray) else device_memory.to_host(array)
