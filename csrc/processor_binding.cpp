// dspnewton._native.Processor: the plugin's real-time processor (dspnewton/processor.hpp)
// for Python, block by block. Exposed as dspnewton.Processor.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "convert.hpp"
#include "dspnewton/processor.hpp"

namespace dspnewton_py {

namespace {

/// The processor with what Python needs beside it (its source, the fitted rate, a lock).
struct PyProcessor {
    PyProcessor(const Table& t, int fitted_rate, double sample_rate, int channels, bool link, std::string source)
        : proc(t, sample_rate, channels, link), fitted_sample_rate(fitted_rate), source(std::move(source)) {}
    Processor proc;
    int fitted_sample_rate;
    std::string source;
    std::mutex mu;  // process() runs without the GIL
};

/// "'path' <what>" for a file, "the table <what>" / "the parameter set <what>" otherwise.
std::string with_source(const std::string& source, const std::string& what) {
    if (source == "table" || source == "params") return (source == "table" ? "the table " : "the parameter set ") + what;
    return "'" + source + "' " + what;
}

double checked_peak(double peak) {
    if (!(peak >= 0.0 && peak <= 100.0)) throw std::invalid_argument("peak must be in 0..100");
    return peak;
}

double checked_gain(double db) {
    if (!(db >= Processor::kGainMinDb && db <= Processor::kGainMaxDb))
        throw std::invalid_argument("gain_db must be in -24..24 dB");
    return db;
}

void set_mode(PyProcessor& p, const std::string& mode) {
    const int m = mode_from(mode);
    if (!p.proc.has_mode(m))
        throw std::invalid_argument(with_source(p.source, "has no '" + mode + "' settings (it was fitted in '" +
                                                              mode_name(1 - m) + "' mode)"));
    p.proc.set_mode(m);
}

/// A processor at (mode, peak, gain) with settled controls.
std::unique_ptr<PyProcessor> make(const Table& t, int fitted_rate, py::object sample_rate, const std::string& mode,
                                  double peak, double gain_db, int channels, bool link, const std::string& source) {
    const double sr = sample_rate.is_none() ? static_cast<double>(fitted_rate) : sample_rate.cast<double>();
    auto p = std::make_unique<PyProcessor>(t, fitted_rate, sr, channels, link, source);
    if (!p->proc.rate_error().empty()) throw std::invalid_argument(with_source(source, p->proc.rate_error()));
    set_mode(*p, mode);
    p->proc.set_peak(checked_peak(peak));
    p->proc.set_gain_db(checked_gain(gain_db));
    p->proc.reset();
    return p;
}

std::string bundle_file(const std::string& path) {
    namespace fs = std::filesystem;
    if (fs::is_directory(fs::path(path))) return (fs::path(path) / "bundle.json").string();
    return path;
}

std::unique_ptr<PyProcessor> from_bundle(const std::filesystem::path& path, const std::string& mode, double peak,
                                         py::object sample_rate, double gain_db, int channels, bool link) {
    const std::string file = bundle_file(path.string());
    if (!std::filesystem::exists(file))
        throw std::invalid_argument("'" + file + "' does not exist; give a NAME.bundle folder or its bundle.json");
    Bundle b;
    try {
        b = parse_bundle(read_file(file));
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(with_source(file, std::string("is not a valid dspnewton bundle: ") + e.what()));
    }
    return make(b.table, b.sample_rate, sample_rate, mode, peak, gain_db, channels, link, file);
}

/// A one-row table from a fit.json (its mode and peak from "extra", else compress / 100). The file is
/// read by the one fit.json reader, Python's dspnewton.result.FitResult.load (every check, its messages).
std::unique_ptr<PyProcessor> from_fit(const std::filesystem::path& fit_path, py::object sample_rate, double gain_db,
                                      int channels, bool link) {
    const std::string path = fit_path.string();
    const py::object fit = py::module_::import("dspnewton.result").attr("FitResult").attr("load")(path);
    const py::dict extra = fit.attr("extra");
    const std::string mode =
        extra.contains("mode") && !extra["mode"].is_none() ? extra["mode"].cast<std::string>() : "compress";
    const double peak = extra.contains("peak") && !extra["peak"].is_none() ? extra["peak"].cast<double>() : 100.0;
    Table t;
    try {
        t.model = parse_model(fit.attr("dsp_model").cast<std::string>());
        const py::dict residual = fit.attr("residual");
        if (residual.size() > 0) {
            py::dict flat;
            flat["type"] = residual["type"];
            flat["hidden"] = residual["hidden"];
            for (auto kv : residual["weights"].cast<py::dict>()) flat[kv.first] = kv.second;
            t.residual = residual_from(flat);
        }
        Row row;
        row.peak = std::min(100.0, std::max(0.0, peak));
        row.params = params_from(fit.attr("all_params").cast<py::dict>(), t.model);
        t.modes[mode_from(mode)].push_back(row);
        validate_table(t);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument("fit file '" + path + "' is not usable by the processor: " + e.what());
    }
    return make(t, fit.attr("sample_rate").cast<int>(), sample_rate, mode, peak, gain_db, channels, link, path);
}

/// A method or property setter that runs ``apply`` under the processor's lock (process() may be running on
/// another thread without the GIL); the value checks are inside ``apply``.
template <typename... Args, typename F>
auto locked(F apply) {
    return [apply](PyProcessor& p, Args... v) {
        std::lock_guard<std::mutex> lock(p.mu);
        apply(p, v...);
    };
}

template <typename T>
py::object process_typed(PyProcessor& p, py::array block, bool return_gr) {
    auto x = py::array_t<T, py::array::c_style>::ensure(block);
    const int channels = p.proc.channels();
    const std::size_t n = static_cast<std::size_t>(x.shape(x.ndim() - 1));
    py::array_t<T> y(x.request().shape);
    py::array_t<double> gr(return_gr ? static_cast<py::ssize_t>(n) : 0);
    const T* in[Processor::kMaxChannels];
    T* out[Processor::kMaxChannels];
    for (int c = 0; c < channels; ++c) {
        in[c] = x.data() + c * n;
        out[c] = y.mutable_data() + c * n;
    }
    double* grp = return_gr ? gr.mutable_data() : nullptr;
    {
        py::gil_scoped_release release;
        std::lock_guard<std::mutex> lock(p.mu);
        p.proc.process(in, out, n, grp);
    }
    if (return_gr) return py::make_tuple(y, gr);
    return std::move(y);
}

py::object process(PyProcessor& p, py::object obj, bool return_gr) {
    if (!py::isinstance<py::array>(obj))
        throw py::type_error("block must be a numpy array of shape (samples,) or (channels, samples), got " +
                             std::string(py::str(py::type::of(obj).attr("__name__"))) +
                             " (for a torch tensor pass tensor.numpy())");
    py::array block = obj.cast<py::array>();
    const bool f32 = block.dtype().is(py::dtype::of<float>()), f64 = block.dtype().is(py::dtype::of<double>());
    if (!f32 && !f64)
        throw py::type_error("block must be float32 or float64, got " + std::string(py::str(block.dtype())) +
                             "; convert it, e.g. block.astype(numpy.float32)");
    const int channels = p.proc.channels();
    const std::string want = channels == 1 ? "(samples,) or (1, samples)" : "(" + std::to_string(channels) + ", samples)";
    bool ok = (block.ndim() == 1 && channels == 1) ||
              (block.ndim() == 2 && block.shape(0) == static_cast<py::ssize_t>(channels));
    if (!ok) {
        std::string got = "(";
        for (py::ssize_t d = 0; d < block.ndim(); ++d) got += (d ? ", " : "") + std::to_string(block.shape(d));
        got += block.ndim() == 1 ? ",)" : ")";
        std::string hint;
        if (block.ndim() == 2 && block.shape(1) == static_cast<py::ssize_t>(channels))
            hint = "; it looks like (samples, channels): pass block.T";
        else if (block.ndim() <= 2)
            hint = "; create the processor with channels=" +
                   std::to_string(block.ndim() == 1 ? 1 : static_cast<int>(block.shape(0))) + " for this audio";
        throw std::invalid_argument("this processor has " + std::to_string(channels) + " channel" +
                                    (channels == 1 ? "" : "s") + " and takes blocks of shape " + want + ", got " + got +
                                    hint);
    }
    return f32 ? process_typed<float>(p, block, return_gr) : process_typed<double>(p, block, return_gr);
}

}  // namespace

void bind_processor(py::module_& m) {
    py::class_<PyProcessor> c(m, "Processor", R"doc(The real-time processor the plugin runs (C++ core), block by block from Python.

A fitted table (mode -> peak reduction -> parameters; from a bundle, a fit.json or a
dict) with the hardware unit's controls: ``peak`` (0..100, interpolated in the table
and clamped to its grid), ``mode`` ('compress' / 'limit'), ``gain_db`` (output gain,
-24..24 dB, after the model's own make-up) and ``bypass``. Control changes move to
their new value over 20 ms of samples (click-free, independent of the block size);
``settle()`` makes them take effect at once, ``reset()`` also returns the state to rest.

``process(block)`` keeps the state between calls: any block size (including 1),
float32 or float64 (the output has the block's dtype), shape (samples,) for one
channel or (channels, samples). Channels are linked (one detector fed, per sample,
by the channel sample of largest magnitude; identical channels give the mono output
bit for bit) or independent with ``link=False``. NaN/inf samples are output as 0 and
never reach the state. The GIL is released while processing.
)doc");
    c.def(py::init([](py::dict table, const std::string& model, double sample_rate, const std::string& mode, double peak,
                      double gain_db, int channels, bool link, py::object curves, py::object residual) {
              const Table t = table_from(table, model, curves, residual);
              return make(t, static_cast<int>(sample_rate), py::float_(sample_rate), mode, peak, gain_db, channels, link,
                          "table");
          }),
          py::arg("table"), py::arg("model") = "ff5", py::arg("sample_rate") = 44100.0, py::arg("mode") = "compress",
          py::arg("peak") = 70.0, py::arg("gain_db") = 0.0, py::arg("channels") = 1, py::arg("link") = true,
          py::arg("curves") = py::none(), py::arg("residual") = py::none(),
          "From a table dict {'compress': [{'peak': .., <every parameter of the model>}, ...], 'limit': [...]} "
          "in physical units (dB, ms), and optionally joint-fit curves per mode and a GRU residual (as "
          "bundle.json holds them).");
    c.def_static(
        "from_params",
        [](py::dict params, const std::string& model, double sample_rate, double gain_db, int channels, bool link,
           py::object residual) {
            Table t;
            t.model = parse_model(model);
            t.residual = residual_from(residual);
            Row row;
            row.peak = 100.0;
            row.params = params_from(params, t.model);
            t.modes[kCompress].push_back(row);
            return make(t, static_cast<int>(sample_rate), py::float_(sample_rate), "compress", 100.0, gain_db, channels,
                        link, "params");
        },
        py::arg("params"), py::arg("model") = "ff5", py::arg("sample_rate") = 44100.0, py::arg("gain_db") = 0.0,
        py::arg("channels") = 1, py::arg("link") = true, py::arg("residual") = py::none(),
        "One parameter set (physical units; every parameter of ``model``, the DSP model without '+gru'; "
        "a GRU residual as ``residual``): peak and mode do not change it.");
    c.def_static("from_bundle", &from_bundle, py::arg("path"), py::arg("mode") = "compress", py::arg("peak") = 70.0,
                 py::kw_only(), py::arg("sample_rate") = py::none(), py::arg("gain_db") = 0.0, py::arg("channels") = 1,
                 py::arg("link") = true,
                 "From an exported NAME.bundle folder (or its bundle.json) at (mode, peak); sample_rate defaults to "
                 "the rate the table was fitted at (time constants stay in ms at any rate).");
    c.def_static("from_fit", &from_fit, py::arg("path"), py::kw_only(), py::arg("sample_rate") = py::none(),
                 py::arg("gain_db") = 0.0, py::arg("channels") = 1, py::arg("link") = true,
                 "From a fit.json (one parameter set, at the fit's own mode and peak).");
    c.def("process", &process, py::arg("block"), py::arg("return_gain_reduction") = false,
          "Process the next block: (samples,) or (channels, samples) float32/float64 -> same shape and dtype. "
          "With return_gain_reduction=True returns (output, gain reduction in dB per sample, (samples,) float64).");
    c.def(
        "reset",
        locked([](PyProcessor& p) { p.proc.reset(); }),
        "Back to the initial state (gain 1, filters at rest) with every control at its value.");
    c.def(
        "settle",
        locked([](PyProcessor& p) { p.proc.settle(); }),
        "Let every control change take effect at once (no 20 ms ramp); the audio state is kept.");
    c.def_property(
        "peak", [](const PyProcessor& p) { return p.proc.peak(); },
        locked<double>([](PyProcessor& p, double v) { p.proc.set_peak(checked_peak(v)); }),
        "Peak reduction 0..100 (the table is interpolated linearly and clamped to its grid).");
    c.def_property(
        "mode", [](const PyProcessor& p) { return std::string(mode_name(p.proc.mode())); },
        locked<const std::string&>([](PyProcessor& p, const std::string& v) { set_mode(p, v); }),
        "'compress' or 'limit'.");
    c.def_property(
        "gain_db", [](const PyProcessor& p) { return p.proc.gain_db(); },
        locked<double>([](PyProcessor& p, double v) { p.proc.set_gain_db(checked_gain(v)); }),
        "Output gain in dB (-24..24), after the model's make-up.");
    c.def_property(
        "bypass", [](const PyProcessor& p) { return p.proc.bypass(); },
        locked<bool>([](PyProcessor& p, bool v) { p.proc.set_bypass(v); }),
        "Bypass (the output cross-fades to the input over 20 ms; the detector keeps running).");
    c.def_property(
        "link", [](const PyProcessor& p) { return p.proc.linked(); },
        locked<bool>([](PyProcessor& p, bool v) { p.proc.set_linked(v); }),
        "Channels share one detector (True) or have one each (False, dual mono).");
    c.def_property(
        "mix", [](const PyProcessor& p) { return p.proc.mix(); },
        locked<double>([](PyProcessor& p, double v) {
            if (!(v >= 0.0 && v <= 1.0)) throw std::invalid_argument("mix must be in 0..1 (1: the unit alone)");
            p.proc.set_mix(v);
        }),
        "Dry/wet, 0..1: 1 the unit alone (the default), 0 the input (the dry path needs no delay: no latency).");
    c.def_property(
        "trim_db", [](const PyProcessor& p) { return p.proc.trim_db(); },
        locked<double>([](PyProcessor& p, double v) {
            if (!(v >= Processor::kTrimMinDb && v <= Processor::kTrimMaxDb))
                throw std::invalid_argument("trim_db must be in -24..24 dB");
            p.proc.set_trim_db(v);
        }),
        "Input trim in dB (-24..24), before the model; the output is not compensated.");
    c.def_property(
        "zero_vu_dbfs",
        [](const PyProcessor& p) { return p.proc.uses_table_level() ? py::object(py::none()) : py::float_(p.proc.zero_vu_dbfs()); },
        locked<py::object>([](PyProcessor& p, py::object v) {
            if (v.is_none()) return p.proc.use_table_level();
            const double d = v.cast<double>();
            if (!(d >= Table::kZeroVuMinDbfs && d <= Table::kZeroVuMaxDbfs))
                throw std::invalid_argument("zero_vu_dbfs must be in -40..0 dBFS (or None: the table's level)");
            p.proc.set_zero_vu_dbfs(d);
        }),
        "The session's calibration: the peak level (dBFS) of a sine that reads 0 VU. The model hears it at "
        "the level the unit was captured at (table_zero_vu_dbfs) and the output is scaled back. None (the "
        "default): the table's own level, i.e. no change.");
    c.def_property_readonly("table_zero_vu_dbfs", [](const PyProcessor& p) { return p.proc.table().zero_vu_dbfs; },
                            "The level the unit was captured at (dBFS of a sine reading 0 VU; -18 unless the bundle "
                            "says otherwise).");
    c.def_property(
        "emphasis_db", [](const PyProcessor& p) { return p.proc.emphasis_db(); },
        locked<double>([](PyProcessor& p, double v) {
            if (!p.proc.has_emphasis() && v != 0.0)
                throw std::invalid_argument(with_source(p.source, "has model " + p.proc.model().name() +
                                                                      ", which has no side-chain shelf ('sc'); "
                                                                      "Emphasis needs one"));
            if (!(v >= Processor::kEmphasisMinDb && v <= Processor::kEmphasisMaxDb))
                throw std::invalid_argument("emphasis_db must be in -12..12 dB");
            p.proc.set_emphasis_db(v);
        }),
        "HF emphasis (the LA-2A's R37 trim): dB added to the fitted side-chain shelf (-12..12; models with "
        "'sc' only; the shelf stays in its range).");
    c.def_property_readonly("vu_gain_reduction_db", [](const PyProcessor& p) { return p.proc.vu_gain_reduction_db(); },
                            "The VU meter's gain-reduction reading (dB, >= 0; 300 ms VU ballistics).");
    c.def_property_readonly("vu_output_db", [](const PyProcessor& p) { return p.proc.vu_output_db(); },
                            "The VU meter's output reading, dB re the session's 0 VU (+4 range; the +10 range reads "
                            "6 dB less; -60 in silence).");
    c.def(
        "continue_from",
        [](PyProcessor& p, PyProcessor& other) {
            if (&p == &other) return;
            if (other.proc.channels() != p.proc.channels())
                throw std::invalid_argument("continue_from needs a processor with the same channel count");
            if (other.proc.sample_rate() != p.proc.sample_rate())
                throw std::invalid_argument("continue_from needs a processor at the same sample rate");
            std::scoped_lock lock(p.mu, other.mu);
            p.proc.continue_from(other.proc);
        },
        py::arg("other"),
        "Take over ``other``'s controls and state (detectors, filters, meters; the GRU state if both have one), "
        "keeping this processor's table: what the plugin does when a bundle is loaded during playback "
        "(it then cross-fades the two outputs over 20 ms).");
    c.def_property_readonly("channels", [](const PyProcessor& p) { return p.proc.channels(); },
                            "Channels per block (1 = blocks of shape (samples,) or (1, samples)).");
    c.def_property_readonly("sample_rate", [](const PyProcessor& p) { return p.proc.sample_rate(); },
                            "Rate of the audio processed, Hz.");
    c.def_property_readonly("fitted_sample_rate", [](const PyProcessor& p) { return p.fitted_sample_rate; },
                            "Rate the table was fitted at, Hz.");
    c.def_property_readonly(
        "model",
        [](const PyProcessor& p) { return p.proc.model().name() + (p.proc.table().residual.present ? "+gru" : ""); },
        "The model's name (ff5, fb+2rel, ...; '+gru' with a GRU residual).");
    c.def_property_readonly("residual", [](const PyProcessor& p) { return residual_to(p.proc.table().residual); },
                            "The GRU residual's weights (None without one).");
    c.def_property_readonly("source", [](const PyProcessor& p) { return p.source; },
                            "Where the table came from (a file path, 'table' or 'params').");
    c.def_property_readonly("modes", [](const PyProcessor& p) {
        py::list l;
        for (int m = 0; m < 2; ++m)
            if (p.proc.has_mode(m)) l.append(mode_name(m));
        return l;
    }, "The modes the table has settings for.");
    c.def_property_readonly(
        "params", [](const PyProcessor& p) { return params_to(p.proc.params(), p.proc.model()); },
        "The parameters in use now (physical units; mid-ramp values while a control moves).");
    c.def_property_readonly("table", [](const PyProcessor& p) {
        Table t = p.proc.table();
        for (int m = 0; m < 2; ++m)
            if (!p.proc.has_mode(m)) {
                t.modes[m].clear();
                t.curves[m].present = false;
            }
        py::dict d = table_to(t);
        for (int m = 0; m < 2; ++m)
            if (t.modes[m].empty()) d.attr("pop")(mode_name(m));
        return d;
    }, "The table {mode: [row, ...]} (physical units).");
    c.def_property_readonly("curves", [](const PyProcessor& p) {
        Table t = p.proc.table();
        for (int m = 0; m < 2; ++m)
            if (!p.proc.has_mode(m)) t.curves[m].present = false;
        return curves_to(t);
    }, "The joint-fit curves {mode: {...}} the parameters come from ({} for a table interpolated linearly).");
    c.def_property_readonly("gain_reduction_db", [](const PyProcessor& p) { return p.proc.gain_reduction_db(); },
                            "Gain reduction at the last sample processed, dB (>= 0; what the unit's meter shows).");
    c.def("__repr__", [](const PyProcessor& p) {
        char buf[256];
        std::snprintf(buf, sizeof(buf),
                      "Processor(model='%s', mode='%s', peak=%g, gain_db=%g, channels=%d, link=%s, sample_rate=%g)",
                      p.proc.model().name().c_str(), mode_name(p.proc.mode()), p.proc.peak(), p.proc.gain_db(),
                      p.proc.channels(), p.proc.linked() ? "True" : "False", p.proc.sample_rate());
        return std::string(buf);
    });
}

}  // namespace dspnewton_py
