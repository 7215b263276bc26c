"""``dspnewton capture signal | check | fit``: the capture workflow on the command line
(a thin shell over :mod:`dspnewton.capture`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .cli_common import SweepProgress, UserError, add_stop_flags, check_out_bundle, check_out_dir, newton_options

__all__ = ["add_capture_parser"]


def _cmd_signal(args: argparse.Namespace) -> int:
    from .capture import signal

    out = check_out_dir(args.output)
    if args.rate < 8000:
        raise UserError(f"--rate must be at least 8000 Hz, got {args.rate}")
    if not args.minutes > 0:
        raise UserError(f"--minutes must be positive, got {args.minutes}")
    sig = signal(out, sample_rate=args.rate, minutes=args.minutes,
                 subtype={"float": "FLOAT", "pcm24": "PCM_24"}[args.format])
    print(f"wrote {out / 'capture.wav'} ({len(sig.audio) / sig.sample_rate:.1f} s, mono, {sig.sample_rate} Hz), "
          f"capture.json and RECORDING.md: play capture.wav through the unit once per setting, record its output "
          f"as <mode>_<peak>.wav (e.g. compress_070.wav) in {out}, then 'dspnewton capture fit {out} -o unit.bundle'")
    return 0


def _print_check(c) -> None:
    if c.ok:
        print(f"{c.path}: OK. latency {c.latency_samples:.2f} samples ({c.latency_ms:.3f} ms), clock drift "
              f"{c.drift_ppm:+.2f} ppm, polarity {'+1' if c.polarity > 0 else '-1 (inverted)'}, DC {c.dc:+.2e}, "
              f"noise floor {c.noise_floor_dbfs:.1f} dBFS, calibration tone {c.calibration_dbfs:.2f} dBFS")
        for m in c.messages:
            print(f"  {m}")
    else:
        print(c.refusal(), file=sys.stderr)


def _cmd_check(args: argparse.Namespace) -> int:
    from .capture import check

    if not Path(args.recording).is_file():
        raise UserError(f"recording '{args.recording}' does not exist")
    c = check(args.recording, args.signal)
    if args.json:
        print(json.dumps(c.to_json(), indent=1))
    else:
        _print_check(c)
    return 0 if c.ok else 1


class _CaptureProgress:
    """Check results and validation scores as lines; the sweep's own events as its progress bars."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.sweep = SweepProgress(quiet)

    def __call__(self, kind: str, info: dict) -> None:
        if kind == "check":
            if not self.quiet:
                c = info["check"]
                state = (f"latency {c['latency_samples']:.2f} samples, drift {c['drift_ppm']:+.2f} ppm, polarity "
                         f"{c['polarity']:+d}" if c["ok"] else "REFUSED: " + " ".join(c["problems"]))
                print(f"check {info['setting']}: {state}", file=sys.stderr)
        elif kind == "scored":
            if not self.quiet and info.get("esr_validation") is not None:
                print(f"validation {info['setting']}: ESR {100 * info['esr_validation']:.4g} % "
                      f"(fit {100 * info['esr_fit']:.4g} %), delta-LDR {info['delta_ldr_db_validation']:+.3f} dB",
                      file=sys.stderr)
        else:
            self.sweep(kind, info)

    def close(self) -> None:
        self.sweep.close()


def _cmd_fit(args: argparse.Namespace) -> int:
    from .capture import fit

    out = check_out_bundle(args.output)
    progress = _CaptureProgress(args.quiet)
    try:
        r = fit(args.folder, out, signal=args.signal, work=args.work, model=args.model, joint=args.joint,
                joint_degree=args.joint_degree, plugin=args.plugin, force=args.force, max_iter=args.max_iter,
                options=newton_options(args), gru_epochs=args.gru_epochs, restart=not args.no_restart,
                on_event=progress)
    finally:
        progress.close()
    if not args.quiet:
        vals = [s["esr_validation"] for s in r.scores.values() if s.get("esr_validation") is not None]
        print(f"wrote {r.bundle} (model {r.model}, {len(r.scores)} settings"
              + (f", validation ESR {100 * min(vals):.3g}..{100 * max(vals):.3g} %" if vals else "")
              + f") and the report {r.report} ({r.seconds:.1f} s)")
        if r.missing:
            print(f"not recorded (interpolated by the plug-in): {', '.join(r.missing)}")
    return 0


def add_capture_parser(sub) -> None:
    """Register ``capture`` and its three commands on the top-level subparsers ``sub``."""
    from .capture.stimulus import DEFAULT_MINUTES, DEFAULT_RATE

    cap = sub.add_parser("capture", help="capture your own unit: the signal to record, checks, one-command fit")
    csub = cap.add_subparsers(dest="capture_command", metavar="STEP")
    cap.set_defaults(func=lambda a: cap.print_help() or 2)

    p = csub.add_parser("signal", help="write the capture signal, capture.json and the recording sheet")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--rate", type=int, default=DEFAULT_RATE, help=f"your interface's rate in Hz (default {DEFAULT_RATE})")
    p.add_argument("--minutes", type=float, default=DEFAULT_MINUTES,
                   help=f"length of the program part (default {DEFAULT_MINUTES:g}; validation is a quarter of it)")
    p.add_argument("--format", choices=("float", "pcm24"), default="float", help="WAV sample format (default float)")
    p.set_defaults(func=_cmd_signal)

    p = csub.add_parser("check", help="check a recording: latency, drift, polarity, clipping, DC, noise, level")
    p.add_argument("recording", metavar="RECORDING.wav")
    p.add_argument("--signal", metavar="DIR", help="the capture folder (default: the recording's folder)")
    p.add_argument("--json", action="store_true", help="print the findings as one JSON object")
    p.set_defaults(func=_cmd_check)

    p = csub.add_parser("fit", help="check, align and fit every recording of a folder; report and bundle")
    p.add_argument("folder", metavar="FOLDER", help="recordings named <mode>_<peak>.wav (or listed in recordings.json)")
    p.add_argument("-o", "--output", required=True, metavar="NAME.bundle")
    p.add_argument("--signal", metavar="DIR", help="the capture folder (default: FOLDER)")
    p.add_argument("--work", metavar="DIR", help="sweep and report folder (default: NAME_capture beside the bundle)")
    p.add_argument("--model", default="ff5", help="model name (default ff5; list: dspnewton models), or auto")
    p.add_argument("--joint", action="store_true", help="fit each mode's parameters as smooth curves in the knob")
    p.add_argument("--joint-degree", type=int, default=None, metavar="D")
    p.add_argument("--plugin", action="store_true", help="also build the plug-ins (VST3, LV2, CLAP) into the bundle")
    p.add_argument("--force", action="store_true", help="replace an existing bundle")
    p.add_argument("--no-restart", action="store_true",
                   help="fit each setting from its neighbour's fit only (default: also from the published start, "
                        "keeping the better; twice the fits)")
    p.add_argument("--max-iter", type=int, default=100, metavar="N")
    p.add_argument("--gru-epochs", type=int, default=50, metavar="N",
                   help="with a '+gru' model: at most N epochs for the residual (trained on the training parts)")
    p.add_argument("--quiet", action="store_true")
    add_stop_flags(p)
    p.set_defaults(func=_cmd_fit)
