#pragma once

// The value of one parameter at every frame of a block: its automation lane
// (or its constant), then its modulators (specification section 6.3,
// "executing modulation streams"). LFOs and step sequencers are pure
// functions of the timeline frame, so a block gives the same values wherever
// it falls; envelope followers carry an envelope, which checkpoints save.
//
// Realtime contract: `fill` never allocates (prepare sizes the buffer).

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "signal/audio_block.hpp"
#include "signal/render_graph.hpp"

namespace loophole::signal {

class param_stream {
public:
  /// The stream of `param` of `node`; `constant` is its value without a lane.
  param_stream(const render_node& node, std::string_view param, double constant);

  /// Whether the value changes over time (it has a lane).
  bool varies() const noexcept { return varies_; }
  double constant() const noexcept { return constant_; }

  void prepare(uint32_t max_block);

  /// The values of frames [frame, frame + frames); `input` feeds followers.
  /// Instantiated for float and double views.
  template <class Sample>
  const double* fill(int64_t frame, uint32_t frames,
                     const basic_audio_view<Sample>& input) noexcept;

  /// The followers' envelopes (empty without followers).
  size_t state_bytes() const noexcept { return envelopes_.size() * sizeof(double); }
  void snapshot_into(std::byte* out) const noexcept;
  bool restore_from(std::span<const std::byte> state) noexcept;

private:
  bool varies_ = false;
  double constant_ = 0.0;
  automation_lane lane_;
  std::vector<double> values_;
  std::vector<double> envelopes_; ///< one per follower, in lane order
  std::vector<double> attack_, release_;
};

/// Bytes of the state of `node`'s parameter streams (its followers).
size_t modulation_state_bytes(const render_node& node) noexcept;

} // namespace loophole::signal
