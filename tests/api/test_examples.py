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
