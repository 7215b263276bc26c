// dspnewton real-time core: the ff5 feed-forward compressor and the grey-box
// levelling-amplifier models (dspnewton.model.greybox), sample by sample.
//
// Header-only C++17, no allocation in the audio path, independent of block size
// (all state is per sample), denormal-safe, initial gain 1. The same equations
// as the PyTorch model (dspnewton.model.compressor):
//   x_db = 20 log10(max(|x|, 1e-8));  gdb = min(0, (1 - 1/R)(CT - x_db));  gh = 10^(gdb/20)
//   g[n] = c gh[n] + (1 - c) g[n-1],  c = attack coefficient if gh[n] < g[n-1] else release
//   c = 1 - exp(-2200 / (t_ms * sr));  y = x g 10^(gamma/20)
// Grey-box models add options (see Model and process_greybox below): feedback
// detector, soft knee, RMS detector, two-stage release or a program-dependent one (a memory of recent
// gain reduction moving the release towards a long one, ``prel``), side-chain shelf, tube output,
// and the signal-path stages: an input high-pass before everything, first order (``inhp``) or
// second order with Q (``in2``), then the input transformer's saturating core (``core``); an
// output stage after everything, a first-order high shelf (``outshelf``) or a second-order
// low-pass with Q (``out2``). Their state lives in a PathState per channel.
// Used by the pybind11 extension (dspnewton._native) and by the plugin.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "model_table.hpp"

namespace dspnewton {

/// Parameters in physical units (dB, ratio, ms, ms, dB; then the grey-box extras,
/// used only by the models that have the option; defaults are the neutral warm start).
/// The members, units, ranges and defaults come from the one parameter table
/// (model_table.hpp, generated from dspnewton/model/).
struct Params {
#define DSPNEWTON_MEMBER(name, label, unit, lo, hi, def, option, clo, chi, transform) double name = def;
    DSPNEWTON_PARAM_FIELDS(DSPNEWTON_MEMBER)
#undef DSPNEWTON_MEMBER
};

/// A model: topology and options, named like "ff5" or "fb+knee+2rel+sc" (the options: DSPNEWTON_MODEL_OPTIONS).
struct Model {
    bool feedback = false;
#define DSPNEWTON_OPTION_MEMBER(member, option_name, signal_path) bool member = false;
    DSPNEWTON_MODEL_OPTIONS(DSPNEWTON_OPTION_MEMBER)
#undef DSPNEWTON_OPTION_MEMBER

    bool is_ff5() const {
        bool any = feedback;
#define DSPNEWTON_OPTION_ANY(member, option_name, signal_path) any = any || member;
        DSPNEWTON_MODEL_OPTIONS(DSPNEWTON_OPTION_ANY)
#undef DSPNEWTON_OPTION_ANY
        return !any;
    }
    std::string name() const {
        if (is_ff5()) return "ff5";
        std::string n = feedback ? "fb" : "ff";
#define DSPNEWTON_OPTION_NAME(member, option_name, signal_path) \
    if (member) n += "+" option_name;
        DSPNEWTON_MODEL_OPTIONS(DSPNEWTON_OPTION_NAME)
#undef DSPNEWTON_OPTION_NAME
        return n;
    }
    /// Whether the model has an option ("" = every model has it).
    bool has(const std::string& option) const {
        if (option.empty()) return true;
#define DSPNEWTON_OPTION_HAS(member, option_name, signal_path) \
    if (option == option_name) return member;
        DSPNEWTON_MODEL_OPTIONS(DSPNEWTON_OPTION_HAS)
#undef DSPNEWTON_OPTION_HAS
        return false;
    }
    /// The flag of an option by name (nullptr for a name that is no option).
    bool* flag(const std::string& option) {
#define DSPNEWTON_OPTION_FLAG(member, option_name, signal_path) \
    if (option == option_name) return &member;
        DSPNEWTON_MODEL_OPTIONS(DSPNEWTON_OPTION_FLAG)
#undef DSPNEWTON_OPTION_FLAG
        return nullptr;
    }
    int n_params() const;
    bool operator==(const Model& o) const { return name() == o.name(); }
};

/// Model from its name; std::invalid_argument on an unknown or repeated option.
inline Model parse_model(const std::string& name) {
    Model m;
    int topologies = 0;
    bool ff5 = false;
    std::size_t start = 0;
    while (start <= name.size()) {
        std::size_t end = name.find('+', start);
        if (end == std::string::npos) end = name.size();
        const std::string t = name.substr(start, end - start);
        bool* flag = nullptr;
        if (t == "ff" || t == "ff5" || t == "fb") {
            ++topologies;
            m.feedback = t == "fb";
            ff5 = ff5 || t == "ff5";
        } else if (!(flag = m.flag(t))) {
            std::string known;
#define DSPNEWTON_OPTION_LIST(member, option_name, signal_path) known += (known.empty() ? "" : ", ") + std::string(option_name);
            DSPNEWTON_MODEL_OPTIONS(DSPNEWTON_OPTION_LIST)
#undef DSPNEWTON_OPTION_LIST
            throw std::invalid_argument("unknown model option '" + t + "' in model '" + name + "'; this dspnewton knows " +
                                        known + " (upgrade dspnewton if the model comes from a newer one)");
        }
        if (flag) {
            if (*flag) throw std::invalid_argument("model option '" + t + "' repeated in '" + name + "'");
            *flag = true;
        }
        start = end + 1;
    }
    if (topologies > 1) throw std::invalid_argument("model '" + name + "' names more than one topology");
    if (ff5 && !m.is_ff5()) throw std::invalid_argument("'ff5' takes no options; write 'ff+...' in '" + name + "'");
#define DSPNEWTON_EXCLUSIVE_CHECK(a, b, name_a, name_b)                                                      \
    if (m.a && m.b)                                                                                          \
        throw std::invalid_argument("model '" + name + "' has both '" name_a "' and '" name_b "', two forms of " \
                                    "the same " + (m.two_rel && m.prel ? "release" : "signal-path stage") +    \
                                    "; use one of them");
    DSPNEWTON_EXCLUSIVE_OPTIONS(DSPNEWTON_EXCLUSIVE_CHECK)
#undef DSPNEWTON_EXCLUSIVE_CHECK
    return m;
}

/// One parameter's row of the table: name, unit, range, default, the option that adds it.
struct Field {
    const char* name;
    const char* label;
    const char* unit;
    double lo, hi, default_value;
    const char* option;
    double control_lo, control_hi;  // a host control's range (plugins)
    const char* transform;           // theta -> value: none, sigmoid, logsigmoid, coef
    double Params::*member;
};

/// Every parameter, in the table's order (the ff5 five first).
inline constexpr Field kFields[] = {
#define DSPNEWTON_FIELD(name, label, unit, lo, hi, def, option, clo, chi, transform) \
    {#name, label, unit, lo, hi, def, option, clo, chi, transform, &Params::name},
    DSPNEWTON_PARAM_FIELDS(DSPNEWTON_FIELD)
#undef DSPNEWTON_FIELD
};
inline constexpr int kNumFields = static_cast<int>(sizeof(kFields) / sizeof(kFields[0]));
inline constexpr int kNumCore = 5;  // the ff5 parameters every model has

/// The fields of model ``m`` in its order; returns how many (at most kNumFields).
inline int model_fields(const Model& m, const Field* out[kNumFields]) {
    int n = 0;
    for (const Field& f : kFields)
        if (m.has(f.option)) out[n++] = &f;
    return n;
}

inline int Model::n_params() const {
    const Field* f[kNumFields];
    return model_fields(*this, f);
}

/// The model's parameters beyond the ff5 five, in the model's order (bundle rows list them
/// after the ESR).
using ExtraField = Field;
inline int extra_fields(const Model& m, ExtraField out[kNumFields]) {
    int n = 0;
    for (int i = kNumCore; i < kNumFields; ++i)
        if (m.has(kFields[i].option)) out[n++] = kFields[i];
    return n;
}

/// Every parameter the model uses is finite and inside its range.
/// Unbounded parameters (threshold, make-up, in dB) must lie within +-kUnboundedLimit in a
/// real-time table: nothing physical is further out, and the gain must stay finite.
inline constexpr double kUnboundedLimit = 200.0;

inline bool params_valid(const Params& p, const Model& m = Model{}) {
    for (const Field& f : kFields) {
        if (!m.has(f.option)) continue;
        const double v = p.*(f.member);
        const double lo = std::isfinite(f.lo) ? f.lo : -kUnboundedLimit, hi = std::isfinite(f.hi) ? f.hi : kUnboundedLimit;
        if (!std::isfinite(v) || v < lo || v > hi) return false;
    }
    return true;
}

/// A description of the ranges for error messages, e.g. "ratio 1..50, attack_ms 0.1..100 ms".
inline std::string ranges_text(const Model& m) {
    std::string t;
    for (const Field& f : kFields) {
        if (!m.has(f.option)) continue;
        char buf[128];
        if (std::isfinite(f.lo))
            std::snprintf(buf, sizeof(buf), "%s%s %g..%g%s%s", t.empty() ? "" : ", ", f.name, f.lo, f.hi,
                          *f.unit ? " " : "", f.unit);
        else
            std::snprintf(buf, sizeof(buf), "%s%s %g..%g%s%s", t.empty() ? "" : ", ", f.name, -kUnboundedLimit,
                          kUnboundedLimit, *f.unit ? " " : "", f.unit);
        t += buf;
    }
    return t;
}

/// One-pole coefficient of a time constant: 1 - exp(-2200 / (ms * sr)).
inline double ms_to_coef(double ms, double sample_rate) { return -std::expm1(-2200.0 / (ms * sample_rate)); }

/// One-pole coefficient of a corner frequency: 1 - exp(-2 pi hz / sr).
inline double hz_to_coef(double hz, double sample_rate) {
    return -std::expm1(-2.0 * 3.141592653589793 * hz / sample_rate);
}

/// The state of one channel's signal-path stages: the one-pole filters of ``inhp`` and ``outshelf``, the past
/// inputs and outputs of ``in2`` and ``out2``, the flux of ``core``.
struct PathState {
    double in = 0.0, out = 0.0;
    double ix1 = 0.0, ix2 = 0.0, iu1 = 0.0, iu2 = 0.0, flux = 0.0, oy1 = 0.0, oy2 = 0.0, oz1 = 0.0, oz2 = 0.0;
    void reset() { *this = PathState{}; }
    bool finite() const {
        return std::isfinite(in) && std::isfinite(out) && std::isfinite(ix1) && std::isfinite(ix2) &&
               std::isfinite(iu1) && std::isfinite(iu2) && std::isfinite(flux) && std::isfinite(oy1) &&
               std::isfinite(oy2) && std::isfinite(oz1) && std::isfinite(oz2);
    }
};

/// The denominator (a1, a2) of the bilinear transform, pre-warped at ``hz``, of the analogue section
/// s^2 + (w/q) s + w^2 (the same as dspnewton.model.greybox_spec.biquad_poles).
inline void biquad_poles(double hz, double q, double sample_rate, double& a1, double& a2) {
    const double k = std::tan(3.141592653589793 * hz / sample_rate);
    const double d = 1.0 + k / q + k * k;
    a1 = 2.0 * (k * k - 1.0) / d;
    a2 = (1.0 - k / q + k * k) / d;
}

/// The highest corner of the output low-pass (``out2``), Hz (the top of output_lp_hz's range in the parameter
/// table): its models need a sample rate above twice it.
inline double output_low_pass_top_hz() {
#define DSPNEWTON_LP_TOP(name, label, unit, lo, hi, def, option, clo, chi, transform) \
    if (std::strcmp(#name, "output_lp_hz") == 0) return hi;
    DSPNEWTON_PARAM_FIELDS(DSPNEWTON_LP_TOP)
#undef DSPNEWTON_LP_TOP
    return 0.0;
}

/// Why ``model`` cannot run at ``sample_rate`` (empty: it can): ``out2``'s corners reach output_low_pass_top_hz().
inline std::string sample_rate_error(const Model& model, double sample_rate) {
    const double top = output_low_pass_top_hz();
    if (!model.out2 || sample_rate > 2.0 * top) return "";
    return "model " + model.name() + ": the output low-pass (out2) has corners up to " +
           std::to_string(static_cast<long>(top)) + " Hz, above Nyquist at " +
           std::to_string(static_cast<long>(sample_rate)) + " Hz; use a sample rate above " +
           std::to_string(static_cast<long>(2.0 * top)) + " Hz (44.1 kHz and up) or a model with outshelf";
}

/// A field's value from its unconstrained theta (the transforms of dspnewton/model/schema.py;
/// ``coef`` time constants refer to ``sample_rate``, the rate the theta was fitted at).
inline double theta_to_value(const Field& f, double theta, double sample_rate) {
    if (std::strcmp(f.transform, "none") == 0) return theta;
    const double s = 1.0 / (1.0 + std::exp(-theta));
    if (std::strcmp(f.transform, "sigmoid") == 0) return f.lo + (f.hi - f.lo) * s;
    if (std::strcmp(f.transform, "logsigmoid") == 0) return f.lo * std::exp(std::log(f.hi / f.lo) * s);
    // coef: alpha = alpha(hi) + (alpha(lo) - alpha(hi)) s, then back to ms
    const double a_hi = ms_to_coef(f.hi, sample_rate), a_lo = ms_to_coef(f.lo, sample_rate);
    const double alpha = a_hi + (a_lo - a_hi) * s;
    return -2200.0 / (sample_rate * std::log1p(-alpha));
}

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

    /// Select the model (real-time safe; the state is kept).
    void set_model(const Model& m) {
        model_ = m;
        update();
    }
    const Model& model() const { return model_; }

    /// Back to the initial state (gains 1, memory and mean square 0, filters at rest).
    void reset() {
        g_ = 1.0;
        gs_ = 1.0;
        mem_ = 0.0;
        p_ = 0.0;
        x_prev_ = hp_ = 0.0;
        path_.reset();
    }

    /// Take over ``o``'s state (gains, mean square, filters), keeping this compressor's model and
    /// parameters: a table switch continues from where the old table left off (real-time safe).
    void continue_from(const Compressor& o) {
        g_ = o.g_;
        gs_ = o.gs_;
        mem_ = o.mem_;
        p_ = o.p_;
        x_prev_ = o.x_prev_;
        hp_ = o.hp_;
        path_ = o.path_;
    }

    /// The current smoothed gain (linear, before make-up; the two-stage mix for ``+2rel``).
    double gain() const { return model_.two_rel ? g_ + mix_ * (gs_ - g_) : g_; }

    /// Process one sample: input stage, the detector driven by the sample itself, the output
    /// stage, then the output shelf (the signal-path state of a mono unit lives here).
    inline double process_sample(double x) {
        const double xs = input_stage(x, path_);
        return output_stage(output(xs, detect(xs)), path_);
    }

    /// One sample of a second-order section of biquad_poles(): the low-pass (sign 1, unit gain at DC) or the
    /// high-pass (sign -1, unit gain at Nyquist); x1, x2, y1, y2: its past inputs and outputs, advanced.
    static inline double section(double x, double sign, double a1, double a2, double& x1, double& x2, double& y1,
                                 double& y2) {
        const double y = 0.25 * (1.0 + sign * a1 + a2) * (x + 2.0 * sign * x1 + x2) - a1 * y1 - a2 * y2;
        x2 = x1;
        x1 = x;
        y2 = y1;
        y1 = y;
        return y;
    }

    /// The signal path's input stages of one channel's sample: the high-pass (``inhp`` or ``in2``), then the
    /// saturating core (``core``); x itself without them.
    inline double input_stage(double x, PathState& s) const {
        if (model_.inhp) {
            s.in += in_a_ * (x - s.in);
            x = x - s.in;
        }
        if (model_.in2)  // u = (1 - a1 + a2)/4 (x - 2 x1 + x2) - a1 u1 - a2 u2
            x = section(x, -1.0, in2_a1_, in2_a2_, s.ix1, s.ix2, s.iu1, s.iu2);
        if (model_.core) {  // v = x - l - b l^3, l += a v
            x = x - s.flux - core_b_ * s.flux * s.flux * s.flux;
            s.flux += core_a_ * x;
        }
        return x;
    }

    /// The signal path's output stage of one channel's sample: the high shelf (``outshelf``) or the low-pass
    /// (``out2``); y itself without them.
    inline double output_stage(double y, PathState& s) const {
        if (model_.outshelf) {
            s.out += out_a_ * (y - s.out);
            y = y + out_k_ * (y - s.out);
        }
        if (model_.out2)  // z = (1 + a1 + a2)/4 (y + 2 y1 + y2) - a1 z1 - a2 z2
            y = section(y, 1.0, out2_a1_, out2_a2_, s.oy1, s.oy2, s.oz1, s.oz2);
        return y;
    }

    /// Advance the detector by one sample of the detector signal ``d`` (the input for a
    /// mono unit; a stereo-linked unit feeds the channels' combined signal). Returns the
    /// gain to apply (linear, before make-up; 1 = no reduction).
    inline double detect(double d) {
        if (!model_.is_ff5()) return detect_greybox(d);
        const double ad = std::fabs(d);
        const double x_db = 20.0 * std::log10(ad > 1e-8 ? ad : 1e-8);
        double gdb = slope_ * (params_.threshold_db - x_db);
        double gh = 1.0;
        if (gdb < 0.0) gh = std::exp(kLn10Over20 * gdb);
        const double c = gh < g_ ? attack_ : release_;
        g_ = (1.0 - c) * g_ + c * gh;
        if (g_ < 1e-30) g_ = 0.0;  // denormal guard (never reached for sane input)
        return g_;
    }

    /// The output stage for one channel's sample and the gain from detect(): make-up, then
    /// the tube stage of models with ``+tube``.
    inline double output(double x, double g) const {
        const double w = x * g * makeup_;
        if (!model_.tube) return w;
        const double k = params_.drive, b = params_.bias;
        return (std::tanh(k * (w + b)) - tanh_kb_) / (k * (1.0 - tanh_kb_ * tanh_kb_));
    }

    /// Whether the state is finite (a guard for callers that must never keep a poisoned state).
    bool state_finite() const {
        return std::isfinite(g_) && std::isfinite(gs_) && std::isfinite(mem_) && std::isfinite(p_) &&
               std::isfinite(x_prev_) && std::isfinite(hp_) && path_.finite();
    }

    /// Process a block (in and out may alias). Block size does not change the result.
    template <typename T>
    void process(const T* in, T* out, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(process_sample(static_cast<double>(in[i])));
    }

private:
    static constexpr double kLn10Over20 = 0.11512925464970229;  // ln(10) / 20

    static constexpr double kTenOverLn10 = 4.3429448190325175;  // 10 / ln(10)
    static constexpr double kPi = 3.141592653589793;
    static constexpr double kShelfCornerHz = 1000.0;

    /// The grey-box detector recursion, the same arithmetic as dspnewton.model.greybox's kernel.
    inline double detect_greybox(double x) {
        // Side-chain shelf's fixed 1 kHz high-pass of the input.
        double hp = 0.0;
        if (model_.sc) hp = hp_b_ * (x - x_prev_) + hp_a_ * hp_;
        double v = model_.feedback ? x_prev_ : x;
        if (model_.sc) v = v + shelf_k_ * (model_.feedback ? hp_ : hp);
        if (model_.feedback) v = v * (model_.two_rel ? g_ + mix_ * (gs_ - g_) : g_);
        const double e = v * v;
        if (model_.rms)
            p_ = p_ + rms_ * (e - p_);
        else
            p_ = e;
        const double u = kTenOverLn10 * std::log(p_ > 1e-16 ? p_ : 1e-16);
        const double o = u - params_.threshold_db;
        double kv;
        if (model_.knee) {
            const double w = params_.knee_db, h = 0.5 * w;
            kv = o <= -h ? 0.0 : (o >= h ? o : (o + h) * (o + h) / (2.0 * w));
        } else {
            kv = o > 0.0 ? o : 0.0;
        }
        const double gh = std::exp(-kLn10Over20 * slope_ * kv);
        double release = release_;
        if (model_.prel) {  // the release moves with the memory, which the gain before this step charges
            release = release_ + mem_ * (release_long_ - release_);
            const double g = g_ > DSPNEWTON_MEMORY_GAIN_FLOOR ? g_ : DSPNEWTON_MEMORY_GAIN_FLOOR;
            mem_ = mem_ + memory_ * (1.0 - std::pow(g, memory_exp_) - mem_);
        }
        g_ = g_ + (gh < g_ ? attack_ : release) * (gh - g_);
        if (model_.two_rel) gs_ = gs_ + (gh < gs_ ? attack_ : release_slow_) * (gh - gs_);
        if (model_.sc) hp_ = hp;
        x_prev_ = x;
        return model_.two_rel ? g_ + mix_ * (gs_ - g_) : g_;
    }

    void update() {
        slope_ = model_.feedback ? params_.ratio - 1.0 : 1.0 - 1.0 / params_.ratio;
        attack_ = ms_to_coef(params_.attack_ms, sample_rate_);
        release_ = ms_to_coef(params_.release_ms, sample_rate_);
        makeup_ = std::exp(kLn10Over20 * params_.makeup_db);
        release_slow_ = ms_to_coef(params_.release_slow_ms, sample_rate_);
        mix_ = params_.slow_mix;
        release_long_ = ms_to_coef(params_.release_long_ms, sample_rate_);
        memory_ = ms_to_coef(params_.memory_ms, sample_rate_);
        memory_exp_ = 1.0 / (kLn10Over20 * params_.memory_db);
        rms_ = ms_to_coef(params_.rms_ms, sample_rate_);
        shelf_k_ = std::expm1(kLn10Over20 * params_.sc_shelf_db);
        tanh_kb_ = std::tanh(params_.drive * params_.bias);
        in_a_ = hz_to_coef(params_.input_hp_hz, sample_rate_);
        out_a_ = hz_to_coef(params_.output_shelf_hz, sample_rate_);
        out_k_ = std::expm1(kLn10Over20 * params_.output_shelf_db);
        biquad_poles(params_.input_hp2_hz, params_.input_q, sample_rate_, in2_a1_, in2_a2_);
        core_a_ = hz_to_coef(params_.core_hz, sample_rate_);
        core_b_ = std::exp(-2.0 * kLn10Over20 * params_.core_sat_db);
        biquad_poles(params_.output_lp_hz, params_.output_q, sample_rate_, out2_a1_, out2_a2_);
        const double w = std::tan(kPi * kShelfCornerHz / sample_rate_);
        hp_b_ = 1.0 / (1.0 + w);
        hp_a_ = (1.0 - w) / (1.0 + w);
    }

    Params params_{};
    Model model_{};
    double sample_rate_ = 44100.0;
    double slope_ = 0.75, attack_ = 0.0, release_ = 0.0, makeup_ = 1.0;
    double release_slow_ = 0.0, mix_ = 0.0, rms_ = 1.0, shelf_k_ = 0.0, tanh_kb_ = 0.0, hp_b_ = 1.0, hp_a_ = 0.0;
    double in_a_ = 0.0, out_a_ = 1.0, out_k_ = 0.0;
    double release_long_ = 0.0, memory_ = 0.0, memory_exp_ = 1.0;
    double in2_a1_ = 0.0, in2_a2_ = 0.0, core_a_ = 0.0, core_b_ = 0.0, out2_a1_ = 0.0, out2_a2_ = 0.0;
    double g_ = 1.0, gs_ = 1.0, mem_ = 0.0, p_ = 0.0, x_prev_ = 0.0, hp_ = 0.0;
    PathState path_{};
};

}  // namespace dspnewton
