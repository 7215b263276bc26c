// dspnewton LA-2A plugin's face: what it shows, without drawing it (no DPF here, so the tests compile it
// alone): the name, model and table a bundle's text gives, the fit's ESR at a setting, the bundles beside a
// loaded one for previous/next, the meter's reading and its scale.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "dspnewton/bundle.hpp"
#include "plugin_params.hpp"

namespace dspnewton_face {

namespace fs = std::filesystem;

/// What the face shows about a bundle (parsed from the state's text).
struct BundleInfo {
    bool ok = true;
    std::string name = "built-in table", model, error;
    dspnewton::Table table;
};

/// ``text`` and ``path`` as the state holds them ("" and "": the compiled-in table, of model ``builtin_model``).
inline BundleInfo describe(const std::string& text, const std::string& path, const std::string& builtin_model = "") {
    BundleInfo info;
    info.model = builtin_model;
    if (!path.empty()) {
        const fs::path p(path);
        info.name = (p.filename() == "bundle.json" ? p.parent_path().filename() : p.filename()).string();
    }
    if (text.empty()) return info;
    try {
        const dspnewton::Bundle b = dspnewton::parse_bundle(text);
        info.model = b.model + (b.table.residual.present ? "+gru" : "");
        info.table = b.table;
    } catch (const std::exception& e) {
        info.ok = false;
        info.error = e.what();
    }
    return info;
}

inline std::string read_text(const fs::path& p, std::string& error) {
    try {
        return dspnewton::read_file(p.string());
    } catch (const std::exception& e) {
        error = e.what();
        return std::string();
    }
}

/// The bundle.json of a pick: a bundle.json itself or a NAME.bundle folder.
inline fs::path bundle_json_of(const fs::path& p) { return fs::is_directory(p) ? p / "bundle.json" : p; }

/// Sibling bundles of ``current`` (NAME.bundle folders with a bundle.json, sorted), for previous/next.
inline std::vector<fs::path> sibling_bundles(const fs::path& current) {
    std::vector<fs::path> out;
    const fs::path folder = current.filename() == "bundle.json" ? current.parent_path() : current;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(folder.parent_path(), ec))
        if (e.is_directory() && fs::exists(e.path() / "bundle.json")) out.push_back(e.path() / "bundle.json");
    std::sort(out.begin(), out.end());
    return out;
}

/// The bundle ``direction`` (+1 next, -1 previous) steps from ``current`` among its siblings, wrapping around
/// (the first one when ``current`` is not among them); empty when there are none.
inline fs::path neighbour_bundle(const fs::path& current, int direction) {
    const std::vector<fs::path> all = sibling_bundles(current);
    if (all.empty()) return fs::path();
    const fs::path self = current.filename() == "bundle.json" ? current : current / "bundle.json";
    const auto it = std::find(all.begin(), all.end(), self);
    if (it == all.end()) return all.front();
    const long n = static_cast<long>(all.size()), i = static_cast<long>(it - all.begin()) + direction;
    return all[static_cast<std::size_t>(((i % n) + n) % n)];
}

/// "   ESR 1.23 % (compress 70)": the fit's ESR at the table row nearest ``peak`` in ``mode`` ("" without rows).
inline std::string esr_at(const dspnewton::Table& t, int mode, double peak) {
    const auto& rows = t.modes[mode == dspnewton::kLimit ? 1 : 0];
    if (rows.empty()) return std::string();
    const dspnewton::Row* best = &rows[0];
    for (const dspnewton::Row& r : rows)
        if (std::fabs(r.peak - peak) < std::fabs(best->peak - peak)) best = &r;
    char b[96];
    std::snprintf(b, sizeof(b), "   ESR %.2f %% (%s %g)", 100.0 * best->esr, dspnewton::mode_name(mode), best->peak);
    return b;
}

/// The needle's reading in VU dB: the gain reduction (as a deflection below 0 VU) or the output (+10: 6 dB less).
inline float meter_reading(int meter_mode, float vu_gain_reduction_db, float vu_output_db) {
    if (meter_mode == dspnewton_plugin::kMeterGainReduction) return -vu_gain_reduction_db;
    return vu_output_db - (meter_mode == dspnewton_plugin::kMeterPlus10 ? static_cast<float>(
                                                                             dspnewton_plugin::kPlus10OffsetDb)
                                                                       : 0.0f);
}

/// The meter scale: a reading's needle angle (radians; 0 right, -pi/2 up), linear in voltage from -20 VU at
/// -144 degrees to +3 VU at -36 degrees, the needle stopping just past both ends.
inline float meter_angle(float db) {
    const float v = std::pow(10.0f, db / 20.0f), lo = 0.1f, hi = std::pow(10.0f, 3.0f / 20.0f);
    const float t = std::min(1.04f, std::max(-0.02f, (v - lo) / (hi - lo)));
    return 3.14159265f * (-0.8f + 0.6f * t);
}

/// A knob's pointer angle (radians, clockwise on screen from the right) at fraction ``t`` of its range:
/// 135 degrees (bottom left) to 405 degrees (bottom right).
inline float knob_angle(float t) { return 3.14159265f * (0.75f + 1.5f * t); }

}  // namespace dspnewton_face
