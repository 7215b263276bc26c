"""Progressive data in Newton: covering subsets of frames (deterministic, both ends, every level), the growth
schedule, and fits that iterate on subsets first and finish on all frames with the same stopping rule: as
accurate as fits on all frames throughout, reproducible bit for bit, for ff5, fb+2rel and the recommended model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dspnewton
from dspnewton.cli import build_parser
from dspnewton.cli_common import newton_options
from dspnewton.data.virtual_unit import OpticalLeveler
from dspnewton.model.greybox_spec import RECOMMENDED_MODEL
from dspnewton.objective.frame_subsets import MIN_SUBSET_FRAMES, covering_subset, frame_features, growth_schedule
from dspnewton.objective.framing import make_frames
from dspnewton.optim.options import NewtonOptions
from dspnewton.progressive import progressive_newton
from dspnewton.synth import music_like

SR = 4000
FRAMING = {"frame_seconds": 0.5, "overlap_seconds": 0.1}  # hop 0.4 s: 28 frames on 11.3 s


def _pair(seconds: float):
    x = music_like(seconds, SR, seed=5)
    y = OpticalLeveler(70, "compress").process(x, SR)
    return torch.tensor(x), torch.tensor(y)


@pytest.fixture(scope="module")
def pair():
    return _pair(11.3)


def test_growth_schedule():
    assert growth_schedule(11) == [11]  # too few frames: all of them from the start
    assert growth_schedule(12) == [6, 12]
    assert growth_schedule(28) == [7, 28]
    assert growth_schedule(109) == [7, 28, 109]
    for F in range(1, 400):
        sizes = growth_schedule(F)
        assert sizes[-1] == F and sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
        assert len(sizes) == 1 or sizes[0] >= MIN_SUBSET_FRAMES


def test_covering_subset_covers_ends_levels_and_is_deterministic():
    rng = np.random.default_rng(1)
    levels = np.repeat(rng.permutation(np.linspace(-40, 0, 30)), 400)  # 30 frames of 0.1 s at distinct levels
    x = 10 ** (levels / 20) * rng.standard_normal(levels.size)
    fr = make_frames(torch.tensor(x), torch.tensor(x), 4000, frame_seconds=0.1, overlap_seconds=0.0)
    idx = covering_subset(fr, 8)
    assert torch.equal(idx, covering_subset(fr, 8))  # a function of the audio and the seed
    assert idx.tolist() == sorted(set(idx.tolist())) and len(idx) == 8
    assert 0 in idx.tolist() and fr.n_frames - 1 in idx.tolist()  # both ends
    level, _ = frame_features(fr)
    ranks = np.argsort(np.argsort(level))
    picked = sorted(ranks[idx.numpy()])
    # Every level stratum is in: the picked frames' level ranks have no gap wider than two strata.
    assert max(np.diff([0] + picked + [fr.n_frames - 1])) <= 2 * fr.n_frames / 6
    assert covering_subset(fr, 100).tolist() == list(range(fr.n_frames))
    # Two channels: both channels' first frames are in.
    fr2 = make_frames(torch.tensor(np.stack([x, x[::-1].copy()])), torch.tensor(np.stack([x, x])), 4000,
                      frame_seconds=0.1, overlap_seconds=0.0)
    firsts = set(np.flatnonzero(fr2.first.numpy()).tolist())
    assert firsts <= set(covering_subset(fr2, 8).tolist())


def test_progressive_newton_refuses_a_schedule_without_all_frames(pair):
    fr = make_frames(*pair, SR, **FRAMING)
    with pytest.raises(ValueError, match="all 28 frames"):
        progressive_newton(fr, torch.zeros(5), lambda *a: None, 100, sizes=[7, 14])


def test_max_iter_bounds_all_stages_together(pair):
    x, y = pair
    r = dspnewton.fit(x, y, SR, max_iter=4, **FRAMING)
    stages = r.extra["progressive"]["stages"]
    assert r.iterations == sum(s["iterations"] for s in stages) <= 4
    assert stages[-1]["frames"] == 28 and stages[-1]["iterations"] >= 1


@pytest.mark.parametrize("model", ["ff5", "fb+2rel", RECOMMENDED_MODEL])
def test_progressive_fit_matches_full_data_fit(pair, model):
    # Grey-box fits on 13 frames (the fewest a progressive fit has), ff5 on 28.
    x, y = pair if model == "ff5" else _pair(5.3)
    F = make_frames(x, y, SR, **FRAMING).n_frames
    full = dspnewton.fit(x, y, SR, model=model, options=NewtonOptions(progressive=False), **FRAMING)
    prog = dspnewton.fit(x, y, SR, model=model, **FRAMING)
    assert full.extra["progressive"] is None
    info = prog.extra["progressive"]
    sizes = [s["frames"] for s in info["stages"]]
    assert sizes == growth_schedule(F) == ([7, 28] if model == "ff5" else [6, 13])
    # The last stage is Newton on all frames with the same stopping rule.
    assert prog.converged
    assert prog.history[-1]["frames"] == F and prog.history[0]["frames"] == sizes[0]
    assert info["full_data_passes"] == info["stages"][-1]["evaluations"]
    assert info["stages"][-1]["iterations"] < full.iterations  # fewer Newton steps on all the data
    assert prog.iterations == sum(s["iterations"] for s in info["stages"])
    # As accurate (grey-box fits are not convex: a different path may end in a slightly different optimum).
    tol = 1.001 if model == "ff5" else 1.05
    assert prog.esr <= full.esr * tol, (prog.esr, full.esr)
    # Reproducible bit for bit.
    again = dspnewton.fit(x, y, SR, model=model, **FRAMING)
    assert again.all_params == prog.all_params and again.esr == prog.esr


def test_full_data_flag():
    ap = build_parser()
    args = ap.parse_args(["fit", "in.wav", "out.wav", "-o", "o", "--full-data"])
    assert newton_options(args).progressive is False
    assert newton_options(ap.parse_args(["fit", "in.wav", "out.wav", "-o", "o"])).progressive is True
