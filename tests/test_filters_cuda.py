"""CUDA paths: the numba.cuda kernels under numba's simulator (always), and every
backend on a real GPU (skipped cleanly without one)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from dspnewton.filters import allpole, lfilter, linear_recurrence
from conftest import random_poles, requires_cuda

SIM_SCRIPT = textwrap.dedent(
    """
    import torch
    from dspnewton.filters import _kernels_cuda, _primitives
    g = torch.Generator().manual_seed(3)
    for dtype in (torch.float64, torch.float32):
        a = (0.99 * torch.rand(5, 37, generator=g, dtype=torch.float64)).to(dtype)
        x = torch.randn(5, 37, generator=g, dtype=torch.float64).to(dtype)
        y0 = torch.randn(5, generator=g, dtype=torch.float64).to(dtype)
        got = _kernels_cuda.recurrence_forward(a, x, y0)
        ref = _primitives.recurrence(a, x, y0, "sequential")
        assert torch.allclose(got, ref, rtol=1e-6, atol=1e-6), (got - ref).abs().max()
        A = (0.3 * torch.randn(5, 37, 3, generator=g, dtype=torch.float64)).to(dtype)
        zi = torch.randn(5, 3, generator=g, dtype=torch.float64).to(dtype)
        got = _kernels_cuda.allpole_forward(x, A, zi)
        ref = _primitives.allpole(x, A, zi, "sequential")
        assert torch.allclose(got, ref, rtol=1e-6, atol=1e-6), (got - ref).abs().max()
    print("SIM-OK")
    """
)


def test_cuda_kernels_under_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run([sys.executable, "-c", SIM_SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "SIM-OK" in proc.stdout, proc.stderr[-3000:]


@requires_cuda
@pytest.mark.parametrize("backend", ["scan", "cuda", "auto"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gpu_backends_match_cpu(backend, dtype):
    g = torch.Generator().manual_seed(11)
    B, T = 4, 50_000
    a = random_poles((B, T), g, max_abs=0.9999).to(dtype)
    x = torch.randn(B, T, generator=g, dtype=torch.float64).to(dtype)
    ref = linear_recurrence(a.double(), x.double(), backend="sequential")
    got = linear_recurrence(a.cuda(), x.cuda(), backend=backend).cpu().double()
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    assert ((got - ref).abs().max() / ref.abs().max()).item() < tol
    A = (0.4 * torch.randn(B, T, 2, generator=g, dtype=torch.float64)).clamp(-0.45, 0.45).to(dtype)
    ref = allpole(x.double(), A.double(), backend="sequential")
    got = allpole(x.cuda(), A.cuda(), backend=backend).cpu().double()
    assert ((got - ref).abs().max() / ref.abs().max()).item() < tol * 10


@requires_cuda
@pytest.mark.parametrize("backend", ["scan", "cuda"])
def test_gpu_gradients_match_cpu(backend):
    g = torch.Generator().manual_seed(5)
    a = random_poles((3, 200), g).requires_grad_()
    x = torch.randn(3, 200, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 200, generator=g, dtype=torch.float64)
    pre_a = torch.tensor([1.0, -0.995], dtype=torch.float64)
    pre_b = torch.tensor([1.0, -1.0], dtype=torch.float64)

    def loss(a_, x_, be):
        y = linear_recurrence(a_, x_, backend=be)
        return (lfilter(y, pre_a.to(y.device), pre_b.to(y.device), backend=be) * w.to(y.device)).pow(2).sum()

    ref = torch.autograd.grad(loss(a, x, "sequential"), (a, x))
    ac, xc = a.detach().cuda().requires_grad_(), x.detach().cuda().requires_grad_()
    got = torch.autograd.grad(loss(ac, xc, backend), (ac, xc))
    for r, gg in zip(ref, got):
        torch.testing.assert_close(gg.cpu(), r, rtol=1e-9, atol=1e-9)
    assert torch.autograd.gradcheck(lambda a_, x_: linear_recurrence(a_, x_, backend=backend), (ac[:, :20].detach().requires_grad_(), xc[:, :20].detach().requires_grad_()))
