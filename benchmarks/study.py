"""A whole LA-2A study on this machine: a SignalTrain-shaped dataset from the embedded unit, swept per model.

The dataset: one 60 s music-like program tiled to ``--minutes`` (20 = SignalTrain's file length), processed by
the embedded virtual levelling amplifier at every setting (compress and limit, peak reduction 40..100 step 5 =
26 settings), written in SignalTrain's layout (``Train/input_<id>_.wav``, hard links of one file;
``target_<id>_LA2A_3c__<switch>__<peak>.wav``).  It is kept in ``--data`` and reused.

Then ``dspnewton sweep DATA OUT --model M`` runs in a fresh process per model (as a user runs it) for ``ff5``,
the recommended model and ``auto``; with ``--baseline DIR`` the same sweeps run a second time with the package
of another checkout (e.g. ``git worktree add /tmp/base <rev>``), side by side in one run.  The table: wall
time, and per setting the iterations, the passes over all the data (a progressive fit's last stage; every
evaluation of a fit that uses all frames throughout) and the ESR.

    python benchmarks/study.py --minutes 2 --json docs/results/study.json --md docs/study.md
    python benchmarks/study.py --minutes 20 --peaks 40 70 100 --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import dspnewton_cmd, machine_info, print_table, write_json  # noqa: E402

from dspnewton.data.virtual_unit import OpticalLeveler  # noqa: E402
from dspnewton.model.greybox_spec import RECOMMENDED_MODEL  # noqa: E402
from dspnewton.modes import MODES  # noqa: E402
from dspnewton.synth import music_like  # noqa: E402

SR = 44100
MODELS = ("ff5", RECOMMENDED_MODEL, "auto")
PEAKS = tuple(range(40, 101, 5))

def build_dataset(folder: Path, minutes: float, peaks, modes=MODES) -> Path:
    """The SignalTrain-shaped dataset (reused when its ``study.json`` says the same length and settings)."""
    stamp = {"minutes": minutes, "peaks": list(peaks), "modes": list(modes), "sample_rate": SR}
    marker = folder / "study.json"
    if marker.exists() and json.loads(marker.read_text()) == stamp:
        return folder
    train = folder / "Train"
    train.mkdir(parents=True, exist_ok=True)
    for old in train.glob("*.wav"):
        old.unlink()
    x = np.resize(music_like(60.0, SR, seed=11), int(round(minutes * 60 * SR)))
    master = folder / "input.wav"
    sf.write(master, x.astype(np.float32), SR, subtype="FLOAT")
    ident = 100
    for switch, mode in enumerate(MODES):
        if mode not in modes:
            continue
        for peak in peaks:
            os.link(master, train / f"input_{ident}_.wav")
            y = OpticalLeveler(float(peak), mode).process(x, SR)
            sf.write(train / f"target_{ident}_LA2A_3c__{switch}__{peak}.wav", y.astype(np.float32), SR,
                     subtype="FLOAT")
            print(f"  dataset: {mode} {peak}", file=sys.stderr, flush=True)
            ident += 1
    marker.write_text(json.dumps(stamp))
    return folder


def run_sweep(data: Path, out: Path, model: str, peaks, code: str | None, extra=()) -> dict:
    """One ``dspnewton sweep`` in a fresh process; the wall time and one row per setting from its fit.json files."""
    args = ["sweep", str(data), "-o", str(out), "--model", model, "--peaks", ",".join(map(str, peaks)), "--quiet",
            *extra]
    cmd = dspnewton_cmd(args, code)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    settings = []
    for fitj in sorted(out.rglob("fit.json")):
        r = json.loads(fitj.read_text())
        ex = r.get("extra", {})
        prog = ex.get("progressive")
        passes = prog["full_data_passes"] if prog else ex.get("evaluations")
        settings.append({"mode": ex.get("mode"), "peak": ex.get("peak"), "model": r.get("model"),
                         "iterations": r["iterations"], "full_data_passes": passes, "esr_percent": 100 * r["esr"],
                         "seconds": r.get("seconds")})
    fits_s = sum(s["seconds"] or 0.0 for s in settings)
    return {"model": model, "wall_s": wall, "fits_s": fits_s, "settings": settings,
            "chosen": settings[0]["model"] if settings else None}


def markdown(payload: dict) -> str:
    runs = payload["runs"]
    lines = ["# A whole study on this machine", "",
             f"`python benchmarks/study.py {' '.join(payload['argv'])}`: {payload['settings']} settings "
             f"(compress and limit, peak {payload['peaks'][0]}..{payload['peaks'][-1]}) of "
             f"{payload['minutes']:g}-minute pairs, SignalTrain's layout, the embedded virtual unit; "
             f"`dspnewton sweep --model M` in a fresh process per run. Machine: {payload['machine']['cpu_count']} "
             "cores.", "",
             "| code | model | chosen | wall (s) | fits (s) | iterations (sum) | full-data passes (sum) | "
             "mean ESR (%) | max ESR (%) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        s = r["settings"]
        esr = [v["esr_percent"] for v in s]
        lines.append(f"| {r['code']} | {r['model']} | {r['chosen']} | {r['wall_s']:.0f} | {r['fits_s']:.0f} | "
                     f"{sum(v['iterations'] for v in s)} | {sum(v['full_data_passes'] or 0 for v in s)} | "
                     f"{np.mean(esr):.4f} | {max(esr):.4f} |")
    lines += ["", "Per setting (iterations / full-data passes / ESR %):", ""]
    keys = sorted({(v["mode"], v["peak"]) for r in runs for v in r["settings"]})
    lines.append("| setting | " + " | ".join(f"{r['code']} {r['model']}" for r in runs) + " |")
    lines.append("|---|" + "---|" * len(runs))
    for mode, peak in keys:
        cells = []
        for r in runs:
            v = next((v for v in r["settings"] if (v["mode"], v["peak"]) == (mode, peak)), None)
            cells.append("-" if v is None else
                         f"{v['iterations']} / {v['full_data_passes']} / {v['esr_percent']:.4f}")
        lines.append(f"| {mode} {peak} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=20.0, help="length of every pair (SignalTrain: 20)")
    ap.add_argument("--peaks", type=int, nargs="+", default=list(PEAKS))
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--data", default=None, help="dataset folder (default: /tmp/dspnewton-study-<minutes>min)")
    ap.add_argument("--work", default=None, help="sweep outputs (default: a folder beside the data)")
    ap.add_argument("--baseline", default=None, help="a checkout of another revision: its sweeps run too")
    ap.add_argument("--baseline-models", nargs="+", default=None,
                    help="the models the baseline runs too (default: every model)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--md", default=None)
    args = ap.parse_args(argv)
    data = Path(args.data or f"/tmp/dspnewton-study-{args.minutes:g}min")
    work = Path(args.work or f"{data}-runs")
    build_dataset(data, args.minutes, args.peaks)
    codes = [("this", None)] + ([("baseline", str(Path(args.baseline).resolve()))] if args.baseline else [])
    runs = []
    for model in args.models:
        for label, code in codes:
            if label == "baseline" and args.baseline_models is not None and model not in args.baseline_models:
                continue
            out = work / f"{label}_{model.replace('+', '_')}"
            if out.exists():
                subprocess.run(["rm", "-rf", str(out)], check=True)
            r = run_sweep(data, out, model, args.peaks, code)
            r["code"] = label
            runs.append(r)
            print(f"{label:>8} {model}: {r['wall_s']:.0f} s wall ({r['chosen']})", file=sys.stderr, flush=True)
    rows = [{"code": r["code"], "model": r["model"], "chosen": r["chosen"], "wall_s": r["wall_s"],
             "iterations": sum(v["iterations"] for v in r["settings"]),
             "passes": sum(v["full_data_passes"] or 0 for v in r["settings"]),
             "esr": float(np.mean([v["esr_percent"] for v in r["settings"]]))} for r in runs]
    print_table(rows, [("code", "code"), ("model", "model"), ("chosen", "chosen"), ("wall_s", "wall (s)"),
                       ("iterations", "iterations"), ("passes", "full-data passes"), ("esr", "mean ESR (%)")])
    payload = {"argv": sys.argv[1:] if argv is None else list(argv), "minutes": args.minutes, "peaks": args.peaks,
               "settings": 2 * len(args.peaks), "machine": machine_info("cpu"), "runs": runs}
    write_json(args.json, payload)
    if args.md:
        Path(args.md).write_text(markdown(payload))
        print(f"wrote {args.md}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
