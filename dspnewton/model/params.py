"""Compressor parameters in physical units and the unconstrained vector theta.

Physical parameters (``ff5``): ``threshold_db`` (CT, dB), ``ratio`` (R),
``attack_ms``, ``release_ms`` (ms), ``makeup_db`` (gamma, dB).

The optimiser works on theta = (CT, u_R, u_at, u_rt, gamma): CT and gamma as
they are, the others through a scaled sigmoid ``lo + (hi - lo) * sigmoid(u)``
into R in [1, 50] and, as published, onto the *coefficients*
``alpha = 1 - exp(-2200 / (t_ms * sr))`` of attack in [0.1, 100] ms and release
in [5, 5000] ms (the published recipe's ranges, [1, 20] and [10, 1000] ms, are
too narrow for levelling amplifiers; see :mod:`.schema`).  Conversion both ways
is exact up to rounding.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch

from .schema import PARAMETERS
from .transforms import check_ranges, sigmoid_inverse, sigmoid_map

__all__ = [
    "PARAM_NAMES",
    "RANGES",
    "CompressorParams",
    "ms_to_coef",
    "coef_to_ms",
    "theta_to_coefficients",
    "theta_to_physical",
    "physical_to_theta",
]

# Views of the one parameter table (:mod:`.schema`).
PARAM_NAMES = tuple(p.name for p in PARAMETERS if p.option is None)
RANGES = {p.name: (p.lo, p.hi) for p in PARAMETERS if p.option is None and p.bounded}


def check_sample_rate(sample_rate) -> int:
    """Return ``sample_rate`` as int; ValueError unless it is a positive integer."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float)) or sample_rate != sample_rate:
        raise ValueError(f"sample_rate must be a positive integer in Hz, got {sample_rate!r}")
    if sample_rate <= 0 or int(sample_rate) != sample_rate:
        raise ValueError(f"sample_rate must be a positive integer in Hz, got {sample_rate!r}")
    return int(sample_rate)


def ms_to_coef(ms, sample_rate: int):
    """Time constant in ms -> one-pole coefficient ``1 - exp(-2200 / (ms * sr))``."""
    if isinstance(ms, torch.Tensor):
        return -torch.expm1(-2200.0 / (ms * sample_rate))
    return -math.expm1(-2200.0 / (ms * sample_rate))


def coef_to_ms(coef, sample_rate: int):
    """Inverse of :func:`ms_to_coef`: ``-2200 / (sr * log(1 - coef))`` in ms."""
    if isinstance(coef, torch.Tensor):
        return -2200.0 / (sample_rate * torch.log1p(-coef))
    return -2200.0 / (sample_rate * math.log1p(-coef))


def _coef_bounds(name: str, sample_rate: int) -> tuple[float, float]:
    lo_ms, hi_ms = RANGES[name]
    return ms_to_coef(hi_ms, sample_rate), ms_to_coef(lo_ms, sample_rate)  # coef falls with time


def theta_to_coefficients(theta: torch.Tensor, sample_rate: int):
    """theta (..., 5) -> (threshold_db, ratio, alpha_at, alpha_rt, makeup_db), each (...)."""
    ct, u_r, u_at, u_rt, gamma = theta.unbind(-1)
    r_lo, r_hi = RANGES["ratio"]
    at_lo, at_hi = _coef_bounds("attack_ms", sample_rate)
    rt_lo, rt_hi = _coef_bounds("release_ms", sample_rate)
    ratio = sigmoid_map(u_r, r_lo, r_hi)
    alpha_at = sigmoid_map(u_at, at_lo, at_hi)
    alpha_rt = sigmoid_map(u_rt, rt_lo, rt_hi)
    return ct, ratio, alpha_at, alpha_rt, gamma


def theta_to_physical(theta: torch.Tensor, sample_rate: int) -> dict[str, torch.Tensor]:
    """theta (..., 5) -> dict of physical parameters, each (...)."""
    ct, ratio, a_at, a_rt, gamma = theta_to_coefficients(theta, sample_rate)
    return {
        "threshold_db": ct,
        "ratio": ratio,
        "attack_ms": coef_to_ms(a_at, sample_rate),
        "release_ms": coef_to_ms(a_rt, sample_rate),
        "makeup_db": gamma,
    }


def physical_to_theta(params: dict, sample_rate: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """dict of physical parameters (floats or (...) tensors) -> theta (..., 5).

    Raises ValueError naming the parameter when a value is outside its range
    or not finite.  Values exactly on a bound map to a large finite theta.
    """
    sample_rate = check_sample_rate(sample_rate)
    missing = [n for n in PARAM_NAMES if n not in params]
    if missing:
        raise ValueError(f"missing parameters: {', '.join(missing)} (need {', '.join(PARAM_NAMES)})")
    vals = {n: torch.as_tensor(params[n], dtype=dtype, device=device) for n in PARAM_NAMES}
    validate_physical(vals)
    at_lo, at_hi = _coef_bounds("attack_ms", sample_rate)
    rt_lo, rt_hi = _coef_bounds("release_ms", sample_rate)
    cols = [
        vals["threshold_db"],
        sigmoid_inverse(vals["ratio"], *RANGES["ratio"]),
        sigmoid_inverse(ms_to_coef(vals["attack_ms"], sample_rate), at_lo, at_hi),
        sigmoid_inverse(ms_to_coef(vals["release_ms"], sample_rate), rt_lo, rt_hi),
        vals["makeup_db"],
    ]
    return torch.stack(torch.broadcast_tensors(*cols), dim=-1)


def validate_physical(vals: dict) -> None:
    """ValueError naming the first ``ff5`` parameter that is not finite or out of range."""
    check_ranges(vals, PARAM_NAMES)


@dataclass(frozen=True)
class CompressorParams:
    """One set of ``ff5`` compressor parameters in physical units.

    threshold_db: dB; ratio: >1; attack_ms, release_ms: ms; makeup_db: dB.
    """

    threshold_db: float
    ratio: float
    attack_ms: float
    release_ms: float
    makeup_db: float

    def __post_init__(self):
        validate_physical({f.name: getattr(self, f.name) for f in fields(self)})

    @classmethod
    def published_init(cls) -> "CompressorParams":
        """The published initialisation (-36 dB, 4:1, 1 ms, 200 ms, 0 dB): the schema's defaults."""
        return cls(**{p.name: p.default for p in PARAMETERS if p.option is None})

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CompressorParams":
        missing = [n for n in PARAM_NAMES if n not in d]
        if missing:
            raise ValueError(f"missing parameters: {', '.join(missing)}")
        return cls(**{n: float(d[n]) for n in PARAM_NAMES})

    def to_theta(self, sample_rate: int, dtype=torch.float64, device=None) -> torch.Tensor:
        """theta (5,) for this parameter set."""
        return physical_to_theta(self.to_dict(), sample_rate, dtype=dtype, device=device)

    @classmethod
    def from_theta(cls, theta: torch.Tensor, sample_rate: int) -> "CompressorParams":
        """From a (5,) theta."""
        phys = theta_to_physical(theta.detach().double().cpu(), check_sample_rate(sample_rate))
        return cls(**{k: float(v) for k, v in phys.items()})
