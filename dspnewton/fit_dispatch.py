"""``dspnewton.fit``: one entry for fitting a named model or selecting one (``model="auto"``).

It sits above both :mod:`dspnewton.fitting` (one model, by Newton) and :mod:`dspnewton.selection`
(which fits each candidate with :func:`dspnewton.fitting.fit`), so neither imports the other's
caller: the layers run one way.
"""

from __future__ import annotations

from .fitting import fit as fit_model
from .model.names import parse_model_choice

__all__ = ["fit"]


def fit(input, target, sample_rate: int | None = None, *, model="ff5", **kw):
    """Fit ``model`` to an input/target pair, or with ``model="auto"`` select one by held-out ESR.

    Every keyword is :func:`dspnewton.fitting.fit`'s (documented there); ``auto`` goes to
    :func:`dspnewton.selection.fit_auto` with the same keywords.

    Returns:
        :class:`dspnewton.FitResult`.
    """
    choice = parse_model_choice(model)  # parsed once here; passed on as a ModelChoice
    if choice.auto:
        from .selection import fit_auto

        return fit_auto(input, target, sample_rate, **kw)
    return fit_model(input, target, sample_rate, model=choice, **kw)


fit.__doc__ = (fit.__doc__ or "") + "\n\n" + (fit_model.__doc__ or "")
