"""Framing of long input/target pairs for the loss.

Frames of ``frame_seconds`` (12 s) start every ``frame_seconds - overlap_seconds``
(11 s).  The first frame of each channel is scored from its first sample, with
the model starting from rest, as a listener hears a plugin when playback starts;
every later frame scores from ``overlap_seconds`` (1 s) on, so the loss regions
tile the whole signal exactly once.  The last frame is zero-padded to full
length; its padding is not in the loss.  ``frame_seconds=None`` gives one frame
over the whole signal (exact: no frame boundary at all).

Where a later frame starts from is ``initial_state``:

- ``"carried"``: from the state a pass over the whole signal has at the frame's
  first sample (the compiled fused passes compute it with one cheap sequential
  forward pass over the file, :mod:`.frame_state`).  The loss then equals the
  whole-signal loss exactly; derivatives of a frame's initial state with respect
  to the parameters are truncated at the frame's first sample (its sensitivities
  start at zero there), ``overlap_seconds`` before its loss region, so gradient
  and Hessian are exact up to how much of the state's sensitivity survives the
  warm-up (measured in ``docs/long_fits.md``).  Time constants longer than the
  warm-up are fitted against the right state.
- ``"rest"``: from rest (gain 1, filters empty), as published: the first
  ``overlap_seconds`` of the frame is warm-up that rebuilds the state.  The
  autograd Hessian strategies support this one only.

:func:`make_segment_frames` frames chosen ranges of one pair instead (model selection's fitted blocks):
each frame starts from rest a warm-up before its range, or at the pair's first sample, where its loss and
derivatives are the whole pair's from rest restricted to the range, with nothing truncated.

Memory: the frames are views into one zero-padded copy of each signal (the
flat buffers the compiled kernels read by frame offset); the (F, L) level,
pre-emphasised target and mask that the autograd strategies use are computed
on first use only.
"""

from __future__ import annotations

import math

import torch

from .frame_lengths import FRAME_SECONDS, OVERLAP_SECONDS, SEGMENT_FRAME_SECONDS, SEGMENT_WARMUP_SECONDS

from ..model.compressor import level_db
from .preemphasis import preemphasis

__all__ = ["Frames", "make_frames", "make_segment_frames"]


class Frames:
    """Framed input/target pair.

    Attributes:
        xbuf, tbuf: (N,) flat zero-padded input and target; frame f is
            ``buf[offsets[f] : offsets[f] + L]``.
        offsets: (F,) int64 frame starts; valid: (F,) real (unpadded) samples per frame.
        frame_length: L; warmup: warm-up samples at the start of each frame; sample_rate: Hz.
        first: (F,) bool, the frame begins its channel (starts from rest, scored from sample 0).
        initial_state: ``"carried"`` or ``"rest"`` (see the module docstring).
        starts: (F,) int64 first scored sample of each frame (0 for first frames, else ``warmup``; or the
            ``scored_from`` given: :func:`make_segment_frames`).

    Views (computed on first use, then cached): ``x``, ``target`` (F, L);
    ``x_db`` (F, L) level in dB; ``target_pe`` (F, L) pre-emphasised target
    (filter restarted per frame); ``mask`` (F, L) 1 where a sample is in the loss.
    """

    def __init__(self, xbuf, tbuf, offsets, valid, frame_length: int, warmup: int, sample_rate: int,
                 channels: tuple = (1, 0, 0), first=None, initial_state: str = "rest", root=None, index=None,
                 scored_from=None):
        self.xbuf, self.tbuf = xbuf, tbuf
        self.scored_from = scored_from  # (F,) int64 per-frame first scored sample, or None (from first/warmup)
        self.channels = channels  # (C, T, stride): channel c of the signals is buf[c * stride : c * stride + T]
        self.offsets, self.valid = offsets, valid
        self.frame_length, self.warmup, self.sample_rate = int(frame_length), int(warmup), int(sample_rate)
        if first is None:
            first = torch.zeros(offsets.shape[0], dtype=torch.bool)
        self.first = first
        self.initial_state = check_initial_state(initial_state)
        # The whole framing this is a subset of (carried states are computed over it) and our frames' indices in it.
        self.root = self if root is None else root
        self.index = torch.arange(offsets.shape[0]) if index is None else index
        self._cache: dict = {}

    @property
    def carried(self) -> bool:
        """Whether frames start from the whole-signal state (and more than the first frames exist)."""
        return self.initial_state == "carried" and not bool(self.root.first.all())

    @property
    def starts(self) -> torch.Tensor:
        """(F,) int64 first scored sample of each frame: 0 for the first frame of a channel, else the warm-up
        (or each frame's own, :func:`make_segment_frames`)."""
        if self.scored_from is not None:
            return self.scored_from
        return torch.where(self.first, 0, self.warmup).to(torch.int64)

    @property
    def n_frames(self) -> int:
        return int(self.offsets.shape[0])

    def _framed(self, buf: torch.Tensor) -> torch.Tensor:
        off = self.offsets.tolist()
        L = self.frame_length
        steps = {b - a for a, b in zip(off, off[1:])}
        if len(steps) <= 1:  # evenly spaced: a zero-copy view
            step = steps.pop() if steps else L
            return buf.as_strided((len(off), L), (step, 1), buf.storage_offset() + (off[0] if off else 0))
        return torch.stack([buf[o:o + L] for o in off])

    def _cached(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def x(self) -> torch.Tensor:
        return self._cached("x", lambda: self._framed(self.xbuf))

    @property
    def target(self) -> torch.Tensor:
        return self._cached("target", lambda: self._framed(self.tbuf))

    @property
    def x_db(self) -> torch.Tensor:
        return self._cached("x_db", lambda: level_db(self.x))

    @property
    def target_pe(self) -> torch.Tensor:
        return self._cached("target_pe", lambda: preemphasis(self.target))

    @property
    def mask(self) -> torch.Tensor:
        def make():
            idx = torch.arange(self.frame_length, device=self.xbuf.device)
            valid = self.valid.to(self.xbuf.device).unsqueeze(-1)
            starts = self.starts.to(self.xbuf.device).unsqueeze(-1)
            return ((idx >= starts) & (idx < valid)).to(self.xbuf.dtype)
        return self._cached("mask", make)

    @property
    def target_energy(self) -> float:
        """Energy of the pre-emphasised target over the loss region (ESR denominator), float64.

        One compiled pass over the frames (no (F, L) buffer)."""
        if "energy" not in self._cache:
            from ._preemphasis_energy import frames_energy_kernel
            from .preemphasis import PREEMPHASIS_POLE

            if self.tbuf.device.type == "cpu":
                _, tbuf, off, valid = self.flat_arrays()
            else:  # a passing host copy of the target (no cached host copy of a GPU fit's audio)
                tbuf = self.tbuf.detach().cpu().contiguous().numpy()
                off, valid = (t.to(torch.int64).contiguous().numpy() for t in (self.offsets, self.valid))
            self._cache["energy"] = float(frames_energy_kernel(tbuf, off, valid, self.starts.numpy(),
                                                               PREEMPHASIS_POLE))
        return self._cache["energy"]

    def flat_arrays(self, torch_device=None):
        """(xbuf, tbuf, offsets, valid) for the compiled kernels: numpy arrays (float32 or float64
        audio as stored, int64 indices), or contiguous tensors on ``torch_device`` (cached)."""
        key = ("flat", str(torch_device))
        if key not in self._cache:
            dev = "cpu" if torch_device is None else torch_device
            arrs = tuple(t.detach().to(dev).contiguous() for t in (self.xbuf, self.tbuf))
            arrs += tuple(t.to(dev, torch.int64).contiguous() for t in (self.offsets, self.valid))
            self._cache[key] = tuple(a.numpy() for a in arrs) if torch_device is None else arrs
        return self._cache[key]

    def signals(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole input and target, (C, T) views of the buffers (no copy)."""
        C, T, stride = self.channels
        return tuple(b.as_strided((C, T), (stride, 1), b.storage_offset()) for b in (self.xbuf, self.tbuf))

    def subset(self, index) -> "Frames":
        """The frames selected by ``index`` (a slice or index tensor); shares the buffers.

        Carried initial states of the subset are those of the whole framing (``root``)."""
        idx = self.index[index]
        if idx.dim() == 0:
            idx = idx.unsqueeze(0)
        root = self.root
        return Frames(self.xbuf, self.tbuf, root.offsets[idx], root.valid[idx], self.frame_length, self.warmup,
                      self.sample_rate, self.channels, root.first[idx], self.initial_state, root, idx,
                      None if root.scored_from is None else root.scored_from[idx])

    def with_initial_state(self, initial_state: str) -> "Frames":
        """The same frames starting from ``"carried"`` states or from ``"rest"`` (shares the buffers)."""
        if check_initial_state(initial_state) == self.initial_state:
            return self
        return self._rebuilt(self.xbuf, self.tbuf, initial_state)

    def to(self, device=None, dtype=None) -> "Frames":
        """Frames with buffers on ``device`` / of ``dtype`` (no copy when nothing changes)."""
        xb, tb = (t.to(device=device, dtype=dtype) for t in (self.xbuf, self.tbuf))
        if xb is self.xbuf and tb is self.tbuf:
            return self
        return self._rebuilt(xb, tb, self.initial_state)

    def _rebuilt(self, xbuf, tbuf, initial_state: str) -> "Frames":
        """These frames over other buffers or initial states: a new root (no cached states), then our subset."""
        root = self.root
        new_root = Frames(xbuf, tbuf, root.offsets, root.valid, root.frame_length, root.warmup, root.sample_rate,
                          root.channels, root.first, initial_state, scored_from=root.scored_from)
        return new_root if root is self else new_root.subset(self.index)


INITIAL_STATES = ("carried", "rest")


def check_initial_state(name: str) -> str:
    """``name`` if it is one of :data:`INITIAL_STATES`; ValueError otherwise."""
    if name not in INITIAL_STATES:
        raise ValueError(f"initial_state must be one of {', '.join(INITIAL_STATES)}; got {name!r}")
    return name


def make_frames(x: torch.Tensor, target: torch.Tensor, sample_rate: int, frame_seconds: float | None = FRAME_SECONDS,
                overlap_seconds: float = OVERLAP_SECONDS, initial_state: str = "rest") -> Frames:
    """Cut a pair of signals (T,) or (C, T) into frames.

    Args:
        x, target: (T,) or (C, T) input and target audio of equal shape; with C
            channels every channel is framed (frames of all channels stacked).
        sample_rate: Hz.
        frame_seconds: frame length in s; None for one frame per channel.
        overlap_seconds: overlap = warm-up length in s (not in the loss, except in a channel's first frame).
        initial_state: ``"rest"`` (default here, every frame from rest) or ``"carried"`` (later
            frames from the whole-signal state; the compiled fused passes only).  ``dspnewton.fit``
            uses ``"carried"`` with the fused strategy.

    Returns:
        :class:`Frames` (one zero-padded copy of each signal; the frames are views).  float64
        audio that float32 holds exactly (float32 or up to 24-bit PCM files) is stored as
        float32: the compiled passes compute in float64 all the same, at half the memory.
    """
    if x.shape != target.shape:
        raise ValueError(f"input and target must have the same shape, got {tuple(x.shape)} and {tuple(target.shape)}")
    if x.dim() == 1:
        x, target = x.unsqueeze(0), target.unsqueeze(0)
    C, T = x.shape
    warmup = int(round(overlap_seconds * sample_rate))
    if overlap_seconds < 0:
        raise ValueError(f"overlap_seconds must be >= 0, got {overlap_seconds}")
    check_initial_state(initial_state)
    if frame_seconds is None:
        L = T
    else:
        L = int(round(frame_seconds * sample_rate))
        if frame_seconds <= overlap_seconds:
            raise ValueError(f"frame_seconds ({frame_seconds}) must exceed overlap_seconds ({overlap_seconds})")
    if T <= warmup and frame_seconds is not None:
        raise ValueError(
            f"the signal ({T / sample_rate:.3g} s) is not longer than the warm-up of {overlap_seconds} s; "
            f"use a longer signal or a smaller overlap"
        )
    L = min(L, T)
    if frame_seconds is None:
        warmup = min(warmup, L - 1)  # one frame per channel: scored from its first sample anyway
    hop = L - warmup
    n = 1 if T <= L else 1 + math.ceil((T - L) / hop)
    span = (n - 1) * hop + L  # padded length of one channel
    # Channels back to back; with one channel the frames are evenly spaced (a strided view).
    stride = span if C > 1 else hop * n
    total = (C - 1) * stride + span
    bufs = _padded_buffers(x, target, total, stride)
    offsets = torch.tensor([c * stride + k * hop for c in range(C) for k in range(n)], dtype=torch.int64)
    valid = torch.tensor([min(L, T - k * hop) for _ in range(C) for k in range(n)], dtype=torch.int64)
    first = torch.tensor([k == 0 for _ in range(C) for k in range(n)], dtype=torch.bool)
    return Frames(bufs[0], bufs[1], offsets, valid, L, warmup, sample_rate, (C, T, stride), first, initial_state)


def make_segment_frames(x: torch.Tensor, target: torch.Tensor, sample_rate: int, segments,
                        warmup_seconds: float = SEGMENT_WARMUP_SECONDS,
                        max_seconds: float = SEGMENT_FRAME_SECONDS) -> Frames:
    """Frames whose loss is exactly the given ranges of one pair, each frame starting from rest.

    The model runs from rest ``warmup_seconds`` before each scored range (from the pair's first sample
    when the range starts earlier than that), so where the warm-up reaches back to sample 0 the loss and
    its derivatives are those of the whole pair rendered from rest, restricted to the ranges: no state
    or tangent is truncated (frames with carried states start their tangents at zero a warm-up before
    the loss, which biases the derivatives of time constants longer than the warm-up).  A range longer
    than ``max_seconds`` is cut into pieces of at most that (bounded memory on long pairs).

    Args:
        x, target: (T,) or (1, T) input and target.
        sample_rate: Hz.
        segments: ``[(lo, hi), ...]`` sample ranges to score, ``0 <= lo < hi <= T``.
        warmup_seconds: how far before a range (piece) its frame starts, s (>= 0).
        max_seconds: the longest scored piece of one frame, s (> 0).

    Returns:
        :class:`Frames` (initial state ``"rest"``; frame f scores samples ``starts[f]`` to ``valid[f]`` of
        itself); ValueError for an empty or out-of-range segment.
    """
    if x.shape != target.shape:
        raise ValueError(f"input and target must have the same shape, got {tuple(x.shape)} and {tuple(target.shape)}")
    if x.dim() not in (1, 2) or (x.dim() == 2 and x.shape[0] != 1):
        raise ValueError(f"segment frames need one channel, (T,) or (1, T); got shape {tuple(x.shape)}")
    x, target = x.reshape(1, -1), target.reshape(1, -1)
    T = x.shape[-1]
    if warmup_seconds < 0 or max_seconds <= 0:
        raise ValueError(f"warmup_seconds must be >= 0 and max_seconds > 0, got {warmup_seconds}, {max_seconds}")
    warm, piece = int(round(warmup_seconds * sample_rate)), max(1, int(round(max_seconds * sample_rate)))
    rows = []  # (frame start, scored from (relative), frame length)
    for lo, hi in segments:
        lo, hi = int(lo), int(hi)
        if not 0 <= lo < hi <= T:
            raise ValueError(f"a scored range must satisfy 0 <= lo < hi <= {T}; got [{lo}, {hi})")
        for a in range(lo, hi, piece):
            b = min(hi, a + piece)
            s = max(0, a - warm)
            rows.append((s, a - s, b - s))
    if not rows:
        raise ValueError("no range to score")
    L = max(n for _, _, n in rows)
    bufs = _padded_buffers(x, target, max(T, max(s for s, _, _ in rows) + L), T)  # every frame's L samples inside
    col = lambda k: torch.tensor([r[k] for r in rows], dtype=torch.int64)  # noqa: E731
    return Frames(bufs[0], bufs[1], col(0), col(2), L, warm, sample_rate, (1, T, T),
                  torch.zeros(len(rows), dtype=torch.bool), "rest", scored_from=col(1))


def _padded_buffers(x: torch.Tensor, target: torch.Tensor, total: int, stride: int) -> list:
    """Flat zero-padded buffers (total,) of x and target (C, T), channel c at ``[c * stride, c * stride + T)``:
    float32 where float32 holds every sample of both exactly (the compiled passes compute in float64 all the
    same), else float64."""
    bufs = []
    for sig in (x, target):
        if sig.dtype == torch.float64 and _float32_exact(sig):
            sig = sig.float()
        buf = sig.new_zeros(total)
        for c in range(sig.shape[0]):
            buf[c * stride:c * stride + sig.shape[1]] = sig[c]
        bufs.append(buf)
    if bufs[0].dtype != bufs[1].dtype:
        bufs = [b.double() for b in bufs]
    return bufs


def _float32_exact(sig: torch.Tensor, chunk: int = 1 << 22) -> bool:
    """Whether every sample of float64 ``sig`` is a float32 value (checked in chunks)."""
    flat = sig.reshape(-1)
    for s in range(0, flat.numel(), chunk):
        part = flat[s:s + chunk]
        if not bool((part.float().double() == part).all()):
            return False
    return True
