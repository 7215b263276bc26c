"""Replay the fuzz corpus (inputs kept from `make fuzz`, crashers included) through the
readers: each must parse or raise ValueError with a message, never crash.  Each input runs
in its own subprocess, so a crash fails that input's test instead of the whole run."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = sorted((Path(__file__).parent / "fuzz" / "corpus").glob("*"))

REPLAY = r"""
import json, sys
from dspnewton import _native
data = open(sys.argv[1], "rb").read()
out = {}
for name, parse in (("vstpreset", lambda: _native.parse_vstpreset(data)),
                    ("bundle", lambda: _native.parse_bundle(data.decode("utf-8", "replace")))):
    try:
        parse()
        out[name] = "parsed"
    except ValueError as exc:
        out[name] = "ValueError: " + str(exc)
if out["bundle"] == "parsed":  # the processor on a parsed bundle: the input's bytes as samples
    import numpy as np
    b = _native.parse_bundle(data.decode("utf-8", "replace"))
    x = np.frombuffer(data[:len(data) // 8 * 8], np.float32).reshape(2, -1)
    for link in (True, False):
        p = _native.Processor(b["table"], b["model"], b["sample_rate"], channels=2, link=link,
                              mode="compress" if b["table"].get("compress") else "limit")
        out["processor"] = "finite" if np.isfinite(p.process(x)).all() else "NON-FINITE"
if out["bundle"] == "parsed":  # a bundle loaded during playback: the switch continues from the old state
    p2 = _native.Processor(b["table"], b["model"], b["sample_rate"], channels=2,
                           mode="compress" if b["table"].get("compress") else "limit")
    first = _native.Processor({"compress": [{"peak": 70, "threshold_db": -20, "ratio": 4, "attack_ms": 5,
                                             "release_ms": 100, "makeup_db": 0}]}, sample_rate=b["sample_rate"],
                              channels=2)
    first.process(x)
    p2.continue_from(first)
    out["processor"] = out["processor"] if np.isfinite(p2.process(x)).all() else "NON-FINITE"
from dspnewton.plugin_state import read_dpf_state  # the plugin state reader (DPF's VST3/CLAP layout)
try:
    read_dpf_state(data)
    out["state"] = "parsed"
except ValueError as exc:
    out["state"] = "ValueError: " + str(exc)
print(json.dumps(out))
"""


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_input_is_handled(path):
    proc = subprocess.run([sys.executable, "-c", REPLAY, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"the readers crashed on {path.name} (exit {proc.returncode}): {proc.stderr[-2000:]}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result.pop("processor", "finite") == "finite"
    assert set(result) == {"vstpreset", "bundle", "state"}
    for name, outcome in result.items():
        assert outcome == "parsed" or (outcome.startswith("ValueError: ") and len(outcome) > len("ValueError: ") + 5), \
            f"{name} reader on {path.name}: {outcome!r} (an error needs a message)"
    # The seeds are valid inputs of their reader; the kept crashers must now be rejected cleanly.
    if path.name.startswith("seed_"):
        reader = {".json": "bundle", ".vstpreset": "vstpreset", ".state": "state"}[path.suffix]
        assert result[reader] == "parsed", f"seed {path.name} no longer parses: {result[reader]}"
    if path.name.startswith("crash"):
        assert all(v.startswith("ValueError") for k, v in result.items() if k != "state"), result


def test_corpus_is_not_empty():
    assert CORPUS, "keep at least the seed inputs in tests/fuzz/corpus"
    assert any(p.name.startswith("seed_") for p in CORPUS) and any(p.name.startswith("crash") for p in CORPUS)
