"""Photographs of the plugin's face, headless: Xvfb, a dummy JACK server, Debian's jalv (an LV2 host
that shows plugin UIs) with controls set from the host, optionally a sine from jack_simple_client
into the plugin, and the root window read back (X's XWD dump, parsed here) as an RGB array.

Used by tests/test_plugin_face.py (which looks at the pictures) and, as a script, to write the
README's pictures:  python tests/face_shot.py PLUGINS_DIR docs/
"""

from __future__ import annotations

import math
import os
import shutil
import struct
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

TOOLS = ("Xvfb", "jackd", "jalv.gtk3", "xwd", "jack_connect", "jack_simple_client", "jack_lsp", "xdotool")
APT = "xvfb jackd2 jalv x11-apps xdotool"
WIDTH, HEIGHT = 780, 380          # the face's size (UIDSPNewton.cpp kWidth, kHeight)
TOP_BAR = (24, 25, 27)            # its top bar's colour: where the face starts in the window
METER_PIVOT = (180.0, 260.0)      # the needle's pivot in face coordinates
KNOBS = {"gain_db": (440.0, 175.0, 58.0), "peak": (640.0, 175.0, 58.0)}  # centre x, y, radius


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def read_xwd(path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an XWD dump of a TrueColor screen (24 or 32 bits per pixel)."""
    data = Path(path).read_bytes()
    h = struct.unpack(">25I", data[:100])
    header, width, height, byte_order, bpp, bpl, ncolors = h[0], h[4], h[5], h[7], h[11], h[12], h[19]
    off = header + 12 * ncolors
    nb = bpp // 8
    px = np.frombuffer(data[off:off + bpl * height], np.uint8).reshape(height, bpl)[:, :width * nb]
    px = px.reshape(height, width, nb)
    return np.ascontiguousarray(px[..., [2, 1, 0]] if byte_order == 0 else px[..., nb - 3:nb])


def face_origin(img: np.ndarray) -> tuple[int, int]:
    """(x, y) of the face's top-left corner in a screenshot (below the host's menu bar)."""
    for y in range(img.shape[0]):
        if tuple(img[y, 5]) == TOP_BAR and tuple(img[y, WIDTH // 2]) == TOP_BAR:
            return 0, y
    raise AssertionError("the plugin's face is not on the screen")


def face(img: np.ndarray) -> np.ndarray:
    x, y = face_origin(img)
    return img[y:y + HEIGHT, x:x + WIDTH]


def needle_angle(f: np.ndarray) -> float:
    """The meter needle's angle (degrees, 0 = right, -90 = up) in a face picture: the darkest pixels on
    an arc around the pivot."""
    cx, cy = METER_PIVOT
    best, angle = 1e9, float("nan")
    for deg in np.arange(-160.0, -20.0, 0.5):
        a = math.radians(deg)
        v = sum(int(f[int(round(cy + r * math.sin(a))), int(round(cx + r * math.cos(a)))].sum()) for r in (60, 75, 90))
        if v < best:
            best, angle = v, float(deg)
    return angle


def knob_angle(f: np.ndarray, knob: str) -> float:
    """A knob's pointer angle (degrees, 0 = right, clockwise positive as on screen): the brightest pixels on
    a circle inside the knob."""
    cx, cy, r = KNOBS[knob]
    best, angle = -1, float("nan")
    for deg in np.arange(0.0, 360.0, 0.5):
        a = math.radians(deg)
        v = sum(int(f[int(round(cy + rr * math.sin(a))), int(round(cx + rr * math.cos(a)))].sum())
                for rr in (0.5 * r, 0.7 * r))
        if v > best:
            best, angle = v, float(deg)
    return angle


def expected_knob_angle(t: float) -> float:
    """The pointer angle of a knob at fraction ``t`` of its range (UIDSPNewton.cpp: 135 .. 405 degrees)."""
    return (135.0 + 270.0 * t) % 360.0


def expected_needle_angle(db: float) -> float:
    """UIDSPNewton.cpp's meter scale: linear in voltage from -20 to +3 VU over -144 .. -36 degrees."""
    v, lo, hi = 10 ** (db / 20), 0.1, 10 ** (3 / 20)
    t = min(1.04, max(-0.02, (v - lo) / (hi - lo)))
    return math.degrees(math.pi * (-0.8 + 0.6 * t))


def _start_xvfb() -> tuple[subprocess.Popen, int]:
    """Xvfb on a display number it chooses itself (``-displayfd``: free even with other test sessions or
    workers starting their own at the same moment); returns once it accepts clients."""
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x600x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as f:  # Xvfb writes the number once it is ready; EOF if it exits first
        number = f.readline().strip()
    if not number.isdigit():
        proc.kill()
        raise RuntimeError(f"Xvfb did not start (exit status {proc.wait()})")
    return proc, int(number)


@contextmanager
def headless_session():
    """Xvfb and a dummy JACK server (its own name); yields the environment for clients. Both are ended."""
    xvfb, n = _start_xvfb()
    procs = [xvfb]
    env = dict(os.environ, DISPLAY=f":{n}", JACK_DEFAULT_SERVER=f"dspnewton{os.getpid()}", JACK_NO_AUDIO_RESERVATION="1")
    try:
        procs.append(subprocess.Popen(["jackd", "-n", env["JACK_DEFAULT_SERVER"], "-d", "dummy", "-r", "44100", "-p",
                                       "256"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait(lambda: subprocess.run(["jack_lsp"], env=env, capture_output=True).returncode == 0, "the JACK server")
        yield env
    finally:
        _end(procs)


def _end(procs) -> None:
    """Terminate the processes, last started first (killed if they do not stop within 5 s)."""
    for p in reversed(procs):
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()


def _wait(ready, what, seconds=20.0):
    end = time.time() + seconds
    while time.time() < end:
        if ready():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start within {seconds:g} s")


def photograph(env, plugins_dir, out_dir, *, stereo=False, controls=(), tone=False, name="face", bundle=None,
               settle=1.5, drag=None):
    """Run jalv with the plugin (``controls``: "symbol=value" set by the host; ``bundle`` loaded through an
    LV2 preset of dspnewton.plugin_state), optionally feed it a sine, photograph the screen after
    ``settle`` seconds; writes ``out_dir/name.png`` (the face alone) and returns it as (HEIGHT, WIDTH, 3) RGB.
    With ``drag=(x, y, dy)`` (face coordinates) the mouse then drags from (x, y) by dy pixels (a knob: up is
    more), and after ``settle`` seconds more a second picture (``name_after.png``) is taken: returns both."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variant = "dspnewton_la2a_stereo" if stereo else "dspnewton_la2a"
    lv2 = Path(out_dir).resolve() / f".lv2-{name}"
    lv2.mkdir(parents=True, exist_ok=True)
    if not (lv2 / f"{variant}.lv2").exists():
        os.symlink(Path(plugins_dir).resolve() / f"{variant}.lv2", lv2 / f"{variant}.lv2")
    from dspnewton.export import plugin_uri

    uri = plugin_uri(variant)
    args = ["--no-menu"] + [a for c in controls for a in ("-c", c)]  # the face at the window's corner
    if bundle is not None:
        from dspnewton.plugin_state import write_lv2_preset

        args = ["-p", write_lv2_preset(bundle, lv2 / "preset.lv2", variant=variant)] + args
    jalv = subprocess.Popen(["jalv.gtk3", *args, uri], env=dict(env, LV2_PATH=str(lv2)), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    procs = [jalv]
    try:
        client = "dspnewton LA-2A Stereo" if stereo else "dspnewton LA-2A"
        try:
            _wait(lambda: client + ":lv2_audio_in_1" in subprocess.run(["jack_lsp"], env=env, capture_output=True,
                                                                        text=True).stdout, "jalv")
        except RuntimeError as exc:
            jalv.kill()
            raise RuntimeError(f"{exc}; jalv said: {jalv.communicate()[0].decode(errors='replace')[-2000:]}") from None
        if tone:
            procs.append(subprocess.Popen(["jack_simple_client"], env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
            _wait(lambda: "jack_simple_client:output1" in subprocess.run(["jack_lsp"], env=env, capture_output=True,
                                                                         text=True).stdout, "the sine")
            for k in range(1, 3 if stereo else 2):
                subprocess.run(["jack_connect", f"jack_simple_client:output{k}", f"{client}:lv2_audio_in_{k}"],
                               env=env, check=True)
        time.sleep(settle)
        img, origin = _shot(env, Path(out_dir), name, plt)
        if drag is None:
            return img
        x, y, dy = (int(round(v)) for v in drag)
        x, y = x + origin[0], y + origin[1]
        steps = [a for k in range(1, 11) for a in ("mousemove", str(x), str(y + dy * k // 10))]
        subprocess.run(["xdotool", "mousemove", str(x), str(y), "mousedown", "1", *steps, "mouseup", "1"], env=env,
                       check=True)
        time.sleep(settle)
        return img, _shot(env, Path(out_dir), name + "_after", plt)[0]
    finally:
        _end(procs)
        shutil.rmtree(lv2, ignore_errors=True)


def _shot(env, out_dir: Path, name: str, plt):
    """(the face's picture, its origin on the screen), written to ``out_dir/name.png``."""
    dump = out_dir / f".{name}.xwd"
    subprocess.run(["xwd", "-root", "-silent", "-out", str(dump)], env=env, check=True)
    screen = read_xwd(dump)
    dump.unlink()
    origin = face_origin(screen)
    img = face(screen)
    plt.imsave(out_dir / f"{name}.png", img)
    return img, origin


def main(argv) -> int:
    """python tests/face_shot.py PLUGINS_DIR OUT_DIR [BUNDLE]: the README's pictures of the face (with BUNDLE
    loaded; default: the embedded study's, plugin_export/default_table), a sine playing."""
    plugins, out = Path(argv[0]), Path(argv[1])
    bundle = Path(argv[2]) if len(argv) > 2 else Path(__file__).resolve().parents[1] / "plugin_export" / "default_table"
    if missing_tools():
        print(f"missing: {', '.join(missing_tools())} (apt-get install {APT})")
        return 1
    with headless_session() as env:
        photograph(env, plugins, out, controls=("peak=45", "meter=0"), tone=True, name="plugin_face", bundle=bundle)
        photograph(env, plugins, out, stereo=True, controls=("peak=40", "meter=2", "mix=70"), tone=True,
                   name="plugin_face_stereo", bundle=bundle)
    print(f"wrote {out / 'plugin_face.png'} and {out / 'plugin_face_stereo.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
