#pragma once

// The building blocks of the synth node, exposed so tests check them against
// their analytic definitions.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>

namespace loophole::signal {

/// A linear ADSR of whole frames. From the note-on frame (k = 0): attack
/// (k + 1) / A for k < A, then decay 1 - (1 - S)(j + 1) / D for the D frames
/// after, then S. From the note-off (j = 0), a linear release of R frames
/// from the level reached the frame before: L (1 - (j + 1) / R), 0 from
/// j = R - 1 on. A, D or R of 0 skips the stage.
struct adsr_shape {
  int64_t attack = 0, decay = 0, release = 0;
  double sustain = 1.0;

  /// The level `k` frames after the note-on, while held.
  double held(int64_t k) const noexcept {
    if (k < attack)
      return static_cast<double>(k + 1) / static_cast<double>(attack);
    const int64_t j = k - attack;
    if (j < decay)
      return 1.0 - (1.0 - sustain) * static_cast<double>(j + 1) / static_cast<double>(decay);
    return sustain;
  }

  /// The level `j` frames after the note-off, from `from`.
  double released(int64_t j, double from) const noexcept {
    if (j + 1 >= release)
      return 0.0;
    return from * (1.0 - static_cast<double>(j + 1) / static_cast<double>(release));
  }
};

/// Zavalishin's topology-preserving-transform state-variable filter, low-pass
/// output: the bilinear transform (prewarped at the cutoff) of
///   H(s) = 1 / (s^2 + k s + 1),  s in units of the cutoff,
/// so |H(f)| = 1 / |1 - (t/g)^2 + j k t/g| with g = tan(pi fc / fs),
/// t = tan(pi f / fs). Its state is two integrators; it stays stable when g
/// and k change every sample.
struct tpt_svf {
  double ic1 = 0, ic2 = 0;

  /// k = sqrt(2) (1 - resonance): 0 resonance is Butterworth, 1 oscillates.
  static double damping(double resonance) noexcept {
    return std::numbers::sqrt2 * (1.0 - std::clamp(resonance, 0.0, 1.0));
  }

  double low_pass(double x, double g, double k) noexcept {
    const double a1 = 1.0 / (1.0 + g * (g + k));
    const double a2 = g * a1;
    const double a3 = g * a2;
    const double v3 = x - ic2;
    const double v1 = a1 * ic1 + a2 * v3;
    const double v2 = ic2 + a2 * ic1 + a3 * v3;
    ic1 = 2.0 * v1 - ic1;
    ic2 = 2.0 * v2 - ic2;
    return v2;
  }
};

} // namespace loophole::signal
