"""The compressor model: ballistics, gain computer, parameter transforms."""

from .ballistics import ballistics, ballistics_parallel_forward
from .greybox import GreyBoxCompressor, render_model
from .greybox_spec import ModelSpec, list_models, parse_model
from .compressor import Compressor, check_audio, compress, compressor_gain, level_db, static_gain
from .params import (
    PARAM_NAMES,
    RANGES,
    CompressorParams,
    coef_to_ms,
    ms_to_coef,
    physical_to_theta,
    theta_to_coefficients,
    theta_to_physical,
)

__all__ = [
    "GreyBoxCompressor", "ModelSpec", "list_models", "parse_model", "render_model",
    "PARAM_NAMES", "RANGES", "Compressor", "CompressorParams", "ballistics", "ballistics_parallel_forward",
    "check_audio", "coef_to_ms", "compress", "compressor_gain", "level_db", "ms_to_coef",
    "physical_to_theta", "static_gain", "theta_to_coefficients", "theta_to_physical",
]
