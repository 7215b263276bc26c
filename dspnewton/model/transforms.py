"""The transforms between the unconstrained theta and physical values, and the range check, for every
parameter of the one table (:mod:`.schema`): written once, used by the ``ff5`` parameters
(:mod:`.params`) and the options' parameters (:mod:`.greybox_spec`).

- ``sigmoid``: ``lo + (hi - lo) sigmoid(u)``; ``logsigmoid``: ``lo (hi/lo)^sigmoid(u)``
  (:func:`sigmoid_map`, inverse :func:`sigmoid_inverse`);
- ``coef``: the same sigmoid onto a one-pole coefficient range (:mod:`.params`);
- ``none``: the value itself (threshold, make-up).
"""

from __future__ import annotations

import math

import torch

from .schema import param_spec

__all__ = ["sigmoid_map", "sigmoid_inverse", "check_ranges"]


def sigmoid_map(u: torch.Tensor, lo: float, hi: float, log: bool = False) -> torch.Tensor:
    """u (...) -> value (...) in [lo, hi]: ``lo + (hi - lo) sigmoid(u)``, or on a log scale with ``log``.

    Held inside [lo, hi] against rounding (``0.3 (3 / 0.3)^1`` is 3.0000000000000004): a fit that ends on a
    bound writes a value its range check accepts.  The clamp acts only there, where the map's slope is 0."""
    s = torch.sigmoid(u)
    v = lo * torch.exp(math.log(hi / lo) * s) if log else lo + (hi - lo) * s
    return v.clamp(lo, hi)


def sigmoid_inverse(v: torch.Tensor, lo: float, hi: float, log: bool = False) -> torch.Tensor:
    """Inverse of :func:`sigmoid_map`; the bounds themselves map to about +-27.6 (finite)."""
    p = (torch.log(v / lo) / math.log(hi / lo)) if log else (v - lo) / (hi - lo)
    p = p.clamp(1e-12, 1 - 1e-12)
    return torch.log(p) - torch.log1p(-p)


def check_ranges(vals: dict, names) -> None:
    """ValueError naming the first parameter of ``names`` whose value(s) in ``vals`` are not finite or lie
    outside the table's range, e.g. ``ratio must lie in [1, 50], got 80.0``."""
    for name in names:
        p = param_spec(name)
        v = torch.as_tensor(vals[name], dtype=torch.float64)
        if not torch.isfinite(v).all():
            raise ValueError(f"{name} must be finite, got {v.tolist()}")
        if p.bounded and ((v < p.lo) | (v > p.hi)).any():
            unit = f" {p.unit}" if p.unit else ""
            raise ValueError(f"{name} must lie in [{p.lo:g}, {p.hi:g}]{unit}, got {v.tolist()}")
