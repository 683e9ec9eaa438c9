#include "signal/param_stream.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace loophole::signal {

namespace {

// One-pole smoothing coefficient for a time constant of `frames`.
double pole(double frames) noexcept {
  return frames <= 0.0 ? 1.0 : 1.0 - std::exp(-1.0 / frames);
}

size_t followers_of(const automation_lane& lane) noexcept {
  return static_cast<size_t>(std::count_if(lane.modulators.begin(), lane.modulators.end(),
                                            [](const modulation& m) {
                                              return m.kind == modulator_kind::follower;
                                            }));
}

} // namespace

param_stream::param_stream(const render_node& node, std::string_view param, double constant)
  : constant_(constant) {
  if (const auto* lane = lane_of(node, param)) {
    varies_ = true;
    lane_ = *lane;
    for (const auto& m : lane_.modulators)
      if (m.kind == modulator_kind::follower) {
        attack_.push_back(pole(m.attack_frames));
        release_.push_back(pole(m.release_frames));
      }
    envelopes_.assign(attack_.size(), 0.0);
  }
}

void param_stream::prepare(uint32_t max_block) {
  if (varies_)
    values_.assign(max_block, constant_);
  std::fill(envelopes_.begin(), envelopes_.end(), 0.0);
}

template <class Sample>
const double* param_stream::fill(int64_t frame, uint32_t frames,
                                 const basic_audio_view<Sample>& input) noexcept {
  for (uint32_t i = 0; i < frames; ++i)
    values_[i] = lane_.points.empty() ? constant_ : automation_value(lane_, frame + i);
  size_t follower = 0;
  for (const auto& m : lane_.modulators) {
    const double depth = m.depth;
    auto apply = [&](uint32_t i, double mod) {
      if (m.in_db)
        values_[i] *= std::pow(10.0, depth * mod / 20.0);
      else
        values_[i] += depth * mod;
    };
    if (m.kind != modulator_kind::follower) {
      for (uint32_t i = 0; i < frames; ++i)
        apply(i, modulator_value(m, frame + i));
      continue;
    }
    double env = envelopes_[follower];
    const double a = attack_[follower], r = release_[follower];
    for (uint32_t i = 0; i < frames; ++i) {
      double level = 0.0;
      for (uint16_t c = 0; c < input.channels; ++c)
        level = std::max(level, static_cast<double>(std::abs(input[c][i])));
      env += (level > env ? a : r) * (level - env);
      apply(i, env);
    }
    envelopes_[follower++] = env;
  }
  return values_.data();
}

template const double* param_stream::fill(int64_t, uint32_t, const audio_view&) noexcept;
template const double* param_stream::fill(int64_t, uint32_t, const audio_view_f64&) noexcept;

void param_stream::snapshot_into(std::byte* out) const noexcept {
  if (!envelopes_.empty())
    std::memcpy(out, envelopes_.data(), state_bytes());
}

bool param_stream::restore_from(std::span<const std::byte> state) noexcept {
  if (state.size() != state_bytes())
    return false;
  if (!envelopes_.empty())
    std::memcpy(envelopes_.data(), state.data(), state.size());
  return true;
}

size_t modulation_state_bytes(const render_node& node) noexcept {
  size_t bytes = 0;
  for (const auto& lane : node.automation)
    bytes += followers_of(lane) * sizeof(double);
  return bytes;
}

} // namespace loophole::signal
