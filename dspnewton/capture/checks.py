"""Check a recording of the capture signal and move it onto the signal's clock.

:func:`check_recording` finds the four markers (sub-sample), and from them the latency
(samples and ms) and the recorder's clock drift (ppm); it detects polarity inversion,
clipping, DC offset, the noise floor and the calibration tone's level, and refuses a
recording that is of another signal, at another rate, silent, clipped, too short or
stereo with different channels.  What can be corrected (latency, drift, polarity, DC)
is corrected: :attr:`CaptureCheck.aligned` is the recording resampled onto the capture
signal's samples, so that ``aligned[n]`` is the unit's output for ``signal[n]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .resample import interpolate
from .stimulus import CALIBRATION_DBFS, MARKER_SPACING_S, CaptureSignal, marker

__all__ = ["CaptureCheck", "check_recording", "MAX_DRIFT_PPM", "MAX_LATENCY_S"]

MAX_LATENCY_S = 2.0  # the opening markers are searched up to this long after their place in the signal
MAX_DRIFT_PPM = 1000.0  # interface clocks are within +-100 ppm; beyond 0.1 % it is another rate
MARKER_MATCH = 0.5  # normalised correlation a marker must reach (over the marker and its guard of silence)
MARKER_GUARD_S = 0.02
SIGNAL_MATCH = 0.5  # median normalised correlation of 1 s blocks of program with the signal
CLIP_LEVEL = 0.999
CLIP_RUN = 3  # samples in a row at full scale
NOISE_REFUSE_DBFS = -30.0
NOISE_WARN_DBFS = -50.0
DC_REPORT = 1e-5


@dataclass
class CaptureCheck:
    """What :func:`check_recording` found.

    Attributes:
        ok: the recording can be fitted (after the corrections in ``messages``).
        latency_samples: where the signal's first sample lies in the recording (samples, sub-sample;
            negative when the recording started after playback).
        drift_ppm: recorder clock relative to the player's (+: the recording has more samples per second).
        polarity: +1, or -1 when the recording is inverted.
        clipped: runs of at least 3 samples at full scale.
        dc: mean of the recording in its leading silence (removed).
        noise_floor_dbfs: RMS level in the silences (AES17: a full-scale sine reads 0 dBFS).
        calibration_dbfs: level of the 1 kHz calibration tone in the recording (sine peak dBFS).
        messages: what was corrected or noticed. problems: why the recording is refused.
        aligned: (T,) the corrected recording on the capture signal's clock (None when refused).
    """

    path: str
    ok: bool = False
    sample_rate: int = 0
    latency_samples: float | None = None
    latency_ms: float | None = None
    drift_ppm: float | None = None
    polarity: int | None = None
    clipped: int = 0
    dc: float | None = None
    noise_floor_dbfs: float | None = None
    calibration_dbfs: float | None = None
    signal_match: float | None = None
    messages: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    aligned: np.ndarray | None = field(default=None, repr=False)

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "aligned"}

    def refusal(self) -> str:
        """One paragraph: the file, what is wrong, what to do."""
        return f"recording '{self.path}' cannot be used: " + " ".join(self.problems)


def _db(v: float) -> float:
    return float(20 * np.log10(max(v, 1e-12)))


def _rms_dbfs(x: np.ndarray) -> float:
    return _db(np.sqrt(np.mean(np.square(x))) * np.sqrt(2.0)) if len(x) else -240.0


def _quietest_dbfs(x: np.ndarray, block: int) -> float:
    """RMS level (AES17) of the quietest block of ``x``."""
    n = len(x) // block
    if n == 0:
        return _rms_dbfs(x)
    ms = np.mean(np.square(x[: n * block]).reshape(n, block), axis=1)
    return _db(np.sqrt(ms.min() * 2.0))


def _find_marker(rec: np.ndarray, template: np.ndarray, lo: int, hi: int, guard: int):
    """(position (float, sub-sample), signed normalised correlation) of ``template``'s start in
    ``rec[lo:hi]``, or (None, 0) when the range is too short.  The correlation is normalised over
    the marker and ``guard`` samples of silence on each side (the markers stand in silence), so
    program material that happens to look like a click does not match."""
    padded = np.concatenate([np.zeros(guard), template, np.zeros(guard)])
    lo, hi = max(0, lo - guard), min(len(rec), hi + guard)
    m = len(padded)
    if hi - lo < m:
        return None, 0.0
    seg = rec[lo:hi]
    nfft = 1 << (len(seg) + m - 1).bit_length()
    cc = np.fft.irfft(np.fft.rfft(seg, nfft) * np.conj(np.fft.rfft(padded, nfft)), nfft)[: len(seg) - m + 1]
    energy = np.concatenate([[0.0], np.cumsum(seg * seg)])
    local = np.sqrt(np.maximum(energy[m:] - energy[:-m], 0.0))[: len(cc)]
    norm = np.linalg.norm(template)
    ncc = cc / (norm * np.maximum(local, 1e-12 * norm))
    k = int(np.argmax(np.abs(ncc)))
    return lo + guard + k + _refine(seg, template, k + guard), float(ncc[k])


def _refine(seg: np.ndarray, template: np.ndarray, k: int) -> float:
    """Sub-sample offset (in -1..1) of the correlation peak at integer lag k, by evaluating the
    band-limited cross-correlation at fractional lags (frequency domain) and a parabola at its top."""
    pad = 32
    a, b = max(0, k - pad), min(len(seg), k + len(template) + pad)
    s = seg[a:b]
    t = np.zeros(len(s))
    t[k - a: k - a + len(template)] = template
    n = 1 << (2 * len(s)).bit_length()
    cross = np.fft.rfft(s, n) * np.conj(np.fft.rfft(t, n))
    weight = np.full(len(cross), 2.0)
    weight[0] = 1.0
    weight[-1] = 1.0
    freqs = np.arange(len(cross)) / n
    taus = np.linspace(-1.0, 1.0, 201)
    vals = (weight * cross * np.exp(2j * np.pi * np.outer(taus, freqs))).real.sum(1)
    vals = np.abs(vals)
    i = int(np.clip(np.argmax(vals), 1, len(taus) - 2))
    y0, y1, y2 = vals[i - 1], vals[i], vals[i + 1]
    denom = y0 - 2 * y1 + y2
    shift = 0.5 * (y0 - y2) / denom if denom != 0 else 0.0
    return float(taus[i] + shift * (taus[1] - taus[0]))


def _clip_runs(x: np.ndarray) -> tuple[int, int | None]:
    """(number of runs of >= CLIP_RUN samples at |x| >= CLIP_LEVEL, index of the first)."""
    hot = np.abs(x) >= CLIP_LEVEL
    if not hot.any():
        return 0, None
    edges = np.diff(np.concatenate([[0], hot.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    long = (ends - starts) >= CLIP_RUN
    return int(long.sum()), (int(starts[long][0]) if long.any() else None)


def check_recording(data: np.ndarray, sample_rate: int, sig: CaptureSignal, path: str = "recording") -> CaptureCheck:
    """Check one recording of ``sig`` and align it.

    Args:
        data: (C, T) or (T,) samples as read from the file (float, full scale 1).
        sample_rate: the file's rate (Hz).
        sig: the capture signal (:func:`~dspnewton.capture.stimulus.load_signal`).
        path: the file name, for messages.

    Returns:
        :class:`CaptureCheck`; ``ok`` False with ``problems`` when the recording is refused.
    """
    res = CaptureCheck(str(path), sample_rate=int(sample_rate))
    sr = sig.sample_rate
    data = np.atleast_2d(np.asarray(data, dtype=np.float64))
    if sample_rate != sr:
        res.problems.append(f"it is at {sample_rate} Hz but the capture signal is at {sr} Hz; record at {sr} Hz "
                            f"(set the interface and the recorder to {sr} Hz), or write a capture signal at "
                            f"{sample_rate} Hz with 'dspnewton capture signal --rate {sample_rate}' and record that.")
        return res
    if not np.isfinite(data).all():
        res.problems.append("it contains NaN or infinite samples; export the take again.")
        return res
    if data.shape[0] > 1:
        ref = data[0]
        if any(np.abs(ch - ref).max() > 1e-6 * max(np.abs(ref).max(), 1e-12) for ch in data[1:]):
            res.problems.append(f"it has {data.shape[0]} channels that differ; record the unit's output in mono "
                                f"(one channel) or export only the channel that holds it.")
            return res
        res.messages.append(f"{data.shape[0]} identical channels: used the first")
    rec = data[0]
    peak = float(np.abs(rec).max()) if len(rec) else 0.0
    if peak == 0.0 or _rms_dbfs(rec) < -90.0:
        res.problems.append("it is silent; check that the unit's output reaches the recorder and record again.")
        return res
    res.clipped, first_clip = _clip_runs(rec)
    if res.clipped:
        res.problems.append(f"it is clipped in {res.clipped} places (the first at {first_clip / sr:.2f} s); lower "
                            f"the unit's output or the interface's input gain and record again.")
        return res
    # the opening markers: where the recording holds the signal's start (searched with a rough DC removed:
    # an offset over the marker's guard of silence would drown a quiet marker)
    search = rec - np.median(rec)
    up, down = marker("a", sr), marker("b", sr)
    ou_ref, od_ref, cu_ref, cd_ref = (sig.markers[k] for k in ("open_a", "open_b", "close_a", "close_b"))
    hi = ou_ref + int(MAX_LATENCY_S * sr) + len(up)
    guard = int(MARKER_GUARD_S * sr)
    ou, m_ou = _find_marker(search, up, 0, hi, guard)
    if ou is None or abs(m_ou) < MARKER_MATCH:
        floor = _quietest_dbfs(search[:hi], int(0.05 * sr))
        if floor > NOISE_REFUSE_DBFS:
            res.noise_floor_dbfs = floor
            res.problems.append(f"its opening markers are not found, and its first {hi / sr:.1f} s hold no silence "
                                f"(quietest 50 ms at {floor:.1f} dBFS) where the capture signal starts with 1 s of it: "
                                f"it is not a recording of this capture signal, or its noise floor (over "
                                f"{NOISE_REFUSE_DBFS:g} dBFS) buries the markers; play this folder's capture.wav, "
                                f"check cables, earthing and gain staging, and record again.")
            return res
        res.problems.append(f"it is not a recording of this capture signal: its opening marker (a click "
                            f"{ou_ref / sr:.2f} s into the signal) is not in its first {hi / sr:.1f} s; start "
                            f"recording before playback, and play the capture.wav of this folder.")
        return res
    spacing = od_ref - ou_ref
    od, m_od = _find_marker(search, down, int(ou) + spacing - 200, int(ou) + spacing + len(down) + 200, guard)
    if od is not None and abs(m_od) >= MARKER_MATCH and abs(od - ou - spacing) > 2 + spacing * MAX_DRIFT_PPM * 1e-6:
        res.problems.append(f"its clock runs about {100 * ((od - ou) / spacing - 1):+.2f} % against the signal's "
                            f"(the opening markers are {od - ou:.1f} samples apart, not {spacing}); it was resampled "
                            f"or recorded at another rate than its header says; record at {sr} Hz.")
        return res
    if od is None or abs(m_od) < MARKER_MATCH:
        res.problems.append(f"its second opening marker is not {MARKER_SPACING_S} s after the first; it is not a "
                            f"recording of this capture signal, or its start was cut; record the whole signal again.")
        return res
    # the closing markers: the drift over the whole take
    span = cu_ref - ou_ref
    slack = int(span * MAX_DRIFT_PPM * 1e-6) + int(0.05 * sr)
    expect = int(round(ou + span))
    if len(rec) < expect - slack + len(up) + spacing + len(down):
        res.problems.append(f"it is too short: it ends at {len(rec) / sr:.2f} s, before the closing markers "
                            f"(about {(expect + spacing + len(down)) / sr:.2f} s into the recording); record the "
                            f"whole capture signal ({len(sig.audio) / sr:.1f} s) and stop after it ends.")
        return res
    cu, m_cu = _find_marker(search, up, expect - slack, expect + slack + len(up), guard)
    cd, m_cd = _find_marker(search, down, expect + spacing - slack, expect + spacing + slack + len(down), guard)
    if cu is None or cd is None or min(abs(m_cu), abs(m_cd)) < MARKER_MATCH:
        res.problems.append("its closing markers are missing; it was cut, or the playback stopped early, or it is "
                            "of another signal; record the whole capture signal again.")
        return res
    drift = 0.5 * ((cu - ou) / span + (cd - od) / (cd_ref - od_ref)) - 1.0
    res.drift_ppm = float(drift * 1e6)
    if abs(res.drift_ppm) > MAX_DRIFT_PPM:
        res.problems.append(f"its clock runs {res.drift_ppm / 1e4:+.3f} % against the signal's; it was resampled "
                            f"or recorded at another rate than its header says; record at {sr} Hz.")
        return res
    signs = np.sign([m_ou, m_od, m_cu, m_cd])
    if len(set(signs)) > 1:
        res.problems.append("its markers disagree in polarity; the take is damaged or edited; record it again.")
        return res
    res.polarity = int(signs[0])
    start = ou - ou_ref * (1.0 + drift)  # recording position of the signal's sample 0
    res.latency_samples = float(start)
    res.latency_ms = float(1000.0 * start / sr)
    # DC and noise floor: in the leading silence (before the first marker), else the tail
    quiet_lo, quiet_hi = max(0, int(start) + int(0.05 * sr)), int(ou) - int(0.05 * sr)
    if quiet_hi - quiet_lo < int(0.1 * sr):
        quiet_lo = int(cd) + len(down) + int(0.3 * sr)
        quiet_hi = len(rec)
    quiet = rec[quiet_lo:quiet_hi]
    res.dc = float(quiet.mean()) if len(quiet) else 0.0
    res.noise_floor_dbfs = _rms_dbfs(quiet - res.dc) if len(quiet) else None
    if res.noise_floor_dbfs is not None and res.noise_floor_dbfs > NOISE_REFUSE_DBFS:  # before resampling it
        res.problems.append(f"its noise floor is {res.noise_floor_dbfs:.1f} dBFS (over {NOISE_REFUSE_DBFS:g}); "
                            f"check cables, earthing and gain staging and record again.")
        return res
    rec = rec - res.dc
    if res.polarity < 0:
        res.messages.append("polarity inverted: flipped")
    if abs(res.dc) > DC_REPORT:
        res.messages.append(f"DC offset {res.dc:+.2e} ({_db(abs(res.dc)):.1f} dBFS): removed")
    res.messages.append(f"latency {res.latency_samples:.2f} samples ({res.latency_ms:.3f} ms) and clock drift "
                        f"{res.drift_ppm:+.2f} ppm: removed by resampling")
    aligned = res.polarity * interpolate(rec, start, 1.0 + drift, len(sig.audio))
    first = int(np.ceil(max(0.0, -start / (1.0 + drift))))
    if first > 0:
        res.messages.append(f"the recording starts {first / sr:.2f} s into the signal's leading silence: "
                            f"padded with zeros")
    last = (len(rec) - 1 - start) / (1.0 + drift)
    if last < len(sig.audio) - 1:
        res.messages.append(f"the recording ends {(len(sig.audio) - 1 - last) / sr:.2f} s before the signal "
                            f"(in its closing silence): padded with zeros")
    if res.noise_floor_dbfs is not None and res.noise_floor_dbfs > NOISE_WARN_DBFS:
        res.messages.append(f"warning: noise floor {res.noise_floor_dbfs:.1f} dBFS is high; the fit models it as "
                            f"part of the unit")
    a, b = sig.segments["calibration"]
    mid = slice(a + (b - a) // 4, b - (b - a) // 4)
    res.calibration_dbfs = _rms_dbfs(aligned[mid])
    res.messages.append(f"calibration tone ({CALIBRATION_DBFS:g} dBFS in) reads {res.calibration_dbfs:.2f} dBFS")
    res.signal_match = _signal_match(aligned, sig)
    if res.signal_match < SIGNAL_MATCH:
        res.problems.append(f"its program part does not follow the capture signal (median correlation "
                            f"{res.signal_match:.2f}); it is of another signal or the take was edited; record "
                            f"this folder's capture.wav again without editing.")
        return res
    res.aligned = aligned
    res.ok = True
    return res


def _signal_match(aligned: np.ndarray, sig: CaptureSignal) -> float:
    """Median normalised correlation of 1 s blocks of the program and validation parts."""
    sr, vals = sig.sample_rate, []
    for seg in ("program", "validation"):
        a, b = sig.segments[seg]
        for s in range(a, b - sr + 1, sr):
            x, y = sig.audio[s:s + sr], aligned[s:s + sr]
            den = np.linalg.norm(x) * np.linalg.norm(y)
            if np.linalg.norm(x) > 1e-3 * np.sqrt(sr):
                vals.append(float(np.dot(x, y) / den) if den > 0 else 0.0)
    return float(np.median(vals)) if vals else 0.0
