"""Differentiable recursive filters (sequential on CPU, parallel scans on GPU).

- :func:`linear_recurrence` — ``y[n] = a[n] y[n-1] + x[n]``, time-varying.
- :func:`allpole` — ``y[n] = x[n] - sum_i A[n, i-1] y[n-i]``, time-varying, order N.
- :func:`lti_allpole`, :func:`lfilter` — time-invariant IIR (torchaudio's contract).

All take a leading batch dimension B and time T last, float32 or float64, on
CPU or CUDA, and a ``backend`` name: ``auto``, ``sequential``, ``scan``, ``cuda``.
"""

from ._checks import BACKENDS
from .allpole import allpole
from .lfilter import lfilter, lti_allpole
from .recurrence import linear_recurrence
from .scan import matrix_affine_scan, scalar_affine_scan

__all__ = [
    "BACKENDS",
    "allpole",
    "lfilter",
    "lti_allpole",
    "linear_recurrence",
    "matrix_affine_scan",
    "scalar_affine_scan",
]
