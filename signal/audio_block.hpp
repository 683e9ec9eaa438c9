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

/// A block of planar float audio: `channels` pointers to `frames` samples.
struct audio_view {
  std::array<float*, max_channels> channel{};
  uint16_t channels = 0;
  uint32_t frames = 0;

  float* operator[](uint16_t c) const noexcept { return channel[c]; }

  /// The same channels, starting `offset` frames later, `count` frames long.
  audio_view slice(uint32_t offset, uint32_t count) const noexcept {
    audio_view v = *this;
    for (uint16_t c = 0; c < channels; ++c)
      v.channel[c] = channel[c] + offset;
    v.frames = count;
    return v;
  }
};

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
