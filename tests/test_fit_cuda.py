"""Fitting on a GPU (skipped cleanly without one): the fused CUDA kernel equals the
CPU kernel, and a fit on the GPU gives the CPU's result."""

from __future__ import annotations

import torch

import dspnewton
from dspnewton.objective.exact import exact_loss, exact_loss_grad_hess
from dspnewton.model import CompressorParams, compress
from dspnewton.objective.framing import make_frames
from dspnewton.objective.fused import fused_loss, fused_loss_grad_hess
from dspnewton.objective.hessian import loss_grad_hess
from dspnewton.synth import music_like
from conftest import requires_cuda

SR = 44100


def _pair(seconds=30.0):
    x = torch.from_numpy(music_like(seconds, SR, seed=9))
    y = compress(x[None], CompressorParams(-22, 4.2, 2.9, 243, 0.34).to_theta(SR), SR)[0]
    return x, y + 0.02 * torch.tanh(3 * y)


@requires_cuda
def test_fused_cuda_equals_cpu():
    x, y = _pair()
    frames = make_frames(x, y, SR)
    theta = CompressorParams(-30, 3, 2, 150, 0).to_theta(SR)
    L, g, H = fused_loss_grad_hess(theta, frames)
    Lc, gc, Hc = fused_loss_grad_hess(theta, frames.to(device="cuda"))
    assert abs(Lc - L) <= 1e-11 * abs(L)
    assert (gc - g).abs().max() <= 1e-11 * g.abs().max()
    assert (Hc - H).abs().max() <= 1e-11 * H.abs().max()
    assert abs(fused_loss(theta, frames.to(device="cuda")) - L) <= 1e-11 * abs(L)
    # The autograd strategies on the GPU agree too.
    Lr, gr, Hr = loss_grad_hess(theta, frames.subset(slice(0, 1)).to(device="cuda"), "revrev")
    L1, g1, H1 = fused_loss_grad_hess(theta, frames.subset(slice(0, 1)))
    assert (Hr - H1).abs().max() <= 1e-8 * H1.abs().max()


@requires_cuda
def test_fit_on_gpu_matches_cpu():
    x, y = _pair(20.0)
    cpu = dspnewton.fit(x, y, SR)
    gpu = dspnewton.fit(x, y, SR, device="cuda")
    assert gpu.iterations == cpu.iterations
    for name, v in cpu.params.to_dict().items():
        assert abs(getattr(gpu.params, name) - v) <= 1e-8 * max(1.0, abs(v))


@requires_cuda
def test_greybox_fused_cuda_equals_cpu():
    """The compiled grey-box pass on the GPU (one thread per frame) equals the CPU kernel."""
    from dspnewton.model.greybox_spec import RECOMMENDED_MODEL
    from dspnewton.model.models import get_model

    x, y = _pair(30.0)
    frames = make_frames(x, y, SR)
    # The first- and second-order transformer stages and the saturating core, on ff5- and feedback-based models,
    # and the largest model (every coefficient of the frame body active at once).
    for name in ("fb+2rel", RECOMMENDED_MODEL, "ff+knee+sc+tube", "ff+inhp+outshelf", "ff+in2+core+out2",
                 "fb+knee+rms+prel+sc+tube+in2+core+out2"):
        m = get_model(name)
        point = {"threshold_db": -25.0, "slow_mix": 0.3, "input_hp_hz": 60.0, "output_shelf_db": -4.0,
                 "input_hp2_hz": 40.0, "input_q": 1.1, "core_hz": 30.0, "core_sat_db": -6.0,
                 "output_lp_hz": 12000.0, "output_q": 0.9}
        theta = m.physical_to_theta({**m.defaults(), **{k: v for k, v in point.items() if k in m.param_names}}, SR)
        L, g, H = exact_loss_grad_hess(m, theta, frames)
        Lc, gc, Hc = exact_loss_grad_hess(m, theta, frames.to(device="cuda"))
        assert abs(float(Lc) - float(L)) <= 1e-11 * abs(float(L))
        assert (gc - g).abs().max() <= 1e-10 * g.abs().max()
        assert (Hc - H).abs().max() <= 1e-10 * H.abs().max()
        assert abs(exact_loss(m, theta, frames.to(device="cuda")) - float(L)) <= 1e-11 * abs(float(L))
