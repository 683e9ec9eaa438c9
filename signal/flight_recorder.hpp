#pragma once

// A Signal instance's flight recorder: a few words in shared memory where the
// DSP loop notes what it is doing (which node, which block) before it does it.
// A process that dies takes its stack with it but not this record, so Pulse
// can say which node took a worker down, and quarantine it.
//
// Written by one thread of one process; read by Pulse after that process has
// ended (or to report where a silent one is stuck). Relaxed atomic stores:
// the values matter, not their order.

#include <atomic>
#include <cstdint>

namespace loophole::signal {

/// What the DSP loop was doing.
enum class recorder_phase : uint32_t { idle = 0, process = 1, snapshot = 2, restore = 3 };

inline constexpr uint64_t recorder_magic = 0x3143455248504C4Cull; // "LLPHREC1"

struct flight_record {
  uint64_t magic = 0;
  uint64_t job = 0;
  uint64_t task = 0;
  int64_t frame = 0;   ///< Timeline frame of the block in progress.
  uint32_t node = 0;   ///< The node being processed (or snapshotted / restored).
  uint32_t phase = 0;  ///< recorder_phase
  uint64_t blocks = 0; ///< Blocks processed since the job was loaded.
};

static_assert(sizeof(flight_record) == 48);

/// Bytes reserved per instance in the bus (a cache line of its own each).
inline constexpr uint64_t recorder_stride = 64;

inline void record(flight_record* r, recorder_phase phase, uint32_t node, int64_t frame) noexcept {
  if (!r)
    return;
  std::atomic_ref<uint32_t>(r->phase).store(static_cast<uint32_t>(phase), std::memory_order_relaxed);
  std::atomic_ref<uint32_t>(r->node).store(node, std::memory_order_relaxed);
  std::atomic_ref<int64_t>(r->frame).store(frame, std::memory_order_relaxed);
}

} // namespace loophole::signal
