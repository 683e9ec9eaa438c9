#pragma once

// CAF inspection of the DSP library's RenderGraph, which itself knows nothing
// of CAF. Found by argument-dependent lookup in loophole::signal.

#include "caf/meta/type_name.hpp"
#include "messages/inspect_helpers.hpp"
#include "signal/render_graph.hpp"

namespace loophole::signal {

LOOPHOLE_INSPECT_OPTIONALS_IN_THIS_NAMESPACE

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, parameter& x) {
  return f(caf::meta::type_name("parameter"), x.name, x.value);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, media_region& x) {
  return f(caf::meta::type_name("media_region"), x.media_index, x.timeline_start,
           x.source_offset, x.length, x.loop_start, x.loop_length);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, media_descriptor& x) {
  return f(caf::meta::type_name("media_descriptor"), x.media_id, x.channels, x.frames);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, automation_point& x) {
  return f(caf::meta::type_name("automation_point"), x.frame, x.value, x.curve);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, modulation& x) {
  return f(caf::meta::type_name("modulation"), x.kind, x.shape, x.depth, x.in_db, x.clock, x.steps,
           x.attack_frames, x.release_frames);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, automation_lane& x) {
  return f(caf::meta::type_name("automation_lane"), x.param, x.points, x.modulators);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, midi_event& x) {
  return f(caf::meta::type_name("midi_event"), x.frame, x.status, x.data1, x.data2);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, render_node& x) {
  return f(caf::meta::type_name("render_node"), x.id, x.label, x.kind, x.partition, x.channels,
           x.inputs, x.params, x.media, x.automation, x.events, x.embedded_audio);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, partition_info& x) {
  return f(caf::meta::type_name("partition_info"), x.label);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, render_graph& x) {
  return f(caf::meta::type_name("render_graph"), x.sample_rate, x.mode, x.first_frame,
           x.frame_count, x.output_latency, x.media, x.nodes, x.partitions, x.output_node,
           x.oversample, x.precision);
}

} // namespace loophole::signal
