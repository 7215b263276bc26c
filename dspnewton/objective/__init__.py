"""Objective: pre-emphasis, metrics (and, later, framing, loss and Hessian strategies)."""

from .metrics import delta_ldr, esr, integrated_loudness, ldr, mse
from .preemphasis import PREEMPHASIS_POLE, preemphasis

__all__ = ["PREEMPHASIS_POLE", "delta_ldr", "esr", "integrated_loudness", "ldr", "mse", "preemphasis"]
