"""Optimisers: damped Newton over full Hessians, and first-order baselines."""

from .newton import NewtonOptions, NewtonResult, modified_newton_direction, newton

__all__ = ["NewtonOptions", "NewtonResult", "modified_newton_direction", "newton"]
