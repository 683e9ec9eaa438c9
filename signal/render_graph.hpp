#pragma once

// The RenderGraph of the specification (section 4): a sample-domain,
// explicit, validated and acyclic description of everything Signal renders.
//
// Design aims:
// - Pulse builds it, Signal executes it; nothing in it refers to musical time,
//   files or the session: every value is already resolved to samples.
// - Structure only: no processing state lives here, so one graph can be
//   copied to any number of Signal instances and executed identically.
// - Summation order is the order of `render_node::inputs`, never the order in
//   which buffers arrive, so results do not depend on scheduling.
// - Nodes are grouped into partitions (one per track, one for the master bus);
//   a partition is the unit a Signal instance executes, and the buffers that
//   cross partitions are the only ones that travel between processes.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loophole::signal {

/// What a node computes. Numbering is part of the wire format: append only.
enum class node_kind : uint8_t {
  clip_source = 0, ///< Plays one region of a media buffer onto the timeline.
  mix = 1,         ///< Sums its inputs, in the order they are listed.
  gain = 2,        ///< Multiplies by a constant gain.
  pan = 3,         ///< Constant-power balance of a stereo (or mono) signal.
  output = 4,      ///< The graph's sink: quantises (with dither) and interleaves.
  delay = 5,       ///< A sample-accurate delay line with feedback (stateful).
  test_fault = 6,  ///< Fault injection ("test.fault"): crashes, hangs, NaN, leaks on cue.
  instrument = 7,  ///< Plays its MIDI events (a polyphonic sine synth; stateful).
  polarity = 8,    ///< Inverts the polarity of the channels in its mask.
  eq = 9,          ///< Up to 8 RBJ biquad bands in series (peak, shelves, passes, notch).
  compressor = 10, ///< Feed-forward compressor: peak/RMS, knee, lookahead, sidechain (input 1).
  limiter = 11,    ///< Lookahead limiter with a sample- or true-peak ceiling.
  gate = 12,       ///< Downward expander / gate with hold and range; sidechain (input 1).
  saturation = 13, ///< Waveshaper (tanh, cubic, hard clip), optionally oversampled.
  convolution = 14, ///< Partitioned FFT convolution with an impulse response from the media pool.
  meter = 15,      ///< Passes its input through; Pulse measures it (peak, RMS, loudness).
  sampler = 16,    ///< Instrument: plays a media region per note, pitched from a root key.
  synth = 17,      ///< Instrument: subtractive synth (oscillators, filter, envelopes).
  surround_pan = 18, ///< Places a mono or stereo input in a surround bus (azimuth, spread).
  fold_down = 19,  ///< Folds a surround bus down to fewer channels (ITU-R BS.775 coefficients).
};

/// The highest node_kind this build knows.
inline constexpr node_kind last_node_kind = node_kind::fold_down;

/// Whether nodes of `kind` play MIDI events (instrument, sampler, synth).
constexpr bool plays_events(node_kind kind) noexcept {
  return kind == node_kind::instrument || kind == node_kind::sampler || kind == node_kind::synth;
}

/// Returns the stable name of `x`, as used in session files and errors.
std::string_view to_string(node_kind x) noexcept;

/// Why a graph is rendered. Numbering is part of the wire format.
enum class render_mode : uint8_t { offline = 0, realtime = 1, anticipative = 2 };

std::string_view to_string(render_mode x) noexcept;

/// The sample type a graph is processed in (`loophole render --precision`):
/// every buffer between nodes, every sum and every node's audio state.
/// Media and embedded audio stay float (what a file decodes to). Numbering is
/// part of the wire format.
enum class sample_precision : uint8_t { float32 = 0, float64 = 1 };

std::string_view to_string(sample_precision x) noexcept;

/// Bytes of one sample of a graph processed in `x`.
constexpr uint32_t sample_bytes(sample_precision x) noexcept {
  return x == sample_precision::float64 ? 8u : 4u;
}

/// A resolved, constant parameter value. Automation will add per-sample
/// streams beside these; a node reads its parameters by name once, at
/// `prepare`, never while processing.
struct parameter {
  std::string name;
  double value = 0.0;
};

/// A region of a media buffer placed on the timeline (the `resolvedMedia`
/// of the specification's RenderNode). All values are frames at the graph's
/// sample rate.
struct media_region {
  uint32_t media_index = 0;   ///< Index into `render_graph::media`.
  int64_t timeline_start = 0; ///< First timeline frame the region covers.
  int64_t source_offset = 0;  ///< Frame of the media played at `timeline_start`.
  int64_t length = 0;         ///< Number of frames played.
  /// A loop: once playback reaches loop_start + loop_length it goes on from
  /// loop_start, for as long as the region lasts. loop_length 0: no loop.
  int64_t loop_start = 0;
  int64_t loop_length = 0;

  /// The media frame played `k` frames into the region (0 <= k < length).
  int64_t source_frame(int64_t k) const noexcept {
    const int64_t p = source_offset + k;
    const int64_t loop_end = loop_start + loop_length;
    if (loop_length <= 0 || p < loop_end)
      return p;
    return loop_start + (p - loop_start) % loop_length;
  }

  /// How many frames from `k` on are contiguous in the media (up to the
  /// next wrap of the loop, or the end of the region).
  int64_t contiguous_from(int64_t k) const noexcept {
    if (loop_length <= 0)
      return length - k;
    const int64_t to_wrap = loop_start + loop_length - source_frame(k);
    return to_wrap < length - k ? to_wrap : length - k;
  }
};

/// A media buffer Pulse provides, identified by the content hash of its file.
struct media_descriptor {
  std::string media_id;  ///< Content hash (hex), the media pool's identity.
  uint16_t channels = 0; ///< Channel count of the decoded buffer.
  int64_t frames = 0;    ///< Length of the decoded buffer at the graph's rate.
};

/// How an automation lane goes from one point to the next. Numbering is part
/// of the wire format.
enum class curve_kind : uint8_t {
  hold = 0,        ///< Keeps the point's value until the next point.
  linear = 1,      ///< Straight line to the next point's value.
  exponential = 2, ///< Constant ratio per frame (both values positive): linear in dB.
};

/// A breakpoint: from `frame` (timeline) on, `value`, going to the next
/// point along `curve`.
struct automation_point {
  int64_t frame = 0;
  double value = 0.0;
  curve_kind curve = curve_kind::linear;
};

/// What drives a modulator. Numbering is part of the wire format.
enum class modulator_kind : uint8_t {
  lfo = 0,      ///< A periodic wave of the clock's phase (cycles).
  steps = 1,    ///< A step sequencer: steps[floor(clock) mod n], the clock counting steps.
  follower = 2, ///< An envelope follower of the node's own input (peak of its channels).
};

/// LFO wave shapes, of the fractional phase f. Numbering is part of the wire format.
enum class lfo_shape : uint8_t {
  sine = 0,     ///< sin(2 pi f)
  triangle = 1, ///< 0 at f = 0, 1 at 1/4, -1 at 3/4
  square = 2,   ///< 1 for f < 1/2, else -1
  saw = 3,      ///< 2 f - 1
};

/// A modulator: a stream m[n] (the LFO's wave, the step's value or the
/// follower's envelope) applied to its lane's parameter with `depth`:
/// value + depth * m[n], or, for a gain (`in_db`), gain * 10^(depth * m[n] / 20).
/// The clock is resolved by Pulse from musical time: the phase in cycles (or
/// steps) at frames, linear in between and extended linearly past both ends,
/// so a tempo-synced LFO follows the tempo map.
struct modulation {
  modulator_kind kind = modulator_kind::lfo;
  lfo_shape shape = lfo_shape::sine;
  double depth = 0.0;
  bool in_db = false;
  std::vector<automation_point> clock; ///< lfo, steps: at least 2 points, increasing
  std::vector<double> steps;           ///< steps: the values
  double attack_frames = 0.0;          ///< follower: one-pole time constants
  double release_frames = 0.0;
};

/// A parameter that changes over time: its value at every frame comes from
/// the points (before the first: the first's value; after the last: the
/// last's; none: the constant parameter), then its modulators in order.
/// Replaces the constant parameter of the same name.
struct automation_lane {
  std::string param;
  std::vector<automation_point> points; ///< Strictly increasing frames.
  std::vector<modulation> modulators;
};

/// The modulator's clock (cycles or steps) at `frame`.
double clock_value(const modulation& m, int64_t frame) noexcept;

/// m[n] of an LFO or step modulator at `frame` (not a follower: it has state).
double modulator_value(const modulation& m, int64_t frame) noexcept;

/// The value of `lane` at timeline frame `frame`.
double automation_value(const automation_lane& lane, int64_t frame) noexcept;

/// A MIDI channel message at a timeline frame (MIDI channel 1 only). An
/// instrument node applies it before it computes that frame.
struct midi_event {
  int64_t frame = 0;
  uint8_t status = 0; ///< One of the midi_status values.
  uint8_t data1 = 0;  ///< Pitch, controller, or the low 7 bits of a bend.
  uint8_t data2 = 0;  ///< Velocity, value, or the high 7 bits of a bend.

  bool operator==(const midi_event&) const = default;
};

/// The status bytes an instrument node understands. Numbering is MIDI's.
namespace midi_status {
inline constexpr uint8_t note_off = 0x80;
inline constexpr uint8_t note_on = 0x90; ///< Velocity 0 means note off, as in MIDI.
inline constexpr uint8_t control_change = 0xB0;
inline constexpr uint8_t pitch_bend = 0xE0;
} // namespace midi_status

/// The most events one node may hold.
inline constexpr size_t max_events = size_t{1} << 22;

/// The order of events at one frame: note-offs (0), then controllers and
/// bends (1), then note-ons (2), so a note ending where the same pitch starts
/// again frees its voice first.
int event_rank(const midi_event& e) noexcept;

/// One node of the graph (the specification's RenderNode).
struct render_node {
  uint32_t id = 0;        ///< Equal to the node's index in `render_graph::nodes`.
  std::string label;      ///< Human-readable place, used in every error.
  node_kind kind = node_kind::mix;
  uint32_t partition = 0; ///< Index into `render_graph::partitions`.
  uint16_t channels = 0;  ///< Channel count of the node's output.
  std::vector<uint32_t> inputs;  ///< Node ids; summation order for `mix`.
  std::vector<parameter> params; ///< Resolved parameters, see node_catalog.
  std::optional<media_region> media;
  std::vector<automation_lane> automation; ///< Automated parameters (the specification's curves).
  /// MIDI events (instrument nodes only), sorted by frame, then event_rank.
  std::vector<midi_event> events;
  /// A convolution's impulse response or a sampler's sample: `media`'s region
  /// read whole, planar (channel c at [c * length, (c + 1) * length)), at the
  /// graph's rate. Pulse fills it before the graph goes to Signal, which never
  /// opens files (docs/node-graph.md, "Media a node needs whole").
  std::vector<float> embedded_audio;
};

/// The most samples (all channels) `render_node::embedded_audio` may hold.
inline constexpr size_t max_embedded_samples = size_t{1} << 24;

/// Whether nodes of `kind` need their media region whole, embedded in the
/// graph (convolution, sampler), rather than streamed per segment.
constexpr bool embeds_media(node_kind kind) noexcept {
  return kind == node_kind::convolution || kind == node_kind::sampler;
}

/// The automation lane of `param` on `node`, or null.
const automation_lane* lane_of(const render_node& node, std::string_view param) noexcept;

/// A group of nodes executed together by one Signal instance.
struct partition_info {
  std::string label; ///< A track id, or "master".
};

/// The complete render graph (specification section 4).
struct render_graph {
  /// Bumped whenever the meaning of a field changes.
  static constexpr uint32_t format_version = 1;

  uint32_t sample_rate = 0;
  render_mode mode = render_mode::offline;
  int64_t first_frame = 0; ///< The time span: first timeline frame rendered.
  int64_t frame_count = 0; ///< The time span: number of frames rendered.
  /// Frames the signal at the output lags the timeline (plugin delay
  /// compensation, docs/node-graph.md): the render covers frame_count +
  /// output_latency frames and the first output_latency are dropped.
  int64_t output_latency = 0;
  std::vector<media_descriptor> media;
  std::vector<render_node> nodes;
  std::vector<partition_info> partitions;
  uint32_t output_node = 0; ///< The `output` node whose result is the render.
  /// 1, 2, 4 or 8: the factor every node with an `oversample` parameter runs
  /// at when it does not set one (`loophole render --oversample`).
  uint8_t oversample = 1;
  /// float (the default) or double: the sample type of the whole graph.
  sample_precision precision = sample_precision::float32;
};

/// Why a graph was refused: the node (if any) and the reason.
struct graph_error {
  std::optional<uint32_t> node;
  std::string message;

  /// "node 4 ('track drums / gain'): input 9 does not exist".
  std::string to_string(const render_graph& graph) const;
};

/// Returns the value of parameter `name`, or `fallback` when absent.
double param_or(const render_node& node, std::string_view name, double fallback) noexcept;

/// Checks everything Signal relies on: ids, references, channel counts,
/// parameter ranges, media regions, partitions, a single `output` sink, and
/// acyclicity. Returns the first problem found. Allocates; not realtime-safe.
std::optional<graph_error> validate(const render_graph& graph);

/// Returns the node ids in an order where every node follows its inputs;
/// ties keep id order, so the order is a pure function of the graph.
/// Precondition: `validate(graph)` found nothing.
std::vector<uint32_t> topological_order(const render_graph& graph);

} // namespace loophole::signal
