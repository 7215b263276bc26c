"""A second embedded virtual levelling amplifier, built unlike the first (:mod:`.virtual_unit`).

No model option was designed from it (it was written after the options, and
its settings were not changed after seeing any fit), so it measures how the
models generalise.  Where the first unit is an optical feedback leveller, this
one is a feed-forward variable-mu design with transformers:

- input transformer: second-order high-pass at 22 Hz with a little resonance
  (Q 0.9) and a soft core saturation;
- side chain: feed-forward from the transformer's output, through a
  second-order 120 Hz high-pass (the detector ignores most of the bass), an RMS
  detector (8 ms);
- gain law: variable-mu, the reduction in dB grows faster than linearly with
  the overshoot (``(1 - 1/R) o (1 + tanh(o / 8)) / 2``);
- ballistics on the reduction in dB: attack 4 ms (limit 0.7 ms); program-
  dependent release from 70 ms to 1.8 s, longer the longer the unit has been
  reducing gain;
- output transformer: second-order low-pass at 15 kHz (capped at 0.42 of the
  sample rate) with a little resonance (Q 0.85), then a -1.5 dB high shelf
  above 5 kHz and a mild even-order saturation.

The peak-reduction control (0..100) sets the threshold; the mode switch sets
the ratio (about 3:1 compress, 12:1 limit) and the attack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numba as nb
import numpy as np

from .virtual_unit import UnitSetting, _coef

__all__ = ["TransformerLeveler"]


def _biquad(kind: str, fc: float, q: float, sr: float) -> tuple:
    """(b0, b1, b2, a1, a2) of a second-order low- or high-pass (bilinear, a0 = 1)."""
    w = 2.0 * math.pi * fc / sr
    c, alpha = math.cos(w), math.sin(w) / (2.0 * q)
    a0 = 1.0 + alpha
    if kind == "low":
        b = ((1.0 - c) / 2.0, 1.0 - c, (1.0 - c) / 2.0)
    else:
        b = ((1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0)
    return b[0] / a0, b[1] / a0, b[2] / a0, -2.0 * c / a0, (1.0 - alpha) / a0


@nb.njit(cache=True)
def _unit(x, sr, hp_in, hp_sc, lp_out, shelf_a, shelf_k, thr, slope, attack_ms, makeup, program, sc_hp, varmu, core,
          colour, out):  # pragma: no cover
    i1 = i2 = o1 = o2 = 0.0  # input transformer high-pass
    s1 = s2 = t1 = t2 = 0.0  # side-chain high-pass
    p1 = p2 = q1 = q2 = 0.0  # output low-pass
    shelf = 0.0
    ms = 0.0
    gr = 0.0
    hold = 0.0
    a_rms = _coef(8.0, sr)
    a_att = _coef(attack_ms, sr)
    a_hold = _coef(400.0, sr)
    for n in range(x.shape[0]):
        xn = x[n]
        u = hp_in[0] * xn + hp_in[1] * i1 + hp_in[2] * i2 - hp_in[3] * o1 - hp_in[4] * o2
        i2 = i1
        i1 = xn
        o2 = o1
        o1 = u
        if core:
            u = math.tanh(1.3 * u) / 1.3  # transformer core
        d = hp_sc[0] * u + hp_sc[1] * s1 + hp_sc[2] * s2 - hp_sc[3] * t1 - hp_sc[4] * t2 if sc_hp else u
        s2 = s1
        s1 = u
        t2 = t1
        t1 = d
        ms += a_rms * (d * d - ms)
        level = 10.0 * math.log10(max(ms, 1e-12))
        o = level - thr
        target = 0.0
        if o > 0.0:
            target = slope * o * 0.5 * (1.0 + math.tanh(o / 8.0)) if varmu else slope * o
        if target > gr:
            gr += a_att * (target - gr)
        else:
            gr += _coef(70.0 + 1730.0 * (hold if program else 0.5), sr) * (target - gr)
        hold += a_hold * ((1.0 if gr > 1.0 else 0.0) - hold)
        v = u * math.exp(-gr * math.log(10.0) / 20.0) * makeup
        w = lp_out[0] * v + lp_out[1] * p1 + lp_out[2] * p2 - lp_out[3] * q1 - lp_out[4] * q2
        p2 = p1
        p1 = v
        q2 = q1
        q1 = w
        shelf += shelf_a * (w - shelf)
        y = w + shelf_k * (w - shelf)
        out[n] = y + 0.03 * y * y if colour else y  # even-order colour


@dataclass(frozen=True)
class TransformerLeveler(UnitSetting):
    """The second virtual unit at one setting.

    Args:
        peak_reduction: 0..100 (threshold from -14 dB down to -44 dB).
        mode: ``compress`` or ``limit``.
        without: mechanisms to leave out (:class:`~.virtual_unit.UnitSetting`).
    """

    MECHANISMS: ClassVar[dict] = {
        "program_release": "the release lengthened from 70 ms to 1.8 s by how long the unit has been reducing gain",
        "sidechain_highpass": "the side chain's second-order 120 Hz high-pass",
        "variable_mu": "the variable-mu law (reduction growing faster than linearly with the overshoot)",
        "core_saturation": "the input transformer core's soft saturation",
        "output_colour": "the output's even-order colour",
    }

    def process(self, x: np.ndarray, sample_rate: int) -> np.ndarray:
        """Process mono audio (T,) float64 -> (T,)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        sr = float(sample_rate)
        limit = self.mode == "limit"
        ratio = 12.0 if limit else 3.0
        hp_in = np.array(_biquad("high", 22.0, 0.9, sr))
        hp_sc = np.array(_biquad("high", 120.0, 0.707, sr))
        lp_out = np.array(_biquad("low", min(15000.0, 0.42 * sr), 0.85, sr))
        shelf_a = 1.0 - math.exp(-2.0 * math.pi * 5000.0 / sr)
        shelf_k = 10 ** (-1.5 / 20) - 1.0
        thr = -14.0 - 0.3 * self.peak_reduction
        out = np.empty_like(x)
        _unit(x, sr, hp_in, hp_sc, lp_out, shelf_a, shelf_k, thr, 1.0 - 1.0 / ratio, 0.7 if limit else 4.0,
              10 ** (3.0 / 20), self.has("program_release"), self.has("sidechain_highpass"), self.has("variable_mu"),
              self.has("core_saturation"), self.has("output_colour"), out)
        return out
