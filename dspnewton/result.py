"""FitResult: one object with the fitted parameters, status and history (JSON, never pickle)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .audio import InputError, atomic_write_bytes
from .model.greybox_spec import model_physical_to_theta, parse_model
from .model.params import PARAM_NAMES, CompressorParams

__all__ = ["FitResult", "MODEL_NAME"]

MODEL_NAME = "ff5"
REQUIRED_KEYS = ("model", "sample_rate", "params")


@dataclass
class FitResult:
    """The outcome of :func:`dspnewton.fit`.

    Attributes:
        params: fitted parameters in physical units.
        sample_rate: Hz the parameters were fitted at.
        loss: final loss (sum of squared pre-emphasised error over the loss region).
        esr: final error-to-signal ratio (fraction; pre-emphasised, loss region).
        iterations: optimiser iterations; converged: whether a stopping test was met;
        message: why it stopped; seconds: wall time.
        hessian: Hessian strategy (or the first-order optimiser's name).
        history: per iteration: loss, esr, step, decrement, params (physical), seconds.
        model: the model's name (``ff5``, ``fb+knee+2rel``, ...; see ``dspnewton models``),
            with ``+gru`` when a GRU residual was trained on top (``residual``).
        extra_params: the model's parameters beyond the ``ff5`` five, physical units.
        residual: {} or the GRU residual: ``{"type": "gru", "hidden": 8, "weights": {...},
            "esr_dsp": ESR without it, "epochs", "history"}``; ``esr`` includes it.
    """

    params: CompressorParams
    sample_rate: int
    loss: float
    esr: float
    iterations: int
    converged: bool
    message: str = ""
    seconds: float = 0.0
    hessian: str = "fused"
    optimizer: str = "newton"
    history: list = field(default_factory=list)
    model: str = MODEL_NAME
    extra: dict = field(default_factory=dict)
    extra_params: dict = field(default_factory=dict)
    residual: dict = field(default_factory=dict)

    @property
    def dsp_model(self) -> str:
        """The DSP model's name (``model`` without ``+gru``)."""
        from .model.residual import split_model_name

        return split_model_name(self.model)[0]

    @property
    def all_params(self) -> dict:
        """Every parameter of the model in physical units, in the model's order."""
        return {**self.params.to_dict(), **self.extra_params}

    @property
    def theta(self) -> torch.Tensor:
        """(P,) float64 unconstrained parameters of the model."""
        return model_physical_to_theta(self.all_params, self.dsp_model, self.sample_rate)

    def render(self, x, backend: str = "auto", sample_rate: int | None = None) -> torch.Tensor:
        """The fitted model applied to x ((T,) or (B, T) tensor or array); same shape, no pre-emphasis.

        ``sample_rate``: x's rate in Hz when it differs from the fit's (the time constants are
        kept in ms, so the coefficients are re-derived for that rate); default the fit's rate.
        """
        from .model.compressor import check_audio
        from .model.greybox import render_model

        t = torch.as_tensor(x)
        if not t.is_floating_point():
            t = t.double()
        squeeze = t.dim() == 1
        t = check_audio(t)
        with torch.no_grad():
            sr = self.sample_rate if sample_rate is None else sample_rate
            theta = model_physical_to_theta(self.all_params, self.dsp_model, sr)
            y = render_model(t, theta.to(t.device, t.dtype), self.dsp_model, sr, backend=backend)
            if self.residual:
                from .model.residual import apply_residual

                y = apply_residual(y, self.residual["weights"])
        return y[0] if squeeze else y

    def to_dict(self) -> dict:
        """The JSON form: every field, with ``params`` holding every parameter of the model."""
        d = asdict(self)
        d["params"] = self.all_params
        del d["extra_params"]
        return d

    def save(self, path) -> None:
        """Write JSON atomically."""
        text = json.dumps(_finite(self.to_dict()), indent=2)
        atomic_write_bytes(path, lambda tmp: Path(tmp).write_text(text))

    @classmethod
    def from_dict(cls, d: dict, source: str = "fit JSON") -> "FitResult":
        """A FitResult from its JSON form; InputError naming ``source`` on anything wrong."""
        if not isinstance(d, dict):
            raise InputError(f"{source} must hold a JSON object")
        missing = [k for k in REQUIRED_KEYS if k not in d]
        if missing:
            raise InputError(f"{source} lacks the keys {', '.join(missing)}; is it a dspnewton fit.json?")
        from .model.residual import check_weights, split_model_name

        try:
            dsp_name, with_residual = split_model_name(d["model"])
            spec = parse_model(dsp_name)
        except ValueError as exc:
            raise InputError(f"{source}: {exc}") from None
        residual = d.get("residual") or {}
        if with_residual:
            if not isinstance(residual, dict) or residual.get("type") != "gru" or "weights" not in residual:
                raise InputError(f"{source} names model {d['model']!r} but holds no GRU residual weights; "
                                 f"refit with that model or use model {spec.name!r}")
            residual = dict(residual, weights=check_weights(residual["weights"], source))
        elif residual:
            raise InputError(f"{source} holds a GRU residual but its model {d['model']!r} has no '+gru'")
        from .model.models import get_model

        try:
            checked = get_model(spec).check_params(d["params"], f"the params of {source}")
            params = CompressorParams.from_dict(checked)
            extra_params = {n: checked[n] for n in spec.param_names[len(PARAM_NAMES):]}
        except (ValueError, TypeError) as exc:
            raise InputError(str(exc) if "do not match" in str(exc) else f"{source} has invalid params: {exc}") from None
        return cls(
            params=params, sample_rate=int(d["sample_rate"]), loss=float(d.get("loss", math.nan)),
            esr=float(d.get("esr", math.nan)), iterations=int(d.get("iterations", 0)),
            converged=bool(d.get("converged", False)), message=str(d.get("message", "")),
            seconds=float(d.get("seconds", 0.0)), hessian=str(d.get("hessian", "")),
            optimizer=str(d.get("optimizer", "newton")), history=list(d.get("history", [])),
            extra=dict(d.get("extra", {})), model=spec.name + ("+gru" if with_residual else ""),
            extra_params=extra_params, residual=residual,
        )

    @classmethod
    def load(cls, path) -> "FitResult":
        """Read a fit.json (InputError if missing, not JSON or not a dspnewton fit)."""
        p = Path(path)
        if not p.exists():
            raise InputError(f"fit file '{p}' does not exist")
        try:
            d = json.loads(p.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"fit file '{p}' is not valid JSON ({exc})") from None
        return cls.from_dict(d, f"fit file '{p}'")


def _finite(obj):
    """Replace NaN/inf floats by None so the JSON is standard."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj
