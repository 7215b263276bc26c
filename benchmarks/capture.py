"""The capture workflow at real scale: alignment accuracy, fidelity after alignment, wall time.

1. **Alignment**: the default capture signal (48 kHz, 2 minutes of program) through several
   devices (the embedded optical unit at compress 0/50/100 and limit 100, ``pedalboard.Compressor``),
   each recorded with each simulated impairment (fractional latency, clock drift of -50..+100 ppm,
   polarity, DC, -80 dBFS noise, a late start, an early end): latency and drift errors.
2. **Fidelity and time**: ``capture fit`` of the SignalTrain grid (compress and limit, peak 0..100
   step 10: 22 settings) of the optical unit with the default model, once on impaired recordings and
   once on the unit's own output (perfectly aligned): validation ESR per setting and the ratio, and
   the wall time of each whole ``capture fit``.

    python benchmarks/capture.py --json docs/results/capture.json            # the whole benchmark
    python benchmarks/capture.py --quick                                     # 4 settings, 1 minute
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_info, print_table, write_json  # noqa: E402

import numpy as np  # noqa: E402

import dspnewton.capture as capture  # noqa: E402
from dspnewton.audio import write_audio  # noqa: E402
from dspnewton.capture.checks import check_recording  # noqa: E402
from dspnewton.capture.simulate import simulate_recording  # noqa: E402
from dspnewton.capture.stimulus import SETTINGS_GRID, recording_name  # noqa: E402
from dspnewton.data.virtual_unit import OpticalLeveler  # noqa: E402

IMPAIRMENTS = {
    "none": {},
    "latency 317.4": dict(latency=317.4),
    "latency 1234.56, +40 ppm": dict(latency=1234.56, drift_ppm=40.0),
    "-50 ppm, inverted": dict(latency=87.25, drift_ppm=-50.0, polarity=-1),
    "+100 ppm, DC, -80 dBFS noise": dict(latency=512.9, drift_ppm=100.0, dc=0.003, noise_dbfs=-80.0),
    "late start, early end, +25 ppm": dict(latency=640.1, drift_ppm=25.0, start_late_s=0.6, end_early_s=0.7),
}


def _devices(sig):
    out = {f"optical {m} {p}": OpticalLeveler(float(p), m).process(sig.audio, sig.sample_rate)
           for m, p in (("compress", 0), ("compress", 50), ("compress", 100), ("limit", 100))}
    try:
        import pedalboard

        comp = pedalboard.Compressor(threshold_db=-24.0, ratio=4.0, attack_ms=5.0, release_ms=120.0)
        out["pedalboard -24 dB 4:1"] = comp(sig.audio.astype(np.float32), sig.sample_rate).astype(np.float64)
    except ImportError:
        pass
    return out


def _impaired(y, sr, i):
    return simulate_recording(y, sr, latency=211.7 + 13 * i, drift_ppm=(-50.0, 40.0, 90.0)[i % 3],
                              polarity=(-1) ** i, dc=0.001, noise_dbfs=-80.0, start_late_s=0.1 * (i % 2), seed=i)[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=48000)
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--model", default="ff5")
    ap.add_argument("--quick", action="store_true", help="1 minute of program, 4 settings")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    minutes = 1.0 if args.quick else args.minutes
    settings = [("compress", 30), ("compress", 100), ("limit", 50), ("limit", 100)] if args.quick else list(SETTINGS_GRID)
    tmp = Path(tempfile.mkdtemp(prefix="dspnewton-capture-bench-"))
    try:
        cap = tmp / "cap"
        t0 = time.perf_counter()
        sig = capture.signal(cap, sample_rate=args.rate, minutes=minutes)
        print(f"capture signal: {len(sig.audio) / sig.sample_rate:.1f} s at {sig.sample_rate} Hz "
              f"({time.perf_counter() - t0:.1f} s to write)")
        align_rows = []
        for dev, y in _devices(sig).items():
            for name, kw in IMPAIRMENTS.items():
                rec, truth = simulate_recording(y, sig.sample_rate, seed=7, **kw)
                t0 = time.perf_counter()
                c = check_recording(rec, sig.sample_rate, sig)
                align_rows.append({"device": dev, "impairment": name, "ok": c.ok, "seconds": time.perf_counter() - t0,
                                   "latency_true": truth["latency_samples"], "latency_found": c.latency_samples,
                                   "latency_error": abs(c.latency_samples - truth["latency_samples"]),
                                   "drift_true_ppm": truth["drift_ppm"], "drift_found_ppm": c.drift_ppm,
                                   "drift_error_ppm": abs(c.drift_ppm - truth["drift_ppm"])})
        print_table(align_rows, [("device", "device"), ("impairment", "impairment"), ("ok", "ok"),
                                 ("latency_error", "latency error (samples)"), ("drift_error_ppm", "drift error (ppm)"),
                                 ("seconds", "check (s)")])
        worst_lat = max(r["latency_error"] for r in align_rows)
        worst_drift = max(r["drift_error_ppm"] for r in align_rows)
        print(f"largest latency error {worst_lat:.4f} samples (target 1), largest drift error {worst_drift:.4f} ppm "
              f"(target 2); {sum(r['ok'] for r in align_rows)}/{len(align_rows)} accepted")
        # fidelity and time of capture fit on the grid
        imp, per = tmp / "impaired", tmp / "perfect"
        for d in (imp, per):
            shutil.copytree(cap, d)
        for i, (mode, peak) in enumerate(settings):
            y = OpticalLeveler(float(peak), mode).process(sig.audio, sig.sample_rate)
            write_audio(imp / recording_name(mode, peak), _impaired(y, sig.sample_rate, i), sig.sample_rate,
                        subtype="PCM_24")
            write_audio(per / recording_name(mode, peak), y, sig.sample_rate, subtype="FLOAT")
        timing = {}
        results = {}
        for label, folder in (("impaired", imp), ("perfect", per)):
            t0 = time.perf_counter()
            results[label] = capture.fit(folder, tmp / f"{label}.bundle", model=args.model)
            timing[label] = time.perf_counter() - t0
            print(f"capture fit ({label}, {len(settings)} settings, {args.model}): {timing[label]:.1f} s")
        fit_rows = []
        for key in results["impaired"].scores:
            a, b = results["impaired"].scores[key], results["perfect"].scores[key]
            fit_rows.append({"setting": key, "esr_impaired": a.get("esr_validation"), "esr_perfect": b.get("esr_validation"),
                             "ratio": (a["esr_validation"] / b["esr_validation"]) if a.get("esr_validation") and
                             b.get("esr_validation") else None})
        print_table(fit_rows, [("setting", "setting"), ("esr_perfect", "validation ESR, aligned pair"),
                               ("esr_impaired", "validation ESR, capture fit"), ("ratio", "ratio")])
        ratios = [r["ratio"] for r in fit_rows if r["ratio"] is not None]
        print(f"validation ESR ratio capture fit / aligned: max {max(ratios):.4f}, mean {np.mean(ratios):.4f} "
              f"(target <= 1.1)")
        write_json(args.json, {"machine": machine_info("cpu"), "rate": args.rate, "minutes": minutes,
                               "signal_seconds": len(sig.audio) / sig.sample_rate, "model": args.model,
                               "alignment": align_rows, "largest_latency_error": worst_lat,
                               "largest_drift_error_ppm": worst_drift, "fits": fit_rows,
                               "capture_fit_seconds": timing, "settings": len(settings),
                               "max_ratio": max(ratios), "mean_ratio": float(np.mean(ratios))})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
