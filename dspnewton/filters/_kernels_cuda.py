"""CUDA kernels (numba.cuda): one thread per signal, sequential in time.

They are the ``cuda`` backend, which wins over the parallel ``scan`` when there
are many signals (``batch * 32 >= length``).  Without a GPU they still run under
numba's simulator (``NUMBA_ENABLE_CUDASIM=1``), which the tests use on small
inputs to check their logic.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

if not hasattr(np, "row_stack"):
    # numba-cuda registers an overload of np.row_stack, which NumPy 2.4 removed;
    # give it the alias it expects so that importing numba.cuda works (for
    # dspnewton and for packages such as torchcomp that import it themselves).
    np.row_stack = np.vstack

__all__ = ["available", "recurrence_forward", "allpole_forward", "ballistics_forward"]


@functools.lru_cache(maxsize=None)
def _compiled():
    """Import numba.cuda and the device code on first use (slow to import)."""
    from numba import cuda

    from . import _cuda_device

    return cuda, _cuda_device.recurrence_kernel, _cuda_device.allpole_kernel, _cuda_device.ballistics_kernel


def available() -> bool:
    """True when numba can launch CUDA kernels (a GPU, or the simulator)."""
    try:
        cuda = _compiled()[0]
        return bool(cuda.is_available())
    except Exception:  # numba-cuda missing or no driver
        return False


def _launch(kernel, tensors, batch: int) -> None:
    cuda = _compiled()[0]
    threads = 64
    blocks = (batch + threads - 1) // threads
    if any(t.device.type == "cuda" for t in tensors):
        stream = cuda.external_stream(torch.cuda.current_stream(tensors[0].device).cuda_stream)
        arrays = [cuda.as_cuda_array(t.detach()) for t in tensors]
        kernel[blocks, threads, stream](*arrays)
    else:  # simulator: plain host arrays
        kernel[blocks, threads](*[t.detach().numpy() for t in tensors])


def recurrence_forward(a: torch.Tensor, x: torch.Tensor, y0: torch.Tensor) -> torch.Tensor:
    """First-order recurrence; shapes a, x (B, T), y0 (B,) -> (B, T)."""
    out = torch.empty_like(x)
    _launch(_compiled()[1], [a, x, y0, out], x.shape[0])
    return out


def allpole_forward(x: torch.Tensor, A: torch.Tensor, zi: torch.Tensor) -> torch.Tensor:
    """All-pole filter; shapes x (B, T), A (B, T, N), zi (B, N) -> (B, T)."""
    out = torch.empty_like(x)
    _launch(_compiled()[2], [x, A, zi, out], x.shape[0])
    return out


def ballistics_forward(gh, at, rt, g0):
    """Attack/release smoother; gh (B, T), at, rt, g0 (B,) -> (g (B, T), mask (B, T) uint8)."""
    out = torch.empty_like(gh)
    mask = torch.empty(gh.shape, dtype=torch.uint8, device=gh.device)
    _launch(_compiled()[3], [gh.contiguous(), at.contiguous(), rt.contiguous(), g0.contiguous(), out, mask], gh.shape[0])
    return out, mask
