"""Bug hunting in array programs: `python -m tests.fuzz.array_hunt N [LOGFILE]` (from the repo root).

Runs N random array programs (`array_programs.py`) through the same check as
`test_random_array_programs.py`, never stops at a failure, and appends every
failing program (source, args, message) to LOGFILE (default
/tmp/srcad-array-fuzz-failures.txt). Prints a summary: programs checked,
skipped (plain program invalid, tie/kink within the margin, or oracle
unreliable), failures grouped by kind:

- WRONG GRADIENT / WRONG VALUE / WRONG SIDE EFFECT: srcad ran and disagreed;
- CRASH: srcad raised something other than DifferentiabilityError;
- REFUSED: srcad raised DifferentiabilityError (expected for unsupported code).

"(in jvp)" marks a crash or refusal of `srcad.jvp` (value_and_grad having worked), "WRONG JVP
..." a wrong tangent, value or side effect from jvp (a third of the programs check jvp: the
summary's "forward" counts them). Rates are programs checked per minute (every 25 programs, and
at the end).

Stopped by SIGTERM (`timeout 1800 python -m tests.fuzz.array_hunt 5000`) or Ctrl-C, it
still prints the summary. Long hunts grow in memory (every compiled adjoint stays loaded:
about 6 GB after 30 minutes). Not collected by pytest (no test_ prefix).
"""

import collections
import os
import re
import sys
import tempfile
import time

os.environ.setdefault("NUMBA_BOUNDSCHECK", "1")
os.environ.setdefault("SRCAD_CACHE_DIR", tempfile.mkdtemp(prefix="srcad-array-hunt-cache-"))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import UnsatisfiedAssumption  # noqa: E402

from tests.fuzz.array_programs import array_programs  # noqa: E402
from tests.fuzz.hunt import note_checked, run_and_summarize, timed  # noqa: E402
from tests.fuzz.test_random_array_programs import check_program  # noqa: E402


def signature(text):
    """A short class for a failure message."""
    lines = [line for line in text.splitlines() if line.strip()]
    if text.startswith("srcad refused") or text.startswith("srcad raised"):
        kind = "REFUSED" if text.startswith("srcad refused") else "CRASH"
        kind += " (in jvp)" if lines[0].endswith(" in jvp") else ""
        last = next((line for line in reversed(lines) if re.match(r"^[A-Za-z_.]+(Error|Exception)\b", line)), lines[-1])
        last = re.sub(r"/\S+\.py:\d+:\d+: ", "", last)
        frames = [line for line in lines if line.strip().startswith("File ")]
        if last.rstrip(":") in ("AssertionError", "IndexError", "KeyError") and frames:  # no message: where
            last += " in " + re.sub(r'.*File "(?:.*/)?([^"/]+)", line \d+, in (\S+).*', r"\1:\2", frames[-1])
        last = re.sub(r"'[^']*'", "'…'", last) if kind == "CRASH" else last
        last = re.sub(r"\d+", "N", last)[:160]
        if "numba could not compile" in last or "cannot be compiled" in last:
            # numba's message is cut to its first line: name the statement instead
            at = next((i for i, line in enumerate(lines) if "compile" in line and "DifferentiabilityError" in line), None)
            if at is not None and at + 1 < len(lines):
                statement = re.sub(r"\b[a-z]+\d+\b", "v", lines[at + 1].strip())
                last = last[:110] + " AT " + re.sub(r"\d+(\.\d+)?", "N", statement)[:90]
        return f"{kind}: " + last
    kinds = []
    for line in lines:
        if line.startswith("jvp value:"):
            kinds.append("WRONG JVP VALUE")
        elif line.startswith("jvp tangent:"):
            kinds.append("WRONG JVP TANGENT")
        elif line.startswith("jvp side effect:"):
            kinds.append("WRONG JVP SIDE EFFECT " + line.split()[4].rstrip("'s"))
        elif line.startswith("value:"):
            kinds.append("WRONG VALUE")
        elif line.startswith("side effect:"):
            kinds.append("WRONG SIDE EFFECT " + line.split()[3].rstrip("'s"))
        elif line.startswith("d f/d"):
            kinds.append("WRONG GRADIENT d/d" + line.split()[2].rstrip(":"))
        elif line.startswith("value_and_grad gave"):
            kinds.append("WRONG RESULT ARITY")
        elif line.startswith("args:") or line.startswith("tangents:"):
            break
    return ", ".join(dict.fromkeys(kinds)) or lines[0][:120]


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    log = sys.argv[2] if len(sys.argv) > 2 else "/tmp/srcad-array-fuzz-failures.txt"
    stats = {"checked": 0, "skipped": 0, "failed": 0, "forward": 0, "forward unreliable": 0}
    signatures = collections.Counter()
    start = time.time()

    @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(array_programs())
    def run(program):
        try:
            with timed(program, log):
                checked = check_program(program)
        except UnsatisfiedAssumption:
            stats["skipped"] += 1
            raise
        except AssertionError as error:
            stats["failed"] += 1
            text = str(error)
            with open(log, "a") as handle:
                handle.write("=" * 78 + "\n" + signature(text) + "\n" + text + "\n")
            signatures[signature(text)] += 1
            print(f"FAIL #{stats['failed']}: {signature(text)}", flush=True)
            return
        note_checked(stats, checked, start)

    run_and_summarize(run, stats, signatures, start)

if __name__ == "__main__":
    main()
