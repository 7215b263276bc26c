"""The signal-path stages (inhp, outshelf) as filters, the widened ranges, bounds reporting and bad input."""

from __future__ import annotations

import json

import numpy as np
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


def _gain_db(model, params, f_hz, sr=SR):
    """Steady-state gain (dB) of a model that does not compress, at one frequency."""
    t = np.arange(int(0.5 * sr)) / sr
    x = 0.01 * np.sin(2 * np.pi * f_hz * t)
    y = render(x, params, model, sr)
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
