#pragma once

// The processors of the node kinds that live in files of their own
// (saturation, convolution, sampler, synth, surround_pan, fold_down):
// make_processor, state_bytes and latency_frames (builtin_nodes.cpp) call
// these.

#include <cstdint>
#include <memory>

#include "signal/node_processor.hpp"

namespace loophole::signal {

std::unique_ptr<node_processor> make_saturation(const render_graph& graph, const render_node& node);
uint64_t saturation_state_bytes(const render_node& node) noexcept;

std::unique_ptr<node_processor> make_convolution(const render_graph& graph,
                                                 const render_node& node);
uint64_t convolution_state_bytes(const render_graph& graph, const render_node& node) noexcept;
uint32_t convolution_latency(const render_node& node) noexcept;

std::unique_ptr<node_processor> make_surround_pan(const render_graph& graph,
                                                  const render_node& node);
std::unique_ptr<node_processor> make_fold_down(const render_graph& graph, const render_node& node);

std::unique_ptr<node_processor> make_synth(const render_graph& graph, const render_node& node);
uint64_t synth_state_bytes(const render_node& node) noexcept;

std::unique_ptr<node_processor> make_sampler(const render_graph& graph, const render_node& node);
uint64_t sampler_state_bytes(const render_node& node) noexcept;

} // namespace loophole::signal
