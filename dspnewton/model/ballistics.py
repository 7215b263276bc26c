"""Attack/release ballistics of a feed-forward compressor, differentiable to any order.

``g[n] = alpha[n] * gh[n] + (1 - alpha[n]) * g[n-1]`` with ``alpha[n] = alpha_at``
when ``gh[n] < g[n-1]`` (attack) and ``alpha_rt`` otherwise (release), ``g[-1] = g0``.

Once the attack/release mask is known this is the linear recurrence
``g[n] = beta[n] g[n-1] + alpha[n] gh[n]`` (``beta = 1 - alpha``), so every
derivative (backward, double backward, forward mode, vmap) is expressed through
:func:`dspnewton.filters.linear_recurrence`: on GPU all derivative recursions
run as parallel scans.  The forward pass is a sequential kernel (numba on CPU,
numba.cuda with one thread per signal on GPU) or, with ``forward="parallel"``,
a parallel solve that iterates on the mask (scan for the current mask,
recompute the mask, repeat until it no longer changes).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..filters import _kernels_cpu, _kernels_cuda
from ..filters._checks import check_dim, check_same, check_tensor, resolve_backend
from ..filters._jvp import lifted_jvp
from ..filters._vmap import zeros_if_none
from ..filters._time import next_in_time, reversed_in_time, shift_in
from ..filters.recurrence import LinearRecurrence
from ..filters.scan import scalar_affine_scan

__all__ = ["ballistics", "ballistics_parallel_forward", "ParallelStats"]

FORWARDS = ("kernel", "parallel")


@dataclass
class ParallelStats:
    """Outcome of the last parallel (mask-iteration) forward pass."""

    iterations: int = 0
    converged: bool = True


LAST_PARALLEL_STATS = ParallelStats()


def ballistics_parallel_forward(gh, at, rt, g0, max_iter: int = 100):
    """Solve the ballistics by iterating on the attack/release mask with scans.

    Each iteration solves the linear recurrence for the current mask with a
    parallel scan and recomputes the mask from the result; every entry before
    the first changed decision is final, so the iteration ends on the exact
    sequential mask.  If it has not settled after ``max_iter`` iterations the
    sequential kernel finishes the job (reported in the returned stats).

    Shapes: gh (B, T); at, rt, g0 (B,). Returns (g (B, T), mask (B, T) uint8, stats).
    """
    g_static = gh
    # Initial guess: attack wherever the static gain falls below its predecessor.
    mask = gh < shift_in(g0, g_static)
    at_, rt_ = at.unsqueeze(-1), rt.unsqueeze(-1)
    for it in range(1, max_iter + 1):
        # Coefficients and accumulation in float64, as the kernels compute them
        # (1 - alpha in float32 would cost digits of alpha ~ 1e-4); the result
        # is rounded back to the working dtype.
        alpha = torch.where(mask, at_, rt_).double()
        a = 1 - alpha
        x = alpha * gh.double()
        x[:, 0] += a[:, 0] * g0.double()
        g = scalar_affine_scan(a, x).to(gh.dtype)
        new_mask = gh < shift_in(g0, g)
        if torch.equal(new_mask, mask):
            return g, mask.to(torch.uint8), ParallelStats(it, True)
        mask = new_mask
    g, m = _kernel_forward(gh, at, rt, g0)
    return g, m, ParallelStats(max_iter, False)


def _kernel_forward(gh, at, rt, g0):
    if gh.device.type == "cuda":
        return _kernels_cuda.ballistics_forward(gh, at, rt, g0)
    out = torch.empty(gh.shape, dtype=gh.dtype)
    mask = torch.empty(gh.shape, dtype=torch.uint8)
    _kernels_cpu.ballistics_forward(
        *(_kernels_cpu.as_numpy(t) for t in (gh, at, rt, g0)), out.numpy(), mask.numpy()
    )
    return out, mask


class Ballistics(torch.autograd.Function):
    """Autograd Function of the ballistics.

    Inputs: gh (B, T), alpha_at (B,), alpha_rt (B,), g0 (B,), backend (concrete
    backend for the derivative recursions), forward ("kernel" | "parallel").
    Outputs: g (B, T) and the attack mask (B, T) uint8 (non-differentiable).
    """

    @staticmethod
    def forward(gh, at, rt, g0, backend, forward):
        gh, at, rt, g0 = gh.detach(), at.detach(), rt.detach(), g0.detach()
        if forward == "parallel":
            g, mask, stats = ballistics_parallel_forward(gh, at, rt, g0)
            LAST_PARALLEL_STATS.iterations, LAST_PARALLEL_STATS.converged = stats.iterations, stats.converged
            return g, mask
        return _kernel_forward(gh, at, rt, g0)

    @staticmethod
    def setup_context(ctx, inputs, output):
        gh, at, rt, g0, backend, _ = inputs
        g, mask = output
        ctx.mark_non_differentiable(mask)
        ctx.backend = backend
        ctx.save_for_backward(gh, at, rt, g0, g, mask)
        ctx.save_for_forward(gh, at, rt, g0, g, mask)

    @staticmethod
    def backward(ctx, grad_g, _grad_mask):
        gh, at, rt, g0, g, mask = ctx.saved_tensors
        attack = mask.bool()
        alpha = torch.where(attack, at.unsqueeze(-1), rt.unsqueeze(-1))
        zero = grad_g.new_zeros(grad_g.shape[0])
        lam = reversed_in_time(lambda c, r: LinearRecurrence.apply(c, r, zero, ctx.backend), next_in_time(1 - alpha),
                               grad_g)
        # d g[n] / d alpha[n] = gh[n] - g[n-1]
        g_alpha = lam * (gh - shift_in(g0, g))
        grad_at = (g_alpha * attack).sum(-1) if ctx.needs_input_grad[1] else None
        grad_rt = (g_alpha * ~attack).sum(-1) if ctx.needs_input_grad[2] else None
        grad_g0 = (1 - alpha[:, 0]) * lam[:, 0] if ctx.needs_input_grad[3] else None
        return lam * alpha, grad_at, grad_rt, grad_g0, None, None

    @staticmethod
    def jvp(ctx, dgh, dat, drt, dg0, _b, _f):
        def tangent(gh, at, rt, g0, g, mask, dgh, dat, drt, dg0):
            attack = mask.bool()
            alpha = torch.where(attack, at.unsqueeze(-1), rt.unsqueeze(-1))
            u = torch.zeros_like(g) if dgh is None else alpha * dgh
            if dat is not None or drt is not None:
                dalpha = torch.where(
                    attack, zeros_if_none(dat, at).unsqueeze(-1), zeros_if_none(drt, rt).unsqueeze(-1)
                )
                u = u + dalpha * (gh - shift_in(g0, g))
            return LinearRecurrence.apply(1 - alpha, u, zeros_if_none(dg0, g0), ctx.backend)

        return lifted_jvp(tangent, *ctx.saved_tensors, dgh, dat, drt, dg0), None

    @staticmethod
    def vmap(info, in_dims, gh, at, rt, g0, backend, forward):
        V = info.batch_size
        folded = []
        for t, d in zip((gh, at, rt, g0), in_dims[:4]):
            t = t.unsqueeze(0).expand(V, *t.shape) if d is None else t.movedim(d, 0)
            folded.append(t.reshape(V * t.shape[1], *t.shape[2:]))
        g, mask = Ballistics.apply(*folded, backend, forward)
        return (g.reshape(V, -1, g.shape[-1]), mask.reshape(V, -1, mask.shape[-1])), (0, 0)


def ballistics(
    gh: torch.Tensor,
    alpha_at: torch.Tensor,
    alpha_rt: torch.Tensor,
    g0: torch.Tensor | None = None,
    backend: str = "auto",
    forward: str = "kernel",
    return_mask: bool = False,
):
    """Smooth a target gain with attack/release ballistics.

    Args:
        gh: (B, T) static target gain (linear, > 0).
        alpha_at: (B,) attack coefficient in (0, 1].
        alpha_rt: (B,) release coefficient in (0, 1].
        g0: (B,) initial gain ``g[-1]``; ones when omitted.
        backend: backend of the derivative recursions (``auto``, ``sequential``,
            ``scan``, ``cuda``; see :func:`dspnewton.filters.linear_recurrence`).
        forward: ``kernel`` (sequential kernel on the tensors' device) or
            ``parallel`` (mask iteration with parallel scans).
        return_mask: also return the (B, T) uint8 attack mask.

    Returns:
        g: (B, T) smoothed gain (and the mask when ``return_mask``).
    """
    check_tensor("gh", gh, 2, "(B, T)")
    for name, t in (("alpha_at", alpha_at), ("alpha_rt", alpha_rt)):
        check_tensor(name, t, 1, "(B,)")
        check_same(name, t, "gh", gh)
        check_dim(name, t, 0, gh.shape[0], "(B,)", "batch size B")
    if g0 is None:
        g0 = gh.new_ones(gh.shape[0])
    check_tensor("g0", g0, 1, "(B,)")
    check_same("g0", g0, "gh", gh)
    if forward not in FORWARDS:
        raise ValueError(f"forward must be one of {', '.join(FORWARDS)}; got {forward!r}")
    concrete = resolve_backend(backend, gh.device, gh.shape[0], gh.shape[1])
    g, mask = Ballistics.apply(gh, alpha_at, alpha_rt, g0, concrete, forward)
    return (g, mask) if return_mask else g
