"""The parameter table: every model parameter's name, unit, range, transform and default, in one place.

Python (transforms, validation, tables, plots, exports) reads this table; the
C++ core, the bundle writer/reader and the plugin read the generated field list
``csrc/include/dspnewton/model_table.hpp`` (an X-macro with the same names,
units, ranges, defaults and order; regenerate it with
``make cpp-fields`` after editing the table — a test checks that the committed
header matches).

Transforms from the unconstrained theta_i to the physical value:

- ``none``: the value itself (threshold, make-up: unbounded dB);
- ``sigmoid``: ``lo + (hi - lo) sigmoid(u)``;
- ``logsigmoid``: ``lo (hi / lo)^sigmoid(u)`` (log-scale range);
- ``coef``: a time constant in ms through the one-pole coefficient
  ``alpha = 1 - exp(-2200 / (ms sr))``, ``alpha = alpha(hi) + (alpha(lo) - alpha(hi)) sigmoid(u)``
  (the published transform: bounds on the coefficient).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ParamSpec", "PARAMETERS", "OUTPUT_LP_TOP_HZ", "MEMORY_GAIN_FLOOR", "COLUMN_ORDER", "param_spec", "format_value"]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: name, unit ("" for none), range (None: unbounded), transform, default, label.

    ``default`` is the warm-start value of an option's parameter (close to ``ff5``
    behaviour) or the published initial value of an ``ff5`` parameter.
    """

    name: str
    unit: str
    lo: float | None
    hi: float | None
    transform: str
    default: float
    label: str
    option: str | None = None  # the model option that adds it (None: every model)
    ui_range: tuple | None = None  # a host control's range for an unbounded parameter (plugins)

    @property
    def bounded(self) -> bool:
        return self.lo is not None

    @property
    def log_scale(self) -> bool:
        """Whether plots should use a log axis."""
        return self.transform in ("coef", "logsigmoid")

    @property
    def control_range(self) -> tuple:
        """(lo, hi) of a host control: the range, or ``ui_range`` for an unbounded parameter."""
        return self.ui_range if self.ui_range is not None else (self.lo, self.hi)

    def axis_label(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label


# Ranges: the published ff5 recipe bounds the ratio to [1, 20] and the release to [10, 1000] ms.  Levelling
# amplifiers need more: limit modes with very high ratios, and program-dependent release from a few ms to
# seconds (the slow component of an optical cell up to a minute); evaluation fits sat on the published bounds,
# so the ratio reaches 50:1, the release 5..5000 ms and the slow release 60 s.
# The output low-pass's highest corner (Hz): models with ``out2`` need a sample rate above twice it
# (its bilinear pre-warping reaches Nyquist there); 44.1 kHz and up.
OUTPUT_LP_TOP_HZ = 20000.0
# ``prel`` charges its memory from max(g, this) (a gain of -240 dB): finite derivatives where a gain underflows.
MEMORY_GAIN_FLOOR = 1e-12
PARAMETERS: tuple = (
    ParamSpec("threshold_db", "dB", None, None, "none", -36.0, "threshold", ui_range=(-80.0, 0.0)),
    ParamSpec("ratio", "", 1.0, 50.0, "sigmoid", 4.0, "ratio"),
    ParamSpec("attack_ms", "ms", 0.1, 100.0, "coef", 1.0, "attack"),
    ParamSpec("release_ms", "ms", 5.0, 5000.0, "coef", 200.0, "release"),
    ParamSpec("makeup_db", "dB", None, None, "none", 0.0, "make-up", ui_range=(-24.0, 24.0)),
    ParamSpec("knee_db", "dB", 0.1, 24.0, "sigmoid", 1.0, "knee width", "knee"),
    ParamSpec("rms_ms", "ms", 0.01, 500.0, "logsigmoid", 0.05, "RMS time", "rms"),
    ParamSpec("release_slow_ms", "ms", 100.0, 60000.0, "logsigmoid", 2000.0, "slow release", "2rel"),
    ParamSpec("slow_mix", "", 0.0, 1.0, "sigmoid", 0.05, "slow mix", "2rel"),
    ParamSpec("sc_shelf_db", "dB", -24.0, 24.0, "sigmoid", 0.0, "side-chain shelf", "sc"),
    ParamSpec("drive", "", 0.01, 4.0, "logsigmoid", 0.1, "tube drive", "tube"),
    ParamSpec("bias", "", -0.5, 0.5, "sigmoid", 0.0, "tube bias", "tube"),
    ParamSpec("input_hp_hz", "Hz", 1.0, 1000.0, "logsigmoid", 5.0, "input high-pass", "inhp"),
    ParamSpec("output_shelf_hz", "Hz", 100.0, 40000.0, "logsigmoid", 8000.0, "output shelf corner", "outshelf"),
    ParamSpec("output_shelf_db", "dB", -40.0, 12.0, "sigmoid", 0.0, "output shelf gain", "outshelf"),
    ParamSpec("input_hp2_hz", "Hz", 1.0, 1000.0, "logsigmoid", 5.0, "input high-pass (2nd order)", "in2"),
    ParamSpec("input_q", "", 0.3, 3.0, "logsigmoid", 0.707, "input high-pass Q", "in2"),
    ParamSpec("core_hz", "Hz", 0.5, 200.0, "logsigmoid", 5.0, "core corner", "core"),
    ParamSpec("core_sat_db", "dB", -40.0, 40.0, "sigmoid", 20.0, "core saturation flux", "core"),
    ParamSpec("output_lp_hz", "Hz", 200.0, OUTPUT_LP_TOP_HZ, "logsigmoid", OUTPUT_LP_TOP_HZ, "output low-pass", "out2"),
    ParamSpec("output_q", "", 0.3, 3.0, "logsigmoid", 0.707, "output low-pass Q", "out2"),
    # Program-dependent release (``prel``); last in the table so that the plugin's parameter indices of the
    # older options stay where they were (hosts address automation by index).
    ParamSpec("release_long_ms", "ms", 20.0, 60000.0, "logsigmoid", 2000.0, "long release", "prel"),
    ParamSpec("memory_ms", "ms", 10.0, 30000.0, "logsigmoid", 1000.0, "release memory", "prel"),
    ParamSpec("memory_db", "dB", 0.3, 100.0, "logsigmoid", 60.0, "memory depth", "prel"),
)
_BY_NAME = {p.name: p for p in PARAMETERS}
# Column order of the C++ tables (params.h, the plugin): the ff5 five, then the options' parameters.
COLUMN_ORDER = tuple(p.name for p in PARAMETERS)


def param_spec(name: str) -> ParamSpec:
    """The table row of ``name``; KeyError lists the known names."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown parameter {name!r}; known: {', '.join(COLUMN_ORDER)}") from None


def format_value(name: str, value: float) -> str:
    """``value`` with its unit, e.g. ``-24.1 dB``, ``4.2:1`` for the ratio."""
    spec = param_spec(name)
    if name == "ratio":
        return f"{value:.3g}:1"
    return f"{value:.4g} {spec.unit}".rstrip()
