"""srcad's times on GradBench's evals next to GradBench's JAX tool, measured in one run on one
machine, each eval judged by GradBench's own eval script (``harness.py`` drives both).

    python -m benchmarks.gradbench.table --gradbench /path/to/gradbench [--evals lse,llsq] [--min-runs 10]

``--gradbench``: a checkout of github.com/gradbench/gradbench with its golden ``manual`` tool built
(``make -C tools/manual bin/lse ...``, which needs nlohmann's json.hpp in ``cpp/``). Its Python
evals need numpy, scipy and pydantic; the JAX tool needs JAX (srcad's ``[bench]`` extra). Prints
per function and size the median time of each tool, srcad's over JAX's, and srcad's derivative
over its primal. Asserts nothing about times; exits non-zero if an answer was judged invalid.
"""

import argparse
import os
import sys

from .harness import run

SIZES = {  # eval -> its script's arguments: a few sizes of the eval's defaults
    "lse": "-n 10000 100000 1000000",
    "llsq": "-n 1024 4096 -m 64 256",
    "ode": "-n 16 64 -s 1000",
    "kmeans": "-k 10 -n 10000 -d 8",
    "gmm": "-d 10 20 -k 10 25 -n 1000",
    "lstm": "-l 2 4 -c 1024 4096",  # (GradBench's JAX tool does not answer lstm, particle or saddle)
    "particle": "",
    "saddle": "",
}
DERIVATIVE_OF = {"gradient": "primal", "dir": "cost", "jacobian": "objective"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gradbench", required=True)
    parser.add_argument("--evals", default=",".join(SIZES))
    parser.add_argument("--min-runs", type=int, default=10)
    parser.add_argument("--min-seconds", type=float, default=0.5)
    options = parser.parse_args(argv)
    root = os.path.abspath(options.gradbench)
    python_path = [os.path.join(root, "python", "gradbench"), os.path.join(root, "python", "gradbench", "gradbench", "tools", "jax")]
    os.environ["PYTHONPATH"] = os.pathsep.join(python_path + [os.environ.get("PYTHONPATH", "")])
    tools = {"srcad": f"{sys.executable} -m benchmarks.gradbench", "jax": f"{sys.executable} -m benchmarks.gradbench.jax_tool"}
    all_valid = True
    print(f"{'eval':>7} {'function':>10} {'size':>16} {'srcad ms':>11} {'JAX ms':>11} {'srcad/JAX':>10} {'srcad d/primal':>15}")
    for name in options.evals.split(","):
        command = (f"{sys.executable} python/gradbench/gradbench/evals/{name}/run.py {SIZES[name]} "
                   f"--min-runs {options.min_runs} --min-seconds {options.min_seconds}")
        times = {}
        for tool, tool_command in tools.items():
            rows, ok = run(command, tool_command, root)
            all_valid &= ok if tool == "srcad" else True
            for function, description, valid, seconds, _ in rows:
                times[(tool, function, description)] = seconds if valid else None
        for (tool, function, description), seconds in times.items():
            if tool != "srcad":
                continue
            jax_seconds = times.get(("jax", function, description))
            primal = times.get(("srcad", DERIVATIVE_OF.get(function), description))
            ratio = f"{seconds / jax_seconds:10.2f}" if seconds and jax_seconds else f"{'-':>10}"
            over_primal = f"{seconds / primal:15.2f}" if seconds and primal else f"{'':>15}"
            print(f"{name:>7} {function:>10} {description:>16} {seconds * 1e3 if seconds else float('nan'):11.3f} "
                  f"{jax_seconds * 1e3 if jax_seconds else float('nan'):11.3f} {ratio} {over_primal}", flush=True)
    return 0 if all_valid else 1


if __name__ == "__main__":
    sys.exit(main())
