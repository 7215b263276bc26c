"""The capture report: ``report.md`` and PNG figures a person can read.

Per setting: the validation ESR and delta-LDR (audio no fit used), the measured vs fitted
static curve (from the level steps), the measured vs fitted gain-reduction envelope on the
bursts (attack and release), and for every recording the latency, drift, polarity, DC,
noise floor and calibration level found.  ``report.json`` holds the same numbers and, per
figure, its file and axes, so a script can read what a person sees.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import numpy as np

from ..audio import atomic_write_bytes
from ..sweep_folder import write_json
from ..modes import MODES
from .stimulus import STEP_LEVELS_DBFS, CaptureSignal

__all__ = ["static_curve", "gain_envelope", "write_report"]

ENVELOPE_MS = 5.0
ENVELOPE_HOP_MS = 1.0
QUIET_DBFS = -60.0
COLORS = {"compress": "tab:blue", "limit": "tab:red"}


def static_curve(sig: CaptureSignal, y: np.ndarray) -> list:
    """Output level (sine peak dBFS) at the end of each level step (the last 40 % of it), (12,)."""
    a, b = sig.segments["steps"]
    n = (b - a) // len(STEP_LEVELS_DBFS)
    out = []
    for i in range(len(STEP_LEVELS_DBFS)):
        seg = y[a + i * n + int(0.6 * n): a + (i + 1) * n]
        out.append(float(20 * np.log10(max(np.sqrt(np.mean(seg * seg) * 2.0), 1e-12))))
    return out


def gain_envelope(sig: CaptureSignal, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(times s from the bursts' start, gain dB) of output over input on the bursts: 5 ms RMS windows
    every 1 ms, NaN where the input is below -60 dBFS (the gaps)."""
    a, b = sig.segments["bursts"]
    sr = sig.sample_rate
    win, hop = max(1, int(ENVELOPE_MS * sr / 1000)), max(1, int(ENVELOPE_HOP_MS * sr / 1000))
    x, yy = sig.audio[a:b], y[a:b]
    cx = np.concatenate([[0.0], np.cumsum(x * x)])
    cy = np.concatenate([[0.0], np.cumsum(yy * yy)])
    starts = np.arange(0, len(x) - win, hop)
    px = (cx[starts + win] - cx[starts]) / win
    py = (cy[starts + win] - cy[starts]) / win
    gain = 10 * np.log10(np.maximum(py, 1e-24) / np.maximum(px, 1e-24))
    gain[px < 0.5 * 10 ** (QUIET_DBFS / 10)] = np.nan
    return (starts + win / 2) / sr, gain


def _figure_setting(path: Path, sig, mode: str, peak: int, measured: np.ndarray, fitted: np.ndarray, model: str,
                    curve: dict):
    """``curve``: the setting's static curves (``measured_dbfs``, ``fitted_dbfs``), computed once for the report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plots import _save

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1, 2]})
    lv = list(STEP_LEVELS_DBFS)
    ax1.plot(lv, lv, ":", color="0.6", label="unity")
    ax1.plot(lv, curve["measured_dbfs"], "o", color="k", label="unit (measured)")
    ax1.plot(lv, curve["fitted_dbfs"], "-", color=COLORS[mode], label=f"{model} (fitted)")
    ax1.set_xlabel("input level (dBFS)")
    ax1.set_ylabel("output level (dBFS)")
    ax1.set_title("static curve (level steps)")
    ax1.legend(fontsize=8)
    t, gm = gain_envelope(sig, measured)
    _, gf = gain_envelope(sig, fitted)
    ax2.plot(t, gm, color="k", lw=1.0, label="unit (measured)")
    ax2.plot(t, gf, color=COLORS[mode], lw=1.0, alpha=0.85, label=f"{model} (fitted)")
    ax2.set_xlabel("time in the bursts (s)")
    ax2.set_ylabel("gain (dB)")
    ax2.set_title("gain on the bursts (attack and release)")
    ax2.legend(fontsize=8)
    fig.suptitle(f"{mode} at peak reduction {peak}")
    _save(fig, path)
    plt.close(fig)
    return [{"xlabel": ax1.get_xlabel(), "ylabel": ax1.get_ylabel()}, {"xlabel": ax2.get_xlabel(), "ylabel": ax2.get_ylabel()}]


def _figure_summary(path: Path, scores: dict, model: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plots import _save

    fig, ax = plt.subplots(figsize=(6, 3.8))
    for mode in MODES:
        pts = sorted((int(k.split("/")[1]), v["esr_validation"]) for k, v in scores.items()
                     if k.startswith(mode + "/") and v.get("esr_validation") is not None)
        if pts:
            ax.plot([p for p, _ in pts], [100 * e for _, e in pts], "o-", color=COLORS[mode], label=mode)
    ax.set_xlabel("peak reduction")
    ax.set_ylabel("validation ESR (%)")
    ax.set_yscale("log")
    ax.set_title(f"{model}: ESR on the validation part (from rest)")
    ax.legend()
    _save(fig, path)
    plt.close(fig)
    return [{"xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel()}]


def _fmt(v, scale=1.0, digits=4) -> str:
    return "-" if v is None else f"{scale * v:.{digits}g}"


def _model_note(work: Path, cfg: dict) -> str:
    sel_path = work / "selection.json"
    if sel_path.exists():
        sel = json.loads(sel_path.read_text())
        lines = [f"Chosen by `--model auto`: **{sel['chosen']}**. Rule: {sel.get('rule', '')}.", "",
                 "| candidate | mean held-out ESR ratio to ff5 | eligible |", "| --- | --- | --- |"]
        for name in sel.get("candidates", []):
            lines.append(f"| {name} | {_fmt(sel.get('score', {}).get(name))} | "
                         f"{'yes' if sel.get('eligible', {}).get(name) else 'no'} |")
        return "\n".join(lines)
    return f"Model **{cfg['model']}**, given with `--model` (`--model auto` selects one by held-out ESR)."


def write_report(work, sig: CaptureSignal, checks: dict, renders: dict, scores: dict, cfg: dict, notes: list,
                 missing: list) -> Path:
    """Write ``work/report.md``, ``work/report.json`` and ``work/report/*.png``; returns the report's path.

    Args:
        checks: (mode, peak) -> :class:`~dspnewton.capture.checks.CaptureCheck` (aligned recordings).
        renders: (mode, peak) -> (T,) the fitted model's output on the whole capture signal, from rest.
        scores: ``"mode/peak"`` -> :func:`~dspnewton.capture.pipeline.validation_scores` (+ ``esr_fit``).
    """
    work = Path(work)
    figdir = work / "report"
    figdir.mkdir(parents=True, exist_ok=True)
    model = cfg["model"]
    figures: list = []
    curves = {f"{m}/{p}": {"input_dbfs": list(STEP_LEVELS_DBFS), "measured_dbfs": static_curve(sig, checks[(m, p)].aligned),
                           "fitted_dbfs": static_curve(sig, pred)} for (m, p), pred in renders.items()}
    have_plots = importlib.util.find_spec("matplotlib") is not None
    if have_plots:
        figures.append({"file": "report/summary.png", "setting": None,
                        "axes": _figure_summary(figdir / "summary.png", scores, model)})
        for (mode, peak), pred in sorted(renders.items()):
            name = f"report/{mode}_{peak:03d}.png"
            figures.append({"file": name, "setting": f"{mode}/{peak}",
                            "axes": _figure_setting(work / name, sig, mode, peak, checks[(mode, peak)].aligned, pred,
                                                    model, curves[f"{mode}/{peak}"])})
    rec_rows = ["| setting | latency (samples) | latency (ms) | drift (ppm) | polarity | DC | noise floor (dBFS) | "
                "calibration (dBFS) |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for (m, p), c in sorted(checks.items()):
        rec_rows.append(f"| {m} {p} | {c.latency_samples:.2f} | {c.latency_ms:.3f} | {c.drift_ppm:+.2f} | "
                        f"{'+1' if c.polarity > 0 else '-1 (flipped)'} | {c.dc:+.1e} | {_fmt(c.noise_floor_dbfs, digits=3)} | "
                        f"{c.calibration_dbfs:.2f} |")
    score_rows = ["| setting | validation ESR (%) | validation, first second (%) | validation delta-LDR (dB) | "
                  "training ESR from rest (%) | fit ESR (%) |", "| --- | --- | --- | --- | --- | --- |"]
    for key, s in sorted(scores.items(), key=lambda kv: (kv[0].split("/")[0], int(kv[0].split("/")[1]))):
        if s.get("failed"):
            score_rows.append(f"| {key.replace('/', ' ')} | fit failed (see sweep_report.json) | | | | |")
            continue
        score_rows.append(f"| {key.replace('/', ' ')} | {_fmt(s['esr_validation'], 100)} | "
                          f"{_fmt(s['esr_validation_first_second'], 100)} | {s['delta_ldr_db_validation']:+.3f} | "
                          f"{_fmt(s['esr_training'], 100)} | {_fmt(s['esr_fit'], 100)} |")
    messages = [f"- **{m} {p}**: " + "; ".join(c.messages) for (m, p), c in sorted(checks.items())]
    figs = "\n\n".join(f"![{f['setting'] or 'summary'}]({f['file']})" for f in figures) if figures else (
        "No figures: matplotlib is not installed (pip install 'dspnewton[plots]').")
    val = sig.segments["validation"]
    text = f"""# Capture report

Made {time.strftime('%Y-%m-%d %H:%M')} from {len(checks)} recording(s) of the capture signal
({len(sig.audio) / sig.sample_rate:.1f} s at {sig.sample_rate} Hz).

## Model

{_model_note(work, cfg)}

## How close the fit is, on audio it was not fitted on

The model is rendered from rest over the whole capture signal (as the unit heard it, from its first
sample) and scored on the validation segment ({val[0] / sig.sample_rate:.1f} s .. {val[1] / sig.sample_rate:.1f} s),
which no fit used. ESRs are pre-emphasised; delta-LDR > 0 means the model compresses less than the unit.

{chr(10).join(score_rows)}

## Recordings

{chr(10).join(rec_rows)}

{chr(10).join(messages)}

{"Settings of the SignalTrain grid not recorded (the plug-in interpolates between recorded ones): " + ", ".join(missing) if missing else "Every setting of the grid was recorded."}
{(chr(10) + "Files left out: " + "; ".join(notes)) if notes else ""}

## Figures

Static curve: output level at the end of each 1 kHz level step, unit (dots) and model (line).
Gain on the bursts: output over input level in 5 ms windows; the jumps show the attack, the
falls the release and its memory.

{figs}
"""
    path = work / "report.md"
    atomic_write_bytes(path, lambda tmp: Path(tmp).write_text(text))
    summary = {"model": model, "scores": scores, "static_curves": curves, "figures": figures,
               "checks": {f"{m}/{p}": c.to_json() for (m, p), c in checks.items()}, "missing": missing, "notes": notes}
    write_json(work / "report.json", summary)
    return path
