"""Bug hunting without shrinking: `python -m tests.fuzz.hunt N [LOGFILE]` (from the repo root).

Runs N random programs through the same check as the test, never stops at a
failure, and appends every failing program (source, args, wrt, message) to
LOGFILE (default /tmp/srcad-fuzz-failures.txt). Prints a summary: programs
checked, skipped (oracle unreliable or plain function invalid), failures, rate.
Not collected by pytest (no test_ prefix).
"""

import collections
import os
import re
import sys
import tempfile
import time

os.environ.setdefault("NUMBA_BOUNDSCHECK", "1")
os.environ.setdefault("SRCAD_CACHE_DIR", tempfile.mkdtemp(prefix="srcad-hunt-cache-"))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import UnsatisfiedAssumption  # noqa: E402

from tests.fuzz.programs import programs  # noqa: E402
from tests.fuzz.test_random_scalar_programs import check_program  # noqa: E402


def signature(text):
    """A short class for a failure message: the exception's last line, file names and numbers removed."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not text.startswith("srcad raised"):
        return lines[0].split(":")[0] + ": gradient/value mismatch"
    last = next((line for line in reversed(lines) if re.match(r"^[A-Za-z_.]+(Error|Exception)", line)), lines[-1])
    last = re.sub(r"/\S+\.py:\d+:\d+: ", "", last)
    return re.sub(r"\d+", "N", last)[:160]


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    log = sys.argv[2] if len(sys.argv) > 2 else "/tmp/srcad-fuzz-failures.txt"
    stats = {"checked": 0, "skipped": 0, "failed": 0}
    signatures = collections.Counter()
    start = time.time()

    @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(programs())
    def run(program):
        try:
            check_program(program)
        except UnsatisfiedAssumption:
            stats["skipped"] += 1
            raise
        except AssertionError as error:
            stats["failed"] += 1
            with open(log, "a") as handle:
                handle.write("=" * 78 + "\n" + str(error) + "\n")
            text = str(error)
            signatures[signature(text)] += 1
            print(f"FAIL #{stats['failed']}: {signature(text)}", flush=True)
            return
        stats["checked"] += 1
        done = stats["checked"] + stats["failed"]
        if done % 25 == 0:
            elapsed = time.time() - start
            print(f"{done} programs, {stats['failed']} failed, {60 * done / elapsed:.1f}/min", flush=True)

    run()
    elapsed = time.time() - start
    done = stats["checked"] + stats["failed"]
    print(f"done: {stats} in {elapsed:.0f}s, {60 * done / elapsed:.1f} programs/min")
    for text, count in signatures.most_common():
        print(f"{count:5d}  {text}")


if __name__ == "__main__":
    main()
