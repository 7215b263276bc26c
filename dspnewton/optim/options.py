"""Newton's stopping and step-control settings (no torch: the CLI reads the defaults at once)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NewtonOptions"]


@dataclass
class NewtonOptions:
    """Stopping and step-control settings (defaults as published where given)."""

    max_iter: int = 100
    armijo_c: float = 1e-4
    max_halvings: int = 20
    decrement_rtol: float = 1e-12  # stop when g^T H^-1 g / 2 <= rtol * L + atol
    decrement_atol: float = 0.0  # absolute part (fit() sets it from the target energy)
    loss_rtol: float = 1e-10  # stop when the relative loss decrease is below this
    eig_floor: float = 1e-10  # eigenvalues floored at eig_floor * max |lambda|
    lm_tries: int = 6
    stall_rtol: float = 1e-4  # stop when the relative loss decrease stays below this ...
    stall_iters: int = 3  # ... for this many consecutive steps (0 disables the rule)
    full_pass_first: bool = True  # after a full step, try the next full step with loss+grad+Hessian at once
    progressive: bool = True  # fits of long files iterate on covering subsets of frames first (dspnewton.progressive)
