#include "signal/render_graph.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <queue>

#include "signal/audio_block.hpp"
#include "signal/node_catalog.hpp"

namespace loophole::signal {

std::string_view to_string(node_kind x) noexcept {
  switch (x) {
    case node_kind::clip_source:
      return "clip_source";
    case node_kind::mix:
      return "mix";
    case node_kind::gain:
      return "gain";
    case node_kind::pan:
      return "pan";
    case node_kind::output:
      return "output";
    case node_kind::delay:
      return "delay";
    case node_kind::test_fault:
      return "test.fault";
    case node_kind::instrument:
      return "instrument";
    case node_kind::polarity:
      return "polarity";
    case node_kind::eq:
      return "eq";
    case node_kind::compressor:
      return "compressor";
    case node_kind::limiter:
      return "limiter";
    case node_kind::gate:
      return "gate";
    case node_kind::saturation:
      return "saturation";
    case node_kind::convolution:
      return "convolution";
    case node_kind::meter:
      return "meter";
    case node_kind::sampler:
      return "sampler";
    case node_kind::synth:
      return "synth";
    case node_kind::surround_pan:
      return "surround_pan";
    case node_kind::fold_down:
      return "fold_down";
  }
  return "unknown";
}

int event_rank(const midi_event& e) noexcept {
  if (e.status == midi_status::note_off || (e.status == midi_status::note_on && e.data2 == 0))
    return 0;
  return e.status == midi_status::note_on ? 2 : 1;
}

std::string_view to_string(render_mode x) noexcept {
  switch (x) {
    case render_mode::offline:
      return "offline";
    case render_mode::realtime:
      return "realtime";
    case render_mode::anticipative:
      return "anticipative";
  }
  return "unknown";
}

std::string_view to_string(sample_precision x) noexcept {
  switch (x) {
    case sample_precision::float32:
      return "float";
    case sample_precision::float64:
      return "double";
  }
  return "unknown";
}

std::string graph_error::to_string(const render_graph& graph) const {
  if (!node)
    return "render graph: " + message;
  std::string where = "node " + std::to_string(*node);
  if (*node < graph.nodes.size() && !graph.nodes[*node].label.empty())
    where += " ('" + graph.nodes[*node].label + "')";
  return where + ": " + message;
}

double param_or(const render_node& node, std::string_view name, double fallback) noexcept {
  for (const auto& p : node.params)
    if (p.name == name)
      return p.value;
  return fallback;
}

namespace {

std::optional<graph_error> fail(uint32_t node, std::string message) {
  return graph_error{node, std::move(message)};
}

} // namespace

double automation_value(const automation_lane& lane, int64_t frame) noexcept {
  const auto& pts = lane.points;
  if (pts.empty())
    return 0.0;
  if (frame <= pts.front().frame)
    return pts.front().value;
  if (frame >= pts.back().frame)
    return pts.back().value;
  auto it = std::upper_bound(pts.begin(), pts.end(), frame,
                             [](int64_t f, const automation_point& p) { return f < p.frame; });
  const auto& b = *it;
  const auto& a = *std::prev(it);
  const double t = static_cast<double>(frame - a.frame) / static_cast<double>(b.frame - a.frame);
  switch (a.curve) {
    case curve_kind::hold:
      return a.value;
    case curve_kind::linear:
      return a.value + (b.value - a.value) * t;
    case curve_kind::exponential:
      return a.value * std::pow(b.value / a.value, t);
  }
  return a.value;
}

double clock_value(const modulation& m, int64_t frame) noexcept {
  const auto& c = m.clock;
  if (c.size() < 2)
    return 0.0;
  // Past either end the clock goes on at the rate of its outer segment.
  auto it = std::upper_bound(c.begin(), c.end(), frame,
                             [](int64_t f, const automation_point& p) { return f < p.frame; });
  if (it == c.begin())
    ++it;
  if (it == c.end())
    --it;
  const auto& b = *it;
  const auto& a = *std::prev(it);
  return a.value + (b.value - a.value) * static_cast<double>(frame - a.frame) /
                     static_cast<double>(b.frame - a.frame);
}

double modulator_value(const modulation& m, int64_t frame) noexcept {
  const double phase = clock_value(m, frame);
  const double whole = std::floor(phase);
  if (m.kind == modulator_kind::steps) {
    if (m.steps.empty())
      return 0.0;
    const auto n = static_cast<int64_t>(m.steps.size());
    const auto i = static_cast<int64_t>(whole) % n;
    return m.steps[static_cast<size_t>(i < 0 ? i + n : i)];
  }
  const double f = phase - whole;
  switch (m.shape) {
    case lfo_shape::sine:
      return std::sin(2.0 * std::numbers::pi * f);
    case lfo_shape::triangle:
      return f < 0.25 ? 4.0 * f : f < 0.75 ? 2.0 - 4.0 * f : 4.0 * f - 4.0;
    case lfo_shape::square:
      return f < 0.5 ? 1.0 : -1.0;
    case lfo_shape::saw:
      return 2.0 * f - 1.0;
  }
  return 0.0;
}

const automation_lane* lane_of(const render_node& node, std::string_view param) noexcept {
  for (const auto& lane : node.automation)
    if (lane.param == param)
      return &lane;
  return nullptr;
}

namespace {

// Why a modulator cannot run, or empty.
std::string check_modulation(const modulation& m) {
  if (static_cast<uint8_t>(m.kind) > static_cast<uint8_t>(modulator_kind::follower))
    return "unknown kind";
  if (static_cast<uint8_t>(m.shape) > static_cast<uint8_t>(lfo_shape::saw))
    return "unknown shape";
  if (!std::isfinite(m.depth) || std::abs(m.depth) > 1.0e3)
    return "depth outside [-1000, 1000]";
  if (m.kind == modulator_kind::follower) {
    if (!(m.attack_frames >= 0.0 && m.attack_frames <= 1.0e8) ||
        !(m.release_frames >= 0.0 && m.release_frames <= 1.0e8))
      return "attack and release must be in [0, 1e8] frames";
    return {};
  }
  if (m.clock.size() < 2 || m.clock.size() > (size_t{1} << 20))
    return "the clock needs 2 to 2^20 points"; // the wire's array limit
  for (size_t i = 0; i < m.clock.size(); ++i)
    if (!std::isfinite(m.clock[i].value) || (i > 0 && m.clock[i].frame <= m.clock[i - 1].frame))
      return "clock point " + std::to_string(i) + ": frames must increase, values be finite";
  if (m.kind == modulator_kind::steps) {
    if (m.steps.empty() || m.steps.size() > 4096)
      return "a step sequencer needs 1 to 4096 steps";
    for (double v : m.steps)
      if (!std::isfinite(v) || std::abs(v) > 1.0)
        return "step values must be in [-1, 1]";
  }
  return {};
}

std::optional<graph_error> check_automation(const render_node& node) {
  auto specs = parameters_of(node.kind);
  if (node.automation.size() > specs.size())
    return fail(node.id, "more automation lanes than parameters");
  for (const auto& lane : node.automation) {
    auto spec = std::find_if(specs.begin(), specs.end(),
                             [&](const parameter_spec& s) { return s.name == lane.param; });
    if (spec == specs.end() || !is_automatable(node.kind, lane.param))
      return fail(node.id, "parameter '" + lane.param + "' of a " +
                             std::string{to_string(node.kind)} + " node cannot be automated");
    if (std::count_if(node.automation.begin(), node.automation.end(),
                      [&](const automation_lane& l) { return l.param == lane.param; }) > 1)
      return fail(node.id, "parameter '" + lane.param + "' has two automation lanes");
    if ((lane.points.empty() && lane.modulators.empty()) || lane.points.size() > (size_t{1} << 20))
      return fail(node.id, "automation of '" + lane.param +
                             "' needs 1 to 2^20 points, or a modulator");
    if (lane.modulators.size() > 16)
      return fail(node.id, "automation of '" + lane.param + "' has more than 16 modulators");
    for (size_t i = 0; i < lane.modulators.size(); ++i)
      if (auto why = check_modulation(lane.modulators[i]); !why.empty())
        return fail(node.id, "modulator " + std::to_string(i) + " of '" + lane.param + "': " + why);
    for (size_t i = 0; i < lane.points.size(); ++i) {
      const auto& p = lane.points[i];
      const auto where = "automation of '" + lane.param + "', point " + std::to_string(i) + ": ";
      if (p.frame < -(int64_t{1} << 50) || p.frame > (int64_t{1} << 50))
        return fail(node.id, where + "frame outside +-2^50");
      if (i > 0 && p.frame <= lane.points[i - 1].frame)
        return fail(node.id, where + "frames must increase");
      if (!std::isfinite(p.value) || p.value < spec->min_value || p.value > spec->max_value)
        return fail(node.id, where + "value " + std::to_string(p.value) + " outside [" +
                               std::to_string(spec->min_value) + ", " +
                               std::to_string(spec->max_value) + "]");
      if (static_cast<uint8_t>(p.curve) > static_cast<uint8_t>(curve_kind::exponential))
        return fail(node.id, where + "unknown curve");
      if (p.curve == curve_kind::exponential && i + 1 < lane.points.size() &&
          !(p.value > 0 && lane.points[i + 1].value > 0))
        return fail(node.id, where + "an exponential curve needs positive values at both ends");
    }
  }
  return std::nullopt;
}

// Events are what an instrument plays: known channel messages, in order, on
// the timeline.
std::optional<graph_error> check_events(const render_node& node) {
  if (node.events.empty())
    return std::nullopt;
  if (!plays_events(node.kind))
    return fail(node.id, "only an instrument, sampler or synth node takes MIDI events");
  if (node.events.size() > max_events)
    return fail(node.id, "more than 2^22 MIDI events");
  for (size_t i = 0; i < node.events.size(); ++i) {
    const auto& e = node.events[i];
    const auto where = "MIDI event " + std::to_string(i) + ": ";
    if (e.frame < 0 || e.frame > (int64_t{1} << 50))
      return fail(node.id, where + "frame outside [0, 2^50]");
    if (e.status != midi_status::note_off && e.status != midi_status::note_on &&
        e.status != midi_status::control_change && e.status != midi_status::pitch_bend)
      return fail(node.id, where + "status " + std::to_string(e.status) +
                             " is not a note off, note on, control change or pitch bend "
                             "on channel 1");
    if (e.data1 > 127 || e.data2 > 127)
      return fail(node.id, where + "a data byte is above 127");
    if (i > 0) {
      const auto& prev = node.events[i - 1];
      if (e.frame < prev.frame ||
          (e.frame == prev.frame && event_rank(e) < event_rank(prev)))
        return fail(node.id, where + "out of order (by frame, then note-offs, controllers, "
                                     "note-ons)");
    }
  }
  return std::nullopt;
}

std::optional<graph_error> check_params(const render_node& node) {
  auto specs = parameters_of(node.kind);
  for (const auto& p : node.params) {
    auto spec = std::find_if(specs.begin(), specs.end(),
                             [&](const parameter_spec& s) { return s.name == p.name; });
    if (spec == specs.end())
      return fail(node.id, "unknown parameter '" + p.name + "' for a " +
                             std::string{to_string(node.kind)} + " node");
    if (!std::isfinite(p.value) || p.value < spec->min_value || p.value > spec->max_value)
      return fail(node.id, "parameter '" + p.name + "' = " + std::to_string(p.value) +
                             " is outside [" + std::to_string(spec->min_value) + ", " +
                             std::to_string(spec->max_value) + "]");
    auto dup = std::count_if(node.params.begin(), node.params.end(),
                             [&](const parameter& q) { return q.name == p.name; });
    if (dup > 1)
      return fail(node.id, "parameter '" + p.name + "' is given twice");
  }
  for (const auto& spec : specs) {
    if (!spec.required)
      continue;
    auto found = std::any_of(node.params.begin(), node.params.end(),
                             [&](const parameter& p) { return p.name == spec.name; });
    if (!found)
      return fail(node.id, "missing required parameter '" + std::string{spec.name} + "'");
  }
  return std::nullopt;
}

std::optional<graph_error> check_kind(const render_graph& graph, const render_node& node) {
  const auto n_inputs = node.inputs.size();
  auto input_channels = [&](size_t i) { return graph.nodes[node.inputs[i]].channels; };
  switch (node.kind) {
    case node_kind::clip_source: {
      if (n_inputs != 0)
        return fail(node.id, "a clip_source node takes no inputs");
      if (!node.media)
        return fail(node.id, "a clip_source node needs a media region");
      const auto& m = *node.media;
      if (m.media_index >= graph.media.size())
        return fail(node.id, "media index " + std::to_string(m.media_index) + " does not exist");
      const auto& media = graph.media[m.media_index];
      if (m.timeline_start < 0 || m.timeline_start > (int64_t{1} << 50) ||
          m.length > (int64_t{1} << 50))
        return fail(node.id, "media region lies outside [0, 2^50) frames");
      if (m.length <= 0 || m.source_offset < 0)
        return fail(node.id, "media region has a negative offset or an empty length");
      if (m.loop_length != 0) {
        if (m.loop_length < 0 || m.loop_start < 0 || m.loop_start > media.frames ||
            m.loop_length > media.frames - m.loop_start)
          return fail(node.id, "loop [" + std::to_string(m.loop_start) + ", " +
                                 std::to_string(m.loop_start + m.loop_length) +
                                 ") lies outside media '" + media.media_id + "' (" +
                                 std::to_string(media.frames) + " frames)");
        if (m.source_offset >= m.loop_start + m.loop_length)
          return fail(node.id, "the region starts at frame " + std::to_string(m.source_offset) +
                                 ", past the end of its loop");
      } else if (m.source_offset > media.frames || m.length > media.frames - m.source_offset)
        return fail(node.id, "media region [" + std::to_string(m.source_offset) + ", " +
                               std::to_string(m.source_offset + m.length) +
                               ") reaches past the end of media '" + media.media_id + "' (" +
                               std::to_string(media.frames) + " frames)");
      auto fades = param_or(node, "fade_in_frames", 0) + param_or(node, "fade_out_frames", 0);
      if (fades > static_cast<double>(m.length))
        return fail(node.id, "fade in and fade out together are longer than the region");
      return std::nullopt;
    }
    case node_kind::mix:
      if (n_inputs == 0)
        return fail(node.id, "a mix node needs at least one input");
      for (size_t i = 0; i < n_inputs; ++i)
        if (input_channels(i) != node.channels)
          return fail(node.id, "input " + std::to_string(node.inputs[i]) + " has " +
                                 std::to_string(input_channels(i)) + " channels, the mix has " +
                                 std::to_string(node.channels));
      return std::nullopt;
    case node_kind::gain:
    case node_kind::output:
    case node_kind::delay:
    case node_kind::test_fault:
      if (n_inputs != 1)
        return fail(node.id, "a " + std::string{to_string(node.kind)} +
                               " node takes exactly one input");
      if (input_channels(0) != node.channels)
        return fail(node.id, "input and output channel counts differ");
      if (node.kind == node_kind::output) {
        auto bits = param_or(node, "bits", 0);
        if (bits != 0 && bits != 8 && bits != 16 && bits != 24 && bits != 32)
          return fail(node.id, "bits must be 0 (float), 8, 16, 24 or 32");
      }
      return std::nullopt;
    case node_kind::polarity:
    case node_kind::eq:
    case node_kind::limiter:
    case node_kind::saturation:
    case node_kind::meter:
      if (n_inputs != 1)
        return fail(node.id, "a " + std::string{to_string(node.kind)} +
                               " node takes exactly one input");
      if (input_channels(0) != node.channels)
        return fail(node.id, "input and output channel counts differ");
      return std::nullopt;
    case node_kind::compressor:
    case node_kind::gate:
      // Input 1, if present, is the sidechain: it drives the detector only,
      // so its channel count is free.
      if (n_inputs != 1 && n_inputs != 2)
        return fail(node.id, "a " + std::string{to_string(node.kind)} +
                               " node takes one input and an optional sidechain");
      if (input_channels(0) != node.channels)
        return fail(node.id, "input and output channel counts differ");
      return std::nullopt;
    case node_kind::convolution:
      if (n_inputs != 1)
        return fail(node.id, "a convolution node takes exactly one input");
      if (input_channels(0) != node.channels)
        return fail(node.id, "input and output channel counts differ");
      if (!node.media || node.media->media_index >= graph.media.size())
        return fail(node.id, "a convolution node needs an impulse response (a media region)");
      return std::nullopt;
    case node_kind::sampler:
      if (!node.media || node.media->media_index >= graph.media.size())
        return fail(node.id, "a sampler node needs a media region to play");
      [[fallthrough]];
    case node_kind::instrument:
    case node_kind::synth:
      if (n_inputs != 0)
        return fail(node.id, "an instrument node takes no inputs (it plays its MIDI events)");
      return std::nullopt;
    case node_kind::surround_pan:
      if (n_inputs != 1 || (input_channels(0) != 1 && input_channels(0) != 2))
        return fail(node.id, "a surround_pan node takes one mono or stereo input");
      if (node.channels != 2 && node.channels != 6 && node.channels != 8 && node.channels != 12)
        return fail(node.id, "a surround_pan node feeds a stereo, 5.1, 7.1 or 7.1.4 bus "
                             "(2, 6, 8 or 12 channels), not " + std::to_string(node.channels));
      return std::nullopt;
    case node_kind::fold_down: {
      if (n_inputs != 1)
        return fail(node.id, "a fold_down node takes exactly one input");
      const auto from = input_channels(0);
      const bool known_from = from == 2 || from == 6 || from == 8 || from == 12;
      const bool known_to = node.channels == 1 || node.channels == 2 || node.channels == 6 ||
                            node.channels == 8;
      if (!known_from || !known_to || node.channels >= from)
        return fail(node.id, "a fold_down node folds 7.1.4, 7.1, 5.1 or stereo down to fewer "
                             "channels (12, 8, 6, 2 -> 8, 6, 2, 1), not " + std::to_string(from) +
                             " -> " + std::to_string(node.channels));
      return std::nullopt;
    }
    case node_kind::pan:
      if (n_inputs != 1)
        return fail(node.id, "a pan node takes exactly one input");
      if (node.channels != 2 || (input_channels(0) != 1 && input_channels(0) != 2))
        return fail(node.id, "a pan node turns a mono or stereo input into stereo");
      return std::nullopt;
  }
  return fail(node.id, "unknown node kind " + std::to_string(static_cast<int>(node.kind)));
}

} // namespace

std::optional<graph_error> validate(const render_graph& graph) {
  if (graph.sample_rate < 1000 || graph.sample_rate > 768000)
    return graph_error{std::nullopt, "sample rate " + std::to_string(graph.sample_rate) +
                                       " Hz is outside [1000, 768000]"};
  if (graph.first_frame < 0 || graph.frame_count <= 0)
    return graph_error{std::nullopt, "the time span is empty or starts before frame 0"};
  if (graph.output_latency < 0 || graph.output_latency > (int64_t{1} << 32))
    return graph_error{std::nullopt, "output latency " + std::to_string(graph.output_latency) +
                                       " is outside [0, 2^32] frames"};
  if (graph.precision != sample_precision::float32 && graph.precision != sample_precision::float64)
    return graph_error{std::nullopt, "unknown sample precision " +
                                       std::to_string(static_cast<int>(graph.precision))};
  if (graph.nodes.empty())
    return graph_error{std::nullopt, "the graph has no nodes"};
  if (graph.oversample != 1 && graph.oversample != 2 && graph.oversample != 4 &&
      graph.oversample != 8)
    return graph_error{std::nullopt, "the default oversampling " +
                                       std::to_string(graph.oversample) +
                                       " is not 1, 2, 4 or 8"};
  if (graph.partitions.empty())
    return graph_error{std::nullopt, "the graph has no partitions"};
  for (size_t i = 0; i < graph.media.size(); ++i)
    if (graph.media[i].channels == 0 || graph.media[i].channels > max_channels ||
        graph.media[i].frames < 0)
      return graph_error{std::nullopt, "media " + std::to_string(i) + " has an invalid shape"};

  const auto n = graph.nodes.size();
  size_t outputs = 0;
  for (size_t i = 0; i < n; ++i) {
    const auto& node = graph.nodes[i];
    if (node.id != i)
      return fail(static_cast<uint32_t>(i), "id " + std::to_string(node.id) +
                                              " does not match its position");
    if (node.channels == 0 || node.channels > max_channels)
      return fail(node.id, "channel count " + std::to_string(node.channels) +
                             " is outside [1, " + std::to_string(max_channels) + "]");
    if (node.partition >= graph.partitions.size())
      return fail(node.id, "partition " + std::to_string(node.partition) + " does not exist");
    for (auto in : node.inputs) {
      if (in >= n)
        return fail(node.id, "input " + std::to_string(in) + " does not exist");
      if (graph.nodes[in].kind == node_kind::output)
        return fail(node.id, "the output node cannot feed another node");
    }
    if (node.kind == node_kind::output)
      ++outputs;
    if (auto err = check_automation(node))
      return err;
    if (auto err = check_params(node))
      return err;
    if (auto err = check_events(node))
      return err;
    if (const double f = param_or(node, "oversample", 1.0); f != 1 && f != 2 && f != 4 && f != 8)
      return fail(node.id, "oversample must be 1, 2, 4 or 8");
    if (!node.embedded_audio.empty()) {
      if (!embeds_media(node.kind))
        return fail(node.id, "only a convolution or sampler node embeds audio");
      if (!node.media || node.media->media_index >= graph.media.size())
        return fail(node.id, "embedded audio without a media region");
      if (node.embedded_audio.size() > max_embedded_samples)
        return fail(node.id, "embedded audio of " + std::to_string(node.embedded_audio.size()) +
                               " samples is more than 2^24");
      const auto& media = graph.media[node.media->media_index];
      if (node.embedded_audio.size() !=
          size_t{media.channels} * static_cast<size_t>(node.media->length))
        return fail(node.id, "embedded audio of " + std::to_string(node.embedded_audio.size()) +
                               " samples is not the media region (" +
                               std::to_string(media.channels) + " channels x " +
                               std::to_string(node.media->length) + " frames)");
    }
    if (auto err = check_kind(graph, node))
      return err;
  }
  if (outputs != 1 || graph.output_node >= n ||
      graph.nodes[graph.output_node].kind != node_kind::output)
    return graph_error{std::nullopt, "the graph needs exactly one output node, named by "
                                     "output_node"};

  // Kahn's algorithm over nodes, then over partitions: both must be acyclic.
  auto order = topological_order(graph);
  if (order.size() != n) {
    std::vector<bool> placed(n, false);
    for (auto id : order)
      placed[id] = true;
    // Walk back along unplaced inputs until a node repeats: that node is on
    // a cycle (the first unplaced one may merely sit downstream of it).
    auto at = static_cast<uint32_t>(std::find(placed.begin(), placed.end(), false) - placed.begin());
    std::vector<bool> visited(n, false);
    while (!visited[at]) {
      visited[at] = true;
      for (auto in : graph.nodes[at].inputs)
        if (!placed[in]) {
          at = in;
          break;
        }
    }
    return fail(at, "the node is part of a cycle");
  }
  const auto np = graph.partitions.size();
  std::vector<std::vector<uint32_t>> succ(np);
  std::vector<size_t> indeg(np, 0);
  for (const auto& node : graph.nodes)
    for (auto in : node.inputs) {
      auto from = graph.nodes[in].partition;
      if (from != node.partition &&
          std::find(succ[from].begin(), succ[from].end(), node.partition) == succ[from].end()) {
        succ[from].push_back(node.partition);
        ++indeg[node.partition];
      }
    }
  std::queue<uint32_t> ready;
  for (uint32_t p = 0; p < np; ++p)
    if (indeg[p] == 0)
      ready.push(p);
  size_t seen = 0;
  while (!ready.empty()) {
    auto p = ready.front();
    ready.pop();
    ++seen;
    for (auto q : succ[p])
      if (--indeg[q] == 0)
        ready.push(q);
  }
  if (seen != np)
    return graph_error{std::nullopt, "the partitions depend on each other in a cycle"};
  return std::nullopt;
}

std::vector<uint32_t> topological_order(const render_graph& graph) {
  const auto n = graph.nodes.size();
  std::vector<size_t> indeg(n, 0);
  std::vector<std::vector<uint32_t>> succ(n);
  for (const auto& node : graph.nodes)
    for (auto in : node.inputs)
      if (in < n) {
        succ[in].push_back(node.id);
        ++indeg[node.id];
      }
  // A min-heap keeps ties in id order, so the order depends on the graph only.
  std::priority_queue<uint32_t, std::vector<uint32_t>, std::greater<>> ready;
  for (uint32_t i = 0; i < n; ++i)
    if (indeg[i] == 0)
      ready.push(i);
  std::vector<uint32_t> order;
  order.reserve(n);
  while (!ready.empty()) {
    auto id = ready.top();
    ready.pop();
    order.push_back(id);
    for (auto s : succ[id])
      if (--indeg[s] == 0)
        ready.push(s);
  }
  return order;
}

} // namespace loophole::signal
