"""Metrics and pre-emphasis against hand-computed values."""

import math

import pytest
import torch

from dspnewton.objective import delta_ldr, esr, integrated_loudness, ldr, mse, preemphasis


def test_preemphasis_by_hand():
    x = torch.tensor([1.0, 0.0, 0.0, 2.0], dtype=torch.float64)
    # y[n] = x[n] - x[n-1] + 0.995 y[n-1]
    y0 = 1.0
    y1 = -1.0 + 0.995 * y0
    y2 = 0.0 + 0.995 * y1
    y3 = 2.0 + 0.995 * y2
    torch.testing.assert_close(preemphasis(x), torch.tensor([y0, y1, y2, y3], dtype=torch.float64))


def test_esr_and_mse_by_hand():
    y = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    p = torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64)
    assert esr(p, y, pre_emphasis=False).item() == pytest.approx(2.0 / 14.0)
    assert mse(p, y).item() == pytest.approx(2.0 / 3.0)
    py, pp = preemphasis(y), preemphasis(p)
    assert esr(p, y).item() == pytest.approx(((py - pp) ** 2).sum().item() / (py**2).sum().item())
    assert esr(y, y).item() == 0.0
    with pytest.raises(ValueError, match="same shape"):
        esr(p, y[:2])


def test_ldr_by_hand():
    sr = 1000
    # Constant-level signal: short and long mean squares agree once both windows are full.
    x = torch.ones(1, 6000, dtype=torch.float64)
    assert ldr(x, sr).item() == pytest.approx(0.0, abs=1e-9)
    # A square-wave burst: 50 samples at 1, then silence-ish at 0.1, repeating every 100 samples.
    x = torch.where((torch.arange(10000) // 50) % 2 == 0, 1.0, 0.1).double().unsqueeze(0)
    val = ldr(x, sr, short_ms=1, long_ms=100).item()  # 1-sample short window: the level itself
    long_ms_sq = (1.0 + 0.01) / 2
    expected = math.sqrt(0.5 * (10 * math.log10(1.0 / long_ms_sq)) ** 2 + 0.5 * (10 * math.log10(0.01 / long_ms_sq)) ** 2)
    assert val == pytest.approx(expected, rel=2e-2)
    assert delta_ldr(x, x, sr).item() == 0.0
    # A compressed (flattened) signal has a smaller LDR: delta negative = over-compressed.
    assert delta_ldr(x.clamp(max=0.3), x, sr, short_ms=1, long_ms=100).item() < 0


def test_integrated_loudness_of_full_scale_sine():
    sr = 48000
    t = torch.arange(3 * sr, dtype=torch.float64) / sr
    x = torch.sin(2 * math.pi * 997 * t)
    # A 0 dBFS sine near 1 kHz reads about -3 LUFS (BS.1770; K-weighting adds a little).
    full = integrated_loudness(x, sr).item()
    assert -3.5 < full < -2.5
    # Halving the amplitude costs about 6 LU.
    assert integrated_loudness(0.5 * x, sr).item() - full == pytest.approx(20 * math.log10(0.5), abs=0.5)
    with pytest.raises(ValueError, match="at least 400 ms"):
        integrated_loudness(x[:100], sr)
