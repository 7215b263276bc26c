"""Grey-box levelling-amplifier models: names, parameters and their transforms.

A model is named by its options: the topology (``ff``: the detector reads the
input; ``fb``: it reads the previous output sample) followed by any of

- ``knee``: soft knee of width ``knee_db`` (dB);
- ``rms``: RMS level detector (one-pole mean square, time constant ``rms_ms``);
- ``2rel``: two-stage release: fast (``release_ms``) and slow
  (``release_slow_ms``) ballistics states mixed by ``slow_mix`` (0..1);
- ``prel``: program-dependent release: a memory ``h`` of recent gain reduction,
  ``h[n] = h[n-1] + a_m (1 - g[n-1]^c - h[n-1])`` (time constant ``memory_ms``; ``c = 20 / (ln 10 memory_db)``:
  a steady reduction of ``memory_db`` dB charges it to 1 - 1/e), moves the release coefficient from
  ``release_ms``'s towards ``release_long_ms``'s, ``a_r = a_rf + h (a_rl - a_rf)``: the longer the unit has
  been reducing gain, and the more, the slower it recovers (an optical cell's memory, a FET limiter's
  program-dependent release); instead of ``2rel``;
- ``sc``: first-order high shelf of ``sc_shelf_db`` (dB, corner 1 kHz) before
  the detector;
- ``tube``: output tube-style saturation with ``drive`` and ``bias``;
- ``inhp``: signal-path input high-pass (an input transformer's low-frequency
  roll-off): first-order, corner ``input_hp_hz`` (Hz), before everything else
  (detector and audio path);
- ``outshelf``: signal-path output high shelf (an output transformer's
  high-frequency loss): first-order, corner ``output_shelf_hz`` (Hz) and
  high-frequency gain ``output_shelf_db`` (dB; its lower bound, -40 dB, is a
  low-pass), after everything else,
- ``in2``: signal-path input high-pass of second order (an input transformer's low end, with the resonance
  its source impedance sets): corner ``input_hp2_hz`` (Hz) and ``input_q``; instead of ``inhp``;
- ``core``: the input transformer's saturating core, after the input high-pass: flux
  ``l[n] = l[n-1] + a v[n]`` (a first-order high-pass at ``core_hz`` while linear) and output
  ``v = x - l - b l^3`` (the magnetising current's lowest odd term: distortion grows with the flux, i.e. with
  level and towards low frequencies), ``b = 10^(-core_sat_db / 10)`` (``core_sat_db``: the flux, in dB, at which
  the cubic term equals the linear one);
- ``out2``: signal-path output low-pass of second order (an output transformer's roll-off, with its peak):
  corner ``output_lp_hz`` (Hz) and ``output_q``; instead of ``outshelf``; needs a sample rate above twice
  its highest corner (:data:`~.schema.OUTPUT_LP_TOP_HZ`),

joined by ``+`` in that order, e.g. ``fb+knee+2rel+sc``.  The first-order
stages are one-pole filters discretised from their analogue corners
(``alpha = 1 - exp(-2 pi f / sr)``), the second-order ones bilinear transforms of their analogue
prototypes pre-warped at the corner (:func:`biquad_poles`), so they mean the same at every sample rate.  ``ff5`` is the
published 5-parameter feed-forward model (``ff`` with no option).  Every
model starts with the ``ff5`` parameters (threshold_db, ratio, attack_ms,
release_ms, makeup_db), so an ``ff5`` fit warm-starts any other model.

``ratio`` is the static (steady-state) ratio in both topologies: in ``fb`` the
gain computer's slope is ``R - 1`` dB per dB of *output* over threshold,
which gives the same input/output curve as ``ff`` with ratio R.

Unconstrained parameters theta (P,): the ``ff5`` transforms for the first five
(see :mod:`.params`); the others through ``lo + (hi - lo) sigmoid(u)`` or its
log-scale form ``lo (hi/lo)^sigmoid(u)``, as the parameter table says (:data:`.schema.PARAMETERS`:
each parameter's range and transform).
"""

from __future__ import annotations

import math

import torch

from .names import OPTION_PARAMS, OPTIONS, RECOMMENDED_MODEL, SIGNAL_PATH_OPTIONS, ModelSpec, list_models, parse_model
from .schema import MEMORY_GAIN_FLOOR, OUTPUT_LP_TOP_HZ, PARAMETERS
from .params import check_sample_rate, ms_to_coef, physical_to_theta, theta_to_physical
from .transforms import check_ranges, sigmoid_inverse, sigmoid_map

__all__ = [
    "OPTIONS", "OPTION_PARAMS", "ModelSpec", "parse_model", "list_models", "RECOMMENDED_MODEL", "EXTRA_RANGES",
    "EXTRA_DEFAULTS",
    "model_theta_to_physical", "model_physical_to_theta", "SC_CORNER_HZ", "SIGNAL_PATH_OPTIONS", "hz_to_coef",
    "biquad_poles", "check_output_lp_rate", "MEMORY_GAIN_FLOOR",
]

# name: (lo, hi, log-scale)
EXTRA_RANGES = {p.name: (p.lo, p.hi, p.transform == "logsigmoid") for p in PARAMETERS if p.option is not None}
# Warm-start values of the extra parameters: close to the ff5 behaviour.
EXTRA_DEFAULTS = {p.name: p.default for p in PARAMETERS if p.option is not None}
SC_CORNER_HZ = 1000.0


def hz_to_coef(hz, sample_rate: int):
    """Corner frequency (Hz) -> one-pole coefficient ``1 - exp(-2 pi hz / sr)`` (tensor or float)."""
    if isinstance(hz, torch.Tensor):
        return -torch.expm1(-2.0 * math.pi * hz / sample_rate)
    return -math.expm1(-2.0 * math.pi * hz / sample_rate)


def model_theta_to_physical(theta: torch.Tensor, spec: ModelSpec, sample_rate: int) -> dict:
    """theta (..., P) -> dict of physical parameters (each (...)), in ``spec.param_names`` order."""
    spec = parse_model(spec)
    out = theta_to_physical(theta[..., :5], sample_rate)
    for i, name in enumerate(spec.param_names[5:], start=5):
        lo, hi, log = EXTRA_RANGES[name]
        out[name] = sigmoid_map(theta[..., i], lo, hi, log)
    return out


def model_physical_to_theta(params: dict, spec: ModelSpec, sample_rate: int, dtype=torch.float64,
                            device=None, fill_defaults: bool = False) -> torch.Tensor:
    """dict of physical parameters -> theta (..., P).

    With ``fill_defaults`` missing extra parameters take :data:`EXTRA_DEFAULTS`
    (a warm start from an ``ff5`` fit); otherwise a missing one is an error.
    """
    spec = parse_model(spec)
    sample_rate = check_sample_rate(sample_rate)
    extras = spec.param_names[5:]
    params = dict(params)
    missing = [n for n in extras if n not in params]
    if missing and not fill_defaults:
        raise ValueError(f"model {spec.name} needs parameters {', '.join(missing)}")
    for n in missing:
        params[n] = EXTRA_DEFAULTS[n]
    base = physical_to_theta(params, sample_rate, dtype=dtype, device=device)
    if not extras:
        return base
    vals = {n: torch.as_tensor(params[n], dtype=dtype, device=device) for n in extras}
    check_ranges(vals, extras)
    cols = [sigmoid_inverse(vals[n], *EXTRA_RANGES[n]) for n in extras]
    cols = torch.broadcast_tensors(*[c for c in cols], base[..., 0])
    return torch.cat([base, torch.stack(cols[:-1], dim=-1)], dim=-1)


def coefficient_table(theta: torch.Tensor, spec: ModelSpec, sample_rate: int) -> torch.Tensor:
    """theta (B, P) -> coefficients (B, N_COEFFICIENTS), differentiable; the columns are
    ``COEFFICIENTS`` (unused ones hold neutral values).  InputError for ``out2`` at a sample rate whose
    Nyquist lies below its corner's range (:func:`check_output_lp_rate`)."""
    phys = model_theta_to_physical(theta, spec, sample_rate)
    sr = sample_rate
    one = torch.ones_like(phys["threshold_db"])
    ratio = phys["ratio"]
    slope = (ratio - 1.0) if spec.feedback else (1.0 - 1.0 / ratio)
    a_at = ms_to_coef(phys["attack_ms"], sr)
    a_rf = ms_to_coef(phys["release_ms"], sr)
    cols = [
        phys["threshold_db"], slope,
        phys["knee_db"] if spec.has("knee") else 0 * one,
        a_at, a_rf,
        ms_to_coef(phys["release_slow_ms"], sr) if spec.has("2rel") else a_rf,
        phys["slow_mix"] if spec.has("2rel") else 0 * one,
        ms_to_coef(phys["rms_ms"], sr) if spec.has("rms") else one,
        torch.expm1(math.log(10.0) / 20.0 * phys["sc_shelf_db"]) if spec.has("sc") else 0 * one,
        torch.exp(math.log(10.0) / 20.0 * phys["makeup_db"]),
        phys["drive"] if spec.has("tube") else 0 * one,
        phys["bias"] if spec.has("tube") else 0 * one,
        hz_to_coef(phys["input_hp_hz"], sr) if spec.has("inhp") else 0 * one,
        hz_to_coef(phys["output_shelf_hz"], sr) if spec.has("outshelf") else one,
        torch.expm1(math.log(10.0) / 20.0 * phys["output_shelf_db"]) if spec.has("outshelf") else 0 * one,
    ]
    if spec.has("in2"):
        cols += biquad_poles(phys["input_hp2_hz"], phys["input_q"], sr)
    else:
        cols += [0 * one, 0 * one]
    cols += [hz_to_coef(phys["core_hz"], sr) if spec.has("core") else 0 * one,
             torch.exp(-math.log(10.0) / 10.0 * phys["core_sat_db"]) if spec.has("core") else 0 * one]
    if spec.has("out2"):
        check_output_lp_rate(spec, sr)
        cols += biquad_poles(phys["output_lp_hz"], phys["output_q"], sr)
    else:
        cols += [0 * one, 0 * one]
    if spec.has("prel"):
        cols += [ms_to_coef(phys["release_long_ms"], sr), ms_to_coef(phys["memory_ms"], sr),
                 (20.0 / math.log(10.0)) / phys["memory_db"]]
    else:
        cols += [a_rf, 0 * one, 0 * one]
    return torch.stack(cols, dim=-1)


def biquad_poles(hz, q, sample_rate: int) -> list:
    """The denominator ``1 + a1 z^-1 + a2 z^-2`` of the bilinear transform, pre-warped at ``hz``, of an analogue
    second-order section ``s^2 + (w/q) s + w^2`` (w = 2 pi hz): [a1, a2] (tensors like ``hz``).

    The high-pass with unit gain at Nyquist has numerator ``(1 - a1 + a2) / 4 (1, -2, 1)``, the low-pass with
    unit gain at DC ``(1 + a1 + a2) / 4 (1, 2, 1)``: both are linear in (a1, a2), which the kernels use."""
    K = torch.tan(math.pi * hz / sample_rate)
    D = 1.0 + K / q + K * K
    return [2.0 * (K * K - 1.0) / D, (1.0 - K / q + K * K) / D]


def check_output_lp_rate(spec: ModelSpec, sample_rate: int) -> None:
    """InputError when ``spec`` has ``out2`` and the sample rate cannot hold its corner's range below Nyquist."""
    if spec.has("out2") and sample_rate <= 2.0 * OUTPUT_LP_TOP_HZ:
        from ..errors import InputError

        raise InputError(f"model {spec.name}: the output low-pass (out2) has corners up to {OUTPUT_LP_TOP_HZ:g} Hz, "
                         f"above Nyquist at {sample_rate} Hz; use a sample rate above {2 * OUTPUT_LP_TOP_HZ:g} Hz "
                         f"(44.1 kHz and up) or a model with outshelf")


COEFFICIENTS = ("threshold_db", "slope", "knee_db", "alpha_attack", "alpha_release", "alpha_release_slow",
                "slow_mix", "alpha_rms", "shelf_k", "makeup_gain", "drive", "bias", "alpha_input_hp",
                "alpha_output_shelf", "output_shelf_k", "input_hp2_a1", "input_hp2_a2", "alpha_core", "core_b",
                "output_lp_a1", "output_lp_a2", "alpha_release_long", "alpha_memory", "memory_exp")
N_COEFFICIENTS = len(COEFFICIENTS)
COLUMN = {name: i for i, name in enumerate(COEFFICIENTS)}  # coefficient name -> column of the table
# The columns as named constants, for the compiled kernels (unpacking fails if COEFFICIENTS changes length).
(C_THRESHOLD, C_SLOPE, C_KNEE, C_ATTACK, C_RELEASE, C_RELEASE_SLOW, C_SLOW_MIX, C_RMS, C_SHELF, C_MAKEUP, C_DRIVE,
 C_BIAS, C_INPUT_HP, C_OUTPUT_SHELF, C_OUTPUT_SHELF_K, C_IN2_A1, C_IN2_A2, C_CORE_A, C_CORE_B, C_OUT2_A1,
 C_OUT2_A2, C_RELEASE_LONG, C_MEMORY, C_MEMORY_EXP) = range(len(COEFFICIENTS))
# The kernels' option flags (an int array, :func:`kernel_flags`): the topology, then the options in name order.
KERNEL_FLAGS = ("fb",) + OPTIONS
F_FB, F_KNEE, F_RMS, F_2REL, F_PREL, F_SC, F_TUBE, F_INHP, F_OUTSHELF, F_IN2, F_CORE, F_OUT2 = range(len(KERNEL_FLAGS))


def kernel_flags(spec: ModelSpec):
    """The model's flags (0/1, int64 (12,)) in :data:`KERNEL_FLAGS` order, as the compiled kernels read them."""
    import numpy as np

    return np.array([spec.feedback if flag == "fb" else spec.has(flag) for flag in KERNEL_FLAGS], dtype=np.int64)
