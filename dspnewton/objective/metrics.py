"""Evaluation metrics: ESR, MSE, LDR / delta-LDR, integrated loudness.

All take (..., T) tensors and reduce over the last dimension, returning (...).
"""

from __future__ import annotations

import torch

from .preemphasis import PREEMPHASIS_POLE, preemphasis

__all__ = ["esr", "mse", "ldr", "delta_ldr", "integrated_loudness", "clip_scores", "clip_scores_from_loss",
           "preemphasis_energy", "segment_esrs",
           "startup_level_error_db", "startup_window_levels_db", "largest_level_error_db",
           "STARTUP_SECONDS", "STARTUP_WINDOW_MS"]

STARTUP_SECONDS = 1.0  # the start of a clip, reported on its own
STARTUP_WINDOW_MS = 50.0  # windows of the start-up level error
SILENT_DBFS = -60.0  # a window whose target and prediction are both below this RMS level does not count


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape (..., T), got {tuple(pred.shape)} and {tuple(target.shape)}")


def esr(pred: torch.Tensor, target: torch.Tensor, pre_emphasis: bool = True) -> torch.Tensor:
    """Error-to-signal ratio ``sum (y - y_hat)^2 / sum y^2`` (after pre-emphasis by default).

    Args:
        pred, target: (..., T).

    Returns:
        (...) ESR as a fraction (multiply by 100 for %).
    """
    _check_pair(pred, target)
    if pre_emphasis:
        pred, target = preemphasis(pred), preemphasis(target)
    return (target - pred).pow(2).sum(-1) / target.pow(2).sum(-1)


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the last dim: (..., T) -> (...)."""
    _check_pair(pred, target)
    return (target - pred).pow(2).mean(-1)


def _moving_mean_square(x: torch.Tensor, window: int) -> torch.Tensor:
    """Causal moving average of x^2 over ``window`` samples (shorter at the start)."""
    c = torch.cumsum(x.double().pow(2), dim=-1)
    lagged = torch.nn.functional.pad(c, (window, 0))[..., : c.shape[-1]]
    counts = torch.clamp(torch.arange(1, x.shape[-1] + 1, device=x.device), max=window)
    return ((c - lagged) / counts).to(x.dtype)


def ldr(x: torch.Tensor, sample_rate: int, short_ms: float = 50.0, long_ms: float = 3000.0,
        eps: float = 1e-10) -> torch.Tensor:
    """Loudness dynamic range: the RMS over time of ``L = 10 log10(short / long)``.

    ``short`` and ``long`` are causal moving mean squares over 50 ms and 3 s.

    Args:
        x: (..., T) audio at ``sample_rate`` Hz.

    Returns:
        (...) LDR in dB.
    """
    short = _moving_mean_square(x, max(1, round(short_ms * sample_rate / 1000)))
    long = _moving_mean_square(x, max(1, round(long_ms * sample_rate / 1000)))
    level = 10.0 * torch.log10((short + eps) / (long + eps))
    return level.pow(2).mean(-1).sqrt()


def delta_ldr(pred: torch.Tensor, target: torch.Tensor, sample_rate: int, **kw) -> torch.Tensor:
    """``LDR(pred) - LDR(target)`` in dB; positive means under-compressed."""
    _check_pair(pred, target)
    return ldr(pred, sample_rate, **kw) - ldr(target, sample_rate, **kw)


def integrated_loudness(x: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Integrated loudness (ITU-R BS.1770, LUFS) of mono signals: (..., T) -> (...)."""
    import torchaudio

    if x.shape[-1] < round(0.4 * sample_rate):
        raise ValueError(f"loudness needs at least 400 ms of audio, got {x.shape[-1]} samples at {sample_rate} Hz")
    return torchaudio.functional.loudness(x.unsqueeze(-2), sample_rate)


def startup_window_levels_db(pred: torch.Tensor, target: torch.Tensor, sample_rate: int,
                             seconds: float = STARTUP_SECONDS, window_ms: float = STARTUP_WINDOW_MS) -> list:
    """Level difference ``10 log10(mean pred^2 / mean target^2)`` in dB of each consecutive ``window_ms``
    window of the first ``seconds`` (all channels together; positive: the prediction is louder).

    pred, target: (T,) or (C, T).  Returns one float per window, None where both are below -60 dBFS RMS
    (a silent window has no level to match); an empty list when the clip is shorter than one window.
    """
    _check_pair(pred, target)
    w = max(1, round(window_ms * sample_rate / 1000))
    n = min(pred.shape[-1], max(w, round(seconds * sample_rate))) // w * w
    if n == 0:
        return []
    p = pred[..., :n].double().reshape(-1, n).reshape(-1, n // w, w).pow(2).mean(-1).mean(0)
    t = target[..., :n].double().reshape(-1, n).reshape(-1, n // w, w).pow(2).mean(-1).mean(0)
    floor = 10.0 ** (SILENT_DBFS / 10.0)
    tiny = 1e-30
    diff = 10.0 * torch.log10((p + tiny) / (t + tiny))
    return [float(d) if (a > floor or b > floor) else None for d, a, b in zip(diff, p, t)]


def startup_level_error_db(pred: torch.Tensor, target: torch.Tensor, sample_rate: int,
                           seconds: float = STARTUP_SECONDS, window_ms: float = STARTUP_WINDOW_MS) -> float | None:
    """The largest level difference ``|10 log10(mean pred^2 / mean target^2)|`` in dB over the
    consecutive ``window_ms`` windows of the first ``seconds`` (all channels together).

    pred, target: (T,) or (C, T).  Windows where both are below -60 dBFS RMS are skipped (a
    silent start has no level to match); None when every window is.
    """
    return largest_level_error_db(startup_window_levels_db(pred, target, sample_rate, seconds, window_ms))


def largest_level_error_db(windows: list) -> float | None:
    """The largest magnitude of :func:`startup_window_levels_db`'s per-window levels (None when every window is
    silent)."""
    levels = [abs(v) for v in windows if v is not None]
    return max(levels) if levels else None


def segment_esrs(pred: torch.Tensor, target: torch.Tensor, ranges, silent_db: float | None = None) -> list:
    """Pre-emphasised ESR of each ``[lo, hi)`` sample range of a whole clip (pre-emphasis run over the whole clip,
    all channels together).

    Args:
        pred, target: (T,) or (C, T).
        ranges: (lo, hi) pairs of samples.
        silent_db: a range whose target energy per sample is this many dB below the clip's mean
            gives None (nearly silent: its ESR would divide by ~0); None: only an (almost) exactly
            silent range does.

    Returns:
        one float or None per range.
    """
    _check_pair(pred, target)
    pe_t = preemphasis(target.double())
    err, ref = (pe_t - preemphasis(pred.double())).pow(2), pe_t.pow(2)
    total = float(ref.sum())
    mean = total / max(1, ref.shape[-1])
    out = []
    for lo, hi in ranges:
        den = float(ref[..., lo:hi].sum())
        floor = 1e-20 * total if silent_db is None else (hi - lo) * mean * 10.0 ** (silent_db / 10.0)
        out.append(float(err[..., lo:hi].sum()) / den if den > 0 and den > floor else None)
    return out


def clip_scores_from_loss(pred_head: torch.Tensor, target: torch.Tensor, sample_rate: int, loss: float,
                          seconds: float = STARTUP_SECONDS) -> dict:
    """:func:`clip_scores` of a whole clip whose pre-emphasised squared error from sample 0 (the model from
    rest) is already known (``loss``, e.g. an exact fused pass with carried states), from a render of its
    first ``seconds`` alone.

    Args:
        pred_head: (C, n) the prediction's first n = ``round(seconds * sample_rate)`` samples (or all of a
            shorter clip), rendered from rest.
        target: (C, T) the whole target.
        loss: sum over the whole clip of the squared pre-emphasised error.

    Returns:
        the same dict as :func:`clip_scores` (equal up to rounding).
    """
    T = target.shape[-1]
    n = min(T, round(seconds * sample_rate))
    head_t = target[..., :n]
    pe_t = preemphasis(head_t.double())
    err_head = float((pe_t - preemphasis(pred_head[..., :n].double())).pow(2).sum())
    ref_head = float(pe_t.pow(2).sum())
    total = preemphasis_energy(target)

    def ratio(err, ref, floor):
        return err / ref if ref > 0 and ref > floor else None
    return {"esr": ratio(loss, total, 0.0), "esr_first_second": ratio(err_head, ref_head, 1e-20 * total),
            "esr_after_first_second": ratio(loss - err_head, total - ref_head, 1e-20 * total) if n < T else None,
            "startup_db": startup_level_error_db(pred_head[..., :n], head_t, sample_rate, seconds)}


def preemphasis_energy(x: torch.Tensor, pole: float = PREEMPHASIS_POLE) -> float:
    """Sum of squares of the pre-emphasised signal x (T,) or (C, T), each channel filtered from a zero state:
    one compiled pass, no signal-sized buffer (float64 arithmetic)."""
    import numpy as np

    from ._preemphasis_energy import frames_energy_kernel

    rows = np.ascontiguousarray(x.detach().cpu().reshape(-1, x.shape[-1]).numpy())
    C, T = rows.shape  # each channel one frame from its first sample
    off = np.arange(C, dtype=np.int64) * T
    return float(frames_energy_kernel(rows.reshape(-1), off, np.full(C, T, dtype=np.int64),
                                      np.zeros(C, dtype=np.int64), pole))


def clip_scores(pred: torch.Tensor, target: torch.Tensor, sample_rate: int,
                seconds: float = STARTUP_SECONDS) -> dict:
    """How a whole clip sounds, scored from its first sample (the model started from rest).

    Args:
        pred, target: (T,) or (C, T) prediction and target of the whole clip.

    Returns:
        ``{"esr": whole clip, "esr_first_second": the first ``seconds``, "esr_after_first_second":
        the rest, "startup_db": :func:`startup_level_error_db`}``; pre-emphasised ESRs as fractions
        (:func:`segment_esrs`); a part whose target is silent gives None.
    """
    T = pred.shape[-1]
    n = min(T, round(seconds * sample_rate))
    whole, first, rest = segment_esrs(pred, target, [(0, T), (0, n), (n, T)])
    return {"esr": whole, "esr_first_second": first, "esr_after_first_second": rest if n < T else None,
            "startup_db": startup_level_error_db(pred, target, sample_rate, seconds)}
