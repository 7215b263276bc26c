"""The compiled ``fused`` strategy for every grey-box model: loss, gradient and exact Hessian.

Per frame three sweeps with no autograd tape (see :mod:`._greybox_frame`):
forward values, backward adjoints, forward tangents with the Gauss-Newton and
curvature sums.  numba on CPU (parallel over frames), numba.cuda on GPU (one
thread per frame) from one frame body.  Scratch memory is O(frame) per frame in
flight: frames are processed in chunks of ``chunk`` frames (default: the
number of numba threads on CPU, every frame at once on GPU).

The kernel differentiates with respect to the model's active coefficients phi
(threshold, slope, knee width, one-pole coefficients, mix, shelf gain, make-up
gain, drive, bias, the signal-path stages' one-pole coefficients and shelf
gain, the core's coefficients, the second-order stages' pole coefficients: one per parameter); the chain rule
to theta uses the Jacobian J and second derivatives D of the coefficient map
(:func:`~dspnewton.model.greybox_spec.coefficient_table`), diagonal but for the second-order stages' 2 x 2
blocks (corner and Q drive both poles): ``H_theta = J^T H_phi J + sum_a grad_phi[a] D[a]``.

The reference this is tested against is ``tests/greybox_reference.py`` (vectorised
torch with ``torch.func`` second derivatives of the step).
"""

from __future__ import annotations

import functools
import math

import numba as nb
import numpy as np
import torch

from ..model.greybox_spec import kernel_flags
from ..model.greybox_spec import (COEFFICIENTS, COLUMN, EXTRA_RANGES, SC_CORNER_HZ, ModelSpec, biquad_poles,
                                  coefficient_table, parse_model)
from ..model.transforms import sigmoid_map
from . import _greybox_frame as gf
from ._fused_frame import GRADIENT, HESSIAN, LOSS
from .frame_state import frame_states, snap_offsets
from .framing import Frames
from .preemphasis import PREEMPHASIS_POLE

__all__ = ["greybox_fused_loss_grad_hess", "greybox_fused_loss_grad", "greybox_fused_loss", "COEFFICIENT_OF_PARAM"]

# Which coefficient (index into coefficient_table's columns) each parameter drives.
# A second-order stage's two parameters (corner, Q) drive its two pole coefficients (a1, a2) together: the
# corner's position in phi holds a1, the Q's a2 (:data:`COEFFICIENT_PAIRS`).
COEFFICIENT_OF_PARAM = {p: COLUMN[c] for p, c in (
    ("threshold_db", "threshold_db"), ("ratio", "slope"), ("knee_db", "knee_db"), ("attack_ms", "alpha_attack"),
    ("release_ms", "alpha_release"), ("release_slow_ms", "alpha_release_slow"), ("slow_mix", "slow_mix"),
    ("rms_ms", "alpha_rms"), ("sc_shelf_db", "shelf_k"), ("makeup_db", "makeup_gain"), ("drive", "drive"),
    ("bias", "bias"), ("input_hp_hz", "alpha_input_hp"), ("output_shelf_hz", "alpha_output_shelf"),
    ("output_shelf_db", "output_shelf_k"), ("input_hp2_hz", "input_hp2_a1"), ("input_q", "input_hp2_a2"),
    ("core_hz", "alpha_core"), ("core_sat_db", "core_b"), ("output_lp_hz", "output_lp_a1"), ("output_q", "output_lp_a2"),
    ("release_long_ms", "alpha_release_long"), ("memory_ms", "alpha_memory"), ("memory_db", "memory_exp"))}
COEFFICIENT_PAIRS = (("input_hp2_hz", "input_q"), ("output_lp_hz", "output_q"))

_frame_cpu = nb.njit(cache=True, nogil=True)(gf.greybox_frame)


@nb.njit(parallel=True, cache=True, nogil=True)
def _greybox_cpu(xbuf, tbuf, off, valid, starts, init, snap_at, C, pos, flags, hp_g, hp_a1, pole, sbuf, rbuf, hbuf,
                 lbuf, tan, ct, hacc, racc, gacc, out_l, derivatives):  # pragma: no cover - compiled
    for f in nb.prange(off.shape[0]):  # f as int64, and derivatives a runtime int: one compiled frame body for both
        _frame_cpu(np.int64(f), xbuf, tbuf, off, valid, starts, init, snap_at, C, pos, flags, hp_g, hp_a1, pole, sbuf,
                   rbuf, hbuf, lbuf, tan, ct, hacc, racc, gacc, out_l, derivatives)


@nb.njit(cache=True, nogil=True)
def _greybox_sequential(xbuf, tbuf, off, valid, starts, init, snap_at, C, pos, flags, hp_g, hp_a1, pole, sbuf, rbuf,
                        hbuf, lbuf, tan, ct, hacc, racc, gacc, out_l, derivatives):  # pragma: no cover - compiled
    for f in range(off.shape[0]):  # in order: frame f writes frame f + 1's initial state
        _frame_cpu(f, xbuf, tbuf, off, valid, starts, init, snap_at, C, pos, flags, hp_g, hp_a1, pole, sbuf, rbuf,
                   hbuf, lbuf, tan, ct, hacc, racc, gacc, out_l, derivatives)


@functools.lru_cache(maxsize=None)
def _cuda_kernel():
    from ..filters._kernels_cuda import _compiled

    _compiled()  # imports numba.cuda with its NumPy compatibility shim
    from . import _fused_cuda

    return _fused_cuda.greybox_kernel


def _phi_order(spec: ModelSpec) -> list:
    """The model's parameter indices in phi order: those that shape the gain loop first, then those that
    shape the output alone (:data:`~._greybox_frame.OUTPUT_ONLY_COEFFICIENTS`: make-up, drive, bias, the output
    stage), so that the kernel's sums over the loop states' tangents (zero on the output's parameters) stop
    early."""
    out = set(gf.OUTPUT_ONLY_COEFFICIENTS)
    names = spec.param_names
    loop = [i for i, n in enumerate(names) if COEFFICIENT_OF_PARAM[n] not in out]
    return loop + [i for i, n in enumerate(names) if COEFFICIENT_OF_PARAM[n] in out]


def _positions(spec: ModelSpec) -> np.ndarray:
    """Each coefficient's position in phi (-1: inactive), then the input chain's slots' again."""
    pos = np.full(len(COEFFICIENTS), -1, dtype=np.int64)
    for k, i in enumerate(_phi_order(spec)):
        pos[COEFFICIENT_OF_PARAM[spec.param_names[i]]] = k
    return np.concatenate([pos, pos[list(gf.CHAIN_COEFFICIENTS)]])  # the input chain's slots again, in order


def _highpass_coefficients(sample_rate: int) -> tuple[float, float]:
    w = math.tan(math.pi * SC_CORNER_HZ / sample_rate)
    return 1.0 / (1.0 + w), (1.0 - w) / (1.0 + w)


def _coefficient_derivatives(theta: torch.Tensor, spec: ModelSpec, sample_rate: int, second: bool = True):
    """Coefficients C (N_COEFFICIENTS,), and for the active ones phi (P, in parameter order) their Jacobian J (P, P),
    ``J[a, i] = dphi_a/dtheta_i``, and (with ``second``, else None) second derivatives D (P, P, P),
    ``D[a] = d2phi_a/dtheta^2``.

    Every active coefficient depends on its own parameter alone (each parameter's range map, then its
    coefficient), except a second-order stage's two pole coefficients, which depend on its corner and Q together
    (:data:`COEFFICIENT_PAIRS`).  The diagonal comes from two reverse sweeps over the tiny graph of the map (about
    30x cheaper than ``jacfwd(jacfwd)`` of the whole table); each pair's 2 x 2 block from :func:`_pair_derivatives`."""
    t = theta.detach().double().cpu().clone().requires_grad_()
    act = [COEFFICIENT_OF_PARAM[n] for n in spec.param_names]
    with torch.enable_grad():
        C = coefficient_table(t.unsqueeze(0), spec, sample_rate)[0]
        (j,) = torch.autograd.grad(C[act].sum(), t, create_graph=second)
        h = torch.autograd.grad(j.sum(), t)[0] if second else None
    P = len(act)
    J = torch.diag(j.detach())
    D = None
    if second:
        D = torch.zeros(P, P, P, dtype=torch.float64)
        D[range(P), range(P), range(P)] = h
    for names in COEFFICIENT_PAIRS:
        if names[0] not in spec.param_names:
            continue
        idx = [spec.param_names.index(n) for n in names]
        J2, D2 = _pair_derivatives(theta.detach().double().cpu()[idx], names, sample_rate, second)
        ix = torch.tensor(idx)
        J[ix.unsqueeze(1), ix] = J2
        if second:
            for a in range(2):
                D[idx[a]] = 0.0
                D[idx[a], ix.unsqueeze(1), ix] = D2[a]
    return C.detach().numpy(), J, D


def _pair_derivatives(tp: torch.Tensor, names, sample_rate: int, second: bool):
    """A second-order stage's pole coefficients (a1, a2) as functions of its (corner, Q) thetas tp (2,): Jacobian
    (2, 2) and (with ``second``) second derivatives (2, 2, 2), from reverse sweeps over the map's small graph (the
    same range maps and :func:`~dspnewton.model.greybox_spec.biquad_poles` as the coefficient table)."""
    t = tp.clone().requires_grad_()
    with torch.enable_grad():
        hz, q = (sigmoid_map(t[i], *EXTRA_RANGES[n]) for i, n in enumerate(names))
        poles = biquad_poles(hz, q, sample_rate)
        rows = [torch.autograd.grad(a, t, create_graph=second, retain_graph=True)[0] for a in poles]
        J2 = torch.stack([r.detach() for r in rows])
        if not second:
            return J2, None
        D2 = torch.stack([torch.stack([torch.autograd.grad(r[i], t, retain_graph=True)[0] for i in range(2)])
                          for r in rows])
    return J2, D2


def _chain_rule(g_phi: torch.Tensor, H_phi: torch.Tensor | None, J: torch.Tensor, D: torch.Tensor | None):
    """Gradient and Hessian w.r.t. theta from those w.r.t. the active coefficients (Jacobian J (P, P), second
    derivatives D (P, P, P)): ``g = J^T g_phi``, ``H = J^T H_phi J + sum_a g_phi[a] D[a]``."""
    grad = J.T @ g_phi
    if H_phi is None:
        return grad, None
    H = J.T @ H_phi @ J + torch.einsum("a,aij->ij", g_phi, D)
    return grad, 0.5 * (H + H.T)


class _Scratch:
    """Per-chunk scratch buffers, reused across calls for one frame length and model."""

    def __init__(self, n: int, L: int, P: int, xp=np, **kw):
        new = (lambda *s: xp.zeros(s, **kw)) if xp is torch else (lambda *s: np.zeros(s))
        self.sbuf, self.rbuf, self.hbuf, self.lbuf = new(n, L, 7), new(n, L), new(n, L), new(n, L, gf.N_LBUF)
        self.tan, self.hacc, self.racc = new(n, gf.N_TANGENTS, P), new(n, P, P), new(n, P, P)
        self.ct = new(n, gf.N_CHAIN_ROWS, gf.N_CHAIN)
        self.gacc, self.out_l = new(n, P), new(n)


def _coefficients(theta: torch.Tensor, spec: ModelSpec, sample_rate: int) -> np.ndarray:
    """Coefficients C (21,) float64 of theta (P,)."""
    return coefficient_table(theta.detach().double().cpu().unsqueeze(0), spec, sample_rate)[0].numpy()


def _states(C: np.ndarray, pos, flags, hp: tuple, frames: Frames, spec: ModelSpec, pole: float):
    """Initial states (F, N_STATE) and, when carried, the sequential pass's per-frame losses (:mod:`.frame_state`)."""
    root = frames.root
    xbuf, tbuf, off, valid = root.flat_arrays()
    starts, snap_at = root.starts.numpy(), snap_offsets(root)

    def run(lo, hi, init, out_l):
        sc = _Scratch(1, 1, spec.n_params)
        _greybox_sequential(xbuf, tbuf, off[lo:hi], valid[lo:hi], starts[lo:hi], init, snap_at[lo:hi], C, pos, flags,
                            *hp, pole, sc.sbuf, sc.rbuf, sc.hbuf, sc.lbuf, sc.tan, sc.ct, sc.hacc, sc.racc,
                            sc.gacc, out_l, LOSS)

    key = spec.name.encode() + C.tobytes() + np.float64(pole).tobytes()
    return frame_states(frames, key, gf.REST, run)


def _run(C: np.ndarray, frames: Frames, spec: ModelSpec, pole: float, derivatives: int, kernel: str,
         chunk: int | None):
    """(loss, grad_phi (P,), H_phi (P, P)) at coefficients C, summed over frames (halves: the caller doubles),
    in parameter order.

    ``derivatives``: ``LOSS``, ``GRADIENT`` (H_phi zero) or ``HESSIAN`` (:mod:`._fused_frame`).

    With carried initial states a loss-only call is the sequential pass that carries them."""
    from .fused import _host, _launch, _use_cuda_kernel

    pos, flags = _positions(spec), kernel_flags(spec)
    hp_g, hp_a1 = _highpass_coefficients(frames.sample_rate)
    P, L, F = spec.n_params, frames.frame_length, frames.n_frames
    init, seq_loss = _states(C, pos, flags, (hp_g, hp_a1), frames, spec, pole)
    if seq_loss is not None and not derivatives:
        return float(seq_loss.sum()), np.zeros(P), np.zeros((P, P))
    starts = frames.starts.numpy()
    snap_at = np.full(F, -1, dtype=np.int64)
    gpu = _use_cuda_kernel(frames, kernel)
    xbuf, tbuf, off, valid = frames.flat_arrays(torch_device=frames.xbuf.device if gpu else None)
    if chunk is None:
        chunk = F if gpu else max(1, nb.get_num_threads())
    loss, g, H = 0.0, np.zeros(P), np.zeros((P, P))  # in phi order (_phi_order), back in parameter order below
    chunk = min(chunk, F)
    width = L if derivatives else 1
    if gpu:
        dev = frames.xbuf.device
        sc = _Scratch(chunk, width, P, xp=torch, dtype=torch.float64, device=dev)
        C, pos, flags, init, starts, snap_at = (torch.from_numpy(a).to(dev)
                                                for a in (C, pos, flags, init, starts, snap_at))
    else:
        sc = _Scratch(chunk, width, P)  # reused by every chunk: each frame overwrites what it reads
    for s in range(0, F, chunk):
        n = min(chunk, F - s)
        args = (xbuf, tbuf, off[s:s + n], valid[s:s + n], starts[s:s + n], init[s:s + n], snap_at[s:s + n], C, pos,
                flags, hp_g, hp_a1, pole, sc.sbuf, sc.rbuf, sc.hbuf, sc.lbuf, sc.tan, sc.ct, sc.hacc, sc.racc,
                sc.gacc, sc.out_l, derivatives)
        if gpu:
            _launch(_cuda_kernel(), n, *args)
        else:
            _greybox_cpu(*args)
        loss += float(sc.out_l[:n].sum())
        g += _host(sc.gacc[:n].sum(0))
        H += _host(sc.hacc[:n].sum(0))
    back = np.argsort(_phi_order(spec))  # parameter i sits at phi position back[i]
    return loss, g[back], H[np.ix_(back, back)]


def greybox_fused_loss_grad_hess(theta: torch.Tensor, frames: Frames, spec, pole: float = PREEMPHASIS_POLE,
                                 kernel: str = "auto", chunk: int | None = None):
    """Exact loss (float), gradient (P,) and Hessian (P, P) w.r.t. theta (float64 tensors).

    ``kernel``: ``auto`` (the frames' device), ``cpu``, or ``cuda`` (on CPU frames:
    numba's simulator, ``NUMBA_ENABLE_CUDASIM=1``, for tests).
    """
    spec = parse_model(spec)
    C, j, h = _coefficient_derivatives(theta, spec, frames.sample_rate)
    L, g_half, H_half = _run(C, frames, spec, pole, HESSIAN, kernel, chunk)
    H_phi = torch.from_numpy(2.0 * H_half)
    grad, H = _chain_rule(torch.from_numpy(2.0 * g_half), 0.5 * (H_phi + H_phi.T), j, h)
    return L, grad, H


def greybox_fused_loss_grad(theta: torch.Tensor, frames: Frames, spec, pole: float = PREEMPHASIS_POLE,
                            kernel: str = "auto", chunk: int | None = None):
    """Exact loss (float) and gradient (P,) w.r.t. theta: :func:`greybox_fused_loss_grad_hess`'s gradient bit for
    bit, from the same pass without the adjoint states and the curvature terms (first-order optimisers, lazy
    Hessians)."""
    spec = parse_model(spec)
    C, j, _ = _coefficient_derivatives(theta, spec, frames.sample_rate, second=False)
    L, g_half, _ = _run(C, frames, spec, pole, GRADIENT, kernel, chunk)
    return L, _chain_rule(torch.from_numpy(2.0 * g_half), None, j, None)[0]


def greybox_fused_loss(theta: torch.Tensor, frames: Frames, spec, pole: float = PREEMPHASIS_POLE,
                       kernel: str = "auto", chunk: int | None = None) -> float:
    """The loss alone (line searches): the first sweep of the same pass."""
    spec = parse_model(spec)
    return _run(_coefficients(theta, spec, frames.sample_rate), frames, spec, pole, LOSS, kernel, chunk)[0]
