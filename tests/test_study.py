"""The study layer: SignalTrain names and manifests (v1.1 quirks), the virtual unit,
sweeps (resume after a killed run, bad input), the interpolation evaluation, plots."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dspnewton.audio import InputError
from dspnewton.data import OpticalLeveler, build_manifest, generate_dataset, parse_name
from dspnewton.data.signaltrain import load_manifest
from dspnewton.evaluate import evaluate, interpolate_params, split_anchors
from dspnewton.model import CompressorParams
from dspnewton.sweep import parse_peaks, sweep

SR = 8000


def test_parse_names():
    assert parse_name("input_245_.wav") == {"kind": "input", "id": 245}
    t = parse_name("target_235_LA2A_2c__0__70.wav")
    assert t == {"kind": "target", "id": 235, "unit": "2c", "switch": 0, "mode": "compress", "peak": 70}
    assert parse_name("target_148_LA2A_3c__1__100.wav")["mode"] == "limit"
    assert parse_name("target_1_LA2A_3c__1__5.wav")["peak"] == 5
    for bad in ("input_12.wav", "target_1_LA2A_4c__0__50.wav", "target_1_LA2A_3c__2__50.wav",
                "target_1_LA2A_3c__0__150.wav", "notes.txt", "target_x_LA2A_3c__0__50.wav"):
        assert parse_name(bad) is None, bad


def _tiny(path: Path, n: int = 800, sr: int = SR):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.1 * np.sin(np.arange(n) * 0.05), sr, subtype="PCM_16")


def test_manifest_handles_v11_quirks(tmp_path):
    root = tmp_path / "SignalTrain_LA2A_Dataset_1.1"
    # input_245 moved to Val/ while its targets stay in Train/.
    _tiny(root / "Val" / "input_245_.wav")
    _tiny(root / "Train" / "target_245_LA2A_3c__0__50.wav")
    # Val/input_236_.wav was removed: its target is unpaired.
    _tiny(root / "Val" / "target_236_LA2A_3c__1__60.wav")
    # Truncated inputs (148-152): shorter than before, lengths recorded.
    _tiny(root / "Train" / "input_148_.wav", n=700)
    _tiny(root / "Train" / "target_148_LA2A_3c__1__100.wav", n=700)
    _tiny(root / "Test" / "input_300_.wav")
    _tiny(root / "Test" / "target_300_LA2A_2c__0__70.wav")
    _tiny(root / "Test" / "input_301_.wav")  # input without targets
    (root / "Train" / "README_extra.wav").write_bytes(b"RIFF....WAVE")  # unknown name
    (root / "Train" / "input_400_.wav").write_bytes(b"not a wav")  # corrupt
    man = build_manifest(root)
    by_id = {p.id: p for p in man.pairs}
    assert by_id[245].input == "Val/input_245_.wav" and by_id[245].split == "Train"
    assert by_id[148].input_frames == 700 and by_id[148].mode == "limit" and by_id[148].peak == 100
    assert by_id[300].unit == "2c"
    assert {u["file"] for u in man.unpaired} == {"Val/target_236_LA2A_3c__1__60.wav", "Test/input_301_.wav"}
    assert man.unknown == ["Train/README_extra.wav"]
    assert [p["file"] for p in man.problems] == ["Train/input_400_.wav"]
    assert [p.id for p in man.select("3c")] and all(p.unit == "3c" for p in man.select("3c"))
    assert sorted(p.id for p in man.select(None, modes=["compress"])) == [245, 300]
    man.save(tmp_path / "m.json")
    again = load_manifest(tmp_path / "m.json")
    assert again.pairs == man.pairs
    with pytest.raises(InputError, match="not a dspnewton manifest"):
        (tmp_path / "x.json").write_text("[]")
        load_manifest(tmp_path / "x.json")


def test_virtual_unit_is_a_levelling_amplifier():
    from dspnewton.synth import music_like

    x = music_like(3.0, SR, seed=1)
    rms = lambda v: np.sqrt(np.mean(v**2))  # noqa: E731
    gains = [rms(OpticalLeveler(p, "compress").process(x, SR)) / rms(x) for p in (0, 40, 70, 100)]
    assert all(a > b for a, b in zip(gains, gains[1:])), "more peak reduction must reduce the level"
    lim = rms(OpticalLeveler(100, "limit").process(x, SR)) / rms(x)
    assert lim < gains[-1]
    with pytest.raises(ValueError, match="peak_reduction"):
        OpticalLeveler(120)
    with pytest.raises(ValueError, match="mode"):
        OpticalLeveler(50, "expand")


def test_third_virtual_unit_is_a_limiter_whose_core_saturates_at_low_frequencies():
    """The FET unit (issue 26): more peak reduction, less level; limit mode stronger; its input transformer
    distorts a loud 40 Hz tone, not the same tone at 400 Hz or 20 dB lower; analogue corners (the same
    response at 44.1 and 96 kHz); deterministic."""
    from dspnewton.data.virtual_fet_unit import FETLeveler, input_transformer
    from dspnewton.synth import music_like

    x = music_like(3.0, SR, seed=1)
    rms = lambda v: np.sqrt(np.mean(v**2))  # noqa: E731
    gains = [rms(FETLeveler(p, "compress").process(x, SR)) / rms(x) for p in (0, 40, 70, 100)]
    assert all(a > b for a, b in zip(gains, gains[1:]))
    assert rms(FETLeveler(100, "limit").process(x, SR)) < gains[-1] * rms(x)
    y = FETLeveler(70, "limit").process(x, SR)
    assert np.isfinite(y).all() and np.array_equal(y, FETLeveler(70, "limit").process(x, SR))

    def distortion(f, amp, sr=44100):  # harmonics 2..5 over the fundamental, after a second's settling
        t = np.arange(2 * sr) / sr
        out = input_transformer(amp * np.sin(2 * np.pi * f * t), sr)[sr:]
        spec = np.abs(np.fft.rfft(out * np.hanning(sr)))
        bins = [round(h * f) for h in range(1, 6)]  # 1 Hz bins
        return np.sqrt(sum(spec[b] ** 2 for b in bins[1:])) / spec[bins[0]], spec[bins[0]] / (sr / 4 * amp)

    loud_low, _ = distortion(40, 1.0)
    assert loud_low > 0.01 and loud_low > 100 * distortion(400, 1.0)[0] and loud_low > 30 * distortion(40, 0.1)[0]
    gains_sr = [distortion(30, 0.01, sr)[1] for sr in (44100, 96000)]  # linear region: the resonant high-pass
    assert abs(20 * np.log10(gains_sr[0] / gains_sr[1])) < 0.05


def test_virtual_units_leave_out_each_mechanism_on_request():
    """``without=``: every mechanism a unit names changes its output when left out (and only what is named is
    left out: the same set gives the same samples); an unknown name or a bare string is a clear error."""
    from dspnewton.data.virtual_fet_unit import FETLeveler
    from dspnewton.data.virtual_transformer_unit import TransformerLeveler
    from dspnewton.synth import program_material

    x = program_material(2.0, SR, seed=4)
    for cls in (OpticalLeveler, TransformerLeveler, FETLeveler):
        assert cls.MECHANISMS and all(d for d in cls.MECHANISMS.values())
        full = cls(70.0).process(x, SR)
        assert np.array_equal(full, cls(70.0, without=()).process(x, SR))
        outs = {}
        for name in cls.MECHANISMS:
            y = cls(70.0, without={name}).process(x, SR)
            assert np.isfinite(y).all() and np.abs(y - full).max() > 1e-6 * np.abs(full).max(), (cls.__name__, name)
            assert np.array_equal(y, cls(70.0, without=[name]).process(x, SR))
            outs[name] = y
        assert len({y.tobytes() for y in outs.values()}) == len(outs), "each switch leaves out something else"
        assert cls(70.0, without={next(iter(cls.MECHANISMS))}).without == frozenset([next(iter(cls.MECHANISMS))])
        with pytest.raises(ValueError, match="no mechanism 'valve'.*it has: " + next(iter(cls.MECHANISMS))):
            cls(70.0, without={"valve"})
        with pytest.raises(ValueError, match="a set of mechanism names"):
            cls(70.0, without="program_release")


@pytest.fixture(scope="module")
def virtual(tmp_path_factory):
    d = tmp_path_factory.mktemp("virtual")
    generate_dataset(d, seconds=4.0, peaks=range(40, 101, 20), sample_rate=SR)
    return d


def test_parse_peaks():
    assert parse_peaks("40:100:5") == list(range(40, 101, 5))
    assert parse_peaks("100,40,70") == [40, 70, 100]
    for bad in ("a:b", "40:100:0", "100:40", "40,200"):
        with pytest.raises(InputError, match="peaks"):
            parse_peaks(bad)


def test_sweep_evaluate_and_plot(virtual, tmp_path, monkeypatch):
    out = tmp_path / "sweep"
    events = []
    res = sweep(virtual, out, peaks=[40, 60, 80, 100], frame_seconds=2.0, overlap_seconds=0.5,
                on_event=lambda k, i: events.append((k, i.get("mode"), i.get("peak"))))
    assert not res.failed
    for mode in ("compress", "limit"):
        assert sorted(res.fits[mode]) == [40, 60, 80, 100]
        # Warm start: each fit but the first starts from the previous peak.
        assert res.fits[mode][80].extra["warm_start"] == f"{mode}/100"
    order = [(m, p) for k, m, p in events if k == "start"]
    assert order[:4] == [("compress", 100), ("compress", 80), ("compress", 60), ("compress", 40)]
    mapping = json.loads((out / "mapping.json").read_text())
    assert set(mapping) == {"compress", "limit"} and set(mapping["limit"]) == {"40", "60", "80", "100"}
    lines = (out / "mapping.csv").read_text().splitlines()
    assert lines[0].startswith("mode,peak,threshold_db") and len(lines) == 9
    summary = evaluate(out)
    # Anchors: every other setting from the top; the ones in between are held out.
    assert summary["compress"]["anchors"] == [60, 100] and summary["compress"]["held_out"] == [80]
    rows = (out / "eval.csv").read_text().splitlines()
    assert rows[0] == ("mode,peak,method,model,esr,esr_first_second,esr_after_first_second,startup_db,delta_ldr_db,"
                       "threshold_db,ratio,attack_ms,release_ms,makeup_db")
    assert len(rows) == 1 + 2 * 3 * len(summary["compress"]["held_out"])
    for mode in ("compress", "limit"):
        s = summary[mode]
        assert 0 < s["mean_esr_fitted"] <= s["mean_esr_linear"] * 1.0001
        assert s["mean_esr_first_second_fitted"] > 0 and s["max_startup_db_fitted"] >= 0  # from sample 0
    import dspnewton.fitting
    import dspnewton.plots
    from dspnewton.plots import plot_sweep

    # The optimisers' comparison runs on the pair's first CONVERGENCE_SECONDS (here 1.5 s of the 4 s pairs).
    monkeypatch.setattr(dspnewton.plots, "CONVERGENCE_SECONDS", 1.5)
    lengths, real_fit = [], dspnewton.fitting.fit
    monkeypatch.setattr(dspnewton.fitting, "fit", lambda x, y, sr, **kw: lengths.append(x.shape[-1]) or real_fit(
        x, y, sr, **kw))
    paths = plot_sweep(out)
    assert lengths == [int(1.5 * SR)] * 3
    assert [p.name for p in paths] == ["params_vs_peak.png", "convergence.png", "excerpt.png"]
    assert all(p.stat().st_size > 10_000 and p.read_bytes()[:4] == b"\x89PNG" for p in paths)


def test_interpolation():
    a = {40: CompressorParams(-10, 4, 10, 100, 0), 60: CompressorParams(-20, 6, 20, 300, 2),
         80: CompressorParams(-30, 8, 5, 500, 1)}
    lin = interpolate_params(a, 50, "linear")
    assert lin.threshold_db == pytest.approx(-15) and lin.attack_ms == pytest.approx(15)
    assert lin.release_ms == pytest.approx(200) and lin.ratio == pytest.approx(5)
    sp = interpolate_params(a, 60, "spline")
    assert sp.threshold_db == pytest.approx(-20) and sp.attack_ms == pytest.approx(20)
    assert interpolate_params(a, 70, "spline").attack_ms != pytest.approx(interpolate_params(a, 70, "linear").attack_ms)
    assert split_anchors(list(range(40, 101, 5)))[0] == list(range(40, 101, 10))
    assert split_anchors(list(range(40, 101, 5)))[1] == list(range(45, 96, 10))


def test_sweep_chains_in_parallel_processes_equal_one_after_the_other(virtual, tmp_path):
    kw = dict(peaks=[60, 100], frame_seconds=2.0, overlap_seconds=0.5)
    one = sweep(virtual, tmp_path / "one", jobs=1, **kw)
    events = []
    two = sweep(virtual, tmp_path / "two", jobs=2, on_event=lambda k, i: events.append((k, i.get("mode"), i.get("peak"))),
                **kw)
    assert not one.failed and not two.failed
    for mode in ("compress", "limit"):
        for peak in (60, 100):
            assert two.fits[mode][peak].all_params == one.fits[mode][peak].all_params  # bit for bit
            assert two.fits[mode][peak].extra["warm_start"] == one.fits[mode][peak].extra["warm_start"]
    # Both chains' progress reaches the caller (the child processes' events are passed on).
    assert sorted((m, p) for k, m, p in events if k == "done") == sorted(
        (m, p) for m in ("compress", "limit") for p in (60, 100))
    assert (tmp_path / "two" / "mapping.json").read_text() == (tmp_path / "one" / "mapping.json").read_text()
    with pytest.raises(InputError, match="jobs must be at least 1"):
        sweep(virtual, tmp_path / "bad", jobs=0, **kw)
    with pytest.raises(InputError, match="--distributed"):
        sweep(virtual, tmp_path / "bad", jobs=2, dist=object(), **kw)


def test_sweep_resumes_after_being_killed(virtual, tmp_path):
    """Deterministic: the sweep process kills itself (SIGKILL, no clean-up) the moment its first fit is
    written, so the test knows it was interrupted after the first fit and before the last."""
    out = tmp_path / "killed"
    script = ("import os, signal, sys\n"
              "from dspnewton.sweep import sweep\n"
              "def on_event(kind, info):\n"
              "    if kind == 'done':\n"
              "        os.kill(os.getpid(), signal.SIGKILL)\n"
              f"sweep({str(virtual)!r}, {str(out)!r}, modes=['compress'], peaks=[40, 60, 80, 100], on_event=on_event)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    done_before = {p.parent.name for p in (out / "fits" / "compress").glob("*/fit.json")}
    assert done_before == {"peak_100"}, done_before  # interrupted after the first fit, before the last
    assert not (out / "mapping.json").exists()
    before = {name: (out / "fits" / "compress" / name / "fit.json").read_text() for name in done_before}
    # No half-written files were left behind.
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".")]
    res = sweep(virtual, out, modes=["compress"], peaks=[40, 60, 80, 100])
    assert res.resumed == ["compress/100"]
    assert sorted(res.fits["compress"]) == [40, 60, 80, 100] and (out / "mapping.json").exists()
    for name, text in before.items():  # completed fits were kept, not redone
        assert (out / "fits" / "compress" / name / "fit.json").read_text() == text


def test_sweep_bad_input(tmp_path, virtual):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no 3c input/target pairs"):
        sweep(empty, tmp_path / "o1")
    with pytest.raises(InputError, match="neither a dataset folder"):
        sweep(tmp_path / "nothing", tmp_path / "o2")
    # A copy of the virtual dataset with one target at another sample rate, one corrupt
    # input and a duplicate setting.
    bad = tmp_path / "bad"
    (bad / "Train").mkdir(parents=True)
    (bad / "Test").mkdir()
    for f in (virtual / "Train").iterdir():
        (bad / "Train" / f.name).write_bytes(f.read_bytes())
    data, sr = sf.read(str(bad / "Train" / "target_101_LA2A_3c__0__60.wav"))
    sf.write(bad / "Train" / "target_101_LA2A_3c__0__60.wav", data, sr * 2, subtype="FLOAT")
    (bad / "Train" / "input_102_.wav").write_bytes(b"RIFF garbage")
    for name in ("input_103_.wav", "target_103_LA2A_3c__0__100.wav"):
        (bad / "Test" / name.replace("103", "900")).write_bytes((bad / "Train" / name).read_bytes())
    res = sweep(bad, tmp_path / "o3", modes=["compress"], peaks=[40, 60, 80, 100], frame_seconds=2.0,
                overlap_seconds=0.5)
    failed = {(f["peak"]): f["error"] for f in res.failed}
    assert "resample" in failed[60]
    assert sorted(res.fits["compress"]) == [40, 100], "the valid fits still ran"  # 80's input is corrupt
    assert any("duplicate setting" in s["reason"] for s in res.skipped)
    cfg = json.loads((tmp_path / "o3" / "sweep.json").read_text())
    assert cfg["manifest_problems"] and "input_102_" in cfg["manifest_problems"][0]["file"]


def test_demo_end_to_end(tmp_path):
    """The demo once, with a grey-box model (ff5 and every model run the same chain through the CLI in
    test_models.py::test_every_command_end_to_end): the model reaches the mapping, eval and the bundle."""
    from dspnewton.demo import run_demo
    from dspnewton.model.models import get_model

    model = get_model("fb+2rel").name
    summary = run_demo(tmp_path / "demo", seconds=3.0, peaks=(60, 80, 100), say=lambda s: None, plugin=False,
                       model=model)
    assert not summary["failed"] and set(summary["mapping"]) == {"compress", "limit"}
    rows = [r for by_peak in summary["mapping"].values() for r in by_peak.values()]
    assert len(rows) == 6 and all(r["model"] == model for r in rows)
    assert all(summary["eval"][mode]["model"] == model for mode in ("compress", "limit"))
    assert all(Path(p).exists() for p in summary["plots"])
    assert (tmp_path / "demo" / "sweep" / "eval.csv").exists()
    assert json.loads((tmp_path / "demo" / "la2a.bundle" / "bundle.json").read_text())["model"] == model


def test_sweep_restart_keeps_the_lower_loss(virtual, tmp_path, capsys):
    from conftest import run_cli

    out = tmp_path / "restart"
    code, _, err = run_cli(["sweep", str(virtual), "-o", str(out), "--modes", "compress", "--peaks", "80,100",
                            "--restart", "--quiet"], capsys)
    assert code == 0, err
    assert json.loads((out / "sweep.json").read_text())["restart"] is True
    first = json.loads((out / "fits" / "compress" / "peak_100" / "fit.json").read_text())
    second = json.loads((out / "fits" / "compress" / "peak_080" / "fit.json").read_text())
    assert "restart" not in first["extra"]  # the chain's first fit starts from the published start anyway
    both = second["extra"]["restart"]
    assert second["esr"] == pytest.approx(min(both["warm_start_esr"], both["published_start_esr"]))
    assert both["kept"] == ("warm start" if second["extra"]["warm_start"] == "compress/100" else "published start")
