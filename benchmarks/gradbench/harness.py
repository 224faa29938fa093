"""A small stand-in for GradBench's ``gradbench run`` intermediary: starts an eval and a tool, hands
each one's lines to the other, and prints what the eval judged (valid or not, per evaluate message)
with the tool's timings. GradBench's own CLI does the same and more (logs, tables); this needs only
Python.

    python -m benchmarks.gradbench.harness --eval "python gradbench/evals/lse/run.py -n 1000 10000" \\
        --cwd /path/to/gradbench/python/gradbench/..   --tool "python -m benchmarks.gradbench"

``--eval`` runs in ``--cwd`` (GradBench's evals find their golden tool there, as ``tools/manual/bin``),
``--tool`` in this repository. Exits non-zero when an answer was judged invalid or a define failed.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(eval_command, tool_command, cwd, log=None):
    """Run one session; returns (rows, ok): a row per evaluate message (function, description,
    valid, median seconds, runs) and whether every answer was valid."""
    evaluation = subprocess.Popen(shlex.split(eval_command), cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    tool = subprocess.Popen(shlex.split(tool_command), cwd=HERE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    messages, rows, ok = {}, {}, True
    try:
        for line in evaluation.stdout:
            message = json.loads(line)
            if log:
                log.write(json.dumps({"message": message})[:2000] + "\n")
            tool.stdin.write(line)
            tool.stdin.flush()
            reply = tool.stdout.readline()
            if not reply:
                raise RuntimeError("the tool stopped answering")
            response = json.loads(reply)
            if log:
                log.write(json.dumps({"response": response})[:2000] + "\n")
            messages[message["id"]] = (message, response)
            kind = message["kind"]
            if kind == "define":
                compile_ns = sum(t["nanoseconds"] for t in response.get("timings", []) if t["name"] == "compile")
                print(f"define {message['module']}: {'ok' if response.get('success') else 'FAILED'}"
                      f" (compile {compile_ns / 1e9:.2f} s)" + ("" if response.get("success") else f"\n{response.get('error', '')}"))
                ok &= bool(response.get("success"))
            elif kind == "evaluate" and not response.get("success"):
                print(f"evaluate {message['function']} {message.get('description', '')}: FAILED\n{response.get('error', '')}")
                ok = False
            elif kind == "evaluate":
                times = sorted(t["nanoseconds"] for t in response["timings"] if t["name"] == "evaluate")
                rows[message["id"]] = [message["function"], message.get("description", ""), None, times[len(times) // 2] / 1e9, len(times)]
            elif kind == "analysis":
                row = rows.get(message["of"])
                if row is not None:
                    row[2] = message["valid"]
                if not message["valid"]:
                    ok = False
                    print(f"analysis of {message['of']}: INVALID\n{message.get('error', '')}")
            evaluation.stdin.write(reply)
            evaluation.stdin.flush()
    finally:
        for process in (evaluation, tool):
            try:
                process.stdin.close()
            except BrokenPipeError:
                pass
        evaluation.wait()
        tool.wait()
    return list(rows.values()), ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eval", required=True, help="the eval's command line")
    parser.add_argument("--tool", default=f"{sys.executable} -m benchmarks.gradbench", help="the tool's command line")
    parser.add_argument("--cwd", default=".", help="where the eval runs")
    parser.add_argument("--log", help="write every message and response here (JSON lines)")
    options = parser.parse_args(argv)
    log = open(options.log, "w") if options.log else None
    rows, ok = run(options.eval, options.tool, options.cwd, log)
    for function, description, valid, seconds, runs in rows:
        print(f"{function:>10} {description:>14} {'valid' if valid else 'INVALID' if valid is False else '-':>8}"
              f" {seconds * 1e3:10.3f} ms (median of {runs})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
