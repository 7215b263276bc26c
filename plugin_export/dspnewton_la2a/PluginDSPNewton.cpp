// dspnewton LA-2A: one plugin (VST3 / LV2 / CLAP, built with DPF) that runs any exported bundle.
//
// The DSP is dspnewton's real-time processor (csrc/include/dspnewton/processor.hpp), the
// same one dspnewton.Processor runs in Python. Its table is the compiled-in default
// (params.h: `dspnewton export` writes one per bundle; plugin_export/default_table holds the
// embedded study's) until a bundle is loaded at run time, from the face or through the
// host's state:
//   state "bundle"      the bundle.json text itself (empty: the compiled-in table), so a
//                       session reopens identically on a machine without the file; it is
//                       parsed and checksum-verified like any bundle; a bundle that is
//                       corrupt, of a newer schema or fails its checksum is refused (the host
//                       log says why) and the table in use is kept;
//   state "bundle_path" where it was loaded from (for display; never read by the DSP).
// The table is parsed and its processor built off the audio thread (setState); the audio
// thread takes it at its next block and cross-fades the two tables' outputs over 20 ms
// (table_switch.hpp: no allocation, no lock).
//
// Controls, in this order:
//   Peak reduction 0..100 (the joint-fit curves of a `sweep --joint` bundle, else the table
//   interpolated linearly; clamped to the fitted range), Gain (output, dB, -24..24, after the
//   table's own make-up), Limit mode, Bypass (the host's bypass), Stereo link (stereo variant
//   only: one detector, or dual mono), Mix (dry/wet, %), Input trim (dB), 0 VU level (the
//   session's calibration, dBFS of a sine reading 0 VU) and Bundle level (use the level the
//   bundle was captured at instead: the default), Emphasis (dB on a fitted side-chain shelf;
//   models with `sc`), Meter (what the VU meter shows: gain reduction, output +4, output +10),
//   then the expert controls: Follow table, and the five ff5 parameters used when the table
//   is not followed; last the outputs: Gain reduction (dB, at the last sample of each block)
//   and the VU meter's two readings (gain reduction dB; output dB re 0 VU), with VU ballistics.
// Every control is smoothed over 20 ms per sample (click-free automation). At the defaults of
// Mix, trim, level and Emphasis the output is the same as without them, bit for bit.
#include "DistrhoPlugin.hpp"

#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include "dspnewton/bundle.hpp"
#include "dspnewton/table_switch.hpp"
#include "params.h"
#include "plugin_params.hpp"

START_NAMESPACE_DISTRHO

namespace {

using namespace dspnewton_plugin;

constexpr uint32_t kChannels = DISTRHO_PLUGIN_NUM_INPUTS;

static_assert(dspnewton_table::kColumns == dspnewton::kNumFields + 1, "params.h from an older dspnewton; export again");
static_assert(kMakeup - kThreshold + 1 == dspnewton::kNumCore, "one expert control per ff5 field");
static_assert(dspnewton_table::kCompressRows + dspnewton_table::kLimitRows > 0, "params.h has no table rows");
static_assert(dspnewton_table::kCurveMaxCoefficients == dspnewton::Curves::kMaxCoefficients,
              "params.h from another dspnewton version; export again");

const dspnewton::Field& core_field(uint32_t index) { return dspnewton::kFields[index - kThreshold]; }

dspnewton::Row row_of(const double* r) {
    dspnewton::Row row{r[0], {}, 0.0};
    for (int k = 0; k < dspnewton::kNumFields; ++k) row.params.*(dspnewton::kFields[k].member) = r[k + 1];
    return row;
}

/// The compiled-in table (params.h).
dspnewton::Table default_table() {
    dspnewton::Table t;
    t.model = dspnewton::parse_model(dspnewton_table::kModel);
    t.zero_vu_dbfs = dspnewton_table::kZeroVuDbfs;
    for (int i = 0; i < dspnewton_table::kCompressRows; ++i) t.modes[0].push_back(row_of(dspnewton_table::kCompress[i]));
    for (int i = 0; i < dspnewton_table::kLimitRows; ++i) t.modes[1].push_back(row_of(dspnewton_table::kLimit[i]));
    dspnewton::Residual& r = t.residual;  // the GRU residual, if the fit had one
    r.present = dspnewton_table::kHasResidual;
    for (int g = 0; g < dspnewton::Residual::kGates; ++g) {
        r.w_ih[g] = dspnewton_table::kResidualWih[g];
        r.b_ih[g] = dspnewton_table::kResidualBih[g];
        r.b_hh[g] = dspnewton_table::kResidualBhh[g];
        for (int k = 0; k < dspnewton::Residual::kHidden; ++k) r.w_hh[g][k] = dspnewton_table::kResidualWhh[g][k];
    }
    for (int k = 0; k < dspnewton::Residual::kHidden; ++k) r.w_out[k] = dspnewton_table::kResidualWout[k];
    r.b_out = dspnewton_table::kResidualBout;
    for (int m = 0; m < 2; ++m) {  // joint-fit curves: the knob evaluates them at any position
        dspnewton::Curves& c = t.curves[m];
        c.present = dspnewton_table::kHasCurves[m];
        c.degree = dspnewton_table::kCurveDegree[m];
        c.knob_lo = dspnewton_table::kCurveKnob[m][0];
        c.knob_hi = dspnewton_table::kCurveKnob[m][1];
        c.sample_rate = dspnewton_table::kCurveSampleRate[m];
        for (int k = 0; k < dspnewton::kNumFields; ++k)
            for (int j = 0; j < dspnewton::Curves::kMaxCoefficients; ++j)
                c.coef[k][j] = dspnewton_table::kCurveCoefficients[m][k][j];
    }
    return t;
}

/// A rate the processor accepts (hosts probing the plugin may report none).
double usable_rate(double sr) { return sr >= 1000.0 && sr <= 1e6 ? sr : 44100.0; }

}  // namespace

class DSPNewtonLA2A : public Plugin {
public:
    DSPNewtonLA2A()
        : Plugin(kParamCount, 0, kStateCount),
          fSwitch(std::make_unique<dspnewton::Processor>(default_table(), usable_rate(getSampleRate()), kChannels,
                                                         true)) {
        for (uint32_t i = 0; i < kParamCount; ++i) {
            Parameter p;
            initParameter(i, p);
            fValues[i] = p.ranges.def;
        }
        if (!fSwitch.active().has_mode(dspnewton::kCompress)) fValues[kMode] = 1.0f;  // a limit-only table
        for (uint32_t i = 0; i < kParamCount; ++i) apply(i, fValues[i]);
        fSwitch.active().reset();
    }

protected:
    const char* getLabel() const override { return DSPNEWTON_STEREO ? "dspnewton_la2a_stereo" : "dspnewton_la2a"; }
    const char* getDescription() const override {
        return "LA-2A levelling amplifier sound-matched by dspnewton: loads any exported bundle (Newton-fitted "
               "table, joint curves, GRU residual)";
    }
    const char* getMaker() const override { return "dspnewton"; }
    const char* getHomePage() const override { return "https://github.com/dspnewton/dspnewton"; }
    const char* getLicense() const override { return "MIT"; }
    uint32_t getVersion() const override {
        return d_version(DSPNEWTON_VERSION_MAJOR, DSPNEWTON_VERSION_MINOR, DSPNEWTON_VERSION_PATCH);
    }
    int64_t getUniqueId() const override {
        return DSPNEWTON_STEREO ? d_cconst('d', 'N', 'l', 's') : d_cconst('d', 'N', 'l', 'a');
    }

    void initAudioPort(bool input, uint32_t index, AudioPort& port) override {
        port.groupId = kChannels == 2 ? kPortGroupStereo : kPortGroupMono;
        Plugin::initAudioPort(input, index, port);
    }

    void initParameter(uint32_t index, Parameter& p) override {
        if (index == kBypass) return p.initDesignation(kParameterDesignationBypass);
        if (index >= kThreshold && index <= kMakeup) {
            const dspnewton::Field& f = core_field(index);
            char name[64];
            std::snprintf(name, sizeof(name), "%s", f.label);  // the table's label, capitalised
            if (name[0] >= 'a' && name[0] <= 'z') name[0] = static_cast<char>(name[0] - 'a' + 'A');
            p.hints = kParameterIsAutomatable;
            set(p, name, f.name, f.unit, static_cast<float>(f.default_value), static_cast<float>(f.control_lo),
                static_cast<float>(f.control_hi));
            return;
        }
        const ControlSpec& c = control_spec(index);
        p.hints = c.output ? kParameterIsOutput : kParameterIsAutomatable;
        if (c.toggle) p.hints |= kParameterIsInteger | kParameterIsBoolean;
        if (c.choices) {
            p.hints |= kParameterIsInteger;
            p.enumValues.count = c.choices;
            p.enumValues.restrictedMode = true;
            p.enumValues.values = new ParameterEnumerationValue[c.choices];
            for (uint8_t k = 0; k < c.choices; ++k) {
                p.enumValues.values[k].value = static_cast<float>(k);
                p.enumValues.values[k].label = c.choice_labels[k];
            }
        }
        set(p, c.name, c.symbol, c.unit, c.def, c.lo, c.hi);
    }

    void initState(uint32_t index, State& state) override {
        state.hints = 0;  // not a host-visible string: the DSP and the face read it
        state.key = index == kStateBundle ? kStateKeyBundle : kStateKeyBundlePath;
        state.label = index == kStateBundle ? "Bundle" : "Bundle file";
        state.defaultValue = "";
    }

    String getState(const char* key) const override {
        if (std::strcmp(key, kStateKeyBundle) == 0) return String(fBundleText.c_str());
        if (std::strcmp(key, kStateKeyBundlePath) == 0) return String(fBundlePath.c_str());
        return String();
    }

    /// Off the audio thread: a bundle (its text) is parsed, verified and made into a processor, which
    /// the audio thread takes over at its next block; a refused bundle leaves the table in use.
    void setState(const char* key, const char* value) override {
        if (std::strcmp(key, kStateKeyBundlePath) == 0) {
            fBundlePath = value;
            return;
        }
        if (std::strcmp(key, kStateKeyBundle) != 0) return;
        try {
            const std::string text = value;
            dspnewton::Table table = text.empty() ? default_table() : dspnewton::parse_bundle(text).table;
            fSwitch.offer(std::make_unique<dspnewton::Processor>(table, fSampleRate, kChannels, true));
            fBundleText = text;
            fPathInUse = fBundlePath;
            report_rate_error();
        } catch (const std::exception& e) {
            d_stderr2("dspnewton LA-2A: bundle '%s' refused (%s); keeping the table in use", fBundlePath.c_str(),
                      e.what());
            fBundlePath = fPathInUse;
        }
    }

    float getParameterValue(uint32_t index) const override { return index < kParamCount ? fValues[index] : 0.0f; }

    void setParameterValue(uint32_t index, float value) override {
        if (index >= kParamCount || control_spec(index).output) return;
        fValues[index] = value;
        apply(index, value);
    }

    void sampleRateChanged(double newSampleRate) override {
        fSampleRate = usable_rate(newSampleRate);
        fSwitch.each([this](dspnewton::Processor& p) { p.set_sample_rate(fSampleRate); });
        report_rate_error();
    }

    void activate() override {
        fSwitch.reset();
        report_rate_error();
    }

    /// A model that cannot run at the host's rate (out2 below 44.1 kHz) passes the audio through: say so.
    void report_rate_error() const {
        const std::string& why = fSwitch.current().rate_error();
        if (!why.empty()) d_stderr2("dspnewton LA-2A: %s; the audio passes through unprocessed", why.c_str());
    }

    void run(const float** inputs, float** outputs, uint32_t frames) override {
        fSwitch.process(inputs, outputs, frames);
        const dspnewton::Processor& p = fSwitch.current();
        fValues[kGainReduction] = static_cast<float>(p.gain_reduction_db());
        fValues[kVuGainReduction] = static_cast<float>(p.vu_gain_reduction_db());
        fValues[kVuOutput] = static_cast<float>(p.vu_output_db());
    }

private:
    static void set(Parameter& p, const char* name, const char* symbol, const char* unit, float def, float mn,
                    float mx) {
        p.name = name;
        p.symbol = symbol;
        p.unit = unit;
        p.ranges.def = def;
        p.ranges.min = mn;
        p.ranges.max = mx;
    }

    /// A control's value into every running processor (which smooth it).
    void apply(uint32_t index, float value) {
        const bool on = value > 0.5f;
        switch (index) {
            case kPeak: return fSwitch.each([value](dspnewton::Processor& p) { p.set_peak(value); });
            case kGain: return fSwitch.each([value](dspnewton::Processor& p) { p.set_gain_db(value); });
            case kMode:
                return fSwitch.each([on](dspnewton::Processor& p) { p.set_mode(on ? dspnewton::kLimit : dspnewton::kCompress); });
            case kBypass: return fSwitch.each([on](dspnewton::Processor& p) { p.set_bypass(on); });
#if DSPNEWTON_STEREO
            case kLink: return fSwitch.each([on](dspnewton::Processor& p) { p.set_linked(on); });
#endif
            case kMix: return fSwitch.each([value](dspnewton::Processor& p) { p.set_mix(value / 100.0); });
            case kTrim: return fSwitch.each([value](dspnewton::Processor& p) { p.set_trim_db(value); });
            case kZeroVu:
            case kBundleLevel: {
                const bool table_level = fValues[kBundleLevel] > 0.5f;
                const double level = fValues[kZeroVu];
                return fSwitch.each([table_level, level](dspnewton::Processor& p) {
                    if (table_level) p.use_table_level();
                    else p.set_zero_vu_dbfs(level);
                });
            }
            case kEmphasis: return fSwitch.each([value](dspnewton::Processor& p) { p.set_emphasis_db(value); });
            case kFollowTable: return fSwitch.each([on](dspnewton::Processor& p) { p.set_follow_table(on); });
            default:
                if (index >= kThreshold && index <= kMakeup) {
                    const int k = static_cast<int>(index - kThreshold);
                    fSwitch.each([k, value](dspnewton::Processor& p) { p.set_manual(k, value); });
                }
                return;
        }
    }

    dspnewton::TableSwitch fSwitch;
    float fValues[kParamCount];
    double fSampleRate = usable_rate(getSampleRate());
    std::string fBundleText;  // the bundle in use ("" = the compiled-in table)
    std::string fBundlePath, fPathInUse;

    DISTRHO_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(DSPNewtonLA2A)
};

Plugin* createPlugin() { return new DSPNewtonLA2A(); }

END_NAMESPACE_DISTRHO
