"""The interpolation study of the published work, on a sweep's output.

For each mode, every other peak setting of the sweep (40, 50, ..., 100 for a
step of 5) is an anchor; the settings in between are held out.  Their
parameters are interpolated from the anchors linearly and with a natural cubic
spline (attack and release in ms, as published) and evaluated on the held-out
recordings beside the directly fitted ("fitted") parameters: ESR (pre-emphasised,
same framing as the fit) and delta-LDR.  Writes ``eval.csv`` and ``eval_summary.json``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import torch

from .audio import InputError, atomic_write_bytes, prepare_pair
from .model.compressor import compress
from .model.params import PARAM_NAMES, RANGES, CompressorParams
from .objective.framing import make_frames
from .objective.fused import fused_loss
from .objective.metrics import delta_ldr
from .result import FitResult
from .sweep import fit_path

__all__ = ["interpolate_params", "evaluate", "split_anchors"]

METHODS = ("fitted", "linear", "spline")


def split_anchors(peaks: list[int]) -> tuple[list[int], list[int]]:
    """Anchors (every other setting from the top) and held-out settings in between."""
    peaks = sorted(peaks)
    anchors = peaks[::-1][::2][::-1]
    held = [p for p in peaks if p not in anchors and anchors[0] < p < anchors[-1]]
    return anchors, held


def _clamp(name: str, v: float) -> float:
    if name in RANGES:
        lo, hi = RANGES[name]
        return float(min(max(v, lo), hi))
    return float(v)


def interpolate_params(anchors: dict[int, CompressorParams], peak: float, method: str) -> CompressorParams:
    """Interpolate parameters at ``peak`` from anchor peaks, per parameter in its own units."""
    xs = np.array(sorted(anchors), dtype=float)
    out = {}
    for name in PARAM_NAMES:
        ys = np.array([getattr(anchors[int(p)], name) for p in xs])
        if method == "linear" or len(xs) < 3:
            v = float(np.interp(peak, xs, ys))
        elif method == "spline":
            from scipy.interpolate import CubicSpline

            v = float(CubicSpline(xs, ys, bc_type="natural")(peak))
        else:
            raise ValueError(f"unknown interpolation method {method!r}")
        out[name] = _clamp(name, v)
    return CompressorParams(**out)


def _score(params: CompressorParams, frames, x, y, sr) -> tuple[float, float]:
    theta = params.to_theta(sr)
    esr = fused_loss(theta, frames) / frames.target_energy
    with torch.no_grad():
        pred = compress(x, theta, sr)
    return esr, float(delta_ldr(pred, y, sr).mean())


def evaluate(sweep_dir, progress=None) -> dict:
    """Run the interpolation study on ``sweep_dir``; returns the summary (also written to disk)."""
    out = Path(sweep_dir)
    cfg_path = out / "sweep.json"
    if not cfg_path.exists():
        raise InputError(f"'{out}' is not a sweep folder (no sweep.json); run 'dspnewton sweep' first")
    cfg = json.loads(cfg_path.read_text())
    root = Path(cfg["dataset_root"])
    rows, summary = [], {}
    for mode in cfg["modes"]:
        fits = {}
        for peak in cfg["peaks"]:
            p = fit_path(out, mode, peak)
            if p.exists():
                fits[peak] = FitResult.load(p)
        if len(fits) < 3:
            summary[mode] = {"note": f"only {len(fits)} fitted settings; need 3 or more"}
            continue
        anchors, held = split_anchors(sorted(fits))
        anchor_params = {p: fits[p].params for p in anchors}
        for peak in held:
            pair_cfg = cfg["pairs"].get(f"{mode}/{peak}")
            pair = prepare_pair(root / pair_cfg["input"], root / pair_cfg["target"], trim=True)
            sr = pair.sample_rate
            frames = make_frames(pair.x, pair.y, sr, cfg.get("frame_seconds", 12.0), cfg.get("overlap_seconds", 1.0))
            for method in METHODS:
                params = fits[peak].params if method == "fitted" else interpolate_params(anchor_params, peak, method)
                esr, dldr = _score(params, frames, pair.x, pair.y, sr)
                rows.append({"mode": mode, "peak": peak, "method": method, "esr": esr, "delta_ldr_db": dldr,
                             **params.to_dict()})
            if progress:
                progress(mode, peak)
        mode_rows = [r for r in rows if r["mode"] == mode]
        summary[mode] = {
            "anchors": anchors, "held_out": held,
            **{f"mean_esr_{m}": float(np.mean([r["esr"] for r in mode_rows if r["method"] == m])) for m in METHODS},
            **{f"mean_abs_delta_ldr_{m}": float(np.mean([abs(r["delta_ldr_db"]) for r in mode_rows if r["method"] == m]))
               for m in METHODS},
        }
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["mode", "peak", "method", "esr", "delta_ldr_db", *PARAM_NAMES])
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.8g}" if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_bytes(out / "eval.csv", lambda tmp: Path(tmp).write_text(buf.getvalue()))
    text = json.dumps(summary, indent=2)
    atomic_write_bytes(out / "eval_summary.json", lambda tmp: Path(tmp).write_text(text))
    return summary
