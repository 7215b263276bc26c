// Generated from dspnewton/model/schema.py by `make cpp-fields`. Do not edit:
// the parameter table lives there, and a test checks that this file matches it.
// X(name, label, unit, lo, hi, default, option, control_lo, control_hi): option "" means every
// model has the parameter; control_lo/hi is a host control's range (the range, or a UI range when
// the parameter is unbounded).
#pragma once

#include <cmath>

#define DSPNEWTON_PARAM_FIELDS(X) \
    X(threshold_db, "threshold", "dB", -HUGE_VAL, HUGE_VAL, -36.0, "", -80.0, 0.0) \
    X(ratio, "ratio", "", 1.0, 20.0, 4.0, "", 1.0, 20.0) \
    X(attack_ms, "attack", "ms", 0.1, 100.0, 1.0, "", 0.1, 100.0) \
    X(release_ms, "release", "ms", 10.0, 1000.0, 200.0, "", 10.0, 1000.0) \
    X(makeup_db, "make-up", "dB", -HUGE_VAL, HUGE_VAL, 0.0, "", -24.0, 24.0) \
    X(knee_db, "knee width", "dB", 0.1, 24.0, 1.0, "knee", 0.1, 24.0) \
    X(rms_ms, "RMS time", "ms", 0.01, 500.0, 0.05, "rms", 0.01, 500.0) \
    X(release_slow_ms, "slow release", "ms", 100.0, 20000.0, 2000.0, "2rel", 100.0, 20000.0) \
    X(slow_mix, "slow mix", "", 0.0, 1.0, 0.05, "2rel", 0.0, 1.0) \
    X(sc_shelf_db, "side-chain shelf", "dB", -24.0, 24.0, 0.0, "sc", -24.0, 24.0) \
    X(drive, "tube drive", "", 0.01, 4.0, 0.1, "tube", 0.01, 4.0) \
    X(bias, "tube bias", "", -0.5, 0.5, 0.0, "tube", -0.5, 0.5)
