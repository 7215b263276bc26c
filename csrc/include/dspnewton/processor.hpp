// dspnewton real-time processor: a fitted table (mode -> peak -> parameters) run on
// mono or stereo audio with the controls of the hardware unit, as the plugin and the
// Python ``dspnewton.Processor`` use it.
//
// - Controls: peak reduction (0..100, interpolated in the table, clamped to its grid),
//   mode (compress / limit), output gain (dB, after the model's own make-up), bypass,
//   and the expert controls (follow table; the five ff5 parameters used when not
//   following the table). Every control is smoothed: a change moves linearly to its
//   new value over kSmoothMs (20 ms) of samples, per sample, so automation is
//   click-free and independent of the block size. Mode and follow-table changes
//   morph the parameters (linear in physical units); bypass cross-fades the output
//   with the input (the detector keeps running, so leaving bypass is click-free).
//   Until the first sample after reset() there is nothing to smooth from: changes
//   made then take effect at once (a host setting up a session, a new processor).
// - Channels (1..kMaxChannels): linked (one detector; its input is, per sample, the
//   channel sample of largest magnitude, so the unit's gain is applied equally to
//   every channel and identical channels give the mono output bit for bit) or
//   independent (one detector per channel, "dual mono"). Switching between the two
//   starts the new detectors from the old state and cross-fades the outputs over
//   kSmoothMs (both run meanwhile).
// - Non-finite input samples (NaN, inf) are replaced by 0 before the detector and the
//   output (the output sample is 0 there); finite samples are clamped to +-kMaxInput.
//   The state can therefore never become non-finite; a guard still resets it if it did.
// - A table with a GRU residual (dspnewton.model.residual) adds it to each channel's DSP
//   output (before the output gain and the bypass cross-fade), one state per channel.
// - The engineer's controls around the unit: input trim (dB, before the model; not
//   compensated), calibration (the session's 0 VU in dBFS: the model hears the session's
//   0 VU at the level the unit was captured at, the table's zero_vu_dbfs, and the output is
//   scaled back), Emphasis (dB added to a side-chain shelf's fitted gain; models with
//   ``sc`` only) and Mix (dry/wet after the output gain, the dry path being the input: the
//   processor has no latency). At their defaults (0 dB, the table's level, 0 dB, 1) the
//   output is the same, bit for bit, as without them.
// - Meters with VU ballistics (a critically damped second-order response reaching 99 % in
//   300 ms, no overshoot): the gain reduction (the gain, smoothed, in dB) and the output level
//   (the full-wave rectified output, in dB re the session's 0 VU: a sine of peak level 0 VU
//   reads 0). The ballistics step once every kMeterStep samples (steps counted across blocks:
//   block-size independent) on the output's mean over the step, summed in a pass after the
//   sample loop (which runs up to the step's end and is otherwise as without meters), and on
//   the gain at the step's last sample.
// - continue_from() takes over another processor's controls and state (a table switch:
//   table_switch.hpp cross-fades the two).
// - No allocation in process(); the table is copied at construction.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

#include "compressor.hpp"
#include "table.hpp"

namespace dspnewton {

/// A value moving linearly to its target over a fixed number of samples.
struct Ramp {
    double value = 0.0, target = 0.0, step = 0.0;
    long remaining = 0;

    void snap(double v) {
        value = target = v;
        remaining = 0;
    }
    void snap() { snap(target); }
    /// Move to ``v`` over ``samples`` samples (0 = at once).
    void set(double v, long samples) {
        if (v == target) return;
        target = v;
        if (samples <= 0) return snap(v);
        step = (v - value) / static_cast<double>(samples);
        remaining = samples;
    }
    bool active() const { return remaining > 0; }
    /// The value for the next sample.
    double next() {
        if (remaining > 0) {
            --remaining;
            value = remaining == 0 ? target : value + step;
        }
        return value;
    }
};

class Processor {
public:
    static constexpr int kMaxChannels = 8;
    static constexpr double kSmoothMs = 20.0;   // every control's ramp time
    static constexpr double kMaxInput = 1e30;   // finite inputs are clamped to this magnitude
    static constexpr double kGainMinDb = -24.0, kGainMaxDb = 24.0;
    static constexpr double kTrimMinDb = -24.0, kTrimMaxDb = 24.0;
    static constexpr double kEmphasisMinDb = -12.0, kEmphasisMaxDb = 12.0;
    static constexpr double kVuRiseMs = 300.0;   // 99 % of a step's reading (critically damped)
    static constexpr double kVuFloorDb = -60.0;  // the output meter's reading in silence
    static constexpr int kMeterStep = 256;       // samples per step of the meters' ballistics (5.8 ms at 44.1 kHz)

    /// ``table``: at least one mode with rows (a mode without rows uses the other's).
    explicit Processor(const Table& table, double sample_rate = 44100.0, int channels = 1, bool linked = true)
        : table_(table) {
        if (table_.modes[0].empty() && table_.modes[1].empty()) throw std::invalid_argument("the table has no rows");
        has_mode_[0] = !table_.modes[0].empty();
        has_mode_[1] = !table_.modes[1].empty();
        if (!has_mode_[0]) {
            table_.modes[0] = table_.modes[1];
            table_.curves[0] = table_.curves[1];
        }
        if (!has_mode_[1]) {
            table_.modes[1] = table_.modes[0];
            table_.curves[1] = table_.curves[0];
        }
        for (Compressor& c : comp_) c.set_model(table_.model);
        linked_comp_.set_model(table_.model);
        res_kernel_.load(table_.residual);
        for (int k = 0; k < kNumCore; ++k) ramps_[kManual0 + k].snap(kFields[k].default_value);
        ramps_[kPeak].snap(70.0);
        ramps_[kMode].snap(has_mode_[0] ? 0.0 : 1.0);
        ramps_[kFollow].snap(1.0);
        ramps_[kGain].snap(0.0);
        ramps_[kBypass].snap(0.0);
        ramps_[kLink].snap(linked ? 1.0 : 0.0);
        ramps_[kMix].snap(1.0);
        ramps_[kTrim].snap(0.0);
        ramps_[kRef].snap(0.0);
        ramps_[kEmphasis].snap(0.0);
        zero_vu_dbfs_ = table_.zero_vu_dbfs;
        set_channels(channels);
        set_sample_rate(sample_rate);
        reset();
    }

    const Table& table() const { return table_; }
    const Model& model() const { return table_.model; }
    /// Whether the table was given rows for ``mode`` (else that mode uses the other's rows).
    bool has_mode(int mode) const { return has_mode_[mode == kLimit ? 1 : 0]; }

    /// A sample rate the table's model cannot run at (``out2`` below 44.1 kHz, see sample_rate_error()) is
    /// accepted but refused: rate_error() says why, and process() passes the audio through unchanged (the
    /// Python binding raises it; a plugin cannot refuse its host's rate, so it reports it and stays dry).
    void set_sample_rate(double sr) {
        if (!(sr >= 1000.0 && sr <= 1e6)) throw std::invalid_argument("sample rate must be 1000..1000000 Hz");
        rate_error_ = sample_rate_error(table_.model, sr);
        sample_rate_ = sr;
        ramp_samples_ = static_cast<long>(std::lround(kSmoothMs * 1e-3 * sr));
        for (Compressor& c : comp_) c.set_sample_rate(sr);
        linked_comp_.set_sample_rate(sr);
        const double tau_s = kVuRiseMs * 1e-3 / kVuStepsToRise;
        vu_coef_ = -std::expm1(-static_cast<double>(kMeterStep) / (tau_s * sr));
    }
    double sample_rate() const { return sample_rate_; }
    /// Why the model cannot run at the sample rate ("" when it can; then process() is a pass-through).
    const std::string& rate_error() const { return rate_error_; }

    void set_channels(int channels) {
        if (channels < 1 || channels > kMaxChannels)
            throw std::invalid_argument("channels must be 1.." + std::to_string(kMaxChannels));
        channels_ = channels;
        for (int c = 0; c < channels_; ++c) comp_[c].set_params(linked_comp_.params());
    }
    int channels() const { return channels_; }
    /// Linked stereo (one detector) or independent channels (dual mono); the new
    /// detectors start from the current state and the outputs cross-fade over kSmoothMs.
    void set_linked(bool linked) {
        if (linked == this->linked()) return;
        if (linked) {  // the linked detector continues from the channel with the most reduction
            int most = 0;
            for (int c = 1; c < channels_; ++c)
                if (comp_[c].gain() < comp_[most].gain()) most = c;
            linked_comp_ = comp_[most];
        } else {
            for (int c = 0; c < channels_; ++c) comp_[c] = linked_comp_;
        }
        ramps_[kLink].set(linked ? 1.0 : 0.0, ramp_len());
    }
    bool linked() const { return ramps_[kLink].target > 0.5; }

    // Controls (real-time safe): each moves to its new value over kSmoothMs.
    void set_peak(double peak) { move(kPeak, std::min(100.0, std::max(0.0, peak))); }
    void set_mode(int mode) { move(kMode, mode == kLimit ? 1.0 : 0.0); }
    void set_gain_db(double db) { move(kGain, std::min(kGainMaxDb, std::max(kGainMinDb, db))); }
    void set_bypass(bool on) { move(kBypass, on ? 1.0 : 0.0); }
    void set_follow_table(bool on) { move(kFollow, on ? 1.0 : 0.0); }
    /// One of the five ff5 parameters used when not following the table (clamped to its range).
    void set_manual(int core_index, double value) {
        if (core_index < 0 || core_index >= kNumCore) return;
        const Field& f = kFields[core_index];
        if (!std::isfinite(value)) return;
        move(kManual0 + core_index, std::min(f.hi, std::max(f.lo, value)));
    }
    /// Dry/wet, 0..1 (1: the unit alone; 0: the input).
    void set_mix(double mix) {
        if (std::isfinite(mix)) move(kMix, std::min(1.0, std::max(0.0, mix)));
    }
    /// Input trim, dB (-24..24): drives the model harder or softer; not compensated at the output.
    void set_trim_db(double db) {
        if (std::isfinite(db)) move(kTrim, std::min(kTrimMaxDb, std::max(kTrimMinDb, db)));
    }
    /// The session's calibration: the peak level (dBFS, -40..0) of a sine that reads 0 VU. The model
    /// hears it at the table's zero_vu_dbfs; the output is scaled back by the same amount.
    void set_zero_vu_dbfs(double dbfs) {
        if (!std::isfinite(dbfs)) return;
        table_level_ = false;
        zero_vu_dbfs_ = std::min(Table::kZeroVuMaxDbfs, std::max(Table::kZeroVuMinDbfs, dbfs));
        readings_stale_ = true;  // the output reading's reference moved
        move(kRef, table_.zero_vu_dbfs - zero_vu_dbfs_);
    }
    /// The session's 0 VU follows the table's level (the default; kept across table switches).
    void use_table_level() {
        table_level_ = true;
        zero_vu_dbfs_ = table_.zero_vu_dbfs;
        readings_stale_ = true;
        move(kRef, 0.0);
    }
    bool uses_table_level() const { return table_level_; }
    /// HF emphasis, dB (-12..12) added to the fitted side-chain shelf (models with ``sc``; else ignored).
    void set_emphasis_db(double db) {
        if (std::isfinite(db)) move(kEmphasis, std::min(kEmphasisMaxDb, std::max(kEmphasisMinDb, db)));
    }
    bool has_emphasis() const { return table_.model.sc; }
    double mix() const { return ramps_[kMix].target; }
    double trim_db() const { return ramps_[kTrim].target; }
    double zero_vu_dbfs() const { return zero_vu_dbfs_; }
    double emphasis_db() const { return ramps_[kEmphasis].target; }
    double peak() const { return ramps_[kPeak].target; }
    int mode() const { return ramps_[kMode].target > 0.5 ? kLimit : kCompress; }
    double gain_db() const { return ramps_[kGain].target; }
    bool bypass() const { return ramps_[kBypass].target > 0.5; }
    bool follow_table() const { return ramps_[kFollow].target > 0.5; }
    double manual(int core_index) const { return ramps_[kManual0 + core_index].target; }

    /// Controls jump to their targets (no ramp in flight).
    void settle() {
        for (Ramp& r : ramps_) r.snap();
        apply_params();
        apply_levels();
    }

    /// Whether nothing was processed since the last reset() (controls then take effect at once).
    bool fresh() const { return fresh_; }

    /// Take over ``o``'s controls (positions and ramps in flight) and state (detectors, signal-path
    /// filters, the residual's state if both tables have one, meters): this processor continues where
    /// ``o`` is, with its own table. Real-time safe. Both must have the same channel count.
    void continue_from(const Processor& o) {
        if (o.channels_ != channels_) return;
        for (int r = 0; r < kNumRamps; ++r) ramps_[r] = o.ramps_[r];
        // the session's 0 VU (the other table's level if it followed it: then this table's)
        table_level_ = o.table_level_;
        zero_vu_dbfs_ = table_level_ ? table_.zero_vu_dbfs : o.zero_vu_dbfs_;
        ramps_[kRef].snap(table_.zero_vu_dbfs - zero_vu_dbfs_);
        for (int c = 0; c < channels_; ++c) {
            comp_[c].continue_from(o.comp_[c]);
            path_[c] = o.path_[c];
            if (table_.residual.present && o.table_.residual.present) res_[c] = o.res_[c];
            else res_[c].reset();
        }
        linked_comp_.continue_from(o.linked_comp_);
        last_gain_ = o.last_gain_;
        for (int k = 0; k < 2; ++k) {
            vu_out_[k] = o.vu_out_[k];
            vu_gr_[k] = o.vu_gr_[k];
        }
        meter_level_ = o.meter_level_;
        meter_count_ = o.meter_count_;
        readings_stale_ = true;
        fresh_ = o.fresh_;
        apply_params();
        apply_levels();
    }

    /// Back to the initial state (gains 1, filters at rest), controls at their targets;
    /// changes before the next processed sample take effect at once.
    void reset() {
        for (Compressor& c : comp_) c.reset();
        for (ResidualState& r : res_) r.reset();
        for (PathState& p : path_) p.reset();
        linked_comp_.reset();
        settle();
        last_gain_ = 1.0;
        vu_out_[0] = vu_out_[1] = 0.0;
        vu_gr_[0] = vu_gr_[1] = 1.0;  // the smoothed gain: 1 at rest
        meter_level_ = 0.0;
        meter_count_ = 0;
        readings_stale_ = true;
        fresh_ = true;
    }

    /// Process ``n`` samples of channels() channels (``in[c]``, ``out[c]``; out may alias in).
    /// ``gain_reduction_db`` (optional, n values): the reduction in dB per sample (>= 0; the
    /// largest over the channels when they are independent).
    template <typename T, typename U = T>
    void process(const T* const* in, U* const* out, std::size_t n, double* gain_reduction_db = nullptr) {
        if (!rate_error_.empty()) {  // refused sample rate: the audio passes through
            for (int c = 0; c < channels_; ++c)
                for (std::size_t i = 0; i < n; ++i) out[c][i] = static_cast<U>(in[c][i]);
            if (gain_reduction_db)
                for (std::size_t i = 0; i < n; ++i) gain_reduction_db[i] = 0.0;
            return;
        }
        if (n > 0) fresh_ = false;
        // Mix, trim and calibration at unity for the whole block (nothing ramps): the plain loop, without them.
        const bool plain = !ramps_[kMix].active() && !ramps_[kTrim].active() && !ramps_[kRef].active() &&
                           ramps_[kMix].value >= 1.0 && in_lin_ == 1.0 && out_lin_ == 1.0;
        for (std::size_t i = 0; i < n;) {  // segments that end where a meter step ends
            const std::size_t end = std::min(n, i + static_cast<std::size_t>(kMeterStep - meter_count_));
            if (plain) run<true>(in, out, i, end, gain_reduction_db);
            else run<false>(in, out, i, end, gain_reduction_db);
            meter(out, i, end);
            i = end;
        }
        bool finite = linked_comp_.state_finite();
        for (int c = 0; c < channels_; ++c)
            finite = finite && comp_[c].state_finite() && res_[c].finite() && path_[c].finite();
        if (!finite) {  // unreachable with sanitised input; never keep a poisoned state
            for (Compressor& k : comp_) k.reset();
            for (ResidualState& r : res_) r.reset();
            for (PathState& p : path_) p.reset();
            linked_comp_.reset();
            last_gain_ = 1.0;
        }
    }

    /// The gain reduction at the last processed sample, dB (>= 0).
    double gain_reduction_db() const { return lin_to_reduction_db(last_gain_); }

    /// The VU meter's gain-reduction reading, dB (>= 0), as of its last step.
    double vu_gain_reduction_db() const {
        meter_readings();
        return vu_gr_db_;
    }
    /// The VU meter's output reading, dB re the session's 0 VU (>= kVuFloorDb), as of its last step.
    double vu_output_db() const {
        meter_readings();
        return vu_out_db_;
    }

    /// The parameters in use now (smoothed; physical units).
    const Params& params() const { return linked_comp_.params(); }

    /// The parameters the table gives at (mode, peak), without smoothing.
    Params table_params(int mode, double peak) const { return table_.interpolate(mode, peak); }

private:
    // The ramps before kGain set the model's parameters; the others are levels and mixes.
    enum RampId {
        kPeak = 0, kMode, kFollow, kManual0, kEmphasis = kManual0 + kNumCore, kGain, kBypass, kLink, kMix, kTrim,
        kRef, kNumRamps
    };
    static constexpr double kSineMeanAbs = 0.63661977236758134;  // 2 / pi: a sine's rectified mean / its peak
    static constexpr double kVuStepsToRise = 6.638352067993813;  // 1 - (1 + t) e^-t = 0.99 at t = 6.638...

    static double db_to_lin(double db) { return std::exp(0.11512925464970229 * db); }
    static double lin_to_reduction_db(double g) { return -20.0 * std::log10(std::max(g, 1e-12)); }
    static double sanitize(double v) {
        if (!std::isfinite(v)) return 0.0;
        return std::min(kMaxInput, std::max(-kMaxInput, v));
    }
    /// Samples [i0, i1) (within one meter step). ``Plain``: Mix, trim and calibration at unity, skipped.
    template <bool Plain, typename T, typename U>
    void run(const T* const* in, U* const* out, std::size_t i0, std::size_t i1, double* gain_reduction_db) {
        double x[kMaxChannels], xs[kMaxChannels], wet[kMaxChannels];
        double g = last_gain_;
        for (std::size_t i = i0; i < i1; ++i) {
            bool moved = false;
            for (int r = 0; r < kGain; ++r)
                if (ramps_[r].active()) {
                    ramps_[r].next();
                    moved = true;
                }
            if (moved) apply_params();
            if (ramps_[kGain].active()) gain_lin_ = db_to_lin(ramps_[kGain].next());
            if (!Plain && (ramps_[kTrim].active() || ramps_[kRef].active())) {
                ramps_[kTrim].next();
                ramps_[kRef].next();
                apply_levels();
            }
            const double bypass = ramps_[kBypass].next();
            const double link = ramps_[kLink].next();  // 1 linked, 0 independent, between: cross-fade
            const double wet_share = Plain ? 1.0 : ramps_[kMix].next();
            for (int c = 0; c < channels_; ++c) {
                x[c] = sanitize(static_cast<double>(in[c][i]));
                // per channel, whatever the link
                xs[c] = linked_comp_.input_stage(Plain ? x[c] : x[c] * in_lin_, path_[c]);
            }
            double g_linked = 1.0, g_dual = 1.0;
            if (link > 0.0) {
                double d = xs[0];
                for (int c = 1; c < channels_; ++c)
                    if (std::fabs(xs[c]) > std::fabs(d)) d = xs[c];
                g_linked = linked_comp_.detect(d);
                for (int c = 0; c < channels_; ++c) wet[c] = linked_comp_.output(xs[c], g_linked);
            }
            if (link < 1.0) {
                for (int c = 0; c < channels_; ++c) {
                    const double gc = comp_[c].detect(xs[c]);
                    g_dual = std::min(g_dual, gc);
                    const double y = comp_[c].output(xs[c], gc);
                    wet[c] = link <= 0.0 ? y : y + link * (wet[c] - y);
                }
            }
            for (int c = 0; c < channels_; ++c) wet[c] = linked_comp_.output_stage(wet[c], path_[c]);
            if (table_.residual.present)
                for (int c = 0; c < channels_; ++c) wet[c] = residual_step(res_kernel_, res_[c], wet[c]);
            g = link >= 1.0 ? g_linked : (link <= 0.0 ? g_dual : std::min(g_linked, g_dual));
            for (int c = 0; c < channels_; ++c)
                out[c][i] = static_cast<U>(output_mix(Plain ? wet[c] : wet[c] * out_lin_, x[c], wet_share, bypass));
            if (gain_reduction_db) gain_reduction_db[i] = lin_to_reduction_db(g);
        }
        last_gain_ = g;
    }

    /// The meters after samples [i0, i1) (within one step): the rectified output summed (the largest |sample|
    /// over the channels); at the step's end the ballistics, on its mean and on the gain then (smooth already).
    template <typename U>
    void meter(U* const* out, std::size_t i0, std::size_t i1) {
        double sum = 0.0;
        if (channels_ == 1) {
            sum = rectified_sum(out[0], i0, i1);
        } else {  // the largest |sample| over the channels
            float level[kMeterStep];
            for (std::size_t j = i0; j < i1; ++j) {
                float l = std::fabs(static_cast<float>(out[0][j]));
                for (int c = 1; c < channels_; ++c) l = std::max(l, std::fabs(static_cast<float>(out[c][j])));
                level[j - i0] = l;
            }
            sum = rectified_sum(level, 0, i1 - i0);
        }
        meter_level_ += sum;
        meter_count_ += static_cast<int>(i1 - i0);
        if (meter_count_ == kMeterStep) meter_step(last_gain_);
    }

    /// sum |x[j]| over [i0, i1) in float, eight running sums (no addition waits on the one before; vectorisable).
    template <typename U>
    static double rectified_sum(const U* x, std::size_t i0, std::size_t i1) {
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        std::size_t j = i0;
        for (; j + 8 <= i1; j += 8)
            for (int k = 0; k < 8; ++k) acc[k] += std::fabs(static_cast<float>(x[j + k]));
        double sum = 0.0;
        for (; j < i1; ++j) sum += std::fabs(static_cast<double>(x[j]));
        for (float a : acc) sum += a;
        return sum;
    }

    /// The output sample: the wet signal at the output gain, mixed with the dry (Mix), then the bypass
    /// cross-fade to the dry.
    double output_mix(double wet, double dry, double wet_share, double bypass) const {
        double y = wet * gain_lin_;
        if (wet_share < 1.0) y = dry + wet_share * (y - dry);
        if (bypass <= 0.0) return y;
        if (bypass >= 1.0) return dry;
        return y + bypass * (dry - y);
    }
    /// Linear gains from the level ramps: the output gain, the model's input (trim + calibration) and output
    /// (calibration undone).
    void apply_levels() {
        gain_lin_ = db_to_lin(ramps_[kGain].value);
        in_lin_ = db_to_lin(ramps_[kTrim].value + ramps_[kRef].value);
        out_lin_ = db_to_lin(-ramps_[kRef].value);
    }
    /// One step of the VU ballistics (two equal one-pole sections: critically damped).
    void vu_step(double (&s)[2], double v) const {
        s[0] += vu_coef_ * (v - s[0]);
        s[1] += vu_coef_ * (s[0] - s[1]);
    }
    /// The meters' ballistics: the output's mean over the last kMeterStep samples, the gain at the last.
    void meter_step(double gain) {
        constexpr double inv = 1.0 / kMeterStep;
        vu_step(vu_out_, meter_level_ * inv);
        vu_step(vu_gr_, gain);
        meter_level_ = 0.0;
        meter_count_ = 0;
        readings_stale_ = true;
    }
    /// The meters' readings in dB, computed when read after a step (hosts read them every block; steps are
    /// every kMeterStep samples).
    void meter_readings() const {
        if (!readings_stale_) return;
        readings_stale_ = false;
        vu_gr_db_ = std::max(0.0, lin_to_reduction_db(vu_gr_[1]));
        const double ref = kSineMeanAbs * db_to_lin(zero_vu_dbfs_);
        vu_out_db_ = vu_out_[1] > ref * db_to_lin(kVuFloorDb) ? 20.0 * std::log10(vu_out_[1] / ref) : kVuFloorDb;
    }

    /// The parameters at the smoothed controls, into every channel's compressor.
    void apply_params() {
        const double peak = ramps_[kPeak].value, m = ramps_[kMode].value, follow = ramps_[kFollow].value;
        Params p = table_.interpolate(kCompress, peak);
        if (m > 0.0) {
            const Params q = table_.interpolate(kLimit, peak);
            for (const Field& f : kFields) p.*(f.member) = m >= 1.0 ? q.*(f.member) : lerp(p.*(f.member), q.*(f.member), m);
        }
        if (follow < 1.0)
            for (int k = 0; k < kNumCore; ++k) {
                const double manual = ramps_[kManual0 + k].value;
                p.*(kFields[k].member) = follow <= 0.0 ? manual : lerp(manual, p.*(kFields[k].member), follow);
            }
        const double emphasis = ramps_[kEmphasis].value;
        if (emphasis != 0.0 && table_.model.sc)
            p.sc_shelf_db = std::min(shelf_field().hi, std::max(shelf_field().lo, p.sc_shelf_db + emphasis));
        linked_comp_.set_params(p);
        for (int c = 0; c < channels_; ++c) comp_[c].set_params(p);
    }

    /// Move a control to ``v`` over kSmoothMs, or at once before the first sample after reset().
    void move(int ramp, double v) {
        ramps_[ramp].set(v, ramp_len());
        if (fresh_) {  // not in the audio path: nothing has been processed since reset()
            apply_params();
            apply_levels();
        }
    }
    long ramp_len() const { return fresh_ ? 0 : ramp_samples_; }
    static double lerp(double a, double b, double t) { return a + t * (b - a); }
    /// The side-chain shelf's row of the parameter table (its range bounds the Emphasis offset).
    static const Field& shelf_field() {
        for (const Field& f : kFields)
            if (f.member == &Params::sc_shelf_db) return f;
        return kFields[0];
    }

    Table table_;
    bool has_mode_[2] = {true, true};
    Compressor comp_[kMaxChannels];  // one detector per channel (independent)
    Compressor linked_comp_;          // the one detector of linked channels
    ResidualState res_[kMaxChannels];  // the GRU residual's state per channel
    PathState path_[kMaxChannels];     // the signal-path stages' state per channel
    ResidualKernel res_kernel_{};      // its weights, laid out for the per-sample loop
    Ramp ramps_[kNumRamps];
    std::string rate_error_;  // set_sample_rate(): why the model cannot run at this rate ("" when it can)
    double sample_rate_ = 44100.0, gain_lin_ = 1.0, last_gain_ = 1.0, in_lin_ = 1.0, out_lin_ = 1.0;
    double zero_vu_dbfs_ = Table::kDefaultZeroVuDbfs, vu_coef_ = 0.0;
    bool table_level_ = true;  // the session's 0 VU is the table's zero_vu_dbfs
    double vu_out_[2] = {0.0, 0.0}, vu_gr_[2] = {1.0, 1.0};  // the meters' two ballistic sections
    double meter_level_ = 0.0;  // the rectified output's sum over the current meter step
    mutable double vu_gr_db_ = 0.0, vu_out_db_ = kVuFloorDb;  // the readings as of the last step
    mutable bool readings_stale_ = true;                     // a step since they were computed
    int meter_count_ = 0;
    long ramp_samples_ = 882;
    int channels_ = 1;
    bool fresh_ = true;
};

}  // namespace dspnewton
