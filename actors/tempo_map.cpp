#include "actors/tempo_map.hpp"

#include <algorithm>
#include <cmath>

namespace loophole::actors {

namespace {

bool valid_bpm(double bpm) {
  return std::isfinite(bpm) && bpm >= 1.0e-3 && bpm <= 999.0;
}

// Beats covered `t` seconds into a segment.
double beats_in(double bpm0, double accel, double t) {
  return (bpm0 * t + 0.5 * accel * t * t) / 60.0;
}

// Seconds needed for `b` beats into a segment (b >= 0), the root that does not
// cancel: t = 2 * 60 b / (T0 + sqrt(T0^2 + 2 a 60 b)).
double seconds_in(double bpm0, double accel, double b) {
  if (accel == 0)
    return b * 60.0 / bpm0;
  const double disc = bpm0 * bpm0 + 120.0 * accel * b;
  return 120.0 * b / (bpm0 + std::sqrt(std::max(disc, 0.0)));
}

} // namespace

tempo_map::tempo_map(double initial_bpm, std::vector<tempo_point> changes) {
  if (!valid_bpm(initial_bpm))
    throw timebase_error(0, "the initial tempo must be in [0.001, 999] bpm");
  segments_.push_back({0.0, 0.0, initial_bpm, 0.0});
  double last_beat = 0;
  for (size_t i = 0; i < changes.size(); ++i) {
    const auto& c = changes[i];
    if (!std::isfinite(c.beat) || c.beat <= last_beat)
      throw timebase_error(i, "tempo changes must come at increasing beats after beat 0");
    if (!valid_bpm(c.bpm))
      throw timebase_error(i, "the tempo must be in [0.001, 999] bpm");
    auto& prev = segments_.back();
    const double span = c.beat - prev.beat0;
    if (c.ramp) {
      // From prev.bpm0 to c.bpm, linearly in time, over `span` beats.
      const double duration = 120.0 * span / (prev.bpm0 + c.bpm);
      prev.accel = (c.bpm - prev.bpm0) / duration;
    }
    const double duration = seconds_in(prev.bpm0, prev.accel, span);
    segments_.push_back({c.beat, prev.seconds0 + duration, c.bpm, 0.0});
    last_beat = c.beat;
  }
}

size_t tempo_map::segment_at_beat(double beat) const noexcept {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), beat,
                             [](double b, const segment& s) { return b < s.beat0; });
  return it == segments_.begin() ? 0 : static_cast<size_t>(it - segments_.begin()) - 1;
}

size_t tempo_map::segment_at_seconds(double seconds) const noexcept {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), seconds,
                             [](double t, const segment& s) { return t < s.seconds0; });
  return it == segments_.begin() ? 0 : static_cast<size_t>(it - segments_.begin()) - 1;
}

std::vector<tempo_map::segment_span> tempo_map::spans() const {
  std::vector<segment_span> out;
  for (const auto& s : segments_)
    out.push_back({s.seconds0, s.accel != 0.0});
  return out;
}

double tempo_map::seconds_at(double beat) const noexcept {
  if (beat <= 0)
    return beat * 60.0 / segments_.front().bpm0;
  const auto& s = segments_[segment_at_beat(beat)];
  return s.seconds0 + seconds_in(s.bpm0, s.accel, beat - s.beat0);
}

double tempo_map::beat_at(double seconds) const noexcept {
  if (seconds <= 0)
    return seconds * segments_.front().bpm0 / 60.0;
  const auto& s = segments_[segment_at_seconds(seconds)];
  return s.beat0 + beats_in(s.bpm0, s.accel, seconds - s.seconds0);
}

double tempo_map::bpm_at(double beat) const noexcept {
  if (beat <= 0)
    return segments_.front().bpm0;
  const auto& s = segments_[segment_at_beat(beat)];
  return s.bpm0 + s.accel * seconds_in(s.bpm0, s.accel, beat - s.beat0);
}

meter_map::meter_map(uint32_t beats_per_bar, uint32_t beat_unit, std::vector<meter_point> changes) {
  auto make = [](size_t index, int64_t bar, double quarters0, uint32_t n, uint32_t d) {
    if (n < 1 || n > 64 || (d != 1 && d != 2 && d != 4 && d != 8 && d != 16 && d != 32))
      throw timebase_error(index, "a time signature is 1..64 beats of a 1, 2, 4, 8, 16 or 32 note");
    const double beat = 4.0 / d;
    return span{bar, quarters0, n * beat, beat};
  };
  spans_.push_back(make(0, 1, 0.0, beats_per_bar, beat_unit));
  for (size_t i = 0; i < changes.size(); ++i) {
    const auto& c = changes[i];
    const auto& prev = spans_.back();
    if (c.bar <= prev.bar || c.bar > (int64_t{1} << 40))
      throw timebase_error(i, "time-signature changes must come at increasing bars after bar 1");
    const double q0 = prev.quarters0 + static_cast<double>(c.bar - prev.bar) * prev.bar_quarters;
    spans_.push_back(make(i, c.bar, q0, c.beats_per_bar, c.beat_unit));
  }
}

double meter_map::quarter_beats_at(int64_t bar, double beat) const noexcept {
  auto it = std::upper_bound(spans_.begin(), spans_.end(), bar,
                             [](int64_t b, const span& s) { return b < s.bar; });
  const auto& s = it == spans_.begin() ? spans_.front() : *std::prev(it);
  return s.quarters0 + static_cast<double>(bar - s.bar) * s.bar_quarters +
         (beat - 1.0) * s.beat_quarters;
}

std::pair<int64_t, double> meter_map::bar_beat_at(double quarter_beats) const noexcept {
  auto it = std::upper_bound(spans_.begin(), spans_.end(), quarter_beats,
                             [](double q, const span& s) { return q < s.quarters0; });
  const auto& s = it == spans_.begin() ? spans_.front() : *std::prev(it);
  const double into = quarter_beats - s.quarters0;
  const auto bars = static_cast<int64_t>(std::floor(into / s.bar_quarters));
  const double rest = into - static_cast<double>(bars) * s.bar_quarters;
  return {s.bar + bars, 1.0 + rest / s.beat_quarters};
}

} // namespace loophole::actors
