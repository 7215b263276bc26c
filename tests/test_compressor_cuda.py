"""The compressor on a GPU (skipped cleanly without one): every backend and the
parallel forward against the CPU, gradients and Hessians included."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dspnewton.model import CompressorParams, compress
from dspnewton.synth import music_like
from conftest import requires_cuda

SR = 44100


@requires_cuda
@pytest.mark.parametrize("backend,forward", [("cuda", "kernel"), ("scan", "kernel"), ("scan", "parallel"), ("auto", "kernel")])
def test_gpu_compressor_matches_cpu(backend, forward):
    x = torch.from_numpy(np.stack([music_like(1.5, SR, seed=s) for s in range(4)]))
    theta = CompressorParams(-30, 4, 2, 150, 0.5).to_theta(SR)
    target = compress(x, CompressorParams(-20, 6, 8, 300, 1.0).to_theta(SR), SR)

    def loss(th, xx, tt, be, fw):
        return (compress(xx, th, SR, backend=be, forward=fw) - tt).pow(2).sum()

    y_cpu = compress(x, theta, SR)
    y_gpu = compress(x.cuda(), theta.cuda(), SR, backend=backend, forward=forward).cpu()
    assert (y_gpu - y_cpu).abs().max() < 1e-12
    g_cpu = torch.func.grad(loss)(theta, x, target, "sequential", "kernel")
    g_gpu = torch.func.grad(loss)(theta.cuda(), x.cuda(), target.cuda(), backend, forward).cpu()
    torch.testing.assert_close(g_gpu, g_cpu, rtol=1e-9, atol=1e-9)
    h_cpu = torch.func.hessian(loss)(theta, x[:1, :20000], target[:1, :20000], "sequential", "kernel")
    h_gpu = torch.func.hessian(loss)(theta.cuda(), x[:1, :20000].cuda(), target[:1, :20000].cuda(), backend, forward).cpu()
    torch.testing.assert_close(h_gpu, h_cpu, rtol=1e-8, atol=1e-8)
    y32 = compress(x.float().cuda(), theta.float().cuda(), SR, backend=backend, forward=forward).cpu()
    y32_cpu = compress(x.float(), theta.float(), SR)
    assert (y32 - y32_cpu).abs().max() < 1e-5
