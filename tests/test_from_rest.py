"""Fits trusted from the first sample: the objective from rest with carried frame states, clip scores from
sample 0, model selection's folds and its rule, and the real-time processor starting from the fit's rest state."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import dspnewton
from dspnewton.objective.exact import exact_loss, exact_loss_grad_hess
from dspnewton.audio import InputError
from dspnewton.data.virtual_unit import OpticalLeveler
from dspnewton.model.greybox_spec import RECOMMENDED_MODEL
from dspnewton.model.models import get_model
from dspnewton.objective.framing import make_frames
from dspnewton.objective.hessian import loss_grad_hess
from dspnewton.objective.metrics import clip_scores, startup_level_error_db, startup_window_levels_db
from dspnewton.selection import decide, fold_layout, fold_scores
from dspnewton.synth import program_material

SR = 4000
MODELS = ["ff5", "fb+2rel", f"{RECOMMENDED_MODEL}+inhp+outshelf"]


def _signal(seconds: float = 6.0, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    T = int(seconds * SR)
    env = torch.linspace(0.05, 1.0, T) ** 2
    return 0.5 * torch.randn(T, generator=g, dtype=torch.float64) * env + 0.3 * torch.sin(torch.arange(T) * 0.05)


def _target(name: str, x: torch.Tensor, **params):
    m = get_model(name)
    theta = m.physical_to_theta(m.warm_start({"threshold_db": -20.0, "ratio": 4.0, "release_ms": 800.0, **params},
                                             SR), SR)
    with torch.no_grad():
        return m, theta, m.render(x, theta, SR)


def _rel(a, b) -> float:
    return float((a - b).norm() / b.norm())


def test_frames_tile_the_signal_from_its_first_sample():
    x = _signal(3.0)
    fr = make_frames(x, x, SR, 1.0, 0.25, "carried")
    assert fr.first.tolist() == [True] + [False] * (fr.n_frames - 1)
    assert fr.starts.tolist() == [0] + [fr.warmup] * (fr.n_frames - 1)
    # Every sample of the signal is in the loss exactly once (the first frame from sample 0).
    covered = torch.zeros(fr.xbuf.shape[0])
    for f in range(fr.n_frames):
        o = int(fr.offsets[f])
        covered[o:o + fr.frame_length] += fr.mask[f]
    assert bool((covered[:x.numel()] == 1).all())
    stereo = make_frames(torch.stack([x, -x]), torch.stack([x, -x]), SR, 1.0, 0.25)
    assert stereo.first.sum() == 2 and stereo.starts[stereo.first].tolist() == [0, 0]
    sub = fr.subset(torch.tensor([0, 2]))
    assert sub.root is fr and sub.index.tolist() == [0, 2] and sub.carried
    assert not fr.with_initial_state("rest").carried and fr.with_initial_state("rest").subset(1).initial_state == "rest"
    with pytest.raises(ValueError, match="initial_state must be one of carried, rest"):
        make_frames(x, x, SR, 1.0, 0.25, "warm")


@pytest.mark.parametrize("name", MODELS + ["fb+sc+in2+core"])  # + the second-order input chain's carried states
def test_carried_objective_equals_the_whole_signal(name):
    """Loss exact; gradient and Hessian truncated at frame starts, measured against the exact whole-signal ones."""
    x = _signal()
    m, theta, y = _target(name, x)
    y = y + 0.01 * torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    th = theta + 0.1 * torch.randn(theta.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    Lw, gw, Hw = loss_grad_hess(th, make_frames(x, y, SR, None, 0.0), "revrev", model=name)  # whole signal, autograd
    carried = make_frames(x, y, SR, 1.0, 0.25, "carried")
    L, g, H = loss_grad_hess(th, carried, "fused", model=name)
    assert float(L) == pytest.approx(float(Lw), rel=1e-12)
    assert exact_loss(m, th, carried) == pytest.approx(float(Lw), rel=1e-12)  # the sequential loss-only pass
    # Truncation at the frame starts, 0.25 s before each loss region (measured 5e-7 .. 2e-5 here).
    assert _rel(g, gw) < 1e-3 and _rel(H, Hw) < 1e-3
    # The whole-signal path stays exact.
    Lf, gf, Hf = loss_grad_hess(th, make_frames(x, y, SR, None, 0.0), "fused", model=name)
    assert _rel(gf, gw) < 1e-10 and _rel(Hf, Hw) < 1e-10
    # From rest, frames differ from the whole signal (the warm-up rebuilds the state only approximately).
    Lr = loss_grad_hess(th, make_frames(x, y, SR, 1.0, 0.25), "fused", model=name)[0]
    assert float(Lr) != pytest.approx(float(Lw), rel=1e-9)


def test_subsets_and_shards_use_the_whole_signal_states():
    x = _signal()
    m, theta, y = _target("fb+2rel", x)
    fr = make_frames(x, y + 0.01, SR, 1.0, 0.25, "carried")
    parts = [fr.subset(torch.arange(0, fr.n_frames, 2)), fr.subset(torch.arange(1, fr.n_frames, 2))]
    L, g, H = exact_loss_grad_hess(m, theta, fr)
    sums = [exact_loss_grad_hess(m, theta, p) for p in parts]
    assert float(sum(s[0] for s in sums)) == pytest.approx(float(L), rel=1e-12)
    assert _rel(sum(s[1] for s in sums), g) < 1e-12 and _rel(sum(s[2] for s in sums), H) < 1e-12
    assert sum(exact_loss(m, theta, p) for p in parts) == pytest.approx(float(L), rel=1e-12)


def test_autograd_strategies_refuse_carried_states():
    x = _signal(2.0)
    fr = make_frames(x, x, SR, 1.0, 0.25, "carried")
    theta = get_model("ff5").physical_to_theta(get_model("ff5").defaults(), SR)
    with pytest.raises(ValueError, match="renders every frame from rest"):
        loss_grad_hess(theta, fr, "revrev")
    with pytest.raises(InputError, match="carried initial states need the fused strategy"):
        dspnewton.fit(x.numpy(), x.numpy(), SR, hessian="revrev", initial_state="carried", max_iter=1)
    r = dspnewton.fit(x.numpy(), 0.5 * x.numpy(), SR, hessian="revrev", max_iter=1, frame_seconds=1.0,
                      overlap_seconds=0.25)
    assert r.extra["initial_state"] == "rest"  # auto: the autograd strategies start frames from rest


def test_long_release_is_recovered_on_frames_as_on_the_whole_signal():
    """A slow release of 3 s on 1 s frames: carried states recover the parameters; frames from rest cannot."""
    x = _signal(8.0, seed=3)
    m, theta, y = _target("fb+2rel", x, release_slow_ms=3000.0, slow_mix=0.5)
    truth = m.theta_to_physical(theta, SR)
    start = {k: float(v) * (1.1 if k != "threshold_db" else 1.0) for k, v in truth.items()}
    start["slow_mix"] = 0.4
    kw = dict(model="fb+2rel", init=start, max_iter=60, frame_seconds=1.0, overlap_seconds=0.25)
    whole = dspnewton.fit(x.numpy(), y.numpy(), SR, **{**kw, "frame_seconds": None})
    carried = dspnewton.fit(x.numpy(), y.numpy(), SR, **kw)
    rest = dspnewton.fit(x.numpy(), y.numpy(), SR, initial_state="rest", **kw)
    assert carried.extra["initial_state"] == "carried"

    def err(r):
        return max(abs(r.all_params[k] - float(truth[k])) / max(abs(float(truth[k])), 1e-3) for k in truth)

    print("parameter error: whole", err(whole), "carried", err(carried), "rest", err(rest), "ESR", carried.esr, rest.esr)
    assert err(whole) < 1e-3 and err(carried) < 1e-3 and carried.esr < 1e-8
    assert err(rest) > 10 * err(carried) and rest.extra["from_rest"]["esr"] > 100 * carried.esr
    assert carried.extra["from_rest"]["esr"] == pytest.approx(carried.esr, rel=1e-6, abs=1e-14)


def test_clip_scores_from_sample_zero():
    t = torch.sin(torch.arange(2 * SR, dtype=torch.float64) * 0.3)
    loud = t.clone()
    loud[:SR // 20] *= 10 ** (9 / 20)  # 9 dB too loud for the first 50 ms
    s = clip_scores(loud, t, SR)
    assert s["startup_db"] == pytest.approx(9.0, abs=1e-6)
    assert s["esr_after_first_second"] == pytest.approx(0.0, abs=1e-20) and s["esr_first_second"] > 0.01
    assert s["esr"] == pytest.approx(float(dspnewton.objective.esr(loud, t)), rel=1e-12)
    silent = torch.zeros(2 * SR)
    assert startup_level_error_db(silent, silent, SR) is None
    w = startup_window_levels_db(loud, t, SR)  # per window, signed: 9 dB in the first, 0 after
    assert len(w) == 20 and w[0] == pytest.approx(9.0, abs=1e-6) and max(abs(v) for v in w[1:]) < 1e-9
    quiet = t.clone()
    quiet[SR // 20:SR // 10] = 0.0
    assert startup_window_levels_db(quiet, quiet * 0.5, SR)[1] is None  # both silent: no level to match
    assert startup_window_levels_db(silent[:10], silent[:10], SR) == []
    assert clip_scores(silent, silent, SR)["esr"] is None  # no division by ~0


@pytest.mark.parametrize("model", ["ff5", "fb+2rel", RECOMMENDED_MODEL])
def test_fit_scores_from_rest_from_its_own_exact_loss(model):
    """A fused fit with carried states scores the whole pair from its own loss and a render of the first second:
    equal to rendering the whole pair (two channels, several frames)."""
    from dspnewton.fitting import from_rest_scores

    x = np.stack([program_material(8.0, SR, seed=2), 0.5 * program_material(8.0, SR, seed=3)])
    y = np.stack([OpticalLeveler(70, "limit").process(c, SR) for c in x])
    X, Y = torch.tensor(x), torch.tensor(y)
    r = dspnewton.fit(X, Y, SR, model=model, frame_seconds=2.0, overlap_seconds=0.5, channels="each", max_iter=3)
    full = from_rest_scores(r, X, Y)
    assert r.extra["from_rest"].keys() == full.keys()
    for k, v in full.items():
        assert r.extra["from_rest"][k] == pytest.approx(v, rel=1e-11), k


def _rows(folds_ff5, folds_c, first=(0.02, 0.02), startup=(0.5, 0.5), unidentifiable=()):
    def row(model, folds, fs, up, unid):
        return {"model": model, "esr_folds": list(folds), "esr_first_second": fs, "startup_db": up,
                "unidentifiable": list(unid)}
    return [row("ff5", folds_ff5, first[0], startup[0], ()), row("fb+2rel", folds_c, first[1], startup[1],
                                                                    unidentifiable)]


def test_auto_falls_back_to_ff5_when_a_candidate_loses_from_rest():
    # Wins in steady state (every continuing fold 10x better), loses from rest: not chosen.
    rows = _rows([0.02, 0.02, 0.02, 0.02], [0.5, 0.002, 0.002, 0.002], first=(0.02, 0.6), startup=(0.5, 17.6))
    d = decide(rows)
    assert d["chosen"] == "ff5" and d["start_matched"]
    assert not rows[1]["eligible"] and "fold 0 (from rest" in rows[1]["why"] and "start-up level error" in rows[1]["why"]
    assert rows[1]["esr_continuing"] == pytest.approx(0.002) and rows[1]["esr_from_rest"] == 0.5
    # The same candidate, good from rest too: chosen.
    rows = _rows([0.02, 0.02, 0.02, 0.02], [0.01, 0.002, 0.002, 0.002])
    assert decide(rows)["chosen"] == "fb+2rel" and rows[1]["score"] < 1
    # Worse than ff5 on one continuing fold only: refused.
    rows = _rows([0.02, 0.02, 0.02, 0.02], [0.01, 0.002, 0.03, 0.002])
    assert decide(rows)["chosen"] == "ff5" and "fold 2 (continuing" in rows[1]["why"]
    # Better on every fold; its start-up level error at most 1 dB above ff5's (hardly audible): eligible; more: not.
    rows = _rows([0.02] * 4, [0.01] * 4, startup=(1.95, 2.9))
    assert decide(rows)["chosen"] == "fb+2rel"
    rows = _rows([0.02] * 4, [0.01] * 4, startup=(1.95, 3.0))
    assert decide(rows)["chosen"] == "ff5" and "start-up level error 3 dB > 2.95 dB" in rows[1]["why"]
    # Window by window: a 50 ms onset 6.4 dB too loud (ff5 2.2 dB there) against five windows where ff5 is 3.8 dB
    # too loud and the candidate 1 dB: worse at its worst, not on balance: eligible.
    win = lambda *v: [None] + list(v) + [0.1] * (19 - len(v))  # noqa: E731 (20 windows; the first silent)
    rows = _rows([0.02] * 4, [0.01] * 4, startup=(3.8, 6.4))
    rows[0]["startup_windows_db"], rows[1]["startup_windows_db"] = win(2.2, *[3.8] * 5), win(-6.4, *[-1.0] * 5)
    assert decide(rows)["chosen"] == "fb+2rel", rows[1]["why"]
    # The same onset with ff5 right elsewhere: worse at its worst and on balance (3.2 dB over one 50 ms window:
    # 0.16 dB s), refused.
    rows[0]["startup_windows_db"], rows[0]["startup_db"] = win(2.2, *[1.0] * 5), 2.2
    assert decide(rows)["chosen"] == "ff5" and "6.4 dB > 3.2 dB and worse than ff5's on balance (0.16 dB s beyond " \
        "ff5's + 1 dB, 0 dB s the other way)" in rows[1]["why"]
    # Worse on balance (4.5 dB too quiet where ff5 is 2.3 dB too loud, 8 windows), not at its worst: eligible.
    rows = _rows([0.02] * 4, [0.01] * 4, startup=(4.2, 4.5))
    rows[0]["startup_windows_db"], rows[1]["startup_windows_db"] = win(*[2.3] * 8, 4.2), win(*[-4.5] * 8, 0.4)
    assert decide(rows)["chosen"] == "fb+2rel", rows[1]["why"]
    # A time constant on a bound and longer than the audio it was fitted on: refused.
    rows = _rows([0.02] * 4, [0.01] * 4, unidentifiable=["release_slow_ms"])
    assert decide(rows)["chosen"] == "ff5" and "release_slow_ms" in rows[1]["why"]
    # Long but inside its range: only reported (score_candidates sets unidentifiable = long and on a bound).
    from types import SimpleNamespace

    from dspnewton.selection import _long_time_constants

    fit = SimpleNamespace(all_params={"attack_ms": 10.0, "release_ms": 200.0, "release_slow_ms": 13000.0})
    assert _long_time_constants(fit, 6.0) == ["release_slow_ms"] and _long_time_constants(fit, 20.0) == []


def test_silent_folds_and_a_target_starting_mid_compression():
    # A nearly silent fold is skipped (never a division by ~0), and said so.
    rows = _rows([0.02, None, 0.02, 0.02], [0.01, None, 0.002, 0.002])
    d = decide(rows)
    assert d["chosen"] == "fb+2rel" and d["skipped_folds"][0]["fold"] == 1 and "silent" in d["skipped_folds"][0]["why"]
    assert set(rows[1]["ratio_folds"]) == {"0", "2", "3"}
    # No candidate matches the first second: the from-rest fold does not reject anyone.
    rows = _rows([0.5, 0.02, 0.02, 0.02], [0.9, 0.002, 0.002, 0.002], first=(0.4, 0.8), startup=(6.0, 9.0))
    d = decide(rows)
    assert not d["start_matched"] and d["chosen"] == "fb+2rel"
    assert any(s["fold"] == 0 and "mid-compression" in s["why"] for s in d["skipped_folds"])
    with pytest.raises(InputError, match="every held-out fold of the pair is nearly silent"):
        decide(_rows([None] * 4, [None] * 4))


def test_fold_layout_and_scores():
    lay = fold_layout(20 * SR, SR, 0.25, 4, 1.0)
    assert lay.blocks == 16 and lay.held_out == [0, 5, 10, 15] and lay.scored_range(0)[0] == 0
    assert lay.scored_range(15)[1] == 20 * SR
    ranges = [lay.scored_range(b) for b in range(lay.blocks)]
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))  # the blocks tile the pair
    with pytest.raises(InputError, match=r"too short for model selection.*at least 5 s in all"):
        fold_layout(4 * SR, SR, 0.25, 4, 1.0)
    t = torch.sin(torch.arange(20 * SR) * 0.3)
    lo, hi = lay.scored_range(5)
    t[lo - 1000:hi] = 0.0  # a silent fold (from before it: the pre-emphasis' tail decays first)
    s = fold_scores(t * 0.9, t, lay)
    assert s["esr_folds"][1] is None and s["esr_folds"][0] == pytest.approx(0.01, rel=1e-6)


def test_fit_auto_on_a_target_that_starts_mid_compression(tmp_path):
    """The unit was compressing before the recording started: detected and reported; nothing rejected for it."""
    sr = 8000
    pre = 0.9 * np.sin(2 * np.pi * 200 * np.arange(2 * sr) / sr)
    x = program_material(8.0, sr, seed=4)
    x[: sr // 2] = 0.9 * np.sin(2 * np.pi * 200 * np.arange(sr // 2) / sr)  # loud from the first sample
    y = OpticalLeveler(100, "limit").process(np.concatenate([pre, x]), sr)[len(pre):]
    from dspnewton.selection import fit_auto

    r = fit_auto(x, y, sr, candidates=["fb+2rel"], max_iter=8, frame_seconds=2.0, overlap_seconds=0.5)
    auto = r.extra["auto"]
    assert not auto["start_matched"]
    assert any(s["fold"] == 0 for s in auto["skipped_folds"])
    assert all("0" not in c["ratio_folds"] for c in auto["candidates"])


@pytest.mark.parametrize("name", MODELS)
def test_processor_starts_from_the_rest_state_the_fit_assumed(tmp_path, name):
    x = _signal(3.0, seed=5)
    _, _, y = _target(name, x)
    r = dspnewton.fit(x.numpy(), y.numpy(), SR, model=name, max_iter=3, frame_seconds=1.0, overlap_seconds=0.25)
    r.save(tmp_path / "fit.json")
    proc = dspnewton.Processor.from_fit(str(tmp_path / "fit.json"))
    out = np.concatenate([proc.process(x.numpy()[i:i + 256]) for i in range(0, x.numel(), 256)])
    ref = r.render(x).numpy()
    assert np.max(np.abs(out - ref)) <= 1e-5 * np.max(np.abs(ref))  # the first samples included
    scores = clip_scores(torch.from_numpy(out), y, SR)
    for k in ("esr", "esr_first_second"):
        assert scores[k] == pytest.approx(r.extra["from_rest"][k], rel=1e-4, abs=1e-12)
    assert scores["startup_db"] == pytest.approx(r.extra["from_rest"]["startup_db"], abs=1e-3)
    proc.reset()  # after a reset: the same rest state
    again = np.concatenate([proc.process(x.numpy()[i:i + 256]) for i in range(0, x.numel(), 256)])
    assert np.array_equal(again, out)
    saved = json.loads((tmp_path / "fit.json").read_text())["extra"]
    assert saved["initial_state"] == "carried" and set(saved["from_rest"]) >= {"esr", "esr_first_second", "startup_db"}


def test_parallel_state_pass_is_bit_identical_to_the_sequential_one():
    """The chunks run at once from guessed states, then are rerun from the exact state until they merge."""
    from dspnewton.objective import frame_state as fs

    x = _signal(8.0, seed=6)
    for name in MODELS:
        m, theta, y = _target(name, x)
        fr = make_frames(x, y, SR, 1.0, 0.25, "carried")
        states = {}
        for threads in (1, 2, 3):
            root = make_frames(x, y, SR, 1.0, 0.25, "carried")
            orig = fs._carry
            fs._carry = lambda r, rest, guess, run, t, _n=threads: orig(r, rest, guess, run, _n)
            try:
                losses = [exact_loss(m, theta + d, root) for d in (0.0, 1e-3, -2e-3)]  # later calls guess from earlier
            finally:
                fs._carry = orig
            states[threads] = (losses, [v[0] for v in root._cache["frame_states"].values()])
        for t in (2, 3):
            assert states[t][0] == states[1][0]
            assert all(np.array_equal(a, b) for a, b in zip(states[t][1], states[1][1]))
        assert fr.n_frames > 3

    # A state that never forgets its start (a counter): every chunk is rerun, still exact.
    fr = make_frames(x, x, SR, 1.0, 0.25, "carried")

    def counter(lo, hi, init, out_l):
        for j in range(hi - lo):
            out_l[j] = init[j, 0]
            init[j + 1, 0] = init[j, 0] + 1.0

    init, out_l = fs._carry(fr, np.zeros(1), np.full((fr.n_frames, 1), 7.0), counter, 3)
    assert init[:, 0].tolist() == list(range(fr.n_frames)) and out_l.tolist() == list(range(fr.n_frames))


def test_state_cache_is_shared_by_models_of_different_state_sizes():
    """An ff5 warm start and a grey-box fit use the same frames: guesses never mix state sizes."""
    x = _signal(8.0, seed=7)
    _, _, y = _target("fb+2rel", x)
    fr = make_frames(x, y, SR, 1.0, 0.25, "carried")
    alone = make_frames(x, y, SR, 1.0, 0.25, "carried")
    m5, mg = get_model("ff5"), get_model("fb+2rel")
    t5 = m5.physical_to_theta(m5.defaults(), SR)
    tg = mg.physical_to_theta(mg.defaults(), SR)
    exact_loss(m5, t5, fr)
    assert exact_loss(mg, tg, fr) == exact_loss(mg, tg, alone)
