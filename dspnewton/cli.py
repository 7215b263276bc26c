"""The ``dspnewton`` command-line interface: a thin shell over the Python API.

Every command returns exit code 0 on success; on bad input it prints one
paragraph saying what is wrong and what to do, never a traceback (``--debug``
shows one for unexpected errors).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .cli_report import FitProgress as _Progress, print_bounds as _print_bounds, print_from_rest as _print_from_rest
from .cli_report import print_mapping as _print_mapping, print_selection as _print_selection
from .modes import MODES
from .plugin_state import STATE_FORMATS
from .objective.frame_lengths import FRAME_SECONDS, OVERLAP_SECONDS
from .cli_common import (SweepProgress as _SweepProgress, UserError, add_stop_flags as _add_stop_flags,
                         check_out_bundle as _check_out_bundle,
                         check_out_dir as _check_out_dir, check_out_file as _check_out_file,
                         make_out_dir as _make_out_dir, newton_options as _newton_options,
                         probe_writable as _probe_writable)


def _cmd_fit(args: argparse.Namespace) -> int:
    import torch

    from .fit_dispatch import fit

    out = _check_out_dir(args.output)
    max_iter = args.max_iter or (500 if args.optimizer == "adam" else 100)
    from .distributed import worker_group

    with worker_group(args.distributed, args.device) as dist:
        main_rank = dist is None or dist.is_main
        progress = _Progress(max_iter, args.quiet or not main_rank)
        try:
            result = fit(
                args.input, args.target, hessian=args.hessian, optimizer=args.optimizer, device=args.device,
                dtype=getattr(torch, args.dtype), init=args.init, max_iter=max_iter,
                frame_seconds=None if args.whole_signal else args.frame_seconds,
                overlap_seconds=args.overlap_seconds, initial_state=args.initial_state, resample=args.resample,
                trim=args.trim,
                channels=args.channels, align=args.align, callback=progress, dist=dist, model=args.model,
                gru_epochs=args.gru_epochs,
                options=_newton_options(args),
            )
        finally:
            progress.close()
    if not main_rank:
        return 0  # only rank 0 writes
    _make_out_dir(out)
    result.save(out / "fit.json")
    if not args.quiet:
        for note in result.extra.get("notes", []):
            print(f"note: {note}")
        print(f"{result.model}: {'converged' if result.converged else 'stopped'} after {result.iterations} "
              f"iterations ({result.message}) in {result.seconds:.2f} s; ESR {100 * result.esr:.4g} %")
        print(", ".join(f"{k} {v:.4g}" for k, v in result.all_params.items()))
        _print_from_rest(result.extra.get("from_rest"))
        _print_bounds(result.extra.get("at_bounds"))
        _print_selection(result.extra.get("auto"))
        print(f"wrote {out / 'fit.json'}")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from .candidates import auto_text, short_list_text
    from .model.names import EXCLUSIVE_OPTIONS, OPTION_PARAMS, OPTION_TABLE, RECOMMENDED_MODEL, list_models

    if args.all:
        for spec in list_models():
            print(f"{spec.name}\t{spec.n_params}")
        return 0
    print("A model is a topology, ff (the detector reads the input; 'ff5' alone) or fb (it reads the previous "
          "output),\nplus any of these options, joined by '+' (e.g. fb+2rel+inhp):")
    for option in OPTION_TABLE:
        print(f"  {option.name:<9} {option.description}: {', '.join(OPTION_PARAMS[option.name])}")
    print("A model takes at most one of " + ", ".join(f"{a}/{b}" for a, b in EXCLUSIVE_OPTIONS) + " (two forms of one "
          "stage).")
    print(f"{len(list_models())} models in all ('dspnewton models --all' lists them); recommended: {RECOMMENDED_MODEL}.")
    print("\n" + auto_text())
    print(short_list_text())
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    import numpy as np

    from .audio import read_audio, write_audio
    from .model.models import require_model
    from .result import FitResult

    out = _check_out_file(args.output)
    fit_result = FitResult.load(args.fit)
    require_model(args.model, fit_result.model, f"'{args.fit}'")
    audio = read_audio(args.input, "input")
    if not np.isfinite(audio.data).all():
        raise UserError(f"input '{args.input}' contains NaN or infinite samples")
    if audio.sample_rate != fit_result.sample_rate and not args.quiet:
        print(f"note: rendering at {audio.sample_rate} Hz with parameters fitted at {fit_result.sample_rate} Hz "
              f"(time constants are kept in ms)")
    y = fit_result.render(audio.data.astype(np.float64), sample_rate=audio.sample_rate).numpy()
    write_audio(out, y, audio.sample_rate, audio.subtype)
    if not args.quiet:
        print(f"wrote {out} ({audio.data.shape[1] / audio.sample_rate:.2f} s, {audio.subtype}, {audio.sample_rate} Hz)")
    return 0


def _cmd_index(args: argparse.Namespace) -> int:
    from .data.signaltrain import build_manifest

    manifest = build_manifest(args.dataset)
    out = Path(args.output) if args.output else Path(args.dataset) / "manifest.json"
    _probe_writable(out.parent if str(out.parent) else Path("."), f"manifest '{out}'")
    manifest.save(out)
    units = sorted({p.unit for p in manifest.pairs})
    print(f"{len(manifest.pairs)} pairs ({', '.join(units) or 'none'}), {len(manifest.unpaired)} unpaired, "
          f"{len(manifest.unknown)} unknown, {len(manifest.problems)} unreadable -> {out}")
    for u in manifest.unpaired:
        print(f"  unpaired: {u['file']}: {u['reason']}")
    for u in manifest.unknown:
        print(f"  unknown name: {u}")
    for u in manifest.problems:
        print(f"  problem: {u['file']}: {u['problem']}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    import torch

    from .sweep import parse_peaks, sweep

    out = _check_out_dir(args.output)
    from .distributed import worker_group

    with worker_group(args.distributed, args.device) as dist:
        main_rank = dist is None or dist.is_main
        progress = _SweepProgress(args.quiet or not main_rank)
        try:
            result = sweep(args.source, out, modes=args.modes, peaks=parse_peaks(args.peaks), unit=args.unit,
                           hessian=args.hessian, device=args.device, dtype=getattr(torch, args.dtype),
                           max_iter=args.max_iter, on_event=progress, dist=dist, model=args.model,
                           options=_newton_options(args), joint=args.joint, joint_degree=args.joint_degree,
                           gru_epochs=args.gru_epochs, restart=args.restart, jobs=args.jobs)
        finally:
            progress.close()
    if not main_rank:
        return 0
    if not args.quiet:
        sel = getattr(result, "selection", None)
        if sel:
            print(f"model selection: chose {sel['chosen']} (mean held-out ESR relative to ff5 over "
                  f"{len(sel['settings'])} settings: " + ", ".join(
                      f"{m} {v:.3f}" + ("" if sel.get("eligible", {}).get(m, True) else " (not eligible)")
                      for m, v in sorted(sel["score"].items(), key=lambda kv: kv[1])) + ")")
        _print_mapping(result.mapping())
        if result.residual:
            r = result.residual
            print(f"GRU residual: ESR {100 * r['esr_dsp']:.3f} % -> {100 * r['esr']:.3f} % over every setting "
                  f"({r['epochs']} epochs; in-sample)")
        for mode, jr in result.joint.items():
            print(f"joint {mode}: mean ESR {100 * jr.mean_esr:.3f} % over {len(jr.esr)} settings (per-setting fits "
                  f"{100 * sum(r.esr for r in result.fits[mode].values()) / len(result.fits[mode]):.3f} %), "
                  f"{jr.iterations} iterations, {jr.seconds:.1f} s")
        print(f"wrote {out / 'mapping.json'} and {out / 'mapping.csv'}"
              f"{' and joint.json' if result.joint else ''}{' and residual.json' if result.residual else ''} "
              f"({result.seconds:.1f} s)")
    for f in result.failed:
        print(f"failed: {f['mode']} peak {f['peak']} ({f['target']}): {f['error']}", file=sys.stderr)
    for s in result.skipped:
        print(f"skipped: {s['file']}: {s['reason']}", file=sys.stderr)
    return 1 if result.failed and not any(result.fits.values()) else 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate

    summary = evaluate(args.sweep_dir)
    for mode, s in summary.items():
        if "note" in s:
            print(f"{mode}: {s['note']}")
            continue
        print(f"{mode}: anchors {s['anchors']}, held out {s['held_out']}")
        for note in s.get("notes", []):
            print(f"  note: {note}")
        for m in s.get("methods", ("fitted", "linear", "spline")):
            print(f"  {m:>7}: mean ESR {100 * s['mean_esr_' + m]:.3f} %, mean |dLDR| {s['mean_abs_delta_ldr_' + m]:.3f} dB")
    print(f"wrote {Path(args.sweep_dir) / 'eval.csv'} and eval_summary.json")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from .plots import plot_sweep

    for p in plot_sweep(args.sweep_dir, args.output, args.mode, args.peak):
        print(f"wrote {p}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    out = _check_out_dir(args.output)
    progress = _SweepProgress(args.quiet)
    try:
        summary = run_demo(out, seconds=args.seconds, say=(lambda s: None) if args.quiet else print,
                           on_event=progress, model=args.model)
    finally:
        progress.close()
    _print_mapping(summary["mapping"])
    for mode, s in summary["eval"].items():
        if "mean_esr_fitted" in s:
            print(f"{mode}: held-out mean ESR fitted {100 * s['mean_esr_fitted']:.3f} %, linear "
                  f"{100 * s['mean_esr_linear']:.3f} %, spline {100 * s['mean_esr_spline']:.3f} %")
    print(f"\ndone in {summary['seconds']:.0f} s. Results in {out}:")
    print(f"  dataset     {out / 'dataset'} (manifest {out / 'manifest.json'})")
    print(f"  sweep       {summary['sweep_dir']} (fits/, mapping.json, mapping.csv)")
    print(f"  evaluation  {Path(summary['sweep_dir']) / 'eval.csv'}")
    print(f"  plots       {', '.join(summary['plots'])}")
    print(f"  bundle      {summary['bundle']}" + (f" ({summary['plugin_note']})" if summary["plugin_note"] else
                                                   " (with plugins/: VST3, LV2, CLAP)"))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import export_bundle, load_bundle

    out = _check_out_bundle(args.output)
    path = export_bundle(args.source, out, force=args.force, plugin=args.plugin, a2a_presets=not args.no_4a2a,
                         model=args.model, zero_vu_dbfs=args.zero_vu_dbfs)
    d = load_bundle(path)
    rows = sum(len(v) for v in d["table"].values())
    extras = (["joint-fit knob curves"] if d["curves"] else []) + (["GRU residual"] if d["residual"] else [])
    print(f"wrote {path} (model {d['model']}{'+gru' if d['residual'] else ''}): {rows} table rows "
          f"({', '.join(k for k, v in d['table'].items() if v)}), "
          f"{len(list((path / 'presets').glob('*.vstpreset')))} presets" + (", plugins/" if args.plugin else "")
          + (f"; with {' and '.join(extras)}" if extras else ""))
    return 0


def _cmd_plugin_build(args: argparse.Namespace) -> int:
    from .plugin_install import build_plugins

    built = build_plugins(args.output, default_bundle=args.default_bundle)
    print(f"built {len(built)} plugins into {args.output}: " + ", ".join(p.name for p in built))
    return 0


def _cmd_plugin_install(args: argparse.Namespace) -> int:
    from .plugin_install import install_plugins

    for p in install_plugins(args.source, home=args.home, default_bundle=args.default_bundle):
        print(f"installed {p}")
    return 0


def _cmd_plugin_state(args: argparse.Namespace) -> int:
    from .plugin_state import write_plugin_state

    variant = "dspnewton_la2a_stereo" if args.stereo else "dspnewton_la2a"
    out = write_plugin_state(args.bundle, args.output, args.format, mode=args.mode, peak=args.peak, variant=variant)
    print(f"wrote {out} ({args.format} state of {variant} loading {args.bundle})")
    return 0


def _cmd_version(args: argparse.Namespace) -> int:
    from . import native_version

    print(f"dspnewton {__version__} (C++ core {native_version()})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .objective.strategies import STRATEGIES

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
    p.add_argument("--device", default="cpu",
                   help="cpu (default) or cuda; grey-box models' exact passes run one GPU thread per frame and are "
                        "faster on the CPU (docs/long_fits.md)")
    p.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    p.add_argument("--init", metavar="FIT_JSON", help="warm start from an earlier fit.json")
    p.add_argument("--max-iter", type=int, default=None, metavar="N")
    p.add_argument("--frame-seconds", type=float, default=FRAME_SECONDS, metavar="S")
    p.add_argument("--overlap-seconds", type=float, default=OVERLAP_SECONDS, metavar="S", help="warm-up of every frame after the first, not in the loss")
    p.add_argument("--whole-signal", action="store_true", help="one frame over the whole signal")
    p.add_argument("--initial-state", default="auto", choices=("auto", "carried", "rest"),
                   help="where frames after the first start: carried (the whole-signal state; default with the "
                        "fused Hessian) or rest (as published; the autograd strategies)")
    p.add_argument("--align", action="store_true", help="estimate and remove a constant target latency")
    p.add_argument("--resample", action="store_true", help="resample the target to the input's sample rate")
    p.add_argument("--trim", action="store_true", help="trim both files to the shorter length")
    p.add_argument("--channels", choices=("mix", "each"), help="multichannel: average to mono, or fit across channels")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over torchrun workers (gloo on CPU, NCCL on CUDA); rank 0 writes")
    p.add_argument("--model", default="ff5",
                   help="model name (default ff5; list: dspnewton models), or auto (selection by held-out ESR); "
                        "'+gru' adds the GRU residual")
    p.add_argument("--gru-epochs", type=int, default=50, metavar="N", help="at most N epochs for a '+gru' residual")
    _add_stop_flags(p)
    p.set_defaults(func=_cmd_fit)

    p = sub.add_parser("render", help="render the fitted model on an input file")
    p.add_argument("input", help="input audio file")
    p.add_argument("fit", metavar="FIT_JSON", help="a fit.json")
    p.add_argument("-o", "--output", required=True, metavar="OUT.wav")
    p.add_argument("--model", help="require FIT_JSON to hold this model")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_render)


    p = sub.add_parser("index", help="index a SignalTrain-layout dataset folder into a manifest JSON")
    p.add_argument("dataset", metavar="DATASET_DIR")
    p.add_argument("-o", "--output", metavar="MANIFEST.json", help="default: DATASET_DIR/manifest.json")
    p.set_defaults(func=_cmd_index)

    p = sub.add_parser("sweep", help="fit every (mode, peak) as warm-started chains; resumable")
    p.add_argument("source", metavar="DATASET_OR_MANIFEST")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR")
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    p.add_argument("--peaks", default="40:100:5", help="start:stop:step or a comma list (default 40:100:5)")
    p.add_argument("--unit", default="3c", help="SignalTrain unit: 3c (default) or 2c")
    p.add_argument("--hessian", default="auto", choices=("auto",) + STRATEGIES)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    p.add_argument("--max-iter", type=int, default=100, metavar="N")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--distributed", action="store_true", help="spread the chains (modes) over torchrun workers")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="processes for the chains (modes) on this machine (default: one per chain when each gets "
                        "4 cores, else 1)")
    p.add_argument("--restart", action="store_true",
                   help="also fit each warm-started setting from the published start; keep the lower loss (2x fits)")
    p.add_argument("--joint", action="store_true",
                   help="then fit every parameter of a mode as one smooth curve in the knob over all settings")
    p.add_argument("--joint-degree", type=int, default=None, metavar="D",
                   help="the curves' polynomial degree (default 3; needs D+1 settings per mode)")
    p.add_argument("--gru-epochs", type=int, default=50, metavar="N",
                   help="with a '+gru' model: at most N epochs for the sweep's one GRU residual")
    p.add_argument("--model", default="ff5",
                   help="model name (default ff5; list: dspnewton models), or auto (selected by held-out ESR on a "
                        "few settings, selection.json)")
    _add_stop_flags(p)
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("eval", help="interpolation study on a sweep (writes eval.csv)")
    p.add_argument("sweep_dir", metavar="SWEEP_DIR")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("plot", help="figures of a sweep (PNG)")
    p.add_argument("sweep_dir", metavar="SWEEP_DIR")
    p.add_argument("-o", "--output", metavar="DIR", help="default: SWEEP_DIR/plots")
    p.add_argument("--mode", choices=list(MODES))
    p.add_argument("--peak", type=int)
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("demo", help="the whole study on the embedded virtual unit (no download)")
    p.add_argument("-o", "--output", default="demo_out", metavar="OUTDIR")
    p.add_argument("--seconds", type=float, default=30.0, help="length of each generated file")
    p.add_argument("--model", default="ff5", help="model name (default ff5; list: dspnewton models)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("export", help="export a sweep (or one fit.json) as a VST-ready bundle")
    p.add_argument("source", metavar="SWEEP_DIR_OR_FIT_JSON")
    p.add_argument("-o", "--output", required=True, metavar="NAME.bundle")
    p.add_argument("--plugin", action="store_true", help="also build the plugin (VST3, LV2, CLAP) into plugins/")
    p.add_argument("--force", action="store_true", help="replace an existing bundle")
    p.add_argument("--no-4a2a", action="store_true", help="skip presets for the open-source 4A2A plugin")
    p.add_argument("--model", help="require the source to hold this model")
    p.add_argument("--zero-vu-dbfs", type=float, metavar="DBFS",
                   help="the level the unit was captured at: dBFS peak of a sine that read 0 VU (default -18)")
    p.set_defaults(func=_cmd_export)

    from .cli_capture import add_capture_parser

    add_capture_parser(sub)

    p = sub.add_parser("models", help="the model options, the recommended model and --model auto's short list")
    p.add_argument("--all", action="store_true", help="list every model name with its parameter count, tab-separated")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("plugin", help="the plugin that loads any bundle: build, install, or write a state")
    actions = p.add_subparsers(dest="plugin_command", metavar="ACTION", required=True)
    a = actions.add_parser("build", help="build the plugins (mono and stereo; VST3, LV2, CLAP) into a folder")
    a.add_argument("-o", "--output", required=True, metavar="DIR")
    a.add_argument("--default-bundle", metavar="NAME.bundle", help="compile this bundle in as the default table")
    a.set_defaults(func=_cmd_plugin_build)
    a = actions.add_parser("install", help="install the plugins into your plugin folders (~/.vst3, ~/.lv2, ~/.clap)")
    a.add_argument("--from", dest="source", metavar="DIR", help="plugins built with `plugin build` (default: build now)")
    a.add_argument("--home", metavar="DIR", help="install under DIR instead of your home folder")
    a.add_argument("--default-bundle", metavar="NAME.bundle", help="when building: compile this bundle in")
    a.set_defaults(func=_cmd_plugin_install)
    a = actions.add_parser("state", help="write the plugin state that loads a bundle (for scripted hosts)")
    a.add_argument("bundle", metavar="NAME.bundle")
    a.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="the state file (for --format lv2: a preset folder NAME.lv2)")
    a.add_argument("--format", default="vst3", choices=STATE_FORMATS)
    a.add_argument("--mode", choices=list(MODES), help="also set the mode")
    a.add_argument("--peak", type=float, help="also set peak reduction (0..100)")
    a.add_argument("--stereo", action="store_true", help="for the stereo plugin (vstpreset class ID, LV2 URI)")
    a.set_defaults(func=_cmd_plugin_state)

    p = sub.add_parser("version", help="print the Python and C++ core versions")
    p.set_defaults(func=_cmd_version)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .errors import InputError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"dspnewton {args.command}: error: {exc.cli_message()}", file=sys.stderr)
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
