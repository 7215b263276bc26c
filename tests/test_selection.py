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
    rows = [r for r in auto["candidates"] if "pruned_from" not in r]  # the short list's (pruning may add rows)
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
    if auto["pruned"]:  # pruned from the best: its stages on a bound, within 5 % of its score
        assert auto["pruned"][0]["from"] == best["model"] and auto["chosen"] == auto["pruned"][-1]["to"] == d["model"]
        best = next(r for r in auto["candidates"] if r["model"] == auto["chosen"])
        assert best["eligible"] and best["score"] <= 1.05 * auto["pruned"][0]["score_from"]
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
    # Under SELECTION_FIT_SECONDS every other block is fitted on, and the report says how much.
    fitted = auto["folds"]["fitted"]
    assert auto["folds"]["fitted_seconds"] == pytest.approx(sum(hi - lo for lo, hi in fitted) / SR)
    assert fitted[-1][1] == folds[-1]["samples"][0] and auto["folds"]["fitted_seconds"] < 6.0
    assert f"candidates fitted on {auto['folds']['fitted_seconds']:.3g} s" in text
    # The refit is warm-started from the chosen candidate and fits the whole pair.
    r = FitResult.load(out / "fit.json")
    assert r.model == best["model"] and r.esr == pytest.approx(auto["refit_esr"])
    assert "model selection" in text and "* " + best["model"] in text
    # Held-out scores are really held out: the candidates' fitted ESR is on the fitted blocks only.
    assert any(r["esr_held_out"] != pytest.approx(r["esr_fit"], rel=1e-3) for r in rows)


def test_fit_auto_python_api_with_candidates(pair):
    from dspnewton.selection import fit_auto

    r = fit_auto(str(pair / "in.wav"), str(pair / "tg.wav"), candidates=["fb+2rel", "fb+2rel+inhp+outshelf"],
                 max_iter=4, frame_seconds=2, overlap_seconds=0.5, validation=0.3, fit_seconds=2.0)
    auto = r.extra["auto"]
    # The candidates saw at most fit_seconds of the fitted blocks (about 3.8 s of them here).
    assert 1.99 <= auto["folds"]["fitted_seconds"] <= 2.0 and len(auto["folds"]["fitted"]) == 3
    names = [c["model"] for c in auto["candidates"] if "pruned_from" not in c]
    assert names == ["ff5", "fb+2rel", "fb+2rel+inhp+outshelf"]  # ff5 always (the warm start and baseline)
    # ff5 is always the fallback: the choice is never worse than it on a held-out fold.  Pruning may only drop the
    # stages of the stage model.
    assert auto["chosen"] in ("ff5", "fb+2rel", "fb+2rel+inhp", "fb+2rel+outshelf", "fb+2rel+inhp+outshelf")
    assert r.model == auto["chosen"] and all(s["stage"] in ("inhp", "outshelf") for s in auto["pruned"])


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


# ---------------------------------------------------------------------------------------- pruning
# Canned fold scores (ESR per fold) and bounds per model: the selection's arithmetic without fits.
CANNED = {
    "ff5": ([0.02] * 4, {}),
    "ff+knee+rms": ([0.03] * 4, {}),  # worse than ff5: never eligible
    "ff+knee+rms+inhp+outshelf": ([0.01] * 4, {"input_hp_hz": "lower", "output_shelf_db": "lower"}),
    "ff+knee+rms+outshelf": ([0.0102] * 4, {"output_shelf_db": "lower"}),  # 2 % worse: the stage is dropped
    "ff+knee+rms+inhp": ([0.015] * 4, {}),  # 50 % worse: kept
}


class CannedFitter:
    """Stands in for selection._FoldFitter: rows from CANNED, fits carrying every parameter."""

    calls: list = []

    def __init__(self, x, y, sr, layout, fit_kw, callback=None):
        self.sr = sr

    def __call__(self, name, start, init=None):
        from types import SimpleNamespace

        folds, bounds = CANNED[name]
        model = get_model(name)
        if isinstance(init, dict):  # pruning starts from the winner's fit: this model's parameters, nothing more
            assert set(init) == set(model.param_names) and start is not None
        CannedFitter.calls.append((name, start))
        row = {"model": name, "start": start, "esr_fit": folds[0], "esr_folds": list(folds),
               "esr_first_second": folds[0], "startup_db": 0.5, "at_bounds": dict(bounds), "long_time_constants": [],
               "unidentifiable": [], "iterations": 1, "converged": True, "seconds": 0.0}
        return row, SimpleNamespace(esr=folds[0], all_params=model.warm_start({}, self.sr))


def test_stage_helpers():
    from dspnewton.selection import stages_on_bounds, without_stage

    assert stages_on_bounds("fb+knee+rms+2rel+sc+tube+in2+core+out2",
                            {"core_hz": "lower", "knee_db": "lower", "output_q": "upper"}) == ["core", "out2"]
    assert stages_on_bounds("ff+knee+inhp", {"knee_db": "lower"}) == []  # gain options are not pruned
    assert without_stage("ff+knee+rms+in2+core+out2", "core") == "ff+knee+rms+in2+out2"
    assert without_stage("ff+inhp", "inhp") == "ff5"


def test_auto_drops_a_stage_left_on_a_bound_when_it_does_not_earn_its_parameters(monkeypatch):
    import torch

    import dspnewton.selection as selection

    monkeypatch.setattr(selection, "_FoldFitter", CannedFitter)
    CannedFitter.calls = []
    lay = fold_layout(6 * SR, SR, 0.25, 4, 0.5)
    x = torch.zeros(1, 6 * SR)
    names = ["ff+knee+rms", "ff+knee+rms+inhp+outshelf"]
    rows, fits, d = selection.score_candidates(x, x, SR, lay, names, {})
    # The winner's two stages on a bound: each tried without, started from the winner's fit; inhp dropped
    # (2 % worse); then outshelf on a bound again: ff+knee+rms is not eligible, so it stays.
    assert d["chosen"] == "ff+knee+rms+outshelf"
    assert d["pruned"] == [{"from": "ff+knee+rms+inhp+outshelf", "to": "ff+knee+rms+outshelf", "stage": "inhp",
                            "score_from": pytest.approx(0.5), "score_to": pytest.approx(0.51), "bound_in": "fold fit"}]
    assert ("ff+knee+rms+inhp", "ff+knee+rms+inhp+outshelf") in CannedFitter.calls
    by = {r["model"]: r for r in rows}
    assert by["ff+knee+rms+outshelf"]["pruned_from"] == "ff+knee+rms+inhp+outshelf"
    assert by["ff+knee+rms+inhp"]["eligible"]
    assert "pruned_from" not in by["ff+knee+rms"] and set(fits) == set(by)
    assert "dropped" in d["rule"] and "at most 5 % higher" in d["rule"]
    # A second step is measured against the first winner: 4 % above it (2 % above the step before) is dropped,
    # 6 % above it (4 % above the step before) is not.
    monkeypatch.setitem(CANNED, "ff+knee+rms", ([0.0104] * 4, {}))
    rows, _, d = selection.score_candidates(x, x, SR, lay, names, {})
    assert d["chosen"] == "ff+knee+rms" and [s["stage"] for s in d["pruned"]] == ["inhp", "outshelf"]
    monkeypatch.setitem(CANNED, "ff+knee+rms", ([0.0106] * 4, {}))
    rows, _, d = selection.score_candidates(x, x, SR, lay, names, {})
    assert d["chosen"] == "ff+knee+rms+outshelf" and [s["stage"] for s in d["pruned"]] == ["inhp"]
    monkeypatch.setitem(CANNED, "ff+knee+rms", ([0.03] * 4, {}))
    # Without pruning (a sweep's first pass), or when the model without the stage is more than 5 % worse: kept.
    rows, _, d = selection.score_candidates(x, x, SR, lay, names, {}, prune=False)
    assert d["chosen"] == "ff+knee+rms+inhp+outshelf" and d["pruned"] == []
    monkeypatch.setitem(CANNED, "ff+knee+rms+outshelf", ([0.0106] * 4, {}))
    rows, _, d = selection.score_candidates(x, x, SR, lay, names, {})
    assert d["chosen"] == "ff+knee+rms+inhp+outshelf" and d["pruned"] == []
    # Strictly better without the stage: dropped too.
    monkeypatch.setitem(CANNED, "ff+knee+rms+outshelf", ([0.009] * 4, {}))
    rows, _, d = selection.score_candidates(x, x, SR, lay, names, {})
    assert d["chosen"] == "ff+knee+rms+outshelf" and d["pruned"][0]["score_to"] == pytest.approx(0.45)


def test_sweep_selection_prunes_across_its_settings(tmp_path, monkeypatch):
    import dspnewton.selection as selection

    monkeypatch.setattr(selection, "_FoldFitter", CannedFitter)
    CannedFitter.calls = []
    x = program_material(5.0, SR, seed=5)
    pairs = {}
    for peak in (60, 100):
        sf.write(tmp_path / f"in{peak}.wav", x, SR, subtype="FLOAT")
        sf.write(tmp_path / f"tg{peak}.wav", 0.5 * x, SR, subtype="FLOAT")
        pairs[("compress", peak)] = (tmp_path / f"in{peak}.wav", tmp_path / f"tg{peak}.wav")
    events = []
    sel = selection.select_for_sweep(pairs, candidates=["ff+knee+rms", "ff+knee+rms+inhp+outshelf"],
                                     fit_kw={"overlap_seconds": 0.5}, on_event=lambda k, i: events.append(i))
    assert sel["chosen"] == "ff+knee+rms+outshelf" and [s["stage"] for s in sel["pruned"]] == ["inhp"]
    assert sel["score"]["ff+knee+rms+outshelf"] == pytest.approx(0.51) and sel["eligible"]["ff+knee+rms+outshelf"]
    for st in sel["settings"].values():  # every pruned model scored in every setting, started from the winner
        pruned = {r["model"]: r["pruned_from"] for r in st["rows"] if "pruned_from" in r}
        assert pruned == {"ff+knee+rms+outshelf": "ff+knee+rms+inhp+outshelf",
                          "ff+knee+rms+inhp": "ff+knee+rms+inhp+outshelf"}
    pruning = ["ff+knee+rms+inhp", "ff+knee+rms+outshelf"]
    assert [e.get("pruning") for e in events] == [None, None, pruning, pruning]  # ff+knee+rms: scored already


def test_pruning_fits_the_smaller_model_from_the_winners_fit(pair):
    """The real fitter: the model without the stage starts from the winner's parameters and is scored per fold."""
    import dspnewton.selection as selection
    from dspnewton.audio import prepare_pair

    p = prepare_pair(str(pair / "in.wav"), str(pair / "tg.wav"))
    lay = fold_layout(p.x.shape[-1], SR, 0.25, 4, 0.5)
    fitter = selection._FoldFitter(p.x, p.y, SR, lay, {"max_iter": 3})
    base, f5 = fitter("ff5", None)
    big, fbig = fitter("ff+knee+inhp", "ff5", f5)
    big["at_bounds"] = {"input_hp_hz": "lower"}  # as if the fit had switched the stage off
    rows, fits, decision = [base, big], {"ff5": f5, "ff+knee+inhp": fbig}, {"chosen": "ff+knee+inhp"}
    selection.decide(rows, ["ff+knee+inhp"])
    steps = selection.prune_stages(rows, fits, decision, fitter)
    small = rows[2]
    assert small["model"] == "ff+knee" and small["start"] == small["pruned_from"] == "ff+knee+inhp"
    assert len(small["esr_folds"]) == 4 and small["score"] > 0 and fits["ff+knee"].model == "ff+knee"
    if steps:
        assert decision["chosen"] == "ff+knee" and steps[0]["score_to"] <= 1.05 * steps[0]["score_from"]
    else:
        assert decision["chosen"] == "ff+knee+inhp" and (not small["eligible"] or small["score"] > 1.05 * big["score"])


def test_fit_auto_prunes_a_stage_its_refit_leaves_on_a_bound(monkeypatch):
    """The fold fit kept the stage inside its range, the refit on the whole pair pressed it onto a bound: the
    model without it is scored on the folds and, earning its place, refitted instead."""
    from types import SimpleNamespace

    import numpy as np

    import dspnewton.fitting as fitting
    import dspnewton.selection as selection
    from dspnewton.model.schema import param_spec

    monkeypatch.setattr(selection, "_FoldFitter", CannedFitter)
    monkeypatch.setitem(CANNED, "ff+knee+rms+inhp+outshelf", ([0.01] * 4, {}))
    refits = []

    def refit(x, y, sr, model, init, callback=None, **kw):
        params = get_model(model).warm_start({}, sr)
        if "inhp" in model:
            params["input_hp_hz"] = param_spec("input_hp_hz").lo
        refits.append(model)
        return SimpleNamespace(model=model, all_params=params, esr=0.01, extra={}, seconds=0.0)

    monkeypatch.setattr(fitting, "fit", refit)
    x = program_material(6.0, SR, seed=3)
    r = selection.fit_auto(x, 0.5 * x, SR, candidates=["ff+knee+rms", "ff+knee+rms+inhp+outshelf"],
                           overlap_seconds=0.5)
    auto = r.extra["auto"]
    assert refits == ["ff+knee+rms+inhp+outshelf", "ff+knee+rms+outshelf"] and r.model == auto["chosen"]
    assert auto["chosen"] == "ff+knee+rms+outshelf"
    assert [(s["stage"], s["bound_in"]) for s in auto["pruned"]] == [("inhp", "refit")]
    big = next(c for c in auto["candidates"] if c["model"] == "ff+knee+rms+inhp+outshelf")
    assert big["at_bounds_refit"] == {"input_hp_hz": "lower"} and big["at_bounds"] == {}
    assert np.isfinite(auto["refit_esr"])


def _auto_with_ff_prel_refit_rejected(monkeypatch, candidates, canned):
    """fit_auto on canned fold fits (``canned``: model -> (folds, bounds), with ``ff+prel`` best) whose refit of
    ``ff+prel`` presses its long release onto its upper bound: (the record, the models refitted in order)."""
    from types import SimpleNamespace

    import dspnewton.fitting as fitting
    import dspnewton.selection as selection
    from dspnewton.model.schema import param_spec

    monkeypatch.setattr(selection, "_FoldFitter", CannedFitter)
    monkeypatch.setitem(CANNED, "ff+prel", ([0.005] * 4, {}))
    for name, row in canned.items():
        monkeypatch.setitem(CANNED, name, row)
    refits = []

    def refit(x, y, sr, model, init, callback=None, **kw):
        params = get_model(model).warm_start({}, sr)
        if model == "ff+prel":
            params["release_long_ms"] = param_spec("release_long_ms").hi
        refits.append(model)
        return SimpleNamespace(model=model, all_params=params, esr=0.01, extra={}, seconds=0.0)

    monkeypatch.setattr(fitting, "fit", refit)
    x = program_material(6.0, SR, seed=3)
    r = selection.fit_auto(x, 0.5 * x, SR, candidates=candidates, overlap_seconds=0.5)
    assert r.model == r.extra["auto"]["chosen"]
    return r.extra["auto"], refits


def test_fit_auto_refits_the_next_candidate_when_the_refit_runs_a_time_constant_off_the_pair(monkeypatch, capsys):
    """The fold fit of the best candidate kept its long release inside its range; the refit on the whole pair
    pressed it onto its upper bound, longer than the pair (unidentifiable, as the fold fits' rule says): the next
    eligible candidate is refitted and chosen, and the record says why."""
    auto, refits = _auto_with_ff_prel_refit_rejected(monkeypatch, ["ff+prel", "fb+prel"],
                                                     {"fb+prel": ([0.008] * 4, {})})
    assert refits == ["ff+prel", "fb+prel"] and auto["chosen"] == "fb+prel"
    assert auto["refit_rejected"] == [{"model": "ff+prel", "unidentifiable": ["release_long_ms"]}]
    row = next(c for c in auto["candidates"] if c["model"] == "ff+prel")
    assert not row["eligible"] and "release_long_ms" in row["why"] and "refit" in row["why"]
    from dspnewton.cli_report import print_selection

    capsys.readouterr()
    print_selection(auto)
    assert "ff+prel won on the folds, but its refit on the whole pair left release_long_ms" in capsys.readouterr().out


def test_fit_auto_prunes_the_next_candidate_after_a_rejected_refit(monkeypatch):
    """The next eligible candidate after a rejected refit has its own stages on a bound pruned, as the first
    winner's would have been."""
    auto, refits = _auto_with_ff_prel_refit_rejected(
        monkeypatch, ["ff+prel", "fb+prel+outshelf"],
        {"fb+prel+outshelf": ([0.008] * 4, {"output_shelf_hz": "lower"}),
         "fb+prel": ([0.0081] * 4, {})})  # 1.25 % worse: the stage is dropped
    assert refits == ["ff+prel", "fb+prel"] and auto["chosen"] == "fb+prel"
    assert [(s["from"], s["to"], s["stage"], s.get("after")) for s in auto["pruned"]] == [
        ("fb+prel+outshelf", "fb+prel", "outshelf", "refit_rejected")]


def test_cli_report_says_which_stages_were_pruned(capsys):
    from dspnewton.cli_report import print_selection

    row = {"esr_from_rest": 0.01, "esr_continuing": 0.005, "startup_db": 0.4, "score": 0.5, "esr_fit": 0.004,
           "eligible": True, "why": "eligible"}
    auto = {"folds": {"folds": [{}] * 4}, "validation_fraction": 0.25, "validation_seconds": 1.5,
            "chosen": "ff+knee+rms+outshelf", "skipped_folds": [],
            "pruned": [{"from": "ff+knee+rms+inhp+outshelf", "to": "ff+knee+rms+outshelf", "stage": "inhp",
                        "score_from": 0.5, "score_to": 0.51, "bound_in": "refit"}],
            "candidates": [{**row, "model": "ff5", "score": 1.0}, {**row, "model": "ff+knee+rms+inhp+outshelf"},
                           {**row, "model": "ff+knee+rms+outshelf", "score": 0.51,
                            "pruned_from": "ff+knee+rms+inhp+outshelf"}]}
    print_selection(auto)
    out = capsys.readouterr().out
    assert ("note: dropped inhp from ff+knee+rms+inhp+outshelf (a parameter of it on a bound in the refit; "
            "x ff5 0.500 -> 0.510)") in out
    assert "* ff+knee+rms+outshelf" in out and "chosen ff+knee+rms+outshelf" in out
    assert out.count("(pruned from ff+knee+rms+inhp+outshelf)") == 1
