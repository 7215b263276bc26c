"""Compiled energy of a pre-emphasised signal (plain loop: no signal-sized buffer)."""

import numba as nb


@nb.njit(cache=True, nogil=True)
def preemphasis_energy_kernel(x, pole):  # pragma: no cover - compiled
    """Sum of squares of ``(1 - z^-1) / (1 - pole z^-1)`` applied to x (T,) from a zero state, in float64."""
    y = 0.0
    prev = 0.0
    total = 0.0
    for n in range(x.shape[0]):
        xn = float(x[n])
        y = xn - prev + pole * y
        prev = xn
        total += y * y
    return total


@nb.njit(cache=True, nogil=True)
def frames_energy_kernel(tbuf, off, valid, starts, pole):  # pragma: no cover - compiled
    """Sum over frames f of the squared pre-emphasised target ``tbuf[off[f] : off[f] + valid[f]]`` (the filter
    restarted at each frame's first sample) over its loss region ``n >= starts[f]``, in float64."""
    total = 0.0
    for f in range(off.shape[0]):
        o = off[f]
        y = 0.0
        prev = 0.0
        for n in range(valid[f]):
            xn = float(tbuf[o + n])
            y = xn - prev + pole * y
            prev = xn
            if n >= starts[f]:
                total += y * y
    return total
