"""The examples a newcomer starts from run and print what they promise."""

import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")


def _run(name):
    result = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, name)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_quickstart_runs_and_shows_the_adjoint():
    output = _run("quickstart.py")
    assert "GradCheck(ok" in output
    assert "def f_adjoint(x, y, output_adj):" in output


def test_projectile_aims_with_newtons_method():
    output = _run("projectile.py")
    assert "aim at" in output and "GradCheck(ok" in output
    last_distance = [line for line in output.splitlines() if line.startswith("iteration")][-1]
    assert float(last_distance.split("lands at")[1].split()[0]) == pytest.approx(40.0, abs=1e-6)


def test_chain_of_springs_gradient_matches_its_central_difference():
    output = _run("chain_of_springs.py")
    check = [line for line in output.splitlines() if line.startswith("check")][0]
    srcad_value = float(check.split("srcad ")[1].split(",")[0])
    estimate = float(check.split("central differences ")[1])
    assert srcad_value == pytest.approx(estimate, rel=1e-6)


def test_cloth_on_a_tape_finds_the_stiffness_by_gauss_newton():
    output = _run("cloth_on_a_tape.py")
    last = output.strip().splitlines()[-1]
    rests, target = float(last.split("rests at ")[1].split()[0]), float(last.split("target ")[1].rstrip(")"))
    assert rests == pytest.approx(target, abs=1e-6)


OPTIMISING = [  # example, a tiny size, the pictures it writes, how many times lower its loss must end
    ("robot.py", ["--steps", "200", "--iters", "6"], ["robot_loss.png", "robot_frames.png", "robot_walk.gif"], 1.0),
    ("wave_inverse.py", ["--steps", "100", "--iters", "30"], ["wave_loss.png", "wave_shape.png"], 5.0),
    ("ode_fit.py", ["--steps", "5", "--iters", "30"], ["ode_loss.png", "ode_fit.png"], 5.0),
    ("cloth_design.py", ["--steps", "100", "--iters", "8"], ["cloth_loss.png", "cloth_shape.png"], 1.5),
    ("billiards.py", ["--steps", "200", "--iters", "20"], ["billiards_loss.png", "billiards_paths.png", "billiards_shot.gif"],
     10.0),
    # forces by srcad.grad inside; --check checks the function's and the kernels' gradients
    ("molecular_dynamics.py", ["--steps", "40", "--iters", "15"], ["md_loss.png", "md_atoms.png"], 3.0),
]


@pytest.mark.parametrize("name, size, pictures, lower", OPTIMISING, ids=[o[0] for o in OPTIMISING])
def test_optimisation_examples_check_their_gradient_optimise_and_draw(name, size, pictures, lower, tmp_path):
    """As a newcomer runs them, at a tiny size: the gradient check passes, the loss falls, the
    pictures are written (the robot's loss is the negative distance walked: it must walk right)."""
    _check_optimisation(name, size, pictures, lower, tmp_path, os.environ)


def test_the_cloth_on_cuda_in_numbas_simulator(tmp_path):
    """The kernels example on device arrays (``--device cuda``), in numba's CUDA simulator."""
    environment = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    _check_optimisation("cloth_design.py", ["--device", "cuda", "--steps", "10", "--iters", "2"],
                        ["cloth_loss.png", "cloth_shape.png"], 1.0, tmp_path, environment)


def _check_optimisation(name, size, pictures, lower, tmp_path, environment):
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), "--out", str(tmp_path), "--check", *size],
                            capture_output=True, text=True, timeout=600, env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert any("gradient check along" in line and "(ok)" in line for line in lines), result.stdout
    first, last = (float(v) for v in lines[-1].split("loss ")[1].split(" in ")[0].split(" (")[0].split(" -> "))
    if lower == 1.0:
        assert last < first, lines[-1]
    else:
        assert last * lower < first, lines[-1]
    for picture in pictures:
        assert (tmp_path / picture).stat().st_size > 2000, picture


def test_the_ensemble_on_local_dask_clusters(tmp_path):
    """Two local clusters (one worker, then two): the workers load the gradient from srcad's cache
    (they add no file to it), the speed-up is measured, the best robot is drawn."""
    pytest.importorskip("dask.distributed")
    environment = dict(os.environ, SRCAD_CACHE_DIR=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, "ensemble.py"), "--out", str(tmp_path),
                             "--robots", "3", "--steps", "150", "--iters", "4", "--check"],
                            capture_output=True, text=True, timeout=600, env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any("gradient check along" in line and "(ok)" in line for line in lines), lines
    workers = [line for line in lines if "robots x 4 iterations" in line]
    assert len(workers) == 2 and all("0 files added to srcad's cache by the workers" in line for line in workers), lines
    assert any(line.startswith("speed-up from 1 to 2 workers:") for line in lines)
    assert lines[-1].startswith("ensemble (best robot): loss")
    for picture in ("ensemble_best_loss.png", "robot_frames.png", "robot_walk.gif"):
        assert (tmp_path / picture).stat().st_size > 2000, picture
