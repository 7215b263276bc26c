"""Compiled energy of pre-emphasised frames of a signal (plain loop: no signal-sized buffer)."""

import numba as nb


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
