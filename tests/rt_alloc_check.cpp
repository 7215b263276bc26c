// The audio thread never allocates: global operator new/delete are replaced by counting ones, and
// everything the plugin's run() does is counted — TableSwitch::process switching from one table to
// another (taking the offered processor, the cross-fade in chunks, retiring the old one), every
// control's setter, and the meters — while the table parsing and processor construction (setState,
// off the audio thread) are not.
//   rt_alloc_check OLD_BUNDLE.json NEW_BUNDLE.json   -> prints "allocations=N" (N must be 0)
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "dspnewton/bundle.hpp"
#include "dspnewton/table_switch.hpp"

static std::atomic<bool> g_counting{false};
static std::atomic<long> g_allocations{0};

void* operator new(std::size_t n) {
    if (g_counting) ++g_allocations;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept {
    if (g_counting && p) ++g_allocations;  // freeing on the audio thread is as bad as allocating
    std::free(p);
}
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }
void operator delete[](void* p, std::size_t) noexcept { operator delete(p); }

int main(int argc, char** argv) {
    if (argc != 3) return 2;
    g_counting = true;  // the counter counts (so the check can fail)
    delete new int(1);
    g_counting = false;
    if (g_allocations.exchange(0) != 2) {
        std::printf("the allocation counter does not count\n");
        return 3;
    }
    const dspnewton::Table a = dspnewton::parse_bundle(dspnewton::read_file(argv[1])).table;
    const dspnewton::Table b = dspnewton::parse_bundle(dspnewton::read_file(argv[2])).table;
    dspnewton::TableSwitch sw(std::make_unique<dspnewton::Processor>(a, 48000.0, 2, true));
    static float in[2][4096], out[2][4096];
    for (int i = 0; i < 4096; ++i) in[0][i] = in[1][i] = 0.5f * static_cast<float>((i * 7919) % 200 - 100) / 100.0f;
    const float* ip[2] = {in[0], in[1]};
    float* op[2] = {out[0], out[1]};
    double sink = 0.0;
    auto audio_block = [&](std::size_t n, int k) {  // what the plugin's run() and setParameterValue() do
        sw.each([k](dspnewton::Processor& p) {
            p.set_peak(40.0 + k % 60);
            p.set_mix(0.5 + 0.5 * (k % 2));
            p.set_trim_db(k % 3);
            p.set_emphasis_db(k % 5);
            p.set_zero_vu_dbfs(-18.0 - k % 4);
            p.set_linked(k % 7 != 3);
            p.set_mode(k % 11 == 5 ? dspnewton::kLimit : dspnewton::kCompress);
        });
        sw.process(ip, op, n);
        const dspnewton::Processor& p = sw.current();
        sink += p.gain_reduction_db() + p.vu_gain_reduction_db() + p.vu_output_db();
    };
    for (int k = 0; k < 4; ++k) audio_block(512, k);  // playing the first table
    for (int round = 0; round < 3; ++round) {
        sw.offer(std::make_unique<dspnewton::Processor>(round % 2 ? a : b, 48000.0, 2, true));  // setState
        g_counting = true;
        for (int k = 0; k < 12; ++k) audio_block(k % 3 == 0 ? 4096 : 97 + 31 * k, k);  // the switch and its fade
        g_counting = false;
    }
    std::printf("allocations=%ld\nsink=%g\n", g_allocations.load(), sink);
    return g_allocations.load() == 0 ? 0 : 1;
}
