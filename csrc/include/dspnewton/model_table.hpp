// Generated from dspnewton/model/ (schema.py, names.py, residual.py) by `make cpp-fields`. Do not edit:
// the tables live there, and a test checks that this file matches them.
//
// DSPNEWTON_PARAM_FIELDS: X(name, label, unit, lo, hi, default, option, control_lo, control_hi, transform):
// option "" means every model has the parameter; control_lo/hi is a host control's range (the range, or
// a UI range when the parameter is unbounded); transform maps the unconstrained theta to the value
// (none, sigmoid, logsigmoid, coef; see dspnewton/model/schema.py).
// DSPNEWTON_MODEL_OPTIONS: X(member, name, signal_path), in the order options are written in a model name.
// DSPNEWTON_EXCLUSIVE_OPTIONS: X(member_a, member_b, name_a, name_b): a model takes at most one of the two.
#pragma once

#include <cmath>

#define DSPNEWTON_PARAM_FIELDS(X) \
    X(threshold_db, "threshold", "dB", -HUGE_VAL, HUGE_VAL, -36.0, "", -80.0, 0.0, "none") \
    X(ratio, "ratio", "", 1.0, 50.0, 4.0, "", 1.0, 50.0, "sigmoid") \
    X(attack_ms, "attack", "ms", 0.1, 100.0, 1.0, "", 0.1, 100.0, "coef") \
    X(release_ms, "release", "ms", 5.0, 5000.0, 200.0, "", 5.0, 5000.0, "coef") \
    X(makeup_db, "make-up", "dB", -HUGE_VAL, HUGE_VAL, 0.0, "", -24.0, 24.0, "none") \
    X(knee_db, "knee width", "dB", 0.1, 24.0, 1.0, "knee", 0.1, 24.0, "sigmoid") \
    X(rms_ms, "RMS time", "ms", 0.01, 500.0, 0.05, "rms", 0.01, 500.0, "logsigmoid") \
    X(release_slow_ms, "slow release", "ms", 100.0, 60000.0, 2000.0, "2rel", 100.0, 60000.0, "logsigmoid") \
    X(slow_mix, "slow mix", "", 0.0, 1.0, 0.05, "2rel", 0.0, 1.0, "sigmoid") \
    X(sc_shelf_db, "side-chain shelf", "dB", -24.0, 24.0, 0.0, "sc", -24.0, 24.0, "sigmoid") \
    X(drive, "tube drive", "", 0.01, 4.0, 0.1, "tube", 0.01, 4.0, "logsigmoid") \
    X(bias, "tube bias", "", -0.5, 0.5, 0.0, "tube", -0.5, 0.5, "sigmoid") \
    X(input_hp_hz, "input high-pass", "Hz", 1.0, 1000.0, 5.0, "inhp", 1.0, 1000.0, "logsigmoid") \
    X(output_shelf_hz, "output shelf corner", "Hz", 100.0, 40000.0, 8000.0, "outshelf", 100.0, 40000.0, "logsigmoid") \
    X(output_shelf_db, "output shelf gain", "dB", -40.0, 12.0, 0.0, "outshelf", -40.0, 12.0, "sigmoid") \
    X(input_hp2_hz, "input high-pass (2nd order)", "Hz", 1.0, 1000.0, 5.0, "in2", 1.0, 1000.0, "logsigmoid") \
    X(input_q, "input high-pass Q", "", 0.3, 3.0, 0.707, "in2", 0.3, 3.0, "logsigmoid") \
    X(core_hz, "core corner", "Hz", 0.5, 200.0, 5.0, "core", 0.5, 200.0, "logsigmoid") \
    X(core_sat_db, "core saturation flux", "dB", -40.0, 40.0, 20.0, "core", -40.0, 40.0, "sigmoid") \
    X(output_lp_hz, "output low-pass", "Hz", 200.0, 20000.0, 20000.0, "out2", 200.0, 20000.0, "logsigmoid") \
    X(output_q, "output low-pass Q", "", 0.3, 3.0, 0.707, "out2", 0.3, 3.0, "logsigmoid") \
    X(release_long_ms, "long release", "ms", 20.0, 60000.0, 2000.0, "prel", 20.0, 60000.0, "logsigmoid") \
    X(memory_ms, "release memory", "ms", 10.0, 30000.0, 1000.0, "prel", 10.0, 30000.0, "logsigmoid") \
    X(memory_db, "memory depth", "dB", 0.3, 100.0, 60.0, "prel", 0.3, 100.0, "logsigmoid")

#define DSPNEWTON_MODEL_OPTIONS(X) \
    X(knee, "knee", false) \
    X(rms, "rms", false) \
    X(two_rel, "2rel", false) \
    X(prel, "prel", false) \
    X(sc, "sc", false) \
    X(tube, "tube", false) \
    X(inhp, "inhp", true) \
    X(outshelf, "outshelf", true) \
    X(in2, "in2", true) \
    X(core, "core", true) \
    X(out2, "out2", true)

#define DSPNEWTON_EXCLUSIVE_OPTIONS(X) \
    X(two_rel, prel, "2rel", "prel") \
    X(inhp, in2, "inhp", "in2") \
    X(outshelf, out2, "outshelf", "out2")

#define DSPNEWTON_GRU_HIDDEN 8
#define DSPNEWTON_MEMORY_GAIN_FLOOR 1e-12  // prel's memory sees max(gain, this)
