"""Presets the export wrote, read back from Python: parameters and a :class:`Processor`.

``dspnewton export`` writes, per mode and peak-reduction setting, ``presets/<mode>_peakNNN.vstpreset``
for the dspnewton plugin (a DPF component state: peak, gain, mode, follow-table and the
five ff5 values), the same in ``presets/stereo/`` for its stereo variant and, for ``ff5`` bundles, ``presets/4a2a/<mode>_peakNNN.vstpreset`` for the
open-source 4A2A plugin (a JUCE state; values rounded to 0.01). A bundle's table rows are
presets too. :func:`load_preset` reads any of them::

    preset = dspnewton.load_preset("la2a.bundle/presets/limit_peak070.vstpreset")
    preset.params                     # every parameter of the bundle's model (dB, ms)
    proc = preset.processor(channels=2)

A dspnewton ``.vstpreset`` selects a row of its bundle's table; the parameters come from
the bundle (found beside the preset, or passed as ``bundle=``). Without a bundle, an
``ff5`` preset still gives its five stored values; a grey-box model's other parameters
live only in the bundle, so that case is an error.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from .audio import InputError
from .model.params import PARAM_NAMES
from .modes import MODES

__all__ = ["Preset", "load_preset", "bundle_presets"]

_DPF_BEGIN, _DPF_END = b"__dpf_parameters_begin__", b"__dpf_parameters_end__"
_A2A_NAMES = {"th": "threshold_db", "ratio": "ratio", "at": "attack_ms", "rt": "release_ms", "makeUp": "makeup_db"}


@dataclass(frozen=True)
class Preset:
    """One preset: a (mode, peak) setting and the model's parameters there.

    Attributes:
        name: the preset's name (file stem, or ``<mode>_peakNNN`` for a bundle row).
        mode: ``"compress"`` or ``"limit"``; peak: peak reduction 0..100.
        model: the model's name; params: every parameter of the model (physical units).
        bundle: the bundle.json the parameters came from (None for a stand-alone preset).
        plugin: the plugin the file is for: ``"dspnewton_la2a"`` (mono), ``"dspnewton_la2a_stereo"``,
            ``"4a2a"``, or ``"bundle"`` for a bundle's table row.
        source: the file read.
    """

    name: str
    mode: str
    peak: float
    model: str
    params: dict
    bundle: Path | None
    plugin: str
    source: Path

    def processor(self, *, sample_rate: float | None = None, channels: int = 1, link: bool = True, gain_db: float = 0.0):
        """A :class:`dspnewton.Processor` at this preset (from its bundle when it has one)."""
        from .rendering import Processor

        if self.bundle is not None:
            return Processor.from_bundle(str(self.bundle), self.mode, self.peak, sample_rate=sample_rate,
                                         gain_db=gain_db, channels=channels, link=link)
        return Processor.from_params(self.params, self.model, 44100.0 if sample_rate is None else sample_rate,
                                     gain_db=gain_db, channels=channels, link=link)


def dpf_parameter_values(state: bytes, source) -> dict:
    """{symbol: value} of a DPF component state's parameter block (a string-state block before it,
    as the dspnewton plugin writes, is skipped); ``source`` names it in errors."""
    begin = b"__dpf_state_begin__\0"
    if state.startswith(begin):  # the bundle the preset carries: read by the plugin, not here
        end = state.find(b"__dpf_state_end__\0")
        state = state[end + len(b"__dpf_state_end__\0"):] if end >= 0 else b""
    if not state.startswith(_DPF_BEGIN + b"\0") or _DPF_END not in state:
        raise InputError(f"'{source}' is not a dspnewton plugin state (no DPF parameter block)")
    body = state[len(_DPF_BEGIN) + 1:state.index(_DPF_END)]
    parts = body.split(b"\0")[:-1] if body else []
    if len(parts) % 2:
        raise InputError(f"'{source}': the DPF parameter block is truncated")
    out = {}
    for sym, val in zip(parts[::2], parts[1::2]):
        try:
            out[sym.decode("ascii")] = float(val.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise InputError(f"'{source}': parameter {sym!r} has a non-numeric value {val!r}") from None
    return out


def _a2a_values(state: bytes, source: Path) -> dict:
    if len(state) < 8 or state[:4] != b"VC2!":
        raise InputError(f"'{source}' is not a 4A2A plugin state (no 'VC2!' header)")
    size = struct.unpack("<I", state[4:8])[0]
    try:
        root = ET.fromstring(state[8:8 + size].rstrip(b"\0").decode("utf-8"))
        return {e.get("id"): float(e.get("value")) for e in root.iter("PARAM")}
    except (ET.ParseError, UnicodeDecodeError, TypeError, ValueError) as exc:
        raise InputError(f"'{source}': the 4A2A state is not readable ({exc})") from None


def _info_model(info: bytes, source: Path) -> str:
    """The model named in the preset's Info chunk ('... (MODEL)'); ff5 when it names none."""
    try:
        root = ET.fromstring(info.decode("utf-8")) if info else None
    except (ET.ParseError, UnicodeDecodeError):
        raise InputError(f"'{source}': the preset's Info chunk is not valid XML") from None
    for attr in ([] if root is None else root.iter("Attr")):
        name = attr.get("value", "")
        if attr.get("id") == "Name" and name.endswith(")") and "(" in name:
            return name[name.rindex("(") + 1:-1]
    return "ff5"


def _find_bundle(path: Path) -> Path | None:
    for parent in list(path.parents)[:3]:  # presets/, presets/stereo/ or presets/4a2a/
        if (parent / "bundle.json").is_file():
            return parent / "bundle.json"
    return None


def _from_bundle(bundle: Path, mode: str, peak: float, name: str, plugin: str, source: Path) -> Preset:
    from .rendering import Processor

    proc = Processor.from_bundle(str(bundle), mode, peak)
    return Preset(name=name, mode=mode, peak=float(peak), model=proc.model, params=proc.params, bundle=bundle,
                  plugin=plugin, source=source)


def load_preset(path, *, bundle=None) -> Preset:
    """Read a ``.vstpreset`` the export wrote (dspnewton or 4A2A plugin).

    Args:
        path: the ``.vstpreset`` file.
        bundle: the NAME.bundle folder (or bundle.json) the preset belongs to; default: the
            bundle the preset lies in, if any.

    Raises:
        InputError: the file is missing or not a preset of these plugins, or a grey-box
            preset without its bundle.
    """
    from . import _native
    from .export import A2A_CLASS_ID, PLUGIN_VARIANTS, plugin_class_id

    p = Path(path)
    if not p.is_file():
        raise InputError(f"preset '{p}' does not exist")
    try:
        parsed = _native.parse_vstpreset(p.read_bytes())
    except ValueError as exc:
        raise InputError(f"'{p}' is not a .vstpreset: {exc}") from None
    chunks = dict(parsed["chunks"])
    if "Comp" not in chunks:
        raise InputError(f"'{p}' has no component state ('Comp' chunk)")
    if bundle is not None:
        b = Path(bundle)
        bundle_path = b / "bundle.json" if b.is_dir() else b
        if not bundle_path.is_file():
            raise InputError(f"bundle '{b}' has no bundle.json")
    else:
        bundle_path = _find_bundle(p)
    model = "ff5"
    ours = {plugin_class_id(v): v for v in PLUGIN_VARIANTS}
    if parsed["class_id"] in ours:
        v = dpf_parameter_values(chunks["Comp"], p)
        plugin = ours[parsed["class_id"]]
        model = _info_model(chunks.get("Info", b""), p)
    elif parsed["class_id"] == A2A_CLASS_ID:
        raw = _a2a_values(chunks["Comp"], p)
        v = {_A2A_NAMES.get(k, k): val for k, val in raw.items()}
        plugin = "4a2a"
    else:
        raise InputError(f"'{p}' is a preset for another plugin (class ID {parsed['class_id']})")
    missing = [k for k in ("peak", "mode") if k not in v]
    if missing:
        raise InputError(f"'{p}' lacks the {' and '.join(missing)} parameter")
    mode = "limit" if v["mode"] > 0.5 else "compress"
    if bundle_path is not None:
        return _from_bundle(bundle_path, mode, v["peak"], p.stem, plugin, p)
    if model != "ff5":
        raise InputError(f"'{p}' is a preset of model {model}, whose parameters beyond the ff5 five are only in "
                         f"its bundle; keep it in its NAME.bundle/presets folder or pass {{bundle}}",
                         {"bundle": "PATH/NAME.bundle"})
    lacking = [n for n in PARAM_NAMES if n not in v]
    if lacking:
        raise InputError(f"'{p}' lacks {', '.join(lacking)}")
    return Preset(name=p.stem, mode=mode, peak=v["peak"], model="ff5", params={n: v[n] for n in PARAM_NAMES},
                  bundle=None, plugin=plugin, source=p)


def bundle_presets(bundle) -> list[Preset]:
    """Every row of a bundle's table as a preset, compress rows first, by peak."""
    from .export import load_bundle

    b = Path(bundle)
    f = b / "bundle.json" if b.is_dir() else b
    d = load_bundle(f)
    out = []
    for mode in MODES:
        for row in d["table"].get(mode, []):
            name = f"{mode}_peak{int(round(row['peak'])):03d}"
            params = {k: v for k, v in row.items() if k not in ("peak", "esr")}
            out.append(Preset(name=name, mode=mode, peak=float(row["peak"]), model=d["model"], params=params,
                              bundle=f, plugin="bundle", source=f))
    return out
