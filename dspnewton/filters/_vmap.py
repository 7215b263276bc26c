"""A vmap rule for filters batched over a leading dimension.

Every filter here already runs over a batch B, so a vmapped call folds the
vmap dimension into B: (V, B, ...) -> (V*B, ...), runs once, and unfolds.
"""

from __future__ import annotations

import torch


def fold_vmap(info, in_dims, tensors, apply):
    """Run ``apply(*folded)`` with the vmap dimension merged into the batch.

    Args:
        info: the ``info`` object torch passes to ``Function.vmap``.
        in_dims: the vmap dimension of each tensor (or None when not vmapped).
        tensors: tensors whose first logical dim is the filter batch B.
        apply: callable taking the folded tensors; returns one (V*B, ...) tensor.

    Returns:
        (output of shape (V, B, ...), 0)
    """
    V = info.batch_size
    folded = []
    for t, d in zip(tensors, in_dims):
        t = t.unsqueeze(0).expand(V, *t.shape) if d is None else t.movedim(d, 0)
        folded.append(t.reshape(V * t.shape[1], *t.shape[2:]))
    out = apply(*folded)
    return out.reshape(V, -1, *out.shape[1:]), 0


def zeros_if_none(t, like: torch.Tensor, shape=None) -> torch.Tensor:
    """``t``, or zeros shaped like ``like`` (or ``shape``) when ``t`` is None."""
    if t is not None:
        return t
    if shape is None:
        return torch.zeros_like(like)
    return like.new_zeros(shape)
