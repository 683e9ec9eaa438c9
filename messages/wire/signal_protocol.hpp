#pragma once

// The wire protocol between Pulse and Signal instances: versioned
// MessagePack, separate from the internal CAF messages so either side can
// change its internals without breaking the other.
//
// A frame is one MessagePack array [protocol_version, message_type, body],
// body being a map (MSGPACK_DEFINE_MAP), so a newer peer's extra keys are
// ignored and a missing key keeps its default. Every decode is bounded: the
// frame size first, then the unpacker's limits on containers, strings and
// depth; nothing a peer sends can make the decoder allocate without bound or
// throw past `decode`.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "signal/render_graph.hpp"

namespace loophole::wire {

/// The version this build speaks. A peer that says another is refused.
inline constexpr uint32_t protocol_version = 5; // 3: MIDI events, modulators;
                                                // 4: embedded audio, default oversampling,
                                                //    output latency;
                                                // 5: sample precision

/// The largest frame either side accepts (a graph of thousands of nodes fits).
inline constexpr size_t max_frame_bytes = 64u << 20;

/// Message types. Numbering is part of the protocol: append only.
enum class message_type : uint8_t {
  hello = 1,
  load_job = 2,
  job_ready = 3,
  render_task = 4,
  task_done = 5,
  failure = 6,
  heartbeat = 7,
  unload_job = 8,
  shutdown = 9,
};

std::string_view to_string(message_type x) noexcept;

/// Signal -> Pulse, first message after connecting.
struct hello {
  uint32_t protocol = protocol_version;
  int64_t pid = 0;
  std::string instance; ///< The identity Pulse gave the instance at spawn.
  std::string build;    ///< Version of the worker binary.
};

/// The processing state of one node (node_processor::snapshot), for
/// checkpoints.
struct node_state {
  uint32_t node = 0;
  std::string bytes;

  bool operator==(const node_state&) const = default;
};

/// No flight recorder (see load_job::recorder_offset).
inline constexpr uint64_t no_recorder = ~uint64_t{0};

/// Pulse -> Signal: everything needed to execute tasks of a job.
struct load_job {
  uint64_t job = 0;
  signal::render_graph graph;
  std::vector<uint32_t> partitions; ///< Partitions this instance executes.
  std::string bus_shm;      ///< Shared memory holding the segment slots (and media windows).
  uint64_t bus_bytes = 0;
  uint32_t slots = 0;
  uint32_t segment_frames = 0;
  uint32_t block_frames = 0;
  /// States to restore before the first task: the job resumes from a
  /// checkpoint. Nodes not listed start fresh.
  std::vector<node_state> restore;
  /// Where in the bus this instance keeps its flight recorder (what it is
  /// doing, for Pulse to read after a crash), or no_recorder.
  uint64_t recorder_offset = no_recorder;
};

/// Signal -> Pulse: the job is loaded, its media mapped, its graph compiled.
struct job_ready {
  uint64_t job = 0;
};

/// Pulse -> Signal: render partitions of one segment, in the order listed
/// (every partition they read is done already). One message carries all the
/// partitions of a segment that became ready at once for this instance, so
/// a segment costs a message or two per instance, not one per track.
struct render_task {
  uint64_t job = 0;
  uint64_t task = 0;                ///< The segment's index.
  std::vector<uint32_t> partitions; ///< Rendered in this order.
  uint32_t slot = 0;
  int64_t first_frame = 0;
  uint32_t frames = 0;
  /// After rendering, snapshot the partitions' node states into task_done.
  bool checkpoint = false;
};

/// Signal -> Pulse: the partitions of a render_task are done.
struct task_done {
  uint64_t job = 0;
  uint64_t task = 0;                ///< The segment's index.
  std::vector<uint32_t> partitions; ///< Those rendered, in order.
  double peak = 0.0;      ///< Largest absolute sample written to the sink (0 if none).
  uint64_t elapsed_ns = 0;
  /// If the task asked for a checkpoint: the state of every node of the
  /// partitions that has one, after the segment.
  std::vector<node_state> states;
};

/// Failure codes Signal reports; the same numbers as kernel::errc (checked
/// there), so Pulse can pass them on unchanged.
namespace failure_code {
inline constexpr uint32_t bad_graph = 6;
inline constexpr uint32_t worker_failed = 10;
inline constexpr uint32_t protocol = 15;
inline constexpr uint32_t non_finite = 17;
} // namespace failure_code

/// Signal -> Pulse: a job or a task could not be done.
struct failure {
  uint64_t job = 0;
  uint64_t task = 0;
  uint32_t code = 0;
  std::string message;
};

/// Signal -> Pulse, sent from the DSP loop itself, so a stuck loop is seen.
struct heartbeat {
  uint64_t sequence = 0;
  uint64_t tasks_done = 0;
};

struct unload_job {
  uint64_t job = 0;
};

struct shutdown {};

using message = std::variant<hello, load_job, job_ready, render_task, task_done, failure,
                             heartbeat, unload_job, shutdown>;

/// Encodes `msg` into one frame.
std::string encode(const message& msg);

/// The result of decoding a frame: a message, or why the frame was refused.
struct decoded {
  std::optional<message> value;
  std::string error;
};

/// Decodes one frame, within the limits above. Never throws.
decoded decode(std::string_view frame) noexcept;

} // namespace loophole::wire
