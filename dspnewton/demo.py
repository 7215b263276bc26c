"""``dspnewton demo``: the whole study on the embedded virtual unit, no download needed.

Generates the virtual dataset (about 30 s per file, peaks 40..100 step 10, both
modes), indexes it, sweeps it (warm-started chains), runs the interpolation
evaluation, draws the plots, exports the bundle with the plugin and prints where
everything is.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from .data.signaltrain import build_manifest
from .data.virtual_unit import generate_dataset
from .audio import InputError
from .evaluate import evaluate
from .plots import plot_sweep, require_matplotlib
from .sweep import sweep

__all__ = ["run_demo"]


def run_demo(out_dir, seconds: float = 30.0, peaks=range(40, 101, 10), say: Callable[[str], None] = print,
             on_event=None, plugin: bool = True, model: str = "ff5") -> dict:
    """Run the demo into ``out_dir`` with ``model`` (any model name); returns a summary dict
    (paths, timings, ESRs)."""
    t0 = time.perf_counter()
    require_matplotlib()  # before minutes of fitting, not after
    out = Path(out_dir)
    data_dir = out / "dataset"
    say(f"[1/6] generating the virtual LA-2A dataset ({seconds:g} s per file) in {data_dir}")
    generate_dataset(data_dir, seconds=seconds, peaks=peaks)
    say("[2/6] indexing it")
    manifest = build_manifest(data_dir)
    manifest.save(out / "manifest.json")
    say(f"      {len(manifest.pairs)} pairs -> {out / 'manifest.json'}")
    say(f"[3/6] sweeping model {model}: warm-started Newton chains from peak 100 down, both modes")
    result = sweep(out / "manifest.json", out / "sweep", peaks=list(peaks), on_event=on_event, model=model)
    say("[4/6] interpolation evaluation (anchors every other peak)")
    summary = evaluate(out / "sweep")
    say("[5/6] plots")
    plots = plot_sweep(out / "sweep")
    say("[6/6] exporting the bundle (bundle.json, params.h, presets) and building the plugin")
    bundle, note = _export(out / "sweep", out / "la2a.bundle", plugin)
    if note:
        say(f"      {note}")
    return {"seconds": time.perf_counter() - t0, "mapping": result.mapping(), "eval": summary,
            "plots": [str(p) for p in plots], "sweep_dir": str(out / "sweep"), "failed": result.failed,
            "bundle": str(bundle), "plugin_note": note}


def _export(sweep_dir: Path, bundle: Path, plugin: bool):
    from .export import export_bundle

    if not plugin:
        return export_bundle(sweep_dir, bundle, force=True), "plugin build skipped"
    try:
        return export_bundle(sweep_dir, bundle, force=True, plugin=True), ""
    except InputError as exc:
        # No DPF or compiler here: the bundle itself is still written.
        return export_bundle(sweep_dir, bundle, force=True), f"plugin not built: {str(exc).splitlines()[0]}"
