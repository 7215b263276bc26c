"""Plain Python reference loops (float64 numpy) that the backends are tested against."""

from __future__ import annotations

import numpy as np


def recurrence_loop(a, x, y0):
    a, x, y0 = (np.asarray(v, dtype=np.float64) for v in (a, x, y0))
    y = np.empty_like(x)
    for b in range(x.shape[0]):
        s = y0[b]
        for n in range(x.shape[1]):
            s = a[b, n] * s + x[b, n]
            y[b, n] = s
    return y


def allpole_loop(x, A, zi):
    x, A, zi = (np.asarray(v, dtype=np.float64) for v in (x, A, zi))
    B, T = x.shape
    N = A.shape[2]
    y = np.empty_like(x)
    for b in range(B):
        hist = list(zi[b])  # hist[k-1] = y[n-k]
        for n in range(T):
            v = x[b, n] - sum(A[b, n, i] * hist[i] for i in range(N))
            y[b, n] = v
            hist = [v] + hist[:-1]
    return y


def lfilter_loop(x, a, b):
    """Direct form I difference equation, a[0] normalised."""
    x = np.asarray(x, dtype=np.float64)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a, b = a / a[0], b / a[0]
    y = np.zeros_like(x)
    for r in range(x.shape[0]):
        for n in range(x.shape[1]):
            acc = sum(b[j] * x[r, n - j] for j in range(len(b)) if n - j >= 0)
            acc -= sum(a[i] * y[r, n - i] for i in range(1, len(a)) if n - i >= 0)
            y[r, n] = acc
    return y


def greybox_loop(x, params: dict, spec, sample_rate: int):
    """Plain per-sample loop of a grey-box model from its documented equations.

    x: (T,) float64 numpy; params: physical parameters; returns y (T,).
    """
    import math

    import numpy as np

    def coef(ms):
        return 1.0 - math.exp(-2200.0 / (ms * sample_rate))

    fb, knee, rms, two, sc, tube = (spec.feedback, spec.has("knee"), spec.has("rms"), spec.has("2rel"),
                                    spec.has("sc"), spec.has("tube"))
    R, T = params["ratio"], params["threshold_db"]
    slope = R - 1.0 if fb else 1.0 - 1.0 / R
    a_at, a_rf = coef(params["attack_ms"]), coef(params["release_ms"])
    a_rs = coef(params["release_slow_ms"]) if two else a_rf
    m = params["slow_mix"] if two else 0.0
    a_p = coef(params["rms_ms"]) if rms else 1.0
    k_sc = 10 ** (params["sc_shelf_db"] / 20) - 1 if sc else 0.0
    gain = 10 ** (params["makeup_db"] / 20)
    a_in = 1.0 - math.exp(-2.0 * math.pi * params["input_hp_hz"] / sample_rate) if spec.has("inhp") else 0.0
    if spec.has("outshelf"):
        a_out = 1.0 - math.exp(-2.0 * math.pi * params["output_shelf_hz"] / sample_rate)
        k_out = 10 ** (params["output_shelf_db"] / 20) - 1
    l_in = l_out = 0.0
    x = np.array(x, dtype=np.float64)
    for n in range(len(x)):  # input high-pass (transformer low-frequency roll-off)
        l_in += a_in * (x[n] - l_in)
        x[n] -= l_in
    if spec.has("in2"):  # second-order high-pass, analogue prototype through the pre-warped bilinear transform
        x = _analogue_biquad(x, "high", params["input_hp2_hz"], params["input_q"], sample_rate)
    if spec.has("core"):  # saturating core: v = u - c(l), l += a v, c(l) = l + b l^3
        a_c = 1.0 - math.exp(-2.0 * math.pi * params["core_hz"] / sample_rate)
        b_c = 10 ** (-params["core_sat_db"] / 10)
        flux = 0.0
        for n in range(len(x)):
            x[n] = x[n] - flux - b_c * flux ** 3
            flux += a_c * x[n]
    wq = math.tan(math.pi * 1000.0 / sample_rate)
    hp_b, hp_a = 1 / (1 + wq), (1 - wq) / (1 + wq)
    gf = gs = 1.0
    p = memory = 0.0
    hp_prev = x_prev = 0.0
    y = np.empty_like(x)
    for n in range(len(x)):
        hp = hp_b * (x[n] - x_prev) + hp_a * hp_prev
        if fb:
            g_prev = gf + m * (gs - gf)
            v = (x_prev + k_sc * hp_prev) * g_prev
        else:
            v = x[n] + k_sc * hp
        p = p + a_p * (v * v - p) if rms else v * v
        u = 10 * math.log10(max(p, 1e-16))
        o = u - T
        if knee:
            W = params["knee_db"]
            kv = 0.0 if o <= -W / 2 else (o if o >= W / 2 else (o + W / 2) ** 2 / (2 * W))
        else:
            kv = max(o, 0.0)
        gh = 10 ** (-slope * kv / 20)
        release = a_rf
        if spec.has("prel"):  # program-dependent release: a memory of the gain reduction (in dB, from the gain
            # before the step) moves the release coefficient towards the long release's
            release = a_rf + memory * (coef(params["release_long_ms"]) - a_rf)
            charge = 1.0 - math.exp(20.0 * math.log10(max(gf, 1e-12)) / params["memory_db"])
            memory += coef(params["memory_ms"]) * (charge - memory)
        gf += (a_at if gh < gf else release) * (gh - gf)
        gs += (a_at if gh < gs else a_rs) * (gh - gs)
        g = gf + m * (gs - gf) if two else gf
        w = x[n] * g * gain
        if tube:
            k, b = params["drive"], params["bias"]
            w = (math.tanh(k * (w + b)) - math.tanh(k * b)) / (k * (1 - math.tanh(k * b) ** 2))
        if spec.has("outshelf"):  # output high shelf (transformer high-frequency loss)
            l_out += a_out * (w - l_out)
            w = w + k_out * (w - l_out)
        y[n] = w
        hp_prev, x_prev = hp, x[n]
    if spec.has("out2"):
        y = _analogue_biquad(y, "low", params["output_lp_hz"], params["output_q"], sample_rate)
    return y


def _analogue_biquad(x, kind, hz, q, sample_rate):
    """x through the bilinear transform (pre-warped at hz) of s^2/(s^2 + w s/q + w^2) (high) or
    w^2/(...) (low), written from the analogue prototype (scipy), not from the model's coefficients."""
    import math

    import numpy as np
    from scipy import signal

    w = 2 * sample_rate * math.tan(math.pi * hz / sample_rate)  # pre-warped analogue corner (rad/s)
    num = [1.0, 0.0, 0.0] if kind == "high" else [w * w]
    b, a = signal.bilinear(num, [1.0, w / q, w * w], fs=sample_rate)
    return signal.lfilter(b, a, np.asarray(x, dtype=np.float64))
