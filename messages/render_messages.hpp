#pragma once

// Internal messages of a render: what is asked, what the media pool hands
// out, what the timeline resolver plans, and what comes back. Plain structs
// with a free `inspect`, exchanged between Pulse's actors only (the wire
// protocol to Signal is messages/wire).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "caf/meta/type_name.hpp"
#include "messages/inspect_helpers.hpp"
#include "messages/render_graph_inspect.hpp"
#include "messages/session_document.hpp"

namespace loophole::messages {

/// A time range of the session to render, in the session's time values.
struct time_range {
  time_value start;
  time_value end;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, time_range& x) {
  return f(caf::meta::type_name("time_range"), x.start, x.end);
}

/// What the user asked of a mixdown render (CLI flags over configuration).
/// Loudness normalisation (docs/render-modes.md): a first pass measures the
/// mix, the second renders it with the one gain that brings its integrated
/// loudness to the target, unless its true peak would then pass the ceiling.
struct loudness_target {
  std::string preset;          ///< "ebu-r128", "streaming", "atsc-a85", or empty (custom)
  double integrated_lufs = -23.0;
  double true_peak_dbtp = -1.0; ///< The ceiling.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, loudness_target& x) {
  return f(caf::meta::type_name("loudness_target"), x.preset, x.integrated_lufs,
           x.true_peak_dbtp);
}

struct render_settings {
  std::string output_path;
  std::string format;          ///< wav, rf64, flac, aiff, ogg, opus, mp3
  uint16_t bits = 24;          ///< 0: 32-bit float; else integer bits
  bool dither = true;          ///< TPDF when reducing to <= 24-bit integer
  uint64_t dither_seed = 0;    ///< 0: the fixed default seed
  uint32_t workers = 0;        ///< Signal instances; 0: one per core
  std::optional<time_range> range;
  bool force = false;          ///< Replace an existing output file.
  double vbr_quality = 0.7;    ///< Ogg Vorbis / Opus / MP3 quality in [0, 1]
  uint32_t segment_frames = 32768;
  uint32_t block_frames = 1024;
  uint32_t segments_in_flight = 4;
  bool resume = false;          ///< Continue an interrupted render of the same output.
  bool allow_test_nodes = false; ///< Accept test.fault nodes (fault injection).
  std::string diagnostics_path; ///< Where to write the diagnostics report (JSON), if set.
  /// 1, 2, 4 or 8: the default oversampling of nodes with an `oversample`
  /// parameter (render_graph::oversample).
  uint8_t oversample = 1;
  /// The sample type of the whole graph (render_graph::precision).
  signal::sample_precision precision = signal::sample_precision::float32;
  /// Normalise the mixdown's loudness (two passes); the resolver adds the
  /// master's loudness gain and meter for it.
  std::optional<loudness_target> normalize;
  /// A measuring pass: the job renders and meters, and writes no file.
  bool measure_only = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, render_settings& x) {
  return f(caf::meta::type_name("render_settings"), x.output_path, x.format, x.bits, x.dither,
           x.dither_seed, x.workers, x.range, x.force, x.vbr_quality, x.segment_frames,
           x.block_frames, x.segments_in_flight, x.resume, x.allow_test_nodes,
           x.diagnostics_path, x.oversample, x.precision, x.normalize, x.measure_only);
}

/// What the media pool knows of a file once it has been probed.
struct media_info {
  std::string path;
  std::string media_id;      ///< Content hash of the file (XXH3-128, hex).
  uint16_t channels = 0;
  int64_t source_frames = 0; ///< At the file's own rate.
  uint32_t source_rate = 0;
  int64_t frames = 0;        ///< At the session rate, after resampling.
  uint32_t sample_rate = 0;  ///< The session rate it was probed for.
  std::string format;        ///< libsndfile's name of the container.
  /// Derived media (a warped clip's audio) only: the media it is made from,
  /// how ("stretch" or "varispeed"; empty for a file), and the map, pairs of
  /// (source frame, clip frame) at the session rate. `path` and the source
  /// fields are the parent's.
  std::string parent_id;
  std::string warp_mode;
  std::vector<int64_t> warp_map;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, media_info& x) {
  return f(caf::meta::type_name("media_info"), x.path, x.media_id, x.channels, x.source_frames,
           x.source_rate, x.frames, x.sample_rate, x.format, x.parent_id, x.warp_mode, x.warp_map);
}

/// A decoded media buffer Pulse holds in shared memory for Signal to read:
/// `channels` planes of `frames` floats.
struct media_lease {
  media_info info;
  std::string shm_name;
  uint64_t bytes = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, media_lease& x) {
  return f(caf::meta::type_name("media_lease"), x.info, x.shm_name, x.bytes);
}

/// A marker resolved to a timeline frame.
struct resolved_marker {
  std::string name;
  int64_t frame = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resolved_marker& x) {
  return f(caf::meta::type_name("resolved_marker"), x.name, x.frame);
}

/// A stretch of media an analysis region covers, placed on the timeline (a
/// clip cut to the region).
struct analysis_piece {
  std::string path;
  int64_t timeline_start = 0;
  int64_t source_offset = 0;
  int64_t length = 0;
  int64_t loop_start = 0;
  int64_t loop_length = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, analysis_piece& x) {
  return f(caf::meta::type_name("analysis_piece"), x.path, x.timeline_start, x.source_offset,
           x.length, x.loop_start, x.loop_length);
}

/// Whether an analysis region can be used. Numbering is stable.
enum class analysis_state : uint8_t {
  fresh = 0,      ///< Analysed from the material the track plays now.
  stale = 1,      ///< The material changed since (a comp or an edit): invalidated.
  unanalysed = 2, ///< Never analysed.
};

std::string to_string(analysis_state x);

/// An analysis region resolved against the session as it is now.
struct resolved_analysis {
  std::string id;
  std::string kind;
  std::string track;
  int64_t start = 0; ///< Timeline frames [start, end).
  int64_t end = 0;
  std::string content_hash; ///< Of what the track plays there now (XXH3-128, hex).
  analysis_state state = analysis_state::unanalysed;
  std::vector<analysis_piece> pieces; ///< What an analysis pass reads.
  std::vector<int64_t> onsets;        ///< The stored result, if fresh.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resolved_analysis& x) {
  return f(caf::meta::type_name("resolved_analysis"), x.id, x.kind, x.track, x.start, x.end,
           x.content_hash, x.state, x.pieces, x.onsets);
}

/// The timeline resolver's result: the graph, and the files it plays
/// (index-aligned with `graph.media`).
struct render_plan {
  signal::render_graph graph;
  std::vector<media_info> media;
  project_metadata metadata;
  std::vector<std::string> notes; ///< Things the user should know (muted tracks, ...).
  std::vector<resolved_marker> markers; ///< In timeline order.
  std::vector<resolved_analysis> analysis; ///< The session's analysis regions, in its order.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, render_plan& x) {
  return f(caf::meta::type_name("render_plan"), x.graph, x.media, x.metadata, x.notes,
           x.markers, x.analysis);
}

/// Progress of a running render, sent to whoever asked for the job.
struct render_progress {
  uint64_t job = 0;
  int64_t frames_done = 0;
  int64_t frames_total = 0;
  uint32_t sample_rate = 0;
  double elapsed_seconds = 0; ///< Since the first segment streamed in (setup excluded).
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, render_progress& x) {
  return f(caf::meta::type_name("render_progress"), x.job, x.frames_done, x.frames_total,
           x.sample_rate, x.elapsed_seconds);
}

/// What a finished render reports.
/// What a meter node measured over the render (docs/node-graph.md).
struct meter_reading {
  std::string node;                  ///< The meter's label ("track drums / meter").
  double integrated_lufs = 0;        ///< -inf: silence (below the absolute gate).
  double range_lu = 0;
  double sample_peak_dbfs = 0;
  double true_peak_dbtp = 0;
  double rms_dbfs = 0;
  int64_t frames = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, meter_reading& x) {
  return f(caf::meta::type_name("meter_reading"), x.node, x.integrated_lufs, x.range_lu,
           x.sample_peak_dbfs, x.true_peak_dbtp, x.rms_dbfs, x.frames);
}

/// What loudness normalisation measured and did.
struct normalization_report {
  loudness_target target;
  double measured_lufs = 0;   ///< The first pass's integrated loudness (-inf: silence).
  double measured_true_peak_dbtp = 0;
  double gain_db = 0;         ///< Applied on the master, before the output stage.
  bool limited_by_ceiling = false; ///< The gain stopped at the true-peak ceiling.
  double output_lufs = 0;     ///< The second pass's reading, before the output stage quantises.
  double output_true_peak_dbtp = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, normalization_report& x) {
  return f(caf::meta::type_name("normalization_report"), x.target, x.measured_lufs,
           x.measured_true_peak_dbtp, x.gain_db, x.limited_by_ceiling, x.output_lufs,
           x.output_true_peak_dbtp);
}

struct render_summary {
  uint64_t job = 0;
  std::string output_path;
  std::string format;
  uint16_t bits = 0;
  uint16_t channels = 0;
  uint32_t sample_rate = 0;
  int64_t frames = 0;
  double peak = 0;            ///< Largest absolute sample value written (full scale 1).
  double elapsed_seconds = 0; ///< Wall time of the render job.
  uint32_t workers = 0;
  uint32_t worker_restarts = 0;
  int64_t resumed_frames = 0;       ///< Frames taken from an interrupted render (--resume).
  uint32_t checkpoints = 0;
  std::vector<std::string> quarantined; ///< Nodes that ran in safe mode.
  std::vector<std::string> notes;   ///< Things the user should know.
  std::vector<meter_reading> meters; ///< One per meter node, in node order.
  std::optional<normalization_report> normalization;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, render_summary& x) {
  return f(caf::meta::type_name("render_summary"), x.job, x.output_path, x.format, x.bits,
           x.channels, x.sample_rate, x.frames, x.peak, x.elapsed_seconds, x.workers,
           x.worker_restarts, x.resumed_frames, x.checkpoints, x.quarantined, x.notes,
           x.meters, x.normalization);
}

/// The state a Signal instance is in, as its supervisor reports it.
enum class instance_state : uint8_t { starting = 0, ready = 1, busy = 2, restarting = 3,
                                      failed = 4, stopped = 5 };

std::string to_string(instance_state x);

/// A supervisor's report about its instance.
struct instance_status {
  std::string instance;
  int64_t pid = 0;
  instance_state state = instance_state::starting;
  uint32_t restarts = 0;
  std::string last_failure;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, instance_status& x) {
  return f(caf::meta::type_name("instance_status"), x.instance, x.pid, x.state, x.restarts,
           x.last_failure);
}

} // namespace loophole::messages
