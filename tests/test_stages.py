"""The signal-path stages (inhp, outshelf) as filters, the widened ranges, bounds reporting and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import torch
import pytest

from dspnewton import Processor, render
from dspnewton.audio import InputError
from dspnewton.export import export_bundle
from dspnewton.model.models import get_model
from dspnewton.model.schema import param_spec
from dspnewton.result import FitResult
from conftest import run_cli

SR = 44100
QUIET = dict(threshold_db=0.0, ratio=1.0, attack_ms=5.0, release_ms=100.0, makeup_db=0.0)  # no gain reduction


def _own(params, model):
    """The entries of ``params`` that ``model`` has."""
    names = get_model(model).spec.param_names
    return {k: v for k, v in params.items() if k in names}


def _gain_db(model, params, f_hz, sr=SR):
    """Steady-state gain (dB) of a model that does not compress, at one frequency."""
    t = np.arange(int(0.5 * sr)) / sr
    x = 0.01 * np.sin(2 * np.pi * f_hz * t)
    y = render(x, _own(params, model), model, sr)
    tail = slice(len(t) // 2, None)
    return 20 * np.log10(np.sqrt(np.mean(y[tail] ** 2)) / np.sqrt(np.mean(x[tail] ** 2)))


def test_input_high_pass_is_a_first_order_high_pass():
    p = {**QUIET, "input_hp_hz": 100.0}
    assert _gain_db("ff+inhp", p, 100.0) == pytest.approx(-3.01, abs=0.1)  # corner
    assert _gain_db("ff+inhp", p, 10.0) == pytest.approx(-20.0, abs=0.3)  # 20 dB/decade
    assert abs(_gain_db("ff+inhp", p, 5000.0)) < 0.1


def test_output_shelf_gain_and_low_pass_limit():
    p = {**QUIET, "output_shelf_hz": 500.0, "output_shelf_db": -12.0}
    assert abs(_gain_db("ff+outshelf", p, 10.0)) < 0.05  # unity below the corner
    assert _gain_db("ff+outshelf", p, 8000.0) == pytest.approx(-12.0, abs=1.2)  # the shelf gain above it
    lp = {**p, "output_shelf_db": -40.0}  # the lowest gain: a first-order low-pass
    assert _gain_db("ff+outshelf", lp, 500.0) == pytest.approx(-3.0, abs=0.3)
    assert _gain_db("ff+outshelf", lp, 10000.0) < -18.0


def test_corners_mean_the_same_at_every_sample_rate():
    p = {**QUIET, "input_hp_hz": 80.0, "output_shelf_hz": 3000.0, "output_shelf_db": -6.0}
    for f in (40.0, 1000.0, 3000.0):  # the one-pole discretisation departs from the analogue toward Nyquist
        g = [_gain_db("ff+inhp+outshelf", p, f, sr) for sr in (44100, 48000, 96000)]
        assert max(g) - min(g) < 0.35, (f, g)


def test_widened_ranges_and_their_errors(tmp_path, capsys):
    assert (param_spec("ratio").lo, param_spec("ratio").hi) == (1.0, 50.0)
    assert (param_spec("release_ms").lo, param_spec("release_ms").hi) == (5.0, 5000.0)
    assert param_spec("release_slow_ms").hi == 60000.0
    m = get_model("fb+2rel+inhp+outshelf")
    good = {**m.defaults(), "ratio": 45.0, "release_ms": 4000.0, "release_slow_ms": 50000.0}
    back = m.theta_to_physical(m.physical_to_theta(good, SR), SR)
    assert all(float(back[k]) == pytest.approx(v, rel=1e-9) for k, v in good.items())
    # A fit whose parameters sit outside the ranges: a clear error, nothing written.
    fit = {"model": m.name, "sample_rate": SR, "params": {**good, "ratio": 80.0}, "esr": 0.1, "loss": 1.0}
    (tmp_path / "fit.json").write_text(json.dumps(fit))
    with pytest.raises(InputError, match=r"ratio must lie in \[1, 50\], got 80"):
        FitResult.load(tmp_path / "fit.json")
    code, _, err = run_cli(["export", str(tmp_path / "fit.json"), "-o", str(tmp_path / "x.bundle")], capsys)
    assert code == 1 and "ratio must lie in [1, 50]" in err and not (tmp_path / "x.bundle").exists()
    with pytest.raises(ValueError, match="ratio"):
        Processor.from_fit(str(tmp_path / "fit.json"))
    fit["params"] = {**good, "input_hp_hz": 5000.0}
    (tmp_path / "fit.json").write_text(json.dumps(fit))
    code, _, err = run_cli(["render", str(tmp_path / "fit.json"), str(tmp_path / "fit.json"), "-o",
                            str(tmp_path / "y.wav")], capsys)
    assert code == 1 and "input_hp_hz must lie in [1, 1000] Hz" in err and not (tmp_path / "y.wav").exists()


def test_at_bounds_reports_parameters_the_fit_cannot_move():
    m = get_model("fb+2rel+outshelf")
    p = {**m.defaults(), "ratio": 50.0, "release_ms": 5.0, "release_slow_ms": 59990.0, "output_shelf_db": 0.0}
    assert m.at_bounds(p, SR) == {"ratio": "upper", "release_ms": "lower", "release_slow_ms": "upper"}
    assert m.at_bounds(m.defaults(), SR) == {}
    # A theta far past every bound maps onto the bounds exactly (no rounding past them: 0.3 (3/0.3)^1 > 3).
    m2 = get_model("fb+2rel+in2+core+out2")
    for sign, side in ((40.0, "upper"), (-40.0, "lower")):
        far = m2.theta_to_physical(torch.full((m2.n_params,), sign, dtype=torch.float64), SR)
        assert all(param_spec(n).lo <= float(v) <= param_spec(n).hi for n, v in far.items() if param_spec(n).bounded)
        bounds = m2.at_bounds({n: float(v) for n, v in far.items()}, SR)
        assert bounds["input_q"] == side and bounds["output_q"] == side


def test_bundle_of_an_unknown_option_is_refused(tmp_path):
    from conftest import greybox_table as _table
    from dspnewton.model.greybox_spec import parse_model

    spec = parse_model("fb+2rel+inhp+outshelf")
    src = tmp_path / "sweep"
    src.mkdir()
    mapping = {mode: {str(int(r["peak"])): {**{k: v for k, v in r.items() if k != "peak"}, "model": spec.name}
                      for r in rows} for mode, rows in _table(spec).items()}
    (src / "mapping.json").write_text(json.dumps(mapping))
    bundle = export_bundle(src, tmp_path / "ok.bundle")
    proc = Processor.from_bundle(bundle, "compress", 70)
    assert proc.model == spec.name and proc.params["output_shelf_db"] == pytest.approx(-4.0)
    # The same bundle from a newer dspnewton with an option this core does not know.
    d = json.loads((bundle / "bundle.json").read_text())
    d["model"] = "fb+2rel+inhp+outshelf+warp"
    (bundle / "bundle.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match="unknown model option 'warp'.*upgrade dspnewton"):
        Processor.from_bundle(bundle, "compress", 70)


# ------------------------------------------------------------------- second-order stages and the core (issue 26)

STAGE2 = {**QUIET, "input_hp2_hz": 100.0, "input_q": 0.7071, "output_lp_hz": 5000.0, "output_q": 0.7071}


def test_second_order_stages_are_what_they_say():
    p = dict(STAGE2)
    assert _gain_db("ff+in2", p, 100.0) == pytest.approx(-3.01, abs=0.1)  # Butterworth corner
    assert _gain_db("ff+in2", p, 25.0) == pytest.approx(-24.1, abs=0.4)  # 40 dB/decade
    assert abs(_gain_db("ff+in2", p, 5000.0)) < 0.05
    assert _gain_db("ff+in2", {**p, "input_q": 2.0}, 100.0) == pytest.approx(6.02, abs=0.2)  # Q 2: +6 dB peak
    assert _gain_db("ff+out2", p, 5000.0) == pytest.approx(-3.01, abs=0.15)
    # An octave above: the analogue's -12.3 dB at the bilinear transform's warped frequency (-14.8 dB at 44.1 kHz).
    w = math.tan(math.pi * 10000.0 / SR) / math.tan(math.pi * 5000.0 / SR)
    assert _gain_db("ff+out2", p, 10000.0) == pytest.approx(-10 * math.log10(1 + w ** 4), abs=0.1)
    assert abs(_gain_db("ff+out2", p, 100.0)) < 0.05
    assert _gain_db("ff+out2", {**p, "output_q": 1.2}, 5000.0) == pytest.approx(1.58, abs=0.2)  # a small peak
    for f in (40.0, 100.0, 1000.0, 5000.0):  # the analogue prototype at every rate, up to the corners
        g = [_gain_db("ff+in2+out2", p, f, sr) for sr in (44100, 48000, 96000)]
        assert max(g) - min(g) < 0.3, (f, g)


def _thd(model, params, f_hz, amp, sr=SR):
    """Total harmonic distortion (2nd..5th, relative to the fundamental) of a steady sine through a model."""
    t = np.arange(sr) / sr
    y = render(amp * np.sin(2 * np.pi * f_hz * t), _own(params, model), model, sr)[sr // 2:]
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    k = int(round(f_hz * len(y) / sr))
    h = [spec[n * k - 2:n * k + 3].max() for n in range(1, 6)]
    return np.sqrt(sum(v * v for v in h[1:])) / h[0]


def test_saturating_core_distorts_with_level_and_towards_low_frequencies():
    p = {**QUIET, "core_hz": 20.0, "core_sat_db": -10.0}
    low_loud, high_loud, low_quiet = _thd("ff+core", p, 40.0, 1.0), _thd("ff+core", p, 400.0, 1.0), \
        _thd("ff+core", p, 40.0, 0.1)
    assert low_loud > 0.01 and low_loud > 30 * high_loud and low_loud > 30 * low_quiet
    assert _thd("ff+core", {**p, "core_sat_db": 40.0}, 40.0, 1.0) < 1e-4  # no saturation: linear
    assert _gain_db("ff+core", {**p, "core_sat_db": 40.0}, 20.0) == pytest.approx(-3.0, abs=0.3)  # its corner


@pytest.mark.parametrize("name", ["fb+2rel+sc+in2+core+out2", "ff+knee+inhp+core+out2"])
def test_cpp_core_runs_the_second_order_stages_at_every_rate_and_block_size(name):
    from conftest import greybox_params
    from dspnewton import _native
    from dspnewton.model.greybox import render_model
    from dspnewton.model.greybox_spec import parse_model
    from dspnewton.synth import music_like

    spec = parse_model(name)
    for sr in (44100, 48000, 96000):
        x = music_like(0.5, sr, seed=3)
        th, p = greybox_params(spec, sr)
        ref = render_model(torch.from_numpy(x), th, spec, sr).numpy()
        scale = np.abs(ref).max()
        outs = [_native.process(x, p, sr, block, name) for block in (1, 7, 64, 4097)]
        for y in outs:
            assert np.abs(y - ref).max() <= 1e-12 * scale, sr
            assert np.array_equal(y, outs[0])  # block size changes nothing
        proc = Processor.from_params(p, model=name, sample_rate=sr)
        assert np.abs(proc.process(x) - ref).max() <= 1e-12 * scale


def test_second_order_stages_bad_input(tmp_path, capsys):
    from dspnewton import _native
    from dspnewton.model.greybox_spec import parse_model

    m = get_model("fb+2rel+in2+core+out2")
    good = {**m.defaults(), "output_lp_hz": 15000.0}
    # A sample rate whose Nyquist lies below the output low-pass's range: every path refuses it.
    with pytest.raises(InputError, match="above Nyquist at 32000 Hz; use a sample rate above 40000 Hz"):
        render(np.zeros(100), good, m.name, 32000)
    with pytest.raises(ValueError, match="above Nyquist at 32000 Hz"):
        Processor.from_params(good, model=m.name, sample_rate=32000)
    with pytest.raises(ValueError, match="above Nyquist at 32000 Hz"):
        _native.process(np.zeros(10), good, 32000, 0, m.name)
    # Q or corner outside its range in a fit.json: a clear error, nothing written.
    fit = {"model": m.name, "sample_rate": SR, "params": {**good, "input_q": 9.0}, "esr": 0.1, "loss": 1.0}
    (tmp_path / "fit.json").write_text(json.dumps(fit))
    with pytest.raises(InputError, match=r"input_q must lie in \[0.3, 3\], got 9"):
        FitResult.load(tmp_path / "fit.json")
    code, _, err = run_cli(["export", str(tmp_path / "fit.json"), "-o", str(tmp_path / "x.bundle")], capsys)
    assert code == 1 and "input_q must lie in [0.3, 3]" in err and not (tmp_path / "x.bundle").exists()
    with pytest.raises(ValueError, match="out of range"):
        Processor.from_params({**good, "output_q": 0.1}, model=m.name)
    # Two forms of one stage: refused by name in Python and in the C++ core.
    with pytest.raises(ValueError, match="has both 'outshelf' and 'out2'"):
        parse_model("ff+outshelf+out2")
    with pytest.raises(ValueError, match="has both 'inhp' and 'in2'"):
        _native.process(np.zeros(10), {**good, "input_hp_hz": 5.0}, SR, 0, "ff+inhp+in2")
