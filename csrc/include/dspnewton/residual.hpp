// dspnewton: the GRU residual (dspnewton.model.residual) sample by sample: a GRU of hidden
// size 8 on the DSP model's output, its projection added back. PyTorch's GRU equations
// (gates r, z, n), float64, no allocation.
#pragma once

#include <cmath>

namespace dspnewton {

struct Residual {
    static constexpr int kHidden = 8;
    static constexpr int kGates = 3 * kHidden;
    bool present = false;
    double w_ih[kGates] = {};           // (24, 1)
    double w_hh[kGates][kHidden] = {};  // (24, 8)
    double b_ih[kGates] = {}, b_hh[kGates] = {};
    double w_out[kHidden] = {};  // (1, 8)
    double b_out = 0.0;

    bool finite() const {
        bool ok = std::isfinite(b_out);
        for (int g = 0; g < kGates; ++g) {
            ok = ok && std::isfinite(w_ih[g]) && std::isfinite(b_ih[g]) && std::isfinite(b_hh[g]);
            for (int k = 0; k < kHidden; ++k) ok = ok && std::isfinite(w_hh[g][k]);
        }
        for (int k = 0; k < kHidden; ++k) ok = ok && std::isfinite(w_out[k]);
        return ok;
    }
};

/// One channel's GRU state.
struct ResidualState {
    double h[Residual::kHidden] = {};
    void reset() {
        for (double& v : h) v = 0.0;
    }
    bool finite() const {
        for (double v : h)
            if (!std::isfinite(v)) return false;
        return true;
    }
};

inline double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

/// y + residual(y): advance the state by one sample of the DSP output ``y``.
inline double residual_step(const Residual& r, ResidualState& s, double y) {
    constexpr int H = Residual::kHidden;
    double gh[Residual::kGates];
    for (int g = 0; g < Residual::kGates; ++g) {
        double acc = r.b_hh[g];
        for (int k = 0; k < H; ++k) acc += r.w_hh[g][k] * s.h[k];
        gh[g] = acc;
    }
    double out = r.b_out;
    for (int k = 0; k < H; ++k) {
        const double rg = sigmoid(r.w_ih[k] * y + r.b_ih[k] + gh[k]);
        const double z = sigmoid(r.w_ih[H + k] * y + r.b_ih[H + k] + gh[H + k]);
        const double n = std::tanh(r.w_ih[2 * H + k] * y + r.b_ih[2 * H + k] + rg * gh[2 * H + k]);
        s.h[k] = (1.0 - z) * n + z * s.h[k];
    }
    for (int k = 0; k < H; ++k) out += r.w_out[k] * s.h[k];
    return y + out;
}

}  // namespace dspnewton
