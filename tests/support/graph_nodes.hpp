#pragma once

// Building RenderGraphs node by node in the Signal suites.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "signal/render_graph.hpp"

namespace loophole::test {

/// Appends a node of `kind` to `g`, labelled by its kind and id (its id is its index).
inline signal::render_node& append_node(signal::render_graph& g, signal::node_kind kind,
                                        uint32_t partition, uint16_t channels,
                                        std::vector<uint32_t> inputs,
                                        std::vector<signal::parameter> params = {}) {
  signal::render_node n;
  n.id = static_cast<uint32_t>(g.nodes.size());
  n.label = std::string{signal::to_string(kind)} + " " + std::to_string(n.id);
  n.kind = kind;
  n.partition = partition;
  n.channels = channels;
  n.inputs = std::move(inputs);
  n.params = std::move(params);
  g.nodes.push_back(std::move(n));
  return g.nodes.back();
}

} // namespace loophole::test
