"""Grey-box models: names, transforms, values against a plain loop, exact derivatives
(gradcheck, gradgradcheck, forward mode, every Hessian strategy), fitting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dspnewton
from dspnewton.filters.matrix_recurrence import matrix_recurrence, solve_matrix_recurrence
from dspnewton.audio import InputError
from dspnewton.model import CompressorParams, compress
from dspnewton.model.greybox import render_model
from dspnewton.model.greybox_spec import (
    EXTRA_DEFAULTS, RECOMMENDED_MODEL, list_models, model_physical_to_theta, model_theta_to_physical, parse_model,
)
from dspnewton.objective.framing import make_frames
from dspnewton.objective.hessian import loss_grad_hess, loss_value
from dspnewton.synth import music_like
from conftest import sample_models
from reference import greybox_loop

SR = 8000
BASE = dict(threshold_db=-24.0, ratio=4.0, attack_ms=1.0, release_ms=20.0, makeup_db=2.0)
EXTRAS = dict(knee_db=6.0, rms_ms=2.0, release_slow_ms=300.0, slow_mix=0.4, sc_shelf_db=6.0, drive=1.0, bias=0.2,
              input_hp_hz=60.0, output_shelf_hz=1200.0, output_shelf_db=-6.0, input_hp2_hz=80.0, input_q=1.3,
              core_hz=40.0, core_sat_db=-10.0, output_lp_hz=9000.0, output_q=1.2, release_long_ms=400.0,
              memory_ms=30.0, memory_db=6.0)
ALL = "knee+rms+2rel+sc+tube+inhp+outshelf"
ALL2 = "knee+rms+2rel+sc+tube+in2+core+out2"  # the second-order stages (out2 needs 44.1 kHz and up)
SR2 = 44100
PREL2 = "knee+rms+prel+sc+tube+in2+core+out2"  # the program-dependent release with everything
# Every option alone, in both topologies, and everything together.
DERIV_MODELS = ["ff", "fb", "ff+knee", "ff+rms", "ff+2rel", "ff+sc", "ff+tube", "ff+inhp", "ff+outshelf", "fb+knee",
                "fb+rms", "fb+2rel", "fb+sc", "fb+tube", "fb+inhp", "fb+outshelf", "ff+sc+inhp", "fb+sc+inhp",
                "ff+knee+rms+2rel+sc+tube", "fb+knee+rms+2rel+sc+tube", f"ff+{ALL}", f"fb+{ALL}",
                "ff+in2", "fb+in2", "ff+core", "fb+core", "ff+out2", "fb+out2", "fb+sc+in2+core", "ff+sc+inhp+core",
                f"ff+{ALL2}", f"fb+{ALL2}", "ff+prel", "fb+prel", f"fb+{PREL2}"]


def _theta(spec, sr=SR):
    return model_physical_to_theta({**BASE, **EXTRAS}, spec, sr, fill_defaults=True)


def _signal(T, seed=0, sr=SR):
    g = torch.Generator().manual_seed(seed)
    env = 0.05 + 0.6 * (torch.arange(T) // (T // 4) % 2).double()  # loud and quiet sections
    return torch.randn(T, generator=g, dtype=torch.float64) * env


# ------------------------------------------------------------------------------------------------ names


def test_model_names_and_list():
    assert parse_model("ff5").name == "ff5" and parse_model("ff").name == "ff5"
    assert parse_model("knee+fb+2rel").name == "fb+knee+2rel"
    assert parse_model("FB+SC").name == "fb+sc"
    assert parse_model("rms+knee").name == "ff+knee+rms"
    models = list_models()
    from dspnewton.model.names import FF5_NAMES, OPTIONS
    from dspnewton.model.schema import PARAMETERS

    # Two topologies, any subset of the options but one of each exclusive pair (2rel/prel, inhp/in2, outshelf/out2).
    n_models = 2 * 2 ** (len(OPTIONS) - 6) * 3 * 3 * 3
    assert models[0].name == RECOMMENDED_MODEL and len(models) == n_models
    assert len({m.name for m in models}) == n_models
    # The largest model leaves out the smaller of each pair: 2rel (2 parameters), inhp (1), outshelf (2).
    assert max(m.n_params for m in models) == len(PARAMETERS) - 5 and parse_model("ff5").n_params == len(FF5_NAMES) == 5
    with pytest.raises(ValueError, match="has both '2rel' and 'prel', two forms of the same release"):
        parse_model("fb+prel+2rel")
    with pytest.raises(ValueError, match="has both 'inhp' and 'in2'"):
        parse_model("fb+inhp+in2")
    with pytest.raises(ValueError, match="has both 'outshelf' and 'out2'"):
        parse_model("ff+out2+outshelf")
    assert parse_model("fb+knee+2rel+sc").param_names == (
        "threshold_db", "ratio", "attack_ms", "release_ms", "makeup_db", "knee_db", "release_slow_ms", "slow_mix",
        "sc_shelf_db")


@pytest.mark.parametrize("bad, message", [
    ("fb+gru", "is the GRU residual on top of a model, not a DSP option"), ("fb+warp", "unknown model option 'warp'"),
    ("fb+knee+knee", "appears twice"), ("ff+fb", "more than one topology"),
    ("ff5+knee", "ff5' is the plain"), ("", "non-empty"), (3, "non-empty"),
])
def test_model_name_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        parse_model(bad)


def test_theta_round_trip_and_range_errors():
    spec = parse_model(f"fb+{ALL}")
    th = _theta(spec)
    phys = model_theta_to_physical(th, spec, SR)
    for k, v in {**BASE, **EXTRAS}.items():
        if k in spec.param_names:
            assert abs(float(phys[k]) - v) < 1e-9 * max(1.0, abs(v)), k
    spec2 = parse_model(f"fb+{ALL2}")
    phys2 = model_theta_to_physical(_theta(spec2, SR2), spec2, SR2)
    assert all(abs(float(phys2[k]) - EXTRAS[k]) < 1e-9 * max(1.0, abs(EXTRAS[k])) for k in spec2.param_names[5:])
    with pytest.raises(ValueError, match=r"input_q must lie in \[0.3, 3\]"):
        model_physical_to_theta({**BASE, **EXTRAS, "input_q": 5.0}, spec2, SR2)
    with pytest.raises(ValueError, match=r"output_lp_hz must lie in \[200, 20000\] Hz"):
        model_physical_to_theta({**BASE, **EXTRAS, "output_lp_hz": 30000.0}, spec2, SR2)
    with pytest.raises(InputError, match=r"out2.*above Nyquist at 32000 Hz; use a sample rate above 40000 Hz"):
        render_model(_signal(100), _theta(spec2, SR2), spec2, 32000)
    with pytest.raises(ValueError, match="knee_db must lie in"):
        model_physical_to_theta({**BASE, **EXTRAS, "knee_db": 40.0}, spec, SR)
    with pytest.raises(ValueError, match=r"input_hp_hz must lie in \[1, 1000\] Hz"):
        model_physical_to_theta({**BASE, **EXTRAS, "input_hp_hz": 0.1}, spec, SR)
    with pytest.raises(ValueError, match=r"output_shelf_db must lie in \[-40, 12\] dB"):
        model_physical_to_theta({**BASE, **EXTRAS, "output_shelf_db": 20.0}, spec, SR)
    with pytest.raises(ValueError, match="needs parameters"):
        model_physical_to_theta(BASE, spec, SR)
    warm = model_physical_to_theta(BASE, spec, SR, fill_defaults=True)
    assert abs(float(model_theta_to_physical(warm, spec, SR)["release_slow_ms"]) - EXTRA_DEFAULTS["release_slow_ms"]) < 1e-6


def test_render_errors():
    with pytest.raises(ValueError, match=r"theta for model fb\+knee must be \(6,\)"):
        render_model(torch.zeros(10, dtype=torch.float64), torch.zeros(5, dtype=torch.float64), "fb+knee", SR)
    with pytest.raises(ValueError, match="NaN"):
        render_model(torch.tensor([0.0, float("nan")], dtype=torch.float64), _theta(parse_model("fb")), "fb", SR)


# ------------------------------------------------------------------------------------------------ values


@pytest.mark.parametrize("spec", sample_models(), ids=lambda s: s.name)
def test_values_match_plain_loop(spec):
    sr = SR2 if spec.has("out2") else SR
    x = _signal(600, seed=1)
    th = _theta(spec, sr)
    phys = {k: float(v) for k, v in model_theta_to_physical(th, spec, sr).items()}
    y = render_model(x, th, spec, sr)
    ref = greybox_loop(x.numpy(), phys, spec, sr)
    assert np.abs(y.numpy() - ref).max() <= 1e-12 * np.abs(ref).max()


def test_generic_ff_equals_ff5():
    from dspnewton.model.greybox import greybox_output, kernel_states
    from dspnewton.model.greybox_spec import coefficient_table

    x = _signal(2000, seed=2)[None]
    spec = parse_model("ff")
    th = model_physical_to_theta(BASE, spec, SR)
    S = kernel_states(x, th, spec, SR)
    y = greybox_output(S, x, coefficient_table(th[None], spec, SR), spec)
    ref = compress(x, CompressorParams(**BASE).to_theta(SR), SR)
    assert (y - ref).abs().max() < 1e-13


def test_fb_static_curve_has_the_ratio():
    """In feedback the slope is R - 1 on the output: the steady-state ratio is R, as in ff."""
    spec = parse_model("fb")
    th = model_physical_to_theta({**BASE, "attack_ms": 5.0, "release_ms": 50.0, "makeup_db": 0.0}, spec, SR)
    levels = [-12.0, -6.0]
    out = []
    for lv in levels:
        x = torch.full((SR,), 10 ** (lv / 20), dtype=torch.float64)
        out.append(20 * np.log10(float(render_model(x, th, spec, SR)[-1])))
    assert abs((levels[1] - levels[0]) / (out[1] - out[0]) - BASE["ratio"]) < 1e-3


# ------------------------------------------------------------------------------------------------ derivatives


def test_matrix_recurrence_derivatives_and_backends():
    torch.manual_seed(0)
    B, T, d = 2, 9, 3
    A = (0.5 * torch.randn(B, T, d, d, dtype=torch.float64)).requires_grad_()
    b = torch.randn(B, T, d, dtype=torch.float64, requires_grad=True)
    s0 = torch.randn(B, d, dtype=torch.float64, requires_grad=True)
    ref, s = [], s0
    for n in range(T):
        s = (A[:, n] @ s.unsqueeze(-1)).squeeze(-1) + b[:, n]
        ref.append(s)
    ref = torch.stack(ref, 1)
    for backend in ("sequential", "scan"):
        f = lambda A, b, s0, be=backend: matrix_recurrence(A, b, s0, be)  # noqa: E731
        assert (f(A, b, s0) - ref).abs().max() < 1e-12
        assert torch.autograd.gradcheck(f, (A, b, s0))
        assert torch.autograd.gradgradcheck(f, (A, b, s0))
        assert torch.autograd.gradcheck(f, (A, b, s0), check_forward_ad=True, check_backward_ad=False,
                                        check_undefined_grad=False)
        L = lambda bb, be=backend: matrix_recurrence(A.detach(), bb, s0.detach(), be).pow(3).sum()  # noqa: E731
        H = torch.autograd.functional.hessian(L, b.detach())
        for route in (torch.func.hessian(L), torch.func.jacfwd(torch.func.jacfwd(L)), torch.func.jacrev(torch.func.jacrev(L))):
            assert (route(b.detach()) - H).abs().max() < 1e-10
    many = solve_matrix_recurrence(A.detach(), torch.stack([b.detach(), 2 * b.detach()], -1))
    assert (many[..., 1] - 2 * many[..., 0]).abs().max() < 1e-12
    with pytest.raises(ValueError, match="A must be"):
        matrix_recurrence(A[..., :2], b)
    with pytest.raises(ValueError, match="unknown backend"):
        matrix_recurrence(A, b, backend="gpu")


# Checked element by element (every Jacobian entry); the others by gradcheck's fast mode (random projections
# u^T J v of the same Jacobians, about 30x cheaper: any wrong derivative fails it too).
FULL_GRADCHECK = {f"ff+{ALL}", f"fb+{ALL}", "fb+2rel", f"fb+{ALL2}"}


@pytest.mark.parametrize("name", DERIV_MODELS)
def test_model_gradcheck_gradgradcheck_forward(name):
    spec = parse_model(name)
    sr = SR2 if spec.has("out2") else SR
    x = _signal(96, seed=3)
    th = _theta(spec, sr).requires_grad_()
    f = lambda t: render_model(x, t, spec, sr)  # noqa: E731
    fast = name not in FULL_GRADCHECK
    assert torch.autograd.gradcheck(f, (th,), fast_mode=fast)
    assert torch.autograd.gradgradcheck(f, (th,), fast_mode=fast)
    assert torch.autograd.gradcheck(f, (th,), check_forward_ad=True, check_backward_ad=False,
                                    check_undefined_grad=False, fast_mode=fast)
    # Forward-mode against reverse-mode Jacobian.
    Jr = torch.func.jacrev(f)(th.detach())
    Jf = torch.func.jacfwd(f)(th.detach())
    assert (Jr - Jf).abs().max() <= 1e-12 * Jr.abs().max()


@pytest.mark.parametrize("name", ["fb+knee+rms+2rel+sc+tube", "ff+knee+rms+2rel+sc+tube", "fb+2rel", "ff+knee",
                                  f"fb+{ALL}", "ff+sc+inhp+outshelf", f"fb+{ALL2}", "ff+sc+inhp+core+out2",
                                  "ff+prel", f"fb+{PREL2}"])
def test_hessian_strategies_agree(name):
    spec = parse_model(name)
    sr = SR2 if spec.has("out2") else SR
    x = _signal(1600, seed=4)
    th = _theta(spec, sr)
    target = render_model(x, th + 0.2 * torch.randn(th.shape, generator=torch.Generator().manual_seed(1),
                                                    dtype=torch.float64), spec, sr).detach()
    frames = make_frames(x, target, sr, 0.1 * SR / sr, 0.02 * SR / sr)
    ref = loss_grad_hess(th, frames, "revrev", model=spec)
    for strategy in ("fused", "fwdrev", "revfwd", "fwdfwd"):
        L, g, H = loss_grad_hess(th, frames, strategy, model=spec)
        assert abs(float(L) - float(ref[0])) <= 1e-12 * float(ref[0]), strategy
        assert (g - ref[1]).abs().max() <= 1e-10 * ref[1].abs().max(), strategy
        assert (H - ref[2]).abs().max() <= 1e-10 * ref[2].abs().max(), strategy
        assert abs(loss_value(th, frames, strategy, model=spec) - float(ref[0])) <= 1e-12 * float(ref[0])
    # Gauss-Newton is J^T J: it agrees on the gradient, not on the Hessian.
    _, g_gn, _ = loss_grad_hess(th, frames, "gauss-newton", model=spec)
    assert (g_gn - ref[1]).abs().max() <= 1e-10 * ref[1].abs().max()
    # The Hessian also matches finite differences of the gradient.
    eps = 1e-6
    for i in range(0, spec.n_params, 3):
        e = torch.zeros_like(th)
        e[i] = eps
        fd = (loss_grad_hess(th + e, frames, "fused", model=spec)[1] - loss_grad_hess(th - e, frames, "fused", model=spec)[1]) / (2 * eps)
        assert (fd - ref[2][i]).abs().max() <= 1e-5 * ref[2].abs().max()


# ------------------------------------------------------------------------------------------------ fitting


def test_newton_recovers_greybox_parameters():
    sr = 16000
    spec = parse_model("fb+knee+2rel")
    x = torch.from_numpy(music_like(4.0, sr, seed=5))
    truth = model_physical_to_theta({**BASE, "threshold_db": -30.0, **EXTRAS}, spec, sr, fill_defaults=True)
    y = render_model(x, truth, spec, sr).detach()
    start = truth + torch.tensor([2.0, 0.3, -0.3, 0.3, 0.5, 0.3, -0.3, 0.3], dtype=torch.float64)
    r = dspnewton.fit(x, y, sr, model=spec.name, init=start, frame_seconds=None, overlap_seconds=0.5)
    assert r.model == "fb+knee+2rel" and r.converged, r.message
    assert r.esr < 1e-8 and r.iterations < 40
    assert (r.theta - truth).abs().max() < 1e-3
    assert set(r.extra_params) == {"knee_db", "release_slow_ms", "slow_mix"}


def test_fit_warm_starts_from_ff5_and_round_trips(tmp_path):
    sr = 8000
    x = torch.from_numpy(music_like(3.0, sr, seed=6))
    spec = parse_model("fb+2rel")
    y = render_model(x, model_physical_to_theta({**BASE, "threshold_db": -30.0, **EXTRAS}, spec, sr,
                                                fill_defaults=True), spec, sr).detach()
    r = dspnewton.fit(x, y, sr, model="2rel+fb", frame_seconds=None, overlap_seconds=0.5, max_iter=60)
    warm = r.extra["ff5_warm_start"]
    assert warm["model"] == "ff5" and r.esr < warm["esr"] / 10
    path = tmp_path / "fit.json"
    r.save(path)
    back = dspnewton.FitResult.load(path)
    assert back.model == "fb+2rel" and back.all_params == r.all_params
    assert torch.equal(back.render(x), r.render(x))
    # A warm start of a larger model from this fit keeps its parameters.
    from dspnewton.fit_start import resolve_init

    th = resolve_init(back, sr, parse_model("fb+2rel+tube"))
    assert th.shape == (9,) and torch.allclose(th[:7], back.theta)
    with pytest.raises(InputError, match="unknown model option"):
        dspnewton.fit(x, y, sr, model="fb+magic")


def test_module_and_first_order_baseline():
    from dspnewton.model import GreyBoxCompressor

    x = torch.from_numpy(music_like(1.5, SR, seed=7))
    comp = GreyBoxCompressor("2rel+fb", {**BASE, "slow_mix": 0.5}, sample_rate=SR)
    assert comp.spec.name == "fb+2rel" and abs(comp.params["slow_mix"] - 0.5) < 1e-12
    assert comp.params["release_slow_ms"] == pytest.approx(EXTRA_DEFAULTS["release_slow_ms"])
    y = comp(x)
    y.sum().backward()
    assert comp.theta.grad.shape == (7,) and torch.isfinite(comp.theta.grad).all()
    with pytest.raises(ValueError, match="call .to"):
        comp(x.float())
    r = dspnewton.fit(x, y.detach(), SR, model="fb+2rel", optimizer="lbfgs", max_iter=3, frame_seconds=None,
                      overlap_seconds=0.3, init=comp.params)
    assert r.optimizer == "lbfgs" and r.esr < 1e-6
