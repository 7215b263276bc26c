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
          gru_epochs: int = 50, residual_seconds: float | None = 60.0, restart: bool = False,
          jobs: int | None = None) -> SweepResult:
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
    if dist is not None and jobs not in (None, 1):
        raise InputError("jobs runs the chains in processes on this machine and --distributed spreads them over "
                         "torchrun workers: use one of them")
    n_jobs = 1 if dist is not None else chain_jobs(jobs, len(modes))
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
    fit_kw = dict(hessian=hessian, device=device, dtype=dtype or torch.float64, max_iter=max_iter,
                  frame_seconds=frame_seconds, overlap_seconds=overlap_seconds, trim=True, model=spec,
                  options=options)
    chains = {mode: [(peak, manifest.abspath(e.input), manifest.abspath(e.target), e.input, e.target)
                     for peak, e in sorted(((p, e) for (m, p), e in chosen.items() if m == mode), reverse=True)]
              for mode in my_modes}
    if n_jobs > 1:
        outcome = _parallel_chains(chains, out, fit_kw, restart, on_event, total, n_jobs)
    else:
        done, outcome = 0, {}
        for mode, entries in chains.items():
            outcome[mode] = run_chain(mode, entries, out, fit_kw, restart, on_event, done, total)
            done += len(entries)
    for mode in my_modes:
        result.fits[mode], failed, resumed = outcome[mode]
        result.failed += failed
        result.resumed += resumed
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


CORES_PER_CHAIN = 4  # jobs=None runs chains in parallel only when each gets at least this many cores


def chain_jobs(jobs: int | None, chains: int) -> int:
    """How many processes run ``chains`` independent chains: ``jobs`` (at most one per chain), or with None
    one per chain when every chain gets :data:`CORES_PER_CHAIN` cores (else 1)."""
    if jobs is not None:
        if jobs < 1:
            raise InputError(f"jobs must be at least 1, got {jobs}")
        return max(1, min(jobs, chains))
    return max(1, min(chains, _cores() // CORES_PER_CHAIN))


def _cores() -> int:
    """The cores this process may run on."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def run_chain(mode: str, entries: list, out: Path, fit_kw: dict, restart: bool, on_event, done: int,
              total: int) -> tuple[dict, list, list]:
    """Fit one mode's settings in order (peak 100 down), each warm-started from the previous fit; resumes from
    fit.json files already written.  ``entries``: (peak, input path, target path, input name, target name).
    Returns (peak -> FitResult of the chain's fits, written or resumed; failed records; resumed records)."""
    from .fitting import fit

    fits, failed, resumed = {}, [], []
    previous: FitResult | None = None
    for peak, inp, tgt, in_name, tgt_name in entries:
        path = fit_path(out, mode, peak)
        info = {"mode": mode, "peak": peak, "index": done, "total": total, "target": tgt_name}
        done += 1
        if path.exists():
            try:
                r = previous = fits[peak] = FitResult.load(path)
                resumed.append(f"{mode}/{peak}")
                if on_event:
                    on_event("resumed", {**info, "esr": r.esr})
                continue
            except InputError:
                pass  # a damaged file: fit again
        if on_event:
            on_event("start", info)
        try:
            kw = dict(fit_kw, callback=(lambda e, i=info: on_event("iteration", {**i, **e})) if on_event else None)
            r = fit(inp, tgt, init=previous, **kw)
            start = None if previous is None else f"{mode}/{previous.extra.get('peak')}"
            if restart and previous is not None:  # the published start too; keep the lower loss
                other = fit(inp, tgt, init=None, **kw)
                restarted = {"warm_start_esr": r.esr, "published_start_esr": other.esr}
                if other.loss < r.loss:
                    r, start = other, None
                r.extra["restart"] = {**restarted, "kept": "warm start" if start else "published start"}
        except (InputError, ValueError) as exc:
            failed.append({"mode": mode, "peak": peak, "target": tgt_name, "error": str(exc)})
            if on_event:
                on_event("failed", {**info, "error": str(exc)})
            continue
        r.extra.update({"mode": mode, "peak": peak, "input": in_name, "target": tgt_name, "warm_start": start})
        r.extra.setdefault("peak", peak)
        path.parent.mkdir(parents=True, exist_ok=True)
        r.save(path)
        previous = fits[peak] = r
        if on_event:
            on_event("done", {**info, "esr": r.esr, "iterations": r.iterations, "seconds": r.seconds})
    return fits, failed, resumed


def _chain_process(mode, entries, out, fit_kw, restart, events, done, total, threads):  # pragma: no cover - child
    """One chain in a child process with ``threads`` cores; its progress events (not the iterations) go to
    ``events``."""
    import numba
    import torch

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    torch.set_num_threads(max(1, threads))

    def report(kind, info):
        if kind != "iteration":
            events.put((kind, {k: v for k, v in info.items() if k in ("mode", "peak", "index", "total", "target",
                                                                      "esr", "iterations", "seconds", "error")}))
    return run_chain(mode, entries, out, fit_kw, restart, report, done, total)


def _parallel_chains(chains: dict, out: Path, fit_kw: dict, restart: bool, on_event, total: int, jobs: int):
    """Every chain in its own process (``jobs`` at a time, the cores shared out); progress events are passed
    on to ``on_event`` from this process.  A chain whose process dies fails its remaining settings clearly."""
    import multiprocessing as mp
    import threading
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("spawn")
    threads = max(1, _cores() // jobs)
    manager = ctx.Manager()
    events = manager.Queue()

    def forward():
        while True:
            item = events.get()
            if item is None:
                return
            if on_event:
                on_event(*item)

    pump = threading.Thread(target=forward, daemon=True)
    pump.start()
    outcome, done = {}, 0
    try:
        with ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
            futures = {}
            for mode, entries in chains.items():
                futures[mode] = pool.submit(_chain_process, mode, entries, out, fit_kw, restart, events, done,
                                            total, threads)
                done += len(entries)
            for mode, fut in futures.items():
                try:
                    outcome[mode] = fut.result()
                except BrokenProcessPool as exc:
                    missing = [e for e in chains[mode] if not fit_path(out, mode, e[0]).exists()]
                    done_fits = {e[0]: FitResult.load(fit_path(out, mode, e[0])) for e in chains[mode]
                                 if fit_path(out, mode, e[0]).exists()}
                    outcome[mode] = (done_fits, [{"mode": mode, "peak": e[0], "target": e[4],
                                       "error": f"the process fitting the {mode} chain died ({exc}); rerun the "
                                                "sweep to resume, or pass jobs=1"} for e in missing], [])
    finally:
        events.put(None)
        pump.join()
        manager.shutdown()
    return outcome

