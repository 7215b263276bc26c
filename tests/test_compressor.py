"""The ff5 compressor: torchcomp parity, derivatives of every order, the parallel
forward, parameter transforms and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

from dspnewton.model import (
    Compressor,
    CompressorParams,
    ballistics,
    coef_to_ms,
    compress,
    level_db,
    ms_to_coef,
    physical_to_theta,
    static_gain,
    theta_to_coefficients,
    theta_to_physical,
)
from dspnewton.model.params import RANGES, check_sample_rate
from dspnewton.synth import music_like
from conftest import require_module

SR = 44100


def random_params(g: torch.Generator, n: int) -> list[CompressorParams]:
    u = torch.rand(n, 5, generator=g, dtype=torch.float64)
    out = []
    for r in u.tolist():
        out.append(CompressorParams(
            threshold_db=-50 + 45 * r[0], ratio=1.2 + 18 * r[1], attack_ms=10 ** (-0.9 + 2.8 * r[2]),
            release_ms=10 ** (1.05 + 1.9 * r[3]), makeup_db=-6 + 12 * r[4]))
    return out


@pytest.fixture(scope="module")
def music():
    return torch.from_numpy(np.stack([music_like(2.0, SR, seed=s) for s in range(3)]))


def torchcomp_reference(x, theta):
    torchcomp = require_module("torchcomp")
    ct, ratio, a_at, a_rt, gamma = theta_to_coefficients(theta, SR)
    gain = torchcomp.compexp_gain(x.abs().clamp_min(1e-8), ct, ratio, -120.0, 0.9999, a_at, a_rt)
    return x * gain * 10 ** (gamma.unsqueeze(-1) / 20)


def test_matches_torchcomp_single_and_batched(music):
    g = torch.Generator().manual_seed(0)
    params = random_params(g, 3)
    thetas = torch.stack([p.to_theta(SR) for p in params])
    for th in thetas:  # B = 1
        y = compress(music[:1], th, SR)
        torch.testing.assert_close(y, torchcomp_reference(music[:1], th.unsqueeze(0)), rtol=0, atol=1e-5)
    y = compress(music, thetas, SR)  # batched, per-signal parameters
    ref = torchcomp_reference(music, thetas)
    # The residual comes from torchcomp's expander, which still acts below -120 dB.
    assert (y - ref).abs().max() < 1e-5


def test_module_form_and_conversion(music):
    p = CompressorParams(-24.0, 3.5, 4.0, 150.0, 1.5)
    comp = Compressor(p, sample_rate=SR)
    assert comp.params.threshold_db == pytest.approx(-24.0, abs=1e-12)
    for name in ("ratio", "attack_ms", "release_ms", "makeup_db"):
        assert getattr(comp.params, name) == pytest.approx(getattr(p, name), rel=1e-12)
    y = comp(music[0])
    assert y.shape == music[0].shape
    torch.testing.assert_close(y, compress(music[:1], p.to_theta(SR), SR)[0])
    comp32 = Compressor(p, SR).to(torch.float32)
    y32 = comp32(music[0].float())
    assert y32.dtype == torch.float32 and (y32.double() - y).abs().max() < 1e-4
    with pytest.raises(ValueError, match="call .to"):
        comp32(music[0])


def test_parameter_transforms_round_trip():
    g = torch.Generator().manual_seed(1)
    for p in random_params(g, 20):
        th = p.to_theta(SR)
        back = CompressorParams.from_theta(th, SR)
        for name in p.to_dict():
            assert getattr(back, name) == pytest.approx(getattr(p, name), rel=1e-10, abs=1e-10)
    theta = torch.randn(50, 5, generator=g, dtype=torch.float64) * 3
    phys = theta_to_physical(theta, SR)
    torch.testing.assert_close(physical_to_theta(phys, SR), theta, rtol=1e-9, atol=1e-9)
    # Bounds are applied to the coefficients.
    ct, r, a_at, a_rt, gm = theta_to_coefficients(torch.tensor([0.0, -50.0, -50.0, 50.0, 0.0], dtype=torch.float64), SR)
    assert float(r) == pytest.approx(1.0)
    assert float(a_at) == pytest.approx(ms_to_coef(RANGES["attack_ms"][1], SR))
    assert float(a_rt) == pytest.approx(ms_to_coef(RANGES["release_ms"][0], SR))
    assert coef_to_ms(ms_to_coef(7.0, SR), SR) == pytest.approx(7.0, rel=1e-12)
    assert ms_to_coef(1.0, SR) == pytest.approx(1 - math.exp(-2200 / (1.0 * SR)))


def _loss_fn(x, target, backend="auto"):
    def loss(theta):
        return (compress(x, theta, SR, backend=backend) - target).pow(2).sum()
    return loss


@pytest.mark.parametrize("backend", ["sequential", "scan"])
def test_gradcheck_all_parameters_and_input(backend):
    g = torch.Generator().manual_seed(2)
    x = (0.5 * torch.randn(2, 48, generator=g, dtype=torch.float64)).requires_grad_()
    theta = torch.tensor([[-20.0, 0.3, -0.5, 0.2, 1.0], [-12.0, -1.0, 0.8, -0.3, -2.0]], dtype=torch.float64,
                         requires_grad=True)
    f = lambda x_, th_: compress(x_, th_, SR, backend=backend)  # noqa: E731
    assert gradcheck(f, (x, theta), check_forward_ad=True)
    assert gradgradcheck(f, (x, theta), check_fwd_over_rev=True)
    # The ballistics Function on its own, all four differentiable inputs.
    gh = (0.2 + 0.8 * torch.rand(2, 40, generator=g, dtype=torch.float64)).requires_grad_()
    at = torch.tensor([0.3, 0.5], dtype=torch.float64, requires_grad=True)
    rt = torch.tensor([0.05, 0.1], dtype=torch.float64, requires_grad=True)
    g0 = torch.tensor([1.0, 0.7], dtype=torch.float64, requires_grad=True)
    b = lambda *a: ballistics(*a, backend=backend)  # noqa: E731
    assert gradcheck(b, (gh, at, rt, g0), check_forward_ad=True)
    assert gradgradcheck(b, (gh, at, rt, g0), check_fwd_over_rev=True)


def test_jvp_equals_vjp(music):
    x = music[:1, :3000]
    theta = CompressorParams(-25, 4, 2, 120, 0.5).to_theta(SR)
    f = lambda th: compress(x, th, SR)  # noqa: E731
    v = torch.randn(5, dtype=torch.float64)
    out, jv = torch.func.jvp(f, (theta,), (v,))
    w = torch.randn_like(out)
    _, vjp_fn = torch.func.vjp(f, theta)
    torch.testing.assert_close((w * jv).sum(), (vjp_fn(w)[0] * v).sum(), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("backend", ["sequential", "scan"])
def test_all_hessian_routes_agree(music, backend):
    x = music[:1, :4000]
    target = compress(x, CompressorParams(-18, 6, 8, 300, 1.0).to_theta(SR), SR)
    loss = _loss_fn(x, target, backend)
    theta = CompressorParams(-30, 3, 2, 150, 0.0).to_theta(SR)
    ref = torch.autograd.functional.hessian(loss, theta)
    routes = {
        "torch.func.hessian": torch.func.hessian(loss)(theta),
        "jacfwd(jacrev)": torch.func.jacfwd(torch.func.jacrev(loss))(theta),
        "jacrev(jacrev)": torch.func.jacrev(torch.func.jacrev(loss))(theta),
        "jacfwd(jacfwd)": torch.func.jacfwd(torch.func.jacfwd(loss))(theta),
        "jacrev(jacfwd)": torch.func.jacrev(torch.func.jacfwd(loss))(theta),
    }
    scale = ref.abs().max()
    for name, H in routes.items():
        assert ((H - ref).abs().max() / scale).item() < 1e-10, name
    assert ((ref - ref.T).abs().max() / scale).item() < 1e-12


def test_parallel_forward_equals_sequential(music):
    from dspnewton.model.ballistics import ballistics_parallel_forward

    g = torch.Generator().manual_seed(3)
    for p in random_params(g, 4) + [CompressorParams(-36, 4, 1, 200, 0)]:
        ct, ratio, a_at, a_rt, _ = theta_to_coefficients(p.to_theta(SR).expand(3, 5), SR)
        gh = static_gain(level_db(music), ct, ratio)
        g_seq, m_seq = ballistics(gh, a_at, a_rt, backend="sequential", return_mask=True)
        g_par, m_par, stats = ballistics_parallel_forward(gh, a_at, a_rt, gh.new_ones(3))
        assert stats.converged and stats.iterations < 40
        # Decisions agree everywhere except at exact ties gh[n] == g[n-1], where
        # both branches give the same g[n] and the same derivatives (the term
        # gh[n] - g[n-1] vanishes), so the label is immaterial.
        tie = gh == torch.cat([gh.new_ones(3, 1), g_seq[:, :-1]], dim=-1)
        assert torch.equal(m_seq[~tie], m_par[~tie]), "attack/release decisions differ"
        assert (g_seq - g_par).abs().max() < 1e-13
        # float32: the parallel forward within 1e-6 of the float32 sequential one.
        g32 = ballistics(gh.float(), a_at.float(), a_rt.float(), forward="parallel")
        g32_seq = ballistics(gh.float(), a_at.float(), a_rt.float(), forward="kernel")
        assert (g32 - g32_seq).abs().max() < 1e-6
        # Through the public API, with gradients.
        y_par = compress(music, p.to_theta(SR), SR, forward="parallel")
        torch.testing.assert_close(y_par, compress(music, p.to_theta(SR), SR), rtol=0, atol=1e-13)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: CompressorParams(-20, 0.5, 5, 100, 0), r"ratio must lie in \[1, 50\]"),
        (lambda: CompressorParams(-20, 4, 500, 100, 0), r"attack_ms must lie in \[0.1, 100\] ms"),
        (lambda: CompressorParams(-20, 4, 5, 2, 0), r"release_ms must lie in \[5, 5000\] ms"),
        (lambda: CompressorParams(float("nan"), 4, 5, 100, 0), r"threshold_db must be finite"),
        (lambda: physical_to_theta({"threshold_db": 0, "ratio": 2}, SR), r"missing parameters: attack_ms"),
        (lambda: check_sample_rate(0), r"sample_rate must be a positive integer"),
        (lambda: check_sample_rate(44100.5), r"sample_rate must be a positive integer"),
        (lambda: check_sample_rate(-8000), r"sample_rate must be a positive integer"),
        (lambda: Compressor(sample_rate=22050.5), r"sample_rate must be a positive integer"),
        (lambda: Compressor()(torch.tensor([0.1, float("nan"), 0.2], dtype=torch.float64)), r"contains 1 NaN or infinite"),
        (lambda: Compressor()(torch.tensor([0.1, float("inf")], dtype=torch.float64)), r"NaN or infinite"),
        (lambda: Compressor()(torch.zeros(2, 3, 4, dtype=torch.float64)), r"shape \(B, T\) or \(T,\)"),
        (lambda: ballistics(torch.ones(2, 5), torch.ones(3), torch.ones(2)), r"alpha_at must have shape"),
        (lambda: ballistics(torch.ones(2, 5), torch.ones(2), torch.ones(2), forward="fast"), r"forward must be one of"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
