#include "actors/delay_compensation.hpp"

#include <algorithm>
#include <vector>

#include "signal/node_processor.hpp"

namespace loophole::actors {

namespace {

constexpr int64_t max_delay_frames = int64_t{1} << 21; // the delay node's limit

void shift_automation(signal::render_node& node, int64_t frames) {
  for (auto& lane : node.automation) {
    for (auto& p : lane.points)
      p.frame += frames;
    for (auto& m : lane.modulators)
      for (auto& p : m.clock)
        p.frame += frames;
  }
}

} // namespace

int64_t compensate_latency(signal::render_graph& graph, uint32_t* culprit) {
  const auto order = signal::topological_order(graph);
  std::vector<int64_t> out(graph.nodes.size(), 0);
  for (auto id : order) {
    int64_t arrival = 0;
    for (auto in : graph.nodes[id].inputs)
      arrival = std::max(arrival, out[in]);
    // Each early input gets its own delay: inputs are few, and a shared
    // delay per (source, amount) would tie partitions together.
    for (size_t k = 0; k < graph.nodes[id].inputs.size(); ++k) {
      const auto in = graph.nodes[id].inputs[k];
      const auto missing = arrival - out[in];
      if (missing == 0)
        continue;
      if (missing > max_delay_frames) {
        if (culprit)
          *culprit = id;
        return -1;
      }
      signal::render_node delay;
      delay.id = static_cast<uint32_t>(graph.nodes.size());
      delay.label = graph.nodes[id].label + " / compensation " + std::to_string(k);
      delay.kind = signal::node_kind::delay;
      delay.partition = graph.nodes[id].partition;
      delay.channels = graph.nodes[in].channels;
      delay.inputs = {in};
      delay.params = {{"frames", static_cast<double>(missing)},
                      {"feedback", 0.0},
                      {"wet", 1.0},
                      {"dry", 0.0}};
      graph.nodes[id].inputs[k] = delay.id;
      graph.nodes.push_back(std::move(delay));
      out.push_back(arrival);
    }
    if (arrival > 0)
      shift_automation(graph.nodes[id], arrival);
    out[id] = arrival + signal::latency_frames(graph, graph.nodes[id]);
  }
  graph.output_latency = out[graph.output_node];
  return graph.output_latency;
}

} // namespace loophole::actors
