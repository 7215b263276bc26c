"""The program-dependent release (``prel``): what it does, at every sample rate and in every runner, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dspnewton import Processor, _native, render
from dspnewton.audio import InputError
from dspnewton.model.greybox_spec import parse_model
from dspnewton.result import FitResult
from conftest import run_cli

PREL = dict(threshold_db=-30.0, ratio=8.0, attack_ms=1.0, release_ms=50.0, makeup_db=0.0, release_long_ms=2000.0,
            memory_ms=300.0, memory_db=3.0)


def _burst(loud_s: float, sr: int) -> np.ndarray:
    """A 1 kHz tone at -6 dBFS for ``loud_s`` seconds, then at -60 dBFS (below threshold) for 3 s."""
    t = np.arange(int((loud_s + 3.0) * sr)) / sr
    level = np.where(t < loud_s, 0.5, 0.001)
    return level * np.sin(2 * np.pi * 1000.0 * t)


def _recovery_s(model: str, params: dict, loud_s: float, sr: int) -> float:
    """Seconds after the burst until the output's gain (output / input, per 10 ms) is within 1 dB of unity."""
    x = _burst(loud_s, sr)
    y = Processor.from_params(params, model=model, sample_rate=sr).process(x)
    hop = sr // 100
    start = int(loud_s * sr)
    for i in range(start, len(x) - hop, hop):
        gain_db = 20 * np.log10(np.sqrt(np.mean(y[i:i + hop] ** 2)) / np.sqrt(np.mean(x[i:i + hop] ** 2)))
        if gain_db > -1.0:
            return (i - start) / sr
    return float("inf")


@pytest.mark.parametrize("sr", [44100, 48000, 96000])
def test_release_slows_after_long_reduction_and_means_the_same_at_every_rate(sr):
    short, long_ = _recovery_s("ff+prel", PREL, 0.05, sr), _recovery_s("ff+prel", PREL, 2.0, sr)
    # A short burst barely charges the memory: the fast release; two seconds of 20+ dB reduction: the long one.
    assert short < 0.25 and long_ > 4 * short
    assert long_ == pytest.approx(_recovery_s("ff+prel", PREL, 2.0, 44100), abs=0.02)  # analogue time constants
    # Without memory depth (a reduction of 100 dB to charge it) the release stays the fast one.
    shallow = {**PREL, "memory_db": 100.0}
    assert _recovery_s("ff+prel", shallow, 2.0, sr) < 1.5 * short
    # The plain model recovers the same after either burst.
    plain = {k: PREL[k] for k in parse_model("ff5").param_names}
    assert _recovery_s("ff5", plain, 2.0, sr) == pytest.approx(_recovery_s("ff5", plain, 0.05, sr), abs=0.02)


def test_processor_and_pytorch_agree_on_the_burst():
    sr = 44100
    x = _burst(1.0, sr)
    for model in ("ff+prel", "fb+knee+rms+prel+sc+tube"):
        params = {**PREL, "knee_db": 6.0, "rms_ms": 2.0, "sc_shelf_db": 3.0, "drive": 1.0, "bias": 0.1}
        params = {k: v for k, v in params.items() if k in parse_model(model).param_names}
        ref = render(x, params, model, sr)
        y = Processor.from_params(params, model=model, sample_rate=sr).process(x)
        assert np.abs(y - ref).max() <= 1e-9 * np.abs(ref).max(), model


def test_program_release_bad_input(tmp_path, capsys):
    good = dict(PREL)
    # Both forms of the release: refused by name in Python, in the C++ core and on the command line.
    with pytest.raises(ValueError, match="has both '2rel' and 'prel', two forms of the same release"):
        parse_model("fb+prel+2rel")
    with pytest.raises(ValueError, match="has both '2rel' and 'prel', two forms of the same release"):
        _native.process(np.zeros(10), {**good, "release_slow_ms": 500.0, "slow_mix": 0.2}, 44100, 0, "fb+2rel+prel")
    code, _, err = run_cli(["fit", str(tmp_path / "in.wav"), str(tmp_path / "tg.wav"), "-o", str(tmp_path / "out"),
                            "--model", "fb+2rel+prel"], capsys)
    assert code != 0 and "has both '2rel' and 'prel'" in err and not (tmp_path / "out").exists()
    # A memory depth or time outside its range in a fit.json: a clear error, nothing written.
    fit = {"model": "ff+prel", "sample_rate": 44100, "params": {**good, "memory_db": 0.01}, "esr": 0.1, "loss": 1.0}
    (tmp_path / "fit.json").write_text(json.dumps(fit))
    with pytest.raises(InputError, match=r"memory_db must lie in \[0.3, 100\] dB, got 0.01"):
        FitResult.load(tmp_path / "fit.json")
    code, _, err = run_cli(["export", str(tmp_path / "fit.json"), "-o", str(tmp_path / "x.bundle")], capsys)
    assert code == 1 and "memory_db must lie in [0.3, 100] dB" in err and not (tmp_path / "x.bundle").exists()
    with pytest.raises(ValueError, match="out of range"):
        Processor.from_params({**good, "memory_ms": 1e6}, model="ff+prel")
    with pytest.raises(ValueError, match="missing parameter 'release_long_ms' of model ff\\+prel"):
        _native.process(np.zeros(10), {k: v for k, v in good.items() if k != "release_long_ms"}, 44100, 0, "ff+prel")


def test_exact_derivatives_where_the_gain_underflows():
    """A gain below -240 dB (a line search's wild step) charges the memory as at -240 dB: finite, exact derivatives
    (the fused pass = reverse over reverse), where the gain's own power would divide by zero."""
    import torch

    from dspnewton.model.greybox import kernel_states, render_model
    from dspnewton.model.greybox_spec import MEMORY_GAIN_FLOOR, model_physical_to_theta
    from dspnewton.objective.framing import make_frames
    from dspnewton.objective.hessian import loss_grad_hess

    sr, spec = 8000, parse_model("ff+rms+prel")
    x = 0.8 * torch.sin(2 * torch.pi * 200.0 * torch.arange(1600, dtype=torch.float64) / sr)
    x[800:] *= 1e-3
    th = model_physical_to_theta({**PREL, "threshold_db": -300.0, "ratio": 50.0, "rms_ms": 2.0, "memory_ms": 20.0},
                                 spec, sr)
    assert float(kernel_states(x[None], th, spec, sr)[0, :800, 0].min()) < MEMORY_GAIN_FLOOR
    y = render_model(x, th + 0.1, spec, sr).detach()
    frames = make_frames(x, y, sr, 0.1, 0.02)
    L, g, H = loss_grad_hess(th, frames, "fused", model=spec)
    ref = loss_grad_hess(th, frames, "revrev", model=spec)
    assert torch.isfinite(H).all() and torch.isfinite(g).all()
    assert (g - ref[1]).abs().max() <= 1e-10 * ref[1].abs().max()
    assert (H - ref[2]).abs().max() <= 1e-10 * ref[2].abs().max()
