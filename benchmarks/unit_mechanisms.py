"""What each mechanism of the embedded virtual units costs the model family.

Each unit (:mod:`dspnewton.data.virtual_unit`, :mod:`~dspnewton.data.virtual_transformer_unit`,
:mod:`~dspnewton.data.virtual_fet_unit`) can leave out any of its mechanisms (``without=``; a
program-dependent release left out runs as if its memory were held at one half).  For each unit, setting and
variant (the unit as it is, each mechanism left out alone, all of them left out) this fits ``ff5`` and
the largest models of the family exactly as ``benchmarks/models.py`` does (full-Hessian Newton
warm-started from the ff5 fit, an 8 s clip of ``program_material``) and scores them on a held-out clip
from rest, from sample 0.  A mechanism whose absence takes a model's held-out ESR far down is one the
family cannot represent: the next option to build.  Results are written incrementally (rerunning
resumes); ``--md`` writes the tables.

    python benchmarks/unit_mechanisms.py --json docs/results/unit_mechanisms.json --md docs/unit_mechanisms.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, write_json  # noqa: E402
from models import FF_PREL, STAGED2, UNITS, score  # noqa: E402

import dspnewton  # noqa: E402
from dspnewton.fitting import fit_ff5_multistart  # noqa: E402
from dspnewton.optim.newton import NewtonOptions  # noqa: E402
from dspnewton.synth import program_material  # noqa: E402

MODELS = ["ff+knee+rms+in2+core+out2", STAGED2, FF_PREL]
SETTINGS = [f"{mode}-{peak}" for mode in ("compress", "limit") for peak in (40, 70, 100)]  # as docs/models.md
AS_IT_IS, ALL_OUT = "as it is", "all left out"


def parse_setting(setting: str) -> tuple[str, int]:
    """``"compress-70"`` -> ``("compress", 70)``; ValueError naming the form when it is not mode-peak."""
    mode, _, peak = setting.partition("-")
    if mode not in ("compress", "limit") or not peak.isdigit() or not 0 <= int(peak) <= 100:
        raise ValueError(f"a setting is mode-peak, e.g. compress-70 (mode compress or limit, peak 0..100); "
                         f"got {setting!r}")
    return mode, int(peak)


def fitted_models(rows: list) -> list[str]:
    """The models of ``rows`` other than ff5, in the runs' order."""
    return [m for m in dict.fromkeys(r["model"] for r in rows) if m != "ff5"]


def variants(cls) -> list[tuple[str, frozenset]]:
    """(label, mechanisms left out) of a unit class: as it is, each mechanism alone, all of them."""
    names = list(cls.MECHANISMS)
    return [(AS_IT_IS, frozenset())] + [(f"without {n}", frozenset([n])) for n in names] + \
        [(ALL_OUT, frozenset(names))]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="clip length (fit and held-out), s")
    ap.add_argument("--sample-rate", type=int, default=44100)
    ap.add_argument("--models", default=",".join(MODELS), help="models besides ff5 (comma-separated)")
    ap.add_argument("--settings", default=",".join(SETTINGS), help="mode-peak, comma-separated")
    ap.add_argument("--units", default=",".join(UNITS))
    ap.add_argument("--max-iter", type=int, default=30)
    ap.add_argument("--json", default="docs/results/unit_mechanisms.json")
    ap.add_argument("--md", default="")
    args = ap.parse_args(argv)
    units = [u for u in args.units.split(",") if u]
    settings = [s for s in args.settings.split(",") if s]
    if set(units) - set(UNITS):
        ap.error(f"unknown unit(s) {sorted(set(units) - set(UNITS))}; the units are {', '.join(UNITS)}")
    for setting in settings:
        try:
            parse_setting(setting)
        except ValueError as exc:
            ap.error(str(exc))
    sr = args.sample_rate
    x_fit = program_material(args.seconds, sr, seed=21)
    x_test = program_material(args.seconds, sr, seed=22)
    path = Path(args.json)
    setup = {"seconds": args.seconds, "sample_rate": sr, "max_iter": args.max_iter, "warmup_s": 1.0,
             "material": "program_material", "fit_seed": 21, "held_out_seed": 22, "scored_from": "sample 0"}
    payload = json.loads(path.read_text()) if path.exists() else {"rows": []}
    if payload.get("setup", setup) != setup:
        print(f"{path}: written with another setup; starting afresh", flush=True)
        payload = {"rows": []}
    payload["machine"] = machine_info("cpu")
    payload["setup"] = setup
    done = {(r["unit"], r["setting"], r["variant"], r["model"]) for r in payload["rows"]}
    models = ["ff5"] + [m for m in args.models.split(",") if m and m != "ff5"]
    for unit in units:
        cls = UNITS[unit]
        for setting in settings:
            mode, peak = parse_setting(setting)
            for label, without in variants(cls):
                if all((unit, setting, label, m) in done for m in models):
                    continue
                u = cls(float(peak), mode, without=without)
                y_fit, y_test = u.process(x_fit, sr), u.process(x_test, sr)
                opts = dict(frame_seconds=None, overlap_seconds=1.0)
                t_base = time.perf_counter()
                base = fit_ff5_multistart(torch.tensor(x_fit)[None], torch.tensor(y_fit)[None], sr,
                                          options=NewtonOptions(max_iter=args.max_iter, loss_rtol=1e-7), **opts)
                for model in models:
                    if (unit, setting, label, model) in done:
                        continue
                    t0 = t_base if model == "ff5" else time.perf_counter()
                    r = base if model == "ff5" else dspnewton.fit(
                        torch.tensor(x_fit), torch.tensor(y_fit), sr, model=model, init=base,
                        options=NewtonOptions(max_iter=args.max_iter, loss_rtol=1e-7), **opts)
                    s_fit, _ = score(r, x_fit, y_fit, sr)
                    s_test, _ = score(r, x_test, y_test, sr)
                    row = {"unit": unit, "setting": setting, "variant": label, "without": sorted(without),
                           "model": model, "esr_fit": s_fit["esr"], "esr_held_out": s_test["esr"],
                           "startup_db_held_out": s_test["startup_db"], "iterations": r.iterations,
                           "seconds": time.perf_counter() - t0}
                    payload["rows"].append(row)
                    print(f"{unit:12s} {setting:12s} {label:34s} {model:40s} held-out {100 * row['esr_held_out']:7.3f} %"
                          f"  start-up {row['startup_db_held_out'] or 0:5.2f} dB", flush=True)
                    write_json(str(path), payload)
    if args.md:
        write_markdown(payload, Path(args.md))


def write_markdown(payload: dict, out: Path) -> None:
    """One table per unit and setting: variants x models, held-out ESR (%) and start-up level error (dB)."""
    rows = _in_unit_order(payload["rows"])
    setup = payload["setup"]
    models = list(dict.fromkeys(r["model"] for r in rows))
    lines = ["# What each mechanism of the virtual units costs the models", "",
             f"Generated by `python benchmarks/unit_mechanisms.py --md {out.as_posix()}` (raw numbers: "
             f"`docs/results/unit_mechanisms.json`; this 2-core machine).  Each embedded virtual unit can leave out "
             f"any of its mechanisms (`without=` on the unit; a program-dependent release left out runs as if its "
             f"memory of gain reduction were held at one half).  For each variant, "
             + ", ".join(f"`{m}`" for m in models) + " are fitted as in "
             f"`docs/models.md` (full-Hessian Newton, warm-started from the ff5 fit, at most {setup['max_iter']} "
             f"iterations, on a {setup['seconds']:g} s clip of `program_material` at {setup['sample_rate']} Hz) and "
             f"scored on a held-out clip from rest, from sample 0: held-out ESR (pre-emphasised, %) / start-up "
             f"level error (dB, largest over 50 ms windows of the first second).  A mechanism whose absence takes "
             f"a model's ESR far down is one the model family cannot represent.", ""]
    lines += ["## What stands between the family and each unit", "",
              "Per setting: the best model's held-out ESR with the unit as it is, and with the one mechanism "
              "whose absence lowers it most left out (best over the models other than `ff5`).", ""]
    lines += [f"- {line}" for line in _largest_costs(rows)] + [""]
    for unit in dict.fromkeys(r["unit"] for r in rows):
        cls = UNITS[unit]
        lines += [f"## `{unit}`", ""] + [f"- `{n}`: {d}" for n, d in cls.MECHANISMS.items()] + [""]
        for setting in dict.fromkeys(r["setting"] for r in rows if r["unit"] == unit):
            by = {(r["variant"], r["model"]): r for r in rows if r["unit"] == unit and r["setting"] == setting}
            lines += [f"### {unit}-{setting}", "", "| unit variant | " + " | ".join(f"`{m}`" for m in models) + " |",
                      "|---|" + "---|" * len(models)]
            for label, _ in variants(cls):
                cells = []
                for m in models:
                    r = by.get((label, m))
                    cells.append("-" if r is None else
                                 f"{100 * r['esr_held_out']:.3f} / {r['startup_db_held_out'] or 0:.2f}")
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
            lines.append("")
    out.write_text("\n".join(lines))


def _in_unit_order(rows: list) -> list:
    """The rows by unit (:data:`UNITS` order), mode (compress first) and peak (stable otherwise: the runs' order)."""
    def key(r):
        mode, peak = parse_setting(r["setting"])
        return list(UNITS).index(r["unit"]), mode != "compress", peak

    return sorted(rows, key=key)


def _largest_costs(rows: list) -> list[str]:
    """One line per unit and setting: the best non-ff5 held-out ESR as it is -> without its costliest mechanism."""
    out = []
    rows = _in_unit_order(rows)
    fitted = fitted_models(rows)
    for unit, setting in dict.fromkeys((r["unit"], r["setting"]) for r in rows):
        best = {}
        for r in rows:
            if (r["unit"], r["setting"]) == (unit, setting) and r["model"] in fitted:
                best[r["variant"]] = min(best.get(r["variant"], float("inf")), r["esr_held_out"])
        single = {v: e for v, e in best.items() if v.startswith("without ")}
        if AS_IT_IS not in best or not single:
            continue
        v = min(single, key=single.get)
        line = f"{unit}-{setting}: {100 * best[AS_IT_IS]:.3f} % as it is; "
        if single[v] < best[AS_IT_IS]:
            line += (f"{v.removeprefix('without ')} left out {100 * single[v]:.3f} % "
                     f"({best[AS_IT_IS] / single[v]:.1f}x lower)")
        else:
            line += "no mechanism named here lowers it when left out"
        if ALL_OUT in best:
            line += f"; all left out {100 * best[ALL_OUT]:.3f} %"
        out.append(line)
    return out


if __name__ == "__main__":
    main()
