"""Frames that score chosen ranges of one pair (model selection's fitted blocks): each from rest at the pair's
first sample, so the fused pass's loss, gradient and Hessian are the whole pair's from rest over those ranges."""

from __future__ import annotations

import pytest
import torch

from dspnewton.audio import InputError
from dspnewton.model.greybox_spec import RECOMMENDED_MODEL
from dspnewton.model.models import get_model
from dspnewton.objective.framing import make_segment_frames
from dspnewton.objective.hessian import loss_grad_hess
from dspnewton.objective.preemphasis import preemphasis
from dspnewton.selection import _selection_frames, fold_layout

SR = 4000
MODELS = ["ff5", "fb+2rel", RECOMMENDED_MODEL, "fb+prel"]


def _pair(name: str, seconds: float = 1.5):
    g = torch.Generator().manual_seed(3)
    T = int(seconds * SR)
    bursts = (torch.arange(T) // 700 % 2).double()  # on/off bursts: the memory and slow states matter
    x = 0.6 * torch.randn(T, generator=g, dtype=torch.float64) * (0.1 + bursts)
    m = get_model(name)
    params = {"threshold_db": -20.0, "ratio": 4.0, "release_ms": 120.0}
    theta = m.physical_to_theta(m.warm_start(params, SR), SR)
    with torch.no_grad():
        y = m.render(x, theta + 0.1, SR)
    return m, theta, x, y


@pytest.mark.parametrize("name", MODELS)
def test_segment_frames_give_the_whole_pairs_loss_and_derivatives_over_the_ranges(name):
    m, theta, x, y = _pair(name)
    ranges = [(500, 1600), (2300, 3900), (4500, 6000)]
    frames = make_segment_frames(x, y, SR, ranges)
    assert frames.n_frames == 3 and frames.offsets.tolist() == [0, 0, 0]
    assert frames.starts.tolist() == [500, 2300, 4500] and frames.valid.tolist() == [1600, 3900, 6000]
    mask = torch.zeros(x.shape[-1], dtype=torch.float64)
    for lo, hi in ranges:
        mask[lo:hi] = 1.0

    def loss(th):  # the whole pair rendered from rest, pre-emphasised, summed over the ranges
        e = preemphasis(m.render(x, th, SR)) - preemphasis(y)
        return (mask * e * e).sum()

    L, g, H = loss_grad_hess(theta, frames, "fused", model=m.spec)
    t = theta.clone().requires_grad_()
    L_ref = loss(t)
    g_ref = torch.autograd.grad(L_ref, t)[0]
    H_ref = torch.autograd.functional.hessian(loss, theta)
    assert float(L) == pytest.approx(float(L_ref.detach()), rel=1e-10)
    assert torch.allclose(g, g_ref, rtol=1e-7, atol=1e-9 * float(g_ref.abs().max()))
    assert torch.allclose(H, H_ref, rtol=1e-6, atol=1e-8 * float(H_ref.abs().max()))
    # A subset keeps each frame's own scored start.
    sub = frames.subset(torch.tensor([2, 0]))
    assert sub.starts.tolist() == [4500, 500] and sub.valid.tolist() == [6000, 1600]


def test_segment_frames_warm_up_and_pieces():
    x = torch.randn(10 * SR, dtype=torch.float64)
    f = make_segment_frames(x, x, SR, [(6 * SR, 10 * SR)], warmup_seconds=1.0, max_seconds=1.5)
    # Pieces of at most 1.5 s, each from rest 1 s before it.
    assert f.offsets.tolist() == [5 * SR, int(6.5 * SR), 8 * SR]
    assert f.starts.tolist() == [SR] * 3
    assert f.valid.tolist() == [int(2.5 * SR), int(2.5 * SR), 2 * SR]
    assert f.frame_length == int(2.5 * SR) and f.initial_state == "rest"
    for bad in ([(5, 5)], [(-1, 10)], [(0, 10 * SR + 1)], []):
        with pytest.raises(ValueError):
            make_segment_frames(x, x, SR, bad)
    with pytest.raises(ValueError, match="one channel"):
        make_segment_frames(x.reshape(2, -1), x.reshape(2, -1), SR, [(0, 10)])


def test_selection_fits_each_run_of_fitted_blocks_from_the_first_sample():
    x = torch.randn(1, 8 * SR, dtype=torch.float64)
    layout = fold_layout(x.shape[-1], SR)
    assert layout.held_out == [0, 5, 10, 15]
    frames = _selection_frames(x, x, layout)
    runs = [(layout.scored_range(a)[0], layout.scored_range(b)[1]) for a, b in ((1, 4), (6, 9), (11, 14))]
    assert frames.offsets.tolist() == [0, 0, 0]
    assert list(zip(frames.starts.tolist(), frames.valid.tolist())) == runs
    assert layout.to_dict()["fitted"] == [list(r) for r in runs]  # under the cap (60 s): every fitted block


def test_selection_fits_at_most_its_cap_the_end_of_each_run():
    x = torch.randn(1, 8 * SR, dtype=torch.float64)
    full = fold_layout(x.shape[-1], SR, fit_seconds=None).fitted_ranges()
    layout = fold_layout(x.shape[-1], SR, fit_seconds=1.5)
    ranges = layout.fitted_ranges()
    total = sum(hi - lo for lo, hi in full)
    # Each run keeps its last share of the cap: it still ends where the next held-out fold begins.
    assert [hi for _, hi in ranges] == [hi for _, hi in full]
    assert [hi - lo for lo, hi in ranges] == [(hi - lo) * int(1.5 * SR) // total for lo, hi in full]
    assert sum(hi - lo for lo, hi in ranges) <= 1.5 * SR
    assert layout.to_dict()["fitted_seconds"] == pytest.approx(sum(hi - lo for lo, hi in ranges) / SR)
    frames = _selection_frames(x, x, layout)  # each range from rest 10 s before it: here the pair's first sample
    assert frames.offsets.tolist() == [0, 0, 0]
    assert list(zip(frames.starts.tolist(), frames.valid.tolist())) == [tuple(r) for r in ranges]
    for bad in (0.0, -2.0):
        with pytest.raises(InputError, match="fit_seconds must be > 0"):
            fold_layout(x.shape[-1], SR, fit_seconds=bad)
