"""Real-time factor (seconds of audio per second of one core) of the C++ real-time
processor, for ff5, the recommended grey-box model and ff5 with the GRU residual (ff5+gru),
mono and stereo (linked), at block
sizes 1, 64, 512 and 4097: the core alone (a C++ program, no Python), through
``dspnewton.Processor`` (Python, GIL released) and through the exported plugin (VST3) in
pedalboard; beside the PyTorch model on the same input, in one run.

Usage: python benchmarks/realtime.py [--seconds 30] [--json OUT] [--skip-plugin]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_table, write_json  # noqa: E402

from dspnewton import Processor, render  # noqa: E402
from dspnewton.export import export_bundle  # noqa: E402
from dspnewton.model.greybox_spec import RECOMMENDED_MODEL, model_physical_to_theta, model_theta_to_physical, parse_model  # noqa: E402
from dspnewton.synth import music_like  # noqa: E402

SR = 44100
ROOT = Path(__file__).resolve().parents[1]
BLOCKS = (1, 64, 512, 4097)
BASE = dict(threshold_db=-24.0, ratio=4.0, attack_ms=3.0, release_ms=120.0, makeup_db=2.0)


def _sweep(folder: Path, model: str) -> Path:
    """A sweep folder (mapping.json) with a two-row compress table of the model (and, for a
    '+gru' model, a residual.json with random weights: the cost does not depend on them)."""
    from dspnewton.model.residual import GRUResidual, split_model_name

    model, with_residual = split_model_name(model)
    spec = parse_model(model)
    rows = {}
    for peak, thr in (("40", -18.0), ("100", -30.0)):
        th = model_physical_to_theta({**BASE, "threshold_db": thr}, spec, SR, fill_defaults=True)
        p = {k: float(v) for k, v in model_theta_to_physical(th, spec, SR).items()}
        rows[peak] = {**p, "esr": 0.0, "model": spec.name}
    folder.mkdir(parents=True)
    (folder / "mapping.json").write_text(json.dumps({"compress": rows}))
    if with_residual:
        torch.manual_seed(0)
        gru = GRUResidual(torch.float64)
        with torch.no_grad():
            for p in gru.parameters():
                p.normal_(0.0, 0.3)
        (folder / "residual.json").write_text(json.dumps({"type": "gru", "hidden": 8, "weights": gru.weights(),
                                                          "esr_dsp": 0.0, "esr": 0.0}))
    return folder


def _best(fn, repeats=3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--json", default=None)
    ap.add_argument("--skip-plugin", action="store_true", help="no plugin build / pedalboard rows")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="dspnewton-rt-"))
    try:
        rows = _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(rows, [("implementation", "implementation"), ("model", "model"), ("channels", "ch"),
                       ("block", "block"), ("seconds", "wall s"), ("realtime_factor", "real-time factor")])
    write_json(args.json, {"benchmark": "realtime", "machine": machine_info("cpu"), "seconds_audio": args.seconds,
                           "rows": rows})
    return 0


def _run(args, work: Path) -> list[dict]:
    x1 = music_like(args.seconds, SR, seed=4).astype(np.float32)
    x2 = np.stack([x1, np.roll(x1, 12345) * np.float32(0.5)])
    core = work / "realtime_core"
    subprocess.run(["g++", "-std=c++17", "-O3", f"-I{ROOT / 'csrc' / 'include'}", str(ROOT / "benchmarks" /
                    "realtime_core.cpp"), "-o", str(core)], check=True)
    rows = []

    def add(impl, model, channels, block, seconds):
        rows.append({"implementation": impl, "model": model, "channels": channels, "block": block,
                     "seconds_audio": args.seconds, "seconds": seconds, "realtime_factor": args.seconds / seconds})
        print(f"  {impl:28s} {model:28s} ch={channels} block={block}: {args.seconds / seconds:8.0f}x", flush=True)

    pedalboard = None
    if not args.skip_plugin:
        try:
            import pedalboard
        except ImportError:
            print("pedalboard missing: no plugin rows")
    for model in ("ff5", RECOMMENDED_MODEL, "ff5+gru"):
        bundle = export_bundle(_sweep(work / f"sweep-{len(rows)}", model), work / f"b{len(rows)}.bundle",
                               plugin=pedalboard is not None)
        for channels, x in ((1, x1), (2, x2)):
            x.tofile(work / f"in{channels}.f32")
            for block in BLOCKS:
                out = subprocess.run([str(core), str(bundle / "bundle.json"), str(work / f"in{channels}.f32"),
                                      str(channels), str(block), "3"], check=True, capture_output=True, text=True)
                add("C++ core", model, channels, block, float(out.stdout.strip().split("=")[1]))
            for block in (512, 4097):  # Python calls per block (block 1 would time the Python loop)
                def stream(block=block, channels=channels, x=x):
                    proc = Processor.from_bundle(bundle, "compress", 70, channels=channels)
                    blk = x if channels == 2 else x[None]
                    for s in range(0, blk.shape[1], block):
                        proc.process(np.ascontiguousarray(blk[:, s:s + block] if channels == 2 else blk[0, s:s + block]))
                add("dspnewton.Processor", model, channels, block, _best(stream))
            if pedalboard is not None:
                name = "dspnewton_la2a_stereo.vst3" if channels == 2 else "dspnewton_la2a.vst3"
                plugin = pedalboard.load_plugin(str(bundle / "plugins" / name))
                for block in BLOCKS:
                    add("plugin (VST3) in pedalboard", model, channels, block,
                        _best(lambda: plugin(x if channels == 2 else x[None], SR, buffer_size=block), repeats=2))
        proc70 = Processor.from_bundle(bundle, "compress", 70)
        params, dsp = dict(proc70.params), model.replace("+gru", "")
        if proc70.residual is None:
            torch_fn = lambda: render(x1, params, dsp, SR)  # noqa: E731
        else:
            from dspnewton.model.residual import apply_residual

            weights = {k: v for k, v in proc70.residual.items() if k not in ("type", "hidden")}
            torch_fn = lambda: apply_residual(torch.from_numpy(render(x1.astype(np.float64), params, dsp, SR)), weights)  # noqa: E731
        add("PyTorch model (1 thread)", model, 1, "whole signal", _best(torch_fn))
    return rows


if __name__ == "__main__":
    sys.exit(main())
