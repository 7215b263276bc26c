"""Sequential numba kernels (CPU), parallel over the batch with ``prange``.

All kernels write into a preallocated output and work for float32 and float64
(one compiled specialisation each, cached on disk with ``cache=True``).
Arrays may be strided (e.g. broadcast views with stride 0).
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["recurrence_forward", "allpole_forward"]


@nb.njit(parallel=True, cache=True, nogil=True)
def recurrence_forward(a, x, y0, out):  # pragma: no cover - compiled
    """``out[b, n] = a[b, n] * out[b, n-1] + x[b, n]``, ``out[b, -1] = y0[b]``.

    Shapes: a, x, out (B, T); y0 (B,).
    """
    B, T = x.shape
    for b in nb.prange(B):
        s = y0[b]
        for n in range(T):
            s = a[b, n] * s + x[b, n]
            out[b, n] = s


@nb.njit(parallel=True, cache=True, nogil=True)
def allpole_forward(x, A, zi, out):  # pragma: no cover - compiled
    """``out[b, n] = x[b, n] - sum_i A[b, n, i-1] * out[b, n-i]`` for i = 1..N.

    Initial state: ``out[b, -k] = zi[b, k-1]`` (most recent first).
    Shapes: x, out (B, T); A (B, T, N); zi (B, N).
    """
    B, T = x.shape
    N = A.shape[2]
    for b in nb.prange(B):
        # Warm-up samples that still read the initial state.
        head = min(N, T)
        for n in range(head):
            acc = x[b, n]
            for i in range(1, N + 1):
                m = n - i
                if m >= 0:
                    acc -= A[b, n, i - 1] * out[b, m]
                else:
                    acc -= A[b, n, i - 1] * zi[b, -m - 1]
            out[b, n] = acc
        for n in range(head, T):
            acc = x[b, n]
            for i in range(1, N + 1):
                acc -= A[b, n, i - 1] * out[b, n - i]
            out[b, n] = acc


def as_numpy(t) -> np.ndarray:
    """A numpy view of a CPU tensor (no copy where the layout allows)."""
    return t.detach().numpy()


@nb.njit(parallel=True, cache=True, nogil=True)
def ballistics_forward(gh, at, rt, g0, out, mask):  # pragma: no cover - compiled
    """Attack/release one-pole smoother of a target gain.

    ``c = at[b]`` when ``gh[b, n] < g[b, n-1]`` (attack) else ``rt[b]``;
    ``g[b, n] = (1 - c) * g[b, n-1] + c * gh[b, n]``, ``g[b, -1] = g0[b]``.
    Shapes: gh, out (B, T); mask (B, T) uint8 (1 = attack); at, rt, g0 (B,).
    The update is written exactly as :func:`recurrence_forward` evaluates it
    (``a * s + x`` with ``a = 1 - c``, ``x = c * gh``), so both agree bit for bit.
    """
    B, T = gh.shape
    for b in nb.prange(B):
        g = g0[b]
        ca = at[b]
        cr = rt[b]
        for n in range(T):
            f = gh[b, n]
            attack = f < g
            c = ca if attack else cr
            mask[b, n] = attack
            g = (1 - c) * g + c * f
            out[b, n] = g
