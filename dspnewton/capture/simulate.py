"""What an audio interface does to a recording, simulated (for tests, benchmarks and
trying the capture workflow without hardware).

The simulation is independent of :mod:`dspnewton.capture.resample`: the clock drift
is an FFT resampling to a whole number of samples and the fractional latency a linear
phase, so that the checker is not tested against its own interpolator.
"""

from __future__ import annotations

import numpy as np

__all__ = ["simulate_recording"]


def _fft_shift(x: np.ndarray, delay: float) -> np.ndarray:
    """x delayed by ``delay`` samples (fraction allowed), circularly (pad first)."""
    n = len(x)
    f = np.fft.rfftfreq(n)
    return np.fft.irfft(np.fft.rfft(x) * np.exp(-2j * np.pi * f * delay), n)


def simulate_recording(y: np.ndarray, sample_rate: int, *, latency: float = 0.0, drift_ppm: float = 0.0,
                       polarity: int = 1, dc: float = 0.0, noise_dbfs: float | None = None,
                       start_late_s: float = 0.0, end_early_s: float = 0.0, seed: int = 0) -> tuple[np.ndarray, dict]:
    """A recording of the unit's output ``y`` (T,), as an interface would make it.

    Args:
        latency: samples from the start of the recording to the output's sample 0 (fraction allowed).
        drift_ppm: recorder clock relative to the player's (+: more samples per second).
        polarity, dc: sign and offset added by the interface.
        noise_dbfs: RMS level of added white noise (AES17), or None.
        start_late_s: the first seconds of the recording are missing (recording started late).
        end_early_s: the last seconds are missing (stopped early).

    Returns:
        ((T',) recording, truth) with ``truth["latency_samples"]`` and ``truth["drift_ppm"]`` as simulated
        (the drift is rounded to a whole number of output samples).
    """
    from scipy.signal import resample

    y = np.asarray(y, dtype=np.float64)
    pad = int(abs(latency)) + 64
    m = len(y) + pad
    num = int(round(m * (1.0 + drift_ppm * 1e-6)))
    drift = num / m - 1.0
    z = resample(np.concatenate([y, np.zeros(pad)]), num)
    whole = int(np.floor(latency))
    z = _fft_shift(np.concatenate([np.zeros(max(whole, 0) + 16), z]), latency - whole)
    z = z[16:] if whole >= 0 else z[16 - whole:]
    z = z[: num - pad + max(whole, 0) + 8]
    rng = np.random.default_rng(seed)
    if noise_dbfs is not None:
        z = z + rng.standard_normal(len(z)) * 10 ** (noise_dbfs / 20) / np.sqrt(2.0)
    z = polarity * z + dc
    late = int(round(start_late_s * sample_rate))
    early = int(round(end_early_s * sample_rate))
    z = z[late: len(z) - early if early else None]
    return z, {"latency_samples": float(latency - late), "drift_ppm": drift * 1e6}
