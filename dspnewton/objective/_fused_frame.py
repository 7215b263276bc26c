"""Per-frame body of the fused loss/gradient/Hessian pass (plain Python source).

Compiled twice from this one source: with ``numba.njit`` for the CPU kernel and
with ``numba.cuda.jit(device=True)`` for the GPU kernel (one thread per frame).
Only scalars, loops and caller-provided scratch arrays are used, so the same
code is valid in both targets.

Parameters (phi): 0 threshold CT (dB), 1 slope s = 1 - 1/R, 2 attack coefficient,
3 release coefficient, 4 make-up gamma (dB).  Along the frame it carries the
ballistics gain g with its 4 first and 10 second derivatives (gamma does not
enter g), and the pre-emphasis filter states of the prediction with 5 first and
15 second derivatives, accumulating loss, gradient and Hessian sample by sample.
"""

import math

K_DB = math.log(10.0) / 20.0
N1 = 5  # parameters
N2 = 15  # unique second derivatives (upper triangle)

# Scratch layout (offsets into a per-frame float64 vector).
S_G1 = 0  # 4 first derivatives of g
S_G2 = 4  # 10 second derivatives of g (upper triangle of 4x4)
S_P1 = 14  # 5 pre-emphasised first derivatives of y_hat
S_P2 = 19  # 15 pre-emphasised second derivatives
S_Y1 = 34  # 5 previous first derivatives of y_hat
S_Y2 = 39  # 15 previous second derivatives of y_hat
S_GH1 = 54  # 2 first derivatives of the static gain (CT, s)
S_GH2 = 56  # 3 second derivatives of the static gain (CT-CT, CT-s, s-s)
SCRATCH = 59


def tri(p, q, n):
    """Index of (p, q), p <= q, in the row-major upper triangle of an n x n matrix."""
    return p * n - (p * (p - 1)) // 2 + (q - p)


def fused_frame(f, x, xdb, tpe, start, valid, ct, s, aat, art, gm, pole, sc, out_l, out_g, out_h):
    """Accumulate loss, gradient (5) and Hessian (15, upper) of frame ``f``.

    x, xdb, tpe: (F, L) input, its level in dB, pre-emphasised target.
    start: first sample in the loss; valid: (F,) samples before padding.
    sc: (F, SCRATCH) scratch; out_l (F,), out_g (F, 5), out_h (F, 15).
    """
    for i in range(SCRATCH):
        sc[f, i] = 0.0
    loss = 0.0
    for i in range(N1):
        out_g[f, i] = 0.0
    for i in range(N2):
        out_h[f, i] = 0.0
    m = math.exp(K_DB * gm)
    g = 1.0
    y_prev = 0.0
    p0 = 0.0
    n_end = valid[f]
    for n in range(n_end):
        xn = x[f, n]
        # Static gain and its derivatives in (CT, s).
        u = ct - xdb[f, n]
        v = s * u
        if v < 0.0:
            gh = math.exp(K_DB * v)
            kg = K_DB * gh
            sc[f, S_GH1] = kg * s
            sc[f, S_GH1 + 1] = kg * u
            sc[f, S_GH2] = kg * K_DB * s * s
            sc[f, S_GH2 + 1] = kg * (K_DB * s * u + 1.0)
            sc[f, S_GH2 + 2] = kg * K_DB * u * u
        else:
            gh = 1.0
            for i in range(5):
                sc[f, S_GH1 + i] = 0.0
        attack = gh < g
        c = aat if attack else art
        d = gh - g
        # Second derivatives of g (before the first ones are overwritten).
        for p in range(4):
            cp = 1.0 if (p == 2 and attack) or (p == 3 and not attack) else 0.0
            for q in range(p, 4):
                cq = 1.0 if (q == 2 and attack) or (q == 3 and not attack) else 0.0
                k = p * 4 - (p * (p - 1)) // 2 + (q - p)
                acc = (1.0 - c) * sc[f, S_G2 + k]
                if q < 2:
                    acc += c * sc[f, S_GH2 + p + q]
                ghq = sc[f, S_GH1 + q] if q < 2 else 0.0
                ghp = sc[f, S_GH1 + p] if p < 2 else 0.0
                acc += cp * (ghq - sc[f, S_G1 + q]) + cq * (ghp - sc[f, S_G1 + p])
                sc[f, S_G2 + k] = acc
        for p in range(4):
            cp = 1.0 if (p == 2 and attack) or (p == 3 and not attack) else 0.0
            ghp = sc[f, S_GH1 + p] if p < 2 else 0.0
            sc[f, S_G1 + p] = (1.0 - c) * sc[f, S_G1 + p] + c * ghp + cp * d
        g = (1.0 - c) * g + c * gh
        # Prediction, pre-emphasis and the residual.
        xm = xn * m
        y = xm * g
        p0 = y - y_prev + pole * p0
        y_prev = y
        e = p0 - tpe[f, n]
        in_loss = n >= start
        for p in range(N1):
            yp = xm * sc[f, S_G1 + p] if p < 4 else K_DB * y
            sc[f, S_P1 + p] = yp - sc[f, S_Y1 + p] + pole * sc[f, S_P1 + p]
            sc[f, S_Y1 + p] = yp
        for p in range(N1):
            for q in range(p, N1):
                k = p * N1 - (p * (p - 1)) // 2 + (q - p)
                if q < 4:
                    ypq = xm * sc[f, S_G2 + p * 4 - (p * (p - 1)) // 2 + (q - p)]
                elif p < 4:
                    ypq = K_DB * xm * sc[f, S_G1 + p]
                else:
                    ypq = K_DB * K_DB * y
                sc[f, S_P2 + k] = ypq - sc[f, S_Y2 + k] + pole * sc[f, S_P2 + k]
                sc[f, S_Y2 + k] = ypq
        if in_loss:
            loss += e * e
            for p in range(N1):
                out_g[f, p] += 2.0 * e * sc[f, S_P1 + p]
                for q in range(p, N1):
                    k = p * N1 - (p * (p - 1)) // 2 + (q - p)
                    out_h[f, k] += 2.0 * (sc[f, S_P1 + p] * sc[f, S_P1 + q] + e * sc[f, S_P2 + k])
    out_l[f] = loss


def loss_frame(f, x, xdb, tpe, start, valid, ct, s, aat, art, gm, pole, out_l):
    """Loss only (no derivatives) of frame ``f``; same arguments as :func:`fused_frame`."""
    m = math.exp(K_DB * gm)
    g = 1.0
    y_prev = 0.0
    p0 = 0.0
    loss = 0.0
    for n in range(valid[f]):
        v = s * (ct - xdb[f, n])
        gh = math.exp(K_DB * v) if v < 0.0 else 1.0
        c = aat if gh < g else art
        g = (1.0 - c) * g + c * gh
        y = x[f, n] * m * g
        p0 = y - y_prev + pole * p0
        y_prev = y
        if n >= start:
            e = p0 - tpe[f, n]
            loss += e * e
    out_l[f] = loss
