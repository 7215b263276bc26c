"""Export fitted parameters through the C++ extension into a VST-ready bundle.

``NAME.bundle/`` holds ``bundle.json`` (schema version, model, sample rate, units,
the mode -> peak -> parameters table, interpolation method, provenance with
source hashes and each fit's ESR, and a checksum), ``params.h`` (the same table
as constexpr arrays for plugin builds), ``presets/`` (one ``.vstpreset`` per mode
and peak for the dspnewton plugin, ``presets/stereo/`` for its stereo variant and
``presets/4a2a/`` for the open-source 4A2A plugin) and, with ``plugin=True``,
``plugins/`` (the mono ``dspnewton_la2a`` and stereo ``dspnewton_la2a_stereo``
plugins, each as VST3, LV2 and CLAP, built with DPF).  The folder is assembled under a temporary name and renamed into place,
so a failed export leaves nothing half-written; an existing bundle is replaced
only with ``force=True``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import struct
import subprocess
import time
from pathlib import Path

from . import __version__
from .audio import InputError, sha256_file
from .modes import MODES
from .result import FitResult

__all__ = ["export_bundle", "load_bundle", "read_bundle", "plugin_class_id", "build_plugin", "A2A_CLASS_ID"]

A2A_CLASS_ID = "ABCDEF019182FAEB4D616E755A6E7275"
PLUGIN_SOURCE = Path(__file__).resolve().parents[1] / "plugin_export" / "dspnewton_la2a"
# Plugin variants built from one source: name -> (Makefile VARIANT, DPF unique id, presets sub-folder).
PLUGIN_VARIANTS = {"dspnewton_la2a": ("mono", "dNla", ""), "dspnewton_la2a_stereo": ("stereo", "dNls", "stereo")}


def _cconst(a: str) -> int:
    return (ord(a[0]) << 24) | (ord(a[1]) << 16) | (ord(a[2]) << 8) | ord(a[3])


def plugin_uri(variant: str = "dspnewton_la2a") -> str:
    """The LV2 URI of a plugin variant (DISTRHO_PLUGIN_URI in plugin_export/dspnewton_la2a/DistrhoPluginInfo.h):
    ``urn:dspnewton:la2a`` for ``dspnewton_la2a``, ``urn:dspnewton:la2a_stereo`` for the stereo one."""
    return "urn:dspnewton:" + variant.removeprefix("dspnewton_")


def plugin_class_id(variant: str = "dspnewton_la2a") -> str:
    """VST3 processor class ID of a dspnewton plugin variant (``dspnewton_la2a`` mono,
    ``dspnewton_la2a_stereo``): DPF's {'DPF ', 'clas', unique id, 0} as it lies in memory,
    in hex (the form .vstpreset files carry)."""
    uid = PLUGIN_VARIANTS[variant][1]
    return struct.pack("<4I", _cconst("DPF "), _cconst("clas"), _cconst(uid), 0).hex().upper()


def _row(peak: float, params: dict, esr: float, spec=None) -> dict:
    keys = ("threshold_db", "ratio", "attack_ms", "release_ms", "makeup_db")
    if spec is not None:
        keys = spec.param_names
    missing = [k for k in keys if k not in params]
    if missing:
        raise InputError(f"a table row lacks {', '.join(missing)}" + (f" (model {spec.name})" if spec else ""))
    return {"peak": float(peak), **{k: float(params[k]) for k in keys}, "esr": float(esr)}


def _table_from_source(source: Path):
    """(table, sample_rate, provenance sources, DSP model name, curves or None, residual or None)
    from a sweep folder or a fit.json; a joint sweep's curves (joint.json) come with its table,
    a ``+gru`` fit's residual with its row."""
    from .model.greybox_spec import parse_model

    if source.is_dir():
        mapping_path = source / "mapping.json"
        if not mapping_path.exists():
            raise InputError(f"'{source}' has no mapping.json; export a sweep folder or a fit.json")
        mapping = json.loads(mapping_path.read_text())
        table, sources, rates = {}, [], set()
        models = {r.get("model", "ff5") for by_peak in mapping.values() if isinstance(by_peak, dict)
                  for r in by_peak.values() if isinstance(r, dict)}
        if len(models) > 1:
            raise InputError(f"mapping.json mixes models {sorted(models)}; export one model per bundle")
        try:
            spec = parse_model(models.pop() if models else "ff5")
        except ValueError as exc:
            raise InputError(f"mapping.json: {exc}") from None
        for mode, by_peak in mapping.items():
            if mode not in MODES:
                raise InputError(f"mapping.json has an unknown mode {mode!r}")
            if not isinstance(by_peak, dict):
                raise InputError(f"mapping.json: mode {mode!r} must map peaks to parameter rows")
            rows = []
            for p, r in by_peak.items():
                try:
                    peak = float(p)
                except ValueError:
                    raise InputError(f"mapping.json: peak {p!r} in mode {mode!r} is not a number") from None
                if not isinstance(r, dict):
                    raise InputError(f"mapping.json: the row of {mode} peak {p} must be an object of parameters")
                rows.append(_row(peak, r, r.get("esr", 0.0), spec))
            table[mode] = sorted(rows, key=lambda r: r["peak"])
        for fit_json in sorted(source.glob("fits/*/peak_*/fit.json")):
            fr = FitResult.load(fit_json)
            rates.add(fr.sample_rate)
            sources.append({"file": str(fit_json.relative_to(source)), "sha256": sha256_file(fit_json),
                            "esr": fr.esr, "iterations": fr.iterations, "converged": fr.converged})
        sources.append({"file": "mapping.json", "sha256": sha256_file(mapping_path)})
        if len(rates) > 1:
            raise InputError(f"the sweep's fits use different sample rates {sorted(rates)}; export them separately")
        from .sweep_folder import load_joint

        joint = load_joint(source)
        curves = None
        if joint:
            wrong = {m: c.model for m, c in joint.items() if c.model != spec.name or m not in table}
            if wrong:
                raise InputError(f"'{source / 'joint.json'}' does not match mapping.json (model {spec.name}, modes "
                                 f"{sorted(table)}): {wrong}; rerun the sweep with --joint")
            curves = {m: c.to_dict() for m, c in joint.items()}
            sources.append({"file": "joint.json", "sha256": sha256_file(source / "joint.json")})
        from .sweep_folder import load_residual

        res = load_residual(source)
        residual = None
        if res:
            residual = {"type": "gru", "hidden": res["hidden"], **res["weights"]}
            sources.append({"file": "residual.json", "sha256": sha256_file(source / "residual.json"),
                            "esr_dsp": res["esr_dsp"], "esr": res["esr"]})
        return table, (rates.pop() if rates else 44100), sources, spec.name, curves, residual
    if source.is_file():
        fr = FitResult.load(source)
        mode = fr.extra.get("mode", "compress")
        peak = fr.extra.get("peak", 100)
        table = {mode: [_row(peak, fr.all_params, fr.esr, parse_model(fr.dsp_model))]}
        residual = ({"type": "gru", "hidden": fr.residual["hidden"], **fr.residual["weights"]} if fr.residual
                    else None)
        return (table, fr.sample_rate, [{"file": source.name, "sha256": sha256_file(source), "esr": fr.esr}],
                fr.dsp_model, None, residual)
    raise InputError(f"'{source}' does not exist; give a sweep folder or a fit.json")


def preset_name(mode: str, peak: float, model: str) -> str:
    """A preset's (and the plugin's program's) display name, e.g. ``LA-2A limit 70 (ff5)``."""
    return f"LA-2A {mode} {peak:g} ({model})"


def _dpf_values(row: dict, mode: str) -> list:
    """A preset's control values: the table row at gain 0 dB, following the table (the
    five ff5 values are stored too, for hosts that show them)."""
    return [("peak", row["peak"]), ("gain_db", 0.0), ("mode", 1.0 if mode == "limit" else 0.0), ("follow_table", 1.0),
            *((k, row[k]) for k in ("threshold_db", "ratio", "attack_ms", "release_ms", "makeup_db"))]


def _a2a_values(row: dict, mode: str) -> list:
    return [("th", row["threshold_db"]), ("ratio", row["ratio"]), ("at", row["attack_ms"]), ("rt", row["release_ms"]),
            ("makeUp", row["makeup_db"]), ("peak", row["peak"]), ("mode", 1.0 if mode == "limit" else 0.0)]


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


PLUGIN_BUILD_CACHE_ENV = "DSPNEWTON_PLUGIN_BUILD_CACHE"


def _object_folder(out_dir: Path, variant: str, dpf: Path) -> tuple[Path, bool]:
    """(where DPF puts a variant's objects, whether they are kept for the next build).

    With ``$DSPNEWTON_PLUGIN_BUILD_CACHE`` set to a folder, DPF's format wrappers are compiled once per
    variant (and DPF) and kept there; the plugin's own source, the one that includes ``params.h``, is
    always compiled again (its objects are removed first), so a kept folder never carries another
    table.  Otherwise a temporary folder beside the output, removed after the build.
    """
    cache = os.environ.get(PLUGIN_BUILD_CACHE_ENV)
    if not cache:
        return out_dir.parent / f".plugin-obj-{variant}", False
    tag = hashlib.sha256(str(dpf.resolve()).encode()).hexdigest()[:10]
    obj = Path(cache) / f"obj-{variant}-{tag}"
    for own in obj.glob("PluginDSPNewton.*"):
        own.unlink()
    return obj, True


@contextlib.contextmanager
def _build_cache_lock():
    """Held while a build uses ``$DSPNEWTON_PLUGIN_BUILD_CACHE`` (when set): builds in other processes
    sharing the folder (parallel test workers, two exports at once) wait for it instead of compiling into
    the same objects."""
    cache = os.environ.get(PLUGIN_BUILD_CACHE_ENV)
    if not cache:
        yield
        return
    import fcntl

    Path(cache).mkdir(parents=True, exist_ok=True)
    with open(Path(cache) / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        yield


FACE_PACKAGES = "libgl-dev libx11-dev libxext-dev libxrandr-dev libxcursor-dev libdbus-1-dev pkg-config"


def _writable_dpf(dpf: Path, out_dir: Path) -> tuple[Path, bool]:
    """(a DPF tree the build may write into, whether it is kept): DGL, the face's library, is compiled
    inside the DPF tree, so the build uses a copy of ``dpf`` made of links (its ``build/`` folder then
    holds DGL). Kept in ``$DSPNEWTON_PLUGIN_BUILD_CACHE`` when set (DGL is then compiled once)."""
    cache = os.environ.get(PLUGIN_BUILD_CACHE_ENV)
    tag = hashlib.sha256(str(dpf.resolve()).encode()).hexdigest()[:10]
    copy = (Path(cache) / f"dpf-{tag}" if cache else out_dir.parent / f".dpf-{os.getpid()}").resolve()  # make -C
    if not (copy / "Makefile.plugins.mk").exists():
        shutil.rmtree(copy, ignore_errors=True)
        copy.parent.mkdir(parents=True, exist_ok=True)
        tmp = copy.with_name(copy.name + f".tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        proc = subprocess.run(["cp", "-rs", str(dpf.resolve()), str(tmp)], capture_output=True, text=True)
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise InputError(f"cannot prepare a build copy of DPF at {tmp}: {proc.stderr.strip()}")
        os.replace(tmp, copy)
    return copy, bool(cache)


def build_plugin(params_dir: Path, out_dir: Path, jobs: int = 2) -> list[Path]:
    """Build the plugin (LV2, VST3, CLAP; DSP and face) with DPF from ``params_dir/params.h`` into
    ``out_dir`` (DPF's objects and DGL kept between builds with ``$DSPNEWTON_PLUGIN_BUILD_CACHE``:
    :func:`_object_folder`, :func:`_writable_dpf`; builds sharing that folder take turns:
    :func:`_build_cache_lock`)."""
    dpf = Path(os.environ.get("DPF_PATH", "/usr/share/dpf"))
    if not (dpf / "Makefile.plugins.mk").exists():
        raise InputError(f"DPF not found at {dpf}; install Debian's dpf-source (apt-get install dpf-source) "
                         f"or set DPF_PATH")
    if shutil.which("make") is None or shutil.which("g++") is None:
        raise InputError("building the plugin needs make and g++ (apt-get install build-essential)")
    if shutil.which("pkg-config") is None or subprocess.run(["pkg-config", "--exists", "gl", "x11", "dbus-1"]).returncode:
        raise InputError(f"building the plugin's face needs OpenGL, X11 and D-Bus development files "
                         f"(apt-get install {FACE_PACKAGES})")
    if not (PLUGIN_SOURCE / "Makefile").exists():
        raise InputError(f"plugin sources not found at {PLUGIN_SOURCE}; export with {{plugin}} from a source checkout",
                         {"plugin": True})
    out_dir.mkdir(parents=True, exist_ok=True)
    with _build_cache_lock():
        built = _build_variants(dpf, params_dir, out_dir, jobs)
    missing = [p.name for p in built if not p.exists()]
    if missing:
        raise InputError(f"the plugin build did not produce {', '.join(missing)}")
    return built


def _build_variants(dpf: Path, params_dir: Path, out_dir: Path, jobs: int) -> list[Path]:
    """DGL (once per DPF copy) and both variants' plugins into ``out_dir``: the files they should produce."""
    built = []
    dpf_copy, dpf_kept = _writable_dpf(dpf, out_dir)
    try:
        if not (dpf_copy / "build" / "libdgl-opengl.a").exists():  # DGL first: the variants then share it
            proc = subprocess.run(["make", "-C", str(dpf_copy / "dgl"), f"-j{jobs}", "opengl"], capture_output=True,
                                  text=True)
            if proc.returncode != 0:
                raise InputError(f"building DGL (the plugin face's library) failed:\n{proc.stdout[-2000:]}\n"
                                 f"{proc.stderr[-2000:]}")
        # both variants at once (their own objects; their link steps are serial, so two builds fill two cores)
        builds = [_start_variant(dpf, dpf_copy, params_dir, out_dir, variant, jobs)
                  for variant, _, _ in PLUGIN_VARIANTS.values()]
        failures = []
        for (name, (variant, _, _)), build in zip(PLUGIN_VARIANTS.items(), builds):
            try:  # wait for every build before reporting one that failed
                built += _finish_variant(build, out_dir, name, variant)
            except InputError as exc:
                failures.append(exc)
        if failures:
            raise failures[0]
    finally:
        if not dpf_kept:
            shutil.rmtree(dpf_copy, ignore_errors=True)
    return built


def _start_variant(dpf: Path, dpf_copy: Path, params_dir: Path, out_dir: Path, variant: str, jobs: int):
    """Start ``make`` for one variant (mono or stereo) with the DPF copy: (process, object folder, kept)."""
    obj, kept = _object_folder(out_dir, variant, dpf)  # one object folder per variant (different flags)
    cmd = ["make", "-C", str(PLUGIN_SOURCE), f"-j{jobs}", f"DPF_PATH={dpf_copy}", f"PARAMS_DIR={params_dir.resolve()}",
           f"OUT_DIR={out_dir.resolve()}", f"DPF_BUILD_DIR={obj.resolve()}", f"VARIANT={variant}",
           f"DSPNEWTON_VERSION={__version__}"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), obj, kept


def _finish_variant(build, out_dir: Path, name: str, variant: str) -> list[Path]:
    """Wait for a variant's build; its VST3, LV2 and CLAP paths."""
    proc, obj, kept = build
    stdout, stderr = proc.communicate()
    if not kept:
        shutil.rmtree(obj, ignore_errors=True)
    if proc.returncode != 0:
        raise InputError(f"the plugin build ({variant}) failed:\n{stdout[-2000:]}\n{stderr[-2000:]}")
    return [out_dir / f"{name}.vst3", out_dir / f"{name}.lv2", out_dir / f"{name}.clap"]


def export_bundle(source, out, *, force: bool = False, plugin: bool = False, a2a_presets: bool = True,
                  model: str | None = None, zero_vu_dbfs: float | None = None) -> Path:
    """Export a sweep folder (or one fit.json) as ``out`` (a ``NAME.bundle`` folder); returns its path.

    The bundle records the source's model; ``model`` (if given) must match it.
    4A2A presets are written for ``ff5`` only (that plugin has no grey-box options).
    ``zero_vu_dbfs``: the level the unit was captured at (dBFS peak of a sine that read 0 VU on it,
    -40..0; the plugin's calibration defaults to it); None: the usual -18 dBFS, not recorded.
    """
    from . import _native
    from .model.models import require_model

    source, out = Path(source), Path(out)
    if out.exists() and not force:
        raise InputError(f"'{out}' already exists; pass {{force}} to replace it", {"force": True})
    if out.exists() and not out.is_dir():
        raise InputError(f"'{out}' exists and is not a bundle folder")
    if zero_vu_dbfs is not None and not -40.0 <= float(zero_vu_dbfs) <= 0.0:
        raise InputError(f"{{zero_vu_dbfs}} must be in -40..0 dBFS, got {zero_vu_dbfs}", {"zero_vu_dbfs": True})
    table, sr, sources, model_name, curves, residual = _table_from_source(source)
    full_name = model_name + ("+gru" if residual else "")
    require_model(model, full_name, f"'{source}'")
    a2a_presets = a2a_presets and model_name == "ff5" and not residual  # 4A2A has no grey-box options or GRU
    provenance = {"dspnewton_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                  "source": str(source.resolve()), "sources": sources,
                  "esr": {m: {str(int(r["peak"])): r["esr"] for r in rows} for m, rows in table.items()},
                  "knob": "joint-fit curves" if curves else "linear interpolation of the rows"}
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"the folder of '{out}' does not exist")
    tmp = parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        try:
            _native.write_bundle_files(str(tmp), table, int(sr), json.dumps(provenance), model_name, curves, residual,
                                       -18.0 if zero_vu_dbfs is None else float(zero_vu_dbfs))
        except ValueError as exc:
            raise InputError(f"cannot export '{source}': {exc}") from None
        # each preset carries its bundle (the plugin loads it at run time) and the controls of its row
        bundle_states = [("bundle", (tmp / "bundle.json").read_text(encoding="utf-8")),
                         ("bundle_path", str(out.resolve() / "bundle.json"))]
        for mode, rows in table.items():
            for row in rows:
                name = f"{mode}_peak{int(round(row['peak'])):03d}.vstpreset"
                state = _native.dpf_state(_dpf_values(row, mode), bundle_states)
                for variant, (_, _, sub) in PLUGIN_VARIANTS.items():
                    title = "dspnewton LA-2A" + (" Stereo" if sub == "stereo" else "")
                    info = (f'<?xml version="1.0" encoding="utf-8"?>\n<MetaInfo>\n <Attr id="MediaType" '
                            f'value="VstPreset" type="string"/>\n <Attr id="PlugInName" value="{title}" '
                            f'type="string"/>\n <Attr id="Name" value="{preset_name(mode, row["peak"], full_name)}" '
                            f'type="string"/>\n</MetaInfo>\n')
                    _write(tmp / "presets" / sub / name,
                           _native.vstpreset_bytes(plugin_class_id(variant), [("Comp", state), ("Info", info.encode())]))
                if a2a_presets:
                    _write(tmp / "presets" / "4a2a" / name,
                           _native.vstpreset_bytes(A2A_CLASS_ID, [("Comp", _native.juce_4a2a_state(_a2a_values(row, mode)))]))
        if plugin:
            build_plugin(tmp, tmp / "plugins")
        if out.exists():
            old = parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def read_bundle(path) -> tuple[Path, str, dict]:
    """(the bundle.json file, its text, the parsed bundle) of ``path`` (a NAME.bundle folder or its bundle.json),
    read once and validated (schema, ranges, peak grid, curves, checksum); InputError naming the file."""
    from . import _native

    p = Path(path)
    f = p / "bundle.json" if p.is_dir() else p
    if not f.is_file():
        raise InputError(f"'{f}' does not exist; give a NAME.bundle folder (from `dspnewton export`) or its bundle.json")
    try:
        text = f.read_text(encoding="utf-8")
        d = _native.parse_bundle(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"'{f}' is not a valid dspnewton bundle: {exc}") from None
    d["provenance"] = json.loads(d.pop("provenance_json"))
    return f, text, d


def load_bundle(path) -> dict:
    """Read and validate ``NAME.bundle/bundle.json`` (schema, ranges, peak grid, curves, checksum).

    Returns a dict: schema_version, model, sample_rate, interpolation, table (mode -> rows),
    curves (mode -> joint-fit curves; {} for a table interpolated linearly), provenance.
    """
    return read_bundle(path)[2]
