"""The interpolation study of the published work, on a sweep's output.

For each mode, every other peak setting of the sweep (40, 50, ..., 100 for a
step of 5) is an anchor; the settings in between are held out.  Their
parameters are interpolated from the anchors linearly and with a natural cubic
spline (attack and release in ms, as published) and evaluated on the held-out
recordings beside the directly fitted ("fitted") parameters: ESR (pre-emphasised) of the
whole clip rendered from rest and scored from its first sample (as a listener hears a
plugin start), the first second's ESR on its own, the start-up level error (the largest
level difference over 50 ms windows in the first second, dB), and delta-LDR.  Every fit is scored with its own model
(the sweep's), and every parameter of that model is interpolated and written.  For a
joint sweep (``sweep --joint``) a fourth method, ``joint``, fits the knob curves on the
anchor settings only (warm-started from the anchors' per-setting fits, same degree as
the sweep's) and scores them at the held-out settings, so every method is judged at
knob positions it was not fitted on.  For a ``+gru`` sweep, ``fitted+gru`` scores the
fitted parameters with the sweep's GRU residual; that residual was trained on every
setting's audio (held-out settings included), so this row is in-sample for the residual
(``benchmarks/knob_residual.py`` scores it on held-out audio).  Writes ``eval.csv`` and
``eval_summary.json``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import torch

from .audio import InputError, atomic_write_bytes, prepare_pair
from .model.models import Model, get_model
from .model.params import CompressorParams
from .model.schema import param_spec
from .objective.frame_lengths import FRAME_SECONDS, OVERLAP_SECONDS
from .objective.metrics import clip_scores, delta_ldr
from .result import FitResult
from .sweep_folder import fit_path

__all__ = ["interpolate_params", "evaluate", "split_anchors"]

METHODS = ("fitted", "linear", "spline")
JOINT_METHOD = "joint"
RESIDUAL_METHOD = "fitted+gru"


def split_anchors(peaks: list[int]) -> tuple[list[int], list[int]]:
    """Anchors (every other setting from the top) and held-out settings in between."""
    peaks = sorted(peaks)
    anchors = peaks[::-1][::2][::-1]
    held = [p for p in peaks if p not in anchors and anchors[0] < p < anchors[-1]]
    return anchors, held


def _clamp(name: str, v: float) -> float:
    p = param_spec(name)
    return float(min(max(v, p.lo), p.hi)) if p.bounded else float(v)


def interpolate_params(anchors: dict, peak: float, method: str):
    """Interpolate every parameter at ``peak`` from anchor peaks, each in its own physical units
    (clamped to its range).

    anchors: peak -> {name: value} (the anchors of one model, any model), or peak ->
    :class:`CompressorParams` (``ff5``); the result is of the same kind.
    """
    if anchors and all(isinstance(a, CompressorParams) for a in anchors.values()):
        return CompressorParams(**interpolate_params({p: a.to_dict() for p, a in anchors.items()}, peak, method))
    xs = np.array(sorted(anchors), dtype=float)
    names = list(anchors[int(xs[0])])
    out = {}
    for name in names:
        ys = np.array([anchors[int(p)][name] for p in xs])
        if method == "linear" or len(xs) < 3:
            v = float(np.interp(peak, xs, ys))
        elif method == "spline":
            from scipy.interpolate import CubicSpline

            v = float(CubicSpline(xs, ys, bc_type="natural")(peak))
        else:
            raise ValueError(f"unknown interpolation method {method!r}")
        out[name] = _clamp(name, v)
    return out


def predict(model: Model, params: dict, x: torch.Tensor, sr: int, residual: dict | None = None) -> torch.Tensor:
    """``model`` at physical ``params`` (plus a GRU residual's weights when given) on x (C, T), rendered
    from rest in float64, no gradients; (C, T)."""
    theta = model.physical_to_theta(params, sr)
    with torch.no_grad():
        pred = model.render(x.double(), theta, sr)
        if residual is not None:
            from .model.residual import apply_residual

            pred = apply_residual(pred, residual)
    return pred


def _score(model: Model, params: dict, x, y, sr, residual: dict | None = None) -> dict:
    """How ``model`` at ``params`` (with a GRU residual's weights when given) sounds on the pair x, y
    (C, T): rendered from rest and scored from sample 0 (:func:`~dspnewton.objective.metrics.clip_scores`:
    ``esr``, ``esr_first_second``, ``esr_after_first_second``, ``startup_db``) and the mean delta-LDR."""
    pred = predict(model, params, x, sr, residual)
    scores = clip_scores(pred, y.double(), sr)
    return {**scores, "delta_ldr_db": float(delta_ldr(pred, y, sr).mean())}


def _mean(values) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def _max(values) -> float | None:
    vals = [v for v in values if v is not None]
    return float(max(vals)) if vals else None


def _sweep_model(cfg: dict, fits: dict, out: Path) -> Model:
    """The sweep's model; every fit must hold it (never score a fit with another model)."""
    name = cfg.get("model", "ff5")
    try:
        model = get_model(name)
    except ValueError as exc:
        raise InputError(f"'{out / 'sweep.json'}': {exc}") from None
    others = sorted({f"{mode}/{peak}: {r.model}" for mode, by_peak in fits.items() for peak, r in by_peak.items()
                     if r.model != model.name})
    if others:
        raise InputError(f"'{out}' is a sweep of model {model.name!r} but holds fits of other models "
                         f"({', '.join(others[:4])}{' ...' if len(others) > 4 else ''}); a sweep folder holds one "
                         f"model: move those fits away or rerun the sweep into a new folder")
    return model


def _anchor_curves(model: Model, cfg: dict, root: Path, mode: str, anchors: list, fits: dict):
    """Knob curves fitted on the anchor settings only (or a note why not)."""
    from .joint import DEFAULT_DEGREE, joint_fit

    degree = cfg.get("joint_degree") or DEFAULT_DEGREE
    if len(anchors) < degree + 1:
        return None, f"joint: {len(anchors)} anchors, degree {degree} needs {degree + 1}"
    from .sweep_folder import settings_frames

    paths = {p: (root / cfg["pairs"][f"{mode}/{p}"]["input"], root / cfg["pairs"][f"{mode}/{p}"]["target"])
             for p in anchors}
    settings, rate = settings_frames(paths, cfg.get("frame_seconds", FRAME_SECONDS), cfg.get("overlap_seconds", OVERLAP_SECONDS),
                                     f"{mode} anchor")
    jr = joint_fit(settings, model.name, rate, {p: fits[p].all_params for p in anchors}, degree=degree)
    return jr.curves, None


def evaluate(sweep_dir, progress=None, joint: bool | None = None) -> dict:
    """Run the interpolation study on ``sweep_dir``; returns the summary (also written to disk).

    ``joint``: also score knob curves fitted on the anchors (default: when the sweep is a
    joint sweep, i.e. has ``joint.json``).
    """
    out = Path(sweep_dir)
    cfg_path = out / "sweep.json"
    if not cfg_path.exists():
        raise InputError(f"'{out}' is not a sweep folder (no sweep.json); run 'dspnewton sweep' first")
    cfg = json.loads(cfg_path.read_text())
    root = Path(cfg["dataset_root"])
    rows, summary = [], {}
    all_fits = {mode: {peak: FitResult.load(fit_path(out, mode, peak)) for peak in cfg["peaks"]
                       if fit_path(out, mode, peak).exists()} for mode in cfg["modes"]}
    model = _sweep_model(cfg, all_fits, out)
    joint = (out / "joint.json").exists() if joint is None else joint
    from .sweep_folder import load_residual

    residual = load_residual(out)
    for mode in cfg["modes"]:
        fits = all_fits[mode]
        if len(fits) < 3:
            summary[mode] = {"note": f"only {len(fits)} fitted settings; need 3 or more"}
            continue
        anchors, held = split_anchors(sorted(fits))
        anchor_params = {p: fits[p].all_params for p in anchors}
        methods, notes = list(METHODS), []
        if joint:
            curves, note = _anchor_curves(model, cfg, root, mode, anchors, fits)
            if curves is not None:
                methods.append(JOINT_METHOD)
            else:
                notes.append(note)
        if residual:
            methods.append(RESIDUAL_METHOD)
            notes.append("fitted+gru: the residual was trained on every setting's audio (in-sample)")
        for peak in held:
            pair_cfg = cfg["pairs"].get(f"{mode}/{peak}")
            pair = prepare_pair(root / pair_cfg["input"], root / pair_cfg["target"], trim=True)
            sr = pair.sample_rate
            for method in methods:
                if method in ("fitted", RESIDUAL_METHOD):
                    params = fits[peak].all_params
                elif method == JOINT_METHOD:
                    params = curves.params(peak)
                else:
                    params = interpolate_params(anchor_params, peak, method)
                sc = _score(model, params, pair.x, pair.y, sr,
                            residual["weights"] if method == RESIDUAL_METHOD else None)
                rows.append({"mode": mode, "peak": peak, "method": method, "model": model.name, **sc, **params})
            if progress:
                progress(mode, peak)
        mode_rows = [r for r in rows if r["mode"] == mode]
        summary[mode] = {
            "model": model.name, "anchors": anchors, "held_out": held, "methods": methods,
            **{f"mean_esr_{m}": float(np.mean([r["esr"] for r in mode_rows if r["method"] == m])) for m in methods},
            **{f"mean_abs_delta_ldr_{m}": float(np.mean([abs(r["delta_ldr_db"]) for r in mode_rows if r["method"] == m]))
               for m in methods},
            **{f"mean_esr_first_second_{m}": _mean([r["esr_first_second"] for r in mode_rows if r["method"] == m])
               for m in methods},
            **{f"max_startup_db_{m}": _max([r["startup_db"] for r in mode_rows if r["method"] == m]) for m in methods},
        }
        if notes:
            summary[mode]["notes"] = notes
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["mode", "peak", "method", "model", "esr", "esr_first_second",
                                        "esr_after_first_second", "startup_db", "delta_ldr_db", *model.param_names])
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.8g}" if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_bytes(out / "eval.csv", lambda tmp: Path(tmp).write_text(buf.getvalue()))
    text = json.dumps(summary, indent=2)
    atomic_write_bytes(out / "eval_summary.json", lambda tmp: Path(tmp).write_text(text))
    return summary
