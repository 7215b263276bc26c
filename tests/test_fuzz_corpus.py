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
print(json.dumps(out))
"""


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_input_is_handled(path):
    proc = subprocess.run([sys.executable, "-c", REPLAY, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"the readers crashed on {path.name} (exit {proc.returncode}): {proc.stderr[-2000:]}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result.pop("processor", "finite") == "finite"
    assert set(result) == {"vstpreset", "bundle"}
    for name, outcome in result.items():
        assert outcome == "parsed" or (outcome.startswith("ValueError: ") and len(outcome) > len("ValueError: ") + 5), \
            f"{name} reader on {path.name}: {outcome!r} (an error needs a message)"
    # The seeds are valid inputs of their reader; the kept crashers must now be rejected cleanly.
    if path.name.startswith("seed_"):
        reader = "bundle" if path.suffix == ".json" else "vstpreset"
        assert result[reader] == "parsed", f"seed {path.name} no longer parses: {result[reader]}"
    if path.name.startswith("crash"):
        assert all(v.startswith("ValueError") for v in result.values()), result


def test_corpus_is_not_empty():
    assert CORPUS, "keep at least the seed inputs in tests/fuzz/corpus"
    assert any(p.name.startswith("seed_") for p in CORPUS) and any(p.name.startswith("crash") for p in CORPUS)
