"""dspnewton.Processor: the plugin's real-time core from Python (parity with the PyTorch
model for every model, streaming, controls and their smoothing, channels, bad input)."""

from __future__ import annotations

import json
from pathlib import Path
import threading
import time

import numpy as np
import pytest
import torch

import dspnewton
from dspnewton import Processor, _native, render
from dspnewton.model.greybox_spec import RECOMMENDED_MODEL, parse_model
from dspnewton.result import FitResult
from dspnewton.model.params import PARAM_NAMES, CompressorParams
from dspnewton.synth import music_like
from conftest import greybox_params as _params, greybox_table as _table

SR = 44100
MODELS = ["ff5", "fb+2rel", RECOMMENDED_MODEL, "fb+2rel+inhp+outshelf"]


@pytest.fixture(scope="module")
def music():
    return music_like(1.0, SR, seed=21)


def _bundle(tmp_path, model, sample_rate=SR, name="unit"):
    spec = parse_model(model)
    d = tmp_path / f"{name}_{spec.name.replace('+', '_')}.bundle"
    d.mkdir()
    _native.write_bundle_files(str(d), _table(spec), sample_rate, "{}", spec.name)
    return d


# Every model's Processor against the PyTorch model: tests/test_greybox_export.py::test_cpp_core_matches_pytorch_for_every_model.


@pytest.mark.parametrize("model", MODELS)
def test_parity_with_render(model, music):
    """The public ``dspnewton.render`` and the Processor agree (float64 and float32 in)."""
    spec = parse_model(model)
    _, p = _params(spec)
    ref = render(music, p, spec.name, SR)
    for dtype in (np.float64, np.float32):
        y = Processor.from_params(p, spec.name, SR).process(music.astype(dtype))
        assert y.dtype == dtype and y.shape == music.shape
        assert np.abs(y - ref).max() / np.abs(ref).max() <= 1e-5, spec.name


@pytest.mark.parametrize("model", MODELS)
def test_bundle_processor_matches_render_at_grid_and_between(tmp_path, model, music):
    spec = parse_model(model)
    table = _table(spec)
    proc = Processor.from_bundle(_bundle(tmp_path, model), "limit", 70)
    assert proc.model == spec.name and proc.fitted_sample_rate == SR and proc.modes == ["compress", "limit"]
    row = {k: v for k, v in table["limit"][1].items() if k not in ("peak", "esr")}
    assert proc.params == pytest.approx(row, rel=1e-12)
    y = proc.process(music)
    ref = render(music, row, model, SR)
    assert np.abs(y - ref).max() / np.abs(ref).max() <= 1e-5
    # Between grid points: the table's linear interpolation (the same as _native.interpolate).
    between = Processor.from_bundle(_bundle(tmp_path, model, name="b"), "compress", 55)
    want = _native.interpolate(table, "compress", 55, spec.name)
    assert between.params == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("model", MODELS)
def test_streaming_is_block_size_invariant(model, music):
    _, p = _params(parse_model(model))
    x = np.stack([music, np.roll(music, 777) * 0.5])
    whole = Processor.from_params(p, model, SR, channels=2).process(x)
    rng = np.random.default_rng(0)
    for sizes in ([1] * 300 + [x.shape[1] - 300], [64], [4097], list(rng.integers(1, 3000, 40))):
        proc = Processor.from_params(p, model, SR, channels=2)
        out, at, k = [], 0, 0
        while at < x.shape[1]:
            n = int(sizes[k % len(sizes)])
            out.append(proc.process(np.ascontiguousarray(x[:, at:at + n])))
            at, k = at + n, k + 1
        assert np.array_equal(np.concatenate(out, axis=1), whole)


@pytest.mark.parametrize("model", MODELS)
def test_stereo_linked_and_dual_mono(model, music):
    _, p = _params(parse_model(model))
    mono = Processor.from_params(p, model, SR).process(music)
    same = Processor.from_params(p, model, SR, channels=2).process(np.stack([music, music]))
    assert np.array_equal(same[0], mono) and np.array_equal(same[1], mono)  # bit for bit
    other = np.roll(music, 5000) * 0.3
    dual = Processor.from_params(p, model, SR, channels=2, link=False).process(np.stack([music, other]))
    assert np.array_equal(dual[0], mono)
    assert np.array_equal(dual[1], Processor.from_params(p, model, SR).process(other))
    # Linked: one gain for both channels, from the louder channel per sample.
    linked_proc = Processor.from_params(p, model, SR, channels=2)
    y, gr = linked_proc.process(np.stack([music, other]), return_gain_reduction=True)
    if model == "ff5":  # no output stage beyond the gain: the channel ratio is the input's
        nz = (np.abs(other) > 1e-3) & (np.abs(music) > 1e-3)
        ratio = (y[1][nz] / other[nz]) / (y[0][nz] / music[nz])
        assert np.allclose(ratio, 1.0, rtol=1e-9)
    assert gr.shape == music.shape and (gr >= 0).all() and gr.max() > 1.0
    assert linked_proc.gain_reduction_db == pytest.approx(gr[-1])


def test_gain_reduction_reading_is_the_gain(music):
    p = CompressorParams(-25.0, 4.0, 5.0, 100.0, 0.0).to_dict()
    proc = Processor.from_params(p, "ff5", SR)
    y, gr = proc.process(music, return_gain_reduction=True)
    nz = np.abs(music) > 1e-4
    assert np.allclose(y[nz] / music[nz], 10 ** (-gr[nz] / 20), rtol=1e-10)


def test_controls_gain_bypass_and_smoothing(tmp_path, music):
    proc = Processor.from_bundle(_bundle(tmp_path, "ff5"), "compress", 70)
    ref = proc.process(music)
    proc.reset()
    proc.gain_db = 6.0
    proc.settle()
    assert np.allclose(proc.process(music), ref * 10 ** (6 / 20), rtol=1e-12)
    proc.gain_db = 0.0
    proc.bypass = True
    proc.reset()
    assert np.array_equal(proc.process(music), music)
    # A change moves over 20 ms (882 samples at 44.1 kHz), the same in any block size.
    proc = Processor.from_bundle(_bundle(tmp_path, "ff5", name="r"), "compress", 40)
    start = proc.params["threshold_db"]
    proc.process(music[:10])
    proc.peak = 100
    proc.process(music[10:451])
    mid = proc.params["threshold_db"]
    proc.process(music[451:892])
    end = proc.params["threshold_db"]
    target = Processor.from_bundle(proc.source, "compress", 100).params["threshold_db"]
    assert end == pytest.approx(target, rel=1e-12) and min(start, end) < mid < max(start, end)
    assert mid == pytest.approx(start + (end - start) * 441 / 882, rel=1e-9)  # linear in time
    assert proc.peak == 100 and proc.mode == "compress"
    # Before the first sample after reset() there is nothing to smooth from: at once.
    proc.reset()
    proc.peak = 40
    assert proc.params["threshold_db"] == pytest.approx(start, rel=1e-12)


def test_link_switch_is_continuous(music):
    """Switching linked <-> independent mid-stream starts the new detectors from the old
    state and cross-fades: no step beyond the signal's own."""
    _, p = _params(parse_model("ff5"))
    x = np.stack([music, np.roll(music, 3000) * 0.2])
    proc = Processor.from_params(p, "ff5", SR, channels=2)
    ys = [proc.process(x[:, :20000])]
    proc.link = False
    ys.append(proc.process(x[:, 20000:30000]))
    proc.link = True
    ys.append(proc.process(x[:, 30000:]))
    y = np.concatenate(ys, axis=1)
    steps = np.abs(np.diff(y, axis=1))
    ref = np.maximum(*(np.abs(np.diff(Processor.from_params(p, "ff5", SR, channels=2, link=link).process(x), axis=1))
                       for link in (True, False)))
    for at in (20000, 30000):
        window = slice(at - 1, at + 900)
        assert steps[:, window].max() <= 1.05 * ref[:, window].max() + 1e-6


def test_nan_and_inf_never_poison_the_state(music):
    for model in MODELS:
        _, p = _params(parse_model(model))
        bad = music.copy()
        bad[100:110] = np.nan
        bad[500] = np.inf
        bad[501] = -np.inf
        clean = bad.copy()
        clean[~np.isfinite(clean)] = 0.0
        a, b = Processor.from_params(p, model, SR), Processor.from_params(p, model, SR)
        ya = a.process(bad)
        assert np.isfinite(ya).all()
        if "inhp" not in model and "outshelf" not in model:  # no filter memory: silence in, silence out
            assert (ya[100:110] == 0).all()
        assert np.array_equal(ya, b.process(clean))
        assert np.array_equal(a.process(music), b.process(music))  # the next block is clean
        huge = np.full(100, 1e300)
        assert np.isfinite(a.process(huge)).all() and np.isfinite(a.process(music)).all()


def test_from_fit_json(tmp_path, music):
    spec = parse_model("fb+2rel")
    th, p = _params(spec)
    fr = FitResult(params=CompressorParams.from_dict({k: p[k] for k in PARAM_NAMES}), sample_rate=SR,
                   loss=1.0, esr=0.01, iterations=3, converged=True, model=spec.name,
                   extra={"mode": "limit", "peak": 40},
                   extra_params={k: p[k] for k in spec.param_names[5:]})
    fr.save(tmp_path / "fit.json")
    proc = Processor.from_fit(str(tmp_path / "fit.json"))
    assert proc.modes == ["limit"] and proc.mode == "limit" and proc.peak == 40
    assert proc.params == pytest.approx(p, rel=1e-12)
    ref = fr.render(torch.from_numpy(music)).numpy()
    assert np.abs(proc.process(music) - ref).max() / np.abs(ref).max() <= 1e-5
    with pytest.raises(ValueError, match="has no 'compress' settings"):
        proc.mode = "compress"


def test_other_sample_rates_keep_time_constants_in_ms(tmp_path):
    x48 = music_like(0.5, 48000, seed=2)
    _, p = _params(parse_model("ff5"))
    proc = Processor.from_bundle(_bundle(tmp_path, "ff5"), "compress", 70, sample_rate=48000)
    assert proc.sample_rate == 48000 and proc.fitted_sample_rate == SR
    row = {k: v for k, v in _table(parse_model("ff5"))["compress"][1].items() if k not in ("peak", "esr")}
    ref = render(x48, row, "ff5", 48000)
    assert np.abs(proc.process(x48) - ref).max() <= 1e-5 * np.abs(ref).max()


def test_process_releases_the_gil():
    """Deterministic: with the interpreter's switch interval made huge, the main thread never hands the
    GIL over by itself; a second thread that counts (yielding the GIL at every step) can only count
    while ``process`` runs if ``process`` releases the GIL. No timing is measured."""
    import sys

    _, p = _params(parse_model(RECOMMENDED_MODEL))
    x = music_like(20.0, SR, seed=1)
    proc = Processor.from_params(p, RECOMMENDED_MODEL, SR)
    state = {"count": 0, "stop": False}
    started = threading.Event()

    def count():
        started.set()
        while not state["stop"]:
            state["count"] += 1
            time.sleep(0)  # releases and re-takes the GIL

    old = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        th = threading.Thread(target=count)
        th.start()
        started.wait()
        time.sleep(0)  # a blocking call: the counter takes the GIL, then hands it back at its sleep(0)
        before = state["count"]
        proc.process(x)
        during = state["count"] - before
        state["stop"] = True
    finally:
        sys.setswitchinterval(old)
    th.join()
    assert during > 0, "the counter never ran while process() ran: process() held the GIL"
    # The test can fail: a call that holds the GIL (a pure-Python loop) lets the counter do nothing.
    before = state["count"]
    state["stop"] = False
    sys.setswitchinterval(100.0)
    try:
        th = threading.Thread(target=count)
        started.clear()
        th.start()
        started.wait()
        before = state["count"]
        total = 0
        for i in range(200000):
            total += i
        held = state["count"] - before
        state["stop"] = True
    finally:
        sys.setswitchinterval(old)
    th.join()
    assert held == 0


def test_bad_input_is_a_clear_error(tmp_path, music):
    _, p = _params(parse_model("ff5"))
    proc = Processor.from_params(p, "ff5", SR, channels=2)
    with pytest.raises(TypeError, match="float32 or float64"):
        proc.process(np.zeros((2, 10), np.int16))
    with pytest.raises(TypeError, match="numpy array"):
        proc.process([0.0, 1.0])
    with pytest.raises(ValueError, match=r"pass block.T"):
        proc.process(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="channels=1"):
        proc.process(np.zeros(10))
    with pytest.raises(ValueError, match="channels=3"):
        proc.process(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="peak must be in 0..100"):
        proc.peak = 120
    with pytest.raises(ValueError, match="gain_db"):
        proc.gain_db = 60
    with pytest.raises(ValueError, match="'compress' or 'limit'"):
        proc.mode = "gate"
    with pytest.raises(ValueError, match="channels must be"):
        Processor.from_params(p, "ff5", SR, channels=0)
    with pytest.raises(ValueError, match="sample rate"):
        Processor.from_params(p, "ff5", 10.0)
    with pytest.raises(ValueError, match="missing parameter 'knee_db'"):
        Processor.from_params(p, "ff+knee", SR)
    with pytest.raises(ValueError, match="does not exist"):
        Processor.from_bundle(str(tmp_path / "nope.bundle"))
    with pytest.raises(ValueError, match="does not exist"):
        Processor.from_fit(str(tmp_path / "nope.json"))
    (tmp_path / "bad.json").write_text("{\"model\": \"ff5\"}")
    with pytest.raises(ValueError, match="bad.json' lacks the keys sample_rate, params; is it a dspnewton fit.json"):
        Processor.from_fit(str(tmp_path / "bad.json"))
    d = _bundle(tmp_path, "ff5")
    newer = json.loads((d / "bundle.json").read_text())
    newer["schema_version"] = 99
    (d / "bundle.json").write_text(json.dumps(newer))
    with pytest.raises(ValueError, match="newer than this dspnewton reads .*upgrade dspnewton"):
        Processor.from_bundle(str(d))
    with pytest.raises(TypeError):
        proc.process(np.zeros((2, 10)), return_gain_reduction="yes please", extra=1)
    assert proc.channels == 2  # unchanged by the failures


def test_processor_is_the_package_api():
    assert dspnewton.Processor is _native.Processor and callable(dspnewton.render)
    assert "process(" in (Processor.process.__doc__ or "") and Processor.__doc__


def test_readme_api_example_runs(tmp_path, monkeypatch):
    """The README's Python API block, run as written on a small pair and bundle."""
    import re
    import soundfile as sf

    from dspnewton.export import export_bundle
    from conftest import sweep_folder as _sweep_folder

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"## Python API.*?```python\n(.*?)```", readme, re.S).group(1)
    sr = 16000
    x = music_like(2.0, sr, seed=5)
    t = Processor.from_params(_params(parse_model("fb+2rel"))[1], "fb+2rel", sr).process(x)
    sf.write(tmp_path / "input.wav", x, sr, subtype="FLOAT")
    sf.write(tmp_path / "target.wav", t, sr, subtype="FLOAT")
    export_bundle(_sweep_folder(tmp_path, "ff5")[0], tmp_path / "la2a.bundle")
    monkeypatch.chdir(tmp_path)
    ns = {}
    exec(compile(block, "README.md", "exec"), ns)
    assert ns["fit"].model == "fb+2rel" and ns["fit"].esr < 0.05
    assert ns["out"].shape[0] == 2 and ns["meter"] >= 0 and ns["preset"].mode == "limit"


def _unit(model="fb+2rel", **kw):
    spec = parse_model(model)
    return Processor(_table(spec), spec.name, SR, "compress", 70.0, **kw)


def test_vu_meter_ballistics():
    """A 1 kHz sine at the 0 VU level (-18 dBFS peak) through bypass: the output meter reads 0 VU, rises
    to 99 % of its reading in 300 ms (critically damped: no overshoot); the gain-reduction meter follows
    the reduction with the same ballistics."""
    p = _unit()
    p.bypass = True
    p.settle()
    t = np.arange(2 * SR) / SR
    x = 10 ** (-18 / 20) * np.sin(2 * np.pi * 1000 * t)
    readings = []
    for k in range(0, len(x), 441):  # every 10 ms
        p.process(x[k:k + 441])
        readings.append(p.vu_output_db)
    lin = 10 ** (np.array(readings) / 20)
    assert readings[-1] == pytest.approx(0.0, abs=0.01)
    rise = 10 * (1 + np.argmax(lin >= 0.99 * lin[-1]))  # ms
    assert 290 <= rise <= 310, rise
    assert lin.max() <= lin[-1] * 1.001  # no overshoot
    q = _unit()
    x_loud = 0.5 * np.sin(2 * np.pi * 200 * t)
    q.process(x_loud)
    assert q.vu_gain_reduction_db == pytest.approx(q.gain_reduction_db, abs=0.2) and q.gain_reduction_db > 3
    silent = _unit()
    silent.process(np.zeros(4410))
    assert silent.vu_output_db == -60.0 and silent.vu_gain_reduction_db == 0.0


def test_mix_trim_calibration_and_emphasis(music):
    x = music.astype(np.float64)
    today = _unit().process(x)
    p = _unit()
    p.mix = 0.0
    p.settle()
    assert np.array_equal(p.process(x), x)  # Mix 0: the input (no latency)
    p = _unit()
    p.mix, p.trim_db = 0.25, 0.0
    p.settle()
    assert np.allclose(p.process(x), x + 0.25 * (today - x), rtol=0, atol=1e-12)
    # trim: the model driven 6 dB harder, not compensated
    p = _unit()
    p.trim_db = 6.0
    p.settle()
    assert np.allclose(p.process(x), _unit().process(x * 10 ** (6 / 20)), rtol=1e-9, atol=1e-12)
    # calibration: the session's 0 VU at -12 dBFS on a table captured at -18: the model hears 6 dB less,
    # the output is scaled back
    p = _unit()
    assert p.zero_vu_dbfs is None and p.table_zero_vu_dbfs == -18.0
    p.zero_vu_dbfs = -12.0
    p.settle()
    g = 10 ** (-6 / 20)
    assert np.allclose(p.process(x), _unit().process(x * g) / g, rtol=1e-9, atol=1e-12)
    p.zero_vu_dbfs = None  # back to the table's level: today's output
    p.reset()
    assert np.array_equal(p.process(x), today)
    # Emphasis: dB on the fitted side-chain shelf (recommended model has 'sc')
    spec = parse_model(RECOMMENDED_MODEL)
    _, params = _params(spec)
    e = Processor.from_params(params, spec.name, SR)
    e.emphasis_db = 3.0
    e.settle()
    shifted = Processor.from_params(dict(params, sc_shelf_db=params["sc_shelf_db"] + 3.0), spec.name, SR)
    assert np.array_equal(e.process(x), shifted.process(x))
    with pytest.raises(ValueError, match="no side-chain shelf"):
        _unit("ff5").emphasis_db = 2.0
    _unit("ff5").emphasis_db = 0.0  # zero is always fine
    for name, value, message in (("mix", 1.5, "mix must be in 0..1"), ("trim_db", 30.0, "trim_db must be in"),
                                 ("zero_vu_dbfs", 3.0, "zero_vu_dbfs must be in"),
                                 ("emphasis_db", 20.0, "emphasis_db must be in")):
        with pytest.raises(ValueError, match=message):
            setattr(_unit(RECOMMENDED_MODEL), name, value)


def test_continue_from_takes_over_controls_and_state(music):
    """The same table continuing from another processor's state is the same stream, bit for bit; another
    table continues from that state (not from rest)."""
    x = np.stack([music, np.roll(music, 999)]).astype(np.float64)
    a = _unit(channels=2)
    a.peak = 55.0
    a.process(x[:, :20000])
    whole = _unit(channels=2)
    whole.peak = 55.0
    ref = whole.process(x)
    b = _unit(channels=2)
    b.continue_from(a)
    assert b.peak == 55.0
    assert np.array_equal(b.process(x[:, 20000:]), ref[:, 20000:])
    other = _unit(RECOMMENDED_MODEL, channels=2)
    rest = _unit(RECOMMENDED_MODEL, channels=2)
    a2 = _unit(channels=2)
    a2.process(x[:, :20000])
    other.continue_from(a2)
    assert not np.array_equal(other.process(x[:, 20000:20100]), rest.process(x[:, 20000:20100]))
    with pytest.raises(ValueError, match="same channel count"):
        _unit().continue_from(a)
