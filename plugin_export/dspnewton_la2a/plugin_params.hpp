// dspnewton LA-2A plugin: its controls and state keys, one table shared by the DSP and the face.
#pragma once

#include <cstdint>

#include "DistrhoPluginInfo.h"
#include "dspnewton/compressor.hpp"
#include "dspnewton/processor.hpp"
#include "dspnewton/table.hpp"

namespace dspnewton_plugin {

enum ParamId : uint32_t {
    kPeak = 0,
    kGain,
    kMode,
    kBypass,
#if DSPNEWTON_STEREO
    kLink,
#endif
    kMix,
    kTrim,
    kZeroVu,
    kBundleLevel,
    kEmphasis,
    kMeter,
    kFollowTable,
    kThreshold,
    kRatio,
    kAttack,
    kRelease,
    kMakeup,
    // outputs last: DPF 1.6's LV2 preset writer needs them at the end
    kGainReduction,
    kVuGainReduction,
    kVuOutput,
    kParamCount
};

enum StateId : uint32_t { kStateBundle = 0, kStateBundlePath, kStateCount };
constexpr const char* kStateKeyBundle = "bundle";
constexpr const char* kStateKeyBundlePath = "bundle_path";

enum MeterMode : int { kMeterGainReduction = 0, kMeterPlus4, kMeterPlus10 };
constexpr double kPlus10OffsetDb = 6.0;  // the +10 range reads 6 dB below the +4 range

/// A control other than the five expert ff5 fields (those come from the parameter table).
struct ControlSpec {
    const char* name;
    const char* symbol;
    const char* unit;
    float def, lo, hi;
    bool toggle = false, output = false;
    uint8_t choices = 0;
    const char* choice_labels[3] = {nullptr, nullptr, nullptr};
};

inline const ControlSpec& control_spec(uint32_t index) {
    using P = dspnewton::Processor;
    static const ControlSpec kPeakSpec{"Peak reduction", "peak", "", 70.0f, 0.0f, 100.0f};
    static const ControlSpec kGainSpec{"Gain", "gain_db", "dB", 0.0f, float(P::kGainMinDb), float(P::kGainMaxDb)};
    static const ControlSpec kModeSpec{"Limit mode", "mode", "", 0.0f, 0.0f, 1.0f, true};
    static const ControlSpec kBypassSpec{"Bypass", "bypass", "", 0.0f, 0.0f, 1.0f, true};
    static const ControlSpec kLinkSpec{"Stereo link", "link", "", 1.0f, 0.0f, 1.0f, true};
    static const ControlSpec kMixSpec{"Mix", "mix", "%", 100.0f, 0.0f, 100.0f};
    static const ControlSpec kTrimSpec{"Input trim", "trim_db", "dB", 0.0f, float(P::kTrimMinDb), float(P::kTrimMaxDb)};
    static const ControlSpec kZeroVuSpec{"0 VU level", "zero_vu_dbfs", "dBFS", float(dspnewton::Table::kDefaultZeroVuDbfs),
                                         float(dspnewton::Table::kZeroVuMinDbfs), float(dspnewton::Table::kZeroVuMaxDbfs)};
    static const ControlSpec kBundleLevelSpec{"Bundle level", "bundle_level", "", 1.0f, 0.0f, 1.0f, true};
    static const ControlSpec kEmphasisSpec{"Emphasis", "emphasis_db", "dB", 0.0f, float(P::kEmphasisMinDb),
                                           float(P::kEmphasisMaxDb)};
    static const ControlSpec kMeterSpec{"Meter", "meter", "", 0.0f, 0.0f, 2.0f, false, false, 3,
                                        {"Gain reduction", "Output +4", "Output +10"}};
    static const ControlSpec kFollowSpec{"Follow table", "follow_table", "", 1.0f, 0.0f, 1.0f, true};
    static const ControlSpec kGrSpec{"Gain reduction", "gain_reduction", "dB", 0.0f, 0.0f, 40.0f, false, true};
    static const ControlSpec kVuGrSpec{"VU gain reduction", "vu_gain_reduction", "dB", 0.0f, 0.0f, 40.0f, false, true};
    static const ControlSpec kVuOutSpec{"VU output", "vu_output", "dB", float(P::kVuFloorDb), float(P::kVuFloorDb),
                                        20.0f, false, true};
    static const ControlSpec kNone{"", "", "", 0.0f, 0.0f, 1.0f};
    switch (index) {
        case kPeak: return kPeakSpec;
        case kGain: return kGainSpec;
        case kMode: return kModeSpec;
        case kBypass: return kBypassSpec;
#if DSPNEWTON_STEREO
        case kLink: return kLinkSpec;
#endif
        case kMix: return kMixSpec;
        case kTrim: return kTrimSpec;
        case kZeroVu: return kZeroVuSpec;
        case kBundleLevel: return kBundleLevelSpec;
        case kEmphasis: return kEmphasisSpec;
        case kMeter: return kMeterSpec;
        case kFollowTable: return kFollowSpec;
        case kGainReduction: return kGrSpec;
        case kVuGainReduction: return kVuGrSpec;
        case kVuOutput: return kVuOutSpec;
        default: (void)kLinkSpec; return kNone;
    }
}

}  // namespace dspnewton_plugin
