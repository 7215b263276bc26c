"""Lazy Hessians against a fresh Hessian at every Newton iteration, side by side in one run.

For each model, two default fits of the same pair in this process (``NewtonOptions(lazy_hessian=False)``
then ``True``, after one warm-up fit that compiles the kernels): wall time, iterations, passes over the data
(all, and those with a Hessian), final ESR and the stopping reason.  The pair: a music-like program processed
by the embedded virtual levelling amplifier (compress mode, peak reduction 80), 44.1 kHz.

Usage: python benchmarks/lazy_hessian.py [--seconds 120] [--models ff5 fb+2rel ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_table, write_json  # noqa: E402

from dspnewton.data.virtual_unit import OpticalLeveler  # noqa: E402
from dspnewton.fitting import fit  # noqa: E402
from dspnewton.model.greybox_spec import RECOMMENDED_MODEL  # noqa: E402
from dspnewton.optim.newton import NewtonOptions  # noqa: E402
from dspnewton.synth import music_like  # noqa: E402

SR = 44100


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--models", nargs="+", default=["ff5", "fb+2rel", RECOMMENDED_MODEL])
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    x = music_like(args.seconds, SR, seed=1)
    y = OpticalLeveler(80.0).process(x, SR)
    rows = []
    for name in args.models:
        fit(x[:4 * SR], y[:4 * SR], SR, model=name, max_iter=1)  # compile the kernels outside the timings
        for lazy in (False, True):
            t0 = time.perf_counter()
            r = fit(x, y, SR, model=name, options=NewtonOptions(lazy_hessian=lazy))
            rows.append({"model": name, "hessians": "lazy" if lazy else "every iteration",
                         "wall_s": time.perf_counter() - t0, "iterations": r.iterations,
                         "passes": r.extra["evaluations"], "hessian_passes": r.extra["hessians"],
                         "esr_percent": 100 * r.esr, "message": r.message})
            print(f"  {name} lazy={lazy}: {rows[-1]['wall_s']:.1f} s", file=sys.stderr, flush=True)
    print(f"\nDefault fits of a {args.seconds:g} s pair, Hessian every iteration against lazy Hessians")
    print_table(rows, [("model", "model"), ("hessians", "Hessians"), ("wall_s", "wall (s)"),
                       ("iterations", "iterations"), ("passes", "passes"), ("hessian_passes", "with Hessian"),
                       ("esr_percent", "ESR (%)")])
    write_json(args.json, {"machine": machine_info("cpu"), "seconds": args.seconds, "sample_rate": SR, "fits": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
