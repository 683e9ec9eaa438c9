// signal/render_graph.hpp: validate() accepts a well-formed graph and refuses each kind of
// malformed one at the right node, with a message naming the reason; topological_order is a
// pure function of the graph that respects inputs.

#define BOOST_TEST_MODULE signal_render_graph
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "signal/render_graph.hpp"

using namespace loophole::signal;

namespace {

parameter param(std::string name, double value) {
  return parameter{std::move(name), value};
}

render_node make_node(uint32_t id, std::string label, node_kind kind, uint32_t partition,
                      uint16_t channels, std::vector<uint32_t> inputs,
                      std::vector<parameter> params = {}) {
  render_node n;
  n.id = id;
  n.label = std::move(label);
  n.kind = kind;
  n.partition = partition;
  n.channels = channels;
  n.inputs = std::move(inputs);
  n.params = std::move(params);
  return n;
}

// Two tracks (clip_source -> gain -> pan, one partition each) mixed in a master partition
// (mix -> gain -> output). Node ids:
//   0 drums clip   1 drums gain   2 drums pan
//   3 bass clip    4 bass gain    5 bass pan
//   6 master mix   7 master gain  8 output
render_graph two_track_graph() {
  render_graph g;
  g.sample_rate = 48000;
  g.first_frame = 0;
  g.frame_count = 96000;
  g.media = {media_descriptor{"00112233445566778899aabbccddeeff", 1, 48000},
             media_descriptor{"ffeeddccbbaa99887766554433221100", 2, 96000}};
  g.partitions = {{"drums"}, {"bass"}, {"master"}};
  g.nodes.push_back(make_node(0, "drums / clip 1", node_kind::clip_source, 0, 1, {},
                              {param("gain", 0.5), param("fade_in_frames", 100)}));
  g.nodes[0].media = media_region{0, 0, 0, 48000};
  g.nodes.push_back(make_node(1, "drums / gain", node_kind::gain, 0, 1, {0}, {param("gain", 0.8)}));
  g.nodes.push_back(
      make_node(2, "drums / pan", node_kind::pan, 0, 2, {1}, {param("position", -0.5)}));
  g.nodes.push_back(make_node(3, "bass / clip 1", node_kind::clip_source, 1, 2, {}));
  g.nodes[3].media = media_region{1, 1000, 500, 40000};
  g.nodes.push_back(make_node(4, "bass / gain", node_kind::gain, 1, 2, {3}, {param("gain", 1.0)}));
  g.nodes.push_back(
      make_node(5, "bass / pan", node_kind::pan, 1, 2, {4}, {param("position", 0.3)}));
  g.nodes.push_back(make_node(6, "master / mix", node_kind::mix, 2, 2, {2, 5}));
  g.nodes.push_back(
      make_node(7, "master / gain", node_kind::gain, 2, 2, {6}, {param("gain", 0.9)}));
  g.nodes.push_back(make_node(8, "output", node_kind::output, 2, 2, {7},
                              {param("bits", 24), param("dither", 1)}));
  g.output_node = 8;
  return g;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Checks that `g` is refused at `node` (or at graph level when `node` is empty) with a message
// containing `reason`.
void expect_refused(const render_graph& g, std::optional<uint32_t> node,
                    const std::string& reason) {
  auto err = validate(g);
  BOOST_TEST_REQUIRE(err.has_value(), "expected a refusal mentioning '" << reason << "'");
  BOOST_TEST_INFO("message: " << err->to_string(g));
  BOOST_TEST((err->node == node));
  BOOST_TEST(contains(err->message, reason));
}

void fix_output_refs(render_graph& g) {
  for (const auto& n : g.nodes)
    if (n.kind == node_kind::output)
      g.output_node = n.id;
}

} // namespace

BOOST_AUTO_TEST_SUITE(validation)

BOOST_AUTO_TEST_CASE(a_valid_two_track_graph_passes) {
  auto g = two_track_graph();
  auto err = validate(g);
  BOOST_TEST(!err.has_value(), (err ? err->to_string(g) : std::string{}));
}

BOOST_AUTO_TEST_CASE(a_mono_clip_may_feed_a_stereo_chain_and_mix_takes_one_input) {
  auto g = two_track_graph();
  g.nodes[6].inputs = {2};
  BOOST_TEST(!validate(g).has_value());
}

BOOST_AUTO_TEST_CASE(a_cycle_is_refused_at_a_node_of_the_cycle) {
  auto g = two_track_graph();
  g.nodes[6].inputs = {2, 5, 7}; // mix <- gain <- mix
  expect_refused(g, 6u, "cycle");
}

BOOST_AUTO_TEST_CASE(a_self_loop_is_a_cycle) {
  auto g = two_track_graph();
  g.nodes[6].inputs = {2, 5, 6};
  expect_refused(g, 6u, "cycle");
}

BOOST_AUTO_TEST_CASE(a_cycle_is_not_blamed_on_a_node_merely_downstream_of_it) {
  // 0 clip -> 2 mix <-> 3 gain (the cycle); 1 gain reads 3, 4 output reads 1. Node 1 has the
  // lowest id of the nodes Kahn's algorithm cannot place, but it is not on the cycle.
  render_graph g;
  g.sample_rate = 48000;
  g.frame_count = 1000;
  g.media = {media_descriptor{"m", 1, 1000}};
  g.partitions = {{"only"}};
  g.nodes.push_back(make_node(0, "clip", node_kind::clip_source, 0, 1, {}));
  g.nodes[0].media = media_region{0, 0, 0, 1000};
  g.nodes.push_back(
      make_node(1, "after the loop", node_kind::gain, 0, 1, {3}, {param("gain", 1.0)}));
  g.nodes.push_back(make_node(2, "loop mix", node_kind::mix, 0, 1, {0, 3}));
  g.nodes.push_back(make_node(3, "loop gain", node_kind::gain, 0, 1, {2}, {param("gain", 0.5)}));
  g.nodes.push_back(make_node(4, "output", node_kind::output, 0, 1, {1}, {param("bits", 0)}));
  g.output_node = 4;
  auto err = validate(g);
  BOOST_TEST_REQUIRE(err.has_value());
  BOOST_TEST(contains(err->message, "cycle"));
  BOOST_TEST_REQUIRE(err->node.has_value());
  // Regression: the first node Kahn's algorithm leaves unplaced may sit
  // downstream of the cycle (here node 1); the error must name a node on it.
  BOOST_TEST((*err->node == 2u || *err->node == 3u));
}

BOOST_AUTO_TEST_CASE(a_dangling_input_is_refused_at_the_reading_node) {
  auto g = two_track_graph();
  g.nodes[7].inputs = {99};
  expect_refused(g, 7u, "input 99 does not exist");
  BOOST_TEST(contains(validate(g)->to_string(g), "node 7 ('master / gain')"));
}

BOOST_AUTO_TEST_CASE(an_unknown_parameter_is_refused) {
  auto g = two_track_graph();
  g.nodes[1].params.push_back(param("gian", 1.0));
  expect_refused(g, 1u, "unknown parameter 'gian'");
}

BOOST_AUTO_TEST_CASE(a_parameter_valid_elsewhere_is_unknown_on_the_wrong_kind) {
  auto g = two_track_graph();
  g.nodes[6].params.push_back(param("gain", 1.0)); // mix takes no parameters
  expect_refused(g, 6u, "unknown parameter 'gain'");
}

BOOST_AUTO_TEST_CASE(out_of_range_parameters_are_refused) {
  {
    auto g = two_track_graph();
    g.nodes[2].params[0].value = 1.5;
    expect_refused(g, 2u, "'position'");
    BOOST_TEST(contains(validate(g)->message, "outside"));
  }
  {
    auto g = two_track_graph();
    g.nodes[4].params[0].value = -0.1;
    expect_refused(g, 4u, "outside");
  }
  {
    auto g = two_track_graph();
    g.nodes[4].params[0].value = std::numeric_limits<double>::quiet_NaN();
    expect_refused(g, 4u, "outside");
  }
  {
    auto g = two_track_graph();
    g.nodes[7].params[0].value = std::numeric_limits<double>::infinity();
    expect_refused(g, 7u, "outside");
  }
  {
    auto g = two_track_graph();
    g.nodes[0].params.push_back(param("fade_out_shape", 4));
    expect_refused(g, 0u, "fade_out_shape");
  }
}

BOOST_AUTO_TEST_CASE(a_parameter_given_twice_is_refused) {
  auto g = two_track_graph();
  g.nodes[7].params.push_back(param("gain", 0.5));
  expect_refused(g, 7u, "twice");
}

BOOST_AUTO_TEST_CASE(a_missing_required_parameter_is_refused) {
  {
    auto g = two_track_graph();
    g.nodes[4].params.clear();
    expect_refused(g, 4u, "missing required parameter 'gain'");
  }
  {
    auto g = two_track_graph();
    g.nodes[5].params.clear();
    expect_refused(g, 5u, "missing required parameter 'position'");
  }
  {
    auto g = two_track_graph();
    g.nodes[8].params = {param("dither", 1)};
    expect_refused(g, 8u, "missing required parameter 'bits'");
  }
}

BOOST_AUTO_TEST_CASE(a_channel_mismatch_in_a_mix_is_refused) {
  auto g = two_track_graph();
  g.nodes[6].channels = 1; // the pans feeding it are stereo
  expect_refused(g, 6u, "channels");
  BOOST_TEST(contains(validate(g)->message, "input 2 has 2 channels, the mix has 1"));
}

BOOST_AUTO_TEST_CASE(other_channel_mismatches_are_refused) {
  {
    auto g = two_track_graph();
    g.nodes[7].channels = 1;
    expect_refused(g, 7u, "channel counts differ");
  }
  {
    auto g = two_track_graph();
    g.nodes[2].channels = 1; // a pan's output is stereo
    expect_refused(g, 2u, "stereo");
  }
  {
    auto g = two_track_graph();
    g.nodes[1].channels = 0;
    expect_refused(g, 1u, "channel count 0");
  }
  {
    auto g = two_track_graph();
    g.nodes[1].channels = 33;
    expect_refused(g, 1u, "channel count 33");
  }
}

BOOST_AUTO_TEST_CASE(a_media_region_past_the_end_of_its_media_is_refused) {
  auto g = two_track_graph();
  // media 1 has 96000 frames: [500, 96001) reaches one frame too far.
  g.nodes[3].media->length = 96000 - 500 + 1;
  expect_refused(g, 3u, "past the end");
  BOOST_TEST(contains(validate(g)->message, "ffeeddccbbaa99887766554433221100"));

  g.nodes[3].media->length = 96000 - 500; // exactly to the end: fine
  BOOST_TEST(!validate(g).has_value());

  g.nodes[3].media->source_offset = 96001;
  g.nodes[3].media->length = 1;
  expect_refused(g, 3u, "past the end");
}

BOOST_AUTO_TEST_CASE(other_bad_media_regions_are_refused) {
  {
    auto g = two_track_graph();
    g.nodes[3].media->media_index = 2;
    expect_refused(g, 3u, "media index 2 does not exist");
  }
  {
    auto g = two_track_graph();
    g.nodes[3].media.reset();
    expect_refused(g, 3u, "needs a media region");
  }
  {
    auto g = two_track_graph();
    g.nodes[3].media->length = 0;
    expect_refused(g, 3u, "empty length");
  }
  {
    auto g = two_track_graph();
    g.nodes[3].media->source_offset = -1;
    expect_refused(g, 3u, "negative offset");
  }
  {
    auto g = two_track_graph();
    g.nodes[0].params.push_back(param("fade_out_frames", 48000 - 100 + 1));
    expect_refused(g, 0u, "longer than the region");
  }
  {
    auto g = two_track_graph();
    g.nodes[0].inputs = {3};
    expect_refused(g, 0u, "takes no inputs");
  }
}

BOOST_AUTO_TEST_CASE(midi_events_are_checked_on_an_instrument_and_refused_elsewhere) {
  // The drums' clip becomes an instrument with a note.
  auto instrument = [] {
    auto g = two_track_graph();
    auto& n = g.nodes[0];
    n.kind = node_kind::instrument;
    n.media.reset();
    n.params = {param("attack_frames", 10), param("release_frames", 100)};
    n.events = {{100, midi_status::note_on, 60, 100}, {200, midi_status::note_off, 60, 0},
                {200, midi_status::control_change, 7, 90},
                {200, midi_status::note_on, 60, 100}, {300, midi_status::note_off, 60, 0}};
    return g;
  };
  auto g = instrument();
  BOOST_TEST(!validate(g).has_value(), (validate(g) ? validate(g)->message : ""));
  {
    auto bad = instrument();
    std::swap(bad.nodes[0].events[0], bad.nodes[0].events[1]);
    expect_refused(bad, 0u, "MIDI event 1: out of order");
  }
  {
    auto bad = instrument(); // a note-on before a note-off of the same frame
    std::swap(bad.nodes[0].events[1], bad.nodes[0].events[3]);
    expect_refused(bad, 0u, "MIDI event 2: out of order");
  }
  {
    auto bad = instrument();
    bad.nodes[0].events[2].status = 0xB1; // channel 2
    expect_refused(bad, 0u, "MIDI event 2: status 177");
  }
  {
    auto bad = instrument();
    bad.nodes[0].events[0].data2 = 128;
    expect_refused(bad, 0u, "above 127");
  }
  {
    auto bad = instrument();
    bad.nodes[0].events[0].frame = -1;
    expect_refused(bad, 0u, "frame outside");
  }
  {
    auto bad = instrument();
    bad.nodes[0].inputs = {3};
    expect_refused(bad, 0u, "takes no inputs");
  }
  {
    auto bad = instrument();
    bad.nodes[3].events = bad.nodes[0].events;
    expect_refused(bad, 3u, "only an instrument, sampler or synth node takes MIDI events");
  }
  {
    auto bad = instrument();
    bad.nodes[0].params.push_back(param("voices", 0));
    expect_refused(bad, 0u, "'voices'");
  }
}

BOOST_AUTO_TEST_CASE(two_output_nodes_are_refused) {
  auto g = two_track_graph();
  g.nodes.push_back(
      make_node(9, "second output", node_kind::output, 2, 2, {7}, {param("bits", 0)}));
  expect_refused(g, std::nullopt, "exactly one output node");
}

BOOST_AUTO_TEST_CASE(no_output_node_is_refused) {
  auto g = two_track_graph();
  g.nodes.pop_back();
  g.output_node = 7;
  expect_refused(g, std::nullopt, "exactly one output node");
}

BOOST_AUTO_TEST_CASE(output_node_must_name_the_output) {
  auto g = two_track_graph();
  g.output_node = 7;
  expect_refused(g, std::nullopt, "exactly one output node");
  g.output_node = 42;
  expect_refused(g, std::nullopt, "exactly one output node");
}

BOOST_AUTO_TEST_CASE(the_output_node_cannot_feed_another_node) {
  auto g = two_track_graph();
  g.nodes.push_back(
      make_node(9, "after the sink", node_kind::gain, 2, 2, {8}, {param("gain", 1.0)}));
  expect_refused(g, 9u, "output node cannot feed");
}

BOOST_AUTO_TEST_CASE(an_unsupported_word_length_is_refused) {
  auto g = two_track_graph();
  g.nodes[8].params[0].value = 20;
  expect_refused(g, 8u, "bits must be");
}

BOOST_AUTO_TEST_CASE(a_partition_cycle_is_refused_even_when_the_nodes_are_acyclic) {
  // drums clip -> drums gain -> bass gain -> drums pan: drums feeds bass and bass feeds drums.
  auto g = two_track_graph();
  g.nodes[4].inputs = {1};
  g.nodes[4].channels = 1;
  g.nodes[2].inputs = {4};
  g.nodes[6].inputs = {2, 5};
  BOOST_TEST_REQUIRE(topological_order(g).size() == g.nodes.size()); // nodes acyclic
  expect_refused(g, std::nullopt, "partitions depend on each other in a cycle");
}

BOOST_AUTO_TEST_CASE(unknown_partitions_and_misnumbered_ids_are_refused) {
  {
    auto g = two_track_graph();
    g.nodes[5].partition = 3;
    expect_refused(g, 5u, "partition 3 does not exist");
  }
  {
    auto g = two_track_graph();
    g.nodes[5].id = 6;
    expect_refused(g, 5u, "does not match its position");
  }
}

BOOST_AUTO_TEST_CASE(a_bad_sample_rate_is_refused) {
  for (uint32_t rate : {0u, 999u, 768001u, 4000000000u}) {
    BOOST_TEST_CONTEXT("rate " << rate) {
      auto g = two_track_graph();
      g.sample_rate = rate;
      expect_refused(g, std::nullopt, "sample rate");
    }
  }
  for (uint32_t rate : {1000u, 44100u, 768000u}) {
    auto g = two_track_graph();
    g.sample_rate = rate;
    BOOST_TEST(!validate(g).has_value(), "rate " << rate);
  }
}

BOOST_AUTO_TEST_CASE(an_empty_time_span_or_graph_is_refused) {
  {
    auto g = two_track_graph();
    g.frame_count = 0;
    expect_refused(g, std::nullopt, "time span");
  }
  {
    auto g = two_track_graph();
    g.first_frame = -1;
    expect_refused(g, std::nullopt, "time span");
  }
  {
    auto g = two_track_graph();
    g.nodes.clear();
    expect_refused(g, std::nullopt, "no nodes");
  }
  {
    auto g = two_track_graph();
    g.partitions.clear();
    expect_refused(g, std::nullopt, "no partitions");
  }
  {
    auto g = two_track_graph();
    g.media[1].channels = 0;
    expect_refused(g, std::nullopt, "media 1 has an invalid shape");
  }
}

BOOST_AUTO_TEST_CASE(a_graph_level_error_renders_without_a_node) {
  auto g = two_track_graph();
  g.sample_rate = 1;
  auto err = validate(g);
  BOOST_TEST_REQUIRE(err.has_value());
  BOOST_TEST(err->to_string(g).rfind("render graph: ", 0) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ordering)

BOOST_AUTO_TEST_CASE(topological_order_of_an_id_ordered_graph_is_id_order) {
  auto g = two_track_graph();
  auto order = topological_order(g);
  std::vector<uint32_t> expected{0, 1, 2, 3, 4, 5, 6, 7, 8};
  BOOST_TEST(order == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(topological_order_respects_inputs_and_breaks_ties_by_id) {
  // Ids run against the data flow: the output is node 0, the clips are the last nodes.
  //   clip A (8) -> gain A (5) ---------------> mix (3) -> gain (1) -> output (0)
  //   clip B (7) -> pan B (6) -> gain B (4) --> mix (3)
  //   clip C (2) ------------------------------> mix (3)
  render_graph g;
  g.sample_rate = 44100;
  g.frame_count = 100;
  g.media = {media_descriptor{"a", 2, 100}};
  g.partitions = {{"all"}};
  g.nodes.push_back(make_node(0, "out", node_kind::output, 0, 2, {1}, {param("bits", 16)}));
  g.nodes.push_back(make_node(1, "gain", node_kind::gain, 0, 2, {3}, {param("gain", 1)}));
  g.nodes.push_back(make_node(2, "clip C", node_kind::clip_source, 0, 2, {}));
  g.nodes.push_back(make_node(3, "mix", node_kind::mix, 0, 2, {5, 4, 2}));
  g.nodes.push_back(make_node(4, "gain B", node_kind::gain, 0, 2, {6}, {param("gain", 1)}));
  g.nodes.push_back(make_node(5, "gain A", node_kind::gain, 0, 2, {8}, {param("gain", 1)}));
  g.nodes.push_back(make_node(6, "pan B", node_kind::pan, 0, 2, {7}, {param("position", 0)}));
  g.nodes.push_back(make_node(7, "clip B", node_kind::clip_source, 0, 2, {}));
  g.nodes.push_back(make_node(8, "clip A", node_kind::clip_source, 0, 2, {}));
  for (uint32_t id : {2u, 7u, 8u})
    g.nodes[id].media = media_region{0, 0, 0, 100};
  fix_output_refs(g);
  BOOST_TEST_REQUIRE(!validate(g).has_value());

  auto order = topological_order(g);
  BOOST_TEST_REQUIRE(order.size() == g.nodes.size());
  std::vector<size_t> position(g.nodes.size());
  for (size_t i = 0; i < order.size(); ++i)
    position[order[i]] = i;
  for (const auto& n : g.nodes)
    for (auto in : n.inputs)
      BOOST_TEST(position[in] < position[n.id], "input " << in << " of node " << n.id);

  // Kahn's algorithm with the smallest ready id first.
  std::vector<uint32_t> expected{2, 7, 6, 4, 8, 5, 3, 1, 0};
  BOOST_TEST(order == expected, boost::test_tools::per_element());
  // A pure function of the graph: the same again, and the same for a copy.
  BOOST_TEST(topological_order(g) == order, boost::test_tools::per_element());
  auto copy = g;
  BOOST_TEST(topological_order(copy) == order, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(param_or_falls_back_when_absent) {
  auto g = two_track_graph();
  BOOST_TEST(param_or(g.nodes[1], "gain", 7.0) == 0.8);
  BOOST_TEST(param_or(g.nodes[1], "position", 7.0) == 7.0);
}

BOOST_AUTO_TEST_CASE(node_kinds_and_modes_have_stable_names) {
  BOOST_TEST(to_string(node_kind::clip_source) == "clip_source");
  BOOST_TEST(to_string(node_kind::mix) == "mix");
  BOOST_TEST(to_string(node_kind::gain) == "gain");
  BOOST_TEST(to_string(node_kind::pan) == "pan");
  BOOST_TEST(to_string(node_kind::output) == "output");
  BOOST_TEST(to_string(node_kind::instrument) == "instrument");
  BOOST_TEST(to_string(render_mode::offline) == "offline");
  BOOST_TEST(to_string(render_mode::realtime) == "realtime");
  BOOST_TEST(to_string(render_mode::anticipative) == "anticipative");
}

BOOST_AUTO_TEST_SUITE_END()

// -- automation lanes ----------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(automation)

BOOST_AUTO_TEST_CASE(lane_values_follow_hold_linear_and_exponential_curves) {
  automation_lane lane{"gain",
                       {{100, 1.0, curve_kind::linear},
                        {200, 3.0, curve_kind::hold},
                        {300, 0.5, curve_kind::exponential},
                        {400, 2.0, curve_kind::linear}},
                       {}};
  BOOST_TEST(automation_value(lane, -5) == 1.0);  // before the first point
  BOOST_TEST(automation_value(lane, 100) == 1.0);
  BOOST_TEST(automation_value(lane, 150) == 2.0); // halfway up the line
  BOOST_TEST(automation_value(lane, 200) == 3.0);
  BOOST_TEST(automation_value(lane, 299) == 3.0); // held
  BOOST_TEST(automation_value(lane, 300) == 0.5);
  BOOST_TEST(std::abs(automation_value(lane, 350) - 1.0) < 1e-15); // geometric mean of 0.5, 2
  BOOST_TEST(automation_value(lane, 400) == 2.0);
  BOOST_TEST(automation_value(lane, 1000000) == 2.0); // after the last
}

BOOST_AUTO_TEST_CASE(bad_lanes_are_refused_naming_the_node) {
  {
    auto g = two_track_graph();
    g.nodes[1].automation = {{"gain", {{10, 1.0, curve_kind::linear}, {10, 0.5, curve_kind::linear}}, {}}};
    expect_refused(g, 1u, "frames must increase");
  }
  {
    auto g = two_track_graph();
    g.nodes[0].automation = {{"fade_in_frames", {{0, 0.0, curve_kind::linear}}, {}}};
    expect_refused(g, 0u, "cannot be automated");
  }
  {
    auto g = two_track_graph();
    g.nodes[1].automation = {{"gain", {{0, 2000.0, curve_kind::linear}}, {}}};
    expect_refused(g, 1u, "outside");
  }
  {
    auto g = two_track_graph();
    g.nodes[1].automation = {{"gain", {{0, 0.0, curve_kind::exponential}, {5, 1.0, curve_kind::hold}}, {}}};
    expect_refused(g, 1u, "positive values");
  }
  {
    auto g = two_track_graph();
    g.nodes[1].automation = {{"gain", {}, {}}};
    expect_refused(g, 1u, "1 to 2^20 points, or a modulator");
  }
  {
    auto g = two_track_graph();
    modulation lfo;
    lfo.clock = {{0, 0.0, curve_kind::linear}};
    g.nodes[2].automation = {{"position", {}, {lfo}}};
    expect_refused(g, 2u, "the clock needs 2");
    g.nodes[2].automation[0].modulators[0].clock.push_back({0, 1.0, curve_kind::linear});
    expect_refused(g, 2u, "frames must increase");
    g.nodes[2].automation[0].modulators[0].clock[1].frame = 480;
    g.nodes[2].automation[0].modulators[0].kind = modulator_kind::steps;
    expect_refused(g, 2u, "1 to 4096 steps");
    g.nodes[2].automation[0].modulators[0].steps = {0.5, 1.5};
    expect_refused(g, 2u, "step values");
    g.nodes[2].automation[0].modulators[0].steps = {0.5, -1.0};
    BOOST_TEST(!validate(g).has_value());
  }
  auto g = two_track_graph();
  g.nodes[1].automation = {{"gain", {{0, 1.0, curve_kind::exponential}, {5, 0.25, curve_kind::hold}}, {}}};
  BOOST_TEST(!validate(g).has_value());
}

BOOST_AUTO_TEST_CASE(modulators_follow_their_clock_and_shapes) {
  modulation m;
  // 2 cycles per 48000 frames up to frame 48000, then 4: the clock bends and extends linearly.
  m.clock = {{0, 0.0, curve_kind::linear}, {48000, 2.0, curve_kind::linear},
             {96000, 6.0, curve_kind::linear}};
  BOOST_TEST(clock_value(m, 6000) == 0.25);
  BOOST_TEST(clock_value(m, -24000) == -1.0);
  BOOST_TEST(clock_value(m, 108000) == 7.0);
  BOOST_TEST(std::abs(modulator_value(m, 6000) - 1.0) < 1e-15); // sine at a quarter cycle
  m.shape = lfo_shape::triangle;
  BOOST_TEST(std::abs(modulator_value(m, 3000) - 0.5) < 1e-15); // an eighth of a cycle
  BOOST_TEST(std::abs(modulator_value(m, 18000) + 1.0) < 1e-15); // three quarters
  m.shape = lfo_shape::square;
  BOOST_TEST(modulator_value(m, 11999) == 1.0);
  BOOST_TEST(modulator_value(m, 12000) == -1.0);
  m.shape = lfo_shape::saw;
  BOOST_TEST(modulator_value(m, 0) == -1.0);
  m.kind = modulator_kind::steps;
  m.steps = {0.1, 0.2, 0.3};
  BOOST_TEST(modulator_value(m, 0) == 0.1);
  BOOST_TEST(modulator_value(m, 24000) == 0.2);  // step 1
  BOOST_TEST(modulator_value(m, 72000) == 0.2);  // clock 4: step 4 mod 3 = 1
  BOOST_TEST(modulator_value(m, -1) == 0.3);     // step -1 wraps to the last
}

BOOST_AUTO_TEST_SUITE_END()
