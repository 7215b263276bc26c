"""Optimisers: damped Newton over full Hessians, and first-order baselines (names resolve on first use)."""

from .._lazy import lazy_package

lazy_package(__name__, {
    "NewtonOptions": ".options", "NewtonResult": ".newton", "modified_newton_direction": ".newton",
    "newton": ".newton",
})
