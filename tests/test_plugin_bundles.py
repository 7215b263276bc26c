"""One installed plugin for every fit: bundles loaded at run time through the host's state, in real
hosts (pedalboard VST3, the lilv LV2 host, the CLAP host), against dspnewton.Processor bit for bit.
The plugins are built once per session (conftest ``plugins``: `dspnewton plugin build`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dspnewton import Processor
from dspnewton.errors import InputError
from dspnewton.model.greybox_spec import RECOMMENDED_MODEL
from dspnewton.plugin_state import (component_from_pedalboard, pedalboard_state, plugin_state, read_dpf_state,
                                    write_plugin_state)
from dspnewton.synth import music_like
from conftest import (load_vst3, model_bundle, run_clap, run_lv2, set_param as _set)

SR = 44100
# The three models of the issue: ff5, fb+2rel, and the recommended model as a joint-curve bundle with a GRU.
MODELS = [("ff5", False, False), ("fb+2rel", False, False), (RECOMMENDED_MODEL, True, True)]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    d = tmp_path_factory.mktemp("bundles")
    return {m: model_bundle(d, m, joint=j, gru=g) for m, j, g in MODELS}


@pytest.fixture(scope="module")
def music():
    x = music_like(1.5, SR, seed=31).astype(np.float32)
    return np.stack([x, (0.5 * np.roll(x, 3000)).astype(np.float32)])


def _processor(bundle, mode, peak, channels=1):
    return Processor.from_bundle(bundle, mode, peak, sample_rate=SR, channels=channels)


@pytest.mark.parametrize("model", [m for m, _, _ in MODELS])
def test_a_bundle_set_through_the_state_runs_bit_for_bit_in_every_host(model, bundles, plugins, music, clap_host,
                                                                        lv2_host, tmp_path):
    bundle = bundles[model]
    for stereo in (False, True):
        x = music if stereo else music[:1]
        want = _processor(bundle, "limit", 63.0, channels=x.shape[0]).process(x if stereo else x[0])
        want = want if stereo else want[None]
        vst3 = load_vst3(plugins, stereo=stereo, bundle=bundle, mode="limit", peak=63.0)
        assert np.array_equal(vst3(x, SR, buffer_size=256), want), (model, stereo, "vst3")
        y, meters = run_clap(clap_host, plugins, x, tmp_path, stereo=stereo, bundle=bundle, mode="limit", peak=63.0)
        assert np.array_equal(y, want), (model, stereo, "clap")
        y, lv2_meters = run_lv2(lv2_host, plugins, x, tmp_path, stereo=stereo, bundle=bundle, mode="limit", peak=63.0)
        assert np.array_equal(y, want), (model, stereo, "lv2")
    # The meters the hosts read are the processor's (last sample of the last block).
    p = _processor(bundle, "limit", 63.0, channels=2)
    p.process(music)
    assert meters["Gain reduction"] == pytest.approx(p.gain_reduction_db, rel=1e-6, abs=1e-6)
    assert meters["VU gain reduction"] == pytest.approx(p.vu_gain_reduction_db, rel=1e-6, abs=1e-6)
    assert lv2_meters["vu_output"] == pytest.approx(p.vu_output_db, rel=1e-6, abs=1e-5)


def test_without_a_bundle_the_plugin_runs_its_compiled_in_default(plugins, music, tmp_path):
    """The session's plugins are an `export --plugin` build: their default is that bundle's table (a
    `plugin build` compiles plugin_export/default_table in the same way)."""
    from dspnewton.plugin_install import DEFAULT_TABLE, _params_dir

    plugin = load_vst3(plugins)
    _set(plugin, "peak_reduction", 70.0)
    want = _processor(plugins.parent, "compress", 70.0).process(music[0])
    assert np.array_equal(plugin(music[:1], SR)[0], want)
    states, _ = read_dpf_state(component_from_pedalboard(plugin.raw_state))
    assert states == {"bundle": "", "bundle_path": ""}
    assert _params_dir(None) == DEFAULT_TABLE and (DEFAULT_TABLE / "params.h").exists()
    assert _params_dir(plugins.parent / "bundle.json") == plugins.parent
    from dspnewton.export import load_bundle

    assert load_bundle(DEFAULT_TABLE)["model"] == "ff5"  # the built-in table: a valid bundle too


def test_the_session_keeps_the_bundle_itself(bundles, plugins, music, lv2_host, tmp_path):
    """Saved with a bundle, restored in a fresh instance after the bundle file was deleted: identical."""
    src = bundles["fb+2rel"]
    moved = tmp_path / "gone.bundle"
    shutil.copytree(src, moved)
    a = load_vst3(plugins, stereo=True, bundle=moved, mode="compress", peak=55.0)
    _set(a, "gain_db", 2.0)
    a(music[:, :4000], SR, reset=False)
    saved = a.raw_state
    states, params = read_dpf_state(component_from_pedalboard(saved))
    assert states["bundle_path"] == str((moved / "bundle.json").resolve())
    assert states["bundle"] == (moved / "bundle.json").read_text()
    assert params["peak"] == 55.0 and params["gain_db"] == pytest.approx(2.0, abs=1e-5)
    # LV2 too: a session saved by the host, restored after the file is gone.
    y_lv2, _ = run_lv2(lv2_host, plugins, music[:1], tmp_path, "gain_db=2", bundle=moved, mode="compress", peak=55.0,
                       save_dir=tmp_path / "session")
    shutil.rmtree(moved)
    b = load_vst3(plugins, stereo=True)
    b.raw_state = saved
    a.reset()
    b.reset()
    assert np.array_equal(a(music, SR), b(music, SR))
    want = Processor.from_bundle(src, "compress", 55.0, gain_db=2.0).process(music[0])
    restored, _ = run_lv2(lv2_host, plugins, music[:1], tmp_path, state_file=tmp_path / "session" / "state.ttl")
    assert np.array_equal(restored[0], want) and np.array_equal(y_lv2[0], want)


def _corrupt_bundles(good_text: str) -> dict:
    d = json.loads(good_text)
    newer = dict(d, schema_version=99)
    nan_row = good_text.replace('"ratio": ', '"ratio": NaN, "x": ', 1)
    missing = json.loads(good_text)
    missing["table"]["compress"][0].pop("ratio")
    unknown = dict(d, model="ff+warp")
    return {
        "checksum": good_text.replace('"threshold_db": -20', '"threshold_db": -21', 1),
        "truncated": good_text[: len(good_text) // 2],
        "newer schema": json.dumps(newer),
        "NaN": nan_row,
        "missing row values": json.dumps(missing),
        "unknown option": json.dumps(unknown),
        "another plugin's state": "<?xml version='1.0'?><state><PARAM id='th' value='-20'/></state>",
    }


def test_a_bad_bundle_in_the_state_keeps_the_table_in_use(bundles, plugins, music, clap_host, tmp_path):
    good = bundles["fb+2rel"]
    text = (good / "bundle.json").read_text()
    want = _processor(good, "compress", 70.0).process(music[0])
    for label, bad in _corrupt_bundles(text).items():
        plugin = load_vst3(plugins, bundle=good, mode="compress", peak=70.0)
        component = component_from_pedalboard(plugin.raw_state)
        states, _ = read_dpf_state(component)
        plugin.raw_state = pedalboard_state(component.replace(states["bundle"].encode(), bad.encode(), 1))
        assert np.array_equal(plugin(music[:1], SR)[0], want), label
        kept, _ = read_dpf_state(component_from_pedalboard(plugin.raw_state))
        assert kept["bundle"] == text, label  # the session saves the table in use, not the refused text
        # the library refuses the same bundle with a message naming the problem
        (tmp_path / "bad.bundle").mkdir(exist_ok=True)
        (tmp_path / "bad.bundle" / "bundle.json").write_text(bad)
        with pytest.raises(InputError, match="not a valid dspnewton bundle"):
            plugin_state(tmp_path / "bad.bundle")
    # A truncated or foreign state as a whole: the plugin keeps running its table.
    plugin = load_vst3(plugins, bundle=good, mode="compress", peak=70.0)
    raw = plugin.raw_state
    for broken in (raw[: len(raw) // 2], b"VC2!" + b"\x05\x00\x00\x00<x/>\x00", b"\x00" * 64):
        try:
            plugin.raw_state = broken
        except Exception:  # pedalboard may refuse it before the plugin sees it
            pass
        plugin.reset()
        assert np.array_equal(plugin(music[:1], SR)[0], want)
    # CLAP: a state file holding a corrupt bundle is read without a crash; the default table stays.
    from dspnewton import _native

    (tmp_path / "bad.state").write_bytes(_native.dpf_state([], [("bundle", text[:100])]))
    proc = subprocess.run([str(clap_host), str(plugins / "dspnewton_la2a.clap"), "/dev/null", str(tmp_path / "o.f32"),
                           str(SR), "-s", str(tmp_path / "bad.state")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_loading_during_playback_cross_fades_the_two_tables(bundles, plugins, music):
    """A bundle set mid-stream: every sample equals the cross-fade, over 20 ms, of the old table's output
    and the new one's continuing from the old state (Processor.continue_from), w = 1/N, 2/N, ..., 1."""
    old, new = bundles["ff5"], bundles[RECOMMENDED_MODEL]
    x = music
    at, block = 12_288, 512
    plugin = load_vst3(plugins, stereo=True, bundle=old, mode="compress", peak=70.0)
    first = plugin(x[:, :at], SR, buffer_size=block, reset=True)
    plugin.raw_state = plugin_state(new, "pedalboard")
    second = plugin(x[:, at:], SR, buffer_size=block, reset=False)
    y = np.concatenate([first, second], axis=1)

    a = _processor(old, "compress", 70.0, channels=2)
    ya = a.process(x.astype(np.float64))
    b = _processor(new, "compress", 70.0, channels=2)
    a2 = _processor(old, "compress", 70.0, channels=2)
    a2.process(x[:, :at].astype(np.float64))
    b.continue_from(a2)
    yb = b.process(x[:, at:].astype(np.float64))
    n = round(0.020 * SR)
    step = 1.0 / n
    w = np.minimum(np.cumsum(np.full(x.shape[1] - at, step)), 1.0)
    w[n - 1:] = 1.0  # the ramp lands exactly on 1 at its last sample
    fade = ya[:, at:] + w * (yb - ya[:, at:])
    fade[:, n:] = yb[:, n:]
    assert np.array_equal(y[:, :at], ya[:, :at].astype(np.float32))
    assert np.array_equal(y[:, at:], fade.astype(np.float32))
    # The test can fail: switching at once (or from rest) would differ from the fade at the switch.
    assert np.abs(yb[:, :n] - ya[:, at:at + n]).max() > 1e-3


def test_mix_and_trim_in_the_plugin(bundles, plugins, music):
    bundle = bundles["fb+2rel"]
    x = music[:1]
    plugin = load_vst3(plugins, bundle=bundle, mode="compress", peak=70.0)
    today = plugin(x, SR)
    assert np.array_equal(today[0], _processor(bundle, "compress", 70.0).process(x[0]))  # defaults: unchanged
    _set(plugin, "mix", 0.0)
    plugin.reset()
    assert np.array_equal(plugin(x, SR), x)  # Mix 0: the input itself (no latency)
    _set(plugin, "mix", 100.0)
    plugin.reset()
    assert np.array_equal(plugin(x, SR), today)
    _set(plugin, "mix", 40.0)
    _set(plugin, "input_trim_db", 6.0)
    plugin.reset()
    p = _processor(bundle, "compress", 70.0)
    p.mix, p.trim_db = 0.4, 6.0
    p.settle()
    assert np.array_equal(plugin(x, SR)[0], p.process(x[0]))
    assert plugin.reported_latency_samples == 0


def test_bundle_level_sets_the_calibration(tmp_path, plugins, music):
    """A bundle captured at -12 dBFS: the plugin follows its level (Bundle level on), or the session's
    0 VU when that is switched off; both equal the processor's."""
    b = model_bundle(tmp_path, "fb+2rel", zero_vu_dbfs=-12.0)
    x = music[:1]
    plugin = load_vst3(plugins, bundle=b, mode="compress", peak=70.0)
    p = _processor(b, "compress", 70.0)
    assert p.table_zero_vu_dbfs == -12.0 and p.zero_vu_dbfs is None
    assert np.array_equal(plugin(x, SR)[0], p.process(x[0]))
    _set(plugin, "bundle_level", 0.0)  # the session's 0 VU (-18 by default) instead
    plugin.reset()
    q = _processor(b, "compress", 70.0)
    q.zero_vu_dbfs = -18.0
    q.settle()
    y = plugin(x, SR)[0]
    assert np.array_equal(y, q.process(x[0])) and not np.array_equal(y, p.process(x[0]))


def test_emphasis_only_moves_a_side_chain_shelf(bundles, plugins, music):
    rec = bundles[RECOMMENDED_MODEL]  # has 'sc'
    plugin = load_vst3(plugins, bundle=rec, mode="compress", peak=55.0)
    _set(plugin, "emphasis_db", 6.0)
    plugin.reset()
    p = _processor(rec, "compress", 55.0)
    p.emphasis_db = 6.0
    p.settle()
    y = plugin(music[:1], SR)[0]
    assert np.array_equal(y, p.process(music[0]))
    assert not np.array_equal(y, _processor(rec, "compress", 55.0).process(music[0]))
    ff5 = load_vst3(plugins, bundle=bundles["ff5"], mode="compress", peak=55.0)
    _set(ff5, "emphasis_db", 6.0)
    ff5.reset()
    assert np.array_equal(ff5(music[:1], SR)[0], _processor(bundles["ff5"], "compress", 55.0).process(music[0]))


def test_plugin_state_formats_and_refusals(bundles, tmp_path):
    b = bundles["ff5"]
    comp = plugin_state(b, "vst3", mode="limit", peak=40)
    states, params = read_dpf_state(comp)
    assert states["bundle"] == (b / "bundle.json").read_text() and params == {"mode": 1.0, "peak": 40.0}
    assert plugin_state(b, "clap") == plugin_state(b, "vst3")
    assert component_from_pedalboard(plugin_state(b, "pedalboard")) == plugin_state(b, "vst3")
    from dspnewton import _native

    preset = _native.parse_vstpreset(plugin_state(b, "vstpreset", variant="dspnewton_la2a_stereo"))
    assert preset["chunks"][0][1] == plugin_state(b, "vst3")
    ttl = plugin_state(b, "lv2").decode()
    assert "<urn:distrho:bundle>" in ttl and "lv2:appliesTo <urn:dspnewton:la2a>" in ttl
    for kwargs, message in (({"format": "aax"}, "format must be one of"), ({"mode": "squash"}, "mode must be one of"),
                            ({"peak": 120}, "peak must be in 0..100"), ({"variant": "x"}, "variant must be one of")):
        with pytest.raises(InputError, match=message):
            plugin_state(b, **kwargs)
    with pytest.raises(InputError, match="does not exist"):
        plugin_state(tmp_path / "missing.bundle")
    out = write_plugin_state(b, tmp_path / "s.vst3state")
    assert out.read_bytes() == comp[:0] + plugin_state(b) and not list(tmp_path.glob(".*"))
    with pytest.raises(InputError, match="does not exist"):
        write_plugin_state(b, tmp_path / "no" / "dir" / "s.bin")


def test_cli_plugin_build_install_and_state(bundles, plugins, tmp_path, capsys):
    """`dspnewton plugin install --from DIR --home H` puts each format where hosts look; `plugin state`
    writes a state file that loads the bundle; `plugin build` refuses a folder without params.h."""
    from conftest import run_cli

    code, out, _ = run_cli(["plugin", "install", "--from", str(plugins), "--home", str(tmp_path / "home")], capsys)
    assert code == 0
    for rel in (".vst3/dspnewton_la2a.vst3", ".vst3/dspnewton_la2a_stereo.vst3", ".lv2/dspnewton_la2a.lv2",
                ".clap/dspnewton_la2a_stereo.clap"):
        assert (tmp_path / "home" / rel).exists(), rel
    # Installing again replaces them in place.
    assert run_cli(["plugin", "install", "--from", str(plugins), "--home", str(tmp_path / "home")], capsys)[0] == 0
    assert not [p for p in (tmp_path / "home" / ".vst3").iterdir() if p.name.startswith(".")]
    code, out, _ = run_cli(["plugin", "state", str(bundles["ff5"]), "-o", str(tmp_path / "s.vstpreset"), "--format",
                            "vstpreset", "--mode", "limit", "--peak", "70"], capsys)
    assert code == 0 and "wrote" in out
    code, _, err = run_cli(["plugin", "state", str(tmp_path / "nothing"), "-o", str(tmp_path / "x")], capsys)
    assert code != 0 and "does not exist" in err and not (tmp_path / "x").exists()
    code, _, err = run_cli(["plugin", "build", "-o", str(tmp_path / "b"), "--default-bundle", str(tmp_path)], capsys)
    assert code != 0 and "has no params.h" in err


def test_no_allocation_on_the_audio_thread(bundles, tmp_path):
    """tests/rt_alloc_check.cpp counts every operator new/delete while the audio thread's work runs: three
    table switches (ff5 <-> the recommended model with joint curves and a GRU) with their cross-fades, at
    block sizes 97..4096, with every control set each block and the meters read: none."""
    from conftest import require_tool

    cxx = require_tool("g++")
    exe = tmp_path / "rt_alloc_check"
    src = Path(__file__).parent / "rt_alloc_check.cpp"
    include = Path(__file__).parents[1] / "csrc" / "include"
    build = subprocess.run([cxx, "-std=c++17", "-O2", f"-I{include}", str(src), "-o", str(exe)], capture_output=True,
                           text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe), str(bundles["ff5"] / "bundle.json"), str(bundles[RECOMMENDED_MODEL] / "bundle.json")],
                         capture_output=True, text=True)
    assert run.returncode == 0 and "allocations=0" in run.stdout, run.stdout + run.stderr


def test_the_faces_previous_and_next_and_what_it_shows(tmp_path):
    """The face's Load/previous/next logic (face_model.hpp, compiled without DPF): previous and next step
    through the NAME.bundle folders beside the loaded one, in name order, wrapping around; the top bar's
    name and model come from the bundle; a damaged bundle is named with the reader's reason."""
    from conftest import require_tool

    cxx = require_tool("g++")
    root = Path(__file__).parents[1]
    exe = tmp_path / "face_model_check"
    build = subprocess.run([cxx, "-std=c++17", "-O1", f"-I{root / 'csrc' / 'include'}",
                            f"-I{root / 'plugin_export' / 'dspnewton_la2a'}", str(Path(__file__).parent /
                            "face_model_check.cpp"), "-o", str(exe)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    shelf = tmp_path / "shelf"
    a, b, c = (model_bundle(shelf, m, name=f"{n}.bundle") for n, m in (("a", "ff5"), ("b", "fb+2rel"),
                                                                        ("c", RECOMMENDED_MODEL)))
    (shelf / "notes").mkdir()  # not a bundle: skipped

    def look(path):
        out = subprocess.run([str(exe), str(path)], capture_output=True, text=True, check=True).stdout
        return dict(line.split("=", 1) for line in out.splitlines())

    got = look(b)
    assert got["next"] == str(c / "bundle.json") and got["previous"] == str(a / "bundle.json")
    assert got["name"] == "b.bundle" and got["model"] == "fb+2rel" and got["ok"] == "1"
    assert look(c / "bundle.json")["next"] == str(a / "bundle.json")  # wraps around
    assert look(a)["previous"] == str(c / "bundle.json")
    (c / "bundle.json").write_text((c / "bundle.json").read_text().replace('"ratio": ', '"ratio": 1e9 + ', 1))
    bad = look(c)
    assert bad["ok"] == "0" and bad["error"], bad
    gone = look(shelf / "gone.bundle")  # a path that does not exist: named, nothing loaded
    assert "cannot read" in gone["error"] and "gone.bundle" in gone["error"]
