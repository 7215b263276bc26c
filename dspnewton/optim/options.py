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
    # Lazy Hessians (off: measured no faster on these piecewise-smooth losses, docs/long_fits.md): near the
    # optimum (a step's relative decrease below lazy_near), after a full step that decreased the loss by at
    # least (1 - lazy_rtol) of the quadratic model's prediction, the next iteration reuses the Hessian and
    # evaluates the gradient alone (at most lazy_max_reuse times in a row); a stop is only taken on a step
    # made with a fresh Hessian.  Needs the compiled (fused) pass.
    lazy_hessian: bool = False
    lazy_rtol: float = 0.5
    lazy_near: float = 1e-2
    lazy_max_reuse: int = 3
