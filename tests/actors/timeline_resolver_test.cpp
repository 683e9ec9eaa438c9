// actors/timeline_resolver.hpp, the pure part: to_frames (beats, seconds and samples to frames,
// rounding half away from zero), media_paths_of, and resolve_timeline turning a session document
// and hand-made media probes into a validated RenderGraph (placement, default lengths, rounding
// overruns, fades, gains, mute and solo, ranges, partitions, the output node).

#define BOOST_TEST_MODULE actors_timeline_resolver
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "actors/timeline_resolver.hpp"
#include "kernel/error.hpp"
#include "signal/node_catalog.hpp"
#include "signal/render_graph.hpp"
#include "signal/tpdf_dither.hpp"

namespace tt = boost::test_tools;
using loophole::actors::media_paths_of;
using loophole::actors::resolve_timeline;
using loophole::actors::to_frames;
using loophole::kernel::errc;
using loophole::messages::clip_spec;
using loophole::messages::fade_spec;
using loophole::messages::media_info;
using loophole::messages::render_plan;
using loophole::messages::render_settings;
using loophole::messages::session_document;
using loophole::messages::time_range;
using loophole::messages::time_unit;
using loophole::messages::time_value;
using loophole::messages::track_spec;
using loophole::signal::node_kind;
using loophole::signal::render_graph;
using loophole::signal::render_node;

namespace {

// -- building sessions -----------------------------------------------------------------------

time_value samples(double n) {
  return {time_unit::samples, n};
}
time_value seconds(double s) {
  return {time_unit::seconds, s};
}
time_value beats(double b) {
  return {time_unit::beats, b};
}

session_document make_doc(uint32_t rate = 48000, double bpm = 120.0) {
  session_document doc;
  doc.path = "/studio/song.json";
  doc.sample_rate = rate;
  doc.bpm = bpm;
  return doc;
}

clip_spec clip(const std::string& media, time_value position,
               std::optional<time_value> length = std::nullopt,
               time_value source_offset = samples(0)) {
  clip_spec c;
  c.media = media;
  c.media_path = "/studio/" + media;
  c.position = position;
  c.length = length;
  c.source_offset = source_offset;
  return c;
}

track_spec track(const std::string& id, std::vector<clip_spec> clips = {}) {
  track_spec t;
  t.id = id;
  t.name = id;
  t.clips = std::move(clips);
  return t;
}

/// A probe of "/studio/<media>": `frames` at the session rate.
media_info probe(const std::string& media, int64_t frames, uint16_t channels = 2,
                 uint32_t rate = 48000) {
  media_info m;
  m.path = "/studio/" + media;
  m.media_id = "id-of-" + media;
  m.channels = channels;
  m.source_frames = frames;
  m.source_rate = rate;
  m.frames = frames;
  m.sample_rate = rate;
  m.format = "WAV";
  return m;
}

// -- reading plans ---------------------------------------------------------------------------

/// The plan, which must have been resolved and must pass signal::validate.
render_plan resolved(const session_document& doc, const std::vector<media_info>& media,
                     const render_settings& settings = {}) {
  auto plan = resolve_timeline(doc, settings, media);
  if (!plan)
    BOOST_FAIL("not resolved: " << loophole::kernel::describe(plan.error()));
  if (auto err = loophole::signal::validate(plan->graph))
    BOOST_FAIL("the graph does not validate: " << err->to_string(plan->graph));
  return std::move(*plan);
}

/// resolve_timeline must fail with `code` and a message that starts with `prefix` and
/// contains `reason`.
void expect_error(const session_document& doc, const std::vector<media_info>& media,
                  const render_settings& settings, errc code, const std::string& prefix,
                  const std::string& reason) {
  auto plan = resolve_timeline(doc, settings, media);
  BOOST_TEST_REQUIRE(!plan, "resolved; expected '" << prefix << "...'");
  const auto& err = plan.error();
  BOOST_TEST((err.category() == loophole::kernel::error_category));
  BOOST_TEST(err.code() == static_cast<uint8_t>(code));
  const auto what = loophole::kernel::describe(err);
  BOOST_TEST(what.rfind(prefix, 0) == 0u,
             "'" << what << "' does not start with '" << prefix << "'");
  BOOST_TEST(what.find(reason) != std::string::npos,
             "'" << what << "' does not say '" << reason << "'");
}

std::vector<const render_node*> nodes_of_kind(const render_graph& g, node_kind kind) {
  std::vector<const render_node*> out;
  for (const auto& n : g.nodes)
    if (n.kind == kind)
      out.push_back(&n);
  return out;
}

const render_node& node_labelled(const render_graph& g, const std::string& label) {
  for (const auto& n : g.nodes)
    if (n.label == label)
      return n;
  BOOST_FAIL("no node labelled '" << label << "'");
  return g.nodes.front(); // not reached
}

bool has_param(const render_node& n, const std::string& name) {
  for (const auto& p : n.params)
    if (p.name == name)
      return true;
  return false;
}

/// The value of parameter `name` of `n` (NaN, which equals nothing, when absent).
double param(const render_node& n, const std::string& name) {
  for (const auto& p : n.params)
    if (p.name == name)
      return p.value;
  return std::nan("");
}

std::vector<std::string> partition_labels(const render_graph& g) {
  std::vector<std::string> out;
  for (const auto& p : g.partitions)
    out.push_back(p.label);
  return out;
}

bool has_note(const render_plan& plan, const std::string& note) {
  for (const auto& n : plan.notes)
    if (n == note)
      return true;
  return false;
}

} // namespace

// -- to_frames -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(samples_are_frames_whatever_the_tempo_and_rate) {
  for (uint32_t rate : {8000u, 44100u, 48000u, 96000u, 384000u})
    for (double bpm : {1.0, 90.0, 120.0, 999.0}) {
      BOOST_TEST(to_frames(samples(0), bpm, rate) == 0);
      BOOST_TEST(to_frames(samples(1), bpm, rate) == 1);
      BOOST_TEST(to_frames(samples(123456789), bpm, rate) == 123456789);
      BOOST_TEST(to_frames(samples(1e12), bpm, rate) == 1000000000000);
    }
}

BOOST_AUTO_TEST_CASE(seconds_are_value_times_rate) {
  for (uint32_t rate : {8000u, 22050u, 44100u, 48000u, 88200u, 96000u, 192000u, 384000u}) {
    BOOST_TEST_CONTEXT("rate " << rate) {
      BOOST_TEST(to_frames(seconds(0), 120, rate) == 0);
      BOOST_TEST(to_frames(seconds(1), 120, rate) == rate);
      BOOST_TEST(to_frames(seconds(1), 77.7, rate) == rate); // tempo plays no part
      BOOST_TEST(to_frames(seconds(2.5), 120, rate) == int64_t{rate} * 5 / 2);
      BOOST_TEST(to_frames(seconds(3600), 120, rate) == int64_t{rate} * 3600);
    }
  }
  BOOST_TEST(to_frames(seconds(1.25), 120, 44100) == 55125);
  BOOST_TEST(to_frames(seconds(0.1), 120, 44100) == 4410);
  BOOST_TEST(to_frames(seconds(1.0 / 3.0), 120, 44100) == 14700);
  BOOST_TEST(to_frames(seconds(0.00001), 120, 48000) == 0);  // 0.48 frames
  BOOST_TEST(to_frames(seconds(0.000011), 120, 48000) == 1); // 0.528 frames
}

BOOST_AUTO_TEST_CASE(beats_are_value_times_60_over_bpm_times_rate) {
  struct row {
    double beats, bpm;
    uint32_t rate;
    int64_t frames;
  };
  const std::vector<row> rows{
      {1, 60, 48000, 48000},        {1, 120, 48000, 24000},        {4, 120, 48000, 96000},
      {1, 90, 48000, 32000},        {1, 90, 44100, 29400},         {4.5, 120, 44100, 99225},
      {4, 140, 48000, 82286},   // 82285.714...
      {1, 140, 48000, 20571},   // 20571.428...
      {16, 174, 96000, 529655}, // 529655.17...
      {1, 999, 8000, 480},      // 480.48
      {0.25, 112, 44100, 5906}, // 5906.25
      {0.001, 0.001, 8000, 480000}, {1000, 120, 192000, 96000000},
  };
  for (const auto& r : rows)
    BOOST_TEST(to_frames(beats(r.beats), r.bpm, r.rate) == r.frames,
               r.beats << " beats at " << r.bpm << " bpm, " << r.rate << " Hz");
}

BOOST_AUTO_TEST_CASE(exact_halves_round_away_from_zero) {
  // Values whose frame count is exactly k + 1/2 in binary floating point. Round half to even
  // would give 2, 2, 0, 4; half away from zero gives 3, 3, 1, 5.
  BOOST_TEST(to_frames(seconds(2.5), 120, 1) == 3);
  BOOST_TEST(to_frames(beats(5), 120, 1) == 3);                   // 2.5 frames
  BOOST_TEST(to_frames(seconds(1.0 / 32768.0), 120, 16384) == 1); // 0.5 frames
  BOOST_TEST(to_frames(beats(4.5), 60, 1) == 5);                  // 4.5 frames
  BOOST_TEST(to_frames(seconds(1.5), 120, 1) == 2);
  // And away from zero below it too.
  BOOST_TEST(to_frames(seconds(-2.5), 120, 1) == -3);
  BOOST_TEST(to_frames(beats(-1), 120, 1) == -1); // -0.5 frames
}

// -- media_paths_of --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(media_paths_are_unique_in_first_use_order_and_audible_only) {
  auto doc = make_doc();
  doc.tracks.push_back(track(
      "a", {clip("b.wav", samples(0)), clip("a.wav", samples(10)), clip("b.wav", samples(20))}));
  auto muted = track("m", {clip("muted.wav", samples(0))});
  muted.mute = true;
  doc.tracks.push_back(muted);
  doc.tracks.push_back(track("c", {clip("c.wav", samples(0)), clip("a.wav", samples(0))}));
  BOOST_TEST(media_paths_of(doc) ==
                 (std::vector<std::string>{"/studio/b.wav", "/studio/a.wav", "/studio/c.wav"}),
             tt::per_element());

  doc.tracks[2].solo = true;
  BOOST_TEST(media_paths_of(doc) == (std::vector<std::string>{"/studio/c.wav", "/studio/a.wav"}),
             tt::per_element());
  BOOST_TEST(media_paths_of(make_doc()).empty());
}

// -- placement -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_clip_is_placed_in_frames_from_beats_seconds_and_samples) {
  auto doc = make_doc(48000, 120);
  doc.tracks.push_back(track("drums", {clip("drums.wav", beats(2), samples(96000), seconds(0.5))}));
  const auto plan = resolved(doc, {probe("drums.wav", 200000)});
  const auto& g = plan.graph;
  BOOST_TEST(g.sample_rate == 48000u);
  BOOST_TEST((g.mode == loophole::signal::render_mode::offline));
  BOOST_TEST_REQUIRE(g.media.size() == 1u);
  BOOST_TEST(g.media[0].media_id == "id-of-drums.wav");
  BOOST_TEST(g.media[0].channels == 2u);
  BOOST_TEST(g.media[0].frames == 200000);
  const auto sources = nodes_of_kind(g, node_kind::clip_source);
  BOOST_TEST_REQUIRE(sources.size() == 1u);
  const auto& src = *sources[0];
  BOOST_TEST(src.label == "drums / clip 0");
  BOOST_TEST_REQUIRE(src.media.has_value());
  BOOST_TEST(src.media->media_index == 0u);
  BOOST_TEST(src.media->timeline_start == 48000); // 2 beats at 120 bpm
  BOOST_TEST(src.media->source_offset == 24000);  // 0.5 s
  BOOST_TEST(src.media->length == 96000);
  // The render spans the session: from 0 to the end of the last clip.
  BOOST_TEST(g.first_frame == 0);
  BOOST_TEST(g.frame_count == 48000 + 96000);
}

BOOST_AUTO_TEST_CASE(placement_follows_the_session_rate_and_tempo) {
  for (uint32_t rate : {44100u, 48000u, 96000u})
    for (double bpm : {90.0, 120.0, 140.0}) {
      BOOST_TEST_CONTEXT(rate << " Hz, " << bpm << " bpm") {
        auto doc = make_doc(rate, bpm);
        doc.tracks.push_back(track("t", {clip("x.wav", beats(8), seconds(1), beats(1))}));
        const auto plan = resolved(doc, {probe("x.wav", int64_t{rate} * 10, 2, rate)});
        const auto& src = *nodes_of_kind(plan.graph, node_kind::clip_source).at(0);
        const auto beat = 60.0 / bpm * rate;
        BOOST_TEST(src.media->timeline_start == std::llround(8 * beat));
        BOOST_TEST(src.media->source_offset == std::llround(beat));
        BOOST_TEST(src.media->length == int64_t{rate});
        BOOST_TEST(plan.graph.frame_count == std::llround(8 * beat) + int64_t{rate});
      }
    }
}

BOOST_AUTO_TEST_CASE(without_a_length_a_clip_plays_to_the_end_of_its_media) {
  auto doc = make_doc();
  doc.tracks.push_back(track("t", {clip("x.wav", samples(1000)),
                                   clip("x.wav", samples(50000), std::nullopt, samples(30000))}));
  const auto plan = resolved(doc, {probe("x.wav", 48000)});
  const auto sources = nodes_of_kind(plan.graph, node_kind::clip_source);
  BOOST_TEST_REQUIRE(sources.size() == 2u);
  BOOST_TEST(sources[0]->media->length == 48000);
  BOOST_TEST(sources[1]->media->source_offset == 30000);
  BOOST_TEST(sources[1]->media->length == 18000);
  BOOST_TEST(plan.graph.frame_count == 50000 + 18000);
}

BOOST_AUTO_TEST_CASE(a_one_frame_rounding_overrun_is_clamped_to_the_media) {
  auto doc = make_doc(48000);
  // 1 s is 48000 frames; the media has 47999 (e.g. a resampled file rounded down).
  doc.tracks.push_back(track("t", {clip("x.wav", samples(0), seconds(1)),
                                   clip("x.wav", samples(0), samples(47900), samples(100))}));
  const auto plan = resolved(doc, {probe("x.wav", 47999)});
  const auto sources = nodes_of_kind(plan.graph, node_kind::clip_source);
  BOOST_TEST_REQUIRE(sources.size() == 2u);
  BOOST_TEST(sources[0]->media->length == 47999);
  BOOST_TEST(sources[1]->media->source_offset == 100);
  BOOST_TEST(sources[1]->media->length == 47899);
}

BOOST_AUTO_TEST_CASE(more_than_one_frame_past_the_media_is_refused_naming_the_length) {
  auto doc = make_doc(48000);
  doc.tracks.push_back(track("a", {clip("x.wav", samples(0))}));
  doc.tracks.push_back(track(
      "b", {clip("x.wav", samples(0)), clip("x.wav", samples(0), samples(47901), samples(100))}));
  expect_error(doc, {probe("x.wav", 47999)}, {}, errc::bad_session,
               "/studio/song.json: /tracks/1/clips/1/length: ",
               "needs frames up to 48001 but x.wav has 47999 frames");
}

BOOST_AUTO_TEST_CASE(a_source_offset_at_or_past_the_end_of_the_media_is_refused) {
  for (double offset : {48000.0, 48001.0, 1e9}) {
    auto doc = make_doc(48000);
    doc.tracks.push_back(track("a", {clip("x.wav", samples(0), std::nullopt, samples(offset))}));
    expect_error(doc, {probe("x.wav", 48000)}, {}, errc::bad_session,
                 "/studio/song.json: /tracks/0/clips/0/source_offset: ",
                 "past the end of x.wav (48000 frames, 1.000 s)");
  }
}

BOOST_AUTO_TEST_CASE(a_length_that_rounds_to_no_frame_is_refused) {
  auto doc = make_doc(48000);
  doc.tracks.push_back(track("a", {clip("x.wav", samples(0), seconds(0.00001))}));
  expect_error(doc, {probe("x.wav", 48000)}, {}, errc::bad_session,
               "/studio/song.json: /tracks/0/clips/0/length: ", "is shorter than one frame");
}

// -- parameters ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(fades_become_frame_and_shape_parameters) {
  auto doc = make_doc(48000, 120);
  auto c = clip("x.wav", samples(0), seconds(2));
  c.fade_in = fade_spec{samples(480), "equal_power"};
  c.fade_out = fade_spec{beats(1), "s_curve"};
  auto plain = clip("x.wav", seconds(2), seconds(1));
  auto exp_only = clip("x.wav", seconds(3), seconds(1));
  exp_only.fade_out = fade_spec{seconds(0.25), "exponential"};
  auto lin_in = clip("x.wav", seconds(4), seconds(1));
  lin_in.fade_in = fade_spec{seconds(0.5), "linear"};
  doc.tracks.push_back(track("t", {c, plain, exp_only, lin_in}));
  const auto plan = resolved(doc, {probe("x.wav", 480000)});
  const auto sources = nodes_of_kind(plan.graph, node_kind::clip_source);
  BOOST_TEST_REQUIRE(sources.size() == 4u);
  using loophole::signal::fade_shape;
  BOOST_TEST(param(*sources[0], "fade_in_frames") == 480.0);
  BOOST_TEST(param(*sources[0], "fade_in_shape") == static_cast<double>(fade_shape::equal_power));
  BOOST_TEST(param(*sources[0], "fade_out_frames") == 24000.0); // 1 beat at 120 bpm
  BOOST_TEST(param(*sources[0], "fade_out_shape") == static_cast<double>(fade_shape::s_curve));
  // No fade: no fade parameters (the node's defaults are no fade).
  BOOST_TEST(!has_param(*sources[1], "fade_in_frames"));
  BOOST_TEST(!has_param(*sources[1], "fade_out_frames"));
  BOOST_TEST(!has_param(*sources[2], "fade_in_frames"));
  BOOST_TEST(param(*sources[2], "fade_out_frames") == 12000.0);
  BOOST_TEST(param(*sources[2], "fade_out_shape") == static_cast<double>(fade_shape::exponential));
  BOOST_TEST(param(*sources[3], "fade_in_frames") == 24000.0);
  BOOST_TEST(param(*sources[3], "fade_in_shape") == static_cast<double>(fade_shape::linear));
  BOOST_TEST(!has_param(*sources[3], "fade_out_frames"));
}

BOOST_AUTO_TEST_CASE(fades_that_fill_the_clip_exactly_are_fine_longer_ones_are_refused) {
  auto doc = make_doc(48000);
  auto c = clip("x.wav", samples(0), samples(1000));
  c.fade_in = fade_spec{samples(400), "linear"};
  c.fade_out = fade_spec{samples(600), "linear"};
  doc.tracks.push_back(track("t", {c}));
  BOOST_TEST(static_cast<bool>(resolve_timeline(doc, {}, {probe("x.wav", 48000)})));
  doc.tracks[0].clips[0].fade_out->length = samples(601);
  expect_error(doc, {probe("x.wav", 48000)}, {}, errc::bad_session,
               "/studio/song.json: /tracks/0/clips/0: ",
               "the fades (1001 frames) are longer than the clip (1000 frames)");
}

BOOST_AUTO_TEST_CASE(gains_in_db_become_linear_factors) {
  auto doc = make_doc();
  auto c = clip("x.wav", samples(0));
  c.gain_db = -20.0 * std::log10(2.0); // one half
  auto t = track("t", {c});
  t.gain_db = 20.0;
  t.pan = -0.5;
  doc.tracks.push_back(t);
  doc.master_gain_db = -144.0;
  const auto plan = resolved(doc, {probe("x.wav", 1000)});
  const auto& g = plan.graph;
  BOOST_TEST(param(node_labelled(g, "t / clip 0"), "gain") == 0.5, tt::tolerance(1e-12));
  BOOST_TEST(param(node_labelled(g, "t / fader"), "gain") == 10.0, tt::tolerance(1e-12));
  BOOST_TEST(param(node_labelled(g, "t / pan"), "position") == -0.5);
  BOOST_TEST(param(node_labelled(g, "master / fader"), "gain") == std::pow(10.0, -144.0 / 20.0),
             tt::tolerance(1e-12));

  doc.tracks[0].clips[0].gain_db = 0.0;
  doc.tracks[0].gain_db = 24.0;
  doc.master_gain_db = 6.0;
  const auto loud = resolved(doc, {probe("x.wav", 1000)});
  BOOST_TEST(param(node_labelled(loud.graph, "t / clip 0"), "gain") == 1.0);
  BOOST_TEST(param(node_labelled(loud.graph, "t / fader"), "gain") == 15.848931924611133,
             tt::tolerance(1e-12));
  BOOST_TEST(param(node_labelled(loud.graph, "master / fader"), "gain") == 1.9952623149688795,
             tt::tolerance(1e-12));
}

// -- graph structure -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(each_track_is_clips_then_fader_then_pan_into_the_master) {
  auto doc = make_doc();
  auto mono = track("vox", {clip("v.wav", samples(0))});
  mono.channels = 1;
  doc.tracks.push_back(mono);
  doc.tracks.push_back(track("keys", {clip("k1.wav", samples(0)), clip("k2.wav", samples(500)),
                                      clip("k1.wav", samples(900))}));
  const auto plan =
      resolved(doc, {probe("v.wav", 1000, 1), probe("k1.wav", 1000), probe("k2.wav", 1000)});
  const auto& g = plan.graph;
  BOOST_TEST(partition_labels(g) == (std::vector<std::string>{"vox", "keys", "master"}),
             tt::per_element());

  const auto& v_clip = node_labelled(g, "vox / clip 0");
  const auto& v_fader = node_labelled(g, "vox / fader");
  const auto& v_pan = node_labelled(g, "vox / pan");
  BOOST_TEST(v_clip.partition == 0u);
  BOOST_TEST(v_clip.channels == 1u); // the track's width
  BOOST_TEST(v_fader.inputs == std::vector<uint32_t>{v_clip.id}, tt::per_element());
  BOOST_TEST(v_fader.channels == 1u);
  BOOST_TEST(v_pan.inputs == std::vector<uint32_t>{v_fader.id}, tt::per_element());
  BOOST_TEST(v_pan.channels == 2u);
  BOOST_TEST(v_pan.partition == 0u);

  // Several clips are summed, in clip order, before the fader.
  const auto& k_sum = node_labelled(g, "keys / clips");
  BOOST_TEST((k_sum.kind == node_kind::mix));
  BOOST_TEST(k_sum.partition == 1u);
  BOOST_TEST(k_sum.inputs == (std::vector<uint32_t>{node_labelled(g, "keys / clip 0").id,
                                                    node_labelled(g, "keys / clip 1").id,
                                                    node_labelled(g, "keys / clip 2").id}),
             tt::per_element());
  // Clips of the same file share one media buffer.
  BOOST_TEST(g.media.size() == 3u);
  BOOST_TEST(node_labelled(g, "keys / clip 0").media->media_index ==
             node_labelled(g, "keys / clip 2").media->media_index);
  BOOST_TEST(node_labelled(g, "keys / fader").inputs == std::vector<uint32_t>{k_sum.id},
             tt::per_element());

  const auto& m_sum = node_labelled(g, "master / sum");
  const auto& m_fader = node_labelled(g, "master / fader");
  BOOST_TEST(m_sum.partition == 2u);
  BOOST_TEST(m_sum.inputs == (std::vector<uint32_t>{v_pan.id, node_labelled(g, "keys / pan").id}),
             tt::per_element());
  BOOST_TEST(m_fader.inputs == std::vector<uint32_t>{m_sum.id}, tt::per_element());
  BOOST_TEST_REQUIRE(g.output_node < g.nodes.size());
  const auto& out = g.nodes[g.output_node];
  BOOST_TEST((out.kind == node_kind::output));
  BOOST_TEST(out.label == "master / output");
  BOOST_TEST(out.partition == 2u);
  BOOST_TEST(out.channels == 2u);
  BOOST_TEST(out.inputs == std::vector<uint32_t>{m_fader.id}, tt::per_element());
  BOOST_TEST(nodes_of_kind(g, node_kind::output).size() == 1u);
  BOOST_TEST(g.frame_count == 1900);
}

BOOST_AUTO_TEST_CASE(the_plan_carries_the_probes_and_the_metadata) {
  auto doc = make_doc();
  doc.metadata.title = "Demo";
  doc.metadata.artist = "Loophole";
  doc.metadata.date = "2024-05-31";
  doc.tracks.push_back(track("t", {clip("b.wav", samples(0)), clip("a.wav", samples(0))}));
  const std::vector<media_info> probes{probe("b.wav", 100), probe("a.wav", 200, 1)};
  const auto plan = resolved(doc, probes);
  BOOST_TEST_REQUIRE(plan.media.size() == 2u);
  BOOST_TEST(plan.media[0].path == "/studio/b.wav");
  BOOST_TEST(plan.media[1].path == "/studio/a.wav");
  BOOST_TEST(plan.graph.media[1].media_id == "id-of-a.wav");
  BOOST_TEST(plan.graph.media[1].channels == 1u);
  BOOST_TEST(plan.graph.media[1].frames == 200);
  BOOST_TEST(plan.metadata.title == "Demo");
  BOOST_TEST(plan.metadata.artist == "Loophole");
  BOOST_TEST(plan.metadata.date == "2024-05-31");
  BOOST_TEST(plan.notes.empty());
}

BOOST_AUTO_TEST_CASE(probes_that_do_not_match_the_media_paths_are_an_internal_error) {
  auto doc = make_doc();
  doc.tracks.push_back(track("t", {clip("a.wav", samples(0))}));
  auto plan = resolve_timeline(doc, {}, {});
  BOOST_TEST_REQUIRE(!plan);
  BOOST_TEST(plan.error().code() == static_cast<uint8_t>(errc::internal));
  auto two = resolve_timeline(doc, {}, {probe("a.wav", 10), probe("b.wav", 10)});
  BOOST_TEST_REQUIRE(!two);
  BOOST_TEST(two.error().code() == static_cast<uint8_t>(errc::internal));
}

// -- output ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_output_node_takes_bits_dither_and_seed_from_the_settings) {
  auto doc = make_doc();
  doc.tracks.push_back(track("t", {clip("x.wav", samples(0))}));
  struct row {
    uint16_t bits;
    bool dither;
    uint64_t seed;
  };
  for (const auto& r : std::vector<row>{{24, true, 0},
                                        {16, false, 42},
                                        {0, false, 0},
                                        {32, true, 7},
                                        {8, true, (uint64_t{1} << 53)}}) {
    BOOST_TEST_CONTEXT("bits " << r.bits << ", dither " << r.dither << ", seed " << r.seed) {
      render_settings s;
      s.bits = r.bits;
      s.dither = r.dither;
      s.dither_seed = r.seed;
      const auto plan = resolved(doc, {probe("x.wav", 100)}, s);
      const auto& out = plan.graph.nodes[plan.graph.output_node];
      BOOST_TEST(param(out, "bits") == static_cast<double>(r.bits));
      BOOST_TEST(param(out, "dither") == (r.dither ? 1.0 : 0.0));
      const auto seed = r.seed != 0 ? r.seed : loophole::signal::default_dither_seed >> 11;
      BOOST_TEST(param(out, "dither_seed") == static_cast<double>(seed));
    }
  }
}

// -- mute and solo ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(muted_tracks_and_tracks_without_clips_are_left_out_with_a_note) {
  auto doc = make_doc();
  auto muted = track("quiet", {clip("q.wav", samples(0), samples(5000))});
  muted.mute = true;
  doc.tracks.push_back(muted);
  doc.tracks.push_back(track("empty"));
  doc.tracks.push_back(track("loud", {clip("l.wav", samples(100))}));
  const auto plan = resolved(doc, {probe("l.wav", 1000)});
  BOOST_TEST(partition_labels(plan.graph) == (std::vector<std::string>{"loud", "master"}),
             tt::per_element());
  BOOST_TEST(plan.graph.media.size() == 1u);
  BOOST_TEST(plan.notes.size() == 2u);
  BOOST_TEST(has_note(plan, "track 'quiet' is muted: left out"));
  BOOST_TEST(has_note(plan, "track 'empty' has no clips: left out"));
  // The muted clip does not stretch the render.
  BOOST_TEST(plan.graph.frame_count == 1100);
}

BOOST_AUTO_TEST_CASE(a_solo_leaves_out_every_track_not_soloed) {
  auto doc = make_doc();
  auto a = track("a", {clip("a.wav", samples(0))});
  auto b = track("b", {clip("b.wav", samples(0))});
  auto c = track("c", {clip("c.wav", samples(0))});
  b.solo = true;
  c.solo = true;
  doc.tracks = {a, b, c};
  const auto plan = resolved(doc, {probe("b.wav", 100), probe("c.wav", 100)});
  BOOST_TEST(partition_labels(plan.graph) == (std::vector<std::string>{"b", "c", "master"}),
             tt::per_element());
  BOOST_TEST(plan.notes == std::vector<std::string>{"track 'a' is not soloed: left out"},
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(solo_wins_over_tracks_that_are_merely_unmuted_and_mute_still_silences) {
  // The documented rule taken literally: when any track is soloed only soloed tracks sound,
  // and a muted track stays muted even when soloed.
  auto doc = make_doc();
  auto plain = track("plain", {clip("p.wav", samples(0))});
  auto soloed = track("soloed", {clip("s.wav", samples(0))});
  soloed.solo = true;
  auto both = track("both", {clip("m.wav", samples(0))});
  both.solo = true;
  both.mute = true;
  doc.tracks = {plain, soloed, both};
  BOOST_TEST(media_paths_of(doc) == std::vector<std::string>{"/studio/s.wav"}, tt::per_element());
  const auto plan = resolved(doc, {probe("s.wav", 100)});
  BOOST_TEST(partition_labels(plan.graph) == (std::vector<std::string>{"soloed", "master"}),
             tt::per_element());
  BOOST_TEST(has_note(plan, "track 'plain' is not soloed: left out"));
  BOOST_TEST(has_note(plan, "track 'both' is muted: left out"));
}

// -- nothing to render -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_session_with_nothing_audible_is_refused) {
  const std::string prefix = "/studio/song.json: /tracks: ";
  const std::string reason = "nothing to render";
  expect_error(make_doc(), {}, {}, errc::bad_session, prefix, reason);

  auto doc = make_doc();
  doc.tracks.push_back(track("empty"));
  expect_error(doc, {}, {}, errc::bad_session, prefix, reason);

  auto muted = track("m", {clip("m.wav", samples(0))});
  muted.mute = true;
  doc.tracks.push_back(muted);
  expect_error(doc, {}, {}, errc::bad_session, prefix, reason);
}

// -- ranges ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_range_sets_the_first_frame_and_the_frame_count) {
  auto doc = make_doc(48000, 120);
  doc.tracks.push_back(track("t", {clip("x.wav", samples(0), seconds(10))}));
  const std::vector<media_info> probes{probe("x.wav", 480000)};
  struct row {
    time_value start, end;
    int64_t first, count;
  };
  for (const auto& r : std::vector<row>{
           {beats(1), seconds(2), 24000, 72000},
           {samples(0), samples(1), 0, 1},
           {seconds(9), seconds(12), 432000, 144000}, // past the end of the session: silence
           {beats(0.5), beats(4.5), 12000, 96000},
       }) {
    render_settings s;
    s.range = time_range{r.start, r.end};
    const auto plan = resolved(doc, probes, s);
    BOOST_TEST(plan.graph.first_frame == r.first);
    BOOST_TEST(plan.graph.frame_count == r.count);
  }
}

BOOST_AUTO_TEST_CASE(a_range_that_ends_before_it_starts_is_a_usage_error) {
  auto doc = make_doc(48000, 120);
  doc.tracks.push_back(track("t", {clip("x.wav", samples(0))}));
  for (const auto& [start, end] :
       std::vector<std::pair<time_value, time_value>>{{seconds(2), seconds(1)},
                                                      {seconds(1), samples(48000)},
                                                      {beats(2), seconds(1)},
                                                      {seconds(0.00001), samples(0)}}) {
    render_settings s;
    s.range = time_range{start, end};
    expect_error(doc, {probe("x.wav", 480000)}, s, errc::usage, "--range: the end (frame ",
                 "is not after the start (frame ");
  }
}

// -- times the format allows but frames cannot hold --------------------------------------------

BOOST_AUTO_TEST_CASE(a_source_offset_too_large_for_frames_is_refused_at_the_source_offset) {
  // The format allows 1e12 beats and 0.001 bpm: 1e12 * 60 / 0.001 * 384000 = 2.3e22 frames, far
  // beyond int64_t. It is past the end of any media, and must be said so.
  auto doc = make_doc(384000, 0.001);
  doc.tracks.push_back(track("t", {clip("x.wav", samples(0), std::nullopt, beats(1e12))}));
  // Regression (fixed): actors/timeline_resolver.cpp to_frames: std::llround of a value outside int64_t is
  // unspecified (LLONG_MIN on x86-64), so the offset comes out negative, passes the
  // `offset >= info.frames` check, and `info.frames - offset` then overflows int64_t (undefined
  // behaviour: at -O2 GCC drops the `length <= 0` check after it, and the error that comes out
  // is "the fades (0 frames) are longer than the clip (-9223372036854727808 frames)"). to_frames
  // should saturate, and the resolver refuse times beyond the graph's 2^50 frames by pointer.
  expect_error(doc, {probe("x.wav", 48000, 2, 384000)}, {}, errc::bad_session,
               "/studio/song.json: /tracks/0/clips/0/source_offset: ", "past the end of x.wav");
}

BOOST_AUTO_TEST_CASE(a_position_too_large_for_frames_is_refused_naming_the_clip) {
  auto doc = make_doc(384000, 0.001);
  doc.tracks.push_back(track("t", {clip("x.wav", beats(1e12))}));
  auto plan = resolve_timeline(doc, {}, {probe("x.wav", 48000, 2, 384000)});
  BOOST_TEST_REQUIRE(!plan, "a clip at 2.3e22 frames was accepted");
  const auto what = loophole::kernel::describe(plan.error());
  BOOST_TEST_MESSAGE("refused with: " << what);
  // Regression (fixed): (same cause) the position becomes a negative frame and only signal::validate notices,
  // as the bad_graph error "the time span is empty or starts before frame 0", which names
  // neither the clip nor /tracks/0/clips/0/position.
  BOOST_TEST(what.rfind("/studio/song.json: /tracks/0/clips/0/position: ", 0) == 0u, what);
}

// -- inserts ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(inserts)

namespace {

loophole::messages::insert_spec delay_insert(time_value t, double feedback) {
  loophole::messages::insert_spec i;
  i.kind = "delay";
  i.params = {{"frames", 0.0, t}, {"feedback", feedback, {}}, {"wet", 0.5, {}}, {"dry", 1.0, {}}};
  return i;
}

loophole::messages::insert_spec fault_insert(const std::string& fault, time_value at) {
  loophole::messages::insert_spec i;
  i.kind = "test.fault";
  i.fault = fault;
  i.at = at;
  i.leak_mb = 2;
  return i;
}

} // namespace

BOOST_AUTO_TEST_CASE(inserts_chain_after_the_clips_and_before_the_fader_in_order) {
  auto doc = make_doc(48000, 120.0);
  doc.test_nodes = true;
  auto t = track("a", {clip("x.wav", samples(0))});
  t.inserts = {delay_insert(beats(0.5), 0.25), fault_insert("abort", seconds(1.5))};
  doc.tracks.push_back(t);
  auto plan = resolved(doc, {probe("x.wav", 96000)});
  const auto& g = plan.graph;
  const auto& d = node_labelled(g, "a / delay 0");
  const auto& f = node_labelled(g, "a / test.fault 1");
  const auto& fader = node_labelled(g, "a / fader");
  BOOST_TEST((d.kind == node_kind::delay));
  BOOST_TEST(param(d, "frames") == 12000.0); // half a beat at 120 bpm
  BOOST_TEST(param(d, "feedback") == 0.25);
  BOOST_TEST(param(d, "wet") == 0.5);
  BOOST_TEST(param(d, "dry") == 1.0);
  BOOST_TEST((f.kind == node_kind::test_fault));
  BOOST_TEST(param(f, "mode") == static_cast<double>(loophole::signal::fault_mode::abort));
  BOOST_TEST(param(f, "at_frame") == 72000.0);
  BOOST_TEST(param(f, "leak_bytes") == 2.0 * 1048576.0);
  BOOST_TEST((f.inputs == std::vector<uint32_t>{d.id}));
  BOOST_TEST((fader.inputs == std::vector<uint32_t>{f.id}));
  BOOST_TEST(d.partition == fader.partition);
}

BOOST_AUTO_TEST_CASE(a_fault_insert_is_refused_unless_test_nodes_are_enabled) {
  auto doc = make_doc();
  auto t = track("a", {clip("x.wav", samples(0))});
  t.inserts = {delay_insert(samples(10), 0.0), fault_insert("segv", samples(0))};
  doc.tracks.push_back(t);
  expect_error(doc, {probe("x.wav", 48000)}, {}, errc::bad_session,
               "/studio/song.json: /tracks/0/inserts/1/kind: ", "--allow-test-nodes");
  render_settings allowed;
  allowed.allow_test_nodes = true;
  auto plan = resolved(doc, {probe("x.wav", 48000)}, allowed);
  BOOST_TEST(nodes_of_kind(plan.graph, node_kind::test_fault).size() == 1u);
}

BOOST_AUTO_TEST_CASE(an_unknown_fault_or_a_too_long_delay_is_refused_at_its_pointer) {
  auto doc = make_doc();
  doc.test_nodes = true;
  auto t = track("a", {clip("x.wav", samples(0))});
  t.inserts = {fault_insert("explode", samples(0))};
  doc.tracks.push_back(t);
  expect_error(doc, {probe("x.wav", 48000)}, {}, errc::bad_session,
               "/studio/song.json: /tracks/0/inserts/0/fault: ", "unknown fault \"explode\"");
  doc.tracks[0].inserts = {delay_insert(seconds(60), 0.0)};
  expect_error(doc, {probe("x.wav", 48000)}, {}, errc::bad_session,
               "/studio/song.json: /tracks/0/inserts/0/time: ", "longer than the most (2097152 frames)");
}

BOOST_AUTO_TEST_SUITE_END()

// -- tempo maps, meters, bars and markers ----------------------------------------------------

BOOST_AUTO_TEST_SUITE(timebase)

namespace {

/// Seconds at beat b of the map 120 bpm to beat 16, then a ramp (linear in time) to 140 at
/// beat 48, then 140: the closed form, computed here.
double ramp_map_seconds(double b) {
  if (b <= 16)
    return b * 0.5;
  const double d = 120.0 * 32 / 260, a = 20.0 / d;
  if (b <= 48)
    return 8.0 + (-120.0 + std::sqrt(120.0 * 120.0 + 120.0 * a * (b - 16))) / a;
  return 8.0 + d + (b - 48) * 60.0 / 140.0;
}

session_document ramp_doc() {
  auto doc = make_doc(48000, 120.0);
  doc.tempo_changes = {{16.0, 120.0, false}, {48.0, 140.0, true}};
  doc.meter_changes = {{9, 7, 8}};
  return doc;
}

int64_t frame_at(double seconds) {
  return std::llround(seconds * 48000);
}

} // namespace

BOOST_AUTO_TEST_CASE(positions_lengths_and_fades_in_beats_follow_the_tempo_map) {
  auto doc = ramp_doc();
  auto c = clip("x.wav", beats(20), beats(8));
  c.fade_in = loophole::messages::fade_spec{beats(1), "linear"};
  c.fade_out = loophole::messages::fade_spec{beats(2), "linear"};
  doc.tracks.push_back(track("a", {c}));
  auto plan = resolved(doc, {probe("x.wav", 48000 * 60)});
  const auto& n = *nodes_of_kind(plan.graph, node_kind::clip_source).at(0);
  const auto start = frame_at(ramp_map_seconds(20));
  const auto end = frame_at(ramp_map_seconds(28));
  BOOST_TEST(n.media->timeline_start == start);
  BOOST_TEST(n.media->length == end - start);
  BOOST_TEST(param(n, "fade_in_frames") == static_cast<double>(frame_at(ramp_map_seconds(21)) - start));
  BOOST_TEST(param(n, "fade_out_frames") == static_cast<double>(end - frame_at(ramp_map_seconds(26))));
  // Under the ramp, beats get shorter: the second 4 beats take fewer frames than the first.
  BOOST_TEST(frame_at(ramp_map_seconds(28)) - frame_at(ramp_map_seconds(24)) <
             frame_at(ramp_map_seconds(24)) - frame_at(ramp_map_seconds(20)));
}

BOOST_AUTO_TEST_CASE(bar_positions_follow_time_signature_changes_and_markers_are_sorted) {
  auto doc = ramp_doc();
  // Bar 10 beat 1 is quarter 35.5 (bars 1-8 of 4/4, bar 9 of 7/8); bar 9 beat 3 is quarter 33.
  loophole::messages::time_value bar10;
  bar10.unit = loophole::messages::time_unit::bars;
  bar10.value = 10;
  auto bar9_3 = bar10;
  bar9_3.value = 9;
  bar9_3.beat = 3;
  doc.tracks.push_back(track("a", {clip("x.wav", bar10, beats(1))}));
  doc.markers = {{"late", bar10}, {"early", seconds(1.0)}, {"mid", bar9_3}};
  auto plan = resolved(doc, {probe("x.wav", 48000 * 60)});
  const auto& n = *nodes_of_kind(plan.graph, node_kind::clip_source).at(0);
  BOOST_TEST(n.media->timeline_start == frame_at(ramp_map_seconds(35.5)));
  BOOST_TEST_REQUIRE(plan.markers.size() == 3u);
  BOOST_TEST(plan.markers[0].name == "early");
  BOOST_TEST(plan.markers[0].frame == 48000);
  BOOST_TEST(plan.markers[1].name == "mid");
  BOOST_TEST(plan.markers[1].frame == frame_at(ramp_map_seconds(33)));
  BOOST_TEST(plan.markers[2].name == "late");
  BOOST_TEST(plan.markers[2].frame == frame_at(ramp_map_seconds(35.5)));
}

BOOST_AUTO_TEST_CASE(a_source_offset_in_beats_counts_at_the_tempo_where_the_clip_starts) {
  auto doc = ramp_doc();
  doc.tracks.push_back(track("a", {clip("x.wav", beats(60), beats(1), beats(2))}));
  auto plan = resolved(doc, {probe("x.wav", 48000 * 60)});
  const auto& n = *nodes_of_kind(plan.graph, node_kind::clip_source).at(0);
  BOOST_TEST(n.media->source_offset == std::llround(2 * 60.0 / 140.0 * 48000)); // 140 bpm there
}

BOOST_AUTO_TEST_CASE(a_range_in_beats_follows_the_tempo_map) {
  auto doc = ramp_doc();
  doc.tracks.push_back(track("a", {clip("x.wav", samples(0))}));
  render_settings s;
  s.range = loophole::messages::time_range{beats(16), beats(48)};
  auto plan = resolved(doc, {probe("x.wav", 48000 * 60)}, s);
  BOOST_TEST(plan.graph.first_frame == frame_at(8.0));
  BOOST_TEST(plan.graph.frame_count == frame_at(ramp_map_seconds(48)) - frame_at(8.0));
}

BOOST_AUTO_TEST_SUITE_END()

// -- loops -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(loops)

BOOST_AUTO_TEST_CASE(a_looped_clip_carries_its_loop_in_media_frames) {
  auto doc = make_doc(48000, 120.0);
  auto c = clip("x.wav", samples(1000), seconds(10), samples(500));
  c.loop_start = samples(2000);
  c.loop_end = beats(2); // one second at 120 bpm: frame 48000 of the media
  doc.tracks.push_back(track("a", {c}));
  auto plan = resolved(doc, {probe("x.wav", 96000)});
  const auto& m = *nodes_of_kind(plan.graph, node_kind::clip_source).at(0)->media;
  BOOST_TEST(m.timeline_start == 1000);
  BOOST_TEST(m.source_offset == 500);
  BOOST_TEST(m.length == 480000); // longer than the media: it loops
  BOOST_TEST(m.loop_start == 2000);
  BOOST_TEST(m.loop_length == 46000);
  // Where each frame comes from: the intro, then the loop over and over.
  BOOST_TEST(m.source_frame(0) == 500);
  BOOST_TEST(m.source_frame(47499) == 47999);
  BOOST_TEST(m.source_frame(47500) == 2000);
  BOOST_TEST(m.source_frame(47500 + 46000 * 3 + 7) == 2007);
  BOOST_TEST(m.contiguous_from(0) == 47500);
  BOOST_TEST(m.contiguous_from(47500 + 10) == 45990);
}

BOOST_AUTO_TEST_CASE(bad_loops_are_refused_at_their_pointer) {
  auto with_loop = [](time_value start, time_value end, time_value offset) {
    auto doc = make_doc(48000, 120.0);
    auto c = clip("x.wav", samples(0), seconds(10), offset);
    c.loop_start = start;
    c.loop_end = end;
    doc.tracks.push_back(track("a", {c}));
    return doc;
  };
  expect_error(with_loop(samples(0), samples(96002), samples(0)), {probe("x.wav", 96000)}, {},
               errc::bad_session, "/studio/song.json: /tracks/0/clips/0/loop/end: ",
               "past the end of x.wav");
  expect_error(with_loop(samples(500), samples(500), samples(0)), {probe("x.wav", 96000)}, {},
               errc::bad_session, "/studio/song.json: /tracks/0/clips/0/loop: ",
               "ends at or before its start");
  expect_error(with_loop(samples(0), samples(500), samples(600)), {probe("x.wav", 96000)}, {},
               errc::bad_session, "/studio/song.json: /tracks/0/clips/0/source_offset: ",
               "past the end of the loop");
}

BOOST_AUTO_TEST_SUITE_END()

// -- crossfades --------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(crossfades)

BOOST_AUTO_TEST_CASE(overlapping_clips_get_mirror_fades_across_the_overlap) {
  auto doc = make_doc(48000, 120.0);
  auto t = track("a", {clip("x.wav", samples(0), samples(1000)),
                       clip("x.wav", samples(2000), samples(1000)), // listed out of order
                       clip("x.wav", samples(800), samples(1500))});
  t.crossfade = "equal_power";
  t.clips[0].fade_in = loophole::messages::fade_spec{samples(50), "linear"}; // kept
  doc.tracks.push_back(t);
  auto plan = resolved(doc, {probe("x.wav", 48000)});
  const auto& a = node_labelled(plan.graph, "a / clip 0");
  const auto& b = node_labelled(plan.graph, "a / clip 2"); // 800..2300
  const auto& c = node_labelled(plan.graph, "a / clip 1"); // 2000..3000
  const double ep = static_cast<double>(loophole::signal::fade_shape::equal_power);
  BOOST_TEST(param(a, "fade_in_frames") == 50.0);
  BOOST_TEST(param(a, "fade_out_frames") == 200.0);
  BOOST_TEST(param(a, "fade_out_shape") == ep);
  BOOST_TEST(param(b, "fade_in_frames") == 200.0);
  BOOST_TEST(param(b, "fade_out_frames") == 300.0);
  BOOST_TEST(param(c, "fade_in_frames") == 300.0);
  BOOST_TEST(!has_param(c, "fade_out_frames"));
}

BOOST_AUTO_TEST_CASE(crossfades_longer_than_a_clip_are_refused_naming_it) {
  auto doc = make_doc(48000, 120.0);
  auto t = track("a", {clip("x.wav", samples(0), samples(1000)),
                       clip("x.wav", samples(100), samples(1000)),
                       clip("x.wav", samples(900), samples(1000))}); // 900 + 200 > 1000
  t.crossfade = "linear";
  doc.tracks.push_back(t);
  expect_error(doc, {probe("x.wav", 48000)}, {}, errc::bad_session,
               "/studio/song.json: /tracks/0/clips/1: ", "crossfades");
}

BOOST_AUTO_TEST_SUITE_END()

// -- comping -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(comping)

// Two takes of 4 s each from frame 0 of the timeline; take "b" is recorded from 1 s into its file.
track_spec comped_track(std::vector<loophole::messages::comp_region_spec> regions,
                        time_value crossfade = samples(100)) {
  auto t = track("vox");
  t.takes.push_back({"a", {clip("a.wav", samples(0), samples(192000))}});
  t.takes.push_back({"b", {clip("b.wav", samples(0), samples(192000), samples(48000))}});
  t.comp = loophole::messages::comp_spec{fade_spec{crossfade, "equal_power"}, std::move(regions)};
  return t;
}

BOOST_AUTO_TEST_CASE(regions_play_their_takes_cut_with_centred_crossfades_at_each_edge) {
  auto doc = make_doc(48000, 120.0);
  // a on [0, 1 s), b on [1 s, 2 s), a on [2 s, 3 s): beats at 120 bpm are half seconds.
  doc.tracks.push_back(comped_track({{"a", samples(0), samples(48000)},
                                     {"b", beats(2), beats(4)},
                                     {"a", seconds(2), seconds(3)}}));
  auto plan = resolved(doc, {probe("a.wav", 240000), probe("b.wav", 240000)});
  const auto& r0 = node_labelled(plan.graph, "vox / comp 0 / a clip 0");
  const auto& r1 = node_labelled(plan.graph, "vox / comp 1 / b clip 0");
  const auto& r2 = node_labelled(plan.graph, "vox / comp 2 / a clip 0");
  // Region 0 starts where the take does: no fade in; it runs 50 frames past its end.
  BOOST_TEST(r0.media->timeline_start == 0);
  BOOST_TEST(r0.media->length == 48050);
  BOOST_TEST(!has_param(r0, "fade_in_frames"));
  BOOST_TEST(param(r0, "fade_out_frames") == 100.0);
  // Region 1 starts 50 frames early, fading in over the frames region 0 fades out over.
  BOOST_TEST(r1.media->timeline_start == 47950);
  BOOST_TEST(r1.media->source_offset == 48000 + 47950); // b's file offset carries on
  BOOST_TEST(r1.media->length == 48100);
  BOOST_TEST(param(r1, "fade_in_frames") == 100.0);
  BOOST_TEST(param(r1, "fade_out_frames") == 100.0);
  BOOST_TEST(r2.media->timeline_start == 95950);
  BOOST_TEST(r2.media->source_offset == 95950);
  BOOST_TEST(r2.media->length == 48100);
  const double ep = static_cast<double>(loophole::signal::fade_shape::equal_power);
  BOOST_TEST(param(r2, "fade_in_shape") == ep);
  // Fade-out span of one region == fade-in span of the next.
  BOOST_TEST(r0.media->timeline_start + r0.media->length - 100 == r1.media->timeline_start);
  BOOST_TEST(r1.media->timeline_start + r1.media->length - 100 == r2.media->timeline_start);
  BOOST_TEST(plan.graph.frame_count == 144050);
  // The unused part of the takes is not played: three clip nodes in all.
  BOOST_TEST(nodes_of_kind(plan.graph, node_kind::clip_source).size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_take_of_several_clips_is_cut_only_where_it_overlaps_the_region) {
  auto doc = make_doc(48000, 120.0);
  auto t = comped_track({{"c", samples(1000), samples(5000)}}, samples(0));
  t.takes.push_back({"c", {clip("a.wav", samples(0), samples(2000)),
                           clip("a.wav", samples(3000), samples(1000)),
                           clip("a.wav", samples(9000), samples(1000))}});
  doc.tracks.push_back(t);
  auto plan = resolved(doc, {probe("a.wav", 240000)});
  BOOST_TEST(nodes_of_kind(plan.graph, node_kind::clip_source).size() == 2u);
  const auto& first = node_labelled(plan.graph, "vox / comp 0 / c clip 0");
  BOOST_TEST(first.media->timeline_start == 1000);
  BOOST_TEST(first.media->source_offset == 1000);
  BOOST_TEST(first.media->length == 1000);
  const auto& second = node_labelled(plan.graph, "vox / comp 0 / c clip 1");
  BOOST_TEST(second.media->timeline_start == 3000); // whole: inside the region
  BOOST_TEST(second.media->length == 1000);
}

BOOST_AUTO_TEST_CASE(overlapping_or_empty_regions_are_refused_at_their_pointer) {
  auto doc = make_doc(48000, 120.0);
  doc.tracks.push_back(comped_track({{"a", samples(0), samples(48000)},
                                     {"b", samples(47000), samples(96000)}}));
  const std::vector<media_info> media{probe("a.wav", 240000), probe("b.wav", 240000)};
  expect_error(doc, media, {}, errc::bad_session, "/studio/song.json: /tracks/0/comp/regions/1/start: ",
               "do not overlap");
  doc.tracks[0] = comped_track({{"a", samples(500), samples(500)}});
  expect_error(doc, {media[0]}, {}, errc::bad_session, "/studio/song.json: /tracks/0/comp/regions/0: ",
               "ends at or before its start");
  doc.tracks[0] = comped_track({{"a", samples(1000), samples(1060)}});
  expect_error(doc, {media[0]}, {}, errc::bad_session, "/studio/song.json: /tracks/0/comp/regions/0: ",
               "longer than its part");
}

BOOST_AUTO_TEST_CASE(a_comp_whose_regions_hold_no_take_material_is_refused) {
  auto doc = make_doc(48000, 120.0);
  doc.tracks.push_back(comped_track({{"a", samples(200000), samples(210000)}}, samples(0)));
  expect_error(doc, {probe("a.wav", 240000)}, {}, errc::bad_session,
               "/studio/song.json: /tracks/0/comp: ", "nothing to play");
}

BOOST_AUTO_TEST_CASE(only_comped_takes_are_probed) {
  auto doc = make_doc();
  doc.tracks.push_back(comped_track({{"b", samples(0), samples(100)}}, samples(0)));
  BOOST_TEST(media_paths_of(doc) == std::vector<std::string>{"/studio/b.wav"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(warp)

using loophole::messages::warp_marker_spec;
using loophole::messages::warp_spec;

BOOST_AUTO_TEST_CASE(a_warp_whose_only_marker_is_the_clip_start_is_refused) {
  auto doc = make_doc(48000, 120.0);
  auto c = clip("x.wav", samples(0), std::nullopt, samples(100));
  c.warp = warp_spec{"stretch", {warp_marker_spec{samples(100), samples(0)}}, 0.0};
  doc.tracks.push_back(track("a", {c}));
  expect_error(doc, {probe("x.wav", 48000)}, {}, errc::bad_session,
               "/studio/song.json: /tracks/0/clips/0/warp/markers: ", "a marker after");
}

BOOST_AUTO_TEST_CASE(a_warped_clip_plays_derived_media_made_from_its_file) {
  auto doc = make_doc(48000, 120.0);
  auto c = clip("x.wav", samples(1000), std::nullopt, samples(8000));
  c.warp = warp_spec{"varispeed", {}, 1.25};
  auto plain = clip("x.wav", samples(0));
  auto same = c; // the same warp of the same file: the same derived media
  same.position = samples(200000);
  doc.tracks.push_back(track("a", {c, plain, same}));
  auto plan = resolved(doc, {probe("x.wav", 48000)});
  const int64_t warped = std::llround(1.25 * (48000 - 8000));
  BOOST_TEST_REQUIRE(plan.media.size() == 2u);
  BOOST_TEST_REQUIRE(plan.graph.media.size() == 2u);
  const auto& d = plan.media[1];
  BOOST_TEST(d.parent_id == "id-of-x.wav");
  BOOST_TEST(d.warp_mode == "varispeed");
  BOOST_TEST(d.warp_map == (std::vector<int64_t>{8000, 0, 48000, warped}));
  BOOST_TEST(d.frames == warped);
  BOOST_TEST(d.path == "/studio/x.wav");
  BOOST_TEST(d.media_id.size() == 32u);
  BOOST_TEST(plan.graph.media[1].media_id == d.media_id);
  BOOST_TEST(plan.graph.media[1].frames == warped);
  const auto& r = *node_labelled(plan.graph, "a / clip 0").media;
  BOOST_TEST(r.media_index == 1u);
  BOOST_TEST(r.timeline_start == 1000);
  BOOST_TEST(r.source_offset == 0);
  BOOST_TEST(r.length == warped); // the default length: all of the derived media
  BOOST_TEST(node_labelled(plan.graph, "a / clip 1").media->media_index == 0u);
  BOOST_TEST(node_labelled(plan.graph, "a / clip 2").media->media_index == 1u);
  BOOST_TEST(plan.graph.frame_count == 200000 + warped);

  // Another mode or map is other media.
  auto stretched = doc;
  stretched.tracks[0].clips[0].warp->mode = "stretch";
  BOOST_TEST(resolved(stretched, {probe("x.wav", 48000)}).media.size() == 3u);
}

BOOST_AUTO_TEST_CASE(markers_in_beats_follow_the_tempo_map_and_the_last_speed_goes_on) {
  // 120 bpm, 60 from beat 4. The clip starts at beat 2: 3 beats from there end at beat 5,
  // 1 s + 1 s later. The source marker is 1 s into the media; after it the media plays on at
  // that speed (2 clip frames a source frame) to its end.
  auto doc = make_doc(48000, 120.0);
  doc.tempo_changes = {{4.0, 60.0, false}};
  auto c = clip("x.wav", beats(2));
  c.warp = warp_spec{"stretch", {{seconds(0), samples(0)}, {seconds(1), beats(3)}}, 0.0};
  doc.tracks.push_back(track("a", {c}));
  auto plan = resolved(doc, {probe("x.wav", 72000)});
  BOOST_TEST(plan.media[1].warp_map ==
             (std::vector<int64_t>{0, 0, 48000, 96000, 72000, 96000 + 2 * 24000}));
  BOOST_TEST(node_labelled(plan.graph, "a / clip 0").media->timeline_start == 48000);
  BOOST_TEST(node_labelled(plan.graph, "a / clip 0").media->length == 144000);
}

BOOST_AUTO_TEST_CASE(bad_warp_markers_are_refused_naming_the_marker) {
  const std::string at = "/studio/song.json: /tracks/0/clips/0/warp";
  auto check = [&](std::vector<warp_marker_spec> markers, time_value offset,
                   const std::string& pointer, const std::string& reason) {
    auto doc = make_doc(48000, 120.0);
    auto c = clip("x.wav", samples(0), std::nullopt, offset);
    c.warp = warp_spec{"stretch", std::move(markers), 0.0};
    doc.tracks.push_back(track("a", {c}));
    expect_error(doc, {probe("x.wav", 48000)}, {}, errc::bad_session, at + pointer + ": ",
                 reason);
  };
  check({{samples(100), samples(200)}}, samples(100), "/markers/0/source",
        "at or before the point before it (source frame 100, the clip's source offset)");
  check({{samples(100), samples(200)}, {samples(100), samples(300)}}, samples(0),
        "/markers/1/source", "at or before the point before it (source frame 100)");
  check({{samples(100), samples(200)}, {samples(200), samples(200)}}, samples(0),
        "/markers/1/timeline", "at or before the point before it (frame 200 of the clip)");
  check({{samples(48001), samples(60000)}}, samples(0), "/markers/0/source",
        "past the end of the media (48000 frames)");
  check({{samples(1000), samples(10)}}, samples(0), "/markers/0",
        "100.000000 times its speed");
  check({{samples(10), samples(1000)}}, samples(0), "/markers/0", "0.010000 times its speed");
}

BOOST_AUTO_TEST_CASE(a_length_past_the_warped_media_is_refused) {
  auto doc = make_doc(48000, 120.0);
  auto c = clip("x.wav", samples(0), samples(60002));
  c.warp = warp_spec{"stretch", {}, 1.25}; // 60000 frames
  doc.tracks.push_back(track("a", {c}));
  expect_error(doc, {probe("x.wav", 48000)}, {}, errc::bad_session,
               "/studio/song.json: /tracks/0/clips/0/length: ", "60000 frames");
  doc.tracks[0].clips[0].length = samples(60001); // one frame over: rounding, cut
  BOOST_TEST(resolved(doc, {probe("x.wav", 48000)}).graph.frame_count == 60000);
}

BOOST_AUTO_TEST_SUITE_END()

// -- groove on audio -----------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(audio_groove)

BOOST_AUTO_TEST_CASE(a_grooved_clip_asks_for_its_transients_then_is_sliced_at_them) {
  auto doc = make_doc(48000, 120.0);
  doc.grooves.push_back({"swing", 0.25, 0.6, {}, {}});
  auto t = track("drums", {clip("hits.wav", samples(1000), samples(24000), samples(500))});
  t.clips[0].groove = "swing";
  doc.tracks.push_back(t);
  const std::vector<media_info> media{probe("hits.wav", 48000)};
  // Without transients: one whole clip, and the pre-analysis pass it needs.
  std::vector<loophole::messages::resolved_analysis> missing;
  auto first = resolve_timeline(doc, {}, media, {}, &missing);
  BOOST_TEST_REQUIRE(!!first);
  BOOST_TEST(nodes_of_kind(first->graph, node_kind::clip_source).size() == 1u);
  BOOST_TEST_REQUIRE(missing.size() == 1u);
  BOOST_TEST(missing[0].start == 500);
  BOOST_TEST(missing[0].end == 24500);
  BOOST_TEST(missing[0].id == loophole::actors::transient_key("id-of-hits.wav", 500, 24000));
  // Transients at media frames 5500 (timeline 6000: step 1, off-beat) and 11500 (12000: step 2).
  loophole::actors::clip_transients found{{missing[0].id, {5500, 11500}}};
  auto plan = resolve_timeline(doc, {}, media, found);
  BOOST_TEST_REQUIRE(!!plan);
  const auto slices = nodes_of_kind(plan->graph, node_kind::clip_source);
  BOOST_TEST_REQUIRE(slices.size() == 3u);
  BOOST_TEST(slices[0]->media->timeline_start == 1000); // the head stays
  BOOST_TEST(slices[0]->media->length == 5000);         // joins the next slice's old place...
  BOOST_TEST(slices[1]->media->timeline_start == 7200); // ...which moved by 0.05 beat
  BOOST_TEST(slices[1]->media->source_offset == 5500);
  BOOST_TEST(slices[1]->media->length == 4800);         // cut where the on-beat slice starts
  BOOST_TEST(param(*slices[1], "fade_out_frames") == 32.0);
  BOOST_TEST(slices[2]->media->timeline_start == 12000);
  BOOST_TEST(slices[2]->media->length == 13000);
  BOOST_TEST(param(*slices[0], "fade_out_frames") == 32.0); // a gap follows it
}

BOOST_AUTO_TEST_CASE(a_cached_grooved_track_still_asks_for_its_transients_and_is_sliced) {
  // The resolver actor keeps a cache across resolves: a grooved track taken from it must still
  // ask for its pre-analysis pass, and resolving with the transients must not reuse the unsliced
  // fragment.
  auto doc = make_doc(48000, 120.0);
  doc.grooves.push_back({"swing", 0.25, 0.6, {}, {}});
  auto t = track("drums", {clip("hits.wav", samples(0), samples(24000))});
  t.clips[0].groove = "swing";
  doc.tracks.push_back(t);
  const std::vector<media_info> media{probe("hits.wav", 48000)};
  loophole::actors::resolve_cache cache;
  for (int round = 0; round < 2; ++round) {
    std::vector<loophole::messages::resolved_analysis> missing;
    BOOST_TEST_REQUIRE(!!resolve_timeline(doc, {}, media, cache, {}, &missing));
    BOOST_TEST_REQUIRE(missing.size() == 1u, "round " << round);
    auto plan = resolve_timeline(doc, {}, media, cache, {{missing[0].id, {6000}}});
    BOOST_TEST_REQUIRE(!!plan);
    BOOST_TEST(nodes_of_kind(plan->graph, node_kind::clip_source).size() == 2u, "round " << round);
  }
  BOOST_TEST(cache.reused == 2u); // the second round took both fragments from the cache
}

BOOST_AUTO_TEST_CASE(grooved_slices_cross_fade_with_an_overlapping_clip_by_their_own_clip) {
  // Clip 0 is grooved into two slices; clip 1 overlaps the second: the crossfade applies to the
  // slice and clip 1, and the fades stay on the right nodes.
  auto doc = make_doc(48000, 120.0);
  doc.grooves.push_back({"swing", 0.25, 0.6, {}, {}});
  auto t = track("drums", {clip("hits.wav", samples(0), samples(12000)),
                           clip("hits.wav", samples(11000), samples(6000))});
  t.clips[0].groove = "swing";
  t.clips[1].fade_in = fade_spec{samples(10), "linear"};
  t.crossfade = "linear";
  doc.tracks.push_back(t);
  const std::vector<media_info> media{probe("hits.wav", 48000)};
  std::vector<loophole::messages::resolved_analysis> missing;
  BOOST_TEST_REQUIRE(!!resolve_timeline(doc, {}, media, {}, &missing));
  BOOST_TEST_REQUIRE(missing.size() == 1u);
  auto plan = resolve_timeline(doc, {}, media, {{missing[0].id, {0, 6000}}});
  if (!plan)
    BOOST_FAIL(loophole::kernel::describe(plan.error()));
  const auto& late = node_labelled(plan->graph, "drums / clip 0 / slice 1"); // 7200..13200
  const auto& other = node_labelled(plan->graph, "drums / clip 1");
  BOOST_TEST(param(late, "fade_out_frames") == 2200.0);  // the overlap up to 13200
  BOOST_TEST(param(other, "fade_in_frames") == 10.0);    // its own fade in stays
}

BOOST_AUTO_TEST_CASE(an_unknown_groove_or_a_grooved_loop_is_refused_at_its_pointer) {
  auto doc = make_doc(48000, 120.0);
  auto t = track("drums", {clip("hits.wav", samples(0), samples(24000))});
  t.clips[0].groove = "nope";
  doc.tracks.push_back(t);
  expect_error(doc, {probe("hits.wav", 48000)}, {}, errc::bad_session,
               "/studio/song.json: /tracks/0/clips/0/groove: ", "not a groove");
  doc.grooves.push_back({"nope", 0.25, 0.6, {}, {}});
  doc.tracks[0].clips[0].loop_start = samples(0);
  doc.tracks[0].clips[0].loop_end = samples(1000);
  expect_error(doc, {probe("hits.wav", 48000)}, {}, errc::bad_session,
               "/studio/song.json: /tracks/0/clips/0/groove: ", "looped clip");
}

BOOST_AUTO_TEST_SUITE_END()
