"""numba.cuda kernels of the fused pass (one thread per frame), imported lazily.

The frame bodies are compiled as device functions from the same source as the
CPU kernel (:mod:`._fused_frame`).  ``cuda`` is a module global so that numba's
simulator can run these kernels without a GPU.
"""

from numba import cuda

from . import _fused_frame as ff

_frame = cuda.jit(device=True)(ff.fused_frame)


@cuda.jit
def fused_kernel(x, xdb, tpe, start, valid, ct, s, aat, art, gm, pole, sc, out_l, out_g, out_h, derivatives):  # pragma: no cover
    f = cuda.grid(1)
    if f < x.shape[0]:
        _frame(f, x, xdb, tpe, start, valid, ct, s, aat, art, gm, pole, sc, out_l, out_g, out_h, derivatives)
