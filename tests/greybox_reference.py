"""Test reference: exact loss, gradient and full Hessian of the fitting loss for the grey-box core.

The vectorised torch computation that the compiled pass
(:mod:`dspnewton.objective.greybox_fused`) is tested against, from one forward solve, one tangent sweep and one adjoint sweep (no autograd
tape through time):

1. states s (F, L, d) from the sequential kernel;
2. per-sample Jacobians ``A = dF/ds[n-1]`` (d, d) and ``dF/dtheta`` (d, P) of
   the step function (vectorised over all samples);
3. forward sensitivities ``S' = ds/dtheta`` (F, L, d, P): the matrix
   recurrence with P right-hand sides; output Jacobian ``J`` (F, L, P);
4. residual ``r = (pe(y) - pe(target)) mask``; loss ``r.r``, gradient
   ``2 J_r^T r``, Gauss-Newton part ``2 J_r^T J_r`` with ``J_r = pe(J) mask``;
5. the curvature part ``2 sum_n rho_n d2y_n/dtheta2`` with ``rho = pe^T(r)``:
   by the second-order Lagrangian identity it is the Hessian at eps = 0 of
   ``psi(eps) = sum_n [rho_n Y(s_n + S'_n eps, theta + eps)
   + lam_n . F(s_{n-1} + S'_{n-1} eps, theta + eps)]``, where ``lam`` is the
   adjoint state (the transposed recurrence run backwards); psi is a sum of
   per-sample terms, so its P x P Hessian is taken block by block with
   ``torch.func.hessian``.

Everything is float64.  Agrees with the autograd strategies (reverse over
reverse etc.) to rounding; see the tests.
"""

from __future__ import annotations

import torch

from dspnewton.filters.matrix_recurrence import solve_matrix_recurrence
from dspnewton.filters._time import next_in_time, reversed_in_time, shift_in
from dspnewton.model.greybox import (kernel_states_from_inputs, detector_inputs, greybox_output, initial_state,
                                     kernel_states, step)
from dspnewton.model.greybox_spec import SIGNAL_PATH_OPTIONS, ModelSpec, coefficient_table, parse_model
from dspnewton.objective.framing import Frames
from dspnewton.objective.preemphasis import preemphasis

__all__ = ["greybox_loss_grad_hess", "greybox_residual"]

BLOCK = 1 << 17  # samples per block of the curvature Hessian (memory bound)


def _core_only(spec: ModelSpec) -> None:
    """ValueError for a model with signal-path stages: this reference covers the compressor core."""
    stages = [o for o in SIGNAL_PATH_OPTIONS if spec.has(o)]
    if stages:
        raise ValueError(f"the vectorised reference covers the compressor core; model {spec.name} has the signal-path "
                         f"stage(s) {', '.join(stages)}: use loss_grad_hess(..., strategy='fused' or 'revrev') for it")


def _prep(theta, frames: Frames, spec: ModelSpec):
    _core_only(spec)
    x = frames.x.double()
    th = theta.detach().double().to(x.device)
    return x, th


def greybox_residual(theta: torch.Tensor, frames: Frames, spec) -> torch.Tensor:
    """Masked pre-emphasised residual (F, L) at theta (P,), no derivatives (kernel only)."""
    spec = parse_model(spec)
    x, th = _prep(theta, frames, spec)
    thb = th.unsqueeze(0).expand(x.shape[0], -1)
    S = kernel_states(x, thb, spec, frames.sample_rate)
    y = greybox_output(S, x, coefficient_table(thb, spec, frames.sample_rate), spec)
    return (preemphasis(y) - frames.target_pe.double()) * frames.mask.double()


def _chunk(theta, frames: Frames, spec: ModelSpec):
    sr = frames.sample_rate
    x, th = _prep(theta, frames, spec)
    Fn, L = x.shape
    P = spec.n_params
    xd, hd = detector_inputs(x, spec, sr)
    mask = frames.mask.double()
    thb = th.unsqueeze(0).expand(Fn, -1)
    with torch.no_grad():
        S = kernel_states_from_inputs(xd, hd, coefficient_table(thb, spec, sr), spec)
        S_prev = shift_in(initial_state(spec, x), S)

    def table(t):
        return coefficient_table(t.unsqueeze(0).expand(Fn, -1), spec, sr)

    with torch.no_grad():
        C = coefficient_table(thb, spec, sr)
        _, A = step(S_prev, xd, hd, C, spec, jacobian=True)
        y = greybox_output(S, x, C, spec)
        # Partial derivatives by forward-mode autograd (every term is local to its sample):
        # dF/dtheta (F, L, d, P), dy/dtheta (F, L, P), dy/ds (F, L, d).
        Ft = torch.func.jacfwd(lambda t: step(S_prev, xd, hd, table(t), spec))(th)
        Yt = torch.func.jacfwd(lambda t: greybox_output(S, x, table(t), spec))(th)
        Ys = torch.stack([torch.func.jvp(lambda s: greybox_output(s, x, C, spec), (S,),
                                         (torch.nn.functional.one_hot(torch.full(S.shape[:-1], k, device=S.device),
                                                                      S.shape[-1]).to(S.dtype),))[1]
                          for k in range(S.shape[-1])], dim=-1)
    Sdot = solve_matrix_recurrence(A, Ft)  # (F, L, d, P)
    J = torch.einsum("fld,fldp->flp", Ys, Sdot) + Yt
    r = (preemphasis(y) - frames.target_pe.double()) * mask
    Jr = preemphasis(J.permute(0, 2, 1)).permute(0, 2, 1) * mask.unsqueeze(-1)
    loss = r.pow(2).sum()
    grad = 2 * torch.einsum("flp,fl->p", Jr, r)
    gn = 2 * torch.einsum("flp,flq->pq", Jr, Jr)
    # Adjoint of the pre-emphasis (anti-causal filtering) and of the state recursion.
    rho = reversed_in_time(preemphasis, r)
    lam = reversed_in_time(lambda c, b: solve_matrix_recurrence(c, b.unsqueeze(-1)).squeeze(-1),
                           next_in_time(A).transpose(-1, -2), rho.unsqueeze(-1) * Ys)
    Sdot_prev = shift_in(torch.zeros_like(Sdot[:, 0]), Sdot)
    curv = torch.zeros(P, P, dtype=torch.float64, device=x.device)
    for b0 in range(0, L, BLOCK):
        sl = slice(b0, b0 + BLOCK)
        Sb, Spb, Sdb, Sdpb = S[:, sl], S_prev[:, sl], Sdot[:, sl], Sdot_prev[:, sl]
        xb, xdb, hdb, rhob, lamb = x[:, sl], xd[:, sl], hd[:, sl], rho[:, sl], lam[:, sl]

        def psi(eps):
            t = (th + eps).unsqueeze(0).expand(Fn, -1)
            C = coefficient_table(t, spec, sr)
            s = Sb + Sdb @ eps
            sp = Spb + Sdpb @ eps
            return (rhob * greybox_output(s, xb, C, spec)).sum() + (lamb * step(sp, xdb, hdb, C, spec)).sum()

        curv += torch.func.hessian(psi)(torch.zeros(P, dtype=torch.float64, device=x.device))
    H = gn + 2 * curv
    return loss.cpu(), grad.cpu(), H.cpu()


def greybox_loss_grad_hess(theta: torch.Tensor, frames: Frames, spec, chunk_frames: int = 1):
    """(loss, grad (P,), H (P, P)), float64, at theta (P,) over all frames of ``frames``."""
    spec = parse_model(spec)
    _core_only(spec)
    P = spec.n_params
    L = torch.zeros((), dtype=torch.float64)
    g = torch.zeros(P, dtype=torch.float64)
    H = torch.zeros(P, P, dtype=torch.float64)
    for s in range(0, frames.n_frames, chunk_frames):
        Lc, gc, Hc = _chunk(theta, frames.subset(slice(s, s + chunk_frames)), spec)
        L, g, H = L + Lc, g + gc, H + Hc
    return L, g, 0.5 * (H + H.T)
