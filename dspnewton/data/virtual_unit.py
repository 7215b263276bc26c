"""An embedded virtual levelling amplifier and a small SignalTrain-layout dataset made with it.

The unit simulates an optical levelling amplifier and is deliberately *not*
in the fitted model's family:

- feedback side-chain: the detector reads the previous output sample;
- electro-luminescent panel: light follows the rectified side-chain quickly;
- photoresistor with a two-stage, program-dependent release: a fast component
  (~60 ms) and a slow one (1.5 s, lengthened by a memory of recent gain
  reduction), mixed half and half;
- a soft resistive gain law ``G = 1 / (1 + (k c)^p)`` (``p`` sets the
  effective ratio: about 3:1 in compress mode, 7:1 in limit mode);
- a mild, asymmetric tube-style output stage.

The peak-reduction control (0..100) sets the side-chain gain; the mode switch
sets the law and the panel's speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numba as nb
import numpy as np

from ..synth import music_like
from ..modes import MODES

__all__ = ["OpticalLeveler", "generate_dataset"]


@nb.njit(cache=True)
def _coef(ms, sr):
    return 1.0 - math.exp(-1.0 / (ms * 1e-3 * sr))


@nb.njit(cache=True)
def _leveler(x, sr, sc_gain, law_k, law_p, el_attack_ms, el_release_ms, cell_attack_ms, fast_ms, slow_ms,
             memory_ms, fast_share, drive, bias, makeup, program, tube, panel, out):  # pragma: no cover - compiled
    a_el = _coef(el_attack_ms, sr)
    r_el = _coef(el_release_ms, sr)
    a_cell = _coef(cell_attack_ms, sr)
    r_fast = _coef(fast_ms, sr)
    a_mem = _coef(memory_ms, sr)
    offset = math.tanh(drive * bias)
    light = 0.0
    cf = 0.0
    cs = 0.0
    mem = 0.0
    y_prev = 0.0
    for n in range(x.shape[0]):
        d = sc_gain * abs(y_prev)
        light += (a_el if d > light else r_el) * (d - light) if panel else d - light
        cf += (a_cell if light > cf else r_fast) * (light - cf)
        if light > cs:
            cs += a_cell * (light - cs)
        else:
            cs += _coef(slow_ms * (1.0 + 3.0 * (mem if program else 0.5)), sr) * (light - cs)
        cond = fast_share * cf + (1.0 - fast_share) * cs
        mem += a_mem * (min(cond, 1.0) - mem)
        gain = 1.0 / (1.0 + (law_k * cond) ** law_p)
        v = x[n] * gain
        y = makeup * (math.tanh(drive * (v + bias)) - offset) / drive if tube else makeup * v
        out[n] = y
        y_prev = y


@dataclass(frozen=True)
class UnitSetting:
    """A virtual unit's front panel: peak reduction 0..100 and the compress/limit switch (checked).

    ``without``: names of the unit's mechanisms (:attr:`MECHANISMS`, name -> what it is) to leave out,
    to measure what each costs a model that lacks it (``benchmarks/unit_mechanisms.py``); empty is the
    unit as it is.  A program-dependent release left out runs as if its memory of gain reduction
    were held at one half.
    """

    peak_reduction: float
    mode: str = "compress"
    without: frozenset = frozenset()

    MECHANISMS: ClassVar[dict] = {}

    def __post_init__(self):
        if not 0 <= self.peak_reduction <= 100:
            raise ValueError(f"peak_reduction must be in [0, 100], got {self.peak_reduction}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be 'compress' or 'limit', got {self.mode!r}")
        if isinstance(self.without, str):
            raise ValueError(f"without takes a set of mechanism names, got the string {self.without!r}")
        object.__setattr__(self, "without", frozenset(self.without))
        unknown = sorted(self.without - set(self.MECHANISMS))
        if unknown:
            raise ValueError(f"{type(self).__name__} has no mechanism {', '.join(map(repr, unknown))}; "
                             f"it has: {', '.join(self.MECHANISMS)}")

    def has(self, mechanism: str) -> int:
        """1 when ``mechanism`` (one of :attr:`MECHANISMS`) is in, 0 when left out (a flag for the kernels)."""
        assert mechanism in self.MECHANISMS, mechanism
        return int(mechanism not in self.without)


@dataclass(frozen=True)
class OpticalLeveler(UnitSetting):
    """The virtual unit at one setting.

    Args:
        peak_reduction: 0..100 (side-chain gain from -6 dB to +44 dB).
        mode: ``compress`` or ``limit``.
        without: mechanisms to leave out (:class:`UnitSetting`).
    """

    MECHANISMS: ClassVar[dict] = {
        "program_release": "the slow release lengthened by a memory of recent gain reduction (1.5 to 6 s)",
        "output_stage": "the asymmetric tube-style output stage",
        "panel": "the electro-luminescent panel's own lag (light follows the side chain with a 0.5-1.5 ms attack "
                 "and an 8 ms release; left out: at once)",
    }

    def process(self, x: np.ndarray, sample_rate: int) -> np.ndarray:
        """Process mono audio (T,) float64 -> (T,)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        out = np.empty_like(x)
        limit = self.mode == "limit"
        sc_gain = 10 ** ((-6.0 + 0.5 * self.peak_reduction) / 20)
        _leveler(x, float(sample_rate), sc_gain, 1.0, 6.0 if limit else 2.0,
                 0.5 if limit else 1.5, 8.0, 10.0, 60.0, 1500.0, 3000.0, 0.5, 1.4, 0.08, 1.6,
                 self.has("program_release"), self.has("output_stage"), self.has("panel"), out)
        return out


def generate_dataset(out_dir, seconds: float = 30.0, peaks=range(40, 101, 10), modes=MODES,
                     sample_rate: int = 44100, seed: int = 0, split: str = "Train", first_id: int = 100,
                     progress=None) -> list[Path]:
    """Write a SignalTrain-layout dataset rendered by the virtual unit.

    One shared, seeded program (like the ``3c`` stimulus) is written once per
    id as ``input_<id>_.wav`` with its target
    ``target_<id>_LA2A_3c__<switch>__<peak>.wav`` (float WAV), all in ``split/``.

    Returns:
        the written paths.
    """
    import soundfile as sf

    from ..audio import atomic_write_bytes

    folder = Path(out_dir) / split
    folder.mkdir(parents=True, exist_ok=True)
    x = music_like(seconds, sample_rate, seed=seed)
    written = []
    ident = first_id
    for switch, mode in enumerate(MODES):
        if mode not in modes:
            continue
        for peak in peaks:
            y = OpticalLeveler(float(peak), mode).process(x, sample_rate)
            for name, data in ((f"input_{ident}_.wav", x), (f"target_{ident}_LA2A_3c__{switch}__{int(peak)}.wav", y)):
                path = folder / name
                atomic_write_bytes(path, lambda tmp, d=data: sf.write(tmp, d.astype(np.float32), sample_rate,
                                                                       subtype="FLOAT", format="WAV"))
                written.append(path)
            if progress:
                progress(mode, peak)
            ident += 1
    return written
