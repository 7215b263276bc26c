"""Training the GRU residual (``+gru``) on a fitted DSP model's output: Adam on the
pre-emphasised loss with truncated back-propagation over 1 s frames (the model is in
:mod:`dspnewton.model.residual`; this is the objective and optimiser side of it).
"""

from __future__ import annotations

import torch

from .errors import InputError
from .model.residual import GRUResidual
from .objective.framing import make_frames
from .objective.preemphasis import PREEMPHASIS_POLE, preemphasis

__all__ = ["train_residual"]


def _pe_chunk(r: torch.Tensor, prev_r: torch.Tensor, prev_pe: torch.Tensor, pole: float) -> tuple:
    """Pre-emphasis of a chunk continuing from the previous chunk's last input and output."""
    from .filters import lfilter

    e = r - torch.cat([prev_r[:, None], r[:, :-1]], dim=1)
    a = torch.tensor([1.0, -pole], dtype=r.dtype)
    b = torch.tensor([1.0, 0.0], dtype=r.dtype)
    y = lfilter(e, a, b, clamp=False)
    decay = pole ** torch.arange(1, r.shape[1] + 1, dtype=r.dtype)
    return y + prev_pe[:, None] * decay


def train_residual(y_dsp, target, sample_rate: int, epochs: int = 50, lr: float = 5e-3,
                   patience: int = 5, chunk: int = 2048, frame_seconds: float = 1.0, warmup_seconds: float = 0.25,
                   seed: int = 0, callback=None) -> tuple[dict, dict]:
    """Train the residual on the fitted DSP model's output.

    The signals are cut into short frames (``frame_seconds`` of loss after ``warmup_seconds``
    in which only the GRU's state settles; the DSP output itself is continuous) processed
    as one batch, each with truncated back-propagation over chunks of ``chunk`` samples and
    the hidden state carried; the loss is the pre-emphasised ESR over the frames' loss
    regions.

    Args:
        y_dsp, target: (C, T) the DSP model's output on the whole input, and the target; or
            lists of such pairs (several settings: one residual for all of them).
        epochs: passes (at most); patience: stop after this many epochs without a lower loss.

    Returns:
        (weights, info): weights of the best epoch; info has ``esr_dsp`` (without the
        residual), ``esr`` (with it, on these frames), ``epochs``, ``history``.
    """

    torch.manual_seed(seed)
    dtype = torch.float32
    pairs = list(zip(y_dsp, target)) if isinstance(y_dsp, (list, tuple)) else [(y_dsp, target)]
    parts = [make_frames(a.detach().double().cpu(), b.detach().double().cpu(), sample_rate, frame_seconds,
                         warmup_seconds) for a, b in pairs]
    y = torch.cat([f.x for f in parts]).to(dtype)
    target_pe = torch.cat([f.target_pe for f in parts]).double()
    mask = torch.cat([f.mask for f in parts]).to(dtype)
    energy = float(sum(f.target_energy for f in parts))
    dsp_x = torch.cat([f.x for f in parts]).double()
    if energy <= 0:
        raise InputError("the target is silent over the loss region; no residual to train")
    err0 = (preemphasis(dsp_x) - target_pe).to(dtype)  # pe(y_dsp) - pe(target)
    model = GRUResidual(dtype)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    F, L = y.shape

    def full_loss() -> float:
        with torch.no_grad():
            r, _ = model(y)
            return float((((err0.double() + preemphasis(r.double())) ** 2) * mask.double()).sum()) / energy

    esr_dsp = float(((err0.double() ** 2) * mask.double()).sum()) / energy
    best, best_w, stale, history = esr_dsp, model.weights(), 0, []
    for epoch in range(epochs):
        h = None
        prev_r = torch.zeros(F, dtype=dtype)
        prev_pe = torch.zeros(F, dtype=dtype)
        for s in range(0, L, chunk):
            sl = slice(s, min(s + chunk, L))
            r, h = model(y[:, sl], h)
            pe_r = _pe_chunk(r, prev_r, prev_pe, PREEMPHASIS_POLE)
            if bool(mask[:, sl].any()):
                loss = (((err0[:, sl] + pe_r) ** 2) * mask[:, sl]).sum() / energy
                opt.zero_grad()
                loss.backward()
                opt.step()
            h = h.detach()
            prev_r, prev_pe = r[:, -1].detach(), pe_r[:, -1].detach()
        esr = full_loss()
        history.append({"epoch": epoch + 1, "esr": esr})
        if callback:
            callback(history[-1])
        if esr < best * (1 - 1e-6):
            best, best_w, stale = esr, model.weights(), 0
        else:
            stale += 1
            if stale >= patience:
                break
    return best_w, {"esr_dsp": esr_dsp, "esr": best, "epochs": len(history), "history": history}
