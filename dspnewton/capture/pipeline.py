"""From a folder of recordings of the capture signal to a sweep, a report and a bundle.

``capture_fit(FOLDER, "unit.bundle")``:

1. reads ``capture.json``/``capture.wav`` (the folder's own, or ``signal=``) and every
   recording named ``<mode>_<peak>.wav`` (``recordings.json`` may name others);
2. checks and aligns each (:func:`~dspnewton.capture.checks.check_recording`); one refused
   recording refuses the whole run before anything is written, naming what to re-record;
3. writes the aligned training parts (everything before the validation segment) and a
   manifest under the work folder (``<bundle stem>_capture/`` beside the bundle) and runs
   :func:`dspnewton.sweep.sweep` on them (resumable: a rerun skips finished fits);
4. scores every setting on the validation segment, which no fit used: the model rendered from
   rest over the whole capture signal, as the unit heard it, scored on the validation part;
5. writes ``report.md`` with figures (:mod:`dspnewton.capture.report`) and the bundle.

A setting missing from the grid is not refused: the sweep fits what is there and the plug-in
interpolates between recorded settings (the report lists what is missing).  A setting recorded
twice is refused: which take is right cannot be known.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..audio import InputError, read_audio, sha256_file, write_audio
from ..modes import MODES, switch_of
from ..objective.frame_lengths import FRAME_SECONDS, OVERLAP_SECONDS
from ..sweep_folder import write_json
from .checks import CaptureCheck, check_recording
from .stimulus import SETTINGS_GRID, CaptureSignal, load_signal, parse_recording_name

__all__ = ["CaptureFitResult", "find_recordings", "check_file", "capture_fit", "validation_scores", "UNIT"]

UNIT = "capture"  # the manifest's unit name for captured pairs
MANIFEST = "recordings.json"


@dataclass
class CaptureFitResult:
    """What :func:`capture_fit` made: ``bundle`` and ``work`` paths, the per-recording ``checks``
    (JSON form), the ``scores`` per setting (``"mode/peak"`` -> validation ESR, ...), the model,
    ``missing`` settings of the grid and the sweep's result."""

    bundle: str
    work: str
    model: str
    checks: dict = field(default_factory=dict)
    scores: dict = field(default_factory=dict)
    missing: list = field(default_factory=list)
    report: str = ""
    sweep: object = None
    seconds: float = 0.0


def find_recordings(folder) -> tuple[dict, list]:
    """``{(mode, peak): path}`` of the recordings in ``folder`` and notes on files left out.

    Names follow ``<mode>_<peak>.wav``; ``recordings.json`` (``{"file.wav": {"mode", "peak"}}``)
    names others and overrides the names.  Raises InputError for a setting recorded twice.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"recordings folder '{folder}' does not exist or is not a folder")
    overrides: dict = {}
    mpath = folder / MANIFEST
    if mpath.exists():
        try:
            raw = json.loads(mpath.read_text())
            for name, e in raw.items():
                mode, peak = e["mode"], int(e["peak"])
                if mode not in MODES or not 0 <= peak <= 100:
                    raise ValueError(f"{name}: mode must be compress or limit and peak 0..100")
                overrides[name] = (mode, peak)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"'{mpath}' is not a recordings list ({exc}); write it as "
                             f"{{\"take.wav\": {{\"mode\": \"compress\", \"peak\": 70}}}}") from None
    found: dict = {}
    notes: list = []
    for f in sorted(folder.iterdir()):
        if not f.is_file() or f.suffix.lower() != ".wav" or f.name == "capture.wav":
            continue
        key = overrides.get(f.name) or parse_recording_name(f.name)
        if key is None:
            notes.append(f"'{f.name}' left out: its name is not <mode>_<peak>.wav and {MANIFEST} does not list it")
            continue
        if key in found:
            raise InputError(f"{key[0]} at peak {key[1]} is recorded twice ('{found[key].name}' and '{f.name}'); "
                             f"which take is right cannot be known: keep one in '{folder}' (move the other away)")
        found[key] = f
    missing = [n for n in overrides if not (folder / n).is_file()]
    if missing:
        raise InputError(f"'{mpath}' lists {missing} but they are not in '{folder}'")
    return found, notes


def check_file(path, sig: CaptureSignal) -> CaptureCheck:
    """Read one recording and check it against ``sig`` (an unreadable file is refused in the result)."""
    try:
        af = read_audio(path, "recording")
    except InputError as exc:
        res = CaptureCheck(str(path))
        res.problems.append(str(exc))
        return res
    return check_recording(af.data, af.sample_rate, sig, str(path))


def _write_pairs(work: Path, sig: CaptureSignal, checks: dict) -> Path:
    """The aligned training parts as float WAVs and a manifest (``work/aligned/``); returns its path."""
    from ..data.signaltrain import Manifest, PairEntry

    folder = work / "aligned"
    folder.mkdir(parents=True, exist_ok=True)
    end = sig.training_end
    sr = sig.sample_rate
    write_audio(folder / "input.wav", sig.audio[:end], sr, subtype="FLOAT")
    man = Manifest(str(folder.resolve()), created=time.strftime("%Y-%m-%dT%H:%M:%S"))
    for i, ((mode, peak), c) in enumerate(sorted(checks.items())):
        name = f"{mode}_{peak:03d}.wav"
        write_audio(folder / name, c.aligned[:end], sr, subtype="FLOAT")
        man.pairs.append(PairEntry(i, "Train", "input.wav", name, UNIT, mode, switch_of(mode), peak,
                                   sr, end, end, sr, "FLOAT", end / sr))
    man.save(folder / "manifest.json")
    return folder / "manifest.json"


def validation_scores(sig: CaptureSignal, aligned: np.ndarray, pred: np.ndarray) -> dict:
    """Scores of a prediction of the whole capture (rendered from rest at sample 0) against the aligned
    recording: ``esr_validation`` (pre-emphasised, on the validation segment only), ``esr_validation_first_second``,
    ``delta_ldr_db_validation`` and ``esr_training`` (everything before the validation segment)."""
    import torch

    from ..objective.metrics import delta_ldr, segment_esrs

    p, y = torch.from_numpy(pred), torch.from_numpy(aligned)
    a, b = sig.segments["validation"]
    sr = sig.sample_rate
    val, first, train = segment_esrs(p, y, [(a, b), (a, min(b, a + sr)), (0, a)])
    return {"esr_validation": val, "esr_validation_first_second": first, "esr_training": train,
            "delta_ldr_db_validation": float(delta_ldr(p[a:b], y[a:b], sr))}


def _check_work(work: Path, recordings: dict) -> dict:
    """The recordings' checksums; refuse when a recording changed since the work folder's fits."""
    sums = {f"{m}/{p}": sha256_file(path) for (m, p), path in recordings.items()}
    old_path = work / "checks.json"
    if old_path.exists():
        try:
            old = json.loads(old_path.read_text())
        except (OSError, ValueError):
            old = {}
        changed = sorted(k for k, v in sums.items() if k in old and old[k].get("sha256") not in (None, v))
        if changed:
            raise InputError(f"recordings {changed} changed since the fits in '{work}' were made; delete '{work}' "
                             f"(or pass another --work folder) to fit them again")
    return sums


def capture_fit(folder, out, *, signal=None, work=None, model: str = "ff5", joint: bool = False,
                joint_degree: int | None = None, plugin: bool = False, force: bool = False, max_iter: int = 100,
                hessian: str = "auto", frame_seconds: float | None = FRAME_SECONDS,
                overlap_seconds: float = OVERLAP_SECONDS,
                options=None, gru_epochs: int = 50, residual_seconds: float | None = None, restart: bool = True,
                on_event: Callable[[str, dict], None] | None = None) -> CaptureFitResult:
    """Check, align and fit every recording in ``folder``; write the work folder, the report and the bundle.

    Args:
        folder: the recordings (``<mode>_<peak>.wav``; ``recordings.json`` may name others).
        out: the bundle to write (``NAME.bundle``).
        signal: the capture folder holding ``capture.json`` (default ``folder``).
        work: the sweep/report folder (default ``<out stem>_capture`` beside ``out``); resumable.
        model, joint, joint_degree, max_iter, hessian, frame_seconds, overlap_seconds, options, gru_epochs,
            residual_seconds: as
            :func:`dspnewton.sweep.sweep` (``model="auto"`` selects by held-out ESR; ``"X+gru"`` trains the
            GRU residual on the training parts only (all of each, by default), so the validation
            scores stay held out).
        restart: fit every warm-started setting from the published start too and keep the better fit
            (:func:`dspnewton.sweep.sweep`; on by default here: a capture is fitted once, fidelity first).
        plugin: also build the plug-ins into the bundle. force: replace an existing bundle.
        on_event: called with ("check", {"setting", "check"}) per recording, then the sweep's events,
            then ("scored", {"setting", ...scores}).

    Returns:
        :class:`CaptureFitResult`.
    """
    import torch

    from ..evaluate import predict
    from ..export import export_bundle
    from ..model.models import get_model
    from ..sweep import sweep
    from ..sweep_folder import load_residual
    from .report import write_report

    t0 = time.perf_counter()
    folder, out = Path(folder), Path(out)
    if out.exists() and not force:
        raise InputError(f"'{out}' already exists; pass {{force}} to replace it", {"force": True})
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"the folder of '{out}' does not exist")
    recordings, notes = find_recordings(folder)  # first: a missing folder is named as such, not as a missing signal
    sig = load_signal(folder if signal is None else signal)
    if not recordings:
        raise InputError(f"'{folder}' holds no recordings named <mode>_<peak>.wav (e.g. compress_070.wav); see "
                         f"RECORDING.md in the capture folder" + (f" ({'; '.join(notes)})" if notes else ""))
    work = Path(work) if work is not None else parent / f"{out.name.removesuffix('.bundle')}_capture"
    sums = _check_work(work, recordings)
    checks: dict = {}
    refused = []
    for key, path in sorted(recordings.items()):
        c = check_file(path, sig)
        checks[key] = c
        if on_event:
            on_event("check", {"setting": f"{key[0]}/{key[1]}", "check": c.to_json()})
        if not c.ok:
            refused.append(c.refusal())
    if refused:
        raise InputError(" | ".join(refused) + " -- nothing was written; re-record these takes (or move them out "
                         "of the folder to fit the others)")
    work.mkdir(parents=True, exist_ok=True)
    write_json(work / "checks.json", {f"{m}/{p}": {**c.to_json(), "sha256": sums[f"{m}/{p}"]}
                                       for (m, p), c in checks.items()})
    manifest = _write_pairs(work, sig, checks)
    modes = [m for m in MODES if any(k[0] == m for k in checks)]
    peaks = sorted({p for _, p in checks})
    sres = sweep(manifest, work, modes=modes, peaks=peaks, unit=UNIT, hessian=hessian, max_iter=max_iter,
                 frame_seconds=frame_seconds, overlap_seconds=overlap_seconds, on_event=on_event, model=model,
                 options=options, joint=joint, joint_degree=joint_degree, gru_epochs=gru_epochs,
                 residual_seconds=residual_seconds, restart=restart)
    cfg = json.loads((work / "sweep.json").read_text())
    mapping = json.loads((work / "mapping.json").read_text())
    residual = load_residual(work)
    mdl = get_model(cfg["model"])
    renders: dict = {}
    scores: dict = {}
    for (mode, peak), c in sorted(checks.items()):
        row = mapping.get(mode, {}).get(str(peak))
        key = f"{mode}/{peak}"
        if row is None:
            scores[key] = {"failed": True}
            continue
        params = {n: row[n] for n in mdl.param_names}
        pred = predict(mdl, params, torch.from_numpy(sig.audio)[None], sig.sample_rate,
                       residual["weights"] if residual else None)[0].numpy()
        renders[(mode, peak)] = pred
        scores[key] = {**validation_scores(sig, c.aligned, pred), "esr_fit": row["esr"]}
        if on_event:
            on_event("scored", {"setting": key, **scores[key]})
    result = CaptureFitResult(str(out), str(work), mdl.name + ("+gru" if residual else ""),
                              {f"{m}/{p}": c.to_json() for (m, p), c in checks.items()}, scores,
                              [f"{m}/{p}" for m, p in SETTINGS_GRID if (m, p) not in checks], sweep=sres)
    write_json(work / "validation.json", {"scores": scores, "missing": result.missing, "notes": notes,
                                           "signal": {"sample_rate": sig.sample_rate, "minutes": sig.minutes,
                                                      "checksum": sig.checksum}})
    result.report = str(write_report(work, sig, checks, renders, scores, cfg, notes, result.missing))
    export_bundle(work, out, force=force, plugin=plugin)
    result.seconds = time.perf_counter() - t0
    return result
