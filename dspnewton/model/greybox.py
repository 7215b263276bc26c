"""Grey-box levelling-amplifier models (see :mod:`.greybox_spec` for names and parameters).

Per sample n, with state s = (g_fast, [g_slow or memory h], [p]) and coefficients from theta:

- ``inhp``: the input first goes through the signal path's high-pass
  ``x <- x - l``, ``l[n] = l[n-1] + a_in (x[n] - l[n-1])`` (everything below
  reads the high-passed x); ``in2``: a second-order high-pass instead; ``core``: then the saturating
  core ``x <- x - l - b l^3``, ``l[n] = l[n-1] + a x[n]`` (:func:`saturating_core`);
- detector input ``v = x_d[n] + k_sc hp(x)_d[n]`` (``sc``: first-order 1 kHz
  high shelf; ``x_d`` is x itself (``ff``) or the previous sample x[n-1] (``fb``),
  which ``fb`` multiplies by the previous gain ``g[n-1]``, so the detector reads
  the previous output sample before make-up);
- mean square ``p = p[n-1] + a_rms (v^2 - p[n-1])`` (``rms``) or ``p = v^2``;
- level ``u = 10 log10(max(p, 1e-16))`` dB, overshoot ``o = u - threshold``;
- gain computer ``gh = 10^(-slope * knee(o) / 20)`` (hard knee ``max(o, 0)``;
  ``knee``: quadratic over ``|o| < W/2``);
- ballistics of each gain state: ``g = g[n-1] + alpha (gh - g[n-1])`` with
  ``alpha`` = attack when ``gh < g[n-1]`` else its release (fast or slow; ``prel``: the fast one moved by
  the memory, ``a_rf + h[n-1] (a_rl - a_rf)``, and the memory ``h = h[n-1] + a_m (1 - g_fast[n-1]^c - h[n-1])``);
- gain ``g = g_fast + m (g_slow - g_fast)`` (``2rel``) and output
  ``y = sat(x g 10^(makeup/20))`` with ``sat(w) = (tanh(k(w+b)) - tanh(kb)) /
  (k sech^2(kb))`` (``tube``; unit slope at w = 0) or ``y = w``.

Initial state: gains 1, memory and mean square 0.

Derivatives: the states come from a sequential kernel (numba); for autograd
they pass through two Newton steps of the recursion's implicit equations
``s[n] = F(s[n-1], theta)`` solved with :func:`~dspnewton.filters.matrix_recurrence`.
At the kernel's solution each step leaves the values unchanged (up to
rounding) and, because Newton's map is quadratically convergent, two steps
make the first, second and third derivatives of the states exact in every
autograd mode (reverse, forward, ``torch.func``).  The attack/release
decisions are held fixed as in the ``ff5`` ballistics.  The signal-path stages
are linear filters (:func:`~dspnewton.filters.lti_allpole`, differentiable in
their coefficients) around that core, and the saturating core a scalar recursion solved the same way
(kernel, then two Newton steps with :func:`~dspnewton.filters.linear_recurrence`); ``out2`` (the
output low-pass) comes last.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
import torch

from ..filters import lfilter, linear_recurrence, lti_allpole
from ..filters._vmap import fold_vmap
from ..filters._time import shift_in
from ..filters.matrix_recurrence import matrix_recurrence
from .compressor import check_audio
from .greybox_spec import (C_ATTACK, C_KNEE, C_MEMORY, C_MEMORY_EXP, C_RELEASE, C_RELEASE_LONG, C_RELEASE_SLOW, C_RMS,
                           C_SHELF, C_SLOPE, C_SLOW_MIX, C_THRESHOLD, COLUMN, F_2REL, F_FB, F_KNEE, F_PREL, F_RMS, F_SC,
                           MEMORY_GAIN_FLOOR, SC_CORNER_HZ, ModelSpec, coefficient_table, kernel_flags,
                           parse_model)
from .params import check_sample_rate

__all__ = ["greybox_states", "greybox_output", "render_model", "detector_inputs", "step", "kernel_states",
           "highpass", "kernel_states_from_inputs", "model_gain", "input_stage", "output_stage", "saturating_core",
           "core_flux"]

LN10 = math.log(10.0)
P_FLOOR = 1e-16


def highpass(x: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """The side-chain shelf's fixed first-order (bilinear) 1 kHz high-pass of x (B, T)."""
    w = math.tan(math.pi * SC_CORNER_HZ / sample_rate)
    g = 1.0 / (1.0 + w)
    a1 = (1.0 - w) / (1.0 + w)
    a = torch.tensor([1.0, -a1], dtype=x.dtype, device=x.device)
    b = torch.tensor([g, -g], dtype=x.dtype, device=x.device)
    return lfilter(x, a, b, clamp=False)


def _one_pole(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """``l[n] = l[n-1] + alpha (x[n] - l[n-1])``, l[-1] = 0; x (B, T), alpha (B, 1); differentiable in both."""
    return lti_allpole(alpha * x, alpha - 1.0)


def _biquad(x: torch.Tensor, a1: torch.Tensor, a2: torch.Tensor, sign: float) -> torch.Tensor:
    """``z[n] = (1 + s a1 + a2)/4 (x[n] + 2 s x[n-1] + x[n-2]) - a1 z[n-1] - a2 z[n-2]``, zero initial state:
    the low-pass (s = 1) or high-pass (s = -1) of :func:`~.greybox_spec.biquad_poles`; x (B, T), a1, a2 (B, 1)."""
    zero = x.new_zeros(x.shape[0])
    x1 = shift_in(zero, x)
    fir = x + 2.0 * sign * x1 + shift_in(zero, x1)
    return lti_allpole(0.25 * (1.0 + sign * a1 + a2) * fir, torch.cat([a1, a2], dim=-1))


@nb.njit(parallel=True, cache=True, nogil=True)
def _core_kernel(u, a, b, out):  # pragma: no cover - compiled
    """The saturating core's flux l (B, T) (see :func:`saturating_core`); u (B, T), a, b (B,)."""
    for i in nb.prange(u.shape[0]):
        lp = 0.0
        for n in range(u.shape[1]):
            lp = lp + a[i] * (u[i, n] - lp - b[i] * lp * lp * lp)
            out[i, n] = lp


def _core_step(l_prev, u, a, b):
    """One step of the core's flux for every sample: ``l = l_prev + a (u - l_prev - b l_prev^3)``."""
    return l_prev + a * (u - l_prev - b * l_prev ** 3)


def saturating_core(u: torch.Tensor, a: torch.Tensor, b: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    """The input transformer's saturating core (``core``): ``v[n] = u[n] - c(l[n-1])``,
    ``l[n] = l[n-1] + a v[n]``, ``c(l) = l + b l^3``, l[-1] = 0.  u (B, T), a, b (B, 1) -> v (B, T).

    l is the flux, scaled so that the core is a first-order high-pass of coefficient a while it is linear; the
    magnetising current c(l) is the anhysteretic curve's lowest odd polynomial, so the distortion grows with the
    flux (level over frequency).  Differentiable to any order: the kernel's solution passes through two Newton
    steps of the recursion (as :func:`greybox_states`)."""
    zero = u.new_zeros(u.shape[0])
    if _needs_derivatives(u, a, b):
        L = _CoreFlux.apply(u, a, b)
        for _ in range(2):
            lp = shift_in(zero, L)
            A = 1.0 - a * (1.0 + 3.0 * b * lp * lp)
            L = L - linear_recurrence(A, L - _core_step(lp, u, a, b), backend=backend)
    else:
        L = core_flux(u, a, b)
    lp = shift_in(zero, L)
    return u - lp - b * lp ** 3


class _CoreFlux(torch.autograd.Function):
    """The kernel's flux trajectory (B, T) as a constant for autograd (any transform)."""

    @staticmethod
    def forward(u, a, b):
        return core_flux(u, a, b)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.mark_non_differentiable(output)

    @staticmethod
    def backward(ctx, _):
        return None, None, None

    @staticmethod
    def jvp(ctx, *_):
        return None

    @staticmethod
    def vmap(info, in_dims, u, a, b):
        return fold_vmap(info, in_dims, (u, a, b), lambda p, q, r: _CoreFlux.apply(p, q, r))


def core_flux(u: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The core's flux l (B, T) from the sequential kernel; no derivatives."""
    out = np.empty(tuple(u.shape))
    bsz = u.shape[0]
    _core_kernel(u.detach().double().cpu().numpy(), a.detach().double().cpu().expand(bsz, 1).reshape(bsz).numpy(),
                 b.detach().double().cpu().expand(bsz, 1).reshape(bsz).numpy(), out)
    return torch.from_numpy(out).to(device=u.device, dtype=u.dtype)


def input_stage(x: torch.Tensor, C: torch.Tensor, spec: ModelSpec) -> torch.Tensor:
    """The signal path's input stages of x (B, T) with coefficients C (B, N_COEFFICIENTS), in this order: the
    first-order high-pass (``inhp``) or the second-order one (``in2``), then the saturating core (``core``); x itself
    without them."""
    if spec.has("inhp"):
        x = x - _one_pole(x, _col(C, "alpha_input_hp"))
    if spec.has("in2"):
        x = _biquad(x, _col(C, "input_hp2_a1"), _col(C, "input_hp2_a2"), -1.0)
    if spec.has("core"):
        x = saturating_core(x, _col(C, "alpha_core"), _col(C, "core_b"))
    return x


def output_stage(y: torch.Tensor, C: torch.Tensor, spec: ModelSpec) -> torch.Tensor:
    """The signal path's output stage of y (B, T): the high shelf (``outshelf``) or the second-order low-pass
    (``out2``); y itself without them."""
    if spec.has("outshelf"):
        y = y + _col(C, "output_shelf_k") * (y - _one_pole(y, _col(C, "alpha_output_shelf")))
    if spec.has("out2"):
        y = _biquad(y, _col(C, "output_lp_a1"), _col(C, "output_lp_a2"), 1.0)
    return y


def detector_inputs(x: torch.Tensor, spec: ModelSpec, sample_rate: int):
    """(x_d, hp_d), each (B, T): the detector's input samples (delayed by one in ``fb``)."""
    hp = highpass(x, sample_rate) if spec.has("sc") else torch.zeros_like(x)
    if spec.feedback:
        zero = x.new_zeros(x.shape[0])
        return shift_in(zero, x), shift_in(zero, hp)
    return x, hp


@nb.njit(parallel=True, cache=True, nogil=True)
def _states_kernel(xd, hd, C, flags, out):  # pragma: no cover - compiled
    """Sequential recursion; xd, hd (B, T), C (B, N_COEFFICIENTS) coefficients, out (B, T, d)."""
    fb, knee, rms, two, sc, prel = flags[F_FB], flags[F_KNEE], flags[F_RMS], flags[F_2REL], flags[F_SC], flags[F_PREL]
    Bn, T = xd.shape
    for i in nb.prange(Bn):
        thr, slope, W = C[i, C_THRESHOLD], C[i, C_SLOPE], C[i, C_KNEE]
        a_at, a_rf, a_rs = C[i, C_ATTACK], C[i, C_RELEASE], C[i, C_RELEASE_SLOW]
        m, a_p, k_sc = C[i, C_SLOW_MIX], C[i, C_RMS], C[i, C_SHELF]
        a_rl, a_m, c_m = C[i, C_RELEASE_LONG], C[i, C_MEMORY], C[i, C_MEMORY_EXP]
        gf, gs, p, hm = 1.0, 1.0, 0.0, 0.0
        for n in range(T):
            v = xd[i, n]
            if sc:
                v = v + k_sc * hd[i, n]
            if fb:
                g = gf + m * (gs - gf) if two else gf
                v = v * g
            e = v * v
            if rms:
                p = p + a_p * (e - p)
            else:
                p = e
            u = (10.0 / np.log(10.0)) * np.log(max(p, 1e-16))
            o = u - thr
            if knee:
                h = 0.5 * W
                if o <= -h:
                    kv = 0.0
                elif o >= h:
                    kv = o
                else:
                    kv = (o + h) * (o + h) / (2.0 * W)
            else:
                kv = max(o, 0.0)
            gh = np.exp(-(np.log(10.0) / 20.0) * slope * kv)
            a_r = a_rf
            if prel:  # the memory charges from the previous gain; the release moves with the previous memory
                a_r = a_rf + hm * (a_rl - a_rf)
                hm = hm + a_m * (1.0 - max(gf, MEMORY_GAIN_FLOOR) ** c_m - hm)
            gf = gf + (a_at if gh < gf else a_r) * (gh - gf)
            out[i, n, 0] = gf
            j = 1
            if two:
                gs = gs + (a_at if gh < gs else a_rs) * (gh - gs)
                out[i, n, j] = gs
                j += 1
            if prel:
                out[i, n, j] = hm
                j += 1
            if rms:
                out[i, n, j] = p


def kernel_states_from_inputs(xd, hd, C, spec):
    """States (B, T, d) from the kernel given detector inputs (B, T) and coefficients C (B, N_COEFFICIENTS); no
    derivatives."""
    out = torch.empty(*xd.shape, spec.state_dim, dtype=torch.float64)
    _states_kernel(xd.detach().double().cpu().numpy(), hd.detach().double().cpu().numpy(),
                   C.detach().double().cpu().numpy(), kernel_flags(spec), out.numpy())
    return out.to(device=xd.device, dtype=xd.dtype)


class _KernelStates(torch.autograd.Function):
    """The kernel's state trajectory (B, T, d) as a constant for autograd (any transform)."""

    @staticmethod
    def forward(xd, hd, C, spec):
        return kernel_states_from_inputs(xd, hd, C, spec)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.mark_non_differentiable(output)

    @staticmethod
    def backward(ctx, _):
        return None, None, None, None

    @staticmethod
    def jvp(ctx, *_):
        return None

    @staticmethod
    def vmap(info, in_dims, xd, hd, C, spec):
        return fold_vmap(info, in_dims[:3], (xd, hd, C), lambda a, b, c: _KernelStates.apply(a, b, c, spec))


def kernel_states(x: torch.Tensor, theta: torch.Tensor, spec, sample_rate: int) -> torch.Tensor:
    """States (B, T, d) from the sequential kernel, no derivatives (the fast path)."""
    spec = parse_model(spec)
    theta = theta.unsqueeze(0).expand(x.shape[0], -1) if theta.dim() == 1 else theta
    xd, hd = detector_inputs(x, spec, sample_rate)
    return kernel_states_from_inputs(xd, hd, coefficient_table(theta.detach(), spec, sample_rate), spec)


def _col(C: torch.Tensor, name: str) -> torch.Tensor:
    """Column ``name`` of the coefficient table C (..., N_COEFFICIENTS) (:data:`~.greybox_spec.COEFFICIENTS`),
    as (..., 1)."""
    return C[..., COLUMN[name]].unsqueeze(-1)


def step(s_prev: torch.Tensor, xd: torch.Tensor, hd: torch.Tensor, C: torch.Tensor, spec: ModelSpec,
         jacobian: bool = False):
    """One recursion step for every sample at once: s_prev (B, T, d) -> s (B, T, d).

    xd, hd: (B, T) detector inputs; C: (B, N_COEFFICIENTS) coefficients.  Plain torch ops
    (differentiable); the same arithmetic as the sequential kernel.  With
    ``jacobian=True`` also returns ``A = ds/ds_prev`` (B, T, d, d), written out
    by the chain rule in differentiable ops (so its own derivatives are exact).
    """
    d = spec.state_dim
    two, rms, prel = spec.has("2rel"), spec.has("rms"), spec.has("prel")
    gf_prev = s_prev[..., 0]
    gs_prev = s_prev[..., 1] if two else None
    h_prev = s_prev[..., 1] if prel else None
    p_prev = s_prev[..., d - 1] if rms else None
    zero = torch.zeros_like(gf_prev)
    m = _col(C, "slow_mix")
    v0 = xd + _col(C, "shelf_k") * hd if spec.has("sc") else xd
    # dv/ds_prev per state column (feedback only).
    if spec.feedback:
        g_prev = gf_prev + m * (gs_prev - gf_prev) if two else gf_prev
        v = v0 * g_prev
        dv = [v0 * (1 - m)] + ([v0 * m] if two else []) + ([zero] if prel else []) + ([zero] if rms else [])
    else:
        v = v0 * torch.ones_like(gf_prev)
        dv = [zero] * d
    e = v * v
    de = [2 * v * dvk for dvk in dv]
    if rms:
        a_p = _col(C, "alpha_rms")
        p = p_prev + a_p * (e - p_prev)
        dp = [a_p * dek for dek in de[:-1]] + [1 - a_p + a_p * de[-1]]
    else:
        p, dp = e, de
    above = p > P_FLOOR
    u = (10.0 / LN10) * torch.log(p.clamp_min(P_FLOOR))
    du_dp = torch.where(above, (10.0 / LN10) / p.clamp_min(P_FLOOR), zero)
    o = u - _col(C, "threshold_db")
    if spec.has("knee"):
        W = _col(C, "knee_db")
        h = 0.5 * W
        lower, upper = o <= -h, o >= h
        kv = torch.where(lower, zero, torch.where(upper, o, (o + h) ** 2 / (2.0 * W)))
        dk = torch.where(lower, zero, torch.where(upper, torch.ones_like(o), (o + h) / W))
    else:
        kv = o.clamp_min(0.0)
        dk = (o > 0).to(o.dtype)
    gh = torch.exp(-(LN10 / 20.0) * _col(C, "slope") * kv)
    a_at = _col(C, "alpha_attack")
    attack = gh < gf_prev
    a_rf = _col(C, "alpha_release")
    if prel:  # the release moves with the memory (prel), which charges from the previous gain
        span = _col(C, "alpha_release_long") - a_rf
        a_m, c_m = _col(C, "alpha_memory"), _col(C, "memory_exp")
        gq = gf_prev.clamp_min(MEMORY_GAIN_FLOOR)
        gc = gq ** c_m
        a_r = a_rf + h_prev * span
    else:
        a_r = a_rf
    alpha_f = torch.where(attack, a_at, a_r)
    out = [gf_prev + alpha_f * (gh - gf_prev)]
    alphas = [alpha_f]
    if two:
        alpha_s = torch.where(gh < gs_prev, a_at, _col(C, "alpha_release_slow"))
        out.append(gs_prev + alpha_s * (gh - gs_prev))
        alphas.append(alpha_s)
    if prel:
        out.append(h_prev + a_m * (1.0 - gc - h_prev))
    if rms:
        out.append(p)
    s = torch.stack(out, dim=-1)
    if not jacobian:
        return s
    chain = -(LN10 / 20.0) * _col(C, "slope") * gh * dk * du_dp  # dgh/dp
    dgh = [chain * dpk for dpk in dp]
    rows = []
    for r, alpha in enumerate(alphas):
        rows.append([(1 - alpha if c == r else zero) + alpha * dgh[c] for c in range(d)])
    if prel:  # the fast gain's release moves with the memory (column 1); the memory's own row
        rows[0][1] = rows[0][1] + torch.where(attack, zero, span * (gh - gf_prev))
        rows.append([torch.where(gf_prev > MEMORY_GAIN_FLOOR, -a_m * c_m * gc / gq, zero),
                     (1 - a_m) * torch.ones_like(gf_prev)] + ([zero] if rms else []))
    if rms:
        rows.append(dp)
    return s, torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def initial_state(spec: ModelSpec, like: torch.Tensor) -> torch.Tensor:
    """s[-1] (B, d): gains 1, memory and mean square 0.  ``like``: (B, T) audio."""
    s0 = like.new_ones(like.shape[0], spec.state_dim)
    if spec.has("rms"):
        s0[:, -1] = 0.0
    if spec.has("prel"):
        s0[:, 1] = 0.0
    return s0


def _newton_step(S, s0, xd, hd, C, spec, backend):
    Phi, A = step(shift_in(s0, S), xd, hd, C, spec, jacobian=True)
    return S - matrix_recurrence(A, S - Phi, torch.zeros_like(s0), backend=backend)


def _needs_derivatives(*tensors) -> bool:
    """True when any tensor carries reverse-mode, forward-mode or torch.func derivatives."""
    for t in tensors:
        if torch._C._functorch.is_functorch_wrapped_tensor(t):
            return True
        if torch.is_grad_enabled() and t.requires_grad:
            return True
        if torch.autograd.forward_ad.unpack_dual(t).tangent is not None:
            return True
    return False


def greybox_states(x: torch.Tensor, theta: torch.Tensor, spec, sample_rate: int, backend: str = "auto"):
    """State trajectory s (B, T, d) for input x (B, T) and theta (P,) or (B, P); differentiable.

    ``backend`` selects the matrix-recurrence backend of the derivative steps.
    """
    spec = parse_model(spec)
    if theta.dim() == 1:
        theta = theta.unsqueeze(0).expand(x.shape[0], theta.shape[-1])
    C = coefficient_table(theta, spec, sample_rate)
    xd, hd = detector_inputs(x, spec, sample_rate)
    if not _needs_derivatives(theta, x):
        return kernel_states_from_inputs(xd, hd, C, spec)
    S = _KernelStates.apply(xd, hd, C, spec)
    s0 = initial_state(spec, x)
    for _ in range(2):
        S = _newton_step(S, s0, xd, hd, C, spec, backend)
    return S


def greybox_output(S: torch.Tensor, x: torch.Tensor, C: torch.Tensor, spec: ModelSpec) -> torch.Tensor:
    """Output y (B, T) of the core (before ``outshelf``) from states S (B, T, d), input x (B, T) and coefficients
    C (B, N_COEFFICIENTS)."""
    g = S[..., 0]
    if spec.has("2rel"):
        g = g + _col(C, "slow_mix") * (S[..., 1] - g)
    gain = _col(C, "makeup_gain")
    w = x * g * gain
    if spec.has("tube"):
        k, b = _col(C, "drive"), _col(C, "bias")
        tb = torch.tanh(k * b)
        sech_b = 1.0 - tb * tb
        t1 = torch.tanh(k * (w + b))
        num, den = t1 - tb, k * sech_b
        y = num / den
    else:
        y = w
    return y


def model_gain(x: torch.Tensor, theta: torch.Tensor, spec, sample_rate: int) -> torch.Tensor:
    """The ballistics gain g (linear, before make-up and saturation) for x (B, T) or (T,); no derivatives.

    ``20 log10(g)`` is the gain reduction in dB a meter shows.
    """
    spec = parse_model(spec)
    squeeze = isinstance(x, torch.Tensor) and x.dim() == 1
    x = check_audio(x)
    with torch.no_grad():
        th = theta.detach().to(x.dtype)
        th = th.unsqueeze(0).expand(x.shape[0], -1) if th.dim() == 1 else th
        C = coefficient_table(th, spec, sample_rate)
        S = kernel_states(input_stage(x, C, spec), th, spec, sample_rate)
        g = S[..., 0]
        if spec.has("2rel"):
            g = g + _col(C, "slow_mix") * (S[..., 1] - g)
    return g[0] if squeeze else g


def render_model(x: torch.Tensor, theta: torch.Tensor, spec, sample_rate: int, backend: str = "auto") -> torch.Tensor:
    """Run a grey-box model: x (B, T) or (T,), theta (P,) or (B, P) -> y like x.  Differentiable.

    ``ff5`` runs the published model (:func:`dspnewton.model.compress`).
    """
    spec = parse_model(spec)
    sample_rate = check_sample_rate(sample_rate)
    squeeze = isinstance(x, torch.Tensor) and x.dim() == 1
    x = check_audio(x)
    if not isinstance(theta, torch.Tensor) or theta.shape[-1] != spec.n_params or theta.dim() not in (1, 2):
        shape = tuple(theta.shape) if isinstance(theta, torch.Tensor) else type(theta).__name__
        raise ValueError(f"theta for model {spec.name} must be ({spec.n_params},) or (B, {spec.n_params}), got {shape}")
    theta = theta.to(x.dtype)
    if spec.is_ff5:
        from .compressor import compress

        y = compress(x, theta, sample_rate)
    else:
        th = theta.unsqueeze(0).expand(x.shape[0], -1) if theta.dim() == 1 else theta
        C = coefficient_table(th, spec, sample_rate)
        xs = input_stage(x, C, spec)
        S = greybox_states(xs, th, spec, sample_rate, backend)
        y = output_stage(greybox_output(S, xs, C, spec), C, spec)
    return y[0] if squeeze else y
