"""The parts of a sweep around its warm-started chains (:func:`dspnewton.sweep.sweep` runs them in order).

- :func:`select_pairs`: one input/target pair per (mode, peak);
- :func:`selection_stage`: a ``--model auto`` sweep's model selection (``selection.json``);
- :func:`gather_chains`: with several workers, rank 0 collects every worker's fits;
- :func:`joint_stage`: knob curves per mode (``joint.json``); :func:`check_joint` its degree;
- :func:`residual_stage`: one GRU residual for the whole sweep (``residual.json``);
- :class:`SweepResult`: what the sweep did, filled by the runner and these stages.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .audio import InputError
from .data.signaltrain import Manifest
from .result import FitResult
from .sweep_folder import fit_path, settings_frames, write_json

__all__ = ["SweepResult", "select_pairs", "selection_stage", "gather_chains", "joint_stage", "check_joint",
           "residual_stage"]


@dataclass
class SweepResult:
    """What a sweep did: fits per mode and peak, and the problems it reported."""

    out_dir: str
    fits: dict = field(default_factory=dict)  # mode -> {peak: FitResult}
    failed: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    resumed: list = field(default_factory=list)
    seconds: float = 0.0
    joint: dict = field(default_factory=dict)  # mode -> JointResult (joint sweeps)
    residual: dict = field(default_factory=dict)  # the GRU residual of a '+gru' sweep (residual.json)
    selection: dict = field(default_factory=dict)  # a '--model auto' sweep's model selection (selection.json)

    def mapping(self) -> dict:
        """mode -> peak -> parameters, ESR, iterations, converged, model (and ``source: joint``
        with the curves' values and ESRs in a mode fitted jointly)."""
        out = {mode: {str(peak): {**r.all_params, "esr": r.esr, "iterations": r.iterations,
                                  "converged": r.converged, "model": r.model}
                      for peak, r in sorted(by_peak.items())}
               for mode, by_peak in self.fits.items()}
        for mode, jr in self.joint.items():
            for peak, row in out[mode].items():
                row.update(jr.curves.params(float(peak)), esr=jr.esr[int(peak)], source="joint")
        for mode, by_peak in self.residual.get("settings", {}).items():
            for peak, e in by_peak.items():
                if peak in out.get(mode, {}):
                    out[mode][peak]["esr_with_residual"] = e["esr"]
        return out


def select_pairs(manifest: Manifest, unit: str, modes, peaks, report: list) -> dict:
    """(mode, peak) -> PairEntry, choosing one pair per setting (Train, Val, Test, then id)."""
    chosen: dict = {}
    for p in manifest.select(unit, modes, peaks):
        key = (p.mode, p.peak)
        if key in chosen:
            report.append({"mode": p.mode, "peak": p.peak, "file": p.target,
                           "reason": f"duplicate setting: {chosen[key].target} is used instead"})
            continue
        chosen[key] = p
    return chosen


def gather_chains(dist, out: Path, result: SweepResult, modes, chosen) -> SweepResult:
    """Mark this worker done; rank 0 waits for every worker's marker and collects all fits."""
    marker = out / f".done-rank{dist.rank}.json"
    write_json(marker, {"failed": result.failed, "skipped": result.skipped, "resumed": result.resumed})
    if not dist.is_main:
        return result
    markers = [out / f".done-rank{r}.json" for r in range(dist.world)]
    while not all(m.exists() for m in markers):  # torchrun ends the group if a worker dies
        time.sleep(0.2)
    merged = SweepResult(str(out))
    for m in markers:
        info = json.loads(m.read_text())
        if m != marker:
            merged.failed += info["failed"]
            merged.resumed += info["resumed"]
        m.unlink()
    merged.failed += result.failed
    merged.skipped, merged.resumed = result.skipped, merged.resumed + result.resumed
    for mode in modes:
        merged.fits[mode] = {}
        for (m, peak) in chosen:
            if m == mode and fit_path(out, mode, peak).exists():
                merged.fits[mode][peak] = FitResult.load(fit_path(out, mode, peak))
    return merged


def joint_stage(out: Path, manifest, chosen: dict, result: SweepResult, spec, degree: int, frame_seconds,
                 overlap_seconds, options, on_event) -> dict:
    """Joint knob curves per mode from its per-setting fits; writes joint.json."""
    from .joint import joint_fit

    joint = {}
    for mode, fits in result.fits.items():
        if len(fits) < degree + 1:
            result.failed.append({"mode": mode, "peak": None, "target": None,
                                  "error": f"joint fit skipped: only {len(fits)} settings fitted, degree {degree} "
                                           f"needs {degree + 1}"})
            continue
        paths = {p: (manifest.abspath(chosen[(mode, p)].input), manifest.abspath(chosen[(mode, p)].target))
                 for p in sorted(fits)}
        settings, rate = settings_frames(paths, frame_seconds, overlap_seconds, mode)
        if on_event:
            on_event("joint", {"mode": mode, "settings": len(settings), "total": len(chosen)})
        joint[mode] = joint_fit(settings, spec.name, rate, {p: r.all_params for p, r in fits.items()},
                                degree=degree, options=options)
        del settings
    write_json(out / "joint.json", {"schema": 1, "model": spec.name, "degree": degree,
                                     "modes": {m: jr.to_dict() for m, jr in joint.items()}})
    return joint


def residual_stage(out: Path, manifest, chosen: dict, result: SweepResult, spec, frame_seconds, overlap_seconds,
                    epochs: int, seconds, on_event) -> dict:
    """One GRU residual for the whole sweep, on the mapping's DSP output; writes residual.json."""
    import torch

    from .audio import prepare_pair
    from .model.models import get_model
    from .model.residual import HIDDEN, apply_residual
    from .residual_training import train_residual
    from .objective.metrics import esr

    model = get_model(spec)
    mapping = result.mapping()
    outputs, targets, keys, rates = [], [], [], set()
    for mode, by_peak in mapping.items():
        for peak, row in by_peak.items():
            entry = chosen[(mode, int(peak))]
            pair = prepare_pair(manifest.abspath(entry.input), manifest.abspath(entry.target), trim=True)
            rates.add(pair.sample_rate)
            theta = model.physical_to_theta({k: row[k] for k in model.param_names}, pair.sample_rate)
            n = pair.x.shape[-1] if seconds is None else min(pair.x.shape[-1], int(seconds * pair.sample_rate))
            with torch.no_grad():
                y_dsp = model.render(pair.x.double(), theta, pair.sample_rate)
            outputs.append(y_dsp[..., :n])
            targets.append(pair.y.double()[..., :n])
            keys.append((mode, peak, pair, theta))
    if len(rates) > 1:
        raise InputError(f"the sweep's pairs have different sample rates {sorted(rates)}; one residual needs one")
    sr = rates.pop()
    if on_event:
        on_event("residual", {"settings": len(keys), "total": len(chosen)})
    weights, info = train_residual(outputs, targets, sr, epochs=epochs)
    settings = {}
    for mode, peak, pair, theta in keys:  # each setting's ESR with the residual: whole pair from sample 0, from rest
        with torch.no_grad():
            y_dsp = model.render(pair.x.double(), theta, sr)
        target = pair.y.double()
        settings.setdefault(mode, {})[peak] = {"esr_dsp": float(esr(y_dsp, target).mean()),
                                               "esr": float(esr(apply_residual(y_dsp, weights), target).mean())}
    residual = {"type": "gru", "hidden": HIDDEN, "weights": weights, "esr_dsp": info["esr_dsp"], "esr": info["esr"],
                "epochs": info["epochs"], "history": info["history"], "sample_rate": sr, "settings": settings,
                "trained_on": "joint curves" if result.joint else "per-setting fits"}
    write_json(out / "residual.json", residual)
    return residual


def check_joint(chosen: dict, modes, joint_degree) -> int:
    """The joint fit's degree (default 3); InputError when a mode has too few settings for it."""
    from .joint import DEFAULT_DEGREE

    joint_degree = DEFAULT_DEGREE if joint_degree is None else int(joint_degree)
    for mode in modes:
        n = len([1 for (m, _) in chosen if m == mode])
        if n < joint_degree + 1:
            raise InputError(f"a joint sweep of degree {joint_degree} needs at least {joint_degree + 1} settings "
                             f"per mode; {mode} has {n} ({', '.join(str(p) for (m, p) in sorted(chosen) if m == mode) or 'none'}): "
                             f"add peaks or lower {{joint_degree}}", {"joint_degree": max(n - 1, 0)})
    return joint_degree


def selection_stage(out: Path, manifest, unit, modes, peaks, hessian, device, dtype, frame_seconds, overlap_seconds,
                     max_iter, options, on_event):
    """(selection record, chosen ModelSpec) of a ``--model auto`` sweep: an earlier run's ``selection.json``
    when there is one, else :func:`dspnewton.selection.select_for_sweep` on a few settings."""
    import torch

    from .model.greybox_spec import parse_model
    from .selection import select_for_sweep, selection_settings

    path = out / "selection.json"
    if path.exists():
        try:
            sel = json.loads(path.read_text())
            return sel, parse_model(sel["chosen"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"'{path}' is not a valid model selection ({exc}); delete it to select again") from None
    chosen = select_pairs(manifest, unit, modes, peaks, [])
    if not chosen:
        raise InputError(f"no {unit or ''} input/target pairs for modes {list(modes)} to select a model on in "
                         f"'{manifest.root}'")
    keys = selection_settings(list(chosen))
    pairs = {k: (manifest.abspath(chosen[k].input), manifest.abspath(chosen[k].target)) for k in keys}
    fit_kw = dict(hessian=hessian, device=device, dtype=dtype or torch.float64, max_iter=max_iter,
                  frame_seconds=frame_seconds, overlap_seconds=overlap_seconds, options=options)
    sel = select_for_sweep(pairs, fit_kw=fit_kw, on_event=on_event)
    return sel, parse_model(sel["chosen"])
