// Conversions between Python objects and the C++ core's types, shared by the bindings.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>

#include "dspnewton/bundle.hpp"
#include "dspnewton/compressor.hpp"
#include "dspnewton/table.hpp"

namespace dspnewton_py {

namespace py = pybind11;
using namespace dspnewton;

inline Params params_from(const py::dict& d, const Model& model = Model{}) {
    auto get = [&](const char* k) {
        if (!d.contains(k))
            throw std::invalid_argument(std::string("missing parameter '") + k + "' of model " + model.name());
        return d[k].cast<double>();
    };
    Params p;
    const Field* fields[kNumFields];
    const int n = model_fields(model, fields);
    for (int i = 0; i < n; ++i) p.*(fields[i]->member) = get(fields[i]->name);
    if (!params_valid(p, model))
        throw std::invalid_argument("parameters out of range (model " + model.name() + ": " + ranges_text(model) + ")");
    return p;
}

inline py::dict params_to(const Params& p, const Model& model = Model{}) {
    py::dict d;
    const Field* fields[kNumFields];
    const int n = model_fields(model, fields);
    for (int i = 0; i < n; ++i) d[fields[i]->name] = p.*(fields[i]->member);
    return d;
}

inline int mode_from(const std::string& m) {
    if (m == "compress") return kCompress;
    if (m == "limit") return kLimit;
    throw std::invalid_argument("mode must be 'compress' or 'limit', got '" + m + "'");
}

/// Joint-fit curves {mode: {"basis", "degree", "knob_lo", "knob_hi", "sample_rate", "coefficients":
/// {field: [..]}}} into ``t`` (None: none); validated with the table by validate_table().
inline void curves_from(const py::object& curves, Table& t) {
    if (curves.is_none()) return;
    for (auto item : curves.cast<py::dict>()) {
        const int m = mode_from(item.first.cast<std::string>());
        py::dict c = item.second.cast<py::dict>();
        Curves& out = t.curves[m];
        auto need = [&](const char* k) {
            if (!c.contains(k)) throw std::invalid_argument(std::string("curves lack '") + k + "'");
            return c[k];
        };
        if (c.contains("basis") && c["basis"].cast<std::string>() != "legendre")
            throw std::invalid_argument("unsupported curve basis '" + c["basis"].cast<std::string>() + "'");
        out.degree = need("degree").cast<int>();
        if (out.degree < 0 || out.degree >= Curves::kMaxCoefficients)
            throw std::invalid_argument("curve degree must be 0.." + std::to_string(Curves::kMaxCoefficients - 1));
        out.knob_lo = need("knob_lo").cast<double>();
        out.knob_hi = need("knob_hi").cast<double>();
        out.sample_rate = need("sample_rate").cast<double>();
        py::dict coef = need("coefficients").cast<py::dict>();
        for (auto f : coef) {
            const std::string name = f.first.cast<std::string>();
            int k = 0;
            while (k < kNumFields && (name != kFields[k].name || !t.model.has(kFields[k].option))) ++k;
            if (k == kNumFields)
                throw std::invalid_argument("curve coefficients for '" + name + "', which model " + t.model.name() +
                                            " does not have");
        }
        for (int k = 0; k < kNumFields; ++k) {
            if (!t.model.has(kFields[k].option)) continue;
            if (!coef.contains(kFields[k].name))
                throw std::invalid_argument(std::string("curves lack the coefficients of '") + kFields[k].name + "'");
            auto list = coef[kFields[k].name].cast<std::vector<double>>();
            if (static_cast<int>(list.size()) != out.degree + 1)
                throw std::invalid_argument(std::string("curve of '") + kFields[k].name + "' needs " +
                                            std::to_string(out.degree + 1) + " coefficients");
            for (int j = 0; j <= out.degree; ++j) out.coef[k][j] = list[j];
        }
        out.present = true;
    }
}

inline py::dict curves_to(const Table& t) {
    py::dict d;
    for (int m = 0; m < 2; ++m) {
        const Curves& c = t.curves[m];
        if (!c.present) continue;
        py::dict coef;
        for (int k = 0; k < kNumFields; ++k)
            if (t.model.has(kFields[k].option))
                coef[kFields[k].name] = std::vector<double>(c.coef[k], c.coef[k] + c.degree + 1);
        py::dict one;
        one["basis"] = "legendre";
        one["degree"] = c.degree;
        one["knob_lo"] = c.knob_lo;
        one["knob_hi"] = c.knob_hi;
        one["sample_rate"] = c.sample_rate;
        one["coefficients"] = coef;
        d[mode_name(m)] = one;
    }
    return d;
}

/// A GRU residual from Python ({"type": "gru", "hidden": 8, "w_ih": .., ...} or with the
/// weights under "weights", as a fit.json holds them); None: no residual.
inline Residual residual_from(const py::object& residual) {
    if (residual.is_none()) return Residual{};
    std::string text;
    try {
        text = py::module_::import("json").attr("dumps")(residual, py::arg("allow_nan") = false).cast<std::string>();
    } catch (const py::error_already_set&) {  // NaN / inf, or not JSON-like at all
        throw std::invalid_argument("the GRU residual's weights must be finite numbers in lists");
    }
    return parse_residual(json::parse(text));
}

inline py::object residual_to(const Residual& r) {
    if (!r.present) return py::none();
    return py::module_::import("json").attr("loads")(residual_json(r));
}

inline Table table_from(const py::dict& d, const std::string& model = "ff5", const py::object& curves = py::none(),
                        const py::object& residual = py::none()) {
    Table t;
    t.model = parse_model(model);
    for (auto item : d) {
        int m = mode_from(item.first.cast<std::string>());
        for (auto row : item.second.cast<py::list>()) {
            py::dict r = row.cast<py::dict>();
            Row out;
            if (!r.contains("peak")) throw std::invalid_argument("table row without 'peak'");
            out.peak = r["peak"].cast<double>();
            Params p = params_from(r, t.model);
            out.params = p;
            out.esr = r.contains("esr") ? r["esr"].cast<double>() : 0.0;
            t.modes[m].push_back(out);
        }
    }
    curves_from(curves, t);
    t.residual = residual_from(residual);
    validate_table(t);
    return t;
}

inline py::dict table_to(const Table& t) {
    py::dict d;
    for (int m = 0; m < 2; ++m) {
        py::list rows;
        for (const Row& r : t.modes[m]) {
            py::dict row = params_to(r.params, t.model);
            row["peak"] = r.peak;
            row["esr"] = r.esr;
            rows.append(row);
        }
        d[mode_name(m)] = rows;
    }
    return d;
}

/// Registers dspnewton._native.Processor (processor_binding.cpp).
void bind_processor(py::module_& m);

}  // namespace dspnewton_py
