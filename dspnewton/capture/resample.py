"""Band-limited interpolation of a signal at arbitrary (fractional, drifting) positions:
how a recording is moved onto the capture signal's clock.

``interpolate(x, t0, step, n)`` returns ``x(t0 + i * step)`` for ``i = 0..n-1``: a
64-tap Kaiser-windowed sinc (beta 10, about -90 dB side lobes), tabulated at 1024
phases with linear interpolation between them.  At integer positions it returns the
samples themselves (exactly), so a recording that needs no correction is not changed.
Positions outside the signal read zeros.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["interpolate", "HALF_TAPS"]

HALF_TAPS = 32
_PHASES = 1024
_BETA = 10.0


def _table() -> np.ndarray:
    """(PHASES + 1, 2 * HALF_TAPS): kernel value h(f - j) for phase f = p / PHASES and tap j."""
    f = np.arange(_PHASES + 1)[:, None] / _PHASES
    j = np.arange(-HALF_TAPS + 1, HALF_TAPS + 1)[None, :]
    u = f - j
    w = np.i0(_BETA * np.sqrt(np.clip(1.0 - (u / HALF_TAPS) ** 2, 0.0, None))) / np.i0(_BETA)
    table = np.sinc(u) * w
    table[0], table[-1] = 0.0, 0.0  # whole-sample positions: exactly the samples
    table[0, HALF_TAPS - 1] = table[-1, HALF_TAPS] = 1.0
    return table


_TABLE = _table()


@nb.njit(cache=True, parallel=True)
def _interpolate(x, t0, step, n, table, half):  # pragma: no cover - compiled
    out = np.zeros(n)
    phases = table.shape[0] - 1
    size = x.shape[0]
    for i in nb.prange(n):
        t = t0 + i * step
        base = int(np.floor(t))
        frac = (t - base) * phases
        p = int(frac)
        if p >= phases:
            p = phases - 1
        w = frac - p
        acc = 0.0
        for j in range(2 * half):
            k = base + j - half + 1
            if 0 <= k < size:
                acc += x[k] * (table[p, j] * (1.0 - w) + table[p + 1, j] * w)
        out[i] = acc
    return out


def interpolate(x: np.ndarray, t0: float, step: float, n: int) -> np.ndarray:
    """``x(t0 + i * step)`` for i in 0..n-1 (float64, (n,)); x: (T,) samples."""
    return _interpolate(np.ascontiguousarray(x, dtype=np.float64), float(t0), float(step), int(n), _TABLE, HALF_TAPS)
