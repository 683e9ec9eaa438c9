#pragma once

// The interface every DSP node implements, after chowdsp's processors:
// `prepare` may allocate, `process_rt` never does.

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "signal/audio_block.hpp"
#include "signal/render_graph.hpp"

namespace loophole::signal {

/// Per output channel: the channel of the old output it takes.
using channel_map = std::array<uint16_t, max_channels>;
/// Per output channel: a linear gain.
using channel_gains = std::array<double, max_channels>;

/// Where a block sits on the timeline.
struct process_context {
  int64_t timeline_frame = 0; ///< Timeline frame of the block's first sample.
  uint32_t frames = 0;        ///< Frames in the block (<= the prepared maximum).
};

/// A node's processing, in samples of type `Sample` (float, or double for a
/// graph of precision float64). One instance per node per Signal instance; it
/// is used by one thread at a time.
template <class Sample>
class basic_node_processor {
public:
  using view = basic_audio_view<Sample>;

  virtual ~basic_node_processor() = default;

  /// Not realtime-safe: may allocate. Called once before any `process_rt`.
  virtual void prepare(uint32_t max_block_frames) = 0;

  /// Realtime contract: never allocates, locks, blocks, logs or throws.
  /// `output` has the node's channel count and `ctx.frames` frames; each view
  /// in `inputs` has its input node's channel count and `ctx.frames` frames.
  virtual void process_rt(const process_context& ctx, std::span<const view> inputs,
                          const view& output) noexcept = 0;

  /// Gives a clip node the media buffer it plays. Others ignore it.
  virtual void bind_media(const planar_region& /*media*/) noexcept {}

  /// A node whose output over this block would be a copy of memory that
  /// stays put until the block is done (a clip playing its media unchanged)
  /// may, instead of process_rt, point `output` at that memory and return
  /// true; the executor then hands that view to the node's readers, which
  /// only read it. Asked only of nodes whose output stays inside their
  /// partition. Realtime contract as process_rt's.
  virtual bool pass_view_rt(const process_context& /*ctx*/, view& /*output*/) noexcept {
    return false;
  }

  /// Offers a constant linear map to apply to this node's output (a gain or
  /// pan node that follows it and nothing else reads): the output becomes
  /// `channels` channels, channel c being old channel `source[c]` times
  /// `gain[c]`. A node that accepts computes it with its own single rounding
  /// and returns true; the executor then drops the follower. Called after
  /// prepare, off the audio thread.
  virtual bool fold_output_gain(uint16_t /*channels*/, const channel_map& /*source*/,
                                const channel_gains& /*gain*/) {
    return false;
  }

  /// Serialises the processing state, for checkpoints. Stateless nodes
  /// return nothing.
  virtual std::vector<std::byte> snapshot() const { return {}; }

  /// Restores a state made by `snapshot`; false if it does not fit the node.
  virtual bool restore(std::span<const std::byte> state) { return state.empty(); }

  // -- cohorts: the same node kind in several partitions, side by side ---------

  /// Nodes whose serial recurrences (a biquad, a gain smoother) can share the
  /// lanes of one vector with other nodes of their kind return a non-zero
  /// key; processors with equal keys (so of one dynamic type and layout) may
  /// be processed together by `process_cohort_rt`. 0: always alone.
  virtual uint64_t cohort_key() const noexcept { return 0; }

  /// Processes `members` (this processor first; all of equal cohort_key)
  /// over one block: member m reads `inputs[m]` and writes `outputs[m]`,
  /// with exactly the bits its own process_rt would give, so grouping never
  /// changes a result. Realtime contract as process_rt's.
  virtual void process_cohort_rt(const process_context& ctx,
                                 std::span<basic_node_processor* const> members,
                                 std::span<const std::span<const view>> inputs,
                                 std::span<const view> outputs) noexcept {
    for (size_t m = 0; m < members.size(); ++m)
      members[m]->process_rt(ctx, inputs[m], outputs[m]);
  }
};

/// Cohort keys: the node kind in the top byte, the layout below.
constexpr uint64_t cohort_key_of(node_kind kind, uint64_t layout) noexcept {
  return (uint64_t{static_cast<uint8_t>(kind)} + 1) << 56 | (layout & ((uint64_t{1} << 56) - 1));
}

using node_processor = basic_node_processor<float>;
using node_processor_f64 = basic_node_processor<double>;

/// The base of a node whose state does not depend on the sample type (it
/// computes in double and keeps no samples): one class serves both
/// precisions. `Derived` implements
///   template <class Sample>
///   void process_block(const process_context&,
///                      std::span<const basic_audio_view<Sample>>,
///                      const basic_audio_view<Sample>&) noexcept;
/// under the realtime contract of `process_rt`; its prepare, snapshot and
/// other overrides override both bases. Nodes that keep samples (delay
/// lines, lookahead rings, filter histories) are class templates on the
/// sample type instead, so that a double graph keeps double state.
template <class Derived>
class either_precision : public node_processor, public node_processor_f64 {
public:
  bool pass_view_rt(const process_context& ctx, audio_view& output) noexcept final {
    if constexpr (requires(Derived& d) { d.pass_view_block(ctx, output); })
      return static_cast<Derived*>(this)->pass_view_block(ctx, output);
    else
      return false;
  }
  bool pass_view_rt(const process_context&, audio_view_f64&) noexcept final { return false; }

  void process_rt(const process_context& ctx, std::span<const audio_view> inputs,
                  const audio_view& output) noexcept final {
    static_cast<Derived*>(this)->process_block(ctx, inputs, output);
  }
  void process_rt(const process_context& ctx, std::span<const audio_view_f64> inputs,
                  const audio_view_f64& output) noexcept final {
    static_cast<Derived*>(this)->process_block(ctx, inputs, output);
  }
};

/// Makes the processor of a built-in node, processing `Sample`s (float or
/// double; the executor takes the graph's precision). Precondition: the graph
/// is valid.
template <class Sample = float>
std::unique_ptr<basic_node_processor<Sample>> make_processor(const render_graph& graph,
                                                             const render_node& node);

/// The size of the state `snapshot` returns for a processor of `node` (a
/// checkpoint carries it): known from the node alone, so Pulse can refuse a
/// graph whose checkpoints would not fit in a message before rendering.
uint64_t state_bytes(const render_node& node) noexcept;

/// The same, for `node` of `graph`: oversampling by the graph's default and
/// the channel counts of its inputs (a sidechain's) taken into account. The
/// one-argument form assumes the default oversampling of 1 and inputs of the
/// node's own channel count.
uint64_t state_bytes(const render_graph& graph, const render_node& node) noexcept;

/// The latency `node` adds to the signal passing through it, in frames: its
/// lookahead, the delay of its oversampling filters, its FFT partition. Known
/// from the node alone, so Pulse can compensate every path before rendering
/// (plugin delay compensation, docs/node-graph.md).
uint32_t latency_frames(const render_graph& graph, const render_node& node) noexcept;

/// If `node` is a linear map with constant parameters (gain, pan), describes
/// it as per-channel source and gain for `fold_output_gain`; `input_channels`
/// is its input's channel count.
bool as_channel_map(const render_node& node, uint16_t input_channels, channel_map& source,
                    channel_gains& gain);

} // namespace loophole::signal
