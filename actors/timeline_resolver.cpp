#include "actors/timeline_resolver.hpp"

#include <cmath>
#include <limits>
#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include <xxhash.h>

#include "actors/delay_compensation.hpp"
#include "actors/media_pool.hpp"
#include "actors/groove.hpp"
#include "actors/loudness_normalization.hpp"
#include "actors/midi_resolution.hpp"
#include "actors/tempo_map.hpp"
#include "actors/timebase.hpp"
#include "actors/warp_resolution.hpp"
#include "caf/event_based_actor.hpp"
#include "kernel/actor_system.hpp"
#include "kernel/error.hpp"
#include "signal/node_catalog.hpp"
#include "signal/tpdf_dither.hpp"

namespace loophole::actors {

using messages::time_unit;
using signal::node_kind;

int64_t to_frames(const messages::time_value& t, double bpm, uint32_t rate) noexcept {
  double frames = t.value;
  if (t.unit == time_unit::seconds)
    frames = t.value * rate;
  else if (t.unit == time_unit::beats)
    frames = t.value * 60.0 / bpm * rate;
  return round_frames(frames);
}

namespace {

bool audible(const messages::session_document& doc, const messages::track_spec& t) {
  bool any_solo = false;
  for (const auto& x : doc.tracks)
    any_solo = any_solo || x.solo;
  return !t.mute && (!any_solo || t.solo);
}

double db_to_gain(double db) {
  return std::pow(10.0, db / 20.0);
}

caf::error fail(const messages::session_document& doc, const std::string& pointer,
                const std::string& reason) {
  return kernel::make_error(kernel::errc::bad_session, doc.path + ": " + pointer + ": " + reason);
}

std::string seconds_of(int64_t frames, uint32_t rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", static_cast<double>(frames) / rate);
  return buf;
}

// A lane of linear gains from dB points at `frames`: a line in dB is a
// constant ratio per frame of the linear gain (an exponential curve).
signal::automation_lane gain_lane(const std::vector<messages::automation_point_spec>& points,
                                  const std::vector<int64_t>& frames) {
  signal::automation_lane lane;
  lane.param = "gain";
  for (size_t i = 0; i < points.size(); ++i)
    lane.points.push_back({frames[i], db_to_gain(points[i].value),
                           points[i].curve == "hold" ? signal::curve_kind::hold
                                                     : signal::curve_kind::exponential});
  return lane;
}

void set_param(signal::render_node& node, const std::string& name, double value) {
  for (auto& p : node.params)
    if (p.name == name) {
      p.value = value;
      return;
    }
  node.params.push_back({name, value});
}

// Where a clip on the track overlaps the next one (by position), the earlier
// fades out and the later fades in across the overlap, with the track's
// crossfade shape; the two fades are mirror images, so a linear crossfade
// sums to 1 and an equal-power one keeps power. A fade the session gives
// explicitly at that end stays. A clip wholly inside another is left alone.
caf::error crossfade_overlaps(const messages::session_document& doc, size_t track_index,
                              signal::render_graph& g, const std::vector<uint32_t>& clips,
                              const std::vector<size_t>& spec_of) {
  const auto& track = doc.tracks[track_index];
  const auto shape = static_cast<double>(*signal::parse_fade_shape(track.crossfade));
  std::vector<size_t> order(clips.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  auto region = [&](size_t i) -> const signal::media_region& { return *g.nodes[clips[i]].media; };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return region(a).timeline_start < region(b).timeline_start;
  });
  for (size_t n = 0; n + 1 < order.size(); ++n) {
    const auto a = order[n], b = order[n + 1];
    const auto& ra = region(a);
    const auto& rb = region(b);
    const int64_t a_end = ra.timeline_start + ra.length, b_end = rb.timeline_start + rb.length;
    if (rb.timeline_start >= a_end || b_end <= a_end)
      continue; // no overlap, or b lies wholly inside a
    const auto overlap = static_cast<double>(a_end - rb.timeline_start);
    const auto& spec_a = track.clips[spec_of[a]];
    const auto& spec_b = track.clips[spec_of[b]];
    if (!spec_a.fade_out) {
      set_param(g.nodes[clips[a]], "fade_out_frames", overlap);
      set_param(g.nodes[clips[a]], "fade_out_shape", shape);
    }
    if (!spec_b.fade_in) {
      set_param(g.nodes[clips[b]], "fade_in_frames", overlap);
      set_param(g.nodes[clips[b]], "fade_in_shape", shape);
    }
  }
  for (size_t i = 0; i < clips.size(); ++i) {
    const auto& node = g.nodes[clips[i]];
    const auto fades = signal::param_or(node, "fade_in_frames", 0) +
                       signal::param_or(node, "fade_out_frames", 0);
    if (fades > static_cast<double>(node.media->length))
      return fail(doc, "/tracks/" + std::to_string(track_index) + "/clips/" +
                         std::to_string(spec_of[i]),
                  "its crossfades with the clips it overlaps (" +
                    std::to_string(static_cast<int64_t>(fades)) +
                    " frames) are longer than the clip (" + std::to_string(node.media->length) +
                    " frames)");
  }
  return {};
}

// Cuts `m` to the timeline frames [lo, hi); false if nothing is left. A
// looped region stays looped: the cut starts where the loop had got to.
bool cut_region(signal::media_region& m, int64_t lo, int64_t hi) noexcept {
  const int64_t start = std::max(m.timeline_start, lo);
  const int64_t end = std::min(m.timeline_start + m.length, hi);
  if (end <= start)
    return false;
  m.source_offset = m.source_frame(start - m.timeline_start);
  m.timeline_start = start;
  m.length = end - start;
  return true;
}

// The clips of a track's comp: every region plays its take's clips cut to
// the region, widened by half a crossfade on each side, so that where two
// regions meet the one fades out exactly where and as the other fades in
// (mirror images of one shape: centred on the edge). `place_clip` makes the
// clip_source node of a take's clip (appending it to the graph); the cut
// nodes are added to `clip_nodes`.
template <class PlaceClip>
caf::error comp_regions(const messages::session_document& doc, size_t track_index,
                        const timebase& tb, signal::render_graph& g, PlaceClip& place_clip,
                        std::vector<uint32_t>& clip_nodes) {
  const auto& track = doc.tracks[track_index];
  const auto& comp = *track.comp;
  const auto tp = "/tracks/" + std::to_string(track_index);
  const auto shape = static_cast<double>(*signal::parse_fade_shape(comp.crossfade.shape));
  int64_t previous_end = 0;
  for (size_t i = 0; i < comp.regions.size(); ++i) {
    const auto& region = comp.regions[i];
    const auto rp = tp + "/comp/regions/" + std::to_string(i);
    const int64_t start = tb.frame_of(region.start), end = tb.frame_of(region.end);
    if (end > max_frames)
      return fail(doc, rp + "/end", "is past 2^50 frames");
    if (end <= start)
      return fail(doc, rp, "ends at or before its start");
    if (i > 0 && start < previous_end)
      return fail(doc, rp + "/start",
                  "is frame " + std::to_string(start) + ", before the end of the region before it (frame " +
                    std::to_string(previous_end) + "): comp regions are in time order and do not overlap");
    previous_end = end;
    const int64_t xf_in = tb.frames_from(start, comp.crossfade.length);
    const int64_t xf_out = tb.frames_from(end, comp.crossfade.length);
    const int64_t lo = std::max<int64_t>(0, start - xf_in / 2);
    const int64_t hi = end + (xf_out - xf_out / 2);
    size_t take_index = 0;
    while (track.takes[take_index].id != region.take)
      ++take_index;
    const auto& take = track.takes[take_index];
    for (size_t k = 0; k < take.clips.size(); ++k) {
      const auto cp = tp + "/takes/" + std::to_string(take_index) + "/clips/" + std::to_string(k);
      auto id = place_clip(take.clips[k], cp,
                           track.id + " / comp " + std::to_string(i) + " / " + take.id +
                             " clip " + std::to_string(k));
      if (!id)
        return id.error();
      auto& node = g.nodes[*id];
      auto& m = *node.media;
      const auto whole = m;
      if (!cut_region(m, lo, hi)) {
        g.nodes.pop_back(); // the take's clip lies outside the region
        continue;
      }
      // A cut edge gets the comp's crossfade; an edge of the clip itself
      // inside the region keeps the clip's own fade.
      if (m.timeline_start > whole.timeline_start) {
        set_param(node, "fade_in_frames", static_cast<double>(start - lo + xf_in - xf_in / 2));
        set_param(node, "fade_in_shape", shape);
      }
      if (m.timeline_start + m.length < whole.timeline_start + whole.length) {
        set_param(node, "fade_out_frames", static_cast<double>(xf_out));
        set_param(node, "fade_out_shape", shape);
      }
      const auto fades =
        signal::param_or(node, "fade_in_frames", 0) + signal::param_or(node, "fade_out_frames", 0);
      if (fades > static_cast<double>(m.length))
        return fail(doc, rp, "its crossfades and fades (" + std::to_string(static_cast<int64_t>(fades)) +
                               " frames) are longer than its part of " + take.id + "'s clip " +
                               std::to_string(k) + " (" + std::to_string(m.length) + " frames)");
      clip_nodes.push_back(*id);
    }
  }
  return {};
}

// The session's analysis regions against what the tracks play now: the
// pieces of media under each, the hash of their placement (media id, where,
// from which frame, how long, looped how), and so whether the stored
// analysis still describes the material. Gains and fades are not hashed:
// they do not move a transient.
std::vector<messages::resolved_analysis>
resolve_analysis(const messages::session_document& doc, const timebase& tb,
                 const signal::render_graph& g, const std::vector<messages::media_info>& media) {
  std::vector<messages::resolved_analysis> out;
  for (const auto& spec : doc.analysis) {
    messages::resolved_analysis r;
    r.id = spec.id;
    r.kind = spec.kind;
    r.track = spec.track;
    r.start = tb.frame_of(spec.start);
    r.end = tb.frame_of(spec.end);
    XXH3_state_t* hash = XXH3_createState();
    XXH3_128bits_reset(hash);
    XXH3_128bits_update(hash, spec.kind.data(), spec.kind.size());
    for (const auto& node : g.nodes) {
      if (!node.media || g.partitions[node.partition].label != spec.track)
        continue;
      auto m = *node.media;
      if (!cut_region(m, r.start, r.end))
        continue;
      const auto& info = media[m.media_index];
      // A warped clip's audio is made when a render leases it: its
      // transients are not analysed yet (it still counts in the hash).
      if (info.parent_id.empty())
        r.pieces.push_back({info.path, m.timeline_start, m.source_offset, m.length, m.loop_start,
                            m.loop_length});
      XXH3_128bits_update(hash, info.media_id.data(), info.media_id.size());
      const int64_t placement[] = {m.timeline_start, m.source_offset, m.length, m.loop_start,
                                   m.loop_length};
      XXH3_128bits_update(hash, placement, sizeof placement);
    }
    const auto digest = XXH3_128bits_digest(hash);
    XXH3_freeState(hash);
    char hex[33];
    std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(digest.high64),
                  static_cast<unsigned long long>(digest.low64));
    r.content_hash = hex;
    if (spec.content_hash.empty()) {
      r.state = messages::analysis_state::unanalysed;
    } else if (spec.content_hash != r.content_hash) {
      r.state = messages::analysis_state::stale;
    } else {
      r.state = messages::analysis_state::fresh;
      r.onsets = spec.onsets;
    }
    out.push_back(std::move(r));
  }
  return out;
}

// The frames of a lane's points (positions), strictly increasing; errors
// name `pointer` + the point's index.
caf::expected<std::vector<int64_t>>
point_frames(const messages::session_document& doc, const timebase& tb,
             const std::vector<messages::automation_point_spec>& points, const std::string& pointer) {
  std::vector<int64_t> frames;
  for (size_t i = 0; i < points.size(); ++i) {
    const auto frame = tb.frame_of(points[i].at);
    const auto at = pointer + std::to_string(i) + "/at";
    if (frame > max_frames)
      return fail(doc, at, "is past 2^50 frames");
    if (!frames.empty() && frame <= frames.back())
      return fail(doc, at, "comes at or before the point before it (frame " +
                             std::to_string(frames.back()) + ")");
    frames.push_back(frame);
  }
  return frames;
}

// A modulator's clock: cycles (or steps) at frames from the session's start
// to past `end`. A period in seconds runs freely; one in beats follows the
// tempo map: exact at every tempo change and, inside ramps (where beats are
// quadratic in time), at points 32 frames apart, between which a line is
// off by at most (32 / rate)^2 / 8 * accel / 60 beats: below 1e-6 beat at
// 48 kHz for ramps up to 1000 bpm per second.
signal::modulation resolve_modulator(const messages::modulator_spec& spec, const timebase& tb,
                                     int64_t end) {
  signal::modulation m;
  m.depth = spec.depth;
  m.in_db = spec.target == "gain_db" || spec.target.ends_with(".gain_db");
  if (spec.kind == "follower") {
    m.kind = signal::modulator_kind::follower;
    m.attack_frames = spec.attack_ms * tb.rate / 1000.0;
    m.release_frames = spec.release_ms * tb.rate / 1000.0;
    return m;
  }
  m.kind = spec.kind == "steps" ? signal::modulator_kind::steps : signal::modulator_kind::lfo;
  m.steps = spec.steps;
  constexpr std::pair<const char*, signal::lfo_shape> shapes[] = {
    {"sine", signal::lfo_shape::sine},
    {"triangle", signal::lfo_shape::triangle},
    {"square", signal::lfo_shape::square},
    {"saw", signal::lfo_shape::saw}};
  for (const auto& [name, shape] : shapes)
    if (spec.shape == name)
      m.shape = shape;
  const double rate = tb.rate;
  if (spec.period.unit != time_unit::beats) {
    const double per_frame = 1.0 / (spec.period.value * rate);
    m.clock = {{0, spec.phase, signal::curve_kind::linear},
               {tb.rate, spec.phase + per_frame * rate, signal::curve_kind::linear}};
    return m;
  }
  auto add = [&](int64_t frame) {
    if (!m.clock.empty() && frame <= m.clock.back().frame)
      return;
    const double beat = tb.tempo.beat_at(static_cast<double>(frame) / rate);
    m.clock.push_back({frame, spec.phase + beat / spec.period.value, signal::curve_kind::linear});
  };
  const auto spans = tb.tempo.spans();
  for (size_t i = 0; i < spans.size(); ++i) {
    const auto start = round_frames(spans[i].seconds * rate);
    if (start > end)
      break;
    add(start);
    const auto next = i + 1 < spans.size() ? round_frames(spans[i + 1].seconds * rate) : end;
    if (spans[i].ramps)
      for (int64_t f = start + 32; f < std::min(next, end); f += 32)
        add(f);
  }
  // The last segment reached is constant or ends in one: one more point a
  // second on sets the rate the clock keeps past its last point.
  add(std::max(end, m.clock.back().frame) + tb.rate);
  return m;
}

// A grooved audio clip (the last node of `g`) is cut into slices at its
// transients (in the media it plays): each slice starts where the groove
// moves the beat of its transient, and is cut where the next slice starts,
// with a 32-frame fade out where it no longer joins the next; the part
// before the first transient stays in place. Without its transients in
// `transients`, the clip stays whole and the analysis it needs is added to
// `missing`. Returns the nodes that stand for the clip.
caf::expected<std::vector<uint32_t>>
groove_audio_clip(const messages::session_document& doc, const timebase& tb,
                  signal::render_graph& g, const messages::clip_spec& clip, const std::string& cp,
                  const messages::media_info& info, const clip_transients& transients,
                  std::vector<messages::resolved_analysis>* missing) {
  const auto groove = std::find_if(doc.grooves.begin(), doc.grooves.end(),
                                   [&](const auto& x) { return x.name == clip.groove; });
  if (groove == doc.grooves.end())
    return fail(doc, cp + "/groove", "\"" + clip.groove + "\" is not a groove of /grooves");
  const auto whole = g.nodes.back();
  const auto& m = *whole.media;
  if (m.loop_length > 0)
    return fail(doc, cp + "/groove", "a looped clip cannot be grooved");
  if (!info.parent_id.empty())
    return fail(doc, cp + "/groove", "a warped clip cannot be grooved (the warp places its transients)");
  const auto found = transients.find(transient_key(info.media_id, m.source_offset, m.length));
  if (found == transients.end()) {
    if (missing) {
      messages::resolved_analysis request;
      request.id = transient_key(info.media_id, m.source_offset, m.length);
      request.kind = "transients";
      request.start = m.source_offset;
      request.end = m.source_offset + m.length;
      request.pieces = {{info.path, m.source_offset, m.source_offset, m.length, 0, 0}};
      missing->push_back(std::move(request));
    }
    return std::vector<uint32_t>{whole.id};
  }
  std::vector<int64_t> starts{m.source_offset}; // media frames
  bool head_is_transient = false;
  for (auto onset : found->second) {
    head_is_transient = head_is_transient || onset == m.source_offset;
    if (onset > starts.back() && onset < m.source_offset + m.length)
      starts.push_back(onset);
  }
  std::vector<int64_t> at(starts.size()); // timeline frames
  for (size_t i = 0; i < starts.size(); ++i) {
    at[i] = m.timeline_start + (starts[i] - m.source_offset);
    if (i > 0 || head_is_transient) {
      const double beat = tb.tempo.beat_at(static_cast<double>(at[i]) / tb.rate);
      at[i] = std::max<int64_t>(
        0, round_frames(tb.tempo.seconds_at(apply_groove(*groove, beat, 0.0).beat) * tb.rate));
    }
    if (i > 0)
      at[i] = std::max(at[i], at[i - 1] + 1); // timing offsets never reorder slices
  }
  g.nodes.pop_back();
  std::vector<uint32_t> ids;
  for (size_t i = 0; i < starts.size(); ++i) {
    const bool last = i + 1 == starts.size();
    const int64_t natural = (last ? m.source_offset + m.length : starts[i + 1]) - starts[i];
    const int64_t length = last ? natural : std::min(natural, at[i + 1] - at[i]);
    auto slice = whole;
    slice.id = static_cast<uint32_t>(g.nodes.size());
    slice.label = whole.label + " / slice " + std::to_string(i);
    slice.media->timeline_start = at[i];
    slice.media->source_offset = starts[i];
    slice.media->length = length;
    if (i > 0)
      set_param(slice, "fade_in_frames", 0.0); // the clip's fades belong to its ends
    if (!last) {
      const bool joins = at[i] + natural == at[i + 1];
      set_param(slice, "fade_out_frames",
                joins ? 0.0 : static_cast<double>(std::min<int64_t>(32, length / 2)));
      set_param(slice, "fade_out_shape", static_cast<double>(signal::fade_shape::linear));
    }
    const auto fades = signal::param_or(slice, "fade_in_frames", 0) +
                       signal::param_or(slice, "fade_out_frames", 0);
    if (fades > static_cast<double>(length))
      return fail(doc, cp, "its fades are longer than its slice " + std::to_string(i) + " (" +
                             std::to_string(length) + " frames) once grooved");
    ids.push_back(slice.id);
    g.nodes.push_back(std::move(slice));
  }
  return ids;
}

// The insert kinds a session names, as node kinds ("trim" was read as "gain").
std::optional<node_kind> kind_of_insert(const std::string& name) {
  for (uint8_t k = 0; k <= static_cast<uint8_t>(signal::last_node_kind); ++k)
    if (signal::to_string(static_cast<node_kind>(k)) == name)
      return static_cast<node_kind>(k);
  return std::nullopt;
}

// How the session names parameter `name` of `kind` (for errors).
std::string session_key(node_kind kind, const std::string& name) {
  if (kind == node_kind::gain && name == "gain")
    return "gain_db";
  if (name == "frames")
    return "time";
  if (name.size() > 7 && name.ends_with("_frames"))
    for (const auto& spec : signal::parameters_of(kind))
      if (spec.name == name && spec.unit == signal::param_unit::frames)
        return name.substr(0, name.size() - 7);
  return name;
}

// A strip (a track, a bus or the master) from its source on: the node graph
// of its inserts, its fader and, on mono and stereo strips, its pan.
struct strip_chain {
  uint32_t pre_fader = 0;
  uint32_t fader = 0;
  uint32_t output = 0;
  std::vector<std::pair<uint32_t, std::string>> modulated;
  std::vector<std::pair<uint32_t, std::string>> sidechains;
};

// What a strip's chain is made of, as the session gives it.
struct strip_view {
  std::string id;      ///< names its nodes
  std::string pointer; ///< "/tracks/3", "/buses/0", "/master"
  std::string source;  ///< the inputs' name of the source: "clips" or "input"
  const std::vector<messages::insert_spec>* inserts;
  double gain_db;
  const std::vector<messages::automation_point_spec>* gain_automation;
  bool panned;
  double pan;
  const std::vector<messages::automation_point_spec>* pan_automation;
  const std::vector<messages::modulator_spec>* modulators;
};

// `impulse(path)` gives the media index and length of an impulse response.
template <class AddNode, class Impulse>
caf::expected<strip_chain> build_chain(const messages::session_document& doc, const timebase& tb,
                                       const messages::render_settings& settings,
                                       signal::render_graph& g, AddNode& add_node,
                                       uint32_t partition, uint32_t source,
                                       const strip_view& strip, Impulse& impulse) {
  strip_chain chain;
  const auto& inserts = *strip.inserts;
  const size_t n = inserts.size();
  std::map<std::string, size_t> index_of;
  for (size_t k = 0; k < n; ++k)
    if (!inserts[k].id.empty())
      index_of[inserts[k].id] = k;
  // Inputs by insert index (n: the source), then an order where every
  // insert follows its inputs, ties by position (the reader refused cycles).
  std::vector<std::vector<size_t>> inputs(n);
  for (size_t k = 0; k < n; ++k) {
    if (inserts[k].inputs.empty())
      inputs[k].push_back(k == 0 ? n : k - 1);
    for (const auto& id : inserts[k].inputs) {
      auto it = index_of.find(id);
      if (id == strip.source || it == index_of.end()) {
        if (id != strip.source)
          return fail(doc, strip.pointer + "/inserts/" + std::to_string(k) + "/inputs",
                      "\"" + id + "\" is not an insert of this strip");
        inputs[k].push_back(n);
      } else {
        inputs[k].push_back(it->second);
      }
    }
  }
  std::vector<uint32_t> node_of(n + 1, 0);
  std::vector<bool> built(n + 1, false);
  node_of[n] = source;
  built[n] = true;
  std::vector<size_t> order;
  while (order.size() < n) {
    size_t next = n;
    for (size_t k = 0; k < n && next == n; ++k)
      if (!built[k] && std::all_of(inputs[k].begin(), inputs[k].end(),
                                   [&](size_t i) { return built[i]; }))
        next = k;
    if (next == n)
      return fail(doc, strip.pointer + "/inserts", "the inserts' inputs form a cycle");
    built[next] = true; // provisionally, for the order
    order.push_back(next);
  }
  std::map<size_t, uint32_t> bypassed_to; // bypassed insert -> the node standing for it
  for (auto k : order) {
    const auto& ins = inserts[k];
    const auto ip = strip.pointer + "/inserts/" + std::to_string(k);
    const auto name = ins.id.empty() ? ins.kind + " " + std::to_string(k) : ins.id;
    const auto label = strip.id + " / " + name;
    std::vector<uint32_t> in_nodes;
    for (auto i : inputs[k])
      in_nodes.push_back(node_of[i]);
    const auto channels = g.nodes[in_nodes.front()].channels;
    for (size_t i = 1; i < in_nodes.size(); ++i)
      if (g.nodes[in_nodes[i]].channels != channels)
        return fail(doc, ip + "/inputs/" + std::to_string(i),
                    "has " + std::to_string(g.nodes[in_nodes[i]].channels) +
                      " channels where the first input has " + std::to_string(channels) +
                      ": inputs summed must have the same channel count");
    uint32_t in = in_nodes.front();
    if (in_nodes.size() > 1)
      in = add_node(label + " / inputs", node_kind::mix, partition, channels, in_nodes, {});
    if (ins.bypass) {
      node_of[k] = in;
      continue;
    }
    const auto kind = kind_of_insert(ins.kind);
    if (!kind)
      return fail(doc, ip + "/kind", "unknown insert kind \"" + ins.kind + "\"");
    if (*kind == node_kind::test_fault) {
      if (!doc.test_nodes && !settings.allow_test_nodes)
        return fail(doc, ip + "/kind",
                    "test.fault nodes inject failures: enable them with \"test_nodes\": true "
                    "in the session or --allow-test-nodes");
      const auto mode = signal::parse_fault_mode(ins.fault);
      if (!mode)
        return fail(doc, ip + "/fault", "unknown fault \"" + ins.fault + "\"");
      const auto at = tb.frame_of(ins.at);
      if (at > max_frames)
        return fail(doc, ip + "/at", "is past 2^50 frames");
      node_of[k] = add_node(label, node_kind::test_fault, partition, channels, {in},
                            {{"mode", static_cast<double>(*mode)},
                             {"at_frame", static_cast<double>(at)},
                             {"leak_bytes", std::ldexp(ins.leak_mb, 20)},
                             {"sleep_us", std::round(ins.sleep_ms * 1000.0)}});
      continue;
    }
    if (*kind == node_kind::pan && channels > 2)
      return fail(doc, ip + "/kind", "a pan insert takes a mono or stereo signal, not " +
                                       std::to_string(channels) + " channels");
    std::vector<signal::parameter> params;
    for (const auto& p : ins.params) {
      double value = p.value;
      if (p.time) {
        // Tempo-synced times are set at the session's opening tempo.
        const auto frames = tb.frames_from(0, *p.time);
        for (const auto& spec : signal::parameters_of(*kind))
          if (spec.name == p.name && static_cast<double>(frames) > spec.max_value)
            return fail(doc, ip + "/" + session_key(*kind, p.name),
                        "is " + std::to_string(frames) + " frames, longer than the most (" +
                          std::to_string(static_cast<int64_t>(spec.max_value)) + " frames)");
        value = static_cast<double>(frames);
        if (p.name == "rms_frames")
          value = std::max(value, 1.0);
      }
      params.push_back({p.name, value});
    }
    if (*kind == node_kind::gain && std::none_of(params.begin(), params.end(), [](const auto& p) {
          return p.name == "gain";
        }))
      params.push_back({"gain", 1.0});
    const auto id = add_node(label, *kind, partition, *kind == node_kind::pan ? uint16_t{2} : channels,
                             {in}, std::move(params));
    node_of[k] = id;
    if (*kind == node_kind::convolution) {
      const auto [media_index, frames] = impulse(ins.impulse_path);
      if (frames <= 0)
        return fail(doc, ip + "/impulse", "the impulse response " + ins.impulse + " is empty");
      g.nodes[id].media = signal::media_region{media_index, 0, 0, frames, 0, 0};
    }
    for (const auto& lane : ins.automation) {
      auto frames = point_frames(doc, tb, lane.points,
                                 ip + "/automation/" + session_key(*kind, lane.param) + "/");
      if (!frames)
        return frames.error();
      if (*kind == node_kind::gain) {
        g.nodes[id].automation.push_back(gain_lane(lane.points, *frames));
        continue;
      }
      signal::automation_lane out;
      out.param = lane.param;
      for (size_t i = 0; i < frames->size(); ++i)
        out.points.push_back({(*frames)[i], lane.points[i].value,
                              lane.points[i].curve == "hold" ? signal::curve_kind::hold
                                                             : signal::curve_kind::linear});
      g.nodes[id].automation.push_back(std::move(out));
    }
    if (!ins.sidechain.empty())
      chain.sidechains.emplace_back(id, ins.sidechain);
  }
  chain.pre_fader = n == 0 ? source : node_of[n - 1];
  const auto channels = g.nodes[chain.pre_fader].channels;
  chain.fader = add_node(strip.id + " / fader", node_kind::gain, partition, channels,
                         {chain.pre_fader}, {{"gain", db_to_gain(strip.gain_db)}});
  if (!strip.gain_automation->empty()) {
    auto frames = point_frames(doc, tb, *strip.gain_automation, strip.pointer + "/automation/gain_db/");
    if (!frames)
      return frames.error();
    g.nodes[chain.fader].automation.push_back(gain_lane(*strip.gain_automation, *frames));
  }
  chain.output = chain.fader;
  if (strip.panned && channels <= 2) {
    chain.output = add_node(strip.id + " / pan", node_kind::pan, partition, 2, {chain.fader},
                            {{"position", strip.pan}});
    if (!strip.pan_automation->empty()) {
      auto frames = point_frames(doc, tb, *strip.pan_automation, strip.pointer + "/automation/pan/");
      if (!frames)
        return frames.error();
      signal::automation_lane lane;
      lane.param = "position";
      for (size_t i = 0; i < frames->size(); ++i)
        lane.points.push_back({(*frames)[i], (*strip.pan_automation)[i].value,
                               (*strip.pan_automation)[i].curve == "hold"
                                 ? signal::curve_kind::hold
                                 : signal::curve_kind::linear});
      g.nodes[chain.output].automation.push_back(std::move(lane));
    }
  }
  for (const auto& m : *strip.modulators) {
    if (m.target == "gain_db") {
      chain.modulated.emplace_back(chain.fader, "gain");
      continue;
    }
    if (m.target == "pan") {
      chain.modulated.emplace_back(chain.output, "position");
      continue;
    }
    const auto dot = m.target.find('.');
    const auto k = index_of.at(m.target.substr(0, dot));
    const auto kind = *kind_of_insert(inserts[k].kind);
    std::string param = m.target.substr(dot + 1);
    for (const auto& spec : signal::parameters_of(kind))
      if (session_key(kind, std::string{spec.name}) == param)
        param = spec.name;
    chain.modulated.emplace_back(inserts[k].bypass ? UINT32_MAX : node_of[k], param);
  }
  return chain;
}

// A modulator's lane on `node`: the existing one of `param`, or a new one.
signal::automation_lane& lane_for(signal::render_node& node, const std::string& param) {
  auto lane = std::find_if(node.automation.begin(), node.automation.end(),
                           [&](const auto& l) { return l.param == param; });
  if (lane != node.automation.end())
    return *lane;
  node.automation.push_back({param, {}, {}});
  return node.automation.back();
}

// The takes a track's comp plays, each once, in the order of their lanes.
std::vector<const messages::take_spec*> comped_takes(const messages::track_spec& track) {
  std::vector<const messages::take_spec*> takes;
  if (!track.comp)
    return takes;
  for (const auto& take : track.takes)
    for (const auto& region : track.comp->regions)
      if (region.take == take.id) {
        takes.push_back(&take);
        break;
      }
  return takes;
}

// The media paths a track plays (its media clips, then its comped takes'),
// in order, repeats included.
std::vector<std::string> track_media(const messages::track_spec& track) {
  std::vector<std::string> paths;
  for (const auto& c : track.clips)
    if (!c.midi)
      paths.push_back(c.media_path);
  for (const auto* take : comped_takes(track))
    for (const auto& c : take->clips)
      paths.push_back(c.media_path);
  if (track.instrument && track.instrument->kind == "sampler")
    paths.push_back(track.instrument->media_path);
  for (const auto& ins : track.inserts)
    if (!ins.impulse_path.empty())
      paths.push_back(ins.impulse_path);
  return paths;
}

// Which strips play: a track that is audible (mute, solo) and has clips, a
// bus that is not muted and has something playing routed to it, each only
// if its signal reaches the master (through its output or a send) along
// strips that play. A solo then keeps the buses a soloed track feeds, and a
// muted bus silences what goes only through it.
struct routing {
  std::vector<bool> track;
  std::vector<bool> bus;
  std::vector<std::string> notes;
};

routing routing_of(const messages::session_document& doc) {
  const size_t nt = doc.tracks.size(), nb = doc.buses.size();
  std::map<std::string, size_t> bus_index;
  for (size_t b = 0; b < nb; ++b)
    bus_index[doc.buses[b].id] = b;
  // Targets of each strip (tracks, then buses), as bus indices; nb: the master.
  std::vector<std::vector<size_t>> targets(nt + nb);
  auto add_targets = [&](size_t x, const std::string& output,
                         const std::vector<messages::send_spec>& sends) {
    auto bus_of = [&](const std::string& id) {
      auto it = bus_index.find(id);
      return it == bus_index.end() ? nb : it->second;
    };
    targets[x].push_back(output == "master" ? nb : bus_of(output));
    for (const auto& send : sends)
      targets[x].push_back(bus_of(send.to));
  };
  std::vector<bool> playing(nt + nb, false);
  routing r;
  for (size_t t = 0; t < nt; ++t) {
    const auto& track = doc.tracks[t];
    add_targets(t, track.output, track.sends);
    playing[t] = audible(doc, track) &&
                 !(track.clips.empty() && (!track.comp || track.comp->regions.empty()));
  }
  for (size_t b = 0; b < nb; ++b)
    add_targets(nt + b, doc.buses[b].output, doc.buses[b].sends);
  // Routing is acyclic (the reader refused cycles): passes until nothing
  // changes settle it.
  std::vector<bool> reaches(nt + nb, false), fed(nb, false);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t x = 0; x < nt + nb; ++x) {
      const bool plays = x < nt ? playing[x] : !doc.buses[x - nt].mute && fed[x - nt];
      bool r_x = false;
      for (auto b : targets[x])
        r_x = r_x || b == nb || reaches[nt + b];
      r_x = r_x && plays;
      if (r_x != reaches[x]) {
        reaches[x] = r_x;
        changed = true;
      }
      if (x < nt ? playing[x] : (!doc.buses[x - nt].mute && fed[x - nt]))
        for (auto b : targets[x])
          if (b < nb && !fed[b]) {
            fed[b] = true;
            changed = true;
          }
    }
  }
  r.track.assign(nt, false);
  r.bus.assign(nb, false);
  for (size_t t = 0; t < nt; ++t) {
    const auto& track = doc.tracks[t];
    r.track[t] = reaches[t];
    if (!audible(doc, track))
      r.notes.push_back("track '" + track.id + "' is " + (track.mute ? "muted" : "not soloed") +
                        ": left out");
    else if (!playing[t])
      r.notes.push_back("track '" + track.id + "' has no clips: left out");
    else if (!reaches[t])
      r.notes.push_back("track '" + track.id + "' feeds only buses that are muted or silent: "
                        "left out");
  }
  for (size_t b = 0; b < nb; ++b) {
    const auto& bus = doc.buses[b];
    r.bus[b] = reaches[nt + b];
    if (bus.mute)
      r.notes.push_back("bus '" + bus.id + "' is muted: left out");
    else if (!fed[b])
      r.notes.push_back("bus '" + bus.id + "' has nothing playing routed to it: left out");
    else if (!reaches[nt + b])
      r.notes.push_back("bus '" + bus.id + "' feeds only buses that are muted or silent: left out");
  }
  return r;
}

// add_node(label, kind, partition, channels, inputs, params) appends a node
// to `g` and returns its id.
auto node_adder(signal::render_graph& g) {
  return [&g](std::string label, node_kind kind, uint32_t partition, uint16_t channels,
              std::vector<uint32_t> inputs, std::vector<signal::parameter> params) {
    signal::render_node n;
    n.id = static_cast<uint32_t>(g.nodes.size());
    n.label = std::move(label);
    n.kind = kind;
    n.partition = partition;
    n.channels = channels;
    n.inputs = std::move(inputs);
    n.params = std::move(params);
    g.nodes.push_back(std::move(n));
    return g.nodes.back().id;
  };
}

// Resolves track `t` of `doc` (audible, with clips) on its own: a fragment
// that depends on nothing but what key_of_track hashes. `media[media_index[p]]`
// is the probe of path p.
caf::expected<track_fragment> resolve_track(const messages::session_document& doc, size_t t,
                                            const messages::render_settings& settings,
                                            const timebase& tb,
                                            const std::map<std::string, uint32_t>& media_index,
                                            const std::vector<messages::media_info>& media,
                                            const clip_transients& transients) {
  track_fragment fragment;
  auto& g = fragment.graph;
  const auto add_node = node_adder(g);
  // The media the track plays, each once: probes by path, derived media by id.
  auto add_media = [&](const std::string& path, messages::media_info m) {
    for (size_t i = 0; i < fragment.media.size(); ++i)
      if (fragment.media[i].path == path && fragment.media[i].info.media_id == m.media_id)
        return static_cast<uint32_t>(i);
    fragment.media.push_back({path, std::move(m)});
    return static_cast<uint32_t>(fragment.media.size() - 1);
  };
  const uint32_t rate = tb.rate;
  const auto& track = doc.tracks[t];
  const auto tp = "/tracks/" + std::to_string(t);
  const uint32_t partition = 0;
  int64_t session_end = 0;
  std::vector<uint32_t> clip_nodes;
  if (track.instrument) { // MIDI clips: the instrument stands for the clips' sum
    auto midi = resolve_midi_track(doc, t, tb);
    if (!midi)
      return midi.error();
    const auto kind = track.instrument->kind == "sampler" ? node_kind::sampler
                      : track.instrument->kind == "synth" ? node_kind::synth
                                                          : node_kind::instrument;
    clip_nodes.push_back(add_node(track.id + " / instrument", kind, partition, track.channels, {},
                                  std::move(midi->params)));
    g.nodes.back().events = std::move(midi->events);
    if (kind == node_kind::sampler) { // the whole sample, embedded by the render job
      const auto& path = track.instrument->media_path;
      const auto& file = media[media_index.at(path)];
      if (file.frames <= 0)
        return fail(doc, tp + "/instrument/media", "is empty");
      g.nodes.back().media = signal::media_region{add_media(path, file), 0, 0, file.frames, 0, 0};
    }
    session_end = std::max(session_end, midi->end_frame);
  }
  // A media clip of the track (or of one of its takes) as a clip_source
  // node; `label` names it in the graph.
  auto place_clip = [&](const messages::clip_spec& clip, const std::string& cp,
                        const std::string& label) -> caf::expected<uint32_t> {
    const auto& file = media[media_index.at(clip.media_path)];
    auto mi = add_media(clip.media_path, file);
    const int64_t position = tb.frame_of(clip.position);
    if (position > max_frames)
      return fail(doc, cp + "/position", "is past the longest timeline (2^50 frames)");
    int64_t offset = tb.offset_frames(position, clip.source_offset);
    if (clip.length && tb.frames_from(position, *clip.length) > max_frames)
      return fail(doc, cp + "/length", "is longer than the longest timeline (2^50 frames)");
    if (offset >= file.frames)
      return fail(doc, cp + "/source_offset",
                  "starts at frame " + std::to_string(offset) + ", past the end of " +
                    clip.media + " (" + std::to_string(file.frames) + " frames, " +
                    seconds_of(file.frames, rate) + ")");
    if (clip.warp) {
      // The clip plays the derived media from its start (actors/warp_resolution.hpp).
      auto derived = resolve_warp(
        *clip.warp, file, offset,
        [&](const messages::time_value& v) { return tb.offset_frames(position, v); },
        [&](const messages::time_value& v) { return tb.frames_from(position, v); },
        [&](const std::string& at, const std::string& why) { return fail(doc, cp + at, why); });
      if (!derived)
        return std::move(derived.error());
      mi = add_media({}, std::move(*derived));
      offset = 0;
    }
    const auto& info = fragment.media[mi].info;
    int64_t length = clip.length ? tb.frames_from(position, *clip.length) : info.frames - offset;
    if (length <= 0)
      return fail(doc, cp + "/length", "is shorter than one frame");
    int64_t loop_start = 0, loop_length = 0;
    if (clip.loop_start && clip.loop_end) {
      loop_start = tb.offset_frames(position, *clip.loop_start);
      int64_t loop_end = tb.offset_frames(position, *clip.loop_end);
      if (loop_end > info.frames && loop_end - info.frames <= 1)
        loop_end = info.frames; // the rounding of beats or seconds, as for lengths
      if (loop_end > info.frames)
        return fail(doc, cp + "/loop/end",
                    "is frame " + std::to_string(loop_end) + ", past the end of " + clip.media +
                      " (" + std::to_string(info.frames) + " frames)");
      if (loop_end <= loop_start)
        return fail(doc, cp + "/loop", "ends at or before its start");
      if (offset >= loop_end)
        return fail(doc, cp + "/source_offset", "is past the end of the loop");
      loop_length = loop_end - loop_start;
    }
    if (loop_length == 0 && offset + length > info.frames) {
      // One frame over is the rounding of beats or seconds to frames, not a
      // request for material that does not exist.
      if (offset + length - info.frames > 1)
        return fail(doc, cp + "/length",
                    "needs frames up to " + std::to_string(offset + length) + " but " +
                      clip.media + " has " + std::to_string(info.frames) + " frames (" +
                      seconds_of(info.frames, rate) + ")");
      length = info.frames - offset;
    }
    std::vector<signal::parameter> params{{"gain", db_to_gain(clip.gain_db)}};
    int64_t fade_total = 0;
    for (auto [spec, name] : {std::pair{&clip.fade_in, "fade_in"},
                              std::pair{&clip.fade_out, "fade_out"}}) {
      if (!*spec)
        continue;
      // A fade in spans the beats after the clip's start, a fade out those
      // before its end.
      const bool fade_out = spec == &clip.fade_out;
      const auto frames = tb.frames_from(fade_out ? position + length : position,
                                         (*spec)->length, fade_out);
      if (frames > max_frames)
        return fail(doc, cp + "/" + name + "/length", "is longer than 2^50 frames");
      fade_total += frames;
      const auto shape = signal::parse_fade_shape((*spec)->shape);
      if (!shape)
        return fail(doc, cp + "/" + name + "/shape", "unknown fade shape \"" +
                                                       (*spec)->shape + "\"");
      params.push_back({std::string{name} + "_frames", static_cast<double>(frames)});
      params.push_back({std::string{name} + "_shape", static_cast<double>(*shape)});
    }
    if (fade_total > length)
      return fail(doc, cp, "the fades (" + std::to_string(fade_total) +
                             " frames) are longer than the clip (" + std::to_string(length) +
                             " frames)");
    auto id = add_node(label, node_kind::clip_source,
                       partition, track.channels, {}, std::move(params));
    g.nodes[id].media = signal::media_region{mi, position, offset, length, loop_start, loop_length};
    if (!clip.gain_envelope.empty()) {
      std::vector<int64_t> frames;
      for (size_t i = 0; i < clip.gain_envelope.size(); ++i) {
        const auto frame = position + tb.frames_from(position, clip.gain_envelope[i].at);
        if (!frames.empty() && frame <= frames.back())
          return fail(doc, cp + "/gain_envelope/" + std::to_string(i) + "/at",
                      "comes at or before the point before it");
        frames.push_back(frame);
      }
      g.nodes[id].automation.push_back(gain_lane(clip.gain_envelope, frames));
    }
    return id;
  };
  // The track's media clips (a grooved one as its slices), each with the
  // index of its clip in the session, for crossfades and errors.
  std::vector<uint32_t> placed;
  std::vector<size_t> placed_spec;
  for (size_t k = 0; k < track.clips.size(); ++k) {
    if (track.clips[k].midi)
      continue; // played by the instrument
    const auto cp = tp + "/clips/" + std::to_string(k);
    auto id = place_clip(track.clips[k], cp, track.id + " / clip " + std::to_string(k));
    if (!id)
      return id.error();
    std::vector<uint32_t> nodes{*id};
    if (!track.clips[k].groove.empty()) {
      auto slices = groove_audio_clip(doc, tb, g, track.clips[k], cp,
                                      fragment.media[g.nodes[*id].media->media_index].info,
                                      transients, &fragment.analyses);
      if (!slices)
        return slices.error();
      nodes = std::move(*slices);
    }
    placed.insert(placed.end(), nodes.begin(), nodes.end());
    placed_spec.insert(placed_spec.end(), nodes.size(), k);
  }
  if (!track.crossfade.empty())
    if (auto err = crossfade_overlaps(doc, t, g, placed, placed_spec))
      return err;
  clip_nodes.insert(clip_nodes.end(), placed.begin(), placed.end());
  if (track.comp)
    if (auto err = comp_regions(doc, t, tb, g, place_clip, clip_nodes))
      return err;
  if (clip_nodes.empty())
    return fail(doc, tp + "/comp", "none of the comped takes' clips lies in its regions: the "
                                   "track has nothing to play");
  for (auto id : clip_nodes)
    if (const auto& m = g.nodes[id].media)
      session_end = std::max(session_end, m->timeline_start + m->length);
  uint32_t sum = clip_nodes.front();
  if (clip_nodes.size() > 1)
    sum = add_node(track.id + " / clips", node_kind::mix, partition, track.channels,
                   clip_nodes, {});
  auto impulse = [&](const std::string& path) {
    const auto mi = add_media(path, media[media_index.at(path)]);
    return std::pair<uint32_t, int64_t>{mi, fragment.media[mi].info.frames};
  };
  const strip_view strip{track.id, tp, "clips", &track.inserts, track.gain_db,
                         &track.gain_automation, true, track.pan, &track.pan_automation,
                         &track.modulators};
  auto chain = build_chain(doc, tb, settings, g, add_node, partition, sum, strip, impulse);
  if (!chain)
    return chain.error();
  fragment.end_frame = session_end;
  fragment.modulated = std::move(chain->modulated);
  fragment.sidechains = std::move(chain->sidechains);
  fragment.pre_fader = chain->pre_fader;
  fragment.output = chain->output;
  return fragment;
}

} // namespace

std::vector<std::string> media_paths_of(const messages::session_document& doc) {
  std::vector<std::string> paths;
  std::set<std::string> seen;
  const auto live = routing_of(doc);
  auto add = [&](std::string path) {
    if (seen.insert(path).second)
      paths.push_back(std::move(path));
  };
  for (size_t t = 0; t < doc.tracks.size(); ++t)
    if (live.track[t])
      for (auto& path : track_media(doc.tracks[t]))
        add(std::move(path));
  for (size_t b = 0; b < doc.buses.size(); ++b)
    if (live.bus[b])
      for (const auto& ins : doc.buses[b].inserts)
        if (!ins.impulse_path.empty())
          add(ins.impulse_path);
  for (const auto& ins : doc.master_inserts)
    if (!ins.impulse_path.empty())
      add(ins.impulse_path);
  return paths;
}

std::string transient_key(const std::string& media_id, int64_t offset, int64_t length) {
  return media_id + ":" + std::to_string(offset) + "+" + std::to_string(length);
}

caf::expected<messages::render_plan>
resolve_timeline(const messages::session_document& doc, const messages::render_settings& settings,
                 const std::vector<messages::media_info>& media, const clip_transients& transients,
                 std::vector<messages::resolved_analysis>* missing) {
  resolve_cache cache;
  return resolve_timeline(doc, settings, media, cache, transients, missing);
}

caf::expected<messages::render_plan>
resolve_timeline(const messages::session_document& doc, const messages::render_settings& settings,
                 const std::vector<messages::media_info>& media, resolve_cache& cache,
                 const clip_transients& transients,
                 std::vector<messages::resolved_analysis>* missing) {
  const auto paths = media_paths_of(doc);
  if (media.size() != paths.size())
    return kernel::make_error(kernel::errc::internal, "resolver: media probes do not match");
  std::map<std::string, uint32_t> media_index;
  messages::render_plan plan;
  auto& g = plan.graph;
  g.sample_rate = doc.sample_rate;
  g.mode = signal::render_mode::offline;
  for (size_t i = 0; i < paths.size(); ++i) {
    media_index[paths[i]] = static_cast<uint32_t>(i);
    g.media.push_back({media[i].media_id, media[i].channels, media[i].frames});
  }
  plan.media = media;
  plan.metadata = doc.metadata;

  // Derived media, once each however many clips play them.
  auto add_media = [&](messages::media_info m) {
    for (size_t i = paths.size(); i < plan.media.size(); ++i)
      if (plan.media[i].media_id == m.media_id)
        return static_cast<uint32_t>(i);
    g.media.push_back({m.media_id, m.channels, m.frames});
    plan.media.push_back(std::move(m));
    return static_cast<uint32_t>(plan.media.size() - 1);
  };

  const auto add_node = node_adder(g);

  const uint32_t rate = doc.sample_rate;
  std::optional<tempo_map> tempo;
  std::optional<meter_map> meter;
  {
    std::vector<tempo_point> points;
    for (const auto& c : doc.tempo_changes)
      points.push_back({c.beat, c.bpm, c.ramp});
    try {
      tempo.emplace(doc.bpm, std::move(points));
    } catch (const timebase_error& e) {
      return fail(doc, "/tempo/changes/" + std::to_string(e.index), e.what());
    }
    std::vector<meter_point> bars;
    for (const auto& m : doc.meter_changes)
      bars.push_back({m.bar, m.beats_per_bar, m.beat_unit});
    try {
      meter.emplace(doc.beats_per_bar, doc.beat_unit, std::move(bars));
    } catch (const timebase_error& e) {
      return fail(doc, "/tempo/meter/" + std::to_string(e.index), e.what());
    }
  }
  const timebase tb{*tempo, *meter, rate};
  int64_t session_end = 0;
  const auto live = routing_of(doc);
  plan.notes = live.notes;
  // Every strip placed: where its signal leaves (post-fader: after fader and
  // pan; pre-fader: what the fader takes) and its own id and pointer.
  struct placed_strip {
    std::string id;
    std::string pointer;
    uint32_t partition = 0;
    uint32_t pre_fader = 0;
    uint32_t output = 0;
    const std::string* route = nullptr; ///< its output: "master" or a bus id
    const std::vector<messages::send_spec>* sends = nullptr;
    const messages::surround_spec* surround = nullptr;
    std::vector<std::pair<uint32_t, std::string>> sidechains;
  };
  std::vector<placed_strip> strips;
  // The fragments placed (in track order), with their track and first node.
  struct placed_fragment {
    track_fragment* fragment;
    const messages::track_spec* track;
    uint32_t base;
  };
  std::vector<placed_fragment> placed;
  // Fragments found or stored stay in the cache until the graph is made.
  struct trim_at_exit {
    resolve_cache& cache;
    ~trim_at_exit() {
      cache.trim();
    }
  } trim{cache};
  for (size_t t = 0; t < doc.tracks.size(); ++t) {
    const auto& track = doc.tracks[t];
    if (!live.track[t])
      continue;
    std::vector<const messages::media_info*> probes;
    for (const auto& path : track_media(track))
      probes.push_back(&media[media_index.at(path)]);
    const auto key =
      key_of_track(doc, t, doc.test_nodes || settings.allow_test_nodes, probes, transients);
    track_fragment* fragment = cache.find(key);
    if (!fragment) {
      auto resolved = resolve_track(doc, t, settings, tb, media_index, media, transients);
      if (!resolved)
        return resolved.error();
      fragment = &cache.store(key, std::move(*resolved));
    }
    if (missing)
      missing->insert(missing->end(), fragment->analyses.begin(), fragment->analyses.end());
    // The fragment renumbered into the graph: its partition, nodes after
    // those there, its media in the plan's (derived media once each).
    const auto partition = static_cast<uint32_t>(g.partitions.size());
    g.partitions.push_back({track.id});
    const auto base = static_cast<uint32_t>(g.nodes.size());
    std::vector<uint32_t> media_indices;
    for (const auto& m : fragment->media)
      media_indices.push_back(m.path.empty() ? add_media(m.info) : media_index.at(m.path));
    for (auto node : fragment->graph.nodes) {
      node.id += base;
      node.partition = partition;
      for (auto& input : node.inputs)
        input += base;
      if (node.media)
        node.media->media_index = media_indices[node.media->media_index];
      g.nodes.push_back(std::move(node));
    }
    session_end = std::max(session_end, fragment->end_frame);
    placed.push_back({fragment, &track, base});
    placed_strip strip{track.id, "/tracks/" + std::to_string(t), partition,
                       base + fragment->pre_fader, base + fragment->output, &track.output,
                       &track.sends, &track.surround, {}};
    for (const auto& [node, source] : fragment->sidechains)
      strip.sidechains.emplace_back(base + node, source);
    strips.push_back(std::move(strip));
  }
  if (strips.empty())
    return fail(doc, "/tracks", "nothing to render: no track is audible and has clips");
  // Modulator clocks run from the session's start to past its end (they go
  // on linearly beyond), so they are made once the end is known; a fragment
  // keeps those last made for it while the end stays where it was.
  for (const auto& [fragment, track, base] : placed) {
    if (fragment->clocks_end != session_end) {
      fragment->clocks.clear();
      for (const auto& spec : track->modulators)
        fragment->clocks.push_back(resolve_modulator(spec, tb, session_end));
      fragment->clocks_end = session_end;
    }
    for (size_t k = 0; k < track->modulators.size(); ++k) {
      const auto& [node, param] = fragment->modulated[k];
      if (node != UINT32_MAX)
        lane_for(g.nodes[base + node], param).modulators.push_back(fragment->clocks[k]);
    }
  }
  // Buses (not cached: a handful of nodes, no media), each summing what is
  // routed to it; the sums' inputs are added once every strip is placed.
  auto impulse = [&](const std::string& path) {
    const auto mi = media_index.at(path);
    return std::pair<uint32_t, int64_t>{mi, media[mi].frames};
  };
  std::map<std::string, uint32_t> sum_of;       // bus id or "master" -> its sum node
  std::map<std::string, std::string> pointer_of; // bus id -> its pointer
  for (size_t b = 0; b < doc.buses.size(); ++b) {
    const auto& bus = doc.buses[b];
    if (!live.bus[b])
      continue;
    const auto bp = "/buses/" + std::to_string(b);
    const auto partition = static_cast<uint32_t>(g.partitions.size());
    g.partitions.push_back({bus.id});
    const auto sum = add_node(bus.id + " / sum", node_kind::mix, partition, bus.channels, {}, {});
    sum_of[bus.id] = sum;
    pointer_of[bus.id] = bp;
    const strip_view view{bus.id, bp, "input", &bus.inserts, bus.gain_db, &bus.gain_automation,
                          true, bus.pan, &bus.pan_automation, &bus.modulators};
    auto chain = build_chain(doc, tb, settings, g, add_node, partition, sum, view, impulse);
    if (!chain)
      return chain.error();
    for (size_t k = 0; k < bus.modulators.size(); ++k) {
      const auto& [node, param] = chain->modulated[k];
      if (node != UINT32_MAX)
        lane_for(g.nodes[node], param)
          .modulators.push_back(resolve_modulator(bus.modulators[k], tb, session_end));
    }
    strips.push_back({bus.id, bp, partition, chain->pre_fader, chain->output, &bus.output,
                      &bus.sends, &bus.surround, std::move(chain->sidechains)});
  }

  const auto master = static_cast<uint32_t>(g.partitions.size());
  g.partitions.push_back({"master"});
  const uint16_t master_channels = doc.master_channels;
  const auto master_sum =
    add_node("master / sum", node_kind::mix, master, master_channels, {}, {});
  sum_of["master"] = master_sum;
  const std::vector<messages::automation_point_spec> no_points;
  const std::vector<messages::modulator_spec> no_modulators;
  const strip_view master_view{"master", "/master", "input", &doc.master_inserts,
                               doc.master_gain_db, &no_points, false, 0.0, &no_points,
                               &no_modulators};
  auto master_chain =
    build_chain(doc, tb, settings, g, add_node, master, master_sum, master_view, impulse);
  if (!master_chain)
    return master_chain.error();
  if (g.nodes[master_chain->fader].channels != master_channels)
    return fail(doc, "/master/inserts", "the master's inserts change its channel count");
  // Loudness normalisation: the one gain it applies (unity until the
  // measuring pass sets it, see actors/loudness_normalization.cpp), and the
  // meter that measures both passes, after the master's fader.
  uint32_t master_out = master_chain->fader;
  if (settings.normalize) {
    master_out = add_node(std::string{loudness_gain_label}, node_kind::gain, master,
                          master_channels, {master_out}, {{"gain", 1.0}});
    master_out = add_node(std::string{loudness_meter_label}, node_kind::meter, master,
                          master_channels, {master_out}, {});
  }
  const double seed = static_cast<double>(
    settings.dither_seed != 0 ? settings.dither_seed : (signal::default_dither_seed >> 11));
  g.output_node = add_node("master / output", node_kind::output, master, master_channels,
                           {master_out},
                           {{"bits", static_cast<double>(settings.bits)},
                            {"dither", settings.dither ? 1.0 : 0.0},
                            {"dither_seed", seed}});

  // Outputs and sends, in strip order (tracks, then buses), each send after
  // its strip's output: the order of every sum's inputs, and so its result.
  // A signal goes into a bus of another width through a surround_pan (wider)
  // or a fold_down (narrower) in its own partition.
  auto into = [&](const placed_strip& from, uint32_t tap, const std::string& to,
                  const std::string& at, const std::string& what) -> caf::expected<uint32_t> {
    const auto sum = sum_of.at(to);
    const auto want = g.nodes[sum].channels;
    const auto have = g.nodes[tap].channels;
    if (have == want)
      return tap;
    const auto label = from.id + " / " + what + " into " + to;
    if (have > want)
      return add_node(label + " (fold_down)", node_kind::fold_down, from.partition, want, {tap}, {});
    if (have > 2)
      return fail(doc, at, "a " + std::to_string(have) + "-channel signal cannot go into the " +
                             std::to_string(want) + "-channel '" + to +
                             "': only mono and stereo signals are placed in wider buses");
    if (want == 2) // mono into stereo: centred, as a track's pan does
      return add_node(label + " (pan)", node_kind::pan, from.partition, 2, {tap},
                      {{"position", 0.0}});
    const auto& s = *from.surround;
    return add_node(label + " (surround_pan)", node_kind::surround_pan, from.partition, want,
                    {tap},
                    {{"azimuth_deg", s.azimuth_deg},
                     {"elevation_deg", s.elevation_deg},
                     {"spread", s.spread},
                     {"lfe", s.lfe}});
  };
  for (const auto& strip : strips) {
    if (sum_of.count(*strip.route)) {
      auto node = into(strip, strip.output, *strip.route, strip.pointer + "/output", "output");
      if (!node)
        return node.error();
      g.nodes[sum_of.at(*strip.route)].inputs.push_back(*node);
    }
    for (size_t k = 0; k < strip.sends->size(); ++k) {
      const auto& send = (*strip.sends)[k];
      if (!sum_of.count(send.to))
        continue; // a bus left out (muted, or silent)
      const auto sp = strip.pointer + "/sends/" + std::to_string(k);
      const auto gain = add_node(strip.id + " / send " + std::to_string(k) + " to " + send.to,
                                 node_kind::gain, strip.partition,
                                 g.nodes[send.pre_fader ? strip.pre_fader : strip.output].channels,
                                 {send.pre_fader ? strip.pre_fader : strip.output},
                                 {{"gain", db_to_gain(send.gain_db)}});
      auto node = into(strip, gain, send.to, sp, "send " + std::to_string(k));
      if (!node)
        return node.error();
      g.nodes[sum_of.at(send.to)].inputs.push_back(*node);
    }
  }
  // Sidechains: the keying strip's signal after its inserts, before its fader.
  std::map<std::string, uint32_t> key_of;
  for (const auto& strip : strips)
    key_of[strip.id] = strip.pre_fader;
  auto key_sidechains = [&](const std::vector<std::pair<uint32_t, std::string>>& sidechains) {
    for (const auto& [node, source] : sidechains) {
      if (auto it = key_of.find(source); it != key_of.end())
        g.nodes[node].inputs.push_back(it->second);
      else
        plan.notes.push_back("the sidechain of '" + g.nodes[node].label + "' is left out: '" +
                             source + "' does not play");
    }
  };
  for (const auto& strip : strips)
    key_sidechains(strip.sidechains);
  key_sidechains(master_chain->sidechains);
  g.first_frame = 0;
  g.frame_count = session_end;
  g.oversample = settings.oversample;
  g.precision = settings.precision;
  if (settings.range) {
    const auto start = tb.frame_of(settings.range->start);
    const auto end = tb.frame_of(settings.range->end);
    if (end > max_frames)
      return kernel::make_error(kernel::errc::usage, "--range: the end is past 2^50 frames");
    if (end <= start)
      return kernel::make_error(kernel::errc::usage, "--range: the end (frame " +
                                                       std::to_string(end) +
                                                       ") is not after the start (frame " +
                                                       std::to_string(start) + ")");
    g.first_frame = start;
    g.frame_count = end - start;
  }
  for (size_t i = 0; i < doc.markers.size(); ++i) {
    const auto frame = tb.frame_of(doc.markers[i].at);
    if (frame > max_frames)
      return fail(doc, "/markers/" + std::to_string(i) + "/at", "is past 2^50 frames");
    plan.markers.push_back({doc.markers[i].name, frame});
  }
  std::stable_sort(plan.markers.begin(), plan.markers.end(),
                   [](const auto& a, const auto& b) { return a.frame < b.frame; });
  for (size_t i = 0; i < doc.analysis.size(); ++i) {
    const auto& a = doc.analysis[i];
    const auto ap = "/analysis/" + std::to_string(i);
    if (tb.frame_of(a.end) > max_frames)
      return fail(doc, ap + "/end", "is past 2^50 frames");
    if (tb.frame_of(a.end) <= tb.frame_of(a.start))
      return fail(doc, ap, "ends at or before its start");
  }
  plan.analysis = resolve_analysis(doc, tb, g, plan.media);
  if (auto err = signal::validate(g))
    return kernel::make_error(kernel::errc::bad_graph, err->to_string(g));
  // Plugin delay compensation, on the whole graph: paths meet across
  // partitions (bus sums, sidechains).
  uint32_t culprit = 0;
  const auto nodes_before = g.nodes.size();
  if (compensate_latency(g, &culprit) < 0)
    return kernel::make_error(kernel::errc::bad_graph,
                              "'" + g.nodes[culprit].label +
                                "': its inputs' latencies differ by more than 2^21 frames");
  // The compensating delays are checked like every node; without latency the
  // graph is the one validated above.
  if (g.nodes.size() != nodes_before || g.output_latency != 0)
    if (auto err = signal::validate(g))
      return kernel::make_error(kernel::errc::bad_graph, err->to_string(g));
  return plan;
}

timeline_resolver_actor::behavior_type
timeline_resolver(timeline_resolver_actor::stateful_pointer<timeline_resolver_state> self) {
  self->set_exit_handler([self](const caf::exit_msg& msg) {
    for (auto& [id, rp] : self->state.pending)
      rp.deliver(kernel::make_error(kernel::errc::cancelled, "the render was stopped"));
    self->state.pending.clear();
    self->quit(msg.reason);
  });
  return {
    [self](atoms::resolve_atom, messages::session_document doc,
           messages::render_settings settings) -> caf::result<messages::render_plan> {
      auto pool = caf::actor_cast<media_pool_actor>(kernel::lookup(self->system(), names::media_pool));
      if (!pool)
        return kernel::make_error(kernel::errc::internal, "the media pool is not running");
      auto rp = self->make_response_promise<messages::render_plan>();
      const auto id = self->state.next_request++;
      self->state.pending.emplace(id, rp);
      auto paths = media_paths_of(doc);
      self->request(pool, caf::infinite, atoms::probe_atom::value, paths, doc.sample_rate)
        .then(
          [self, id, rp, doc, settings, pool](const std::vector<messages::media_info>& infos) mutable {
            std::vector<messages::resolved_analysis> missing;
            auto plan = resolve_timeline(doc, settings, infos, self->state.cache, {}, &missing);
            if (!plan || missing.empty()) {
              self->state.pending.erase(id);
              if (plan)
                rp.deliver(std::move(*plan));
              else
                rp.deliver(plan.error());
              return;
            }
            // The pre-analysis pass (section 13): the transients of every
            // grooved audio clip, from the media pool, before the graph is
            // built for good.
            auto found = std::make_shared<clip_transients>();
            auto left = std::make_shared<size_t>(missing.size());
            for (auto& request : missing) {
              auto key = request.id;
              self->request(pool, caf::infinite, atoms::analyse_atom::value, doc.sample_rate,
                            std::move(request))
                .then(
                  [self, id, rp, doc, settings, infos, found, left,
                   key](std::vector<int64_t>& onsets) mutable {
                    if (*left == 0)
                      return; // another pass failed and answered already
                    (*found)[key] = std::move(onsets);
                    if (--*left > 0)
                      return;
                    self->state.pending.erase(id);
                    auto final_plan =
                      resolve_timeline(doc, settings, infos, self->state.cache, *found);
                    if (final_plan)
                      rp.deliver(std::move(*final_plan));
                    else
                      rp.deliver(final_plan.error());
                  },
                  [self, id, rp, left](caf::error& err) mutable {
                    if (*left == 0)
                      return; // answered already
                    *left = 0;
                    self->state.pending.erase(id);
                    rp.deliver(err);
                  });
            }
          },
          [self, id, rp, doc](caf::error& err) mutable {
            self->state.pending.erase(id);
            // Name the first clip that uses the file in question.
            auto text = kernel::describe(err);
            for (size_t t = 0; t < doc.tracks.size(); ++t)
              for (size_t k = 0; k < doc.tracks[t].clips.size(); ++k)
                if (text.rfind(doc.tracks[t].clips[k].media_path + ":", 0) == 0) {
                  rp.deliver(kernel::make_error(
                    static_cast<kernel::errc>(err.code()),
                    doc.path + ": /tracks/" + std::to_string(t) + "/clips/" + std::to_string(k) +
                      "/media: " + text));
                  return;
                }
            rp.deliver(err);
          });
      return rp;
    },
  };
}

} // namespace loophole::actors
