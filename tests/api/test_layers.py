"""srcad's import layers (issue 21): setup.cfg's import-linter contracts hold on the package as it
installs, where ``transforms/`` is ``srcad.transforms`` and ``kernels/`` is ``srcad.kernels``
(``package_dir``). The installed layout is copied from the checkout by that mapping, so the
contracts see every module, and imports inside functions count."""

import configparser
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SETUP = os.path.join(ROOT, "setup.cfg")


def installed_layout(destination):
    """The packages of setup.cfg's ``package_dir`` laid out as pip installs them, under ``destination``."""
    config = configparser.ConfigParser()
    config.read(SETUP)
    mapping = dict(
        line.split("=") for line in config["options"]["package_dir"].strip().splitlines() if line.strip()
    )
    for package, folder in sorted((p.strip(), f.strip()) for p, f in mapping.items()):  # parents first
        shutil.copytree(os.path.join(ROOT, folder), os.path.join(destination, *package.split(".")),
                        ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)


def lint_imports(layout):
    """import-linter's report on ``layout``, and whether every contract was kept."""
    pytest.importorskip("importlinter")
    environment = dict(os.environ, PYTHONPATH=str(layout))
    command = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
               "sys.exit(lint_imports_command())", SETUP, "--no-cache"]
    result = subprocess.run(command, cwd=layout, env=environment, capture_output=True, text=True, timeout=300)
    return result.stdout + result.stderr, result.returncode == 0


def test_import_layers_hold(tmp_path):
    installed_layout(tmp_path)
    report, kept = lint_imports(tmp_path)
    assert kept, report
    assert "3 kept, 0 broken" in report, report


def test_an_upward_import_inside_a_function_breaks_them(tmp_path):
    installed_layout(tmp_path)
    names = tmp_path / "srcad" / "transforms" / "ir" / "names.py"
    names.write_text(names.read_text() + "\n\ndef _upward():\n    from srcad.pipeline import Normalized\n\n"
                     "    return Normalized\n")
    report, kept = lint_imports(tmp_path)
    assert not kept, report
    assert "srcad.transforms.ir.names -> srcad.pipeline" in report, report
