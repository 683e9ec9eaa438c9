#pragma once

// Fade gains as pure functions of the position inside the fade, so that a
// clip renders the same samples whatever the block or segment boundaries.
//
// A fade in of L frames has gain shape(k / L) at frame k (0 <= k < L); a fade
// out of L frames, counting j from its first frame, has gain
// shape((L - j) / L). A fade out and a fade in of the same shape and length
// laid over each other therefore sum to exactly 1 (linear) or keep power
// exactly (equal_power).

#include <cmath>
#include <cstdint>
#include <numbers>

#include "signal/node_catalog.hpp"

namespace loophole::signal {

/// Gain of `shape` at `t` in [0, 1]; 0 at t = 0 and 1 at t = 1.
/// exponential rises by 60 dB over the fade: (e^(a t) - 1) / (e^a - 1), a = ln 1000.
inline double fade_gain(fade_shape shape, double t) noexcept {
  switch (shape) {
    case fade_shape::linear:
      return t;
    case fade_shape::equal_power:
      return std::sin(t * std::numbers::pi / 2.0);
    case fade_shape::exponential: {
      constexpr double a = 6.907755278982137; // ln(1000)
      return std::expm1(a * t) / std::expm1(a);
    }
    case fade_shape::s_curve:
      return 0.5 - 0.5 * std::cos(std::numbers::pi * t);
  }
  return t;
}

/// Gain of a clip at frame `k` of a region of `length` frames, including
/// both fades (1 outside them).
inline double clip_fade_gain(int64_t k, int64_t length, int64_t fade_in, fade_shape in_shape,
                             int64_t fade_out, fade_shape out_shape) noexcept {
  double g = 1.0;
  if (k < fade_in)
    g *= fade_gain(in_shape, static_cast<double>(k) / static_cast<double>(fade_in));
  const int64_t out_start = length - fade_out;
  if (fade_out > 0 && k >= out_start)
    g *= fade_gain(out_shape,
                   static_cast<double>(length - k) / static_cast<double>(fade_out));
  return g;
}

} // namespace loophole::signal
