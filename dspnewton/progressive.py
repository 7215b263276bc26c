"""Progressive data in Newton: iterate on covering subsets of the frames, then on all of them.

Most Newton iterations of a long fit are spent far from the optimum, where a few frames that cover the
file (:func:`~dspnewton.objective.frame_subsets.covering_subset`: both ends, every level stratum, dark and
bright material) say as much about the next step as all of them.  :func:`progressive_newton` runs Newton
on subsets of :func:`~dspnewton.objective.frame_subsets.growth_schedule`'s sizes (x4 per stage), each stage
starting where the last one ended and stopping by the same rules, and finishes with Newton on **all** the
frames, so that the final iterate satisfies the same stopping rule on the whole file as a fit that used
all frames throughout.  Derivatives are exact throughout.  A subset stage minimises the exact loss of its
frames each starting **from rest** (the frame's first ``overlap_seconds`` rebuild the state, unscored; a
channel's first frame is scored from sample 0 as always), so it never reads the rest of the file; the last
stage uses the fit's own initial states (carried: the exact whole-signal loss).  Rest is the better
surrogate: frames starting from the whole-signal states of the stage's first parameters (frozen for the
stage) were tried and give a consistently biased optimum (a fixed point of "fit the subset, refresh the
states"; e.g. an ``ff5`` release of 0.82 s against 2.19 s from rest, 2.19 s with exact carried states on
the same subset and 2.49 s on the whole file: ``docs/long_fits.md``).  The subsets are deterministic
(seeded), so a fit is reproducible bit for bit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch

from .objective.frame_subsets import SEED, covering_subset, growth_schedule
from .optim.newton import NewtonResult

__all__ = ["Stage", "progressive_newton"]


@dataclass
class Stage:
    """One stage of a progressive fit: how many frames, and what Newton did on them."""

    frames: int
    iterations: int
    evaluations: int
    hessians: int  # of the evaluations, those with a Hessian (the others: loss or gradient alone)
    seconds: float
    loss: float
    message: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def progressive_newton(frames, theta0: torch.Tensor, run_newton: Callable, max_iter: int, sizes: list | None = None,
                       seed: int = SEED) -> tuple[NewtonResult, list]:
    """Newton over growing covering subsets of ``frames``, the last stage on all of them.

    Args:
        frames: the fit's :class:`~dspnewton.objective.framing.Frames`.
        theta0: (P,) start.
        run_newton: ``run_newton(part, theta, info, max_iter) -> NewtonResult``: Newton on the frames ``part``
            from ``theta`` with at most ``max_iter`` iterations; ``info`` = ``{"stage": k, "frames": n}``.
        max_iter: the iteration budget of all stages together (each subset stage leaves at least one iteration
            to the last stage).
        sizes: subset sizes (default :func:`growth_schedule`); the last must be all frames.
        seed: the subsets' tie-break seed.

    Returns:
        (the merged :class:`NewtonResult` -- the last stage's theta, loss and stopping reason; iterations,
        evaluations, seconds and history summed over the stages --, the :class:`Stage` list).
    """
    F = frames.n_frames
    sizes = growth_schedule(F) if sizes is None else list(sizes)
    if not sizes or sizes[-1] != F:
        raise ValueError(f"the last stage of a progressive fit must use all {F} frames; got sizes {sizes}")
    theta = theta0.detach().double().cpu()
    stages, history, results = [], [], []
    used = 0
    for k, n in enumerate(sizes):
        t0 = time.perf_counter()
        part, budget = frames, max_iter - used
        if n < F:
            budget -= 1  # the last stage always has an iteration
            if budget <= 0:
                continue
            part = frames.subset(covering_subset(frames, n, seed)).with_initial_state("rest")
        res = run_newton(part, theta, {"stage": k, "frames": n}, max(budget, 1))
        used += res.iterations
        theta = res.theta
        results.append(res)
        history += res.history
        stages.append(Stage(n, res.iterations, res.evaluations, res.hessians, time.perf_counter() - t0, res.loss,
                            res.message))
    last = results[-1]
    merged = NewtonResult(last.theta, last.loss, sum(r.iterations for r in results), last.converged, last.message,
                          history, sum(s.seconds for s in stages), sum(r.evaluations for r in results),
                          sum(r.hessians for r in results))
    return merged, stages
