"""A model's exact fused pass: the fitting loss, its gradient and its full Hessian by the compiled kernel.

    L, g, H = exact_loss_grad_hess("fb+2rel", theta, frames)   # float64 scalar tensor, (P,), (P, P)
    L = exact_loss("ff5", theta, frames)                        # float, the loss-only pass

``ff5`` runs its hand-fused kernel (:mod:`.fused`), every other model the compiled grey-box
three-sweep pass (:mod:`.greybox_fused`).  This module is where that choice is made; the model
layer below (:mod:`dspnewton.model`) knows nothing of losses.  ``theta`` is the model's
unconstrained parameter vector (P,); ``frames`` a :class:`~.framing.Frames`.
"""

from __future__ import annotations

import torch

from ..model.models import get_model
from .framing import Frames

__all__ = ["exact_loss", "exact_loss_grad", "exact_loss_grad_hess"]


def exact_loss(model, theta: torch.Tensor, frames: Frames) -> float:
    """The fitting loss (sum of squared pre-emphasised error over the loss region) at theta (P,)."""
    spec = get_model(model).spec
    if spec.is_ff5:
        from .fused import fused_loss

        return fused_loss(theta, frames)
    from .greybox_fused import greybox_fused_loss

    return greybox_fused_loss(theta, frames, spec)


def exact_loss_grad_hess(model, theta: torch.Tensor, frames: Frames):
    """(loss (float64 scalar tensor), grad (P,), exact H (P, P)) at theta (P,) by the model's compiled pass."""
    spec = get_model(model).spec
    if spec.is_ff5:
        from .fused import fused_loss_grad_hess

        L, g, H = fused_loss_grad_hess(theta, frames)
    else:
        from .greybox_fused import greybox_fused_loss_grad_hess

        L, g, H = greybox_fused_loss_grad_hess(theta, frames, spec)
    return torch.tensor(L, dtype=torch.float64), g, H


def exact_loss_grad(model, theta: torch.Tensor, frames: Frames):
    """(loss (float), grad (P,)): the same gradient as :func:`exact_loss_grad_hess` (bit for bit) by the compiled
    pass's gradient level (no second-order sensitivities or sums): first-order optimisers, lazy Hessians."""
    spec = get_model(model).spec
    if spec.is_ff5:
        from .fused import fused_loss_grad

        L, g = fused_loss_grad(theta, frames)
        return float(L), g
    from .greybox_fused import greybox_fused_loss_grad

    L, g = greybox_fused_loss_grad(theta, frames, spec)
    return float(L), g
