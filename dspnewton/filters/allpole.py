"""Time-varying all-pole filter ``y[n] = x[n] - sum_i A[n, i-1] y[n-i]``.

Same contract as ``torchlpc.sample_wise_lpc``: x (B, T), A (B, T, N), initial
state zi (B, N) with ``zi[:, k-1] = y[-k]`` (most recent first).  The backward
pass is again a time-varying all-pole filter, run in reversed time on the
coefficients shifted by their lag; the forward-mode tangent is the same filter.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _primitives
from ._jvp import lifted_jvp
from ._time import reversed_in_time
from ._checks import check_dim, check_same, check_tensor, resolve_backend
from ._vmap import fold_vmap, zeros_if_none

__all__ = ["allpole"]


def _past_outputs(y: torch.Tensor, zi: torch.Tensor) -> torch.Tensor:
    """(B, T), (B, N) -> (B, T, N) with ``[..., n, i-1] = y[n-i]``."""
    N, T = zi.shape[1], y.shape[1]
    y_ext = torch.cat([zi.flip(-1), y], dim=-1)  # y_ext[:, N + m] = y[m]
    return torch.stack([y_ext[:, N - i : N - i + T] for i in range(1, N + 1)], dim=-1)


def _adjoint_coefficients(A: torch.Tensor) -> torch.Tensor:
    """(B, T, N) -> (B, T, N) with ``[:, n, i-1] = A[:, n+i, i-1]`` (zero past T)."""
    N = A.shape[-1]
    cols = [F.pad(A[:, i:, i - 1], (0, i)) for i in range(1, N + 1)]
    return torch.stack(cols, dim=-1)


class AllPole(torch.autograd.Function):
    """Autograd Function for the time-varying all-pole filter.

    Inputs: x (B, T), A (B, T, N), zi (B, N), backend (str, concrete).
    Output: y (B, T).
    """

    @staticmethod
    def forward(x, A, zi, backend):
        return _primitives.allpole(x, A, zi, backend)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, A, zi, backend = inputs
        ctx.backend = backend
        ctx.save_for_backward(A, zi, output)
        ctx.save_for_forward(A, zi, output)

    @staticmethod
    def backward(ctx, grad_y):
        A, zi, y = ctx.saved_tensors
        N, T = A.shape[-1], A.shape[1]
        # Adjoint: lam[n] = grad_y[n] - sum_i A[n+i, i-1] lam[n+i], in reversed time.
        zero = zi.new_zeros(zi.shape)
        lam = reversed_in_time(lambda r, c: AllPole.apply(r, c, zero, ctx.backend), grad_y, _adjoint_coefficients(A))
        grad_A = -lam.unsqueeze(-1) * _past_outputs(y, zi) if ctx.needs_input_grad[1] else None
        grad_zi = None
        if ctx.needs_input_grad[2]:
            # d y[n] / d y[-k] enters at n = i - k for lags i >= k.
            terms = []
            for k in range(1, N + 1):
                parts = [A[:, i - k, i - 1] * lam[:, i - k] for i in range(k, N + 1) if i - k < T]
                terms.append(-torch.stack(parts, dim=-1).sum(-1) if parts else zi.new_zeros(zi.shape[0]))
            grad_zi = torch.stack(terms, dim=-1)
        return lam, grad_A, grad_zi, None

    @staticmethod
    def jvp(ctx, dx, dA, dzi, _):
        def tangent(A, zi, y, dx, dA, dzi):
            u = zeros_if_none(dx, y)
            if dA is not None:
                u = u - (dA * _past_outputs(y, zi)).sum(-1)
            return AllPole.apply(u, A, zeros_if_none(dzi, zi), ctx.backend)

        return lifted_jvp(tangent, *ctx.saved_tensors, dx, dA, dzi)

    @staticmethod
    def vmap(info, in_dims, x, A, zi, backend):
        return fold_vmap(info, in_dims[:3], (x, A, zi), lambda x_, A_, zi_: AllPole.apply(x_, A_, zi_, backend))


def allpole(
    x: torch.Tensor, A: torch.Tensor, zi: torch.Tensor | None = None, backend: str = "auto"
) -> torch.Tensor:
    """Filter ``x`` through the time-varying all-pole filter of order N.

    ``y[n] = x[n] - sum_{i=1..N} A[n, i-1] * y[n-i]``

    Args:
        x: (B, T) input.
        A: (B, T, N) denominator coefficients per sample (without the leading 1).
        zi: (B, N) initial state, ``zi[:, k-1] = y[-k]``; zeros when omitted.
        backend: ``auto``, ``sequential``, ``scan`` or ``cuda`` (see
            :func:`dspnewton.filters.linear_recurrence`).

    Returns:
        y: (B, T).
    """
    check_tensor("x", x, 2, "(B, T)")
    check_tensor("A", A, 3, "(B, T, N)")
    check_same("A", A, "x", x)
    check_dim("A", A, 0, x.shape[0], "(B, T, N) with x (B, T)", "batch size B")
    check_dim("A", A, 1, x.shape[1], "(B, T, N) with x (B, T)", "length T")
    if x.shape[1] == 0 or A.shape[2] == 0:
        raise ValueError(f"x (B, T) and A (B, T, N) need T >= 1 and N >= 1, got {tuple(A.shape)}")
    if zi is None:
        zi = x.new_zeros(x.shape[0], A.shape[2])
    else:
        check_tensor("zi", zi, 2, "(B, N)")
        check_same("zi", zi, "x", x)
        check_dim("zi", zi, 0, x.shape[0], "(B, N)", "batch size B")
        check_dim("zi", zi, 1, A.shape[2], "(B, N) with A (B, T, N)", "order N")
    concrete = resolve_backend(backend, x.device, x.shape[0], x.shape[1])
    return AllPole.apply(x, A, zi, concrete)
