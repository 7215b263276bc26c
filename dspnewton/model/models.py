"""One object per model: its parameter schema, transforms, rendering, and its loss with exact derivatives.

    model = get_model("fb+knee+rms+2rel+sc+tube")
    model.param_names, model.params            # names and schema rows (:mod:`.schema`)
    theta = model.physical_to_theta({...}, sample_rate)
    y = model.render(x, theta, sample_rate)     # x (B, T) or (T,)

Every model, ``ff5`` included, is a :class:`Model`.  Its loss with exact derivatives (the
compiled fused pass) is one layer up, in :mod:`dspnewton.objective.exact`; the other Hessian
strategies (autograd, ``torch.func``) in :mod:`dspnewton.objective.hessian`.
"""

from __future__ import annotations

import functools
import math

import torch

from .greybox_spec import ModelSpec, model_physical_to_theta, model_theta_to_physical, parse_model
from .params import check_sample_rate
from .schema import ParamSpec, param_spec

__all__ = ["Model", "get_model", "require_model"]


class Model:
    """A compressor model named by its options (see ``dspnewton models``)."""

    def __init__(self, spec: ModelSpec):
        self.spec = spec

    # -------------------------------------------------------------------------- schema
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def param_names(self) -> tuple:
        return self.spec.param_names

    @property
    def n_params(self) -> int:
        return self.spec.n_params

    @property
    def params(self) -> tuple[ParamSpec, ...]:
        """The schema rows of this model's parameters, in theta order."""
        return tuple(param_spec(n) for n in self.param_names)

    def defaults(self) -> dict:
        """Default physical values (published start for the ff5 five, neutral option values)."""
        return {p.name: p.default for p in self.params}

    def check_params(self, params: dict, source: str = "parameters") -> dict:
        """``params`` with exactly this model's names as floats, in range; ValueError otherwise.

        The message names the missing or foreign parameters and what to do.
        """
        if not isinstance(params, dict):
            raise ValueError(f"{source} must be a mapping of parameter names to values")
        missing = [n for n in self.param_names if n not in params]
        foreign = [n for n in params if n not in self.param_names]
        if missing or foreign:
            parts = []
            if missing:
                parts.append(f"lack {', '.join(missing)}")
            if foreign:
                parts.append(f"have {', '.join(foreign)}, which model {self.name} does not use")
            raise ValueError(f"{source} do not match model {self.name}: they {' and '.join(parts)}. The model's "
                             f"parameters are {', '.join(self.param_names)}; check the model name recorded "
                             f"with them or refit with model {self.name}")
        try:
            out = {n: float(params[n]) for n in self.param_names}
        except (TypeError, ValueError):
            raise ValueError(f"{source}: every parameter must be a number") from None
        self.physical_to_theta(out, 44100)  # range and finiteness checks
        return out

    def can_warm_start_from(self, other) -> bool:
        """Whether a fit of ``other`` maps onto this model: its parameters are a subset of ours
        (the extra ones start at their neutral defaults)."""
        return set(get_model(other).param_names) <= set(self.param_names)

    # -------------------------------------------------------------------------- transforms
    def theta_to_physical(self, theta: torch.Tensor, sample_rate: int) -> dict:
        """theta (..., P) -> dict of physical values (each (...)) in ``param_names`` order."""
        return model_theta_to_physical(theta, self.spec, check_sample_rate(sample_rate))

    def physical_to_theta(self, params: dict, sample_rate: int, dtype=torch.float64, device=None,
                          fill_defaults: bool = False) -> torch.Tensor:
        """dict of physical values -> theta (..., P); ValueError naming a value out of range."""
        return model_physical_to_theta(params, self.spec, sample_rate, dtype=dtype, device=device,
                                       fill_defaults=fill_defaults)

    def at_bounds(self, params: dict, sample_rate: int, tolerance: float = 0.005) -> dict:
        """The parameters of ``params`` that sit on a bound of their range: name -> ``"lower"`` / ``"upper"``.

        "On a bound" means within ``tolerance`` of either end in the parameter's own transform
        scale (the sigmoid of theta: linear, log or one-pole-coefficient scale), where a fit
        can no longer move it.  Unbounded parameters (threshold, make-up) never are.
        """
        theta = self.physical_to_theta({n: params[n] for n in self.param_names}, sample_rate)
        out = {}
        for p, t in zip(self.params, theta.tolist()):
            if not p.bounded:
                continue
            s = 1.0 / (1.0 + math.exp(-t)) if abs(t) < 700 else (1.0 if t > 0 else 0.0)
            if p.transform == "coef":  # the coefficient falls as the time constant grows
                s = 1.0 - s
            if s <= tolerance:
                out[p.name] = "lower"
            elif s >= 1.0 - tolerance:
                out[p.name] = "upper"
        return out

    def warm_start(self, params: dict, sample_rate: int, margin: float = 0.01) -> dict:
        """A start for this model from another model's fit (its parameters a subset of ours).

        Missing parameters take their defaults; every bounded parameter is moved at least
        ``margin`` inside its range (in its transform's scale: on a bound the sigmoid is flat and
        Newton cannot move it); and in the feedback topology the ratio is capped at
        ``1 / alpha_attack`` so that the discrete loop starts stable (a feed-forward fit's high
        ratio with a fast attack makes the feedback recursion oscillate, and its derivatives
        grow without bound).
        """
        from .params import ms_to_coef

        out = {**self.defaults(), **{k: float(v) for k, v in params.items() if k in self.param_names}}
        theta = self.physical_to_theta(out, sample_rate)
        lim = math.log(margin / (1.0 - margin))
        for i, p in enumerate(self.params):
            if p.bounded:
                theta[i] = theta[i].clamp(lim, -lim)
        out = {k: float(v) for k, v in self.theta_to_physical(theta, sample_rate).items()}
        if self.spec.feedback:
            cap = 1.0 / ms_to_coef(out["attack_ms"], sample_rate)
            out["ratio"] = max(1.0 + margin, min(out["ratio"], cap))
        return out

    # -------------------------------------------------------------------------- audio
    def render(self, x: torch.Tensor, theta: torch.Tensor, sample_rate: int, backend: str = "auto") -> torch.Tensor:
        """x (B, T) or (T,), theta (P,) or (B, P) -> y like x; differentiable."""
        from .greybox import render_model

        return render_model(x, theta, self.spec, sample_rate, backend)

    def gain(self, x: torch.Tensor, theta: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """The ballistics gain (linear, before make-up and saturation), x (B, T) -> (B, T); no derivatives."""
        from .greybox import model_gain

        return model_gain(x, theta, self.spec, sample_rate)

    def __repr__(self) -> str:
        return f"Model({self.name!r}, {self.n_params} parameters)"


@functools.lru_cache(maxsize=None)
def _model(spec: ModelSpec) -> Model:
    return Model(spec)


def get_model(name) -> Model:
    """The :class:`Model` for a name (``ff5``, ``fb+2rel``, ...), a ModelSpec or a Model.

    Raises ValueError naming the unknown option and listing the valid ones.
    """
    if isinstance(name, Model):
        return name
    return _model(parse_model(name))


def require_model(requested, actual: str, source: str) -> None:
    """InputError unless ``requested`` (a model name, or None for any) is the model ``source`` holds."""
    from ..errors import InputError

    if requested is None:
        return
    from .names import parse_model_choice

    choice = parse_model_choice(requested)
    if choice.auto:
        raise InputError(f"{source} holds model {actual!r}; 'auto' selects a model when fitting, not when reading "
                         f"a fit: name the model or do not require one")
    wanted = choice.name
    if wanted != actual:
        raise InputError(f"{source} holds model {actual!r}, not {wanted!r}; fit {wanted!r} first "
                         f"(fit or sweep with {{model}}) or do not require a model", {"model": wanted})
