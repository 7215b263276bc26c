"""``dspnewton demo``: the whole study on the embedded virtual unit, no download needed.

Generates the virtual dataset (about 30 s per file, peaks 40..100 step 10, both
modes), indexes it, sweeps it (warm-started chains), runs the interpolation
evaluation, draws the plots and prints where everything is.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from .data.signaltrain import build_manifest
from .data.virtual_unit import generate_dataset
from .evaluate import evaluate
from .plots import plot_sweep
from .sweep import sweep

__all__ = ["run_demo"]


def run_demo(out_dir, seconds: float = 30.0, peaks=range(40, 101, 10), say: Callable[[str], None] = print,
             on_event=None) -> dict:
    """Run the demo into ``out_dir``; returns a summary dict (paths, timings, ESRs)."""
    t0 = time.perf_counter()
    out = Path(out_dir)
    data_dir = out / "dataset"
    say(f"[1/5] generating the virtual LA-2A dataset ({seconds:g} s per file) in {data_dir}")
    generate_dataset(data_dir, seconds=seconds, peaks=peaks)
    say("[2/5] indexing it")
    manifest = build_manifest(data_dir)
    manifest.save(out / "manifest.json")
    say(f"      {len(manifest.pairs)} pairs -> {out / 'manifest.json'}")
    say("[3/5] sweeping: warm-started Newton chains from peak 100 down, both modes")
    result = sweep(out / "manifest.json", out / "sweep", peaks=list(peaks), on_event=on_event)
    say("[4/5] interpolation evaluation (anchors every other peak)")
    summary = evaluate(out / "sweep")
    say("[5/5] plots")
    plots = plot_sweep(out / "sweep")
    return {"seconds": time.perf_counter() - t0, "mapping": result.mapping(), "eval": summary,
            "plots": [str(p) for p in plots], "sweep_dir": str(out / "sweep"), "failed": result.failed}
