// libFuzzer target (clang -fsanitize=fuzzer,address,undefined) for the C++ readers:
// bundle.json parsing and .vstpreset parsing must either succeed or throw
// std::invalid_argument; a parsed .vstpreset written back must read back identically.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "dspnewton/bundle.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string s(reinterpret_cast<const char*>(data), size);
    try {
        dspnewton::Bundle b = dspnewton::parse_bundle(s);
        // A bundle that parses must write back to text that parses to the same table.
        dspnewton::Bundle again =
            dspnewton::parse_bundle(dspnewton::bundle_json(b.table, b.sample_rate, b.provenance_json));
        if (dspnewton::table_checksum(again.table) != dspnewton::table_checksum(b.table)) __builtin_trap();
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
