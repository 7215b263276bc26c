// pybind11 bindings of the dspnewton C++ core (no torch on this side).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <utility>
#include <vector>

#include "dspnewton/bundle.hpp"
#include "dspnewton/compressor.hpp"
#include "dspnewton/version.hpp"
#include "convert.hpp"

namespace py = pybind11;
using namespace dspnewton;
using namespace dspnewton_py;

namespace {

template <typename T>
py::array_t<T> run(Compressor& comp, py::array_t<T, py::array::c_style | py::array::forcecast> x, long block) {
    if (x.ndim() != 1 && x.ndim() != 2) throw std::invalid_argument("audio must have shape (T,) or (C, T)");
    py::array_t<T> y(x.request().shape);
    const long channels = x.ndim() == 2 ? static_cast<long>(x.shape(0)) : 1;
    const long n = static_cast<long>(x.shape(x.ndim() - 1));
    const T* in = x.data();
    T* out = y.mutable_data();
    {
        py::gil_scoped_release release;
        for (long c = 0; c < channels; ++c) {
            comp.reset();
            const long step = block > 0 ? block : n;
            for (long s = 0; s < n; s += step)
                comp.process(in + c * n + s, out + c * n + s, static_cast<std::size_t>(std::min(step, n - s)));
        }
    }
    return y;
}

py::object process_any(Compressor& comp, py::array x, long block) {
    if (py::isinstance<py::array_t<float>>(x)) return run<float>(comp, x.cast<py::array_t<float>>(), block);
    return run<double>(comp, x.cast<py::array_t<double>>(), block);
}

std::vector<std::pair<std::string, double>> pairs_from(const py::iterable& items) {
    std::vector<std::pair<std::string, double>> v;
    for (auto it : items) {
        auto t = it.cast<py::tuple>();
        v.emplace_back(t[0].cast<std::string>(), t[1].cast<double>());
    }
    return v;
}

}  // namespace

/// std::invalid_argument when ``model`` cannot run at ``sample_rate`` (see sample_rate_error()).
static void check_rate(const Model& model, double sample_rate) {
    const std::string why = sample_rate_error(model, sample_rate);
    if (!why.empty()) throw std::invalid_argument(why);
}

PYBIND11_MODULE(_native, m) {
    bind_processor(m);
    m.doc() = "dspnewton C++ core: real-time compressor, parameter bundle and .vstpreset writers";
    m.def("version", &dspnewton::version, "Version string compiled into the C++ core.");

    m.def(
        "process",
        [](py::array x, py::dict params, double sample_rate, long block_size, const std::string& model) {
            if (!(sample_rate > 0)) throw std::invalid_argument("sample_rate must be positive");
            Compressor comp;
            const Model m = parse_model(model);
            check_rate(m, sample_rate);
            comp.set_sample_rate(sample_rate);
            comp.set_model(m);
            comp.set_params(params_from(params, m));
            return process_any(comp, x, block_size);
        },
        py::arg("x"), py::arg("params"), py::arg("sample_rate"), py::arg("block_size") = 0, py::arg("model") = "ff5",
        "Run a model (C++ real-time core; default ff5) on (T,) or (C, T) float32/float64 audio, "
        "each channel from the initial state, in blocks of block_size samples (0 = one block).");

    m.def(
        "interpolate",
        [](py::dict table, const std::string& mode, double peak, const std::string& model, py::object curves) {
            Table t = table_from(table, model, curves);
            return params_to(t.interpolate(mode_from(mode), peak), t.model);
        },
        py::arg("table"), py::arg("mode"), py::arg("peak"), py::arg("model") = "ff5", py::arg("curves") = py::none(),
        "Parameters at a peak-reduction setting: the mode's joint-fit curves if given, else the rows "
        "linearly interpolated in their own units.");

    m.def(
        "process_table",
        [](py::array x, py::dict table, const std::string& mode, double peak, double sample_rate, long block_size,
           const std::string& model) {
            Compressor comp;
            Table t = table_from(table, model);
            check_rate(t.model, sample_rate);
            comp.set_sample_rate(sample_rate);
            comp.set_model(t.model);
            comp.set_params(t.interpolate(mode_from(mode), peak));
            return process_any(comp, x, block_size);
        },
        py::arg("x"), py::arg("table"), py::arg("mode"), py::arg("peak"), py::arg("sample_rate"),
        py::arg("block_size") = 0, py::arg("model") = "ff5", "Process with the table's parameters at (mode, peak).");

    m.def(
        "bundle_json",
        [](py::dict table, int sample_rate, const std::string& provenance, const std::string& model,
           py::object curves, py::object residual, double zero_vu_dbfs) {
            Table t = table_from(table, model, curves, residual);
            t.zero_vu_dbfs = zero_vu_dbfs;
            return bundle_json(t, sample_rate, provenance);
        },
        py::arg("table"), py::arg("sample_rate"), py::arg("provenance_json") = "{}", py::arg("model") = "ff5",
        py::arg("curves") = py::none(), py::arg("residual") = py::none(),
        py::arg("zero_vu_dbfs") = Table::kDefaultZeroVuDbfs,
        "Text of bundle.json (schema 2 with joint-fit curves or a GRU residual, else 1).");

    m.def(
        "params_header",
        [](py::dict table, int sample_rate, const std::string& model, py::object curves, py::object residual) {
            return params_header(table_from(table, model, curves, residual), sample_rate);
        },
        py::arg("table"), py::arg("sample_rate"), py::arg("model") = "ff5", py::arg("curves") = py::none(),
        py::arg("residual") = py::none(),
        "Text of params.h (constexpr tables for plugin builds).");

    m.def(
        "write_bundle_files",
        [](const std::string& dir, py::dict table, int sample_rate, const std::string& provenance,
           const std::string& model, py::object curves, py::object residual, double zero_vu_dbfs) {
            Table t = table_from(table, model, curves, residual);
            t.zero_vu_dbfs = zero_vu_dbfs;
            write_file(dir + "/bundle.json", bundle_json(t, sample_rate, provenance));
            write_file(dir + "/params.h", params_header(t, sample_rate));
        },
        py::arg("dir"), py::arg("table"), py::arg("sample_rate"), py::arg("provenance_json") = "{}",
        py::arg("model") = "ff5", py::arg("curves") = py::none(), py::arg("residual") = py::none(),
        py::arg("zero_vu_dbfs") = Table::kDefaultZeroVuDbfs,
        "Write bundle.json and params.h into an existing directory.");

    m.def(
        "parse_bundle",
        [](const std::string& text) {
            Bundle b = parse_bundle(text);
            py::dict d;
            d["schema_version"] = b.schema_version;
            d["model"] = b.model;
            d["sample_rate"] = b.sample_rate;
            d["interpolation"] = b.interpolation;
            d["table"] = table_to(b.table);
            d["curves"] = curves_to(b.table);
            d["residual"] = residual_to(b.table.residual);
            d["zero_vu_dbfs"] = b.table.zero_vu_dbfs;
            d["provenance_json"] = b.provenance_json;
            return d;
        },
        py::arg("text"), "Validate and parse the text of bundle.json (ValueError on anything wrong).");

    m.def(
        "vstpreset_bytes",
        [](const std::string& class_id, py::list chunks) {
            Preset p;
            p.class_id = class_id;
            for (auto c : chunks) {
                auto t = c.cast<py::tuple>();
                p.chunks.push_back({t[0].cast<std::string>(), t[1].cast<std::string>()});
            }
            return py::bytes(vstpreset_bytes(p));
        },
        py::arg("class_id"), py::arg("chunks"), "Bytes of a .vstpreset from a class ID and [(id, bytes)] chunks.");

    m.def(
        "parse_vstpreset",
        [](py::bytes data) {
            Preset p = parse_vstpreset(std::string(data));
            py::list chunks;
            for (const auto& c : p.chunks) chunks.append(py::make_tuple(c.id, py::bytes(c.data)));
            py::dict d;
            d["class_id"] = p.class_id;
            d["chunks"] = chunks;
            return d;
        },
        py::arg("data"), "Validate and parse .vstpreset bytes (ValueError on anything wrong).");

    m.def(
        "dpf_state",
        [](py::iterable values, py::iterable states) {
            std::vector<std::pair<std::string, std::string>> s;
            for (py::handle kv : states) {
                auto t = kv.cast<py::tuple>();
                if (t.size() != 2) throw std::invalid_argument("states are (key, value) pairs");
                s.emplace_back(t[0].cast<std::string>(), t[1].cast<std::string>());
            }
            return py::bytes(dpf_state(pairs_from(values), s));
        },
        py::arg("values"), py::arg("states") = py::list(),
        "DPF component state from [(symbol, value)] and string states [(key, value)].");
    m.def(
        "juce_4a2a_state", [](py::iterable values) { return py::bytes(juce_4a2a_state(pairs_from(values))); },
        py::arg("values"), "JUCE state of the open-source 4A2A plugin from [(id, value)].");
}
