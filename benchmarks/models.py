"""Grey-box model evaluation: ESR and delta-LDR per model against the ff5 baseline.

Targets: the embedded virtual levelling amplifier (compress and limit, peak
reduction 40, 70, 100) and ``pedalboard.Compressor`` at two settings.  Each
model is fitted (full-Hessian Newton, warm-started from the ff5 fit of the same
clip) on one music-like clip and scored on it and on a *held-out* clip (another
seed) that no fit has seen.  Results are written incrementally (rerunning
resumes); ``--md`` writes the Markdown report (docs/models.md).

    python benchmarks/models.py --json docs/results/models.json --md docs/models.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, write_json  # noqa: E402

import dspnewton  # noqa: E402
from dspnewton.data.virtual_unit import OpticalLeveler  # noqa: E402
from dspnewton.fitting import fit_ff5_multistart  # noqa: E402
from dspnewton.objective.metrics import delta_ldr, esr  # noqa: E402
from dspnewton.optim.newton import NewtonOptions  # noqa: E402
from dspnewton.synth import music_like  # noqa: E402

DEFAULT_MODELS = ["fb", "ff+knee+rms", "fb+2rel", "fb+2rel+tube", "fb+knee+rms+2rel+sc+tube"]
PEDALBOARD_SETTINGS = {"pb-4to1": (-30.0, 4.0, 5.0, 100.0), "pb-10to1": (-24.0, 10.0, 1.0, 50.0)}


def targets():
    for mode in ("compress", "limit"):
        for peak in (40, 70, 100):
            unit = OpticalLeveler(float(peak), mode)
            yield f"virtual-{mode}-{peak}", "virtual", lambda x, sr, u=unit: u.process(x, sr)
    import pedalboard

    for name, (thr, ratio, att, rel) in PEDALBOARD_SETTINGS.items():
        def render(x, sr, a=(thr, ratio, att, rel)):
            comp = pedalboard.Compressor(threshold_db=a[0], ratio=a[1], attack_ms=a[2], release_ms=a[3])
            return comp(x.astype(np.float32)[None, :], sr)[0].astype(np.float64)

        yield name, "pedalboard", render


def score(result, x, y, sr, warmup):
    with torch.no_grad():
        pred = result.render(torch.tensor(x))
    p, t = pred[warmup:], torch.tensor(y)[warmup:]
    return float(esr(p, t)), float(delta_ldr(p, t, sr))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="clip length (fit and held-out), s")
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--max-iter", type=int, default=30)
    ap.add_argument("--only", default="", help="comma-separated target names (default all)")
    ap.add_argument("--json", default="docs/results/models.json")
    ap.add_argument("--md", default="")
    ap.add_argument("--timing", action="store_true", help="also time one Hessian per strategy and model")
    args = ap.parse_args(argv)
    sr, warm_s = 44100, 1.0
    warmup = int(warm_s * sr)
    x_fit = music_like(args.seconds, sr, seed=11)
    x_test = music_like(args.seconds, sr, seed=12)
    path = Path(args.json)
    payload = json.loads(path.read_text()) if path.exists() else {"rows": []}
    payload["machine"] = machine_info("cpu")
    payload["setup"] = {"seconds": args.seconds, "sample_rate": sr, "warmup_s": warm_s, "max_iter": args.max_iter,
                        "fit_seed": 11, "held_out_seed": 12}
    done = {(r["target"], r["model"]) for r in payload["rows"]}
    models = [m for m in args.models.split(",") if m]
    only = set(filter(None, args.only.split(",")))
    opts = NewtonOptions(max_iter=args.max_iter, loss_rtol=1e-7)
    for name, family, render in targets():
        if only and name not in only:
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
            else:
                r = dspnewton.fit(torch.tensor(x_fit), torch.tensor(y_fit), sr, model=model, init=base, **common)
            if model == "ff5":
                base = r
                if (name, model) in done:
                    continue
            e_fit, l_fit = score(r, x_fit, y_fit, sr, warmup)
            e_test, l_test = score(r, x_test, y_test, sr, warmup)
            row = {"target": name, "family": family, "model": model, "params": r.all_params,
                   "n_params": len(r.all_params), "esr_fit": e_fit, "dldr_fit": l_fit, "esr_held_out": e_test,
                   "dldr_held_out": l_test, "iterations": r.iterations, "converged": r.converged,
                   "seconds": time.perf_counter() - t0}
            payload["rows"].append(row)
            print(f"{name:22s} {model:28s} ESR fit {100 * e_fit:7.3f} %  held-out {100 * e_test:7.3f} %  "
                  f"dLDR {l_test:6.3f} dB  it {r.iterations:3d}  {row['seconds']:6.1f} s", flush=True)
            write_json(str(path), payload)
    if args.timing:
        payload["hessian_timing"] = hessian_timing()
        write_json(str(path), payload)
    if args.md:
        write_markdown(payload, Path(args.md))


def hessian_timing(seconds: float = 3.0, sr: int = 44100):
    """Seconds for one loss/gradient/Hessian over a ``seconds`` clip, per model and strategy."""
    from dspnewton.model.greybox import render_model
    from dspnewton.model.greybox_spec import model_physical_to_theta, parse_model
    from dspnewton.objective.framing import make_frames
    from dspnewton.objective.hessian import loss_grad_hess

    x = torch.from_numpy(music_like(seconds, sr, seed=3))
    base = dict(threshold_db=-30.0, ratio=4.0, attack_ms=3.0, release_ms=80.0, makeup_db=2.0)
    rows = []
    for name in ["ff5", "fb", "ff+knee+rms", "fb+2rel", "fb+2rel+tube", "fb+knee+rms+2rel+sc+tube"]:
        spec = parse_model(name)
        th = model_physical_to_theta(base, spec, sr, fill_defaults=True)
        y = render_model(x, th + 0.05, spec, sr).detach()
        frames = make_frames(x, y, sr, None, 0.5)
        row = {"model": name, "n_params": spec.n_params}
        for strategy in ("fused", "revrev", "fwdrev"):
            loss_grad_hess(th, frames, strategy, model=spec) if strategy == "fused" else None  # warm-up (JIT)
            t0 = time.perf_counter()
            loss_grad_hess(th, frames, strategy, model=spec)
            row[strategy] = time.perf_counter() - t0
        row["revrev_over_fused"] = row["revrev"] / row["fused"]
        print(f"{name:28s} fused {row['fused']:7.2f} s  revrev {row['revrev']:7.2f} s  fwdrev {row['fwdrev']:7.2f} s",
              flush=True)
        rows.append(row)
    return {"seconds": seconds, "sample_rate": sr, "rows": rows}


MODELS_TEXT = """## The models

A model is named by its options (`dspnewton models` lists all 64, the recommended one first):

| option | parameters | what it adds |
|---|---|---|
| `ff` / `fb` | threshold_db, ratio, attack_ms, release_ms, makeup_db | topology: the detector reads the input (`ff`, the published `ff5` when alone) or the previous output sample (`fb`; slope R - 1 on the output, so `ratio` stays the static ratio) |
| `knee` | knee_db | soft knee (quadratic over the knee width) |
| `rms` | rms_ms | RMS detector: one-pole mean square before the dB conversion |
| `2rel` | release_slow_ms, slow_mix | a second (slow) ballistics state sharing the attack; the gain mixes fast and slow |
| `sc` | sc_shelf_db | first-order high shelf (1 kHz) in the side chain |
| `tube` | drive, bias | output saturation `(tanh(k(w+b)) - tanh(kb)) / (k sech^2(kb))` (unit slope at 0) |

All options compose; at most 12 parameters.  Fitting uses the same damped Newton on the full
Hessian as `ff5`.  Derivatives are exact: the states come from a sequential kernel; for autograd
they pass through two Newton steps of the recursion's implicit equations, each a matrix linear
recurrence (`dspnewton.filters.matrix_recurrence`), which leaves the values unchanged and makes
first, second and third derivatives exact in reverse mode, forward mode and under `torch.func`
(tested with gradcheck, gradgradcheck, forward-mode gradcheck and every Hessian route).  The
`fused` strategy for grey-box models is a compiled pass (`dspnewton.objective.greybox_fused`,
numba CPU and numba.cuda from one frame body): per frame a forward sweep of values, a backward
sweep of adjoints and a forward sweep of the P tangents that adds each elementary operation's
second-order term (second-order Lagrangian identity), with no autograd tape; it agrees with
reverse-over-reverse and with the vectorised torch reference (`dspnewton.objective.greybox_hessian`)
to rounding.  At 20 minutes of audio: [long_fits.md](long_fits.md).  The C++ real-time core runs every model (parity with PyTorch below 1e-12 relative in
float64 for all 64 models and any block size), and the exported plugin runs the table's model.
"""


def write_markdown(payload: dict, out: Path) -> None:
    rows = payload["rows"]
    tnames = list(dict.fromkeys(r["target"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    by = {(r["target"], r["model"]): r for r in rows}
    lines = [
        "# Grey-box models: evaluation",
        "",
        "Generated by `python benchmarks/models.py --md docs/models.md` (raw numbers: "
        "`docs/results/models.json`).  Each model is fitted by full-Hessian Newton (the fused exact Hessian), "
        "warm-started from the `ff5` fit of the same clip, on a "
        f"{payload['setup']['seconds']:g} s music-like clip at 44.1 kHz (first {payload['setup']['warmup_s']:g} s "
        "warm-up, not scored) and scored on that clip and on a held-out clip (another seed) no fit has seen. "
        "ESR is pre-emphasised, in %; dLDR in dB (held-out clip).  Ratio = model ESR / ff5 ESR on the held-out clip.",
        "",
        "Targets: the embedded virtual unit (`dspnewton.data.virtual_unit`, compress/limit, peak reduction "
        "40/70/100) and `pedalboard.Compressor` (pb-4to1: -30 dB, 4:1, 5 ms, 100 ms; pb-10to1: -24 dB, 10:1, "
        "1 ms, 50 ms).",
        "",
    ]
    lines += MODELS_TEXT.splitlines() + [""]
    header = "| target | " + " | ".join(models) + " |"
    for title, key, scale in (("ESR on the fitted clip (%)", "esr_fit", 100), ("ESR held out (%)", "esr_held_out", 100),
                              ("dLDR held out (dB)", "dldr_held_out", 1)):
        lines += [f"## {title}", "", header, "|---" * (len(models) + 1) + "|"]
        for t in tnames:
            cells = []
            for m in models:
                r = by.get((t, m))
                cells.append("-" if r is None else f"{scale * r[key]:.3f}")
            lines.append(f"| {t} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Ratio to ff5 (held-out ESR) and Newton iterations", "", header, "|---" * (len(models) + 1) + "|"]
    for t in tnames:
        base = by.get((t, "ff5"))
        cells = []
        for m in models:
            r = by.get((t, m))
            if r is None or base is None:
                cells.append("-")
            else:
                cells.append(f"{r['esr_held_out'] / base['esr_held_out']:.2f} ({r['iterations']} it)")
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    lines.append("")
    mean = {m: np.mean([by[(t, m)]["esr_held_out"] for t in tnames if (t, m) in by and t.startswith("virtual")])
            for m in models}
    timing = payload.get("hessian_timing")
    if timing:
        lines += [f"## Cost of one exact Hessian ({timing['seconds']:g} s clip, 44.1 kHz, CPU)", "",
                  "Loss, gradient and full Hessian in one call; same machine, one run, side by side "
                  "(`python benchmarks/models.py --timing`).", "",
                  "| model | P | fused (s) | reverse-over-reverse (s) | forward-over-reverse (s) | revrev / fused |",
                  "|---|---|---|---|---|---|"]
        for r in timing["rows"]:
            lines.append(f"| {r['model']} | {r['n_params']} | {r['fused']:.2f} | {r['revrev']:.2f} | "
                         f"{r['fwdrev']:.2f} | {r['revrev_over_fused']:.1f}x |")
        lines.append("")
    lines += ["## Mean held-out ESR on the virtual unit", "",
              "| model | parameters | mean ESR (%) |", "|---|---|---|"]
    for m in sorted(models, key=lambda k: mean[k]):
        n = next(r["n_params"] for r in rows if r["model"] == m)
        lines.append(f"| {m} | {n} | {100 * mean[m]:.3f} |")
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
