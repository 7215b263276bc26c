"""Evaluation metrics: ESR, MSE, LDR / delta-LDR, integrated loudness.

All take (..., T) tensors and reduce over the last dimension, returning (...).
"""

from __future__ import annotations

import torch

from .preemphasis import preemphasis

__all__ = ["esr", "mse", "ldr", "delta_ldr", "integrated_loudness"]


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
