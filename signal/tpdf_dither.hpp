#pragma once

// Triangular (TPDF) dither from a counter-based generator: the noise added to
// a sample is a pure function of (seed, timeline frame, channel). Any split of
// the render into blocks, segments or workers therefore gives the same bits.

#include <cmath>
#include <cstdint>

namespace loophole::signal {

/// The dither seed used when the user gives none; fixed, so renders repeat.
inline constexpr uint64_t default_dither_seed = 0x4C6F6F70686F6C65ull; // "Loophole"

/// SplitMix64's finaliser: a bijective, well-mixed 64-bit hash.
constexpr uint64_t mix64(uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// TPDF noise in (-1, 1) LSB for `channel` of `frame`.
constexpr double tpdf_noise(uint64_t seed, int64_t frame, uint16_t channel) noexcept {
  const uint64_t h = mix64(seed ^ mix64(static_cast<uint64_t>(frame) * 64u + channel));
  constexpr double scale = 1.0 / 16777216.0; // 2^-24
  const double a = static_cast<double>(h >> 40) * scale;
  const double b = static_cast<double>((h >> 16) & 0xFFFFFFu) * scale;
  return a - b;
}

/// Quantises `x` (full scale +-1) to a signed integer of `bits` bits, adding
/// `noise` LSB first, rounding half up and clipping; the result is left-aligned
/// in 32 bits, as libsndfile expects of int samples. `full` is 2^(bits-1).
/// No libm call: this runs once per output sample.
inline int32_t quantise_left_aligned(double x, double noise, unsigned bits, double full) noexcept {
  double v = x * full + noise + 0.5;
  if (!(v >= -full)) // below full scale, or NaN (reported by the executor)
    v = v != v ? 0.5 : -full;
  if (v > full - 1.0)
    v = full - 1.0;
  // floor() for the values left, by truncation and a correction below zero.
  auto q = static_cast<int64_t>(v);
  q -= static_cast<int64_t>(static_cast<double>(q) > v);
  return static_cast<int32_t>(static_cast<uint32_t>(q) << (32u - bits));
}

/// As above, computing 2^(bits-1) itself (for callers outside loops).
inline int32_t quantise_left_aligned(double x, double noise, unsigned bits) noexcept {
  return quantise_left_aligned(x, noise, bits, std::ldexp(1.0, static_cast<int>(bits) - 1));
}

} // namespace loophole::signal
