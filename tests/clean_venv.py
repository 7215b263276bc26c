"""The clean virtual environment of tests/test_install.py, built in the background.

Building it (the wheel, a fresh venv, pip installing the wheel and its pinned dependencies: about 5 GB
of CUDA torch) takes two minutes, mostly unpacking files, while the other tests keep one of the two
cores busy.  So conftest.py starts the build, at low priority, as soon as collection shows that the
clean-venv test will run, and the test's fixture waits for it: the same steps, in a separate process,
finished before any check runs (nothing depends on timing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_build: dict = {}


def env() -> dict:
    """The environment of every command in the clean venv (no variables that point at the checkout)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


def start() -> None:
    """Start building: ``ROOT/wheels/*.whl`` and ``ROOT/venv`` with ``dspnewton[plots]`` installed by pip alone."""
    if _build:
        return
    root = Path(tempfile.mkdtemp(prefix="dspnewton-clean-venv-"))
    q = lambda p: "'" + str(p) + "'"  # noqa: E731 - quoted for bash
    script = (f"{q(sys.executable)} -m pip wheel -q --no-deps -w wheels {q(REPO)} && "
              f"{q(sys.executable)} -m venv venv && "
              f"venv/bin/python -m pip install -q -c {q(REPO / '.ci' / 'constraints.txt')} "
              f"\"$(ls wheels/dspnewton-*.whl)[plots]\"")
    log = open(root / "build.log", "w")
    proc = subprocess.Popen(["nice", "-n", "10", "bash", "-c", script], cwd=root, env=env(), stdout=log,
                            stderr=subprocess.STDOUT)
    _build.update(root=root, proc=proc, log=log)


def wait() -> Path:
    """The root folder once the build has finished; AssertionError with the build's log if it failed."""
    start()
    proc = _build["proc"]
    rc = proc.wait()
    _build["log"].close()
    log = (_build["root"] / "build.log").read_text()
    assert rc == 0, f"building the clean venv failed ({rc}):\n{log[-4000:]}"
    return _build["root"]


def cleanup() -> None:
    """Stop a build still running and remove its folder (several GB)."""
    if not _build:
        return
    if _build["proc"].poll() is None:
        _build["proc"].kill()
        _build["proc"].wait()
    _build["log"].close()
    shutil.rmtree(_build["root"], ignore_errors=True)
    _build.clear()
