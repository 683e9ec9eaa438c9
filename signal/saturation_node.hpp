#pragma once

// The waveshaping curves of the saturation node, exposed so tests compare
// them with their formulas.

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace loophole::signal {

/// Curve choices, numbered as in the catalog: part of the wire format.
enum class saturation_curve : uint8_t { tanh = 0, cubic = 1, hard = 2 };

/// tanh: tanh(u). cubic: the classic soft clipper 1.5 u - 0.5 u^3 for
/// |u| <= 1 and sign(u) beyond (continuous with zero slope at +-1, slope 1.5
/// at 0). hard: u clamped to [-1, 1].
inline double shape(saturation_curve curve, double u) noexcept {
  switch (curve) {
    case saturation_curve::tanh:
      return std::tanh(u);
    case saturation_curve::cubic:
      return u >= 1.0 ? 1.0 : u <= -1.0 ? -1.0 : 1.5 * u - 0.5 * u * u * u;
    case saturation_curve::hard:
      return std::clamp(u, -1.0, 1.0);
  }
  return u;
}

} // namespace loophole::signal
