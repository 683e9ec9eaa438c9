#pragma once

// The dynamics nodes: compressor and gate (dynamics.cpp), limiter
// (limiter.cpp).

#include <cstdint>
#include <memory>

#include "signal/node_processor.hpp"
#include "signal/render_graph.hpp"

namespace loophole::signal {

/// The processor of a compressor, gate or limiter node (float or double
/// samples).
template <class Sample>
std::unique_ptr<basic_node_processor<Sample>> make_dynamics(const render_graph& graph,
                                                            const render_node& node);
/// Their lookahead rings hold samples, so the state's size depends on the
/// graph's precision.
uint64_t dynamics_state_bytes(const render_node& node, sample_precision precision) noexcept;

template <class Sample>
std::unique_ptr<basic_node_processor<Sample>> make_limiter(const render_graph& graph,
                                                           const render_node& node);
uint64_t limiter_state_bytes(const render_node& node, sample_precision precision) noexcept;
/// The lookahead, plus the true-peak detector's delay when true_peak is on.
uint32_t limiter_latency_frames(const render_node& node) noexcept;

/// The compressor's static curve (Giannoulis, Massberg & Reiss 2012): the gain
/// change in dB (<= 0) for a level `x_db`, with a quadratic knee of width
/// `knee_db` centred on the threshold.
inline double compressor_curve_db(double x_db, double threshold_db, double ratio,
                                  double knee_db) noexcept {
  const double over = x_db - threshold_db;
  const double slope = 1.0 / ratio - 1.0;
  if (2.0 * over <= -knee_db)
    return 0.0;
  if (2.0 * over < knee_db) {
    const double k = over + knee_db / 2.0;
    return slope * k * k / (2.0 * knee_db);
  }
  return slope * over;
}

/// The gate's static curve: below the threshold the level falls `ratio`
/// times faster than the input (downward expansion), never by more than
/// `range_db` (negative).
inline double gate_curve_db(double x_db, double threshold_db, double ratio,
                            double range_db) noexcept {
  const double under = x_db - threshold_db;
  const double change = under < 0.0 ? (ratio - 1.0) * under : 0.0;
  return change < range_db ? range_db : change;
}

} // namespace loophole::signal
