"""The capture workflow on generated recordings (no hardware): the signal and its layout,
the recording checks (latency, drift, polarity, DC, noise, calibration; every refusal),
the folder -> sweep -> validation -> report -> bundle chain, and the CLI end to end with the
plug-in loaded in pedalboard."""

from __future__ import annotations

import json

import numpy as np
import pytest

import dspnewton.capture as capture
from dspnewton.audio import InputError, write_audio
from dspnewton.capture.checks import check_recording
from dspnewton.capture.resample import interpolate
from dspnewton.capture.simulate import simulate_recording
from dspnewton.capture.stimulus import (SEGMENT_ORDER, SETTINGS_GRID, STEP_LEVELS_DBFS, load_signal, make_signal,
                                        parse_recording_name, recording_name)
from dspnewton.data.virtual_unit import OpticalLeveler
from dspnewton.model.greybox_spec import RECOMMENDED_MODEL
from conftest import require_module, run_cli

SR = 8000
MINUTES = 0.1  # 6 s of program, 10 s of validation: about 51 s in all


@pytest.fixture(scope="module")
def sig_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("capture")
    capture.signal(d, sample_rate=SR, minutes=MINUTES)
    return d


@pytest.fixture(scope="module")
def sig(sig_dir):
    return load_signal(sig_dir)


@pytest.fixture(scope="module")
def unit_out(sig):
    """The virtual LA-2A's output for the capture signal at two settings."""
    return {(m, p): OpticalLeveler(float(p), m).process(sig.audio, SR) for m, p in (("compress", 100), ("limit", 60))}


def _pedalboard_out(sig):
    pedalboard = require_module("pedalboard")
    comp = pedalboard.Compressor(threshold_db=-24.0, ratio=4.0, attack_ms=5.0, release_ms=120.0)
    return comp(sig.audio.astype(np.float32), SR).astype(np.float64)


# --- the signal ----------------------------------------------------------------------------------------------------

def test_signal_layout_and_files(sig_dir, sig):
    assert tuple(sig.segments) == SEGMENT_ORDER
    ends = [sig.segments[k] for k in SEGMENT_ORDER]
    assert ends[0][0] == 0 and ends[-1][1] == len(sig.audio)
    assert all(a[1] == b[0] for a, b in zip(ends, ends[1:]))  # contiguous, sample-exact
    assert sig.training_end == sig.segments["validation"][0]
    val = sig.segments["validation"]
    assert val[1] - val[0] >= 10 * SR and np.abs(sig.audio[slice(*val)]).max() > 0.1
    assert not sig.audio[slice(*sig.segments["lead"])].any() and not sig.audio[slice(*sig.segments["gap"])].any()
    meta = json.loads((sig_dir / "capture.json").read_text())
    assert meta["sample_rate"] == SR and meta["calibration"]["dbfs"] == -18.0 and len(meta["steps"]["dbfs"]) == len(STEP_LEVELS_DBFS)
    assert STEP_LEVELS_DBFS[-1] - STEP_LEVELS_DBFS[0] >= 40
    a, b = sig.segments["calibration"]
    assert 20 * np.log10(np.abs(sig.audio[a:b]).max()) == pytest.approx(-18.0, abs=0.01)
    sheet = (sig_dir / "RECORDING.md").read_text()
    assert all(recording_name(m, p) in sheet for m, p in SETTINGS_GRID) and "compress_070.wav" in sheet
    # deterministic: the same arguments give the same samples
    assert make_signal(SR, MINUTES).checksum == sig.checksum


def test_signal_recognised_by_checksum(sig_dir, tmp_path):
    import shutil

    d = tmp_path / "c"
    shutil.copytree(sig_dir, d)
    x = load_signal(d).audio.copy()
    x[1000] += 0.01
    write_audio(d / "capture.wav", x, SR, subtype="FLOAT")
    with pytest.raises(InputError, match="is not the signal"):
        load_signal(d)
    (d / "capture.json").unlink()
    with pytest.raises(InputError, match="no capture.json"):
        load_signal(d)
    capture.signal(tmp_path / "p24", sample_rate=SR, minutes=MINUTES, subtype="PCM_24")
    assert load_signal(tmp_path / "p24").sample_rate == SR
    with pytest.raises(InputError, match="FLOAT or PCM_24"):
        capture.signal(tmp_path / "x", sample_rate=SR, subtype="PCM_16")
    with pytest.raises(InputError, match="at least 8000"):
        capture.signal(tmp_path / "y", sample_rate=4000)


def test_recording_names():
    assert parse_recording_name("compress_070.wav") == ("compress", 70)
    assert parse_recording_name("LIMIT_5.WAV") == ("limit", 5)
    for bad in ("compress_101.wav", "comp_070.wav", "compress_070.flac", "compress.wav", "limit_x.wav"):
        assert parse_recording_name(bad) is None


def test_interpolator_is_exact_at_whole_samples_and_band_limited():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(4096)
    assert np.array_equal(interpolate(x, 7.0, 1.0, 4000), x[7:4007])
    n = 1 << 14
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    spec[f > 0.4] = 0
    band = np.fft.irfft(spec, n)
    shifted = np.fft.irfft(spec * np.exp(2j * np.pi * f * 0.37), n)  # band(t + 0.37)
    y = interpolate(band, 0.37, 1.0, n)
    s = slice(100, n - 100)
    assert np.sum((y[s] - shifted[s]) ** 2) / np.sum(shifted[s] ** 2) < 1e-9


# --- the checks ------------------------------------------------------------------------------------------------------

IMPAIRMENTS = {
    "clean": {},
    "latency+drift": dict(latency=317.4, drift_ppm=40.0),
    "slow clock": dict(latency=412.73, drift_ppm=-50.0),
    "inverted+dc+noise": dict(latency=250.5, drift_ppm=25.0, polarity=-1, dc=0.004, noise_dbfs=-80.0),
    "starts late, ends early": dict(latency=180.2, drift_ppm=-35.0, start_late_s=0.4, end_early_s=0.8),
}


@pytest.mark.parametrize("name", list(IMPAIRMENTS))
@pytest.mark.parametrize("device", ["la2a compress 100", "pedalboard"])
def test_check_recovers_latency_and_drift(name, device, sig, unit_out):
    y = unit_out[("compress", 100)] if device.startswith("la2a") else _pedalboard_out(sig)
    kw = IMPAIRMENTS[name]
    rec, truth = simulate_recording(y, SR, seed=3, **kw)
    c = check_recording(rec, SR, sig, f"{name}.wav")
    assert c.ok, c.problems
    assert abs(c.latency_samples - truth["latency_samples"]) < 1.0  # the target: within one sample
    assert abs(c.drift_ppm - truth["drift_ppm"]) < 2.0  # the target: within 2 ppm
    assert abs(c.latency_samples - truth["latency_samples"]) < 0.05 and abs(c.drift_ppm - truth["drift_ppm"]) < 0.1
    assert c.polarity == kw.get("polarity", 1)
    assert c.dc == pytest.approx(kw.get("dc", 0.0), abs=2e-4)
    assert c.latency_ms == pytest.approx(1000 * c.latency_samples / SR)
    if "noise_dbfs" in kw:
        assert c.noise_floor_dbfs == pytest.approx(kw["noise_dbfs"], abs=1.5)
        assert any("flipped" in m for m in c.messages) and any("DC offset" in m for m in c.messages)
    if kw.get("start_late_s"):
        assert any("starts" in m for m in c.messages) and any("ends" in m for m in c.messages)
    # the aligned recording is the unit's output on the signal's clock
    s = slice(SR // 2, c.aligned.shape[0] - 2 * SR)
    err = np.sum((c.aligned[s] - y[s]) ** 2) / np.sum(y[s] ** 2)
    assert err < 1e-3, err
    cal = slice(*sig.segments["calibration"])
    a, b = cal.start, cal.stop
    expect = 20 * np.log10(np.sqrt(2 * np.mean(y[a + (b - a) // 4: b - (b - a) // 4] ** 2)))
    assert c.calibration_dbfs == pytest.approx(expect, abs=0.05)


def _refused(c, pattern):
    assert not c.ok and c.aligned is None
    text = c.refusal()
    assert pattern in text, text
    return text


def test_check_refuses_bad_recordings(sig, unit_out):
    from dspnewton.synth import music_like

    y = unit_out[("compress", 100)]
    rec, _ = simulate_recording(y, SR, latency=300.0, drift_ppm=20.0)
    assert check_recording(rec, SR, sig).ok
    _refused(check_recording(music_like(len(rec) / SR, SR, seed=4), SR, sig), "not a recording of this capture signal")
    other = make_signal(SR, 2 * MINUTES)  # another capture signal: the closing markers are elsewhere
    _refused(check_recording(OpticalLeveler(100.0, "compress").process(other.audio, SR), SR, sig), "closing markers")
    loud = rec * 8.0
    _refused(check_recording(np.clip(loud, -1, 1), SR, sig), "clipped")
    _refused(check_recording(np.zeros_like(rec), SR, sig), "silent")
    _refused(check_recording(rec[: len(rec) // 2], SR, sig), "too short")
    _refused(check_recording(rec, 2 * SR, sig), f"the capture signal is at {SR} Hz")
    _refused(check_recording(np.stack([rec, 0.5 * rec]), SR, sig), "channels that differ")
    assert check_recording(np.stack([rec, rec]), SR, sig).ok  # identical channels are fine
    bad = rec.copy()
    bad[500] = np.nan
    _refused(check_recording(bad, SR, sig), "NaN")
    noisy, _ = simulate_recording(y, SR, latency=300.0, noise_dbfs=-25.0)
    _refused(check_recording(noisy, SR, sig), "noise floor")
    fast, _ = simulate_recording(y, SR, latency=300.0, drift_ppm=5000.0)  # another rate than the header says
    _refused(check_recording(fast, SR, sig), "recorded at another rate than its header says")
    slow, _ = simulate_recording(y, SR, latency=300.0, drift_ppm=-1500.0)  # found by the closing markers
    _refused(check_recording(slow, SR, sig), "recorded at another rate than its header says")


def test_check_cli_json(sig_dir, sig, unit_out, capsys, tmp_path):
    rec, truth = simulate_recording(unit_out[("limit", 60)], SR, latency=123.25, drift_ppm=-12.0, polarity=-1)
    path = sig_dir / "limit_060_take.wav"
    write_audio(path, rec, SR, subtype="PCM_24")
    try:
        code, out, err = run_cli(["capture", "check", str(path), "--json"], capsys)
        assert code == 0, err
        d = json.loads(out)
        for k in ("latency_samples", "drift_ppm", "polarity", "clipped", "dc", "noise_floor_dbfs", "calibration_dbfs",
                  "ok", "messages", "problems"):
            assert k in d
        assert d["ok"] and d["polarity"] == -1 and abs(d["latency_samples"] - truth["latency_samples"]) < 0.05
        assert isinstance(d["latency_samples"], float)
        code, out, err = run_cli(["capture", "check", str(path)], capsys)
        assert code == 0 and "latency 123.2" in out
    finally:
        path.unlink()
    silent = tmp_path / "silent.wav"
    write_audio(silent, np.zeros(SR * 60), SR)
    code, out, err = run_cli(["capture", "check", str(silent), "--signal", str(sig_dir), "--json"], capsys)
    assert code == 1 and json.loads(out)["ok"] is False and "silent" in json.loads(out)["problems"][0]
    code, out, err = run_cli(["capture", "check", str(tmp_path / "none.wav")], capsys)
    assert code == 1 and "does not exist" in err


# --- the chain --------------------------------------------------------------------------------------------------------

def _folder(tmp_path, sig_dir, recordings: dict):
    import shutil

    d = tmp_path / "rec"
    shutil.copytree(sig_dir, d)
    for name, audio in recordings.items():
        write_audio(d / name, audio, SR, subtype="PCM_24")
    return d


def test_capture_fit_matches_a_perfectly_aligned_fit(tmp_path, sig_dir, sig, unit_out):
    """Impaired recordings (latency with a fraction, drift, polarity, DC, noise, a late start) reach the
    validation ESR of the same fit on the unit's output itself, within 10 %."""
    impaired, perfect = {}, {}
    devices = {**unit_out, ("compress", 50): _pedalboard_out(sig)}  # pedalboard.Compressor as a third 'setting'
    for i, ((mode, peak), y) in enumerate(sorted(devices.items())):
        rec, _ = simulate_recording(y, SR, latency=311.6 + 7 * i, drift_ppm=45.0 - 90 * i, polarity=(-1) ** i,
                                    dc=0.002, noise_dbfs=-80.0, start_late_s=0.2 * i, seed=i)
        impaired[recording_name(mode, peak)] = rec
        perfect[recording_name(mode, peak)] = y
    events = []
    r = capture.fit(_folder(tmp_path / "a", sig_dir, impaired), tmp_path / "a.bundle",
                    on_event=lambda k, i: events.append(k))
    p = capture.fit(_folder(tmp_path / "b", sig_dir, perfect), tmp_path / "b.bundle")
    assert set(r.scores) == {"compress/50", "compress/100", "limit/60"}
    for key, s in r.scores.items():
        ref = p.scores[key]["esr_validation"]
        assert s["esr_validation"] <= 1.1 * ref + 1e-4, (key, s["esr_validation"], ref)
        assert s["esr_validation"] > 0 and np.isfinite(s["delta_ldr_db_validation"])
    assert events.count("check") == 3 and events.count("done") == 3 and events.count("scored") == 3
    assert "compress/70" in r.missing and "limit/60" not in r.missing
    # the work folder: checks, sweep, validation, report; the bundle holds the two settings
    work = tmp_path / "a_capture"
    checks = json.loads((work / "checks.json").read_text())
    assert checks["compress/100"]["polarity"] == -1 and checks["limit/60"]["polarity"] == 1
    assert "sha256" in checks["limit/60"]
    cfg = json.loads((work / "sweep.json").read_text())
    assert cfg["unit"] == "capture" and cfg["restart"] is True
    # each warm-started setting was also fitted from the published start; the lower loss was kept
    warm = json.loads((work / "fits" / "compress" / "peak_050" / "fit.json").read_text())["extra"]
    both = warm["restart"]
    assert set(both) == {"warm_start_esr", "published_start_esr", "kept"}
    assert r.scores["compress/50"]["esr_fit"] == pytest.approx(min(both["warm_start_esr"], both["published_start_esr"]))
    assert (warm["warm_start"] is None) == (both["kept"] == "published start")
    assert "restart" not in json.loads((work / "fits" / "compress" / "peak_100" / "fit.json").read_text())["extra"]
    from dspnewton.export import load_bundle

    b = load_bundle(r.bundle)
    assert [row["peak"] for row in b["table"]["compress"]] == [50.0, 100.0] and [row["peak"] for row in b["table"]["limit"]] == [60.0]
    # the report: figures exist, open, have the expected axes; no NaN in its numbers
    mpimg = require_module("matplotlib.image")
    rep = json.loads((work / "report.json").read_text())
    assert len(rep["figures"]) == 4
    for fig in rep["figures"]:
        img = mpimg.imread(work / fig["file"])
        assert img.shape[0] > 200 and img.shape[1] > 400 and img.std() > 0.01
        assert all(ax["xlabel"] and ax["ylabel"] for ax in fig["axes"])
    labels = {ax["xlabel"] for fig in rep["figures"] for ax in fig["axes"]}
    assert {"input level (dBFS)", "time in the bursts (s)", "peak reduction"} <= labels

    def finite(v):
        if isinstance(v, dict):
            return all(finite(x) for x in v.values())
        if isinstance(v, list):
            return all(finite(x) for x in v)
        return not isinstance(v, float) or np.isfinite(v)

    assert finite(rep["scores"]) and finite(rep["static_curves"]) and finite(rep["checks"])
    text = (work / "report.md").read_text()
    assert "validation ESR" in text and "latency" in text and "ff5" in text and "report/limit_060.png" in text
    # rerun: resumes (no fit again), refuses to overwrite the bundle without force
    with pytest.raises(InputError, match="already exists"):
        capture.fit(tmp_path / "a" / "rec", tmp_path / "a.bundle")
    events.clear()
    again = capture.fit(tmp_path / "a" / "rec", tmp_path / "a.bundle", force=True, on_event=lambda k, i: events.append(k))
    assert events.count("resumed") == 3 and "done" not in events
    assert again.scores == r.scores
    # a recording that changed since the fits is refused, naming the work folder
    write_audio(tmp_path / "a" / "rec" / "compress_100.wav", impaired["compress_100.wav"] * 0.9, SR, subtype="PCM_24")
    with pytest.raises(InputError, match="changed since the fits"):
        capture.fit(tmp_path / "a" / "rec", tmp_path / "a.bundle", force=True)


@pytest.mark.parametrize("model, kw", [("fb+2rel", dict(joint=True, joint_degree=1)),
                                       (RECOMMENDED_MODEL, {}), ("ff5+gru", dict(gru_epochs=2, residual_seconds=4.0))])
def test_capture_fit_every_model(tmp_path, sig_dir, unit_out, model, kw):
    """Every model goes through the chain: fit, validation render (joint curves, GRU residual), report, bundle."""
    from dspnewton.export import load_bundle

    recs = {}
    for i, peak in enumerate((60, 100)):
        y = OpticalLeveler(float(peak), "compress").process(load_signal(sig_dir).audio, SR)
        recs[recording_name("compress", peak)] = simulate_recording(y, SR, latency=150.25 + i, drift_ppm=30.0)[0]
    # restart=False: the second start of warm-started settings is test_capture_fit_matches_a_perfectly_aligned_fit's
    r = capture.fit(_folder(tmp_path, sig_dir, recs), tmp_path / "m.bundle", model=model, max_iter=6, restart=False,
                    **kw)
    assert r.model == model and set(r.scores) == {"compress/60", "compress/100"}
    assert all(0 < s["esr_validation"] < 1 for s in r.scores.values())
    b = load_bundle(r.bundle)
    assert b["model"] + ("+gru" if b["residual"] else "") == model
    assert bool(b["curves"]) == bool(kw.get("joint"))
    work = tmp_path / "m_capture"
    mapping = json.loads((work / "mapping.json").read_text())
    if kw.get("joint"):
        assert mapping["compress"]["60"]["source"] == "joint"
    if model.endswith("+gru"):
        res = json.loads((work / "residual.json").read_text())
        assert res["type"] == "gru"
    assert f"**{model.removesuffix('+gru')}**" in (work / "report.md").read_text()


def test_capture_fit_refusals_write_nothing(tmp_path, sig_dir, unit_out):
    y = unit_out[("compress", 100)]
    good, _ = simulate_recording(y, SR, latency=100.0)
    clipped = np.clip(good * 10, -1, 1)
    d = _folder(tmp_path, sig_dir, {"compress_100.wav": good, "limit_060.wav": clipped, "notes.wav": good})
    with pytest.raises(InputError) as exc:
        capture.fit(d, tmp_path / "u.bundle")
    assert "limit_060.wav" in str(exc.value) and "clipped" in str(exc.value) and "nothing was written" in str(exc.value)
    assert not (tmp_path / "u_capture").exists() and not (tmp_path / "u.bundle").exists()
    (d / "limit_060.wav").unlink()
    write_audio(d / "compress_100_b.wav", good, SR)
    (d / "recordings.json").write_text(json.dumps({"compress_100_b.wav": {"mode": "compress", "peak": 100}}))
    with pytest.raises(InputError, match="recorded twice"):
        capture.fit(d, tmp_path / "u.bundle")
    (d / "recordings.json").write_text(json.dumps({"x.wav": {"mode": "squash", "peak": 100}}))
    with pytest.raises(InputError, match="not a recordings list"):
        capture.fit(d, tmp_path / "u.bundle")
    (d / "recordings.json").unlink()
    (d / "compress_100.wav").unlink()
    (d / "compress_100_b.wav").unlink()
    with pytest.raises(InputError, match="holds no recordings"):
        capture.fit(d, tmp_path / "u.bundle")
    assert not (tmp_path / "u_capture").exists()
    with pytest.raises(InputError, match="no capture.json"):
        capture.fit(tmp_path, tmp_path / "u.bundle")


def test_capture_cli_end_to_end_plugin_in_pedalboard(tmp_path, unit_out, plugins, capsys):
    """signal -> recordings (simulated) -> capture fit -> the bundle loaded into the installed plugin (VST3 in
    pedalboard) equals the C++ processor."""
    from conftest import load_vst3

    cap = tmp_path / "cap"
    code, out, err = run_cli(["capture", "signal", "-o", str(cap), "--rate", str(SR), "--minutes", str(MINUTES)], capsys)
    assert code == 0 and (cap / "capture.wav").exists() and "RECORDING.md" in out
    sig = load_signal(cap)
    for i, peak in enumerate((50, 100)):
        y = OpticalLeveler(float(peak), "compress").process(sig.audio, SR)
        rec, _ = simulate_recording(y, SR, latency=200.5 + i, drift_ppm=-20.0, seed=i)
        write_audio(cap / recording_name("compress", peak), rec, SR, subtype="PCM_24")
    (cap / "readme.wav").write_bytes(b"not audio")  # a stray file: named in the output, not fitted
    code, out, err = run_cli(["capture", "fit", str(cap), "-o", str(tmp_path / "unit.bundle")], capsys)
    assert code == 0, err
    assert "wrote" in out and "report" in out and "check compress/50: latency 200.5" in err
    bundle = tmp_path / "unit.bundle"
    from dspnewton import Processor

    plugin = load_vst3(plugins, bundle=bundle)
    x = sig.audio[slice(*sig.segments["validation"])][: 3 * SR].astype(np.float32)
    for peak in (50.0, 75.0, 100.0):
        for name, value in (("peak_reduction", peak), ("limit_mode", 0.0), ("follow_table", 1.0)):
            param = plugin.parameters[name]
            param.raw_value = (value - param.min_value) / (param.max_value - param.min_value)
        plugin.reset()
        y = plugin(x[None], SR)[0]
        ref = Processor.from_bundle(bundle, "compress", peak).process(x)
        assert np.array_equal(y, ref), peak
    report = (tmp_path / "unit_capture" / "report.md").read_text()
    assert "readme.wav" in report
    code, out, err = run_cli(["capture", "fit", str(cap), "-o", str(tmp_path / "nope" / "u.bundle")], capsys)
    assert code == 1 and "does not exist" in err
    code, out, err = run_cli(["capture", "fit", str(tmp_path / "no_takes"), "-o", str(tmp_path / "u.bundle")], capsys)
    assert code == 1 and "recordings folder" in err and "does not exist" in err
    code, out, err = run_cli(["capture", "signal", "-o", str(tmp_path / "s"), "--rate", "4000"], capsys)
    assert code == 1 and "at least 8000" in err
