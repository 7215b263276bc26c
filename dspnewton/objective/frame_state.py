"""Initial states of frames: rest, or carried over from a pass over the whole signal.

With ``Frames.initial_state == "carried"`` every frame that does not begin its
channel starts from the state that one continuous pass over the whole signal has
at the frame's first sample.  Those states come from one sequential forward pass
(the first sweep of the model's own frame body, run frame after frame over the
root framing, each frame writing the state ``hop`` samples in to the next
frame's row): the loss of that pass is the exact whole-signal loss, so a loss-
only evaluation (line search) is that pass alone, and the states are cached for
the derivative pass at the same parameters that usually follows.

The derivative passes then run every frame in parallel from its state, with
sensitivities starting at zero at the frame's first sample (truncated at the
boundary, ``overlap_seconds`` before the frame's loss region).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

import numpy as np

__all__ = ["snap_offsets", "frame_states"]

_CACHE_SIZE = 4  # parameter points kept per framing (a line search and the next derivative pass)


def snap_offsets(frames) -> np.ndarray:
    """(F,) int64 of the root framing: samples after which frame f's state starts frame f + 1
    (its hop), or -1 where frame f + 1 begins another channel or does not exist."""
    root = frames.root
    off = root.offsets.numpy()
    first = root.first.numpy()
    out = np.full(off.shape[0], -1, dtype=np.int64)
    nxt = np.arange(1, off.shape[0])
    cont = ~first[1:]
    out[:-1][cont] = (off[nxt] - off[:-1])[cont]
    return out


def frame_states(frames, key: bytes, rest: tuple, run_sequential: Callable) -> tuple[np.ndarray, np.ndarray | None]:
    """Initial states (F, S) float64 of ``frames``' frames and, when carried, the per-frame losses (F,)
    of the sequential pass that made them (None at rest).

    Args:
        frames: :class:`~dspnewton.objective.framing.Frames` (a subset shares its root's states).
        key: identifies the parameters (and model) the states belong to (cache key).
        rest: the model's rest state (S values).
        run_sequential: ``run_sequential(init, snap_at, out_l)`` runs the model's first sweep over
            the root's frames in order, reading ``init[f]`` and writing ``init[f + 1]`` at
            ``snap_at[f]``, and the frames' losses into ``out_l`` (F_root,).
    """
    rest = np.asarray(rest, dtype=np.float64)
    if not frames.carried:
        return np.tile(rest, (frames.n_frames, 1)), None
    root = frames.root
    cache = root._cache.setdefault("frame_states", OrderedDict())
    if key not in cache:
        init = np.tile(rest, (root.n_frames, 1))
        out_l = np.zeros(root.n_frames)
        run_sequential(init, snap_offsets(root), out_l)
        cache[key] = (init, out_l)
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    init, out_l = cache[key]
    idx = frames.index.numpy()
    return np.ascontiguousarray(init[idx]), out_l[idx]
