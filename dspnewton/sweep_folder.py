"""The layout of a sweep folder, its readers and writers: where fits, the mapping, joint curves
and the GRU residual live.  Evaluation, plots, export and capture read a sweep through this
module without importing the runner (:mod:`dspnewton.sweep`).

``OUTDIR/sweep.json`` (configuration), ``fits/<mode>/peak_<ppp>/fit.json``, ``mapping.json`` /
``mapping.csv``, ``joint.json`` (``--joint``), ``residual.json`` (``+gru``), ``selection.json``
(``--model auto``), ``sweep_report.json``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .audio import atomic_write_bytes
from .errors import InputError
from .model.params import PARAM_NAMES

__all__ = ["fit_path", "write_json", "write_mapping", "settings_frames", "load_residual", "load_joint"]


def fit_path(out_dir, mode: str, peak: int) -> Path:
    return Path(out_dir) / "fits" / mode / f"peak_{peak:03d}" / "fit.json"


def write_json(path: Path, obj) -> None:
    text = json.dumps(obj, indent=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, lambda tmp: Path(tmp).write_text(text))


def write_mapping(out: Path, mapping: dict, names=PARAM_NAMES) -> None:
    write_json(out / "mapping.json", mapping)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["mode", "peak", *names, "esr", "iterations", "converged"])
    for mode, by_peak in mapping.items():
        for peak, row in sorted(by_peak.items(), key=lambda kv: int(kv[0])):
            w.writerow([mode, peak, *(f"{row[n]:.10g}" for n in names), f"{row['esr']:.8g}",
                        row["iterations"], row["converged"]])
    atomic_write_bytes(out / "mapping.csv", lambda tmp: Path(tmp).write_text(buf.getvalue()))


def settings_frames(pairs: dict, frame_seconds, overlap_seconds, what: str) -> tuple[dict, int]:
    """key -> Frames of each (input path, target path) in ``pairs``, and their one sample rate;
    InputError naming ``what`` when the rates differ."""
    from .audio import prepare_pair
    from .objective.framing import make_frames

    frames, rates = {}, set()
    for key, (inp, tgt) in pairs.items():
        pair = prepare_pair(inp, tgt, trim=True)
        rates.add(pair.sample_rate)
        frames[key] = make_frames(pair.x, pair.y, pair.sample_rate, frame_seconds, overlap_seconds, "carried")
    if len(rates) > 1:
        raise InputError(f"the {what} pairs have different sample rates {sorted(rates)}; a joint fit needs one")
    return frames, rates.pop()


def _read_optional(path: Path, parse, what: str, fix: str):
    """``parse(json of path, path)``, or ``{}`` when ``path`` does not exist; an InputError naming the
    file, ``what`` it should be and how to ``fix`` it when it cannot be read or parsed."""
    if not path.exists():
        return {}
    try:
        return parse(json.loads(path.read_text()), path)
    except (ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"'{path}' is not a valid {what} ({exc}); {fix}") from None


def load_residual(sweep_dir) -> dict:
    """The GRU residual of a '+gru' sweep (residual.json; {} when it has none)."""
    from .model.residual import check_weights

    def parse(d, path):
        if d.get("type") != "gru":
            raise ValueError("not a GRU residual")
        d["weights"] = check_weights(d["weights"], f"'{path}'")
        return d

    return _read_optional(Path(sweep_dir) / "residual.json", parse, "residual", "rerun the sweep with a '+gru' model")


def load_joint(sweep_dir) -> dict:
    """mode -> :class:`dspnewton.joint.KnobCurves` of a joint sweep ({} when it has none)."""
    from .joint import KnobCurves

    def parse(d, path):
        return {m: KnobCurves.from_dict(j["curves"], f"'{path}' ({m})") for m, j in d["modes"].items()}

    return _read_optional(Path(sweep_dir) / "joint.json", parse, "joint fit", "rerun the sweep with --joint")
