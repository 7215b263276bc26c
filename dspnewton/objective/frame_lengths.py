"""The frame and warm-up lengths of the objective, written once (no torch: the CLI shows them).

The published recipe fits 12 s frames; every frame after the first starts its loss after 1 s
of warm-up (:mod:`.framing`).  Functions that take ``frame_seconds`` / ``overlap_seconds``
default to these.
"""

__all__ = ["FRAME_SECONDS", "OVERLAP_SECONDS"]

FRAME_SECONDS = 12.0
OVERLAP_SECONDS = 1.0
