"""numba.cuda kernels of the fused passes, ``ff5`` and grey-box (one thread per frame), imported lazily.

The frame bodies are compiled as device functions from the same source as the
CPU kernel (:mod:`._fused_frame`).  ``cuda`` is a module global so that numba's
simulator can run these kernels without a GPU.
"""

from numba import cuda

from . import _fused_frame as ff
from . import _greybox_frame as gb

_frame = cuda.jit(device=True)(ff.fused_frame)


@cuda.jit
def fused_kernel(xbuf, tbuf, off, starts, valid, init, snap_at, ct, s, aat, art, gm, pole, sc, ub, gb, out_l, out_g,
                 out_h, derivatives):  # pragma: no cover
    f = cuda.grid(1)
    if f < off.shape[0]:
        _frame(f, xbuf, tbuf, off, starts, valid, init, snap_at, ct, s, aat, art, gm, pole, sc, ub, gb, out_l, out_g,
               out_h, derivatives)


_greybox_frame = cuda.jit(device=True)(gb.greybox_frame)


@cuda.jit
def greybox_kernel(xbuf, tbuf, off, valid, starts, init, snap_at, C, pos, flags, hp_g, hp_a1, pole, sbuf, rbuf, hbuf,
                   lbuf, tan, ct, hacc, racc, gacc, out_l, derivatives):  # pragma: no cover
    f = cuda.grid(1)
    if f < off.shape[0]:
        _greybox_frame(f, xbuf, tbuf, off, valid, starts, init, snap_at, C, pos, flags, hp_g, hp_a1, pole, sbuf, rbuf,
                       hbuf, lbuf, tan, ct, hacc, racc, gacc, out_l, derivatives)
