#pragma once

// Where the buffers that cross partitions live inside one segment slot of the
// shared bus memory. Pulse and every Signal instance compute the layout from
// the same graph and segment size, so only a slot index travels on the wire.
//
// A slot holds, 64-byte aligned:
// - for each clip_source node, its media window: the source frames the clip
//   plays during the segment, planar, `segment_frames` samples a channel,
//   indexed by timeline frame minus the segment's first frame (Pulse streams
//   them in from the media files; Signal never opens a file);
// - for each exported node (one whose output a node of another partition
//   reads, and every meter node, whose tap Pulse measures), its output,
//   planar, `segment_frames` samples a channel, in the graph's precision
//   (media windows are always float: what the files decode to);
// - the sink's interleaved 4-byte samples.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "signal/node_catalog.hpp"
#include "signal/render_graph.hpp"

namespace loophole::signal {

struct bus_region {
  uint32_t node = 0;
  uint64_t offset = 0; ///< Bytes from the start of the slot.
  uint16_t channels = 0;
};

struct bus_layout {
  uint32_t segment_frames = 0;
  sample_precision precision = sample_precision::float32; ///< of the exports
  std::vector<bus_region> windows; ///< Media windows of clip nodes, in node id order.
  std::vector<bus_region> exports; ///< In node id order.
  uint64_t sink_offset = 0;
  uint16_t sink_channels = 0;
  uint64_t slot_bytes = 0;

  /// Precondition: `validate(graph)` found nothing; segment_frames > 0.
  static bus_layout make(const render_graph& graph, uint32_t segment_frames);

  /// The region of `node`, or nullptr if it is not exported.
  const bus_region* find(uint32_t node) const noexcept;

  /// The media window of clip node `node`, or nullptr.
  const bus_region* window_of(uint32_t node) const noexcept;
};

} // namespace loophole::signal
