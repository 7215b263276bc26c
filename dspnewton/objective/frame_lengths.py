"""The frame and warm-up lengths of the objective, written once (no torch: the CLI shows them).

The published recipe fits 12 s frames; every frame after the first starts its loss after 1 s
of warm-up (:mod:`.framing`).  Functions that take ``frame_seconds`` / ``overlap_seconds``
default to these.
"""

__all__ = ["FRAME_SECONDS", "OVERLAP_SECONDS", "SEGMENT_WARMUP_SECONDS", "SEGMENT_FRAME_SECONDS"]

FRAME_SECONDS = 12.0
OVERLAP_SECONDS = 1.0
# Frames that score given ranges of a pair (model selection's fitted blocks): each starts from rest this long
# before its range (or at the pair's first sample: exact), and scores at most SEGMENT_FRAME_SECONDS.
SEGMENT_WARMUP_SECONDS = 10.0
SEGMENT_FRAME_SECONDS = 60.0
