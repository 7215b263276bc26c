"""The feed-forward compressor of Yu & Fazekas (2025), ``ff5``, as pure functions and a module.

For input x (B, T) at sample rate sr:

- level: ``x_db = 20 log10(max(|x|, 1e-8))`` (instantaneous, no RMS detector);
- gain computer (hard knee): ``gdb = min(0, (1 - 1/R) (CT - x_db))``, ``gh = 10^(gdb/20)``;
- ballistics: attack/release one-pole smoother of gh, initial gain 1;
- output: ``y = x * g * 10^(gamma/20)``.
"""

from __future__ import annotations

import math

import torch

from .ballistics import ballistics
from .params import (
    PARAM_NAMES,
    CompressorParams,
    check_sample_rate,
    physical_to_theta,
    theta_to_coefficients,
    theta_to_physical,
)

__all__ = ["level_db", "static_gain", "compressor_gain", "compress", "Compressor", "check_audio"]

LN10_OVER_20 = math.log(10.0) / 20.0
EPS_AMP = 1e-8


def check_audio(x, name: str = "x") -> torch.Tensor:
    """Validate audio: a float tensor (B, T) or (T,), finite. Returns it as (B, T)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (B, T) or (T,), got {type(x).__name__}")
    if x.dim() == 1:
        x = x.unsqueeze(0)
    if x.dim() != 2:
        raise ValueError(f"{name} must have shape (B, T) or (T,), got {tuple(x.shape)}")
    if x.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"{name} must be float32 or float64 audio, got {x.dtype}")
    if x.shape[-1] == 0:
        raise ValueError(f"{name} is empty (T = 0)")
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite samples; clean the audio first")
    return x


def level_db(x: torch.Tensor) -> torch.Tensor:
    """Instantaneous level ``20 log10(max(|x|, 1e-8))`` in dB; any shape.

    It does not depend on the parameters: fitting code computes it once.
    """
    return 20.0 * torch.log10(x.abs().clamp_min(EPS_AMP))


def static_gain(x_db: torch.Tensor, threshold_db: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """Hard-knee gain computer: x_db (B, T), threshold_db and ratio (B,) -> linear gain (B, T)."""
    gdb = torch.clamp((1.0 - 1.0 / ratio).unsqueeze(-1) * (threshold_db.unsqueeze(-1) - x_db), max=0.0)
    return torch.exp(LN10_OVER_20 * gdb)


def compressor_gain(
    x_db: torch.Tensor,
    threshold_db: torch.Tensor,
    ratio: torch.Tensor,
    alpha_at: torch.Tensor,
    alpha_rt: torch.Tensor,
    backend: str = "auto",
    forward: str = "kernel",
) -> torch.Tensor:
    """Smoothed gain g (B, T) from the level x_db (B, T) and (B,) parameters (coefficients)."""
    gh = static_gain(x_db, threshold_db, ratio)
    return ballistics(gh, alpha_at, alpha_rt, backend=backend, forward=forward)


def compress(
    x: torch.Tensor,
    theta: torch.Tensor,
    sample_rate: int,
    *,
    x_db: torch.Tensor | None = None,
    backend: str = "auto",
    forward: str = "kernel",
) -> torch.Tensor:
    """Pure functional form (use it with ``torch.func``).

    Args:
        x: (B, T) input audio.
        theta: (5,) shared or (B, 5) per-signal unconstrained parameters
            (see :mod:`dspnewton.model.params`).
        sample_rate: Hz (sets the attack/release coefficients).
        x_db: optional precomputed :func:`level_db` of x (B, T).
        backend, forward: see :func:`dspnewton.model.ballistics.ballistics`.

    Returns:
        y: (B, T) compressed audio.
    """
    B = x.shape[0]
    if theta.dim() == 1:
        theta = theta.unsqueeze(0).expand(B, theta.shape[-1])
    ct, ratio, a_at, a_rt, gamma = theta_to_coefficients(theta, sample_rate)
    if x_db is None:
        x_db = level_db(x)
    g = compressor_gain(x_db, ct, ratio, a_at, a_rt, backend=backend, forward=forward)
    return x * g * torch.exp(LN10_OVER_20 * gamma).unsqueeze(-1)


class Compressor(torch.nn.Module):
    """The ``ff5`` feed-forward compressor as a module holding theta (5,) as a Parameter.

    Example::

        comp = Compressor(CompressorParams(-20, 4, 5, 100, 1), sample_rate=44100)
        y = comp(x)                     # x: (B, T) or (T,)
        comp.params                     # CompressorParams in physical units
    """

    def __init__(self, params: CompressorParams | dict | None = None, sample_rate: int = 44100,
                 backend: str = "auto", forward: str = "kernel", dtype=torch.float64):
        super().__init__()
        self.sample_rate = check_sample_rate(sample_rate)
        self.backend, self.forward_mode = backend, forward
        if params is None:
            params = CompressorParams.published_init()
        if isinstance(params, dict):
            params = CompressorParams.from_dict(params)
        self.theta = torch.nn.Parameter(params.to_theta(self.sample_rate, dtype=dtype))

    @property
    def params(self) -> CompressorParams:
        return CompressorParams.from_theta(self.theta, self.sample_rate)

    def physical(self) -> dict[str, torch.Tensor]:
        """Physical parameters as differentiable tensors."""
        return theta_to_physical(self.theta, self.sample_rate)

    def set_params(self, params: CompressorParams | dict) -> None:
        if isinstance(params, CompressorParams):
            params = params.to_dict()
        with torch.no_grad():
            self.theta.copy_(physical_to_theta(params, self.sample_rate, dtype=self.theta.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeeze = x.dim() == 1
        x = check_audio(x)
        if x.dtype != self.theta.dtype or x.device != self.theta.device:
            raise ValueError(
                f"x is {x.dtype} on {x.device} but the compressor is {self.theta.dtype} on "
                f"{self.theta.device}; call .to(x.device, x.dtype) first"
            )
        y = compress(x, self.theta, self.sample_rate, backend=self.backend, forward=self.forward_mode)
        return y[0] if squeeze else y

    def extra_repr(self) -> str:
        p = self.params
        return ", ".join(f"{n}={getattr(p, n):.4g}" for n in PARAM_NAMES) + f", sample_rate={self.sample_rate}"
