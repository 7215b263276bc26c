"""numba.cuda device code, imported lazily by :mod:`._kernels_cuda`.

Kept in its own module so that ``numba.cuda`` (slow to import) loads only when
a CUDA kernel is first used, and so that the kernels see ``cuda`` as a module
global, which numba's simulator (``NUMBA_ENABLE_CUDASIM=1``) requires.
"""

from numba import cuda


@cuda.jit(cache=True)
def recurrence_kernel(a, x, y0, out):  # pragma: no cover - device code
    """One thread per row: ``out[b, n] = a[b, n] out[b, n-1] + x[b, n]``."""
    b = cuda.grid(1)
    if b < x.shape[0]:
        s = y0[b]
        for n in range(x.shape[1]):
            s = a[b, n] * s + x[b, n]
            out[b, n] = s


@cuda.jit(cache=True)
def allpole_kernel(x, A, zi, out):  # pragma: no cover - device code
    """One thread per row: ``out[b, n] = x[b, n] - sum_i A[b, n, i-1] out[b, n-i]``."""
    b = cuda.grid(1)
    if b < x.shape[0]:
        N = A.shape[2]
        for n in range(x.shape[1]):
            acc = x[b, n]
            for i in range(1, N + 1):
                m = n - i
                if m >= 0:
                    acc -= A[b, n, i - 1] * out[b, m]
                else:
                    acc -= A[b, n, i - 1] * zi[b, -m - 1]
            out[b, n] = acc


@cuda.jit(cache=True)
def ballistics_kernel(gh, at, rt, g0, out, mask):  # pragma: no cover - device code
    """One thread per row: attack/release smoother (see _kernels_cpu.ballistics_forward)."""
    b = cuda.grid(1)
    if b < gh.shape[0]:
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
