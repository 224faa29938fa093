"""Latency of the first ``srcad.grad(f)(...)`` call in a new process.

Two fresh Python processes per trial share one new, empty SRCAD_CACHE_DIR:
  cold  the cache is empty: srcad parses, transforms and emits the adjoint and
        numba compiles it (target <= 1 s);
  warm  a second process finds the first one's cache (target <= 0.15 s).
Each process reports the time of ``import srcad`` and of importing the module
holding the function separately from the timed part, which is
``srcad.grad(f, wrt=(0, 1))`` plus its first call.

For scale, the same pair of processes is run with plain numba on the primal,
``numba.njit(cache=True)(f)(...)``: numba's own cost of a first compile and
of a first load from its cache in a new process, which bounds from below
what srcad can reach (its adjoint is a larger function than the primal).

Run:  python benchmarks/first_call.py [--trials 3]

Prints times; asserts nothing about them. Exits non-zero when a process fails.
"""

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import srcad

COLD_TARGET = 1.0  # seconds
WARM_TARGET = 0.15  # seconds
ARGS = (0.8, -0.3, 50)
RESULT_MARKER = "FIRST_CALL_RESULT "


@srcad.differentiable
def path_cost(a, b, n):
    """A small trajectory cost with loops, branches and math calls."""
    x = a
    y = b
    cost = 0.0
    for i in range(n):
        r = math.sqrt(x * x + y * y + 1.0)
        if r > 1.2:
            x = x - 0.05 * x / r
            y = y + 0.05 * math.sin(x)
        else:
            x = x + 0.05 * math.cos(y)
            y = y * 0.99
        for j in range(3):
            cost += math.exp(-0.1 * j * r) * math.tanh(x * y)
        if cost > 10.0:
            cost = 10.0 + math.log(cost - 9.0)
    return cost + 0.5 * (x * x + y * y)


# Runs in the child process. Only the part between "before_call" and
# "after_call" is the measured first call.
CHILD = f"""
import json, sys, time
start = time.perf_counter()
import srcad
after_srcad_import = time.perf_counter()
sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
import first_call
after_module_import = time.perf_counter()

if sys.argv[1] == "numba":  # the baseline: numba alone on the primal
    import numba
    before_call = time.perf_counter()
    value = numba.njit(cache=True)(first_call.path_cost.__wrapped__)(*first_call.ARGS)
    after_call = time.perf_counter()
    print({RESULT_MARKER!r} + json.dumps({{
        "import_srcad_s": after_srcad_import - start,
        "import_module_s": after_module_import - after_srcad_import,
        "first_call_s": after_call - before_call,
        "max_rel_error_vs_central_differences": None,
    }}), flush=True)
    sys.exit(0)

before_call = time.perf_counter()
gradient = srcad.grad(first_call.path_cost, wrt=(0, 1))(*first_call.ARGS)
after_call = time.perf_counter()

result = {{
    "import_srcad_s": after_srcad_import - start,
    "import_module_s": after_module_import - after_srcad_import,
    "first_call_s": after_call - before_call,
    "gradient": [float(g) for g in gradient],
}}
try:  # correctness, after the timing: central differences of the primal
    args = list(first_call.ARGS)
    differences = []
    for i in (0, 1):
        step = 1e-6 * max(1.0, abs(args[i]))
        plus, minus = list(args), list(args)
        plus[i] += step
        minus[i] -= step
        differences.append((first_call.path_cost(*plus) - first_call.path_cost(*minus)) / (2 * step))
    result["max_rel_error_vs_central_differences"] = max(
        abs(g - d) / max(abs(d), 1e-300) for g, d in zip(result["gradient"], differences)
    )
except Exception as error:
    result["check_failed"] = repr(error)
print({RESULT_MARKER!r} + json.dumps(result), flush=True)
"""


def run_child(mode, cache_dir):
    """One fresh process; mode "srcad" (the measurement) or "numba" (the baseline)."""
    environment = dict(os.environ, SRCAD_CACHE_DIR=os.path.join(cache_dir, "srcad"))
    if mode == "numba":  # numba would otherwise cache next to this script
        environment["NUMBA_CACHE_DIR"] = os.path.join(cache_dir, "numba")
    else:  # numba must cache where srcad puts it, not in a directory warmed before
        environment.pop("NUMBA_CACHE_DIR", None)
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, mode],
        env=environment,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    process_s = time.perf_counter() - start
    lines = [line for line in completed.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(
            f"child process failed (exit {completed.returncode}):\n{completed.stdout}{completed.stderr}"
        )
    result = json.loads(lines[-1][len(RESULT_MARKER):])
    result["process_s"] = process_s
    return result


def cache_contents(cache_dir):
    count = size = 0
    for folder, _, names in os.walk(cache_dir):
        for name in names:
            count += 1
            size += os.path.getsize(os.path.join(folder, name))
    return count, size


def verdict(seconds, target):
    return "within target" if seconds <= target else "ABOVE target"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3, help="cold/warm pairs, each with a new cache dir")
    options = parser.parse_args(argv)
    if options.trials < 1:
        parser.error("--trials must be at least 1")

    print(f"srcad {srcad.__version__} from {os.path.dirname(srcad.__file__)}")
    print(f"function: first_call.path_cost{ARGS}, srcad.grad(path_cost, wrt=(0, 1))")
    print("numba baseline: numba.njit(cache=True)(path_cost primal)(...)\n")
    print(
        f"{'trial':<7}{'process':<13}{'import srcad':>14}{'import module':>15}"
        f"{'first call':>12}{'whole process':>15}{'rel err':>10}"
    )
    runs = {(mode, kind): [] for mode in ("srcad", "numba") for kind in ("cold", "warm")}
    for trial in range(1, options.trials + 1):
        cache_dir = tempfile.mkdtemp(prefix="srcad-bench-cache-")
        os.mkdir(os.path.join(cache_dir, "srcad"))
        try:
            for mode in ("srcad", "numba"):
                for kind in ("cold", "warm"):
                    label = f"{mode} {kind}"
                    try:
                        result = run_child(mode, cache_dir)
                    except RuntimeError as error:
                        print(f"{trial:<7}{label:<13}FAILED\n{error}")
                        return 1
                    runs[mode, kind].append(result)
                    error = result.get("max_rel_error_vs_central_differences")
                    error_text = f"{error:.1e}" if error is not None else ""
                    print(
                        f"{trial:<7}{label:<13}{result['import_srcad_s']:>13.3f}s{result['import_module_s']:>14.3f}s"
                        f"{result['first_call_s']:>11.3f}s{result['process_s']:>14.3f}s{error_text:>10}"
                    )
                    if "check_failed" in result:
                        print(f"        gradient check failed: {result['check_failed']}")
                    if (mode, kind) == ("srcad", "cold"):
                        count, size = cache_contents(os.path.join(cache_dir, "srcad"))
                        if count == 0:
                            print("        note: the cache dir is still empty after the cold process")
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)

    print(f"\ngradient d/d(a, b) = {runs['srcad', 'cold'][0]['gradient']}")
    print(f"srcad cache dir after a cold process: {count} files, {size / 1024:.0f} KiB")

    def median(mode, kind, key="first_call_s"):
        return statistics.median(r[key] for r in runs[mode, kind])

    def line(label, seconds, note=""):
        print(f"  {label:<34}{seconds:.3f} s{note}")

    print(f"\nmedians over {options.trials} trials:")
    line("import srcad", median("srcad", "cold", "import_srcad_s"))
    for kind, target in (("cold", COLD_TARGET), ("warm", WARM_TARGET)):
        call = median("srcad", kind)
        line(f"{kind} first call (srcad.grad)", call, f"   (target <= {target} s: {verdict(call, target)})")
        line(f"{kind} import module (decorator)", median("srcad", kind, "import_module_s"), "   (not in the first call)")
        line(f"{kind} numba baseline (primal)", median("numba", kind))
    return 0


if __name__ == "__main__":
    sys.exit(main())
