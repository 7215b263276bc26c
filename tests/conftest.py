"""Shared test helpers.

Under ``CI=true`` a missing tool or package is a failure, not a skip; the one
skip allowed there is a CUDA test on a machine without a GPU.
"""

from __future__ import annotations

import os
import shutil

import pytest
import torch

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def require_tool(name: str) -> str:
    """Path of an executable; skip locally (fail in CI) when it is missing."""
    path = shutil.which(name)
    if path is None:
        msg = f"required tool {name!r} is not installed"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def require_module(name: str):
    """Import a module; skip locally (fail in CI) when it is missing."""
    try:
        return __import__(name, fromlist=["_"])
    except ImportError as exc:
        if IN_CI:
            pytest.fail(f"required package {name!r} is not importable: {exc}")
        pytest.skip(f"package {name!r} missing: {exc}")


def run_cli(argv, capsys):
    """Run the CLI in-process: (exit code, stdout, stderr); an error must never be a traceback."""
    from dspnewton.cli import main

    code = main(argv)
    out = capsys.readouterr()
    assert "Traceback" not in out.err, out.err
    return code, out.out, out.err


@pytest.fixture
def rng():
    return torch.Generator().manual_seed(1234)


def random_poles(shape, rng, max_abs=0.95, dtype=torch.float64):
    """Poles in (-max_abs, max_abs), biased towards the unit circle."""
    u = torch.rand(shape, generator=rng, dtype=dtype)
    sign = torch.where(torch.rand(shape, generator=rng, dtype=dtype) < 0.8, 1.0, -1.0).to(dtype)
    return sign * max_abs * u.sqrt()
