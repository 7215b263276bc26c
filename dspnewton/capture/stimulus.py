"""The standard capture signal: what to play through a unit so that one recording per
setting can be checked, aligned and fitted.

The signal is mono, at the user's interface rate, and holds these segments in order
(sample-exact boundaries are recorded in ``capture.json``):

=================  ==========================================================================
``lead``           1 s of silence: the recording's noise floor and DC offset
``open_markers``   two markers (band-limited 2 ms clicks, even and odd, -20 dBFS) 0.5 s apart:
                   latency (sub-sample) and, with the closing markers, clock drift
``calibration``    1 kHz sine at -18 dBFS (= 0 VU) for 2 s: the recording states its level
``steps``          a 1 kHz tone in 4 dB steps from -48 to -4 dBFS, 1 s each: the static curve
``bursts``         tone bursts with abrupt jumps of 24 dB and gaps of 0.1, 0.5 and 2 s: attack
                   and release with its memory
``program``        program material (speech-like, bass-heavy, transients, sustained chords;
                   :mod:`dspnewton.synth`), ``minutes`` long
``gap``            2 s of silence
``validation``     different program material that no fit uses (a quarter of the program,
                   at least 10 s), scored from the capture's first sample
``close_markers``  0.5 s of silence, then the two markers again: clock drift
``tail``           1 s of silence
=================  ==========================================================================

Levels are sine peak levels (AES17: a full-scale sine is 0 dBFS).  Program and validation are
low-passed at 0.42 sr (20 kHz at 48 kHz): above it converters filter, and a band-limited recording can
be moved by a fraction of a sample exactly.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..modes import MODES

__all__ = ["CAPTURE_SCHEMA", "SEGMENT_ORDER", "CaptureSignal", "make_signal", "write_signal", "load_signal",
           "recording_name", "parse_recording_name", "SETTINGS_GRID", "CALIBRATION_DBFS", "TONE_HZ",
           "STEP_LEVELS_DBFS", "MARKER_SPACING_S"]

CAPTURE_SCHEMA = 1
SEGMENT_ORDER = ("lead", "open_markers", "calibration", "steps", "bursts", "program", "gap", "validation",
                 "close_markers", "tail")
TONE_HZ = 1000.0
CALIBRATION_DBFS = -18.0  # 0 VU
STEP_LEVELS_DBFS = tuple(float(v) for v in range(-48, -3, 4))  # 12 steps, 44 dB
STEP_SECONDS = 1.0
MARKER_SECONDS = 0.002
MARKER_DBFS = -20.0
MARKER_SPACING_S = 0.5
MIN_VALIDATION_S = 10.0
DEFAULT_MINUTES = 2.0
BAND_LIMIT = 0.42  # program and validation are low-passed here (fraction of the sample rate)
DEFAULT_RATE = 48000
# (seconds at level dBFS; None = silence): jumps of 24 dB, then gaps of several lengths
BURSTS = ((1.0, -30.0), (1.0, -6.0), (2.0, -30.0), (3.0, -6.0), (3.0, -30.0), (0.5, -6.0), (0.1, None),
          (0.5, -6.0), (0.5, None), (0.5, -6.0), (2.0, None), (0.5, -6.0), (1.0, None))
SETTINGS_GRID = tuple((mode, peak) for mode in MODES for peak in range(0, 101, 10))
_SEEDS = {"program": 11, "validation": 23}


def recording_name(mode: str, peak: int) -> str:
    """The file name a recording of ``mode`` at ``peak`` should have, e.g. ``compress_070.wav``."""
    return f"{mode}_{int(peak):03d}.wav"


def parse_recording_name(name: str):
    """``(mode, peak)`` from ``compress_070.wav`` / ``limit_5.wav`` (any case), else None."""
    stem, dot, ext = name.rpartition(".")
    if not dot or ext.lower() != "wav":
        return None
    mode, _, peak = stem.lower().partition("_")
    if mode not in MODES or not peak.isdigit() or int(peak) > 100:
        return None
    return mode, int(peak)


@dataclass
class CaptureSignal:
    """The capture signal and its layout.

    Attributes:
        audio: (T,) float64 samples in [-1, 1].
        sample_rate: Hz.
        segments: name -> (start, end) sample indices (end exclusive), in :data:`SEGMENT_ORDER`.
        markers: sample index of each marker's start: ``open_a``, ``open_b``, ``close_a``, ``close_b``.
        minutes: program length the signal was made with.
        checksum: SHA-256 of the float32 samples (how a copy of the signal is recognised).
    """

    audio: np.ndarray
    sample_rate: int
    segments: dict
    markers: dict
    minutes: float
    checksum: str = ""
    extra: dict = field(default_factory=dict)

    def segment(self, name: str) -> slice:
        a, b = self.segments[name]
        return slice(a, b)

    @property
    def training_end(self) -> int:
        """Fits use samples ``[0, training_end)``: everything before the validation segment."""
        return self.segments["validation"][0]

    def to_json(self) -> dict:
        return {"schema": CAPTURE_SCHEMA, "sample_rate": self.sample_rate, "samples": int(len(self.audio)),
                "seconds": len(self.audio) / self.sample_rate, "minutes": self.minutes,
                "segments": {k: list(v) for k, v in self.segments.items()}, "markers": self.markers,
                "marker": {"seconds": MARKER_SECONDS, "dbfs": MARKER_DBFS, "kind": "band-limited click (0..sr/4, "
                           "Kaiser window): open_a/close_a even, open_b/close_b odd"},
                "calibration": {"hz": TONE_HZ, "dbfs": CALIBRATION_DBFS, "meaning": "0 VU"},
                "steps": {"hz": TONE_HZ, "dbfs": list(STEP_LEVELS_DBFS), "seconds": STEP_SECONDS},
                "bursts": [{"seconds": s, "dbfs": lv} for s, lv in BURSTS],
                "checksum": {"sha256_float32": self.checksum}, "file": "capture.wav"}


def marker(kind: str, sample_rate: int) -> np.ndarray:
    """A 2 ms band-limited click (band 0..sr/4, Kaiser window), peak at -20 dBFS: ``"a"`` even (a pulse),
    ``"b"`` odd (its derivative), so the two are told apart.  A click, unlike a chirp, keeps its
    timing through a unit whose gain moves while it passes."""
    n = int(round(MARKER_SECONDS * sample_rate)) | 1
    u = np.arange(n) - n // 2
    w = np.kaiser(n, 8.0)
    pulse = np.sinc(0.5 * u) * w
    if kind == "b":
        pulse = np.gradient(pulse)
    return 10 ** (MARKER_DBFS / 20) * pulse / np.abs(pulse).max()


def _tone(levels_db, seconds, sample_rate: int, start_phase: float = 0.0) -> np.ndarray:
    """A continuous-phase 1 kHz sine whose peak level jumps between ``levels_db`` (None = silence)."""
    counts = [int(round(s * sample_rate)) for s in seconds]
    amp = np.concatenate([np.full(n, 0.0 if lv is None else 10 ** (lv / 20)) for n, lv in zip(counts, levels_db)])
    t = np.arange(len(amp)) / sample_rate
    return amp * np.sin(2 * np.pi * TONE_HZ * t + start_phase)


def _band_limit(x: np.ndarray) -> np.ndarray:
    """Zero-phase low-pass at 0.42 sr (a 255-tap FIR, forwards and backwards): the signal holds nothing
    where converters filter, so a recording can be moved by a fraction of a sample without loss."""
    from scipy.signal import filtfilt, firwin

    return filtfilt(firwin(255, BAND_LIMIT * 2), [1.0], x)


def _checksum(audio: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(audio, dtype="<f4").tobytes()).hexdigest()


def make_signal(sample_rate: int = DEFAULT_RATE, minutes: float = DEFAULT_MINUTES) -> CaptureSignal:
    """Build the capture signal (deterministic: the same arguments give the same samples).

    Args:
        sample_rate: Hz (at least 8000; the rate of the interface the unit is recorded with).
        minutes: length of the program part (> 0); the validation part is a quarter of it, at least 10 s.
    """
    from ..synth import music_like, program_material

    sr = int(sample_rate)
    if sr < 8000:
        raise ValueError(f"the capture signal needs a sample rate of at least 8000 Hz, got {sample_rate}")
    if not minutes > 0:
        raise ValueError(f"minutes must be positive, got {minutes}")
    program_s = 60.0 * minutes
    validation_s = max(MIN_VALIDATION_S, program_s / 4)
    parts: list[tuple[str, np.ndarray]] = []
    silence = lambda s: np.zeros(int(round(s * sr)))  # noqa: E731

    def marker_pair(lead: float) -> np.ndarray:
        """``lead`` s of silence, marker a, marker b 0.5 s later, 0.5 s of silence."""
        k, s0 = int(round(MARKER_SPACING_S * sr)), int(round(lead * sr))
        out = np.zeros(s0 + 2 * k)
        a, b = marker("a", sr), marker("b", sr)
        out[s0: s0 + len(a)] = a
        out[s0 + k: s0 + k + len(b)] = b
        return out

    parts.append(("lead", silence(1.0)))
    parts.append(("open_markers", marker_pair(0.0)))
    parts.append(("calibration", _tone([CALIBRATION_DBFS], [2.0], sr)))
    parts.append(("steps", _tone(STEP_LEVELS_DBFS, [STEP_SECONDS] * len(STEP_LEVELS_DBFS), sr)))
    parts.append(("bursts", _tone([lv for _, lv in BURSTS], [s for s, _ in BURSTS], sr)))
    prog = _band_limit(program_material(program_s, sr, seed=_SEEDS["program"], kind="mixed"))
    parts.append(("program", 0.7 * prog / max(1e-12, np.abs(prog).max())))
    parts.append(("gap", silence(2.0)))
    half = validation_s / 2
    val = _band_limit(np.concatenate([music_like(half, sr, seed=_SEEDS["validation"]),
                                      program_material(validation_s - half, sr, seed=_SEEDS["validation"] + 1,
                                                       kind="mixed")]))
    parts.append(("validation", 0.7 * val / max(1e-12, np.abs(val).max())))
    parts.append(("close_markers", marker_pair(MARKER_SPACING_S)))
    parts.append(("tail", silence(1.0)))
    segments, pos = {}, 0
    for name, x in parts:
        segments[name] = (pos, pos + len(x))
        pos += len(x)
    audio = np.concatenate([x for _, x in parts]).astype(np.float32).astype(np.float64)
    k = int(round(MARKER_SPACING_S * sr))
    markers = {"open_a": segments["open_markers"][0], "open_b": segments["open_markers"][0] + k,
               "close_a": segments["close_markers"][0] + k, "close_b": segments["close_markers"][0] + 2 * k}
    return CaptureSignal(audio, sr, segments, markers, float(minutes), _checksum(audio))


def recording_sheet(sig: CaptureSignal, settings=SETTINGS_GRID) -> str:
    """The plain-text recording sheet (``RECORDING.md``)."""
    names = "\n".join(f"- {mode:8s} peak reduction {peak:3d}  ->  `{recording_name(mode, peak)}`"
                      for mode, peak in settings)
    seg = "\n".join(f"- {k}: {a / sig.sample_rate:.3f} s .. {b / sig.sample_rate:.3f} s"
                    for k, (a, b) in sig.segments.items())
    return f"""# Recording sheet

Play `capture.wav` ({len(sig.audio) / sig.sample_rate:.1f} s, mono, {sig.sample_rate} Hz) through the unit once per
setting and record the unit's output. Then run:

    dspnewton capture check RECORDING.wav --signal THIS_FOLDER     # one take, in seconds
    dspnewton capture fit THIS_FOLDER -o unit.bundle               # every take -> a bundle

## Rules

1. Same input level for every take: do not touch the interface's output or the unit's input
   between takes. The calibration tone (1 kHz at {CALIBRATION_DBFS:g} dBFS = 0 VU) should read about 0 VU on
   the unit's meter in output mode at peak reduction 0; set the gain knob once and leave it.
2. No processing: no plug-ins, dither, normalisation or fades on the recording.
3. Same sample rate as `capture.wav` ({sig.sample_rate} Hz); record mono (one channel, or two identical ones).
4. Start recording before playback and stop after it ends (the silence at both ends is used).
5. Never clip: the loudest part of the recording must stay below full scale.
6. Let the unit warm up (valve units: 20 minutes) and rest in silence for 20 s before each take.
7. Save each take under the name below, in the same folder as `capture.wav` (or write
   `recordings.json`: {{"take 3.wav": {{"mode": "compress", "peak": 70}}}}).

## Settings to record (the SignalTrain grid; fewer settings work, the plug-in interpolates)

{names}

## Segments of the capture signal

{seg}
"""


def write_signal(out_dir, sample_rate: int = DEFAULT_RATE, minutes: float = DEFAULT_MINUTES,
                 subtype: str = "FLOAT") -> CaptureSignal:
    """Write ``capture.wav``, ``capture.json`` and ``RECORDING.md`` into ``out_dir`` (created).

    Args:
        subtype: ``FLOAT`` (32-bit float WAV) or ``PCM_24``.
    """
    from ..audio import InputError, atomic_write_bytes, read_audio, write_audio
    from ..sweep_folder import write_json

    if subtype not in ("FLOAT", "PCM_24"):
        raise InputError(f"the capture signal is written as FLOAT or PCM_24, got {subtype!r}")
    try:
        sig = make_signal(sample_rate, minutes)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"'{out}' exists and is not a folder; choose another -o")
    out.mkdir(parents=True, exist_ok=True)
    write_audio(out / "capture.wav", sig.audio, sig.sample_rate, subtype=subtype)
    sig.audio = read_audio(out / "capture.wav", "capture signal").data[0]  # what a reader of the file gets
    sig.checksum = _checksum(sig.audio)
    write_json(out / "capture.json", sig.to_json())
    sheet = recording_sheet(sig)
    atomic_write_bytes(out / "RECORDING.md", lambda tmp: Path(tmp).write_text(sheet))
    return sig


def load_signal(folder) -> CaptureSignal:
    """Read a capture folder's ``capture.json`` and ``capture.wav`` and verify the checksum."""
    from ..audio import InputError, read_audio

    folder = Path(folder)
    meta_path = folder / "capture.json"
    if not meta_path.is_file():
        raise InputError(f"'{folder}' holds no capture.json; write the capture signal with "
                         f"'dspnewton capture signal -o {folder}' or pass --signal FOLDER")
    try:
        meta = json.loads(meta_path.read_text())
        schema = int(meta["schema"])
        segments = {k: (int(v[0]), int(v[1])) for k, v in meta["segments"].items()}
        markers = {k: int(v) for k, v in meta["markers"].items()}
        rate, checksum = int(meta["sample_rate"]), meta["checksum"]["sha256_float32"]
        minutes = float(meta["minutes"])
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise InputError(f"'{meta_path}' is not a capture description ({exc}); write it again with "
                         f"'dspnewton capture signal'") from None
    if schema > CAPTURE_SCHEMA:
        raise InputError(f"'{meta_path}' has schema {schema}, newer than this dspnewton reads ({CAPTURE_SCHEMA}); "
                         f"upgrade dspnewton")
    if set(segments) != set(SEGMENT_ORDER):
        raise InputError(f"'{meta_path}' lacks segments {sorted(set(SEGMENT_ORDER) - set(segments))}")
    af = read_audio(folder / meta.get("file", "capture.wav"), "capture signal")
    audio = af.data[0]
    if af.sample_rate != rate or len(audio) != int(meta["samples"]) or _checksum(audio) != checksum:
        raise InputError(f"'{af.path}' is not the signal '{meta_path}' describes (its rate, length or checksum "
                         f"differs); write the capture signal again, and record it again if you changed it")
    return CaptureSignal(audio, rate, segments, markers, minutes, checksum)
