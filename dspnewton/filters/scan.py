"""Parallel associative scans for linear recurrences, written in torch ops.

These are the GPU-parallel algorithms behind the ``scan`` backend.  They run on
any device (on CPU they serve as a cross-check of the sequential kernels).

The recurrence ``s[n] = M[n] s[n-1] + b[n]`` (``s[-1] = 0``) is solved by
odd-even reduction (a work-efficient scan): adjacent affine maps are composed
pairwise, the half-length problem is solved recursively, and the remaining
entries are filled in with one more step.  Work is O(T) and depth O(log T); each
level is a handful of element-wise torch kernels, so the whole scan costs
about ``4 log2(T)`` kernel launches regardless of the batch size.
"""

from __future__ import annotations

import torch

__all__ = ["scalar_affine_scan", "matrix_affine_scan"]


def scalar_affine_scan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Solve ``s[n] = a[n] * s[n-1] + b[n]`` with ``s[-1] = 0`` along the last dim.

    Args:
        a: (..., T) multipliers.
        b: (..., T) inputs; same shape, dtype and device as ``a``.

    Returns:
        s: (..., T).
    """
    T = b.shape[-1]
    if T == 1:
        return b.clone()
    if T % 2:
        # Pad with the identity map (a=1, b=0) to an even length, drop it after.
        a = torch.cat([a, torch.ones_like(a[..., :1])], dim=-1)
        b = torch.cat([b, torch.zeros_like(b[..., :1])], dim=-1)
    a_even, a_odd = a[..., 0::2], a[..., 1::2]
    b_even, b_odd = b[..., 0::2], b[..., 1::2]
    # Compose f_odd after f_even: the half-length recurrence gives s at odd n.
    s_odd = scalar_affine_scan(a_odd * a_even, a_odd * b_even + b_odd)
    # s[2k] = a[2k] * s[2k-1] + b[2k], with s[-1] = 0.
    s_even = b_even.clone()
    s_even[..., 1:] += a_even[..., 1:] * s_odd[..., :-1]
    s = torch.stack([s_even, s_odd], dim=-1).flatten(-2)
    return s[..., :T]


def matrix_affine_scan(M: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Solve ``s[n] = M[n] @ s[n-1] + b[n]`` with ``s[-1] = 0`` along time.

    Args:
        M: (..., T, N, N) state-transition matrices.
        b: (..., T, N) inputs.

    Returns:
        s: (..., T, N).
    """
    T = b.shape[-2]
    if T == 1:
        return b.clone()
    if T % 2:
        eye = torch.eye(M.shape[-1], dtype=M.dtype, device=M.device)
        M = torch.cat([M, eye.expand(*M.shape[:-3], 1, *eye.shape)], dim=-3)
        b = torch.cat([b, torch.zeros_like(b[..., :1, :])], dim=-2)
    M_even, M_odd = M[..., 0::2, :, :], M[..., 1::2, :, :]
    b_even, b_odd = b[..., 0::2, :], b[..., 1::2, :]
    s_odd = matrix_affine_scan(
        M_odd @ M_even, (M_odd @ b_even.unsqueeze(-1)).squeeze(-1) + b_odd
    )
    s_even = b_even.clone()
    s_even[..., 1:, :] += (M_even[..., 1:, :, :] @ s_odd[..., :-1, :].unsqueeze(-1)).squeeze(-1)
    s = torch.stack([s_even, s_odd], dim=-2).flatten(-3, -2)
    return s[..., :T, :]
