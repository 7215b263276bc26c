"""The GRU residual (+gru): the C++ GRU equals PyTorch's, fit -> fit.json -> render, the
processor (parity 1e-5 float32, block-size invariance), export and the plugin, the CLI, and
bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dspnewton import Processor, _native, fit
from dspnewton.audio import InputError
from dspnewton.cli import main
from dspnewton.data.virtual_unit import OpticalLeveler
from dspnewton.export import export_bundle, load_bundle
from dspnewton.model.greybox_spec import RECOMMENDED_MODEL
from dspnewton.model.residual import GRUResidual, apply_residual, split_model_name
from dspnewton.result import FitResult
from dspnewton.synth import music_like

SR = 8000


def _random_weights(seed=0):
    torch.manual_seed(seed)
    m = GRUResidual(torch.float64)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0.0, 0.4)
    return m.weights()


def test_compiled_gru_equals_pytorch_in_float64():
    """apply_residual's compiled loop runs PyTorch's GRU equations: equal to torch.nn.GRU in float64, per row
    from h = 0, keeping the input's dtype."""
    w = _random_weights(3)
    y = torch.from_numpy(np.stack([music_like(0.3, SR, seed=s) for s in (5, 6)]))
    with torch.no_grad():
        r, _ = GRUResidual.from_weights(w)(y)
    got = apply_residual(y, w)
    assert torch.allclose(got, y + r, rtol=0, atol=1e-13) and not torch.allclose(got, y)
    assert torch.equal(apply_residual(y[1], w), got[1])
    assert apply_residual(y.float(), w).dtype == torch.float32


def test_cpp_gru_equals_pytorch():
    w = _random_weights()
    x = music_like(0.5, SR, seed=4)
    p = dict(threshold_db=-24.0, ratio=4.0, attack_ms=3.0, release_ms=80.0, makeup_db=1.0)
    dsp = _native.process(x, p, SR)
    want = apply_residual(torch.from_numpy(dsp), w).numpy()
    flat = {"type": "gru", "hidden": 8, **w}
    got = Processor.from_params(p, "ff5", SR, residual=flat).process(x)
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()  # the core's GRU runs in float32
    assert not np.allclose(want, dsp)  # the residual does something
    stereo = Processor.from_params(p, "ff5", SR, residual=flat, channels=2, link=False).process(np.stack([x, x]))
    assert np.array_equal(stereo[0], got) and np.array_equal(stereo[1], got)  # one GRU state per channel


def test_split_model_name():
    assert split_model_name("fb+2rel+gru") == ("fb+2rel", True)
    assert split_model_name("ff5") == ("ff5", False)
    with pytest.raises(InputError, match="'gru' is a residual added to a model"):
        split_model_name("gru")


@pytest.fixture(scope="module")
def pair():
    x = music_like(4.0, SR, seed=1)
    return x, OpticalLeveler(80.0).process(x, SR)


@pytest.mark.parametrize("model", ["ff5", "fb+2rel", RECOMMENDED_MODEL])
def test_fit_with_residual_end_to_end(model, pair, tmp_path):
    x, y = pair
    r = fit(x, y, SR, model=model + "+gru", frame_seconds=2.0, overlap_seconds=0.5, gru_epochs=2)
    assert r.model.endswith("+gru") and r.residual["epochs"] >= 1
    assert r.esr <= r.residual["esr_dsp"] * (1 + 1e-6)  # best epoch kept: never worse in-sample
    r.save(tmp_path / "fit.json")
    back = FitResult.load(tmp_path / "fit.json")
    assert back.model == r.model and back.residual["weights"] == r.residual["weights"]
    ref = back.render(torch.from_numpy(x)).numpy()
    proc = Processor.from_fit(tmp_path / "fit.json")
    assert proc.model == r.model and proc.residual is not None
    out32 = proc.process(x.astype(np.float32))
    assert np.abs(out32 - ref).max() <= 1e-5 * np.abs(ref).max()  # float32 parity
    # Block-size invariance with the GRU state carried.
    whole = Processor.from_fit(tmp_path / "fit.json").process(x)
    for block in (1, 64, 4097):
        p = Processor.from_fit(tmp_path / "fit.json")
        parts = [p.process(np.ascontiguousarray(x[s:s + block])) for s in range(0, len(x), block)]
        assert np.array_equal(np.concatenate(parts), whole), block
    # Export from the fit.json: schema 2 with the residual; the processor from the bundle is the same.
    b = export_bundle(tmp_path / "fit.json", tmp_path / "r.bundle", model=r.model)
    d = load_bundle(b)
    assert d["schema_version"] == 2 and d["residual"]["hidden"] == 8
    assert np.array_equal(Processor.from_bundle(b, "compress", 100, sample_rate=SR).process(x), whole)


def test_plugin_runs_the_residual(pair, plugins, tmp_path):
    from conftest import load_vst3

    x, y = pair
    r = fit(x, y, SR, model="ff5+gru", frame_seconds=2.0, overlap_seconds=0.5, gru_epochs=2)
    r.save(tmp_path / "fit.json")
    b = export_bundle(tmp_path / "fit.json", tmp_path / "r.bundle")
    for stereo in (False, True):
        plugin = load_vst3(plugins, stereo=stereo, bundle=b, mode="compress", peak=100.0)
        xx = np.stack([x, x]).astype(np.float32) if stereo else x[None].astype(np.float32)
        out = plugin(xx, SR)
        want = Processor.from_bundle(b, "compress", 100, sample_rate=SR, channels=2 if stereo else 1).process(
            xx if stereo else xx[0])
        assert np.array_equal(out if stereo else out[0], want)


def test_cli_fit_and_render_with_residual(pair, tmp_path, capsys):
    import soundfile as sf

    x, y = pair
    sf.write(tmp_path / "in.wav", x, SR, subtype="FLOAT")
    sf.write(tmp_path / "tg.wav", y, SR, subtype="FLOAT")
    assert main(["fit", str(tmp_path / "in.wav"), str(tmp_path / "tg.wav"), "-o", str(tmp_path / "out"), "--model",
                 "ff5+gru", "--gru-epochs", "2", "--frame-seconds", "2", "--overlap-seconds", "0.5", "--quiet"]) == 0
    assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / "out" / "fit.json"), "-o", str(tmp_path / "r.wav"),
                 "--model", "ff5+gru"]) == 0
    rendered, _ = sf.read(tmp_path / "r.wav")
    want = FitResult.load(tmp_path / "out" / "fit.json").render(torch.from_numpy(x)).numpy()
    assert np.abs(rendered - want).max() < 1e-6


def test_joint_sweep_with_residual_end_to_end(plugins, tmp_path, capsys):
    """sweep --joint with a '+gru' model: one residual for the sweep, eval (joint and fitted+gru
    rows), plot, export with the plugin, and the plugin between settings."""
    from dspnewton.data.virtual_unit import generate_dataset
    from dspnewton.sweep import load_joint, load_residual
    from conftest import load_vst3, set_param as _set

    generate_dataset(tmp_path / "data", seconds=3.0, peaks=(40, 55, 70, 85, 100), modes=("compress",),
                     sample_rate=SR)
    sweep = tmp_path / "sweep"
    assert main(["sweep", str(tmp_path / "data"), "-o", str(sweep), "--modes", "compress", "--peaks",
                 "40,55,70,85,100", "--model", "fb+2rel+gru", "--joint", "--joint-degree", "2", "--gru-epochs", "2",
                 "--quiet"]) == 0
    res = load_residual(sweep)
    assert res["trained_on"] == "joint curves" and sorted(res["settings"]["compress"]) == ["100", "40", "55", "70",
                                                                                          "85"]
    mapping = json.loads((sweep / "mapping.json").read_text())["compress"]
    assert all(r["model"] == "fb+2rel" and "esr_with_residual" in r for r in mapping.values())
    assert main(["eval", str(sweep)]) == 0
    summary = json.loads((sweep / "eval_summary.json").read_text())["compress"]
    assert summary["methods"] == ["fitted", "linear", "spline", "joint", "fitted+gru"]
    assert any("in-sample" in n for n in summary["notes"])
    assert main(["plot", str(sweep)]) == 0
    capsys.readouterr()
    assert main(["export", str(sweep), "-o", str(tmp_path / "g.bundle"), "--model", "fb+2rel+gru"]) == 0
    assert "with joint-fit knob curves and GRU residual" in capsys.readouterr().out
    bundle = tmp_path / "g.bundle"
    proc = Processor.from_bundle(bundle, "compress", 63.0, sample_rate=SR)
    assert proc.model == "fb+2rel+gru"
    assert proc.params == pytest.approx(load_joint(sweep)["compress"].params(63.0), rel=1e-12)
    plugin = load_vst3(plugins, bundle=bundle)  # the installed plugin with the joint bundle loaded
    _set(plugin, "peak_reduction", 63.0)
    plugin.reset()
    x = music_like(1.0, SR, seed=5).astype(np.float32)
    assert np.array_equal(plugin(x[None], SR)[0], proc.process(x))


def test_residual_bad_input(pair, tmp_path):
    x, y = pair
    r = fit(x, y, SR, model="ff5+gru", frame_seconds=2.0, overlap_seconds=0.5, gru_epochs=1)
    d = r.to_dict()
    bad = dict(d, residual={})
    (tmp_path / "a.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match="holds no GRU residual weights"):
        FitResult.load(tmp_path / "a.json")
    with pytest.raises(InputError, match="holds no GRU residual weights"):  # the same reader
        Processor.from_fit(tmp_path / "a.json")
    bad = json.loads(json.dumps(d))
    bad["residual"]["weights"]["w_hh"] = bad["residual"]["weights"]["w_hh"][:-1]
    (tmp_path / "b.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match="w_hh has shape \\(23, 8\\), expected \\(24, 8\\)"):
        FitResult.load(tmp_path / "b.json")
    with pytest.raises(InputError, match="w_hh has shape \\(23, 8\\), expected \\(24, 8\\)"):
        Processor.from_fit(tmp_path / "b.json")
    bad = dict(json.loads(json.dumps(d)), model="ff5")
    (tmp_path / "c.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match="holds a GRU residual but its model 'ff5' has no '\\+gru'"):
        FitResult.load(tmp_path / "c.json")
    table = {"compress": [dict(peak=100.0, **r.all_params, esr=0.0)]}
    flat = {"type": "gru", "hidden": 8, **r.residual["weights"]}
    for change, message in ((lambda f: f.__setitem__("hidden", 4), "hidden size must be 8"),
                            (lambda f: f.__setitem__("type", "lstm"), "unsupported residual type 'lstm'"),
                            (lambda f: f["b_ih"].__setitem__(0, float("inf")), "must be finite"),
                            (lambda f: f.pop("b_out"), "missing key 'b_out'")):
        broken = json.loads(json.dumps(flat))
        change(broken)
        with pytest.raises(ValueError, match=message):
            _native.bundle_json(table, SR, "{}", "ff5", None, broken)
    text = _native.bundle_json(table, SR, "{}", "ff5", None, flat)
    doc = json.loads(text)
    doc["residual"]["b_out"] = [doc["residual"]["b_out"][0] + 1e-3]
    with pytest.raises(ValueError, match="checksum mismatch"):
        _native.parse_bundle(json.dumps(doc))
