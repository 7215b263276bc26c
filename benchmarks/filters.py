"""Benchmark the recursive filters against torchlpc and torchaudio, in one run.

Forward and forward+backward time for B in {1, 16, 128} and T in {2^14, 2^20}:
- time-varying first-order recurrence: our backends vs ``torchlpc.sample_wise_lpc``;
- time-invariant pre-emphasis filter: our ``lfilter`` backends vs
  ``torchaudio.functional.lfilter``.
Also the numba first-call compile time (from a cold cache it includes the
compilation; with ``cache=True`` later processes load it from disk).

Usage: python benchmarks/filters.py [--device cuda] [--dtype float32] [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_table, time_call, write_json  # noqa: E402

from dspnewton.filters import lfilter, linear_recurrence  # noqa: E402


def first_call_seconds(device: str, dtype: torch.dtype) -> dict:
    """Time of the first call per backend in this process (includes compile or cache load)."""
    out = {}
    a = torch.full((2, 64), 0.5, dtype=dtype, device=device)
    x = torch.ones(2, 64, dtype=dtype, device=device)
    backends = ["sequential", "scan"] if device == "cpu" else ["scan", "cuda"]
    for be in backends:
        t0 = time.perf_counter()
        linear_recurrence(a, x, backend=be)
        out[be] = time.perf_counter() - t0
    return out


def cases(device: str):
    """(name, kind, backend-or-None) tuples for this device."""
    ours = ["sequential", "scan"] if device == "cpu" else ["scan", "cuda"]
    out = [("recurrence", "ours", be) for be in ours]
    out.append(("recurrence", "torchlpc", None))
    out += [("lfilter", "ours", be) for be in ours]
    out.append(("lfilter", "torchaudio", None))
    return out


def make_fn(name, kind, backend, B, T, device, dtype, gen):
    x = torch.randn(B, T, generator=gen, dtype=torch.float64).to(device=device, dtype=dtype)
    if name == "recurrence":
        a = (0.9999 * torch.rand(B, T, generator=gen, dtype=torch.float64) ** 0.1).to(device=device, dtype=dtype)
        if kind == "ours":
            f = lambda a_, x_: linear_recurrence(a_, x_, backend=backend)  # noqa: E731
        else:
            import torchlpc

            f = lambda a_, x_: torchlpc.sample_wise_lpc(x_, -a_.unsqueeze(-1))  # noqa: E731
        args = (a, x)
    else:
        ac = torch.tensor([1.0, -0.995], dtype=dtype, device=device)
        bc = torch.tensor([1.0, -1.0], dtype=dtype, device=device)
        if kind == "ours":
            f = lambda x_: lfilter(x_, ac, bc, backend=backend)  # noqa: E731
        else:
            import torchaudio

            f = lambda x_: torchaudio.functional.lfilter(x_, ac, bc, clamp=False)  # noqa: E731
        args = (x,)

    def fwd():
        with torch.no_grad():
            f(*args)

    grads = tuple(t.detach().requires_grad_() for t in args)

    def fwd_bwd():
        y = f(*grads)
        y.backward(torch.ones_like(y))

    return fwd, fwd_bwd


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--quick", action="store_true", help="small sizes only (smoke test)")
    ap.add_argument("--json", default=None, help="write results to this JSON file")
    args = ap.parse_args(argv)
    device, dtype = args.device, getattr(torch, args.dtype)
    if device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device available", file=sys.stderr)
        return 2
    gen = torch.Generator().manual_seed(0)
    batches = [1, 16] if args.quick else [1, 16, 128]
    lengths = [2**12] if args.quick else [2**14, 2**20]
    compile_s = first_call_seconds(device, dtype)
    rows = []
    for name, kind, be in cases(device):
        for T in lengths:
            for B in batches:
                fwd, fwd_bwd = make_fn(name, kind, be, B, T, device, dtype, gen)
                repeat = 3 if B * T <= 2**21 else 1
                row = {
                    "filter": name,
                    "impl": kind if be is None else f"{kind}:{be}",
                    "B": B,
                    "T": T,
                    "fwd_ms": 1e3 * time_call(fwd, device, repeat),
                    "fwd_bwd_ms": 1e3 * time_call(fwd_bwd, device, repeat),
                }
                rows.append(row)
                print(f"  {row['filter']:<10} {row['impl']:<18} B={B:<4} T={T:<8} "
                      f"fwd {row['fwd_ms']:9.2f} ms   fwd+bwd {row['fwd_bwd_ms']:9.2f} ms", flush=True)
    # Ratios, measured side by side in this run.
    index = {(r["filter"], r["impl"], r["B"], r["T"]): r for r in rows}
    ref_impl = {"recurrence": "torchlpc", "lfilter": "torchaudio"}
    for r in rows:
        ref = index.get((r["filter"], ref_impl[r["filter"]], r["B"], r["T"]))
        r["speedup_fwd_vs_ref"] = ref["fwd_ms"] / r["fwd_ms"]
        r["speedup_fwd_bwd_vs_ref"] = ref["fwd_bwd_ms"] / r["fwd_bwd_ms"]
    print()
    print(f"Recursive filters, {args.dtype}, device {device}"
          + (f" ({torch.cuda.get_device_name(0)})" if device.startswith("cuda") else f" ({torch.get_num_threads()} threads)"))
    print_table(
        rows,
        [("filter", "filter"), ("impl", "implementation"), ("B", "B"), ("T", "T"), ("fwd_ms", "fwd ms"),
         ("fwd_bwd_ms", "fwd+bwd ms"), ("speedup_fwd_vs_ref", "fwd speed-up vs ref"),
         ("speedup_fwd_bwd_vs_ref", "fwd+bwd speed-up vs ref")],
    )
    print(f"\nfirst call (compile or cache load), seconds: {compile_s}")
    write_json(args.json, {"benchmark": "filters", "dtype": args.dtype, "machine": machine_info(device),
                           "first_call_s": compile_s, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
