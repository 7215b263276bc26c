// dspnewton: the peak-reduction table (mode -> peak -> parameters) and its interpolation.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <vector>

#include "compressor.hpp"
#include "residual.hpp"

namespace dspnewton {

enum Mode : int { kCompress = 0, kLimit = 1 };

inline const char* mode_name(int m) { return m == kLimit ? "limit" : "compress"; }

/// One row of a fitted table.
struct Row {
    double peak = 0.0;
    Params params{};
    double esr = 0.0;
};

/// A mode's parameters as curves in the knob (a joint fit, dspnewton.joint): each field's
/// theta is sum_j coef[k][j] L_j(u), u = clamp(2 (peak - knob_lo) / (knob_hi - knob_lo) - 1, -1, 1),
/// L_j the Legendre polynomials; the value follows from the field's transform at ``sample_rate``.
struct Curves {
    static constexpr int kMaxCoefficients = 8;
    bool present = false;
    int degree = 0;
    double knob_lo = 0.0, knob_hi = 100.0;
    double sample_rate = 44100.0;
    double coef[kNumFields][kMaxCoefficients] = {};  // kFields order; unused rows stay 0

    /// The parameters at ``peak`` (fields the model lacks keep their defaults).
    Params evaluate(const Model& model, double peak) const {
        const double span = knob_hi - knob_lo;
        double u = span > 0.0 ? 2.0 * (peak - knob_lo) / span - 1.0 : 0.0;
        u = u < -1.0 ? -1.0 : (u > 1.0 ? 1.0 : u);
        double basis[kMaxCoefficients] = {1.0, u};
        for (int n = 1; n < degree; ++n) basis[n + 1] = ((2 * n + 1) * u * basis[n] - n * basis[n - 1]) / (n + 1);
        Params p;
        for (int k = 0; k < kNumFields; ++k) {
            if (!model.has(kFields[k].option)) continue;
            double theta = 0.0;
            for (int j = 0; j <= degree; ++j) theta += coef[k][j] * basis[j];
            p.*(kFields[k].member) = theta_to_value(kFields[k], theta, sample_rate);
        }
        return p;
    }
};

/// A table per mode; rows sorted by strictly increasing peak; one model for all rows. A mode
/// with curves (a joint fit) takes its parameters from them; its rows are the curves' values
/// at the fitted settings.
struct Table {
    std::array<std::vector<Row>, 2> modes;
    std::array<Curves, 2> curves{};
    Residual residual{};  // a GRU residual on the DSP output (one for every setting), if present
    Model model{};
    /// The level the unit was captured at: a sine of this peak level (dBFS) read 0 VU on the unit's
    /// meter (+4 dBu). Bundles without it were fitted at the usual -18 dBFS.
    double zero_vu_dbfs = kDefaultZeroVuDbfs;
    static constexpr double kDefaultZeroVuDbfs = -18.0;
    static constexpr double kZeroVuMinDbfs = -40.0, kZeroVuMaxDbfs = 0.0;

    bool empty(int mode) const { return modes[mode].empty(); }
    bool has_curves() const { return curves[0].present || curves[1].present; }
    /// Whether the table needs bundle schema 2 (curves or a residual).
    bool extended() const { return has_curves() || residual.present; }

    /// Parameters at ``peak``: the mode's curves, else linear interpolation of its rows in their
    /// own units (clamped to the grid).
    Params interpolate(int mode, double peak) const {
        const int m = mode == kLimit ? 1 : 0;
        if (curves[m].present) return curves[m].evaluate(model, peak);
        const auto& rows = modes[m];
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
