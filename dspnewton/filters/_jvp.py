"""Forward-mode rules that compose under nested ``torch.func`` forward transforms.

PyTorch runs an ``autograd.Function``'s ``jvp`` staticmethod with forward-mode
AD switched off globally, so under nested forward transforms
(``jacfwd(jacfwd(f))``) the tangent it returns carries no derivative for the
outer levels, and higher forward-mode derivatives come out silently wrong
(upstream issue pytorch/pytorch#197867).  :func:`lifted_jvp` computes the
tangent one functorch level down, with forward AD enabled, and wraps the result
back, so the outer levels differentiate it like any other computation.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch._C._functorch import _unwrap_for_grad, _wrap_for_grad, peek_interpreter_stack
from torch._functorch.pyfunctorch import retrieve_current_functorch_interpreter


def lifted_jvp(fn: Callable[..., torch.Tensor], *tensors):
    """Evaluate ``fn(*tensors)`` (a tangent rule) visibly to outer transform levels.

    Outside ``torch.func`` transforms this is simply ``fn(*tensors)``.
    ``tensors`` may contain None (absent tangents); they are passed through.
    """
    if peek_interpreter_stack() is None:
        return fn(*tensors)
    interpreter = retrieve_current_functorch_interpreter()
    level = interpreter.level()
    unwrapped = [None if t is None else _unwrap_for_grad(t, level) for t in tensors]
    with interpreter.lower(), torch.autograd.forward_ad._set_fwd_grad_enabled(True):
        out = fn(*unwrapped)
    return _wrap_for_grad(out, level)
