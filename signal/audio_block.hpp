#pragma once

// Non-owning views of planar audio. A view never allocates and never frees;
// whoever made the memory owns it (a node's scratch buffer, or a shared-memory
// segment Pulse mapped for the worker).

#include <array>
#include <cstdint>

namespace loophole::signal {

/// The most channels a node may carry (7.1.4 needs 12; third-order
/// ambisonics 16; room to spare for wider buses).
inline constexpr uint16_t max_channels = 32;

/// A block of planar audio: `channels` pointers to `frames` samples of
/// `Sample` (float, or double in a graph of precision float64).
template <class Sample>
struct basic_audio_view {
  using sample_type = Sample;

  std::array<Sample*, max_channels> channel{};
  uint16_t channels = 0;
  uint32_t frames = 0;

  Sample* operator[](uint16_t c) const noexcept { return channel[c]; }

  /// The same channels, starting `offset` frames later, `count` frames long.
  basic_audio_view slice(uint32_t offset, uint32_t count) const noexcept {
    basic_audio_view v = *this;
    for (uint16_t c = 0; c < channels; ++c)
      v.channel[c] = channel[c] + offset;
    v.frames = count;
    return v;
  }
};

using audio_view = basic_audio_view<float>;
using audio_view_f64 = basic_audio_view<double>;

/// A read-only region of planar float audio laid out channel after channel,
/// `stride` samples apart (the layout of media and bus buffers in shared
/// memory).
struct planar_region {
  const float* base = nullptr;
  uint16_t channels = 0;
  int64_t frames = 0;
  int64_t stride = 0;
  int64_t first_frame = 0; ///< Timeline frame of sample 0 (media windows).

  const float* channel(uint16_t c) const noexcept { return base + c * stride; }
};

} // namespace loophole::signal
