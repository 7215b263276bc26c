"""Deterministic, seeded program material that behaves like music.

Drums (kick, snare, hats), a bass line, sustained chords and a lead line over
sections at different levels with short gaps: strong transients, sustained
tones and level changes, which exercise both attack and release of a
compressor.  Used by tests, benchmarks and the embedded virtual dataset.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["music_like", "program_material", "PROGRAM_KINDS"]


def _env(n: int, attack: int, decay: float, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    env = np.exp(-t / decay)
    if attack > 0:
        env[:attack] *= np.linspace(0.0, 1.0, attack, endpoint=False)
    return env


def music_like(seconds: float, sample_rate: int = 44100, seed: int = 0, bpm: float | None = None) -> np.ndarray:
    """Return a mono float64 signal of ``seconds`` s, peak about 0.9.

    Args:
        seconds: duration in seconds.
        sample_rate: Hz.
        seed: random seed; the same seed gives the same signal.
        bpm: tempo; random in [84, 132] when None.

    Returns:
        (T,) numpy float64 array, T = round(seconds * sample_rate).
    """
    rng = np.random.default_rng(seed)
    sr = sample_rate
    T = int(round(seconds * sr))
    out = np.zeros(T)
    bpm = bpm or float(rng.uniform(84, 132))
    beat = int(sr * 60.0 / bpm)
    sixteenth = max(1, beat // 4)
    root = 40 + int(rng.integers(0, 12))
    scale = np.array([0, 2, 3, 5, 7, 8, 10])

    def note_hz(step: int, octave: int = 0) -> float:
        midi = root + 12 * octave + scale[step % 7] + 12 * (step // 7)
        return 440.0 * 2 ** ((midi - 69) / 12)

    def add(sig: np.ndarray, start: int) -> None:
        if start >= T:
            return
        end = min(T, start + len(sig))
        out[start:end] += sig[: end - start]

    # Drums.
    for pos in range(0, T, sixteenth):
        step = (pos // sixteenth) % 16
        if step in (0, 8) or (step == 10 and rng.random() < 0.5):
            n = int(0.25 * sr)
            t = np.arange(n) / sr
            f = 50 + 90 * np.exp(-t / 0.03)
            add(0.9 * np.sin(2 * math.pi * np.cumsum(f) / sr) * _env(n, 10, 0.12, sr), pos)
        if step in (4, 12):
            n = int(0.2 * sr)
            noise = rng.standard_normal(n)
            add(0.5 * noise * _env(n, 5, 0.06, sr) + 0.3 * np.sin(2 * math.pi * 190 * np.arange(n) / sr) * _env(n, 5, 0.05, sr), pos)
        if rng.random() < 0.8:
            n = int(0.05 * sr)
            hp = np.diff(rng.standard_normal(n + 1))
            add(0.08 * hp * _env(n, 2, 0.015, sr), pos)
    # Bass: eighth notes following a random walk.
    step = 0
    for pos in range(0, T, 2 * sixteenth):
        step = int(np.clip(step + rng.integers(-2, 3), -3, 7))
        n = 2 * sixteenth
        t = np.arange(n) / sr
        f = note_hz(step, -1)
        tone = np.tanh(2.0 * np.sin(2 * math.pi * f * t)) + 0.3 * np.sin(4 * math.pi * f * t)
        add(0.25 * tone * _env(n, 40, 0.25, sr), pos)
    # Chords: one per bar, sustained.
    for pos in range(0, T, 4 * beat):
        degree = int(rng.integers(0, 7))
        n = 4 * beat
        t = np.arange(n) / sr
        chord = sum(np.sin(2 * math.pi * note_hz(degree + k, 1) * t + rng.uniform(0, 6)) for k in (0, 2, 4))
        add(0.06 * chord * _env(n, int(0.05 * sr), 3.0, sr), pos)
    # Lead: random rhythm, vibrato, some rests.
    pos = 0
    while pos < T:
        dur = int(sixteenth * rng.choice([1, 2, 2, 4, 6]))
        if rng.random() < 0.75:
            t = np.arange(dur) / sr
            f = note_hz(int(rng.integers(0, 10)), 2) * (1 + 0.004 * np.sin(2 * math.pi * 5.5 * t))
            tone = np.sin(2 * math.pi * np.cumsum(f) / sr)
            add(0.15 * (tone + 0.2 * tone**3) * _env(dur, int(0.01 * sr), 0.4, sr), pos)
        pos += dur
    # Sections with level changes and short gaps.
    gain = np.ones(T)
    pos = 0
    while pos < T:
        length = int(sr * rng.uniform(2.0, 6.0))
        level = 10 ** (rng.uniform(-18, 0) / 20)
        gain[pos : pos + length] = level
        if rng.random() < 0.3:
            gap = int(sr * rng.uniform(0.05, 0.4))
            gain[pos + length - gap : pos + length] = 0.0
        pos += length
    # Smooth the section gains over 5 ms to avoid clicks.
    k = max(1, int(0.005 * sr))
    gain = np.convolve(gain, np.ones(k) / k, mode="same")
    out *= gain
    peak = np.abs(out).max()
    return out * (0.9 / peak) if peak > 0 else out


PROGRAM_KINDS = ("speech", "bass", "organ", "onsets")


def _speech(T: int, sr: int, rng) -> np.ndarray:
    """Formant bursts: voiced syllables (glottal pulse train through three formant
    resonators, pitch glides) with unvoiced fricatives and pauses between phrases."""
    from scipy.signal import lfilter

    out = np.zeros(T)
    pos = int(rng.integers(0, sr // 10))
    formants = ((700, 1220, 2600), (300, 2300, 3000), (500, 900, 2400), (400, 1900, 2550), (600, 1000, 2500))
    while pos < T:
        phrase_end = pos + int(sr * rng.uniform(0.8, 2.5))
        while pos < min(phrase_end, T):
            n = int(sr * rng.uniform(0.08, 0.3))
            t = np.arange(n) / sr
            if rng.random() < 0.8:  # voiced syllable
                f0 = rng.uniform(90, 220) * (1 + rng.uniform(-0.15, 0.15) * t / max(t[-1], 1e-9))
                phase = np.cumsum(f0) / sr
                src = (phase % 1.0) - 0.5  # sawtooth-like glottal source
                sig = np.zeros(n)
                for k, fc in enumerate(formants[int(rng.integers(0, len(formants)))]):
                    r = math.exp(-math.pi * (60 + 40 * k) / sr)
                    a = [1.0, -2 * r * math.cos(2 * math.pi * fc / sr), r * r]
                    sig += lfilter([1.0 - r], a, src) / (k + 1)
            else:  # fricative
                sig = 0.4 * np.diff(rng.standard_normal(n + 1))
            env = np.sin(np.pi * np.arange(n) / n) ** 0.7
            end = min(T, pos + n)
            out[pos:end] += rng.uniform(0.3, 1.0) * (sig * env)[: end - pos]
            pos += n + int(sr * rng.uniform(0.0, 0.06))
        pos = phrase_end + int(sr * rng.uniform(0.2, 0.9))  # pause
    return out


def _bass(T: int, sr: int, rng) -> np.ndarray:
    """A bass-heavy mix: sub-bass notes, long kicks, little above 500 Hz."""
    out = np.zeros(T)
    beat = int(sr * 60.0 / rng.uniform(70, 100))
    for pos in range(0, T, beat):
        n = min(int(0.5 * sr), T - pos)
        t = np.arange(n) / sr
        f = 40 + 60 * np.exp(-t / 0.05)
        out[pos:pos + n] += 0.9 * np.sin(2 * math.pi * np.cumsum(f) / sr) * np.exp(-t / 0.25)
    pos = 0
    while pos < T:
        n = min(int(beat * rng.choice([1, 2, 2, 4])), T - pos)
        t = np.arange(n) / sr
        f = 30 + 40 * rng.random()
        tone = np.sin(2 * math.pi * f * t) + 0.4 * np.sin(4 * math.pi * f * t) + 0.1 * np.sin(6 * math.pi * f * t)
        out[pos:pos + n] += rng.uniform(0.3, 0.8) * tone * np.minimum(1.0, t / 0.02) * np.exp(-t / 1.5)
        pos += n
    return out


def _organ(T: int, sr: int, rng) -> np.ndarray:
    """Sustained organ chords (additive drawbar tones) with slow swells and chord changes."""
    out = np.zeros(T)
    pos = 0
    while pos < T:
        n = min(int(sr * rng.uniform(1.5, 4.0)), T - pos)
        t = np.arange(n) / sr
        root = 48 + int(rng.integers(0, 12))
        chord = np.zeros(n)
        for iv in (0, 4, 7, 12):
            f = 440.0 * 2 ** ((root + iv - 69) / 12)
            for h, w in ((1, 1.0), (2, 0.6), (3, 0.3), (4, 0.25), (8, 0.1)):
                chord += w * np.sin(2 * math.pi * f * h * t + rng.uniform(0, 6))
        swell = 0.3 + 0.7 * np.clip(0.5 + 0.5 * np.sin(2 * math.pi * t / rng.uniform(1.0, 3.0) + rng.uniform(0, 6)),
                                    0, 1)
        edge = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.03)
        out[pos:pos + n] += rng.uniform(0.2, 1.0) * chord * swell * edge
        pos += n
    return out


def _onsets(T: int, sr: int, rng) -> np.ndarray:
    """Long silences (0.4..2 s) broken by sudden loud onsets: hits, stabs and tone bursts."""
    out = np.zeros(T)
    pos = int(sr * rng.uniform(0.2, 0.8))
    while pos < T:
        n = min(int(sr * rng.uniform(0.1, 1.2)), T - pos)
        t = np.arange(n) / sr
        kind = rng.integers(0, 3)
        if kind == 0:  # noise hit
            sig = rng.standard_normal(n) * np.exp(-t / 0.08)
        elif kind == 1:  # brass-like stab
            f = rng.uniform(150, 600)
            sig = np.sign(np.sin(2 * math.pi * f * t)) * 0.5 + np.sin(2 * math.pi * 2 * f * t) * 0.3
            sig *= np.exp(-t / 0.4)
        else:  # sustained tone burst
            sig = np.sin(2 * math.pi * rng.uniform(80, 1200) * t)
        out[pos:pos + n] += rng.uniform(0.5, 1.0) * sig
        pos += n + int(sr * rng.uniform(0.4, 2.0))
    return out


def program_material(seconds: float, sample_rate: int = 44100, seed: int = 0, kind: str = "mixed") -> np.ndarray:
    """Program material unlike :func:`music_like`, for harder evaluations.

    Kinds: ``speech`` (formant bursts and pauses), ``bass`` (a bass-heavy mix),
    ``organ`` (sustained chords with swells), ``onsets`` (long silences with
    sudden loud onsets), or ``mixed``: sections of 1.5..4 s of the four kinds in
    a seeded order, each at its own level (-20..0 dB).

    Returns:
        (T,) numpy float64, T = round(seconds * sample_rate), peak about 0.9.
    """
    if kind not in PROGRAM_KINDS + ("mixed",):
        raise ValueError(f"kind must be one of {', '.join(PROGRAM_KINDS)}, mixed; got {kind!r}")
    rng = np.random.default_rng(seed)
    sr = sample_rate
    T = int(round(seconds * sr))
    makers = {"speech": _speech, "bass": _bass, "organ": _organ, "onsets": _onsets}
    if kind != "mixed":
        out = makers[kind](T, sr, rng)
    else:
        out = np.zeros(T)
        pos = 0
        order = list(PROGRAM_KINDS)
        while pos < T:
            rng.shuffle(order)
            for k in order:
                n = min(int(sr * rng.uniform(1.5, 4.0)), T - pos)
                if n <= 0:
                    break
                seg = makers[k](n, sr, rng)
                peak = np.abs(seg).max()
                if peak > 0:
                    seg = seg / peak * 10 ** (rng.uniform(-20, 0) / 20)
                ramp = np.minimum(1.0, np.minimum(np.arange(n), n - 1 - np.arange(n)) / max(1, int(0.005 * sr)))
                out[pos:pos + n] += seg * ramp
                pos += n
    peak = np.abs(out).max()
    return out * (0.9 / peak) if peak > 0 else out
