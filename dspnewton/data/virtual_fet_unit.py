"""A third embedded virtual levelling amplifier: a FET feedback limiter with saturating transformers.

Written for issue 26 before any model option was designed or tuned on it (its settings were fixed
before a single fit), unlike the first two units (:mod:`.virtual_unit`, an optical feedback leveller;
:mod:`.virtual_transformer_unit`, a feed-forward variable-mu design):

- input transformer, as a source of resistance ``R`` driving the primary's magnetising inductance: the
  core's flux ``phi`` integrates the primary voltage, the magnetising current grows with the flux,
  linearly (a first-order high-pass at 8 Hz) and, as the core saturates, with its cube
  (``i = w phi (1 + (phi / phi_sat)^2)``).  The current's drop across ``R`` is the distortion: it grows
  with level and towards low frequencies (flux ~ amplitude / frequency), as a real core's does
  (Whitlock, "Audio transformers", Handbook for Sound Engineers; Jiles-Atherton without hysteresis).
  A 0 dBFS sine at 40 Hz is strongly distorted, the same sine at 400 Hz or 20 dB lower barely;
- in front of it the coupling capacitor and the winding's leakage: a resonant second-order high-pass
  (18 Hz, Q 1.3);
- gain cell: a FET in feedback (the detector reads the output): the gain ``1 / (1 + k c^1.5)`` follows a
  control voltage ``c`` (not a dB-linear law), and the cell adds second-harmonic distortion in proportion
  to its gain reduction;
- detector: peak, attack 0.35 ms (limit 0.12 ms); two release stages, 55 ms and 1.2 s, the slow one
  taking over after long reduction (program-dependent);
- output transformer: a resonant second-order low-pass at 21 kHz (capped at 0.42 of the sample rate),
  Q 1.15 (a small peak), then make-up.

The peak-reduction control (0..100) sets the threshold (from -8 to -40 dBFS); the mode switch sets the gain law's strength and the attack (steady 1 kHz tone at peak reduction 100:
about 3:1 in compress mode, 5:1 in limit mode, measured after writing; nothing was tuned on a fit).
Every corner and time constant is analogue (Hz, ms): the unit means the same at every sample rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numba as nb
import numpy as np

from .virtual_transformer_unit import _biquad
from .virtual_unit import UnitSetting, _coef

__all__ = ["FETLeveler", "input_transformer"]

CORE_HZ = 8.0  # linear magnetising corner
PHI_SAT = 0.004  # flux (V s) where the magnetising current has doubled
CORE_LEAK_HZ = 0.5  # the flux's slow decay (no DC magnetisation)


@nb.njit(cache=True)
def _biquad_step(c, x, s):  # pragma: no cover - compiled
    """One sample of a biquad (b0, b1, b2, a1, a2) in transposed direct form II; s: its 2 states."""
    y = c[0] * x + s[0]
    s[0] = c[1] * x - c[3] * y + s[1]
    s[1] = c[2] * x - c[4] * y
    return y


@nb.njit(cache=True)
def _core(u, phi, w, leak, inv_sr, saturates):  # pragma: no cover - compiled
    """(primary voltage, new flux) for the source voltage u and the flux phi of the previous sample (a linear
    core when ``saturates`` is 0)."""
    i_m = w * phi * (1.0 + (phi / PHI_SAT) ** 2 if saturates else 1.0)
    v = u - i_m
    return v, phi * leak + v * inv_sr


@nb.njit(cache=True)
def _input_transformer(x, sr, hp, out):  # pragma: no cover - compiled
    s = np.zeros(2)
    phi = 0.0
    w = 2.0 * math.pi * CORE_HZ
    leak = math.exp(-2.0 * math.pi * CORE_LEAK_HZ / sr)
    for n in range(x.shape[0]):
        v, phi = _core(_biquad_step(hp, x[n], s), phi, w, leak, 1.0 / sr, 1)
        out[n] = v


@nb.njit(cache=True)
def _unit(x, sr, hp, lp, thr, k, attack_ms, makeup, program, power, harmonic, core, out):  # pragma: no cover - compiled
    s_in = np.zeros(2)
    s_out = np.zeros(2)
    phi = 0.0
    w = 2.0 * math.pi * CORE_HZ
    leak = math.exp(-2.0 * math.pi * CORE_LEAK_HZ / sr)
    a_att = _coef(attack_ms, sr)
    r_fast = _coef(55.0, sr)
    r_slow = _coef(1200.0, sr)
    a_mem = _coef(700.0, sr)
    c = 0.0
    mem = 0.0
    y_prev = 0.0
    for n in range(x.shape[0]):
        v, phi = _core(_biquad_step(hp, x[n], s_in), phi, w, leak, 1.0 / sr, core)
        e = abs(y_prev) / thr - 1.0  # feedback: the detector reads the output
        e = e if e > 0.0 else 0.0
        if e > c:
            c += a_att * (e - c)
        else:
            c += (r_fast + (mem if program else 0.5) * (r_slow - r_fast)) * (e - c)
        mem += a_mem * ((1.0 if c > 0.5 else 0.0) - mem)
        g = 1.0 / (1.0 + k * c * (math.sqrt(c) if power else 1.0))
        y = v * g
        if harmonic:
            y += 0.08 * (1.0 - g) * y * y  # the FET's second harmonic, with its reduction
        y_prev = y
        out[n] = makeup * _biquad_step(lp, y, s_out)


def input_transformer(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """The unit's input transformer alone (the resonant high-pass and the saturating core): (T,) -> (T,)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    out = np.empty_like(x)
    _input_transformer(x, float(sample_rate), np.array(_biquad("high", 18.0, 1.3, float(sample_rate))), out)
    return out


@dataclass(frozen=True)
class FETLeveler(UnitSetting):
    """The third virtual unit at one setting.

    Args:
        peak_reduction: 0..100 (threshold from -8 dBFS down to -40 dBFS).
        mode: ``compress`` or ``limit``.
        without: mechanisms to leave out (:class:`~.virtual_unit.UnitSetting`).
    """

    MECHANISMS: ClassVar[dict] = {
        "program_release": "the release moving from 55 ms to 1.2 s after long reduction",
        "gain_law": "the FET's gain law 1 / (1 + k c^1.5) (left out: 1 / (1 + k c))",
        "fet_harmonic": "the FET's second harmonic, growing with its gain reduction",
        "core_saturation": "the input transformer core's saturation (the cubic magnetising current)",
    }

    def process(self, x: np.ndarray, sample_rate: int) -> np.ndarray:
        """Process mono audio (T,) float64 -> (T,)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        sr = float(sample_rate)
        limit = self.mode == "limit"
        hp = np.array(_biquad("high", 18.0, 1.3, sr))
        lp = np.array(_biquad("low", min(21000.0, 0.42 * sr), 1.15, sr))
        thr = 10 ** ((-8.0 - 0.32 * self.peak_reduction) / 20)
        out = np.empty_like(x)
        _unit(x, sr, hp, lp, thr, 11.0 if limit else 3.0, 0.12 if limit else 0.35, 10 ** (4.0 / 20),
              self.has("program_release"), self.has("gain_law"), self.has("fet_harmonic"), self.has("core_saturation"),
              out)
        return out
