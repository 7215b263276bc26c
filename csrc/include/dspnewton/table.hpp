// dspnewton: the peak-reduction table (mode -> peak -> parameters) and its interpolation.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <vector>

#include "compressor.hpp"

namespace dspnewton {

enum Mode : int { kCompress = 0, kLimit = 1 };

/// One row of a fitted table.
struct Row {
    double peak = 0.0;
    Params params{};
    double esr = 0.0;
};

/// A table per mode; rows sorted by strictly increasing peak; one model for all rows.
struct Table {
    std::array<std::vector<Row>, 2> modes;
    Model model{};

    bool empty(int mode) const { return modes[mode].empty(); }

    /// Parameters at ``peak``, linearly interpolated in their own units (clamped to the grid).
    Params interpolate(int mode, double peak) const {
        const auto& rows = modes[mode == kLimit ? 1 : 0];
        if (rows.empty()) return Params{};
        if (peak <= rows.front().peak) return rows.front().params;
        if (peak >= rows.back().peak) return rows.back().params;
        std::size_t i = 1;
        while (rows[i].peak < peak) ++i;
        const Row& a = rows[i - 1];
        const Row& b = rows[i];
        const double t = (peak - a.peak) / (b.peak - a.peak);
        auto mix = [t](double u, double v) { return u + t * (v - u); };
        Params p;
        p.threshold_db = mix(a.params.threshold_db, b.params.threshold_db);
        p.ratio = mix(a.params.ratio, b.params.ratio);
        p.attack_ms = mix(a.params.attack_ms, b.params.attack_ms);
        p.release_ms = mix(a.params.release_ms, b.params.release_ms);
        p.makeup_db = mix(a.params.makeup_db, b.params.makeup_db);
        p.knee_db = mix(a.params.knee_db, b.params.knee_db);
        p.rms_ms = mix(a.params.rms_ms, b.params.rms_ms);
        p.release_slow_ms = mix(a.params.release_slow_ms, b.params.release_slow_ms);
        p.slow_mix = mix(a.params.slow_mix, b.params.slow_mix);
        p.sc_shelf_db = mix(a.params.sc_shelf_db, b.params.sc_shelf_db);
        p.drive = mix(a.params.drive, b.params.drive);
        p.bias = mix(a.params.bias, b.params.bias);
        return p;
    }
};

}  // namespace dspnewton
