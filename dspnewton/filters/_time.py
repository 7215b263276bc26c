"""Time-axis helpers shared by the recursions and their adjoints (time is dim 1: (B, T, ...))."""

from __future__ import annotations

import torch

__all__ = ["shift_in", "next_in_time", "reversed_in_time"]


def shift_in(first: torch.Tensor, seq: torch.Tensor) -> torch.Tensor:
    """The previous sample of every sample: ``[first, seq[:, :-1]]``.

    seq (B, T, ...), first (B, ...) -> (B, T, ...).
    """
    return torch.cat([first.unsqueeze(1), seq[:, :-1]], dim=1)


def next_in_time(seq: torch.Tensor) -> torch.Tensor:
    """The next sample of every sample, zero past the end: ``[seq[:, 1:], 0]``; (B, T, ...) -> (B, T, ...)."""
    return torch.cat([seq[:, 1:], torch.zeros_like(seq[:, :1])], dim=1)


def reversed_in_time(solve, *seqs: torch.Tensor) -> torch.Tensor:
    """``solve(*seqs)`` run backwards in time: every (B, T, ...) input flipped along time and the
    result flipped back.  The adjoint of a causal recursion is such an anti-causal one."""
    return solve(*(s.flip(1) for s in seqs)).flip(1)
