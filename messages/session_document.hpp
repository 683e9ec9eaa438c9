#pragma once

// The session as the user wrote it (session format v1, docs/session-format.md):
// musical and clock time, paths as written, nothing resolved yet. The session
// actor owns it; the timeline resolver turns it into a RenderGraph.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "caf/meta/type_name.hpp"
#include "messages/inspect_helpers.hpp"

namespace loophole::messages {

LOOPHOLE_INSPECT_OPTIONALS_IN_THIS_NAMESPACE

/// The unit of a time value. Numbering is stable (stored in messages).
enum class time_unit : uint8_t { beats = 0, seconds = 1, samples = 2, bars = 3 };

std::string to_string(time_unit x);

/// A position or a length in one of the session's time bases. `bars`
/// (positions only): `value` is the bar (1-based) and `beat` the beat in it
/// (1-based, fractional), counted in that bar's time signature.
struct time_value {
  time_unit unit = time_unit::samples;
  double value = 0.0;
  double beat = 1.0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, time_value& x) {
  return f(caf::meta::type_name("time_value"), x.unit, x.value, x.beat);
}

/// A tempo change: from quarter-note `beat` on, `bpm`; `ramp`: reached
/// linearly (in time) from the previous tempo instead of jumping.
struct tempo_change {
  double beat = 0.0;
  double bpm = 120.0;
  bool ramp = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tempo_change& x) {
  return f(caf::meta::type_name("tempo_change"), x.beat, x.bpm, x.ramp);
}

/// A time-signature change at the start of `bar` (1-based).
struct meter_change {
  int64_t bar = 1;
  uint32_t beats_per_bar = 4;
  uint32_t beat_unit = 4;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, meter_change& x) {
  return f(caf::meta::type_name("meter_change"), x.bar, x.beats_per_bar, x.beat_unit);
}

/// A named position on the timeline.
struct marker_spec {
  std::string name;
  time_value at;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, marker_spec& x) {
  return f(caf::meta::type_name("marker_spec"), x.name, x.at);
}

struct fade_spec {
  time_value length;
  std::string shape = "linear";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fade_spec& x) {
  return f(caf::meta::type_name("fade_spec"), x.length, x.shape);
}

/// A breakpoint of an automation lane in the session: at a position, a value
/// in the parameter's unit, and how it goes on to the next point.
struct automation_point_spec {
  time_value at;
  double value = 0.0;
  std::string curve = "linear"; ///< hold or linear (in the parameter's unit)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, automation_point_spec& x) {
  return f(caf::meta::type_name("automation_point_spec"), x.at, x.value, x.curve);
}

/// A point of a clip's warp map: a time in the media (like source_offset)
/// and the time from the clip's start it lands on.
struct warp_marker_spec {
  time_value source;
  time_value timeline;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, warp_marker_spec& x) {
  return f(caf::meta::type_name("warp_marker_spec"), x.source, x.timeline);
}

/// A clip's warp: its media rendered to a new timing, piecewise-linearly,
/// keeping the pitch ("stretch") or letting it follow the speed
/// ("varispeed"). Either `markers` or `ratio` (> 0: the timeline length is
/// ratio times the source length) is given.
struct warp_spec {
  std::string mode = "stretch";
  std::vector<warp_marker_spec> markers;
  double ratio = 0.0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, warp_spec& x) {
  return f(caf::meta::type_name("warp_spec"), x.mode, x.markers, x.ratio);
}

/// A note of a MIDI clip: times from the clip's start (`at`) and from the
/// note's start (`length`).
struct midi_note_spec {
  time_value at;
  time_value length;
  uint8_t pitch = 60;
  uint8_t velocity = 100;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, midi_note_spec& x) {
  return f(caf::meta::type_name("midi_note_spec"), x.at, x.length, x.pitch, x.velocity);
}

/// A control change (`controller` 0..127, `value` 0..127) or a pitch bend
/// (`value` -8192..8191) of a MIDI clip, at a time from the clip's start.
struct midi_control_spec {
  time_value at;
  uint8_t controller = 0;
  int32_t value = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, midi_control_spec& x) {
  return f(caf::meta::type_name("midi_control_spec"), x.at, x.controller, x.value);
}

/// A groove template: per step of `grid` beats (counted from beat 0), a
/// swing of the odd steps and cycled timing and velocity offsets.
struct groove_spec {
  std::string name;
  double grid = 0.25;           ///< beats per step
  double swing = 0.5;           ///< where the odd step falls in its pair (0.5: straight)
  std::vector<double> timing;   ///< per step, in steps, cycled
  std::vector<double> velocity; ///< per step, added to the velocity, cycled
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, groove_spec& x) {
  return f(caf::meta::type_name("groove_spec"), x.name, x.grid, x.swing, x.timing, x.velocity);
}

/// A parameter of an insert or an instrument, by its catalog name
/// (signal/node_catalog.cpp), in the catalog's unit (a choice as its index, a
/// toggle as 0 or 1); a `frames` parameter keeps the time value as written in
/// `time`.
struct insert_param {
  std::string name;
  double value = 0.0;
  std::optional<time_value> time;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, insert_param& x) {
  return f(caf::meta::type_name("insert_param"), x.name, x.value, x.time);
}

/// A track's instrument: what its MIDI clips play. "sine" uses attack,
/// release and voices; "sampler" and "synth" take their node kind's catalog
/// parameters by name (time parameters without the _frames suffix).
struct instrument_spec {
  std::string kind = "sine";
  time_value attack{time_unit::seconds, 0.005, 1.0};
  time_value release{time_unit::seconds, 0.05, 1.0};
  uint32_t voices = 32;
  std::string media;      ///< sampler: the sample file, as written
  std::string media_path; ///< sampler: resolved against the session file's folder
  std::vector<insert_param> params; ///< sampler, synth: the catalog parameters given
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, instrument_spec& x) {
  return f(caf::meta::type_name("instrument_spec"), x.kind, x.attack, x.release, x.voices,
           x.media, x.media_path, x.params);
}

/// A clip: media (`media` set) or MIDI (`midi` set: notes, controllers,
/// bends and an optional groove).
struct clip_spec {
  std::string media;       ///< As written in the session file.
  std::string media_path;  ///< Resolved against the session file's folder.
  time_value position;
  time_value source_offset;
  std::optional<time_value> length; ///< Absent: to the end of the media.
  double gain_db = 0.0;
  std::optional<fade_spec> fade_in;
  std::optional<fade_spec> fade_out;
  /// A loop inside the media: [start, end) in media time; the clip plays on
  /// from start each time it reaches end, for its whole length.
  std::optional<time_value> loop_start;
  std::optional<time_value> loop_end;
  /// Clip gain over time (dB), points at times from the clip's start;
  /// replaces gain_db when given.
  std::vector<automation_point_spec> gain_envelope;
  /// A warp map; absent: the media plays at its own speed.
  std::optional<warp_spec> warp;
  // A MIDI clip
  bool midi = false;
  std::vector<midi_note_spec> notes;
  std::vector<midi_control_spec> cc;
  std::vector<midi_control_spec> pitch_bend; ///< `controller` unused
  std::string groove; ///< name of a groove_spec; empty: none
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, clip_spec& x) {
  return f(caf::meta::type_name("clip_spec"), x.media, x.media_path, x.position,
           x.source_offset, x.length, x.gain_db, x.fade_in, x.fade_out, x.loop_start,
           x.loop_end, x.gain_envelope, x.warp, x.midi, x.notes, x.cc, x.pitch_bend,
           x.groove);
}

/// An automation lane of an insert parameter (catalog name; points in its
/// unit, dB for a gain insert's gain).
struct insert_lane {
  std::string param;
  std::vector<automation_point_spec> points;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, insert_lane& x) {
  return f(caf::meta::type_name("insert_lane"), x.param, x.points);
}

/// A processor of a track's or a bus's node graph (docs/node-graph.md),
/// after its clips (or its bus sum) and before its fader.
struct insert_spec {
  std::string kind;                ///< a node kind of the catalog ("trim" is read as "gain")
  std::string id;                  ///< unique in its strip; empty: none given
  std::vector<std::string> inputs; ///< ids or "clips"/"input"; empty: the insert before
  bool bypass = false;             ///< passes its input on unchanged
  std::vector<insert_param> params;
  std::vector<insert_lane> automation;
  std::string sidechain;           ///< compressor, gate: the track or bus keying it
  std::string impulse;             ///< convolution: the impulse response, as written
  std::string impulse_path;        ///< resolved against the session file's folder
  // test.fault
  std::string fault = "none"; ///< signal::fault_mode name
  time_value at;              ///< where on the timeline it fires
  double leak_mb = 0.0;       ///< leak: MiB leaked in all
  double sleep_ms = 1.0;      ///< slow: milliseconds slept per block
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, insert_spec& x) {
  return f(caf::meta::type_name("insert_spec"), x.kind, x.id, x.inputs, x.bypass, x.params,
           x.automation, x.sidechain, x.impulse, x.impulse_path, x.fault, x.at, x.leak_mb,
           x.sleep_ms);
}

/// A send of a track or bus into a bus: tapped after the inserts
/// (`pre_fader`) or after fader and pan.
struct send_spec {
  std::string to;
  double gain_db = 0.0;
  bool pre_fader = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, send_spec& x) {
  return f(caf::meta::type_name("send_spec"), x.to, x.gain_db, x.pre_fader);
}

/// Where a strip sits in a wider (surround) bus it feeds: the surround_pan
/// node's parameters.
struct surround_spec {
  double azimuth_deg = 0.0;
  double elevation_deg = 0.0;
  double spread = 0.0;
  double lfe = 0.0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, surround_spec& x) {
  return f(caf::meta::type_name("surround_spec"), x.azimuth_deg, x.elevation_deg, x.spread,
           x.lfe);
}

/// A modulator on a track or bus parameter (`target`: "gain_db", "pan", or
/// "<insert id>.<parameter>" as the session names it): an LFO, a step
/// sequencer or an envelope follower of the node's input, scaled by `depth`
/// (dB for gains, the parameter's unit otherwise).
struct modulator_spec {
  std::string target;
  std::string kind;           ///< lfo, steps, follower
  std::string shape = "sine"; ///< lfo: sine, triangle, square, saw
  time_value period;          ///< lfo: one cycle; steps: one step (beats: tempo-synced)
  double phase = 0.0;         ///< cycles (lfo) or steps at the session's start
  double depth = 0.0;
  std::vector<double> steps;  ///< steps: values in [-1, 1]
  double attack_ms = 10.0;    ///< follower
  double release_ms = 100.0;  ///< follower
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, modulator_spec& x) {
  return f(caf::meta::type_name("modulator_spec"), x.target, x.kind, x.shape, x.period, x.phase,
           x.depth, x.steps, x.attack_ms, x.release_ms);
}

/// A take: one recorded pass on its own lane (its clips, as on a track).
struct take_spec {
  std::string id;
  std::vector<clip_spec> clips;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, take_spec& x) {
  return f(caf::meta::type_name("take_spec"), x.id, x.clips);
}

/// A region of a comp: the take heard on [start, end) of the timeline.
struct comp_region_spec {
  std::string take;
  time_value start;
  time_value end;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, comp_region_spec& x) {
  return f(caf::meta::type_name("comp_region_spec"), x.take, x.start, x.end);
}

/// A comp: the ordered regions of takes the track plays, crossfaded at
/// every region edge (centred on the edge).
struct comp_spec {
  fade_spec crossfade;
  std::vector<comp_region_spec> regions;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, comp_spec& x) {
  return f(caf::meta::type_name("comp_spec"), x.crossfade, x.regions);
}

struct track_spec {
  std::string id;
  std::string name;
  uint16_t channels = 2;
  double gain_db = 0.0;
  double pan = 0.0;
  bool mute = false;
  bool solo = false;
  std::vector<clip_spec> clips;
  std::vector<insert_spec> inserts;
  /// Shape of the crossfades made where clips overlap; empty: they just sum.
  std::string crossfade;
  /// Fader automation (dB); empty: the constant gain_db.
  std::vector<automation_point_spec> gain_automation;
  /// Takes on lanes and the comp made of them (played beside `clips`).
  std::vector<take_spec> takes;
  std::optional<comp_spec> comp;
  /// Pan automation (positions in [-1, 1]); empty: the constant pan.
  std::vector<automation_point_spec> pan_automation;
  std::vector<modulator_spec> modulators;
  /// Set: the track plays MIDI clips through it (and has no media clips).
  std::optional<instrument_spec> instrument;
  std::vector<send_spec> sends;
  std::string output = "master"; ///< a bus id or "master"
  surround_spec surround;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, track_spec& x) {
  return f(caf::meta::type_name("track_spec"), x.id, x.name, x.channels, x.gain_db, x.pan,
           x.mute, x.solo, x.clips, x.inserts, x.crossfade, x.gain_automation, x.takes, x.comp,
           x.pan_automation, x.modulators, x.instrument, x.sends, x.output, x.surround);
}

/// A bus: sums what is routed to it (outputs and sends), then its node
/// graph, fader and pan, into its own output. The kinds differ in intent only.
struct bus_spec {
  std::string id;
  std::string kind = "return"; ///< return, group or submix
  uint16_t channels = 2;       ///< 1, 2, 6, 8 or 12
  double gain_db = 0.0;
  double pan = 0.0;            ///< mono and stereo buses only
  bool mute = false;
  std::vector<insert_spec> inserts;
  std::vector<automation_point_spec> gain_automation;
  std::vector<automation_point_spec> pan_automation;
  std::vector<modulator_spec> modulators;
  std::vector<send_spec> sends;
  std::string output = "master";
  surround_spec surround;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, bus_spec& x) {
  return f(caf::meta::type_name("bus_spec"), x.id, x.kind, x.channels, x.gain_db, x.pan, x.mute,
           x.inserts, x.gain_automation, x.pan_automation, x.modulators, x.sends, x.output,
           x.surround);
}

/// An analysis region (specification section 13): an analysis of what a
/// track plays over [start, end), tied to the content it was made from by a
/// hash. `content_hash` empty: never analysed.
struct analysis_region_spec {
  std::string id;
  std::string kind = "transients";
  std::string track;
  time_value start;
  time_value end;
  std::string content_hash;    ///< Of the material when it was analysed.
  std::vector<int64_t> onsets; ///< The stored result: timeline frames.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, analysis_region_spec& x) {
  return f(caf::meta::type_name("analysis_region_spec"), x.id, x.kind, x.track, x.start, x.end,
           x.content_hash, x.onsets);
}

struct project_metadata {
  std::string title;
  std::string artist;
  std::string comment;
  std::string date; ///< YYYY-MM-DD or empty.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, project_metadata& x) {
  return f(caf::meta::type_name("project_metadata"), x.title, x.artist, x.comment, x.date);
}

/// A whole session document.
struct session_document {
  static constexpr uint32_t current_version = 1;

  std::string path; ///< The file it was read from (for errors and relative media).
  uint32_t version = current_version;
  uint32_t sample_rate = 48000;
  double bpm = 120.0;
  uint32_t beats_per_bar = 4;
  uint32_t beat_unit = 4;
  std::vector<tempo_change> tempo_changes;
  std::vector<meter_change> meter_changes;
  std::vector<marker_spec> markers;
  project_metadata metadata;
  double master_gain_db = 0.0;
  uint16_t master_channels = 2;       ///< 1, 2, 6, 8 or 12: the output file's
  std::vector<insert_spec> master_inserts;
  std::vector<track_spec> tracks;
  std::vector<bus_spec> buses;
  bool test_nodes = false; ///< Accept test.fault inserts (fault injection).
  std::vector<analysis_region_spec> analysis;
  std::vector<groove_spec> grooves;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_document& x) {
  return f(caf::meta::type_name("session_document"), x.path, x.version, x.sample_rate, x.bpm,
           x.beats_per_bar, x.beat_unit, x.tempo_changes, x.meter_changes, x.markers,
           x.metadata, x.master_gain_db, x.master_channels, x.master_inserts,
           x.tracks, x.buses, x.test_nodes, x.analysis, x.grooves);
}

} // namespace loophole::messages
