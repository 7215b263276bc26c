"""A grey-box model as a ``torch.nn.Module`` holding its unconstrained parameters theta (P,)."""

from __future__ import annotations

import torch

from .greybox import render_model
from .greybox_spec import model_physical_to_theta, model_theta_to_physical, parse_model
from .params import CompressorParams, check_sample_rate

__all__ = ["GreyBoxCompressor"]


class GreyBoxCompressor(torch.nn.Module):
    """A grey-box model as a module holding theta (P,) as a Parameter.

    Example::

        comp = GreyBoxCompressor("fb+2rel", {"threshold_db": -30, "ratio": 4, "attack_ms": 5,
                                             "release_ms": 60, "makeup_db": 2,
                                             "release_slow_ms": 1500, "slow_mix": 0.5})
        y = comp(x)                     # x: (B, T) or (T,), float64 by default
        comp.params                     # dict in physical units

    Missing extra parameters take their neutral warm-start values.
    """

    def __init__(self, model: str = "ff5", params: dict | None = None, sample_rate: int = 44100,
                 dtype=torch.float64):
        super().__init__()
        self.spec = parse_model(model)
        self.sample_rate = check_sample_rate(sample_rate)
        params = CompressorParams.published_init().to_dict() if params is None else dict(params)
        self.theta = torch.nn.Parameter(
            model_physical_to_theta(params, self.spec, self.sample_rate, dtype=dtype, fill_defaults=True))

    @property
    def params(self) -> dict:
        phys = model_theta_to_physical(self.theta.detach().double().cpu(), self.spec, self.sample_rate)
        return {k: float(v) for k, v in phys.items()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(x, torch.Tensor) and (x.dtype != self.theta.dtype or x.device != self.theta.device):
            raise ValueError(f"x is {x.dtype} on {x.device} but the model is {self.theta.dtype} on "
                             f"{self.theta.device}; call .to(x.device, x.dtype) first")
        return render_model(x, self.theta, self.spec, self.sample_rate)

    def extra_repr(self) -> str:
        return f"model={self.spec.name}, " + ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
