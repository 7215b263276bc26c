"""Time-invariant IIR filtering (numerator b, denominator a).

:func:`lfilter` matches ``torchaudio.functional.lfilter(clamp=False)``; its
recursive part is :class:`LTIAllPole`, a custom autograd Function whose
backward is the same filter run in reversed time.  The pre-emphasis filter
``(1 - z^-1) / (1 - 0.995 z^-1)`` used by the loss is one call of it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _primitives
from ._jvp import lifted_jvp
from ._time import reversed_in_time
from ._checks import check_dim, check_same, check_tensor, resolve_backend
from ._vmap import fold_vmap, zeros_if_none

__all__ = ["lti_allpole", "lfilter"]


def _lagged_products(u: torch.Tensor, y: torch.Tensor, N: int) -> torch.Tensor:
    """(B, T), (B, T) -> (B, N) with ``[:, i-1] = sum_n u[n] y[n-i]`` (y[<0] = 0)."""
    cols = [(u[:, i:] * y[:, : y.shape[1] - i]).sum(-1) for i in range(1, N + 1)]
    return torch.stack(cols, dim=-1)


def _lagged_sum(a: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(B, N), (B, T) -> (B, T) with ``[:, n] = sum_i a[:, i-1] y[n-i]`` (y[<0] = 0)."""
    out = torch.zeros_like(y)
    for i in range(1, a.shape[1] + 1):
        out = out + F.pad(a[:, i - 1 : i] * y[:, : y.shape[1] - i], (i, 0))
    return out


class LTIAllPole(torch.autograd.Function):
    """``y[n] = x[n] - sum_i a[i-1] y[n-i]`` with constant coefficients.

    Inputs: x (B, T), a (B, N), backend (str, concrete). Output: y (B, T).
    Zero initial state.
    """

    @staticmethod
    def forward(x, a, backend):
        B, T = x.shape
        A = a.unsqueeze(1).expand(B, T, a.shape[1])
        return _primitives.allpole(x, A, x.new_zeros(B, a.shape[1]), backend)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, a, backend = inputs
        ctx.backend = backend
        ctx.save_for_backward(a, output)
        ctx.save_for_forward(a, output)

    @staticmethod
    def backward(ctx, grad_y):
        a, y = ctx.saved_tensors
        lam = reversed_in_time(lambda r: LTIAllPole.apply(r, a, ctx.backend), grad_y)
        grad_a = -_lagged_products(lam, y, a.shape[1]) if ctx.needs_input_grad[1] else None
        return lam, grad_a, None

    @staticmethod
    def jvp(ctx, dx, da, _):
        def tangent(a, y, dx, da):
            u = zeros_if_none(dx, y)
            if da is not None:
                u = u - _lagged_sum(da, y)
            return LTIAllPole.apply(u, a, ctx.backend)

        return lifted_jvp(tangent, *ctx.saved_tensors, dx, da)

    @staticmethod
    def vmap(info, in_dims, x, a, backend):
        return fold_vmap(info, in_dims[:2], (x, a), lambda x_, a_: LTIAllPole.apply(x_, a_, backend))


def lti_allpole(x: torch.Tensor, a: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    """All-pole filter with constant coefficients and zero initial state.

    Args:
        x: (B, T) input.
        a: (N,) shared or (B, N) per-signal denominator coefficients, without
            the leading 1: ``y[n] = x[n] - sum_i a[i-1] y[n-i]``.
        backend: see :func:`dspnewton.filters.linear_recurrence`.

    Returns:
        y: (B, T).
    """
    check_tensor("x", x, 2, "(B, T)")
    if isinstance(a, torch.Tensor) and a.dim() == 1:
        a = a.unsqueeze(0).expand(x.shape[0], a.shape[0])
    check_tensor("a", a, 2, "(N,) or (B, N)")
    check_same("a", a, "x", x)
    check_dim("a", a, 0, x.shape[0], "(B, N) with x (B, T)", "batch size B")
    if x.shape[1] == 0 or a.shape[1] == 0:
        raise ValueError(f"x (B, T) and a (B, N) need T >= 1 and N >= 1, got x {tuple(x.shape)}, a {tuple(a.shape)}")
    concrete = resolve_backend(backend, x.device, x.shape[0], x.shape[1])
    return LTIAllPole.apply(x, a, concrete)


_SHIFT_TAPS = 8  # numerators up to this many taps are applied as shifted copies


def lfilter(
    waveform: torch.Tensor,
    a_coeffs: torch.Tensor,
    b_coeffs: torch.Tensor,
    clamp: bool = False,
    backend: str = "auto",
) -> torch.Tensor:
    """IIR filter ``H(z) = B(z) / A(z)``, as ``torchaudio.functional.lfilter``.

    Args:
        waveform: (..., T) signal, or (..., C, T) when the coefficients are 2-D.
        a_coeffs: (K,) or (C, K) denominator ``a[0] + a[1] z^-1 + ...``; a[0] != 0.
        b_coeffs: same shape as ``a_coeffs``, numerator.
        clamp: clamp the output to [-1, 1] (torchaudio's default is True; the
            loss uses False).
        backend: see :func:`dspnewton.filters.linear_recurrence`.

    Returns:
        (..., T) filtered signal; differentiable in all three tensors.
    """
    if not isinstance(waveform, torch.Tensor) or waveform.dim() < 1:
        raise ValueError("waveform must be a tensor of shape (..., T)")
    for name, c in (("a_coeffs", a_coeffs), ("b_coeffs", b_coeffs)):
        if not isinstance(c, torch.Tensor) or c.dim() not in (1, 2):
            raise ValueError(f"{name} must be a tensor of shape (K,) or (C, K)")
        check_same(name, c, "waveform", waveform)
    if a_coeffs.shape != b_coeffs.shape:
        raise ValueError(
            f"a_coeffs and b_coeffs must have the same shape (K,) or (C, K), got "
            f"{tuple(a_coeffs.shape)} and {tuple(b_coeffs.shape)}"
        )
    shape = waveform.shape
    T, K = shape[-1], a_coeffs.shape[-1]
    if a_coeffs.dim() == 2:
        C = a_coeffs.shape[0]
        if waveform.dim() < 2 or shape[-2] != C:
            raise ValueError(f"with (C, K) coefficients waveform must be (..., C, T) with C = {C}, got {tuple(shape)}")
        x = waveform.reshape(-1, T)
        reps = x.shape[0] // C
        a2, b2 = a_coeffs.repeat(reps, 1), b_coeffs.repeat(reps, 1)
    else:
        x = waveform.reshape(-1, T)
        a2 = a_coeffs.unsqueeze(0).expand(x.shape[0], K)
        b2 = b_coeffs.unsqueeze(0).expand(x.shape[0], K)
    check_tensor("waveform", x, 2, "(..., T)")
    a0 = a2[:, :1]
    # FIR part (numerator), then the all-pole part.  A short numerator (the pre-emphasis has two taps) as a sum
    # of shifted copies: a grouped convolution over a long signal is many times slower on the CPU.
    Bn = x.shape[0]
    if K <= _SHIFT_TAPS:
        taps = b2 / a0
        xp = F.pad(x, (K - 1, 0))
        fir = taps[:, :1] * x
        for k in range(1, K):
            fir = fir + taps[:, k:k + 1] * xp[:, K - 1 - k:K - 1 - k + T]
    else:
        fir = F.conv1d(F.pad(x, (K - 1, 0)).unsqueeze(0), (b2 / a0).flip(-1).unsqueeze(1), groups=Bn)[0]
    y = lti_allpole(fir, a2[:, 1:] / a0, backend) if K > 1 else fir
    if clamp:
        y = y.clamp(-1.0, 1.0)
    return y.reshape(shape)
