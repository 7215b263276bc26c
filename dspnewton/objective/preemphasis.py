"""The pre-emphasis filter ``(1 - z^-1) / (1 - 0.995 z^-1)`` applied before loss and ESR."""

from __future__ import annotations

import torch

from ..filters import lfilter

__all__ = ["PREEMPHASIS_POLE", "preemphasis"]

PREEMPHASIS_POLE = 0.995


def preemphasis(x: torch.Tensor, pole: float = PREEMPHASIS_POLE, backend: str = "auto") -> torch.Tensor:
    """Apply ``(1 - z^-1) / (1 - pole z^-1)`` along the last dim (zero initial state).

    Args:
        x: (..., T) audio.
        pole: the filter's pole (0.995 as published).

    Returns:
        (..., T), differentiable.
    """
    a = torch.tensor([1.0, -pole], dtype=x.dtype, device=x.device)
    b = torch.tensor([1.0, -1.0], dtype=x.dtype, device=x.device)
    return lfilter(x, a, b, clamp=False, backend=backend)
