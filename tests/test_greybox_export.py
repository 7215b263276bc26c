"""Grey-box models through the C++ core, the bundle, the plugin and the CLI: parity with
the PyTorch model for every model, bundle validation, and the plugin in pedalboard."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import soundfile as sf
import torch

from dspnewton import _native
from dspnewton.audio import InputError
from dspnewton.cli import main
from dspnewton.model.schema import COLUMN_ORDER
from dspnewton.export import export_bundle, load_bundle
from dspnewton.model.greybox import render_model
from dspnewton.model.greybox_spec import (
    RECOMMENDED_MODEL, list_models, model_physical_to_theta, parse_model,
)
from dspnewton.synth import music_like
from conftest import GB_BASE as BASE, SR_PLUGIN as SR, greybox_params as _params, greybox_table as _table
from conftest import set_param as _set, sample_models


@pytest.fixture(scope="module")
def music():
    return music_like(2.0, SR, seed=9)


@pytest.mark.parametrize("spec", sample_models(), ids=lambda s: s.name)
def test_cpp_core_matches_pytorch_for_every_model(spec, music):
    th, p = _params(spec)
    ref = render_model(torch.from_numpy(music), th, spec, SR).numpy()
    scale = np.abs(ref).max()
    outs = [_native.process(music, p, SR, block, spec.name) for block in (1, 64, 4097)]
    for y in outs:
        assert np.abs(y - ref).max() <= 1e-12 * scale
        assert np.array_equal(y, outs[0])  # block size does not change the result
    y32 = _native.process(music.astype(np.float32), p, SR, 512, spec.name)
    assert y32.dtype == np.float32 and np.abs(y32 - ref).max() <= 1e-6 * scale
    # The real-time processor the plugin runs (dspnewton.Processor), float64 and float32 in: same agreement.
    from dspnewton import Processor

    for dtype in (np.float64, np.float32):
        y = Processor.from_params(p, spec.name, SR).process(music.astype(dtype))
        assert y.dtype == dtype and y.shape == music.shape
        assert np.abs(y - ref).max() / scale <= 1e-5, spec.name


def test_cpp_model_errors(music):
    _, p = _params(parse_model("fb+knee"))
    with pytest.raises(ValueError, match="unknown model option 'gru'"):
        _native.process(music, p, SR, 0, "fb+gru")
    with pytest.raises(ValueError, match="missing parameter 'knee_db' of model fb\\+knee"):
        _native.process(music, {k: v for k, v in p.items() if k != "knee_db"}, SR, 0, "fb+knee")
    with pytest.raises(ValueError, match="out of range"):
        _native.process(music, {**p, "knee_db": 99.0}, SR, 0, "fb+knee")


def test_bundle_round_trip_for_a_greybox_model():
    spec = parse_model(RECOMMENDED_MODEL)
    table = _table(spec)
    text = _native.bundle_json(table, SR, "{}", spec.name)
    d = _native.parse_bundle(text)
    assert d["model"] == spec.name
    row = d["table"]["limit"][1]
    for k in spec.param_names:
        assert row[k] == table["limit"][1][k], k
    mid = _native.interpolate(table, "compress", 55.0, spec.name)
    a, b = table["compress"][0], table["compress"][1]
    assert abs(mid["slow_mix"] - (a["slow_mix"] + 0.5 * (b["slow_mix"] - a["slow_mix"]))) < 1e-15
    bad = [
        (re.sub(r'"slow_mix": [0-9.e+-]+', '"slow_mix": 0.123', text, count=1), "checksum mismatch"),
        (re.sub(r'"knee_db": ([0-9.e+-]+)', r'"knee_dB": \1', text, count=1), "knee_db"),
        (text.replace(f'"model": "{spec.name}"', '"model": "tube+fb+knee+rms+2rel+sc"'), "canonical"),
    ]
    for broken, message in bad:
        assert broken != text
        with pytest.raises(ValueError, match=message):
            _native.parse_bundle(broken)
    header = _native.params_header(table, SR, spec.name)
    assert f'kModel[] = "{spec.name}"' in header and f"[3][{len(COLUMN_ORDER) + 1}]" in header


def test_export_fit_json_and_model_guard(tmp_path):
    from dspnewton.result import FitResult
    from dspnewton.model.params import CompressorParams

    spec = parse_model("fb+2rel")
    _, p = _params(spec)
    fr = FitResult(params=CompressorParams(**{k: p[k] for k in BASE}), sample_rate=SR, loss=1.0, esr=0.01,
                   iterations=3, converged=True, model=spec.name,
                   extra_params={k: p[k] for k in spec.param_names[5:]}, extra={"mode": "limit", "peak": 70})
    fr.save(tmp_path / "fit.json")
    out = export_bundle(tmp_path / "fit.json", tmp_path / "one.bundle")
    d = load_bundle(out)
    assert d["model"] == "fb+2rel" and d["table"]["limit"][0]["release_slow_ms"] == p["release_slow_ms"]
    assert not (out / "presets" / "4a2a").exists()  # the 4A2A plugin has no grey-box options
    with pytest.raises(InputError, match="holds model 'fb\\+2rel', not 'ff5'"):
        export_bundle(tmp_path / "fit.json", tmp_path / "two.bundle", model="ff5")
    assert not (tmp_path / "two.bundle").exists()


def test_cli_models_and_model_errors(tmp_path, capsys):
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    for option in ("knee", "rms", "2rel", "sc", "tube", "inhp", "outshelf", "in2", "core", "out2"):
        assert f"  {option} " in text
    from dspnewton.selection import SHORT_LIST
    for name, why in SHORT_LIST:  # --model auto's short list, each with its reason
        assert name in text and why[:40] in text
    assert "--model auto" in text and "held-out" in text and RECOMMENDED_MODEL in text
    assert main(["models", "--all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{RECOMMENDED_MODEL}\t{parse_model(RECOMMENDED_MODEL).n_params}" and len(lines) == len(list_models())
    assert max(int(line.split("\t")[1]) for line in lines) == 19  # 5 + 8 gain-shaping (prel's 3) + 6 signal-path
    x = music_like(2.0, 8000, seed=1)
    sf.write(tmp_path / "in.wav", x, 8000, subtype="FLOAT")
    sf.write(tmp_path / "tg.wav", 0.5 * x, 8000, subtype="FLOAT")
    assert main(["fit", str(tmp_path / "in.wav"), str(tmp_path / "tg.wav"), "-o", str(tmp_path / "o"),
                 "--model", "fb+warp"]) == 1
    err = capsys.readouterr().err
    assert "unknown model option 'warp'" in err and "Traceback" not in err and not (tmp_path / "o").exists()
    assert main(["fit", str(tmp_path / "in.wav"), str(tmp_path / "tg.wav"), "-o", str(tmp_path / "o"),
                 "--model", "fb+tube", "--whole-signal", "--quiet", "--max-iter", "3"]) == 0
    fit = json.loads((tmp_path / "o" / "fit.json").read_text())
    assert fit["model"] == "fb+tube" and set(fit["params"]) >= {"drive", "bias"}
    assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / "o" / "fit.json"), "-o", str(tmp_path / "y.wav"),
                 "--model", "ff5"]) == 1
    assert "holds model 'fb+tube', not 'ff5'" in capsys.readouterr().err
    assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / "o" / "fit.json"), "-o", str(tmp_path / "y.wav"),
                 "--model", "tube+fb", "--quiet"]) == 0
    y, _ = sf.read(tmp_path / "y.wav")
    from dspnewton.result import FitResult

    ref = FitResult.load(tmp_path / "o" / "fit.json").render(torch.from_numpy(x)).numpy()
    assert np.abs(y - ref).max() < 1e-6


def test_plugin_runs_the_recommended_model_in_pedalboard(plugins, tmp_path):
    from conftest import load_vst3

    spec = parse_model(RECOMMENDED_MODEL)
    table = _table(spec)
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    mapping = {mode: {str(int(r["peak"])): {**{k: v for k, v in r.items() if k != "peak"}, "model": spec.name}
                      for r in rows} for mode, rows in table.items()}
    (sweep / "mapping.json").write_text(json.dumps(mapping))
    bundle = export_bundle(sweep, tmp_path / "gb.bundle", model=spec.name)
    assert load_bundle(bundle)["model"] == spec.name
    plugin = load_vst3(plugins, bundle=bundle)
    music = music_like(2.0, SR, seed=10).astype(np.float32)
    for mode in ("compress", "limit"):
        for peak in (40.0, 55.0, 70.0, 100.0):
            _set(plugin, "peak_reduction", peak)
            _set(plugin, "limit_mode", 1.0 if mode == "limit" else 0.0)
            _set(plugin, "follow_table", 1.0)
            plugin.reset()
            y = plugin(music[None], SR)[0]
            p = _native.interpolate(table, mode, float(np.float32(peak)), spec.name)
            theta = model_physical_to_theta(p, spec, SR)
            ref = render_model(torch.from_numpy(music.astype(np.float64)), theta, spec, SR).numpy()
            assert np.abs(y - ref).max() < 1e-4, (mode, peak)


def test_sweep_with_a_model_and_guard(tmp_path, capsys):
    from dspnewton.data.virtual_unit import generate_dataset

    generate_dataset(tmp_path / "data", seconds=3.0, peaks=[70, 100], modes=("compress",), sample_rate=8000)
    out = tmp_path / "sweep"
    args = ["sweep", str(tmp_path / "data"), "-o", str(out), "--modes", "compress", "--peaks", "70,100",
            "--max-iter", "3", "--quiet"]
    assert main(args + ["--model", "fb+2rel"]) == 0
    mapping = json.loads((out / "mapping.json").read_text())
    assert {r["model"] for r in mapping["compress"].values()} == {"fb+2rel"}
    assert "release_slow_ms" in (out / "mapping.csv").read_text().splitlines()[0]
    assert main(args) == 1  # the folder holds another model
    assert "holds a sweep of model 'fb+2rel', not 'ff5'" in capsys.readouterr().err
    bundle = export_bundle(out, tmp_path / "s.bundle")
    assert load_bundle(bundle)["model"] == "fb+2rel"
