"""Damped Newton-Raphson over the full Hessian with an Armijo backtracking line search.

Each iteration: loss L, gradient g and Hessian H at theta; the Hessian is made
positive definite by eigenvalue modification (``|lambda|``, floored at a
fraction of the largest), giving a descent direction ``p = -H_mod^{-1} g``
even where H is indefinite or singular; then backtracking from step 1, halving
until ``L(theta + t p) <= L(theta) + c t g^T p`` (c = 1e-4; at most 20
halvings).  If that fails the step is damped Levenberg-Marquardt style
(``H_mod + mu I`` with growing mu) and searched again; a random step is never
taken.  Stops on a small Newton decrement (``g^T H_mod^{-1} g / 2`` relative to
L), a small relative decrease of the loss in one step (``loss_rtol``), a stall
(the relative decrease stayed below ``stall_rtol`` for ``stall_iters``
consecutive steps: the fit has stopped improving; on piecewise-smooth losses
Newton converges only linearly near the optimum and such steps buy nothing),
or ``max_iter``; the best parameters seen are returned, with the reason and a
per-iteration history.

Lazy Hessians (``lazy_hessian``, given a gradient-only pass): near the optimum
(relative decrease below ``lazy_near``), after a full step that decreased the
loss by at least ``1 - lazy_rtol`` of the quadratic model's prediction, the next iteration
reuses the Hessian (and its eigendecomposition) and evaluates the gradient
alone, at most ``lazy_max_reuse`` times in a row (Doikov, Chayti and Jaggi,
2023: Newton with lazy Hessian updates keeps its convergence).  Every stop is
confirmed with a fresh Hessian: a step made with a reused Hessian that meets a
stopping rule is followed by a fresh evaluation and one more step, so the
final iterate meets the same rule as without reuse.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from .options import NewtonOptions

__all__ = ["NewtonOptions", "NewtonResult", "newton", "modified_newton_direction"]


@dataclass
class NewtonResult:
    """Outcome of :func:`newton`: best theta, its loss, status and history."""

    theta: torch.Tensor
    loss: float
    iterations: int
    converged: bool
    message: str
    history: list = field(default_factory=list)
    seconds: float = 0.0
    evaluations: int = 0  # passes over the data (loss, gradient or Hessian)
    hessians: int = 0  # of which evaluated a Hessian


def _finite(lgh) -> bool:
    """Whether a (loss, grad, H) triple is finite."""
    L, g, H = lgh
    L = float(L)
    return L == L and abs(L) != float("inf") and bool(torch.isfinite(g).all()) and bool(torch.isfinite(H).all())


def modified_newton_direction(g: torch.Tensor, H: torch.Tensor, eig_floor: float = 1e-10, mu: float = 0.0,
                              eig: tuple | None = None):
    """Descent direction ``-(H_mod + mu I)^{-1} g``, whether H was modified, and H's eigenvalues.

    H_mod has H's eigenvectors and eigenvalues ``max(|lambda|, eig_floor * max|lambda|)``.  ``eig``: H's
    eigendecomposition ``(lam, V)`` when already known (a reused Hessian), else it is computed.
    """
    if eig is None:
        lam, V = torch.linalg.eigh(0.5 * (H + H.T))
    else:
        lam, V = eig
    scale = lam.abs().max().clamp_min(torch.finfo(H.dtype).tiny)
    floor = eig_floor * scale
    lam_mod = lam.abs().clamp_min(floor) + mu
    modified = bool((lam < floor).any()) or mu > 0
    p = -(V @ ((V.T @ g) / lam_mod))
    return p, modified, lam


def newton(
    loss_grad_hess: Callable[[torch.Tensor], tuple],
    loss_only: Callable[[torch.Tensor], float],
    theta0: torch.Tensor,
    options: NewtonOptions | None = None,
    callback: Callable[[dict], None] | None = None,
    loss_grad: Callable[[torch.Tensor], tuple] | None = None,
) -> NewtonResult:
    """Minimise a smooth loss by damped Newton with Armijo backtracking.

    Args:
        loss_grad_hess: theta (n,) -> (loss, grad (n,), H (n, n)), float64.
        loss_only: theta (n,) -> loss (float); used by the line search.
        theta0: (n,) starting point.
        options: :class:`NewtonOptions`.
        callback: called with each history entry (a dict) as it is recorded.
        loss_grad: theta (n,) -> (loss, grad (n,)): the gradient alone, cheaper than ``loss_grad_hess``
            and equal to its gradient.  With it (and ``options.lazy_hessian``) the Hessian is reused while
            full steps decrease the loss as its quadratic model predicts (lazy Hessians); without it every
            iteration evaluates a fresh Hessian.

    Returns:
        :class:`NewtonResult` (theta is float64 on the CPU).
    """
    opt = options or NewtonOptions()
    lazy = opt.lazy_hessian and loss_grad is not None
    t_start = time.perf_counter()
    theta = theta0.detach().double().cpu().clone()
    best_theta, best_loss = theta.clone(), float("inf")
    history: list = []
    evaluations = hessians = 0
    converged, message = False, f"reached max_iter = {opt.max_iter}"
    L, g, H = loss_grad_hess(theta)
    evaluations += 1
    hessians += 1
    L = float(L)
    eig = None  # H's eigendecomposition, kept while H is reused
    reused = 0  # iterations since H was evaluated (0: fresh at this point)
    reuse_next = False  # the last full step matched the quadratic model: the next point reuses H
    iteration = 0
    stalled = 0
    last_full_step = False

    def evaluate(point, fresh: bool):
        """(L, g, H, fresh) at point: a fresh Hessian, or the gradient alone with the current H."""
        nonlocal evaluations, hessians
        evaluations += 1
        if fresh:
            hessians += 1
            return (*loss_grad_hess(point), True)
        Lp, gp = loss_grad(point)
        return Lp, gp, H, False

    def may_reuse() -> bool:
        """Whether the next point may reuse H: the last full step kept to the model, reuses left."""
        return reuse_next and reused < opt.lazy_max_reuse

    for iteration in range(1, opt.max_iter + 1):
        if L < best_loss:
            best_theta, best_loss = theta.clone(), L
        if not (L == L) or not bool(torch.isfinite(g).all()) or not bool(torch.isfinite(H).all()):
            message = "loss, gradient or Hessian is not finite"
            break
        if L == 0.0:
            converged, message = True, "loss is exactly zero"
            break
        if eig is None:
            eig = torch.linalg.eigh(0.5 * (H + H.T))
        if reused:
            # A stop on the Newton decrement is only taken with a fresh Hessian at this point.
            p, _, _ = modified_newton_direction(g, H, opt.eig_floor, 0.0, eig)
            if -float(g @ p) / 2 <= opt.decrement_rtol * abs(L) + opt.decrement_atol:
                L, g, H, _ = evaluate(theta, True)
                L, eig, reused = float(L), torch.linalg.eigh(0.5 * (H + H.T)), 0
        step, accepted, modified, decrement, L_new, mu = 0.0, False, False, 0.0, L, 0.0
        prefetched = None  # (L, g, H, fresh) at the accepted point when the trial was a derivative pass
        for attempt in range(opt.lm_tries + 1):
            p, modified, lam = modified_newton_direction(g, H, opt.eig_floor, mu, eig)
            slope = float(g @ p)
            decrement = -slope
            if attempt == 0 and decrement / 2 <= opt.decrement_rtol * abs(L) + opt.decrement_atol:
                break
            t = 1.0
            for _ in range(opt.max_halvings + 1):
                candidate = None
                if t == 1.0 and attempt == 0 and opt.full_pass_first and last_full_step:
                    # Full steps usually follow full steps near the optimum: the pass that the next
                    # iteration needs anyway also gives the trial loss (the same first sweep); the gradient
                    # alone when the last full step kept to the quadratic model (the Hessian will be reused).
                    candidate = evaluate(theta + p, not may_reuse())
                    L_try = float(candidate[0])
                else:
                    L_try = loss_only(theta + t * p)
                    evaluations += 1
                if L_try == L_try and L_try <= L + opt.armijo_c * t * slope:
                    accepted, step, L_new, prefetched = True, t, L_try, candidate
                    break
                t *= 0.5
            if accepted:
                break
            mu = float(lam.abs().max()) * (1e-3 * 10.0**attempt)
        entry = {"iteration": iteration, "loss": L, "theta": theta.tolist(), "step": step, "decrement": decrement,
                 "hessian_modified": modified, "lm_damping": mu, "hessian_reused": reused > 0,
                 "seconds": time.perf_counter() - t_start}
        if not accepted:
            history.append(entry)
            if callback:
                callback(entry)
            if reused:  # no decrease along a reused Hessian's directions: try again with a fresh one
                L, g, H, _ = evaluate(theta, True)
                L, eig, reused, reuse_next, last_full_step = float(L), None, 0, False, False
                continue
            if decrement / 2 <= opt.decrement_rtol * abs(L) + opt.decrement_atol:
                converged, message = True, "Newton decrement below tolerance"
            else:
                message = "line search found no decrease (after Levenberg-Marquardt damping)"
            break
        rel_decrease = (L - L_new) / max(abs(L), 1e-300)
        stalled_now = stalled + 1 if rel_decrease < opt.stall_rtol else 0
        stop = rel_decrease <= opt.loss_rtol or (opt.stall_iters > 0 and stalled_now >= opt.stall_iters)
        # The quadratic model's predicted change (with H as used for this step) against the actual one.
        predicted = step * slope + 0.5 * step * step * float(p @ (H @ p))
        reuse_next = (lazy and step == 1.0 and mu == 0.0 and predicted < 0.0 and rel_decrease < opt.lazy_near
                      and (L_new - L) / predicted >= 1.0 - opt.lazy_rtol)
        confirm = stop and reused > 0  # a stop after a step with a reused Hessian waits for a fresh one
        stop = stop and not confirm
        fresh_next = confirm or not may_reuse()
        nxt = prefetched
        if nxt is not None and not nxt[3] and fresh_next:
            nxt = None  # the trial gave the gradient alone, but this point needs a fresh Hessian
        if not stop:
            if nxt is None:
                nxt = evaluate(theta + step * p, fresh_next)
            # A point with a finite loss can still have non-finite derivatives (e.g. a feedback loop
            # driven unstable): step back along p until they are finite again.
            halvings, t_try = 0, step
            while not _finite(nxt[:3]) and halvings < opt.max_halvings:
                halvings += 1
                t_try *= 0.5
                L_try = loss_only(theta + t_try * p)
                evaluations += 1
                if L_try == L_try and L_try <= L + opt.armijo_c * t_try * slope:
                    step, L_new = t_try, L_try  # the point whose derivatives nxt holds
                    nxt = evaluate(theta + step * p, True)
            if not _finite(nxt[:3]):  # nowhere along p with usable derivatives: stay here
                entry["step"] = 0.0
                history.append(entry)
                if callback:
                    callback(entry)
                message = ("derivatives are not finite along the Newton direction (e.g. a feedback loop driven "
                           "unstable); stopped at the last point where they are")
                break
            if halvings:
                entry["step"] = step
                rel_decrease = (L - L_new) / max(abs(L), 1e-300)
                stalled_now = stalled + 1 if rel_decrease < opt.stall_rtol else 0
        theta = theta + step * p
        entry["loss_after"] = L_new
        entry["theta"] = theta.tolist()
        history.append(entry)
        if callback:
            callback(entry)
        last_full_step = step == 1.0
        stalled = stalled_now
        if (rel_decrease <= opt.loss_rtol or (opt.stall_iters > 0 and stalled >= opt.stall_iters)) and not reused:
            L = L_new  # stop here: no derivatives needed at the last point
            converged = True
            message = ("relative loss decrease below tolerance" if rel_decrease <= opt.loss_rtol else
                       f"stopped improving: relative loss decrease below {opt.stall_rtol:g} for {stalled} steps")
            break
        L, g, H, fresh = nxt
        L = float(L)
        if fresh:
            eig, reused = None, 0
        else:
            reused += 1
    if L < best_loss:
        best_theta, best_loss = theta.clone(), L
    return NewtonResult(best_theta, best_loss, iteration, converged, message, history,
                        time.perf_counter() - t_start, evaluations, hessians)
