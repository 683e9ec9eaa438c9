#include "messages/wire/signal_protocol.hpp"

#include <msgpack.hpp>

#include <cstring>

namespace loophole::wire {

namespace {

// -- the wire form of each message (MessagePack maps, append-only keys) ------

struct wire_param {
  std::string name;
  double value = 0;
  MSGPACK_DEFINE_MAP(name, value)
};

struct wire_region {
  uint32_t media_index = 0;
  int64_t timeline_start = 0;
  int64_t source_offset = 0;
  int64_t length = 0;
  int64_t loop_start = 0;
  int64_t loop_length = 0;
  MSGPACK_DEFINE_MAP(media_index, timeline_start, source_offset, length, loop_start, loop_length)
};

struct wire_modulation {
  uint8_t kind = 0;
  uint8_t shape = 0;
  double depth = 0;
  bool in_db = false;
  std::vector<int64_t> clock_frames;
  std::vector<double> clock_values;
  std::vector<double> steps;
  double attack_frames = 0;
  double release_frames = 0;
  MSGPACK_DEFINE_MAP(kind, shape, depth, in_db, clock_frames, clock_values, steps, attack_frames,
                     release_frames)
};

struct wire_lane {
  std::string param;
  std::vector<int64_t> frames;
  std::vector<double> values;
  std::vector<uint8_t> curves;
  std::vector<wire_modulation> modulators;
  MSGPACK_DEFINE_MAP(param, frames, values, curves, modulators)
};

struct wire_node {
  uint32_t id = 0;
  std::string label;
  uint8_t kind = 0;
  uint32_t partition = 0;
  uint16_t channels = 0;
  std::vector<uint32_t> inputs;
  std::vector<wire_param> params;
  std::optional<wire_region> media;
  std::vector<wire_lane> automation;
  /// MIDI events, 11 bytes each: the frame (int64, little-endian), status,
  /// data1, data2. One binary string, not an array, so the array limit of the
  /// unpacker does not cap the events of a node.
  std::vector<char> events;
  /// render_node::embedded_audio: IEEE floats, little-endian, one binary
  /// string (no array limit; at most max_embedded_samples samples).
  std::vector<char> embedded_audio;
  MSGPACK_DEFINE_MAP(id, label, kind, partition, channels, inputs, params, media, automation,
                     events, embedded_audio)
};

constexpr size_t event_bytes = 11;

std::vector<char> events_to_wire(const std::vector<signal::midi_event>& events) {
  std::vector<char> out;
  out.reserve(events.size() * event_bytes);
  for (const auto& e : events) {
    const auto frame = static_cast<uint64_t>(e.frame);
    for (int b = 0; b < 8; ++b)
      out.push_back(static_cast<char>(frame >> (8 * b) & 0xFF));
    for (uint8_t x : {e.status, e.data1, e.data2})
      out.push_back(static_cast<char>(x));
  }
  return out;
}

std::vector<signal::midi_event> events_from_wire(uint32_t node, const std::vector<char>& in) {
  if (in.size() % event_bytes != 0)
    throw std::runtime_error("node " + std::to_string(node) + ": MIDI events of " +
                             std::to_string(in.size()) + " bytes, not a multiple of 11");
  std::vector<signal::midi_event> events(in.size() / event_bytes);
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  for (auto& e : events) {
    uint64_t frame = 0;
    for (int b = 0; b < 8; ++b)
      frame |= uint64_t{p[b]} << (8 * b);
    e.frame = static_cast<int64_t>(frame);
    e.status = p[8];
    e.data1 = p[9];
    e.data2 = p[10];
    p += event_bytes;
  }
  return events;
}

std::vector<char> audio_to_wire(const std::vector<float>& samples) {
  std::vector<char> out(samples.size() * sizeof(float));
  for (size_t i = 0; i < samples.size(); ++i) {
    uint32_t bits = 0;
    std::memcpy(&bits, &samples[i], sizeof bits);
    for (size_t b = 0; b < 4; ++b)
      out[4 * i + b] = static_cast<char>(bits >> (8 * b) & 0xFF);
  }
  return out;
}

std::vector<float> audio_from_wire(uint32_t node, const std::vector<char>& in) {
  if (in.size() % sizeof(float) != 0)
    throw std::runtime_error("node " + std::to_string(node) + ": embedded audio of " +
                             std::to_string(in.size()) + " bytes is not whole samples");
  if (in.size() / sizeof(float) > signal::max_embedded_samples)
    throw std::runtime_error("node " + std::to_string(node) + ": embedded audio of " +
                             std::to_string(in.size() / sizeof(float)) +
                             " samples is more than 2^24");
  std::vector<float> samples(in.size() / sizeof(float));
  for (size_t i = 0; i < samples.size(); ++i) {
    uint32_t bits = 0;
    for (size_t b = 0; b < 4; ++b)
      bits |= uint32_t{static_cast<unsigned char>(in[4 * i + b])} << (8 * b);
    std::memcpy(&samples[i], &bits, sizeof bits);
  }
  return samples;
}

struct wire_media {
  std::string media_id;
  uint16_t channels = 0;
  int64_t frames = 0;
  MSGPACK_DEFINE_MAP(media_id, channels, frames)
};

struct wire_graph {
  uint32_t format_version = signal::render_graph::format_version;
  uint32_t sample_rate = 0;
  uint8_t mode = 0;
  int64_t first_frame = 0;
  int64_t frame_count = 0;
  int64_t output_latency = 0;
  std::vector<wire_media> media;
  std::vector<wire_node> nodes;
  std::vector<std::string> partitions;
  uint32_t output_node = 0;
  uint8_t oversample = 1;
  uint8_t precision = 0;
  MSGPACK_DEFINE_MAP(format_version, sample_rate, mode, first_frame, frame_count,
                     output_latency, media, nodes, partitions, output_node, oversample,
                     precision)
};

struct wire_state {
  uint32_t node = 0;
  msgpack::type::raw_ref bytes;
  MSGPACK_DEFINE_MAP(node, bytes)
};

struct wire_load_job {
  uint64_t job = 0;
  wire_graph graph;
  std::vector<uint32_t> partitions;
  std::string bus_shm;
  uint64_t bus_bytes = 0;
  uint32_t slots = 0;
  uint32_t segment_frames = 0;
  uint32_t block_frames = 0;
  std::vector<wire_state> restore;
  uint64_t recorder_offset = no_recorder;
  MSGPACK_DEFINE_MAP(job, graph, partitions, bus_shm, bus_bytes, slots, segment_frames,
                     block_frames, restore, recorder_offset)
};

struct wire_hello {
  uint32_t protocol = 0;
  int64_t pid = 0;
  std::string instance;
  std::string build;
  MSGPACK_DEFINE_MAP(protocol, pid, instance, build)
};

struct wire_job {
  uint64_t job = 0;
  MSGPACK_DEFINE_MAP(job)
};

struct wire_render_task {
  uint64_t job = 0;
  uint64_t task = 0;
  std::vector<uint32_t> partitions;
  uint32_t slot = 0;
  int64_t first_frame = 0;
  uint32_t frames = 0;
  bool checkpoint = false;
  MSGPACK_DEFINE_MAP(job, task, partitions, slot, first_frame, frames, checkpoint)
};

struct wire_task_done {
  uint64_t job = 0;
  uint64_t task = 0;
  std::vector<uint32_t> partitions;
  double peak = 0;
  uint64_t elapsed_ns = 0;
  std::vector<wire_state> states;
  MSGPACK_DEFINE_MAP(job, task, partitions, peak, elapsed_ns, states)
};

struct wire_failure {
  uint64_t job = 0;
  uint64_t task = 0;
  uint32_t code = 0;
  std::string message;
  MSGPACK_DEFINE_MAP(job, task, code, message)
};

struct wire_heartbeat {
  uint64_t sequence = 0;
  uint64_t tasks_done = 0;
  MSGPACK_DEFINE_MAP(sequence, tasks_done)
};

struct wire_empty {
  bool reserved = false; // MSGPACK_DEFINE_MAP needs at least one member
  MSGPACK_DEFINE_MAP(reserved)
};

// -- conversions between the wire form and the library types ----------------

wire_graph to_wire(const signal::render_graph& g) {
  wire_graph w;
  w.sample_rate = g.sample_rate;
  w.mode = static_cast<uint8_t>(g.mode);
  w.first_frame = g.first_frame;
  w.frame_count = g.frame_count;
  w.output_latency = g.output_latency;
  for (const auto& m : g.media)
    w.media.push_back({m.media_id, m.channels, m.frames});
  for (const auto& n : g.nodes) {
    wire_node wn{n.id, n.label, static_cast<uint8_t>(n.kind), n.partition, n.channels,
                 n.inputs, {}, std::nullopt, {}, events_to_wire(n.events),
                 audio_to_wire(n.embedded_audio)};
    for (const auto& p : n.params)
      wn.params.push_back({p.name, p.value});
    if (n.media)
      wn.media = wire_region{n.media->media_index,   n.media->timeline_start,
                             n.media->source_offset, n.media->length,
                             n.media->loop_start,    n.media->loop_length};
    for (const auto& lane : n.automation) {
      wire_lane wl;
      wl.param = lane.param;
      for (const auto& p : lane.points) {
        wl.frames.push_back(p.frame);
        wl.values.push_back(p.value);
        wl.curves.push_back(static_cast<uint8_t>(p.curve));
      }
      for (const auto& m : lane.modulators) {
        wire_modulation wm{static_cast<uint8_t>(m.kind), static_cast<uint8_t>(m.shape), m.depth,
                           m.in_db, {}, {}, m.steps, m.attack_frames, m.release_frames};
        for (const auto& p : m.clock) {
          wm.clock_frames.push_back(p.frame);
          wm.clock_values.push_back(p.value);
        }
        wl.modulators.push_back(std::move(wm));
      }
      wn.automation.push_back(std::move(wl));
    }
    w.nodes.push_back(std::move(wn));
  }
  for (const auto& p : g.partitions)
    w.partitions.push_back(p.label);
  w.output_node = g.output_node;
  w.oversample = g.oversample;
  w.precision = static_cast<uint8_t>(g.precision);
  return w;
}

signal::render_graph from_wire(const wire_graph& w) {
  if (w.format_version != signal::render_graph::format_version)
    throw std::runtime_error("render graph format " + std::to_string(w.format_version) +
                             " is not the supported " +
                             std::to_string(signal::render_graph::format_version));
  if (w.mode > static_cast<uint8_t>(signal::render_mode::anticipative))
    throw std::runtime_error("unknown render mode " + std::to_string(w.mode));
  if (w.precision > static_cast<uint8_t>(signal::sample_precision::float64))
    throw std::runtime_error("unknown sample precision " + std::to_string(w.precision));
  signal::render_graph g;
  g.sample_rate = w.sample_rate;
  g.mode = static_cast<signal::render_mode>(w.mode);
  g.first_frame = w.first_frame;
  g.frame_count = w.frame_count;
  g.output_latency = w.output_latency;
  for (const auto& m : w.media)
    g.media.push_back({m.media_id, m.channels, m.frames});
  for (const auto& wn : w.nodes) {
    if (wn.kind > static_cast<uint8_t>(signal::last_node_kind))
      throw std::runtime_error("node " + std::to_string(wn.id) + ": unknown node kind " +
                               std::to_string(wn.kind));
    signal::render_node n;
    n.id = wn.id;
    n.label = wn.label;
    n.kind = static_cast<signal::node_kind>(wn.kind);
    n.partition = wn.partition;
    n.channels = wn.channels;
    n.inputs = wn.inputs;
    for (const auto& p : wn.params)
      n.params.push_back({p.name, p.value});
    if (wn.media)
      n.media = signal::media_region{wn.media->media_index,   wn.media->timeline_start,
                                     wn.media->source_offset, wn.media->length,
                                     wn.media->loop_start,    wn.media->loop_length};
    for (const auto& wl : wn.automation) {
      if (wl.frames.size() != wl.values.size() || wl.frames.size() != wl.curves.size())
        throw std::runtime_error("node " + std::to_string(wn.id) + ": automation of '" +
                                 wl.param + "' has lists of different lengths");
      signal::automation_lane lane;
      lane.param = wl.param;
      for (size_t i = 0; i < wl.frames.size(); ++i) {
        if (wl.curves[i] > static_cast<uint8_t>(signal::curve_kind::exponential))
          throw std::runtime_error("node " + std::to_string(wn.id) + ": unknown curve " +
                                   std::to_string(wl.curves[i]));
        lane.points.push_back(
          {wl.frames[i], wl.values[i], static_cast<signal::curve_kind>(wl.curves[i])});
      }
      for (const auto& wm : wl.modulators) {
        // Kinds and shapes are range-checked by signal::validate.
        if (wm.clock_frames.size() != wm.clock_values.size())
          throw std::runtime_error("node " + std::to_string(wn.id) + ": a modulator of '" +
                                   wl.param + "' has clock lists of different lengths");
        signal::modulation m;
        m.kind = static_cast<signal::modulator_kind>(wm.kind);
        m.shape = static_cast<signal::lfo_shape>(wm.shape);
        m.depth = wm.depth;
        m.in_db = wm.in_db;
        for (size_t i = 0; i < wm.clock_frames.size(); ++i)
          m.clock.push_back({wm.clock_frames[i], wm.clock_values[i], signal::curve_kind::linear});
        m.steps = wm.steps;
        m.attack_frames = wm.attack_frames;
        m.release_frames = wm.release_frames;
        lane.modulators.push_back(std::move(m));
      }
      n.automation.push_back(std::move(lane));
    }
    n.events = events_from_wire(wn.id, wn.events);
    n.embedded_audio = audio_from_wire(wn.id, wn.embedded_audio);
    g.nodes.push_back(std::move(n));
  }
  for (const auto& p : w.partitions)
    g.partitions.push_back({p});
  g.output_node = w.output_node;
  g.oversample = w.oversample;
  g.precision = static_cast<signal::sample_precision>(w.precision);
  return g;
}

std::vector<wire_state> to_wire(const std::vector<node_state>& states) {
  std::vector<wire_state> w;
  w.reserve(states.size());
  for (const auto& s : states)
    w.push_back({s.node, msgpack::type::raw_ref(s.bytes.data(),
                                                static_cast<uint32_t>(s.bytes.size()))});
  return w;
}

std::vector<node_state> from_wire(const std::vector<wire_state>& w) {
  std::vector<node_state> states;
  states.reserve(w.size());
  for (const auto& s : w)
    states.push_back({s.node, std::string(s.bytes.ptr, s.bytes.size)});
  return states;
}

template <class Body>
std::string pack(message_type type, const Body& body) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(3);
  pk.pack(protocol_version);
  pk.pack(static_cast<uint8_t>(type));
  pk.pack(body);
  return {buf.data(), buf.size()};
}

struct encoder {
  std::string operator()(const hello& m) const {
    return pack(message_type::hello, wire_hello{m.protocol, m.pid, m.instance, m.build});
  }
  std::string operator()(const load_job& m) const {
    wire_load_job w{m.job,          to_wire(m.graph),  m.partitions,
                    m.bus_shm,      m.bus_bytes,       m.slots,
                    m.segment_frames, m.block_frames,  to_wire(m.restore),
                    m.recorder_offset};
    return pack(message_type::load_job, w);
  }
  std::string operator()(const job_ready& m) const {
    return pack(message_type::job_ready, wire_job{m.job});
  }
  std::string operator()(const render_task& m) const {
    return pack(message_type::render_task,
                wire_render_task{m.job, m.task, m.partitions, m.slot, m.first_frame, m.frames,
                                 m.checkpoint});
  }
  std::string operator()(const task_done& m) const {
    return pack(message_type::task_done,
                wire_task_done{m.job, m.task, m.partitions, m.peak, m.elapsed_ns,
                               to_wire(m.states)});
  }
  std::string operator()(const failure& m) const {
    return pack(message_type::failure, wire_failure{m.job, m.task, m.code, m.message});
  }
  std::string operator()(const heartbeat& m) const {
    return pack(message_type::heartbeat, wire_heartbeat{m.sequence, m.tasks_done});
  }
  std::string operator()(const unload_job& m) const {
    return pack(message_type::unload_job, wire_job{m.job});
  }
  std::string operator()(const shutdown&) const {
    return pack(message_type::shutdown, wire_empty{});
  }
};

// Limits of the unpacker: generous for real graphs, tiny next to memory.
const msgpack::unpack_limit limits{
  1u << 20, // array elements
  1u << 16, // map entries
  1u << 20, // string bytes
  max_frame_bytes, // binary bytes (node states: a delay line can be large)
  0,        // no ext types
  32,       // nesting depth
};

message decode_body(message_type type, const msgpack::object& body) {
  switch (type) {
    case message_type::hello: {
      auto w = body.as<wire_hello>();
      return hello{w.protocol, w.pid, w.instance, w.build};
    }
    case message_type::load_job: {
      auto w = body.as<wire_load_job>();
      return load_job{w.job,     from_wire(w.graph), w.partitions,       w.bus_shm,
                      w.bus_bytes, w.slots,          w.segment_frames,   w.block_frames,
                      from_wire(w.restore), w.recorder_offset};
    }
    case message_type::job_ready:
      return job_ready{body.as<wire_job>().job};
    case message_type::render_task: {
      auto w = body.as<wire_render_task>();
      return render_task{w.job,         w.task,   std::move(w.partitions), w.slot,
                         w.first_frame, w.frames, w.checkpoint};
    }
    case message_type::task_done: {
      auto w = body.as<wire_task_done>();
      return task_done{w.job,       w.task, std::move(w.partitions), w.peak,
                       w.elapsed_ns, from_wire(w.states)};
    }
    case message_type::failure: {
      auto w = body.as<wire_failure>();
      return failure{w.job, w.task, w.code, w.message};
    }
    case message_type::heartbeat: {
      auto w = body.as<wire_heartbeat>();
      return heartbeat{w.sequence, w.tasks_done};
    }
    case message_type::unload_job:
      return unload_job{body.as<wire_job>().job};
    case message_type::shutdown:
      return shutdown{};
  }
  throw std::runtime_error("unknown message type " + std::to_string(static_cast<int>(type)));
}

} // namespace

std::string_view to_string(message_type x) noexcept {
  switch (x) {
    case message_type::hello:
      return "hello";
    case message_type::load_job:
      return "load_job";
    case message_type::job_ready:
      return "job_ready";
    case message_type::render_task:
      return "render_task";
    case message_type::task_done:
      return "task_done";
    case message_type::failure:
      return "failure";
    case message_type::heartbeat:
      return "heartbeat";
    case message_type::unload_job:
      return "unload_job";
    case message_type::shutdown:
      return "shutdown";
  }
  return "unknown";
}

std::string encode(const message& msg) {
  return std::visit(encoder{}, msg);
}

decoded decode(std::string_view frame) noexcept {
  if (frame.size() > max_frame_bytes)
    return {std::nullopt, "frame of " + std::to_string(frame.size()) + " bytes exceeds the " +
                            std::to_string(max_frame_bytes) + "-byte limit"};
  try {
    size_t used = 0;
    auto handle = msgpack::unpack(frame.data(), frame.size(), used, nullptr, nullptr, limits);
    if (used != frame.size())
      return {std::nullopt, "a frame must hold exactly one message (" +
                              std::to_string(frame.size() - used) + " bytes left over)"};
    const auto& root = handle.get();
    if (root.type != msgpack::type::ARRAY || root.via.array.size != 3)
      return {std::nullopt, "a frame must be an array [version, type, body]"};
    const auto* items = root.via.array.ptr;
    auto version = items[0].as<uint32_t>();
    if (version != protocol_version)
      return {std::nullopt, "protocol version " + std::to_string(version) +
                              " is not the supported " + std::to_string(protocol_version)};
    auto type = items[1].as<uint8_t>();
    if (type < 1 || type > static_cast<uint8_t>(message_type::shutdown))
      return {std::nullopt, "unknown message type " + std::to_string(type)};
    if (items[2].type != msgpack::type::MAP)
      return {std::nullopt, "the body of a frame must be a map"};
    return {decode_body(static_cast<message_type>(type), items[2]), {}};
  } catch (const std::exception& e) {
    return {std::nullopt, std::string{"malformed frame: "} + e.what()};
  } catch (...) {
    return {std::nullopt, "malformed frame"};
  }
}

} // namespace loophole::wire
