"""Cost and fidelity of fitting from the first sample: carried frame states against frames from rest.

Side by side in one run, on a pair made by the embedded optical unit (compress 70), for ff5,
fb+2rel and the recommended model: one exact loss/gradient/Hessian pass and one loss-only pass
(line search) over the whole pair with ``initial_state="carried"`` (the sequential pass that
carries each frame's state, then the parallel frames) and ``"rest"`` (as published), and a
default ``dspnewton.fit`` each way: wall time, iterations, ESR of the fit's loss, and the whole pair
rendered from rest and scored from sample 0 (ESR, first second, start-up level error).

    python benchmarks/from_rest.py --minutes 2 --json docs/results/from_rest.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_info, print_table, write_json  # noqa: E402
from long_fit import SR, _start, make_pair  # noqa: E402

import torch  # noqa: E402

import dspnewton  # noqa: E402
from dspnewton.objective.exact import exact_loss, exact_loss_grad_hess
from dspnewton.model.greybox_spec import RECOMMENDED_MODEL  # noqa: E402
from dspnewton.model.models import get_model  # noqa: E402
from dspnewton.objective.framing import make_frames  # noqa: E402

MODELS = ("ff5", "fb+2rel", RECOMMENDED_MODEL)


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--max-iter", type=int, default=100)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    x, y = make_pair(args.minutes)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    rows = []
    for name in args.models:
        m = get_model(name)
        theta = _start(name, x, y)
        row = {"model": name}
        for state in ("rest", "carried"):
            frames = make_frames(xt, yt, SR, 12.0, 1.0, state)
            exact_loss_grad_hess(m, theta, frames.subset(slice(0, 2)))  # compile / warm up
            frames = make_frames(xt, yt, SR, 12.0, 1.0, state)  # no cached states
            row[f"lgh_{state}_s"], _ = _timed(lambda: exact_loss_grad_hess(m, theta, frames))
            frames = make_frames(xt, yt, SR, 12.0, 1.0, state)
            row[f"loss_{state}_s"], _ = _timed(lambda: exact_loss(m, theta, frames))
            wall, r = _timed(lambda: dspnewton.fit(x, y, SR, model=name, initial_state=state, max_iter=args.max_iter))
            fr = r.extra["from_rest"]
            row.update({f"fit_{state}_s": wall, f"iterations_{state}": r.iterations,
                        f"esr_{state}_percent": 100 * r.esr, f"esr0_{state}_percent": 100 * fr["esr"],
                        f"first_second_{state}_percent": 100 * fr["esr_first_second"],
                        f"startup_db_{state}": fr["startup_db"]})
            print(f"  {name} {state}: fit {wall:.1f} s, {r.iterations} it, ESR from sample 0 "
                  f"{100 * fr['esr']:.4f} %, first second {100 * fr['esr_first_second']:.4f} %, "
                  f"start-up {fr['startup_db']:.2f} dB", file=sys.stderr)
        row["lgh_ratio"] = row["lgh_carried_s"] / row["lgh_rest_s"]
        row["fit_ratio"] = row["fit_carried_s"] / row["fit_rest_s"]
        rows.append(row)
    print(f"\nCarried frame states vs frames from rest, {args.minutes:g}-minute pair at {SR} Hz (one run)")
    print_table(rows, [("model", "model"), ("lgh_rest_s", "L+g+H rest (s)"), ("lgh_carried_s", "L+g+H carried (s)"),
                       ("lgh_ratio", "x"), ("loss_rest_s", "loss rest (s)"), ("loss_carried_s", "loss carried (s)"),
                       ("fit_rest_s", "fit rest (s)"), ("fit_carried_s", "fit carried (s)"), ("fit_ratio", "x"),
                       ("iterations_rest", "it rest"), ("iterations_carried", "it carried")])
    print_table(rows, [("model", "model"), ("esr0_rest_percent", "ESR from 0, rest fit (%)"),
                       ("esr0_carried_percent", "ESR from 0, carried fit (%)"),
                       ("first_second_rest_percent", "1st s, rest fit (%)"),
                       ("first_second_carried_percent", "1st s, carried fit (%)"),
                       ("startup_db_rest", "start-up dB, rest fit"), ("startup_db_carried", "start-up dB, carried fit")])
    write_json(args.json, {"machine": machine_info("cpu"), "minutes": args.minutes, "sample_rate": SR, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
