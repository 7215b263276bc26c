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
