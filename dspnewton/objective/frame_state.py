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

**Parallel in time, exactly.**  The frames are split into one contiguous chunk per
thread; every chunk runs at once (the frame bodies release the GIL), each from a
guess of its first state (the states of the last parameter point evaluated, or
rest).  Then, in order, each chunk's guess is compared bit for bit with the state
the previous chunk ended in; where they differ, the chunk's frames are run again
from the exact state, one by one, until a frame's end state equals the one the
parallel run found: the two trajectories have merged, and since the computation
is deterministic everything after that point is already exact.  The dynamics
forget their start (a compressor's gain and the pre-emphasis are contractions),
and measured here they merge within one frame even at a 5 s release; where they
do not, the rerun simply continues.  The result is bit-identical to the plain
sequential pass.
"""

from __future__ import annotations

from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numba as nb
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
        run_sequential: ``run_sequential(lo, hi, init, out_l)`` runs the model's first sweep over the
            root's frames ``lo .. hi - 1`` in order: frame ``lo + j`` reads ``init[j]`` and writes the
            next frame's state to ``init[j + 1]`` (where the next frame continues its channel) and its
            loss to ``out_l[j]``; it must release the GIL (a ``nogil`` numba function).
    """
    rest = np.asarray(rest, dtype=np.float64)
    if not frames.carried:
        return np.tile(rest, (frames.n_frames, 1)), None
    root = frames.root
    cache = root._cache.setdefault("frame_states", OrderedDict())
    if key not in cache:
        # Guess from the latest states of the same shape (any model's: a guess only needs to be close).
        guess = next((v[0] for v in reversed(cache.values()) if v[0].shape[1] == rest.shape[0]), None)
        cache[key] = _carry(root, rest, guess, run_sequential, max(1, nb.get_num_threads()))
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    init, out_l = cache[key]
    idx = frames.index.numpy()
    return np.ascontiguousarray(init[idx]), out_l[idx]


def _carry(root, rest: np.ndarray, guess, run_sequential: Callable, threads: int):
    """(init (F, S), out_l (F,)) of the root framing, bit-identical to one sequential pass (module docstring)."""
    F = root.n_frames
    first = root.first.numpy()
    init = np.tile(rest, (F + 1, 1))  # row F: the state after the last frame (unused)
    out_l = np.zeros(F)
    bounds = np.linspace(0, F, min(threads, F) + 1).round().astype(int)
    chunks = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    for lo, _ in chunks[1:]:  # each later chunk starts from a guess (rest where a channel begins)
        if not first[lo] and guess is not None:
            init[lo] = guess[lo]
    start_guess = {lo: init[lo].copy() for lo, _ in chunks}

    def run(chunk):
        lo, hi = chunk
        local = np.tile(rest, (hi - lo + 1, 1))
        local[0] = start_guess[lo]  # its own copy: the previous chunk writes its end state to row lo
        run_sequential(lo, hi, local, out_l[lo:hi])
        init[lo + 1:hi + 1] = local[1:]

    if len(chunks) > 1:
        with ThreadPoolExecutor(len(chunks)) as pool:
            list(pool.map(run, chunks))
    else:
        run(chunks[0])
    # In order: where a chunk's guess was not the state the previous chunk ended in, rerun it from the
    # exact state until its trajectory merges with the parallel one.
    for (lo, hi), (plo, phi) in zip(chunks[1:], chunks[:-1]):
        exact = rest if first[lo] else init[lo]  # the previous chunk is exact by now
        if np.array_equal(exact, start_guess[lo]):
            continue
        state = exact.copy()
        for f in range(lo, hi):
            local = np.empty((2, rest.shape[0]))
            local[0] = state
            local[1] = rest
            loss = np.zeros(1)
            run_sequential(f, f + 1, local, loss)
            init[f], out_l[f] = state, loss[0]
            state = rest if f + 1 < F and first[f + 1] else local[1]
            if f + 1 < hi and np.array_equal(state, init[f + 1]):
                break  # merged: the rest of the chunk is exact already
        else:
            init[hi] = state  # the chunk's end state changed: the next chunk is checked against it
    return init[:F], out_l
