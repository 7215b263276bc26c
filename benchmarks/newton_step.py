"""Time one full Newton step (loss, gradient, Hessian, Armijo line search) over a
long file (default 20 minutes at 44.1 kHz, framed as published), on CPU or GPU.

Usage: python benchmarks/newton_step.py [--device cuda] [--minutes 20] [--json OUT]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, write_json  # noqa: E402

from dspnewton.model import CompressorParams, compress  # noqa: E402
from dspnewton.objective.framing import make_frames  # noqa: E402
from dspnewton.objective.hessian import loss_grad_hess, loss_value  # noqa: E402
from dspnewton.optim import modified_newton_direction  # noqa: E402
from dspnewton.synth import music_like  # noqa: E402

SR = 44100


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    # Tile a 60 s program to the requested length (generation of 20 min is slow on CPU).
    base = music_like(60.0, SR, seed=11)
    n = int(args.minutes * 60 * SR)
    x = torch.from_numpy(np.resize(base, n))
    y = compress(x[None], CompressorParams(-21.9, 4.24, 2.86, 243.0, 0.34).to_theta(SR), SR)[0]
    y = y + 0.05 * torch.tanh(3 * y)
    frames = make_frames(x, y, SR).to(device=args.device)
    theta = CompressorParams(-30.0, 3.0, 2.0, 150.0, 0.0).to_theta(SR)
    loss_grad_hess(theta, frames.subset(slice(0, 1)))  # warm-up (compilation)
    times = {}
    t0 = time.perf_counter()
    loss_grad_hess(theta, frames)
    times["loss_grad_hessian_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    loss_value(theta, frames)
    times["loss_only_s"] = time.perf_counter() - t0
    # One full step: loss, gradient and Hessian, the modified Newton direction, Armijo backtracking.
    t0 = time.perf_counter()
    L, g, H = loss_grad_hess(theta, frames)
    p, _, _ = modified_newton_direction(g, H)
    step, evals = 1.0, 0
    while evals <= 20:
        evals += 1
        if loss_value(theta + step * p, frames) <= float(L) + 1e-4 * step * float(g @ p):
            break
        step *= 0.5
    times["newton_step_s"] = time.perf_counter() - t0
    times["line_search_evaluations"] = evals
    times["accepted_step"] = step
    label = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "CPU"
    print(f"{args.minutes:g} min at {SR} Hz = {frames.n_frames} frames of 12 s on {label}:")
    for k, v in times.items():
        print(f"  {k:<26} {v:.4g}")
    write_json(args.json, {"benchmark": "newton_step", "minutes": args.minutes, "frames": frames.n_frames,
                           "machine": machine_info(args.device), **times})
    return 0


if __name__ == "__main__":
    sys.exit(main())
