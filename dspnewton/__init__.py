"""dspnewton: differentiable DSP for sound-matching analogue dynamics processors.

Fit a compressor model to an input/target pair by exact Newton-Raphson, render it,
stream it through the C++ real-time core the plugin runs, and read exported presets:

    import dspnewton, soundfile as sf
    x, sr = sf.read("input.wav"); t, _ = sf.read("target.wav")          # (T,) float64
    fit = dspnewton.fit(x, t, sr, model="ff5")      # FitResult: params (dB, ms), esr, history
    y = dspnewton.render(x, fit.all_params, fit.model, sr)               # PyTorch model, (T,)
    proc = dspnewton.Processor.from_fit("out/fit.json", channels=2)      # C++ core, streaming
    out = proc.process(block)                       # block: (2, n) float32/float64, any n
    preset = dspnewton.load_preset("la2a.bundle/presets/limit_peak070.vstpreset")
    plugin.raw_state = dspnewton.plugin_state("la2a.bundle", "pedalboard")  # the plugin loads it

Public names: :func:`fit`, :class:`FitResult`, :func:`render`, :class:`Processor`,
:func:`load_preset`, :func:`bundle_presets`, :class:`Preset`, :func:`plugin_state` (the installed
plugin's state that loads a bundle, for scripted hosts), the PyTorch modules
:class:`Compressor` (``ff5``) and :class:`CompressorParams`, and :mod:`dspnewton.filters`.
Shapes are (samples,) or (channels, samples); parameters are in physical units (dB,
ratio, ms); see ``dspnewton models`` for every model's parameters.

Layers (data flows one way): :mod:`dspnewton.filters` (recursive filters) ->
model -> objective -> Newton optimiser -> fit / sweep / evaluation -> CLI.
"""

__version__ = "0.1.0"

from ._lazy import lazy_package  # noqa: E402

__all__ = ["__version__", "native_version"]

# Public names resolve on first use, so ``import dspnewton`` and the CLI's help import neither torch nor numba.
lazy_package(__name__, {"filters": (".filters", None), "fit": ".fit_dispatch", "Compressor": ".model",
                        "CompressorParams": ".model", "Preset": ".presets", "bundle_presets": ".presets",
                        "load_preset": ".presets", "Processor": ".rendering", "render": ".rendering",
                        "FitResult": ".result", "plugin_state": ".plugin_state"})


def native_version() -> str:
    """Version string reported by the compiled C++ extension ``dspnewton._native``."""
    from . import _native

    return _native.version()
