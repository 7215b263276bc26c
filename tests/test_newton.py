"""Hessian strategies agree; Newton (with line search and indefinite-Hessian handling)
recovers known parameters; FitResult round-trips; first-order baselines run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import dspnewton
from dspnewton.model import CompressorParams, compress
from dspnewton.objective.framing import make_frames
from dspnewton.objective.fused import fused_loss, fused_loss_grad
from dspnewton.objective.hessian import STRATEGIES, loss_grad_hess
from dspnewton.audio import InputError
from dspnewton.optim import NewtonOptions, modified_newton_direction, newton
from dspnewton.result import FitResult
from dspnewton.synth import music_like


def _pair(seconds, sr, params, seed=0):
    x = torch.from_numpy(music_like(seconds, sr, seed=seed))
    y = compress(x[None], params.to_theta(sr), sr)[0]
    return x, y


@pytest.fixture(scope="module")
def small_frames():
    sr = 8000
    x, _ = _pair(3.0, sr, CompressorParams(-20, 5, 10, 300, 1.0), seed=4)
    # A target that is not in the model family (so the residual is not ~0).
    y = compress(x[None], CompressorParams(-26, 3, 3, 120, 2.0).to_theta(sr), sr)[0] + 0.01 * torch.tanh(3 * x)
    return make_frames(x, y, sr, frame_seconds=1.0, overlap_seconds=0.25)


@pytest.mark.parametrize("theta_params", [CompressorParams(-30, 3, 2, 150, 0.0), CompressorParams(-12, 9, 40, 600, -2.0)])
def test_all_strategies_agree(small_frames, theta_params):
    theta = theta_params.to_theta(small_frames.sample_rate)
    L0, g0, H0 = loss_grad_hess(theta, small_frames, "fused")
    assert np.isclose(float(L0), fused_loss(theta, small_frames), rtol=1e-13)
    Lg, gg = fused_loss_grad(theta, small_frames)  # the kernel's gradient level: the same sums, bit for bit
    assert Lg == float(L0) and torch.equal(gg, g0)
    for strategy in STRATEGIES:
        if strategy == "gauss-newton":
            continue
        L, g, H = loss_grad_hess(theta, small_frames, strategy, chunk_frames=2)
        assert abs(float(L - L0)) <= 1e-8 * abs(float(L0)), strategy
        assert (g - g0).abs().max() <= 1e-8 * g0.abs().max(), strategy
        assert (H - H0).abs().max() <= 1e-8 * H0.abs().max(), strategy
        assert torch.allclose(H, H.T)
    # Gauss-Newton: same loss and gradient, a PSD matrix that differs from H by the residual term.
    L, g, G = loss_grad_hess(theta, small_frames, "gauss-newton")
    assert abs(float(L - L0)) <= 1e-8 * abs(float(L0))
    assert (g - g0).abs().max() <= 1e-8 * g0.abs().max()
    assert torch.linalg.eigvalsh(G).min() >= -1e-9 * G.abs().max()
    # The fused pass equals autograd on the whole-signal framing too.
    whole = make_frames(small_frames.x[0, :4000], small_frames.target[0, :4000], 8000, None, 0.0)
    Lw, gw, Hw = loss_grad_hess(theta, whole, "fused")
    Lr, gr, Hr = loss_grad_hess(theta, whole, "revrev")
    assert (Hw - Hr).abs().max() <= 1e-8 * Hr.abs().max()


def test_fused_cuda_kernel_under_simulator(small_frames):
    script = textwrap.dedent(
        """
        import torch
        from dspnewton.synth import music_like
        from dspnewton.model import CompressorParams, compress
        from dspnewton.objective.framing import make_frames
        from dspnewton.objective import fused
        sr = 4000
        x = torch.from_numpy(music_like(0.3, sr, seed=1))
        y = compress(x[None], CompressorParams(-20, 5, 10, 300, 1).to_theta(sr), sr)[0] + 0.01 * x
        fr = make_frames(x, y, sr, frame_seconds=0.1, overlap_seconds=0.02)
        th = CompressorParams(-30, 3, 2, 150, 0).to_theta(sr)
        a = fused.fused_loss_grad_hess(th, fr, kernel="cuda")
        b = fused.fused_loss_grad_hess(th, fr, kernel="cpu")
        assert abs(a[0] - b[0]) <= 1e-12 * abs(b[0])
        assert (a[1] - b[1]).abs().max() <= 1e-12 * b[1].abs().max()
        assert (a[2] - b[2]).abs().max() <= 1e-12 * b[2].abs().max()
        assert abs(fused.fused_loss(th, fr, kernel="cuda") - b[0]) <= 1e-12 * abs(b[0])
        c = fused.fused_loss_grad(th, fr, kernel="cuda")
        assert c[0] == a[0] and torch.equal(c[1], a[1])
        print("SIM-OK")
        """
    )
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0 and "SIM-OK" in proc.stdout, proc.stderr[-3000:]


def test_modified_direction_handles_indefinite_and_singular():
    g = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    for H in (torch.diag(torch.tensor([2.0, -3.0, 1.0], dtype=torch.float64)),  # indefinite
              torch.diag(torch.tensor([2.0, 0.0, 1.0], dtype=torch.float64)),  # singular
              -torch.eye(3, dtype=torch.float64)):  # negative definite
        p, modified, _ = modified_newton_direction(g, H)
        assert modified
        assert float(g @ p) < 0, "not a descent direction"
    p, modified, _ = modified_newton_direction(g, torch.eye(3, dtype=torch.float64) * 2)
    assert not modified and torch.allclose(p, -g / 2)


def test_newton_on_nonconvex_function_uses_line_search():
    # f(a, b) = a^4 - 2 a^2 + b^2 + 0.3 a: start at the saddle region (a = 0.05), Hessian indefinite.
    def f(t):
        return t[0] ** 4 - 2 * t[0] ** 2 + t[1] ** 2 + 0.3 * t[0]

    def lgh(t):
        t = t.clone().requires_grad_()
        L = f(t)
        g = torch.autograd.grad(L, t, create_graph=True)[0]
        H = torch.stack([torch.autograd.grad(g[i], t, retain_graph=True)[0] for i in range(2)])
        return L.detach(), g.detach(), H.detach()

    res = newton(lgh, lambda t: float(f(t)), torch.tensor([0.05, 1.0], dtype=torch.float64))
    assert res.converged
    assert res.history[0]["hessian_modified"]
    # Armijo with the right sign: every accepted step decreased the loss sufficiently.
    for e in res.history:
        if e["step"] > 0:
            assert e["loss_after"] <= e["loss"] + 1e-4 * e["step"] * (-e["decrement"]) + 1e-15
    a = float(res.theta[0])
    assert abs(4 * a**3 - 4 * a + 0.3) < 1e-8 and abs(float(res.theta[1])) < 1e-8


def _smooth_problem():
    """A smooth convex loss in 3 unknowns with a non-constant Hessian: (L, g, H), (L, g) and L callables."""
    A = torch.tensor([[3.0, 1.0, 0.2], [1.0, 2.0, 0.5], [0.2, 0.5, 1.5]], dtype=torch.float64)
    c = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)

    def f(t):
        return 0.5 * t @ A @ t - c @ t + 0.1 * (t**4).sum() + 3.0

    def lgh(t):
        return f(t), A @ t - c + 0.4 * t**3, A + torch.diag(1.2 * t**2)

    return lgh, (lambda t: lgh(t)[:2]), (lambda t: float(f(t)))


def test_lazy_hessians_reuse_and_confirm_every_stop():
    """With a gradient-only pass, Hessians are reused near the optimum; the stop is confirmed by a fresh one;
    switched off (the default) or without the pass, the iterates are those of plain Newton, bit for bit."""
    lgh, lg, lv = _smooth_problem()
    t0 = torch.tensor([4.0, -3.0, 2.5], dtype=torch.float64)
    tight = dict(loss_rtol=1e-15, stall_iters=0, decrement_rtol=1e-30)
    steps = lambda r: [{k: v for k, v in e.items() if k != "seconds"} for e in r.history]  # noqa: E731
    plain = newton(lgh, lv, t0, NewtonOptions(**tight))
    assert steps(newton(lgh, lv, t0, NewtonOptions(**tight), loss_grad=lg)) == steps(plain)  # default: off
    assert plain.hessians >= plain.iterations and not any(e["hessian_reused"] for e in plain.history)
    lazy = newton(lgh, lv, t0, NewtonOptions(**tight, lazy_hessian=True, lazy_near=1.0), loss_grad=lg)
    assert lazy.converged and abs(lazy.loss - plain.loss) <= 1e-12 * abs(plain.loss)
    assert torch.allclose(lazy.theta, plain.theta, rtol=0, atol=1e-7)
    reused = [e["hessian_reused"] for e in lazy.history]
    assert any(reused) and not reused[-1] and lazy.hessians < lazy.evaluations
    assert max(len(run) for run in "".join("R" if r else "F" for r in reused).split("F")) <= 3  # lazy_max_reuse
    # Without the gradient pass there is nothing to reuse a Hessian with: plain Newton.
    assert steps(newton(lgh, lv, t0, NewtonOptions(**tight, lazy_hessian=True))) == steps(plain)


def test_lazy_hessian_fit_and_refusal():
    sr = 16000
    x, y = _pair(6.0, sr, CompressorParams(-25.0, 6.0, 5.0, 200.0, 1.0), seed=6)
    kw = dict(frame_seconds=3.0, overlap_seconds=0.5)
    eager = dspnewton.fit(x, y, sr, **kw)
    lazy = dspnewton.fit(x, y, sr, options=NewtonOptions(lazy_hessian=True, lazy_near=1.0), **kw)
    assert lazy.converged and lazy.esr <= 1.001 * eager.esr + 1e-9
    assert lazy.extra["hessians"] <= lazy.extra["evaluations"] and eager.extra["hessians"] >= eager.iterations
    with pytest.raises(InputError, match="lazy Hessians.*hessian='fused'"):
        dspnewton.fit(x, y, sr, hessian="revrev", options=NewtonOptions(lazy_hessian=True), **kw)


@pytest.mark.parametrize("true", [CompressorParams(-22.0, 4.2, 2.9, 243.0, 0.34),
                                  CompressorParams(-13.1, 5.44, 30.5, 470.0, 0.70),
                                  CompressorParams(-35.3, 3.71, 0.98, 244.0, 0.30)])
def test_newton_recovers_known_parameters(true):
    sr = 44100
    x, y = _pair(14.0, sr, true, seed=5)
    res = dspnewton.fit(x, y, sr)
    assert res.converged, res.message
    assert res.iterations < 30
    assert res.esr < 1e-6
    for name, value in true.to_dict().items():
        fitted = getattr(res.params, name)
        assert abs(fitted - value) <= 1e-3 * max(abs(value), 1.0), (name, fitted, value)
    # History: loss, esr, step, decrement, physical params, seconds.
    h = res.history[0]
    assert {"loss", "esr", "step", "decrement", "params", "seconds"} <= set(h)
    assert set(h["params"]) == set(true.to_dict())


def test_fit_options_and_warm_start(tmp_path):
    sr = 16000
    true = CompressorParams(-25.0, 6.0, 5.0, 200.0, 1.0)
    x, y = _pair(6.0, sr, true, seed=6)
    whole = dspnewton.fit(x.numpy(), y.numpy(), sr, frame_seconds=None, overlap_seconds=0.5)
    assert whole.converged and whole.esr < 1e-6 and whole.extra["frames"] == 1
    f32 = dspnewton.fit(x, y, sr, dtype=torch.float32, frame_seconds=3.0, overlap_seconds=0.5)
    assert f32.esr < 1e-5
    path = tmp_path / "fit.json"
    whole.save(path)
    warm = dspnewton.fit(x, y, sr, init=str(path), frame_seconds=3.0, overlap_seconds=0.5)
    assert warm.iterations <= 3
    for opt in ("adam", "lbfgs"):
        r = dspnewton.fit(x, y, sr, optimizer=opt, max_iter=30, frame_seconds=3.0, overlap_seconds=0.5)
        assert r.optimizer == opt and len(r.history) >= 1 and r.loss <= r.history[0]["loss"]
    auto = dspnewton.fit(x, y, sr, hessian="revrev", max_iter=2, frame_seconds=3.0, overlap_seconds=0.5)
    assert auto.hessian == "revrev" and auto.iterations == 2


def test_fit_result_json_round_trip(tmp_path):
    r = FitResult(CompressorParams(-20, 4, 5, 100, 1), 44100, 1.5, 0.01, 7, True, "ok", 2.0, "fused",
                  history=[{"iteration": 1, "loss": 2.0, "esr": float("nan")}])
    path = tmp_path / "fit.json"
    r.save(path)
    d = json.loads(path.read_text())
    for key in ("model", "sample_rate", "params", "loss", "esr", "iterations", "converged", "seconds", "hessian", "history"):
        assert key in d
    assert d["model"] == "ff5" and d["history"][0]["esr"] is None
    back = FitResult.load(path)
    assert back.params == r.params and back.iterations == 7
    assert not list(tmp_path.glob("*.tmp"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        FitResult.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"model": "ff5", "sample_rate": 44100}))
    with pytest.raises(ValueError, match="lacks the keys params"):
        FitResult.load(tmp_path / "other.json")
    y = r.render(np.zeros(100))
    assert y.shape == (100,)
