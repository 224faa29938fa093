"""The on-disk cache under damage, races and foreign files (tests/api/test_cache.py has the basics).

Each test runs srcad in fresh processes on its own ``SRCAD_CACHE_DIR``, as a user's programs
would, and checks every gradient against a closed form. What srcad finds in its cache folder is
not trusted: damaged entries are rebuilt, files srcad did not write for that very entry are never
run, and processes filling one cold cache at once leave it whole.
"""

import importlib.util
import json
import math
import os
import py_compile
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

USER_MODULE = '''
import math

SCALE = 1.0


def energy(x, k):
    e = 0.0
    for i in range(20):
        e += SCALE * k * math.sin(x * i) ** 2
    return e


def wave(x, k):
    e = 0.0
    for i in range(20):
        e += k * math.cos(x * i) ** 2
    return e
'''

USER_KERNELS = '''
import numpy as np
import srcad


@srcad.kernel
def drift(x, a, x_out):
    i = srcad.tid()
    x_out[i] = x[i] + 0.1 * a[0] * np.sin(x[i])


@srcad.kernel
def squares(x, loss):
    i = srcad.tid()
    srcad.atomic_add(loss, 0, x[i] * x[i])


def run(n):
    xs = np.zeros((3, n))
    xs[0] = np.linspace(-2.0, 2.0, n)
    a = np.array([1.5])
    loss = np.zeros(1)
    with srcad.Tape() as tape:
        drift.launch(n, xs[0], a, xs[1])
        drift.launch(n, xs[1], a, xs[2])
        squares.launch(n, xs[2], loss)
    tape.backward(loss)
    return [loss[0], tape.gradient(xs[0]).tolist(), tape.gradient(a)[0]]
'''

# argv: the folder with the user's modules, then "kernels" or the name of a function in user_module.
# PROBE_SRCAD_VERSION: run as that version of srcad. PROBE_START_FILE: once srcad is imported, say so
# (a file beside it) and wait for it before working.
PROBE = textwrap.dedent(
    """
    import json, os, sys, time, types
    folder, what = sys.argv[1], sys.argv[2]
    sys.path.insert(0, folder)
    if os.environ.get("PROBE_SRCAD_VERSION"):
        version = types.ModuleType("srcad.version")
        version.__version__ = os.environ["PROBE_SRCAD_VERSION"]
        sys.modules["srcad.version"] = version
    import srcad
    start = os.environ.get("PROBE_START_FILE")
    if start:
        open(f"{start}.ready.{os.getpid()}", "w").close()
        while not os.path.exists(start):
            time.sleep(0.002)
    hits = None
    if what == "kernels":
        import user_kernels
        result = user_kernels.run(int(sys.argv[3]))
    else:
        import user_module
        function = getattr(user_module, what)
        result = srcad.grad(function, wrt=(0, 1))(0.3, 2.0)
        compiled = srcad.specialize.specializer_of(function).compiled
        hits = sum(next(iter(compiled.values())).dispatcher.stats.cache_hits.values())
    print(json.dumps({
        "result": result,
        "libcst_imported": "libcst" in sys.modules,
        "numba_cache_hits": hits,
    }))
    """
)

MARKER_CODE = "open({marker!r}, 'w').write('a planted file was run')\n"


def energy_gradient(x=0.3, k=2.0, scale=1.0):
    dx = sum(scale * k * 2 * math.sin(x * i) * math.cos(x * i) * i for i in range(20))
    dk = sum(scale * math.sin(x * i) ** 2 for i in range(20))
    return dx, dk


def wave_gradient(x=0.3, k=2.0):
    dx = sum(-k * 2 * math.cos(x * i) * math.sin(x * i) * i for i in range(20))
    dk = sum(math.cos(x * i) ** 2 for i in range(20))
    return dx, dk


def kernels_expected(n):
    """loss = sum(x2 ** 2) after two drift steps from x0; d loss / d x0 and d loss / d a, by hand."""
    x0, a, dt = np.linspace(-2.0, 2.0, n), 1.5, 0.1
    x1 = x0 + dt * a * np.sin(x0)
    x2 = x1 + dt * a * np.sin(x1)
    dx2_dx1 = 1.0 + dt * a * np.cos(x1)
    dx0 = 2.0 * x2 * dx2_dx1 * (1.0 + dt * a * np.cos(x0))
    da = np.sum(2.0 * x2 * (dt * np.sin(x1) + dx2_dx1 * dt * np.sin(x0)))
    return np.sum(x2 * x2), dx0, da


def check_kernels(result, n):
    loss, dx0, da = result
    expected_loss, expected_dx0, expected_da = kernels_expected(n)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    np.testing.assert_allclose(dx0, expected_dx0, rtol=1e-12, atol=1e-14)
    assert da == pytest.approx(expected_da, rel=1e-10)


class Workspace:
    def __init__(self, folder):
        self.folder = folder
        self.cache = folder / "cache"
        self.marker = folder / "planted-file-ran"
        (folder / "user_module.py").write_text(USER_MODULE)
        (folder / "user_kernels.py").write_text(USER_KERNELS)

    def environment(self, **extra):
        return dict(os.environ, SRCAD_CACHE_DIR=str(self.cache), **extra)

    def command(self, what, *more):
        return [sys.executable, "-c", PROBE, str(self.folder), what, *map(str, more)]

    def run(self, what="energy", *more, **extra):
        environment = self.environment(**extra)
        result = subprocess.run(self.command(what, *more), capture_output=True, text=True, env=environment)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    def generated(self):
        """The generated modules (not the validity markers), by path, with their contents."""
        return {p: p.read_text() for p in self.cache.glob("srcad_*.py") if not p.name.endswith("_valid.py")}

    def numba_entries(self, suffix):
        return sorted(self.cache.glob(f"__pycache__/*{suffix}"))

    def leftovers(self):
        """Temporary files of interrupted or racing writers (srcad's and numba's)."""
        return [p for p in self.cache.rglob("*") if ".tmp" in p.name]


@pytest.fixture
def workspace(tmp_path):
    return Workspace(tmp_path)


def test_truncated_generated_modules_are_rebuilt(workspace):
    assert workspace.run()["result"] == pytest.approx(energy_gradient(), rel=1e-12)
    originals = workspace.generated()
    assert originals
    truncations = {
        # still valid Python, but missing its last lines (srcad_entry, the facts about the function)
        "at a line boundary": lambda text: text[: text.rindex("\n", 0, len(text) * 2 // 3) + 1],
        "to nothing": lambda text: "",
    }
    for how, truncate in truncations.items():
        for path, text in originals.items():
            path.write_text(truncate(text))
        repaired = workspace.run()
        assert repaired["result"] == pytest.approx(energy_gradient(), rel=1e-12), how
        assert workspace.generated() == originals, how  # written again, whole


@pytest.mark.parametrize("suffix", [".nbi", ".nbc"], ids=["index", "data"])
def test_truncated_numba_cache_entries_are_recompiled(workspace, suffix):
    workspace.run()
    entries = workspace.numba_entries(suffix)
    assert entries
    for path in entries:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    repaired = workspace.run()
    assert repaired["result"] == pytest.approx(energy_gradient(), rel=1e-12)
    assert repaired["numba_cache_hits"] == 0  # the damaged entry was not used
    assert workspace.run()["numba_cache_hits"] == 1  # ... and was replaced by a good one


def test_damaged_numba_cache_of_kernels_is_recompiled(workspace):
    # a kernel's launchers and its tape's replay are compiled by numba at their first call, not by
    # srcad up front: damage to their cache entries is met there
    check_kernels(workspace.run("kernels", 16)["result"], 16)
    index, data = workspace.numba_entries(".nbi"), workspace.numba_entries(".nbc")
    assert len(index) >= 4 and data
    for path in data:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    check_kernels(workspace.run("kernels", 16)["result"], 16)
    for path in workspace.numba_entries(".nbi"):
        path.write_bytes(b"\x80\x04not a numba cache index")
    check_kernels(workspace.run("kernels", 16)["result"], 16)


def test_processes_filling_one_cold_cache_at_once(workspace):
    start = workspace.folder / "start"
    environment = workspace.environment(PROBE_START_FILE=str(start))
    processes = [
        subprocess.Popen(workspace.command("energy"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=environment)
        for _ in range(4)
    ]
    deadline = time.monotonic() + 120
    while len(list(workspace.folder.glob("start.ready.*"))) < len(processes) and time.monotonic() < deadline:
        time.sleep(0.01)  # until all have imported srcad: then they start together
    start.write_text("go")
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert json.loads(stdout.strip().splitlines()[-1])["result"] == pytest.approx(energy_gradient(), rel=1e-12)
    assert not workspace.leftovers()
    following = workspace.run()
    assert following["result"] == pytest.approx(energy_gradient(), rel=1e-12)
    assert not following["libcst_imported"]  # every generated module was read back whole
    assert following["numba_cache_hits"] == 1  # and numba's entry, too


def test_another_srcad_version_does_not_reuse_entries(workspace):
    workspace.run()
    before = set(workspace.generated())
    other = workspace.run(PROBE_SRCAD_VERSION="0.0.1-other")
    assert other["result"] == pytest.approx(energy_gradient(), rel=1e-12)
    assert other["libcst_imported"]  # generated afresh ...
    assert before < set(workspace.generated())  # ... under other names: the version is part of the key
    assert not workspace.run()["libcst_imported"]  # this version's entries are still there


def test_changing_a_constant_the_function_reads_recompiles(workspace):
    assert workspace.run()["result"] == pytest.approx(energy_gradient(), rel=1e-12)
    (workspace.folder / "user_module.py").write_text(USER_MODULE.replace("SCALE = 1.0", "SCALE = 3.0"))
    assert workspace.run()["result"] == pytest.approx(energy_gradient(scale=3.0), rel=1e-12)


def test_a_planted_module_is_never_run(workspace):
    workspace.run()
    originals = workspace.generated()
    for path in originals:
        path.write_text(MARKER_CODE.format(marker=str(workspace.marker)))
    result = workspace.run()
    assert not workspace.marker.exists()
    assert result["result"] == pytest.approx(energy_gradient(), rel=1e-12)
    assert workspace.generated() == originals


def test_another_functions_module_under_this_name_is_not_used(workspace):
    # srcad's own, undamaged code, but for another function: its checksum is right for its text,
    # not for this entry
    assert workspace.run("wave")["result"] == pytest.approx(wave_gradient(), rel=1e-12)
    wave_modules = workspace.generated()
    workspace.run("energy")
    energy_modules = {p: t for p, t in workspace.generated().items() if p not in wave_modules}
    assert len(wave_modules) == len(energy_modules) == 1
    [(energy_path, energy_text)] = energy_modules.items()
    energy_path.write_text(next(iter(wave_modules.values())))
    assert workspace.run("energy")["result"] == pytest.approx(energy_gradient(), rel=1e-12)
    assert energy_path.read_text() == energy_text


def test_planted_bytecode_is_never_run(workspace):
    # Python's import system would run a module's compiled bytecode from __pycache__ without looking
    # at the source srcad checked
    workspace.run()
    planted = workspace.folder / "planted.py"
    planted.write_text(MARKER_CODE.format(marker=str(workspace.marker)))
    for path in workspace.generated():
        py_compile.compile(
            str(planted),
            cfile=importlib.util.cache_from_source(str(path)),
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            doraise=True,
        )
    result = workspace.run()
    assert not workspace.marker.exists()
    assert result["result"] == pytest.approx(energy_gradient(), rel=1e-12)
