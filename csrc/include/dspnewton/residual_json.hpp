// dspnewton: the GRU residual's JSON object, written and read (bundle.json and the Python binding share it).
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "json.hpp"
#include "residual.hpp"

namespace dspnewton {

/// The residual's JSON object: {"type": "gru", "hidden": 8, "w_ih": [[..]], "w_hh": [[..]], "b_ih", "b_hh",
/// "w_out": [[..]], "b_out": [..]} (the shapes of PyTorch's GRU and Linear).
inline std::string residual_json(const Residual& r) {
    constexpr int G = Residual::kGates, H = Residual::kHidden;
    std::string o = "{\"type\": \"gru\", \"hidden\": " + std::to_string(H) + ", \"w_ih\": [";
    for (int g = 0; g < G; ++g) o += (g ? ", [" : "[") + fmt17(r.w_ih[g]) + "]";
    o += "], \"w_hh\": [";
    for (int g = 0; g < G; ++g) {
        o += g ? ", [" : "[";
        for (int k = 0; k < H; ++k) o += (k ? ", " : "") + fmt17(r.w_hh[g][k]);
        o += "]";
    }
    o += "], \"b_ih\": [";
    for (int g = 0; g < G; ++g) o += (g ? ", " : "") + fmt17(r.b_ih[g]);
    o += "], \"b_hh\": [";
    for (int g = 0; g < G; ++g) o += (g ? ", " : "") + fmt17(r.b_hh[g]);
    o += "], \"w_out\": [[";
    for (int k = 0; k < H; ++k) o += (k ? ", " : "") + fmt17(r.w_out[k]);
    o += "]], \"b_out\": [" + fmt17(r.b_out) + "]}";
    return o;
}

/// A residual from its JSON object (std::invalid_argument naming what is wrong).
inline Residual parse_residual(const json::Value& v) {
    constexpr int G = Residual::kGates, H = Residual::kHidden;
    if (v.kind != json::Value::Object) throw std::invalid_argument("residual must be an object");
    if (v.at("type").string("residual type") != "gru")
        throw std::invalid_argument("unsupported residual type '" + v.at("type").string("residual type") + "'");
    if (v.at("hidden").number("hidden") != H)
        throw std::invalid_argument("the GRU residual's hidden size must be " + std::to_string(H));
    auto list = [](const json::Value& a, const char* name, int n) -> const std::vector<json::Value>& {
        if (a.kind != json::Value::Array || static_cast<int>(a.arr.size()) != n)
            throw std::invalid_argument(std::string("residual ") + name + " must be a list of " + std::to_string(n));
        return a.arr;
    };
    Residual r;
    const json::Value& w = v.has("weights") ? v.at("weights") : v;  // a fit.json nests them under "weights"
    const auto& wih = list(w.at("w_ih"), "w_ih", G);
    const auto& whh = list(w.at("w_hh"), "w_hh", G);
    for (int g = 0; g < G; ++g) {
        r.w_ih[g] = list(wih[g], "w_ih row", 1)[0].number("w_ih");
        const auto& row = list(whh[g], "w_hh row", H);
        for (int k = 0; k < H; ++k) r.w_hh[g][k] = row[k].number("w_hh");
    }
    const auto& bih = list(w.at("b_ih"), "b_ih", G);
    const auto& bhh = list(w.at("b_hh"), "b_hh", G);
    for (int g = 0; g < G; ++g) {
        r.b_ih[g] = bih[g].number("b_ih");
        r.b_hh[g] = bhh[g].number("b_hh");
    }
    const auto& wout = list(list(w.at("w_out"), "w_out", 1)[0], "w_out row", H);
    for (int k = 0; k < H; ++k) r.w_out[k] = wout[k].number("w_out");
    r.b_out = list(w.at("b_out"), "b_out", 1)[0].number("b_out");
    if (!r.finite()) throw std::invalid_argument("the GRU residual's weights must be finite");
    r.present = true;
    return r;
}

}  // namespace dspnewton
