#include "signal/dsp_nodes.hpp"
namespace loophole::signal {
std::unique_ptr<node_processor> make_synth(const render_graph&, const render_node&) { return nullptr; }
uint64_t synth_state_bytes(const render_node&) noexcept { return 0; }
std::unique_ptr<node_processor> make_sampler(const render_graph&, const render_node&) { return nullptr; }
uint64_t sampler_state_bytes(const render_node&) noexcept { return 0; }
}
