"""Framing of long input/target pairs for the loss, as published.

Frames of ``frame_seconds`` (12 s) start every ``frame_seconds - overlap_seconds``
(11 s); the first ``overlap_seconds`` (1 s) of each frame is warm-up: the model
runs over it (from its initial gain of 1) but it is not in the loss.  The loss
regions of consecutive frames therefore tile the signal from the first second
on.  The last frame is zero-padded to full length; its padding is not in the
loss.  ``frame_seconds=None`` gives one frame over the whole signal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..model.compressor import level_db
from .preemphasis import preemphasis

__all__ = ["Frames", "make_frames"]


@dataclass
class Frames:
    """Framed input/target pair.

    Attributes:
        x: (F, L) input frames.
        target: (F, L) target frames.
        x_db: (F, L) level of x in dB (parameter-independent, computed once).
        target_pe: (F, L) pre-emphasised target (filter restarted per frame).
        mask: (F, L) 1 where a sample is in the loss, else 0.
        warmup: warm-up samples at the start of each frame.
        valid: (F,) number of real (unpadded) samples per frame.
        sample_rate: Hz.
    """

    x: torch.Tensor
    target: torch.Tensor
    x_db: torch.Tensor
    target_pe: torch.Tensor
    mask: torch.Tensor
    warmup: int
    valid: torch.Tensor
    sample_rate: int

    @property
    def n_frames(self) -> int:
        return self.x.shape[0]

    @property
    def target_energy(self) -> float:
        """Energy of the pre-emphasised target over the loss region (ESR denominator)."""
        return float((self.target_pe.double().pow(2) * self.mask).sum())

    def subset(self, index) -> "Frames":
        """The frames selected by ``index`` (a slice or index tensor)."""
        return Frames(self.x[index], self.target[index], self.x_db[index], self.target_pe[index],
                      self.mask[index], self.warmup, self.valid[index], self.sample_rate)

    def to(self, device=None, dtype=None) -> "Frames":
        def cv(t):
            return t.to(device=device, dtype=dtype if t.is_floating_point() else None)

        return Frames(cv(self.x), cv(self.target), cv(self.x_db), cv(self.target_pe), cv(self.mask),
                      self.warmup, self.valid.to(device), self.sample_rate)


def make_frames(x: torch.Tensor, target: torch.Tensor, sample_rate: int, frame_seconds: float | None = 12.0,
                overlap_seconds: float = 1.0) -> Frames:
    """Cut a pair of signals (T,) or (C, T) into frames.

    Args:
        x, target: (T,) or (C, T) input and target audio of equal shape; with C
            channels every channel is framed (frames of all channels stacked).
        sample_rate: Hz.
        frame_seconds: frame length in s; None for one frame per channel.
        overlap_seconds: overlap = warm-up length in s (not in the loss).

    Returns:
        :class:`Frames`.
    """
    if x.shape != target.shape:
        raise ValueError(f"input and target must have the same shape, got {tuple(x.shape)} and {tuple(target.shape)}")
    if x.dim() == 1:
        x, target = x.unsqueeze(0), target.unsqueeze(0)
    C, T = x.shape
    warmup = int(round(overlap_seconds * sample_rate))
    if overlap_seconds < 0:
        raise ValueError(f"overlap_seconds must be >= 0, got {overlap_seconds}")
    if frame_seconds is None:
        L = T
    else:
        L = int(round(frame_seconds * sample_rate))
        if frame_seconds <= overlap_seconds:
            raise ValueError(f"frame_seconds ({frame_seconds}) must exceed overlap_seconds ({overlap_seconds})")
    if T <= warmup:
        raise ValueError(
            f"the signal ({T / sample_rate:.3g} s) is not longer than the warm-up of {overlap_seconds} s; "
            f"use a longer signal or a smaller overlap"
        )
    L = min(L, T)
    hop = L - warmup
    n = 1 if T <= L else 1 + math.ceil((T - L) / hop)
    frames_x, frames_t, valid = [], [], []
    for c in range(C):
        for k in range(n):
            s = k * hop
            seg_x, seg_t = x[c, s : s + L], target[c, s : s + L]
            valid.append(seg_x.shape[0])
            pad = L - seg_x.shape[0]
            frames_x.append(torch.nn.functional.pad(seg_x, (0, pad)))
            frames_t.append(torch.nn.functional.pad(seg_t, (0, pad)))
    xf, tf = torch.stack(frames_x), torch.stack(frames_t)
    valid_t = torch.tensor(valid)
    idx = torch.arange(L)
    mask = ((idx >= warmup) & (idx < valid_t.unsqueeze(-1))).to(xf.dtype)
    return Frames(xf, tf, level_db(xf), preemphasis(tf), mask.to(xf.device), warmup, valid_t, sample_rate)
