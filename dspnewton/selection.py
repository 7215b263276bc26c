"""Model selection by validation: ``dspnewton fit ... --model auto``.

**Folds.** The pair is cut into ``folds / validation`` equal blocks (16 by default:
4 folds x 25 %).  Four blocks are held out: the **first** block, scored from the
pair's first sample with the model starting from rest (what a listener hears when
playback starts; the unit too starts from rest), and three more spread evenly over
the pair, scored **continuing** from the state the model has there.  No candidate
is fitted on a held-out block: each is fitted on the other blocks (at most
``candidates.SELECTION_FIT_SECONDS`` of them, 60 s: on a longer pair each run of fitted blocks keeps
its last share, so that the selection's cost stops growing with the pair), one frame per
run of consecutive fitted blocks, the model starting from rest at the pair's first
sample (``frame_lengths.SEGMENT_WARMUP_SECONDS`` before the run on long pairs), so the
held-out audio shapes the state but never the loss, and the fit's loss and exact
derivatives are those of the whole pair from rest over the fitted blocks (frames
of one block with a 1 s warm-up truncated the tangents of longer states: on the FET
unit's compress-70 pair the program-dependent release model's fold fit stopped at
3.2 % ESR where that truncated gradient vanished, 0.046 % with exact frames).
``ff5`` is fitted from the published start and a grid of starts (as every fit's
warm start).  Every candidate is then rendered once over the whole pair from rest
and scored per fold.

**Rule.** A fold whose target is nearly silent (pre-emphasised energy per sample
60 dB below the pair's) is skipped and said so.  If no candidate can match the
first second from rest (every candidate's first-second ESR is more than 4x its
continuing ESR and above 0.5 %), the target is taken to start mid-compression: it
is reported and the from-rest fold is not used.  A candidate is *eligible* when it
is no worse than ``ff5`` on every used fold (held-out ESR ratio <= 1), its start
is not audibly worse than ff5's where the start is used (the start-up level error
over the first second's 50 ms windows: a start is refused when both its largest
window is more than 1 dB above ff5's largest and, window by window, its level error
more than 1 dB beyond ff5's adds up (dB s) to more than ff5's more than 1 dB beyond
its: worse at its worst and worse on balance; either alone refused models whose
first second was 12-30x better than ff5's in ESR, for a 50 ms onset or for a level
ff5 misses elsewhere in that second), and no time
constant of it both sits on a bound of its range and is longer than the audio it
was fitted on (the fit ran off the material's reach: unidentifiable there; a long
time constant inside its range, e.g. an optical cell's slow release of 13 s fitted
on 6 s and checked on the continuing folds, is only reported).
Among the eligible candidates (``ff5`` always is) the lowest mean ratio to ``ff5``
over the used folds wins.

**Pruning.** A signal-path stage (``inhp``, ``outshelf``, ``in2``, ``core``, ``out2``) with a
parameter the winner's fit left on a bound is either switched off by the fit (an input high-pass at
its lowest corner, a core that no longer saturates) or pressed against its range (the unit wants
what the stage cannot give).  For each such stage the model without it is fitted on the same blocks,
started from the winner's fit, and scored (one the short list holds keeps its fit); the best of them
replaces the winner when it is eligible and its score is at most ``PRUNE_TOLERANCE`` (5 %) above the
first winner's (a stage has to earn its parameters; the steps do not add up), and the step is
repeated on the new winner.  The models pruning tried are rows of the record like the short list's
(``pruned_from``: the model they were cut from).  The winner is refitted on the whole pair,
warm-started from its fit; a stage the refit leaves on a bound (and the fold fit did not) is pruned
the same way, and the new winner refitted.  A refit that leaves a time constant on a bound and longer
than the whole pair (run off the material, as the eligibility rule says of the fold fits) loses the
choice to the next eligible candidate (``refit_rejected``), whose stages on a bound are pruned in turn
(steps marked ``"after": "refit_rejected"``).  So ``auto`` is never worse than ``ff5`` on
any held-out fold.

Each grey-box candidate starts from the best fit (lowest fitting-part ESR) among
the already fitted candidates whose options it includes (``ff5`` at least): a
second start where the short list nests.  ``FitResult.extra["auto"]`` (and so
``fit.json``) records every candidate's fitted ESR, its ESR per fold from rest and
continuing, the start-up level error, parameters on bounds and the reason it was
or was not eligible.

The short list covers kinds of device, each with and without the signal
path's transformer stages: feed-forward (VCA, digital), feed-forward with a
program-dependent release (FET and variable-mu limiters), feedback with a
two-stage release (optical levelling amplifiers) and the recommended model
with every gain-shaping option (and with the program-dependent release instead
of the two-stage one); none was chosen for one test unit.  ``dspnewton models`` prints it with its reasons.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import soundfile as sf
import torch

from .audio import InputError, prepare_pair
from .candidates import FOLDS, PRUNE_TOLERANCE, SELECTION_FIT_SECONDS, SHORT_LIST, VALIDATION_FRACTION, short_list_text
from .model.greybox_spec import parse_model
from .model.names import OPTION_PARAMS, SIGNAL_PATH_OPTIONS, ModelSpec
from .model.schema import PARAMETERS
from .objective.frame_lengths import OVERLAP_SECONDS

__all__ = ["SHORT_LIST", "VALIDATION_FRACTION", "FOLDS", "MIN_FOLD_SECONDS", "FoldLayout", "fit_auto",
           "runnable_candidates", "fold_layout", "fold_scores", "decide", "short_list_text", "score_candidates",
           "selection_settings", "select_for_sweep", "prune_stages", "stages_on_bounds", "without_stage",
           "PRUNE_TOLERANCE"]

MIN_FOLD_SECONDS = 0.25
SILENT_FOLD_DB = -60.0  # a fold this far below the pair's mean pre-emphasised energy per sample is skipped
START_FACTOR, START_FLOOR = 4.0, 0.005  # the start is "unmatched" when every candidate's first second is worse
STARTUP_DB_MARGIN = 1.0  # a start-up level difference to ff5's under this is hardly audible, dB
TIME_CONSTANTS = tuple(p.name for p in PARAMETERS if p.unit == "ms")  # attack, releases, RMS, prel's memory


def _candidate_names(candidates) -> list:
    """Canonical, de-duplicated model names of ``candidates`` (default: the short list); InputError on a bad name."""
    names = [m for m, _ in SHORT_LIST] if candidates is None else list(candidates)
    try:
        return list(dict.fromkeys(parse_model(m).name for m in names))
    except ValueError as exc:
        raise InputError(str(exc)) from None


def runnable_candidates(names, sample_rate: int, named: bool) -> tuple[list, dict]:
    """The candidates a pair at ``sample_rate`` can run, and {model: why} for the others (``out2`` needs a rate
    above twice its highest corner).  With ``named`` (the user listed the candidates) a candidate that cannot run
    is an InputError instead of being left out."""
    from .model.greybox_spec import check_output_lp_rate

    keep, skipped = [], {}
    for n in names:
        try:
            check_output_lp_rate(parse_model(n), sample_rate)
            keep.append(n)
        except InputError as exc:
            if named:
                raise
            skipped[n] = str(exc)
    return keep, skipped


@dataclass
class FoldLayout:
    """How a pair of ``n_samples`` is cut for selection (all in samples).

    The pair is cut into ``blocks`` blocks of ``hop`` samples after a ``warmup``: block b scores
    :meth:`scored_range` (block 0 from sample 0).  ``held_out`` are the blocks of the folds (the first is
    the from-rest fold), the others are fitted on (:meth:`fitted_ranges`, at most ``fit_samples`` of them).
    """

    n_samples: int
    sample_rate: int
    hop: int
    warmup: int
    blocks: int
    held_out: list
    fit_samples: int | None = None

    def scored_range(self, b: int) -> tuple[int, int]:
        """[start, stop) samples scored by block b."""
        lo = 0 if b == 0 else b * self.hop + self.warmup
        return lo, min(self.n_samples, (b + 1) * self.hop + self.warmup)

    @property
    def fitted(self) -> list:
        return [b for b in range(self.blocks) if b not in self.held_out]

    def fitted_ranges(self) -> list:
        """``[[lo, hi), ...]`` samples the candidates are fitted on: one range per run of consecutive fitted
        blocks; where they hold more than ``fit_samples`` in all, each keeps its last share of it (its length
        x fit_samples / total, at least one sample), so that its end still meets the next held-out fold."""
        runs = []
        for b in self.fitted:
            lo, hi = self.scored_range(b)
            if runs and runs[-1][1] == lo:
                runs[-1][1] = hi
            else:
                runs.append([lo, hi])
        total = sum(hi - lo for lo, hi in runs)
        if self.fit_samples is not None and total > self.fit_samples:
            runs = [[hi - max(1, (hi - lo) * self.fit_samples // total), hi] for lo, hi in runs]
        return runs

    @property
    def fitted_seconds(self) -> float:
        """How much audio the candidates are fitted on, s (:meth:`fitted_ranges`)."""
        return sum(hi - lo for lo, hi in self.fitted_ranges()) / self.sample_rate

    def to_dict(self) -> dict:
        return {"folds": [{"kind": "from rest" if i == 0 else "continuing",
                           "samples": list(self.scored_range(b))} for i, b in enumerate(self.held_out)],
                "blocks": self.blocks, "block_samples": self.hop, "warmup_samples": self.warmup,
                "fitted": self.fitted_ranges(), "fitted_seconds": self.fitted_seconds}


def fold_layout(n_samples: int, sample_rate: int, validation: float = VALIDATION_FRACTION, folds: int = FOLDS,
                overlap_seconds: float = OVERLAP_SECONDS, fit_seconds: float | None = SELECTION_FIT_SECONDS
                ) -> FoldLayout:
    """The :class:`FoldLayout` of a pair; InputError when the pair is too short for the folds.

    Each block needs at least :data:`MIN_FOLD_SECONDS`, so the pair at least
    ``folds / validation`` blocks of it plus the warm-up (``overlap_seconds``).  ``fit_seconds``: the most
    audio the candidates are fitted on (:data:`~dspnewton.candidates.SELECTION_FIT_SECONDS`; None: all the
    fitted blocks).
    """
    if not 0.0 < validation < 1.0:
        raise InputError(f"the validation fraction must lie strictly between 0 and 1, got {validation}")
    if fit_seconds is not None and not fit_seconds > 0.0:
        raise InputError(f"model selection needs some audio to fit its candidates on: fit_seconds must be > 0 "
                         f"(or None for all of the fitted blocks), got {fit_seconds}")
    if not isinstance(folds, int) or folds < 2:
        raise InputError(f"model selection needs at least 2 folds (one from rest, one continuing), got {folds}")
    blocks = max(folds + 1, int(round(folds / validation)))
    warmup = int(round(max(0.0, overlap_seconds) * sample_rate))
    hop = -(-(n_samples - warmup) // blocks)  # ceil: the blocks cover the pair
    need = blocks * MIN_FOLD_SECONDS + max(0.0, overlap_seconds)
    if hop < MIN_FOLD_SECONDS * sample_rate:
        raise InputError(
            f"the pair is {n_samples / sample_rate:.3g} s long, too short for model selection: --model auto holds "
            f"out {folds} folds ({100 * validation:g} %: the first block, scored from rest, and {folds - 1} "
            f"spread over the pair) of {blocks} blocks of at least {MIN_FOLD_SECONDS:g} s after a "
            f"{overlap_seconds:g} s warm-up (at least {need:.3g} s in all). Use a longer pair, or name a model "
            f"(e.g. --model ff5)")
    held = sorted({round(i * (blocks - 1) / (folds - 1)) for i in range(folds)})
    cap = None if fit_seconds is None else max(1, int(round(fit_seconds * sample_rate)))
    return FoldLayout(n_samples, sample_rate, hop, warmup, blocks, held, cap)


def _selection_frames(x: torch.Tensor, y: torch.Tensor, layout: FoldLayout):
    """Frames whose loss is the fitted blocks of the pair: one per run of consecutive fitted blocks, the model
    starting from rest at the pair's first sample (or ``SEGMENT_WARMUP_SECONDS`` before the run on long
    pairs), so that the loss and its exact derivatives are those of the whole pair rendered from rest over the
    fitted blocks (:func:`~dspnewton.objective.framing.make_segment_frames`; blocks framed with a short
    warm-up truncate the tangents of states longer than it, and a fold fit then stops where the truncated
    gradient vanishes, not the loss's)."""
    from .objective.framing import make_segment_frames

    if x.dim() > 1 and x.shape[0] != 1:
        raise InputError(f"model selection needs a mono pair; got {x.shape[0]} channels: mix the channels "
                         f"({{channels}})", {"channels": "mix"})
    return make_segment_frames(x, y, layout.sample_rate, layout.fitted_ranges())


def fold_scores(pred: torch.Tensor, y: torch.Tensor, layout: FoldLayout) -> dict:
    """Per fold pre-emphasised ESR (None for a nearly silent fold) of the whole-pair render ``pred`` (1, T) or (T,),
    the from-rest fold's first-second ESR and the start-up level error."""
    from .objective.metrics import STARTUP_SECONDS, largest_level_error_db, segment_esrs, startup_window_levels_db

    pred, y = pred.double().reshape(-1), y.double().reshape(-1)
    n1 = min(round(STARTUP_SECONDS * layout.sample_rate), layout.scored_range(0)[1])
    ranges = [layout.scored_range(b) for b in layout.held_out] + [(0, n1)]
    *folds, first = segment_esrs(pred, y, ranges, SILENT_FOLD_DB)
    windows = startup_window_levels_db(pred, y, layout.sample_rate)
    return {"esr_folds": folds, "esr_first_second": first, "startup_db": largest_level_error_db(windows),
            "startup_windows_db": windows}


def startup_excess(row: dict, base: dict) -> tuple[float, float]:
    """How much audibly worse and better ``row``'s start is than ``base``'s (ff5's), window by window.

    Over the 50 ms windows of the first second where both have signal, ``d = |level error of row| - |level
    error of base|`` (dB); returns ``(sum of (d - m) where d > m, sum of (-d - m) where -d > m)`` times the
    window length in seconds (dB s), m = :data:`STARTUP_DB_MARGIN`.  A row without per-window levels is
    compared by its largest level error alone (one window each)."""
    from .objective.metrics import STARTUP_WINDOW_MS

    cw, bw = row.get("startup_windows_db"), base.get("startup_windows_db")
    if cw is None or bw is None or len(cw) != len(bw):
        cw, bw = [row.get("startup_db")], [base.get("startup_db")]
    worse = better = 0.0
    for c, b in zip(cw, bw):
        if c is None or b is None:
            continue
        d = abs(c) - abs(b)
        worse += max(0.0, d - STARTUP_DB_MARGIN)
        better += max(0.0, -d - STARTUP_DB_MARGIN)
    return worse * STARTUP_WINDOW_MS / 1000.0, better * STARTUP_WINDOW_MS / 1000.0


def _long_time_constants(result, fitted_seconds: float) -> list:
    """Time constants of ``result`` longer than the audio it was fitted on (seconds)."""
    return [n for n in TIME_CONSTANTS if n in result.all_params and result.all_params[n] / 1000.0 > fitted_seconds]


def fit_auto(input, target, sample_rate: int | None = None, *, candidates=None,
             validation: float = VALIDATION_FRACTION, folds: int = FOLDS,
             fit_seconds: float | None = SELECTION_FIT_SECONDS, resample: bool = False, trim: bool = False,
             channels: str | None = None, align: bool = False, callback=None, dist=None, init=None,
             optimizer: str = "newton", **fit_kw):
    """Fit every candidate on the fitted blocks, score each on the held-out folds, refit the chosen one on all.

    Args:
        input, target, sample_rate, resample, trim, channels, align: as :func:`dspnewton.fit`.
        candidates: model names (default: :data:`SHORT_LIST`); ``ff5`` is always fitted (the warm start
            and the baseline no choice may be worse than).
        validation: the held-out fraction (default 0.25); folds: how many held-out blocks (default 4,
            the first of them scored from rest); fit_seconds: the most audio the candidates are fitted on
            (default :data:`~dspnewton.candidates.SELECTION_FIT_SECONDS`; None: all of the fitted blocks).
        callback: called with each Newton history entry, and with ``{"candidate": row}`` after each
            candidate is scored.
        fit_kw: passed to every :func:`dspnewton.fit` (framing of the final refit, Hessian strategy, options, ...).

    Returns:
        the chosen model's :class:`~dspnewton.result.FitResult` on the whole pair, with ``extra["auto"]``:
        ``{"candidates": rows (see :func:`score_candidates`), "chosen", "rule", "pruned" (the stages dropped:
        :func:`prune_stages`), "refit_rejected" (winners whose refit ran a time constant off the pair: the next
        eligible candidate was refitted), "folds", "skipped_folds", "start_matched", "validation_fraction",
        "validation_seconds", "refit_esr"}``.
    """
    from .fitting import fit
    from .model.models import get_model

    if dist is not None:
        raise InputError("--model auto fits its candidates on one worker; run it without {distributed}",
                         {"distributed": True})
    if init is not None:
        raise InputError("--model auto starts every candidate from the ff5 fit of the fitting part; drop {init} "
                         "or name a model", {"init": None})
    if optimizer != "newton":
        raise InputError("--model auto fits by Newton; drop {optimizer}", {"optimizer": "newton"})
    names = _candidate_names(candidates)
    t0 = time.perf_counter()
    pair = prepare_pair(input, target, sample_rate, resample=resample, trim=trim, channels=channels, align=align)
    x, y, sr = pair.x, pair.y, pair.sample_rate
    layout = fold_layout(x.shape[-1], sr, validation, folds, float(fit_kw.get("overlap_seconds", 1.0)), fit_seconds)
    fit_kw = dict(fit_kw, channels=channels)
    names, skipped = runnable_candidates(names, sr, candidates is not None)
    rows, fits, decision = score_candidates(x, y, sr, layout, names, fit_kw, callback)
    decision["skipped_candidates"] = skipped
    fitter = []  # one fold fitter (it frames the whole pair), built when pruning first needs it

    def fold_fitter():
        if not fitter:
            fitter.append(_FoldFitter(x, y, sr, layout, fit_kw, callback))
        return fitter[0]

    refits, first = {}, (decision["pruned"][0]["from"] if decision["pruned"] else decision["chosen"])
    decision["refit_rejected"] = []
    while True:
        while True:  # a stage the refit on the whole pair leaves on a bound is pruned as one the fold fit left there
            chosen = decision["chosen"]
            final = refits[chosen] = fit(x, y, sr, model=chosen, init=fits[chosen], callback=callback, **fit_kw)
            at = get_model(chosen).at_bounds(final.all_params, sr)
            row = next(r for r in rows if r["model"] == chosen)
            if not set(stages_on_bounds(chosen, at)) - set(stages_on_bounds(chosen, row["at_bounds"])):
                break
            row["at_bounds_refit"] = at
            steps = prune_stages(rows, fits, decision, fold_fitter(), {chosen: at}, first)
            if not steps or decision["chosen"] in refits:
                decision["chosen"] = chosen
                break
            decision["pruned"] += [{**st, "bound_in": "refit"} for st in steps]
        # The refit is held to the fold fit's rule: a time constant it leaves on a bound and longer than the whole
        # pair ran off the material (the validated fold fit did not); the next eligible candidate is refitted.
        lost = [n for n in _long_time_constants(final, x.shape[-1] / sr) if n in at]
        if not lost or chosen == "ff5":
            break
        row["eligible"] = False
        row["why"] = (f"its refit on the whole pair left time constants on a bound and longer than the pair: "
                      f"{', '.join(lost)}")
        decision["refit_rejected"].append({"model": chosen, "unidentifiable": lost})
        pool = [r for r in rows if r["eligible"] and r["model"] not in refits]
        decision["chosen"] = first = min(pool, key=lambda r: r["score"])["model"]
        # The next winner's stages its fold fit left on a bound are pruned as the first winner's were.
        steps = prune_stages(rows, fits, decision, fold_fitter())
        decision["pruned"] += [{**st, "after": "refit_rejected"} for st in steps]
    final.extra["auto"] = {
        "candidates": rows, **decision, "validation_fraction": validation,
        "validation_seconds": sum(hi - lo for lo, hi in (layout.scored_range(b) for b in layout.held_out)) / sr,
        "refit_esr": float(final.esr),
    }
    final.extra["notes"] = list(pair.notes) + list(final.extra.get("notes", []))
    final.extra["lag_samples"] = pair.lag
    final.seconds = time.perf_counter() - t0
    return final


def score_candidates(x: torch.Tensor, y: torch.Tensor, sr: int, layout: FoldLayout, names, fit_kw: dict,
                     callback=None, prune: bool = True):
    """Fit ``ff5`` and every model of ``names`` on the fitted blocks of x, y (1, T); score each per fold;
    with ``prune``, drop the chosen model's stages left on a bound (:func:`prune_stages`).

    Returns (rows, fits, decision): one row per model (ff5 first) with ``model``, ``start`` (the fit it
    started from), ``esr_fit``, ``esr_folds`` (per fold, None where skipped), ``esr_from_rest`` (the
    first fold), ``esr_continuing`` (the other folds pooled), ``esr_held_out`` (every used fold pooled),
    ``esr_first_second``, ``startup_db``, ``ratio_folds`` (to ff5), ``score``, ``eligible``, ``why``,
    ``at_bounds``, ``long_time_constants`` (longer than the fitted audio), ``unidentifiable`` (those
    of them on a bound), ``iterations``, ``converged``, ``seconds`` (and ``pruned_from`` on the rows
    pruning added); model -> FitResult; and the decision (:func:`decide`, with ``pruned``: the steps).
    """
    from .model.models import get_model

    fitter = _FoldFitter(x, y, sr, layout, fit_kw, callback)
    rows, fits = [], {}
    for name in ["ff5"] + [n for n in names if n != "ff5"]:
        if name == "ff5":
            start = None
        else:  # start from the best nested fit (ff5 at least)
            model = get_model(name)
            start = min((m for m in fits if model.can_warm_start_from(m)), key=lambda m: fits[m].esr)
        row, fits[name] = fitter(name, start, None if start is None else fits[start])
        rows.append(row)
    decision = decide(rows, names)
    pruned = prune_stages(rows, fits, decision, fitter) if prune else []
    return rows, fits, {**decision, "pruned": pruned, "folds": layout.to_dict()}


class _FoldFitter:
    """Fits one model on the fitted blocks of a pair and scores it per fold: ``(row, FitResult)``
    (the row's keys: :func:`score_candidates`)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, sr: int, layout: FoldLayout, fit_kw: dict, callback=None):
        self.x, self.y, self.sr, self.layout, self.callback = x, y, sr, layout, callback
        self.part = _selection_frames(x, y, layout)
        # Its own frames, each from rest (the fitted blocks' exact loss): no framing or initial state of the fit's.
        self.kw = {k: v for k, v in fit_kw.items()
                   if k not in ("frame_seconds", "overlap_seconds", "channels", "initial_state")}
        self.kw["initial_state"] = "rest"
        self.fitted_seconds = layout.fitted_seconds

    def __call__(self, name: str, start: str | None, init=None):
        from .fitting import ff5_multistart, fit_frames, fit_options
        from .model.models import get_model

        opts = fit_options(model=name, callback=self.callback, **self.kw)
        # ff5 from the published start and a grid (as every fit's warm start): the baseline and first start.
        if name == "ff5" and init is None:
            r = ff5_multistart(self.part, opts)
        else:
            r = fit_frames(self.part, opts, init=init)
        with torch.no_grad():
            pred = r.render(self.x.double())
        row = {"model": name, "start": start, "esr_fit": float(r.esr), **fold_scores(pred, self.y, self.layout),
               "at_bounds": get_model(r.dsp_model).at_bounds(r.all_params, self.sr),
               "long_time_constants": _long_time_constants(r, self.fitted_seconds),
               "iterations": int(r.iterations), "converged": bool(r.converged), "seconds": float(r.seconds)}
        # Unidentifiable: longer than the fitted audio and pushed onto a bound of its range.
        row["unidentifiable"] = [n for n in row["long_time_constants"] if n in row["at_bounds"]]
        if self.callback:
            self.callback({"candidate": row})
        return row, r


def stages_on_bounds(model: str, at_bounds) -> list:
    """The signal-path stages of ``model`` with a parameter in ``at_bounds`` (names), in option order."""
    spec = parse_model(model)
    return [o for o in spec.options if o in SIGNAL_PATH_OPTIONS and any(p in at_bounds for p in OPTION_PARAMS[o])]


def without_stage(model: str, stage: str) -> str:
    """The name of ``model`` without the option ``stage``."""
    spec = parse_model(model)
    return ModelSpec(spec.feedback, tuple(o for o in spec.options if o != stage)).name


def prune_from(fit, smaller: str, sample_rate: int) -> dict:
    """A start for ``smaller`` from ``fit`` of a model that includes it: the shared parameters, moved
    inside their ranges (:meth:`~dspnewton.model.models.GreyBoxModel.warm_start`)."""
    from .model.models import get_model

    model = get_model(smaller)
    return model.warm_start({n: fit.all_params[n] for n in model.param_names}, sample_rate)


def prune_stages(rows: list, fits: dict, decision: dict, fitter, bounds=None, first=None) -> list:
    """Drop the chosen model's signal-path stages that its fold fit left on a bound (module docstring).

    For each such stage the model without it is fitted on the same blocks, started from the chosen fit
    (``fitter(name, start, init) -> (row, fit)``), and scored (a model the short list fitted already keeps that
    fit); the best of them replaces the choice when it is eligible and its score is at most
    :data:`PRUNE_TOLERANCE` above the first choice's (so also when it is strictly better; repeated steps do not
    add up).  Repeated on the new choice.  Updates ``rows`` (the new rows appended, with ``pruned_from``),
    ``fits`` and ``decision["chosen"]`` in place; returns the steps taken, ``[{"from", "to", "stage",
    "score_from", "score_to", "bound_in"}]``.  ``bounds``: model -> more parameters on a bound (the refit's on
    the whole pair), added to its fold fit's; ``first``: the winner before any pruning (default: the current
    choice).
    """
    steps, first = [], first or decision["chosen"]
    while True:
        chosen = decision["chosen"]
        crow = next(r for r in rows if r["model"] == chosen)
        at = {**crow["at_bounds"], **(bounds or {}).get(chosen, {})}
        tries = {without_stage(chosen, st): st for st in stages_on_bounds(chosen, at)}
        for smaller in tries:
            if smaller not in fits:
                row, fits[smaller] = fitter(smaller, chosen, prune_from(fits[chosen], smaller, fitter.sr))
                rows.append({**row, "pruned_from": chosen})
        if tries:
            decide(rows)  # eligibility and score of the new rows (the old ones' are unchanged; its choice unused)
        step = _pruning_step(chosen, first, tries, {r["model"]: r["score"] for r in rows},
                             {r["model"]: r["eligible"] for r in rows})
        if step is None:
            return steps
        steps.append(step)
        decision["chosen"] = step["to"]


def _pruning_step(chosen: str, first: str, tries: dict, score: dict, eligible: dict) -> dict | None:
    """The best eligible model of ``tries`` (smaller model -> the stage dropped from ``chosen``) scoring at
    most :data:`PRUNE_TOLERANCE` above ``first`` (the winner before any pruning: steps do not add up);
    None when there is none."""
    ok = [m for m in tries if eligible[m] and score[m] <= (1.0 + PRUNE_TOLERANCE) * score[first]]
    if not ok:
        return None
    best = min(ok, key=lambda m: score[m])
    return {"from": chosen, "to": best, "stage": tries[best], "score_from": score[chosen], "score_to": score[best],
            "bound_in": "fold fit"}


def _pooled(values, weights) -> float | None:
    pairs = [(v, w) for v, w in zip(values, weights) if v is not None]
    return sum(v * w for v, w in pairs) / sum(w for _, w in pairs) if pairs else None


def decide(rows: list, names=None) -> dict:
    """Apply the selection rule (module docstring) to scored rows (ff5's among them); fills each row's
    ``esr_from_rest``, ``esr_continuing``, ``esr_held_out``, ``ratio_folds``, ``score``, ``eligible`` and
    ``why``, and returns ``{"chosen", "rule", "start_matched", "skipped_folds"}``."""
    base = next(r for r in rows if r["model"] == "ff5")
    k = len(base["esr_folds"])
    skipped = [{"fold": i, "why": "the target is nearly silent there"} for i in range(k)
               if base["esr_folds"][i] is None]
    for r in rows:
        cont = [r["esr_folds"][i] for i in range(1, k)]
        r["esr_from_rest"] = r["esr_folds"][0]
        r["esr_continuing"] = None if all(v is None for v in cont) else             sum(v for v in cont if v is not None) / sum(1 for v in cont if v is not None)
    # Can any candidate match the first second from rest?  If not, the target starts mid-compression.
    start_matched = any(r["esr_first_second"] is not None and r["esr_continuing"] is not None
                        and r["esr_first_second"] <= max(START_FACTOR * r["esr_continuing"], START_FLOOR)
                        for r in rows)
    if base["esr_folds"][0] is not None and not start_matched:
        skipped.append({"fold": 0, "why": "no candidate matches the first second from rest (the target seems to "
                                          "start mid-compression): the from-rest fold does not decide"})
    used = [i for i in range(k) if base["esr_folds"][i] is not None and (i > 0 or start_matched)]
    if not used:
        raise InputError("every held-out fold of the pair is nearly silent; model selection has nothing to score. "
                         "Use a pair with signal throughout, or name a model (e.g. --model ff5)")
    cap = (base["startup_db"] or 0.0) + STARTUP_DB_MARGIN  # the start-up level error's, at its worst
    for r in rows:
        ratios = []
        for i in used:
            b, c = base["esr_folds"][i], r["esr_folds"][i]
            ratios.append(float("inf") if c is None else (c / b if b > 0 else (1.0 if c <= b else float("inf"))))
        r["ratio_folds"] = {str(i): v for i, v in zip(used, ratios)}
        r["esr_held_out"] = sum(r["esr_folds"][i] for i in used) / len(used)
        r["score"] = sum(ratios) / len(ratios)
        why = []
        worse = [i for i, v in zip(used, ratios) if v > 1.0]
        if r["model"] != "ff5":
            if worse:
                why.append("worse than ff5 on fold " + ", ".join(
                    f"{i} ({'from rest' if i == 0 else 'continuing'}, x{r['ratio_folds'][str(i)]:.3g})" for i in worse))
            if start_matched and 0 in used and (r["startup_db"] or 0.0) > cap:  # worse at its worst: on balance?
                worse_db_s, better_db_s = startup_excess(r, base)
                if worse_db_s > better_db_s:
                    why.append(f"start-up level error {r['startup_db']:.3g} dB > {cap:.3g} dB and worse than ff5's "
                               f"on balance ({worse_db_s:.3g} dB s beyond ff5's + {STARTUP_DB_MARGIN:g} dB, "
                               f"{better_db_s:.3g} dB s the other way)")
            if r["unidentifiable"]:
                why.append("time constants on a bound and longer than the audio it was fitted on: "
                           + ", ".join(r["unidentifiable"]))
        r["eligible"] = not why
        r["why"] = "; ".join(why) if why else "eligible"
    pool = [r for r in rows if r["eligible"] and (names is None or r["model"] in names or r["model"] == "ff5")]
    chosen = min(pool, key=lambda r: r["score"])["model"]
    return {"chosen": chosen, "rule": "lowest mean held-out ESR ratio to ff5 among candidates no worse than ff5 on "
                                      f"any used fold, whose start is not worse than ff5's both at its worst (the "
                                      f"largest level error of the first second's 50 ms windows more than "
                                      f"{STARTUP_DB_MARGIN:g} dB above ff5's) and on balance (window by window, more "
                                      f"level error beyond ff5's + {STARTUP_DB_MARGIN:g} dB than the other way), and "
                                      "with no time constant both on a bound and longer than the fitted audio; then "
                                      "each signal-path stage the chosen fit left on a bound is dropped when the model "
                                      "without it is eligible and scores at most "
                                      f"{100 * PRUNE_TOLERANCE:g} % higher",
            "start_matched": start_matched, "skipped_folds": skipped}


def selection_settings(keys, per_mode: int = 3) -> list:
    """The (mode, peak) settings a sweep selects its model on: per mode the lowest, a middle and the
    highest peak (all of them when a mode has at most ``per_mode``)."""
    out = []
    for mode in dict.fromkeys(m for m, _ in sorted(keys)):
        peaks = sorted(p for m, p in keys if m == mode)
        if len(peaks) > per_mode:
            idx = sorted({round(i * (len(peaks) - 1) / (per_mode - 1)) for i in range(per_mode)})
            peaks = [peaks[i] for i in idx]
        out += [(mode, p) for p in peaks]
    return out


def select_for_sweep(pairs: dict, candidates=None, validation: float = VALIDATION_FRACTION, fit_kw=None,
                     on_event=None, folds: int = FOLDS) -> dict:
    """Choose one model for a whole sweep on a few of its settings.

    pairs: (mode, peak) -> (input path, target path) of the settings to select on
    (:func:`selection_settings`).  Each setting's pair is cut into folds and every candidate scored
    as in :func:`fit_auto` (each setting weighs the same whatever its level).  The chosen model is
    the one with the lowest mean score (held-out ESR ratio to ``ff5``) among the candidates eligible
    in every setting (``ff5`` always is): never worse than ``ff5`` on any used fold of any setting.

    Then the chosen model's signal-path stages left on a bound in any setting are pruned as in
    :func:`prune_stages`, with the mean score over the settings and eligibility in every one.

    Returns ``{"chosen", "candidates": [names], "score": {model: mean ratio}, "eligible": {model: bool},
    "pruned": [steps],
    "settings": {"mode/peak": {"rows", "start_matched", "skipped_folds", "folds"}}, "validation_fraction",
    "rule"}`` (the sweep writes it to ``selection.json``).
    """
    names = _candidate_names(candidates)
    fit_kw = dict(fit_kw or {})
    overlap = float(fit_kw.get("overlap_seconds", 1.0))
    rates = set()
    for key, (inp, tgt) in sorted(pairs.items()):  # every length check before any fit (headers only)
        try:
            infos = [sf.info(str(p)) for p in (inp, tgt)]
        except RuntimeError:
            continue  # unreadable: prepare_pair below names the problem
        rates.add(infos[0].samplerate)
        try:
            fold_layout(min(i.frames for i in infos), infos[0].samplerate, validation, folds, overlap)
        except InputError as exc:
            raise InputError(f"{key[0]} {key[1]} ('{tgt}'): {exc}") from None
    skipped = {}
    for rate in sorted(rates):
        names, more = runnable_candidates(names, rate, candidates is not None)
        skipped.update(more)
    pool = list(dict.fromkeys(["ff5"] + names))
    settings, fits, rule = {}, {}, ""

    def score_settings(models, starts=None):
        """Fit and score ``models`` in every setting (one pair in memory at a time); with ``starts``
        (model -> the model whose fit in each setting starts it) only those, appended to the rows."""
        nonlocal rule
        for i, (key, (inp, tgt)) in enumerate(sorted(pairs.items())):
            label = f"{key[0]}/{key[1]}"
            if on_event:
                on_event("select", {"mode": key[0], "peak": key[1], "index": i, "total": len(pairs),
                                    **({"pruning": sorted(models)} if starts else {})})
            pair = prepare_pair(inp, tgt, trim=True)
            try:
                layout = fold_layout(pair.x.shape[-1], pair.sample_rate, validation, folds, overlap)
                if starts is None:
                    rows, fits[label], decision = score_candidates(pair.x, pair.y, pair.sample_rate, layout, models,
                                                                   fit_kw, prune=False)
                    rule = decision.pop("rule")
                    for k in ("chosen", "pruned"):
                        decision.pop(k)
                    settings[label] = {"rows": rows, **decision}
                else:
                    fitter = _FoldFitter(pair.x, pair.y, pair.sample_rate, layout, fit_kw)
                    for m in models:
                        src = fits[label][starts[m]]
                        row, fits[label][m] = fitter(m, starts[m], prune_from(src, m, pair.sample_rate))
                        settings[label]["rows"].append({**row, "pruned_from": starts[m]})
                    decide(settings[label]["rows"])  # the new rows' scores (its choice unused)
            except InputError as exc:
                raise InputError(f"{key[0]} {key[1]} ('{tgt}'): {exc}") from None
            del pair

    def totals():
        ratios, eligible = {}, {}
        for st in settings.values():
            for r in st["rows"]:
                ratios.setdefault(r["model"], []).append(r["score"])
                eligible[r["model"]] = eligible.get(r["model"], True) and r["eligible"]
        return {n: float(sum(v) / len(v)) for n, v in ratios.items()}, eligible

    score_settings(names)
    score, eligible = totals()
    chosen = first = min((n for n in pool if eligible[n]), key=lambda n: score[n])
    # Pruning (module docstring): the chosen model's stages left on a bound in any setting.
    steps = []
    while True:
        at = set().union(*(next(r for r in st["rows"] if r["model"] == chosen)["at_bounds"]
                           for st in settings.values()))
        tries = {without_stage(chosen, st): st for st in stages_on_bounds(chosen, at)}
        new = [m for m in tries if m not in score]
        if new:
            score_settings(new, {m: chosen for m in new})
            score, eligible = totals()
        step = _pruning_step(chosen, first, tries, score, eligible)
        if step is None:
            break
        steps.append(step)
        chosen = step["to"]
    return {"chosen": chosen, "candidates": names, "score": score, "eligible": eligible, "settings": settings,
            "validation_fraction": validation, "rule": rule + ", in every selection setting", "pruned": steps,
            "skipped_candidates": skipped}
