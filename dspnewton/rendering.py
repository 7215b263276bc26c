"""Rendering audio with fitted parameters: offline with the PyTorch model, or block by
block with the C++ real-time core the plugin runs.

- :func:`render` — the differentiable PyTorch model on a whole signal (the reference).
- :class:`Processor` — the plugin's real-time processor (``dspnewton._native.Processor``):
  streaming ``process(block)``, the unit's controls (peak, mode, gain, bypass), stereo
  linked or dual mono, gain-reduction reading. Agrees with :func:`render` to 1e-5.

Example::

    import dspnewton
    proc = dspnewton.Processor.from_bundle("la2a.bundle", mode="compress", peak=70, channels=2)
    for block in blocks:                 # (2, n) float32 numpy arrays, any n
        out = proc.process(block)
        meter = proc.gain_reduction_db   # dB at the block's last sample
"""

from __future__ import annotations

import numpy as np
import torch

from ._native import Processor

__all__ = ["Processor", "render"]


def render(x, params: dict, model: str = "ff5", sample_rate: int = 44100, backend: str = "auto"):
    """Apply a model with physical-unit ``params`` to ``x`` (the PyTorch model, no gradients).

    Args:
        x: (T,) or (C, T) audio, a numpy array or a torch tensor (float32/float64; each
            channel is processed on its own, from the initial state).
        params: every parameter of ``model`` in physical units (dB, ms; see
            ``dspnewton models``), e.g. ``{"threshold_db": -20, "ratio": 4, "attack_ms": 5,
            "release_ms": 100, "makeup_db": 2}`` for ``ff5``.
        model: the model's name (``ff5``, ``fb+2rel``, ...).
        sample_rate: Hz (time constants are in ms, so coefficients follow the rate).
        backend: recursion backend (``auto``, ``cpu``, ``scan``, ...).

    Returns:
        The output, same shape; a numpy array for numpy input (same dtype), else a tensor.
    """
    from .audio import InputError
    from .model.greybox import render_model
    from .model.greybox_spec import model_physical_to_theta, parse_model
    from .model.models import get_model

    try:
        spec = parse_model(model)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    checked = get_model(spec).check_params(params, "params")
    is_numpy = isinstance(x, np.ndarray)
    t = torch.from_numpy(np.ascontiguousarray(x)) if is_numpy else torch.as_tensor(x)
    if not t.is_floating_point():
        raise InputError(f"x must be float32 or float64 audio, got {t.dtype}")
    if t.dim() not in (1, 2) or t.shape[-1] == 0:
        raise InputError(f"x must have shape (T,) or (C, T) with T > 0, got {tuple(t.shape)}")
    squeeze = t.dim() == 1
    batch = t[None] if squeeze else t
    with torch.no_grad():
        theta = model_physical_to_theta(checked, spec, sample_rate).to(batch.device, batch.dtype)
        y = render_model(batch, theta, spec, sample_rate, backend=backend)
    y = y[0] if squeeze else y
    return y.cpu().numpy() if is_numpy else y
