"""Every model first-class: the compiled fused pass against the torch reference, the model
interface and its schema, the stall stopping rule, zero-copy frames, and every command end to
end for ff5, fb+2rel and the recommended model."""

from __future__ import annotations

import json
import os
from pathlib import Path
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from dspnewton.objective.exact import exact_loss, exact_loss_grad, exact_loss_grad_hess
from dspnewton.audio import InputError
from dspnewton.data.virtual_unit import generate_dataset
from dspnewton.fit_start import resolve_init as _resolve_init
from dspnewton.model.greybox import render_model
from dspnewton.model.greybox_spec import RECOMMENDED_MODEL, list_models, parse_model
from dspnewton.model.models import get_model
from dspnewton.model.schema import COLUMN_ORDER, PARAMETERS
from dspnewton.objective.framing import make_frames
from dspnewton.objective.greybox_fused import greybox_fused_loss, greybox_fused_loss_grad, greybox_fused_loss_grad_hess
from greybox_reference import greybox_loss_grad_hess
from dspnewton.model.names import SIGNAL_PATH_OPTIONS
from dspnewton.optim.newton import NewtonOptions, newton
from dspnewton.result import FitResult
from conftest import run_cli as _run

SR = 8000
VALUES = dict(threshold_db=-24.0, ratio=4.0, attack_ms=1.0, release_ms=20.0, makeup_db=2.0, knee_db=6.0,
              rms_ms=2.0, release_slow_ms=300.0, slow_mix=0.4, sc_shelf_db=6.0, drive=1.0, bias=0.2,
              input_hp_hz=60.0, output_shelf_hz=1200.0, output_shelf_db=-6.0, input_hp2_hz=80.0, input_q=1.3,
              core_hz=40.0, core_sat_db=-10.0, output_lp_hz=9000.0, output_q=1.2, release_long_ms=400.0,
              memory_ms=30.0, memory_db=6.0)
SR2 = 44100  # out2's corners reach 20 kHz
ALONE = ["ff", "fb"] + [f"{t}+{o}" for t in ("ff", "fb") for o in ("knee", "rms", "2rel", "prel", "sc", "tube")]
# Models with signal-path stages: the compiled pass against reverse-over-reverse autograd.
STAGED = ["ff+inhp", "fb+inhp", "ff+outshelf", "fb+outshelf", "ff+sc+inhp", "fb+2rel+sc+inhp+outshelf",
          "ff+knee+rms+2rel+sc+tube+inhp+outshelf", f"{RECOMMENDED_MODEL}+inhp+outshelf",
          "ff+in2", "fb+core", "ff+out2", "fb+2rel+sc+in2+core+out2", "ff+sc+inhp+core+outshelf",
          f"{RECOMMENDED_MODEL}+in2+core+out2"]
SAMPLE = random.Random(7).sample([m.name for m in list_models()
                                  if not any(m.has(o) for o in SIGNAL_PATH_OPTIONS + ("prel",))], 6)
MODELS_E2E = ["ff5", "fb+2rel", RECOMMENDED_MODEL, "fb+prel+in2+core+outshelf"]  # out2 (44.1 kHz up): test_presets


def _pair(spec, T=1600, seed=0, sr=SR):
    g = torch.Generator().manual_seed(seed)
    env = 0.05 + 0.6 * (torch.arange(T) // (T // 4) % 2).double()
    x = torch.randn(T, generator=g, dtype=torch.float64) * env
    th = get_model(spec).physical_to_theta({k: v for k, v in VALUES.items() if k in spec.param_names}, sr)
    y = render_model(x, th + 0.3 * torch.randn(th.shape, generator=g, dtype=torch.float64), spec, sr).detach()
    return x, y, th


@pytest.mark.parametrize("name", sorted(set(ALONE + ["ff+knee+rms+2rel+sc+tube", RECOMMENDED_MODEL] + SAMPLE)))
def test_compiled_fused_pass_equals_torch_reference(name):
    """Loss, gradient and Hessian of the compiled pass = the vectorised torch.func reference (float64)."""
    spec = parse_model(name)
    x, y, th = _pair(spec)
    frames = make_frames(x, y, SR, 0.1, 0.02)
    L0, g0, H0 = greybox_loss_grad_hess(th, frames, spec)
    L1, g1, H1 = greybox_fused_loss_grad_hess(th, frames, spec)
    assert abs(L1 - float(L0)) <= 1e-10 * float(L0)
    assert abs(greybox_fused_loss(th, frames, spec) - float(L0)) <= 1e-10 * float(L0)
    assert (g1 - g0).abs().max() <= 1e-10 * g0.abs().max()
    assert (H1 - H0).abs().max() <= 1e-10 * H0.abs().max()
    assert torch.equal(H1, H1.T)
    # The first-order optimisers' gradient-only call: the same loss and gradient, bit for bit.
    Lg, gg = greybox_fused_loss_grad(th, frames, spec)
    assert Lg == L1 and torch.equal(gg, g1)
    _, ge = exact_loss_grad(spec, th, frames)  # the model's exact pass (ff's is the hand-fused ff5 kernel)
    assert torch.equal(ge, exact_loss_grad_hess(spec, th, frames)[1])
    # Chunking frames through the kernel changes nothing.
    L2, g2, H2 = greybox_fused_loss_grad_hess(th, frames, spec, chunk=1)
    assert abs(L2 - L1) <= 1e-12 * L1 and (H2 - H1).abs().max() <= 1e-12 * H1.abs().max()


@pytest.mark.parametrize("name", STAGED)
def test_compiled_fused_pass_with_signal_path_stages(name):
    """The signal-path stages (first- and second-order, the saturating core): loss, gradient and Hessian =
    reverse over reverse autograd (float64)."""
    from dspnewton.objective.hessian import loss_grad_hess

    spec = parse_model(name)
    sr = SR2 if spec.has("out2") else SR
    x, y, th = _pair(spec, sr=sr)
    frames = make_frames(x, y, sr, 800 / sr, 160 / sr)
    L0, g0, H0 = loss_grad_hess(th, frames, "revrev", model=spec)
    L1, g1, H1 = greybox_fused_loss_grad_hess(th, frames, spec)
    assert abs(L1 - float(L0)) <= 1e-10 * float(L0)
    assert abs(greybox_fused_loss(th, frames, spec) - float(L0)) <= 1e-10 * float(L0)
    assert (g1 - g0).abs().max() <= 1e-10 * g0.abs().max()
    assert (H1 - H0).abs().max() <= 1e-10 * H0.abs().max()
    Lg, gg = greybox_fused_loss_grad(th, frames, spec)  # the gradient level: same sums, bit for bit
    assert Lg == L1 and torch.equal(gg, g1)
    # The stages' own rows are not trivially zero (the test would pass vacuously otherwise).
    staged = [i for i, n in enumerate(spec.param_names) if get_model(spec).params[i].option in SIGNAL_PATH_OPTIONS]
    assert all(H0[i].abs().max() > 1e-6 * H0.abs().max() for i in staged)


def test_vectorised_reference_refuses_signal_path_stages():
    spec = parse_model("fb+2rel+outshelf")
    x, y, th = _pair(spec, T=400)
    with pytest.raises(ValueError, match="signal-path stage.*outshelf.*revrev"):
        greybox_loss_grad_hess(th, make_frames(x, y, SR, 0.02, 0.005), spec)


@pytest.mark.parametrize("name", ["ff+knee+rms+2rel+sc+tube+inhp+outshelf", f"{RECOMMENDED_MODEL}+inhp+outshelf",
                                  f"{RECOMMENDED_MODEL}+in2+core+out2"])
def test_coefficient_derivatives_are_the_full_second_derivatives(name):
    """The chain rule's derivatives (diagonal, and the second-order stages' 2 x 2 blocks) equal jacfwd(jacfwd) of
    the whole coefficient table."""
    from dspnewton.model.greybox_spec import coefficient_table
    from dspnewton.objective.greybox_fused import COEFFICIENT_OF_PARAM, _coefficient_derivatives

    spec = parse_model(name)
    theta = torch.linspace(-1.5, 1.2, spec.n_params, dtype=torch.float64)
    C, J, D = _coefficient_derivatives(theta, spec, 44100)
    act = [COEFFICIENT_OF_PARAM[n] for n in spec.param_names]
    table = lambda t: coefficient_table(t.unsqueeze(0), spec, 44100)[0]  # noqa: E731
    Jf = torch.func.jacfwd(table)(theta)[act]
    Hc = torch.func.jacfwd(torch.func.jacfwd(table))(theta)[act]
    torch.testing.assert_close(torch.from_numpy(C), table(theta), rtol=0, atol=0)
    torch.testing.assert_close(J, Jf, rtol=1e-14, atol=1e-300)
    torch.testing.assert_close(D, Hc, rtol=1e-13, atol=1e-300)
    coupled = [i for i, n in enumerate(spec.param_names) if n in ("input_hp2_hz", "input_q", "output_lp_hz", "output_q")]
    assert all(J[i].count_nonzero() == (2 if i in coupled else 1) for i in range(spec.n_params))


def test_greybox_cuda_kernel_under_simulator():
    script = textwrap.dedent(
        """
        import torch
        from dspnewton.model.models import get_model
        from dspnewton.model.greybox import render_model
        from dspnewton.objective.framing import make_frames
        from dspnewton.objective.greybox_fused import greybox_fused_loss_grad_hess, greybox_fused_loss_grad, greybox_fused_loss
        g = torch.Generator().manual_seed(0)
        x = torch.randn(240, generator=g, dtype=torch.float64) * 0.4
        for name, sr in (("fb+knee+rms+2rel+sc+tube", 8000), ("ff+knee+rms+2rel+sc+tube", 8000),
                         ("fb+2rel+sc+inhp+outshelf", 8000), ("fb+sc+in2+core+out2", 44100),
                         ("fb+knee+rms+prel+sc", 8000)):
            m = get_model(name)
            th = m.physical_to_theta({**m.defaults(), "threshold_db": -20.0, "drive": 1.0, "slow_mix": 0.4,
                                      "input_hp_hz": 80.0, "output_shelf_db": -6.0, "input_hp2_hz": 200.0,
                                      "input_q": 1.3, "core_hz": 100.0, "core_sat_db": -10.0,
                                      "output_lp_hz": 5000.0, "output_q": 1.2, "release_long_ms": 400.0,
                                      "memory_ms": 30.0, "memory_db": 6.0}, sr)
            y = render_model(x, th + 0.2, name, sr).detach()
            fr = make_frames(x, y, sr, 160 / sr, 40 / sr)
            a = greybox_fused_loss_grad_hess(th, fr, name, kernel="cuda")
            b = greybox_fused_loss_grad_hess(th, fr, name, kernel="cpu")
            assert abs(a[0] - b[0]) <= 1e-12 * abs(b[0])
            assert (a[1] - b[1]).abs().max() <= 1e-12 * b[1].abs().max()
            assert (a[2] - b[2]).abs().max() <= 1e-12 * b[2].abs().max()
            assert abs(greybox_fused_loss(th, fr, name, kernel="cuda") - b[0]) <= 1e-12 * abs(b[0])
            c = greybox_fused_loss_grad(th, fr, name, kernel="cuda")
            assert c[0] == a[0] and torch.equal(c[1], a[1])
        print("SIM-OK")
        """
    )
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0 and "SIM-OK" in proc.stdout, proc.stderr[-3000:]


# ------------------------------------------------------------------------------------- interface


def test_one_parameter_table_serves_every_model():
    assert COLUMN_ORDER[:5] == ("threshold_db", "ratio", "attack_ms", "release_ms", "makeup_db")
    assert len(PARAMETERS) == len(COLUMN_ORDER) == len({p.name for p in PARAMETERS})  # one row per column
    assert {n for spec in list_models() for n in spec.param_names} == set(COLUMN_ORDER)  # every row is used
    for spec in list_models():
        m = get_model(spec)
        assert [p.name for p in m.params] == list(spec.param_names) and m.n_params == spec.n_params
        # Defaults are in range and round-trip through theta.
        back = m.theta_to_physical(m.physical_to_theta(m.defaults(), SR), SR)
        for p in m.params:
            assert float(back[p.name]) == pytest.approx(p.default, rel=1e-9, abs=1e-9)
    assert get_model("ff") is get_model("ff5")
    with pytest.raises(ValueError, match="unknown model option 'bogus'"):
        get_model("fb+bogus")


def test_fit_json_must_match_its_model(tmp_path):
    m = get_model("fb+2rel")
    good = {"model": "fb+2rel", "sample_rate": SR, "params": {**m.defaults()}}
    assert FitResult.from_dict(good).all_params == pytest.approx(m.defaults())
    foreign = {**good, "params": {**m.defaults(), "knee_db": 3.0}}
    with pytest.raises(InputError, match="have knee_db, which model fb\\+2rel does not use"):
        FitResult.from_dict(foreign)
    missing = {**good, "params": {k: v for k, v in m.defaults().items() if k != "slow_mix"}}
    with pytest.raises(InputError, match="lack slow_mix"):
        FitResult.from_dict(missing)
    as_ff5 = {**good, "model": "ff5"}
    with pytest.raises(InputError, match="do not match model ff5"):
        FitResult.from_dict(as_ff5)


def test_init_of_another_model_maps_or_refuses(tmp_path):
    fb2 = FitResult.from_dict({"model": "fb+2rel", "sample_rate": SR, "params": get_model("fb+2rel").defaults()})
    th = _resolve_init(fb2, SR, parse_model(RECOMMENDED_MODEL))  # a subset: maps, new options neutral
    assert th.shape == (12,)
    with pytest.raises(InputError, match="cannot start model 'ff\\+knee'.*release_slow_ms, slow_mix"):
        _resolve_init(fb2, SR, parse_model("ff+knee"))
    with pytest.raises(InputError, match="does not use"):
        _resolve_init({"threshold_db": -20.0, "drive": 1.0}, SR, parse_model("ff5"))


def test_stall_rule_stops_when_the_fit_stops_improving():
    # A loss whose relative decrease per Newton step becomes tiny but never zero.
    def lgh(t):
        L = float(1.0 + 1e-7 * (t ** 2).sum())
        return torch.tensor(L, dtype=torch.float64), 2e-7 * t, 2e-6 * torch.eye(2, dtype=torch.float64)

    def lv(t):
        return float(1.0 + 1e-7 * (t ** 2).sum())

    t0 = torch.tensor([3.0, -2.0], dtype=torch.float64)
    r = newton(lgh, lv, t0, NewtonOptions(max_iter=50))
    assert r.converged and "stopped improving" in r.message and r.iterations == NewtonOptions().stall_iters
    off = newton(lgh, lv, t0, NewtonOptions(max_iter=50, stall_iters=0))
    assert "stopped improving" not in off.message and off.iterations > 10


def test_newton_steps_back_from_points_with_non_finite_derivatives():
    """A quadratic whose derivatives are NaN beyond t = 1.5 (a feedback loop driven unstable has a
    finite loss there but no usable derivatives): Newton halves its step instead of stopping."""
    def bad(t):
        return bool(t[0] > 1.5)

    def lgh(t):
        L = torch.tensor(float(((t - 2.0) ** 2).sum()), dtype=torch.float64)
        g, H = 2 * (t - 2.0), 2 * torch.eye(1, dtype=torch.float64)
        return (L, g * float("nan"), H) if bad(t) else (L, g, H)

    def lv(t):
        return float(((t - 2.0) ** 2).sum())

    r = newton(lgh, lv, torch.tensor([0.0], dtype=torch.float64), NewtonOptions(max_iter=20, stall_iters=0))
    assert r.iterations > 1 and "along the Newton direction" in r.message
    assert [h["step"] for h in r.history][:1] == [0.5]  # the full step to 2.0 had NaN derivatives
    assert float(r.theta[0]) == 1.5 and r.loss == pytest.approx(0.25)  # the best point with derivatives


def test_warm_start_moves_inside_the_ranges_and_keeps_feedback_stable():
    from dspnewton.model.params import ms_to_coef

    ff5 = {"threshold_db": -54.0, "ratio": 50.0, "attack_ms": 0.45, "release_ms": 5000.0, "makeup_db": 12.0}
    fb = get_model("fb+2rel")
    w = fb.warm_start(ff5, 44100)
    assert w["ratio"] <= 1.0 / ms_to_coef(w["attack_ms"], 44100) + 1e-9  # (1 + slope) alpha <= 1: no oscillation
    assert fb.at_bounds(w, 44100) == {} and w["threshold_db"] == -54.0
    assert w["release_slow_ms"] == pytest.approx(fb.defaults()["release_slow_ms"])
    ff = get_model("ff+knee")
    wf = ff.warm_start(ff5, 44100)
    assert ff.at_bounds(wf, 44100) == {} and wf["ratio"] < 50.0 and wf["ratio"] > 40.0  # feed-forward: no cap


def test_frames_are_views_and_store_exact_float32():
    x = torch.randn(2000, dtype=torch.float64).float().double()  # float32 values
    y = 0.5 * x
    fr = make_frames(x, y, SR, 0.1, 0.02)
    assert fr.xbuf.dtype == torch.float32 and fr.x.data_ptr() == fr.xbuf.data_ptr()  # a strided view
    assert torch.equal(fr.x[1, :100].double(), x[640:740])
    xs, ys = fr.signals()
    assert torch.equal(xs[0].double(), x) and torch.equal(ys[0].double(), y)
    x64 = torch.randn(2000, dtype=torch.float64)
    assert make_frames(x64, 0.5 * x64, SR, 0.1, 0.02).xbuf.dtype == torch.float64  # not exact in float32: kept
    stereo = make_frames(torch.stack([x, -x]), torch.stack([y, -y]), SR, 0.1, 0.02)
    assert stereo.n_frames == 2 * fr.n_frames and torch.equal(stereo.x[fr.n_frames:], -fr.x)


# ------------------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def virtual(tmp_path_factory):
    d = tmp_path_factory.mktemp("virtual_models")
    generate_dataset(d, seconds=4.0, peaks=(40, 60, 80, 100), modes=("compress",), sample_rate=SR)
    return d


@pytest.mark.parametrize("model", MODELS_E2E)
def test_every_command_end_to_end(model, virtual, tmp_path, capsys):
    m = get_model(model)
    sweep = tmp_path / "sweep"
    code, out, err = _run(["sweep", str(virtual), "-o", str(sweep), "--modes", "compress", "--peaks", "60,80,100",
                           "--model", model, "--quiet"], capsys)
    assert code == 0, err
    mapping = json.loads((sweep / "mapping.json").read_text())
    assert all(set(m.param_names) <= set(r) for r in mapping["compress"].values())
    assert (sweep / "mapping.csv").read_text().splitlines()[0] == ",".join(
        ["mode", "peak", *m.param_names, "esr", "iterations", "converged"])
    # eval scores every fit with its own model and writes every parameter.
    code, out, err = _run(["eval", str(sweep)], capsys)
    assert code == 0, err
    rows = (sweep / "eval.csv").read_text().splitlines()
    assert rows[0] == ",".join(["mode", "peak", "method", "model", "esr", "esr_first_second",
                                "esr_after_first_second", "startup_db", "delta_ldr_db", *m.param_names])
    fitted = [r.split(",") for r in rows[1:] if r.split(",")[2] == "fitted"]
    assert fitted and all(r[3] == m.name for r in fitted)
    for r in fitted:  # the whole clip from sample 0, from rest: the fit's own loss with carried frame states
        own = FitResult.load(sweep / "fits" / "compress" / f"peak_{int(r[1]):03d}" / "fit.json")
        assert float(r[4]) == pytest.approx(own.esr, rel=1e-6), "eval must score a fit with its own model"
        assert float(r[5]) == pytest.approx(own.extra["from_rest"]["esr_first_second"], rel=1e-6)
        assert float(r[7]) == pytest.approx(own.extra["from_rest"]["startup_db"], abs=1e-6)
    # plot draws every parameter and names the model (ff5, fb+2rel, the recommended model; the staged model's
    # figures are the same code with more parameters).
    if not any(m.spec.has(o) for o in SIGNAL_PATH_OPTIONS):
        code, out, err = _run(["plot", str(sweep)], capsys)
        assert code == 0, err
        assert all((sweep / "plots" / n).stat().st_size > 10_000 for n in ("params_vs_peak.png", "convergence.png",
                                                                           "excerpt.png"))
    # export and render.
    code, out, err = _run(["export", str(sweep), "-o", str(tmp_path / "b.bundle"), "--model", model], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "b.bundle" / "bundle.json").read_text())["model"] == m.name
    fit_json = sweep / "fits" / "compress" / "peak_060" / "fit.json"
    wav = next(virtual.rglob("input_*.wav"))
    code, out, err = _run(["render", str(wav), str(fit_json), "-o", str(tmp_path / "r.wav"), "--model", model],
                          capsys)
    assert code == 0, err
    assert (tmp_path / "r.wav").exists()
    # fit on one pair, warm-started from the sweep's fit of the same model, then render it.
    target = next(virtual.rglob("target_*__0__60.wav"))
    code, out, err = _run(["fit", str(wav), str(target), "-o", str(tmp_path / "fit"), "--model", model,
                           "--init", str(fit_json), "--quiet"], capsys)
    assert code == 0, err
    refit = FitResult.load(tmp_path / "fit" / "fit.json")
    assert refit.model == m.name and list(refit.all_params) == list(m.param_names)
    assert refit.esr <= FitResult.load(fit_json).esr * (1 + 1e-6)


# The demo (the same chain through the API) runs once, with a grey-box model: tests/test_study.py::test_demo_end_to_end.


def test_sweep_folder_mixing_models_is_refused(virtual, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    assert _run(["sweep", str(virtual), "-o", str(sweep), "--modes", "compress", "--peaks", "60,80,100",
                 "--quiet"], capsys)[0] == 0
    # Replace one fit with a fit of another model: eval must refuse, not score it as ff5.
    path = sweep / "fits" / "compress" / "peak_080" / "fit.json"
    d = json.loads(path.read_text())
    d["model"], d["params"] = "fb+2rel", {**d["params"], "release_slow_ms": 1000.0, "slow_mix": 0.3}
    path.write_text(json.dumps(d))
    before = sorted(p.name for p in sweep.iterdir())
    code, out, err = _run(["eval", str(sweep)], capsys)
    assert code != 0 and "holds fits of other models" in err and "compress/80: fb+2rel" in err
    assert sorted(p.name for p in sweep.iterdir()) == before  # nothing written
    # plot refuses a mapping of another model than the sweep's.
    mp = json.loads((sweep / "mapping.json").read_text())
    mp["compress"]["80"]["model"] = "fb+2rel"
    (sweep / "mapping.json").write_text(json.dumps(mp))
    code, out, err = _run(["plot", str(sweep)], capsys)
    assert code != 0 and "holds one model" in err and not (sweep / "plots").exists()


def test_unknown_model_and_bad_stop_flags(virtual, tmp_path, capsys):
    wav = sorted(virtual.rglob("*.wav"))
    code, out, err = _run(["fit", str(wav[0]), str(wav[1]), "-o", str(tmp_path / "o"), "--model", "fb+warp"], capsys)
    assert code != 0 and "unknown model option 'warp'" in err and not (tmp_path / "o").exists()
    code, out, err = _run(["fit", str(wav[0]), str(wav[1]), "-o", str(tmp_path / "o"), "--stop-iters", "-1"], capsys)
    assert code != 0 and "--stop-rtol and --stop-iters" in err


def test_cpp_model_tables_are_generated_from_the_python_tables():
    """The C++ core reads csrc/include/dspnewton/model_table.hpp (parameters, options, GRU size); it must
    match the Python tables (regenerate with `make cpp-fields`), and the core spells no option itself."""
    from dspnewton.model.cpp_table import CPP_HEADER, cpp_header
    from dspnewton.model.names import OPTIONS

    root = Path(__file__).resolve().parents[1]
    committed = (root / CPP_HEADER).read_text()
    assert committed == cpp_header(), "model_table.hpp is stale: run `make cpp-fields`"
    core = (root / "csrc/include/dspnewton/compressor.hpp").read_text()
    assert not [o for o in OPTIONS if f'"{o}"' in core], "compressor.hpp spells an option: use DSPNEWTON_MODEL_OPTIONS"
    assert "kHidden = DSPNEWTON_GRU_HIDDEN" in (root / "csrc/include/dspnewton/residual.hpp").read_text()


def test_native_core_follows_the_table():
    """The C++ core validates and round-trips exactly the table's parameters, with its ranges."""
    from dspnewton import _native

    x = np.random.default_rng(0).standard_normal(4000) * 0.3
    for name in MODELS_E2E:
        m = get_model(name)
        p = {**m.defaults(), "threshold_db": -20.0}
        assert np.isfinite(_native.process(x, p, SR, 64, name)).all()
        for spec in m.params:
            if spec.bounded:
                with pytest.raises(ValueError, match=f"{spec.name} {spec.lo:g}..{spec.hi:g}"):
                    _native.process(x, {**p, spec.name: spec.hi * 2 + 1}, SR, 64, name)
        with pytest.raises(ValueError, match="missing parameter"):
            _native.process(x, {k: v for k, v in p.items() if k != m.param_names[-1]}, SR, 64, name)


def test_full_pass_trial_changes_no_iterate():
    """Trying full steps with the full pass (the default) gives the same iterates as loss-only
    line searches, with fewer passes."""
    spec = parse_model("fb+2rel")
    x, y, th = _pair(spec, T=3200)
    frames = make_frames(x, y, SR, 0.2, 0.05)
    m = get_model(spec)
    start = m.physical_to_theta(m.defaults(), SR)
    runs = {}
    for full in (True, False):
        calls = {"full": 0, "loss": 0}

        def lgh(t):
            calls["full"] += 1
            return exact_loss_grad_hess(m, t, frames)

        def lv(t):
            calls["loss"] += 1
            return exact_loss(m, t, frames)

        runs[full] = (newton(lgh, lv, start, NewtonOptions(max_iter=15, full_pass_first=full)), dict(calls))
    (a, ca), (b, cb) = runs[True], runs[False]
    assert a.iterations == b.iterations and torch.equal(a.theta, b.theta) and a.loss == b.loss
    assert [h["step"] for h in a.history] == [h["step"] for h in b.history]
    # Every extra full pass is a rejected full step (then used for nothing); every accepted one
    # saves the loss-only pass the other search needs.
    rejected = sum(1 for h in a.history if h["step"] < 1.0)
    assert ca["loss"] < cb["loss"] and ca["full"] - cb["full"] <= rejected

