"""``dspnewton.fit``: fit a compressor model to an input/target pair by damped Newton.

    result = dspnewton.fit("input.wav", "target.wav")                 # ff5
    result = dspnewton.fit("input.wav", "target.wav", model="fb+knee+2rel")
    result.all_params        # physical units
    result.save("fit.json")

A fit runs in four steps, each its own function: prepare (:func:`fit_options` checks every option
before any audio is read; :func:`fit` reads and frames the pair), initialise
(:mod:`dspnewton.fit_start`; a grey-box model warm-starts from an ``ff5`` multistart fit),
minimise (:func:`_minimise`: Newton, or the Adam / L-BFGS baselines) and report (:func:`_report`,
a :class:`~dspnewton.result.FitResult`).  :func:`fit_frames` runs the last three on frames already
made (model selection fits its candidates that way).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import torch

from .audio import InputError, prepare_pair
from .fit_start import published_init_theta, resolve_init
from .model.greybox_spec import ModelSpec, model_theta_to_physical, parse_model
from .model.names import parse_model_choice
from .model.models import get_model
from .model.params import PARAM_NAMES, CompressorParams
from .objective.exact import exact_loss_grad
from .objective.frame_subsets import growth_schedule
from .objective.frame_lengths import FRAME_SECONDS, OVERLAP_SECONDS
from .objective.framing import INITIAL_STATES, Frames, make_frames
from .objective.hessian import loss_grad_hess, loss_value, resolve_strategy
from .optim.first_order import adam, lbfgs
from .optim.newton import NewtonOptions, newton
from .progressive import progressive_newton
from .result import FitResult

__all__ = ["fit", "fit_frames", "fit_options", "FitOptions", "fit_ff5_multistart", "OPTIMIZERS"]

OPTIMIZERS = ("newton", "adam", "lbfgs")


@dataclasses.dataclass(frozen=True)
class FitOptions:
    """How to fit, checked once (:func:`fit_options`); the fields are :func:`fit`'s keywords of the same names,
    resolved: ``spec`` the DSP model, ``with_residual`` for ``+gru``, ``strategy`` the Hessian strategy
    (``auto`` resolved), ``initial_state`` ``carried`` or ``rest``."""

    spec: ModelSpec
    with_residual: bool = False
    strategy: str = "fused"
    optimizer: str = "newton"
    initial_state: str = "carried"
    device: object = None
    dtype: torch.dtype = torch.float64
    max_iter: int | None = None
    frame_seconds: float | None = FRAME_SECONDS
    overlap_seconds: float = OVERLAP_SECONDS
    backend: str = "auto"
    lr: float = 0.05
    options: NewtonOptions | None = None
    callback: Callable[[dict], None] | None = None
    dist: object = None
    gru_epochs: int = 50

    def replace(self, **changes) -> "FitOptions":
        return dataclasses.replace(self, **changes)


def fit_options(*, model: str = "ff5", hessian: str = "auto", optimizer: str = "newton", device=None,
                dtype: torch.dtype = torch.float64, max_iter: int | None = None,
                frame_seconds: float | None = FRAME_SECONDS, overlap_seconds: float = OVERLAP_SECONDS,
                initial_state: str = "auto", backend: str = "auto", lr: float = 0.05,
                options: NewtonOptions | None = None, callback: Callable[[dict], None] | None = None, dist=None,
                gru_epochs: int = 50) -> FitOptions:
    """The :class:`FitOptions` of :func:`fit`'s keywords (documented there); InputError for any that cannot work."""
    choice = parse_model_choice(model)
    if choice.auto:
        raise InputError("model 'auto' is model selection: call dspnewton.fit (dspnewton.fit_dispatch.fit), which "
                         "selects with dspnewton.selection.fit_auto; dspnewton.fitting.fit fits one named model")
    spec, with_residual = choice.spec, choice.residual
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
    if options is not None and options.lazy_hessian and strategy != "fused":
        raise InputError(f"lazy Hessians reuse a Hessian with the compiled pass's gradient alone; the {strategy} "
                         "strategy has no such pass: use {hessian} or NewtonOptions(lazy_hessian=False)",
                         {"hessian": "fused"})
    if device is not None and str(device).startswith("cuda") and not torch.cuda.is_available():
        raise InputError("device 'cuda' was requested but no CUDA GPU is available; use {device}",
                         {"device": "cpu"})
    return FitOptions(spec=spec, with_residual=with_residual, strategy=strategy, optimizer=optimizer,
                      initial_state=initial_state, device=device, dtype=dtype, max_iter=max_iter,
                      frame_seconds=frame_seconds, overlap_seconds=overlap_seconds, backend=backend, lr=lr,
                      options=options, callback=callback, dist=dist, gru_epochs=gru_epochs)


FF5_STARTS = [(-20.0, 2.0), (-30.0, 2.0), (-40.0, 2.0), (-20.0, 6.0), (-30.0, 6.0), (-40.0, 6.0)]


SCREEN_FRAMES = 8
SCREEN_MAX_ITER = 15  # enough to rank the starts; the best one is then refined


def ff5_multistart(frames: Frames, opts: FitOptions, screen_frames: int | None = SCREEN_FRAMES) -> FitResult:
    """The best ``ff5`` Newton fit of ``frames`` from the published start and a small grid of
    (threshold dB, ratio) starts (the published start's time constants, RMS-matched make-up).

    A single start can end in the flat region where the threshold lies above
    the signal and the ratio at 1:1; the grid avoids that.  The starts are
    screened with at most 15 Newton steps each, on long pairs on ``screen_frames``
    evenly spaced frames (None: every frame); the best is refined on every frame.
    ``opts``: the options of the fit (its model is replaced by ``ff5``).
    """
    x, y = frames.signals()
    opts = opts.replace(spec=parse_model("ff5"), with_residual=False)
    starts = [published_init_theta(x, y, frames.sample_rate)]
    for thr, ratio in FF5_STARTS:
        th = starts[0].clone()
        grid = dataclasses.replace(CompressorParams.published_init(), threshold_db=thr, ratio=ratio)
        th[:2] = grid.to_theta(frames.sample_rate)[:2]
        starts.append(th)
    best = None
    screen = opts.replace(max_iter=min(opts.max_iter or SCREEN_MAX_ITER, SCREEN_MAX_ITER))
    for th in starts:
        r = fit_frames(frames, screen, init=th, screen_frames=screen_frames)
        if best is None or r.loss < best.loss:
            best = r
    if best.extra.get("screened_frames") or best.iterations >= SCREEN_MAX_ITER:
        best = fit_frames(frames, opts, init=best.theta)
    return best


def fit_ff5_multistart(x: torch.Tensor, y: torch.Tensor, sample_rate: int, **fit_kw) -> FitResult:
    """:func:`ff5_multistart` of the pair x, y (C, T) framed as :func:`fit` frames it; ``fit_kw``: :func:`fit_options`'s."""
    opts = fit_options(**{**fit_kw, "model": "ff5"})
    return ff5_multistart(make_frames(x, y, sample_rate, opts.frame_seconds, opts.overlap_seconds,
                                      opts.initial_state), opts)


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
    opts = fit_options(model=model, hessian=hessian, optimizer=optimizer, device=device, dtype=dtype,
                       max_iter=max_iter, frame_seconds=frame_seconds, overlap_seconds=overlap_seconds,
                       initial_state=initial_state, backend=backend, lr=lr, options=options, callback=callback,
                       dist=dist, gru_epochs=gru_epochs)
    pair = prepare_pair(input, target, sample_rate, resample=resample, trim=trim, channels=channels, align=align)
    try:
        frames = make_frames(pair.x, pair.y, pair.sample_rate, frame_seconds, overlap_seconds, opts.initial_state)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    notes, lag = pair.notes, pair.lag
    del pair  # the frames hold the only copy of the audio from here on
    result = fit_frames(frames, opts, init=init, notes=notes, lag=lag)
    # What a listener hears: the whole pair rendered from rest, scored from sample 0.  The fit's own loss is
    # exactly that (the whole pair from rest) when the fused pass carried the states over all frames.
    exact = (opts.optimizer == "newton" and opts.strategy == "fused" and opts.dist is None
             and opts.dtype == torch.float64 and not opts.with_residual
             and (frames.carried or bool(frames.first.all())))
    result.extra["from_rest"] = from_rest_scores(result, *frames.signals(), loss=result.loss if exact else None)
    result.seconds = time.perf_counter() - t0
    return result


def fit_frames(frames: Frames, opts: FitOptions, *, init=None, notes=(), lag: int = 0,
               screen_frames: int | None = None) -> FitResult:
    """Initialise, minimise and report a fit of ``frames`` (:func:`~dspnewton.objective.framing.make_frames`).

    Args:
        frames: the framed pair (its initial states are set to ``opts.initial_state``).
        opts: :func:`fit_options`.
        init: as :func:`fit`'s.
        notes, lag: what preparing the pair reported (kept in ``extra``).
        screen_frames: fit on this many evenly spaced frames from rest (ranking starts cheaply);
            None or with ``opts.dist``: every frame.

    Returns:
        :class:`~dspnewton.result.FitResult` (without ``extra["from_rest"]``: :func:`fit` adds it).
    """
    t0 = time.perf_counter()
    full = frames.with_initial_state(opts.initial_state)
    frames, screened = _fit_subset(full, opts, screen_frames)
    energy = frames.target_energy if opts.dist is None else opts.dist.reduce_scalar(frames.target_energy)
    if energy <= 0:
        raise InputError("the target is silent over the loss region; nothing to fit")
    theta0, warm = _initial_theta(full, opts, init)
    res, strategy, stages = _minimise(frames, opts, theta0, energy)
    result = _report(res, opts, frames, energy, strategy,
                     {**({} if warm is None else {"ff5_warm_start": warm}), "notes": notes, "lag_samples": lag,
                      "frames": full.n_frames, "screened_frames": screened,
                      "progressive": _stages_summary(stages)})
    if opts.with_residual:
        _add_residual(result, full, opts.spec, opts.gru_epochs, opts.callback)
    result.seconds = time.perf_counter() - t0
    return result


def _fit_subset(frames: Frames, opts: FitOptions, screen_frames: int | None):
    """(the frames this worker minimises over, on the device and dtype of the fit; screened frame count or None)."""
    screened = None
    if screen_frames is not None and opts.dist is None and frames.n_frames > screen_frames:
        idx = torch.linspace(0, frames.n_frames - 1, screen_frames).round().long().unique()
        # Screening ranks starts on a few frames: from rest (carried states need a pass over the whole file).
        frames, screened = frames.subset(idx).with_initial_state("rest"), int(idx.numel())
    if opts.dist is not None:
        frames = frames.subset(opts.dist.shard(frames.n_frames))
    if opts.strategy != "fused" or opts.optimizer != "newton" or opts.dtype == torch.float32:
        return frames.to(device=opts.device, dtype=opts.dtype), screened  # the autograd paths compute in this dtype
    return frames.to(device=opts.device), screened  # fused: float64 arithmetic whatever the (exact) storage


def _initial_theta(frames: Frames, opts: FitOptions, init):
    """(theta0 (P,), the ff5 warm start's summary or None): ``init``, else the published start for ``ff5``
    and an ``ff5`` multistart fit for a grey-box model."""
    sr, spec = frames.sample_rate, opts.spec
    theta0 = resolve_init(init, sr, spec)
    if theta0 is not None:
        return theta0, None
    if spec.is_ff5:
        return published_init_theta(*frames.signals(), sr), None
    # The warm start is a default ff5 fit (fused Newton, carried states) on this fit's device, dtype and workers.
    base = ff5_multistart(frames, fit_options(device=opts.device, dtype=opts.dtype, options=opts.options,
                                             dist=opts.dist))
    warm = {"model": "ff5", "esr": base.esr, "iterations": base.iterations, "seconds": base.seconds,
            "params": base.params.to_dict()}
    return resolve_init(base, sr, spec), warm


def _minimise(frames: Frames, opts: FitOptions, theta0: torch.Tensor, energy: float):
    """(the optimiser's result, the name recorded as the fit's ``hessian``, the progressive stages or None)."""
    spec, sr, dist = opts.spec, frames.sample_rate, opts.dist

    def enricher(stage_energy: float, info: dict):
        def enrich(entry: dict) -> dict:
            theta = torch.tensor(entry["theta"], dtype=torch.float64)
            loss_now = entry.get("loss_after", entry["loss"])
            entry.update(info)
            entry["esr"] = loss_now / stage_energy
            entry["esr_before"] = entry["loss"] / stage_energy
            entry["params"] = {k: float(v) for k, v in model_theta_to_physical(theta, spec, sr).items()}
            if opts.callback:
                opts.callback(entry)
            return entry
        return enrich

    enrich = enricher(energy, {})
    if opts.optimizer == "newton":
        nopts = dataclasses.replace(opts.options) if opts.options is not None else NewtonOptions()  # never mutate
        if opts.max_iter is not None:
            nopts.max_iter = opts.max_iter
        if nopts.decrement_atol == 0.0:
            nopts.decrement_atol = 1e-15 * energy

        def run_newton(part: Frames, theta: torch.Tensor, info: dict, max_iter: int = nopts.max_iter):
            lgh = lambda th: loss_grad_hess(th, part, opts.strategy, opts.backend, model=spec)  # noqa: E731
            lv = lambda th: loss_value(th, part, opts.strategy, opts.backend, model=spec)  # noqa: E731
            if dist is not None:
                lgh_local, lv_local = lgh, lv
                lgh = lambda th: dist.reduce_lgh(*lgh_local(th))  # noqa: E731
                lv = lambda th: dist.reduce_scalar(lv_local(th))  # noqa: E731
            lg = None  # the gradient-only pass of the compiled kernels (lazy Hessians)
            if resolve_strategy(opts.strategy) == "fused":
                lg = lambda th: exact_loss_grad(spec, th, part)  # noqa: E731
                if dist is not None:
                    lg_local = lg
                    lg = lambda th: _reduce_grad(dist, *lg_local(th))  # noqa: E731
            stage_energy = energy if part is frames else part.target_energy
            stage_opts = dataclasses.replace(nopts, max_iter=max_iter)
            return newton(lgh, lv, theta, stage_opts, enricher(stage_energy, info), loss_grad=lg)

        if not nopts.progressive or dist is not None or len(growth_schedule(frames.n_frames)) == 1:
            return run_newton(frames, theta0, {}), opts.strategy, None
        res, stages = progressive_newton(frames, theta0, run_newton, nopts.max_iter)
        return res, opts.strategy, stages

    def loss_grad(th):
        L, g = exact_loss_grad(spec, th, frames)
        return _reduce_grad(dist, L, g) if dist is not None else (float(L), g)

    if opts.optimizer == "adam":
        return adam(loss_grad, theta0, opts.max_iter or 500, opts.lr, callback=enrich), "adam", None
    return lbfgs(loss_grad, theta0, opts.max_iter or 100, callback=enrich), "lbfgs", None


def _reduce_grad(dist, L: float, g: torch.Tensor) -> tuple[float, torch.Tensor]:
    """(loss, gradient) summed over the distributed workers."""
    L, g, _ = dist.reduce_lgh(torch.tensor(L, dtype=torch.float64), g, torch.zeros(len(g), len(g), dtype=torch.float64))
    return float(L), g


def _stages_summary(stages) -> dict | None:
    """``extra["progressive"]``: the stages and how many passes touched all the data (None: not progressive)."""
    if stages is None:
        return None
    # Subset stages read their frames alone (from rest); every evaluation of the last stage reads all the data.
    return {"stages": [s.to_dict() for s in stages], "full_data_passes": stages[-1].evaluations}


def _report(res, opts: FitOptions, frames: Frames, energy: float, strategy: str, extra: dict) -> FitResult:
    """The :class:`~dspnewton.result.FitResult` of the optimiser's result ``res``."""
    spec, sr = opts.spec, frames.sample_rate
    phys = {k: float(v) for k, v in model_theta_to_physical(res.theta.detach().double().cpu(), spec, sr).items()}
    return FitResult(
        params=CompressorParams.from_dict(phys), sample_rate=sr, loss=res.loss, esr=res.loss / energy,
        iterations=res.iterations, converged=res.converged, message=res.message, seconds=0.0, hessian=strategy,
        optimizer=opts.optimizer, history=res.history, model=spec.name,
        extra_params={k: phys[k] for k in spec.param_names[len(PARAM_NAMES):]},
        extra={**extra, "workers": 1 if opts.dist is None else opts.dist.world,
               "frame_seconds": opts.frame_seconds, "overlap_seconds": opts.overlap_seconds,
               "initial_state": opts.initial_state, "evaluations": res.evaluations,
               "hessians": res.hessians,
               "device": str(frames.x.device), "dtype": str(opts.dtype).replace("torch.", ""),
               "at_bounds": get_model(spec).at_bounds(phys, sr)},
    )


def from_rest_scores(result: FitResult, x: torch.Tensor, target: torch.Tensor, loss: float | None = None) -> dict:
    """:func:`~dspnewton.objective.metrics.clip_scores` of ``result`` (with its residual) rendered from rest
    over the whole pair x, target (C, T).

    ``loss``: the pair's pre-emphasised squared error from sample 0 at the result's parameters when an exact
    pass has computed it (a fused fit with carried states, or one frame per channel): then only the first
    second is rendered (:func:`~dspnewton.objective.metrics.clip_scores_from_loss`)."""
    from .objective.metrics import STARTUP_SECONDS, clip_scores, clip_scores_from_loss

    with torch.no_grad():
        if loss is not None and not result.residual:
            n = min(x.shape[-1], round(STARTUP_SECONDS * result.sample_rate))
            head = result.render(x[..., :n].double())
            return clip_scores_from_loss(head, target, result.sample_rate, loss)
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
    from .model.residual import HIDDEN, apply_residual
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
    result.residual = {"type": "gru", "hidden": HIDDEN, "weights": weights, "esr_dsp": info["esr_dsp"],
                       "epochs": info["epochs"], "history": info["history"]}
