"""Loss, gradient and full Hessian of the fitting loss, by strategy.

- ``fused``: one sequential pass with forward sensitivities (see :mod:`.fused`);
  the default.
- ``revrev``: reverse over reverse (autograd double backward, as
  ``torch.autograd.functional.hessian``).
- ``fwdrev``: forward over reverse (``torch.func.hessian``).
- ``revfwd``: reverse over forward (``jacrev(jacfwd)``).
- ``fwdfwd``: forward over forward (``jacfwd(jacfwd)``).
- ``gauss-newton``: ``2 J^T J`` from the Jacobian of the residual (positive
  semi-definite; not the exact Hessian).

The autograd strategies process the frames in chunks of ``chunk_frames`` to
bound memory; every strategy returns float64 (loss, grad (P,), H (P, P)) summed
over all frames.  Every strategy works for every model; ``fused`` is
the model's exact pass (:mod:`.exact`): :mod:`.fused` (hand-fused kernel) for ``ff5`` and
:mod:`.greybox_fused` (compiled three-sweep kernel) for the grey-box models.
"""

from __future__ import annotations

import torch

from .framing import Frames
from ..model.greybox_spec import parse_model
from .exact import exact_loss, exact_loss_grad_hess
from .loss import frame_loss, residual
from .strategies import STRATEGIES

__all__ = ["STRATEGIES", "loss_grad_hess", "loss_value", "require_rest", "resolve_strategy"]



def resolve_strategy(name: str) -> str:
    if name == "auto":
        return "fused"
    if name not in STRATEGIES:
        raise ValueError(f"unknown Hessian strategy {name!r}; choose one of auto, {', '.join(STRATEGIES)}")
    return name


def require_rest(frames: Frames, strategy: str) -> None:
    """ValueError unless ``frames`` start from rest: the autograd strategies render every frame from rest."""
    if frames.carried:
        raise ValueError(f"the {strategy} Hessian strategy renders every frame from rest; carried initial states "
                         f"are computed by the fused strategy only: use hessian 'fused', or frames with "
                         f"initial_state 'rest'")


def _revrev(theta, frames, backend, model):
    t = theta.detach().clone().requires_grad_()
    L = frame_loss(t, frames, backend, model)
    (g,) = torch.autograd.grad(L, t, create_graph=True)
    rows = [torch.autograd.grad(g[i], t, retain_graph=i < g.numel() - 1)[0] for i in range(g.numel())]
    return L.detach(), g.detach(), torch.stack(rows)


_JAC = {"rev": torch.func.jacrev, "fwd": torch.func.jacfwd}


def _func_strategy(theta, frames, backend, outer, inner, model):
    """Hessian as outer(inner(loss)) with torch.func; also returns loss and gradient."""

    def loss_twice(t):
        L = frame_loss(t, frames, backend, model)
        return L, L

    def grad_and_loss(t):
        g, L = _JAC[inner](loss_twice, has_aux=True)(t)
        return g, (g, L)

    H, (g, L) = _JAC[outer](grad_and_loss, has_aux=True)(theta)
    return L, g, H


def _gauss_newton(theta, frames, backend, model):
    """2 J^T J, 2 J^T r and r^T r from the forward-mode Jacobian of the residual."""
    r = residual(theta, frames, backend, model).reshape(-1)
    J = torch.func.jacfwd(lambda t: residual(t, frames, backend, model))(theta).reshape(-1, theta.numel())
    return r.pow(2).sum(), 2 * J.T @ r, 2 * J.T @ J


def loss_grad_hess(theta: torch.Tensor, frames: Frames, strategy: str = "auto", backend: str = "auto",
                   chunk_frames: int = 4, model="ff5"):
    """(loss, grad (P,), H (P, P)), float64, at theta (P,) over all frames.

    Args:
        theta: (P,) unconstrained parameters of ``model`` (any float dtype; the autograd
            strategies compute in the frames' dtype, ``fused`` in float64).
        frames: the framed pair (:func:`dspnewton.objective.framing.make_frames`).
        strategy: one of ``auto`` (= ``fused``), ``fused``, ``revrev``, ``fwdrev``,
            ``revfwd``, ``fwdfwd``, ``gauss-newton``.
        backend: filter backend of the autograd strategies.
        chunk_frames: frames per autograd chunk (memory bound).
        model: model name (``ff5`` or a grey-box model, see ``dspnewton models``).
    """
    strategy = resolve_strategy(strategy)
    spec = parse_model(model)
    if strategy == "fused":
        return exact_loss_grad_hess(spec, theta, frames)
    require_rest(frames, strategy)
    theta = theta.detach().to(device=frames.x.device, dtype=frames.x.dtype)
    L = torch.zeros((), dtype=torch.float64)
    g = torch.zeros(theta.numel(), dtype=torch.float64)
    H = torch.zeros(theta.numel(), theta.numel(), dtype=torch.float64)
    for s in range(0, frames.n_frames, chunk_frames):
        part = frames.subset(slice(s, s + chunk_frames))
        if strategy == "revrev":
            Lc, gc, Hc = _revrev(theta, part, backend, model)
        elif strategy == "gauss-newton":
            Lc, gc, Hc = _gauss_newton(theta, part, backend, model)
        else:
            outer, inner = {"fwdrev": ("fwd", "rev"), "revfwd": ("rev", "fwd"), "fwdfwd": ("fwd", "fwd")}[strategy]
            Lc, gc, Hc = _func_strategy(theta, part, backend, outer, inner, model)
        L += Lc.detach().double().cpu()
        g += gc.detach().double().cpu()
        H += Hc.detach().double().cpu()
    return L, g, 0.5 * (H + H.T)


def loss_value(theta: torch.Tensor, frames: Frames, strategy: str = "auto", backend: str = "auto",
               chunk_frames: int = 16, model="ff5") -> float:
    """The loss alone (line searches): the fused pass, or a torch forward."""
    spec = parse_model(model)
    if resolve_strategy(strategy) == "fused":
        return exact_loss(spec, theta, frames)
    require_rest(frames, resolve_strategy(strategy))
    theta = theta.detach().to(device=frames.x.device, dtype=frames.x.dtype)
    total = 0.0
    with torch.no_grad():
        for s in range(0, frames.n_frames, chunk_frames):
            total += float(frame_loss(theta, frames.subset(slice(s, s + chunk_frames)), backend, model))
    return total
