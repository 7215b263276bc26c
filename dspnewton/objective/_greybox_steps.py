"""Pieces of one grey-box sample: the step's and the output's values and adjoints, shared by the
compiled frame bodies.

Used by the compiled fused passes (:mod:`._greybox_frame`, and :mod:`._fused_frame` for the
pre-emphasis adjoint).  The ``@njit`` functions take and return scalars only (tuples), so the same
compiled functions serve the numba CPU kernel, the numba.cuda kernel (calls of ``@njit`` functions
compile as device functions) and numba's CUDA simulator (plain calls); the one that loops over an
array, :func:`preemphasis_adjoint`, is ``register_jitable`` (compiled inline for CPU and CUDA, plain
Python under the simulator, which passes it its own array type).

The step ``s[n] = F(s[n-1], c)`` and output ``y[n] = Y(s[n], c)`` are those of
:mod:`dspnewton.model.greybox` (see its docstring).  Coefficients c: the columns of the
coefficient table, named by :data:`dspnewton.model.greybox_spec.COEFFICIENTS` (constants ``C_*``);
the result tuples' slots are the constants ``SF_*``, ``SA_*``, ``OF_*``, ``OA_*`` below.
Flags (0/1): fb, knee, rms, two (``2rel``), sc, tube.

Adjoint functions return the adjoints (partial derivatives of a weighted sum
of the outputs) of the intermediate values, which weight the second
derivatives of the elementary operations in the curvature term.
"""

import math

import numba as nb
from numba.extending import register_jitable

from ..model.greybox_spec import C_ATTACK, C_RELEASE, C_RELEASE_SLOW

K_DB = math.log(10.0) / 20.0  # dB -> neper
K_POW = 10.0 / math.log(10.0)  # power ratio -> dB
P_FLOOR = 1e-16

# Slots of the functions' result tuples (module-level ints: numba reads them as compile-time constants).
# step_forward:
(SF_V0, SF_GP, SF_V, SF_E, SF_P, SF_U_P, SF_U_PP, SF_O, SF_KV, SF_KV_O, SF_KV_W, SF_KV_OO, SF_KV_OW, SF_KV_WW, SF_GH,
 SF_AF, SF_CF, SF_AS, SF_CS, SF_GF, SF_GS, SF_U) = range(22)
# step_adjoints:
SA_GH, SA_A, SA_KV, SA_O, SA_P, SA_E, SA_V, SA_GP, SA_GF, SA_GS, SA_PP = range(11)
# output_forward:
OF_G, OF_W, OF_Y, OF_T1, OF_T2, OF_S2, OF_NUM, OF_DEN = range(8)
# output_adjoints:
OA_NUM, OA_DEN, OA_S2, OA_T2, OA_T1, OA_Z1, OA_Z2, OA_W, OA_G, OA_GF, OA_GS = range(11)

_jit = nb.njit(cache=True, nogil=True)


@_jit
def ballistics(gh, g, a_at, a_rel, c_rel):
    """One gain state's ballistics: (coefficient, its column, new state).  Attack (column ``C_ATTACK``)
    while the static gain gh lies below the state g, else the release ``a_rel`` (column ``c_rel``)."""
    if gh < g:
        return a_at, C_ATTACK, g + a_at * (gh - g)
    return a_rel, c_rel, g + a_rel * (gh - g)


@register_jitable  # plain Python when called from Python (numba's CUDA simulator passes it its fake arrays)
def preemphasis_adjoint(buf, f, n_end, pole):
    """In place, ``buf[f, :n_end] <- PE^T(buf[f, :n_end])``: the transposed pre-emphasis ``y[n] = x[n] - pole x[n-1]``
    (an anti-causal recursion), which turns the weighted error into the output's adjoint rho."""
    u_next = 0.0
    for n in range(n_end - 1, -1, -1):
        u = buf[f, n] + pole * u_next
        buf[f, n] = u - u_next
        u_next = u


@_jit
def step_forward(gf, gs, pp, xd, hd, thr, slope, W, a_at, a_rf, a_rs, m, a_p, k_sc, fb, knee, rms, two, sc,
                 pre, u_pre, gh_pre):
    """One step from the previous state (gf, gs, pp) and detector inputs (xd, hd).

    Returns (v0, gp, v, e, p, u_p, u_pp, o, kv, kv_o, kv_w, kv_oo, kv_ow, kv_ww, gh,
    af, cf, as_, cs, gf_new, gs_new, u): the detector value before (v0) and after (v)
    the feedback gain gp, power e and mean square p, the level u (dB), dlevel/dp and
    its derivative, overshoot o, knee value kv and its derivatives in (o, W), static
    gain gh, the chosen ballistics coefficients (af, as_) with their coefficient
    indices (cf, cs; -1 without a slow state) and the new gains.  With ``pre`` the
    level and the static gain are taken from (u_pre, gh_pre) (values of an earlier
    sweep: no logarithm or exponential).
    """
    v0 = xd + k_sc * hd if sc else xd
    gp = gf + m * (gs - gf) if two else gf
    v = v0 * gp if fb else v0
    e = v * v
    p = pp + a_p * (e - pp) if rms else e
    if p > P_FLOOR:
        u = u_pre if pre else K_POW * math.log(p)
        u_p = K_POW / p
        u_pp = -u_p / p
    else:
        u = K_POW * math.log(P_FLOOR)
        u_p = 0.0
        u_pp = 0.0
    o = u - thr
    kv_w = 0.0
    kv_oo = 0.0
    kv_ow = 0.0
    kv_ww = 0.0
    if knee:
        h = 0.5 * W
        if o <= -h:
            kv = 0.0
            kv_o = 0.0
        elif o >= h:
            kv = o
            kv_o = 1.0
        else:
            a = o + h
            kv = a * a / (2.0 * W)
            kv_o = a / W
            q = a / (2.0 * W)
            kv_w = q - 2.0 * q * q
            kv_oo = 1.0 / W
            kv_ow = 0.5 / W - a / (W * W)
            kv_ww = 0.25 / W - a / (W * W) + a * a / (W * W * W)
    else:
        kv = o if o > 0.0 else 0.0
        kv_o = 1.0 if o > 0.0 else 0.0
    gh = gh_pre if pre else math.exp(-K_DB * slope * kv)
    af, cf, gf_new = ballistics(gh, gf, a_at, a_rf, C_RELEASE)
    as_, cs, gs_new = 0.0, -1, gs
    if two:
        as_, cs, gs_new = ballistics(gh, gs, a_at, a_rs, C_RELEASE_SLOW)
    return v0, gp, v, e, p, u_p, u_pp, o, kv, kv_o, kv_w, kv_oo, kv_ow, kv_ww, gh, af, cf, as_, cs, gf_new, gs_new, u


@_jit
def step_adjoints(v0, v, gh, af, as_, kv_o, u_p, slope, m, a_p, lf, ls, lp, fb, rms, two):
    """Adjoints of the step's intermediates for the weights (lf, ls, lp) on the new state.

    Returns (gh_b, a_b, kv_b, o_b, p_b, e_b, v_b, gp_b, gf_b, gs_b, pp_b), where
    ``a = -K slope kv`` is the exponent of gh and (gf_b, gs_b, pp_b) is the
    vector-Jacobian product with the previous state.
    """
    gh_b = lf * af + ls * as_
    gf_b = lf * (1.0 - af)
    gs_b = ls * (1.0 - as_)
    a_b = gh_b * gh
    kv_b = -K_DB * slope * a_b
    o_b = kv_b * kv_o
    p_b = o_b * u_p + (lp if rms else 0.0)
    pp_b = 0.0
    if rms:
        e_b = p_b * a_p
        pp_b = p_b * (1.0 - a_p)
    else:
        e_b = p_b
    v_b = 2.0 * v * e_b
    gp_b = 0.0
    if fb:
        gp_b = v_b * v0
        if two:
            gf_b += gp_b * (1.0 - m)
            gs_b += gp_b * m
        else:
            gf_b += gp_b
    return gh_b, a_b, kv_b, o_b, p_b, e_b, v_b, gp_b, gf_b, gs_b, pp_b


@_jit
def output_forward(gf, gs, x, m, G, k, b, t2, two, tube, pre, t1_pre):
    """Output from the state: returns (g, w, y, t1, t2, s2, num, den).

    g: the mixed gain; w = x g G; with ``tube`` y = num / den, num = tanh(k(w+b)) - t2,
    t2 = tanh(kb) (given: constant per frame), den = k s2, s2 = 1 - t2^2 (unit slope at
    w = 0); else y = w.  With ``pre`` t1 is taken from ``t1_pre`` (an earlier sweep).
    """
    g = gf + m * (gs - gf) if two else gf
    w = x * g * G
    if tube:
        t1 = t1_pre if pre else math.tanh(k * (w + b))
        s2 = 1.0 - t2 * t2
        num = t1 - t2
        den = k * s2
        return g, w, num / den, t1, t2, s2, num, den
    return g, w, w, 0.0, 0.0, 1.0, w, 1.0


@_jit
def output_adjoints(x, g, G, y, t1, t2, den, k, m, yb, two, tube):
    """Adjoints of the output's intermediates for the weight yb on y.

    Returns (num_b, den_b, s2_b, t2_b, t1_b, z1_b, z2_b, w_b, g_b, gf_b, gs_b) with
    z1 = k (w + b), z2 = k b; (gf_b, gs_b) is the vector-Jacobian product with the state.
    """
    num_b = 0.0
    den_b = 0.0
    s2_b = 0.0
    t2_b = 0.0
    t1_b = 0.0
    z1_b = 0.0
    z2_b = 0.0
    if tube:
        num_b = yb / den
        den_b = -yb * y / den
        s2_b = den_b * k
        t1_b = num_b
        t2_b = -num_b - 2.0 * t2 * s2_b
        z1_b = t1_b * (1.0 - t1 * t1)
        z2_b = t2_b * (1.0 - t2 * t2)
        w_b = z1_b * k
    else:
        w_b = yb
    g_b = w_b * x * G
    if two:
        return num_b, den_b, s2_b, t2_b, t1_b, z1_b, z2_b, w_b, g_b, g_b * (1.0 - m), g_b * m
    return num_b, den_b, s2_b, t2_b, t1_b, z1_b, z2_b, w_b, g_b, g_b, 0.0
