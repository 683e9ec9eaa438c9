#pragma once

// Measuring the frequency of a steady tone, independently of the code under
// test: positive-going zero crossings, each placed between its two samples by
// linear interpolation, over a stretch of the signal.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace loophole::test {

/// Crossing times (in frames, fractional) of x[first .. last) read with
/// `stride` (interleaved channels).
inline std::vector<double> rising_crossings(const float* x, int64_t first, int64_t last,
                                            int64_t stride = 1) {
  std::vector<double> times;
  for (int64_t i = first + 1; i < last; ++i) {
    const double a = x[(i - 1) * stride], b = x[i * stride];
    if (a < 0.0 && b >= 0.0)
      times.push_back(static_cast<double>(i - 1) + a / (a - b));
  }
  return times;
}

/// The frequency (Hz) of the tone in frames [first, last): whole cycles
/// between the first and the last crossing, over the time they take. 0 if
/// fewer than two crossings.
inline double tone_frequency(const float* x, int64_t first, int64_t last, double rate,
                             int64_t stride = 1) {
  const auto t = rising_crossings(x, first, last, stride);
  if (t.size() < 2)
    return 0.0;
  return static_cast<double>(t.size() - 1) * rate / (t.back() - t.front());
}

/// How far `f` is from `reference`, in cents.
inline double cents(double f, double reference) {
  return 1200.0 * std::log2(f / reference);
}

} // namespace loophole::test
