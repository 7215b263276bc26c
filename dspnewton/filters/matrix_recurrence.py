"""Time-varying vector linear recurrence ``s[n] = A[n] s[n-1] + b[n]`` (small state).

The tangent-linear and adjoint form of every nonlinear state recursion in the
grey-box models (:mod:`dspnewton.model.greybox`): once the state trajectory is
known, first derivatives of a d-dimensional recursion ``s[n] = F(s[n-1], ...)``
follow this recurrence with ``A[n] = dF/ds[n-1]``.  Differentiable to any order
in reverse and forward mode and under ``torch.func`` transforms: the backward
pass is the transposed recurrence run backwards in time, the tangent the same
recurrence run forwards.

Backends: ``sequential`` (numba, CPU, parallel over the batch) and ``scan``
(log-depth doubling in torch ops; any device, the GPU algorithm).
"""

from __future__ import annotations

import numba as nb
import numpy as np
import torch

from ._jvp import lifted_jvp
from ._time import next_in_time, reversed_in_time, shift_in
from ._vmap import fold_vmap, zeros_if_none

__all__ = ["matrix_recurrence", "solve_matrix_recurrence", "MATRIX_BACKENDS"]

MATRIX_BACKENDS = ("auto", "sequential", "scan")


@nb.njit(parallel=True, cache=True, nogil=True)
def _sequential_kernel(A, b, s0, out):  # pragma: no cover - compiled
    """``out[i, n] = A[i, n] @ out[i, n-1] + b[i, n]``; ``out[i, -1] = s0[i]``.

    Shapes: A (B, T, d, d); b, out (B, T, d, K); s0 (B, d, K).  float64 accumulation.
    """
    Bn, T, d, K = b.shape
    for i in nb.prange(Bn):
        prev = np.empty((d, K), dtype=np.float64)
        cur = np.empty((d, K), dtype=np.float64)
        for r in range(d):
            for k in range(K):
                prev[r, k] = s0[i, r, k]
        for n in range(T):
            for r in range(d):
                for k in range(K):
                    acc = np.float64(b[i, n, r, k])
                    for c in range(d):
                        acc += np.float64(A[i, n, r, c]) * prev[c, k]
                    cur[r, k] = acc
                    out[i, n, r, k] = acc
            for r in range(d):
                for k in range(K):
                    prev[r, k] = cur[r, k]


def _scan(A: torch.Tensor, b: torch.Tensor, s0: torch.Tensor) -> torch.Tensor:
    """Hillis-Steele doubling: after step k every position holds the affine map
    composed over its last 2^k inputs.  O(T log T d^3) work, log2(T) depth."""
    acc_dtype = torch.float64 if A.dtype == torch.float64 or A.device.type == "cpu" else A.dtype
    A_, b_ = A.to(acc_dtype), b.to(acc_dtype).clone()
    b_[:, 0] = b_[:, 0] + A_[:, 0] @ s0.to(acc_dtype)
    A_ = A_.clone()
    A_[:, 0] = 0
    T = A.shape[1]
    off = 1
    while off < T:
        A_prev, b_prev = A_[:, :-off], b_[:, :-off]
        b_new = b_.clone()
        b_new[:, off:] = A_[:, off:] @ b_prev + b_[:, off:]
        A_new = A_.clone()
        A_new[:, off:] = A_[:, off:] @ A_prev
        A_, b_ = A_new, b_new
        off *= 2
    return b_.to(b.dtype)


def _resolve(backend: str, device) -> str:
    if backend not in MATRIX_BACKENDS:
        raise ValueError(f"unknown backend {backend!r} for matrix_recurrence; choose one of {', '.join(MATRIX_BACKENDS)}")
    if backend == "auto":
        return "sequential" if device.type == "cpu" else "scan"
    if backend == "sequential" and device.type != "cpu":
        raise ValueError("backend 'sequential' runs on CPU tensors only; use 'scan' on a GPU")
    return backend


def solve_matrix_recurrence(A: torch.Tensor, b: torch.Tensor, s0: torch.Tensor | None = None,
                            backend: str = "auto") -> torch.Tensor:
    """Solve ``s[n] = A[n] s[n-1] + b[n]`` for K right-hand sides at once (no autograd).

    Args:
        A: (B, T, d, d) per-sample transition matrices.
        b: (B, T, d, K) inputs (K independent columns, e.g. one per parameter).
        s0: (B, d, K) initial state ``s[-1]``; zeros when omitted.
        backend: ``auto``, ``sequential`` (CPU) or ``scan``.

    Returns:
        s: (B, T, d, K), dtype of b.
    """
    if s0 is None:
        s0 = b.new_zeros(b.shape[0], b.shape[2], b.shape[3])
    backend = _resolve(backend, b.device)
    A, b, s0 = A.detach(), b.detach(), s0.detach()
    if backend == "scan":
        return _scan(A, b, s0)
    out = torch.empty(b.shape, dtype=b.dtype)
    _sequential_kernel(A.numpy(), b.numpy(), s0.numpy(), out.numpy())
    return out


class MatrixRecurrence(torch.autograd.Function):
    """Autograd Function for ``s[n] = A[n] s[n-1] + b[n]``, ``s[-1] = s0``.

    Inputs: A (B, T, d, d), b (B, T, d), s0 (B, d), backend (str, concrete).
    Output: s (B, T, d).
    """

    @staticmethod
    def forward(A, b, s0, backend):
        return solve_matrix_recurrence(A, b.unsqueeze(-1), s0.unsqueeze(-1), backend).squeeze(-1)

    @staticmethod
    def setup_context(ctx, inputs, output):
        A, _, s0, backend = inputs
        ctx.backend = backend
        ctx.save_for_backward(A, s0, output)
        ctx.save_for_forward(A, s0, output)

    @staticmethod
    def backward(ctx, grad_s):
        A, s0, s = ctx.saved_tensors
        # Adjoint: lam[n] = grad_s[n] + A[n+1]^T lam[n+1], in reversed time.
        zero = grad_s.new_zeros(grad_s.shape[0], grad_s.shape[2])
        lam = reversed_in_time(lambda c, r: MatrixRecurrence.apply(c, r, zero, ctx.backend),
                               next_in_time(A).transpose(-1, -2), grad_s)
        grad_A = lam.unsqueeze(-1) * shift_in(s0, s).unsqueeze(-2) if ctx.needs_input_grad[0] else None
        grad_s0 = (A[:, 0].transpose(-1, -2) @ lam[:, 0].unsqueeze(-1)).squeeze(-1) if ctx.needs_input_grad[2] else None
        return grad_A, lam, grad_s0, None

    @staticmethod
    def jvp(ctx, dA, db, ds0, _):
        def tangent(A, s0, s, dA, db, ds0):
            u = zeros_if_none(db, s)
            if dA is not None:
                u = u + (dA @ shift_in(s0, s).unsqueeze(-1)).squeeze(-1)
            return MatrixRecurrence.apply(A, u, zeros_if_none(ds0, s0), ctx.backend)

        return lifted_jvp(tangent, *ctx.saved_tensors, dA, db, ds0)

    @staticmethod
    def vmap(info, in_dims, A, b, s0, backend):
        return fold_vmap(info, in_dims[:3], (A, b, s0),
                         lambda A_, b_, s0_: MatrixRecurrence.apply(A_, b_, s0_, backend))


def matrix_recurrence(A: torch.Tensor, b: torch.Tensor, s0: torch.Tensor | None = None,
                      backend: str = "auto") -> torch.Tensor:
    """Filter ``b`` through ``s[n] = A[n] @ s[n-1] + b[n]``.

    Args:
        A: (B, T, d, d) transition matrix per sample.
        b: (B, T, d) input.
        s0: (B, d) initial state ``s[-1]``; zeros when omitted.
        backend: ``auto`` (sequential on CPU, scan elsewhere), ``sequential`` or ``scan``.

    Returns:
        s: (B, T, d).  Differentiable with respect to A, b and s0 to any order.
    """
    if not isinstance(A, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise ValueError("A and b must be torch tensors of shapes (B, T, d, d) and (B, T, d)")
    if b.dim() != 3 or A.dim() != 4 or A.shape[:3] != b.shape or A.shape[-1] != b.shape[-1]:
        raise ValueError(f"A must be (B, T, d, d) and b (B, T, d); got {tuple(A.shape)} and {tuple(b.shape)}")
    if A.dtype != b.dtype or A.device != b.device:
        raise ValueError(f"A and b must share dtype and device; got {A.dtype}/{A.device} and {b.dtype}/{b.device}")
    if b.shape[1] == 0:
        raise ValueError("b must have T >= 1 samples, got T = 0")
    if s0 is None:
        s0 = b.new_zeros(b.shape[0], b.shape[2])
    elif s0.shape != (b.shape[0], b.shape[2]):
        raise ValueError(f"s0 must be (B, d) = {(b.shape[0], b.shape[2])}, got {tuple(s0.shape)}")
    return MatrixRecurrence.apply(A, b, s0, _resolve(backend, b.device))
