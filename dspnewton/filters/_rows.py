"""Per-signal bodies of the sequential filter kernels (plain Python source).

Compiled twice from this one source, as the fused frames are: with
``numba.njit`` for the CPU kernels (:mod:`._kernels_cpu`, ``prange`` over the
batch) and with ``numba.cuda.jit(device=True)`` for the CUDA kernels
(:mod:`._cuda_device`, one thread per signal).  Only scalars, loops and
caller-provided arrays are used, so the code is valid in both targets.
"""


def recurrence_row(b, a, x, y0, out):
    """``out[b, n] = a[b, n] * out[b, n-1] + x[b, n]``, ``out[b, -1] = y0[b]``; a, x, out (B, T), y0 (B,)."""
    s = y0[b]
    for n in range(x.shape[1]):
        s = a[b, n] * s + x[b, n]
        out[b, n] = s


def allpole_row(b, x, A, zi, out):
    """``out[b, n] = x[b, n] - sum_i A[b, n, i-1] * out[b, n-i]`` for i = 1..N.

    Initial state ``out[b, -k] = zi[b, k-1]`` (most recent first); x, out (B, T), A (B, T, N), zi (B, N).
    """
    T = x.shape[1]
    N = A.shape[2]
    head = min(N, T)  # warm-up samples that still read the initial state
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


def ballistics_row(b, gh, at, rt, g0, out, mask):
    """Attack/release smoother: ``c = at[b]`` when ``gh[b, n] < g[b, n-1]`` (mask 1) else ``rt[b]``;
    ``g[b, n] = (1 - c) g[b, n-1] + c gh[b, n]``, ``g[b, -1] = g0[b]``.

    Written as :func:`recurrence_row` evaluates ``a * s + x`` with ``a = 1 - c``, ``x = c gh``,
    so both agree bit for bit.
    """
    g = g0[b]
    ca = at[b]
    cr = rt[b]
    for n in range(gh.shape[1]):
        f = gh[b, n]
        if f < g:
            c = ca
            mask[b, n] = 1
        else:
            c = cr
            mask[b, n] = 0
        g = (1 - c) * g + c * f
        out[b, n] = g
