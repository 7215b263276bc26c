"""``dspnewton.fit``: fit a compressor model to an input/target pair by damped Newton.

    result = dspnewton.fit("input.wav", "target.wav")                 # ff5
    result = dspnewton.fit("input.wav", "target.wav", model="fb+knee+2rel")
    result.all_params        # physical units
    result.save("fit.json")
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Callable

import torch

from .audio import InputError, prepare_pair
from .model.compressor import compress
from .model.models import get_model
from .objective.frame_lengths import FRAME_SECONDS, OVERLAP_SECONDS
from .model.greybox_spec import ModelSpec, model_theta_to_physical, parse_model
from .model.params import PARAM_NAMES, CompressorParams, theta_to_physical
from .objective.framing import INITIAL_STATES, make_frames
from .objective.exact import exact_loss_grad
from .objective.hessian import loss_grad_hess, loss_value, resolve_strategy
from .optim.first_order import adam, lbfgs
from .optim.newton import NewtonOptions, newton
from .result import FitResult

__all__ = ["fit", "published_init_theta", "OPTIMIZERS"]

OPTIMIZERS = ("newton", "adam", "lbfgs")


def _resolve_init(init, sample_rate: int, spec: ModelSpec | None = None):
    """theta (P,) of ``spec`` from an init spec, or None for the default start.

    A fit (or dict) of another model maps onto ``spec`` when its parameters are a
    subset of the model's (e.g. any model from an ``ff5`` fit): the parameters it
    lacks take their neutral defaults.  Anything else is an InputError.
    """
    spec = spec or parse_model("ff5")
    model = get_model(spec)
    if init is None:
        return None
    source = "init"
    if isinstance(init, (str, os.PathLike)):
        source = f"init '{init}'"
        init = FitResult.load(init)
    if isinstance(init, FitResult):
        if not model.can_warm_start_from(init.dsp_model):
            lost = [n for n in init.all_params if n not in model.param_names]
            raise InputError(
                f"{source} is a fit of model {init.model!r}, which cannot start model {model.name!r}: "
                f"{model.name} has no {', '.join(lost)}. Start from a fit of ff5 or of a model whose options "
                f"{model.name} includes, or start without an init (a grey-box model then warm-starts from ff5).")
        init = init.all_params if init.dsp_model == model.name else model.warm_start(init.all_params, sample_rate)
    if isinstance(init, CompressorParams):
        init = init.to_dict()
    if isinstance(init, torch.Tensor) and init.dim() == 1 and init.shape[0] in (5, spec.n_params):
        if init.shape[0] == spec.n_params:
            return init.detach().double().cpu()
        init = {k: float(v) for k, v in theta_to_physical(init.detach().double().cpu(), sample_rate).items()}
    if isinstance(init, dict):
        foreign = [k for k in init if k not in model.param_names]
        if foreign:
            raise InputError(f"{source} has parameters {', '.join(foreign)} that model {model.name} does not use; "
                             f"its parameters are {', '.join(model.param_names)}")
        try:
            return model.physical_to_theta(init, sample_rate, fill_defaults=True)
        except ValueError as exc:
            raise InputError(f"{source}: {exc}") from None
    raise InputError(f"init must be None, a fit JSON path, a FitResult, CompressorParams, a dict or a "
                     f"({spec.n_params},) theta of model {spec.name}")


FF5_STARTS = [(-20.0, 2.0), (-30.0, 2.0), (-40.0, 2.0), (-20.0, 6.0), (-30.0, 6.0), (-40.0, 6.0)]


SCREEN_FRAMES = 8
SCREEN_MAX_ITER = 15  # enough to rank the starts; the best one is then refined


def fit_ff5_multistart(x, y, sample_rate: int, screen_frames: int | None = SCREEN_FRAMES, **kw) -> FitResult:
    """The best ``ff5`` Newton fit from the published start and a small grid of
    (threshold dB, ratio) starts (1 ms, 200 ms, RMS-matched make-up).

    A single start can end in the flat region where the threshold lies above
    the signal and the ratio at 1:1; the grid avoids that.  The starts are
    screened with at most 15 Newton steps each, on long pairs on ``screen_frames``
    evenly spaced frames (None: every frame); the best is refined on every frame.
    x, y: (C, T), or None with ``_frames`` in ``kw``.
    """
    if x is None:
        x, y = kw["_frames"][0].signals()
    starts = [published_init_theta(x, y, sample_rate)]
    for thr, ratio in FF5_STARTS:
        th = starts[0].clone()
        th[:2] = CompressorParams(thr, ratio, 1.0, 200.0, 0.0).to_theta(sample_rate)[:2]
        starts.append(th)
    best = None
    screen_kw = dict(kw, max_iter=min(kw.get("max_iter") or SCREEN_MAX_ITER, SCREEN_MAX_ITER))
    for th in starts:
        r = fit(x, y, sample_rate, init=th, _frame_subset=screen_frames, **screen_kw)
        if best is None or r.loss < best.loss:
            best = r
    if best.extra.get("screened_frames") or best.iterations >= SCREEN_MAX_ITER:
        best = fit(x, y, sample_rate, init=best.theta, **kw)
    return best


def published_init_theta(x: torch.Tensor, y: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Published start (-36 dB, 4:1, 1 ms, 200 ms, 0 dB) with make-up shifted so the
    prediction's RMS matches the target's.  x, y: (C, T)."""
    theta = CompressorParams.published_init().to_theta(sample_rate)
    chunk = 30 * sample_rate  # bounded memory on long pairs (the gain restarts per chunk: a start heuristic)
    energy_pred = energy_target = 0.0
    with torch.no_grad():
        for s in range(0, x.shape[-1], chunk):
            energy_pred += float(compress(x[..., s:s + chunk].double(), theta, sample_rate).pow(2).sum())
            energy_target += float(y[..., s:s + chunk].double().pow(2).sum())
    rms_pred, rms_target = math.sqrt(energy_pred), math.sqrt(energy_target)
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
    frame_seconds: float | None = FRAME_SECONDS,
    overlap_seconds: float = OVERLAP_SECONDS,
    initial_state: str = "auto",
    backend: str = "auto",
    resample: bool = False,
    trim: bool = False,
    channels: str | None = None,
    align: bool = False,
    lr: float = 0.05,
    options: NewtonOptions | None = None,
    callback: Callable[[dict], None] | None = None,
    dist=None,
    model: str = "ff5",
    gru_epochs: int = 50,
    _frame_subset: int | None = None,
    _frames=None,
) -> FitResult:
    """Fit a compressor model (default the published ``ff5``) to an input/target pair.

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
        frame_seconds, overlap_seconds: framing (12 s, 1 s warm-up); None = whole signal.  The
            first frame is scored from sample 0 with the model starting from rest.
        initial_state: where later frames start: ``carried`` (the whole-signal state there:
            the loss is the exact whole-signal loss), ``rest`` (as published: from rest, the
            warm-up rebuilds the state), or ``auto`` (``carried`` with the fused strategy,
            ``rest`` with the autograd strategies, which support only that).
        backend: filter backend of the autograd strategies.
        resample, trim, channels, align: input handling (see :func:`dspnewton.audio.prepare_pair`).
        lr: Adam's learning rate.
        options: Newton stopping/step settings.
        callback: called with each history entry (dict with loss, esr, params, ...).
        dist: a :class:`dspnewton.distributed.DistContext`: this worker fits its shard
            of frames and all sums are all-reduced (data-parallel Newton).
        model: ``ff5`` or a grey-box model name (``dspnewton models``); ``auto`` (model selection by
            validation) is :func:`dspnewton.fit`'s, which calls :func:`dspnewton.selection.fit_auto`.  Without
            ``init`` a grey-box model warm-starts from an ``ff5`` fit of the same
            pair (reported in ``extra["ff5_warm_start"]``).  ``+gru`` on a name (e.g.
            ``fb+2rel+gru``) then trains the published GRU residual on the fitted DSP
            model's output (:mod:`dspnewton.model.residual`; ``FitResult.residual``).
        gru_epochs: at most this many Adam epochs for a ``+gru`` residual (early stop
            after 5 without improvement).

    Returns:
        :class:`dspnewton.result.FitResult`.
    """
    t0 = time.perf_counter()
    from .model.residual import split_model_name

    model, with_residual = split_model_name(model)
    if isinstance(model, str) and model.strip().lower() == "auto":
        raise InputError("model 'auto' is model selection: call dspnewton.fit (dspnewton.fit_dispatch.fit), which "
                         "selects with dspnewton.selection.fit_auto; dspnewton.fitting.fit fits one named model")
    try:
        spec = parse_model(model)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if with_residual and dist is not None:
        raise InputError("a '+gru' residual is trained on one worker; fit without {distributed}",
                         {"distributed": True})
    if optimizer not in OPTIMIZERS:
        raise InputError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {optimizer!r}")
    try:
        strategy = resolve_strategy(hessian)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if dtype not in (torch.float32, torch.float64):
        raise InputError(f"dtype must be float32 or float64, got {dtype}")
    initial_state = _resolve_initial_state(initial_state, strategy)
    if device is not None and str(device).startswith("cuda") and not torch.cuda.is_available():
        raise InputError("device 'cuda' was requested but no CUDA GPU is available; use {device}",
                         {"device": "cpu"})
    if _frames is None:
        pair = prepare_pair(input, target, sample_rate, resample=resample, trim=trim, channels=channels, align=align)
        try:
            frames = make_frames(pair.x, pair.y, pair.sample_rate, frame_seconds, overlap_seconds, initial_state)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        notes, lag = pair.notes, pair.lag
        del pair  # the frames hold the only copy of the audio from here on
    else:  # an internal call on frames already made (the ff5 warm start, model selection)
        frames, notes, lag = _frames
        frames = frames.with_initial_state(initial_state)
    sr = frames.sample_rate
    full_frames = frames
    n_frames_total = frames.n_frames
    screened = None
    if _frame_subset is not None and dist is None and frames.n_frames > _frame_subset:
        idx = torch.linspace(0, frames.n_frames - 1, _frame_subset).round().long().unique()
        # Screening ranks starts on a few frames: from rest (carried states need a pass over the whole file).
        frames, screened = frames.subset(idx).with_initial_state("rest"), int(idx.numel())
    if dist is not None:
        frames = frames.subset(dist.shard(frames.n_frames))
    if strategy != "fused" or optimizer != "newton" or dtype == torch.float32:
        frames = frames.to(device=device, dtype=dtype)  # the autograd paths compute in the frames' dtype
    else:
        frames = frames.to(device=device)  # fused: float64 arithmetic whatever the (exact) storage
    energy = frames.target_energy if dist is None else dist.reduce_scalar(frames.target_energy)
    if energy <= 0:
        raise InputError("the target is silent over the loss region; nothing to fit")
    theta0 = _resolve_init(init, sr, spec)
    warm = None
    if theta0 is None:
        theta0 = published_init_theta(*full_frames.signals(), sr)
        if not spec.is_ff5:
            base = fit_ff5_multistart(None, None, sr, device=device, dtype=dtype, options=options, dist=dist,
                                      _frames=(full_frames, notes, lag))
            warm = {"model": "ff5", "esr": base.esr, "iterations": base.iterations, "seconds": base.seconds,
                    "params": base.params.to_dict()}
            theta0 = _resolve_init(base, sr, spec)

    def enrich(entry: dict) -> dict:
        theta = torch.tensor(entry["theta"], dtype=torch.float64)
        loss_now = entry.get("loss_after", entry["loss"])
        entry["esr"] = loss_now / energy
        entry["esr_before"] = entry["loss"] / energy
        entry["params"] = {k: float(v) for k, v in model_theta_to_physical(theta, spec, sr).items()}
        if callback:
            callback(entry)
        return entry

    if optimizer == "newton":
        opts = dataclasses.replace(options) if options is not None else NewtonOptions()  # never mutate the caller's
        if max_iter is not None:
            opts.max_iter = max_iter
        if opts.decrement_atol == 0.0:
            opts.decrement_atol = 1e-15 * energy
        lgh = lambda th: loss_grad_hess(th, frames, strategy, backend, model=spec)  # noqa: E731
        lv = lambda th: loss_value(th, frames, strategy, backend, model=spec)  # noqa: E731
        if dist is not None:
            lgh_local, lv_local = lgh, lv
            lgh = lambda th: dist.reduce_lgh(*lgh_local(th))  # noqa: E731
            lv = lambda th: dist.reduce_scalar(lv_local(th))  # noqa: E731
        res = newton(lgh, lv, theta0, opts, enrich)
    else:
        def loss_grad(th):
            L, g = exact_loss_grad(spec, th, frames)
            if dist is not None:
                L, g, _ = dist.reduce_lgh(torch.tensor(L, dtype=torch.float64), g, torch.zeros(len(g), len(g),
                                                                                                  dtype=torch.float64))
            return float(L), g

        if optimizer == "adam":
            res = adam(loss_grad, theta0, max_iter or 500, lr, callback=enrich)
        else:
            res = lbfgs(loss_grad, theta0, max_iter or 100, callback=enrich)
        strategy = optimizer
    phys = {k: float(v) for k, v in model_theta_to_physical(res.theta.detach().double().cpu(), spec, sr).items()}
    params = CompressorParams.from_dict(phys)
    extra_params = {k: phys[k] for k in spec.param_names[len(PARAM_NAMES):]}
    extra = {} if warm is None else {"ff5_warm_start": warm}
    result = FitResult(
        params=params, sample_rate=sr, loss=res.loss, esr=res.loss / energy, iterations=res.iterations,
        converged=res.converged, message=res.message, seconds=time.perf_counter() - t0, hessian=strategy,
        optimizer=optimizer, history=res.history, model=spec.name, extra_params=extra_params,
        extra={**extra, "notes": notes, "lag_samples": lag, "frames": n_frames_total, "screened_frames": screened,
               "workers": 1 if dist is None else dist.world,
               "frame_seconds": frame_seconds, "overlap_seconds": overlap_seconds, "initial_state": initial_state,
               "evaluations": res.evaluations,
               "device": str(frames.x.device), "dtype": str(dtype).replace("torch.", ""),
               "at_bounds": get_model(spec).at_bounds(phys, sr)},
    )
    if with_residual:
        _add_residual(result, full_frames, spec, gru_epochs, callback)
    if _frames is None:  # what a listener hears: the whole pair rendered from rest, scored from sample 0
        result.extra["from_rest"] = from_rest_scores(result, *full_frames.signals())
    result.seconds = time.perf_counter() - t0
    return result


def from_rest_scores(result: FitResult, x: torch.Tensor, target: torch.Tensor) -> dict:
    """:func:`~dspnewton.objective.metrics.clip_scores` of ``result`` (with its residual) rendered from rest
    over the whole pair x, target (C, T)."""
    from .objective.metrics import clip_scores

    with torch.no_grad():
        pred = result.render(x.double())
    return clip_scores(pred, target.double(), result.sample_rate)


def _resolve_initial_state(initial_state: str, strategy: str) -> str:
    """``carried`` or ``rest`` for a fit with Hessian ``strategy``; InputError for a combination that cannot work."""
    if initial_state == "auto":
        return "carried" if strategy == "fused" else "rest"
    if initial_state not in INITIAL_STATES:
        raise InputError(f"initial_state must be auto, {', '.join(INITIAL_STATES)}; got {initial_state!r}")
    if initial_state == "carried" and strategy != "fused":
        raise InputError(f"the {strategy} Hessian strategy renders every frame from rest; carried initial states "
                         "need the fused strategy: use {hessian} or {initial_state}",
                         {"hessian": "fused", "initial_state": "rest"})
    return initial_state


def _add_residual(result: FitResult, frames, spec: ModelSpec, epochs: int, callback) -> None:
    """Train the GRU residual on the fitted DSP model's output; the result's ESR includes it."""
    from .model.residual import apply_residual
    from .residual_training import train_residual
    from .objective.preemphasis import preemphasis

    frames = frames.to(device="cpu")
    model = get_model(spec)
    x, target = frames.signals()
    with torch.no_grad():
        y_full = model.render(x.double(), result.theta, result.sample_rate)  # (C, T), continuous from rest
    weights, info = train_residual(y_full, target, result.sample_rate, epochs=epochs,
                                   callback=(lambda e: callback({"residual": e})) if callback else None)
    # The whole pair from sample 0, rendered continuously from rest (= the fit's loss region with carried states).
    pe_t = preemphasis(target.double())
    err = (preemphasis(apply_residual(y_full, weights)) - pe_t).pow(2).sum()
    result.esr = float(err) / float(pe_t.pow(2).sum())
    result.loss = result.esr * float(frames.target_energy)
    result.model = f"{spec.name}+gru"
    result.residual = {"type": "gru", "hidden": 8, "weights": weights, "esr_dsp": info["esr_dsp"],
                       "epochs": info["epochs"], "history": info["history"]}
