"""The plugin's face, tested by looking at it: under Xvfb, Debian's jalv (an LV2 host that shows plugin
UIs) opens the face of the installed plugin with controls set by the host; a screenshot is read back
and checked — the face is drawn, the meter's needle rests at the scale's stop in silence and deflects
with a loud input (a sine from JACK's example client), the knobs sit at the host's positions."""

from __future__ import annotations

import numpy as np
import pytest

import face_shot
from conftest import IN_CI, model_bundle
from dspnewton.model.greybox_spec import RECOMMENDED_MODEL

pytestmark = pytest.mark.skipif(bool(face_shot.missing_tools()) and not IN_CI,
                                reason=f"needs {', '.join(face_shot.missing_tools())} ({face_shot.APT})")


def test_face_meter_and_knobs_follow_the_host(plugins, tmp_path):
    assert not face_shot.missing_tools(), f"apt-get install {face_shot.APT}"
    with face_shot.headless_session() as env:
        quiet = face_shot.photograph(env, plugins, tmp_path, controls=("peak=80", "gain_db=-12", "meter=1"),
                                     name="quiet")
        # the face drives the host: the Gain knob dragged down by the mouse to its bottom (-24 dB); the DSP's output
        # meter (+4 reading) then falls, and the knob is drawn there
        loud, dragged = face_shot.photograph(env, plugins, tmp_path, controls=("peak=20", "meter=1"), tone=True,
                                             name="loud", drag=(*face_shot.KNOBS["gain_db"][:2], 400))
        # a bundle set through the host's state, gain-reduction reading, silence
        gr = face_shot.photograph(env, plugins, tmp_path, controls=("peak=30", "meter=0"), name="gr_rest",
                                  bundle=model_bundle(tmp_path, RECOMMENDED_MODEL, name="my_unit.bundle"))
    for img in (quiet, loud, gr):
        assert img.shape == (face_shot.HEIGHT, face_shot.WIDTH, 3)
        assert img.reshape(-1, 3).std(axis=0).min() > 20  # drawn, not a blank window
        assert (np.abs(img[10:40, 15:200].astype(int) - (236, 200, 120)).sum(axis=2) < 60).sum() > 50  # the title
    # The needle: at the scale's left stop in silence (output +4 reading: nothing), deflected by the sine;
    # in gain-reduction mode at rest it stands at 0.
    rest = face_shot.needle_angle(quiet)
    assert abs(rest - face_shot.expected_needle_angle(-60.0)) <= 4.0, rest
    assert face_shot.needle_angle(loud) > rest + 15.0
    assert abs(face_shot.needle_angle(gr) - face_shot.expected_needle_angle(0.0)) <= 4.0
    # The face set the gain: its knob at -24 dB, and the output the DSP measures is lower (needle further left).
    got, want = face_shot.knob_angle(dragged, "gain_db"), face_shot.expected_knob_angle(0.0)
    assert min(abs(got - want), 360 - abs(got - want)) <= 5.0, (got, want)
    assert face_shot.needle_angle(dragged) < face_shot.needle_angle(loud) - 10.0
    # The knobs at the positions the host set: peak 80 of 0..100, gain -12 of -24..24; peak 30.
    for img, knob, t in ((quiet, "peak", 0.8), (quiet, "gain_db", 0.25), (gr, "peak", 0.3)):
        got, want = face_shot.knob_angle(img, knob), face_shot.expected_knob_angle(t)
        assert min(abs(got - want), 360 - abs(got - want)) <= 5.0, (knob, t, got, want)
    # The bundle loaded through the host's state: the top bar names it (its line of text is not the built-in one's).
    info = (slice(36, 52), slice(15, 400))
    assert np.abs(gr[info].astype(int) - quiet[info].astype(int)).sum() > 2000
