"""GradBench's protocol, from the tool's side: one JSON message per line in, one response per
line out, the same ``id``; ``define`` and ``evaluate`` answered, everything else acknowledged."""

import importlib
import json
import sys
import time
import traceback

EVALS = ("hello", "lse", "llsq", "ode", "kmeans", "gmm", "particle", "saddle", "lstm", "ba")


def timed(function, *args):
    start = time.perf_counter_ns()
    result = function(*args)
    return result, time.perf_counter_ns() - start


def define(name):
    """Import the eval's module and compile its functions: ``success`` and a ``compile`` timing."""
    if name not in EVALS:
        return {"success": False, "error": f"srcad has no implementation of the eval {name!r} yet"}
    try:
        module = importlib.import_module(f"{__package__}.{name}")
        _, nanoseconds = timed(module.compile)
    except Exception as error:  # an eval srcad fails to compile: said, not raised
        return {"success": False, "error": "".join(traceback.format_exception(error))}
    return {"success": True, "timings": [{"name": "compile", "nanoseconds": nanoseconds}]}


def evaluate(name, function, input):
    """Run ``function`` of the eval at ``input``: ``min_runs`` times and for ``min_seconds`` at least
    where the input asks, one ``evaluate`` timing per run."""
    module = importlib.import_module(f"{__package__}.{name}")
    if function not in module.FUNCTIONS:
        return {"success": False, "error": f"the eval {name!r} has no function {function!r} here"}
    compute, convert = module.FUNCTIONS[function]
    args = module.prepare(input)
    runs = input.get("min_runs", 1) if isinstance(input, dict) else 1
    seconds = input.get("min_seconds", 0.0) if isinstance(input, dict) else 0.0
    timings, elapsed = [], 0
    while len(timings) < runs or elapsed < seconds * 1e9:
        output, nanoseconds = timed(compute, *args)
        timings.append({"name": "evaluate", "nanoseconds": nanoseconds})
        elapsed += nanoseconds
    return {"success": True, "output": convert(output), "timings": timings}


def respond(message):
    kind = message.get("kind")
    if kind == "start":
        return {"tool": "srcad"}
    if kind == "define":
        return define(message["module"])
    if kind == "evaluate":
        try:
            return evaluate(message["module"], message["function"], message["input"])
        except Exception as error:
            return {"success": False, "error": "".join(traceback.format_exception(error))}
    return {}


def serve(lines=sys.stdin, out=sys.stdout):
    for line in lines:
        if not line.strip():
            continue
        message = json.loads(line)
        print(json.dumps({"id": message["id"]} | respond(message)), file=out, flush=True)
