"""Presets the export wrote, read back from Python (dspnewton.load_preset, bundle_presets)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from dspnewton import Processor, bundle_presets, load_preset
from dspnewton.audio import InputError
from dspnewton.export import export_bundle
from dspnewton.model.greybox_spec import RECOMMENDED_MODEL
from dspnewton.synth import music_like
from conftest import greybox_table as _table, sweep_folder as _sweep_folder

MODELS = ["ff5", "fb+2rel", RECOMMENDED_MODEL, "fb+2rel+inhp+outshelf", "ff+in2+core+out2", "ff+knee+prel"]


@pytest.mark.parametrize("model", MODELS)
def test_every_exported_preset_round_trips(tmp_path, model):
    src, spec = _sweep_folder(tmp_path, model)
    bundle = export_bundle(src, tmp_path / "unit.bundle")
    table = _table(spec)
    files = sorted((bundle / "presets").rglob("*.vstpreset"))
    assert len(files) == (18 if model == "ff5" else 12)
    x = music_like(0.3, 44100, seed=3)
    for f in files:
        pr = load_preset(f)
        row = next(r for r in table[pr.mode] if r["peak"] == pr.peak)
        want = {k: v for k, v in row.items() if k not in ("peak", "esr")}
        assert pr.model == spec.name and pr.bundle == bundle / "bundle.json"
        assert pr.plugin == {"4a2a": "4a2a", "stereo": "dspnewton_la2a_stereo"}.get(f.parent.name, "dspnewton_la2a")
        assert pr.params == pytest.approx(want, rel=1e-12)
        assert f.stem == f"{pr.mode}_peak{int(pr.peak):03d}"
        direct = Processor.from_bundle(bundle, pr.mode, pr.peak)
        assert np.array_equal(pr.processor().process(x), direct.process(x))
    rows = bundle_presets(bundle)
    assert [(p.mode, p.peak) for p in rows] == [(m, r["peak"]) for m in ("compress", "limit") for r in table[m]]
    assert all(p.params == pytest.approx({k: v for k, v in r.items() if k not in ("peak", "esr")}, rel=1e-12)
               for p, r in zip(rows, table["compress"] + table["limit"]))


def test_preset_away_from_its_bundle(tmp_path):
    src, _ = _sweep_folder(tmp_path, "fb+2rel")
    bundle = export_bundle(src, tmp_path / "gb.bundle")
    loose = tmp_path / "loose.vstpreset"
    shutil.copy(bundle / "presets" / "limit_peak070.vstpreset", loose)
    with pytest.raises(InputError, match=r"model fb\+2rel.*bundle='PATH/NAME.bundle'"):
        load_preset(loose)
    pr = load_preset(loose, bundle=bundle)
    assert pr.model == "fb+2rel" and pr.mode == "limit" and pr.peak == 70
    # An ff5 preset holds its five values: usable without the bundle.
    (tmp_path / "f").mkdir()
    src5, spec5 = _sweep_folder(tmp_path / "f", "ff5")
    b5 = export_bundle(src5, tmp_path / "ff5.bundle")
    shutil.copy(b5 / "presets" / "compress_peak040.vstpreset", loose)
    pr = load_preset(loose)
    row = _table(spec5)["compress"][0]
    assert pr.bundle is None and pr.model == "ff5"
    assert pr.params == pytest.approx({k: row[k] for k in pr.params}, rel=1e-8)  # stored as %.9g
    assert pr.processor(sample_rate=48000).sample_rate == 48000


def test_bad_presets_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_preset(tmp_path / "missing.vstpreset")
    (tmp_path / "junk.vstpreset").write_bytes(b"not a preset at all, really not" * 3)
    with pytest.raises(InputError, match="is not a .vstpreset"):
        load_preset(tmp_path / "junk.vstpreset")
    from dspnewton import _native

    other = _native.vstpreset_bytes("0" * 32, [("Comp", b"x")])
    (tmp_path / "other.vstpreset").write_bytes(other)
    with pytest.raises(InputError, match="another plugin"):
        load_preset(tmp_path / "other.vstpreset")
    src, _ = _sweep_folder(tmp_path, "ff5")
    with pytest.raises(InputError, match="has no bundle.json"):
        load_preset(tmp_path / "other.vstpreset", bundle=src)
