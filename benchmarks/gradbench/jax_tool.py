"""GradBench's JAX tool, timed with ``jax.block_until_ready``: GradBench's own wrapper stops its
clock when JAX hands back a result still being computed (JAX dispatches asynchronously), which
shows a 1000-point Gaussian mixture's gradient in 20 us. This runs the JAX tool's functions
(GradBench's code, imported from its ``gradbench.tools.jax``) the same way, pinned to one core as
GradBench's tool pins itself, and stops the clock when the result is ready; the output is the
JAX tool's own.

    PYTHONPATH=<gradbench>/python/gradbench:<gradbench>/python/gradbench/gradbench/tools/jax \\
        python -m benchmarks.gradbench.jax_tool
"""

import importlib
import json
import os
import sys
import time

import jax


def evaluate(message):
    module = importlib.import_module(message["module"])
    wrapped = getattr(module, message["function"])
    prepare = getattr(module, "prepare_input", None) or getattr(module, "prepare")
    input = message["input"]
    args = prepare(input)
    timings, elapsed = [], 0
    while len(timings) < input.get("min_runs", 1) or elapsed < input.get("min_seconds", 0) * 1e9:
        start = time.perf_counter_ns()
        jax.block_until_ready(wrapped.function(args))
        nanoseconds = time.perf_counter_ns() - start
        timings.append({"name": "evaluate", "nanoseconds": nanoseconds})
        elapsed += nanoseconds
    output = wrapped.wrapped(input | {"min_runs": 1, "min_seconds": 0})["output"]
    return {"success": True, "output": output, "timings": timings}


def main():
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    for line in sys.stdin:
        message = json.loads(line)
        response = {}
        if message["kind"] == "start":
            response["tool"] = "jax (blocking)"
        elif message["kind"] == "define":
            try:
                importlib.import_module(message["module"])
                response["success"] = True
            except Exception as error:
                response = {"success": False, "error": repr(error)}
        elif message["kind"] == "evaluate":
            response = evaluate(message)
        print(json.dumps({"id": message["id"]} | response), flush=True)


if __name__ == "__main__":
    main()
