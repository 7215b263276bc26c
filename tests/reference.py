"""Plain Python reference loops (float64 numpy) that the backends are tested against."""

from __future__ import annotations

import numpy as np


def recurrence_loop(a, x, y0):
    a, x, y0 = (np.asarray(v, dtype=np.float64) for v in (a, x, y0))
    y = np.empty_like(x)
    for b in range(x.shape[0]):
        s = y0[b]
        for n in range(x.shape[1]):
            s = a[b, n] * s + x[b, n]
            y[b, n] = s
    return y


def allpole_loop(x, A, zi):
    x, A, zi = (np.asarray(v, dtype=np.float64) for v in (x, A, zi))
    B, T = x.shape
    N = A.shape[2]
    y = np.empty_like(x)
    for b in range(B):
        hist = list(zi[b])  # hist[k-1] = y[n-k]
        for n in range(T):
            v = x[b, n] - sum(A[b, n, i] * hist[i] for i in range(N))
            y[b, n] = v
            hist = [v] + hist[:-1]
    return y


def lfilter_loop(x, a, b):
    """Direct form I difference equation, a[0] normalised."""
    x = np.asarray(x, dtype=np.float64)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a, b = a / a[0], b / a[0]
    y = np.zeros_like(x)
    for r in range(x.shape[0]):
        for n in range(x.shape[1]):
            acc = sum(b[j] * x[r, n - j] for j in range(len(b)) if n - j >= 0)
            acc -= sum(a[i] * y[r, n - i] for i in range(1, len(a)) if n - i >= 0)
            y[r, n] = acc
    return y
