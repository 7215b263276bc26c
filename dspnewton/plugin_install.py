"""The dspnewton plugin built once and installed where hosts look for plugins.

One plugin per channel layout (``dspnewton_la2a`` mono, ``dspnewton_la2a_stereo``), each as
VST3, LV2 and CLAP, runs any exported bundle loaded at run time (from its face or through the
host's state: :mod:`dspnewton.plugin_state`).  Until one is loaded it runs its compiled-in
default: the embedded study's table (``plugin_export/default_table``), or a bundle's own
``params.h`` with ``default_bundle`` (what ``dspnewton export --plugin`` builds).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from .errors import InputError

__all__ = ["build_plugins", "install_plugins", "user_plugin_folders", "replace_tree", "DEFAULT_TABLE"]

DEFAULT_TABLE = Path(__file__).resolve().parents[1] / "plugin_export" / "default_table"
FORMAT_SUFFIXES = {"vst3": ".vst3", "lv2": ".lv2", "clap": ".clap"}


def _params_dir(default_bundle) -> Path:
    if default_bundle is None:
        if not (DEFAULT_TABLE / "params.h").exists():
            raise InputError(f"the plugin's default table is missing ({DEFAULT_TABLE / 'params.h'}); build from a "
                             "source checkout")
        return DEFAULT_TABLE
    d = Path(default_bundle)
    d = d.parent if d.name == "bundle.json" else d
    if not (d / "params.h").exists():
        raise InputError(f"'{d}' has no params.h; give a NAME.bundle folder written by `dspnewton export`")
    return d


def replace_tree(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` through a temporary sibling, then swap it in (an old ``dst`` is replaced)."""
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        shutil.copytree(src, tmp, symlinks=True) if src.is_dir() else shutil.copy2(src, tmp)
        if dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst)
        elif dst.exists() or dst.is_symlink():
            dst.unlink()
        os.replace(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
        raise


def build_plugins(out_dir, *, default_bundle=None, jobs: int = 2) -> list[Path]:
    """Build both layouts as VST3, LV2 and CLAP into ``out_dir`` (created; products replaced one by
    one, each only after the whole build succeeded); returns their paths."""
    from .export import build_plugin

    params = _params_dir(default_bundle)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".plugin-build-", dir=out) as tmp:
        built = build_plugin(params, Path(tmp) / "bin", jobs=jobs)
        final = []
        for p in built:
            replace_tree(p, out / p.name)
            final.append(out / p.name)
    return final


def user_plugin_folders(home=None) -> dict[str, Path]:
    """Where a user's hosts look for plugins: {format: folder} (Linux: ~/.vst3, ~/.lv2, ~/.clap;
    macOS: ~/Library/Audio/Plug-Ins/VST3, LV2, CLAP)."""
    h = Path(home) if home is not None else Path.home()
    if sys.platform == "darwin":
        base = h / "Library" / "Audio" / "Plug-Ins"
        return {"vst3": base / "VST3", "lv2": base / "LV2", "clap": base / "CLAP"}
    return {"vst3": h / ".vst3", "lv2": h / ".lv2", "clap": h / ".clap"}


def install_plugins(built_dir=None, *, home=None, default_bundle=None, jobs: int = 2) -> list[Path]:
    """Install the plugins of ``built_dir`` (from :func:`build_plugins`; None: build them now) into
    the user's plugin folders (:func:`user_plugin_folders` under ``home``); returns the installed paths.
    An installed plugin of the same name is replaced."""
    folders = user_plugin_folders(home)
    with tempfile.TemporaryDirectory(prefix="dspnewton-plugins-") as tmp:
        src = Path(built_dir) if built_dir is not None else None
        if src is None:
            src = Path(tmp)
            build_plugins(src, default_bundle=default_bundle, jobs=jobs)
        products = sorted(p for p in src.iterdir() if p.suffix in FORMAT_SUFFIXES.values() and p.name.startswith(
            "dspnewton_la2a"))
        if not products:
            raise InputError(f"'{src}' holds no dspnewton plugins; run `dspnewton plugin build -o {src}` first")
        installed = []
        for p in products:
            fmt = next(k for k, v in FORMAT_SUFFIXES.items() if p.suffix == v)
            folders[fmt].mkdir(parents=True, exist_ok=True)
            replace_tree(p, folders[fmt] / p.name)
            installed.append(folders[fmt] / p.name)
    return installed
