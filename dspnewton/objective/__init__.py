"""Objective: pre-emphasis, metrics, framing, loss and Hessian strategies (names resolve on first use)."""

from .._lazy import lazy_package

lazy_package(__name__, {
    "delta_ldr": ".metrics", "esr": ".metrics", "integrated_loudness": ".metrics", "ldr": ".metrics",
    "mse": ".metrics", "PREEMPHASIS_POLE": ".preemphasis", "preemphasis": ".preemphasis",
})
