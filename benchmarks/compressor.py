"""Benchmark the ff5 compressor: forward and forward+backward on 16 chunks of 12 s,
for each backend, beside torchcomp (the published implementation), in one run;
and the number of mask iterations the parallel forward needs on music-like input.

Usage: python benchmarks/compressor.py [--device cuda] [--dtype float32] [--seconds 12] [--batch 16] [--json OUT]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_table, time_call, write_json  # noqa: E402

from dspnewton.model import CompressorParams, compress, level_db, static_gain, theta_to_coefficients  # noqa: E402
from dspnewton.model.ballistics import ballistics_parallel_forward  # noqa: E402
from dspnewton.synth import music_like  # noqa: E402

SR = 44100
SETTINGS = {
    "published init": CompressorParams(-36.0, 4.0, 1.0, 200.0, 0.0),
    "LA-2A peak 40": CompressorParams(-13.1, 5.44, 30.5, 470.0, 0.70),
    "LA-2A peak 75": CompressorParams(-21.9, 4.24, 2.86, 243.0, 0.34),
    "LA-2A peak 100": CompressorParams(-35.3, 3.71, 0.98, 244.0, 0.30),
    "fast limiter": CompressorParams(-30.0, 19.0, 0.2, 20.0, 0.0),
}


def configs(device: str):
    if device == "cpu":
        return [("sequential", "kernel"), ("scan", "kernel"), ("scan", "parallel")]
    return [("cuda", "kernel"), ("scan", "kernel"), ("scan", "parallel")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    device, dtype = args.device, getattr(torch, args.dtype)
    x = np.stack([music_like(args.seconds, SR, seed=s) for s in range(args.batch)])
    x = torch.from_numpy(x).to(device=device, dtype=dtype)
    theta = SETTINGS["LA-2A peak 75"].to_theta(SR, dtype=dtype, device=device)
    rows = []

    def bench(name, f):
        th = theta.clone().requires_grad_()

        def fwd():
            with torch.no_grad():
                f(th)

        def fwd_bwd():
            y = f(th)
            y.pow(2).sum().backward()

        rows.append({"implementation": name, "fwd_ms": 1e3 * time_call(fwd, device, 3),
                     "fwd_bwd_ms": 1e3 * time_call(fwd_bwd, device, 3)})
        print(f"  {name:<32} fwd {rows[-1]['fwd_ms']:9.2f} ms  fwd+bwd {rows[-1]['fwd_bwd_ms']:9.2f} ms", flush=True)

    for be, fw in configs(device):
        bench(f"dspnewton {be} / forward={fw}", lambda th, be=be, fw=fw: compress(x, th, SR, backend=be, forward=fw))
    try:
        import torchcomp

        def published(th):
            ct, r, a_at, a_rt, gm = theta_to_coefficients(th.unsqueeze(0).expand(x.shape[0], 5), SR)
            gain = torchcomp.compexp_gain(x.abs().clamp_min(1e-8), ct, r, -120.0, 0.9999, a_at, a_rt)
            return x * gain * torch.exp(gm * np.log(10) / 20).unsqueeze(-1)

        bench("torchcomp (published)", published)
    except ImportError:
        print("  torchcomp not installed: no published baseline")
    ref = next(r for r in rows if r["implementation"].startswith("torchcomp")) if any(
        r["implementation"].startswith("torchcomp") for r in rows) else None
    for r in rows:
        r["speedup_fwd_bwd_vs_torchcomp"] = ref["fwd_bwd_ms"] / r["fwd_bwd_ms"] if ref else None

    # Mask iterations of the parallel forward (float64, so decisions are exact).
    iters = []
    x64 = x.double()
    xdb = level_db(x64)
    for name, p in SETTINGS.items():
        ct, r, a_at, a_rt, _ = theta_to_coefficients(p.to_theta(SR, device=device).expand(x.shape[0], 5), SR)
        gh = static_gain(xdb, ct, r)
        counts = []
        for b in range(x.shape[0]):
            _, _, st = ballistics_parallel_forward(gh[b:b + 1], a_at[b:b + 1], a_rt[b:b + 1], gh.new_ones(1))
            counts.append(st.iterations)
        _, _, st_all = ballistics_parallel_forward(gh, a_at, a_rt, gh.new_ones(x.shape[0]))
        iters.append({"setting": name, "min": min(counts), "median": float(np.median(counts)), "max": max(counts),
                      "batch": st_all.iterations})
    print()
    label = torch.cuda.get_device_name(0) if device.startswith("cuda") else f"CPU, {torch.get_num_threads()} threads"
    print(f"ff5 compressor, {args.batch} x {args.seconds:g} s at {SR} Hz, {args.dtype}, {label}")
    print_table(rows, [("implementation", "implementation"), ("fwd_ms", "fwd ms"), ("fwd_bwd_ms", "fwd+bwd ms"),
                       ("speedup_fwd_bwd_vs_torchcomp", "fwd+bwd speed-up vs torchcomp")])
    print("\nparallel forward: mask iterations per chunk (music-like input)")
    print_table(iters, [("setting", "setting"), ("min", "min"), ("median", "median"), ("max", "max"),
                        ("batch", "whole batch")])
    write_json(args.json, {"benchmark": "compressor", "dtype": args.dtype, "seconds": args.seconds,
                           "batch": args.batch, "machine": machine_info(device), "rows": rows,
                           "mask_iterations": iters})
    return 0


if __name__ == "__main__":
    sys.exit(main())
