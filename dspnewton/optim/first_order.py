"""First-order baselines through the same interface as Newton: Adam and L-BFGS (torch.optim)."""

from __future__ import annotations

import time
from typing import Callable

import torch

from .newton import NewtonResult

__all__ = ["adam", "lbfgs"]


def _warm_up(make_optimizer) -> None:
    """One step of the optimiser on a dummy tensor, outside the timed region: torch's
    first optimiser step imports machinery (seconds) that would otherwise count as
    the first iteration's time."""
    p = torch.zeros(1, requires_grad=True)
    opt = make_optimizer([p])

    def closure():
        opt.zero_grad()
        loss = (p - 1).pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)


def adam(loss_grad: Callable, theta0: torch.Tensor, max_iter: int = 500, lr: float = 0.05,
         loss_rtol: float = 0.0, callback: Callable | None = None) -> NewtonResult:
    """Adam on theta; ``loss_grad(theta) -> (loss, grad)``. One history entry per step."""
    _warm_up(lambda ps: torch.optim.Adam(ps, lr=lr))
    t0 = time.perf_counter()
    theta = theta0.detach().double().cpu().clone().requires_grad_()
    opt = torch.optim.Adam([theta], lr=lr)
    best, best_loss, history = theta.detach().clone(), float("inf"), []
    prev = None
    for it in range(1, max_iter + 1):
        L, g = loss_grad(theta.detach())
        L = float(L)
        if L < best_loss:
            best, best_loss = theta.detach().clone(), L
        opt.zero_grad()
        theta.grad = g.to(theta.dtype).clone()
        opt.step()
        entry = {"iteration": it, "loss": L, "theta": theta.detach().tolist(), "step": lr,
                 "seconds": time.perf_counter() - t0}
        history.append(entry)
        if callback:
            callback(entry)
        if prev is not None and loss_rtol > 0 and abs(prev - L) <= loss_rtol * abs(prev):
            break
        prev = L
    return NewtonResult(best, best_loss, it, False, f"Adam stopped after {it} steps", history,
                        time.perf_counter() - t0, it)


def lbfgs(loss_grad: Callable, theta0: torch.Tensor, max_iter: int = 100, history_size: int = 20,
          callback: Callable | None = None) -> NewtonResult:
    """L-BFGS (torch.optim, strong-Wolfe line search); one history entry per loss evaluation."""
    _warm_up(lambda ps: torch.optim.LBFGS(ps, max_iter=2, line_search_fn="strong_wolfe"))
    t0 = time.perf_counter()
    theta = theta0.detach().double().cpu().clone().requires_grad_()
    opt = torch.optim.LBFGS([theta], lr=1.0, max_iter=max_iter, max_eval=2 * max_iter, history_size=history_size,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-12, tolerance_change=1e-15)
    history: list = []
    best = {"loss": float("inf"), "theta": theta.detach().clone()}

    def closure():
        opt.zero_grad()
        L, g = loss_grad(theta.detach())
        L = float(L)
        theta.grad = g.to(theta.dtype).clone()
        if L < best["loss"]:
            best["loss"], best["theta"] = L, theta.detach().clone()
        entry = {"iteration": len(history) + 1, "loss": L, "theta": theta.detach().tolist(),
                 "seconds": time.perf_counter() - t0}
        history.append(entry)
        if callback:
            callback(entry)
        return torch.tensor(L, dtype=torch.float64)

    opt.step(closure)
    n_iter = opt.state[opt.param_groups[0]["params"][0]].get("n_iter", 0)
    converged = n_iter < max_iter
    message = "L-BFGS tolerances met" if converged else f"reached max_iter = {max_iter}"
    return NewtonResult(best["theta"], best["loss"], n_iter, converged, message, history,
                        time.perf_counter() - t0, len(history))
