"""Audio files and input/target pairs: reading, atomic writing, checks, resampling, alignment.

Every problem with user input raises :class:`InputError` whose message names
the file, says what is wrong and what to do.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .errors import InputError

__all__ = ["InputError", "AudioFile", "read_audio", "write_audio", "atomic_write_bytes", "sha256_file", "prepare_pair",
           "PreparedPair", "estimate_lag"]


@dataclass
class AudioFile:
    """Audio read from disk: data (C, T) float64, sample rate (Hz), libsndfile subtype."""

    data: np.ndarray
    sample_rate: int
    subtype: str
    path: str


def read_audio(path: str | os.PathLike, role: str = "audio") -> AudioFile:
    """Read an audio file as (C, T) float64.

    Raises:
        InputError: missing, unreadable or not an audio file.
    """
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise InputError(f"{role} file '{p}' does not exist; check the path")
    if p.is_dir():
        raise InputError(f"{role} '{p}' is a directory, not an audio file")
    if not os.access(p, os.R_OK):
        raise InputError(f"{role} file '{p}' is not readable (permission denied)")
    try:
        info = sf.info(str(p))
        # float32 holds these formats exactly (half the memory of float64); others read as float64.
        dtype = "float32" if info.subtype in EXACT_IN_FLOAT32 else "float64"
        data, sr = sf.read(str(p), dtype=dtype, always_2d=True)
    except Exception as exc:  # libsndfile reports format problems in many ways
        raise InputError(
            f"{role} file '{p}' is not a readable audio file ({exc}); give a WAV, FLAC or other libsndfile format"
        ) from None
    if data.shape[0] == 0:
        raise InputError(f"{role} file '{p}' contains no samples")
    return AudioFile(np.ascontiguousarray(data.T), int(sr), info.subtype, str(p))


EXACT_IN_FLOAT32 = ("FLOAT", "PCM_16", "PCM_24", "PCM_S8", "PCM_U8")


def atomic_write_bytes(path: str | os.PathLike, writer) -> None:
    """Write a file atomically: ``writer(tmp_path)`` then rename over ``path``."""
    p = Path(path)
    directory = p.parent if str(p.parent) else Path(".")
    if not directory.exists():
        raise InputError(f"output directory '{directory}' does not exist")
    if not os.access(directory, os.W_OK):
        raise InputError(f"output directory '{directory}' is not writable")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        writer(tmp)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_audio(path: str | os.PathLike, data: np.ndarray, sample_rate: int, subtype: str | None = None) -> None:
    """Write (C, T) or (T,) audio atomically, in the given libsndfile subtype."""
    import soundfile as sf

    data = np.asarray(data)
    if data.ndim == 2:
        data = data.T
    formats = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "aif": "AIFF", "aiff": "AIFF"}
    fmt = formats.get(Path(path).suffix.lower().lstrip("."), "WAV")

    def writer(tmp):
        sf.write(tmp, data, sample_rate, subtype=subtype, format=fmt)

    atomic_write_bytes(path, writer)


def estimate_lag(x: np.ndarray, y: np.ndarray, max_lag: int) -> int:
    """Lag (samples) by which y is delayed relative to x, by FFT cross-correlation.

    Args:
        x, y: (T,) mono signals. max_lag: search range +-max_lag.
    Returns:
        lag > 0 when y lags x.
    """
    n = len(x) + len(y)
    nfft = 1 << (n - 1).bit_length()
    X = np.fft.rfft(x, nfft)
    Y = np.fft.rfft(y, nfft)
    cc = np.fft.irfft(Y * np.conj(X), nfft)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    vals = np.concatenate([cc[: max_lag + 1], cc[nfft - max_lag:]])
    return int(lags[int(np.argmax(vals))])


@dataclass
class PreparedPair:
    """A checked input/target pair ready for fitting: x, y (C, T) tensors (float32 when the
    files' samples are exactly float32 values, else float64)."""

    x: torch.Tensor
    y: torch.Tensor
    sample_rate: int
    notes: list = field(default_factory=list)
    lag: int = 0
    input_info: dict = field(default_factory=dict)


def _as_signal(obj, role: str, sample_rate: int | None):
    """(data (C, T) float64 numpy, sample_rate, info dict) from a path, tensor or array."""
    if isinstance(obj, (str, os.PathLike)):
        af = read_audio(obj, role)
        return af.data, af.sample_rate, {"path": af.path, "subtype": af.subtype}
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu().double().numpy()
    arr = np.asarray(obj)
    if arr.dtype.kind not in "fiu":
        raise InputError(f"{role} must be audio samples (a float array), got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2:
        raise InputError(f"{role} must have shape (T,) or (C, T), got {arr.shape}")
    if sample_rate is None:
        raise InputError(f"{role} was given as an array: pass sample_rate (Hz) as well")
    return arr, int(sample_rate), {}


def prepare_pair(inp, target, sample_rate: int | None = None, *, resample: bool = False, trim: bool = False,
                 channels: str | None = None, align: bool = False, max_lag_seconds: float = 1.0) -> PreparedPair:
    """Load and check an input/target pair.

    Args:
        inp, target: file paths, tensors or arrays ((T,) or (C, T)).
        sample_rate: Hz, needed when arrays are given (and checked against files).
        resample: resample the target to the input's rate when they differ.
        trim: trim both to the shorter length when they differ.
        channels: ``None`` (both must be mono), ``"mix"`` (average channels) or
            ``"each"`` (fit one parameter set across all channels; counts must match).
        align: estimate a constant latency of the target by cross-correlation and remove it.
        max_lag_seconds: alignment search range.

    Raises:
        InputError with a specific message for every problem.
    """
    from .model.params import check_sample_rate

    if sample_rate is not None:
        try:
            check_sample_rate(sample_rate)
        except ValueError as exc:
            raise InputError(str(exc)) from None
    x, sr_x, info_x = _as_signal(inp, "input", sample_rate)
    y, sr_y, info_y = _as_signal(target, "target", sample_rate)
    name_x = info_x.get("path", "input")
    name_y = info_y.get("path", "target")
    notes = []
    if sr_x != sr_y:
        if not resample:
            raise InputError(
                f"input '{name_x}' is at {sr_x} Hz but target '{name_y}' is at {sr_y} Hz; "
                f"resample one of them, or pass {{resample}} to resample the target to {sr_x} Hz",
                {"resample": True})
        import torchaudio

        y = torchaudio.functional.resample(torch.from_numpy(y), sr_y, sr_x).numpy()
        notes.append(f"resampled target from {sr_y} Hz to {sr_x} Hz")
    for name, arr in ((name_x, x), (name_y, y)):
        if not np.isfinite(arr).all():
            bad = int((~np.isfinite(arr)).sum())
            raise InputError(f"'{name}' contains {bad} NaN or infinite samples; clean or re-export the file")
    if x.shape[0] != y.shape[0] or x.shape[0] > 1:
        if channels is None:
            raise InputError(
                f"input '{name_x}' has {x.shape[0]} channel(s) and target '{name_y}' has {y.shape[0]}; "
                f"pass {{mix}} (average to mono) or {{each}} (fit across channels)",
                {"mix": ("channels", "mix"), "each": ("channels", "each")})
        if channels == "mix":
            x, y = x.mean(0, keepdims=True), y.mean(0, keepdims=True)
            notes.append("averaged channels to mono")
        elif channels == "each":
            if x.shape[0] != y.shape[0]:
                raise InputError(
                    f"{{each}} needs equal channel counts, but input '{name_x}' has {x.shape[0]} "
                    f"and target '{name_y}' has {y.shape[0]}; use {{mix}}", {"each": ("channels", "each"), "mix": ("channels", "mix")})
        else:
            raise InputError(f"channels must be 'mix' or 'each', got {channels!r}")
    if x.shape[1] != y.shape[1]:
        if not trim:
            raise InputError(
                f"input '{name_x}' has {x.shape[1]} samples but target '{name_y}' has {y.shape[1]} "
                f"(at {sr_x} Hz); pass {{trim}} to cut both to the shorter length", {"trim": True})
        n = min(x.shape[1], y.shape[1])
        notes.append(f"trimmed from {x.shape[1]} / {y.shape[1]} to {n} samples")
        x, y = x[:, :n], y[:, :n]
    for name, arr in ((name_x, x), (name_y, y)):
        if not arr.any():
            raise InputError(f"'{name}' is silent (every sample is zero); nothing can be fitted to it")
    lag = 0
    if align:
        max_lag = max(1, int(max_lag_seconds * sr_x))
        lag = estimate_lag(x.mean(0), y.mean(0), max_lag)
        if lag > 0:
            x, y = x[:, : x.shape[1] - lag], y[:, lag:]
        elif lag < 0:
            x, y = x[:, -lag:], y[:, : y.shape[1] + lag]
        notes.append(f"aligned: target lags input by {lag} samples ({1000 * lag / sr_x:.2f} ms), removed")
    return PreparedPair(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y)),
                        sr_x, notes, lag, info_x)
