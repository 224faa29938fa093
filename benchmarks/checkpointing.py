"""Long horizons: the memory and time of gradients of time loops from 10^3 to 10^6 steps, keeping
every step's tape and checkpointed (``transforms/reverse/checkpoints.py``), beside JAX.

The programs are ``array_steps.py``'s own, as a user writes them:

- ``springs``: a chain of 20 masses in 2-D, an ``(n, 2)`` position array, springs by index
  arrays, damping and gravity; gradient with respect to ``x0``, ``v0`` and the spring constants;
- ``wave``: the 1-D wave equation on 128 points, leapfrog on slices; gradient with respect to
  the initial field and the wave speeds.
- ``tape``: a chain of 64 masses as kernels on a ``srcad.Tape``, the way a Warp user writes it:
  ``forces`` into a scratch array, ``advance`` updating positions and velocities in place, two
  launches a step; gradient with respect to the initial positions and the spring constants.

Contenders, each in a fresh process (so that peak memory is its own):

- ``stored``: ``@srcad.differentiable(checkpoint=None)``: every step's tape kept (``tape``:
  ``srcad.Tape()``, copying the arrays each launch overwrites);
- ``auto``: the default, ``checkpoint="auto"`` with ``SRCAD_MEMORY_BUDGET`` unset (1 GiB): steps
  kept while they fit, checkpointed past that (``tape``: ``srcad.Tape(checkpoint="auto")``,
  segments of about sqrt(launches));
- ``always``: ``SRCAD_MEMORY_BUDGET=0``: checkpointed at every size (``tape``: as ``auto``);
- ``jax``: ``jax.jit(jax.grad(...))`` of ``array_steps.py``'s ``jax.lax.fori_loop`` version (only
  when JAX is installed; its memory grows with the steps as well; not for ``tape``).

Each process compiles at 10 steps (srcad: the checkpointed gradient too, which a gradient compiles
at its first call past the budget), then has the kernel reset its peak resident memory (Linux's
``/proc/self/clear_refs``), runs the gradient once at the size measured, and reports the time and
the growth of peak resident memory (VmHWM) over the resident memory before the call: what the
gradient itself took. A contender whose estimate of what it keeps exceeds the memory this machine
has (``--max-memory-gb``, default four fifths of it) is not run ("skip").

Run:  python benchmarks/checkpointing.py [--programs springs,wave,tape] [--steps 1000,10000,100000,1000000]
                                         [--contenders stored,auto,always,jax]

It prints a table per program and the ratios the issue names: peak growth at 10^5 steps, time
with checkpointing over time storing everything, and time per step as the steps grow (linear
is flat). It asserts nothing; a contender that fails prints its error.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import array_steps  # noqa: E402

PROGRAMS = {
    "springs": (array_steps.springs, (0, 1, 5), (6,), lambda steps, rng: array_steps.springs_args(
        {"n": 20, "steps": steps}, rng)),
    "wave": (array_steps.wave, (0, 1), (2,), lambda steps, rng: array_steps.wave_args({"n": 128, "steps": steps}, rng)),
}
# what one step keeps, storing everything (measured: srcad 2.4 and 1.2 kB; JAX about as much; the
# tape's copies of x, v and f)
STORED_BYTES_PER_STEP = {"springs": 2_500, "wave": 1_250, "tape": 3 * 64 * 8}
TAPE_MASSES = 64


def _tape_program():
    """The ``tape`` program's kernels and a function running it on a tape (made when asked: the
    other programs' processes do not compile kernels)."""
    import srcad

    @srcad.kernel
    def forces(x, k, f):
        i = srcad.tid()
        total = -k[0] * x[i]
        if i > 0:
            total += k[1] * (x[i - 1] - x[i])
        if i < x.shape[0] - 1:
            total += k[1] * (x[i + 1] - x[i])
        f[i] = total

    @srcad.kernel
    def advance(x, v, f, dt):
        i = srcad.tid()
        v[i] += dt * (f[i] - 0.05 * v[i])
        x[i] += dt * v[i]

    @srcad.kernel
    def sum_of_squares(x, loss):
        i = srcad.tid()
        srcad.atomic_add(loss, 0, x[i] * x[i])

    def gradient(checkpoint, steps):
        rng = np.random.default_rng(0)
        x, v = rng.normal(size=TAPE_MASSES), np.zeros(TAPE_MASSES)
        f, k, loss = np.zeros(TAPE_MASSES), np.array([2.0, 5.0]), np.zeros(1)
        x0 = x.copy()
        tape = srcad.Tape(checkpoint=checkpoint)
        with tape:
            for _ in range(steps):
                forces.launch(TAPE_MASSES, x, k, f)
                advance.launch(TAPE_MASSES, x, v, f, 1e-3)
            sum_of_squares.launch(TAPE_MASSES, x, loss)
        tape.backward(loss)
        return x0, tape.gradient(x), tape.gradient(k)

    return gradient


def _status(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak():
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def measure(program, steps, contender):
    """(seconds, bytes the peak resident memory grew by) of one gradient at ``steps``, in this process."""
    function, wrt, static, make = PROGRAMS.get(program, (None,) * 4)
    rng = np.random.default_rng(0)
    if program == "tape":
        gradient = _tape_program()
        checkpoint = None if contender == "stored" else "auto"
        gradient(checkpoint, 10)  # compile

        def call():
            return gradient(checkpoint, steps)
    elif contender == "jax":
        jax = array_steps.import_jax(1)
        gradient = jax.jit(jax.grad(array_steps.jax_function(jax, program), argnums=wrt), static_argnums=static)
        args = make(steps, rng)
        placed = tuple(a if i in static else jax.device_put(a) for i, a in enumerate(args))
        gradient.lower(*placed).compile()

        def call():
            return jax.block_until_ready(gradient(*placed))
    else:
        import srcad

        differentiable = srcad.differentiable(function, checkpoint=None if contender == "stored" else "auto")
        gradient = srcad.grad(differentiable, wrt=wrt)
        gradient(*make(10, rng))  # compile
        if contender != "stored":  # and the checkpointed gradient, which compiles at the first call past the budget
            _compile_checkpointed(differentiable)
        args = make(steps, rng)

        def call():
            return gradient(*args)
    _reset_peak()
    before = _status("VmRSS")
    start = time.perf_counter()
    call()
    seconds = time.perf_counter() - start
    return seconds, max(0, _status("VmHWM") - before)


def _compile_checkpointed(function):
    """Compile the checkpointed adjoints of the gradients of ``function`` made so far: the gradient
    first runs the adjoint keeping every step, and compiles the checkpointed one at its first call
    past the budget, which the timing must not count (see srcad.compiled.CheckpointedPastBudget)."""
    from srcad.compiled import CheckpointedPastBudget
    from srcad.specialize import specializer_of

    for adjoint in list(specializer_of(function).compiled.values()):
        if isinstance(adjoint, CheckpointedPastBudget):
            adjoint.compile_checkpointed()


def run_child(program, steps, contender, timeout):
    environment = dict(os.environ)
    environment.pop("SRCAD_MEMORY_BUDGET", None)
    if contender == "always":
        environment["SRCAD_MEMORY_BUDGET"] = "0"
    command = [sys.executable, os.path.abspath(__file__), "--child", program, str(steps), contender]
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout} s"}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["exit %d" % done.returncode])[-1][:120]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine_memory():
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 16 << 30


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--programs", default="springs,wave,tape")
    parser.add_argument("--steps", default="1000,10000,100000,1000000")
    parser.add_argument("--contenders", default="stored,auto,always,jax")
    parser.add_argument("--max-memory-gb", type=float, default=machine_memory() * 0.8 / 2**30)
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        program, steps, contender = options.child
        seconds, grown = measure(program, int(steps), contender)
        print(json.dumps({"seconds": seconds, "grown": grown}))
        return 0
    contenders = options.contenders.split(",")
    if "jax" in contenders and array_steps.import_jax(1) is None:
        contenders.remove("jax")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} cores; "
          f"peak memory growth over the process's resident memory before the call, one call each")
    results = {}
    for program in options.programs.split(","):
        print(f"\n{program}: steps, then per contender seconds / peak growth (MB)")
        header = f"{'steps':>9}" + "".join(f"{c:>22}" for c in contenders)
        print(header)
        for steps in map(int, options.steps.split(",")):
            row = f"{steps:>9}"
            for contender in contenders:
                estimate = STORED_BYTES_PER_STEP[program] * steps if contender in ("stored", "jax") else 0
                if estimate > options.max_memory_gb * 2**30:
                    result = {"error": "skip: would not fit"}
                elif program == "tape" and contender == "jax":
                    result = {"error": "-"}
                else:
                    result = run_child(program, steps, contender, options.timeout)
                results[(program, steps, contender)] = result
                cell = (f"{result['seconds']:9.3f} s {result['grown'] / 1e6:8.1f} MB" if "error" not in result
                        else result["error"][:21])
                row += f"{cell:>22}"
            print(row, flush=True)
    print("\nsummary")
    for program in options.programs.split(","):
        for steps in map(int, options.steps.split(",")):
            stored, auto, always = (results.get((program, steps, c), {}) for c in ("stored", "auto", "always"))
            if "seconds" in stored and "seconds" in always:
                print(f"  {program} {steps:>8} steps: checkpointed / stored time {always['seconds'] / stored['seconds']:.2f}x, "
                      f"peak growth {always['grown'] / 1e6:.1f} MB vs {stored['grown'] / 1e6:.1f} MB")
        times = [(steps, results.get((program, steps, "always"), {}).get("seconds")) for steps in map(int, options.steps.split(","))]
        per_step = ", ".join(f"{steps:g}: {seconds / steps * 1e6:.1f} us" for steps, seconds in times if seconds)
        print(f"  {program}: checkpointed time per step (flat is linear): {per_step}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
