// The real-time processor (csrc/include/dspnewton/processor.hpp) alone, no Python:
// best-of-N wall time to process a planar float32 file in blocks.
//   realtime_core BUNDLE.json IN.f32 CHANNELS BLOCK REPEATS [MODE PEAK]
// prints "seconds=<best>".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "dspnewton/bundle.hpp"
#include "dspnewton/processor.hpp"

int main(int argc, char** argv) {
    if (argc < 6) {
        std::fprintf(stderr, "usage: %s BUNDLE.json IN.f32 CHANNELS BLOCK REPEATS [MODE PEAK]\n", argv[0]);
        return 2;
    }
    const dspnewton::Bundle b = dspnewton::parse_bundle(dspnewton::read_file(argv[1]));
    const std::string raw = dspnewton::read_file(argv[2]);
    const int channels = std::atoi(argv[3]);
    const std::size_t block = static_cast<std::size_t>(std::atol(argv[4]));
    const int repeats = std::atoi(argv[5]);
    const int mode = argc > 6 && std::string(argv[6]) == "limit" ? dspnewton::kLimit : dspnewton::kCompress;
    const double peak = argc > 7 ? std::atof(argv[7]) : 70.0;
    const std::size_t n = raw.size() / sizeof(float) / static_cast<std::size_t>(channels);
    std::vector<float> in(raw.size() / sizeof(float)), out(in.size());
    std::copy_n(reinterpret_cast<const float*>(raw.data()), in.size(), in.data());
    dspnewton::Processor p(b.table, b.sample_rate, channels, true);
    p.set_mode(mode);
    p.set_peak(peak);
    double best = 1e30;
    for (int r = 0; r < repeats; ++r) {
        p.reset();
        const auto t0 = std::chrono::steady_clock::now();
        for (std::size_t s = 0; s < n; s += block) {
            const float* ins[2] = {in.data() + s, in.data() + n + s};
            float* outs[2] = {out.data() + s, out.data() + n + s};
            p.process(ins, outs, std::min(block, n - s));
        }
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("seconds=%.9g\n", best);
    return 0;
}
