"""Deterministic, seeded program material that behaves like music.

Drums (kick, snare, hats), a bass line, sustained chords and a lead line over
sections at different levels with short gaps: strong transients, sustained
tones and level changes, which exercise both attack and release of a
compressor.  Used by tests, benchmarks and the embedded virtual dataset.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["music_like"]


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
