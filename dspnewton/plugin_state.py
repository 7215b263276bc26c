"""The dspnewton plugin's state: a bundle set without its face, for hosts that script plugins.

The installed plugin (``dspnewton plugin install``) keeps the bundle it runs in its state:
the key ``bundle`` holds the bundle.json text itself (so a session reopens identically on a
machine without the file; the plugin verifies it like any bundle and keeps its table when it
fails), ``bundle_path`` where it came from (display only).  :func:`plugin_state` writes that
state, ready for a host's state API:

- ``vst3``: the VST3 component state (what ``IComponent::setState`` reads and a ``.vstpreset``'s
  'Comp' chunk holds);
- ``vstpreset``: a ``.vstpreset`` file of it (for the mono plugin, or ``variant`` stereo);
- ``pedalboard``: pedalboard's ``plugin.raw_state`` (JUCE's wrapper around the component state);
- ``clap``: the CLAP state stream (DPF writes the same layout as for VST3);
- ``lv2``: an LV2 preset (Turtle, ``state:state``); :func:`write_lv2_preset` writes it as a preset
  bundle folder a host finds on ``LV2_PATH`` (e.g. ``lv2file -P URI``).

With ``mode``/``peak`` the state also sets those controls (and leaves the others at their
defaults); without them it sets the bundle only.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

from .errors import InputError
from .modes import MODES

__all__ = ["plugin_state", "write_plugin_state", "write_lv2_preset", "read_dpf_state", "STATE_FORMATS",
           "BUNDLE_KEY", "BUNDLE_PATH_KEY"]

STATE_FORMATS = ("vst3", "vstpreset", "pedalboard", "clap", "lv2")
BUNDLE_KEY, BUNDLE_PATH_KEY = "bundle", "bundle_path"
_LV2_STATE_PREFIX = "urn:distrho:"  # DPF's prefix for states the host does not read
_JUCE_B64 = ".ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+"
_STATE_BEGIN, _STATE_END = b"__dpf_state_begin__", b"__dpf_state_end__"


def _bundle_states(bundle) -> list[tuple[str, str]]:
    """[(bundle, text), (bundle_path, path)] after checking the bundle as the plugin will (read once)."""
    from .export import read_bundle

    f, text, _ = read_bundle(bundle)  # every check the plugin makes (schema, ranges, checksum), the file named
    return [(BUNDLE_KEY, text), (BUNDLE_PATH_KEY, str(f.resolve()))]


def _controls(mode: str | None, peak: float | None) -> list[tuple[str, float]]:
    out = []
    if mode is not None:
        if mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        out.append(("mode", 1.0 if mode == "limit" else 0.0))
    if peak is not None:
        if not 0.0 <= float(peak) <= 100.0:
            raise InputError(f"peak must be in 0..100, got {peak}")
        out.append(("peak", float(peak)))
    return out


def _juce_base64(data: bytes) -> str:
    """JUCE's MemoryBlock::toBase64Encoding: '<size>.' then 6-bit groups of the little-endian bit stream."""
    value = int.from_bytes(data, "little")
    chars = (len(data) * 8 + 5) // 6
    return f"{len(data)}." + "".join(_JUCE_B64[(value >> (6 * i)) & 63] for i in range(chars))


def _juce_unbase64(text: str) -> bytes:
    size, _, enc = text.partition(".")
    value = 0
    for i, ch in enumerate(enc):
        value |= _JUCE_B64.index(ch) << (6 * i)
    return value.to_bytes(max(1, (6 * len(enc) + 7) // 8), "little")[:int(size)]


def pedalboard_state(component: bytes) -> bytes:
    """pedalboard's ``raw_state`` (JUCE's VST3 wrapper: 'VC2!', size, XML) around a component state."""
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n\n<VST3PluginState><IComponent>'
           + _juce_base64(component) + "</IComponent></VST3PluginState>\n").encode()
    return b"VC2!" + struct.pack("<I", len(xml) + 1) + xml + b"\0"


def component_from_pedalboard(raw: bytes) -> bytes:
    """The VST3 component state inside a pedalboard ``raw_state``."""
    m = re.search(rb"<IComponent>([^<]*)</IComponent>", raw)
    if not raw.startswith(b"VC2!") or m is None:
        raise InputError("not a pedalboard VST3 state (no JUCE 'VC2!' header with an IComponent)")
    return _juce_unbase64(m.group(1).decode("ascii"))


def read_dpf_state(component: bytes) -> tuple[dict[str, str], dict[str, float]]:
    """(string states, parameter values) of a DPF component state (VST3 or CLAP)."""
    states: dict[str, str] = {}
    body = component
    if body.startswith(_STATE_BEGIN + b"\0"):
        end = body.find(_STATE_END + b"\0")
        if end < 0:
            raise InputError("the plugin state is truncated (no end of its string states)")
        parts = body[len(_STATE_BEGIN) + 1:end].split(b"\0")[:-1]
        if len(parts) % 2:
            raise InputError("the plugin state's string states are truncated")
        states = {k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in zip(parts[::2], parts[1::2])}
        body = body[end + len(_STATE_END) + 1:]
    from .presets import dpf_parameter_values

    return states, dpf_parameter_values(body, "the plugin state")


def _turtle_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


def lv2_preset_ttl(states: list[tuple[str, str]], controls: list[tuple[str, float]], preset_uri: str, label: str,
                   variant: str = "dspnewton_la2a") -> str:
    """An LV2 preset (Turtle) of the plugin ``variant`` holding ``states`` and ``controls``."""
    from .export import plugin_uri

    lines = ["@prefix lv2: <http://lv2plug.in/ns/lv2core#> .", "@prefix pset: <http://lv2plug.in/ns/ext/presets#> .",
             "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .",
             "@prefix state: <http://lv2plug.in/ns/ext/state#> .", "",
             f"<{preset_uri}>", "    a pset:Preset ;", f"    lv2:appliesTo <{plugin_uri(variant)}> ;",
             f"    rdfs:label {_turtle_string(label)} ;"]
    if controls:
        ports = " , ".join(f'[ lv2:symbol "{sym}" ; pset:value {val!r} ]' for sym, val in controls)
        lines.append(f"    lv2:port {ports} ;")
    body = " ;\n        ".join(f"<{_LV2_STATE_PREFIX}{k}> {_turtle_string(v)}" for k, v in states)
    lines.append(f"    state:state [\n        {body}\n    ] .")
    return "\n".join(lines) + "\n"


def plugin_state(bundle, format: str = "vst3", *, mode: str | None = None, peak: float | None = None,
                 variant: str = "dspnewton_la2a") -> bytes:
    """The plugin state that loads ``bundle`` (a NAME.bundle folder or its bundle.json), as bytes.

    format: one of :data:`STATE_FORMATS` (see the module's docstring); ``mode``/``peak`` also set
    those controls; ``variant``: ``dspnewton_la2a`` (mono) or ``dspnewton_la2a_stereo`` (the
    vstpreset's class ID and the LV2 preset's plugin).  Raises InputError on a bundle the plugin
    would refuse (with the reason) or an unknown format.
    """
    from . import _native
    from .export import PLUGIN_VARIANTS, plugin_class_id, plugin_uri

    if format not in STATE_FORMATS:
        raise InputError(f"format must be one of {', '.join(STATE_FORMATS)}, got {format!r}")
    if variant not in PLUGIN_VARIANTS:
        raise InputError(f"variant must be one of {', '.join(PLUGIN_VARIANTS)}, got {variant!r}")
    states = _bundle_states(bundle)
    controls = _controls(mode, peak)
    if format == "lv2":
        name = Path(states[1][1]).parent.name
        return lv2_preset_ttl(states, controls, f"{plugin_uri(variant)}:preset:{_slug(name)}", name, variant).encode()
    try:
        component = _native.dpf_state(controls, states)
    except ValueError as exc:
        raise InputError(f"'{states[1][1]}' cannot be stored in a plugin state: {exc}") from None
    if format in ("vst3", "clap"):
        return component
    if format == "pedalboard":
        return pedalboard_state(component)
    return _native.vstpreset_bytes(plugin_class_id(variant), [("Comp", component)])


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "bundle"


def write_lv2_preset(bundle, out, *, mode: str | None = None, peak: float | None = None,
                     variant: str = "dspnewton_la2a") -> str:
    """Write an LV2 preset bundle folder ``out`` (``NAME.lv2``: manifest.ttl and preset.ttl) that loads
    ``bundle``; returns the preset's URI (give it to a host, e.g. ``lv2file -P URI`` with ``out``'s folder
    on LV2_PATH)."""
    from .export import plugin_uri

    ttl = plugin_state(bundle, "lv2", mode=mode, peak=peak, variant=variant).decode()
    uri = re.search(r"^<([^>]+)>$", ttl, re.M).group(1)
    manifest = ("@prefix lv2: <http://lv2plug.in/ns/lv2core#> .\n@prefix pset: <http://lv2plug.in/ns/ext/presets#> .\n"
                "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n\n"
                f"<{uri}>\n    a pset:Preset ;\n    lv2:appliesTo <{plugin_uri(variant)}> ;\n"
                "    rdfs:seeAlso <preset.ttl> .\n")
    out = Path(out)
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise InputError(f"the folder of '{out}' does not exist")
    import tempfile

    from .plugin_install import replace_tree

    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent if str(out.parent) else ".") as tmp:
        (Path(tmp) / "manifest.ttl").write_text(manifest, encoding="utf-8")
        (Path(tmp) / "preset.ttl").write_text(ttl, encoding="utf-8")
        replace_tree(Path(tmp), out)
    return uri


def write_plugin_state(bundle, out, format: str = "vst3", **kw) -> Path:
    """:func:`plugin_state` into the file ``out`` (written to a temporary file, then renamed); for
    ``lv2`` a preset bundle folder (:func:`write_lv2_preset`)."""
    out = Path(out)
    if format == "lv2":
        write_lv2_preset(bundle, out, **kw)
        return out
    data = plugin_state(bundle, format, **kw)
    from .audio import atomic_write_bytes

    atomic_write_bytes(out, lambda tmp: Path(tmp).write_bytes(data))
    return out
