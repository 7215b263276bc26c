"""The ``dspnewton`` command-line interface: a thin shell over the Python API.

Every command returns exit code 0 on success; on bad input it prints one
paragraph saying what is wrong and what to do, never a traceback (``--debug``
shows one for unexpected errors).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__


class UserError(Exception):
    """An error caused by the user's input; printed without a traceback."""


def _check_out_dir(path: str) -> Path:
    """Check that OUTDIR can be written (it is created only when results are saved)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UserError(f"output '{p}' exists and is not a directory; choose another -o")
    existing = p
    while not existing.exists():
        existing = existing.parent if existing.parent != existing else Path(".")
    _probe_writable(existing, f"output directory '{p}'")
    return p


def _probe_writable(directory: Path, what: str) -> None:
    """Create and remove a file in ``directory`` (permission bits do not bind root)."""
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=".dspnewton-probe-", dir=directory)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise UserError(f"{what} is not writable ({exc.strerror} in '{directory}'); choose another -o") from None


def _make_out_dir(p: Path) -> Path:
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output directory '{p}': {exc.strerror}") from None
    return p


def _check_out_file(path: str) -> Path:
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"the directory of output '{p}' does not exist")
    _probe_writable(parent, f"output '{p}'")
    return p


class _Progress:
    """A progress bar over optimiser iterations showing loss, ESR and step."""

    def __init__(self, total: int, quiet: bool):
        self.bar = None
        self.total, self.quiet = total, quiet

    def __call__(self, entry: dict) -> None:
        if self.quiet:
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


def _cmd_fit(args: argparse.Namespace) -> int:
    import torch

    from .fitting import fit

    out = _check_out_dir(args.output)
    max_iter = args.max_iter or (500 if args.optimizer == "adam" else 100)
    progress = _Progress(max_iter, args.quiet)
    try:
        result = fit(
            args.input, args.target, hessian=args.hessian, optimizer=args.optimizer, device=args.device,
            dtype=getattr(torch, args.dtype), init=args.init, max_iter=max_iter,
            frame_seconds=None if args.whole_signal else args.frame_seconds, overlap_seconds=args.overlap_seconds,
            resample=args.resample, trim=args.trim, channels=args.channels, align=args.align, callback=progress,
        )
    finally:
        progress.close()
    _make_out_dir(out)
    result.save(out / "fit.json")
    if not args.quiet:
        for note in result.extra.get("notes", []):
            print(f"note: {note}")
        p = result.params
        print(f"{'converged' if result.converged else 'stopped'} after {result.iterations} iterations "
              f"({result.message}) in {result.seconds:.2f} s; ESR {100 * result.esr:.4g} %")
        print(f"threshold {p.threshold_db:.3f} dB, ratio {p.ratio:.3f}, attack {p.attack_ms:.3f} ms, "
              f"release {p.release_ms:.2f} ms, make-up {p.makeup_db:.3f} dB")
        print(f"wrote {out / 'fit.json'}")
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    import numpy as np

    from .audio import read_audio, write_audio
    from .result import FitResult

    out = _check_out_file(args.output)
    fit_result = FitResult.load(args.fit)
    audio = read_audio(args.input, "input")
    if not np.isfinite(audio.data).all():
        raise UserError(f"input '{args.input}' contains NaN or infinite samples")
    if audio.sample_rate != fit_result.sample_rate and not args.quiet:
        print(f"note: rendering at {audio.sample_rate} Hz with parameters fitted at {fit_result.sample_rate} Hz "
              f"(time constants are kept in ms)")
    fit_result.sample_rate = audio.sample_rate
    y = fit_result.render(audio.data).numpy()
    write_audio(out, y, audio.sample_rate, audio.subtype)
    if not args.quiet:
        print(f"wrote {out} ({audio.data.shape[1] / audio.sample_rate:.2f} s, {audio.subtype}, {audio.sample_rate} Hz)")
    return 0


def _cmd_version(args: argparse.Namespace) -> int:
    from . import native_version

    print(f"dspnewton {__version__} (C++ core {native_version()})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .objective.hessian import STRATEGIES

    parser = argparse.ArgumentParser(prog="dspnewton", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"dspnewton {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("fit", help="fit the compressor to an input/target pair (writes OUTDIR/fit.json)")
    p.add_argument("input", help="input (dry) audio file")
    p.add_argument("target", help="target (processed) audio file")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output directory")
    p.add_argument("--hessian", default="auto", choices=("auto",) + STRATEGIES, help="Hessian strategy (default: fused)")
    p.add_argument("--optimizer", default="newton", choices=("newton", "adam", "lbfgs"))
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    p.add_argument("--init", metavar="FIT_JSON", help="warm start from an earlier fit.json")
    p.add_argument("--max-iter", type=int, default=None, metavar="N")
    p.add_argument("--frame-seconds", type=float, default=12.0, metavar="S")
    p.add_argument("--overlap-seconds", type=float, default=1.0, metavar="S", help="warm-up per frame, not in the loss")
    p.add_argument("--whole-signal", action="store_true", help="one frame over the whole signal")
    p.add_argument("--align", action="store_true", help="estimate and remove a constant target latency")
    p.add_argument("--resample", action="store_true", help="resample the target to the input's sample rate")
    p.add_argument("--trim", action="store_true", help="trim both files to the shorter length")
    p.add_argument("--channels", choices=("mix", "each"), help="multichannel: average to mono, or fit across channels")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=_cmd_fit)

    p = sub.add_parser("render", help="render the fitted model on an input file")
    p.add_argument("input", help="input audio file")
    p.add_argument("fit", metavar="FIT_JSON", help="a fit.json")
    p.add_argument("-o", "--output", required=True, metavar="OUT.wav")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_render)

    p = sub.add_parser("version", help="print the Python and C++ core versions")
    p.set_defaults(func=_cmd_version)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .audio import InputError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (UserError, InputError) as exc:
        print(f"dspnewton {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dspnewton: interrupted; nothing was written", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected failure: one paragraph, traceback only with --debug
        if args.debug:
            raise
        print(f"dspnewton {args.command}: internal error: {type(exc).__name__}: {exc}. "
              f"Nothing was written. Rerun with --debug for the traceback and report it.", file=sys.stderr)
        return 3
