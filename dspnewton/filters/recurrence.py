"""Time-varying first-order linear recurrence ``y[n] = a[n] y[n-1] + x[n]``.

The recursion behind one-pole smoothers (compressor ballistics) and behind
every derivative of them.  Differentiable to any order in reverse and forward
mode and under ``torch.func`` transforms (``vmap``, ``jacrev``, ``jacfwd``,
``hessian``): the backward pass is the same recurrence run backwards in time,
the forward-mode tangent is the same recurrence run forwards.
"""

from __future__ import annotations

import torch

from . import _primitives
from ._jvp import lifted_jvp
from ._time import next_in_time, reversed_in_time, shift_in
from ._checks import check_dim, check_same, check_tensor, resolve_backend
from ._vmap import fold_vmap, zeros_if_none

__all__ = ["linear_recurrence"]




class LinearRecurrence(torch.autograd.Function):
    """Autograd Function for ``y[n] = a[n] y[n-1] + x[n]``, ``y[-1] = y0``.

    Inputs: a (B, T), x (B, T), y0 (B,), backend (str, concrete).
    Output: y (B, T).
    """

    @staticmethod
    def forward(a, x, y0, backend):
        return _primitives.recurrence(a, x, y0, backend)

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, _, y0, backend = inputs
        ctx.backend = backend
        ctx.save_for_backward(a, y0, output)
        ctx.save_for_forward(a, y0, output)

    @staticmethod
    def backward(ctx, grad_y):
        a, y0, y = ctx.saved_tensors
        # Adjoint: lam[n] = grad_y[n] + a[n+1] lam[n+1], run in reversed time.
        zero = grad_y.new_zeros(grad_y.shape[0])
        lam = reversed_in_time(lambda c, r: LinearRecurrence.apply(c, r, zero, ctx.backend), next_in_time(a), grad_y)
        grad_a = lam * shift_in(y0, y) if ctx.needs_input_grad[0] else None
        grad_y0 = a[:, 0] * lam[:, 0] if ctx.needs_input_grad[2] else None
        return grad_a, lam, grad_y0, None

    @staticmethod
    def jvp(ctx, da, dx, dy0, _):
        def tangent(a, y0, y, da, dx, dy0):
            u = zeros_if_none(dx, y)
            if da is not None:
                u = u + da * shift_in(y0, y)
            return LinearRecurrence.apply(a, u, zeros_if_none(dy0, y0), ctx.backend)

        return lifted_jvp(tangent, *ctx.saved_tensors, da, dx, dy0)

    @staticmethod
    def vmap(info, in_dims, a, x, y0, backend):
        return fold_vmap(
            info, in_dims[:3], (a, x, y0), lambda a_, x_, y0_: LinearRecurrence.apply(a_, x_, y0_, backend)
        )


def linear_recurrence(
    a: torch.Tensor, x: torch.Tensor, y0: torch.Tensor | None = None, backend: str = "auto"
) -> torch.Tensor:
    """Filter ``x`` through ``y[n] = a[n] * y[n-1] + x[n]``.

    Args:
        a: (B, T) time-varying pole (feedback coefficient) per sample.
        x: (B, T) input.
        y0: (B,) initial state ``y[-1]``; zeros when omitted.
        backend: ``auto``, ``sequential`` (numba, CPU), ``scan`` (parallel,
            any device) or ``cuda`` (numba.cuda, one thread per signal).

    Returns:
        y: (B, T), same dtype and device as ``x``.

    Differentiable with respect to ``a``, ``x`` and ``y0`` to any order, in
    reverse and forward mode, and under ``torch.func`` transforms.
    """
    check_tensor("x", x, 2, "(B, T)")
    check_tensor("a", a, 2, "(B, T)")
    check_same("a", a, "x", x)
    check_dim("a", a, 0, x.shape[0], "(B, T) like x", "batch size B")
    check_dim("a", a, 1, x.shape[1], "(B, T) like x", "length T")
    if x.shape[1] == 0:
        raise ValueError("x must have shape (B, T) with T >= 1, got T = 0")
    if y0 is None:
        y0 = x.new_zeros(x.shape[0])
    else:
        check_tensor("y0", y0, 1, "(B,)")
        check_same("y0", y0, "x", x)
        check_dim("y0", y0, 0, x.shape[0], "(B,)", "batch size B")
    concrete = resolve_backend(backend, x.device, x.shape[0], x.shape[1])
    return LinearRecurrence.apply(a, x, y0, concrete)
