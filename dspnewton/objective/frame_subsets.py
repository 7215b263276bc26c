"""Subsets of frames that cover a file, and the schedule by which progressive Newton grows them.

Far from the optimum a few well-chosen frames say as much about the next Newton step as all of them.
:func:`covering_subset` picks ``n`` frames that cover the pair:

- both ends: every channel's first frame (scored from sample 0 with the model starting from rest, the
  start-up a listener hears) and its last frame;
- levels and material: the other frames are ranked by the input level of their loss region (dB RMS)
  and cut into equal strata, one per frame still to choose; in each stratum the frame whose spectral
  tilt (high-band share: energy of the first difference over energy, in dB) lies farthest from the
  frames chosen so far is taken, so loud and quiet passages and dark and bright material are all in.
  Ties are broken by a seeded random order, so a subset is a function of the audio and the seed alone
  (fits are reproducible bit for bit).

:func:`growth_schedule` gives the subset sizes: each stage has four times the frames of the one before,
the smallest at least :data:`MIN_SUBSET_FRAMES`, the last all of them; a file with fewer than
``2 * MIN_SUBSET_FRAMES`` frames is fitted on all its frames from the start.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["MIN_SUBSET_FRAMES", "GROWTH", "SEED", "growth_schedule", "frame_features", "covering_subset"]

MIN_SUBSET_FRAMES = 6
GROWTH = 4
SEED = 0


def growth_schedule(n_frames: int, min_frames: int = MIN_SUBSET_FRAMES, growth: int = GROWTH) -> list[int]:
    """Subset sizes of progressive Newton for ``n_frames`` frames, smallest first, ending with ``n_frames``.

    ``[n_frames]`` alone when the file has fewer than ``2 * min_frames`` frames."""
    if n_frames < 2 * min_frames:
        return [n_frames]
    sizes = [n_frames]
    while True:
        nxt = math.ceil(sizes[0] / growth)
        if nxt < min_frames:
            break
        sizes.insert(0, nxt)
    if len(sizes) == 1:
        sizes.insert(0, min_frames)
    return sizes


def frame_features(frames) -> tuple[np.ndarray, np.ndarray]:
    """(level dB (F,), tilt dB (F,)) of each frame's loss region of the input: RMS level, and the energy of
    the first difference relative to the energy (how bright the material is)."""
    xbuf = frames.xbuf.detach().cpu().numpy()
    off, valid, starts = (a.numpy() for a in (frames.offsets, frames.valid, frames.starts))
    level, tilt = np.empty(len(off)), np.empty(len(off))
    for f, (o, v, s) in enumerate(zip(off, valid, starts)):
        seg = xbuf[o + s:o + v].astype(np.float64)
        e = float(np.dot(seg, seg)) / max(len(seg), 1) + 1e-20
        d = np.diff(seg)
        level[f] = 10.0 * np.log10(e)
        tilt[f] = 10.0 * np.log10((float(np.dot(d, d)) / max(len(d), 1) + 1e-20) / e)
    return level, tilt


def covering_subset(frames, n: int, seed: int = SEED) -> torch.Tensor:
    """Sorted int64 indices of ``n`` frames of ``frames`` that cover it (module docstring); all when ``n`` >= F."""
    F = frames.n_frames
    if n >= F:
        return torch.arange(F)
    first = frames.first.numpy()
    ends = set(np.flatnonzero(first).tolist())
    ends |= {f - 1 for f in np.flatnonzero(first)[1:].tolist()} | {F - 1}
    chosen = sorted(ends)[:n]
    rest = np.setdiff1d(np.arange(F), chosen)
    k = n - len(chosen)
    if k <= 0 or rest.size == 0:
        return torch.tensor(sorted(chosen), dtype=torch.int64)
    level, tilt = frame_features(frames)
    order = np.random.default_rng(seed).permutation(rest.size)  # the seeded tie-break
    ranked = rest[order][np.argsort(level[rest[order]], kind="stable")]
    for stratum in np.array_split(ranked, k):
        picked = np.array(chosen)
        distance = np.abs(tilt[stratum][:, None] - tilt[picked][None, :]).min(axis=1)
        chosen.append(int(stratum[int(np.argmax(distance))]))
    return torch.tensor(sorted(chosen), dtype=torch.int64)
