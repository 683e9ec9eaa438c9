#pragma once

// The session's time bases (specification section 5) as the resolvers use
// them: positions and lengths of the session's time values in frames, through
// the tempo and meter maps.

#include "actors/tempo_map.hpp"
#include "actors/timeline_resolver.hpp"

#include <cmath>
#include <limits>

namespace loophole::actors {

// The longest timeline: 2^50 frames (over 700 years at 48 kHz). Every sum
// of frame counts below it stays far from overflowing.
inline constexpr int64_t max_frames = int64_t{1} << 50;

// Rounds half away from zero; saturates instead of overflowing (callers
// refuse anything past max_frames).
inline int64_t round_frames(double frames) noexcept {
  if (!(frames < 9.0e18))
    return std::numeric_limits<int64_t>::max();
  if (!(frames > -9.0e18))
    return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(std::llround(frames));
}

// The session's time bases over its tempo and meter maps: positions are
// points of the timeline, lengths are measured from where they start (a
// length in beats covers those beats of the tempo map from there on).
struct timebase {
  const tempo_map& tempo;
  const meter_map& meter;
  uint32_t rate;

  double seconds_of_beat(double beat) const noexcept { return tempo.seconds_at(beat); }

  /// The quarter-note beat of a position.
  double beat_of(const messages::time_value& t) const noexcept {
    switch (t.unit) {
    case messages::time_unit::beats:
      return t.value;
    case messages::time_unit::bars:
      return meter.quarter_beats_at(static_cast<int64_t>(t.value), t.beat);
    case messages::time_unit::seconds:
      return tempo.beat_at(t.value);
    case messages::time_unit::samples:
      return tempo.beat_at(t.value / rate);
    }
    return 0;
  }

  /// The frame of a quarter-note beat.
  int64_t frame_of_beat(double beat) const noexcept {
    return round_frames(tempo.seconds_at(beat) * rate);
  }

  /// The beat `t` (a length or an offset) after `beat`.
  double beat_after(double beat, const messages::time_value& t) const noexcept {
    if (t.unit == messages::time_unit::beats)
      return beat + t.value;
    const double seconds = t.unit == messages::time_unit::seconds ? t.value : t.value / rate;
    return tempo.beat_at(tempo.seconds_at(beat) + seconds);
  }

  /// The frame of a position.
  int64_t frame_of(const messages::time_value& t) const noexcept {
    if (t.unit == messages::time_unit::samples || t.unit == messages::time_unit::seconds)
      return to_frames(t, 120.0, rate);
    return round_frames(tempo.seconds_at(beat_of(t)) * rate);
  }

  /// Frames of `length` from `start` on (forwards) or ending at `start`
  /// (backwards: a fade out).
  int64_t frames_from(int64_t start, const messages::time_value& length,
                      bool backwards = false) const noexcept {
    if (length.unit != messages::time_unit::beats)
      return to_frames(length, 120.0, rate);
    const double b0 = tempo.beat_at(static_cast<double>(start) / rate);
    const double b1 = backwards ? b0 - length.value : b0 + length.value;
    const auto other = round_frames(tempo.seconds_at(b1) * rate);
    return backwards ? start - other : other - start;
  }

  /// Frames of an offset into media at `position` (not a span of the
  /// timeline): beats count at the tempo in effect there.
  int64_t offset_frames(int64_t position, const messages::time_value& offset) const noexcept {
    if (offset.unit != messages::time_unit::beats)
      return to_frames(offset, 120.0, rate);
    return to_frames(offset, tempo.bpm_at(tempo.beat_at(static_cast<double>(position) / rate)),
                     rate);
  }
};

} // namespace loophole::actors
