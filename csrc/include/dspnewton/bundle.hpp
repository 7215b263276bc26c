// dspnewton: the VST-ready parameter bundle (bundle.json) and the params.h of plugin builds.
// (The residual's JSON: residual_json.hpp; .vstpreset and plugin states: preset_state.hpp.)
//
// bundle.json holds the schema version, model, sample rate, units, the table
// (mode -> rows of peak and parameters, strictly increasing peak) and provenance,
// with an FNV-1a 64 checksum over the canonical text of the table. The reader
// validates all of it and never executes anything.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "file_io.hpp"
#include "json.hpp"
#include "preset_state.hpp"
#include "residual_json.hpp"
#include "table.hpp"

namespace dspnewton {

constexpr int kBundleSchema = 2;       // the newest schema this reader knows
constexpr int kBundleSchemaTable = 1;  // tables only (written when no mode has curves)



/// FNV-1a 64 over the canonical text of a table (ff5 tables: the schema-1 text unchanged;
/// other models: the model's name first and each row's extra parameters after its ESR).
inline std::string table_checksum(const Table& t) {
    std::string text;
    ExtraField extras[kNumFields];
    const int n_extra = extra_fields(t.model, extras);
    if (!t.model.is_ff5()) text += "model " + t.model.name() + "\n";
    for (int m = 0; m < 2; ++m)
        for (const Row& r : t.modes[m]) {
            text += mode_name(m);
            text += " " + fmt17(r.peak);
            for (int i = 0; i < kNumCore; ++i) text += " " + fmt17(r.params.*(kFields[i].member));
            text += " " + fmt17(r.esr);
            for (int i = 0; i < n_extra; ++i) text += " " + fmt17(r.params.*(extras[i].member));
            text += "\n";
        }
    for (int m = 0; m < 2; ++m) {  // joint-fit curves (schema 2); tables without them hash as before
        const Curves& c = t.curves[m];
        if (!c.present) continue;
        text += std::string("curves ") + mode_name(m) + " " + std::to_string(c.degree) + " " + fmt17(c.knob_lo) + " " +
                fmt17(c.knob_hi) + " " + fmt17(c.sample_rate) + "\n";
        for (int k = 0; k < kNumFields; ++k) {
            if (!t.model.has(kFields[k].option)) continue;
            text += kFields[k].name;
            for (int j = 0; j <= c.degree; ++j) text += " " + fmt17(c.coef[k][j]);
            text += "\n";
        }
    }
    if (t.residual.present) text += "residual " + residual_json(t.residual) + "\n";
    if (t.zero_vu_dbfs != Table::kDefaultZeroVuDbfs) text += "zero_vu_dbfs " + fmt17(t.zero_vu_dbfs) + "\n";
    std::uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : text) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    char buf[32];
    std::snprintf(buf, sizeof(buf), "fnv1a64:%016llx", static_cast<unsigned long long>(h));
    return buf;
}

/// Throws std::invalid_argument unless every row is in range and peaks strictly increase.
inline void validate_table(const Table& t) {
    if (!(t.zero_vu_dbfs >= Table::kZeroVuMinDbfs && t.zero_vu_dbfs <= Table::kZeroVuMaxDbfs))
        throw std::invalid_argument("zero_vu_dbfs must be in " + fmt17(Table::kZeroVuMinDbfs) + ".." +
                                    fmt17(Table::kZeroVuMaxDbfs) + " dBFS");
    bool any = false;
    for (int m = 0; m < 2; ++m) {
        const auto& rows = t.modes[m];
        for (std::size_t i = 0; i < rows.size(); ++i) {
            any = true;
            const Row& r = rows[i];
            const std::string where = std::string(mode_name(m)) + " row " + std::to_string(i);
            if (!std::isfinite(r.peak) || r.peak < 0 || r.peak > 100)
                throw std::invalid_argument(where + ": peak must be in 0..100");
            if (i > 0 && !(r.peak > rows[i - 1].peak))
                throw std::invalid_argument(where + ": peaks must be strictly increasing");
            if (!params_valid(r.params, t.model))
                throw std::invalid_argument(where + ": parameters out of range (model " + t.model.name() + ": " +
                                            ranges_text(t.model) + ")");
        }
    }
    if (!any) throw std::invalid_argument("the table has no rows");
    for (int m = 0; m < 2; ++m) {
        const Curves& c = t.curves[m];
        if (!c.present) continue;
        const std::string where = std::string(mode_name(m)) + " curves";
        if (t.modes[m].empty()) throw std::invalid_argument(where + ": the mode has no rows");
        if (c.degree < 0 || c.degree >= Curves::kMaxCoefficients)
            throw std::invalid_argument(where + ": degree must be 0.." + std::to_string(Curves::kMaxCoefficients - 1));
        if (!(std::isfinite(c.knob_lo) && std::isfinite(c.knob_hi) && 0 <= c.knob_lo && c.knob_lo <= c.knob_hi &&
              c.knob_hi <= 100))
            throw std::invalid_argument(where + ": knob_lo..knob_hi must lie in 0..100");
        if (!(c.sample_rate >= 1000 && c.sample_rate <= 1e6))
            throw std::invalid_argument(where + ": sample_rate must be 1000..1000000");
        for (int k = 0; k < kNumFields; ++k) {
            double bound = 0.0;  // |theta| <= sum |c_j| at any knob position (|L_j| <= 1 on [-1, 1])
            for (int j = 0; j <= c.degree; ++j) {
                if (!std::isfinite(c.coef[k][j])) throw std::invalid_argument(where + ": coefficients must be finite");
                bound += std::fabs(c.coef[k][j]);
            }
            if (t.model.has(kFields[k].option) && std::strcmp(kFields[k].transform, "none") == 0 &&
                bound > kUnboundedLimit)
                throw std::invalid_argument(where + ": the curve of " + kFields[k].name + " can leave +-" +
                                            fmt17(kUnboundedLimit) + " (the sum of its coefficients' magnitudes)");
        }
        for (const Row& r : t.modes[m])
            if (!params_valid(c.evaluate(t.model, r.peak), t.model))
                throw std::invalid_argument(where + ": the curves leave the parameter ranges");
    }
}

inline std::string bundle_json(const Table& t, int sample_rate, const std::string& provenance_json) {
    validate_table(t);
    json::parse(provenance_json);  // must be valid JSON
    std::ostringstream o;
    const Field* fields[kNumFields];
    const int n_fields = model_fields(t.model, fields);
    o << "{\n  \"schema_version\": " << (t.extended() ? kBundleSchema : kBundleSchemaTable) << ",\n  \"model\": \""
      << t.model.name() << "\",\n"
      << "  \"sample_rate\": " << sample_rate << ",\n"
      << "  \"units\": {\"peak\": \"peak reduction 0..100\"";
    for (int i = 0; i < n_fields; ++i) {
        o << ", \"" << fields[i]->name << "\": \"" << fields[i]->unit << "\"";
        if (i == kNumCore - 1) o << ", \"esr\": \"fraction\"";
    }
    o << "},\n"
      << "  \"interpolation\": \"linear\",\n  \"table\": {";
    for (int m = 0; m < 2; ++m) {
        o << (m ? ",\n" : "\n") << "    \"" << mode_name(m) << "\": [";
        const auto& rows = t.modes[m];
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const Row& r = rows[i];
            o << (i ? ",\n" : "\n") << "      {\"peak\": " << fmt17(r.peak);
            for (int k = 0; k < n_fields; ++k) {
                o << ", \"" << fields[k]->name << "\": " << fmt17(r.params.*(fields[k]->member));
                if (k == kNumCore - 1) o << ", \"esr\": " << fmt17(r.esr);
            }
            o << "}";
        }
        o << (rows.empty() ? "]" : "\n    ]");
    }
    o << "\n  },\n";
    if (t.has_curves()) {
        o << "  \"curves\": {";
        bool first = true;
        for (int m = 0; m < 2; ++m) {
            const Curves& c = t.curves[m];
            if (!c.present) continue;
            o << (first ? "\n" : ",\n") << "    \"" << mode_name(m) << "\": {\"basis\": \"legendre\", \"degree\": "
              << c.degree << ", \"knob_lo\": " << fmt17(c.knob_lo) << ", \"knob_hi\": " << fmt17(c.knob_hi)
              << ", \"sample_rate\": " << fmt17(c.sample_rate) << ", \"coefficients\": {";
            first = false;
            bool first_field = true;
            for (int k = 0; k < kNumFields; ++k) {
                if (!t.model.has(kFields[k].option)) continue;
                o << (first_field ? "" : ", ") << "\"" << kFields[k].name << "\": [";
                first_field = false;
                for (int j = 0; j <= c.degree; ++j) o << (j ? ", " : "") << fmt17(c.coef[k][j]);
                o << "]";
            }
            o << "}}";
        }
        o << "\n  },\n";
    }
    if (t.residual.present) o << "  \"residual\": " << residual_json(t.residual) << ",\n";
    if (t.zero_vu_dbfs != Table::kDefaultZeroVuDbfs) o << "  \"zero_vu_dbfs\": " << fmt17(t.zero_vu_dbfs) << ",\n";
    o << "  \"provenance\": " << provenance_json << ",\n  \"checksum\": \"" << table_checksum(t) << "\"\n}\n";
    return o.str();
}

struct Bundle {
    int schema_version = kBundleSchema;
    int sample_rate = 44100;
    std::string model = "ff5";
    std::string interpolation = "linear";
    Table table;
    std::string provenance_json = "{}";
};

inline Bundle parse_bundle(const std::string& text) {
    json::Value v = json::parse(text);
    if (v.kind != json::Value::Object) throw std::invalid_argument("bundle.json must hold a JSON object");
    Bundle b;
    double schema = v.at("schema_version").number("schema_version");
    if (schema > kBundleSchema && schema == std::floor(schema) && schema < 1e6)
        throw std::invalid_argument("bundle schema_version " + fmt17(schema) + " is newer than this dspnewton reads (" +
                                    std::to_string(kBundleSchema) + "); upgrade dspnewton to read it");
    if (schema != kBundleSchema && schema != kBundleSchemaTable)
        throw std::invalid_argument("unsupported schema_version " + fmt17(schema) + " (this reader knows " +
                                    std::to_string(kBundleSchema) + ")");
    b.model = v.at("model").string("model");
    b.table.model = parse_model(b.model);
    if (b.table.model.name() != b.model)
        throw std::invalid_argument("model '" + b.model + "' is not in canonical form '" + b.table.model.name() + "'");
    const Field* fields[kNumFields];
    const int n_fields = model_fields(b.table.model, fields);
    double sr = v.at("sample_rate").number("sample_rate");
    if (!(sr > 0) || sr != std::floor(sr) || sr > 1e7)
        throw std::invalid_argument("sample_rate must be a positive integer");
    b.sample_rate = static_cast<int>(sr);
    b.interpolation = v.at("interpolation").string("interpolation");
    if (b.interpolation != "linear") throw std::invalid_argument("unsupported interpolation '" + b.interpolation + "'");
    const json::Value& table = v.at("table");
    if (table.kind != json::Value::Object) throw std::invalid_argument("table must be an object");
    for (const auto& kv : table.obj)
        if (kv.first != "compress" && kv.first != "limit")
            throw std::invalid_argument("unknown mode '" + kv.first + "' in table");
    for (int m = 0; m < 2; ++m) {
        if (!table.has(mode_name(m))) continue;
        const json::Value& rows = table.at(mode_name(m));
        if (rows.kind != json::Value::Array) throw std::invalid_argument(std::string(mode_name(m)) + " must be a list");
        for (const json::Value& r : rows.arr) {
            if (r.kind != json::Value::Object) throw std::invalid_argument("table rows must be objects");
            Row row;
            row.peak = r.at("peak").number("peak");
            for (int k = 0; k < n_fields; ++k)
                row.params.*(fields[k]->member) = r.at(fields[k]->name).number(fields[k]->name);
            row.esr = r.has("esr") ? r.at("esr").number("esr") : 0.0;
            b.table.modes[m].push_back(row);
        }
    }
    if (schema == kBundleSchema && v.has("residual")) b.table.residual = parse_residual(v.at("residual"));
    if (schema == kBundleSchema && v.has("curves")) {  // schema 2: joint-fit curves and/or a residual
        const json::Value& curves = v.at("curves");
        if (curves.kind != json::Value::Object) throw std::invalid_argument("curves must be an object");
        for (const auto& kv : curves.obj) {
            if (kv.first != "compress" && kv.first != "limit")
                throw std::invalid_argument("unknown mode '" + kv.first + "' in curves");
            const json::Value& c = kv.second;
            Curves& out = b.table.curves[kv.first == "limit" ? 1 : 0];
            if (c.at("basis").string("basis") != "legendre")
                throw std::invalid_argument("unsupported curve basis '" + c.at("basis").string("basis") + "'");
            const double degree = c.at("degree").number("degree");
            if (!(degree >= 0 && degree < Curves::kMaxCoefficients && degree == std::floor(degree)))
                throw std::invalid_argument("curve degree must be an integer 0.." +
                                            std::to_string(Curves::kMaxCoefficients - 1));
            out.degree = static_cast<int>(degree);
            out.knob_lo = c.at("knob_lo").number("knob_lo");
            out.knob_hi = c.at("knob_hi").number("knob_hi");
            out.sample_rate = c.at("sample_rate").number("sample_rate");
            const json::Value& coef = c.at("coefficients");
            if (coef.kind != json::Value::Object) throw std::invalid_argument("curve coefficients must be an object");
            for (const auto& f : coef.obj) {
                int k = 0;
                while (k < kNumFields && (f.first != kFields[k].name || !b.table.model.has(kFields[k].option))) ++k;
                if (k == kNumFields)
                    throw std::invalid_argument("curve coefficients for '" + f.first + "', which model " + b.model +
                                                " does not have");
            }
            for (int k = 0; k < kNumFields; ++k) {
                if (!b.table.model.has(kFields[k].option)) continue;
                const json::Value& list = coef.at(kFields[k].name);
                if (list.kind != json::Value::Array || static_cast<int>(list.arr.size()) != out.degree + 1)
                    throw std::invalid_argument(std::string("curve of '") + kFields[k].name + "' needs " +
                                                std::to_string(out.degree + 1) + " coefficients");
                for (int j = 0; j <= out.degree; ++j) out.coef[k][j] = list.arr[j].number("coefficient");
            }
            out.present = true;
        }
    } else if (schema != kBundleSchema && (v.has("curves") || v.has("residual"))) {
        throw std::invalid_argument("curves and residuals need schema_version 2");
    }
    if (schema == kBundleSchema && !b.table.extended())
        throw std::invalid_argument("a schema 2 bundle holds curves or a residual; this one has neither (missing key "
                                    "'curves')");
    if (v.has("zero_vu_dbfs")) {  // optional in schemas 1 and 2: the capture's calibration level
        b.table.zero_vu_dbfs = v.at("zero_vu_dbfs").number("zero_vu_dbfs");  // range: validate_table
    }
    b.schema_version = static_cast<int>(schema);
    validate_table(b.table);
    const std::string& sum = v.at("checksum").string("checksum");
    if (sum != table_checksum(b.table))
        throw std::invalid_argument("checksum mismatch: the table was modified or damaged");
    b.provenance_json = v.has("provenance") ? v.at("provenance").raw : "{}";
    return b;
}

/// params.h for plugin builds: the model's name and the table as constexpr arrays
/// {peak, then every field of kFields in table order (DSPNEWTON_PARAM_FIELDS, model_table.hpp)}
/// (extras the model lacks hold their defaults).
inline std::string params_header(const Table& t, int sample_rate) {
    validate_table(t);
    std::ostringstream o;
    o << "// Generated by dspnewton export: the fitted " << t.model.name() << " table. Do not edit.\n#pragma once\n\n"
      << "namespace dspnewton_table {\n\nconstexpr int kSampleRate = " << sample_rate << ";\n"
      << "constexpr char kModel[] = \"" << t.model.name() << "\";\n"
      << "constexpr char kChecksum[] = \"" << table_checksum(t) << "\";\n"
      << "constexpr double kZeroVuDbfs = " << fmt17(t.zero_vu_dbfs) << ";  // the capture's 0 VU level\n"
      << "constexpr int kColumns = " << kNumFields + 1 << ";\n";
    for (int m = 0; m < 2; ++m) {
        const auto& rows = t.modes[m];
        const std::string name = m ? "Limit" : "Compress";
        o << "\nconstexpr int k" << name << "Rows = " << rows.size() << ";\n"
          << "constexpr double k" << name << "[" << (rows.empty() ? 1 : rows.size()) << "][" << kNumFields + 1
          << "] = {";
        if (rows.empty()) {
            o << "{0";
            for (int k = 0; k < kNumFields; ++k) o << ", 0";
            o << "}";
        }
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const Params& p = rows[i].params;
            o << (i ? ",\n    " : "\n    ") << "{" << fmt17(rows[i].peak);
            for (const Field& f : kFields) o << ", " << fmt17(p.*(f.member));
            o << "}";
        }
        o << "};\n";
    }
    // Joint-fit curves per mode (Legendre coefficients per field in kFields order; see Curves).
    o << "\nconstexpr int kCurveMaxCoefficients = " << Curves::kMaxCoefficients << ";\n"
      << "constexpr bool kHasCurves[2] = {" << (t.curves[0].present ? "true" : "false") << ", "
      << (t.curves[1].present ? "true" : "false") << "};\n"
      << "constexpr int kCurveDegree[2] = {" << t.curves[0].degree << ", " << t.curves[1].degree << "};\n"
      << "constexpr double kCurveKnob[2][2] = {{" << fmt17(t.curves[0].knob_lo) << ", " << fmt17(t.curves[0].knob_hi)
      << "}, {" << fmt17(t.curves[1].knob_lo) << ", " << fmt17(t.curves[1].knob_hi) << "}};\n"
      << "constexpr double kCurveSampleRate[2] = {" << fmt17(t.curves[0].sample_rate) << ", "
      << fmt17(t.curves[1].sample_rate) << "};\n"
      << "constexpr double kCurveCoefficients[2][" << kNumFields << "][" << Curves::kMaxCoefficients << "] = {";
    for (int m = 0; m < 2; ++m) {
        o << (m ? ",\n    {" : "\n    {");
        for (int k = 0; k < kNumFields; ++k) {
            o << (k ? ", {" : "{");
            for (int j = 0; j < Curves::kMaxCoefficients; ++j) o << (j ? ", " : "") << fmt17(t.curves[m].coef[k][j]);
            o << "}";
        }
        o << "}";
    }
    o << "};\n";
    // The GRU residual (dspnewton.model.residual), if any.
    const Residual& r = t.residual;
    o << "\nconstexpr bool kHasResidual = " << (r.present ? "true" : "false") << ";\n"
      << "constexpr double kResidualWih[" << Residual::kGates << "] = {";
    for (int g = 0; g < Residual::kGates; ++g) o << (g ? ", " : "") << fmt17(r.w_ih[g]);
    o << "};\nconstexpr double kResidualWhh[" << Residual::kGates << "][" << Residual::kHidden << "] = {";
    for (int g = 0; g < Residual::kGates; ++g) {
        o << (g ? ", {" : "{");
        for (int k = 0; k < Residual::kHidden; ++k) o << (k ? ", " : "") << fmt17(r.w_hh[g][k]);
        o << "}";
    }
    o << "};\nconstexpr double kResidualBih[" << Residual::kGates << "] = {";
    for (int g = 0; g < Residual::kGates; ++g) o << (g ? ", " : "") << fmt17(r.b_ih[g]);
    o << "};\nconstexpr double kResidualBhh[" << Residual::kGates << "] = {";
    for (int g = 0; g < Residual::kGates; ++g) o << (g ? ", " : "") << fmt17(r.b_hh[g]);
    o << "};\nconstexpr double kResidualWout[" << Residual::kHidden << "] = {";
    for (int k = 0; k < Residual::kHidden; ++k) o << (k ? ", " : "") << fmt17(r.w_out[k]);
    o << "};\nconstexpr double kResidualBout = " << fmt17(r.b_out) << ";\n\n}  // namespace dspnewton_table\n";
    return o.str();
}

}  // namespace dspnewton
