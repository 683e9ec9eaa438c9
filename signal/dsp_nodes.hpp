#pragma once

// The processors of the node kinds that live in files of their own
// (saturation, convolution, sampler, synth, surround_pan, fold_down):
// make_processor, state_bytes and latency_frames (builtin_nodes.cpp) call
// these. Each factory is instantiated for float and double samples.

#include <cstdint>
#include <memory>

#include "signal/node_processor.hpp"

namespace loophole::signal {

template <class Sample>
std::unique_ptr<basic_node_processor<Sample>>
make_saturation(const render_graph& graph, const render_node& node);
uint64_t saturation_state_bytes(const render_node& node) noexcept;

template <class Sample>
std::unique_ptr<basic_node_processor<Sample>>
make_convolution(const render_graph& graph, const render_node& node);
uint64_t convolution_state_bytes(const render_graph& graph, const render_node& node) noexcept;
uint32_t convolution_latency(const render_node& node) noexcept;

template <class Sample>
std::unique_ptr<basic_node_processor<Sample>>
make_surround_pan(const render_graph& graph, const render_node& node);
template <class Sample>
std::unique_ptr<basic_node_processor<Sample>>
make_fold_down(const render_graph& graph, const render_node& node);

template <class Sample>
std::unique_ptr<basic_node_processor<Sample>>
make_synth(const render_graph& graph, const render_node& node);
uint64_t synth_state_bytes(const render_node& node) noexcept;

template <class Sample>
std::unique_ptr<basic_node_processor<Sample>>
make_sampler(const render_graph& graph, const render_node& node);
uint64_t sampler_state_bytes(const render_node& node) noexcept;

} // namespace loophole::signal
