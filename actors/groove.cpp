#include "actors/groove.hpp"

#include <cmath>

namespace loophole::actors {

namespace {

// The entry of a cycled list for `step` (steps may be negative).
double cycled(const std::vector<double>& list, int64_t step) noexcept {
  if (list.empty())
    return 0.0;
  const auto n = static_cast<int64_t>(list.size());
  return list[static_cast<size_t>(((step % n) + n) % n)];
}

} // namespace

int64_t groove_step(const messages::groove_spec& groove, double beat) noexcept {
  return static_cast<int64_t>(std::floor(beat / groove.grid + 0.5));
}

grooved apply_groove(const messages::groove_spec& groove, double beat, double velocity) noexcept {
  const auto step = groove_step(groove, beat);
  // The odd step of a pair sits at `swing` of the pair (two steps) instead
  // of at its middle.
  const double swing = step % 2 != 0 ? (groove.swing - 0.5) * 2.0 * groove.grid : 0.0;
  return {beat + swing + cycled(groove.timing, step) * groove.grid,
          velocity + cycled(groove.velocity, step)};
}

} // namespace loophole::actors
