// The node graph of a session (docs/node-graph.md) as the timeline resolver builds it: generic
// inserts and their DAG, buses, sends, sidechains, channel conversion, plugin delay compensation
// and the routing rules of mute and solo. Expected graphs are worked out here from the session.

#define BOOST_TEST_MODULE actors_graph_routing
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "actors/delay_compensation.hpp"
#include "actors/resolve_cache.hpp"
#include "actors/timeline_resolver.hpp"
#include "kernel/error.hpp"
#include "signal/node_catalog.hpp"
#include "signal/render_graph.hpp"
#include "tests/support/render_graph_equality.hpp"

using loophole::actors::resolve_cache;
using loophole::actors::resolve_timeline;
using loophole::messages::automation_point_spec;
using loophole::messages::bus_spec;
using loophole::messages::clip_spec;
using loophole::messages::insert_param;
using loophole::messages::insert_spec;
using loophole::messages::media_info;
using loophole::messages::modulator_spec;
using loophole::messages::render_plan;
using loophole::messages::render_settings;
using loophole::messages::send_spec;
using loophole::messages::session_document;
using loophole::messages::time_unit;
using loophole::messages::time_value;
using loophole::messages::track_spec;
using loophole::signal::node_kind;
using loophole::signal::render_graph;
using loophole::signal::render_node;

namespace {

time_value samples(double n) {
  return {time_unit::samples, n, 1.0};
}
time_value seconds(double s) {
  return {time_unit::seconds, s, 1.0};
}

session_document make_doc() {
  session_document doc;
  doc.path = "/studio/song.json";
  doc.sample_rate = 48000;
  return doc;
}

track_spec track(const std::string& id, const std::string& media = "x.wav") {
  track_spec t;
  t.id = id;
  t.name = id;
  clip_spec c;
  c.media = media;
  c.media_path = "/studio/" + media;
  c.position = samples(0);
  t.clips.push_back(c);
  return t;
}

bus_spec bus(const std::string& id, uint16_t channels = 2) {
  bus_spec b;
  b.id = id;
  b.channels = channels;
  return b;
}

media_info probe(const std::string& media, int64_t frames, uint16_t channels = 2) {
  media_info m;
  m.path = "/studio/" + media;
  m.media_id = "id-of-" + media;
  m.channels = channels;
  m.source_frames = frames;
  m.source_rate = 48000;
  m.frames = frames;
  m.sample_rate = 48000;
  m.format = "WAV";
  return m;
}

insert_spec insert(const std::string& kind, const std::string& id,
                   std::vector<insert_param> params = {}, std::vector<std::string> inputs = {}) {
  insert_spec i;
  i.kind = kind;
  i.id = id;
  i.params = std::move(params);
  i.inputs = std::move(inputs);
  return i;
}

/// A compressor that only delays: its threshold above any signal, `lookahead` frames of lookahead.
insert_spec latent_compressor(const std::string& id, double lookahead,
                              std::vector<std::string> inputs = {}) {
  return insert("compressor", id,
                {{"threshold_db", 0.0, {}}, {"lookahead_frames", 0.0, samples(lookahead)}},
                std::move(inputs));
}

render_plan resolved(const session_document& doc, const std::vector<media_info>& media) {
  auto plan = resolve_timeline(doc, render_settings{}, media);
  if (!plan)
    BOOST_FAIL("not resolved: " << loophole::kernel::describe(plan.error()));
  if (auto err = loophole::signal::validate(plan->graph))
    BOOST_FAIL("the graph does not validate: " << err->to_string(plan->graph));
  return std::move(*plan);
}

void expect_error(const session_document& doc, const std::vector<media_info>& media,
                  const std::string& pointer, const std::string& reason) {
  auto plan = resolve_timeline(doc, render_settings{}, media);
  BOOST_TEST_REQUIRE(!plan, "resolved; expected an error at " << pointer);
  const auto what = loophole::kernel::describe(plan.error());
  const auto prefix = doc.path + ": " + pointer + ": ";
  BOOST_TEST(what.rfind(prefix, 0) == 0u, "'" << what << "' does not start with '" << prefix << "'");
  BOOST_TEST(what.find(reason) != std::string::npos, "'" << what << "' does not say '" << reason << "'");
}

const render_node& node(const render_graph& g, const std::string& label) {
  for (const auto& n : g.nodes)
    if (n.label == label)
      return n;
  BOOST_FAIL("no node labelled '" << label << "'");
  return g.nodes.front();
}

bool has_node(const render_graph& g, const std::string& label) {
  for (const auto& n : g.nodes)
    if (n.label == label)
      return true;
  return false;
}

double param(const render_node& n, const std::string& name) {
  for (const auto& p : n.params)
    if (p.name == name)
      return p.value;
  return std::nan("");
}

/// The node feeding `n` as input `k`, followed through compensation delays.
const render_node& source_of(const render_graph& g, const render_node& n, size_t k) {
  const auto* at = &g.nodes[n.inputs.at(k)];
  while (at->label.find(" / compensation ") != std::string::npos)
    at = &g.nodes[at->inputs.at(0)];
  return *at;
}

} // namespace

// -- generic inserts ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(catalog_parameters_become_node_parameters_in_frames) {
  auto doc = make_doc();
  auto t = track("a");
  t.inserts = {insert("compressor", "comp",
                      {{"threshold_db", -20.0, {}},
                       {"attack_frames", 0.0, seconds(0.010)},
                       {"release_frames", 0.0, seconds(0.1)},
                       {"detector", 1.0, {}}}),
               insert("gain", "trim", {{"gain", 0.5, {}}})};
  t.inserts[1].automation = {{"gain", {automation_point_spec{samples(100), -6.0, "linear"},
                                       automation_point_spec{samples(200), 0.0, "linear"}}}};
  t.inserts[0].automation = {{"threshold_db", {automation_point_spec{samples(0), -30.0, "hold"}}}};
  modulator_spec lfo;
  lfo.target = "comp.ratio";
  lfo.kind = "lfo";
  lfo.period = seconds(1);
  lfo.depth = 2.0;
  t.modulators = {lfo};
  doc.tracks = {t};
  const auto g = resolved(doc, {probe("x.wav", 48000)}).graph;
  const auto& comp = node(g, "a / comp");
  BOOST_TEST((comp.kind == node_kind::compressor));
  BOOST_TEST(param(comp, "threshold_db") == -20.0);
  BOOST_TEST(param(comp, "attack_frames") == 480.0); // 10 ms at 48 kHz
  BOOST_TEST(param(comp, "release_frames") == 4800.0);
  BOOST_TEST(param(comp, "detector") == 1.0);
  const auto* threshold = loophole::signal::lane_of(comp, "threshold_db");
  BOOST_TEST_REQUIRE(threshold);
  BOOST_TEST(threshold->points.at(0).value == -30.0);
  BOOST_TEST((threshold->points.at(0).curve == loophole::signal::curve_kind::hold));
  const auto* ratio = loophole::signal::lane_of(comp, "ratio");
  BOOST_TEST_REQUIRE(ratio);
  BOOST_TEST(ratio->modulators.size() == 1u);
  BOOST_TEST(!ratio->modulators[0].in_db);
  const auto& trim = node(g, "a / trim");
  BOOST_TEST((trim.inputs == std::vector<uint32_t>{comp.id}));
  const auto* gain = loophole::signal::lane_of(trim, "gain");
  BOOST_TEST_REQUIRE(gain);
  BOOST_TEST(gain->points.at(0).value == std::pow(10.0, -6.0 / 20.0));
  BOOST_TEST((gain->points.at(0).curve == loophole::signal::curve_kind::exponential));
  BOOST_TEST((node(g, "a / fader").inputs == std::vector<uint32_t>{trim.id}));
}

BOOST_AUTO_TEST_CASE(a_convolution_plays_its_impulse_response_whole_and_it_is_probed) {
  auto doc = make_doc();
  auto t = track("a");
  auto conv = insert("convolution", "room", {{"wet", 0.5, {}}});
  conv.impulse = "ir.wav";
  conv.impulse_path = "/studio/ir.wav";
  t.inserts = {conv};
  doc.tracks = {t};
  const auto paths = loophole::actors::media_paths_of(doc);
  BOOST_TEST((paths == std::vector<std::string>{"/studio/x.wav", "/studio/ir.wav"}));
  const auto plan = resolved(doc, {probe("x.wav", 48000), probe("ir.wav", 9600, 1)});
  const auto& room = node(plan.graph, "a / room");
  BOOST_TEST_REQUIRE(room.media.has_value());
  BOOST_TEST(plan.graph.media.at(room.media->media_index).media_id == "id-of-ir.wav");
  BOOST_TEST(room.media->source_offset == 0);
  BOOST_TEST(room.media->length == 9600);
}

BOOST_AUTO_TEST_CASE(parallel_inputs_are_summed_in_the_order_written_and_bypass_passes_through) {
  auto doc = make_doc();
  auto t = track("a");
  t.inserts = {insert("polarity", "flip", {}, {"clips"}),
               insert("delay", "late", {{"frames", 0.0, samples(10)}}, {"clips"}),
               insert("meter", "off", {}, {"late"}),
               insert("gain", "sum", {}, {"off", "flip"})};
  t.inserts[2].bypass = true;
  doc.tracks = {t};
  const auto g = resolved(doc, {probe("x.wav", 48000)}).graph;
  const auto& mix = node(g, "a / sum / inputs");
  BOOST_TEST((mix.kind == node_kind::mix));
  // "off" is bypassed: the sum takes "late" in its place, then "flip".
  BOOST_TEST((mix.inputs ==
              std::vector<uint32_t>{node(g, "a / late").id, node(g, "a / flip").id}));
  BOOST_TEST(!has_node(g, "a / off"));
  BOOST_TEST((node(g, "a / sum").inputs == std::vector<uint32_t>{mix.id}));
  BOOST_TEST((node(g, "a / fader").inputs == std::vector<uint32_t>{node(g, "a / sum").id}));
}

// -- buses, sends, sidechains --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(sends_tap_before_or_after_the_fader_into_a_bus_partition) {
  auto doc = make_doc();
  auto a = track("a");
  a.inserts = {insert("meter", "m")};
  a.sends = {send_spec{"verb", -6.0, false}, send_spec{"verb", -12.0, true}};
  auto b = track("b");
  b.output = "grp";
  doc.tracks = {a, b};
  doc.buses = {bus("verb"), bus("grp")};
  doc.buses[0].inserts = {insert("gain", "ret", {{"gain", 0.25, {}}})};
  const auto g = resolved(doc, {probe("x.wav", 48000)}).graph;
  std::vector<std::string> partitions;
  for (const auto& p : g.partitions)
    partitions.push_back(p.label);
  BOOST_TEST((partitions == std::vector<std::string>{"a", "b", "verb", "grp", "master"}));
  const auto& post = node(g, "a / send 0 to verb");
  const auto& pre = node(g, "a / send 1 to verb");
  BOOST_TEST((post.inputs == std::vector<uint32_t>{node(g, "a / pan").id}));
  BOOST_TEST((pre.inputs == std::vector<uint32_t>{node(g, "a / m").id}));
  BOOST_TEST(param(post, "gain") == std::pow(10.0, -6.0 / 20.0));
  BOOST_TEST(param(pre, "gain") == std::pow(10.0, -12.0 / 20.0));
  BOOST_TEST(g.partitions[post.partition].label == "a");
  BOOST_TEST((node(g, "verb / sum").inputs == std::vector<uint32_t>{post.id, pre.id}));
  BOOST_TEST((node(g, "verb / ret").inputs == std::vector<uint32_t>{node(g, "verb / sum").id}));
  BOOST_TEST((node(g, "grp / sum").inputs == std::vector<uint32_t>{node(g, "b / pan").id}));
  // The master sums the strips that go to it, tracks then buses.
  BOOST_TEST((node(g, "master / sum").inputs ==
              std::vector<uint32_t>{node(g, "a / pan").id, node(g, "verb / pan").id,
                                    node(g, "grp / pan").id}));
}

BOOST_AUTO_TEST_CASE(a_sidechain_is_the_second_input_the_source_after_its_inserts) {
  auto doc = make_doc();
  auto kick = track("kick");
  kick.inserts = {insert("eq", "shape", {{"b1_type", 0.0, {}}, {"b1_freq", 60.0, {}}})};
  auto bass = track("bass");
  bass.inserts = {insert("compressor", "duck", {{"threshold_db", -30.0, {}}})};
  bass.inserts[0].sidechain = "kick";
  doc.tracks = {kick, bass};
  const auto g = resolved(doc, {probe("x.wav", 48000)}).graph;
  const auto& duck = node(g, "bass / duck");
  BOOST_TEST_REQUIRE(duck.inputs.size() == 2u);
  BOOST_TEST(source_of(g, duck, 1).label == "kick / shape");
}

BOOST_AUTO_TEST_CASE(a_solo_keeps_the_buses_a_soloed_track_feeds_and_a_muted_bus_silences) {
  auto doc = make_doc();
  auto a = track("a");
  a.solo = true;
  a.output = "grp";
  auto b = track("b");
  b.output = "other";
  auto c = track("c");
  c.solo = true;
  c.output = "muted";
  doc.tracks = {a, b, c};
  doc.buses = {bus("grp"), bus("other"), bus("muted")};
  doc.buses[2].mute = true;
  auto plan = resolve_timeline(doc, render_settings{}, {probe("x.wav", 48000)});
  BOOST_TEST_REQUIRE(!!plan);
  std::vector<std::string> partitions;
  for (const auto& p : plan->graph.partitions)
    partitions.push_back(p.label);
  BOOST_TEST((partitions == std::vector<std::string>{"a", "grp", "master"}));
  const std::vector<std::string> notes{
    "track 'b' is not soloed: left out",
    "track 'c' feeds only buses that are muted or silent: left out",
    "bus 'other' has nothing playing routed to it: left out", "bus 'muted' is muted: left out"};
  BOOST_TEST(plan->notes == notes, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(wider_buses_get_a_surround_pan_narrower_ones_a_fold_down) {
  auto doc = make_doc();
  doc.master_channels = 2;
  auto a = track("a");
  a.output = "surround";
  a.surround = {-110.0, 0.0, 0.5, 0.25};
  doc.tracks = {a};
  doc.buses = {bus("surround", 6)};
  const auto g = resolved(doc, {probe("x.wav", 48000)}).graph;
  const auto& place = node(g, "a / output into surround (surround_pan)");
  BOOST_TEST((place.kind == node_kind::surround_pan));
  BOOST_TEST(place.channels == 6u);
  BOOST_TEST(param(place, "azimuth_deg") == -110.0);
  BOOST_TEST(param(place, "spread") == 0.5);
  BOOST_TEST(param(place, "lfe") == 0.25);
  BOOST_TEST(!has_node(g, "surround / pan")); // a surround bus has no stereo pan
  const auto& fold = node(g, "surround / output into master (fold_down)");
  BOOST_TEST((fold.kind == node_kind::fold_down));
  BOOST_TEST(fold.channels == 2u);
  BOOST_TEST((fold.inputs == std::vector<uint32_t>{node(g, "surround / fader").id}));
  BOOST_TEST(g.nodes[g.output_node].channels == 2u);
}

BOOST_AUTO_TEST_CASE(the_master_has_inserts_and_its_channel_count_is_the_outputs) {
  auto doc = make_doc();
  doc.master_channels = 8;
  doc.master_inserts = {insert("limiter", "lim", {{"lookahead_frames", 0.0, seconds(0.005)}})};
  doc.tracks = {track("a")};
  const auto g = resolved(doc, {probe("x.wav", 48000)}).graph;
  const auto& lim = node(g, "master / lim");
  BOOST_TEST(lim.channels == 8u);
  BOOST_TEST((node(g, "master / fader").inputs == std::vector<uint32_t>{lim.id}));
  BOOST_TEST(g.nodes[g.output_node].channels == 8u);
  BOOST_TEST((source_of(g, node(g, "master / sum"), 0).kind == node_kind::surround_pan));
  BOOST_TEST(g.output_latency == 240); // the limiter's 5 ms lookahead
}

// -- plugin delay compensation -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_latent_parallel_path_delays_the_other_and_the_output) {
  auto doc = make_doc();
  auto t = track("a");
  t.inserts = {latent_compressor("slow", 96, {"clips"}), insert("meter", "dry", {}, {"clips"}),
               insert("gain", "sum", {}, {"slow", "dry"})};
  t.gain_automation = {automation_point_spec{samples(1000), -6.0, "linear"},
                       automation_point_spec{samples(2000), 0.0, "linear"}};
  modulator_spec lfo;
  lfo.target = "pan";
  lfo.kind = "lfo";
  lfo.period = seconds(1);
  lfo.depth = 0.5;
  t.modulators = {lfo};
  doc.tracks = {t};
  const auto g = resolved(doc, {probe("x.wav", 48000)}).graph;
  const auto& mix = node(g, "a / sum / inputs");
  BOOST_TEST_REQUIRE(mix.inputs.size() == 2u);
  BOOST_TEST(mix.inputs[0] == node(g, "a / slow").id);
  const auto& delay = g.nodes[mix.inputs[1]];
  BOOST_TEST((delay.kind == node_kind::delay));
  BOOST_TEST(param(delay, "frames") == 96.0);
  BOOST_TEST(param(delay, "wet") == 1.0);
  BOOST_TEST(param(delay, "dry") == 0.0);
  BOOST_TEST(param(delay, "feedback") == 0.0);
  BOOST_TEST((delay.inputs == std::vector<uint32_t>{node(g, "a / dry").id}));
  BOOST_TEST(g.output_latency == 96);
  // Automation after the compressor lands on the audio it was drawn against.
  const auto* fader = loophole::signal::lane_of(node(g, "a / fader"), "gain");
  BOOST_TEST(fader->points.at(0).frame == 1096);
  BOOST_TEST(fader->points.at(1).frame == 2096);
  const auto* pan = loophole::signal::lane_of(node(g, "a / pan"), "position");
  BOOST_TEST(pan->modulators.at(0).clock.at(0).frame == 96); // a free clock starts at frame 0
  BOOST_TEST(g.frame_count == 48000); // the file keeps its length
}

BOOST_AUTO_TEST_CASE(sends_returns_and_sidechains_are_aligned_across_partitions) {
  auto doc = make_doc();
  auto a = track("a");
  a.inserts = {latent_compressor("look", 50)};
  a.sends = {send_spec{"ret", 0.0, false}};
  auto b = track("b");
  b.inserts = {insert("gate", "key", {{"threshold_db", -40.0, {}}})};
  b.inserts[0].sidechain = "a";
  doc.tracks = {a, b};
  doc.buses = {bus("ret")};
  doc.buses[0].inserts = {latent_compressor("bus", 30)};
  const auto g = resolved(doc, {probe("x.wav", 48000)}).graph;
  // The gate's main input (0 frames late) waits for its key (50 frames late).
  const auto& key = node(g, "b / key");
  BOOST_TEST_REQUIRE(key.inputs.size() == 2u);
  BOOST_TEST(param(g.nodes[key.inputs[0]], "frames") == 50.0);
  BOOST_TEST(key.inputs[1] == node(g, "a / look").id);
  // At the master: a at 50, b at 50, the return at 80: a and b wait 30 more.
  const auto& sum = node(g, "master / sum");
  BOOST_TEST_REQUIRE(sum.inputs.size() == 3u);
  BOOST_TEST(param(g.nodes[sum.inputs[0]], "frames") == 30.0);
  BOOST_TEST(param(g.nodes[sum.inputs[1]], "frames") == 30.0);
  BOOST_TEST(sum.inputs[2] == node(g, "ret / pan").id);
  BOOST_TEST(g.output_latency == 80);
}

BOOST_AUTO_TEST_CASE(compensation_on_a_hand_built_graph) {
  // 0 clip -> 1 limiter (lookahead 7) -> 3 mix; 0 -> 2 gain -> 3 mix -> 4 output.
  render_graph g;
  g.sample_rate = 48000;
  g.frame_count = 100;
  g.partitions = {{"t"}};
  g.media = {{"m", 1, 100}};
  auto add = [&](node_kind kind, std::vector<uint32_t> inputs,
                 std::vector<loophole::signal::parameter> params) {
    render_node n;
    n.id = static_cast<uint32_t>(g.nodes.size());
    n.label = "n" + std::to_string(n.id);
    n.kind = kind;
    n.channels = 1;
    n.inputs = std::move(inputs);
    n.params = std::move(params);
    g.nodes.push_back(std::move(n));
  };
  add(node_kind::clip_source, {}, {});
  g.nodes[0].media = loophole::signal::media_region{0, 0, 0, 100, 0, 0};
  add(node_kind::limiter, {0}, {{"lookahead_frames", 7.0}});
  add(node_kind::gain, {0}, {{"gain", 1.0}});
  add(node_kind::mix, {1, 2}, {});
  add(node_kind::output, {3}, {{"bits", 0.0}});
  g.output_node = 4;
  BOOST_TEST(loophole::actors::compensate_latency(g) == 7);
  BOOST_TEST_REQUIRE(g.nodes.size() == 6u);
  BOOST_TEST((g.nodes[3].inputs == std::vector<uint32_t>{1, 5}));
  BOOST_TEST((g.nodes[5].inputs == std::vector<uint32_t>{2}));
  BOOST_TEST(param(g.nodes[5], "frames") == 7.0);
  BOOST_TEST(g.output_latency == 7);
  const auto err = loophole::signal::validate(g);
  BOOST_TEST(!err, (err ? err->to_string(g) : ""));
}

// -- errors ----------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(resolver_errors_name_the_json_path) {
  auto doc = make_doc();
  auto t = track("a");
  t.inserts = {insert("compressor", "c", {{"attack_frames", 0.0, seconds(100)}})};
  doc.tracks = {t};
  expect_error(doc, {probe("x.wav", 48000)}, "/tracks/0/inserts/0/attack", "longer than the most");
  t.inserts = {insert("meter", "m", {}, {"nope"})};
  doc.tracks = {t};
  expect_error(doc, {probe("x.wav", 48000)}, "/tracks/0/inserts/0/inputs",
               "\"nope\" is not an insert of this strip");
  t.inserts = {insert("meter", "x", {}, {"y"}), insert("meter", "y", {}, {"x"})};
  doc.tracks = {t};
  expect_error(doc, {probe("x.wav", 48000)}, "/tracks/0/inserts", "form a cycle");
  // A 6-channel bus cannot be placed in an 8-channel one.
  t.inserts.clear();
  t.output = "five";
  doc.tracks = {t};
  doc.master_channels = 8;
  doc.buses = {bus("five", 6)};
  expect_error(doc, {probe("x.wav", 48000)}, "/buses/0/output",
               "only mono and stereo signals are placed in wider buses");
}

// -- incremental resolution -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(routing_edits_resolve_only_the_track_edited_and_match_an_uncached_resolve) {
  auto doc = make_doc();
  auto a = track("a");
  a.sends = {send_spec{"ret", -3.0, false}};
  auto b = track("b");
  b.inserts = {latent_compressor("c", 20)};
  doc.tracks = {a, b, track("c")};
  doc.buses = {bus("ret")};
  const std::vector<media_info> media{probe("x.wav", 48000)};
  resolve_cache cache;
  auto check = [&](size_t resolved_tracks) {
    const auto before = cache.resolved;
    auto plan = resolve_timeline(doc, render_settings{}, media, cache);
    BOOST_TEST_REQUIRE(!!plan);
    BOOST_TEST(cache.resolved - before == resolved_tracks);
    auto fresh = resolve_timeline(doc, render_settings{}, media);
    BOOST_TEST_REQUIRE(!!fresh);
    loophole::test::check_equal(plan->graph, fresh->graph);
  };
  check(3);
  check(0);
  doc.tracks[0].sends[0].pre_fader = true; // a's tap moves: a only
  check(1);
  doc.buses[0].inserts = {latent_compressor("r", 40)}; // the bus: no track
  check(0);
  doc.tracks[2].output = "ret"; // c now goes through the bus: c only
  check(1);
  doc.tracks[1].inserts[0].sidechain = "c"; // b keyed by c: b only
  check(1);
}
