"""Capture your own unit: a standard capture signal, recordings checked and aligned
automatically, and one call from a folder of recordings to a bundle.

>>> import dspnewton.capture as capture
>>> capture.signal("capture/", sample_rate=48000)            # capture.wav, capture.json, RECORDING.md
>>> c = capture.check("capture/compress_070.wav")            # CaptureCheck: latency, drift, polarity, ...
>>> r = capture.fit("capture/", "unit.bundle", model="auto") # CaptureFitResult: scores, report, bundle

Modules: :mod:`.stimulus` (the signal and its layout), :mod:`.checks` (markers, latency,
drift, polarity, clipping, DC, noise floor, calibration; alignment), :mod:`.resample`
(band-limited interpolation), :mod:`.pipeline` (folder -> sweep -> scores -> bundle),
:mod:`.report` (report.md and figures), :mod:`.simulate` (what an interface does, for tests).
"""

from __future__ import annotations

from pathlib import Path

from typing import TYPE_CHECKING

from .._lazy import lazy_package
from .stimulus import DEFAULT_MINUTES, DEFAULT_RATE, CaptureSignal

if TYPE_CHECKING:
    from .checks import CaptureCheck
    from .pipeline import CaptureFitResult

__all__ = ["signal", "check", "fit", "CaptureSignal"]
lazy_package(__name__, {"CaptureCheck": ".checks", "CaptureFitResult": ".pipeline"})  # no numba until used


def signal(out_dir, sample_rate: int = DEFAULT_RATE, minutes: float = DEFAULT_MINUTES,
           subtype: str = "FLOAT") -> CaptureSignal:
    """Write the capture signal into ``out_dir``: ``capture.wav`` (mono, ``FLOAT`` or ``PCM_24``),
    ``capture.json`` (layout, checksum) and ``RECORDING.md`` (what to record, and how)."""
    from .stimulus import write_signal

    return write_signal(out_dir, sample_rate, minutes, subtype)


def check(recording, signal=None) -> "CaptureCheck":
    """Check one recording against the capture signal in ``signal`` (a folder; default: the recording's).

    Returns:
        :class:`CaptureCheck` (``ok``, ``latency_samples``, ``drift_ppm``, ``polarity``, ``clipped``,
        ``dc``, ``noise_floor_dbfs``, ``calibration_dbfs``, ``messages``, ``problems``, ``aligned``).
    """
    from .pipeline import check_file
    from .stimulus import load_signal

    rec = Path(recording)
    return check_file(rec, load_signal(rec.parent if signal is None else signal))


def fit(folder, out, **kw) -> "CaptureFitResult":
    """Check, align and fit every recording in ``folder``, write the report and the bundle ``out``
    (:func:`dspnewton.capture.pipeline.capture_fit` for the keywords)."""
    from .pipeline import capture_fit

    return capture_fit(folder, out, **kw)
