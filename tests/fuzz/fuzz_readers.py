"""Fuzz the bundle reader and the .vstpreset writer/reader round trip (atheris).

    python tests/fuzz/fuzz_readers.py [-runs=N] [corpus dirs...]   (make fuzz)

Properties: the readers either parse or raise ValueError (never crash, hang or
raise anything else); a .vstpreset written from any class ID and chunks reads
back identically; a bundle written from any valid table reads back identically;
dspnewton.Processor built from any table either raises ValueError or processes any
block (any dtype, shape, channel count, NaN/inf/huge samples, control changes between
blocks) into finite output of the block's shape or raises TypeError/ValueError, and a
NaN block never changes what the next finite block gives; load_preset on any bytes
returns a preset or raises InputError.
Inputs that broke a property are kept in tests/fuzz/corpus/ and replayed by
tests/test_fuzz_corpus.py.
"""

import sys

import atheris

with atheris.instrument_imports():
    from dspnewton import _native


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    choice = fdp.ConsumeIntInRange(0, 5)
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
    elif choice == 4:
        fuzz_processor(fdp)
    elif choice == 5:
        fuzz_preset(fdp.ConsumeBytes(len(data)))
    else:
        rows, peak = [], 0.0
        for _ in range(fdp.ConsumeIntInRange(1, 5)):
            peak += fdp.ConsumeFloatInRange(0.001, 30.0)
            rows.append({"peak": min(peak, 100.0), "threshold_db": fdp.ConsumeFloatInRange(-80, 0),
                         "ratio": fdp.ConsumeFloatInRange(1, 20), "attack_ms": fdp.ConsumeFloatInRange(0.1, 100),
                         "release_ms": fdp.ConsumeFloatInRange(10, 1000), "makeup_db": fdp.ConsumeFloatInRange(-24, 24),
                         "esr": fdp.ConsumeFloatInRange(0, 1)})
        table = {"compress": rows}
        curves = residual = None
        if fdp.ConsumeBool():  # joint-fit curves (schema 2)
            degree = fdp.ConsumeIntInRange(0, 8)
            curves = {"compress": {"basis": "legendre", "degree": degree, "knob_lo": fdp.ConsumeFloatInRange(-5, 60),
                                   "knob_hi": fdp.ConsumeFloatInRange(40, 110), "sample_rate": 44100,
                                   "coefficients": {k: [fdp.ConsumeRegularFloat() for _ in range(degree + 1)]
                                                    for k in ("threshold_db", "ratio", "attack_ms", "release_ms",
                                                              "makeup_db")}}}
        if fdp.ConsumeBool():  # a GRU residual (schema 2)
            residual = {"type": "gru", "hidden": 8,
                        "w_ih": [[fdp.ConsumeRegularFloat()] for _ in range(24)],
                        "w_hh": [[fdp.ConsumeFloatInRange(-3, 3) for _ in range(8)] for _ in range(24)],
                        "b_ih": [fdp.ConsumeFloatInRange(-3, 3) for _ in range(24)],
                        "b_hh": [fdp.ConsumeFloatInRange(-3, 3) for _ in range(24)],
                        "w_out": [[fdp.ConsumeFloatInRange(-3, 3) for _ in range(8)]], "b_out": [0.0]}
        try:
            text = _native.bundle_json(table, 44100, "{}", "ff5", curves, residual)
        except ValueError:
            return  # e.g. peaks clipped at 100 no longer strictly increasing, curves out of range
        parsed = _native.parse_bundle(text)
        assert parsed["table"]["compress"] == rows
        if curves is not None:
            assert parsed["curves"]["compress"]["coefficients"] == curves["compress"]["coefficients"]
        assert (parsed["residual"] is None) == (residual is None)
        if residual is not None:  # the processor with the residual stays finite on any audio
            proc = _native.Processor(table, "ff5", 44100.0, peak=50.0, curves=curves, residual=residual)
            import numpy as np

            assert np.isfinite(proc.process(np.linspace(-4, 4, 256))).all()


STATS = {"built": 0, "processed": 0}  # how far fuzzed inputs get (for checking the target itself)
MODELS = ("ff5", "fb+2rel", "fb+knee+rms+2rel+sc+tube", "ff+knee+sc", "fb+2rel+inhp+outshelf")
EXTRAS = {"knee_db": (0.0, 24.0), "rms_ms": (0.05, 100.0), "release_slow_ms": (100.0, 60000.0), "slow_mix": (0.0, 1.0),
          "sc_shelf_db": (0.0, 24.0), "drive": (0.05, 20.0), "bias": (-1.0, 1.0), "input_hp_hz": (0.5, 2000.0),
          "output_shelf_hz": (50.0, 50000.0), "output_shelf_db": (-50.0, 20.0)}


def _block(fdp, channels):
    import numpy as np

    n = fdp.ConsumeIntInRange(0, 300)
    shape = [(n,), (channels, n), (n, channels), (fdp.ConsumeIntInRange(1, 4), n)][fdp.ConsumeIntInRange(0, 3)]
    dtype = [np.float32, np.float64, np.int16, np.complex64][fdp.ConsumeIntInRange(0, 3)]
    values = [fdp.ConsumeRegularFloat() if fdp.ConsumeBool() else
              [np.nan, np.inf, -np.inf, 1e300, 0.0][fdp.ConsumeIntInRange(0, 4)] for _ in range(int(np.prod(shape)))]
    with np.errstate(all="ignore"):
        return np.array(values, dtype=np.float64).astype(dtype).reshape(shape)


def fuzz_processor(fdp):
    import numpy as np

    model = MODELS[fdp.ConsumeIntInRange(0, len(MODELS) - 1)]
    rows, peak = [], -1.0
    for _ in range(fdp.ConsumeIntInRange(1, 3)):
        peak += fdp.ConsumeFloatInRange(0.5, 60.0)
        row = {"peak": peak, "threshold_db": fdp.ConsumeFloatInRange(-80, 0), "ratio": fdp.ConsumeFloatInRange(1, 60),
               "attack_ms": fdp.ConsumeFloatInRange(0.1, 100), "release_ms": fdp.ConsumeFloatInRange(5, 5000),
               "makeup_db": fdp.ConsumeFloatInRange(-24, 24)}
        row.update({k: fdp.ConsumeFloatInRange(lo, hi) for k, (lo, hi) in EXTRAS.items()})
        rows.append(row)
    from dspnewton.model.greybox_spec import parse_model

    names = set(parse_model(model).param_names) | {"peak"}
    rows = [{k: v for k, v in r.items() if k in names} for r in rows]
    channels = fdp.ConsumeIntInRange(0, 3)
    args = ({"compress": rows}, model, fdp.ConsumeFloatInRange(500.0, 200000.0))
    kw = dict(peak=fdp.ConsumeFloatInRange(-10, 110), channels=channels, link=fdp.ConsumeBool())
    try:
        proc = _native.Processor(*args, **kw)
    except ValueError:
        return
    twin = _native.Processor(*args, **kw)  # fed the same blocks with NaN/inf replaced by 0
    STATS["built"] += 1
    for _ in range(fdp.ConsumeIntInRange(1, 4)):
        control = ["peak", "gain_db", "bypass", "link", "mode"][fdp.ConsumeIntInRange(0, 4)]
        value = [fdp.ConsumeFloatInRange(-50, 150), fdp.ConsumeBool(), "limit"][fdp.ConsumeIntInRange(0, 2)]
        for p in (proc, twin):
            try:
                setattr(p, control, value)
            except (ValueError, TypeError):
                pass
        block = _block(fdp, proc.channels)
        try:
            y = proc.process(block)
        except (TypeError, ValueError):
            continue
        STATS["processed"] += 1
        assert y.shape == block.shape and y.dtype == block.dtype
        assert np.isfinite(y).all(), "non-finite output"
        assert np.isfinite(proc.gain_reduction_db)
        clean = block.copy()
        clean[~np.isfinite(clean)] = 0
        assert np.array_equal(twin.process(clean), y), "a non-finite sample changed the state"


def fuzz_preset(data):
    import tempfile

    from dspnewton import load_preset
    from dspnewton.audio import InputError

    with tempfile.NamedTemporaryFile(suffix=".vstpreset") as f:
        f.write(data)
        f.flush()
        try:
            load_preset(f.name)
        except InputError:
            pass


def main():
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
