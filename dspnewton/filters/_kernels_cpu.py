"""Sequential numba kernels (CPU), parallel over the batch with ``prange``.

The per-signal bodies are :mod:`._rows` (shared with the CUDA kernels).  All
kernels write into a preallocated output and work for float32 and float64 (one
compiled specialisation each, cached on disk with ``cache=True``).  Arrays may
be strided (e.g. broadcast views with stride 0).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from . import _rows

__all__ = ["recurrence_forward", "allpole_forward", "ballistics_forward"]

_recurrence_row = nb.njit(cache=True, nogil=True)(_rows.recurrence_row)
_allpole_row = nb.njit(cache=True, nogil=True)(_rows.allpole_row)
_ballistics_row = nb.njit(cache=True, nogil=True)(_rows.ballistics_row)


@nb.njit(parallel=True, cache=True, nogil=True)
def recurrence_forward(a, x, y0, out):  # pragma: no cover - compiled
    """``out[b, n] = a[b, n] * out[b, n-1] + x[b, n]``, ``out[b, -1] = y0[b]``; a, x, out (B, T), y0 (B,)."""
    for b in nb.prange(x.shape[0]):
        _recurrence_row(b, a, x, y0, out)


@nb.njit(parallel=True, cache=True, nogil=True)
def allpole_forward(x, A, zi, out):  # pragma: no cover - compiled
    """``out[b, n] = x[b, n] - sum_i A[b, n, i-1] * out[b, n-i]``; x, out (B, T), A (B, T, N), zi (B, N)."""
    for b in nb.prange(x.shape[0]):
        _allpole_row(b, x, A, zi, out)


def as_numpy(t) -> np.ndarray:
    """A numpy view of a CPU tensor (no copy where the layout allows)."""
    return t.detach().numpy()


@nb.njit(parallel=True, cache=True, nogil=True)
def ballistics_forward(gh, at, rt, g0, out, mask):  # pragma: no cover - compiled
    """Attack/release smoother (see :func:`._rows.ballistics_row`); gh, out (B, T), mask (B, T)
    uint8 (1 = attack), at, rt, g0 (B,)."""
    for b in nb.prange(gh.shape[0]):
        _ballistics_row(b, gh, at, rt, g0, out, mask)
