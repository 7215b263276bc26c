"""Where a fit starts: the published initialisation with RMS-matched make-up, or a given start.

    theta0 = resolve_init(init, sample_rate, spec)       # None, a fit JSON path, FitResult, dict, ... -> (P,) or None
    theta0 = published_init_theta(x, y, sample_rate)    # x, y (C, T) -> ff5 theta (5,)
"""

from __future__ import annotations

import math
import os

import torch

from .errors import InputError
from .model.compressor import compress
from .model.greybox_spec import ModelSpec, parse_model
from .model.models import get_model
from .model.params import CompressorParams, theta_to_physical
from .result import FitResult

__all__ = ["resolve_init", "published_init_theta"]


def resolve_init(init, sample_rate: int, spec: ModelSpec | None = None):
    """theta (P,) of ``spec`` from an init spec, or None for the default start.

    A fit (or dict) of another model maps onto ``spec`` when its parameters are a
    subset of the model's (e.g. any model from an ``ff5`` fit): the parameters it
    lacks take their neutral defaults.  Anything else is an InputError.
    """
    spec = spec or parse_model("ff5")
    model = get_model(spec)
    if init is None:
        return None
    source = "init"
    if isinstance(init, (str, os.PathLike)):
        source = f"init '{init}'"
        init = FitResult.load(init)
    if isinstance(init, FitResult):
        if not model.can_warm_start_from(init.dsp_model):
            lost = [n for n in init.all_params if n not in model.param_names]
            raise InputError(
                f"{source} is a fit of model {init.model!r}, which cannot start model {model.name!r}: "
                f"{model.name} has no {', '.join(lost)}. Start from a fit of ff5 or of a model whose options "
                f"{model.name} includes, or start without an init (a grey-box model then warm-starts from ff5).")
        init = init.all_params if init.dsp_model == model.name else model.warm_start(init.all_params, sample_rate)
    if isinstance(init, CompressorParams):
        init = init.to_dict()
    if isinstance(init, torch.Tensor) and init.dim() == 1 and init.shape[0] in (5, spec.n_params):
        if init.shape[0] == spec.n_params:
            return init.detach().double().cpu()
        init = {k: float(v) for k, v in theta_to_physical(init.detach().double().cpu(), sample_rate).items()}
    if isinstance(init, dict):
        foreign = [k for k in init if k not in model.param_names]
        if foreign:
            raise InputError(f"{source} has parameters {', '.join(foreign)} that model {model.name} does not use; "
                             f"its parameters are {', '.join(model.param_names)}")
        try:
            return model.physical_to_theta(init, sample_rate, fill_defaults=True)
        except ValueError as exc:
            raise InputError(f"{source}: {exc}") from None
    raise InputError(f"init must be None, a fit JSON path, a FitResult, CompressorParams, a dict or a "
                     f"({spec.n_params},) theta of model {spec.name}")


def published_init_theta(x: torch.Tensor, y: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Published start (-36 dB, 4:1, 1 ms, 200 ms, 0 dB) with make-up shifted so the
    prediction's RMS matches the target's.  x, y: (C, T)."""
    theta = CompressorParams.published_init().to_theta(sample_rate)
    chunk = 30 * sample_rate  # bounded memory on long pairs (the gain restarts per chunk: a start heuristic)
    energy_pred = energy_target = 0.0
    with torch.no_grad():
        for s in range(0, x.shape[-1], chunk):
            energy_pred += float(compress(x[..., s:s + chunk].double(), theta, sample_rate).pow(2).sum())
            energy_target += float(y[..., s:s + chunk].double().pow(2).sum())
    rms_pred, rms_target = math.sqrt(energy_pred), math.sqrt(energy_target)
    if rms_pred > 0 and rms_target > 0:
        theta[4] += 20 * math.log10(rms_target / rms_pred)
    return theta
