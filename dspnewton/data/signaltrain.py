"""The SignalTrain LA2A dataset (v1.1): file-name parser and manifest (index) builder.

Layout: ``Train/ Val/ Test/`` with ``input_<id>_.wav`` and
``target_<id>_LA2A_<2c|3c>__<switch>__<peak>.wav`` (switch 0 = compress,
1 = limit; peak reduction 0..100).  Inputs and targets are paired by id across
splits (v1.1 moved ``input_245_.wav`` to ``Val/`` while its targets stayed in
``Train/``).  Unknown and unpaired files are reported, never fatal.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..audio import InputError, atomic_write_bytes
from ..modes import MODES as UNIT_MODES

__all__ = ["MODES", "SPLITS", "PairEntry", "Manifest", "parse_name", "build_manifest", "load_manifest"]

MODES = dict(enumerate(UNIT_MODES))  # switch -> mode
SPLITS = ("Train", "Val", "Test")
_INPUT = re.compile(r"^input_(\d+)_\.wav$", re.IGNORECASE)
_TARGET = re.compile(r"^target_(\d+)_LA2A_(2c|3c)__([01])__(\d{1,3})\.wav$", re.IGNORECASE)


def parse_name(name: str) -> dict | None:
    """Parse a SignalTrain file name.

    Returns ``{"kind": "input", "id": int}``, ``{"kind": "target", "id", "unit",
    "switch", "mode", "peak"}``, or None for a name that is not in the scheme
    (including peaks outside 0..100).
    """
    m = _INPUT.match(name)
    if m:
        return {"kind": "input", "id": int(m.group(1))}
    m = _TARGET.match(name)
    if m:
        peak = int(m.group(4))
        if peak > 100:
            return None
        switch = int(m.group(3))
        return {"kind": "target", "id": int(m.group(1)), "unit": m.group(2).lower(), "switch": switch,
                "mode": MODES[switch], "peak": peak}
    return None


@dataclass
class PairEntry:
    """One input/target pair in a manifest (paths relative to the dataset root)."""

    id: int
    split: str
    input: str
    target: str
    unit: str
    mode: str
    switch: int
    peak: int
    sample_rate: int
    target_frames: int
    input_frames: int
    input_sample_rate: int
    subtype: str
    duration_s: float


@dataclass
class Manifest:
    """An index of a SignalTrain-layout folder."""

    root: str
    pairs: list = field(default_factory=list)
    unpaired: list = field(default_factory=list)
    unknown: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    created: str = ""
    schema: int = 1

    def select(self, unit: str | None = "3c", modes=None, peaks=None) -> list:
        """Pairs of a unit (None = any), optionally only some modes and peaks."""
        out = []
        for p in self.pairs:
            if unit is not None and p.unit != unit:
                continue
            if modes is not None and p.mode not in modes:
                continue
            if peaks is not None and p.peak not in peaks:
                continue
            out.append(p)
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        return d

    def save(self, path) -> None:
        text = json.dumps(self.to_dict(), indent=1)
        atomic_write_bytes(path, lambda tmp: Path(tmp).write_text(text))

    def abspath(self, rel: str) -> Path:
        return Path(self.root) / rel


def load_manifest(path) -> Manifest:
    """Read a manifest JSON written by :func:`build_manifest`."""
    p = Path(path)
    try:
        d = json.loads(p.read_text())
        pairs = [PairEntry(**e) for e in d["pairs"]]
    except FileNotFoundError:
        raise InputError(f"manifest '{p}' does not exist") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"'{p}' is not a dspnewton manifest ({exc}); build one with 'dspnewton index DATASET_DIR'") from None
    return Manifest(d["root"], pairs, d.get("unpaired", []), d.get("unknown", []), d.get("problems", []),
                    d.get("created", ""), d.get("schema", 1))


def build_manifest(root, progress=None) -> Manifest:
    """Scan ``root`` (with Train/, Val/, Test/ or flat) and pair inputs with targets by id.

    Each pair records durations, sample rates and the target's subtype.  Files
    that do not parse are listed in ``unknown``, targets without an input (or
    inputs without targets) in ``unpaired``, unreadable WAVs in ``problems``.
    """
    import soundfile as sf

    root = Path(root)
    if not root.is_dir():
        raise InputError(f"dataset folder '{root}' does not exist or is not a folder")
    dirs = [root / s for s in SPLITS if (root / s).is_dir()] or [root]
    inputs: dict[int, tuple] = {}
    targets: list = []
    man = Manifest(str(root.resolve()), created=time.strftime("%Y-%m-%dT%H:%M:%S"))
    files = sorted(f for d in dirs for f in d.iterdir() if f.is_file())
    for f in files:
        rel = str(f.relative_to(root))
        info = parse_name(f.name)
        if info is None:
            if f.suffix.lower() == ".wav":
                man.unknown.append(rel)
            continue
        try:
            meta = sf.info(str(f))
        except Exception as exc:
            man.problems.append({"file": rel, "problem": f"not a readable WAV ({exc})"})
            continue
        split = f.parent.name if f.parent != root else ""
        if info["kind"] == "input":
            if info["id"] in inputs:
                man.problems.append({"file": rel, "problem": f"duplicate input id {info['id']} (also {inputs[info['id']][0]})"})
                continue
            inputs[info["id"]] = (rel, meta)
        else:
            targets.append((rel, split, info, meta))
        if progress:
            progress(rel)
    used = set()
    for rel, split, info, meta in targets:
        if info["id"] not in inputs:
            man.unpaired.append({"file": rel, "reason": f"no input_{info['id']}_.wav in any split"})
            continue
        in_rel, in_meta = inputs[info["id"]]
        used.add(info["id"])
        man.pairs.append(PairEntry(
            id=info["id"], split=split, input=in_rel, target=rel, unit=info["unit"], mode=info["mode"],
            switch=info["switch"], peak=info["peak"], sample_rate=int(meta.samplerate), target_frames=int(meta.frames),
            input_frames=int(in_meta.frames), input_sample_rate=int(in_meta.samplerate), subtype=meta.subtype,
            duration_s=meta.frames / meta.samplerate))
    for i, (rel, _) in inputs.items():
        if i not in used:
            man.unpaired.append({"file": rel, "reason": "input without any target"})
    man.pairs.sort(key=lambda p: (p.unit, p.switch, -p.peak, SPLITS.index(p.split) if p.split in SPLITS else 9, p.id))
    return man
