"""The exported bundle and the real plugin in real hosts: VST3 in pedalboard, LV2 in a lilv
host and CLAP in a C host (tests/lv2_host.c, tests/clap_host.c); .vstpreset loading; export
refusals and atomicity. Under CI=true a missing tool (DPF, lilv, a compiler, pedalboard) fails
these tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dspnewton import _native
from dspnewton.audio import InputError
from dspnewton.evaluate import interpolate_params
from dspnewton.model.schema import COLUMN_ORDER
from dspnewton.export import A2A_CLASS_ID, export_bundle, load_bundle, plugin_class_id
from dspnewton.model import CompressorParams, compress
from dspnewton.synth import music_like
from conftest import FF5_MAPPING, require_module, run_clap, run_lv2, set_param as _set

SR = 44100
MAPPING = FF5_MAPPING


@pytest.fixture(scope="module")
def bundle(ff5_bundle):
    return ff5_bundle


@pytest.fixture(scope="module")
def music():
    return music_like(3.0, SR, seed=8).astype(np.float32)


def _anchors(mode):
    return {int(p): CompressorParams(**{k: v for k, v in r.items() if k != "esr"}) for p, r in MAPPING[mode].items()}


def _render(x: np.ndarray, params: CompressorParams) -> np.ndarray:
    with torch.no_grad():
        return compress(torch.from_numpy(x.astype(np.float64))[None], params.to_theta(SR), SR)[0].numpy()


def test_bundle_contents(bundle):
    d = load_bundle(bundle)
    assert d["schema_version"] == 1 and d["sample_rate"] == SR and d["interpolation"] == "linear"
    assert [r["peak"] for r in d["table"]["compress"]] == [40.0, 70.0, 100.0]
    assert d["provenance"]["esr"]["limit"]["100"] == 0.1
    header = (bundle / "params.h").read_text()
    n = len(COLUMN_ORDER) + 1  # every parameter column and the ESR
    assert f"constexpr double kCompress[3][{n}]" in header and f"constexpr double kLimit[2][{n}]" in header
    assert "constexpr bool kHasCurves[2] = {false, false}" in header and "constexpr bool kHasResidual = false" in header
    presets = sorted(p.name for p in (bundle / "presets").glob("*.vstpreset"))
    assert presets == ["compress_peak040.vstpreset", "compress_peak070.vstpreset", "compress_peak100.vstpreset",
                       "limit_peak040.vstpreset", "limit_peak100.vstpreset"]
    a2a = _native.parse_vstpreset((bundle / "presets" / "4a2a" / "limit_peak100.vstpreset").read_bytes())
    assert a2a["class_id"] == A2A_CLASS_ID
    state = a2a["chunks"][0][1]
    assert state[:4] == b"VC2!" and b'id="th" value="-38.00"' in state and b'id="mode" value="1.00"' in state
    for kind in ("dspnewton_la2a.vst3", "dspnewton_la2a.lv2", "dspnewton_la2a.clap"):
        assert (bundle / "plugins" / kind).exists()


def test_vst3_in_pedalboard_matches_render(bundle, music):
    import dspnewton

    pedalboard = require_module("pedalboard")
    plugin = pedalboard.load_plugin(str(bundle / "plugins" / "dspnewton_la2a.vst3"))
    assert plugin.version == dspnewton.__version__ == dspnewton.native_version()  # one version everywhere
    for mode in ("compress", "limit"):
        for peak in (40.0, 55.0, 70.0, 85.0, 100.0):
            _set(plugin, "peak_reduction", peak)
            _set(plugin, "limit_mode", 1.0 if mode == "limit" else 0.0)
            _set(plugin, "follow_table", 1.0)
            plugin.reset()
            y = plugin(music[None], SR)[0]
            ref = _render(music, interpolate_params(_anchors(mode), float(np.float32(peak)), "linear"))
            assert np.abs(y - ref).max() < 1e-4, (mode, peak)
    # Manual parameters (table off).
    manual = CompressorParams(-25.0, 6.0, 3.0, 120.0, 2.0)
    _set(plugin, "follow_table", 0.0)
    for name, value in (("threshold_db", manual.threshold_db), ("ratio", manual.ratio), ("attack_ms", manual.attack_ms),
                        ("release_ms", manual.release_ms), ("make_up_db", manual.makeup_db)):
        _set(plugin, name, value)
    plugin.reset()
    y = plugin(music[None], SR)[0]
    assert np.abs(y - _render(music, manual)).max() < 1e-4


def test_vstpresets_set_parameters_exactly(bundle, music):
    pedalboard = require_module("pedalboard")
    plugin = pedalboard.load_plugin(str(bundle / "plugins" / "dspnewton_la2a.vst3"))
    table = load_bundle(bundle)["table"]
    names = {"peak_reduction": "peak", "threshold_db": "threshold_db", "ratio": "ratio", "attack_ms": "attack_ms",
             "release_ms": "release_ms", "make_up_db": "makeup_db"}
    for preset in sorted((bundle / "presets").glob("*.vstpreset")):
        mode, peak = preset.stem.split("_peak")
        _set(plugin, "peak_reduction", 55.0)  # something else first
        _set(plugin, "follow_table", 0.0)
        plugin.load_preset(str(preset))
        row = next(r for r in table[mode] if r["peak"] == float(peak))
        for pname, key in names.items():
            assert getattr(plugin, pname) == pytest.approx(row[key], rel=2e-6, abs=2e-5), (preset.name, pname)
        assert bool(plugin.limit_mode) == (mode == "limit") and bool(plugin.follow_table)
        plugin.reset()
        y = plugin(music[None], SR)[0]
        # The state is applied exactly: the output equals the C++ core at that table row, bit for bit.
        assert np.array_equal(y, _native.process_table(music, table, mode, float(peak), SR)), preset.name


def test_lv2_and_clap_in_c_hosts(bundle, music, lv2_host, clap_host, tmp_path):
    """The export's own plugins (its table compiled in) in the lilv LV2 host and the CLAP host."""
    table = load_bundle(bundle)["table"]
    for mode, peak in (("compress", 65.0), ("limit", 100.0)):
        y, _ = run_lv2(lv2_host, bundle / "plugins", music, tmp_path, f"peak={peak}",
                       f"mode={1 if mode == 'limit' else 0}")
        assert np.abs(y[0] - _native.process_table(music, table, mode, peak, SR)).max() < 1e-6
        y, _ = run_clap(clap_host, bundle / "plugins", music, tmp_path, f"Peak reduction={peak}",
                        f"Limit mode={1 if mode == 'limit' else 0}")
        assert np.abs(y[0] - _native.process_table(music, table, mode, peak, SR)).max() < 1e-6


def test_export_refusals_and_atomicity(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "mapping.json").write_text(json.dumps(MAPPING))
    out = export_bundle(sweep, tmp_path / "a.bundle")
    before = (out / "bundle.json").read_text()
    with pytest.raises(InputError, match="already exists; pass force=True") as err:
        export_bundle(sweep, out)
    assert "pass --force to replace" in err.value.cli_message()  # the CLI names its flag
    bad = json.loads(json.dumps(MAPPING))
    bad["compress"]["70"]["ratio"] = 55.0
    (sweep / "mapping.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match="out of range"):
        export_bundle(sweep, out, force=True)
    assert (out / "bundle.json").read_text() == before, "a failed export must not touch the old bundle"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary folders left"
    with pytest.raises(InputError, match="does not exist"):
        export_bundle(tmp_path / "nothing", tmp_path / "b.bundle")
    (sweep / "mapping.json").write_text(json.dumps(MAPPING))
    export_bundle(sweep, out, force=True)
    # A modified bundle is rejected by the reader.
    text = (out / "bundle.json").read_text().replace('"ratio": 4.5', '"ratio": 4.6')
    (out / "bundle.json").write_text(text)
    with pytest.raises(InputError, match="checksum mismatch"):
        load_bundle(out)


def test_export_single_fit_and_class_id(tmp_path):
    from dspnewton.result import FitResult

    fr = FitResult(CompressorParams(-20, 4, 5, 100, 1), SR, 1.0, 0.05, 5, True, extra={"mode": "limit", "peak": 80})
    fr.save(tmp_path / "fit.json")
    out = export_bundle(tmp_path / "fit.json", tmp_path / "one.bundle")
    d = load_bundle(out)
    assert d["table"]["limit"][0]["peak"] == 80.0 and d["table"]["compress"] == []
    assert plugin_class_id() == "2046504473616C63616C4E6400000000"


def test_kept_plugin_objects_never_carry_another_table(tmp_path, monkeypatch):
    """DSPNEWTON_PLUGIN_BUILD_CACHE keeps DPF's format wrappers per variant and DPF, and always drops the
    plugin's own objects (the ones compiled against a bundle's params.h) before a build; without it the
    objects live in a temporary folder beside the output."""
    from dspnewton.export import PLUGIN_BUILD_CACHE_ENV, _object_folder

    out, dpf = tmp_path / "unit.bundle" / "plugins", tmp_path / "dpf"
    monkeypatch.delenv(PLUGIN_BUILD_CACHE_ENV, raising=False)
    obj, kept = _object_folder(out, "mono", dpf)
    assert not kept and obj.parent == out.parent
    monkeypatch.setenv(PLUGIN_BUILD_CACHE_ENV, str(tmp_path / "cache"))
    obj, kept = _object_folder(out, "mono", dpf)
    assert kept and obj.parent == tmp_path / "cache"
    obj.mkdir(parents=True)
    for name in ("PluginDSPNewton.cpp.o", "PluginDSPNewton.cpp.d", "DistrhoPluginMain_VST3.cpp.o"):
        (obj / name).write_text("x")
    again, _ = _object_folder(tmp_path / "other.bundle" / "plugins", "mono", dpf)
    assert again == obj and [p.name for p in obj.iterdir()] == ["DistrhoPluginMain_VST3.cpp.o"]
    assert _object_folder(out, "stereo", dpf)[0] != obj  # other flags
    assert _object_folder(out, "mono", tmp_path / "other-dpf")[0] != obj  # other DPF headers


def test_builds_sharing_a_kept_object_folder_take_turns(tmp_path, monkeypatch):
    """While one build holds the kept folder (parallel test workers, two exports at once), another process
    cannot take it; once the build is done it can.  Without the folder set, nothing is locked."""
    import subprocess
    import sys

    from dspnewton.export import PLUGIN_BUILD_CACHE_ENV, _build_cache_lock

    cache = tmp_path / "cache"
    probe = ("import fcntl, sys\n"
             "f = open(sys.argv[1], 'a')\n"
             "try:\n    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n    sys.exit(3)\n")

    def other_process_can_take_it():
        code = subprocess.run([sys.executable, "-c", probe, str(cache / ".lock")]).returncode
        assert code in (0, 3)
        return code == 0

    monkeypatch.setenv(PLUGIN_BUILD_CACHE_ENV, str(cache))
    with _build_cache_lock():
        assert cache.is_dir() and not other_process_can_take_it()
    assert other_process_can_take_it()
    monkeypatch.delenv(PLUGIN_BUILD_CACHE_ENV)
    with _build_cache_lock():
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


def test_the_dpf_build_copy_is_absolute_for_relative_outputs(tmp_path, monkeypatch):
    """`make -C` runs in the plugin source: the linked DPF copy (DGL is compiled inside it) must be named by an
    absolute path even when the bundle is written to a relative one (the demo's `demo_out/la2a.bundle`)."""
    from dspnewton.export import PLUGIN_BUILD_CACHE_ENV, _writable_dpf
    from conftest import require_dpf

    require_dpf()
    monkeypatch.delenv(PLUGIN_BUILD_CACHE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out.bundle").mkdir()
    copy, kept = _writable_dpf(Path("/usr/share/dpf"), Path("out.bundle") / "plugins")
    assert copy.is_absolute() and not kept and (copy / "Makefile.plugins.mk").exists()
    assert copy.parent == tmp_path / "out.bundle"
