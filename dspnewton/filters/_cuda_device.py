"""numba.cuda device code, imported lazily by :mod:`._kernels_cuda`.

The per-signal bodies are :mod:`._rows` (shared with the CPU kernels), compiled
here as device functions.  Kept in its own module so that ``numba.cuda`` (slow
to import) loads only when a CUDA kernel is first used, and so that the kernels
see ``cuda`` as a module global, which numba's simulator
(``NUMBA_ENABLE_CUDASIM=1``) requires.
"""

from numba import cuda

from . import _rows

_recurrence_row = cuda.jit(device=True)(_rows.recurrence_row)
_allpole_row = cuda.jit(device=True)(_rows.allpole_row)
_ballistics_row = cuda.jit(device=True)(_rows.ballistics_row)


@cuda.jit(cache=True)
def recurrence_kernel(a, x, y0, out):  # pragma: no cover - device code
    """One thread per row (see :func:`._rows.recurrence_row`)."""
    b = cuda.grid(1)
    if b < x.shape[0]:
        _recurrence_row(b, a, x, y0, out)


@cuda.jit(cache=True)
def allpole_kernel(x, A, zi, out):  # pragma: no cover - device code
    """One thread per row (see :func:`._rows.allpole_row`)."""
    b = cuda.grid(1)
    if b < x.shape[0]:
        _allpole_row(b, x, A, zi, out)


@cuda.jit(cache=True)
def ballistics_kernel(gh, at, rt, g0, out, mask):  # pragma: no cover - device code
    """One thread per row (see :func:`._rows.ballistics_row`)."""
    b = cuda.grid(1)
    if b < gh.shape[0]:
        _ballistics_row(b, gh, at, rt, g0, out, mask)
