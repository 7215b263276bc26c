"""The installed plugin (run-time bundles, Mix/trim/level/Emphasis, VU meters, table switching) against
the plugin of an earlier commit (the table compiled in, none of those), side by side in one run: the
same bundle (ff5 and the recommended model), stereo, in pedalboard with the face closed, at blocks 64
and 512; real-time factors, their ratio, and whether the outputs are bit-identical at the defaults.

Usage: python benchmarks/plugin_cost.py [--base-rev 63c3306] [--seconds 30] [--repeats 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_table, write_json  # noqa: E402

from dspnewton import __version__  # noqa: E402
from dspnewton.export import export_bundle  # noqa: E402
from dspnewton.model.greybox_spec import RECOMMENDED_MODEL  # noqa: E402
from dspnewton.plugin_install import build_plugins  # noqa: E402
from dspnewton.plugin_state import plugin_state  # noqa: E402
from dspnewton.synth import music_like  # noqa: E402
from realtime import _sweep  # noqa: E402

SR = 44100
ROOT = Path(__file__).resolve().parents[1]
BASE_REV = "63c3306"  # main before the run-time bundles (issue 24)


def _base_plugin(rev: str, bundle: Path, work: Path) -> Path:
    """The stereo VST3 of ``rev``'s plugin source with ``bundle``'s table compiled in."""
    tree = work / f"base-{rev}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev], check=True,
                       capture_output=True)
    out = work / f"base-out-{bundle.stem}"
    subprocess.run(["make", "-C", str(tree / "plugin_export" / "dspnewton_la2a"), "-j2", f"PARAMS_DIR={bundle}",
                    f"OUT_DIR={out}", f"DPF_BUILD_DIR={work / ('base-obj-' + bundle.stem)}", "VARIANT=stereo",
                    f"DSPNEWTON_VERSION={__version__}"], check=True, capture_output=True)
    return out / "dspnewton_la2a_stereo.vst3"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-rev", default=BASE_REV)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    import pedalboard

    work = Path(tempfile.mkdtemp(prefix="dspnewton-plugin-cost-"))
    rows = []
    try:
        x1 = music_like(args.seconds, SR, seed=4).astype(np.float32)
        x = np.stack([x1, np.roll(x1, 12345) * np.float32(0.5)])
        new_dir = work / "new"
        build_plugins(new_dir)
        for model in ("ff5", RECOMMENDED_MODEL):
            bundle = export_bundle(_sweep(work / f"sweep-{model}", model), work / f"{len(rows)}.bundle")
            old = pedalboard.load_plugin(str(_base_plugin(args.base_rev, bundle, work)))
            new = pedalboard.load_plugin(str(new_dir / "dspnewton_la2a_stereo.vst3"))
            new.raw_state = plugin_state(bundle, "pedalboard")
            for block in (64, 512):
                same = bool(np.array_equal(old(x, SR, buffer_size=block), new(x, SR, buffer_size=block)))
                best = {"old": float("inf"), "new": float("inf")}
                for _ in range(args.repeats):  # alternate, so load drifts hit both
                    for name, plugin in (("old", old), ("new", new)):
                        t0 = time.perf_counter()
                        plugin(x, SR, buffer_size=block)
                        best[name] = min(best[name], time.perf_counter() - t0)
                rows.append({"model": model, "block": block, "base_rev": args.base_rev,
                             "rtf_base": args.seconds / best["old"], "rtf_now": args.seconds / best["new"],
                             "cost_ratio": best["new"] / best["old"], "identical_output": same})
                print(f"  {model:28s} block {block:4d}: base {rows[-1]['rtf_base']:6.0f}x  now "
                      f"{rows[-1]['rtf_now']:6.0f}x  cost ratio {rows[-1]['cost_ratio']:.3f}  identical {same}",
                      flush=True)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(work / f"base-{args.base_rev}")],
                       capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    print_table(rows, [("model", "model"), ("block", "block"), ("rtf_base", f"base {args.base_rev} RTF"),
                       ("rtf_now", "now RTF"), ("cost_ratio", "cost now / base"),
                       ("identical_output", "identical output")])
    write_json(args.json, {"benchmark": "plugin_cost", "machine": machine_info("cpu"), "seconds_audio": args.seconds,
                           "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
