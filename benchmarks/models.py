"""Model evaluation on units and material the models were not built from.

Every model is fitted (full-Hessian Newton, warm-started from the ff5 fit of
the same clip) on one clip of :func:`dspnewton.synth.program_material`
(speech-like formant bursts, a bass-heavy mix, organ chords, long silences
with sudden onsets; unlike ``music_like``) and scored on a *held-out* clip of
the same generator with another seed.  ``auto`` is ``dspnewton.fit(model=
"auto")``: model selection on the fitting clip alone (75 % fit, 25 %
validation), then a refit.  Targets: two embedded virtual units built
differently -- ``optical`` (:class:`~dspnewton.data.virtual_unit.OpticalLeveler`,
the unit the options were developed against) and ``transformer``
(:class:`~dspnewton.data.virtual_transformer_unit.TransformerLeveler`: feed-forward
variable-mu, transformers, band-limited side chain) -- at compress/limit x
peak 40/70/100, and ``pedalboard.Compressor`` at two settings.  Results are
written incrementally (rerunning resumes); ``--md`` writes docs/models.md.

    python benchmarks/models.py --json docs/results/models.json --md docs/models.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from statistics import median

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, write_json  # noqa: E402

import dspnewton  # noqa: E402
from dspnewton.data.virtual_unit import OpticalLeveler  # noqa: E402
from dspnewton.data.virtual_transformer_unit import TransformerLeveler  # noqa: E402
from dspnewton.data.virtual_fet_unit import FETLeveler  # noqa: E402
from dspnewton.fitting import fit_ff5_multistart  # noqa: E402
from dspnewton.model.greybox_spec import RECOMMENDED_MODEL  # noqa: E402
from dspnewton.model.models import get_model  # noqa: E402
from dspnewton.objective.metrics import clip_scores, delta_ldr  # noqa: E402
from dspnewton.optim.newton import NewtonOptions  # noqa: E402
from dspnewton.selection import PRUNE_TOLERANCE, SHORT_LIST, STARTUP_DB_MARGIN  # noqa: E402
from dspnewton.synth import music_like, program_material  # noqa: E402

STAGED = f"{RECOMMENDED_MODEL}+inhp+outshelf"
STAGED2 = f"{RECOMMENDED_MODEL}+in2+core+out2"  # the recommended model with the second-order stages (18 parameters)
FF_PREL = "ff+knee+rms+prel+in2+core+out2"  # feed-forward, program-dependent release, second-order stages
LARGEST = "fb+knee+rms+prel+sc+tube+in2+core+out2"  # the largest model (19 parameters)
DEFAULT_MODELS = ["ff+knee+rms+inhp+outshelf", "ff+knee+rms+in2+core+out2", FF_PREL, "fb+2rel", RECOMMENDED_MODEL,
                  "fb+2rel+inhp+outshelf", STAGED, "fb+2rel+in2+core+out2", STAGED2, LARGEST, "auto"]
PEDALBOARD_SETTINGS = {"pb-4to1": (-30.0, 4.0, 5.0, 100.0), "pb-10to1": (-24.0, 10.0, 1.0, 50.0)}
UNITS = {"optical": OpticalLeveler, "transformer": TransformerLeveler, "fet": FETLeveler}


def targets():
    """(name, unit, render) for every target: the virtual units' settings, then pedalboard."""
    for unit, cls in UNITS.items():
        for mode in ("compress", "limit"):
            for peak in (40, 70, 100):
                u = cls(float(peak), mode)
                yield f"{unit}-{mode}-{peak}", unit, lambda x, sr, u=u: u.process(x, sr)
    import pedalboard

    for name, (thr, ratio, att, rel) in PEDALBOARD_SETTINGS.items():
        def render(x, sr, a=(thr, ratio, att, rel)):
            comp = pedalboard.Compressor(threshold_db=a[0], ratio=a[1], attack_ms=a[2], release_ms=a[3])
            return comp(x.astype(np.float32)[None, :], sr)[0].astype(np.float64)

        yield name, "pedalboard", render


def score(result, x, y, sr):
    """The whole clip rendered from rest and scored from sample 0: (clip_scores dict, delta-LDR dB)."""
    with torch.no_grad():
        pred = result.render(torch.tensor(x))
    t = torch.tensor(y)
    return clip_scores(pred, t, sr), float(delta_ldr(pred, t, sr))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="clip length (fit and held-out), s")
    ap.add_argument("--sample-rate", type=int, default=44100)
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--max-iter", type=int, default=30)
    ap.add_argument("--only", default="", help="comma-separated target names (default all)")
    ap.add_argument("--json", default="docs/results/models.json")
    ap.add_argument("--md", default="")
    ap.add_argument("--timing", action="store_true", help="also time one Hessian per strategy and model")
    args = ap.parse_args(argv)
    sr, warm_s = args.sample_rate, 1.0
    x_fit = program_material(args.seconds, sr, seed=21)
    x_test = program_material(args.seconds, sr, seed=22)
    path = Path(args.json)
    payload = json.loads(path.read_text()) if path.exists() else {"rows": []}
    if payload.get("setup", {}).get("scored_from") != "sample 0":
        payload = {"rows": []}  # results of earlier evaluations (first second not scored) are not comparable
    payload["machine"] = machine_info("cpu")
    payload["setup"] = {"seconds": args.seconds, "sample_rate": sr, "warmup_s": warm_s, "max_iter": args.max_iter,
                        "material": "program_material", "fit_seed": 21, "held_out_seed": 22, "scored_from": "sample 0"}
    done = {(r["target"], r["model"]) for r in payload["rows"]}
    models = [m for m in args.models.split(",") if m]
    only = set(filter(None, args.only.split(",")))
    opts = NewtonOptions(max_iter=args.max_iter, loss_rtol=1e-7)
    for name, unit, render in targets():
        if only and name not in only:
            continue
        if all((name, m) in done for m in ["ff5"] + models):
            continue
        y_fit, y_test = render(x_fit, sr), render(x_test, sr)
        base = None
        for model in ["ff5"] + models:
            if (name, model) in done and model != "ff5":
                continue
            t0 = time.perf_counter()
            common = dict(frame_seconds=None, overlap_seconds=warm_s, options=NewtonOptions(**vars(opts)))
            if model == "ff5":
                xt, yt = torch.tensor(x_fit).unsqueeze(0), torch.tensor(y_fit).unsqueeze(0)
                r = fit_ff5_multistart(xt, yt, sr, **common)
            elif model == "auto":
                r = dspnewton.fit(torch.tensor(x_fit), torch.tensor(y_fit), sr, model="auto", **common)
            else:
                r = dspnewton.fit(torch.tensor(x_fit), torch.tensor(y_fit), sr, model=model, init=base, **common)
            if model == "ff5":
                base = r
                if (name, model) in done:
                    continue
            s_fit, l_fit = score(r, x_fit, y_fit, sr)
            s_test, l_test = score(r, x_test, y_test, sr)
            e_fit, e_test = s_fit["esr"], s_test["esr"]
            row = {"target": name, "unit": unit, "model": model, "fitted_model": r.model, "params": r.all_params,
                   "n_params": len(r.all_params), "esr_fit": e_fit, "dldr_fit": l_fit, "esr_held_out": e_test,
                   "dldr_held_out": l_test, "esr_first_second_held_out": s_test["esr_first_second"],
                   "startup_db_held_out": s_test["startup_db"], "startup_db_fit": s_fit["startup_db"],
                   "iterations": r.iterations, "converged": r.converged,
                   "at_bounds": get_model(r.model).at_bounds(r.all_params, sr),
                   "seconds": time.perf_counter() - t0}
            if model == "auto":
                row["auto"] = r.extra["auto"]
            payload["rows"].append(row)
            print(f"{name:24s} {model:40s} ESR fit {100 * e_fit:7.3f} %  held-out {100 * e_test:7.3f} %  "
                  f"dLDR {l_test:6.3f} dB  it {r.iterations:3d}  {row['seconds']:6.1f} s"
                  + (f"  -> {r.model}" if model == "auto" else ""), flush=True)
            write_json(str(path), payload)
    if args.timing:
        payload["hessian_timing"] = hessian_timing()
        write_json(str(path), payload)
    if args.md:
        write_markdown(payload, Path(args.md))


def hessian_timing(seconds: float = 10.0, sr: int = 44100, rounds: int = 5):
    """Seconds for one loss/gradient/Hessian over a ``seconds`` clip (one frame: the per-sample cost dominates),
    per model and strategy; the fused pass's best of ``rounds`` taken in turn over the models (so a slow spell of
    the machine hits every model alike), the others' one run."""
    from dspnewton.model.greybox import render_model
    from dspnewton.model.greybox_spec import model_physical_to_theta, parse_model
    from dspnewton.objective.framing import make_frames
    from dspnewton.objective.hessian import loss_grad_hess

    x = torch.from_numpy(music_like(seconds, sr, seed=3))
    base = dict(threshold_db=-30.0, ratio=4.0, attack_ms=3.0, release_ms=80.0, makeup_db=2.0)
    cases = []
    for name in ["ff5", "fb+2rel", RECOMMENDED_MODEL, "fb+2rel+inhp+outshelf", STAGED, "fb+2rel+in2+core+out2",
                 STAGED2, LARGEST]:
        spec = parse_model(name)
        th = model_physical_to_theta(base, spec, sr, fill_defaults=True)
        y = render_model(x, th + 0.05, spec, sr).detach()
        cases.append((name, spec, th, make_frames(x, y, sr, None, 0.5)))
        loss_grad_hess(th, cases[-1][3], "fused", model=spec)  # warm-up (JIT)
    fused = {name: float("inf") for name, *_ in cases}
    for _ in range(rounds):
        for name, spec, th, frames in cases:
            t0 = time.perf_counter()
            loss_grad_hess(th, frames, "fused", model=spec)
            fused[name] = min(fused[name], time.perf_counter() - t0)
    rows = []
    for name, spec, th, frames in cases:
        row = {"model": name, "n_params": spec.n_params, "fused": fused[name]}
        for strategy in ("revrev", "fwdrev"):
            t0 = time.perf_counter()
            loss_grad_hess(th, frames, strategy, model=spec)
            row[strategy] = time.perf_counter() - t0
        row["revrev_over_fused"] = row["revrev"] / row["fused"]
        print(f"{name:28s} fused {row['fused']:7.2f} s  revrev {row['revrev']:7.2f} s  fwdrev {row['fwdrev']:7.2f} s",
              flush=True)
        rows.append(row)
    return {"seconds": seconds, "sample_rate": sr, "rounds": rounds, "rows": rows}


MODELS_TEXT = """## The models

A model is named by its options (`dspnewton models` explains them and `--model auto`'s short list;
`dspnewton models --all` lists all {n_models}):

| option | parameters | what it adds |
|---|---|---|
| `ff` / `fb` | threshold_db, ratio, attack_ms, release_ms, makeup_db | topology: the detector reads the input (`ff`, the published `ff5` when alone) or the previous output sample (`fb`; slope R - 1 on the output, so `ratio` stays the static ratio) |
| `knee` | knee_db | soft knee (quadratic over the knee width) |
| `rms` | rms_ms | RMS detector: one-pole mean square before the dB conversion |
| `2rel` | release_slow_ms, slow_mix | a second (slow) ballistics state sharing the attack; the gain mixes fast and slow |
| `prel` | release_long_ms, memory_ms, memory_db | program-dependent release: a memory `h += a_m (1 - g^c - h)` of the gain reduction (time constant memory_ms; a steady reduction of memory_db dB charges it to 1 - 1/e) moves the release coefficient from release_ms's towards release_long_ms's, `a_r = a_rf + h (a_rl - a_rf)`: the longer and deeper the reduction, the slower the recovery (FET and variable-mu limiters, an optical cell's memory); instead of `2rel` |
| `sc` | sc_shelf_db | first-order high shelf (1 kHz) in the side chain |
| `tube` | drive, bias | output saturation `(tanh(k(w+b)) - tanh(kb)) / (k sech^2(kb))` (unit slope at 0) |
| `inhp` | input_hp_hz | signal path: first-order input high-pass before everything (an input transformer's low-frequency roll-off) |
| `outshelf` | output_shelf_hz, output_shelf_db | signal path: first-order output high shelf after everything (an output transformer's high-frequency loss; -40 dB is a low-pass) |
| `in2` | input_hp2_hz, input_q | signal path: second-order input high-pass with Q (an input transformer's low end with the resonance its source impedance sets); instead of `inhp` |
| `core` | core_hz, core_sat_db | signal path: the input transformer's saturating core after the input high-pass: flux `l += a v` (a first-order high-pass at core_hz while linear), output `v = x - l - b l^3` with `b = 10^(-core_sat_db/10)` (the magnetising current's lowest odd term of the anhysteretic curve: distortion grows with the flux, i.e. with level and towards low frequencies) |
| `out2` | output_lp_hz, output_q | signal path: second-order output low-pass with Q (an output transformer's roll-off with its peak), last; instead of `outshelf`; needs a sample rate above 40 kHz (corners up to 20 kHz); it cannot be made transparent at 44.1 kHz: at its 20 kHz top (Q 0.71) its loss of the top octave and its phase lag below the corner leave 0.39 % ESR against the same `ff5` without it on `program_material`, 3.5 % on `music_like`, so units with no output roll-off pay that floor |

All options compose except the two forms of one stage or release (`inhp`/`in2`, `outshelf`/`out2`,
`2rel`/`prel`); at most {max_params} parameters.  The first-order stages are one-pole filters from analogue
corners (`alpha = 1 - exp(-2 pi f / sr)`), the second-order ones bilinear transforms of their analogue
prototypes pre-warped at the corner: each means the same at every sample rate (the bilinear transform
compresses the response above the corner towards Nyquist).  `prel`'s memory sees the gain floored at -240 dB
(finite derivatives where a gain underflows).

Why this core: the flux of a transformer's core is the integral of its primary voltage (Faraday), and the
magnetising current an odd, smooth function of the flux (the anhysteretic magnetisation curve; Jiles-Atherton
without hysteresis, as in Holters and Zolzer, "Circuit simulation with inductors and transformers based on the
Jiles-Atherton model of magnetization", DAFx-16, and the nonlinear magnetising inductance of de Paiva et al.,
"Real-time audio transformer emulation for virtual tube amplifiers", EURASIP JASP 2011).  Its lowest odd
terms, `l + b l^3`, flowing through the source resistance, are `core`: one state and two parameters, smooth to
every order (an exact Hessian), and its third harmonic grows as the square of the flux, i.e. of level over
frequency.  Hysteresis (loss, memory) is left out: it needs a non-smooth or implicit state.  Fitting uses
the same damped Newton on the full Hessian as `ff5`.  Derivatives are exact: the states come from
a sequential kernel; for autograd they pass through two Newton steps of the recursion's implicit
equations (matrix linear recurrences), and the signal-path stages are differentiable linear
filters; gradcheck, gradgradcheck and forward-mode checks cover every option.  The `fused` strategy
is a compiled pass (`dspnewton.objective.greybox_fused`, numba CPU and numba.cuda from one frame
body): a forward sweep of values, a backward sweep of adjoints (through the output shelf's
transposed recursion) and a forward sweep of the P tangents adding each elementary operation's
second-order term; the input chain (`inhp` or `in2`, then `core`) enters as its output's first
derivatives with respect to its own coefficients (forward recursions), its own second-order terms
weighted by the chain's adjoints (the backward sweep sends the adjoint of the chain's output back
through the chain), `out2` as more tangent rows with its transposed recursion's adjoints.  It agrees
with reverse-over-reverse autograd to rounding for every option.  The C++ real-time core, the bundle
and the plugin run every model (parity with PyTorch below 1e-12 relative in float64 for every model the
tests sample, every block size, and at 44.1/48/96 kHz for the second-order stages).
"""


def _models_text() -> str:
    """The models section, with the model count and the largest model's parameter count of the option table."""
    from dspnewton.model.names import list_models

    models = list_models()
    return MODELS_TEXT.format(n_models=len(models), max_params=max(m.n_params for m in models))


LONG_PAIR_AUTO = Path(__file__).resolve().parent.parent / "docs" / "results" / "long_fit_auto_capped.json"


def _long_pair_selection(path: Path) -> str | None:
    """The selection's cost on a long pair, from ``benchmarks/long_fit.py --models auto``'s JSON (None if absent)."""
    if not path.exists():
        return None
    d = json.loads(path.read_text())
    r = next((f for f in d.get("fits", []) if f["model"] == "auto" and f.get("auto")), None)
    if r is None:
        return None
    from long_fit import UNIT_SETTING

    a = r["auto"]
    folds = sum(c.get("seconds") or 0.0 for c in a["candidates"])
    return (f"- issue 26: the selection's cost at real scale: `dspnewton fit --model auto` on a {d['minutes']:g}-minute "
            f"pair (`benchmarks/long_fit.py`, the optical unit, {UNIT_SETTING[1]} {UNIT_SETTING[0]}; "
            f"`docs/results/{path.name}`) took "
            f"{r['wall_s']:.0f} s in all: the {len(a['candidates'])} fold fits {folds:.0f} s (each on "
            f"{a['fitted_seconds']:.1f} s of the fitted blocks), the rest reading the pair, rendering and refitting "
            f"the chosen `{a['chosen']}` on the whole pair (ESR {r['esr_percent']:.3f} %, peak "
            f"{r['peak_rss_gb']:.1f} GB).")


def _issue26_verdict(by: dict, ratio: dict, tnames: list, unit_of: dict, timing) -> list:
    """The targets of issue 26 (second-order stages), per setting."""
    from dspnewton.model.names import SIGNAL_PATH_OPTIONS
    from dspnewton.model.schema import param_spec

    out = []
    fet = [t for t in tnames if unit_of[t] == "fet" and (t, "auto") in by]
    if fet:
        ok = [t for t in fet if by[(t, "auto")]["esr_held_out"] <= 0.01]
        out.append(f"- issue 26: `auto` <= 1 % held-out ESR on the `fet` unit: {len(ok)} of {len(fet)} settings "
                   f"({'met' if len(ok) == len(fet) else 'not met'}; per setting: "
                   + ", ".join(f"{t} {100 * by[(t, 'auto')]['esr_held_out']:.2f} % -> `{by[(t, 'auto')]['fitted_model']}`"
                               for t in fet) + ").")
    virt = [t for t in tnames if unit_of[t] in UNITS and (t, "auto") in ratio]
    if virt:
        half = [t for t in virt if ratio[(t, "auto")] <= 0.5]
        missed = ", ".join(f"{t} {ratio[(t, 'auto')]:.2f}" for t in virt if t not in half)
        out.append(f"- issue 26: `auto` <= 0.5x ff5 in every setting of the three units: {len(half)} of {len(virt)} "
                   f"({'met' if not missed else 'not met: ' + missed}).")
        on_bound = {t: [n for n in by[(t, "auto")]["at_bounds"] if param_spec(n).option in SIGNAL_PATH_OPTIONS]
                    for t in virt}
        bad = {t: v for t, v in on_bound.items() if v}
        auto_s = [by[(t, "auto")]["seconds"] for t in virt]
        direct = [by[(t, LARGEST)]["seconds"] for t in virt if (t, LARGEST) in by]
        out.append(f"- issue 26: the selection's cost: `auto` ({len(SHORT_LIST)} candidates) took "
                   f"{median(auto_s):.0f} s per setting (median; {min(auto_s):.0f}-{max(auto_s):.0f} s)"
                   + (f", {median(auto_s) / median(direct):.1f}x a direct fit of the largest model (`{LARGEST}`, "
                      f"median {median(direct):.0f} s)" if direct else "") + ".")
        long = _long_pair_selection(LONG_PAIR_AUTO)
        if long:
            out.append(long)
        out.append(f"- issue 26: no fit of the chosen model with a signal-path parameter on a bound: "
                   f"{len(virt) - len(bad)} of {len(virt)} settings "
                   f"({'met' if not bad else 'not met: ' + '; '.join(f'{t}: ' + ', '.join(v) for t, v in bad.items())}).")
    if timing:
        rows = {r["model"]: r for r in timing["rows"]}
        if STAGED in rows and LARGEST in rows:
            r = rows[LARGEST]["fused"] / rows[STAGED]["fused"]
            p_large, p_base = rows[LARGEST]["n_params"], rows[STAGED]["n_params"]
            out.append(f"- issue 26: one exact Hessian of the largest model (`{LARGEST}`, {p_large} "
                       f"parameters) <= 1.5x the {p_base}-parameter model's per sample: {r:.2f}x "
                       f"({'met' if r <= 1.5 else 'not met'}; the dense P x P sums alone scale as "
                       f"({p_large}/{p_base})^2 = {(p_large / p_base) ** 2:.2f}).")
    mechanisms = Path(__file__).resolve().parents[1] / "docs" / "results" / "unit_mechanisms.json"
    if mechanisms.exists():  # what the family lacks, measured by leaving each unit's mechanisms out in turn
        import unit_mechanisms

        mechanism_rows = json.loads(mechanisms.read_text())["rows"]
        out.append("- what stands between the family and the units (`docs/unit_mechanisms.md`: the best of "
                   + ", ".join(f"`{m}`" for m in unit_mechanisms.fitted_models(mechanism_rows))
                   + " with each unit mechanism left out in turn): "
                   + "; ".join(unit_mechanisms._largest_costs(mechanism_rows)) + ".")
    return out


def _fmt_bounds(b: dict) -> str:
    return ", ".join(f"{k} ({v})" for k, v in sorted(b.items())) or "-"


def write_markdown(payload: dict, out: Path) -> None:
    rows = payload["rows"]
    setup = payload["setup"]
    tnames = list(dict.fromkeys(r["target"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    by = {(r["target"], r["model"]): r for r in rows}
    unit_of = {r["target"]: r["unit"] for r in rows}
    units = list(dict.fromkeys(unit_of.values()))
    lines = [
        "# Models: evaluation on units and material they were not built from",
        "",
        "Generated by `python benchmarks/models.py --md docs/models.md` (raw numbers: `docs/results/models.json`; "
        "on this 2-core machine; a rerun fills in only the rows that are missing, so a column added later, and "
        "`auto` after a change of the short list or its rule, come from a later run with the same settings).  "
        "Every model is fitted by full-Hessian Newton (the fused exact Hessian, "
        f"at most {setup['max_iter']} iterations), warm-started from the `ff5` fit of the same clip, on a "
        f"{setup['seconds']:g} s clip of `dspnewton.synth.program_material` (speech-like formant bursts, a "
        "bass-heavy mix, organ chords, long silences with sudden onsets: unlike the `music_like` material the "
        f"options were developed on) at {setup['sample_rate']} Hz, and scored on a held-out clip of the same "
        "generator with another seed, rendered from rest and scored from its first sample.  `auto` is "
        "`dspnewton fit --model auto`: the short list fitted on 12 of 16 blocks of the fitting clip (one frame per "
        "run of fitted blocks, the model from rest at the clip's first sample: the exact loss and derivatives of "
        "the clip from rest over those blocks; `ff5` from a grid of starts), scored on "
        "the other 4 (the first from rest), the best eligible one (never worse than ff5 on a fold; a start not "
        f"audibly worse than ff5's: not both a largest 50 ms level error of the first second more than "
        f"{STARTUP_DB_MARGIN:g} dB above ff5's and, window by window, more level error beyond ff5's + "
        f"{STARTUP_DB_MARGIN:g} dB than the other way; no time constant run off the fitted audio), "
        "less each signal-path stage its fit left on a bound when the model without it scores at most "
        f"{100 * PRUNE_TOLERANCE:g} % worse on the folds, refitted on "
        "the whole fitting clip; it never sees the held-out clip.  ESR is "
        "pre-emphasised, in %; ratio = model ESR / ff5 ESR on the held-out clip.",
        "",
        "Targets: three embedded virtual units built differently, `optical` (`dspnewton.data.virtual_unit`: the "
        "optical feedback leveller the grey-box options were developed against), `transformer` "
        "(`dspnewton.data.virtual_transformer_unit`: feed-forward variable-mu with input/output transformers and a "
        "band-limited side chain, written after the options; no option or range was tuned on it) and `fet` "
        "(`dspnewton.data.virtual_fet_unit`: a FET feedback limiter whose gain is not dB-linear, with a resonant "
        "second-order input high-pass, a saturating input transformer core and a resonant output low-pass; "
        "written before the second-order stages were designed, nothing tuned on it), each at "
        "compress/limit x peak reduction 40/70/100; and `pedalboard.Compressor` (pb-4to1: -30 dB, 4:1, 5 ms, "
        "100 ms; pb-10to1: -24 dB, 10:1, 1 ms, 50 ms).",
        "",
    ]
    lines += _models_text().splitlines() + [""]
    header = "| target | " + " | ".join(f"`{m}`" for m in models) + " |"
    rule = "|---" * (len(models) + 1) + "|"
    for title, key, scale in (("ESR held out, whole clip from sample 0 (%)", "esr_held_out", 100),
                              ("ESR held out, first second only (%)", "esr_first_second_held_out", 100),
                              ("Start-up level error held out (dB, largest over 50 ms windows in the first second)",
                               "startup_db_held_out", 1),
                              ("ESR on the fitted clip, from sample 0 (%)", "esr_fit", 100),
                              ("dLDR held out (dB)", "dldr_held_out", 1)):
        lines += [f"## {title}", "", header, rule]
        for t in tnames:
            cells = ["-" if (t, m) not in by or by[(t, m)].get(key) is None else f"{scale * by[(t, m)][key]:.3f}"
                     for m in models]
            lines.append(f"| {t} | " + " | ".join(cells) + " |")
        lines.append("")
    ratio = {(t, m): by[(t, m)]["esr_held_out"] / by[(t, "ff5")]["esr_held_out"]
             for t in tnames for m in models if (t, m) in by and (t, "ff5") in by}
    lines += ["## Ratio to ff5 (held-out ESR) and Newton iterations", "", header, rule]
    for t in tnames:
        cells = ["-" if (t, m) not in ratio else f"{ratio[(t, m)]:.2f} ({by[(t, m)]['iterations']} it)"
                 for m in models]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    lines += ["", "## Mean and worst held-out ratio to ff5 per unit", "",
              "| unit | " + " | ".join(f"`{m}` mean / worst" for m in models) + " |", rule]
    for u in units:
        cells = []
        for m in models:
            v = [ratio[(t, m)] for t in tnames if unit_of[t] == u and (t, m) in ratio]
            cells.append("-" if not v else f"{np.mean(v):.2f} / {max(v):.2f}")
        lines.append(f"| {u} | " + " | ".join(cells) + " |")
    lines.append("")
    if "auto" in models:
        lines += ["## What `auto` chose", "",
                  "Per candidate: mean validation ESR ratio to ff5 over the used folds (x), and why it was not "
                  "eligible (worse than ff5 on a fold, start-up error, unidentifiable time constant).  Pruned: the "
                  "signal-path stages dropped from the winner (a parameter on a bound in its fold fit or its refit; "
                  "the model without the stage scored at most "
                  f"{100 * PRUNE_TOLERANCE:g} % worse on the folds); candidates marked 'from' were fitted by pruning.",
                  "",
                  "| target | chosen | held-out ESR (%) | start matched | pruned | candidates (ratio to ff5 on the "
                  "folds) |",
                  "|---|---|---|---|---|---|"]
        for t in tnames:
            r = by.get((t, "auto"))
            if r is None:
                continue
            cands = "; ".join(f"{c['model']} x{c['score']:.3g}"
                              + (f" (from {c['pruned_from']})" if "pruned_from" in c else "")
                              + ("" if c["eligible"] else f" ({c['why']})")
                              for c in sorted(r["auto"]["candidates"], key=lambda c: c["score"]))
            pruned = ", ".join(f"{s['stage']} (bound in the {s['bound_in']}; x{s['score_from']:.3g} -> "
                               f"x{s['score_to']:.3g})" for s in r["auto"].get("pruned", [])) or "-"
            lines.append(f"| {t} | `{r['fitted_model']}` | {100 * r['esr_held_out']:.3f} | "
                         f"{'yes' if r['auto'].get('start_matched') else 'no'} | {pruned} | {cands} |")
        lines.append("")
    lines += ["## Fits that end on a parameter bound", "",
              "A parameter within 0.5 % of either end of its range (in its transform's scale) after the fit: the "
              "data want a value the model's range does not allow.", "",
              "| target | " + " | ".join(f"`{m}`" for m in models) + " |", rule]
    for t in tnames:
        cells = ["-" if (t, m) not in by else _fmt_bounds(by[(t, m)].get("at_bounds", {})) for m in models]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    lines.append("")
    # Targets, per setting.
    verdict = []
    for m in [m for m in models if m in (RECOMMENDED_MODEL, STAGED, "auto")]:  # the targets' models
        virt = [t for t in tnames if unit_of[t] in UNITS and (t, m) in ratio]
        met_v = [t for t in virt if ratio[(t, m)] <= 0.5]
        pb = [t for t in tnames if unit_of[t] == "pedalboard" and (t, m) in ratio]
        met_p = [t for t in pb if ratio[(t, m)] <= 1.0]
        verdict.append(f"- `{m}`: held-out ESR <= 0.5x ff5 in {len(met_v)} of {len(virt)} virtual-unit settings "
                       f"({'met' if virt and len(met_v) == len(virt) else 'not met'}; per setting: "
                       + ", ".join(f"{t} {ratio[(t, m)]:.2f} {'met' if t in met_v else 'NOT met'}" for t in virt)
                       + f"); never worse than ff5 on pedalboard: {len(met_p)} of {len(pb)} "
                       + f"({'met' if pb and len(met_p) == len(pb) else 'not met'}: "
                       + ", ".join(f"{t} {ratio[(t, m)]:.2f}" for t in pb) + ").")
    if "auto" in models:  # issue 21: never worse than ff5, 0.5x in 10 of 12, start-up within 1 dB
        allt = [t for t in tnames if (t, "auto") in ratio]
        worse = [t for t in allt if ratio[(t, "auto")] > 1.0]
        virt = [t for t in allt if unit_of[t] in UNITS]
        half = [t for t in virt if ratio[(t, "auto")] <= 0.5]
        ups = {t: by[(t, "auto")].get("startup_db_held_out") for t in allt}
        loud = [t for t in allt if ups[t] is not None and ups[t] > 1.0]
        worse_text = ", ".join(f"{t} {ratio[(t, 'auto')]:.4f}" for t in worse)
        verdict += [
            f"- `auto` never worse than ff5 (held-out clip from sample 0): {len(allt) - len(worse)} of {len(allt)} "
            f"settings ({'met' if not worse else 'not met: ' + worse_text}).",
            f"- `auto` <= 0.5x ff5 in {len(half)} of {len(virt)} virtual-unit settings (target 10): "
            f"{'met' if len(half) >= 10 else 'not met'}.",
            f"- start-up level error of the chosen model <= 1 dB: {len(allt) - len(loud)} of {len(allt)} settings "
            f"({'met' if not loud else 'not met: ' + ', '.join(f'{t} {ups[t]:.2f} dB' for t in loud)}).",
        ]
    verdict += _issue26_verdict(by, ratio, tnames, unit_of, payload.get("hessian_timing"))
    lines += ["## Targets (recommended or auto-selected model)", ""] + verdict + [""]
    timing = payload.get("hessian_timing")
    if timing:
        lines += [f"## Cost of one exact Hessian ({timing['seconds']:g} s clip, 44.1 kHz, CPU)", "",
                  "Loss, gradient and full Hessian in one call; same machine, one run, side by side "
                  f"(`python benchmarks/models.py --timing`); fused: the best of {timing.get('rounds', 3)} rounds "
                  "taken in turn over the models.", "",
                  "| model | P | fused (s) | reverse-over-reverse (s) | forward-over-reverse (s) | revrev / fused |",
                  "|---|---|---|---|---|---|"]
        for r in timing["rows"]:
            lines.append(f"| {r['model']} | {r['n_params']} | {r['fused']:.3f} | {r['revrev']:.2f} | "
                         f"{r['fwdrev']:.2f} | {r['revrev_over_fused']:.1f}x |")
        lines.append("")
    tmp = out.with_suffix(".tmp")
    kept = ""  # the section benchmarks/knob_residual.py writes survives a regeneration
    old = out.read_text() if out.exists() else ""
    start, end = "<!-- knob-residual:start -->", "<!-- knob-residual:end -->"
    if start in old and end in old:
        kept = "\n" + old[old.index(start):old.index(end) + len(end)] + "\n"
    tmp.write_text("\n".join(lines) + payload.get("notes_md", "") + kept)
    tmp.replace(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
