"""Non-differentiable forward primitives, dispatched to a concrete backend.

The autograd Functions in :mod:`dspnewton.filters.recurrence` and
:mod:`dspnewton.filters.allpole` call these and express every derivative
through them again, so each backend only has to provide forward passes.
"""

from __future__ import annotations

import torch

from . import _kernels_cpu, _kernels_cuda
from .scan import matrix_affine_scan, scalar_affine_scan


def recurrence(a: torch.Tensor, x: torch.Tensor, y0: torch.Tensor, backend: str) -> torch.Tensor:
    """``y[n] = a[n] y[n-1] + x[n]``; a, x (B, T), y0 (B,) -> y (B, T)."""
    a, x, y0 = a.detach(), x.detach(), y0.detach()
    if backend == "sequential":
        out = torch.empty(x.shape, dtype=x.dtype)
        _kernels_cpu.recurrence_forward(
            _kernels_cpu.as_numpy(a), _kernels_cpu.as_numpy(x), _kernels_cpu.as_numpy(y0), out.numpy()
        )
        return out
    if backend == "scan":
        # Accumulate in float64: a float32 scan over 10^6 samples near the unit
        # circle would otherwise lose about three digits to reassociation.
        a64 = a.double()
        b = x.to(torch.float64, copy=True)
        b[:, 0] += a64[:, 0] * y0.double()
        return scalar_affine_scan(a64, b).to(x.dtype)
    if backend == "cuda":
        return _kernels_cuda.recurrence_forward(a.contiguous(), x.contiguous(), y0.contiguous())
    raise ValueError(f"unknown backend {backend!r}")


def allpole(x: torch.Tensor, A: torch.Tensor, zi: torch.Tensor, backend: str) -> torch.Tensor:
    """``y[n] = x[n] - sum_i A[n, i-1] y[n-i]``; x (B, T), A (B, T, N), zi (B, N)."""
    x, A, zi = x.detach(), A.detach(), zi.detach()
    N = A.shape[-1]
    if backend == "sequential":
        out = torch.empty(x.shape, dtype=x.dtype)
        _kernels_cpu.allpole_forward(
            _kernels_cpu.as_numpy(x), _kernels_cpu.as_numpy(A), _kernels_cpu.as_numpy(zi), out.numpy()
        )
        return out
    if backend == "scan":
        if N == 1:
            return recurrence(-A[..., 0], x, zi[:, 0], "scan")
        B, T = x.shape
        # State s[n] = (y[n], ..., y[n-N+1]); companion matrix per sample.
        f64 = torch.float64  # accumulate in float64 (see above)
        M = torch.zeros(B, T, N, N, dtype=f64, device=x.device)
        M[..., 0, :] = -A
        idx = torch.arange(N - 1, device=x.device)
        M[..., idx + 1, idx] = 1.0
        b = torch.zeros(B, T, N, dtype=f64, device=x.device)
        b[..., 0] = x
        b[:, 0, :] += (M[:, 0] @ zi.double().unsqueeze(-1)).squeeze(-1)
        return matrix_affine_scan(M, b)[..., 0].to(x.dtype)
    if backend == "cuda":
        return _kernels_cuda.allpole_forward(x.contiguous(), A.contiguous(), zi.contiguous())
    raise ValueError(f"unknown backend {backend!r}")
