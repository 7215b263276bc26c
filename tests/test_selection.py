"""Model selection by validation (``--model auto``): fit, sweep, the short list, bad input."""

from __future__ import annotations

import json

import pytest
import soundfile as sf

from dspnewton.audio import InputError
from dspnewton.data.virtual_transformer_unit import TransformerLeveler
from dspnewton.model.models import get_model
from dspnewton.result import FitResult
from dspnewton.selection import SHORT_LIST, fold_layout, selection_settings
from dspnewton.synth import program_material
from conftest import run_cli

SR = 8000
FAST = ["--max-iter", "6", "--frame-seconds", "2", "--overlap-seconds", "0.5", "--quiet"]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("auto")
    x = program_material(6.0, SR, seed=3)
    y = TransformerLeveler(70, "compress").process(x, SR)
    for name, a in (("in.wav", x), ("tg.wav", y), ("short_in.wav", x[:2 * SR]), ("short_tg.wav", y[:2 * SR])):
        sf.write(d / name, a, SR, subtype="FLOAT")
    return d


def test_fit_auto_records_every_candidate_and_keeps_the_best(pair, tmp_path, capsys):
    out = tmp_path / "o"
    code, text, err = run_cli(["fit", str(pair / "in.wav"), str(pair / "tg.wav"), "-o", str(out), "--model", "auto",
                               *FAST[:-1]], capsys)
    assert code == 0, err
    d = json.loads((out / "fit.json").read_text())
    auto = d["extra"]["auto"]
    rows = auto["candidates"]
    # Every candidate the pair's rate can run (out2 needs 44.1 kHz and up: left out, with the reason).
    assert list(auto["skipped_candidates"]) == [m for m, _ in SHORT_LIST if "out2" in m]
    assert all(f"above Nyquist at {SR} Hz" in why for why in auto["skipped_candidates"].values())
    assert [r["model"] for r in rows] == [m for m, _ in SHORT_LIST if "out2" not in m]
    for r in rows:
        assert 0 < r["esr_fit"] < 1 and 0 < r["esr_held_out"] < 1 and r["iterations"] >= 1
        assert len(r["esr_folds"]) == 4 and r["esr_from_rest"] == r["esr_folds"][0]
        assert r["esr_first_second"] is not None and r["startup_db"] is not None and "at_bounds" in r
    # The rule: the lowest mean ratio to ff5 among the eligible candidates; ff5 is the floor.
    base = rows[0]
    assert base["model"] == "ff5" and base["eligible"] and base["score"] == pytest.approx(1.0)
    best = min((r for r in rows if r["eligible"]), key=lambda r: r["score"])
    assert auto["chosen"] == best["model"] == d["model"]
    for r in rows:  # an eligible candidate is never worse than ff5 on a used fold
        assert r["eligible"] == (r["why"] == "eligible")
        if r["eligible"]:
            assert all(v <= 1.0 for v in r["ratio_folds"].values())
        else:
            assert r["why"] != "eligible"
    assert auto["validation_fraction"] == 0.25
    folds = auto["folds"]["folds"]
    assert [f["kind"] for f in folds] == ["from rest", "continuing", "continuing", "continuing"]
    assert folds[0]["samples"][0] == 0 and folds[-1]["samples"][1] == 6 * SR  # the first and the last block
    assert auto["validation_seconds"] == pytest.approx(sum(f["samples"][1] - f["samples"][0] for f in folds) / SR)
    # The refit is warm-started from the chosen candidate and fits the whole pair.
    r = FitResult.load(out / "fit.json")
    assert r.model == best["model"] and r.esr == pytest.approx(auto["refit_esr"])
    assert "model selection" in text and "* " + best["model"] in text
    # Held-out scores are really held out: the candidates' fitted ESR is on the fitted blocks only.
    assert any(r["esr_held_out"] != pytest.approx(r["esr_fit"], rel=1e-3) for r in rows)


def test_fit_auto_python_api_with_candidates(pair):
    from dspnewton.selection import fit_auto

    r = fit_auto(str(pair / "in.wav"), str(pair / "tg.wav"), candidates=["fb+2rel", "fb+2rel+inhp+outshelf"],
                 max_iter=4, frame_seconds=2, overlap_seconds=0.5, validation=0.3)
    names = [c["model"] for c in r.extra["auto"]["candidates"]]
    assert names == ["ff5", "fb+2rel", "fb+2rel+inhp+outshelf"]  # ff5 always (the warm start and baseline)
    # ff5 is always the fallback: the choice is never worse than it on a held-out fold.
    assert r.extra["auto"]["chosen"] in ("ff5", "fb+2rel", "fb+2rel+inhp+outshelf")
    assert r.model == r.extra["auto"]["chosen"]


def test_fit_auto_bad_input(pair, tmp_path, capsys):
    out = tmp_path / "short"
    code, _, err = run_cli(["fit", str(pair / "short_in.wav"), str(pair / "short_tg.wav"), "-o", str(out),
                            "--model", "auto"], capsys)
    assert code == 1 and "too short for model selection" in err and "at least 5 s" in err
    assert "Traceback" not in err and not out.exists()
    code, _, err = run_cli(["fit", str(pair / "in.wav"), str(pair / "tg.wav"), "-o", str(out), "--model", "auto+gru"], capsys)
    assert code == 1 and "'auto+gru'" in err and not out.exists()
    code, _, err = run_cli(["fit", str(pair / "in.wav"), str(pair / "tg.wav"), "-o", str(out), "--model", "auto",
                            "--optimizer", "adam"], capsys)
    assert code == 1 and "fits by Newton" in err and not out.exists()
    code, _, err = run_cli(["render", str(pair / "in.wav"), str(tmp_path / "nofit.json"), "-o", str(tmp_path / "y.wav"),
                            "--model", "auto"], capsys)
    assert code == 1 and not (tmp_path / "y.wav").exists()
    with pytest.raises(InputError, match="between 0 and 1"):
        fold_layout(80000, SR, 1.5)
    with pytest.raises(ValueError, match="model selection by validation, not a model"):
        get_model("auto")


def test_selection_settings():
    keys = [("compress", p) for p in (40, 50, 60, 70, 80, 90, 100)] + [("limit", 70), ("limit", 100)]
    assert selection_settings(keys) == [("compress", 40), ("compress", 70), ("compress", 100), ("limit", 70),
                                        ("limit", 100)]


def test_sweep_auto_selects_once_and_reuses_the_selection(tmp_path, monkeypatch):
    from dspnewton.sweep import sweep

    data = tmp_path / "data" / "Train"
    data.mkdir(parents=True)
    x = program_material(5.0, SR, seed=5)
    for i, (switch, peak) in enumerate(((0, 60), (0, 100))):
        y = TransformerLeveler(peak, "compress").process(x, SR)
        sf.write(data / f"input_{100 + i}_.wav", x, SR, subtype="FLOAT")
        sf.write(data / f"target_{100 + i}_LA2A_3c__{switch}__{peak}.wav", y, SR, subtype="FLOAT")
    out = tmp_path / "sweep"
    too_short = tmp_path / "short"
    kw = dict(modes=("compress",), peaks=[60, 100], frame_seconds=2.0, overlap_seconds=0.5, max_iter=4)
    r = sweep(tmp_path / "data", out, model="auto", **kw)
    sel = json.loads((out / "selection.json").read_text())
    assert set(sel["settings"]) == {"compress/60", "compress/100"}
    eligible = [m for m in sel["score"] if sel["eligible"][m]]
    assert "ff5" in eligible and sel["score"]["ff5"] == pytest.approx(1.0)
    assert sel["chosen"] == min(eligible, key=sel["score"].get)
    for setting in sel["settings"].values():  # an eligible model is no worse than ff5 on any used fold anywhere
        for row in setting["rows"]:
            if sel["eligible"][row["model"]]:
                assert row["eligible"] and all(v <= 1.0 for v in row["ratio_folds"].values())
    assert json.loads((out / "sweep.json").read_text())["model"] == sel["chosen"]
    mapping = json.loads((out / "mapping.json").read_text())
    assert {row["model"] for row in mapping["compress"].values()} == {sel["chosen"]}
    assert r.selection["chosen"] == sel["chosen"]
    # A rerun resumes: the selection is read back, no fit is repeated.
    again = sweep(tmp_path / "data", out, model="auto", **kw)
    assert again.selection == sel and sorted(again.resumed) == ["compress/100", "compress/60"]
    # Refused before any selection fit: a folder holding a sweep made without auto, a joint degree
    # too high for the settings.
    plain = tmp_path / "plain"
    sweep(tmp_path / "data", plain, **{**kw, "peaks": [100]})
    import dspnewton.selection as selection

    def no_fits(*a, **k):
        raise AssertionError("the selection ran before a cheap refusal")

    monkeypatch.setattr(selection, "select_for_sweep", no_fits)
    with pytest.raises(InputError, match="holds a sweep made without --model auto"):
        sweep(tmp_path / "data", plain, model="auto", **kw)
    with pytest.raises(InputError, match="joint sweep of degree 3 needs at least 4 settings"):
        sweep(tmp_path / "data", tmp_path / "j", model="auto", joint=True, **kw)
    assert not (tmp_path / "j").exists()
    monkeypatch.undo()
    # Bad input: pairs too short to hold out a validation part; nothing is written.
    with pytest.raises(InputError, match="too short for model selection"):
        sweep(tmp_path / "data", too_short, model="auto", **{**kw, "overlap_seconds": 3.0})
    assert not too_short.exists()
