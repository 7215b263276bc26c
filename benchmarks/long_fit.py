"""Fits at the scale of real data: 20-minute pairs at 44.1 kHz (the SignalTrain file length).

Two parts, one run, side by side:

1. the loss + gradient + exact Hessian over the whole file for ``ff5``, ``fb+2rel`` and
   the recommended model: the model's fused pass (whole file; also its gradient level alone) against reverse-over-reverse
   autograd (timed on ``--revrev-frames`` frames and scaled to the file; it cannot hold a
   20-minute tape), plus one Newton iteration on a 2-minute pair (the ratio target);
2. a full default fit of each model (``dspnewton fit`` in a fresh process, as a user runs it)
   on the 20-minute pair: wall time, iterations, final ESR, peak RSS; ``ff5`` also without
   the stall stopping rule (``--stop-iters 0``) to show what the rule saves and costs.

The pair: a 60 s music-like program tiled to the length, processed by the embedded virtual
levelling amplifier (compress mode, peak reduction 70), written as float WAV files.

Usage: python benchmarks/long_fit.py [--minutes 20] [--json OUT] [--skip-fits] [--models ...] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import dspnewton_cmd, machine_info, print_table, write_json  # noqa: E402

from dspnewton.objective.exact import exact_loss, exact_loss_grad, exact_loss_grad_hess
from dspnewton.data.virtual_unit import OpticalLeveler  # noqa: E402
from dspnewton.model.greybox_spec import RECOMMENDED_MODEL  # noqa: E402
from dspnewton.model.models import get_model  # noqa: E402
from dspnewton.objective.framing import make_frames  # noqa: E402
from dspnewton.objective.hessian import loss_grad_hess  # noqa: E402
from dspnewton.synth import music_like  # noqa: E402

SR = 44100
MODELS = ("ff5", "fb+2rel", RECOMMENDED_MODEL)
UNIT_SETTING = (70, "compress")  # the embedded optical unit's peak reduction and mode that make the target


def make_pair(minutes: float, seed: int = 11):
    base = music_like(60.0, SR, seed=seed)
    x = np.resize(base, int(minutes * 60 * SR))
    y = OpticalLeveler(*UNIT_SETTING).process(x, SR)
    return x, y


def _start(model, x, y):
    """A realistic mid-fit point: the model's defaults with the make-up matched (not the optimum)."""
    m = get_model(model)
    return m.physical_to_theta({**m.defaults(), "threshold_db": -30.0, "ratio": 3.0, "attack_ms": 5.0,
                                "release_ms": 150.0}, SR)


def hessian_part(x, y, models, revrev_frames: int, device: str = "cpu", on_row=None):
    """Per model: the fused pass over the whole pair, its gradient and loss levels, one Newton iteration on its
    first 2 minutes and reverse-over-reverse autograd scaled from ``revrev_frames`` frames; ``on_row(rows)``
    after each model (the caller writes what is done, so a run stopped by a time limit keeps it)."""
    frames = make_frames(torch.from_numpy(x), torch.from_numpy(y), SR).to(device=device)
    short = make_frames(torch.from_numpy(x[:120 * SR]), torch.from_numpy(y[:120 * SR]), SR).to(device=device)
    rows = []
    for name in models:
        m = get_model(name)
        theta = _start(name, x, y)
        exact_loss_grad_hess(m, theta, frames.subset(slice(0, 1)))  # compile / warm up
        t0 = time.perf_counter()
        exact_loss_grad_hess(m, theta, frames)
        fused = time.perf_counter() - t0
        t0 = time.perf_counter()
        exact_loss_grad(m, theta, frames)
        gradient = time.perf_counter() - t0
        t0 = time.perf_counter()
        exact_loss(m, theta, frames)
        loss_only = time.perf_counter() - t0
        # One Newton iteration on a 2-minute pair: Hessian pass + two line-search losses.
        t0 = time.perf_counter()
        exact_loss_grad_hess(m, theta, short)
        exact_loss(m, theta, short)
        exact_loss(m, theta, short)
        iteration_2min = time.perf_counter() - t0
        part = frames.subset(slice(0, revrev_frames))
        warm = make_frames(torch.from_numpy(x[:SR]), torch.from_numpy(y[:SR]), SR, 0.5, 0.1).to(device=device)
        loss_grad_hess(theta, warm, "revrev", model=name, chunk_frames=1)  # autograd warm-up
        t0 = time.perf_counter()
        loss_grad_hess(theta, part, "revrev", model=name, chunk_frames=1)
        revrev = (time.perf_counter() - t0) * frames.n_frames / revrev_frames
        rows.append({"model": name, "params": m.n_params, "frames": frames.n_frames, "fused_s": fused,
                     "gradient_s": gradient, "gradient_vs_fused": gradient / fused, "loss_only_s": loss_only, "revrev_s_scaled": revrev, "speedup": revrev / fused,
                     "newton_iteration_2min_s": iteration_2min})
        print(f"  {name}: fused {fused:.2f} s, revrev ~{revrev:.0f} s", file=sys.stderr)
        if on_row:
            on_row(rows)
    base = next((r for r in rows if r["model"] == "ff5"), None)
    for r in rows:
        r["iteration_vs_ff5"] = r["newton_iteration_2min_s"] / base["newton_iteration_2min_s"] if base else None
    return rows


def _watch_peak_rss(proc) -> int:
    """Peak resident set (kB) of a running child, from /proc VmHWM (the high-water mark of the
    exec'd program; ``wait4``'s ru_maxrss would include the parent's pages shared at fork)."""
    peak = 0
    while proc.poll() is None:
        try:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.2)
    return peak


def _auto_summary(auto: dict | None) -> dict | None:
    """``--model auto``: the chosen model, the stages pruned, the audio the candidates were fitted on (s) and, per
    candidate, its fit's seconds, ESR, score, start-up level error and verdict (and the model it was pruned from)."""
    if not auto:
        return None
    keys = ("model", "seconds", "esr_fit", "score", "startup_db", "eligible", "why", "unidentifiable", "pruned_from")
    return {"chosen": auto.get("chosen"), "pruned": auto.get("pruned", []),
            "fitted_seconds": auto.get("folds", {}).get("fitted_seconds"),
            "candidates": [{k: c.get(k) for k in keys if k in c} for c in auto["candidates"]]}


def fit_part(x, y, models, workdir: Path, codes=(("this", None),), nostall: bool = True):
    """Default fits of each model, in a fresh process each, by each code (``(label, checkout folder or None)``),
    alternating the codes model by model (side by side in one run)."""
    xin, tgt = workdir / "input.wav", workdir / "target.wav"
    sf.write(xin, x, SR, subtype="FLOAT")
    sf.write(tgt, y, SR, subtype="FLOAT")
    runs = [(m, []) for m in models]
    if "ff5" in models and nostall:
        runs.insert(1, ("ff5", ["--stop-iters", "0"]))
    rows = []
    for name, extra in runs:
        for label, code in codes:
            out = workdir / f"fit_{label}_{name.replace('+', '_')}{'_nostall' if extra else ''}"
            cmd = dspnewton_cmd(["fit", str(xin), str(tgt), "-o", str(out), "--model", name, "--quiet", *extra], code)
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd)
            peak_kb = _watch_peak_rss(proc)
            if proc.returncode:
                raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode})")
            wall = time.perf_counter() - t0
            fitj = json.loads((out / "fit.json").read_text())
            ex = fitj.get("extra", {})
            warm = ex.get("ff5_warm_start") or {}
            prog = ex.get("progressive")
            rows.append({"code": label, "model": name, "stall_rule": not extra, "wall_s": wall,
                         "iterations": fitj["iterations"],
                         "full_data_passes": prog["full_data_passes"] if prog else ex.get("evaluations"),
                         "esr_percent": 100 * fitj["esr"], "peak_rss_gb": peak_kb / 2**20,
                         "warm_start_s": warm.get("seconds"), "message": fitj["message"],
                         "stages": prog["stages"] if prog else None, "auto": _auto_summary(ex.get("auto"))})
            print(f"  {label} fit {name} {extra}: {wall:.0f} s, {fitj['iterations']} it, ESR {100 * fitj['esr']:.4f} %, "
                  f"{peak_kb / 2**20:.2f} GB", file=sys.stderr, flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--revrev-frames", type=int, default=2)
    ap.add_argument("--skip-fits", action="store_true")
    ap.add_argument("--skip-hessian", action="store_true")
    ap.add_argument("--device", default="cpu", help="where the Hessian part runs (cuda: the compiled CUDA passes)")
    ap.add_argument("--baseline", default=None,
                    help="a checkout of another revision (git worktree): its default fits run side by side")
    ap.add_argument("--no-nostall", action="store_true", help="skip the ff5 fit without the stall rule")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    x, y = make_pair(args.minutes)
    payload = {"machine": machine_info(args.device), "minutes": args.minutes, "sample_rate": SR}
    if not args.skip_hessian:
        rows = hessian_part(x, y, args.models, args.revrev_frames, args.device,
                            on_row=lambda done: write_json(args.json, {**payload, "hessian": done, "partial": True}))
        print(f"\nLoss + gradient + exact Hessian over {args.minutes:g} min ({rows[0]['frames']} frames of 12 s); "
              f"revrev timed on {args.revrev_frames} frame(s) and scaled")
        print_table(rows, [("model", "model"), ("params", "P"), ("fused_s", "fused (s)"),
                           ("gradient_s", "gradient only (s)"), ("gradient_vs_fused", "gradient / fused"),
                           ("loss_only_s", "loss only (s)"), ("revrev_s_scaled", "revrev (s, scaled)"),
                           ("speedup", "fused speed-up"), ("newton_iteration_2min_s", "Newton iteration, 2 min (s)"),
                           ("iteration_vs_ff5", "x ff5")])
        payload["hessian"] = rows
    if not args.skip_fits:
        with tempfile.TemporaryDirectory() as tmp:
            codes = [("this", None)] + ([("baseline", args.baseline)] if args.baseline else [])
            rows = fit_part(x, y, args.models, Path(tmp), codes, not args.no_nostall)
        print(f"\nDefault fit on a {args.minutes:g}-minute pair (dspnewton fit, fresh process)")
        print_table(rows, [("code", "code"), ("model", "model"), ("stall_rule", "stall rule"), ("wall_s", "wall (s)"),
                           ("iterations", "iterations"), ("full_data_passes", "full-data passes"),
                           ("esr_percent", "ESR (%)"), ("peak_rss_gb", "peak RSS (GB)"),
                           ("warm_start_s", "ff5 warm start (s)")])
        payload["fits"] = rows
    write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
