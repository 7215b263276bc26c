"""One continuous peak-reduction knob: every parameter of a mode as a smooth function of
the knob, fitted jointly over all settings by full-Hessian Newton.

Each parameter's unconstrained value (its theta, the transformed space in which the
model's bounds always hold) is a low-order polynomial in the knob,

    theta_p(peak) = sum_j C[p, j] L_j(u),   u = clip(2 (peak - lo) / (hi - lo) - 1, -1, 1),

with ``L_j`` the Legendre polynomials and [lo, hi] the fitted settings' range (outside
it the curves hold their end values, as the table's interpolation does). The objective
is the sum over settings of each setting's ESR (its loss over its target energy, so
every setting weighs the same whatever its level); with theta_s = C L(u_s) its
gradient and exact Hessian come from the per-setting fused passes:

    g = sum_s w_s g_s (x) L(u_s),   H = sum_s w_s H_s (x) L(u_s) L(u_s)^T,

a dense (P J) x (P J) Hessian (P parameters, J = degree + 1 coefficients each). The
start is the least-squares curve through per-setting fits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .audio import InputError
from .model.models import get_model
from .objective.exact import exact_loss, exact_loss_grad, exact_loss_grad_hess
from .optim.newton import NewtonOptions, newton

__all__ = ["KnobCurves", "JointResult", "joint_fit", "legendre_basis", "DEFAULT_DEGREE"]

DEFAULT_DEGREE = 3


def legendre_basis(u, degree: int) -> np.ndarray:
    """Legendre polynomials L_0..L_degree at u (any shape) -> (..., degree + 1)."""
    u = np.asarray(u, dtype=np.float64)
    out = [np.ones_like(u), u]
    for n in range(1, degree):
        out.append(((2 * n + 1) * u * out[n] - n * out[n - 1]) / (n + 1))
    return np.stack(out[:degree + 1], axis=-1)


@dataclass
class KnobCurves:
    """A mode's parameters as Legendre polynomials in the knob (theta space).

    Attributes:
        model: the model's name; sample_rate: Hz the theta space refers to (time constants).
        knob_lo, knob_hi: the knob range the curves were fitted over (clamped outside).
        coefficients: {parameter: [C_0, ..., C_degree]} in the model's parameter order.
    """

    model: str
    sample_rate: int
    knob_lo: float
    knob_hi: float
    coefficients: dict

    @property
    def degree(self) -> int:
        return len(next(iter(self.coefficients.values()))) - 1

    def _u(self, peak) -> np.ndarray:
        span = self.knob_hi - self.knob_lo
        u = 2.0 * (np.asarray(peak, dtype=np.float64) - self.knob_lo) / span - 1.0 if span > 0 else np.zeros_like(
            np.asarray(peak, dtype=np.float64))
        return np.clip(u, -1.0, 1.0)

    def matrix(self) -> torch.Tensor:
        """C (P, J) float64 in the model's parameter order."""
        names = get_model(self.model).param_names
        return torch.tensor([self.coefficients[n] for n in names], dtype=torch.float64)

    def theta(self, peak: float) -> torch.Tensor:
        """theta (P,) at ``peak``."""
        basis = torch.from_numpy(legendre_basis(self._u(peak), self.degree))
        return self.matrix() @ basis

    def params(self, peak: float) -> dict:
        """Every parameter at ``peak`` in physical units."""
        model = get_model(self.model)
        return {k: float(v) for k, v in model.theta_to_physical(self.theta(peak), self.sample_rate).items()}

    def to_dict(self) -> dict:
        return {"model": self.model, "sample_rate": self.sample_rate, "basis": "legendre", "degree": self.degree,
                "knob_lo": self.knob_lo, "knob_hi": self.knob_hi,
                "coefficients": {k: [float(c) for c in v] for k, v in self.coefficients.items()}}

    @classmethod
    def from_dict(cls, d: dict, source: str = "curves") -> "KnobCurves":
        """Curves from :meth:`to_dict`'s form; InputError naming ``source`` when malformed."""
        try:
            if d.get("basis", "legendre") != "legendre":
                raise ValueError(f"unknown basis {d.get('basis')!r}")
            model = get_model(d["model"])
            coef = {k: [float(c) for c in v] for k, v in d["coefficients"].items()}
            if sorted(coef) != sorted(model.param_names):
                raise ValueError(f"coefficients for {sorted(coef)} but model {model.name} has "
                                 f"{list(model.param_names)}")
            sizes = {len(v) for v in coef.values()}
            if len(sizes) != 1 or int(d.get("degree", -1)) + 1 not in sizes:
                raise ValueError("every parameter needs degree + 1 coefficients")
            if not all(math.isfinite(c) for v in coef.values() for c in v):
                raise ValueError("coefficients must be finite")
            lo, hi = float(d["knob_lo"]), float(d["knob_hi"])
            if not (0 <= lo <= hi <= 100):
                raise ValueError("knob_lo..knob_hi must lie in 0..100")
            return cls(model.name, int(d["sample_rate"]), lo, hi, {n: coef[n] for n in model.param_names})
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{source}: malformed knob curves ({exc})") from None


@dataclass
class JointResult:
    """The joint fit of one mode: curves, the per-setting ESRs they give, status and history."""

    curves: KnobCurves
    esr: dict  # peak -> ESR of the curves at that setting
    mean_esr: float
    iterations: int
    converged: bool
    message: str
    seconds: float
    start_mean_esr: float
    history: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"curves": self.curves.to_dict(), "esr": {str(k): v for k, v in self.esr.items()},
                "mean_esr": self.mean_esr, "start_mean_esr": self.start_mean_esr, "iterations": self.iterations,
                "converged": self.converged, "message": self.message, "seconds": self.seconds,
                "history": self.history}


def joint_fit(settings: dict, model: str, sample_rate: int, init: dict, degree: int = DEFAULT_DEGREE,
              options: NewtonOptions | None = None, callback=None) -> JointResult:
    """Fit a mode's knob curves jointly over its settings.

    Args:
        settings: peak -> :class:`dspnewton.objective.framing.Frames` of that setting's pair.
        model: the model's name; sample_rate: Hz (all settings share it).
        init: peak -> per-setting fitted physical parameters (the warm start: their
            least-squares curves); every setting in ``settings`` needs one.
        degree: polynomial degree (``degree + 1`` coefficients per parameter).
        options: Newton stopping settings; callback: called with each history entry.

    Raises:
        InputError: fewer settings than coefficients per parameter, or a setting
            without a per-setting fit or with a silent target.
    """
    import time

    t0 = time.perf_counter()
    m = get_model(model)
    peaks = sorted(settings)
    J = degree + 1
    if degree < 0:
        raise InputError(f"the curve degree must be 0 or more, got {degree}")
    if len(peaks) < J:
        raise InputError(f"a joint fit of degree {degree} needs at least {J} settings per mode (one per "
                         f"coefficient); this mode has {len(peaks)}: fit more settings or lower {{joint_degree}}",
                         {"joint_degree": max(len(peaks) - 1, 0)})
    missing = [p for p in peaks if p not in init]
    if missing:
        raise InputError(f"no per-setting fit to start from at peak(s) {missing}")
    lo, hi = float(peaks[0]), float(peaks[-1])
    curves0 = KnobCurves(m.name, sample_rate, lo, hi, {n: [0.0] * J for n in m.param_names})
    B = torch.from_numpy(legendre_basis(curves0._u(np.array(peaks, dtype=float)), degree))  # (S, J)
    theta_s = torch.stack([m.physical_to_theta(init[p], sample_rate) for p in peaks])  # (S, P)
    C0 = torch.linalg.lstsq(B, theta_s).solution.T.contiguous()  # (P, J)
    energy = torch.tensor([float(settings[p].target_energy) for p in peaks], dtype=torch.float64)
    if (energy <= 0).any():
        raise InputError(f"a target is silent at peak(s) {[p for p, e in zip(peaks, energy) if e <= 0]}")
    w = 1.0 / energy
    P = m.n_params

    def thetas(c: torch.Tensor) -> torch.Tensor:
        return B @ c.view(P, J).T  # (S, P)

    def lgh(c):
        L, g, H = 0.0, torch.zeros(P * J, dtype=torch.float64), torch.zeros(P * J, P * J, dtype=torch.float64)
        for s, th in enumerate(thetas(c)):
            Ls, gs, Hs = exact_loss_grad_hess(m, th, settings[peaks[s]])
            L = L + float(w[s]) * float(Ls)
            g += w[s] * torch.kron(gs.double().cpu(), B[s])
            H += w[s] * torch.kron(Hs.double().cpu(), torch.outer(B[s], B[s]))
        return torch.tensor(float(L), dtype=torch.float64), g, H

    def lg(c):  # the gradient alone (lazy Hessians)
        L, g = 0.0, torch.zeros(P * J, dtype=torch.float64)
        for s, th in enumerate(thetas(c)):
            Ls, gs = exact_loss_grad(m, th, settings[peaks[s]])
            L = L + float(w[s]) * float(Ls)
            g += w[s] * torch.kron(gs.double().cpu(), B[s])
        return float(L), g

    def loss_only(c):
        return sum(float(w[s]) * float(exact_loss(m, th, settings[peaks[s]])) for s, th in enumerate(thetas(c)))

    opts = options or NewtonOptions()
    c0 = C0.reshape(-1)
    start = float(loss_only(c0)) / len(peaks)

    def enrich(entry: dict) -> dict:
        entry["mean_esr"] = entry.get("loss_after", entry["loss"]) / len(peaks)
        if callback:
            callback(entry)
        return entry

    res = newton(lgh, loss_only, c0, opts, enrich, loss_grad=lg)
    C = res.theta.view(P, J)
    curves = KnobCurves(m.name, sample_rate, lo, hi, {n: [float(v) for v in C[i]] for i, n in enumerate(m.param_names)})
    esr = {p: float(exact_loss(m, th, settings[p])) / float(settings[p].target_energy) for p, th in zip(peaks, thetas(res.theta))}
    return JointResult(curves=curves, esr=esr, mean_esr=float(np.mean(list(esr.values()))), iterations=res.iterations,
                       converged=res.converged, message=res.message, seconds=time.perf_counter() - t0,
                       start_mean_esr=start, history=res.history)
