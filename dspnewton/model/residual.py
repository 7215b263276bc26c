"""The published GRU residual (``+gru`` on any model name): a small GRU on the DSP model's
output whose projection is added back,

    y = y_dsp + w_out . h_t + b_out,   h_t = GRU(y_dsp[t], h_{t-1}),  hidden size 8 (273 weights),

trained after the Newton fit of the DSP part by Adam on the same pre-emphasised loss
(truncated back-propagation through time over chunks of 12,288 samples with the hidden
state carried, as published). One residual serves every knob position (it has no knob
input, as published). The output layer starts at zero, so training starts from the DSP
fit and keeps the best epoch: in-sample the residual never makes the fit worse.

The GRU follows PyTorch's equations (gates r, z, n in that order):
``r = s(W_ir y + b_ir + W_hr h + b_hr)``, ``z = s(W_iz y + b_iz + W_hz h + b_hz)``,
``n = tanh(W_in y + b_in + r (W_hn h + b_hn))``, ``h' = (1 - z) n + z h``; the C++ core
(csrc/include/dspnewton/residual.hpp) runs the same equations in float32 (the precision it is
trained in), about 1e-7 relative from this module's float64 evaluation.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
import torch

from ..errors import InputError
from .names import AUTO, RESIDUAL_OPTION, parse_model_choice

__all__ = ["HIDDEN", "RESIDUAL_OPTION", "GRUResidual", "split_model_name", "apply_residual",
           "check_weights", "WEIGHT_SHAPES"]

HIDDEN = 8
WEIGHT_SHAPES = {"w_ih": (3 * HIDDEN, 1), "w_hh": (3 * HIDDEN, HIDDEN), "b_ih": (3 * HIDDEN,), "b_hh": (3 * HIDDEN,),
                 "w_out": (1, HIDDEN), "b_out": (1,)}


def split_model_name(name) -> tuple[str, bool]:
    """``"fb+2rel+gru"`` -> (``"fb+2rel"``, True); ``"ff5"`` -> (``"ff5"``, False); ``"auto"`` -> (``"auto"``, False).

    The names are canonical (:func:`~.names.parse_model_choice` parses them); InputError for a bad name.
    """
    choice = parse_model_choice(name)
    return (AUTO if choice.auto else choice.spec.name), choice.residual


def check_weights(weights, source: str = "residual") -> dict:
    """The weights as {name: nested lists} with the right shapes and finite values, else InputError."""
    if not isinstance(weights, dict):
        raise InputError(f"{source}: the GRU residual's weights must be an object")
    missing = [k for k in WEIGHT_SHAPES if k not in weights]
    if missing:
        raise InputError(f"{source}: the GRU residual lacks {', '.join(missing)}")
    out = {}
    for k, shape in WEIGHT_SHAPES.items():
        try:
            t = torch.tensor(weights[k], dtype=torch.float64)
        except (TypeError, ValueError):
            raise InputError(f"{source}: GRU weight {k} is not numeric") from None
        if tuple(t.shape) != shape:
            raise InputError(f"{source}: GRU weight {k} has shape {tuple(t.shape)}, expected {shape}")
        if not torch.isfinite(t).all():
            raise InputError(f"{source}: GRU weight {k} is not finite")
        out[k] = t.tolist()
    return out


class GRUResidual(torch.nn.Module):
    """GRU(1 -> 8) and Linear(8 -> 1); ``forward(y (B, T), h (1, B, 8) | None) -> (residual (B, T), h)``."""

    def __init__(self, dtype=torch.float32):
        super().__init__()
        self.gru = torch.nn.GRU(1, HIDDEN, batch_first=True, dtype=dtype)
        self.out = torch.nn.Linear(HIDDEN, 1, dtype=dtype)
        torch.nn.init.zeros_(self.out.weight)
        torch.nn.init.zeros_(self.out.bias)

    def forward(self, y: torch.Tensor, h: torch.Tensor | None = None):
        o, h = self.gru(y.unsqueeze(-1), h)
        return self.out(o).squeeze(-1), h

    def weights(self) -> dict:
        """The weights as nested lists (float64 values), keys of :data:`WEIGHT_SHAPES`."""
        g = self.gru
        return {"w_ih": g.weight_ih_l0.detach().double().tolist(), "w_hh": g.weight_hh_l0.detach().double().tolist(),
                "b_ih": g.bias_ih_l0.detach().double().tolist(), "b_hh": g.bias_hh_l0.detach().double().tolist(),
                "w_out": self.out.weight.detach().double().tolist(), "b_out": self.out.bias.detach().double().tolist()}

    @classmethod
    def from_weights(cls, weights: dict, dtype=torch.float64, source: str = "residual") -> "GRUResidual":
        w = check_weights(weights, source)
        m = cls(dtype=dtype)
        with torch.no_grad():
            for param, key in ((m.gru.weight_ih_l0, "w_ih"), (m.gru.weight_hh_l0, "w_hh"), (m.gru.bias_ih_l0, "b_ih"),
                               (m.gru.bias_hh_l0, "b_hh"), (m.out.weight, "w_out"), (m.out.bias, "b_out")):
                param.copy_(torch.tensor(w[key], dtype=dtype))
        return m


@nb.njit(parallel=True, cache=True, nogil=True)
def _gru_residual_kernel(y, w_ih, w_hh, b_ih, b_hh, w_out, b_out, out):  # pragma: no cover - compiled
    """out[b, t] = y[b, t] + w_out . h_t + b_out, h_t = GRU(y[b, t], h_{t-1}) from h = 0 (PyTorch's
    equations, gates r, z, n), float64; rows in parallel.  y, out: (B, T)."""
    H = w_hh.shape[1]
    for b in nb.prange(y.shape[0]):
        h = np.zeros(H)
        hn = np.zeros(H)
        for t in range(y.shape[1]):
            x = y[b, t]
            acc = b_out[0]
            for i in range(H):
                ar = w_ih[i, 0] * x + b_ih[i] + b_hh[i]
                az = w_ih[H + i, 0] * x + b_ih[H + i] + b_hh[H + i]
                an = b_hh[2 * H + i]
                for j in range(H):
                    hj = h[j]
                    ar += w_hh[i, j] * hj
                    az += w_hh[H + i, j] * hj
                    an += w_hh[2 * H + i, j] * hj
                r = 1.0 / (1.0 + math.exp(-ar))
                z = 1.0 / (1.0 + math.exp(-az))
                n = math.tanh(w_ih[2 * H + i, 0] * x + b_ih[2 * H + i] + r * an)
                hn[i] = (1.0 - z) * n + z * h[i]
            for i in range(H):
                h[i] = hn[i]
                acc += w_out[0, i] * hn[i]
            out[b, t] = x + acc


def apply_residual(y: torch.Tensor, weights: dict) -> torch.Tensor:
    """``y + residual(y)`` for (T,) or (B, T) DSP output, float64 arithmetic, each row from h = 0.

    A compiled loop (about 60x faster than ``torch.gru`` one sample at a time on the CPU); it equals
    :class:`GRUResidual` in float64 to rounding (tested).  The result has y's dtype and device."""
    w = {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in check_weights(weights).items()}
    squeeze = y.dim() == 1
    yb = np.ascontiguousarray((y[None] if squeeze else y).detach().double().cpu().numpy())
    out = np.empty_like(yb)
    _gru_residual_kernel(yb, w["w_ih"], w["w_hh"], w["b_ih"], w["b_hh"], w["w_out"], w["b_out"], out)
    res = torch.from_numpy(out).to(device=y.device, dtype=y.dtype)
    return res[0] if squeeze else res
