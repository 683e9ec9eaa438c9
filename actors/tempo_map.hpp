#pragma once

// The session's timebase (specification section 5): a tempo map of constant
// segments and linear ramps, and a meter map of time-signature changes, with
// exact conversions between beats, seconds and bars, both ways.
//
// Beats are quarter notes counted from the session's start. A ramp changes
// the tempo linearly in *time* from one tempo point to the next: over a ramp
// of B beats from T0 to T1 bpm, which lasts d = 120 B / (T0 + T1) seconds,
//   tempo(t) = T0 + a t,          a = (T1 - T0) / d            (bpm per second)
//   beats(t) = (T0 t + a t^2 / 2) / 60
//   t(beats) = 120 beats / (T0 + sqrt(T0^2 + 120 a beats))     (the stable root)
// so both directions are closed forms, and they invert each other to within
// rounding. Before the first point and after the last, the tempo is constant.
//
// Pure and value-typed: the timeline resolver builds one per session.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace loophole::actors {

/// A tempo change: from `beat` on, `bpm`; with `ramp`, the tempo gets there
/// linearly (in time) from the previous point instead of jumping.
struct tempo_point {
  double beat = 0;
  double bpm = 120;
  bool ramp = false;
};

/// Why a map was refused: the index of the point at fault and the reason.
struct timebase_error : std::invalid_argument {
  timebase_error(size_t index_, const std::string& why)
    : std::invalid_argument(why), index(index_) {}
  size_t index;
};

class tempo_map {
public:
  /// `initial_bpm` holds from beat 0 to the first change. Changes must have
  /// increasing beats (> 0) and bpm in [0.001, 999]. Throws timebase_error.
  explicit tempo_map(double initial_bpm, std::vector<tempo_point> changes = {});

  /// Seconds from the session's start to `beat` (which may be negative: the
  /// initial tempo extends backwards).
  double seconds_at(double beat) const noexcept;
  /// The beat at `seconds`: the inverse of seconds_at.
  double beat_at(double seconds) const noexcept;
  /// The tempo at `beat`, in bpm.
  double bpm_at(double beat) const noexcept;

  /// Where each segment of the map starts, and whether its tempo ramps (in a
  /// constant segment, beats are linear in time).
  struct segment_span {
    double seconds = 0;
    bool ramps = false;
  };
  std::vector<segment_span> spans() const;

private:
  struct segment {
    double beat0 = 0, seconds0 = 0; // where it starts
    double bpm0 = 120;              // tempo at its start
    double accel = 0;               // bpm per second (0: constant)
  };
  size_t segment_at_beat(double beat) const noexcept;
  size_t segment_at_seconds(double seconds) const noexcept;
  std::vector<segment> segments_;
};

/// A time-signature change at the start of `bar` (1-based).
struct meter_point {
  int64_t bar = 1;
  uint32_t beats_per_bar = 4;
  uint32_t beat_unit = 4; ///< The note value of a beat: 4 a quarter, 8 an eighth...
};

/// Bars and beats. A bar of n/d holds n beats of 4/d quarter notes.
class meter_map {
public:
  /// `initial` holds from bar 1; changes must have increasing bars (> 1).
  /// Throws timebase_error.
  meter_map(uint32_t beats_per_bar, uint32_t beat_unit, std::vector<meter_point> changes = {});

  /// Quarter-note beats from the start to bar `bar` (1-based), beat `beat`
  /// (1-based, fractional: 1 is the downbeat) of that bar's meter.
  double quarter_beats_at(int64_t bar, double beat) const noexcept;
  /// The (bar, beat) of a quarter-note position, both 1-based.
  std::pair<int64_t, double> bar_beat_at(double quarter_beats) const noexcept;

private:
  struct span {
    int64_t bar = 1;
    double quarters0 = 0;  // quarter notes before it
    double bar_quarters = 4; // quarter notes in one of its bars
    double beat_quarters = 1;
  };
  std::vector<span> spans_;
};

} // namespace loophole::actors
