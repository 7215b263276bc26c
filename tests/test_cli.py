"""The fit/render CLI, including every bad-input case: a clear message, exit code,
no traceback and no output written."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from dspnewton.cli import main
from dspnewton.model import CompressorParams, compress
from dspnewton.synth import music_like

SR = 16000
TRUE = CompressorParams(-24.0, 5.0, 4.0, 180.0, 1.0)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("audio")
    x = music_like(5.0, SR, seed=3)
    y = compress(torch.from_numpy(x)[None], TRUE.to_theta(SR), SR)[0].numpy()
    sf.write(d / "in.wav", x, SR, subtype="PCM_24")
    sf.write(d / "tg.wav", y, SR, subtype="FLOAT")
    sf.write(d / "tg_delayed.wav", np.concatenate([np.zeros(123), y])[: len(y)], SR, subtype="FLOAT")
    sf.write(d / "tg_22k.wav", y, 22050, subtype="FLOAT")
    sf.write(d / "tg_short.wav", y[:-500], SR, subtype="FLOAT")
    sf.write(d / "in_stereo.wav", np.stack([x, 0.5 * x], 1), SR, subtype="FLOAT")
    sf.write(d / "tg_stereo.wav", np.stack([y, 0.5 * y], 1), SR, subtype="FLOAT")
    bad = y.copy()
    bad[1000] = np.nan
    sf.write(d / "tg_nan.wav", bad, SR, subtype="FLOAT")
    sf.write(d / "silent.wav", np.zeros_like(x), SR, subtype="PCM_16")
    (d / "text.wav").write_text("this is not audio")
    return d


def run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


def test_fit_then_render(files, tmp_path, capsys):
    out = tmp_path / "fit1"
    code, stdout, _ = run(["fit", str(files / "in.wav"), str(files / "tg.wav"), "-o", str(out), "--frame-seconds", "2",
                           "--overlap-seconds", "0.5"], capsys)
    assert code == 0 and "wrote" in stdout
    d = json.loads((out / "fit.json").read_text())
    for key in ("model", "sample_rate", "params", "loss", "esr", "iterations", "converged", "seconds", "hessian", "history"):
        assert key in d
    assert d["model"] == "ff5" and d["converged"] and d["esr"] < 1e-6
    assert set(d["params"]) == {"threshold_db", "ratio", "attack_ms", "release_ms", "makeup_db"}
    assert abs(d["params"]["ratio"] - 5.0) < 1e-3
    wav = tmp_path / "r.wav"
    code, _, _ = run(["render", str(files / "in.wav"), str(out / "fit.json"), "-o", str(wav)], capsys)
    assert code == 0
    info = sf.info(str(wav))
    assert info.samplerate == SR and info.subtype == "PCM_24"
    y, _ = sf.read(str(wav))
    ref, _ = sf.read(str(files / "tg.wav"))
    assert np.abs(y - ref).max() < 1e-4  # 24-bit quantisation
    assert not list(tmp_path.rglob("*.tmp"))


def test_fit_options(files, tmp_path, capsys):
    out = tmp_path / "warm"
    base = ["--frame-seconds", "2", "--overlap-seconds", "0.5", "--quiet"]
    assert run(["fit", str(files / "in.wav"), str(files / "tg.wav"), "-o", str(out)] + base, capsys)[0] == 0
    code, stdout, _ = run(["fit", str(files / "in.wav"), str(files / "tg.wav"), "-o", str(tmp_path / "w2"),
                           "--init", str(out / "fit.json"), "--hessian", "fwdrev", "--max-iter", "2",
                           "--dtype", "float32"] + base, capsys)
    assert code == 0 and stdout == ""
    d = json.loads((tmp_path / "w2" / "fit.json").read_text())
    assert d["hessian"] == "fwdrev" and d["iterations"] <= 2


@pytest.mark.parametrize(
    "make_args,message",
    [
        (lambda f: [f / "in.wav", f / "missing.wav"], "does not exist"),
        (lambda f: [f / "in.wav", f], "is a directory"),
        (lambda f: [f / "text.wav", f / "tg.wav"], "is not a readable audio file"),
        (lambda f: [f / "in.wav", f / "tg_22k.wav"], "--resample"),
        (lambda f: [f / "in.wav", f / "tg_short.wav"], "has 80000 samples but target"),
        (lambda f: [f / "in.wav", f / "tg_stereo.wav"], "--channels mix"),
        (lambda f: [f / "in.wav", f / "tg_nan.wav"], "1 NaN or infinite samples"),
        (lambda f: [f / "silent.wav", f / "tg.wav"], "is silent"),
        (lambda f: [f / "in.wav", f / "silent.wav"], "is silent"),
    ],
)
def test_fit_bad_input(files, tmp_path, capsys, make_args, message):
    out = tmp_path / "never"
    code, _, err = run(["fit", *map(str, make_args(files)), "-o", str(out), "--quiet"], capsys)
    assert code == 1
    assert message in err
    assert not out.exists(), "nothing may be written on error"


def test_fit_bad_input_remedies(files, tmp_path, capsys):
    base = ["--frame-seconds", "2", "--overlap-seconds", "0.5", "--quiet", "--max-iter", "3"]
    cases = {
        "resample": [files / "in.wav", files / "tg_22k.wav", "--resample", "--trim"],
        "trim": [files / "in.wav", files / "tg_short.wav", "--trim"],
        "mix": [files / "in.wav", files / "tg_stereo.wav", "--channels", "mix"],
        "each": [files / "in_stereo.wav", files / "tg_stereo.wav", "--channels", "each"],
    }
    for name, args in cases.items():
        out = tmp_path / name
        code, _, err = run(["fit", *map(str, args), "-o", str(out)] + base, capsys)
        assert code == 0, (name, err)
        d = json.loads((out / "fit.json").read_text())
        assert d["iterations"] >= 1
    d = json.loads((tmp_path / "resample" / "fit.json").read_text())
    assert "resampled target from 22050 Hz" in d["extra"]["notes"][0]
    code, _, err = run(["fit", str(files / "in.wav"), str(files / "tg_stereo.wav"), "-o", str(tmp_path / "e"),
                        "--channels", "each"] + base, capsys)
    assert code == 1 and "equal channel counts" in err


def test_align_reports_and_removes_latency(files, tmp_path, capsys):
    out = tmp_path / "aligned"
    code, stdout, _ = run(["fit", str(files / "in.wav"), str(files / "tg_delayed.wav"), "-o", str(out),
                           "--align", "--frame-seconds", "2", "--overlap-seconds", "0.5"], capsys)
    assert code == 0 and "123 samples" in stdout
    d = json.loads((out / "fit.json").read_text())
    assert d["extra"]["lag_samples"] == 123 and d["esr"] < 1e-6


def test_output_not_writable(files, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(["fit", str(files / "in.wav"), str(files / "tg.wav"), "-o", str(blocker), "--quiet"], capsys)
    assert code == 1 and "is not a directory" in err
    code, _, err = run(["fit", str(files / "in.wav"), str(files / "tg.wav"), "-o", "/proc/dspnewton-out", "--quiet"], capsys)
    assert code == 1 and "not writable" in err
    code, _, err = run(["render", str(files / "in.wav"), str(tmp_path / "nofit.json"), "-o", str(tmp_path / "o.wav")], capsys)
    assert code == 1 and "does not exist" in err
    assert not (tmp_path / "o.wav").exists()


def test_errors_via_subprocess_have_no_traceback(files, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "dspnewton", "fit", str(files / "in.wav"), str(files / "nope.wav"),
                           "-o", str(tmp_path / "x")], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "does not exist" in proc.stderr
