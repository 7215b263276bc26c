"""Per-frame body of the compiled fused pass for every grey-box model (plain Python source).

Compiled with ``numba.njit`` for the CPU kernel (prange over frames) and with
``numba.cuda.jit(device=True)`` for the GPU kernel (one thread per frame), as
the ``ff5`` body (:mod:`._fused_frame`).  Only scalars, loops, caller-provided
arrays and the scalar functions of :mod:`._greybox_steps` are used.  It is one long function
on purpose: a CUDA device function cannot allocate, so the three sweeps share scratch arrays and
per-thread scalars that would otherwise travel through dozens of arguments, and splitting it would
cost registers on the GPU.  The pieces that can stand alone (each step's forward and adjoint
arithmetic) are the functions of :mod:`._greybox_steps`; tuple slots and coefficient columns are
named constants.

Derivatives are taken with respect to the model's active coefficients phi (P,):
``pos[c]`` is the position in phi of coefficient c (see :mod:`._greybox_steps`)
or -1.  Three sweeps over the frame:

1. forward: the input chain (``inhp`` or ``in2``, then ``core``), states s[n] (stored with the level, static
   gain, tube tanh and the chain's output), detector high-pass (stored with ``sc``), the prediction, its output
   stage (``outshelf`` or ``out2``) and the pre-emphasised residual (loss);
2. backward: ``rho = PE^T(mask e)``, through the output stage's transposed recursion (the adjoint of the stage's
   output and of its recursion are stored; rho becomes the core output's adjoint), and the adjoint state
   ``lam[n] = rho[n] dY/ds[n] + (dF[n+1]/ds[n])^T lam[n+1]`` (stored); then, with an input chain, the adjoint of
   the chain's output (where the audio path and the detector read it, through the side-chain high-pass) back
   through the chain's transposed, linearised recursions (its stages' adjoints stored);
3. forward: tangent sensitivities ds/dphi (d x P, in registers/scratch), the
   output Jacobian J[n] (P,), its pre-emphasis, and the accumulators
   ``grad = sum rho J``, Gauss-Newton ``sum_mask PE(J) PE(J)^T`` and the
   curvature ``sum rho d2y`` written, by the second-order Lagrangian identity,
   as ``sum_n [rho[n] d2Y[n] + lam[n] . d2F[n]]`` along the tangents: each
   elementary operation adds (its adjoint) x (its second derivative) x (outer
   product of its inputs' tangents).  The input chain enters as its output's
   first derivatives with respect to the chain's own coefficients (forward recursions, at most 4 coefficients:
   ``ct``), its own second-order terms (bilinear coefficient x state products, the core's cubic) weighted by
   the chain's adjoints of sweep 2, so no second derivatives are carried; the output stage as more tangent rows
   (its states and output) with its bilinear terms weighted by the adjoints of its recursion.

``prel``'s memory is one more state: a tangent row (HM), its adjoint in the slow gain's slot (the two exclude
each other), and second-order terms for the release coefficient's product with the memory and for the memory's
charge ``1 - g^c`` (a curvature in the gain, dense, summed with the other rank-one terms).

Loss = out_l; gradient = 2 gacc; Hessian = 2 hacc (the caller scales).

Each frame starts from ``init[f]`` (:data:`N_STATE` values, :data:`REST` at rest): the
ballistics states, the previous (high-passed) input, side-chain high-pass, output
and target with their pre-emphasis, and the two signal-path stages' states; rest or
the whole-signal state there (carried, :mod:`.frame_state`).  Tangents start at zero
at the frame's first sample (derivatives of the initial state are truncated there).
With ``snap_at[f] > 0`` the first sweep writes the state after ``snap_at[f]`` samples
to ``init[f + 1]``.
"""

import math

from ..model.greybox_spec import (COEFFICIENTS, C_ATTACK, C_BIAS, C_CORE_A, C_CORE_B, C_DRIVE, C_IN2_A1, C_IN2_A2,
                                  C_INPUT_HP, C_KNEE, C_MAKEUP, C_MEMORY, C_MEMORY_EXP, C_OUT2_A1, C_OUT2_A2,
                                  C_OUTPUT_SHELF, C_OUTPUT_SHELF_K, C_RELEASE, C_RELEASE_LONG, C_RELEASE_SLOW, C_RMS,
                                  C_SHELF, C_SLOPE, C_SLOW_MIX, C_THRESHOLD, F_2REL, F_CORE, F_FB, F_IN2, F_INHP, F_KNEE,
                                  F_OUT2, F_OUTSHELF, F_PREL, F_RMS, F_SC, F_TUBE, MEMORY_GAIN_FLOOR)
from ._fused_frame import HESSIAN
from ._greybox_steps import (K_DB, OA_DEN, OA_G, OA_GF, OA_GS, OA_S2, OA_T1, OA_T2, OA_W, OA_Z1, OA_Z2, OF_DEN, OF_G,
                             OF_T1, OF_T2, OF_Y, SA_A, SA_E, SA_GF, SA_GP, SA_GS, SA_KV, SA_O, SA_P, SA_PP, SA_V,
                             SF_AF, SF_AS, SF_CF, SF_CS, SF_E, SF_GF, SF_GH, SF_GP, SF_GS, SF_KV, SF_KV_O, SF_KV_OO,
                             SF_KV_OW, SF_KV_W, SF_KV_WW, SF_P, SF_U, SF_U_P, SF_U_PP, SF_V, SF_V0, output_adjoints,
                             output_forward, preemphasis_adjoint, step_adjoints, step_forward)

# The coefficients that shape only the output (after the gain loop: make-up, the tube, the output stage); phi
# holds them last, and the loop states' tangents are zero on them.
OUTPUT_ONLY_COEFFICIENTS = (C_MAKEUP, C_DRIVE, C_BIAS, C_OUTPUT_SHELF, C_OUTPUT_SHELF_K, C_OUT2_A1, C_OUT2_A2)
# Tangent slots of ``tan`` (F, NT, P); Y1, Y2, Z1O, Z2O: the output low-pass's (``out2``) past inputs and outputs;
# HM: ``prel``'s memory, with HMP, GFP (the memory's and the fast gain's before the step) and DG (``gh - g``'s).
GF, GS, PP, GP, V, PV, A, G, W, Z1, Y, YP, PJ, LO, Z, Y1, Y2, Z1O, Z2O, HM, HMP, GFP, DG = range(23)
N_TANGENTS = 23
# Initial-state slots of ``init`` (F, N_STATE): the core's, then the signal-path stages' (``inhp``'s low-pass,
# ``outshelf``'s low-pass, ``in2``'s past inputs and outputs, ``core``'s flux, ``out2``'s past inputs and outputs),
# then ``prel``'s memory.
(S_GF, S_GS, S_PP, S_XP, S_H, S_HP, S_YP, S_PE, S_TP, S_TPE, S_LI, S_LO, S_IX1, S_IX2, S_IU1, S_IU2, S_FL, S_OY1,
 S_OY2, S_OZ1, S_OZ2, S_HM) = range(22)
N_STATE = 22
REST = (1.0, 1.0) + (0.0,) * 20
# The input chain (inhp or in2, then core) is differentiated in forward mode to first order with respect to its
# coefficients, the slots of ``ct`` (F, N_CHAIN_ROWS, N_CHAIN), ordered so that every model's slots in use are
# contiguous (inhp and in2 exclude each other):
I_A1, I_A2, I_CA, I_CB, I_INHP = range(5)
N_CHAIN = 5
CHAIN_COEFFICIENTS = (C_IN2_A1, C_IN2_A2, C_CORE_A, C_CORE_B, C_INPUT_HP)  # the coefficient of each slot
N_COEFFICIENTS = len(COEFFICIENTS)  # ``pos`` holds the coefficients' positions in phi, then the slots'
# ... for these signals (rows): inhp's low-pass, in2's two past outputs, the core's flux, and two rows each for the
# chain's output and its side-chain high-pass (now and one sample before, alternating: no copies).
R_LI, R_U1, R_U2, R_FL, R_XA, R_XB, R_HA, R_HB = range(8)
N_CHAIN_ROWS = 8
# Per-sample slots of ``lbuf`` (F, L, N_LBUF): the adjoint states lam (ballistics fast, slow or ``prel``'s memory (they
# exclude each other), mean square), the output
# stage's output adjoint (L_RO) and its recursion's (L_MU: outshelf's low-pass, out2's), and the chain's (L_CHAIN: the
# first stage's adjoint, in2's output or inhp's low-pass; L_ALPHA, L_BETA: the core output's and its new flux's;
# before the chain's adjoint sweep they hold the core's flux, the detector's adjoint on its input and the audio path's
# on the chain output).
L_LF, L_LS, L_LP, L_RO, L_MU, L_CHAIN, L_ALPHA, L_BETA = range(8)
N_LBUF = 8


def greybox_frame(f, xbuf, tbuf, off, valid, starts, init, snap_at, C, pos, flags, hp_g, hp_a1, pole,
                  sbuf, rbuf, hbuf, lbuf, tan, ct, hacc, racc, gacc, out_l, derivatives):
    """Loss (out_l[f]) and, with ``derivatives`` (:data:`~._fused_frame.LOSS`, ``GRADIENT`` or ``HESSIAN``),
    gradient/2 (gacc[f], (P,)) and Hessian/2 (hacc[f], (P, P)) w.r.t. phi of frame f.  The gradient alone skips
    the adjoint states (sweep 2's second half) and every curvature and Gauss-Newton term of sweep 3; its
    sums are the same operations in the same order as with the Hessian (bit-identical gradients).

    xbuf, tbuf: flat input and target audio; frame f is xbuf[off[f] : off[f] + valid[f]].
    starts: (F,) first sample in the loss.  init: (F, N_STATE) initial states; snap_at: (F,) int.
    C (N_COEFFICIENTS,) coefficients, pos (N_COEFFICIENTS + N_CHAIN,) int (:data:`CHAIN_COEFFICIENTS`'s again
    last), flags (12,) int.
    hp_g, hp_a1: the side-chain high-pass ``h[n] = hp_g (x[n] - x[n-1]) + hp_a1 h[n-1]``.
    Scratch: sbuf (F, L, 7) (column 1: the slow gain, or ``prel``'s memory), rbuf (F, L), hbuf (F, L),
    lbuf (F, L, N_LBUF), tan (F, N_TANGENTS, P), ct (F, N_CHAIN_ROWS, N_CHAIN), racc (F, P, P).
    """
    fb, knee, rms, two, sc, tube = flags[F_FB], flags[F_KNEE], flags[F_RMS], flags[F_2REL], flags[F_SC], flags[F_TUBE]
    inhp, outsh, in2, core, out2 = flags[F_INHP], flags[F_OUTSHELF], flags[F_IN2], flags[F_CORE], flags[F_OUT2]
    prel = flags[F_PREL]
    thr, slope, Wk = C[C_THRESHOLD], C[C_SLOPE], C[C_KNEE]
    a_at, a_rf, a_rs = C[C_ATTACK], C[C_RELEASE], C[C_RELEASE_SLOW]
    a_rl, a_m, c_m = C[C_RELEASE_LONG], C[C_MEMORY], C[C_MEMORY_EXP]
    d_r = a_rl - a_rf  # prel: the release coefficient a_rf + hm d_r moves with the memory hm
    m, a_p, k_sc, Gm, kd, bd = C[C_SLOW_MIX], C[C_RMS], C[C_SHELF], C[C_MAKEUP], C[C_DRIVE], C[C_BIAS]
    a_in, a_out, k_out = C[C_INPUT_HP], C[C_OUTPUT_SHELF], C[C_OUTPUT_SHELF_K]
    i_a1, i_a2, c_a, c_b, o_a1, o_a2 = C[C_IN2_A1], C[C_IN2_A2], C[C_CORE_A], C[C_CORE_B], C[C_OUT2_A1], C[C_OUT2_A2]
    i_g = 0.25 * (1.0 - i_a1 + i_a2)  # in2's and out2's numerator gains (greybox_spec.biquad_poles)
    o_g = 0.25 * (1.0 + o_a1 + o_a2)
    o0 = off[f]
    nv = valid[f]
    start = starts[f]
    snap = snap_at[f]
    t2c = math.tanh(kd * bd)
    P = tan.shape[2]
    # phi holds the parameters that shape only the output last (greybox_fused._phi_order): the gain loop's
    # tangents are zero on them, so the sums over the loop's states stop at PL.
    PL = P
    for c in OUTPUT_ONLY_COEFFICIENTS:
        if pos[c] >= 0:
            PL -= 1
    # ---------------------------------------------------------------- 1. forward: values and residual
    gf = init[f, S_GF]
    gs = init[f, S_GS]
    pp = init[f, S_PP]
    x_prev = init[f, S_XP]
    h = init[f, S_H]
    h_prev = init[f, S_HP]
    y_prev = init[f, S_YP]
    pe = init[f, S_PE]
    t_prev = init[f, S_TP]
    tpe = init[f, S_TPE]
    loss = 0.0
    flb = 0.0
    li = init[f, S_LI]
    lo = init[f, S_LO]
    ix1 = init[f, S_IX1]
    ix2 = init[f, S_IX2]
    iu1 = init[f, S_IU1]
    iu2 = init[f, S_IU2]
    fl = init[f, S_FL]
    oy1 = init[f, S_OY1]
    oy2 = init[f, S_OY2]
    oz1 = init[f, S_OZ1]
    oz2 = init[f, S_OZ2]
    hm = init[f, S_HM]
    for n in range(nv + 1):
        if n == snap:
            init[f + 1, S_GF] = gf
            init[f + 1, S_GS] = gs
            init[f + 1, S_PP] = pp
            init[f + 1, S_XP] = x_prev
            init[f + 1, S_H] = h
            init[f + 1, S_HP] = h_prev
            init[f + 1, S_YP] = y_prev
            init[f + 1, S_PE] = pe
            init[f + 1, S_TP] = t_prev
            init[f + 1, S_TPE] = tpe
            init[f + 1, S_LI] = li
            init[f + 1, S_LO] = lo
            init[f + 1, S_IX1] = ix1
            init[f + 1, S_IX2] = ix2
            init[f + 1, S_IU1] = iu1
            init[f + 1, S_IU2] = iu2
            init[f + 1, S_FL] = fl
            init[f + 1, S_OY1] = oy1
            init[f + 1, S_OY2] = oy2
            init[f + 1, S_OZ1] = oz1
            init[f + 1, S_OZ2] = oz2
            init[f + 1, S_HM] = hm
        if n == nv:
            break
        xn = xbuf[o0 + n]
        if inhp:
            li = li + a_in * (xn - li)
            xn = xn - li
        if in2:  # u = g (x - 2 x1 + x2) - a1 u1 - a2 u2
            u = i_g * (xn - 2.0 * ix1 + ix2) - i_a1 * iu1 - i_a2 * iu2
            ix2 = ix1
            ix1 = xn
            iu2 = iu1
            iu1 = u
            xn = u
        if core:  # v = x - l - b l^3, l += a v
            flb = fl
            xn = xn - fl - c_b * fl * fl * fl
            fl = fl + c_a * xn
        if sc:
            h = hp_g * (xn - x_prev) + hp_a1 * h
        xd = x_prev if fb else xn
        hd = h_prev if fb else h
        r = step_forward(gf, gs, pp, xd, hd, thr, slope, Wk, a_at, a_rf + hm * d_r if prel else a_rf, a_rs, m, a_p,
                         k_sc, fb, knee, rms, two, sc, False, 0.0, 0.0)
        if prel:  # charged by the gain before the step
            hm = hm + a_m * (1.0 - max(gf, MEMORY_GAIN_FLOOR) ** c_m - hm)
        pp = r[SF_P]
        gf = r[SF_GF]
        gs = r[SF_GS]
        q = output_forward(gf, gs, xn, m, Gm, kd, bd, t2c, two, tube, False, 0.0)
        y = q[OF_Y]
        if outsh:
            lo = lo + a_out * (y - lo)
            y = y + k_out * (y - lo)
        if out2:  # z = g (y + 2 y1 + y2) - a1 z1 - a2 z2
            z = o_g * (y + 2.0 * oy1 + oy2) - o_a1 * oz1 - o_a2 * oz2
            oy2 = oy1
            oy1 = y
            oz2 = oz1
            oz1 = z
            y = z
        pe = y - y_prev + pole * pe
        tn = tbuf[o0 + n]
        tpe = tn - t_prev + pole * tpe
        e = pe - tpe if n >= start else 0.0
        loss += e * e
        if derivatives:
            sbuf[f, n, 0] = gf
            sbuf[f, n, 1] = hm if prel else gs
            sbuf[f, n, 2] = pp
            sbuf[f, n, 3] = r[SF_U]  # level (dB), static gain and tanh of the tube: reused by sweeps 2, 3
            sbuf[f, n, 4] = r[SF_GH]
            sbuf[f, n, 5] = q[OF_T1]
            sbuf[f, n, 6] = xn
            hbuf[f, n] = hd
            rbuf[f, n] = e
            if core:
                lbuf[f, n, L_CHAIN] = flb  # read (and overwritten) by the chain's adjoint sweep
        x_prev = xn
        h_prev = h
        y_prev = y
        t_prev = tn
    out_l[f] = loss
    if not derivatives:
        return
    # ---------------------------------------------------------------- 2. backward: rho and lam
    preemphasis_adjoint(rbuf, f, nv, pole)
    if outsh:  # z = (1 + k) y - k l, l[n] = (1 - a) l[n-1] + a y[n], transposed
        mu = 0.0
        for n in range(nv - 1, -1, -1):
            rz = rbuf[f, n]
            mu = -k_out * rz + (1.0 - a_out) * mu
            lbuf[f, n, L_RO] = rz
            lbuf[f, n, L_MU] = mu
            rbuf[f, n] = (1.0 + k_out) * rz + a_out * mu
    if out2:  # transposed: lam[n] = rz[n] - a1 lam[n+1] - a2 lam[n+2], rho_y[n] = g (lam[n] + 2 lam[n+1] + lam[n+2])
        lam1 = 0.0
        lam2 = 0.0
        for n in range(nv - 1, -1, -1):
            rz = rbuf[f, n]
            lam = rz - o_a1 * lam1 - o_a2 * lam2
            lbuf[f, n, L_RO] = rz
            lbuf[f, n, L_MU] = lam
            rbuf[f, n] = o_g * (lam + 2.0 * lam1 + lam2)
            lam2 = lam1
            lam1 = lam
    hess = derivatives == HESSIAN  # else the gradient alone: no adjoint states lam, no curvature terms
    # The input chain's coefficients (slots I_*) and their positions in phi.
    cp = pos[N_COEFFICIENTS:]  # (N_CHAIN,): an array (a tuple indexed at run time is slow)
    chain = max(cp[0], max(cp[1], max(cp[2], max(cp[3], cp[4])))) >= 0
    if hess:
        lf = 0.0
        ls = 0.0
        lp = 0.0
        for n in range(nv - 1, -1, -1):
            gf = sbuf[f, n, 0]
            gs = sbuf[f, n, 1]
            pp = sbuf[f, n, 2]
            bf = 0.0
            bs = 0.0
            bp = 0.0
            if n + 1 < nv:  # (dF[n+1]/ds[n])^T lam[n+1]
                xd = sbuf[f, n, 6] if fb else sbuf[f, n + 1, 6]
                a_r = a_rf + gs * d_r if prel else a_rf
                r = step_forward(gf, gs, pp, xd, hbuf[f, n + 1], thr, slope, Wk, a_at, a_r, a_rs, m, a_p, k_sc, fb,
                                 knee, rms, two, sc, True, sbuf[f, n + 1, 3], sbuf[f, n + 1, 4])
                ra = step_adjoints(r[SF_V0], r[SF_V], r[SF_GH], r[SF_AF], r[SF_AS], r[SF_KV_O], r[SF_U_P], slope, m, a_p, lf, ls, lp, fb, rms, two)
                bf = ra[SA_GF]
                bs = ra[SA_GS]
                bp = ra[SA_PP]
                if prel:  # gs is the memory hm, ls its adjoint: the release reads it, the memory reads gf and itself
                    bs = ls * (1.0 - a_m) + (lf * (r[SF_GH] - gf) * d_r if r[SF_CF] == C_RELEASE else 0.0)
                    if gf > MEMORY_GAIN_FLOOR:
                        bf -= ls * a_m * c_m * gf ** (c_m - 1.0)
                if chain:  # the adjoint of the detector's input v0 at n + 1 (v = v0 gp in fb)
                    lbuf[f, n + 1, L_ALPHA] = ra[SA_V] * r[SF_GP] if fb else ra[SA_V]
            xn = sbuf[f, n, 6]
            q = output_forward(gf, gs, xn, m, Gm, kd, bd, t2c, two, tube, True, sbuf[f, n, 5])
            qa = output_adjoints(xn, q[OF_G], Gm, q[OF_Y], q[OF_T1], q[OF_T2], q[OF_DEN], kd, m, rbuf[f, n], two, tube)
            lf = bf + qa[OA_GF]
            ls = bs + qa[OA_GS]
            lp = bp
            lbuf[f, n, L_LF] = lf
            lbuf[f, n, L_LS] = ls
            lbuf[f, n, L_LP] = lp
            if chain:  # the audio path's adjoint of the chain's output: w = x g G
                lbuf[f, n, L_BETA] = qa[OA_W] * q[OF_G] * Gm
        if chain and nv > 0:
            if fb:  # the detector at 0 reads the state before the frame (no derivatives)
                lbuf[f, 0, L_ALPHA] = 0.0
            else:  # the detector's step at 0, from the initial state, with lam[0]
                r = step_forward(init[f, S_GF], init[f, S_GS], init[f, S_PP], sbuf[f, 0, 6], hbuf[f, 0], thr, slope,
                                 Wk, a_at, a_rf + init[f, S_HM] * d_r if prel else a_rf, a_rs, m, a_p, k_sc, fb, knee,
                                 rms, two, sc, True, sbuf[f, 0, 3], sbuf[f, 0, 4])
                ra = step_adjoints(r[SF_V0], r[SF_V], r[SF_GH], r[SF_AF], r[SF_AS], r[SF_KV_O], r[SF_U_P], slope, m,
                                   a_p, lbuf[f, 0, L_LF], lbuf[f, 0, L_LS], lbuf[f, 0, L_LP], fb, rms, two)
                lbuf[f, 0, L_ALPHA] = ra[SA_V]
            # The chain's adjoint sweep: sigma[n], the adjoint of the chain's output (the audio path, the detector
            # at n (ff) or n + 1 (fb), and through the side-chain high-pass), back through core and first stage.
            # Their adjoints weight the chain's second-order terms in sweep 3 (L_CHAIN, L_ALPHA, L_BETA).
            a_next = 0.0  # alpha[n + 1]
            zeta = 0.0  # the high-pass output's adjoint at n + 1
            kfl = 0.0  # the core flux's adjoint after n
            ku1 = 0.0  # in2's output's adjoint at n + 1, n + 2 (or inhp's low-pass's at n + 1)
            ku2 = 0.0
            for n in range(nv - 1, -1, -1):
                al = lbuf[f, n, L_ALPHA]
                at = a_next if fb else al
                a_next = al
                sig = lbuf[f, n, L_BETA] + at
                if sc:  # h[n] = hp_g (x[n] - x[n-1]) + hp_a1 h[n-1], transposed
                    z = k_sc * at + hp_a1 * zeta
                    sig += hp_g * (z - zeta)
                    zeta = z
                if core:  # v = s - l - b l^3, l' = l + a v, transposed
                    kvc = sig + c_a * kfl
                    lb = lbuf[f, n, L_CHAIN]
                    lbuf[f, n, L_ALPHA] = kvc
                    lbuf[f, n, L_BETA] = kfl
                    kfl = kfl - kvc * (1.0 + 3.0 * c_b * lb * lb)
                    sig = kvc
                if in2:  # u = g d - a1 u1 - a2 u2, transposed
                    ku = sig - i_a1 * ku1 - i_a2 * ku2
                    ku2 = ku1
                    ku1 = ku
                    lbuf[f, n, L_CHAIN] = ku
                if inhp:  # l' = l + a (x - l), out x - l', transposed
                    ku1 = -sig + (1.0 - a_in) * ku1
                    lbuf[f, n, L_CHAIN] = ku1
    # ---------------------------------------------------------------- 3. forward: tangents and sums
    # Second-order terms go to U (dense rank-one terms, full square) and R (rows of
    # coefficient-tangent products); at the end H = U + R + R^T.
    T = tan[f]
    tGF, tGS, tPP, tGP, tV, tPV, tA = T[GF], T[GS], T[PP], T[GP], T[V], T[PV], T[A]
    tG, tW, tZ1, tY, tYP, tPJ, tLO, tZ = T[G], T[W], T[Z1], T[Y], T[YP], T[PJ], T[LO], T[Z]
    U = hacc[f]
    R = racc[f]
    gr = gacc[f]
    for i in range(P):
        gr[i] = 0.0
        for k in range(N_TANGENTS):
            T[k, i] = 0.0
        for j in range(P):
            U[i, j] = 0.0
            R[i, j] = 0.0
    k0, k1, k2 = pos[C_THRESHOLD], pos[C_SLOPE], pos[C_KNEE]
    k6, k7, k8, k9, k10, k11 = pos[C_SLOW_MIX], pos[C_RMS], pos[C_SHELF], pos[C_MAKEUP], pos[C_DRIVE], pos[C_BIAS]
    kao, kko, ko1, ko2 = pos[C_OUTPUT_SHELF], pos[C_OUTPUT_SHELF_K], pos[C_OUT2_A1], pos[C_OUT2_A2]
    tY1, tY2, tZ1O, tZ2O = T[Y1], T[Y2], T[Z1O], T[Z2O]
    iy1, iy2 = Y1, Y2  # out2's input rows alternate (no copies)
    c0 = I_A1 if in2 else (I_CA if core else I_INHP)  # the slots in use: [c0, c1), all of them coefficients
    c1 = I_INHP + 1 if inhp else (I_CB + 1 if core else I_A2 + 1)
    CT = ct[f]
    for r_ in range(N_CHAIN_ROWS):
        for k in range(N_CHAIN):
            CT[r_, k] = 0.0
    rx, rxp, rh, rhp = R_XA, R_XB, R_HA, R_HB  # the chain's output and its high-pass: now, one sample before
    rxd, rhd = rx, rh  # the rows the detector reads
    v_live = fb or (sc and k8 >= 0) or chain  # whether the detector tangent V can be non-zero
    gf = init[f, S_GF]
    gs = init[f, S_GS]
    pp = init[f, S_PP]
    li = init[f, S_LI]
    ix1 = init[f, S_IX1]
    ix2 = init[f, S_IX2]
    iu1 = init[f, S_IU1]
    iu2 = init[f, S_IU2]
    fl = init[f, S_FL]
    lo = init[f, S_LO]
    oy1 = init[f, S_OY1]
    oy2 = init[f, S_OY2]
    oz1 = init[f, S_OZ1]
    oz2 = init[f, S_OZ2]
    hm = init[f, S_HM]
    tHM, tHMP, tGFP, tDG = T[HM], T[HMP], T[GFP], T[DG]
    krf, krl, kam, kmc = pos[C_RELEASE], pos[C_RELEASE_LONG], pos[C_MEMORY], pos[C_MEMORY_EXP]
    for n in range(nv):
        xn = sbuf[f, n, 6]
        hd = hbuf[f, n]
        xd = (sbuf[f, n - 1, 6] if n > 0 else init[f, S_XP]) if fb else xn
        if chain:  # the input chain's values again, with their first derivatives (CT) and second-order terms
            sv = xbuf[o0 + n]
            rn = rxp  # the row of the new output (the oldest one is overwritten; the first stage sets its slots)
            if core:
                CT[rn, I_CA] = 0.0
                CT[rn, I_CB] = 0.0
            if inhp:  # l += a (x - l), x <- x - l: first in the chain, so only slot I_INHP
                if hess and cp[I_INHP] >= 0:  # the bilinear term -a l: -(e_a (x) T_l + T_l (x) e_a)
                    R[cp[I_INHP], cp[I_INHP]] -= lbuf[f, n, L_CHAIN] * CT[R_LI, I_INHP]
                CT[R_LI, I_INHP] = (1.0 - a_in) * CT[R_LI, I_INHP] + (sv - li)
                li = li + a_in * (sv - li)
                sv = sv - li
                CT[rn, I_INHP] = -CT[R_LI, I_INHP]
            if in2:  # u = (1 - a1 + a2)/4 d - a1 u1 - a2 u2, d = x - 2 x1 + x2: first in the chain (d is constant)
                if hess:  # the bilinear terms -a1 u1, -a2 u2: -(e_a1 (x) T_u1 + T_u1 (x) e_a1) - (... a2, u2)
                    ku = lbuf[f, n, L_CHAIN]
                    for k in range(I_A1, I_A2 + 1):
                        R[cp[I_A1], cp[k]] -= ku * CT[R_U1, k]
                        R[cp[I_A2], cp[k]] -= ku * CT[R_U2, k]
                d = sv - 2.0 * ix1 + ix2
                for k in range(I_A1, I_A2 + 1):
                    CT[rn, k] = -i_a1 * CT[R_U1, k] - i_a2 * CT[R_U2, k]
                CT[rn, I_A1] += -0.25 * d - iu1
                CT[rn, I_A2] += 0.25 * d - iu2
                u = i_g * d - i_a1 * iu1 - i_a2 * iu2
                for k in range(I_A1, I_A2 + 1):
                    CT[R_U2, k] = CT[R_U1, k]
                    CT[R_U1, k] = CT[rn, k]
                ix2 = ix1
                ix1 = sv
                iu2 = iu1
                iu1 = u
                sv = u
            if core:  # v = s - l - b l^3, l += a v
                lq = 1.0 + 3.0 * c_b * fl * fl
                if hess:  # -b l^3: -6 b l T_l (x) T_l - 3 l^2 (e_b (x) T_l + T_l (x) e_b), by v's adjoint
                    kvc = lbuf[f, n, L_ALPHA]
                    cq = -3.0 * kvc * c_b * fl  # half of it on the diagonal (H = R + R^T)
                    cl = -3.0 * kvc * fl * fl
                    for k in range(c0, c1):
                        tl = CT[R_FL, k]
                        pk = cp[k]
                        R[pk, pk] += cq * tl * tl
                        tq = 2.0 * cq * tl
                        for kk in range(k + 1, c1):
                            R[pk, cp[kk]] += tq * CT[R_FL, kk]
                        R[cp[I_CB], pk] += cl * tl
                for k in range(c0, c1):
                    CT[rn, k] -= lq * CT[R_FL, k]
                CT[rn, I_CB] -= fl * fl * fl
                sv = sv - fl - c_b * fl * fl * fl
                if hess:  # l += a v: e_a (x) T_v + T_v (x) e_a, by the new flux's adjoint
                    kl = lbuf[f, n, L_BETA]
                    for k in range(c0, c1):
                        R[cp[I_CA], cp[k]] += kl * CT[rn, k]
                for k in range(c0, c1):
                    CT[R_FL, k] += c_a * CT[rn, k]
                CT[R_FL, I_CA] += sv
                fl = fl + c_a * sv
            rxp = rx
            rx = rn
            if sc:  # the side-chain high-pass of the chain's output, into the older of its two rows
                rhn = rhp
                for k in range(c0, c1):
                    CT[rhn, k] = hp_g * (CT[rx, k] - CT[rxp, k]) + hp_a1 * CT[rh, k]
                rhp = rh
                rh = rhn
            rxd = rxp if fb else rx
            rhd = rhp if fb else rh
        r = step_forward(gf, gs, pp, xd, hd, thr, slope, Wk, a_at, a_rf + hm * d_r if prel else a_rf, a_rs, m, a_p,
                         k_sc, fb, knee, rms, two, sc, True, sbuf[f, n, 3], sbuf[f, n, 4])
        v0, gp, v, e, u_p, u_pp, kv = r[SF_V0], r[SF_GP], r[SF_V], r[SF_E], r[SF_U_P], r[SF_U_PP], r[SF_KV]
        kv_o, kv_w, kv_oo, kv_ow, kv_ww, gh = r[SF_KV_O], r[SF_KV_W], r[SF_KV_OO], r[SF_KV_OW], r[SF_KV_WW], r[SF_GH]
        af, cf, as_, cs = r[SF_AF], r[SF_CF], r[SF_AS], r[SF_CS]
        # Tangents of the step: GP (feedback gain), V (detector), PV (mean square) and
        # A = alpha PV + s0 e0 + s1 e1 + s2 e2 (exponent of the static gain).
        if fb:
            for i in range(PL):
                tGP[i] = tGF[i] + m * (tGS[i] - tGF[i]) if two else tGF[i]
            if two and k6 >= 0:
                tGP[k6] += gs - gf
            for i in range(PL):
                tV[i] = v0 * tGP[i]
        if sc and k8 >= 0:
            tV[k8] = (gp if fb else 1.0) * hd + (v0 * tGP[k8] if fb else 0.0)
        if chain:  # v0 = xd + k_sc hd, both from the chain's output
            for k in range(c0, c1):
                pk = cp[k]
                if pk >= 0:
                    dv0 = CT[rxd, k] + (k_sc * CT[rhd, k] if sc else 0.0)
                    tV[pk] = (gp if fb else 1.0) * dv0 + (v0 * tGP[pk] if fb else 0.0)
        for i in range(PL):
            tPV[i] = (1.0 - a_p) * tPP[i] + a_p * 2.0 * v * tV[i] if rms else 2.0 * v * tV[i]
        if rms and k7 >= 0:
            tPV[k7] += e - pp
        alpha = -K_DB * slope * kv_o * u_p
        s0 = K_DB * slope * kv_o
        s1 = -K_DB * kv
        s2 = -K_DB * slope * kv_w
        for i in range(PL):
            tA[i] = alpha * tPV[i]
        if k0 >= 0:
            tA[k0] += s0
        if k1 >= 0:
            tA[k1] += s1
        if k2 >= 0:
            tA[k2] += s2
        kf = pos[cf]
        ks = pos[cs] if two else -1
        w_pv = 0.0
        w_v = 0.0
        # prel: the release a_rf + hm d_r (on the release branch: a product of the memory and the coefficients) and
        # the memory hm' = hm + a_m (s - hm), s = 1 - gf^c (charged by the gain before the step).
        rel = prel and cf == C_RELEASE
        w_rf = 1.0 - hm if rel else 1.0  # the release column's share of the coefficient
        w_hd = 0.0  # weights of prel's dense terms: hm x (gh - gf) and s's curvature in gf
        w_gg = 0.0
        if prel:
            live = gf > MEMORY_GAIN_FLOOR  # below the floor the memory does not see the gain
            gq = gf if live else MEMORY_GAIN_FLOOR
            gc = gq ** c_m
            lng = math.log(gq)
            s_g = -c_m * gc / gq if live else 0.0
            s_c = -gc * lng
            for i in range(PL):
                tGFP[i] = tGF[i]
                tHMP[i] = tHM[i]
        if hess:
            lf = lbuf[f, n, L_LF]
            ls = lbuf[f, n, L_LS]
            lp = lbuf[f, n, L_LP]
            ra = step_adjoints(v0, v, gh, af, as_, kv_o, u_p, slope, m, a_p, lf, ls, lp, fb, rms, two)
            a_b, kv_b, o_b, p_b, e_b, v_b, gp_b = ra[SA_A], ra[SA_KV], ra[SA_O], ra[SA_P], ra[SA_E], ra[SA_V], ra[SA_GP]
            # Curvature of the step, weighted by lam[n]: dense parts on PV and V ...
            w_pv = a_b * alpha * alpha + kv_b * kv_oo * u_p * u_p + o_b * u_pp
            w_v = 2.0 * e_b  # e = v^2 (in ff V is non-zero only on k8 and the input chain's coefficients)
            # ... rows of coefficients against PV (exp, exponent, knee) ...
            r0 = a_b * alpha * s0 - kv_b * kv_oo * u_p
            r1 = a_b * alpha * s1 - K_DB * a_b * kv_o * u_p
            r2 = a_b * alpha * s2 + kv_b * kv_ow * u_p
            for i in range(PL):
                pv = tPV[i]
                if k0 >= 0:
                    R[k0, i] += r0 * pv
                if k1 >= 0:
                    R[k1, i] += r1 * pv
                if k2 >= 0:
                    R[k2, i] += r2 * pv
            # ... ballistics (d2/dalpha d(gh - g)), mean square, feedback gain ...
            if kf >= 0:
                for i in range(PL):
                    R[kf, i] += lf * w_rf * (gh * tA[i] - tGF[i])
            if prel:
                dgv = gh - gf
                for i in range(PL):  # the tangent of gh - gf (for the release's product with the memory)
                    tDG[i] = gh * tA[i] - tGFP[i]
                if rel:  # alpha = (1 - hm) a_rf + hm a_rl: its tangent against gh - gf's, and hm x (a_rl - a_rf)
                    w_hd = lf * d_r
                    if krl >= 0:
                        for i in range(PL):
                            R[krl, i] += lf * (hm * tDG[i] + dgv * tHMP[i])
                    if krf >= 0:
                        for i in range(PL):
                            R[krf, i] -= lf * dgv * tHMP[i]
                lh = ls  # the memory's adjoint (the slow gain's slot)
                ws = lh * a_m  # s's adjoint
                w_gg = -ws * c_m * (c_m - 1.0) * gc / (gq * gq) if live else 0.0
                if kam >= 0:  # a_m x (s - hm)
                    for i in range(PL):
                        R[kam, i] += lh * (s_g * tGFP[i] - tHMP[i])
                    if kmc >= 0:
                        R[kam, kmc] += lh * s_c
                if kmc >= 0:  # s(gf, c): d2/dc dgf, d2/dc2
                    s_gc = -(gc / gq) * (1.0 + c_m * lng) if live else 0.0
                    for i in range(PL):
                        R[kmc, i] += ws * s_gc * tGFP[i]
                    R[kmc, kmc] += 0.5 * ws * (-gc * lng * lng)
            if ks >= 0:
                for i in range(PL):
                    R[ks, i] += ls * (gh * tA[i] - tGS[i])
            if rms and k7 >= 0:
                for i in range(PL):
                    R[k7, i] += p_b * (2.0 * v * tV[i] - tPP[i])
            if fb and sc and k8 >= 0:
                for i in range(PL):
                    R[k8, i] += v_b * hd * tGP[i]
            if fb and two and k6 >= 0:
                for i in range(PL):
                    R[k6, i] += gp_b * (tGS[i] - tGF[i])
            if chain and sc and k8 >= 0:  # v0 = xd + k_sc hd with the chain's output (v = v0 gp in fb): d2/dk_sc dc
                v0_b = v_b * gp if fb else v_b
                for k in range(c0, c1):
                    if cp[k] >= 0:
                        R[k8, cp[k]] += v0_b * CT[rhd, k]
            # (The chain's own second-order terms came with its adjoint sweep; in fb, v = v0 gp adds v_b dv0 GP to
            # each coefficient's row: with the audio path's row, below.)
            # ... and coefficient pairs: exp (a_b s s^T), exponent, knee.
            sv0 = s0 if k0 >= 0 else 0.0
            sv1 = s1 if k1 >= 0 else 0.0
            sv2 = s2 if k2 >= 0 else 0.0
            if k0 >= 0:
                R[k0, k0] += 0.5 * (a_b * sv0 * sv0 + kv_b * kv_oo)
                R[k0, k1 if k1 >= 0 else k0] += a_b * sv0 * sv1 + K_DB * a_b * kv_o * (k1 >= 0)
                R[k0, k2 if k2 >= 0 else k0] += a_b * sv0 * sv2 - kv_b * kv_ow * (k2 >= 0)
            if k1 >= 0:
                R[k1, k1] += 0.5 * a_b * sv1 * sv1
                R[k1, k2 if k2 >= 0 else k1] += a_b * sv1 * sv2 - K_DB * a_b * kv_w * (k2 >= 0)
            if k2 >= 0:
                R[k2, k2] += 0.5 * (a_b * sv2 * sv2 + kv_b * kv_ww)
        # New state tangents.
        for i in range(PL):
            dgh = gh * tA[i]
            tGF[i] = (1.0 - af) * tGF[i] + af * dgh
            if two:
                tGS[i] = (1.0 - as_) * tGS[i] + as_ * dgh
            tPP[i] = tPV[i]
        if kf >= 0:
            tGF[kf] += w_rf * (gh - gf)
        if ks >= 0:
            tGS[ks] += gh - gs
        if prel:
            if rel:
                for i in range(PL):
                    tGF[i] += (gh - gf) * d_r * tHMP[i]
                if krl >= 0:
                    tGF[krl] += (gh - gf) * hm
            for i in range(PL):
                tHM[i] = (1.0 - a_m) * tHMP[i] + a_m * s_g * tGFP[i]
            if kam >= 0:
                tHM[kam] += 1.0 - gc - hm
            if kmc >= 0:
                tHM[kmc] += a_m * s_c
            hm = hm + a_m * (1.0 - gc - hm)
        gf = r[SF_GF]
        gs = r[SF_GS]
        pp = r[SF_P]
        # Output and its curvature, weighted by rho[n].
        q = output_forward(gf, gs, xn, m, Gm, kd, bd, t2c, two, tube, True, sbuf[f, n, 5])
        g, w, y, t1, t2, s2o, num, den = q
        rho = rbuf[f, n]
        if hess:
            qa = output_adjoints(xn, g, Gm, y, t1, t2, den, kd, m, rho, two, tube)
            den_b, s2_b, t2_b, t1_b = qa[OA_DEN], qa[OA_S2], qa[OA_T2], qa[OA_T1]
            z1_b, z2_b, w_b, g_b = qa[OA_Z1], qa[OA_Z2], qa[OA_W], qa[OA_G]
        for i in range(PL):
            tG[i] = tGF[i] + m * (tGS[i] - tGF[i]) if two else tGF[i]
        if two and k6 >= 0:
            tG[k6] += gs - gf
        for i in range(P):
            tW[i] = xn * Gm * tG[i]
        if k9 >= 0:
            tW[k9] += xn * g
        if chain:  # w = x g G with x the chain's output
            for k in range(c0, c1):
                if cp[k] >= 0:
                    tW[cp[k]] += CT[rx, k] * g * Gm
        if hess:
            if k9 >= 0:
                for i in range(PL):  # w = x g G: d2/dg dG
                    R[k9, i] += w_b * xn * tG[i]
            if chain:
                for k in range(c0, c1):
                    pk = cp[k]
                    if pk < 0:
                        continue
                    tx = CT[rx, k]
                    cg = w_b * Gm * tx
                    if fb:  # and the detector's row: v = v0 gp, d2/dv0 dgp (v_b of this sample's step)
                        cd = v_b * (CT[rxd, k] + (k_sc * CT[rhd, k] if sc else 0.0))
                        for i in range(PL):
                            R[pk, i] += cd * tGP[i] + cg * tG[i]
                    else:
                        for i in range(PL):
                            R[pk, i] += cg * tG[i]
                    if k9 >= 0:
                        R[pk, k9] += w_b * g * tx
            if two and k6 >= 0:  # g = gf + m (gs - gf)
                for i in range(PL):
                    R[k6, i] += g_b * (tGS[i] - tGF[i])
        w_z = 0.0
        if tube:
            d1 = 1.0 - t1 * t1
            d2 = 1.0 - t2 * t2
            for i in range(P):
                tZ1[i] = kd * tW[i]
            if k10 >= 0:
                tZ1[k10] += w + bd
            if k11 >= 0:
                tZ1[k11] += kd
            # (k, b) components of the sparse tangents of t2 = tanh(k b), s2 = 1 - t2^2, den = k s2.
            t2k = d2 * bd
            t2b = d2 * kd
            s2k = -2.0 * t2 * t2k
            s2b = -2.0 * t2 * t2b
            dnk = kd * s2k + s2o
            dnb = kd * s2b
            if hess:
                w_z = t1_b * (-2.0 * t1 * d1)  # tanh(z1)'' on Z1 Z1^T
                wnd = -rho / (den * den)  # d2(num/den)/dnum dden
                if k10 >= 0:
                    for i in range(P):
                        R[k10, i] += z1_b * tW[i] + wnd * d1 * dnk * tZ1[i]
                if k11 >= 0:
                    for i in range(P):
                        R[k11, i] += wnd * d1 * dnb * tZ1[i]
                # The (k, b) block of the sparse terms, as full symmetric entries.
                wdd = 2.0 * rho * num / (den * den * den)
                wt2 = t2_b * (-2.0 * t2 * d2)
                hkk = -2.0 * wnd * t2k * dnk + wdd * dnk * dnk + 2.0 * den_b * s2k - 2.0 * s2_b * t2k * t2k \
                    + wt2 * bd * bd
                hkb = z1_b - wnd * (t2k * dnb + t2b * dnk) + wdd * dnk * dnb + den_b * s2b \
                    - 2.0 * s2_b * t2k * t2b + wt2 * bd * kd + z2_b
                hbb = -2.0 * wnd * t2b * dnb + wdd * dnb * dnb - 2.0 * s2_b * t2b * t2b + wt2 * kd * kd
                if k10 >= 0:
                    R[k10, k10] += 0.5 * hkk
                if k11 >= 0:
                    R[k11, k11] += 0.5 * hbb
                if k10 >= 0 and k11 >= 0:
                    R[k10, k11] += hkb
            for i in range(P):
                tY[i] = d1 * tZ1[i] / den
            if k10 >= 0:
                tY[k10] += (-t2k - y * dnk) / den
            if k11 >= 0:
                tY[k11] += (-t2b - y * dnb) / den
        else:
            for i in range(P):
                tY[i] = tW[i]
        # Output shelf: l = l_prev + a (y - l_prev), z = y + k (y - l); bilinear terms weighted
        # by the adjoints mu (of l) and rho_z (of z).
        tO = tY
        rho_o = rho
        if outsh:
            rho_o = lbuf[f, n, L_RO]
            mu = lbuf[f, n, L_MU]
            l_prev = lo
            lo = lo + a_out * (y - lo)
            if hess and kao >= 0:
                for i in range(P):
                    R[kao, i] += mu * (tY[i] - tLO[i])
            for i in range(P):
                tLO[i] = (1.0 - a_out) * tLO[i] + a_out * tY[i]
            if kao >= 0:
                tLO[kao] += y - l_prev
            for i in range(P):
                tZ[i] = (1.0 + k_out) * tY[i] - k_out * tLO[i]
            if kko >= 0:
                tZ[kko] += y - lo
                if hess:
                    for i in range(P):
                        R[kko, i] += rho_o * (tY[i] - tLO[i])
            tO = tZ
        if out2:  # z = g (y + 2 y1 + y2) - a1 z1 - a2 z2, g = (1 + a1 + a2)/4; bilinear terms weighted by lam
            rho_o = lbuf[f, n, L_RO]
            lam = lbuf[f, n, L_MU]
            dy = y + 2.0 * oy1 + oy2
            z = o_g * dy - o_a1 * oz1 - o_a2 * oz2
            for i in range(P):  # Z holds the tangent of y + 2 y1 + y2
                tZ[i] = tY[i] + 2.0 * tY1[i] + tY2[i]
            if hess:
                if ko1 >= 0:
                    for i in range(P):
                        R[ko1, i] += lam * (0.25 * tZ[i] - tZ1O[i])
                if ko2 >= 0:
                    for i in range(P):
                        R[ko2, i] += lam * (0.25 * tZ[i] - tZ2O[i])
            for i in range(P):  # the new output's tangent into the oldest output row, which then becomes the newest
                tZ2O[i] = o_g * tZ[i] - o_a1 * tZ1O[i] - o_a2 * tZ2O[i]
            if ko1 >= 0:
                tZ2O[ko1] += 0.25 * dy - oz1
            if ko2 >= 0:
                tZ2O[ko2] += 0.25 * dy - oz2
            tO = tZ2O
            tZ2O = tZ1O
            tZ1O = tO
            iy1, iy2 = iy2, iy1  # the oldest input row takes the new input
            tY1 = T[iy1]
            tY2 = T[iy2]
            for i in range(P):
                tY1[i] = tY[i]
            oy2 = oy1
            oy1 = y
            oz2 = oz1
            oz1 = z
        # Gradient, pre-emphasised Jacobian; all dense rank-one terms in one sweep of U.
        for i in range(P):
            gr[i] += rho_o * tO[i]
        if not hess:
            continue
        w_j = 1.0 if n >= start else 0.0
        for i in range(P):
            tPJ[i] = tO[i] - tYP[i] + pole * tPJ[i]
            tYP[i] = tO[i]
        # The upper triangle only (U is symmetric); the V and Z1 terms only where they can be non-zero.  The loop
        # states' tangents (PV, V, prel's) are zero past PL: their terms stop there, Z1's and PJ's run on.
        if prel:  # and prel's: hm x (gh - gf) on the release branch, s's curvature in gf (all in one sweep of U)
            for i in range(PL):
                c_pv = w_pv * tPV[i]
                c_v = w_v * tV[i]
                c_z = w_z * tZ1[i]  # zero without tube (w_z), as c_v without a live detector tangent (tV)
                c_j = w_j * tPJ[i]
                c_h = w_hd * tHMP[i]
                c_d = w_hd * tDG[i]
                c_g = w_gg * tGFP[i]
                Ui = U[i]
                for j in range(i, PL):
                    Ui[j] += (c_pv * tPV[j] + c_v * tV[j] + c_z * tZ1[j] + c_j * tPJ[j] + c_h * tDG[j]
                              + c_d * tHMP[j] + c_g * tGFP[j])
        elif tube:
            for i in range(PL):
                c_pv = w_pv * tPV[i]
                c_v = w_v * tV[i]
                c_z = w_z * tZ1[i]
                c_j = w_j * tPJ[i]
                Ui = U[i]
                for j in range(i, PL):
                    Ui[j] += c_pv * tPV[j] + c_v * tV[j] + c_z * tZ1[j] + c_j * tPJ[j]
        elif v_live:
            for i in range(PL):
                c_pv = w_pv * tPV[i]
                c_v = w_v * tV[i]
                c_j = w_j * tPJ[i]
                Ui = U[i]
                for j in range(i, PL):
                    Ui[j] += c_pv * tPV[j] + c_v * tV[j] + c_j * tPJ[j]
        else:
            for i in range(PL):
                c_pv = w_pv * tPV[i]
                c_j = w_j * tPJ[i]
                Ui = U[i]
                for j in range(i, PL):
                    Ui[j] += c_pv * tPV[j] + c_j * tPJ[j]
        for i in range(P):  # the output's own parameters' columns: Z1's and PJ's terms alone (w_z = 0 without tube)
            c_z = w_z * tZ1[i]
            c_j = w_j * tPJ[i]
            Ui = U[i]
            for j in range(max(i, PL), P):
                Ui[j] += c_z * tZ1[j] + c_j * tPJ[j]
    if not hess:
        return
    for i in range(P):
        for j in range(i, P):
            hij = U[i, j] + R[i, j] + R[j, i]
            U[i, j] = hij
            U[j, i] = hij
    return
