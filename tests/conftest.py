"""Test-wide settings, applied before numba is imported.

Generated code runs with bounds checking (a miscounted tape would raise
instead of corrupting memory), and srcad's cache goes to a fresh directory.

LLVM optimizes at level 1 here (NUMBA_OPT=1; users get numba's default, 3): the
suite compiles thousands of generated functions, and level 3 spends most of
each compile optimizing code that then runs for microseconds (measured: the
corpora and jvp files take 337 s at level 3, 212 s at level 1). The values do
not depend on the level (no fast-math). Level 0 is not used: numba cannot cache
some functions compiled at level 0, and caching is tested. Set NUMBA_OPT=3 to
run the suite as users compile; the benchmarks always do.
"""

import os
import sys
import tempfile

os.environ.setdefault("NUMBA_BOUNDSCHECK", "1")
os.environ.setdefault("NUMBA_OPT", "1")
os.environ.setdefault("SRCAD_CACHE_DIR", tempfile.mkdtemp(prefix="srcad-test-cache-"))
_TESTS = os.path.dirname(os.path.abspath(__file__))
# the shared modules (oracles, catalogues), and every folder's tests: some reuse another's programs
# (`from test_kernels import ...`), which their unique names allow
sys.path[:0] = [_TESTS] + sorted(
    os.path.join(_TESTS, name) for name in os.listdir(_TESTS)
    if os.path.isdir(os.path.join(_TESTS, name)) and not name.startswith((".", "_")) and name != "fuzz"
)

from hypothesis import settings  # noqa: E402

# CI gates on a fixed set of examples (derandomized: a run that landed stays green); bugs are
# hunted with fresh random examples: HYPOTHESIS_PROFILE=explore (or =long, more of them),
# and `python -m tests.fuzz.hunt N` for random programs.
settings.register_profile("default", deadline=None, max_examples=15, derandomize=True)
settings.register_profile("explore", deadline=None, max_examples=15)
settings.register_profile("long", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
