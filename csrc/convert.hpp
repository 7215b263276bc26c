// Conversions between Python objects and the C++ core's types, shared by the bindings.
#pragma once

#include <pybind11/pybind11.h>

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

inline Table table_from(const py::dict& d, const std::string& model = "ff5") {
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
