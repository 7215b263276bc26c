"""One continuous knob: the joint fit's exact derivatives, its curves through sweep, eval,
plot, export, the C++ core, the processor and the plugin (ff5, fb+2rel, recommended), and
bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dspnewton import Processor, _native
from dspnewton.audio import InputError
from dspnewton.data.virtual_unit import generate_dataset
from dspnewton.export import export_bundle, load_bundle
from dspnewton.joint import KnobCurves, joint_fit, legendre_basis
from dspnewton.optim.newton import NewtonOptions
from dspnewton.model.greybox_spec import RECOMMENDED_MODEL
from dspnewton.model.models import get_model
from dspnewton.objective.framing import make_frames
from dspnewton.sweep import load_joint
from dspnewton.synth import music_like
from conftest import run_cli as _run

SR = 8000
PEAKS = (40, 55, 70, 85, 100)
MODELS = ["ff5", "fb+2rel", RECOMMENDED_MODEL]


def test_legendre_basis():
    u = np.linspace(-1, 1, 7)
    ref = np.stack([np.polynomial.legendre.legval(u, np.eye(5)[j]) for j in range(5)], axis=-1)
    assert np.allclose(legendre_basis(u, 4), ref, atol=1e-14)


def _settings(model, n=4, seconds=0.6):
    """Synthetic settings: the model's defaults with a threshold and make-up that move with the knob."""
    m = get_model(model)
    x = torch.from_numpy(music_like(seconds, SR, seed=2))
    settings, init = {}, {}
    for i, peak in enumerate(np.linspace(40, 100, n)):
        p = dict(m.defaults(), threshold_db=-20.0 - 0.2 * (peak - 40), makeup_db=0.03 * (peak - 40), ratio=3.0)
        y = m.render(x, m.physical_to_theta(p, SR), SR).detach()
        settings[float(peak)] = make_frames(x, y + 1e-3 * torch.sin(torch.arange(len(x)) * 0.01), SR, 0.2, 0.05)
        init[float(peak)] = dict(p, threshold_db=p["threshold_db"] + 1.0)
    return settings, init


@pytest.mark.parametrize("model", ["ff5", "fb+2rel"])
def test_joint_gradient_and_hessian_are_exact(model):
    """The joint objective's gradient and Hessian (assembled from per-setting fused passes)
    against central finite differences of the joint loss."""
    import dspnewton.joint as J

    settings, init = _settings(model)
    captured = {}
    real_newton = J.newton

    def grab(lgh, loss_only, c0, opts, cb, loss_grad=None):
        captured.update(lgh=lgh, loss=loss_only, c0=c0, lg=loss_grad)
        return real_newton(lgh, loss_only, c0, J.NewtonOptions(max_iter=1), cb)

    J.newton = grab
    try:
        joint_fit(settings, model, SR, init, degree=2)
    finally:
        J.newton = real_newton
    c = captured["c0"].clone()
    L, g, H = captured["lgh"](c)
    assert float(L) == pytest.approx(captured["loss"](c), rel=1e-12)
    Lg, gg = captured["lg"](c)  # the gradient alone (lazy Hessians): the same sums
    assert Lg == float(L) and torch.equal(gg, g)
    h = 1e-5
    for i in range(0, len(c), 2):
        e = torch.zeros_like(c)
        e[i] = h
        gp, gm = captured["lgh"](c + e)[1], captured["lgh"](c - e)[1]
        fd_g = (captured["loss"](c + e) - captured["loss"](c - e)) / (2 * h)
        assert float(g[i]) == pytest.approx(fd_g, rel=1e-4, abs=1e-7 * float(g.abs().max()))
        fd_h = (gp - gm) / (2 * h)
        assert torch.allclose(H[:, i], fd_h, rtol=1e-4, atol=1e-5 * float(H.abs().max()))


def test_joint_fit_improves_on_its_start_and_bad_input():
    settings, init = _settings("ff5", n=5)
    jr = joint_fit(settings, "ff5", SR, init, degree=2)
    assert jr.mean_esr < jr.start_mean_esr and set(jr.esr) == set(settings)
    lazy = joint_fit(settings, "ff5", SR, init, degree=2, options=NewtonOptions(lazy_hessian=True, lazy_near=1.0))
    assert lazy.converged and lazy.mean_esr <= 1.001 * jr.mean_esr
    back = KnobCurves.from_dict(json.loads(json.dumps(jr.curves.to_dict())))
    assert back.params(63.0) == pytest.approx(jr.curves.params(63.0), rel=1e-14)
    assert back.params(10.0) == back.params(40.0) and back.params(120.0) == back.params(100.0)  # held ends
    with pytest.raises(InputError, match="needs at least 6 settings per mode.*joint_degree=4"):
        joint_fit(settings, "ff5", SR, init, degree=5)
    bad = jr.curves.to_dict()
    bad["coefficients"]["ratio"] = bad["coefficients"]["ratio"][:-1]
    with pytest.raises(InputError, match="malformed knob curves.*degree \\+ 1 coefficients"):
        KnobCurves.from_dict(bad)
    bad = jr.curves.to_dict()
    del bad["coefficients"]["ratio"]
    with pytest.raises(InputError, match="malformed knob curves"):
        KnobCurves.from_dict(bad)


@pytest.fixture(scope="module")
def virtual(tmp_path_factory):
    d = tmp_path_factory.mktemp("virtual_joint")
    generate_dataset(d, seconds=3.0, peaks=PEAKS, modes=("compress",), sample_rate=SR)
    return d


@pytest.mark.parametrize("model", MODELS)
def test_joint_sweep_end_to_end(model, virtual, tmp_path, capsys):
    m = get_model(model)
    sweep = tmp_path / "sweep"
    code, out, err = _run(["sweep", str(virtual), "-o", str(sweep), "--modes", "compress", "--peaks",
                           ",".join(map(str, PEAKS)), "--model", model, "--joint", "--joint-degree", "2"], capsys)
    assert code == 0, err
    assert "joint compress: mean ESR" in out
    curves = load_joint(sweep)["compress"]
    assert curves.model == m.name and curves.degree == 2
    mapping = json.loads((sweep / "mapping.json").read_text())["compress"]
    joint = json.loads((sweep / "joint.json").read_text())["modes"]["compress"]
    for peak, row in mapping.items():
        assert row["source"] == "joint"
        assert {k: row[k] for k in m.param_names} == pytest.approx(curves.params(float(peak)), rel=1e-12)
        assert row["esr"] == pytest.approx(joint["esr"][peak])
    assert joint["mean_esr"] <= joint["start_mean_esr"] * (1 + 1e-9)
    # eval: the anchors' joint curves scored at held-out settings beside the other methods.
    code, out, err = _run(["eval", str(sweep)], capsys)
    assert code == 0, err
    summary = json.loads((sweep / "eval_summary.json").read_text())["compress"]
    assert summary["methods"] == ["fitted", "linear", "spline", "joint"] and summary["held_out"] == [55, 85]
    assert "joint: mean ESR" in out
    if model == MODELS[0]:  # the joint curves' figure (plot of every model: test_models.py)
        code, out, err = _run(["plot", str(sweep)], capsys)
        assert code == 0, err
    # export: the curves go into the bundle (schema 2) and the C++ core evaluates them anywhere.
    code, out, err = _run(["export", str(sweep), "-o", str(tmp_path / "j.bundle")], capsys)
    assert code == 0, err
    d = load_bundle(tmp_path / "j.bundle")
    assert d["schema_version"] == 2 and d["curves"]["compress"]["degree"] == 2
    assert d["provenance"]["knob"] == "joint-fit curves"
    for peak in (40.0, 47.5, 62.25, 91.0, 100.0, 20.0):
        proc = Processor.from_bundle(tmp_path / "j.bundle", "compress", peak)
        want = curves.params(peak)
        assert proc.params == pytest.approx(want, rel=1e-12, abs=1e-12), peak
        assert proc.curves["compress"]["degree"] == 2
    # A per-setting rerun drops the curves (they no longer match its mapping).
    code, out, err = _run(["sweep", str(virtual), "-o", str(sweep), "--modes", "compress", "--peaks",
                           ",".join(map(str, PEAKS)), "--model", model, "--quiet"], capsys)
    assert code == 0 and not (sweep / "joint.json").exists()
    assert "source" not in json.loads((sweep / "mapping.json").read_text())["compress"]["70"]


def test_joint_bundle_in_the_plugin_between_settings(virtual, plugins, tmp_path, capsys):
    """pedalboard: the installed plugin with the joint bundle loaded, at knob positions between the fitted
    settings, follows the curves."""
    from conftest import load_vst3, set_param as _set

    sweep = tmp_path / "sweep"
    assert _run(["sweep", str(virtual), "-o", str(sweep), "--modes", "compress", "--peaks", ",".join(map(str, PEAKS)),
                 "--joint", "--joint-degree", "3", "--quiet"], capsys)[0] == 0
    bundle = export_bundle(sweep, tmp_path / "j.bundle")
    plugin = load_vst3(plugins, bundle=bundle)
    x = music_like(1.0, SR, seed=3).astype(np.float32)
    curves = load_joint(sweep)["compress"]
    for peak in (47.0, 63.5, 92.0):
        _set(plugin, "peak_reduction", peak)
        plugin.reset()
        y = plugin(x[None], SR)[0]
        knob = float(plugin.peak_reduction)
        proc = Processor.from_bundle(bundle, "compress", knob, sample_rate=SR)
        assert proc.params == pytest.approx(curves.params(knob), rel=1e-12)
        assert np.array_equal(y, proc.process(x)), peak


def test_joint_bad_input(virtual, tmp_path, capsys):
    out = tmp_path / "few"
    code, _, err = _run(["sweep", str(virtual), "-o", str(out), "--modes", "compress", "--peaks", "70,100",
                         "--joint"], capsys)
    assert code != 0 and "needs at least 4 settings per mode; compress has 2 (70, 100)" in err
    assert "--joint-degree 1" in err and not out.exists()
    # Malformed curves in a bundle: each a clear error from the C++ reader.
    table = {"compress": [dict(peak=40.0, threshold_db=-20.0, ratio=3.0, attack_ms=5.0, release_ms=100.0,
                               makeup_db=1.0, esr=0.0),
                          dict(peak=100.0, threshold_db=-30.0, ratio=4.0, attack_ms=2.0, release_ms=200.0,
                               makeup_db=2.0, esr=0.0)]}
    good = {"compress": {"basis": "legendre", "degree": 1, "knob_lo": 40.0, "knob_hi": 100.0, "sample_rate": 44100,
                         "coefficients": {"threshold_db": [-25.0, -5.0], "ratio": [0.0, 0.1], "attack_ms": [0.0, 0.0],
                                          "release_ms": [0.0, 0.0], "makeup_db": [1.5, 0.5]}}}
    text = _native.bundle_json(table, 44100, "{}", "ff5", good)
    assert _native.parse_bundle(text)["curves"]["compress"]["coefficients"]["ratio"] == [0.0, 0.1]
    cases = [
        (lambda c: c["coefficients"].__setitem__("ratio", [0.0]), "needs 2 coefficients"),
        (lambda c: c["coefficients"].pop("ratio"), "lack the coefficients of 'ratio'"),
        (lambda c: c["coefficients"].__setitem__("knee_db", [0.0, 0.0]), "'knee_db', which model ff5 does not have"),
        (lambda c: c.__setitem__("degree", 9), "degree must be 0..7"),
        (lambda c: c.__setitem__("knob_hi", 140.0), "knob_lo..knob_hi must lie in 0..100"),
        (lambda c: c["coefficients"].__setitem__("makeup_db", [float("nan"), 0.0]), "coefficients must be finite"),
    ]
    for change, message in cases:
        bad = json.loads(json.dumps(good))
        change(bad["compress"])
        with pytest.raises(ValueError, match=message):
            _native.bundle_json(table, 44100, "{}", "ff5", bad)
    doc = json.loads(text)
    doc["curves"]["compress"]["coefficients"]["ratio"] = [0.0, 0.2]
    with pytest.raises(ValueError, match="checksum mismatch"):
        _native.parse_bundle(json.dumps(doc))
    doc = json.loads(text)
    doc["schema_version"] = 1
    with pytest.raises(ValueError, match="curves and residuals need schema_version 2"):
        _native.parse_bundle(json.dumps(doc))
    doc = json.loads(text)
    del doc["curves"]
    with pytest.raises(ValueError, match="holds curves or a residual; this one has neither"):
        _native.parse_bundle(json.dumps(doc))
    # A damaged joint.json is refused by export, naming the file.
    sweep = tmp_path / "s"
    sweep.mkdir()
    (sweep / "mapping.json").write_text(json.dumps({"compress": {"40": {**table["compress"][0], "model": "ff5"},
                                                                 "100": {**table["compress"][1], "model": "ff5"}}}))
    (sweep / "joint.json").write_text(json.dumps({"modes": {"compress": {"curves": {"model": "ff5"}}}}))
    with pytest.raises(InputError, match="joint.json.*malformed knob curves"):
        export_bundle(sweep, tmp_path / "x.bundle")
    assert not (tmp_path / "x.bundle").exists()
