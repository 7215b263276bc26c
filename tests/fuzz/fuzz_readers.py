"""Fuzz the bundle reader and the .vstpreset writer/reader round trip (atheris).

    python tests/fuzz/fuzz_readers.py [-runs=N] [corpus dirs...]   (make fuzz)

Properties: the readers either parse or raise ValueError (never crash, hang or
raise anything else); a .vstpreset written from any class ID and chunks reads
back identically; a bundle written from any valid table reads back identically.
Inputs that broke a property are kept in tests/fuzz/corpus/ and replayed by
tests/test_fuzz_corpus.py.
"""

import sys

import atheris

with atheris.instrument_imports():
    from dspnewton import _native


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    choice = fdp.ConsumeIntInRange(0, 3)
    if choice == 0:
        try:
            _native.parse_bundle(fdp.ConsumeUnicodeNoSurrogates(len(data)))
        except ValueError:
            pass
    elif choice == 1:
        try:
            _native.parse_vstpreset(fdp.ConsumeBytes(len(data)))
        except ValueError:
            pass
    elif choice == 2:
        cid = "".join("0123456789ABCDEF"[fdp.ConsumeIntInRange(0, 15)] for _ in range(32))
        chunks = [(fdp.ConsumeBytes(4).decode("latin-1").ljust(4, "x")[:4], fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64)))
                  for _ in range(fdp.ConsumeIntInRange(0, 4))]
        try:
            data_out = _native.vstpreset_bytes(cid, chunks)
        except ValueError:
            return
        back = _native.parse_vstpreset(data_out)
        assert back["class_id"] == cid
        assert [(c[0], c[1]) for c in back["chunks"]] == [(c[0], c[1]) for c in chunks]
    else:
        rows, peak = [], 0.0
        for _ in range(fdp.ConsumeIntInRange(1, 5)):
            peak += fdp.ConsumeFloatInRange(0.001, 30.0)
            rows.append({"peak": min(peak, 100.0), "threshold_db": fdp.ConsumeFloatInRange(-80, 0),
                         "ratio": fdp.ConsumeFloatInRange(1, 20), "attack_ms": fdp.ConsumeFloatInRange(0.1, 100),
                         "release_ms": fdp.ConsumeFloatInRange(10, 1000), "makeup_db": fdp.ConsumeFloatInRange(-24, 24),
                         "esr": fdp.ConsumeFloatInRange(0, 1)})
        table = {"compress": rows}
        try:
            text = _native.bundle_json(table, 44100, "{}")
        except ValueError:
            return  # e.g. peaks clipped at 100 no longer strictly increasing
        back = _native.parse_bundle(text)["table"]["compress"]
        assert back == rows


def main():
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
