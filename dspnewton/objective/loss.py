"""The fitting loss: squared error between pre-emphasised prediction and target.

``L(theta) = sum_frames sum_{n in loss region} (pe(y_hat)[n] - pe(y)[n])^2``,
with the pre-emphasis filter restarted at each frame (see :mod:`.framing`).
"""

from __future__ import annotations

import torch

from ..model.compressor import compress
from ..model.greybox import render_model
from ..model.greybox_spec import parse_model
from .framing import Frames
from .preemphasis import preemphasis

__all__ = ["frame_loss", "residual"]


def residual(theta: torch.Tensor, frames: Frames, backend: str = "auto", model="ff5") -> torch.Tensor:
    """Masked pre-emphasised residual (F, L) at theta (P,) of ``model``; differentiable."""
    spec = parse_model(model)
    if spec.is_ff5:
        y = compress(frames.x, theta, frames.sample_rate, x_db=frames.x_db, backend=backend)
    else:
        y = render_model(frames.x, theta, spec, frames.sample_rate)
    return (preemphasis(y, backend=backend) - frames.target_pe) * frames.mask


def frame_loss(theta: torch.Tensor, frames: Frames, backend: str = "auto", model="ff5") -> torch.Tensor:
    """Scalar loss (sum of squared masked residuals) at theta (P,); differentiable."""
    return residual(theta, frames, backend, model).pow(2).sum()
