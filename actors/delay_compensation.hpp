#pragma once

// Plugin delay compensation (docs/node-graph.md): every node reports the
// latency it adds (signal::latency_frames); where paths of different
// latencies meet (a sum, a bus input, a sidechain beside the main input),
// the earlier ones go through delay nodes making up the difference, so
// everything arriving at a node is aligned. Automation of a node is moved
// by the latency of the signal reaching it, so it lands on the audio it was
// drawn against.

#include <cstdint>

#include "signal/render_graph.hpp"

namespace loophole::actors {

/// Compensates `graph` in place: delay nodes are appended (in the partition
/// of the node they feed, labelled after it) and inputs rewired to them;
/// automation points and modulator clocks are shifted; the latency of the
/// signal at the output node is returned (and stored in `output_latency`).
/// Precondition: the graph is acyclic. Fails (returns a negative value) if
/// a compensating delay would be longer than a delay node holds (2^21
/// frames); `culprit` then names the node it would feed.
int64_t compensate_latency(signal::render_graph& graph, uint32_t* culprit = nullptr);

} // namespace loophole::actors
