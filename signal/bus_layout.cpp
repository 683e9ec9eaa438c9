#include "signal/bus_layout.hpp"

#include <algorithm>

namespace loophole::signal {

namespace {
constexpr uint64_t align64(uint64_t x) noexcept { return (x + 63u) & ~uint64_t{63}; }
} // namespace

bus_layout bus_layout::make(const render_graph& graph, uint32_t segment_frames) {
  bus_layout layout;
  layout.segment_frames = segment_frames;
  layout.precision = graph.precision;
  std::vector<bool> exported(graph.nodes.size(), false);
  for (const auto& node : graph.nodes)
    for (auto in : node.inputs)
      if (graph.nodes[in].partition != node.partition)
        exported[in] = true;
  // A meter's tap is read by Pulse, which measures it as the file is written.
  for (const auto& node : graph.nodes)
    if (node.kind == node_kind::meter)
      exported[node.id] = true;
  uint64_t offset = 0;
  for (const auto& node : graph.nodes) {
    if (node.kind != node_kind::clip_source || !node.media)
      continue;
    const auto channels = graph.media[node.media->media_index].channels;
    layout.windows.push_back({node.id, offset, channels});
    offset = align64(offset + uint64_t{channels} * segment_frames * sizeof(float));
  }
  for (const auto& node : graph.nodes) {
    if (!exported[node.id])
      continue;
    layout.exports.push_back({node.id, offset, node.channels});
    offset = align64(offset + uint64_t{node.channels} * segment_frames *
                                sample_bytes(graph.precision));
  }
  layout.sink_offset = offset;
  layout.sink_channels = graph.nodes[graph.output_node].channels;
  layout.slot_bytes = align64(offset + uint64_t{layout.sink_channels} * segment_frames * 4u);
  return layout;
}

namespace {
const bus_region* find_in(const std::vector<bus_region>& regions, uint32_t node) noexcept {
  auto it = std::lower_bound(regions.begin(), regions.end(), node,
                             [](const bus_region& r, uint32_t id) { return r.node < id; });
  return it != regions.end() && it->node == node ? &*it : nullptr;
}
} // namespace

const bus_region* bus_layout::find(uint32_t node) const noexcept {
  return find_in(exports, node);
}

const bus_region* bus_layout::window_of(uint32_t node) const noexcept {
  return find_in(windows, node);
}

} // namespace loophole::signal
