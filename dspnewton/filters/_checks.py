"""Input validation shared by the public filter functions.

Every check raises ``ValueError`` naming the argument and the expected shape,
so that bad input never surfaces as a traceback from inside torch or numba.
"""

from __future__ import annotations

import torch

BACKENDS = ("auto", "sequential", "scan", "cuda")
FLOAT_DTYPES = (torch.float32, torch.float64)


def check_tensor(name: str, t, ndim: int, shape_doc: str) -> None:
    """Check that ``t`` is a floating tensor of rank ``ndim``."""
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape {shape_doc}, got {type(t).__name__}")
    if t.dim() != ndim:
        raise ValueError(f"{name} must have shape {shape_doc} ({ndim} dims), got {tuple(t.shape)}")
    if t.dtype not in FLOAT_DTYPES:
        raise ValueError(
            f"{name} must be float32 or float64 (shape {shape_doc}), got dtype {t.dtype}; "
            f"convert it with .double() or .float()"
        )


def check_same(name: str, t: torch.Tensor, ref_name: str, ref: torch.Tensor) -> None:
    """Check that ``t`` has the dtype and device of ``ref``."""
    if t.device != ref.device:
        raise ValueError(f"{name} is on {t.device} but {ref_name} is on {ref.device}; put both on one device")
    if t.dtype != ref.dtype:
        raise ValueError(f"{name} has dtype {t.dtype} but {ref_name} has {ref.dtype}; use one dtype")


def check_dim(name: str, t: torch.Tensor, dim: int, size: int, shape_doc: str, what: str) -> None:
    """Check that ``t.shape[dim] == size``."""
    if t.shape[dim] != size:
        raise ValueError(f"{name} must have shape {shape_doc}: its {what} is {t.shape[dim]}, expected {size}")


def resolve_backend(backend: str, device: torch.device, batch: int, length: int) -> str:
    """Pick a concrete backend for tensors on ``device`` of shape (batch, length).

    ``auto``: ``sequential`` on CPU; on CUDA the parallel ``scan`` when
    ``batch * 32 < length`` (few long signals) and the one-thread-per-signal
    ``cuda`` kernel otherwise.
    """
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend == "auto":
        if device.type == "cuda":
            return "scan" if batch * 32 < length else "cuda"
        return "sequential"
    if backend == "sequential" and device.type != "cpu":
        raise ValueError(f"backend 'sequential' runs on CPU tensors, got tensors on {device}; use 'scan' or 'cuda'")
    if backend == "cuda" and device.type != "cuda":
        raise ValueError(f"backend 'cuda' needs CUDA tensors, got tensors on {device}; use 'sequential' or 'scan'")
    return backend
