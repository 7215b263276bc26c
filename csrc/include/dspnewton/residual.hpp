// dspnewton: the GRU residual (dspnewton.model.residual) sample by sample: a GRU of hidden
// size DSPNEWTON_GRU_HIDDEN (model_table.hpp) on the DSP model's output, its projection added back. PyTorch's GRU equations
// (gates r, z, n). The recurrence runs in float32 (the precision it was trained in; parity
// with PyTorch's float64 evaluation about 1e-7 relative), with the hidden-to-hidden product
// laid out for vectorisation; the DSP output it is added to stays float64. No allocation.
#pragma once

#include <cmath>

#include "model_table.hpp"

namespace dspnewton {

struct Residual {
    static constexpr int kHidden = DSPNEWTON_GRU_HIDDEN;
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
    float h[Residual::kHidden] = {};
    void reset() {
        for (float& v : h) v = 0.0f;
    }
    bool finite() const {
        for (float v : h)
            if (!std::isfinite(v)) return false;
        return true;
    }
};

/// The weights in float32, hidden-to-hidden transposed (k-major) for the per-sample loop.
struct ResidualKernel {
    float w_ih[Residual::kGates], b_ih[Residual::kGates], b_hh[Residual::kGates];
    float w_hh_t[Residual::kHidden][Residual::kGates];
    float w_out[Residual::kHidden], b_out;

    void load(const Residual& r) {
        for (int g = 0; g < Residual::kGates; ++g) {
            w_ih[g] = static_cast<float>(r.w_ih[g]);
            b_ih[g] = static_cast<float>(r.b_ih[g]);
            b_hh[g] = static_cast<float>(r.b_hh[g]);
            for (int k = 0; k < Residual::kHidden; ++k) w_hh_t[k][g] = static_cast<float>(r.w_hh[g][k]);
        }
        for (int k = 0; k < Residual::kHidden; ++k) w_out[k] = static_cast<float>(r.w_out[k]);
        b_out = static_cast<float>(r.b_out);
    }
};

inline float sigmoidf(float v) { return 1.0f / (1.0f + std::exp(-v)); }

/// y + residual(y): advance the state by one sample of the DSP output ``y``.
inline double residual_step(const ResidualKernel& r, ResidualState& s, double y) {
    constexpr int H = Residual::kHidden, G = Residual::kGates;
    const float yf = static_cast<float>(y);
    float gh[G], gi[G];
    for (int g = 0; g < G; ++g) {
        gh[g] = r.b_hh[g];
        gi[g] = r.w_ih[g] * yf + r.b_ih[g];
    }
    for (int k = 0; k < H; ++k) {  // independent accumulators per gate: vectorises without reassociation
        const float hk = s.h[k];
        for (int g = 0; g < G; ++g) gh[g] += r.w_hh_t[k][g] * hk;
    }
    float out = r.b_out;
    for (int k = 0; k < H; ++k) {
        const float rg = sigmoidf(gi[k] + gh[k]);
        const float z = sigmoidf(gi[H + k] + gh[H + k]);
        const float n = std::tanh(gi[2 * H + k] + rg * gh[2 * H + k]);
        s.h[k] = (1.0f - z) * n + z * s.h[k];
    }
    for (int k = 0; k < H; ++k) out += r.w_out[k] * s.h[k];
    return y + static_cast<double>(out);
}

}  // namespace dspnewton
