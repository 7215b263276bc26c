"""The CLI answers at once: help, ``models`` and ``version`` import neither torch nor numba
(checked by the modules a fresh interpreter holds afterwards, not by timing), and bad arguments
are refused before any heavy import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "numba", "scipy", "torchaudio", "soundfile", "matplotlib")


def _modules_after(argv: list) -> tuple[int, set]:
    script = ("import sys, json, io, contextlib\n"
              "from dspnewton.cli import main\n"
              "out = io.StringIO()\n"
              "with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):\n"
              "    try:\n"
              f"        code = main({argv!r})\n"
              "    except SystemExit as e:\n"
              "        code = e.code\n"
              "print(json.dumps([code, sorted(m.split('.')[0] for m in sys.modules)]))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    code, mods = json.loads(proc.stdout.strip().splitlines()[-1])
    return code, set(mods)


def _commands() -> list:
    from dspnewton.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    out = [[name, "--help"] for name in sub.choices]
    cap = next(a for a in sub.choices["capture"]._actions if a.__class__.__name__ == "_SubParsersAction")
    return out + [["capture", name, "--help"] for name in cap.choices]


@pytest.mark.parametrize("argv", [["--help"], ["models"], ["models", "--all"], ["version"], ["--version"],
                                  ["capture"]] + _commands(), ids=lambda a: " ".join(a))
def test_help_models_version_import_nothing_heavy(argv):
    code, mods = _modules_after(argv)
    assert code in (0, 2, None), code
    assert not (set(HEAVY) & mods), sorted(set(HEAVY) & mods)


@pytest.mark.parametrize("argv", [["fit", "a.wav"], ["sweep", "x", "-o", "y", "--modes", "squash"],
                                  ["fit", "a.wav", "b.wav", "-o", "o", "--hessian", "nope"],
                                  ["capture", "signal"], ["capture", "check", "r.wav", "--bogus"], ["frobnicate"]],
                         ids=lambda a: " ".join(a))
def test_bad_arguments_are_refused_before_heavy_imports(argv):
    code, mods = _modules_after(argv)
    assert code == 2
    assert not (set(HEAVY) & mods), sorted(set(HEAVY) & mods)


def test_lazy_package_names_resolve_to_what_they_did():
    import types

    import dspnewton
    from dspnewton.model import ballistics, compress
    from dspnewton.objective import preemphasis
    from dspnewton.optim import NewtonOptions, newton

    import dspnewton.objective.preemphasis  # noqa: F401  (importing the submodule keeps the function)
    import dspnewton.optim.newton  # noqa: F401

    for f in (ballistics, compress, preemphasis, newton, dspnewton.fit, dspnewton.render):
        assert callable(f) and not isinstance(f, types.ModuleType)
    assert dspnewton.optim.newton is newton and dspnewton.objective.preemphasis is preemphasis
    assert NewtonOptions().max_iter == 100 and isinstance(dspnewton.filters, types.ModuleType)
    assert {"fit", "render", "Processor", "__version__", "native_version"} <= set(dspnewton.__all__)
    assert set(dspnewton.__all__) <= set(dir(dspnewton))
    with pytest.raises(AttributeError):
        dspnewton.no_such_name  # noqa: B018
