"""The C++ core through pybind11: parity with the PyTorch model, block-size
independence, table interpolation, bundle and .vstpreset round trips, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dspnewton import _native
from dspnewton.evaluate import interpolate_params
from dspnewton.model import CompressorParams, compress
from dspnewton.synth import music_like

SR = 44100
TABLE = {
    "compress": [dict(peak=40.0, threshold_db=-13.1, ratio=5.44, attack_ms=30.5, release_ms=470.0, makeup_db=0.7, esr=0.08),
                 dict(peak=75.0, threshold_db=-21.9, ratio=4.24, attack_ms=2.86, release_ms=243.0, makeup_db=0.34, esr=0.07),
                 dict(peak=100.0, threshold_db=-35.3, ratio=3.71, attack_ms=0.98, release_ms=244.0, makeup_db=0.3, esr=0.075)],
    "limit": [dict(peak=40.0, threshold_db=-15.0, ratio=12.0, attack_ms=10.0, release_ms=300.0, makeup_db=1.0, esr=0.09),
              dict(peak=100.0, threshold_db=-38.0, ratio=19.0, attack_ms=0.5, release_ms=200.0, makeup_db=0.0, esr=0.1)],
}


@pytest.fixture(scope="module")
def music32():
    return music_like(4.0, SR, seed=21).astype(np.float32)


def _torch_render(x32: np.ndarray, params: CompressorParams) -> np.ndarray:
    x = torch.from_numpy(x32.astype(np.float64))[None]
    with torch.no_grad():
        return compress(x, params.to_theta(SR), SR)[0].numpy()


@pytest.mark.parametrize("block", [1, 64, 512, 4097])
def test_cpp_matches_pytorch_for_any_block_size(music32, block):
    p = CompressorParams(-24.0, 4.5, 3.0, 150.0, 1.2)
    ref = _torch_render(music32, p)
    y = _native.process(music32, p.to_dict(), SR, block)
    assert y.dtype == np.float32
    assert np.abs(y - ref).max() < 1e-5
    y64 = _native.process(music32.astype(np.float64), p.to_dict(), SR, block)
    assert np.abs(y64 - ref).max() < 1e-9
    whole = _native.process(music32, p.to_dict(), SR, 0)
    assert np.array_equal(y, whole), "the result must not depend on the block size"


def test_table_parity_at_and_between_grid_points(music32):
    for mode in ("compress", "limit"):
        anchors = {int(r["peak"]): CompressorParams(**{k: v for k, v in r.items() if k not in ("peak", "esr")})
                   for r in TABLE[mode]}
        for peak in (40, 50, 75, 87.5, 100):
            cpp_params = _native.interpolate(TABLE, mode, peak)
            py_params = interpolate_params(anchors, peak, "linear")
            for k, v in py_params.to_dict().items():
                assert cpp_params[k] == pytest.approx(v, rel=1e-12)
            y = _native.process_table(music32, TABLE, mode, peak, SR, 512)
            assert np.abs(y - _torch_render(music32, py_params)).max() < 1e-5
    # Outside the grid the end rows hold.
    assert _native.interpolate(TABLE, "compress", 10)["ratio"] == 5.44


def test_multichannel_and_bad_input(music32):
    p = CompressorParams(-24.0, 4.5, 3.0, 150.0, 1.2).to_dict()
    st = np.stack([music32, 0.5 * music32])
    y = _native.process(st, p, SR)
    assert np.array_equal(y[0], _native.process(music32, p, SR))
    with pytest.raises(ValueError, match="parameters out of range"):
        _native.process(music32, {**p, "ratio": 80.0}, SR)
    with pytest.raises(ValueError, match="missing parameter 'makeup_db'"):
        _native.process(music32, {k: v for k, v in p.items() if k != "makeup_db"}, SR)
    with pytest.raises(ValueError, match="shape"):
        _native.process(np.zeros((2, 2, 2), np.float32), p, SR)
    with pytest.raises(ValueError, match="mode must be"):
        _native.interpolate(TABLE, "expand", 50)


def test_bundle_round_trip_and_validation():
    text = _native.bundle_json(TABLE, SR, json.dumps({"dspnewton_version": "0.1.0"}))
    d = json.loads(text)
    assert d["schema_version"] == 1 and d["model"] == "ff5" and d["interpolation"] == "linear"
    back = _native.parse_bundle(text)
    assert back["table"]["compress"][1]["attack_ms"] == 2.86
    assert json.loads(back["provenance_json"]) == {"dspnewton_version": "0.1.0"}
    bad = [
        (text.replace('"schema_version": 1', '"schema_version": 3'), "newer than this dspnewton reads .2.; upgrade dspnewton"),
        (text.replace('"schema_version": 1', '"schema_version": 2'), "holds curves or a residual; this one has neither"),
        (text.replace('"ratio": 5.4400000000000004', '"ratio": 5.5'), "checksum mismatch"),
        (text.replace('"ratio": 5.4400000000000004', '"ratio": 80'), "out of range"),
        (text.replace('"peak": 75', '"peak": 30'), "strictly increasing"),
        (text[:-10], "invalid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        (text.replace('"model": "ff5"', '"model": "gru"'), "unknown model option 'gru'"),
    ]
    for broken, message in bad:
        assert broken != text
        with pytest.raises(ValueError, match=message):
            _native.parse_bundle(broken)
    header = _native.params_header(TABLE, SR)
    assert "constexpr int kCompressRows = 3;" in header and "constexpr int kLimitRows = 2;" in header


def test_vstpreset_round_trip_and_validation():
    state = _native.dpf_state([("peak", 70.0), ("threshold_db", -21.899999618530273)])
    assert state.startswith(b"__dpf_parameters_begin__\x00peak\x0070\x00") and state.endswith(b"\xfe\x00")
    data = _native.vstpreset_bytes("44504620636C6173" + "0" * 16, [("Comp", state), ("Info", b"<xml/>")])
    assert data[:4] == b"VST3"
    back = _native.parse_vstpreset(data)
    assert back["class_id"] == "44504620636C6173" + "0" * 16 and back["chunks"][0] == ("Comp", state)
    for broken, message in ((data[:30], "not a .vstpreset"), (b"XXXX" + data[4:], "not a .vstpreset"),
                            (data[:-5], "truncated"), (data[:40] + b"\xff" * 8 + data[48:], "chunk-list offset")):
        with pytest.raises(ValueError, match=message):
            _native.parse_vstpreset(broken)
    with pytest.raises(ValueError, match="class ID"):
        _native.vstpreset_bytes("xyz", [])
    juce = _native.juce_4a2a_state([("th", -21.904), ("ratio", 4.236)])
    assert juce[:4] == b"VC2!" and b'value="-21.90"' in juce and b'value="4.24"' in juce
