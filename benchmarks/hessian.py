"""Benchmark the Hessian strategies and the optimisers, all in one run on the same data.

A. One loss + gradient + Hessian over 16 frames of 12 s (music-like pair whose
   target is not in the model family): time and peak memory for every
   strategy, beside the published recipe re-implemented on its own packages
   (torchcomp + torchaudio's lfilter + ``torch.autograd.functional.hessian``,
   float32, 12 s chunks in batches of 16).  Each strategy runs in its own
   process so that its peak memory is its own (CPU: peak RSS growth; CUDA:
   ``torch.cuda.max_memory_allocated``).
B. A 60 s pair: Newton's wall time to converge and final loss, versus Adam and
   L-BFGS (steps and time to get within 1 % of Newton's loss, or their best).

Usage: python benchmarks/hessian.py [--device cuda] [--json OUT] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_table, write_json  # noqa: E402

SR = 44100
STRATEGIES = ["fused", "revrev", "fwdrev", "revfwd", "fwdfwd", "gauss-newton", "published"]


def make_pair(seconds: float, seed: int = 0):
    """A music-like input and a target outside the model family (compressor + soft saturation)."""
    from dspnewton.model import CompressorParams, compress
    from dspnewton.synth import music_like

    x = torch.from_numpy(music_like(seconds, SR, seed=seed))
    y = compress(x[None], CompressorParams(-21.9, 4.24, 2.86, 243.0, 0.34).to_theta(SR), SR)[0]
    y = y + 0.05 * torch.tanh(3.0 * y) - 0.15 * y
    return x, y


class _RssSampler:
    """Peak resident memory while a block runs, sampled every 2 ms by a thread (KiB)."""

    def __enter__(self):
        import threading

        self.base = self.peak = _rss_kib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_kib())
            self._stop.wait(0.002)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_kib())

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / 1024


def _rss_kib() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def published_hessian(theta, frames, device):
    """The published recipe: torchcomp gain, torchaudio pre-emphasis, autograd.functional.hessian, float32."""
    import torchaudio
    import torchcomp

    from dspnewton.model.params import theta_to_coefficients

    x = frames.x.to(device, torch.float32)
    t = frames.target.to(device, torch.float32)
    mask = frames.mask.to(device, torch.float32)
    a = torch.tensor([1.0, -0.995], device=device)
    b = torch.tensor([1.0, -1.0], device=device)
    tpe = torchaudio.functional.lfilter(t, a, b, clamp=False)

    def loss(th):
        ct, r, aat, art, gm = theta_to_coefficients(th.unsqueeze(0).expand(x.shape[0], 5), SR)
        gain = torchcomp.compexp_gain(x.abs().clamp_min(1e-8), ct, r, -120.0, 0.9999, aat, art)
        y = x * gain * (10 ** (gm / 20)).unsqueeze(-1)
        e = (torchaudio.functional.lfilter(y, a, b, clamp=False) - tpe) * mask
        return e.pow(2).sum()

    th = theta.to(device, torch.float32)
    L = loss(th)
    g = torch.autograd.functional.jacobian(loss, th)
    H = torch.autograd.functional.hessian(loss, th)
    return L, g, H


def worker(strategy: str, data_path: str, device: str) -> dict:
    """Run one strategy once (after a warm-up on one frame) and report time and memory."""
    from dspnewton.model import CompressorParams
    from dspnewton.objective.framing import make_frames
    from dspnewton.objective.hessian import loss_grad_hess

    d = np.load(data_path)
    x, y = torch.from_numpy(d["x"]), torch.from_numpy(d["y"])
    frames = make_frames(x, y, SR, 12.0, 1.0).to(device=device)
    theta = CompressorParams(-30.0, 3.0, 2.0, 150.0, 0.0).to_theta(SR)

    def run(fr):
        if strategy == "published":
            return published_hessian(theta, fr, device)
        return loss_grad_hess(theta, fr, strategy, chunk_frames=4 if device == "cpu" else 16)

    run(frames.subset(slice(0, 1)))  # warm-up: compilation, caches
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        t0 = time.perf_counter()
        L, g, H = run(frames)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        peak_mb = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        with _RssSampler() as rss:
            t0 = time.perf_counter()
            L, g, H = run(frames)
            seconds = time.perf_counter() - t0
        peak_mb = rss.growth_mb
    return {"strategy": strategy, "seconds": seconds, "peak_mb": peak_mb, "frames": frames.n_frames,
            "loss": float(L), "hessian": torch.as_tensor(H).double().cpu().tolist()}


def optimiser_race(quick: bool) -> list[dict]:
    import dspnewton

    x, y = make_pair(20.0 if quick else 60.0, seed=7)
    rows = []
    newton = dspnewton.fit(x, y, SR)
    target = newton.loss * 1.01
    hit = next((h for h in newton.history if h.get("loss_after", h["loss"]) <= target), None)
    rows.append({"optimizer": "newton (fused)", "iterations": newton.iterations, "seconds": newton.seconds,
                 "final_loss": newton.loss, "final_esr_pct": 100 * newton.esr, "converged": newton.converged,
                 "reached_1pct_at_step": hit["iteration"] if hit else None,
                 "reached_1pct_s": hit["seconds"] if hit else None})
    for opt, n in (("lbfgs", 200), ("adam", 300 if not quick else 100)):
        r = dspnewton.fit(x, y, SR, optimizer=opt, max_iter=n)
        hit = next((h for h in r.history if h["loss"] <= target), None)
        rows.append({"optimizer": opt, "iterations": len(r.history), "seconds": r.seconds, "final_loss": r.loss,
                     "final_esr_pct": 100 * r.esr, "converged": r.converged,
                     "reached_1pct_at_step": hit["iteration"] if hit else None,
                     "reached_1pct_s": hit["seconds"] if hit else None})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", default=None)
    ap.add_argument("--quick", action="store_true", help="4 frames and a 20 s race (smoke test)")
    ap.add_argument("--strategies", default=",".join(STRATEGIES), help="comma list; empty for none")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.data, args.device)))
        return 0
    n_frames = 4 if args.quick else 16
    seconds = 12.0 + (n_frames - 1) * 11.0
    x, y = make_pair(seconds, seed=3)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "pair.npz")
        np.savez(data, x=x.numpy(), y=y.numpy())
        for strategy in filter(None, args.strategies.split(",")):
            proc = subprocess.run([sys.executable, __file__, "--worker", strategy, "--data", data,
                                   "--device", args.device], capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"  {strategy}: FAILED\n{proc.stderr[-2000:]}", flush=True)
                rows.append({"strategy": strategy, "error": proc.stderr[-500:]})
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(r)
            print(f"  {strategy:<13} {r['seconds']:8.3f} s  peak {r['peak_mb']:9.1f} MB", flush=True)
    ok = [r for r in rows if "error" not in r]
    ref = next((r for r in ok if r["strategy"] == "fused"), None)
    pub = next((r for r in ok if r["strategy"] == "published"), None)
    hessians = {r["strategy"]: np.array(r.pop("hessian")) for r in ok}
    for r in ok:
        if ref is not None:
            H, Href = hessians[r["strategy"]], hessians["fused"]
            r["max_rel_diff_vs_fused"] = float(np.abs(H - Href).max() / np.abs(Href).max())
        r["ms_per_12s_frame"] = 1e3 * r["seconds"] / r["frames"]
        if pub:
            r["speedup_vs_published"] = pub["seconds"] / r["seconds"]
            r["memory_ratio_published_over"] = pub["peak_mb"] / max(r["peak_mb"], 1e-3)
    label = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else f"CPU, {os.cpu_count()} cores"
    print(f"\nOne loss + gradient + Hessian over {n_frames} frames of 12 s at {SR} Hz ({label})")
    print_table(ok, [("strategy", "strategy"), ("seconds", "s"), ("ms_per_12s_frame", "ms / 12 s frame"),
                     ("peak_mb", "peak MB"), ("speedup_vs_published", "speed-up vs published"),
                     ("memory_ratio_published_over", "published memory / this"),
                     ("max_rel_diff_vs_fused", "max rel diff vs fused")])
    race = []
    if args.device == "cpu":
        race = optimiser_race(args.quick)
        print(f"\nOptimisers on a {'20' if args.quick else '60'} s pair (fused loss/gradient for all; CPU)")
        print_table(race, [("optimizer", "optimizer"), ("iterations", "iterations"), ("seconds", "s"),
                           ("final_esr_pct", "final ESR %"), ("converged", "converged"),
                           ("reached_1pct_at_step", "step within 1 % of Newton"),
                           ("reached_1pct_s", "s to within 1 %")])
    write_json(args.json, {"benchmark": "hessian", "frames": n_frames, "machine": machine_info(args.device),
                           "strategies": rows, "optimizers": race})
    return 0


if __name__ == "__main__":
    sys.exit(main())
