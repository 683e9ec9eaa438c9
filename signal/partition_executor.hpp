#pragma once

// Executes one partition of a RenderGraph over a span of frames, reading the
// buffers other partitions exported and writing its own exports (and the
// sink, if it holds it) into a segment slot of the bus memory.
//
// Thread contract: construct and bind off the audio thread (allocates);
// `run_rt` is realtime-safe and called by one thread at a time.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "signal/audio_block.hpp"
#include "signal/bus_layout.hpp"
#include "signal/flight_recorder.hpp"
#include "signal/node_processor.hpp"
#include "signal/output_stage.hpp"
#include "signal/render_graph.hpp"

namespace loophole::signal {

/// Called between blocks, so that a long partition can show it is alive
/// (Signal's heartbeat). Must obey the caller's realtime contract.
struct block_hook {
  void (*call)(void* context) noexcept = nullptr;
  void* context = nullptr;
};

/// One node's state in a checkpoint.
struct node_snapshot {
  uint32_t node = 0;
  std::vector<std::byte> bytes;
};

/// The executor of one partition in samples of `Sample` (the graph's
/// precision). Instantiated for float and double; `partition_executor` picks
/// one by the graph.
template <class Sample>
class basic_partition_executor {
public:
  using view = basic_audio_view<Sample>;

  /// Precondition: `validate(graph)` found nothing and `layout` was made
  /// from `graph`. `max_block` bounds the frames processed per node call.
  basic_partition_executor(const render_graph& graph, uint32_t partition, bus_layout layout,
                           uint32_t max_block);

  basic_partition_executor(basic_partition_executor&&) noexcept = default;
  basic_partition_executor& operator=(basic_partition_executor&&) noexcept = default;
  ~basic_partition_executor();

  /// Renders timeline frames [first_frame, first_frame + count) with `slot`
  /// pointing at the start of a bus slot (count <= layout.segment_frames),
  /// calling `hook` after every block but the last.
  /// Realtime contract: no allocation, lock, I/O or exception of its own.
  void run_rt(int64_t first_frame, uint32_t count, std::byte* slot,
              block_hook hook = {}) noexcept;

  /// After `run_rt`: the first node whose output held a NaN or an infinity,
  /// if any (checked on every node's output, so the node named is the one
  /// that made it, not one it passed through).
  std::optional<uint32_t> non_finite_node() const noexcept { return non_finite_node_; }
  /// The timeline frame of the block in which `non_finite_node` was found.
  int64_t non_finite_frame() const noexcept { return non_finite_frame_; }

  /// The processing state of every node of the partition that has one, in
  /// execution order, for a checkpoint. Not realtime-safe (allocates).
  std::vector<node_snapshot> snapshot() const;

  /// Restores one node's state made by `snapshot`. Returns why it failed
  /// (an unknown node, a state that does not fit), or an empty string.
  std::string restore(uint32_t node, std::span<const std::byte> bytes);

  /// Where `run_rt`, `snapshot` and `restore` note what they are doing (or
  /// nowhere, if null).
  void set_recorder(flight_record* recorder) noexcept { recorder_ = recorder; }

private:
  struct source {
    bool from_bus = false;
    uint64_t bus_offset = 0; ///< valid if from_bus
    size_t local = 0;        ///< index into locals_ otherwise
    uint16_t channels = 0;
  };
  struct step {
    uint32_t node = 0;
    uint32_t output_node = 0; ///< Whose output it writes (a folded follower's, after folding)
    std::unique_ptr<basic_node_processor<Sample>> processor; ///< null for the sink
    std::vector<source> inputs;
    source out;
    uint16_t input_base = 0; ///< first slot of this step in input_views_
    std::vector<uint32_t> input_nodes;
  };

  template <class>
  friend class basic_partition_cohort;

  uint32_t steps_inputs_node(const step& st) const noexcept;

  view view_of(const source& s, std::byte* slot, uint32_t offset, uint32_t frames) noexcept;

  // The parts of run_rt, for it and for a cohort: binding the media windows,
  // one step over one block, and its pieces (the views it reads and writes,
  // the check of what it wrote).
  void begin_rt(int64_t first_frame, uint32_t count, std::byte* slot) noexcept;
  void run_step_rt(step& st, const process_context& ctx, std::byte* slot, uint32_t done) noexcept;
  std::span<const view> inputs_rt(step& st, std::byte* slot, uint32_t done, uint32_t n) noexcept;
  void check_rt(const step& st, const view& out, const process_context& ctx) noexcept;

  bus_layout layout_;
  uint32_t max_block_ = 0;
  std::vector<step> steps_;
  std::vector<std::vector<Sample>> locals_; ///< channels * max_block each
  /// Per local: the view a node passed instead of writing it, this block.
  std::vector<std::optional<view>> passed_;
  std::vector<view> input_views_;
  std::optional<output_stage> sink_;
  std::vector<std::pair<bus_region, size_t>> windows_; ///< (media window, step)
  std::optional<uint32_t> non_finite_node_;
  int64_t non_finite_frame_ = 0;
  flight_record* recorder_ = nullptr;
};

/// Several partitions of one graph run side by side, block by block: at each
/// step, nodes of the members that share a cohort_key are processed together
/// (node_processor::process_cohort_rt), so serial recurrences of different
/// tracks fill the lanes of one vector. Every node computes the bits it
/// would alone, so a cohort never changes a result: only the time.
///
/// Preconditions: the members are distinct, were made from one graph and one
/// layout with one block size, and none reads what another writes in the same
/// segment (Pulse sends together only partitions whose inputs are done).
/// Thread contract: construct off the audio thread (allocates); run_rt is
/// realtime-safe.
template <class Sample>
class basic_partition_cohort {
public:
  using executor = basic_partition_executor<Sample>;
  using view = basic_audio_view<Sample>;

  explicit basic_partition_cohort(std::vector<executor*> members);

  /// As each member's run_rt over the same frames, with `hook` after every
  /// block but the last.
  void run_rt(int64_t first_frame, uint32_t count, std::byte* slot, block_hook hook = {}) noexcept;

private:
  std::vector<executor*> members_;
  size_t max_steps_ = 0;
  uint32_t max_block_ = 0;
  // Scratch of one group, sized for every member at once.
  std::vector<uint8_t> taken_;
  std::vector<size_t> group_;
  std::vector<basic_node_processor<Sample>*> processors_;
  std::vector<std::span<const view>> inputs_;
  std::vector<view> outputs_;
};

/// Executes one partition in the graph's precision (float or double): the
/// one type Signal and the tests hold. Each call goes to the executor of that
/// sample type; the contracts are `basic_partition_executor`'s.
class partition_executor {
public:
  partition_executor(const render_graph& graph, uint32_t partition, bus_layout layout,
                     uint32_t max_block);

  /// Realtime contract: as basic_partition_executor::run_rt.
  void run_rt(int64_t first_frame, uint32_t count, std::byte* slot,
              block_hook hook = {}) noexcept;
  std::optional<uint32_t> non_finite_node() const noexcept;
  int64_t non_finite_frame() const noexcept;
  std::vector<node_snapshot> snapshot() const;
  std::string restore(uint32_t node, std::span<const std::byte> bytes);
  void set_recorder(flight_record* recorder) noexcept;

private:
  friend class partition_cohort;
  std::variant<basic_partition_executor<float>, basic_partition_executor<double>> executor_;
};

/// A cohort of partition_executors of one graph (basic_partition_cohort, in
/// the graph's precision).
class partition_cohort {
public:
  /// Preconditions as basic_partition_cohort's. Allocates.
  explicit partition_cohort(std::vector<partition_executor*> members);

  /// Realtime contract: as basic_partition_cohort::run_rt.
  void run_rt(int64_t first_frame, uint32_t count, std::byte* slot, block_hook hook = {}) noexcept;

private:
  using cohort_variant =
    std::variant<basic_partition_cohort<float>, basic_partition_cohort<double>>;
  template <class Sample>
  static basic_partition_cohort<Sample> typed(const std::vector<partition_executor*>& members);
  static cohort_variant cohort_for(const std::vector<partition_executor*>& members);

  cohort_variant cohort_;
};

} // namespace loophole::signal
