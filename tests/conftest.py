"""Shared test helpers.

Under ``CI=true`` a missing tool or package is a failure, not a skip; the one
skip allowed there is a CUDA test on a machine without a GPU.

``make test`` runs the tests in parallel workers (pytest-xdist, one per core); each worker then computes
with its share of the cores (torch, numba, OpenMP), set here before anything imports them.
"""

from __future__ import annotations

import itertools
import os
import shutil

WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
THREADS = max(1, (os.cpu_count() or 1) // WORKERS)
if WORKERS > 1:
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(_var, str(THREADS))

import pytest  # noqa: E402
import torch  # noqa: E402

if WORKERS > 1:
    torch.set_num_threads(THREADS)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CLEAN_VENV_TEST = "test_install.py::test_wheel_in_a_clean_venv_runs_every_cli_command"


def pytest_collection_modifyitems(session, config, items):
    """The clean-venv test first: its two-minute build then overlaps the other worker's tests."""
    items.sort(key=lambda item: not item.nodeid.endswith(CLEAN_VENV_TEST))


@pytest.fixture(scope="session", autouse=True)
def plugin_build_objects(tmp_path_factory):
    """Every plugin build of the session shares DPF's compiled format wrappers and DGL, kept in one folder
    (each build still compiles the plugin's own source against its bundle's params.h, so every
    plugin runs its own table: the plugin tests compare each against its own bundle).  Parallel workers
    share the folder (beside their own temporary folders) and take turns building."""
    from dspnewton.export import PLUGIN_BUILD_CACHE_ENV

    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "plugin-objects"
    patch = pytest.MonkeyPatch()
    patch.setenv(PLUGIN_BUILD_CACHE_ENV, str(shared))
    yield
    patch.undo()


def require_tool(name: str) -> str:
    """Path of an executable; skip locally (fail in CI) when it is missing."""
    path = shutil.which(name)
    if path is None:
        msg = f"required tool {name!r} is not installed"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def require_module(name: str):
    """Import a module; skip locally (fail in CI) when it is missing."""
    try:
        return __import__(name, fromlist=["_"])
    except ImportError as exc:
        if IN_CI:
            pytest.fail(f"required package {name!r} is not importable: {exc}")
        pytest.skip(f"package {name!r} missing: {exc}")


def run_cli(argv, capsys):
    """Run the CLI in-process: (exit code, stdout, stderr); an error must never be a traceback."""
    from dspnewton.cli import main

    code = main(argv)
    out = capsys.readouterr()
    assert "Traceback" not in out.err, out.err
    return code, out.out, out.err


@pytest.fixture
def rng():
    return torch.Generator().manual_seed(1234)


def random_poles(shape, rng, max_abs=0.95, dtype=torch.float64):
    """Poles in (-max_abs, max_abs), biased towards the unit circle."""
    u = torch.rand(shape, generator=rng, dtype=dtype)
    sign = torch.where(torch.rand(shape, generator=rng, dtype=dtype) < 0.8, 1.0, -1.0).to(dtype)
    return sign * max_abs * u.sqrt()


# --- shared helpers (tests import these from here, never from other test files) ---------------------------------------

SR_PLUGIN = 44100
# A two-mode ff5 table as a sweep's mapping.json: the plugin tests' bundle.
FF5_MAPPING = {
    "compress": {"40": dict(threshold_db=-13.1, ratio=5.44, attack_ms=30.5, release_ms=470.0, makeup_db=0.7, esr=0.08),
                 "70": dict(threshold_db=-20.0, ratio=4.5, attack_ms=4.0, release_ms=260.0, makeup_db=0.4, esr=0.07),
                 "100": dict(threshold_db=-35.3, ratio=3.71, attack_ms=0.98, release_ms=244.0, makeup_db=0.3, esr=0.075)},
    "limit": {"40": dict(threshold_db=-15.0, ratio=12.0, attack_ms=10.0, release_ms=300.0, makeup_db=1.0, esr=0.09),
              "100": dict(threshold_db=-38.0, ratio=19.0, attack_ms=0.5, release_ms=200.0, makeup_db=0.0, esr=0.1)},
}
# Grey-box parameter values every test model starts from (each model takes the ones it has).
GB_BASE = dict(threshold_db=-30.0, ratio=4.0, attack_ms=3.0, release_ms=80.0, makeup_db=2.0)
GB_EXTRAS = dict(knee_db=6.0, rms_ms=2.0, release_slow_ms=1500.0, slow_mix=0.4, sc_shelf_db=6.0, drive=1.0, bias=0.2,
                 input_hp_hz=40.0, output_shelf_hz=3000.0, output_shelf_db=-4.0, input_hp2_hz=60.0, input_q=1.3,
                 core_hz=30.0, core_sat_db=-10.0, output_lp_hz=9000.0, output_q=1.2, release_long_ms=900.0,
                 memory_ms=40.0, memory_db=4.0)
SECOND_ORDER = ("in2", "core", "out2")  # the second-order signal-path options (issue 26)


def sample_models():
    """The models tests run one by one: every model without the second-order stages and the program-dependent
    release (each subset of the gain options and the first-order stages, both topologies), every subset of the
    second-order stages with no gain option and with all of them, in both topologies, two that mix first- and
    second-order stages, and the program-dependent release alone, with the other gain options, and with both
    kinds of stages."""
    from dspnewton.model.greybox_spec import list_models, parse_model

    first = [m for m in list_models() if not any(m.has(o) for o in SECOND_ORDER + ("prel",))]
    prel = [parse_model(f"{t}+{rest}") for t in ("ff", "fb")
            for rest in ("prel", "knee+rms+prel+sc+tube", "knee+rms+prel+sc+tube+in2+core+out2")]
    prel += [parse_model("ff+prel+inhp+outshelf")]
    second = [parse_model("+".join([t, *gain, *stages]))
              for t in ("ff", "fb") for gain in ((), ("knee", "rms", "2rel", "sc", "tube"))
              for k in range(1, 4) for stages in itertools.combinations(SECOND_ORDER, k)]
    return first + second + [parse_model("ff+inhp+core+out2"), parse_model("fb+sc+in2+core+outshelf")] + prel


def require_dpf():
    """DPF and a C++ toolchain, to build plugins; skip locally (fail in CI) when missing."""
    if not os.path.exists("/usr/share/dpf/Makefile.plugins.mk"):
        msg = "DPF (Debian package dpf-source) is not installed"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    require_tool("make")
    require_tool("g++")


def set_param(plugin, name, value):
    """Set a pedalboard plugin parameter to ``value`` in its own units (through raw_value)."""
    param = plugin.parameters[name]
    param.raw_value = (value - param.min_value) / (param.max_value - param.min_value)


def greybox_params(spec, sample_rate=SR_PLUGIN, **over):
    """(theta, physical dict) of ``spec`` at GB_BASE/GB_EXTRAS with ``over`` applied."""
    from dspnewton.model.greybox_spec import model_physical_to_theta, model_theta_to_physical

    th = model_physical_to_theta({**GB_BASE, **GB_EXTRAS, **over}, spec, sample_rate, fill_defaults=True)
    return th, {k: float(v) for k, v in model_theta_to_physical(th, spec, sample_rate).items()}


def greybox_table(spec):
    """A two-mode table of the model: rows at peaks 40, 70, 100."""
    table = {}
    for mode, shift in (("compress", 0.0), ("limit", 6.0)):
        rows = []
        for peak, thr in ((40, -20.0), (70, -28.0), (100, -36.0)):
            _, p = greybox_params(spec, threshold_db=thr - shift, ratio=3.0 + shift + peak / 50,
                                  slow_mix=0.2 + peak / 500, release_slow_ms=800.0 + 10 * peak)
            rows.append({"peak": float(peak), **p, "esr": 0.01})
        table[mode] = rows
    return table


def sweep_folder(tmp_path, model):
    """A sweep folder (mapping.json only) of the model's two-mode table; (folder, spec)."""
    import json

    from dspnewton.model.greybox_spec import parse_model

    spec = parse_model(model)
    src = tmp_path / "sweep"
    src.mkdir()
    mapping = {mode: {str(int(r["peak"])): {**{k: v for k, v in r.items() if k != "peak"}, "model": spec.name}
                      for r in rows} for mode, rows in greybox_table(spec).items()}
    (src / "mapping.json").write_text(json.dumps(mapping))
    return src, spec


@pytest.fixture(scope="session")
def ff5_bundle(tmp_path_factory):
    """The FF5_MAPPING bundle with its plugins, built once per test session (read-only for tests)."""
    import json

    from dspnewton.export import export_bundle

    require_dpf()
    d = tmp_path_factory.mktemp("ff5_bundle")
    (d / "sweep").mkdir()
    (d / "sweep" / "mapping.json").write_text(json.dumps(FF5_MAPPING))
    return export_bundle(d / "sweep", d / "la2a.bundle", plugin=True)


# --- the installed plugin (built once) and its hosts ---------------------------------------------------------------


@pytest.fixture(scope="session")
def plugins(ff5_bundle):
    """The session's installed plugin: one build serves every plugin test, the FF5_MAPPING bundle's
    `export --plugin` build (the same plugin `dspnewton plugin build` makes, with that bundle compiled in
    as the default instead of the embedded study's); tests load bundles into it through the state."""
    return ff5_bundle / "plugins"


def _compile_host(tmp_path_factory, name, flags):
    import subprocess

    cc = require_tool("gcc")
    host = tmp_path_factory.mktemp(name) / name
    src = os.path.join(os.path.dirname(__file__), f"{name}.c")
    build = subprocess.run([cc, "-O2", src, "-o", str(host), *flags], capture_output=True, text=True)
    if build.returncode != 0:
        pytest.fail(f"building {name} failed:\n{build.stderr}")
    return host


@pytest.fixture(scope="session")
def clap_host(tmp_path_factory):
    return _compile_host(tmp_path_factory, "clap_host", ["-I/usr/share/dpf/distrho/src/clap", "-ldl"])


@pytest.fixture(scope="session")
def lv2_host(tmp_path_factory):
    """tests/lv2_host.c: a lilv host with a worker and the state interface (lv2file has no worker, so DPF
    plugins with state do not instantiate in it)."""
    import subprocess

    require_tool("pkg-config")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "lilv-0"], capture_output=True, text=True)
    if flags.returncode != 0:
        msg = "lilv development files (Debian package liblilv-dev) are not installed"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return _compile_host(tmp_path_factory, "lv2_host", [*flags.stdout.split(), "-lm"])


def variant_name(stereo: bool) -> str:
    return "dspnewton_la2a_stereo" if stereo else "dspnewton_la2a"


def load_vst3(plugins_dir, *, stereo=False, bundle=None, mode=None, peak=None):
    """A fresh pedalboard VST3 instance of the plugin, with ``bundle`` set through its state."""
    pedalboard = require_module("pedalboard")
    plugin = pedalboard.load_plugin(str(plugins_dir / f"{variant_name(stereo)}.vst3"))
    if bundle is not None:
        from dspnewton.plugin_state import plugin_state

        plugin.raw_state = plugin_state(bundle, "pedalboard", mode=mode, peak=peak)
    return plugin


def run_clap(host, plugins_dir, x, tmp_path, *controls, stereo=False, bundle=None, mode=None, peak=None, block=512,
             sample_rate=SR_PLUGIN):
    """(output (C, T) float32, meters {name: value}) of the CLAP plugin in tests/clap_host.c."""
    import subprocess

    import numpy as np

    x = np.ascontiguousarray(np.atleast_2d(x), dtype=np.float32)
    x.tofile(tmp_path / "clap_in.f32")
    args = []
    if bundle is not None:
        from dspnewton.plugin_state import write_plugin_state

        write_plugin_state(bundle, tmp_path / "clap.state", "clap", mode=mode, peak=peak)
        args = ["-s", str(tmp_path / "clap.state")]
    proc = subprocess.run([str(host), str(plugins_dir / f"{variant_name(stereo)}.clap"), str(tmp_path / "clap_in.f32"),
                           str(tmp_path / "clap_out.f32"), str(sample_rate), "-c", str(x.shape[0]), "-b", str(block),
                           *args, *controls], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    meters = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    return (np.fromfile(tmp_path / "clap_out.f32", np.float32).reshape(x.shape),
            {k: float(v) for k, v in meters.items()})


def run_lv2(host, plugins_dir, x, tmp_path, *controls, stereo=False, bundle=None, mode=None, peak=None, block=512,
            state_file=None, save_dir=None, sample_rate=SR_PLUGIN):
    """(output (C, T) float32, meters {symbol: value}) of the LV2 plugin in tests/lv2_host.c; ``bundle``
    through a preset from dspnewton.plugin_state, ``state_file`` a saved state, ``save_dir`` saves it."""
    import subprocess

    import numpy as np

    x = np.ascontiguousarray(np.atleast_2d(x), dtype=np.float32)
    x.tofile(tmp_path / "lv2_in.f32")
    lv2_path = tmp_path / "lv2_path"
    lv2_path.mkdir(exist_ok=True)
    link = lv2_path / f"{variant_name(stereo)}.lv2"
    if not link.exists():
        os.symlink(plugins_dir / link.name, link)
    args = []
    if bundle is not None:
        from dspnewton.plugin_state import write_lv2_preset

        uri = write_lv2_preset(bundle, lv2_path / "preset.lv2", mode=mode, peak=peak, variant=variant_name(stereo))
        args = ["-P", uri]
    if state_file is not None:
        args += ["-l", str(state_file)]
    if save_dir is not None:
        args += ["-S", str(save_dir)]
    from dspnewton.export import plugin_uri

    uri = plugin_uri(variant_name(stereo))
    proc = subprocess.run([str(host), uri, str(tmp_path / "lv2_in.f32"), str(tmp_path / "lv2_out.f32"),
                           str(sample_rate), "-c", str(x.shape[0]), "-b", str(block), *args, *controls],
                          capture_output=True, text=True, env=dict(os.environ, LV2_PATH=str(lv2_path)))
    assert proc.returncode == 0, proc.stderr
    meters = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    return (np.fromfile(tmp_path / "lv2_out.f32", np.float32).reshape(x.shape),
            {k: float(v) for k, v in meters.items()})


def synthetic_residual(seed=0):
    """A GRU residual's weights (hidden 8) with small random values, as bundle.json holds them."""
    import numpy as np

    rng = np.random.default_rng(seed)
    g, h = 24, 8
    return {"type": "gru", "hidden": h, "w_ih": (0.3 * rng.standard_normal((g, 1))).tolist(),
            "w_hh": (0.2 * rng.standard_normal((g, h))).tolist(), "b_ih": (0.1 * rng.standard_normal(g)).tolist(),
            "b_hh": (0.1 * rng.standard_normal(g)).tolist(), "w_out": (0.05 * rng.standard_normal((1, h))).tolist(),
            "b_out": [0.001]}


def joint_curves(spec):
    """Degree-1 joint-fit curves per mode through the greybox_table rows at peaks 40 and 100 (in theta)."""
    from dspnewton.model.greybox_spec import model_physical_to_theta

    curves = {}
    for mode, rows in greybox_table(spec).items():
        lo, hi = (model_physical_to_theta({k: v for k, v in r.items() if k not in ("peak", "esr")}, spec, SR_PLUGIN)
                  for r in (rows[0], rows[-1]))
        curves[mode] = {"basis": "legendre", "degree": 1, "knob_lo": 40.0, "knob_hi": 100.0,
                        "sample_rate": SR_PLUGIN,
                        "coefficients": {n: [float(lo[i] + hi[i]) / 2, float(hi[i] - lo[i]) / 2]
                                         for i, n in enumerate(spec.param_names)}}
    return curves


def model_bundle(folder, model, *, joint=False, gru=False, zero_vu_dbfs=-18.0, name=None):
    """A bundle folder of ``model``'s greybox_table (two modes, peaks 40/70/100), optionally with joint
    curves and a GRU residual, written by the C++ bundle writer (no fit); returns its path."""
    from pathlib import Path

    from dspnewton import _native
    from dspnewton.model.greybox_spec import parse_model

    spec = parse_model(model)
    d = Path(folder) / (name or f"{spec.name.replace('+', '_')}{'_joint' if joint else ''}{'_gru' if gru else ''}.bundle")
    d.mkdir(parents=True)
    _native.write_bundle_files(str(d), greybox_table(spec), SR_PLUGIN, "{}", spec.name,
                               joint_curves(spec) if joint else None, synthetic_residual() if gru else None,
                               zero_vu_dbfs)
    return d
