"""Model names: the options, :class:`ModelSpec` and :func:`parse_model` (no torch, so the CLI
can list and check models at once; the transforms are in :mod:`.greybox_spec`)."""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

from ..errors import InputError
from .schema import PARAMETERS

__all__ = ["ModelChoice", "parse_model_choice", "RESIDUAL_OPTION", "AUTO", "OptionSpec", "OPTION_TABLE", "OPTIONS",
           "SIGNAL_PATH_OPTIONS", "EXCLUSIVE_OPTIONS", "OPTION_PARAMS", "RECOMMENDED_MODEL", "FF5_NAMES", "ModelSpec",
           "parse_model", "list_models"]


@dataclass(frozen=True)
class OptionSpec:
    """One model option: its name in model names, the C++ member that holds it, what it does, and
    whether it is a linear stage of the signal path (the others shape the gain)."""

    name: str
    cpp_member: str
    description: str
    signal_path: bool = False


# The one option table, in the order options are written in a model name; the C++ option list
# (csrc/include/dspnewton/model_table.hpp) and `dspnewton models` are generated from it.
OPTION_TABLE = (
    OptionSpec("knee", "knee", "soft knee"),
    OptionSpec("rms", "rms", "RMS detector"),
    OptionSpec("2rel", "two_rel", "two-stage (fast and slow) release"),
    OptionSpec("prel", "prel", "program-dependent release (lengthening with a memory of recent gain reduction)"),
    OptionSpec("sc", "sc", "side-chain high shelf (1 kHz)"),
    OptionSpec("tube", "tube", "tube-style output saturation"),
    OptionSpec("inhp", "inhp", "signal path: input high-pass (an input transformer's low-frequency roll-off)", True),
    OptionSpec("outshelf", "outshelf", "signal path: output high shelf (an output transformer's high-frequency "
                                       "loss; its lowest gain is a low-pass)", True),
    OptionSpec("in2", "in2", "signal path: second-order input high-pass with Q (an input transformer's resonant "
                             "low end)", True),
    OptionSpec("core", "core", "signal path: saturating input transformer core (distortion growing with level "
                               "and towards low frequencies)", True),
    OptionSpec("out2", "out2", "signal path: second-order output low-pass with Q (an output transformer's "
                               "high-frequency roll-off, with its peak; never transparent: at its 20 kHz top it "
                               "still dulls the top octave and lags its phase)", True),
)
# Options that do the same job in two ways: a model takes at most one of each pair.
EXCLUSIVE_OPTIONS = (("2rel", "prel"), ("inhp", "in2"), ("outshelf", "out2"))
OPTIONS = tuple(o.name for o in OPTION_TABLE)
SIGNAL_PATH_OPTIONS = tuple(o.name for o in OPTION_TABLE if o.signal_path)
# Views of the one parameter table (:mod:`.schema`).
OPTION_PARAMS = {o: tuple(p.name for p in PARAMETERS if p.option == o) for o in OPTIONS}
RECOMMENDED_MODEL = "fb+knee+rms+2rel+sc+tube"
# The five ff5 parameters every model starts with.
FF5_NAMES = tuple(p.name for p in PARAMETERS if p.option is None)


@dataclass(frozen=True)
class ModelSpec:
    """A grey-box model: topology and options."""

    feedback: bool = False
    options: tuple = ()

    @property
    def name(self) -> str:
        if not self.feedback and not self.options:
            return "ff5"
        return "+".join(["fb" if self.feedback else "ff", *self.options])

    def has(self, option: str) -> bool:
        return option in self.options

    @property
    def is_ff5(self) -> bool:
        return not self.feedback and not self.options

    @property
    def param_names(self) -> tuple:
        names = list(FF5_NAMES)
        for o in self.options:
            names += OPTION_PARAMS[o]
        return tuple(names)

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    @property
    def state_names(self) -> tuple:
        """Components of the recursion state s (d,): fast gain, [slow gain (``2rel``) or the release's memory
        (``prel``)], [mean square]."""
        return (("gain_fast",) + (("gain_slow",) if self.has("2rel") else ())
                + (("memory",) if self.has("prel") else ()) + (("mean_square",) if self.has("rms") else ()))

    @property
    def state_dim(self) -> int:
        return len(self.state_names)

    def __str__(self) -> str:
        return self.name


RESIDUAL_OPTION = "gru"  # "+gru" on a model name: the GRU residual on top of the DSP model
AUTO = "auto"  # the model name that asks for model selection


@dataclass(frozen=True)
class ModelChoice:
    """A model name as it enters (the CLI, the API, a fit.json, a bundle), parsed once and passed on:
    ``spec`` the DSP model (None for ``auto``), ``residual`` whether a GRU residual rides on it."""

    spec: ModelSpec | None
    residual: bool = False

    @property
    def auto(self) -> bool:
        """Model selection by validation (``--model auto``)."""
        return self.spec is None

    @property
    def name(self) -> str:
        """``auto``, or the DSP model's canonical name with ``+gru`` for a residual."""
        return AUTO if self.spec is None else self.spec.name + (f"+{RESIDUAL_OPTION}" if self.residual else "")


def parse_model_choice(name) -> ModelChoice:
    """A :class:`ModelChoice` from ``ff5``, ``fb+2rel+gru``, ``auto``, a ModelSpec or a ModelChoice.

    InputError for an unknown or repeated option, ``gru`` alone, or ``auto`` with anything else.
    """
    if isinstance(name, ModelChoice):
        return name
    if isinstance(name, ModelSpec):
        return ModelChoice(name)
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"model name must be a non-empty string such as 'ff5' or 'fb+knee+2rel', got {name!r}")
    tokens = [t.strip() for t in name.strip().split("+")]
    residual = RESIDUAL_OPTION in [t.lower() for t in tokens]
    rest = [t for t in tokens if t.lower() != RESIDUAL_OPTION]
    if residual and not rest:
        raise InputError("'gru' is a residual added to a model: write e.g. 'ff5+gru' or 'fb+2rel+gru'")
    if [t.lower() for t in rest] == [AUTO]:
        if residual:
            raise InputError(f"{name!r}: model selection picks among the DSP models and takes 'auto' alone; fit "
                             f"with --model auto, then with the chosen model (and '+gru': the residual is trained "
                             f"on a fixed DSP model)")
        return ModelChoice(None)
    try:
        return ModelChoice(parse_model("+".join(rest)), residual)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def parse_model(name) -> ModelSpec:
    """ModelSpec from a name such as ``ff5``, ``fb+knee+2rel+sc`` or ``knee+rms`` (= ``ff+knee+rms``).

    Raises ValueError naming the unknown or repeated option and listing the valid ones.  A ModelSpec
    is returned as it is; a name is parsed once per process (:func:`_parse_name` is cached).
    """
    if isinstance(name, ModelSpec):
        return name
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"model name must be a non-empty string such as 'ff5' or 'fb+knee+2rel', got {name!r}")
    return _parse_name(name)


@functools.lru_cache(maxsize=256)
def _parse_name(name: str) -> ModelSpec:
    tokens = [t.strip() for t in name.strip().lower().split("+")]
    feedback, seen = False, []
    topo = [t for t in tokens if t in ("ff", "ff5", "fb")]
    if len(topo) > 1:
        raise ValueError(f"model {name!r} names more than one topology ({', '.join(topo)}); use one of ff, fb")
    if topo and topo[0] == "fb":
        feedback = True
    for t in tokens:
        if t in ("ff", "ff5", "fb"):
            continue
        if t == RESIDUAL_OPTION:
            raise ValueError(f"'gru' in {name!r} is the GRU residual on top of a model, not a DSP option; it is not "
                             f"available here (fit, render, export and the processor take it): use the model "
                             f"without '+gru'")
        if t == AUTO:
            raise ValueError(f"'auto' in {name!r} is model selection by validation, not a model: 'dspnewton fit' "
                             f"and 'dspnewton sweep' take --model auto alone; here name a model "
                             f"(run 'dspnewton models')")
        if t not in OPTIONS:
            raise ValueError(
                f"unknown model option {t!r} in {name!r}; options are {', '.join(OPTIONS)} after a topology "
                f"ff or fb (e.g. 'fb+knee+2rel'); run 'dspnewton models' for the list"
            )
        if t in seen:
            raise ValueError(f"model option {t!r} appears twice in {name!r}")
        seen.append(t)
    for a, b in EXCLUSIVE_OPTIONS:
        if a in seen and b in seen:
            raise ValueError(f"model {name!r} has both {a!r} and {b!r}, two forms of the same "
                             f"{'release' if a == '2rel' else 'signal-path stage'}; use one of them")
    if "ff5" in tokens and seen:
        raise ValueError(f"'ff5' is the plain feed-forward model; write 'ff+{'+'.join(seen)}' instead of {name!r}")
    return ModelSpec(feedback, tuple(o for o in OPTIONS if o in seen))


def list_models() -> list[ModelSpec]:
    """Every model, the recommended one first, then by parameter count and name."""
    specs = [ModelSpec(fb, tuple(o for o, on in zip(OPTIONS, mask) if on))
             for fb in (False, True) for mask in itertools.product((False, True), repeat=len(OPTIONS))]
    specs = [s for s in specs if not any(s.has(a) and s.has(b) for a, b in EXCLUSIVE_OPTIONS)]
    rec = parse_model(RECOMMENDED_MODEL)
    rest = sorted((s for s in specs if s != rec), key=lambda s: (s.n_params, s.feedback, s.name))
    return [rec] + rest
