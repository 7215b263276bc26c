"""dspnewton: differentiable DSP for sound-matching analogue dynamics processors.

Layers (data flows one way): :mod:`dspnewton.filters` (recursive filters) ->
model -> objective -> Newton optimiser -> fit / sweep / evaluation -> CLI.
"""

__version__ = "0.1.0"

from . import filters  # noqa: E402

__all__ = ["__version__", "filters", "native_version"]


def native_version() -> str:
    """Version string reported by the compiled C++ extension ``dspnewton._native``."""
    from . import _native

    return _native.version()
