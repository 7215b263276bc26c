"""What the CLI prints about fits and sweeps: the fit progress bar and the summaries
(bounds, model selection, scores from the first sample, the sweep's mapping)."""

from __future__ import annotations

import sys

__all__ = ["FitProgress", "print_bounds", "print_selection", "print_from_rest", "print_mapping"]


class FitProgress:
    """A progress bar over optimiser iterations showing loss, ESR and step."""

    def __init__(self, total: int, quiet: bool):
        self.bar = None
        self.total, self.quiet = total, quiet

    def __call__(self, entry: dict) -> None:
        if self.quiet:
            return
        if "candidate" in entry:  # --model auto: one candidate fitted and scored
            c = entry["candidate"]
            self.close()
            self.bar = None
            print(f"candidate {c['model']}: ESR {100 * c['esr_fit']:.4g} % on the fitting part, held-out folds "
                  + " / ".join("skipped" if v is None else f"{100 * v:.4g} %" for v in c["esr_folds"])
                  + f" (the first from rest) ({c['iterations']} iterations, {c['seconds']:.1f} s)", file=sys.stderr)
            return
        if "residual" in entry:  # the GRU residual's epochs, after the Newton fit
            e = entry["residual"]
            (self.bar.write if self.bar is not None else print)(
                f"GRU residual epoch {e['epoch']}: ESR {100 * e['esr']:.4g} %", **({} if self.bar else {"file": sys.stderr}))
            return
        if self.bar is None:  # opened on the first iteration, after the inputs were read
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, desc="fit", unit="it", file=sys.stderr, dynamic_ncols=True)
        self.bar.update(1)
        post = {"loss": f"{entry.get('loss_after', entry['loss']):.4g}", "ESR": f"{100 * entry['esr']:.4g}%"}
        if "step" in entry:
            post["step"] = f"{entry['step']:.3g}"
        self.bar.set_postfix(post)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def print_bounds(at_bounds: dict | None) -> None:
    """A note per parameter that ended on a bound of its range (the fit could not move it further)."""
    from .model.schema import format_value, param_spec

    for name, side in (at_bounds or {}).items():
        p = param_spec(name)
        print(f"note: {name} ended on its {side} bound ({format_value(name, p.lo if side == 'lower' else p.hi)}); "
              f"the data may want a value outside the model's range")


def print_selection(auto: dict | None) -> None:
    """The candidates of a ``--model auto`` fit, lowest score (held-out ESR ratio to ff5) first."""
    if not auto:
        return
    fitted = auto["folds"].get("fitted_seconds")  # absent from records written before the cap
    print(f"model selection: {len(auto['folds']['folds'])} held-out folds ({100 * auto['validation_fraction']:g} %, "
          f"{auto['validation_seconds']:.3g} s; the first from rest)"
          + ("" if fitted is None else f", candidates fitted on {fitted:.3g} s")
          + f"; chosen {auto['chosen']}, refitted on the whole pair")
    for skip in auto.get("skipped_folds", []):
        print(f"note: fold {skip['fold']} skipped: {skip['why']}")
    for step in auto.get("pruned", []):
        print(f"note: dropped {step['stage']} from {step['from']} (a parameter of it on a bound in the "
              f"{step['bound_in']}; x ff5 {step['score_from']:.3f} -> {step['score_to']:.3f})")
    for step in auto.get("refit_rejected", []):
        print(f"note: {step['model']} won on the folds, but its refit on the whole pair left "
              f"{', '.join(step['unidentifiable'])} on a bound and longer than the pair; the next candidate was "
              f"refitted")
    width = max(len(r["model"]) for r in auto["candidates"])
    pct = lambda v: "     -  " if v is None else f"{100 * v:7.4g}%"  # noqa: E731
    print(f"   {'model':<{width}}  from rest  continuing  start-up dB  x ff5   fitting part")
    for r in sorted(auto["candidates"], key=lambda r: r["score"]):
        mark = "*" if r["model"] == auto["chosen"] else " "
        up = "   -  " if r["startup_db"] is None else f"{r['startup_db']:6.2f}"
        print(f" {mark} {r['model']:<{width}}  {pct(r['esr_from_rest'])}   {pct(r['esr_continuing'])}     {up}    "
              f"{r['score']:6.3f}  {pct(r['esr_fit'])}" + ("" if r["eligible"] else f"   not eligible: {r['why']}")
              + (f"   (pruned from {r['pruned_from']})" if "pruned_from" in r else ""))


def print_from_rest(scores: dict | None) -> None:
    """The whole pair scored from sample 0 with the model starting from rest."""
    if not scores or scores.get("esr") is None:
        return
    first = scores.get("esr_first_second")
    up = scores.get("startup_db")
    print(f"from sample 0 (from rest): ESR {100 * scores['esr']:.4g} %"
          + ("" if first is None else f", first second {100 * first:.4g} %")
          + ("" if up is None else f", start-up level error {up:.2f} dB (largest over 50 ms windows)"))


def print_mapping(mapping: dict) -> None:
    """The mapping table with every parameter of its model (column headers from the schema)."""
    from .model.models import get_model
    from .model.schema import param_spec

    rows = [(mode, peak, r) for mode, by_peak in mapping.items()
            for peak, r in sorted(by_peak.items(), key=lambda kv: -int(kv[0]))]
    if not rows:
        return
    model = get_model(rows[0][2].get("model", "ff5"))
    heads = [f"{param_spec(n).label[:10]}" + (f" {param_spec(n).unit}" if param_spec(n).unit else "")
             for n in model.param_names]
    widths = [max(8, len(h)) for h in heads]
    print(f"model {model.name}")
    print(f"{'mode':>8} {'peak':>4} " + " ".join(f"{h:>{w}}" for h, w in zip(heads, widths)) + f" {'ESR %':>7}")
    for mode, peak, r in rows:
        vals = " ".join(f"{r[n]:>{w}.4g}" for n, w in zip(model.param_names, widths))
        print(f"{mode:>8} {int(peak):>4} {vals} {100 * r['esr']:7.3f}")
