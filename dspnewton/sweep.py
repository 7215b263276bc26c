"""Warm-started sweeps over the peak-reduction settings of a SignalTrain-layout dataset.

Each mode is a chain 100 -> 95 -> ... -> 40: the first fit starts from the
published initialisation, every later one from the previous fit (as published).
Each fit is written atomically as soon as it completes
(``OUTDIR/fits/<mode>/peak_<ppp>/fit.json``); rerunning the same command
resumes, skipping completed fits, so a killed run loses nothing that had
completed.  A pair that cannot be read or fitted is reported and skipped; the
chain continues from the last good fit.  At the end ``mapping.json`` (mode ->
peak -> parameters and ESR) and ``mapping.csv`` are written.

With ``joint=True`` every parameter of each mode is then fitted as one smooth curve
in the knob over all the mode's settings at once (:mod:`dspnewton.joint`, warm-started
from the per-setting fits, which stay in ``fits/``); ``joint.json`` holds the curves
and ``mapping.json`` the values the curves give at each setting (``"source": "joint"``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from .audio import InputError
from .data.signaltrain import Manifest, build_manifest, load_manifest
from .modes import MODES
from .objective.frame_lengths import FRAME_SECONDS, OVERLAP_SECONDS
from .result import FitResult
from .sweep_folder import fit_path, load_joint, load_residual, write_json as _write_json
from .sweep_folder import write_mapping as _write_mapping
from .sweep_stages import (SweepResult, check_joint, gather_chains, joint_stage, residual_stage, select_pairs,
                           selection_stage)

__all__ = ["SweepResult", "sweep", "load_sources", "load_joint", "load_residual", "parse_peaks", "fit_path"]

SWEEP_SCHEMA = 1


def parse_peaks(spec: str) -> list[int]:
    """``"40:100:5"`` (start:stop:step, inclusive) or ``"40,70,100"`` -> sorted peaks."""
    try:
        if ":" in spec:
            parts = [int(p) for p in spec.split(":")]
            start, stop = parts[0], parts[1]
            step = parts[2] if len(parts) > 2 else 5
            if step <= 0 or start > stop:
                raise ValueError
            peaks = list(range(start, stop + 1, step))
        else:
            peaks = sorted({int(p) for p in spec.split(",") if p.strip()})
    except ValueError:
        raise InputError(f"peaks must look like 40:100:5 or 40,70,100; got {spec!r}") from None
    if not peaks or any(p < 0 or p > 100 for p in peaks):
        raise InputError(f"peaks must lie in 0..100; got {spec!r}")
    return peaks


def load_sources(source) -> Manifest:
    """A manifest from a dataset folder (indexed now) or a manifest JSON."""
    p = Path(source)
    if p.is_dir():
        return build_manifest(p)
    if p.is_file():
        return load_manifest(p)
    raise InputError(f"'{p}' is neither a dataset folder nor a manifest file")


def sweep(source, out_dir, *, modes=MODES, peaks=None, unit: str = "3c", hessian: str = "auto",
          device=None, dtype=None, frame_seconds: float | None = FRAME_SECONDS,
          overlap_seconds: float = OVERLAP_SECONDS,
          max_iter: int = 100, on_event: Callable[[str, dict], None] | None = None, dist=None,
          model: str = "ff5", options=None, joint: bool = False, joint_degree: int | None = None,
          gru_epochs: int = 50, residual_seconds: float | None = 60.0, restart: bool = False) -> SweepResult:
    """Fit every (mode, peak) of a dataset as warm-started chains from peak 100 down.

    Args:
        source: dataset folder or manifest JSON.
        out_dir: output folder (created); rerunning resumes.
        modes: subset of ``compress``, ``limit``.
        peaks: peak settings (default 40..100 step 5).
        unit: SignalTrain unit (``3c`` as published, or ``2c``; None for any).
        hessian, device, dtype, frame_seconds, overlap_seconds, max_iter: as :func:`dspnewton.fit`.
        on_event: called with ("start" | "iteration" | "done" | "resumed" | "failed", info).
        dist: a :class:`dspnewton.distributed.DistContext`: the independent chains (modes)
            are spread over the workers; rank 0 waits for the others and writes the mapping.
        model: the model to fit (``dspnewton models``); a sweep folder holds one model.  ``auto``:
            select it first by validation on a few settings (per mode the lowest, a middle and
            the highest peak; :func:`dspnewton.selection.select_for_sweep`), recorded in
            ``selection.json`` (a rerun reuses it).
        options: :class:`dspnewton.optim.newton.NewtonOptions` for every fit (stopping rules).
        joint: then fit each mode's parameters jointly as curves in the knob (``joint.json``).
        joint_degree: the curves' polynomial degree (default 3: 4 coefficients per parameter);
            each mode needs at least ``joint_degree + 1`` settings.
        gru_epochs, residual_seconds: with ``model="X+gru"``, one GRU residual is then trained
            for the whole sweep (every mode and setting, as published: it has no knob input) on
            the DSP output the mapping gives (the joint curves' with ``joint``), using the first
            ``residual_seconds`` of each pair (None: all); ``residual.json``.
        restart: also fit every warm-started setting from the published start and keep the fit with the
            lower loss (twice the fits; a chain can carry a neighbour's local optimum into a setting where
            the published start finds a better one).  ``fit.json`` records both ESRs (``extra.restart``).

    Returns:
        :class:`SweepResult`.
    """
    import torch

    from .fitting import fit

    from .model.greybox_spec import parse_model

    t0 = time.perf_counter()
    from .model.names import parse_model_choice

    choice = parse_model_choice(model)  # parsed once here; the spec is passed on
    auto, with_residual = choice.auto, choice.residual
    if auto and dist is not None:
        raise InputError("a sweep with --model auto selects its model on one worker and without '+gru'; "
                         "select first, then rerun with the chosen model")
    spec = parse_model("ff5") if auto else choice.spec
    if with_residual and dist is not None:
        raise InputError("a '+gru' sweep trains its residual on one worker; run it without {distributed}",
                         {"distributed": True})
    peaks = list(range(40, 101, 5)) if peaks is None else sorted(set(peaks))
    bad_modes = [m for m in modes if m not in MODES]
    if bad_modes:
        raise InputError(f"unknown mode(s) {bad_modes}; use compress and/or limit")
    manifest = load_sources(source)
    out = Path(out_dir)
    selection = None
    if auto:  # the cheap refusals first: the selection fits candidates on several settings
        if (out / "sweep.json").exists() and not (out / "selection.json").exists():
            raise InputError(f"'{out}' holds a sweep made without --model auto; choose another output folder "
                             f"or rerun it with its own model")
        if joint:
            check_joint(select_pairs(manifest, unit, modes, peaks, []), modes, joint_degree)
        selection, spec = selection_stage(out, manifest, unit, modes, peaks, hessian, device, dtype, frame_seconds,
                                           overlap_seconds, max_iter, options, on_event)
    if (out / "sweep.json").exists():
        try:
            before = json.loads((out / "sweep.json").read_text()).get("model", "ff5")
        except (OSError, ValueError):
            before = spec.name
        if before != spec.name:
            raise InputError(f"'{out}' holds a sweep of model {before!r}, not {spec.name!r}; "
                             f"choose another output folder or rerun with {{model}}", {"model": before})
    result = SweepResult(str(out), selection=selection or {})
    chosen = select_pairs(manifest, unit, modes, peaks, result.skipped)
    if not chosen:
        raise InputError(
            f"no {unit or ''} input/target pairs for modes {list(modes)} and peaks {peaks[0]}..{peaks[-1]} in "
            f"'{manifest.root}' ({len(manifest.pairs)} pairs in all, {len(manifest.unknown)} unknown files, "
            f"{len(manifest.problems)} unreadable); check the folder or build an index with 'dspnewton index'")
    if joint:
        joint_degree = check_joint(chosen, modes, joint_degree)
    out.mkdir(parents=True, exist_ok=True)  # after every check: a refused sweep writes nothing
    if selection is not None:
        _write_json(out / "selection.json", selection)
    config = {"schema": SWEEP_SCHEMA, "model": spec.name, "dataset_root": manifest.root, "unit": unit, "modes": list(modes),
              "peaks": peaks, "hessian": hessian, "frame_seconds": frame_seconds, "overlap_seconds": overlap_seconds,
              "max_iter": max_iter, "restart": bool(restart), "joint": bool(joint), "joint_degree": joint_degree if joint else None,
              "residual": "gru" if with_residual else None,
              "selected_by": "validation (selection.json)" if selection is not None else None,
              "pairs": {f"{m}/{p}": {"input": e.input, "target": e.target} for (m, p), e in sorted(chosen.items())},
              "manifest_problems": manifest.problems, "manifest_unpaired": manifest.unpaired}
    my_modes = list(modes) if dist is None else [m for i, m in enumerate(modes) if i % dist.world == dist.rank]
    if dist is None or dist.is_main:
        _write_json(out / "sweep.json", config)
    total = len([k for k in chosen if k[0] in my_modes])
    done = 0
    for mode in my_modes:
        result.fits[mode] = {}
        previous: FitResult | None = None
        for peak in sorted((p for (m, p) in chosen if m == mode), reverse=True):
            entry = chosen[(mode, peak)]
            path = fit_path(out, mode, peak)
            info = {"mode": mode, "peak": peak, "index": done, "total": total, "target": entry.target}
            if path.exists():
                try:
                    r = FitResult.load(path)
                    result.fits[mode][peak] = previous = r
                    result.resumed.append(f"{mode}/{peak}")
                    done += 1
                    if on_event:
                        on_event("resumed", {**info, "esr": r.esr})
                    continue
                except InputError:
                    pass  # a damaged file: fit again
            if on_event:
                on_event("start", info)
            try:
                fit_kw = dict(hessian=hessian, device=device, dtype=dtype or torch.float64, max_iter=max_iter,
                              frame_seconds=frame_seconds, overlap_seconds=overlap_seconds, trim=True, model=spec,
                              options=options,
                              callback=(lambda e, i=info: on_event("iteration", {**i, **e})) if on_event else None)
                pair = (manifest.abspath(entry.input), manifest.abspath(entry.target))
                r = fit(*pair, init=previous, **fit_kw)
                start = None if previous is None else f"{mode}/{previous.extra.get('peak')}"
                if restart and previous is not None:  # the published start too; keep the lower loss
                    other = fit(*pair, init=None, **fit_kw)
                    restarted = {"warm_start_esr": r.esr, "published_start_esr": other.esr}
                    if other.loss < r.loss:
                        r, start = other, None
                    r.extra["restart"] = {**restarted, "kept": "warm start" if start else "published start"}
            except (InputError, ValueError) as exc:
                result.failed.append({"mode": mode, "peak": peak, "target": entry.target, "error": str(exc)})
                done += 1
                if on_event:
                    on_event("failed", {**info, "error": str(exc)})
                continue
            r.extra.update({"mode": mode, "peak": peak, "input": entry.input, "target": entry.target,
                            "warm_start": start})
            r.extra.setdefault("peak", peak)
            path.parent.mkdir(parents=True, exist_ok=True)
            r.save(path)
            result.fits[mode][peak] = previous = r
            done += 1
            if on_event:
                on_event("done", {**info, "esr": r.esr, "iterations": r.iterations, "seconds": r.seconds})
    if dist is not None:
        result = gather_chains(dist, out, result, modes, chosen)
        if not dist.is_main:
            result.seconds = time.perf_counter() - t0
            return result
    if joint:
        result.joint = joint_stage(out, manifest, chosen, result, spec, joint_degree, frame_seconds, overlap_seconds,
                                    options, on_event)
    elif (out / "joint.json").exists():
        (out / "joint.json").unlink()  # an earlier joint sweep's curves no longer match this mapping
    if with_residual:
        result.residual = residual_stage(out, manifest, chosen, result, spec, frame_seconds, overlap_seconds,
                                          gru_epochs, residual_seconds, on_event)
    elif (out / "residual.json").exists():
        (out / "residual.json").unlink()  # trained on another sweep's DSP output
    _write_mapping(out, result.mapping(), spec.param_names)
    result.seconds = time.perf_counter() - t0
    _write_json(out / "sweep_report.json", {"failed": result.failed, "skipped": result.skipped,
                                            "resumed": result.resumed, "seconds": result.seconds})
    return result
