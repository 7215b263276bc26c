// dspnewton real-time core: the ff5 feed-forward compressor, sample by sample.
//
// Header-only C++17, no allocation in the audio path, independent of block size
// (all state is per sample), denormal-safe, initial gain 1. The same equations
// as the PyTorch model (dspnewton.model.compressor):
//   x_db = 20 log10(max(|x|, 1e-8));  gdb = min(0, (1 - 1/R)(CT - x_db));  gh = 10^(gdb/20)
//   g[n] = c gh[n] + (1 - c) g[n-1],  c = attack coefficient if gh[n] < g[n-1] else release
//   c = 1 - exp(-2200 / (t_ms * sr));  y = x g 10^(gamma/20)
// Used by the pybind11 extension (dspnewton._native) and by the plugin.
#pragma once

#include <cmath>
#include <cstddef>

namespace dspnewton {

/// Parameters in physical units (dB, ratio, ms, ms, dB).
struct Params {
    double threshold_db = -36.0;
    double ratio = 4.0;
    double attack_ms = 1.0;
    double release_ms = 200.0;
    double makeup_db = 0.0;
};

/// Allowed ranges (as in dspnewton.model.params.RANGES).
struct Range {
    double lo, hi;
};
constexpr Range kRatioRange{1.0, 20.0};
constexpr Range kAttackRange{0.1, 100.0};
constexpr Range kReleaseRange{10.0, 1000.0};

inline bool params_valid(const Params& p) {
    auto in = [](double v, Range r) { return std::isfinite(v) && v >= r.lo && v <= r.hi; };
    return std::isfinite(p.threshold_db) && std::isfinite(p.makeup_db) && in(p.ratio, kRatioRange) &&
           in(p.attack_ms, kAttackRange) && in(p.release_ms, kReleaseRange);
}

/// One-pole coefficient of a time constant: 1 - exp(-2200 / (ms * sr)).
inline double ms_to_coef(double ms, double sample_rate) { return -std::expm1(-2200.0 / (ms * sample_rate)); }

class Compressor {
public:
    Compressor() { update(); }

    void set_sample_rate(double sr) {
        sample_rate_ = sr;
        update();
    }
    double sample_rate() const { return sample_rate_; }

    /// Change parameters (real-time safe; the gain state is kept).
    void set_params(const Params& p) {
        params_ = p;
        update();
    }
    const Params& params() const { return params_; }

    /// Back to the initial state (gain 1).
    void reset() { g_ = 1.0; }

    /// The current smoothed gain (linear).
    double gain() const { return g_; }

    /// Process one sample.
    inline double process_sample(double x) {
        const double ax = std::fabs(x);
        const double x_db = 20.0 * std::log10(ax > 1e-8 ? ax : 1e-8);
        double gdb = slope_ * (params_.threshold_db - x_db);
        double gh = 1.0;
        if (gdb < 0.0) gh = std::exp(kLn10Over20 * gdb);
        const double c = gh < g_ ? attack_ : release_;
        g_ = (1.0 - c) * g_ + c * gh;
        if (g_ < 1e-30) g_ = 0.0;  // denormal guard (never reached for sane input)
        return x * g_ * makeup_;
    }

    /// Process a block (in and out may alias). Block size does not change the result.
    template <typename T>
    void process(const T* in, T* out, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(process_sample(static_cast<double>(in[i])));
    }

private:
    static constexpr double kLn10Over20 = 0.11512925464970229;  // ln(10) / 20

    void update() {
        slope_ = 1.0 - 1.0 / params_.ratio;
        attack_ = ms_to_coef(params_.attack_ms, sample_rate_);
        release_ = ms_to_coef(params_.release_ms, sample_rate_);
        makeup_ = std::exp(kLn10Over20 * params_.makeup_db);
    }

    Params params_{};
    double sample_rate_ = 44100.0;
    double slope_ = 0.75, attack_ = 0.0, release_ = 0.0, makeup_ = 1.0;
    double g_ = 1.0;
};

}  // namespace dspnewton
