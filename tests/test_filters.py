"""Recursive filters: every backend against reference loops and oracles, and
every derivative (gradcheck, gradgradcheck, JVP vs VJP, torch.func)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

from dspnewton.filters import allpole, lfilter, linear_recurrence, lti_allpole
from reference import allpole_loop, lfilter_loop, recurrence_loop
from conftest import random_poles, require_module

CPU_BACKENDS = ["sequential", "scan"]


# --------------------------------------------------------------------------- forward values


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("T", [1, 2, 7, 64, 333])
def test_recurrence_matches_loop(backend, T, rng):
    B = 3
    a = random_poles((B, T), rng)
    x = torch.randn(B, T, generator=rng, dtype=torch.float64)
    y0 = torch.randn(B, generator=rng, dtype=torch.float64)
    y = linear_recurrence(a, x, y0, backend=backend)
    np.testing.assert_allclose(y.numpy(), recurrence_loop(a, x, y0), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("N,T", [(1, 50), (2, 1), (2, 101), (3, 2), (4, 64)])
def test_allpole_matches_loop(backend, N, T, rng):
    B = 2
    A = 0.3 * torch.randn(B, T, N, generator=rng, dtype=torch.float64) / N
    x = torch.randn(B, T, generator=rng, dtype=torch.float64)
    zi = torch.randn(B, N, generator=rng, dtype=torch.float64)
    y = allpole(x, A, zi, backend=backend)
    np.testing.assert_allclose(y.numpy(), allpole_loop(x, A, zi), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_allpole_matches_torchlpc(backend, rng):
    torchlpc = require_module("torchlpc")
    B, T, N = 3, 500, 3
    A = 0.25 * torch.randn(B, T, N, generator=rng, dtype=torch.float64)
    x = torch.randn(B, T, generator=rng, dtype=torch.float64)
    zi = torch.randn(B, N, generator=rng, dtype=torch.float64)
    ours = allpole(x, A, zi, backend=backend)
    theirs = torchlpc.sample_wise_lpc(x, A, zi)
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-10)
    # The first-order recurrence is the order-1 all-pole filter with A = -a.
    a = random_poles((B, T), rng)
    y0 = torch.randn(B, generator=rng, dtype=torch.float64)
    torch.testing.assert_close(
        linear_recurrence(a, x, y0, backend=backend),
        torchlpc.sample_wise_lpc(x, -a.unsqueeze(-1), y0.unsqueeze(-1)),
        rtol=1e-10,
        atol=1e-10,
    )


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lfilter_matches_torchaudio(backend, dtype, rng):
    torchaudio = require_module("torchaudio")
    x = torch.randn(2, 3, 400, generator=rng, dtype=torch.float64).to(dtype)
    # Pre-emphasis and a 2nd-order resonator.
    for b, a in (([1.0, -1.0], [1.0, -0.995]), ([0.2, 0.1, -0.05], [1.3, -1.6, 0.8])):
        bt, at = torch.tensor(b, dtype=dtype), torch.tensor(a, dtype=dtype)
        ours = lfilter(x, at, bt, backend=backend)
        theirs = torchaudio.functional.lfilter(x, at, bt, clamp=False)
        tol = 1e-10 if dtype == torch.float64 else 1e-4
        torch.testing.assert_close(ours, theirs, rtol=tol, atol=tol)
        np.testing.assert_allclose(
            ours.double().reshape(-1, 400).numpy(), lfilter_loop(x.reshape(-1, 400), a, b), rtol=tol, atol=tol
        )


def test_lfilter_per_channel_coefficients(rng):
    torchaudio = require_module("torchaudio")
    x = torch.randn(4, 2, 300, generator=rng, dtype=torch.float64)
    a = torch.tensor([[1.0, -0.9], [1.0, -0.5]], dtype=torch.float64)
    b = torch.tensor([[1.0, 0.3], [0.5, -0.5]], dtype=torch.float64)
    torch.testing.assert_close(
        lfilter(x, a, b), torchaudio.functional.lfilter(x, a, b, clamp=False, batching=True), rtol=1e-10, atol=1e-10
    )
    clamped = lfilter(10 * x, a, b, clamp=True)
    assert clamped.abs().max() <= 1.0


def test_long_signals_near_unit_circle_all_backends_agree():
    """|a| up to 0.9999 over 10^6 samples: backends agree to 1e-10 in float64,
    and the float32 scan stays within 1e-5 (relative) of the float64 reference."""
    g = torch.Generator().manual_seed(7)
    B, T = 2, 1_000_000
    a = 0.9999 * torch.rand(B, T, generator=g, dtype=torch.float64) ** 0.02
    a[1] = 0.9999 - 1e-3 * torch.rand(T, generator=g, dtype=torch.float64)
    x = torch.randn(B, T, generator=g, dtype=torch.float64)
    y0 = torch.ones(B, dtype=torch.float64)
    seq = linear_recurrence(a, x, y0, backend="sequential")
    scan = linear_recurrence(a, x, y0, backend="scan")
    scale = seq.abs().max()
    assert (seq - scan).abs().max() / scale < 1e-10
    scan32 = linear_recurrence(a.float(), x.float(), y0.float(), backend="scan")
    assert ((scan32.double() - seq).abs().max() / scale).item() < 1e-5

    A = torch.stack([-1.9 * torch.ones(T, dtype=torch.float64), 0.9025 * torch.ones(T, dtype=torch.float64)], -1)
    A = A.unsqueeze(0).expand(1, T, 2) * (1 - 1e-4 * torch.rand(1, T, 1, generator=g, dtype=torch.float64))
    x1 = x[:1]
    seq2 = allpole(x1, A, backend="sequential")
    scan2 = allpole(x1, A, backend="scan")
    assert ((seq2 - scan2).abs().max() / seq2.abs().max()).item() < 1e-10


# --------------------------------------------------------------------------- derivatives


def _small_inputs(rng, B=2, T=9, N=2):
    a = random_poles((B, T), rng, max_abs=0.9).requires_grad_()
    x = torch.randn(B, T, generator=rng, dtype=torch.float64, requires_grad=True)
    y0 = torch.randn(B, generator=rng, dtype=torch.float64, requires_grad=True)
    A = (0.3 * torch.randn(B, T, N, generator=rng, dtype=torch.float64)).requires_grad_()
    zi = torch.randn(B, N, generator=rng, dtype=torch.float64, requires_grad=True)
    coef = torch.tensor([-0.6, 0.2], dtype=torch.float64).repeat(B, 1).requires_grad_()
    return a, x, y0, A, zi, coef


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_gradcheck_all_arguments(backend, rng):
    a, x, y0, A, zi, coef = _small_inputs(rng)
    fns = [
        (lambda a_, x_, y0_: linear_recurrence(a_, x_, y0_, backend=backend), (a, x, y0)),
        (lambda x_, A_, zi_: allpole(x_, A_, zi_, backend=backend), (x, A, zi)),
        (lambda x_, c_: lti_allpole(x_, c_, backend=backend), (x, coef)),
    ]
    for fn, args in fns:
        assert gradcheck(fn, args, check_forward_ad=True, check_backward_ad=True)
        assert gradgradcheck(fn, args, check_fwd_over_rev=True)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_lfilter_gradcheck_coefficients(backend, rng):
    x = torch.randn(2, 12, generator=rng, dtype=torch.float64, requires_grad=True)
    a = torch.tensor([1.1, -0.7, 0.2], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([0.5, -0.4, 0.1], dtype=torch.float64, requires_grad=True)
    fn = lambda x_, a_, b_: lfilter(x_, a_, b_, backend=backend)  # noqa: E731
    assert gradcheck(fn, (x, a, b), check_forward_ad=True)
    assert gradgradcheck(fn, (x, a, b))


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_forward_mode_equals_reverse_mode(backend, rng):
    a, x, y0, A, zi, _ = _small_inputs(rng, T=40, N=3)
    primals = tuple(t.detach() for t in (x, A, zi))
    tangents = tuple(torch.randn_like(t) for t in primals)
    f = lambda x_, A_, zi_: allpole(x_, A_, zi_, backend=backend)  # noqa: E731
    out, jvp_out = torch.func.jvp(f, primals, tangents)
    v = torch.randn_like(out)
    _, vjp_fn = torch.func.vjp(f, *primals)
    vjps = vjp_fn(v)
    lhs = (v * jvp_out).sum()
    rhs = sum((g * t).sum() for g, t in zip(vjps, tangents))
    torch.testing.assert_close(lhs, rhs, rtol=1e-12, atol=1e-12)

    g = lambda a_, x_, y0_: linear_recurrence(a_, x_, y0_, backend=backend)  # noqa: E731
    primals = tuple(t.detach() for t in (a, x, y0))
    tangents = tuple(torch.randn_like(t) for t in primals)
    out, jvp_out = torch.func.jvp(g, primals, tangents)
    _, vjp_fn = torch.func.vjp(g, *primals)
    v = torch.randn_like(out)
    rhs = sum((gr * t).sum() for gr, t in zip(vjp_fn(v), tangents))
    torch.testing.assert_close((v * jvp_out).sum(), rhs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_hessians_agree_across_transforms(backend, rng):
    """A small loss through all three filters: torch.func.hessian, jacfwd(jacrev),
    jacrev(jacrev), jacfwd(jacfwd), jacrev(jacfwd) and torch.autograd.functional.hessian
    agree.  (The legacy ``vectorize=True`` path of torch.autograd.functional is not
    supported: it bypasses Function.vmap; use torch.func.)"""
    T = 24
    x = torch.randn(1, T, generator=rng, dtype=torch.float64)
    target = torch.randn(1, T, generator=rng, dtype=torch.float64)

    def loss(theta):
        a = torch.sigmoid(theta[0] + 0.1 * torch.arange(T, dtype=theta.dtype)).unsqueeze(0) * 0.95
        y = linear_recurrence(a, x * theta[1], theta[2:3], backend=backend)
        A = torch.stack([theta[3] * torch.ones(T, dtype=theta.dtype), 0.2 * a[0]], -1).unsqueeze(0)
        z = allpole(y, A, backend=backend)
        w = lti_allpole(z, torch.stack([theta[4], theta[3] * 0.1]), backend=backend)
        return ((w - target) ** 2).sum()

    theta = torch.tensor([0.3, 1.2, 0.5, -0.4, 0.2], dtype=torch.float64)
    ref = torch.autograd.functional.hessian(loss, theta)
    for name, H in {
        "hessian": torch.func.hessian(loss)(theta),
        "jacfwd(jacrev)": torch.func.jacfwd(torch.func.jacrev(loss))(theta),
        "jacrev(jacrev)": torch.func.jacrev(torch.func.jacrev(loss))(theta),
        "jacfwd(jacfwd)": torch.func.jacfwd(torch.func.jacfwd(loss))(theta),
        "jacrev(jacfwd)": torch.func.jacrev(torch.func.jacfwd(loss))(theta),
    }.items():
        torch.testing.assert_close(H, ref, rtol=1e-9, atol=1e-9, msg=name)
    assert torch.allclose(ref, ref.T, atol=1e-9)


def test_vmap_folds_into_batch(rng):
    a = random_poles((5, 2, 30), rng)
    x = torch.randn(5, 2, 30, generator=rng, dtype=torch.float64)
    y0 = torch.randn(2, generator=rng, dtype=torch.float64)
    out = torch.func.vmap(linear_recurrence, in_dims=(0, 0, None))(a, x, y0)
    for v in range(5):
        torch.testing.assert_close(out[v], linear_recurrence(a[v], x[v], y0))
    A = 0.2 * torch.randn(3, 2, 30, 2, generator=rng, dtype=torch.float64)
    out = torch.func.vmap(allpole, in_dims=(None, 0))(x[0], A)
    for v in range(3):
        torch.testing.assert_close(out[v], allpole(x[0], A[v]))
    c = torch.tensor([[-0.5], [0.3], [0.1]], dtype=torch.float64)
    out = torch.func.vmap(lti_allpole, in_dims=(None, 0))(x[0], c)
    for v in range(3):
        torch.testing.assert_close(out[v], lti_allpole(x[0], c[v]))


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_float32_paths(backend, rng):
    a = random_poles((2, 500), rng).float()
    x = torch.randn(2, 500, generator=rng).float()
    y = linear_recurrence(a, x, backend=backend)
    assert y.dtype == torch.float32
    ref = recurrence_loop(a, x, np.zeros(2))
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-4, atol=1e-4)
    y.sum().backward() if y.requires_grad else None


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: linear_recurrence(torch.zeros(2, 5), torch.zeros(5)), r"x must have shape \(B, T\)"),
        (lambda: linear_recurrence(torch.zeros(3, 5), torch.zeros(2, 5)), r"a must have shape .*batch size B is 3"),
        (lambda: linear_recurrence(torch.zeros(2, 4), torch.zeros(2, 5)), r"a must have shape .*length T is 4"),
        (lambda: linear_recurrence(torch.zeros(2, 5), torch.zeros(2, 5, dtype=torch.int64)), r"x must be float32 or float64"),
        (lambda: linear_recurrence(torch.zeros(2, 5, dtype=torch.float64), torch.zeros(2, 5)), r"a has dtype torch.float64"),
        (lambda: linear_recurrence(torch.zeros(2, 5), torch.zeros(2, 5), torch.zeros(3)), r"y0 must have shape \(B,\)"),
        (lambda: linear_recurrence(torch.zeros(2, 5), torch.zeros(2, 5), backend="gpu"), r"backend must be one of"),
        (lambda: linear_recurrence(torch.zeros(2, 5), torch.zeros(2, 5), backend="cuda"), r"backend 'cuda' needs CUDA tensors"),
        (lambda: linear_recurrence(torch.zeros(2, 5), torch.zeros(2, 5, device="meta")), r"a is on cpu but x is on meta"),
        (lambda: allpole(torch.zeros(2, 5), torch.zeros(2, 5)), r"A must have shape \(B, T, N\)"),
        (lambda: allpole(torch.zeros(2, 5), torch.zeros(2, 6, 2)), r"A must have shape .*length T is 6"),
        (lambda: allpole(torch.zeros(2, 5), torch.zeros(2, 5, 2), torch.zeros(2, 3)), r"zi must have shape .*order N is 3"),
        (lambda: allpole(torch.zeros(2, 5), torch.zeros(2, 5, 2, dtype=torch.int32)), r"A must be float32 or float64"),
        (lambda: lti_allpole(torch.zeros(2, 5), torch.zeros(3, 2)), r"a must have shape .*batch size B is 3"),
        (lambda: lfilter(torch.zeros(5), torch.tensor([1.0, 0.5]), torch.tensor([1.0])), r"same shape"),
        (lambda: lfilter(torch.zeros(3, 5), torch.ones(2, 2), torch.ones(2, 2)), r"\(\.\.\., C, T\) with C = 2"),
    ],
)
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
