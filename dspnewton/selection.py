"""Model selection by validation: ``dspnewton fit ... --model auto``.

The pair is split in time: the first part (by default 75 %) is the fitting
part, the rest the validation part that no candidate is fitted on.  Every
candidate of :data:`SHORT_LIST` is fitted on the fitting part (the grey-box
ones warm-started from the ``ff5`` fit of that part), then rendered over the
whole pair (so the validation part starts from the state the fitting part
left) and scored by its pre-emphasised ESR on the validation part.  The one
with the lowest held-out ESR wins and is refitted on the whole pair, warm-
started from its fit of the fitting part.  ``FitResult.extra["auto"]`` (and so
``fit.json``) records every candidate's fitted and held-out ESR.

The short list covers kinds of device, each with and without the signal
path's transformer stages: feed-forward (VCA, digital), feedback with a
two-stage release (optical levelling amplifiers) and the recommended model
with every gain-shaping option; none was chosen for one test unit.  ``dspnewton models`` prints it with its reasons.
"""

from __future__ import annotations

import time

import soundfile as sf
import torch

from .audio import InputError, prepare_pair
from .model.greybox_spec import RECOMMENDED_MODEL, parse_model

__all__ = ["AUTO", "SHORT_LIST", "VALIDATION_FRACTION", "MIN_VALIDATION_SECONDS", "fit_auto", "split_point",
           "held_out_esr", "short_list_text", "score_candidates", "selection_settings", "select_for_sweep"]

AUTO = "auto"
SHORT_LIST = (
    ("ff5", "the published five-parameter model: the baseline every other candidate has to beat"),
    ("ff+knee+rms", "feed-forward with a soft knee and an RMS detector: VCA and digital compressors"),
    ("ff+knee+rms+inhp+outshelf", "ff+knee+rms with the signal path's transformer stages (input high-pass, "
                                  "output high shelf)"),
    ("fb+2rel", "feedback detector with a two-stage release: the core of an optical levelling amplifier"),
    (RECOMMENDED_MODEL, "the recommended model: every gain-shaping option (knee, RMS, two-stage release, "
                        "side-chain shelf, tube output)"),
    ("fb+2rel+inhp+outshelf", "fb+2rel with the signal path's transformer stages (input high-pass, output "
                              "high shelf): colouring that is there whether the unit compresses or not"),
    (f"{RECOMMENDED_MODEL}+inhp+outshelf", "the recommended model with both signal-path stages: the most "
                                           "flexible candidate"),
)
VALIDATION_FRACTION = 0.25
MIN_VALIDATION_SECONDS = 1.0


def short_list_text() -> str:
    """The short list with one line of reasons per candidate (``dspnewton models``)."""
    width = max(len(m) for m, _ in SHORT_LIST)
    lines = [f"  {m:<{width}}  {parse_model(m).n_params:2d} parameters: {why}" for m, why in SHORT_LIST]
    return "\n".join(lines)


def _candidate_names(candidates) -> list:
    """Canonical, de-duplicated model names of ``candidates`` (default: the short list); InputError on a bad name."""
    names = [m for m, _ in SHORT_LIST] if candidates is None else list(candidates)
    try:
        return list(dict.fromkeys(parse_model(m).name for m in names))
    except ValueError as exc:
        raise InputError(str(exc)) from None


def split_point(n_samples: int, sample_rate: int, validation: float, overlap_seconds: float) -> int:
    """First sample of the validation part; InputError when either part would be too short.

    The validation part needs at least :data:`MIN_VALIDATION_SECONDS`; the fitting part at least that
    much after its warm-up (``overlap_seconds``).
    """
    if not 0.0 < validation < 1.0:
        raise InputError(f"the validation fraction must lie strictly between 0 and 1, got {validation}")
    split = int(round(n_samples * (1.0 - validation)))
    need_val = MIN_VALIDATION_SECONDS * sample_rate
    need_fit = (MIN_VALIDATION_SECONDS + max(0.0, overlap_seconds)) * sample_rate
    if n_samples - split < need_val or split < need_fit:
        have = n_samples / sample_rate
        need = max(need_val / validation, need_fit / (1.0 - validation)) / sample_rate
        raise InputError(
            f"the pair is {have:.3g} s long, too short for model selection: --model auto holds out the last "
            f"{100 * validation:g} % for validation and needs at least {MIN_VALIDATION_SECONDS:g} s there and "
            f"{MIN_VALIDATION_SECONDS:g} s after the {overlap_seconds:g} s warm-up in the fitting part "
            f"(at least {need:.3g} s in all). Use a longer pair, or name a model (e.g. --model ff5)")
    return split


def held_out_esr(result, x: torch.Tensor, y: torch.Tensor, split: int) -> float:
    """Pre-emphasised ESR of ``result`` on samples ``split:`` of the pair x, y (C, T), rendering the whole pair."""
    from .objective.metrics import esr

    with torch.no_grad():
        pred = result.render(x.double())
    return float(esr(pred[..., split:], y.double()[..., split:]))


def fit_auto(input, target, sample_rate: int | None = None, *, candidates=None,
             validation: float = VALIDATION_FRACTION, resample: bool = False, trim: bool = False,
             channels: str | None = None, align: bool = False, callback=None, dist=None, init=None,
             optimizer: str = "newton", **fit_kw):
    """Fit every candidate on the first part of the pair, keep the best on the held-out rest, refit it on all.

    Args:
        input, target, sample_rate, resample, trim, channels, align: as :func:`dspnewton.fit`.
        candidates: model names (default: :data:`SHORT_LIST`); ``ff5`` is always fitted (the warm start).
        validation: the held-out fraction at the end of the pair (default 0.25).
        callback: called with each Newton history entry, and with ``{"candidate": row}`` after each
            candidate is scored.
        fit_kw: passed to every :func:`dspnewton.fit` (framing, Hessian strategy, options, ...).

    Returns:
        the winner's :class:`~dspnewton.result.FitResult` on the whole pair, with
        ``extra["auto"]``: ``{"candidates": [{"model", "esr_fit", "esr_held_out", "iterations",
        "converged", "seconds"}], "chosen", "validation_fraction", "validation_seconds", "split_sample"}``.
    """
    from .fitting import fit

    if dist is not None:
        raise InputError("--model auto fits its candidates on one worker; run it without {distributed}",
                         {"distributed": True})
    if init is not None:
        raise InputError("--model auto starts every candidate from the ff5 fit of the fitting part; drop {init} "
                         "or name a model", {"init": None})
    if optimizer != "newton":
        raise InputError("--model auto fits by Newton; drop {optimizer}", {"optimizer": "newton"})
    names = _candidate_names(candidates)
    t0 = time.perf_counter()
    pair = prepare_pair(input, target, sample_rate, resample=resample, trim=trim, channels=channels, align=align)
    x, y, sr = pair.x, pair.y, pair.sample_rate
    split = split_point(x.shape[-1], sr, validation, float(fit_kw.get("overlap_seconds", 1.0)))
    fit_kw = dict(fit_kw, channels=channels)
    rows, fits = score_candidates(x, y, sr, split, names, fit_kw, callback)
    best = min((r for r in rows if r["model"] in names), key=lambda r: r["esr_held_out"])
    final = fit(x, y, sr, model=best["model"], init=fits[best["model"]], callback=callback, **fit_kw)
    final.extra["auto"] = {
        "candidates": rows, "chosen": best["model"], "validation_fraction": validation,
        "validation_seconds": (x.shape[-1] - split) / sr, "split_sample": split,
        "refit_esr": float(final.esr),
    }
    final.extra["notes"] = list(pair.notes) + list(final.extra.get("notes", []))
    final.extra["lag_samples"] = pair.lag
    final.seconds = time.perf_counter() - t0
    return final


def score_candidates(x: torch.Tensor, y: torch.Tensor, sr: int, split: int, names, fit_kw: dict, callback=None):
    """Fit ``ff5`` and every model of ``names`` on samples ``:split`` of x, y (C, T); score each on ``split:``.

    Returns (rows, fits): one row per model (ff5 first) with ``model``, ``esr_fit``, ``esr_held_out``,
    ``iterations``, ``converged``, ``seconds``; and model -> FitResult.
    """
    from .fitting import fit

    xf, yf = x[..., :split], y[..., :split]
    base = fit(xf, yf, sr, model="ff5", callback=callback, **fit_kw)
    rows, fits = [], {}
    for name in ["ff5"] + [n for n in names if n != "ff5"]:
        r = base if name == "ff5" else fit(xf, yf, sr, model=name, init=base, callback=callback, **fit_kw)
        fits[name] = r
        row = {"model": name, "esr_fit": float(r.esr), "esr_held_out": held_out_esr(r, x, y, split),
               "iterations": int(r.iterations), "converged": bool(r.converged), "seconds": float(r.seconds)}
        rows.append(row)
        if callback:
            callback({"candidate": row})
    return rows, fits


def selection_settings(keys, per_mode: int = 3) -> list:
    """The (mode, peak) settings a sweep selects its model on: per mode the lowest, a middle and the
    highest peak (all of them when a mode has at most ``per_mode``)."""
    out = []
    for mode in dict.fromkeys(m for m, _ in sorted(keys)):
        peaks = sorted(p for m, p in keys if m == mode)
        if len(peaks) > per_mode:
            idx = sorted({round(i * (len(peaks) - 1) / (per_mode - 1)) for i in range(per_mode)})
            peaks = [peaks[i] for i in idx]
        out += [(mode, p) for p in peaks]
    return out


def select_for_sweep(pairs: dict, candidates=None, validation: float = VALIDATION_FRACTION, fit_kw=None,
                     on_event=None) -> dict:
    """Choose one model for a whole sweep on a few of its settings.

    pairs: (mode, peak) -> (input path, target path) of the settings to select on
    (:func:`selection_settings`).  Each setting's pair is split as in :func:`fit_auto`;
    every candidate is scored by its held-out ESR relative to ``ff5``'s on that setting
    (each setting weighs the same whatever its level), and the lowest mean ratio wins.

    Returns ``{"chosen", "candidates": [names], "score": {model: mean ratio}, "settings":
    {"mode/peak": rows}, "validation_fraction"}`` (the sweep writes it to ``selection.json``).
    """
    names = _candidate_names(candidates)
    fit_kw = dict(fit_kw or {})
    overlap = float(fit_kw.get("overlap_seconds", 1.0))
    for key, (inp, tgt) in sorted(pairs.items()):  # every length check before any fit (headers only)
        try:
            infos = [sf.info(str(p)) for p in (inp, tgt)]
        except RuntimeError:
            continue  # unreadable: prepare_pair below names the problem
        try:
            split_point(min(i.frames for i in infos), infos[0].samplerate, validation, overlap)
        except InputError as exc:
            raise InputError(f"{key[0]} {key[1]} ('{tgt}'): {exc}") from None
    settings, ratios = {}, {n: [] for n in names}
    for i, (key, (inp, tgt)) in enumerate(sorted(pairs.items())):
        if on_event:
            on_event("select", {"mode": key[0], "peak": key[1], "index": i, "total": len(pairs)})
        pair = prepare_pair(inp, tgt, trim=True)  # one pair in memory at a time
        try:
            split = split_point(pair.x.shape[-1], pair.sample_rate, validation, overlap)
        except InputError as exc:
            raise InputError(f"{key[0]} {key[1]} ('{tgt}'): {exc}") from None
        rows, _ = score_candidates(pair.x, pair.y, pair.sample_rate, split, names, fit_kw)
        del pair
        settings[f"{key[0]}/{key[1]}"] = rows
        base = next(r["esr_held_out"] for r in rows if r["model"] == "ff5")
        for r in rows:
            if r["model"] in ratios:
                ratios[r["model"]].append(r["esr_held_out"] / max(base, 1e-300))
    score = {n: float(sum(v) / len(v)) for n, v in ratios.items()}
    chosen = min(names, key=lambda n: score[n])
    return {"chosen": chosen, "candidates": names, "score": score, "settings": settings,
            "validation_fraction": validation}
