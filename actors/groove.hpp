#pragma once

// Groove templates (specification section 5): a grid of steps counted from
// beat 0, the odd step of each pair swung later, and per-step timing and
// velocity offsets, cycled. A pure function of a beat position, so MIDI notes
// use it now and audio slices (at their transients) can use it the same way.

#include "messages/session_document.hpp"

#include <cstdint>

namespace loophole::actors {

/// A position and a velocity after a groove.
struct grooved {
  double beat = 0;
  double velocity = 0; ///< Not clamped: the caller knows its range.
};

/// The step of `beat` on the groove's grid: the nearest one (half up).
int64_t groove_step(const messages::groove_spec& groove, double beat) noexcept;

/// Moves `beat` as its step moves: by (2 swing - 1) grid if the step is odd,
/// plus timing[step mod n] grid; and adds velocity[step mod n] to `velocity`.
/// A beat off the grid moves by the same amount as its nearest step.
grooved apply_groove(const messages::groove_spec& groove, double beat, double velocity) noexcept;

} // namespace loophole::actors
