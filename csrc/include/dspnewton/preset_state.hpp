// dspnewton: host-facing binary formats: the .vstpreset file and the plugin states inside it
// (DPF's component state, and the JUCE state of the open-source 4A2A plugin).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace dspnewton {

// ---------------------------------------------------------------------------------------------- .vstpreset

struct PresetChunk {
    std::string id;     // 4 ASCII characters: "Comp", "Cont", "Info"
    std::string data;   // raw bytes
};

struct Preset {
    std::string class_id;  // 32 hex characters
    std::vector<PresetChunk> chunks;
};

inline void put_le(std::string& s, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}
inline std::uint64_t get_le(const std::string& s, std::size_t at, int bytes) {
    if (at + bytes > s.size()) throw std::invalid_argument("truncated .vstpreset");
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(s[at + i])) << (8 * i);
    return v;
}

inline void check_class_id(const std::string& cid) {
    if (cid.size() != 32) throw std::invalid_argument("class ID must be 32 hex characters");
    for (char c : cid)
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f')))
            throw std::invalid_argument("class ID must be 32 hex characters");
}

/// The bytes of a .vstpreset: 'VST3', version 1, class ID, chunk-list offset, chunk data, 'List'.
inline std::string vstpreset_bytes(const Preset& p) {
    check_class_id(p.class_id);
    std::string out = "VST3";
    put_le(out, 1, 4);
    out += p.class_id;
    const std::size_t offset_pos = out.size();
    put_le(out, 0, 8);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> where;
    for (const PresetChunk& c : p.chunks) {
        if (c.id.size() != 4) throw std::invalid_argument("chunk IDs are 4 characters");
        where.emplace_back(out.size(), c.data.size());
        out += c.data;
    }
    const std::uint64_t list = out.size();
    for (int i = 0; i < 8; ++i) out[offset_pos + i] = static_cast<char>((list >> (8 * i)) & 0xFF);
    out += "List";
    put_le(out, p.chunks.size(), 4);
    for (std::size_t i = 0; i < p.chunks.size(); ++i) {
        out += p.chunks[i].id;
        put_le(out, where[i].first, 8);
        put_le(out, where[i].second, 8);
    }
    return out;
}

inline Preset parse_vstpreset(const std::string& s) {
    if (s.size() < 48 || s.compare(0, 4, "VST3") != 0) throw std::invalid_argument("not a .vstpreset (no 'VST3' header)");
    if (get_le(s, 4, 4) != 1) throw std::invalid_argument("unsupported .vstpreset version");
    Preset p;
    p.class_id = s.substr(8, 32);
    check_class_id(p.class_id);
    const std::uint64_t list = get_le(s, 40, 8);
    if (list < 48 || list > s.size() || s.size() - list < 8 || s.compare(static_cast<std::size_t>(list), 4, "List") != 0)
        throw std::invalid_argument("bad chunk-list offset in .vstpreset");
    const std::uint64_t count = get_le(s, static_cast<std::size_t>(list) + 4, 4);
    if (count > 64) throw std::invalid_argument("too many chunks in .vstpreset");
    std::size_t at = static_cast<std::size_t>(list) + 8;
    for (std::uint64_t i = 0; i < count; ++i, at += 20) {
        if (at + 20 > s.size()) throw std::invalid_argument("truncated chunk list in .vstpreset");
        PresetChunk c;
        c.id = s.substr(at, 4);
        const std::uint64_t off = get_le(s, at + 4, 8), size = get_le(s, at + 12, 8);
        if (off < 48 || size > s.size() || off > s.size() - size || off + size > list)
            throw std::invalid_argument("chunk '" + c.id + "' lies outside the file");
        c.data = s.substr(static_cast<std::size_t>(off), static_cast<std::size_t>(size));
        p.chunks.push_back(c);
    }
    return p;
}

inline void check_dpf_text(const std::string& text, const char* what) {
    for (char c : text)
        if (c == '\0' || static_cast<unsigned char>(c) >= 0xFE)
            throw std::invalid_argument(std::string("bad ") + what + " (NUL, 0xFE and 0xFF bytes cannot be stored)");
}

/// Component state of a DPF plugin, as DPF's VST3 and CLAP wrappers read it: the string states
/// ``states`` [(key, value)] (omitted when empty), then the parameter symbols and values.
inline std::string dpf_state(const std::vector<std::pair<std::string, double>>& values,
                             const std::vector<std::pair<std::string, std::string>>& states = {}) {
    std::string s;
    if (!states.empty()) {
        s += "__dpf_state_begin__";
        s += '\0';
        for (const auto& kv : states) {
            check_dpf_text(kv.first, "state key");
            check_dpf_text(kv.second, "state value");
            s += kv.first;
            s += '\0';
            s += kv.second;
            s += '\0';
        }
        s += "__dpf_state_end__";
        s += '\0';
    }
    s += "__dpf_parameters_begin__";
    s += '\0';
    for (const auto& kv : values) {
        check_dpf_text(kv.first, "parameter symbol");
        s += kv.first;
        s += '\0';
        char buf[40];
        std::snprintf(buf, sizeof(buf), "%.9g", kv.second);  // float round-trip
        s += buf;
        s += '\0';
    }
    s += "__dpf_parameters_end__";
    s += '\0';
    s += '\xfe';
    s += '\0';
    return s;
}

/// JUCE binary state of the open-source 4A2A plugin: 'VC2!', uint32 size, XML (values snapped to 0.01).
inline std::string juce_4a2a_state(const std::vector<std::pair<std::string, double>>& values) {
    std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n<state>\n";
    for (const auto& kv : values) {
        char buf[40];
        std::snprintf(buf, sizeof(buf), "%.2f", std::round(kv.second * 100.0) / 100.0);
        xml += "  <PARAM id=\"" + kv.first + "\" value=\"" + buf + "\"/>\n";
    }
    xml += "</state>\n";
    std::string out = "VC2!";
    put_le(out, xml.size() + 1, 4);
    out += xml;
    out += '\0';
    return out;
}

}  // namespace dspnewton
