"""Shared helpers for the benchmark scripts: timing, peak memory, tables, JSON."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import torch


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_call(fn, device: str, repeat: int = 3, min_time: float = 0.0) -> float:
    """Best-of-``repeat`` wall time of ``fn()`` in seconds (after one warm-up call)."""
    fn()
    sync(device)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def machine_info(device: str) -> dict:
    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def print_table(rows: list[dict], columns: list[tuple[str, str]]) -> None:
    """Print ``rows`` as a Markdown table; ``columns`` is [(key, header), ...]."""

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}" if v < 100 else f"{v:.0f}"
        return "-" if v is None else str(v)

    print("| " + " | ".join(h for _, h in columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for r in rows:
        print("| " + " | ".join(fmt(r.get(k)) for k, _ in columns) + " |")


def write_json(path: str | None, payload: dict) -> None:
    if not path:
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(p)
    print(f"wrote {p}")


# Runs ``python -m dspnewton`` from another checkout (e.g. ``git worktree add /tmp/base <rev>``), for side-by-side
# runs against an earlier revision: the editable install's import hook is dropped first.
_BOOT = ("import sys, runpy; sys.meta_path[:] = [f for f in sys.meta_path if 'ScikitBuild' not in type(f).__name__]; "
         "sys.path.insert(0, sys.argv.pop(1)); import dspnewton; assert dspnewton.__file__.startswith(sys.path[0]), "
         "dspnewton.__file__; runpy.run_module('dspnewton', run_name='__main__')")


def dspnewton_cmd(args: list, code: str | None = None) -> list:
    """The command line of ``dspnewton ARGS``: this install's, or (``code``: a checkout's folder) that checkout's."""
    import sys

    if code is None:
        return [sys.executable, "-m", "dspnewton", *args]
    return [sys.executable, "-c", _BOOT, str(Path(code).resolve()), *args]
