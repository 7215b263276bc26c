"""The C++ core's view of the model tables, generated: ``csrc/include/dspnewton/model_table.hpp``.

One X-macro per table, so the C++ core never spells a parameter, an option or the GRU size itself:

- ``DSPNEWTON_PARAM_FIELDS(X)``: the parameter table (:data:`.schema.PARAMETERS`);
- ``DSPNEWTON_MODEL_OPTIONS(X)``: the option table (:data:`.names.OPTION_TABLE`), in name order;
- ``DSPNEWTON_EXCLUSIVE_OPTIONS(X)``: the pairs of options a model takes at most one of
  (:data:`.names.EXCLUSIVE_OPTIONS`), as their C++ members and their names in model names;
- ``DSPNEWTON_GRU_HIDDEN``: the residual's hidden size (:data:`.residual.HIDDEN`);
- ``DSPNEWTON_MEMORY_GAIN_FLOOR``: the gain floor of ``prel``'s memory (:data:`.schema.MEMORY_GAIN_FLOOR`).

``make cpp-fields`` rewrites the file; a test checks that the committed file matches.
"""

from __future__ import annotations

from pathlib import Path

from .names import EXCLUSIVE_OPTIONS, OPTION_TABLE
from .schema import MEMORY_GAIN_FLOOR, PARAMETERS

__all__ = ["CPP_HEADER", "cpp_header", "write_cpp_header"]

CPP_HEADER = "csrc/include/dspnewton/model_table.hpp"


def _cpp_number(v: float | None, sign: str) -> str:
    return f"{sign}HUGE_VAL" if v is None else repr(float(v))


def _macro(name: str, rows: list[str]) -> list[str]:
    return [f"#define {name}(X) \\"] + [r + " \\" for r in rows[:-1]] + [rows[-1]]


def cpp_header() -> str:
    """The text of ``model_table.hpp``."""
    from .residual import HIDDEN

    params = []
    for p in PARAMETERS:
        c_lo, c_hi = p.control_range
        params.append(f"    X({p.name}, \"{p.label}\", \"{p.unit}\", {_cpp_number(p.lo, '-')}, {_cpp_number(p.hi, '')}, "
                      f"{float(p.default)!r}, \"{p.option or ''}\", {float(c_lo)!r}, {float(c_hi)!r}, \"{p.transform}\")")
    options = [f"    X({o.cpp_member}, \"{o.name}\", {str(o.signal_path).lower()})" for o in OPTION_TABLE]
    member = {o.name: o.cpp_member for o in OPTION_TABLE}
    exclusive = [f'    X({member[a]}, {member[b]}, "{a}", "{b}")' for a, b in EXCLUSIVE_OPTIONS]
    lines = [
        "// Generated from dspnewton/model/ (schema.py, names.py, residual.py) by `make cpp-fields`. Do not edit:",
        "// the tables live there, and a test checks that this file matches them.",
        "//",
        "// DSPNEWTON_PARAM_FIELDS: X(name, label, unit, lo, hi, default, option, control_lo, control_hi, transform):",
        "// option \"\" means every model has the parameter; control_lo/hi is a host control's range (the range, or",
        "// a UI range when the parameter is unbounded); transform maps the unconstrained theta to the value",
        "// (none, sigmoid, logsigmoid, coef; see dspnewton/model/schema.py).",
        "// DSPNEWTON_MODEL_OPTIONS: X(member, name, signal_path), in the order options are written in a model name.",
        "// DSPNEWTON_EXCLUSIVE_OPTIONS: X(member_a, member_b, name_a, name_b): a model takes at most one of the two.",
        "#pragma once",
        "",
        "#include <cmath>",
        "",
        *_macro("DSPNEWTON_PARAM_FIELDS", params),
        "",
        *_macro("DSPNEWTON_MODEL_OPTIONS", options),
        "",
        *_macro("DSPNEWTON_EXCLUSIVE_OPTIONS", exclusive),
        "",
        f"#define DSPNEWTON_GRU_HIDDEN {HIDDEN}",
        f"#define DSPNEWTON_MEMORY_GAIN_FLOOR {MEMORY_GAIN_FLOOR!r}  // prel's memory sees max(gain, this)",
    ]
    return "\n".join(lines) + "\n"


def write_cpp_header(root=None) -> str:
    """Write :func:`cpp_header` to :data:`CPP_HEADER` under the repository root; returns the path."""
    target = Path(root or Path(__file__).resolve().parents[2]) / CPP_HEADER
    target.write_text(cpp_header())
    return str(target)
