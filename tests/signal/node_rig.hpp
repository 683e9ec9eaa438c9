#pragma once

// Runs one node processor directly over planar buffers, block by block, the
// way the executor calls it: what the node-kind suites share.

#include <algorithm>
#include <cstring>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "signal/node_processor.hpp"
#include "signal/render_graph.hpp"

namespace loophole::signal::testing {

/// One signal: a vector of samples per channel.
using planar = std::vector<std::vector<float>>;

/// A graph holding one placeholder node per input (mix nodes of the given
/// channel counts) and then the node under test, whose id it returns.
struct single_node_graph {
  render_graph g;
  uint32_t id = 0;

  single_node_graph(uint32_t rate, node_kind kind, uint16_t channels,
                    std::vector<uint16_t> input_channels, std::vector<parameter> params = {}) {
    g.sample_rate = rate;
    g.first_frame = 0;
    g.frame_count = 1 << 20;
    g.partitions.push_back({"test"});
    std::vector<uint32_t> inputs;
    for (auto c : input_channels) {
      render_node in;
      in.id = static_cast<uint32_t>(g.nodes.size());
      in.label = "input " + std::to_string(in.id);
      in.kind = node_kind::mix;
      in.channels = c;
      inputs.push_back(in.id);
      g.nodes.push_back(std::move(in));
    }
    render_node n;
    n.id = static_cast<uint32_t>(g.nodes.size());
    n.label = "node under test";
    n.kind = kind;
    n.channels = channels;
    n.inputs = std::move(inputs);
    n.params = std::move(params);
    id = n.id;
    g.nodes.push_back(std::move(n));
  }

  render_node& node() { return g.nodes[id]; }

  std::unique_ptr<node_processor> make(uint32_t max_block) const {
    auto p = make_processor(g, g.nodes[id]);
    if (p)
      p->prepare(max_block);
    return p;
  }
};

/// Frames [first, first + count) of `inputs` (indexed from `first`) through
/// `p` in blocks of `block` frames; the output has `channels` channels.
inline planar run(node_processor& p, const std::vector<planar>& inputs, uint16_t channels,
                  int64_t first, int64_t count, uint32_t block) {
  planar out(channels, std::vector<float>(static_cast<size_t>(count)));
  std::vector<audio_view> views(inputs.size());
  for (int64_t done = 0; done < count;) {
    const auto n = static_cast<uint32_t>(std::min<int64_t>(block, count - done));
    for (size_t i = 0; i < inputs.size(); ++i) {
      views[i].channels = static_cast<uint16_t>(inputs[i].size());
      views[i].frames = n;
      for (uint16_t c = 0; c < views[i].channels; ++c)
        views[i].channel[c] = const_cast<float*>(inputs[i][c].data()) + done;
    }
    audio_view o;
    o.channels = channels;
    o.frames = n;
    for (uint16_t c = 0; c < channels; ++c)
      o.channel[c] = out[c].data() + done;
    p.process_rt({first + done, n}, {views.data(), views.size()}, o);
    done += n;
  }
  return out;
}

inline bool same_bits(const planar& a, const planar& b) {
  if (a.size() != b.size())
    return false;
  for (size_t c = 0; c < a.size(); ++c)
    if (a[c].size() != b[c].size() ||
        !std::equal(a[c].begin(), a[c].end(), b[c].begin(),
                    [](float x, float y) { return std::memcmp(&x, &y, sizeof x) == 0; }))
      return false;
  return true;
}

} // namespace loophole::signal::testing
