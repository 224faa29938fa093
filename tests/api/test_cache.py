"""The on-disk cache: a second process starts warm, edits recompile, damage is repaired."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

USER_MODULE = '''
import math

def energy(x, k):
    e = 0.0
    for i in range(20):
        e += k * math.sin(x * i) ** 2
    return e
'''

PROBE = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, sys.argv[1])
    import srcad, user_module
    start = time.perf_counter()
    gradient = srcad.grad(user_module.energy, wrt=(0, 1))(0.3, 2.0)
    seconds = time.perf_counter() - start
    compiled = srcad.specialize.specializer_of(user_module.energy).compiled
    dispatcher = next(iter(compiled.values())).dispatcher
    print(json.dumps({
        "gradient": gradient,
        "seconds": seconds,
        "libcst_imported": "libcst" in sys.modules,
        "numba_cache_hits": sum(dispatcher.stats.cache_hits.values()),
    }))
    """
)


def expected_gradient(x, k, power=2):
    import math

    dx = sum(k * power * math.sin(x * i) ** (power - 1) * math.cos(x * i) * i for i in range(20))
    dk = sum(math.sin(x * i) ** power for i in range(20))
    return dx, dk


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / "user_module.py").write_text(USER_MODULE)
    cache = tmp_path / "cache"
    environment = dict(os.environ, SRCAD_CACHE_DIR=str(cache))

    def run():
        result = subprocess.run(
            [sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True, env=environment
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    return tmp_path, cache, run


def test_second_process_is_warm(workspace):
    _, _, run = workspace
    first = run()
    second = run()
    assert first["gradient"] == pytest.approx(expected_gradient(0.3, 2.0), rel=1e-10)
    assert second["gradient"] == first["gradient"]
    assert first["libcst_imported"] and not second["libcst_imported"]  # no transforms ran
    assert second["numba_cache_hits"] == 1  # numba loaded machine code, did not compile


def test_editing_the_function_recompiles(workspace):
    folder, _, run = workspace
    run()
    (folder / "user_module.py").write_text(USER_MODULE.replace("** 2", "** 3"))
    edited = run()
    assert edited["gradient"] == pytest.approx(expected_gradient(0.3, 2.0, power=3), rel=1e-10)


def test_corrupted_generated_module_is_rebuilt(workspace):
    _, cache, run = workspace
    run()
    generated = [p for p in cache.glob("srcad_*.py") if not p.name.endswith("_valid.py")]
    assert generated
    for path in generated:
        path.write_text(path.read_text()[: len(path.read_text()) // 2] + "\n)(garbage")
    repaired = run()
    assert repaired["gradient"] == pytest.approx(expected_gradient(0.3, 2.0), rel=1e-10)


def test_corrupted_numba_cache_is_recompiled_not_fatal(workspace):
    _, cache, run = workspace
    run()
    damaged = list(cache.glob("__pycache__/*.nbi")) + list(cache.glob("__pycache__/*.nbc"))
    assert damaged
    for path in damaged:
        path.write_bytes(b"\x00not a numba cache entry")
    repaired = run()
    assert repaired["gradient"] == pytest.approx(expected_gradient(0.3, 2.0), rel=1e-10)


def test_cache_files_are_written_atomically(workspace):
    _, cache, run = workspace
    run()
    assert not list(cache.glob("*.tmp"))


HELPER_MODULE = '''
import math

def term(x, i, k):
    return k * math.sin(x * i) ** 2

def energy(x, k):
    e = 0.0
    for i in range(20):
        e += term(x, i, k)
    return e
'''


def test_editing_a_helper_the_function_calls_recompiles(tmp_path):
    # srcad inlines helpers: their source is part of what the cached derivative depends on
    (tmp_path / "user_module.py").write_text(HELPER_MODULE)
    environment = dict(os.environ, SRCAD_CACHE_DIR=str(tmp_path / "cache"))

    def run():
        result = subprocess.run(
            [sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True, env=environment
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    assert run()["gradient"] == pytest.approx(expected_gradient(0.3, 2.0), rel=1e-10)
    (tmp_path / "user_module.py").write_text(HELPER_MODULE.replace("** 2", "** 3"))
    assert run()["gradient"] == pytest.approx(expected_gradient(0.3, 2.0, power=3), rel=1e-10)
