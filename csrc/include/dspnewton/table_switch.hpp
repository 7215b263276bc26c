// dspnewton: a running processor switched to another table without a click and without
// allocating or locking on the audio thread (the plugin's run-time bundles).
//
// The table is loaded and its Processor built off the audio thread and offered (offer());
// the audio thread takes it at the start of its next block: the new processor continues
// from the old one's controls and state (Processor::continue_from) and the two outputs are
// cross-faded over Processor::kSmoothMs, y = a + w (b - a) with w rising linearly per sample
// as every control's ramp does (a: the old table's output, b: the new one's); then the old
// processor is handed back for deletion off the audio thread (collect()). Before the first
// sample after a reset there is nothing to fade from: the new table takes over at once.
// Hand-over is two lock-free single-pointer slots (pending, retired); the audio thread takes
// a pending processor only when the retired slot is empty, so it never frees memory.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <memory>

#include "processor.hpp"

namespace dspnewton {

class TableSwitch {
public:
    static constexpr std::size_t kChunk = 64;  // samples per cross-fade chunk (stack scratch)

    explicit TableSwitch(std::unique_ptr<Processor> initial) : active_(initial.release()) {}
    ~TableSwitch() {
        delete active_;
        delete incoming_;
        delete pending_.load();
        delete retired_.load();
    }
    TableSwitch(const TableSwitch&) = delete;
    TableSwitch& operator=(const TableSwitch&) = delete;

    // ---- off the audio thread

    /// Offer a processor for a new table (its controls and state are taken over at the switch); a
    /// processor offered earlier and not yet taken is dropped.
    void offer(std::unique_ptr<Processor> p) {
        collect();
        delete pending_.exchange(p.release(), std::memory_order_acq_rel);
    }
    /// Free the processor the audio thread retired after its last switch.
    void collect() { delete retired_.exchange(nullptr, std::memory_order_acq_rel); }
    /// Finish a cross-fade at once and return to rest (the host's reset/activate: no audio running).
    void reset() {
        if (incoming_) {
            delete active_;
            active_ = incoming_;
            incoming_ = nullptr;
        }
        collect();
        active_->reset();
    }

    // ---- on the audio thread (or with audio stopped)

    /// The processor in use (during a cross-fade, the old one).
    Processor& active() { return *active_; }
    const Processor& active() const { return *active_; }
    /// The processor whose meters and table the user sees (during a cross-fade, the new one).
    const Processor& current() const { return incoming_ ? *incoming_ : *active_; }
    bool fading() const { return incoming_ != nullptr; }
    /// Apply a control to every running processor: ``f(Processor&)``.
    template <typename F>
    void each(F f) {
        f(*active_);
        if (incoming_) f(*incoming_);
    }

    /// Process ``n`` samples (out may alias in), switching to an offered table first if one waits.
    template <typename T>
    void process(const T* const* in, T* const* out, std::size_t n) {
        if (!incoming_ && pending_.load(std::memory_order_acquire) != nullptr &&
            retired_.load(std::memory_order_acquire) == nullptr) {  // loads only, unless a table waits
            if (Processor* p = pending_.exchange(nullptr, std::memory_order_acq_rel)) begin(p);
        }
        std::size_t done = 0;
        const int channels = active_->channels();
        const T* ci[Processor::kMaxChannels];
        T* co[Processor::kMaxChannels];
        while (incoming_ && done < n) {
            // a chunk never runs past the fade's end: from its last sample on, the output is the new table's
            const std::size_t m = std::min({kChunk, n - done, static_cast<std::size_t>(fade_.remaining)});
            double a[Processor::kMaxChannels][kChunk], b[Processor::kMaxChannels][kChunk];
            double* ao[Processor::kMaxChannels];
            double* bo[Processor::kMaxChannels];
            for (int c = 0; c < channels; ++c) {
                ci[c] = in[c] + done;
                co[c] = out[c] + done;
                ao[c] = a[c];
                bo[c] = b[c];
            }
            active_->process(ci, ao, m);
            incoming_->process(ci, bo, m);
            for (std::size_t i = 0; i < m; ++i) {
                const double w = fade_.next();
                for (int c = 0; c < channels; ++c) co[c][i] = static_cast<T>(a[c][i] + w * (b[c][i] - a[c][i]));
            }
            done += m;
            if (!fade_.active()) finish();
        }
        if (done == n) return;
        for (int c = 0; c < channels; ++c) {
            ci[c] = in[c] + done;
            co[c] = out[c] + done;
        }
        active_->process(ci, co, n - done);
    }

private:
    void begin(Processor* p) {
        if (p->sample_rate() != active_->sample_rate()) p->set_sample_rate(active_->sample_rate());
        p->continue_from(*active_);
        incoming_ = p;
        if (active_->fresh()) return finish();  // nothing played yet: nothing to fade from
        fade_.snap(0.0);
        fade_.set(1.0, std::lround(Processor::kSmoothMs * 1e-3 * active_->sample_rate()));
    }
    void finish() {
        retired_.store(active_, std::memory_order_release);
        active_ = incoming_;
        incoming_ = nullptr;
    }

    Processor* active_;
    Processor* incoming_ = nullptr;
    Ramp fade_;
    std::atomic<Processor*> pending_{nullptr};
    std::atomic<Processor*> retired_{nullptr};
};

}  // namespace dspnewton
