"""The compressor model: ballistics, gain computer, parameter transforms (names resolve on first use)."""

from .._lazy import lazy_package

lazy_package(__name__, {
    "ballistics": ".ballistics", "ballistics_parallel_forward": ".ballistics", "GreyBoxCompressor": ".greybox_module",
    "render_model": ".greybox", "ModelSpec": ".names", "list_models": ".names", "parse_model": ".names",
    "Compressor": ".compressor", "check_audio": ".compressor", "compress": ".compressor",
    "compressor_gain": ".compressor", "level_db": ".compressor", "static_gain": ".compressor",
    "PARAM_NAMES": ".params", "RANGES": ".params", "CompressorParams": ".params", "coef_to_ms": ".params",
    "ms_to_coef": ".params", "physical_to_theta": ".params", "theta_to_coefficients": ".params",
    "theta_to_physical": ".params",
})
