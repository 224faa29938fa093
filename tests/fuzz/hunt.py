"""Bug hunting without shrinking: `python -m tests.fuzz.hunt N [LOGFILE]` (from the repo root).

Runs N random programs through the same check as the test, never stops at a
failure, and appends every failing program (source, args, wrt, message) to
LOGFILE (default /tmp/srcad-fuzz-failures.txt). Prints a summary: programs
checked, skipped (oracle unreliable or plain function invalid), failures, how
many of the checked also had jvp checked ("forward"), and programs checked per
minute (also every 25 programs). Stopped by SIGTERM or Ctrl-C, it still prints
the summary.
Not collected by pytest (no test_ prefix).
"""

import collections
import contextlib
import os
import re
import signal
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
        if lines[0].startswith("jvp"):
            return lines[0].split(":")[0].split(" along")[0] + ": jvp mismatch"
        return lines[0].split(":")[0] + ": gradient/value mismatch"
    last = next((line for line in reversed(lines) if re.match(r"^[A-Za-z_.]+(Error|Exception)", line)), lines[-1])
    last = re.sub(r"/\S+\.py:\d+:\d+: ", "", last)
    where = " (in jvp)" if lines[0].startswith("srcad raised on a valid program in jvp") else ""
    return re.sub(r"\d+", "N", last)[:160] + where


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    log = sys.argv[2] if len(sys.argv) > 2 else "/tmp/srcad-fuzz-failures.txt"
    stats = {"checked": 0, "skipped": 0, "failed": 0, "forward": 0, "forward unreliable": 0}
    signatures = collections.Counter()
    start = time.time()

    @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(programs())
    def run(program):
        try:
            with timed(program, log):
                checked = check_program(program)
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
        note_checked(stats, checked, start)

    run_and_summarize(run, stats, signatures, start)


SLOW_SECONDS = 60
_running = {}  # the program being checked: its text, its start, the log


@contextlib.contextmanager
def timed(program, log):
    """Checks a program; one that takes more than SLOW_SECONDS (or is still running when the hunt
    is stopped) goes to the log as SLOW, with its source and arguments."""
    _running.update(text=f"{program.source}\nargs = {program.args!r}\n", start=time.time(), log=log)
    try:
        yield
    finally:
        _log_if_slow("")
        _running.clear()


def _log_if_slow(when):
    if not _running:
        return
    seconds = time.time() - _running["start"]
    if seconds > SLOW_SECONDS:
        with open(_running["log"], "a") as handle:
            handle.write("=" * 78 + f"\nSLOW: {seconds:.0f} s{when}\n{_running['text']}")
        print(f"SLOW: {seconds:.0f} s{when}", flush=True)


def note_checked(stats, checked, start):
    """Counts a checked program (and its forward-mode check); every 25 programs prints the rate."""
    stats["checked"] += 1
    stats["forward"] += checked["forward"] is True
    stats["forward unreliable"] += checked["forward"] == "unreliable"
    done = stats["checked"] + stats["failed"]
    if done % 25 == 0:
        elapsed = time.time() - start
        print(f"{done} programs ({stats['skipped']} skipped), {stats['failed']} failed, "
              f"{60 * done / elapsed:.1f} checked/min", flush=True)


def run_and_summarize(run, stats, signatures, start):
    """run(); then the summary, also when stopped by Ctrl-C or SIGTERM (`timeout 1800 python -m ...`)."""

    def summary():
        elapsed = time.time() - start
        done = stats["checked"] + stats["failed"]
        print(f"done: {stats} in {elapsed:.0f}s, {60 * done / max(elapsed, 1e-9):.1f} programs checked/min, "
              f"{60 * (done + stats['skipped']) / max(elapsed, 1e-9):.1f} drawn/min", flush=True)
        for text, n in signatures.most_common():
            print(f"{n:5d}  {text}", flush=True)

    def stop(*_):
        _log_if_slow(", still running when stopped")
        summary()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        run()
    except KeyboardInterrupt:
        pass
    summary()

if __name__ == "__main__":
    main()
