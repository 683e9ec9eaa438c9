#include "actors/timeline_resolver.hpp"

#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "actors/media_pool.hpp"
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
  // Saturate instead of overflowing: callers refuse anything past max_frames.
  if (!(frames < 9.0e18))
    return std::numeric_limits<int64_t>::max();
  if (!(frames > -9.0e18))
    return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(std::llround(frames));
}

namespace {

// The longest timeline: 2^50 frames (over 700 years at 48 kHz). Every sum
// of frame counts below it stays far from overflowing.
constexpr int64_t max_frames = int64_t{1} << 50;

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

} // namespace

std::vector<std::string> media_paths_of(const messages::session_document& doc) {
  std::vector<std::string> paths;
  std::set<std::string> seen;
  for (const auto& t : doc.tracks) {
    if (!audible(doc, t))
      continue;
    for (const auto& c : t.clips)
      if (seen.insert(c.media_path).second)
        paths.push_back(c.media_path);
  }
  return paths;
}

caf::expected<messages::render_plan> resolve_timeline(const messages::session_document& doc,
                                                      const messages::render_settings& settings,
                                                      const std::vector<messages::media_info>& media) {
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

  auto add_node = [&g](std::string label, node_kind kind, uint32_t partition, uint16_t channels,
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

  const uint32_t rate = doc.sample_rate;
  int64_t session_end = 0;
  std::vector<uint32_t> track_outputs;
  for (size_t t = 0; t < doc.tracks.size(); ++t) {
    const auto& track = doc.tracks[t];
    const auto tp = "/tracks/" + std::to_string(t);
    if (!audible(doc, track)) {
      plan.notes.push_back("track '" + track.id + "' is " + (track.mute ? "muted" : "not soloed") +
                           ": left out");
      continue;
    }
    if (track.clips.empty()) {
      plan.notes.push_back("track '" + track.id + "' has no clips: left out");
      continue;
    }
    const auto partition = static_cast<uint32_t>(g.partitions.size());
    g.partitions.push_back({track.id});
    std::vector<uint32_t> clip_nodes;
    for (size_t k = 0; k < track.clips.size(); ++k) {
      const auto& clip = track.clips[k];
      const auto cp = tp + "/clips/" + std::to_string(k);
      const auto mi = media_index.at(clip.media_path);
      const auto& info = media[mi];
      const int64_t position = to_frames(clip.position, doc.bpm, rate);
      const int64_t offset = to_frames(clip.source_offset, doc.bpm, rate);
      if (position > max_frames)
        return fail(doc, cp + "/position", "is past the longest timeline (2^50 frames)");
      if (clip.length && to_frames(*clip.length, doc.bpm, rate) > max_frames)
        return fail(doc, cp + "/length", "is longer than the longest timeline (2^50 frames)");
      if (offset >= info.frames)
        return fail(doc, cp + "/source_offset",
                    "starts at frame " + std::to_string(offset) + ", past the end of " +
                      clip.media + " (" + std::to_string(info.frames) + " frames, " +
                      seconds_of(info.frames, rate) + ")");
      int64_t length = clip.length ? to_frames(*clip.length, doc.bpm, rate) : info.frames - offset;
      if (length <= 0)
        return fail(doc, cp + "/length", "is shorter than one frame");
      if (offset + length > info.frames) {
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
        const auto frames = to_frames((*spec)->length, doc.bpm, rate);
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
      auto id = add_node(track.id + " / clip " + std::to_string(k), node_kind::clip_source,
                         partition, track.channels, {}, std::move(params));
      g.nodes[id].media = signal::media_region{mi, position, offset, length};
      clip_nodes.push_back(id);
      session_end = std::max(session_end, position + length);
    }
    uint32_t sum = clip_nodes.front();
    if (clip_nodes.size() > 1)
      sum = add_node(track.id + " / clips", node_kind::mix, partition, track.channels,
                     clip_nodes, {});
    for (size_t i = 0; i < track.inserts.size(); ++i) {
      const auto& ins = track.inserts[i];
      const auto ip = tp + "/inserts/" + std::to_string(i);
      const auto label = track.id + " / " + ins.kind + " " + std::to_string(i);
      if (ins.kind == "delay") {
        const auto frames = to_frames(ins.time, doc.bpm, rate);
        if (frames > 2097152)
          return fail(doc, ip + "/time", "is longer than 2^21 frames");
        sum = add_node(label, node_kind::delay, partition, track.channels, {sum},
                       {{"frames", static_cast<double>(frames)},
                        {"feedback", ins.feedback},
                        {"wet", ins.wet},
                        {"dry", ins.dry}});
      } else if (ins.kind == "test.fault") {
        if (!doc.test_nodes && !settings.allow_test_nodes)
          return fail(doc, ip + "/kind",
                      "test.fault nodes inject failures: enable them with \"test_nodes\": true "
                      "in the session or --allow-test-nodes");
        const auto mode = signal::parse_fault_mode(ins.fault);
        if (!mode)
          return fail(doc, ip + "/fault", "unknown fault \"" + ins.fault + "\"");
        const auto at = to_frames(ins.at, doc.bpm, rate);
        if (at > max_frames)
          return fail(doc, ip + "/at", "is past 2^50 frames");
        sum = add_node(label, node_kind::test_fault, partition, track.channels, {sum},
                       {{"mode", static_cast<double>(*mode)},
                        {"at_frame", static_cast<double>(at)},
                        {"leak_bytes", std::ldexp(ins.leak_mb, 20)},
                        {"sleep_us", std::round(ins.sleep_ms * 1000.0)}});
      } else {
        return fail(doc, ip + "/kind", "unknown insert kind \"" + ins.kind + "\"");
      }
    }
    auto fader = add_node(track.id + " / fader", node_kind::gain, partition, track.channels,
                          {sum}, {{"gain", db_to_gain(track.gain_db)}});
    auto pan = add_node(track.id + " / pan", node_kind::pan, partition, 2, {fader},
                        {{"position", track.pan}});
    track_outputs.push_back(pan);
  }
  if (track_outputs.empty())
    return fail(doc, "/tracks", "nothing to render: no track is audible and has clips");

  const auto master = static_cast<uint32_t>(g.partitions.size());
  g.partitions.push_back({"master"});
  auto bus = add_node("master / sum", node_kind::mix, master, 2, track_outputs, {});
  auto master_gain = add_node("master / fader", node_kind::gain, master, 2, {bus},
                              {{"gain", db_to_gain(doc.master_gain_db)}});
  const double seed = static_cast<double>(
    settings.dither_seed != 0 ? settings.dither_seed : (signal::default_dither_seed >> 11));
  g.output_node = add_node("master / output", node_kind::output, master, 2, {master_gain},
                           {{"bits", static_cast<double>(settings.bits)},
                            {"dither", settings.dither ? 1.0 : 0.0},
                            {"dither_seed", seed}});

  g.first_frame = 0;
  g.frame_count = session_end;
  if (settings.range) {
    const auto start = to_frames(settings.range->start, doc.bpm, rate);
    const auto end = to_frames(settings.range->end, doc.bpm, rate);
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
          [self, id, rp, doc, settings](const std::vector<messages::media_info>& infos) mutable {
            self->state.pending.erase(id);
            auto plan = resolve_timeline(doc, settings, infos);
            if (plan)
              rp.deliver(std::move(*plan));
            else
              rp.deliver(plan.error());
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
