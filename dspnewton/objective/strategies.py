"""The names of the loss/Hessian strategies (no torch: the CLI offers them at once; the
routines are in :mod:`.hessian`)."""

__all__ = ["STRATEGIES"]

STRATEGIES = ("fused", "revrev", "fwdrev", "revfwd", "fwdfwd", "gauss-newton")
