"""The package as a user installs it: every run-time import is a declared dependency
(or the ``plots`` extra, with a clear message when missing), and a wheel installed into
a clean virtual environment, without the Makefile, runs every CLI command."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import dspnewton
from dspnewton.cli import main

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "dspnewton"
EXTRA_MODULES = {"matplotlib": "plots"}  # optional imports and the extra that provides them


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _declared() -> tuple[set[str], dict]:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    name = lambda req: req.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip().lower()  # noqa: E731
    return {name(r) for r in meta["dependencies"]}, {k: {name(r) for r in v}
                                                   for k, v in meta["optional-dependencies"].items()}


def test_every_runtime_import_is_a_declared_dependency():
    required, extras = _declared()
    by_module = {}
    for path in PACKAGE.rglob("*.py"):
        for mod in _imports(path) - set(sys.stdlib_module_names) - {"dspnewton", "_native"}:
            by_module.setdefault(mod, []).append(str(path.relative_to(REPO)))
    undeclared = {m: files for m, files in by_module.items()
                  if m not in required and m not in {x for v in extras.values() for x in v}}
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
    for mod, extra in EXTRA_MODULES.items():
        assert mod in extras[extra] and mod not in required
        assert set(by_module.get(mod, [])) <= {"dspnewton/plots.py", "dspnewton/capture/report.py"}, \
            "optional imports stay behind require_*() (the capture report writes no figures without them)"


def test_missing_plots_extra_is_a_clear_error(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    (tmp_path / "sweep").mkdir()
    assert main(["plot", str(tmp_path / "sweep")]) == 1
    assert "pip install 'dspnewton[plots]'" in capsys.readouterr().err
    assert main(["demo", "-o", str(tmp_path / "demo"), "--quiet"]) == 1  # refuses before fitting
    assert "dspnewton[plots]" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


def _run(cmd, cwd, env, timeout=900):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n" \
                                 f"{proc.stderr[-3000:]}"
    return proc


def _clean_env() -> dict:
    """The environment of every command in the clean venv (no variables that point at the checkout)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory):
    """A fresh venv (no system site packages) with the built wheel and its declared dependencies (pinned
    by the CI constraints file), installed by pip alone: (root folder, environment); removed afterwards
    (several GB: CUDA torch).  Building it takes about two minutes, mostly unpacking files; conftest.py
    runs this test first, so under ``make test``'s parallel workers the others keep the second core busy."""
    root = tmp_path_factory.mktemp("clean-venv")
    env = _clean_env()
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", "wheels", str(REPO)], root, env)
    _run([sys.executable, "-m", "venv", "venv"], root, env)
    wheel = next((root / "wheels").glob("dspnewton-*.whl"))
    _run([str(root / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", "-c", str(REPO / ".ci" / "constraints.txt"),
          f"{wheel}[plots]"], root, env)
    yield root, env
    shutil.rmtree(root, ignore_errors=True)


def test_wheel_in_a_clean_venv_runs_every_cli_command(clean_venv):
    from dspnewton.data.virtual_unit import generate_dataset

    root, env = clean_venv
    bin_ = root / "venv" / "bin"
    cli = [str(bin_ / "dspnewton")]
    work = root / "work"
    work.mkdir()
    where = _run([str(bin_ / "python"), "-c", "import dspnewton, sys; print(dspnewton.__file__)"], work, env).stdout
    assert str(root / "venv") in where, "the clean venv must import its installed copy, not the checkout"
    installed = Path(where.strip()).parent
    assert (installed / "py.typed").exists() and (installed / "_native.pyi").exists()
    generate_dataset(work / "data", seconds=3.0, peaks=[40, 100], modes=("compress",), sample_rate=22050)
    pair = sorted((work / "data" / "Train").glob("*.wav"))
    inp, tgt = [p for p in pair if p.name.startswith("input")][0], [p for p in pair if "__100" in p.name][0]
    assert dspnewton.__version__ in _run(cli + ["version"], work, env).stdout
    assert "ff5" in _run(cli + ["models"], work, env).stdout
    _run(cli + ["fit", str(inp), str(tgt), "-o", "fit", "--max-iter", "4", "--frame-seconds", "1.5",
                "--overlap-seconds", "0.25", "--quiet"], work, env)
    _run(cli + ["render", str(inp), "fit/fit.json", "-o", "rendered.wav", "--quiet"], work, env)
    _run(cli + ["index", "data", "-o", "manifest.json"], work, env)
    _run(cli + ["sweep", "manifest.json", "-o", "sweep", "--modes", "compress", "--peaks", "40,100", "--max-iter", "4",
                "--quiet"], work, env)
    _run(cli + ["eval", "sweep"], work, env)
    _run(cli + ["plot", "sweep"], work, env)
    _run(cli + ["export", "sweep", "-o", "unit.bundle"], work, env)
    # The capture workflow: signal, one simulated take, check, fit.
    _run(cli + ["capture", "signal", "-o", "cap", "--rate", "8000", "--minutes", "0.05"], work, env)
    take = ("import dspnewton.capture as c, soundfile as sf\n"
            "from dspnewton.capture.simulate import simulate_recording\n"
            "from dspnewton.data.virtual_unit import OpticalLeveler\n"
            "s = c.stimulus.load_signal('cap')\n"
            "r, _ = simulate_recording(OpticalLeveler(100.0, 'compress').process(s.audio, 8000), 8000, latency=99.5)\n"
            "sf.write('cap/compress_100.wav', r, 8000, subtype='PCM_24')\n")
    _run([str(bin_ / "python"), "-c", take], work, env)
    assert '"ok": true' in _run(cli + ["capture", "check", "cap/compress_100.wav", "--json"], work, env).stdout
    _run(cli + ["capture", "fit", "cap", "-o", "cap.bundle", "--max-iter", "4", "--quiet"], work, env)
    for f in ("fit/fit.json", "rendered.wav", "sweep/mapping.json", "sweep/eval.csv", "sweep/plots/params_vs_peak.png",
              "unit.bundle/bundle.json", "unit.bundle/presets/compress_peak100.vstpreset", "cap/capture.wav",
              "cap/RECORDING.md", "cap.bundle/bundle.json", "cap_capture/report.md", "cap_capture/report/summary.png"):
        assert (work / f).exists(), f
    # The Python API of the installed package: streaming from the bundle and from a preset.
    script = ("import numpy as np, dspnewton\n"
              "p = dspnewton.Processor.from_bundle('unit.bundle', 'compress', 70, channels=2)\n"
              "y = p.process(np.zeros((2, 64), np.float32)); assert y.shape == (2, 64)\n"
              "pr = dspnewton.load_preset('unit.bundle/presets/compress_peak100.vstpreset')\n"
              "assert pr.processor().model == 'ff5'\n")
    _run([str(bin_ / "python"), "-c", script], work, env)
    doc = _run([str(bin_ / "python"), "-m", "pydoc", "dspnewton"], work, env).stdout
    assert "Processor" in doc and "render" in doc and "process(" in doc
    # Without the plots extra: the one command that needs it says what to install.
    _run([str(bin_ / "python"), "-m", "pip", "uninstall", "-q", "-y", "matplotlib"], work, env)
    proc = subprocess.run(cli + ["plot", "sweep"], cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 1 and "pip install 'dspnewton[plots]'" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    # ... and the capture report is written without figures, saying so.
    _run(cli + ["capture", "fit", "cap", "-o", "cap.bundle", "--force", "--max-iter", "4", "--quiet"], work, env)
    assert "matplotlib is not installed" in (work / "cap_capture" / "report.md").read_text()


def _stub_signatures() -> dict[str, list[str]]:
    """name -> parameter names, for the functions and Processor members of _native.pyi."""
    tree = ast.parse((PACKAGE / "_native.pyi").read_text())
    out = {}

    def args(fn):
        a = fn.args
        return [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs if x.arg != "self"]

    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = args(node)
        elif isinstance(node, ast.ClassDef):
            out[node.name] = []
            for m in node.body:
                if isinstance(m, ast.FunctionDef):
                    out[f"{node.name}.{m.name}"] = args(m)
                elif isinstance(m, ast.AnnAssign):
                    out[f"{node.name}.{m.target.id}"] = None
    return out


def _runtime_args(obj) -> list[str]:
    """Parameter names from pybind11's signature line ('name(a: T, b: T = x, *, c: T) -> R')."""
    import re

    first = (obj.__doc__ or "").splitlines()[0]
    inner = first[first.index("(") + 1:first.rindex(")")]
    return [n for n in re.findall(r"(?:^|, )(\w+):", inner) if n != "self"]


def test_stubs_match_the_compiled_module():
    from dspnewton import _native

    stubs = _stub_signatures()
    runtime = {n for n in dir(_native) if not n.startswith("_")}
    runtime |= {f"Processor.{n}" for n in dir(_native.Processor) if not n.startswith("_") or n == "__init__"}
    stubbed = {n for n in stubs if not n.startswith("_")} | {n for n in stubs if n.endswith(".__init__")}
    assert stubbed == runtime, f"missing stubs {runtime - stubbed}, stale stubs {stubbed - runtime}"
    for name, params in stubs.items():
        obj = getattr(_native, name) if "." not in name else getattr(_native.Processor, name.split(".")[1])
        if params is None or isinstance(obj, property) or not callable(obj) or name == "Processor":
            continue
        assert _runtime_args(obj) == params, name
    assert (PACKAGE / "py.typed").exists()


def test_every_public_name_has_a_docstring():
    import inspect

    from dspnewton import _native

    missing = [n for n in dspnewton.__all__ if n != "__version__" and not (getattr(dspnewton, n).__doc__ or "").strip()]
    for cls in (dspnewton.Processor, dspnewton.Preset, dspnewton.FitResult):
        for name, member in inspect.getmembers(cls):
            if name.startswith("_") or name in ("mro",):
                continue
            if not (getattr(member, "__doc__", "") or "").strip():
                missing.append(f"{cls.__name__}.{name}")
    for name in dir(_native):
        if not name.startswith("_") and not (getattr(_native, name).__doc__ or "").strip():
            missing.append(f"_native.{name}")
    assert not missing, f"public names without a docstring: {missing}"
