"""Pieces every command of the CLI shares: the user-error type, output checks, the Newton
stopping flags and the sweep's progress bars (no heavy imports at module level)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .errors import InputError

__all__ = ["UserError", "check_out_dir", "check_out_file", "check_out_bundle", "make_out_dir", "probe_writable", "newton_options",
           "add_stop_flags", "SweepProgress"]


# The CLI's user errors are the library's: one type, printed without a traceback.
UserError = InputError


def check_out_dir(path: str) -> Path:
    """Check that OUTDIR can be written (it is created only when results are saved)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UserError(f"output '{p}' exists and is not a directory; choose another -o")
    existing = p
    while not existing.exists():
        existing = existing.parent if existing.parent != existing else Path(".")
    probe_writable(existing, f"output directory '{p}'")
    return p


def probe_writable(directory: Path, what: str) -> None:
    """Create and remove a file in ``directory`` (permission bits do not bind root)."""
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=".dspnewton-probe-", dir=directory)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise UserError(f"{what} is not writable ({exc.strerror} in '{directory}'); choose another -o") from None


def make_out_dir(p: Path) -> Path:
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output directory '{p}': {exc.strerror}") from None
    return p


def check_out_file(path: str, what: str = "output") -> Path:
    """Check that the file (or bundle folder) ``path`` can be written: its folder exists and is writable."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"the folder of {what} '{p}' does not exist")
    probe_writable(parent, f"{what} '{p}'")
    return p



def newton_options(args: argparse.Namespace):
    """Newton settings from --stop-rtol / --stop-iters."""
    from .optim.options import NewtonOptions

    if args.stop_rtol < 0 or args.stop_iters < 0:
        raise UserError(f"--stop-rtol and --stop-iters must be >= 0, got {args.stop_rtol} and {args.stop_iters}")
    return NewtonOptions(stall_rtol=args.stop_rtol, stall_iters=args.stop_iters, progressive=not args.full_data)


def add_stop_flags(p: argparse.ArgumentParser) -> None:
    from .optim.options import NewtonOptions

    d = NewtonOptions()
    p.add_argument("--stop-rtol", type=float, default=d.stall_rtol, metavar="R",
                   help=f"stop when the relative loss decrease stays below R (default {d.stall_rtol:g}) ...")
    p.add_argument("--stop-iters", type=int, default=d.stall_iters, metavar="N",
                   help=f"... for N consecutive Newton steps (default {d.stall_iters}; 0 turns the rule off)")
    p.add_argument("--full-data", action="store_true",
                   help="every Newton step on all frames (default: long files are fitted on covering subsets of "
                        "frames first, then on all of them with the same stopping rule)")



class SweepProgress:
    """Two progress bars: overall (fits) and the current fit (iterations)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.overall = None
        self.current = None

    def __call__(self, kind: str, info: dict) -> None:
        if self.quiet:
            if kind == "failed":
                print(f"failed: {info['mode']} peak {info['peak']}: {info['error']}", file=sys.stderr)
            return
        from tqdm import tqdm

        if kind == "select":  # --model auto: before the sweep's own fits
            what = f"pruning ({', '.join(info['pruning'])})" if "pruning" in info else "model selection"
            print(f"{what} on {info['mode']} {info['peak']} ({info['index'] + 1} of {info['total']}) ...",
                  file=sys.stderr)
            return
        if self.overall is None:
            self.overall = tqdm(total=info["total"], desc="sweep", unit="fit", position=0, file=sys.stderr,
                                dynamic_ncols=True)
        if kind == "start":
            self.current = tqdm(total=100, desc=f"{info['mode']} {info['peak']:>3}", unit="it", position=1,
                                leave=False, file=sys.stderr, dynamic_ncols=True)
        elif kind == "iteration" and self.current is not None:
            self.current.update(1)
            self.current.set_postfix({"ESR": f"{100 * info['esr']:.4g}%", "step": f"{info.get('step', 0):.3g}"})
        elif kind == "residual":
            self.overall.write(f"GRU residual over {info['settings']} settings ...")
        elif kind == "joint":
            self.overall.write(f"{info['mode']:>8}: joint knob fit over {info['settings']} settings ...")
        elif kind in ("done", "resumed", "failed"):
            if self.current is not None:
                self.current.close()
                self.current = None
            self.overall.update(1)
            if kind == "done":
                self.overall.write(f"{info['mode']:>8} peak {info['peak']:>3}: ESR {100 * info['esr']:.3f} % "
                                   f"({info['iterations']} iterations, {info['seconds']:.1f} s)")
            elif kind == "resumed":
                self.overall.write(f"{info['mode']:>8} peak {info['peak']:>3}: already done (resumed)")
            else:
                self.overall.write(f"{info['mode']:>8} peak {info['peak']:>3}: FAILED: {info['error']}")
            if self.overall.n >= self.overall.total:
                self.overall.close()

    def close(self) -> None:
        for bar in (self.current, self.overall):
            if bar is not None:
                bar.close()


def check_out_bundle(path: str) -> Path:
    """Check that the bundle folder ``path`` can be written (its parent exists and is writable)."""
    return check_out_file(path, "bundle")
