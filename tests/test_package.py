"""The installed package: version, C++ extension build path, console script."""

import subprocess
import sys

import dspnewton


def test_native_extension_builds_and_reports_version():
    assert dspnewton.native_version() == dspnewton.__version__


def test_console_script_runs():
    proc = subprocess.run([sys.executable, "-m", "dspnewton", "version"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert dspnewton.__version__ in proc.stdout


def test_native_stubs_match_the_compiled_module():
    """``dspnewton/_native.pyi`` checked against the compiled module by mypy's stubtest (as pedalboard
    does): every function, class, method, property and parameter; the allowlist names only what a stub
    cannot express (pybind11's metaclass)."""
    from pathlib import Path

    from conftest import require_module

    require_module("mypy")
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "mypy.stubtest", "dspnewton._native", "--allowlist",
                           str(repo / ".ci" / "stubtest_allowlist.txt")], capture_output=True, text=True, cwd=repo,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
