"""Real-time factor of the C++ core (seconds of audio per second, one core), beside
the PyTorch model on the same input, in one run.

Usage: python benchmarks/realtime.py [--seconds 60] [--json OUT]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_table, write_json  # noqa: E402

from dspnewton import _native  # noqa: E402
from dspnewton.model import CompressorParams, compress  # noqa: E402
from dspnewton.synth import music_like  # noqa: E402

SR = 44100


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    x = music_like(args.seconds, SR, seed=4).astype(np.float32)
    p = CompressorParams(-21.9, 4.24, 2.86, 243.0, 0.34)
    rows = []
    for name, fn in (
        ("C++ core, block 512 (float32)", lambda: _native.process(x, p.to_dict(), SR, 512)),
        ("C++ core, block 1 (float32)", lambda: _native.process(x, p.to_dict(), SR, 1)),
        ("PyTorch model (float32, 1 thread)", lambda: compress(torch.from_numpy(x)[None], p.to_theta(SR, dtype=torch.float32), SR)),
    ):
        fn()
        best = min(_timed(fn) for _ in range(3))
        rows.append({"implementation": name, "seconds_audio": args.seconds, "seconds": best,
                     "realtime_factor": args.seconds / best})
    print_table(rows, [("implementation", "implementation"), ("seconds", "wall s"),
                       ("realtime_factor", "real-time factor")])
    write_json(args.json, {"benchmark": "realtime", "machine": machine_info("cpu"), "rows": rows})
    return 0


def _timed(fn) -> float:
    t0 = time.perf_counter()
    with torch.no_grad():
        fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    sys.exit(main())
