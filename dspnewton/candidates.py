"""``--model auto``'s candidates and fold counts (no torch: ``dspnewton models`` prints them at
once; the selection itself is :mod:`dspnewton.selection`)."""

from __future__ import annotations

from .model.names import RECOMMENDED_MODEL, parse_model

__all__ = ["SHORT_LIST", "VALIDATION_FRACTION", "FOLDS", "PRUNE_TOLERANCE", "SELECTION_FIT_SECONDS", "short_list_text",
           "auto_text"]

SHORT_LIST = (
    ("ff5", "the published five-parameter model: the baseline every other candidate has to beat"),
    ("ff+knee+rms", "feed-forward with a soft knee and an RMS detector: VCA and digital compressors"),
    ("ff+knee+rms+inhp+outshelf", "ff+knee+rms with the signal path's transformer stages (input high-pass, "
                                  "output high shelf)"),
    ("ff+knee+rms+in2+core+out2", "ff+knee+rms with second-order transformers (resonant input high-pass, "
                                  "saturating core, output low-pass with its peak) and no slow release state to "
                                  "run off a short capture (44.1 kHz and up)"),
    ("fb+2rel", "feedback detector with a two-stage release: the core of an optical levelling amplifier"),
    (RECOMMENDED_MODEL, "the recommended model: every gain-shaping option (knee, RMS, two-stage release, "
                        "side-chain shelf, tube output)"),
    ("fb+2rel+inhp+outshelf", "fb+2rel with the signal path's transformer stages (input high-pass, output "
                              "high shelf): colouring that is there whether the unit compresses or not"),
    (f"{RECOMMENDED_MODEL}+inhp+outshelf", "the recommended model with both signal-path stages: the most "
                                           "flexible candidate"),
    ("fb+2rel+in2+core+out2", "fb+2rel with second-order transformers: resonant input high-pass, saturating core "
                              "(low-frequency distortion at high levels), output low-pass with its peak (44.1 kHz "
                              "and up); also the warm start of the larger feedback candidates"),
    ("ff+knee+rms+prel+in2+core+out2", "ff+knee+rms with a program-dependent release and the second-order "
                                       "transformers: a FET or variable-mu limiter whose release slows after long "
                                       "reduction (44.1 kHz and up)"),
    (f"{RECOMMENDED_MODEL}+in2+core+out2", "the recommended model with the second-order transformers "
                                           "(44.1 kHz and up)"),
    ("fb+knee+rms+prel+sc+tube+in2+core+out2", "the recommended model with a program-dependent release instead "
                                               "of the two-stage one, and the second-order transformers: the "
                                               "largest candidate (44.1 kHz and up)"),
)
VALIDATION_FRACTION = 0.25
FOLDS = 4
PRUNE_TOLERANCE = 0.05  # a signal-path stage left on a bound is dropped when that costs at most this (score ratio)
# The most audio (s) the candidates are fitted on: on longer pairs each run of fitted blocks keeps its last share of
# it, so that the selection's cost stops growing with the pair (every candidate is a full Newton fit); the chosen
# model is refitted on the whole pair all the same.
SELECTION_FIT_SECONDS = 60.0


def short_list_text() -> str:
    """The short list with one line of reasons per candidate (``dspnewton models``)."""
    width = max(len(m) for m, _ in SHORT_LIST)
    lines = [f"  {m:<{width}}  {parse_model(m).n_params:2d} parameters: {why}" for m, why in SHORT_LIST]
    return "\n".join(lines)


def auto_text() -> str:
    """How ``--model auto`` chooses (``dspnewton models``)."""
    return (f"--model auto (fit, sweep, capture fit) fits each of this short list on "
            f"{100 * (1 - VALIDATION_FRACTION):g} % of the pair (at most\n{SELECTION_FIT_SECONDS:g} s of it), scores it "
            f"on {FOLDS} held-out folds (the first from rest, from sample 0),\nkeeps the best that is never worse "
            f"than ff5 on a fold, drops each signal-path stage its fit\nleft on a bound when the model without it "
            f"scores at most "
            f"{100 * PRUNE_TOLERANCE:g} % worse, and refits it on the whole pair:")
