#pragma once

// Level <-> decibel conversions for the dynamics nodes, cheap enough to run
// on every frame of a block and written so that GCC vectorises the loops
// that call them (integer and IEEE operations only, no libm).
//
// Accuracy (tests/signal/dynamics_test.cpp checks it over the whole range):
// - log2 uses log2(m) = 2/ln 2 * atanh(t), t = (m - 1)/(m + 1), with the
//   mantissa m reduced to [sqrt(1/2), sqrt(2)), so |t| <= 0.1716; the series
//   stops after t^7/7, and what it leaves out is below 2/ln2 * t^9/9 / (1 - t^2)
//   < 4.5e-8: under 3e-7 dB in 20 log10.
// - exp2 splits x into n + f, |f| <= 1/2, and sums the Taylor series of
//   e^(f ln 2) to the 6th power; the remainder is below e^0.347 (0.347)^7/7!
//   < 1.8e-7 relative: under 1.6e-6 dB.
// Both are far under the 0.001 dB the gain computers need, and both are pure
// functions of their argument (same bits on every machine: no FMA, since the
// project builds with -ffp-contract=off).

#include <bit>
#include <cstdint>

namespace loophole::signal::fast {

inline constexpr double db_per_log2_power = 3.0102999566398119521; ///< 10 log10(2)
inline constexpr double db_per_log2_amplitude = 6.0205999132796239042; ///< 20 log10(2)
inline constexpr double log2_per_db_amplitude = 0.16609640474436811739; ///< log2(10)/20

/// log2(x) for normal x > 0 (callers floor x at a small positive level).
inline double log2(double x) noexcept {
  const auto bits = std::bit_cast<uint64_t>(x);
  // Adding 1 - sqrt(1/2) to the mantissa's bits carries into the exponent
  // exactly when the mantissa is at least sqrt(2): `biased` is then the
  // exponent e of x = m 2^e with m in [sqrt(1/2), sqrt(2)), plus 1023.
  // Integer operations only, no select, so the loop vectorises with one
  // division a lane.
  const uint64_t biased = (bits + 0x00095F619980C433ull) >> 52;
  const double m = std::bit_cast<double>(bits - (biased << 52) + (1023ull << 52));
  // The exponent as a double, without an int-to-double conversion (which
  // AVX2 cannot vectorise for 64-bit integers).
  const double e =
    std::bit_cast<double>(biased | 0x4330000000000000ull) - (4503599627370496.0 + 1023.0);
  const double t = (m - 1.0) / (m + 1.0);
  const double t2 = t * t;
  const double series = t * (1.0 + t2 * (1.0 / 3 + t2 * (1.0 / 5 + t2 * (1.0 / 7))));
  return e + series * 2.8853900817779268147; // 2 / ln 2
}

/// 2^x, x clamped to [-1000, 1000].
inline double exp2(double x) noexcept {
  x = x < -1000.0 ? -1000.0 : (x > 1000.0 ? 1000.0 : x);
  // Adding 1.5 * 2^52 rounds x to the nearest integer n, which then sits in
  // the low bits of the sum.
  const double shifted = x + 6755399441055744.0;
  const double n = shifted - 6755399441055744.0;
  const double f = (x - n) * 0.69314718055994530942; // |f| <= ln2/2
  const auto scale =
    std::bit_cast<double>((std::bit_cast<uint64_t>(shifted) + 1023u) << 52);
  const double p =
    1.0 + f * (1.0 + f * (1.0 / 2 + f * (1.0 / 6 + f * (1.0 / 24 + f * (1.0 / 120 + f * (1.0 / 720))))));
  return p * scale;
}

/// 10 log10(x), x a power (a square of a level) floored at 1e-30 (-300 dB).
inline double power_to_db(double x) noexcept {
  return log2(x < 1e-30 ? 1e-30 : x) * db_per_log2_power;
}

/// 10^(db / 20).
inline double db_to_gain(double db) noexcept { return exp2(db * log2_per_db_amplitude); }

} // namespace loophole::signal::fast
