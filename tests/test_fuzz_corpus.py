"""Replay the fuzz corpus (inputs kept from `make fuzz`, crashers included) through the
readers: each must parse or raise ValueError, never crash."""

from pathlib import Path

import pytest

from dspnewton import _native

CORPUS = sorted((Path(__file__).parent / "fuzz" / "corpus").glob("*"))


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_input_is_handled(path):
    data = path.read_bytes()
    for parse in (lambda: _native.parse_vstpreset(data), lambda: _native.parse_bundle(data.decode("utf-8", "replace"))):
        try:
            parse()
        except ValueError:
            pass


def test_corpus_is_not_empty():
    assert CORPUS, "keep at least the seed inputs in tests/fuzz/corpus"
