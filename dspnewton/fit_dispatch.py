"""``dspnewton.fit``: one entry for fitting a named model or selecting one (``model="auto"``).

It sits above both :mod:`dspnewton.fitting` (one model, by Newton) and :mod:`dspnewton.selection`
(which fits each candidate with :func:`dspnewton.fitting.fit`), so neither imports the other's
caller: the layers run one way.
"""

from __future__ import annotations

from .errors import InputError
from .fitting import fit as fit_model
from .model.residual import split_model_name

__all__ = ["fit"]


def fit(input, target, sample_rate: int | None = None, *, model="ff5", **kw):
    """Fit ``model`` to an input/target pair, or with ``model="auto"`` select one by held-out ESR.

    Every keyword is :func:`dspnewton.fitting.fit`'s (documented there); ``auto`` goes to
    :func:`dspnewton.selection.fit_auto` with the same keywords.

    Returns:
        :class:`dspnewton.FitResult`.
    """
    name, with_residual = split_model_name(model)
    if isinstance(name, str) and name.strip().lower() == "auto":
        if with_residual:
            raise InputError(f"{model!r}: model selection picks among the DSP models and takes 'auto' alone; fit "
                             f"with --model auto, then with the chosen model (and '+gru': the residual is trained "
                             f"on a fixed DSP model)")
        from .selection import fit_auto

        return fit_auto(input, target, sample_rate, **kw)
    return fit_model(input, target, sample_rate, model=model, **kw)


fit.__doc__ = (fit.__doc__ or "") + "\n\n" + (fit_model.__doc__ or "")
