"""The ``fused`` Hessian strategy: exact loss, gradient and full Hessian in one pass.

Per frame, a forward sweep (residual), a backward sweep (the adjoint residual
through the pre-emphasis filter) and a forward sweep that carries the first-
and second-order sensitivities of the ballistics state and the first-order
sensitivities of the pre-emphasis state, accumulating loss, gradient and
Hessian sample by sample (see :mod:`._fused_frame`): no autograd tape, and one
frame-sized buffer beyond the audio itself.  numba on CPU
(parallel over frames), numba.cuda on GPU (one thread per frame).

The kernel differentiates with respect to phi = (CT, s = 1 - 1/R, alpha_at,
alpha_rt, gamma); each phi_i depends on theta_i alone, so the chain rule to
theta is diagonal: ``H_theta = J H_phi J + diag(grad_phi * phi'')``.
"""

from __future__ import annotations

import functools

import numba as nb
import numpy as np
import torch

from ..model.params import RANGES, _coef_bounds
from . import _fused_frame as ff
from .frame_state import frame_states, snap_offsets
from .framing import Frames
from .preemphasis import PREEMPHASIS_POLE

__all__ = ["fused_loss_grad_hess", "fused_loss_grad", "fused_loss", "theta_to_phi"]

_frame_cpu = nb.njit(cache=True, nogil=True)(ff.fused_frame)


@nb.njit(parallel=True, cache=True, nogil=True)
def _fused_cpu(xbuf, tbuf, off, starts, valid, init, snap_at, ct, s, aat, art, gm, pole, sc, ub, gb, out_l, out_g,
               out_h, derivatives):  # pragma: no cover
    for f in nb.prange(off.shape[0]):  # f as int64, and derivatives a runtime int: one compiled frame body for both
        _frame_cpu(np.int64(f), xbuf, tbuf, off, starts, valid, init, snap_at, ct, s, aat, art, gm, pole, sc, ub, gb,
                   out_l, out_g, out_h, derivatives)


@nb.njit(cache=True, nogil=True)
def _fused_sequential(xbuf, tbuf, off, starts, valid, init, snap_at, ct, s, aat, art, gm, pole, sc, ub, gb, out_l,
                      out_g, out_h, derivatives):  # pragma: no cover
    for f in range(off.shape[0]):  # in order: frame f writes frame f + 1's initial state
        _frame_cpu(f, xbuf, tbuf, off, starts, valid, init, snap_at, ct, s, aat, art, gm, pole, sc, ub, gb, out_l,
                   out_g, out_h, derivatives)

REST = (1.0, 0.0, 0.0, 0.0, 0.0)  # g, y[-1], pe(y)[-1], t[-1], pe(t)[-1]


@functools.lru_cache(maxsize=None)
def _cuda_kernels():
    """(numba.cuda, fused kernel), imported on first use."""
    from ..filters._kernels_cuda import _compiled

    cuda = _compiled()[0]  # imports numba.cuda with its NumPy compatibility shim
    from . import _fused_cuda

    return cuda, _fused_cuda.fused_kernel


def theta_to_phi(theta: torch.Tensor, sample_rate: int):
    """phi (5,), dphi/dtheta (5,) and d2phi/dtheta2 (5,) as float64 numpy arrays."""
    t = theta.detach().double().cpu().numpy()
    sig = torch.sigmoid(torch.from_numpy(t)).numpy()
    d1 = sig * (1 - sig)
    d2 = d1 * (1 - 2 * sig)
    r_lo, r_hi = RANGES["ratio"]
    R = r_lo + (r_hi - r_lo) * sig[1]
    R1, R2 = (r_hi - r_lo) * d1[1], (r_hi - r_lo) * d2[1]
    at_lo, at_hi = _coef_bounds("attack_ms", sample_rate)
    rt_lo, rt_hi = _coef_bounds("release_ms", sample_rate)
    phi = np.array([t[0], 1 - 1 / R, at_lo + (at_hi - at_lo) * sig[2], rt_lo + (rt_hi - rt_lo) * sig[3], t[4]])
    j1 = np.array([1.0, R1 / R**2, (at_hi - at_lo) * d1[2], (rt_hi - rt_lo) * d1[3], 1.0])
    j2 = np.array([0.0, R2 / R**2 - 2 * R1**2 / R**3, (at_hi - at_lo) * d2[2], (rt_hi - rt_lo) * d2[3], 0.0])
    return phi, j1, j2


def _upper_to_full(h_upper: np.ndarray, n: int = 5) -> np.ndarray:
    H = np.zeros((n, n))
    k = 0
    for p in range(n):
        for q in range(p, n):
            H[p, q] = H[q, p] = h_upper[k]
            k += 1
    return H


def _as_kernel_arg(cuda, t):
    """A device array for CUDA tensors; the host array under numba's simulator."""
    if isinstance(t, torch.Tensor):
        return cuda.as_cuda_array(t) if t.device.type == "cuda" else t.numpy()
    return t


def _launch(kernel, F: int, *args) -> None:
    cuda = _cuda_kernels()[0]
    threads = 32
    kernel[(F + threads - 1) // threads, threads](*(_as_kernel_arg(cuda, a) for a in args))


def _use_cuda_kernel(frames: Frames, kernel: str) -> bool:
    if kernel not in ("auto", "cpu", "cuda"):
        raise ValueError(f"kernel must be auto, cpu or cuda; got {kernel!r}")
    return kernel == "cuda" or (kernel == "auto" and frames.xbuf.device.type == "cuda")


def _states(phi: np.ndarray, frames: Frames, pole: float):
    """Initial states (F, 5) and, when carried, the sequential pass's per-frame losses (see :mod:`.frame_state`)."""
    root = frames.root
    xbuf, tbuf, off, valid = root.flat_arrays()
    starts, snap_at = root.starts.numpy(), snap_offsets(root)

    def run(lo, hi, init, out_l):
        z = np.zeros((1, 1))
        _fused_sequential(xbuf, tbuf, off[lo:hi], starts[lo:hi], valid[lo:hi], init, snap_at[lo:hi], *phi.tolist(),
                          pole, z, z, z, out_l, z, z, ff.LOSS)

    return frame_states(frames, b"ff5" + phi.tobytes() + np.float64(pole).tobytes(), REST, run)


def _run(theta: torch.Tensor, frames: Frames, pole: float, kernel: str, derivatives: int, chunk: int | None = None):
    """Run the fused kernel; returns (loss, grad_phi (5,), H_phi upper (15,)) as floats/numpy.

    ``derivatives``: ``ff.LOSS``, ``ff.GRADIENT`` (H_phi zero) or ``ff.HESSIAN``.

    Frames go through in chunks of ``chunk`` (default: the numba threads on CPU, all on GPU),
    so the scratch buffer is O(frame) per frame in flight.  With carried initial states a
    loss-only call is the sequential pass that carries them (the exact whole-signal loss).
    """
    phi, _, _ = theta_to_phi(theta, frames.sample_rate)
    F, L = frames.n_frames, frames.frame_length
    init, seq_loss = _states(phi, frames, pole)
    if seq_loss is not None and not derivatives:
        return float(seq_loss.sum()), np.zeros(5), np.zeros(15)
    gpu = _use_cuda_kernel(frames, kernel)
    xbuf, tbuf, off, valid = frames.flat_arrays(torch_device=frames.xbuf.device if gpu else None)
    starts = frames.starts.numpy()
    snap_at = np.full(F, -1, dtype=np.int64)
    if gpu:
        dev = frames.xbuf.device
        init, starts, snap_at = (torch.from_numpy(a).to(dev) for a in (init, starts, snap_at))
    if chunk is None:
        chunk = F if gpu else max(1, nb.get_num_threads())
    loss, g, h = 0.0, np.zeros(5), np.zeros(15)
    width = L if derivatives else 1
    chunk = min(chunk, F)
    if gpu:
        new = functools.partial(torch.zeros, dtype=torch.float64, device=xbuf.device)
    else:
        def new(*shape):
            return np.zeros(shape)
    # Scratch and outputs, reused by every chunk: each frame overwrites what it reads.
    buf, ub, gb = new(chunk, width), new(chunk, width), new(chunk, width)
    out_l, out_g, out_h = new(chunk), new(chunk, 5), new(chunk, 15)
    for s in range(0, F, chunk):
        n = min(chunk, F - s)
        args = (xbuf, tbuf, off[s:s + n], starts[s:s + n], valid[s:s + n], init[s:s + n], snap_at[s:s + n],
                *phi.tolist(), pole, buf, ub, gb, out_l, out_g, out_h, derivatives)
        if gpu:
            _launch(_cuda_kernels()[1], n, *args)
        else:
            _fused_cpu(*args)
        loss += float(out_l[:n].sum())
        g += _host(out_g[:n].sum(0))
        h += _host(out_h[:n].sum(0))
    return loss, g, h


def _host(a) -> np.ndarray:
    """A numpy array of a (device) tensor or numpy array."""
    return a.cpu().numpy() if isinstance(a, torch.Tensor) else a


def fused_loss_grad_hess(theta: torch.Tensor, frames: Frames, pole: float = PREEMPHASIS_POLE, kernel: str = "auto"):
    """Exact loss (float), gradient (5,) and Hessian (5, 5) w.r.t. theta (float64 tensors).

    ``kernel="auto"`` runs on the frames' device: numba CPU (parallel over
    frames) or CUDA (one thread per frame); ``"cuda"`` on CPU frames runs the
    CUDA kernel under numba's simulator (``NUMBA_ENABLE_CUDASIM=1``, for tests).
    Sums are accumulated in float64 whatever the audio dtype.
    """
    _, j1, j2 = theta_to_phi(theta, frames.sample_rate)
    L, g_phi, h_upper = _run(theta, frames, pole, kernel, ff.HESSIAN)
    grad = j1 * g_phi
    H = _upper_to_full(h_upper) * np.outer(j1, j1) + np.diag(g_phi * j2)
    return L, torch.from_numpy(grad), torch.from_numpy(H)


def fused_loss_grad(theta: torch.Tensor, frames: Frames, pole: float = PREEMPHASIS_POLE, kernel: str = "auto"):
    """Exact loss (float) and gradient (5,) w.r.t. theta: :func:`fused_loss_grad_hess`'s gradient bit for bit,
    from the same pass without the second-order sensitivities (first-order optimisers, lazy Hessians)."""
    _, j1, _ = theta_to_phi(theta, frames.sample_rate)
    L, g_phi, _ = _run(theta, frames, pole, kernel, ff.GRADIENT)
    return L, torch.from_numpy(j1 * g_phi)


def fused_loss(theta: torch.Tensor, frames: Frames, pole: float = PREEMPHASIS_POLE, kernel: str = "auto") -> float:
    """The loss alone (for line searches): the first sweep of the same pass."""
    return _run(theta, frames, pole, kernel, ff.LOSS)[0]
