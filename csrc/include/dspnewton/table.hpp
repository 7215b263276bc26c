// dspnewton: the peak-reduction table (mode -> peak -> parameters) and its interpolation.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <vector>

#include "compressor.hpp"

namespace dspnewton {

enum Mode : int { kCompress = 0, kLimit = 1 };

inline const char* mode_name(int m) { return m == kLimit ? "limit" : "compress"; }

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
        for (const Field& f : kFields) p.*(f.member) = mix(a.params.*(f.member), b.params.*(f.member));
        return p;
    }
};

}  // namespace dspnewton
