"""dspnewton: differentiable DSP for sound-matching analogue dynamics processors.

Layers (data flows one way): :mod:`dspnewton.filters` (recursive filters) ->
model -> objective -> Newton optimiser -> fit / sweep / evaluation -> CLI.
"""

__version__ = "0.1.0"

from . import filters  # noqa: E402
from .fitting import fit  # noqa: E402
from .model import Compressor, CompressorParams  # noqa: E402
from .presets import Preset, bundle_presets, load_preset  # noqa: E402
from .processing import Processor, render  # noqa: E402
from .result import FitResult  # noqa: E402

__all__ = ["__version__", "Compressor", "CompressorParams", "FitResult", "Preset", "Processor", "bundle_presets",
           "filters", "fit", "load_preset", "native_version", "render"]


def native_version() -> str:
    """Version string reported by the compiled C++ extension ``dspnewton._native``."""
    from . import _native

    return _native.version()
