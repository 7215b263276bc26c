"""Figures of a sweep (matplotlib, PNG): every parameter of the sweep's model vs peak
reduction, optimiser convergence on one fit (its pair's first minute), and a 5 s excerpt with the model's gain
reduction.  Each figure is titled with the model's name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .audio import InputError, atomic_write_bytes, prepare_pair
from .model.models import get_model
from .model.schema import param_spec
from .objective.frame_lengths import FRAME_SECONDS, OVERLAP_SECONDS
from .result import FitResult
from .sweep_folder import fit_path

__all__ = ["plot_sweep"]

CONVERGENCE_SECONDS = 60.0  # the optimisers' comparison runs on the pair's first minute

COLORS = {"compress": "tab:blue", "limit": "tab:red"}


def require_matplotlib():
    """The matplotlib module, or an InputError saying how to install it (the ``plots`` extra)."""
    try:
        import matplotlib
    except ImportError:
        raise InputError("plots need matplotlib, which is not installed: pip install 'dspnewton[plots]' "
                         "(or pip install matplotlib)") from None
    return matplotlib


def _save(fig, path: Path) -> None:
    atomic_write_bytes(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))


def _params_vs_peak(mapping: dict, model, path: Path, joint: dict | None = None, fits: dict | None = None):
    """Every parameter of ``model`` against peak reduction, in physical units, one panel each.

    In a mode with joint-fit curves (``joint``: mode -> KnobCurves) the curves are drawn as
    lines over the whole knob range and the per-setting fits (``fits``: mode -> peak ->
    params) as markers."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    names = model.param_names
    cols = min(len(names), 6)
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.3 * rows), squeeze=False)
    flat = axes.ravel()
    joint = joint or {}
    for mode, by_peak in mapping.items():
        peaks = sorted(int(p) for p in by_peak)
        if mode in joint:
            knob = np.linspace(joint[mode].knob_lo, joint[mode].knob_hi, 121)
            values = [joint[mode].params(k) for k in knob]
            per = (fits or {}).get(mode, {})
            for ax, name in zip(flat, names):
                ax.plot(knob, [v[name] for v in values], "-", color=COLORS.get(mode), label=f"{mode} joint curve")
                ax.plot(sorted(per), [per[p][name] for p in sorted(per)], "o", color=COLORS.get(mode), ms=4,
                        mfc="none", label=f"{mode} per-setting fits")
            continue
        for ax, name in zip(flat, names):
            ax.plot(peaks, [by_peak[str(p)][name] for p in peaks], "o-", color=COLORS.get(mode), label=mode, ms=4)
    for ax, name in zip(flat, names):
        spec = param_spec(name)
        ax.set_xlabel("peak reduction")
        ax.set_title(spec.axis_label())
        ax.grid(alpha=0.3)
        if spec.log_scale:
            ax.set_yscale("log")
            lo, hi = ax.get_ylim()
            if hi / lo < 10:  # within a decade: plain numbers at 1-2-5 steps
                ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
                ax.yaxis.set_major_formatter(ScalarFormatter())
                ax.yaxis.set_minor_formatter(ScalarFormatter(useOffset=False))
                ax.tick_params(axis="y", which="minor", labelsize=7)
            else:  # several decades: labelled decades only
                ax.yaxis.set_minor_formatter(NullFormatter())
    for ax in flat[len(names):]:
        ax.set_visible(False)
    flat[0].legend()
    fig.suptitle(f"Fitted {model.name} parameters ({len(names)}) against peak reduction"
                 + (" (joint knob curves)" if joint else ""))
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def _convergence(pair, sr, frame_seconds, overlap_seconds, title: str, path: Path, model, init):
    """Newton, L-BFGS and Adam from the same start (``init``: the sweep's fit of this model's
    warm start, so that a grey-box model does not repeat its ff5 warm start three times), on the pair's first
    :data:`CONVERGENCE_SECONDS` (400 passes over a 20-minute pair would take the better part of an hour)."""
    import matplotlib.pyplot as plt

    from .fitting import fit

    n = min(pair.x.shape[-1], int(round(CONVERGENCE_SECONDS * sr)))
    x, y = pair.x[..., :n], pair.y[..., :n]
    if n < pair.x.shape[-1]:
        title = f"{title}, first {CONVERGENCE_SECONDS:g} s"
    kw = dict(frame_seconds=frame_seconds, overlap_seconds=overlap_seconds, model=model.name, init=init)
    runs = {
        "Newton (fused Hessian)": fit(x, y, sr, **kw),
        "L-BFGS": fit(x, y, sr, optimizer="lbfgs", max_iter=100, **kw),
        "Adam (lr 0.05)": fit(x, y, sr, optimizer="adam", max_iter=300, **kw),
    }
    curves = {}
    for name, r in runs.items():
        # Start every curve at the initial point (ESR before the first step, t = 0).
        esr = [r.history[0]["esr_before"]] + [h["esr"] for h in r.history]
        curves[name] = (np.array(esr), np.array([0.0] + [h["seconds"] for h in r.history]), r)
    best = min(c[0].min() for c in curves.values())
    fig, axes = plt.subplots(1, 3, figsize=(17, 3.8))
    for name, (esr, secs, r) in curves.items():
        axes[0].semilogy(range(len(esr)), 100 * esr, label=f"{name}: {len(esr) - 1} steps")
        excess = np.maximum((esr - best) / best, 1e-12)
        axes[1].semilogy(range(len(esr)), excess, label=name)
        axes[2].semilogy(secs, excess, label=f"{name}: {r.seconds:.1f} s")
    axes[0].set_ylabel("ESR (%)")
    axes[1].set_ylabel("(ESR - best) / best")
    axes[2].set_ylabel("(ESR - best) / best")
    for ax in axes[:2]:
        ax.set_xlabel("iteration (L-BFGS: loss evaluation)")
    axes[2].set_xlabel("wall time (s)")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    start = "the published initialisation" if init is None else "its ff5 warm start"
    fig.suptitle(f"{model.name}: convergence from {start}, {title}")
    _save(fig, path)
    plt.close(fig)


def _excerpt(fit_result: FitResult, pair, sr, title: str, path: Path, seconds: float = 5.0):
    import matplotlib.pyplot as plt

    model = get_model(fit_result.model)
    x, y = pair.x[:1].double(), pair.y[:1]
    theta = fit_result.theta
    with torch.no_grad():
        g = model.gain(x, theta, sr)
        pred = model.render(x, theta, sr)
    T = x.shape[1]
    start = max(0, min(T - int(seconds * sr), int(0.4 * T)))
    sl = slice(start, start + int(seconds * sr))
    t = np.arange(T)[sl] / sr
    fig, axes = plt.subplots(2, 1, figsize=(12, 5.5), sharex=True)
    axes[0].plot(t, y[0, sl].numpy(), lw=0.6, color="black", label="target")
    axes[0].plot(t, pred[0, sl].numpy(), lw=0.6, color="tab:orange", alpha=0.8, label="prediction")
    axes[0].set_ylabel("amplitude")
    axes[0].legend(loc="upper right")
    axes[1].plot(t, 20 * np.log10(g[0, sl].numpy()), color="tab:green", lw=1.0)
    axes[1].set_ylabel("gain reduction (dB)")
    axes[1].set_xlabel("time (s)")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(f"5 s excerpt, {model.name}, {title}: ESR {100 * fit_result.esr:.2f} %")
    _save(fig, path)
    plt.close(fig)


def _mapping_model(cfg: dict, mapping: dict, sweep: Path):
    """The sweep's model; every mapping row must hold it with all its parameters."""
    try:
        model = get_model(cfg.get("model", "ff5"))
    except ValueError as exc:
        raise InputError(f"'{sweep / 'sweep.json'}': {exc}") from None
    for mode, by_peak in mapping.items():
        for peak, row in by_peak.items():
            if row.get("model", "ff5") != model.name:
                raise InputError(f"'{sweep / 'mapping.json'}' row {mode}/{peak} is of model {row.get('model', 'ff5')!r} "
                                 f"but the sweep is of {model.name!r}; a sweep folder holds one model: rerun the "
                                 f"sweep into a new folder")
            missing = [n for n in model.param_names if n not in row]
            if missing:
                raise InputError(f"'{sweep / 'mapping.json'}' row {mode}/{peak} lacks {', '.join(missing)} of model "
                                 f"{model.name}; rerun 'dspnewton sweep' to rewrite it")
    return model


def plot_sweep(sweep_dir, out_dir=None, mode: str | None = None, peak: int | None = None) -> list[Path]:
    """Write params_vs_peak.png, convergence.png and excerpt.png; returns their paths.

    The convergence and excerpt figures use one fit (default: compress mode, the
    middle fitted peak).
    """
    matplotlib = require_matplotlib()
    matplotlib.use("Agg")
    sweep = Path(sweep_dir)
    if not (sweep / "mapping.json").exists():
        raise InputError(f"'{sweep}' has no mapping.json; run 'dspnewton sweep' first")
    cfg = json.loads((sweep / "sweep.json").read_text())
    mapping = json.loads((sweep / "mapping.json").read_text())
    model = _mapping_model(cfg, mapping, sweep)
    out = Path(out_dir) if out_dir else sweep / "plots"
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "params_vs_peak.png", out / "convergence.png", out / "excerpt.png"]
    from .sweep_folder import load_joint

    joint = load_joint(sweep)
    fits = {m: {int(p): FitResult.load(fit_path(sweep, m, int(p))).all_params for p in by_peak
                if fit_path(sweep, m, int(p)).exists()} for m, by_peak in mapping.items() if m in joint}
    _params_vs_peak(mapping, model, paths[0], joint, fits)
    mode = mode or ("compress" if mapping.get("compress") else next(iter(mapping)))
    peaks = sorted(int(p) for p in mapping[mode])
    peak = peak if peak is not None else peaks[len(peaks) // 2]
    fit_result = FitResult.load(fit_path(sweep, mode, peak))
    root = Path(cfg["dataset_root"])
    pc = cfg["pairs"][f"{mode}/{peak}"]
    pair = prepare_pair(root / pc["input"], root / pc["target"], trim=True)
    title = f"{mode}, peak reduction {peak}"
    warm = fit_result.extra.get("ff5_warm_start")
    init = warm["params"] if (warm and not model.spec.is_ff5) else None
    _convergence(pair, pair.sample_rate, cfg.get("frame_seconds", FRAME_SECONDS), cfg.get("overlap_seconds", OVERLAP_SECONDS), title,
                 paths[1], model, init)
    _excerpt(fit_result, pair, pair.sample_rate, title, paths[2])
    return paths
