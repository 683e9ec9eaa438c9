#pragma once

// What the stateful nodes share: their parameter streams as one set (so that
// the state they carry adds up to modulation_state_bytes) and the denormal
// guard of the recursive loops; snapshots go through signal/state_io.hpp.

#include <cstddef>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "signal/param_stream.hpp"
#include "signal/state_io.hpp"

namespace loophole::signal {

/// Sets flush-to-zero and denormals-are-zero for the scope of one
/// process_rt call and restores the caller's mode after. Recursive filters and
/// envelopes decaying towards zero would otherwise reach denormals after a
/// few seconds of silence and run tens of times slower; flushing them changes
/// values below 2.2e-308 (double) or 1.2e-38 (float) only, the same way on
/// every run.
class denormal_guard {
public:
#if defined(__SSE__) || defined(__x86_64__)
  denormal_guard() noexcept : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040u); }
  ~denormal_guard() { _mm_setcsr(saved_); }

private:
  unsigned saved_;
#endif
};

/// Delays x[0, n) by `length` frames through `ring` (one channel's ring of
/// `length` frames, at position `start`): `out` gets what the ring held, the
/// ring keeps x. The lookahead of the compressor and the limiter.
template <class Sample>
inline void delay_through_ring(const Sample* x, Sample* ring, uint32_t length, uint32_t start,
                               uint32_t n, Sample* out) noexcept {
  uint32_t pos = start;
  for (uint32_t done = 0; done < n;) {
    const uint32_t run = n - done < length - pos ? n - done : length - pos;
    for (uint32_t j = 0; j < run; ++j) {
      out[done + j] = ring[pos + j];
      ring[pos + j] = x[done + j];
    }
    done += run;
    pos += run;
    if (pos == length)
      pos = 0;
  }
}

/// The parameter streams of a node, one per automatable parameter of its kind
/// (every node adds all of them, so their state is modulation_state_bytes).
class stream_set {
public:
  /// Adds the stream of `name`; returns its index.
  size_t add(const render_node& node, std::string_view name, double constant) {
    streams_.emplace_back(node, name, constant);
    return streams_.size() - 1;
  }
  param_stream& operator[](size_t i) noexcept { return streams_[i]; }
  const param_stream& operator[](size_t i) const noexcept { return streams_[i]; }

  void prepare(uint32_t max_block) {
    for (auto& s : streams_)
      s.prepare(max_block);
  }
  bool any_varies() const noexcept {
    for (const auto& s : streams_)
      if (s.varies())
        return true;
    return false;
  }
  size_t state_bytes() const noexcept {
    size_t n = 0;
    for (const auto& s : streams_)
      n += s.state_bytes();
    return n;
  }
  void snapshot_into(std::byte* out) const noexcept {
    for (const auto& s : streams_) {
      s.snapshot_into(out);
      out += s.state_bytes();
    }
  }
  bool restore_from(std::span<const std::byte> state) noexcept {
    if (state.size() != state_bytes())
      return false;
    for (auto& s : streams_) {
      if (!s.restore_from(state.first(s.state_bytes())))
        return false;
      state = state.subspan(s.state_bytes());
    }
    return true;
  }

private:
  std::vector<param_stream> streams_;
};

} // namespace loophole::signal
