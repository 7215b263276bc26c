"""The unit's two modes, in the order of its switch (the LA-2A's Compress/Limit switch: 0, 1).

The one place the mode names are written; every layer (data, sweep, export, presets, capture,
CLI) reads them from here.  No heavy imports: the CLI offers them as choices at once.
"""

__all__ = ["MODES", "COMPRESS", "LIMIT", "switch_of"]

COMPRESS, LIMIT = "compress", "limit"
MODES = (COMPRESS, LIMIT)


def switch_of(mode: str) -> int:
    """The switch position of ``mode`` (0 compress, 1 limit); ValueError for another name."""
    try:
        return MODES.index(mode)
    except ValueError:
        raise ValueError(f"unknown mode {mode!r}; use {' or '.join(MODES)}") from None
