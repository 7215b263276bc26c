// libFuzzer target (clang -fsanitize=fuzzer,address,undefined) for the C++ readers:
// bundle.json parsing and .vstpreset parsing must either succeed or throw
// std::invalid_argument; a parsed .vstpreset written back must read back identically;
// the real-time processor built from a parsed bundle turns the input's bytes, read as
// float samples (NaN, inf and huge values included), into finite output in both
// channel modes, and the plugin's run-time load of it (the "bundle" state: parse, build a
// processor, switch to it mid-stream through TableSwitch's cross-fade) keeps the output finite.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <cmath>
#include <cstring>

#include "dspnewton/bundle.hpp"
#include "dspnewton/processor.hpp"
#include "dspnewton/table_switch.hpp"

static void run_processor(const dspnewton::Table& t, const std::uint8_t* data, std::size_t size) {
    float buf[2][256];
    const std::size_t n = std::min<std::size_t>(256, size / (2 * sizeof(float)));
    for (int c = 0; c < 2; ++c) std::memcpy(buf[c], data + c * n * sizeof(float), n * sizeof(float));
    for (bool linked : {true, false}) {
        dspnewton::Processor p(t, 44100.0, 2, linked);
        p.set_peak(data[0]);
        p.set_mode(size > 1 && data[1] & 1 ? dspnewton::kLimit : dspnewton::kCompress);
        float out[2][256];
        const float* in[2] = {buf[0], buf[1]};
        float* o[2] = {out[0], out[1]};
        p.process(in, o, n);
        for (int c = 0; c < 2; ++c)
            for (std::size_t i = 0; i < n; ++i)
                if (!std::isfinite(out[c][i])) __builtin_trap();
    }
}

/// The plugin's load of a bundle state during playback: a default table running, the parsed one offered
/// and taken at the next block (a cross-fade across blocks of the input's sizes), every output finite.
static void run_switch(const dspnewton::Table& t, const std::uint8_t* data, std::size_t size) {
    dspnewton::Table first;
    first.modes[0].push_back(dspnewton::Row{});
    dspnewton::TableSwitch sw(std::make_unique<dspnewton::Processor>(first, 48000.0, 2, true));
    float buf[2][512] = {};
    for (std::size_t i = 0; i < 512 && i < size; ++i) buf[i % 2][i / 2] = (data[i] - 128) / 64.0f;
    const float* in[2] = {buf[0], buf[1]};
    float out[2][512];
    float* o[2] = {out[0], out[1]};
    sw.process(in, o, 100);
    sw.offer(std::make_unique<dspnewton::Processor>(t, 44100.0, 2, true));
    for (std::size_t done = 0, k = 0; done < 2000; ++k) {
        const std::size_t n = 1 + (size > 0 ? data[k % size] : 7) % 256;
        sw.process(in, o, n);
        for (int c = 0; c < 2; ++c)
            for (std::size_t i = 0; i < n; ++i)
                if (!std::isfinite(out[c][i])) __builtin_trap();
        done += n;
    }
    sw.collect();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string s(reinterpret_cast<const char*>(data), size);
    try {
        dspnewton::Bundle b = dspnewton::parse_bundle(s);
        // A bundle that parses must write back to text that parses to the same table.
        dspnewton::Bundle again =
            dspnewton::parse_bundle(dspnewton::bundle_json(b.table, b.sample_rate, b.provenance_json));
        if (dspnewton::table_checksum(again.table) != dspnewton::table_checksum(b.table)) __builtin_trap();
        run_processor(b.table, data, size);
        run_switch(b.table, data, size);
    } catch (const std::invalid_argument&) {
    }
    try {
        dspnewton::Preset p = dspnewton::parse_vstpreset(s);
        dspnewton::Preset q = dspnewton::parse_vstpreset(dspnewton::vstpreset_bytes(p));
        if (q.class_id != p.class_id || q.chunks.size() != p.chunks.size()) __builtin_trap();
        for (std::size_t i = 0; i < p.chunks.size(); ++i)
            if (q.chunks[i].id != p.chunks[i].id || q.chunks[i].data != p.chunks[i].data) __builtin_trap();
    } catch (const std::invalid_argument&) {
    }
    return 0;
}
