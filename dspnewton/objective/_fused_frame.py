"""Per-frame body of the fused loss/gradient/Hessian computation (plain Python source).

Compiled twice from this one source: with ``numba.njit`` for the CPU kernel and
with ``numba.cuda.jit(device=True)`` for the GPU kernel (one thread per frame).
Only scalars, loops and caller-provided arrays are used, so the same code is
valid in both targets.

Parameters phi: CT threshold (dB), s = 1 - 1/R, a = attack coefficient,
r = release coefficient, gamma = make-up (dB).  Three sweeps over the frame:

1. forward: the prediction and the pre-emphasised residual ``e`` (loss);
2. backward: the adjoint residual ``rho = PE^T (w e)`` (w = loss mask), the
   pre-emphasis filter run in reversed time;
3. forward: the ballistics gain ``g`` with its 4 first and 10 second
   derivatives (gamma does not enter g), and the pre-emphasised first
   derivatives of the prediction.  Then
   ``grad_p = 2 sum rho dy_p``,
   ``H_pq = 2 sum w P_p P_q + 2 sum rho d2y_pq``:
   the second-order part is contracted with rho, so no second derivative has
   to go through the pre-emphasis filter.

Everything is in scalars (registers); memory is one frame-sized buffer.

Each frame starts from ``init[f]`` = (g, y[-1], pe(y)[-1], t[-1], pe(t)[-1]): rest
(1, 0, 0, 0, 0) or the state a pass over the whole signal has there (carried,
:mod:`.frame_state`).  The sensitivities start at zero at the frame's first
sample (derivatives of the initial state are truncated there).  With
``snap_at[f] > 0`` the first sweep writes the state after ``snap_at[f]`` samples
to ``init[f + 1]`` (the sequential pass that carries the state from frame to frame).
"""

import math

from ._greybox_steps import preemphasis_adjoint

K_DB = math.log(10.0) / 20.0
# The ``derivatives`` levels of both frame bodies (this one and :mod:`._greybox_frame`).
LOSS, GRADIENT, HESSIAN = 0, 1, 2
N_STATE = 5  # g, y[-1], pe(y)[-1], t[-1], pe(t)[-1]


def fused_frame(f, xbuf, tbuf, off, starts, valid, init, snap_at, ct, s, aat, art, gm, pole, buf, ubuf, gbuf, out_l,
                out_g, out_h, derivatives):
    """Loss, gradient (5: CT, s, a, r, gamma) and Hessian (15, row-major upper) of frame ``f``.

    xbuf, tbuf: flat input and target; frame f is ``buf[off[f] : off[f] + valid[f]]`` (the
    level and the pre-emphasised target are computed here, restarted per frame).
    starts: (F,) first sample in the loss; valid: (F,) samples before padding.
    init: (F, 5) initial states (see above); snap_at: (F,) int, > 0 to write the state there.
    buf, ubuf, gbuf: (F, L) scratch (residual/adjoint, threshold minus level, static gain);
    out_l (F,), out_g (F, 5), out_h (F, 15).
    derivatives: :data:`LOSS` computes the loss only (sweep 1), for line searches; :data:`GRADIENT` the loss
    and the gradient (sweep 3 without the second derivatives; out_h untouched); :data:`HESSIAN` everything.
    """
    m = math.exp(K_DB * gm)
    n_end = valid[f]
    o0 = off[f]
    start = starts[f]
    snap = snap_at[f]
    # 1. forward: residual.
    g = init[f, 0]
    y_prev = init[f, 1]
    p0 = init[f, 2]
    t_prev = init[f, 3]
    tpe = init[f, 4]
    loss = 0.0
    for n in range(n_end + 1):
        if n == snap:
            init[f + 1, 0] = g
            init[f + 1, 1] = y_prev
            init[f + 1, 2] = p0
            init[f + 1, 3] = t_prev
            init[f + 1, 4] = tpe
        if n == n_end:
            break
        xv = xbuf[o0 + n]
        u = ct - 20.0 * math.log10(max(abs(xv), 1e-8))  # threshold minus the level in dB (level_db)
        v = s * u
        gh = math.exp(K_DB * v) if v < 0.0 else 1.0
        if derivatives:  # sweep 3 reuses them (no logarithm or exponential there)
            ubuf[f, n] = u
            gbuf[f, n] = gh
        c = aat if gh < g else art
        g = (1.0 - c) * g + c * gh
        y = xv * m * g
        p0 = y - y_prev + pole * p0
        y_prev = y
        tv = tbuf[o0 + n]
        tpe = tv - t_prev + pole * tpe
        t_prev = tv
        if n >= start:
            e = p0 - tpe
            loss += e * e
            if derivatives:
                buf[f, n] = e
        elif derivatives:
            buf[f, n] = 0.0
    out_l[f] = loss
    if not derivatives:
        return
    # 2. backward: rho = PE^T(w e), in place.
    preemphasis_adjoint(buf, f, n_end, pole)
    # 3. forward: sensitivities (first order; with ``hess`` also the second and the Hessian's sums).
    hess = derivatives == HESSIAN
    g = init[f, 0]
    gc = 0.0
    gs = 0.0
    ga = 0.0
    gr = 0.0
    gcc = 0.0
    gcs = 0.0
    gca = 0.0
    gcr = 0.0
    gss = 0.0
    gsa = 0.0
    gsr = 0.0
    gaa = 0.0
    gar = 0.0
    grr = 0.0
    yc_prev = 0.0
    ys_prev = 0.0
    ya_prev = 0.0
    yr_prev = 0.0
    y_prev = init[f, 1]
    p0 = init[f, 2]
    pc = 0.0
    ps = 0.0
    pa = 0.0
    pr = 0.0
    # accumulators: gradient (rho-contracted) and Hessian parts
    dc = 0.0
    ds = 0.0
    da = 0.0
    dr = 0.0
    dg = 0.0
    h00 = 0.0
    h01 = 0.0
    h02 = 0.0
    h03 = 0.0
    h04 = 0.0
    h11 = 0.0
    h12 = 0.0
    h13 = 0.0
    h14 = 0.0
    h22 = 0.0
    h23 = 0.0
    h24 = 0.0
    h33 = 0.0
    h34 = 0.0
    h44 = 0.0
    for n in range(n_end):
        xv = xbuf[o0 + n]
        u = ubuf[f, n]
        v = s * u
        if v < 0.0:
            gh = gbuf[f, n]
            kg = K_DB * gh
            ghc = kg * s
            ghs = kg * u
            ghcc = kg * K_DB * s * s
            ghcs = kg * (K_DB * s * u + 1.0)
            ghss = kg * K_DB * u * u
        else:
            gh = 1.0
            ghc = 0.0
            ghs = 0.0
            ghcc = 0.0
            ghcs = 0.0
            ghss = 0.0
        c = aat if gh < g else art
        b = 1.0 - c
        if hess:
            if gh < g:  # attack
                gca = b * gca + (ghc - gc)
                gsa = b * gsa + (ghs - gs)
                gaa = b * gaa - 2.0 * ga
                gar = b * gar - gr
                gcr = b * gcr
                gsr = b * gsr
                grr = b * grr
            else:  # release
                gcr = b * gcr + (ghc - gc)
                gsr = b * gsr + (ghs - gs)
                grr = b * grr - 2.0 * gr
                gar = b * gar - ga
                gca = b * gca
                gsa = b * gsa
                gaa = b * gaa
            gcc = b * gcc + c * ghcc
            gcs = b * gcs + c * ghcs
            gss = b * gss + c * ghss
        d = gh - g
        if gh < g:
            ga = b * ga + d
            gr = b * gr
        else:
            gr = b * gr + d
            ga = b * ga
        gc = b * gc + c * ghc
        gs = b * gs + c * ghs
        g = b * g + c * gh
        xm = xv * m
        y = xm * g
        yc = xm * gc
        ys = xm * gs
        ya = xm * ga
        yr = xm * gr
        rho = buf[f, n]
        # gradient and second-order part, contracted with rho
        dc += rho * yc
        ds += rho * ys
        da += rho * ya
        dr += rho * yr
        dg += rho * y
        if not hess:
            continue
        # the pre-emphasised first derivatives (Gauss-Newton part only)
        p0 = y - y_prev + pole * p0
        pc = yc - yc_prev + pole * pc
        ps = ys - ys_prev + pole * ps
        pa = ya - ya_prev + pole * pa
        pr = yr - yr_prev + pole * pr
        y_prev = y
        yc_prev = yc
        ys_prev = ys
        ya_prev = ya
        yr_prev = yr
        rx = rho * xm
        h00 += rx * gcc
        h01 += rx * gcs
        h02 += rx * gca
        h03 += rx * gcr
        h11 += rx * gss
        h12 += rx * gsa
        h13 += rx * gsr
        h22 += rx * gaa
        h23 += rx * gar
        h33 += rx * grr
        if n >= start:  # Gauss-Newton part over the loss region
            pg = K_DB * p0
            h00 += pc * pc
            h01 += pc * ps
            h02 += pc * pa
            h03 += pc * pr
            h04 += pc * pg
            h11 += ps * ps
            h12 += ps * pa
            h13 += ps * pr
            h14 += ps * pg
            h22 += pa * pa
            h23 += pa * pr
            h24 += pa * pg
            h33 += pr * pr
            h34 += pr * pg
            h44 += pg * pg
    out_g[f, 0] = 2.0 * dc
    out_g[f, 1] = 2.0 * ds
    out_g[f, 2] = 2.0 * da
    out_g[f, 3] = 2.0 * dr
    out_g[f, 4] = 2.0 * K_DB * dg
    if not hess:
        return
    # gamma terms: d y / d gamma = K y; d2 y / d p d gamma = K d y / d p; d2 y / d gamma2 = K^2 y
    h04 += K_DB * dc
    h14 += K_DB * ds
    h24 += K_DB * da
    h34 += K_DB * dr
    h44 += K_DB * K_DB * dg
    out_h[f, 0] = 2.0 * h00
    out_h[f, 1] = 2.0 * h01
    out_h[f, 2] = 2.0 * h02
    out_h[f, 3] = 2.0 * h03
    out_h[f, 4] = 2.0 * h04
    out_h[f, 5] = 2.0 * h11
    out_h[f, 6] = 2.0 * h12
    out_h[f, 7] = 2.0 * h13
    out_h[f, 8] = 2.0 * h14
    out_h[f, 9] = 2.0 * h22
    out_h[f, 10] = 2.0 * h23
    out_h[f, 11] = 2.0 * h24
    out_h[f, 12] = 2.0 * h33
    out_h[f, 13] = 2.0 * h34
    out_h[f, 14] = 2.0 * h44
