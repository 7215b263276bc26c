"""Type stubs of dspnewton._native, the pybind11 bindings of the C++ real-time core
(csrc/). Audio is (samples,) or (channels, samples); parameters are dicts in physical
units (dB, ratio, ms) keyed by the names of the model's parameter table."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Literal, overload

import numpy as np
import numpy.typing as npt

_Mode = Literal["compress", "limit"]
_Table = dict[str, list[dict[str, float]]]
_FloatArray = npt.NDArray[np.float32] | npt.NDArray[np.float64]

def version() -> str:
    """Version string compiled into the C++ core."""

def process(x: npt.ArrayLike, params: dict[str, float], sample_rate: float, block_size: int = 0,
            model: str = "ff5") -> _FloatArray:
    """Run a model on (T,) or (C, T) audio, each channel from the initial state, in blocks."""

_Curves = dict[str, dict[str, object]]
_Residual = dict[str, object]

def interpolate(table: _Table, mode: _Mode, peak: float, model: str = "ff5", curves: _Curves | None = None
                ) -> dict[str, float]:
    """Parameters at a peak-reduction setting: the mode's joint-fit curves, else linear interpolation."""

def process_table(x: npt.ArrayLike, table: _Table, mode: _Mode, peak: float, sample_rate: float, block_size: int = 0,
                  model: str = "ff5") -> _FloatArray:
    """Process with the table's parameters at (mode, peak)."""

def bundle_json(table: _Table, sample_rate: int, provenance_json: str = "{}", model: str = "ff5",
                curves: _Curves | None = None, residual: _Residual | None = None,
                zero_vu_dbfs: float = -18.0) -> str:
    """Text of bundle.json (schema 2 with joint-fit curves or a GRU residual, else 1)."""

def params_header(table: _Table, sample_rate: int, model: str = "ff5", curves: _Curves | None = None,
                  residual: _Residual | None = None) -> str:
    """Text of params.h (constexpr tables for plugin builds)."""

def write_bundle_files(dir: str, table: _Table, sample_rate: int, provenance_json: str = "{}",
                       model: str = "ff5", curves: _Curves | None = None, residual: _Residual | None = None,
                       zero_vu_dbfs: float = -18.0) -> None:
    """Write bundle.json and params.h into an existing directory."""

def parse_bundle(text: str) -> dict[str, object]:
    """Validate and parse the text of bundle.json (ValueError on anything wrong)."""

def vstpreset_bytes(class_id: str, chunks: list[tuple[str, bytes]]) -> bytes:
    """Bytes of a .vstpreset from a class ID and [(id, bytes)] chunks."""

def parse_vstpreset(data: bytes) -> dict[str, object]:
    """Validate and parse .vstpreset bytes: {'class_id': str, 'chunks': [(id, bytes)]}."""

def dpf_state(values: Iterable[tuple[str, float]], states: Iterable[tuple[str, str]] = ...) -> bytes:
    """DPF component state from [(symbol, value)] and string states [(key, value)]."""

def juce_4a2a_state(values: Iterable[tuple[str, float]]) -> bytes:
    """JUCE state of the open-source 4A2A plugin from [(id, value)]."""

class Processor:
    """The plugin's real-time processor, block by block (see dspnewton.processing)."""

    def __init__(self, table: _Table, model: str = "ff5", sample_rate: float = 44100.0, mode: _Mode = "compress",
                 peak: float = 70.0, gain_db: float = 0.0, channels: int = 1, link: bool = True,
                 curves: _Curves | None = None, residual: _Residual | None = None) -> None: ...
    @staticmethod
    def from_params(params: dict[str, float], model: str = "ff5", sample_rate: float = 44100.0, gain_db: float = 0.0,
                    channels: int = 1, link: bool = True, residual: _Residual | None = None) -> Processor: ...
    @staticmethod
    def from_bundle(path: str | os.PathLike[str], mode: _Mode = "compress", peak: float = 70.0, *,
                    sample_rate: float | None = None, gain_db: float = 0.0, channels: int = 1,
                    link: bool = True) -> Processor: ...
    @staticmethod
    def from_fit(path: str | os.PathLike[str], *, sample_rate: float | None = None, gain_db: float = 0.0,
                 channels: int = 1, link: bool = True) -> Processor: ...
    @overload
    def process(self, block: npt.NDArray[np.float32],  # type: ignore[overload-overlap]
                return_gain_reduction: Literal[False] = False) -> npt.NDArray[np.float32]: ...
    @overload
    def process(self, block: npt.NDArray[np.float64], return_gain_reduction: Literal[False] = False
                ) -> npt.NDArray[np.float64]: ...
    @overload
    def process(self, block: _FloatArray, return_gain_reduction: Literal[True]
                ) -> tuple[_FloatArray, npt.NDArray[np.float64]]: ...
    def reset(self) -> None: ...
    def settle(self) -> None: ...
    peak: float
    mode: _Mode
    gain_db: float
    bypass: bool
    link: bool
    @property
    def channels(self) -> int: ...
    @property
    def sample_rate(self) -> float: ...
    @property
    def fitted_sample_rate(self) -> int: ...
    @property
    def model(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def modes(self) -> list[str]: ...
    @property
    def params(self) -> dict[str, float]: ...
    @property
    def table(self) -> _Table: ...
    @property
    def curves(self) -> _Curves: ...
    @property
    def residual(self) -> _Residual | None: ...
    @property
    def gain_reduction_db(self) -> float: ...
    mix: float
    trim_db: float
    zero_vu_dbfs: float | None
    emphasis_db: float
    @property
    def table_zero_vu_dbfs(self) -> float: ...
    @property
    def vu_gain_reduction_db(self) -> float: ...
    @property
    def vu_output_db(self) -> float: ...
    def continue_from(self, other: Processor) -> None: ...
