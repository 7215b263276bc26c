"""``dspnewton.fit``: fit the ff5 compressor to an input/target pair by damped Newton.

    result = dspnewton.fit("input.wav", "target.wav")
    result.params            # CompressorParams in physical units
    result.save("fit.json")
"""

from __future__ import annotations

import math
import os
import time
from typing import Callable

import torch

from .audio import InputError, prepare_pair
from .model.compressor import compress
from .model.params import CompressorParams, physical_to_theta, theta_to_physical
from .objective.framing import make_frames
from .objective.fused import fused_loss_grad_hess
from .objective.hessian import loss_grad_hess, loss_value, resolve_strategy
from .optim.first_order import adam, lbfgs
from .optim.newton import NewtonOptions, newton
from .result import FitResult

__all__ = ["fit", "published_init_theta", "OPTIMIZERS"]

OPTIMIZERS = ("newton", "adam", "lbfgs")


def _resolve_init(init, sample_rate: int):
    """theta (5,) from an init spec, or None for the published initialisation."""
    if init is None:
        return None
    if isinstance(init, (str, os.PathLike)):
        init = FitResult.load(init)
    if isinstance(init, FitResult):
        init = init.params
    if isinstance(init, CompressorParams):
        init = init.to_dict()
    if isinstance(init, dict):
        try:
            return physical_to_theta(init, sample_rate)
        except ValueError as exc:
            raise InputError(f"init: {exc}") from None
    if isinstance(init, torch.Tensor) and init.shape == (5,):
        return init.detach().double().cpu()
    raise InputError("init must be None, a fit JSON path, a FitResult, CompressorParams, a dict or a (5,) theta")


def published_init_theta(x: torch.Tensor, y: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Published start (-36 dB, 4:1, 1 ms, 200 ms, 0 dB) with make-up shifted so the
    prediction's RMS matches the target's.  x, y: (C, T)."""
    theta = CompressorParams.published_init().to_theta(sample_rate)
    with torch.no_grad():
        pred = compress(x.double(), theta, sample_rate)
    rms_pred = pred.pow(2).mean().sqrt().item()
    rms_target = y.double().pow(2).mean().sqrt().item()
    if rms_pred > 0 and rms_target > 0:
        theta[4] += 20 * math.log10(rms_target / rms_pred)
    return theta


def fit(
    input,
    target,
    sample_rate: int | None = None,
    *,
    hessian: str = "auto",
    optimizer: str = "newton",
    device=None,
    dtype: torch.dtype = torch.float64,
    init=None,
    max_iter: int | None = None,
    frame_seconds: float | None = 12.0,
    overlap_seconds: float = 1.0,
    backend: str = "auto",
    resample: bool = False,
    trim: bool = False,
    channels: str | None = None,
    align: bool = False,
    lr: float = 0.05,
    options: NewtonOptions | None = None,
    callback: Callable[[dict], None] | None = None,
    dist=None,
) -> FitResult:
    """Fit the ff5 compressor to an input/target pair.

    Args:
        input, target: file paths, tensors or numpy arrays ((T,) or (C, T)).
        sample_rate: Hz; required for arrays, checked against files.
        hessian: ``auto`` (= ``fused``), ``fused``, ``revrev``, ``fwdrev``, ``revfwd``,
            ``fwdfwd`` or ``gauss-newton``.
        optimizer: ``newton`` (default), or the baselines ``adam``, ``lbfgs``.
        device: where frames live (``cpu``, ``cuda``); default CPU.
        dtype: audio dtype for the model (the fused pass accumulates in float64).
        init: None (published initialisation with RMS-matched make-up), a fit
            JSON path, a FitResult, CompressorParams, a dict, or a (5,) theta (warm start).
        max_iter: iteration limit (default 100 for Newton/L-BFGS, 500 for Adam).
        frame_seconds, overlap_seconds: framing (12 s, 1 s warm-up); None = whole signal.
        backend: filter backend of the autograd strategies.
        resample, trim, channels, align: input handling (see :func:`dspnewton.audio.prepare_pair`).
        lr: Adam's learning rate.
        options: Newton stopping/step settings.
        callback: called with each history entry (dict with loss, esr, params, ...).
        dist: a :class:`dspnewton.distributed.DistContext`: this worker fits its shard
            of frames and all sums are all-reduced (data-parallel Newton).

    Returns:
        :class:`dspnewton.result.FitResult`.
    """
    t0 = time.perf_counter()
    if optimizer not in OPTIMIZERS:
        raise InputError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {optimizer!r}")
    try:
        strategy = resolve_strategy(hessian)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if dtype not in (torch.float32, torch.float64):
        raise InputError(f"dtype must be float32 or float64, got {dtype}")
    if device is not None and str(device).startswith("cuda") and not torch.cuda.is_available():
        raise InputError("device 'cuda' was requested but no CUDA GPU is available; use --device cpu")
    pair = prepare_pair(input, target, sample_rate, resample=resample, trim=trim, channels=channels, align=align)
    sr = pair.sample_rate
    try:
        frames = make_frames(pair.x, pair.y, sr, frame_seconds, overlap_seconds)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    n_frames_total = frames.n_frames
    if dist is not None:
        frames = frames.subset(dist.shard(frames.n_frames))
    frames = frames.to(device=device, dtype=dtype)
    energy = frames.target_energy if dist is None else dist.reduce_scalar(frames.target_energy)
    if energy <= 0:
        raise InputError("the target is silent over the loss region (after the warm-up); nothing to fit")
    theta0 = _resolve_init(init, sr)
    if theta0 is None:
        theta0 = published_init_theta(pair.x, pair.y, sr)

    def enrich(entry: dict) -> dict:
        theta = torch.tensor(entry["theta"], dtype=torch.float64)
        loss_now = entry.get("loss_after", entry["loss"])
        entry["esr"] = loss_now / energy
        entry["esr_before"] = entry["loss"] / energy
        entry["params"] = {k: float(v) for k, v in theta_to_physical(theta, sr).items()}
        if callback:
            callback(entry)
        return entry

    if optimizer == "newton":
        opts = options or NewtonOptions()
        if max_iter is not None:
            opts.max_iter = max_iter
        if opts.decrement_atol == 0.0:
            opts.decrement_atol = 1e-15 * energy
        lgh = lambda th: loss_grad_hess(th, frames, strategy, backend)  # noqa: E731
        lv = lambda th: loss_value(th, frames, strategy, backend)  # noqa: E731
        if dist is not None:
            lgh_local, lv_local = lgh, lv
            lgh = lambda th: dist.reduce_lgh(*lgh_local(th))  # noqa: E731
            lv = lambda th: dist.reduce_scalar(lv_local(th))  # noqa: E731
        res = newton(lgh, lv, theta0, opts, enrich)
    else:
        def loss_grad(th):
            L, g, H = fused_loss_grad_hess(th, frames)
            if dist is not None:
                L, g, _ = dist.reduce_lgh(L, g, H)
            return float(L), g

        if optimizer == "adam":
            res = adam(loss_grad, theta0, max_iter or 500, lr, callback=enrich)
        else:
            res = lbfgs(loss_grad, theta0, max_iter or 100, callback=enrich)
        strategy = optimizer
    params = CompressorParams.from_theta(res.theta, sr)
    return FitResult(
        params=params, sample_rate=sr, loss=res.loss, esr=res.loss / energy, iterations=res.iterations,
        converged=res.converged, message=res.message, seconds=time.perf_counter() - t0, hessian=strategy,
        optimizer=optimizer, history=res.history,
        extra={"notes": pair.notes, "lag_samples": pair.lag, "frames": n_frames_total,
               "workers": 1 if dist is None else dist.world,
               "frame_seconds": frame_seconds, "overlap_seconds": overlap_seconds, "evaluations": res.evaluations,
               "device": str(frames.x.device), "dtype": str(dtype).replace("torch.", "")},
    )
