"""The fitting loss: squared error between pre-emphasised prediction and target.

``L(theta) = sum_frames sum_{n in loss region} (pe(y_hat)[n] - pe(y)[n])^2``,
with the pre-emphasis filter restarted at each frame (see :mod:`.framing`).
"""

from __future__ import annotations

import torch

from ..model.compressor import compress
from .framing import Frames
from .preemphasis import preemphasis

__all__ = ["frame_loss", "residual"]


def residual(theta: torch.Tensor, frames: Frames, backend: str = "auto") -> torch.Tensor:
    """Masked pre-emphasised residual (F, L) at theta (5,); differentiable."""
    y = compress(frames.x, theta, frames.sample_rate, x_db=frames.x_db, backend=backend)
    return (preemphasis(y, backend=backend) - frames.target_pe) * frames.mask


def frame_loss(theta: torch.Tensor, frames: Frames, backend: str = "auto") -> torch.Tensor:
    """Scalar loss (sum of squared masked residuals) at theta (5,); differentiable."""
    return residual(theta, frames, backend).pow(2).sum()
