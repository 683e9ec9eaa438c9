// messages/wire/signal_protocol.hpp: every message round-trips through encode/decode, and
// decode refuses malformed, truncated, oversized, hostile and random frames with an error,
// never a throw; extra keys from a newer peer are ignored.

#define BOOST_TEST_MODULE messages_wire_protocol
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <msgpack.hpp>

#include "messages/wire/signal_protocol.hpp"
#include "tests/support/graph_nodes.hpp"
#include "tests/support/render_graph_equality.hpp"

using namespace loophole;
using namespace loophole::wire;

namespace {

// -- field-wise equality, with a check per field so a failure names it --------------------

/// Doubles travel exactly, except that msgpack-c packs an integral double as an integer, so
using loophole::test::check_equal;
using loophole::test::same_double;

void check_equal(const hello& a, const hello& b) {
  BOOST_TEST(a.protocol == b.protocol);
  BOOST_TEST(a.pid == b.pid);
  BOOST_TEST(a.instance == b.instance);
  BOOST_TEST(a.build == b.build);
}

void check_equal(const load_job& a, const load_job& b) {
  BOOST_TEST(a.job == b.job);
  check_equal(a.graph, b.graph);
  BOOST_TEST(a.partitions == b.partitions, boost::test_tools::per_element());
  BOOST_TEST(a.bus_shm == b.bus_shm);
  BOOST_TEST(a.bus_bytes == b.bus_bytes);
  BOOST_TEST(a.slots == b.slots);
  BOOST_TEST(a.segment_frames == b.segment_frames);
  BOOST_TEST(a.block_frames == b.block_frames);
  BOOST_TEST((a.restore == b.restore));
  BOOST_TEST(a.recorder_offset == b.recorder_offset);
}

void check_equal(const job_ready& a, const job_ready& b) {
  BOOST_TEST(a.job == b.job);
}

void check_equal(const render_task& a, const render_task& b) {
  BOOST_TEST(a.job == b.job);
  BOOST_TEST(a.task == b.task);
  BOOST_TEST(a.partitions == b.partitions);
  BOOST_TEST(a.slot == b.slot);
  BOOST_TEST(a.first_frame == b.first_frame);
  BOOST_TEST(a.frames == b.frames);
  BOOST_TEST(a.checkpoint == b.checkpoint);
}

void check_equal(const task_done& a, const task_done& b) {
  BOOST_TEST(a.job == b.job);
  BOOST_TEST(a.task == b.task);
  BOOST_TEST(a.partitions == b.partitions);
  BOOST_TEST(same_double(a.peak, b.peak));
  BOOST_TEST(a.elapsed_ns == b.elapsed_ns);
  BOOST_TEST((a.states == b.states));
}

void check_equal(const failure& a, const failure& b) {
  BOOST_TEST(a.job == b.job);
  BOOST_TEST(a.task == b.task);
  BOOST_TEST(a.code == b.code);
  BOOST_TEST(a.message == b.message);
}

void check_equal(const heartbeat& a, const heartbeat& b) {
  BOOST_TEST(a.sequence == b.sequence);
  BOOST_TEST(a.tasks_done == b.tasks_done);
}

void check_equal(const unload_job& a, const unload_job& b) {
  BOOST_TEST(a.job == b.job);
}

void check_equal(const wire::shutdown&, const wire::shutdown&) {}

/// Encodes, decodes and compares; `T` must be the alternative `msg` holds.
template <class T> void round_trip(const T& msg) {
  const auto frame = encode(message{msg});
  BOOST_TEST_REQUIRE(!frame.empty());
  const auto got = decode(frame);
  BOOST_TEST_REQUIRE(got.error.empty(), got.error);
  BOOST_TEST_REQUIRE(got.value.has_value());
  BOOST_TEST_REQUIRE(std::holds_alternative<T>(*got.value));
  check_equal(msg, std::get<T>(*got.value));
  // Encoding is deterministic: the decoded message encodes to the same bytes.
  BOOST_TEST((encode(*got.value) == frame));
}

// -- a full graph ---------------------------------------------------------------------------

signal::parameter param(std::string name, double value) {
  return {std::move(name), value};
}

signal::render_graph full_graph() {
  using namespace loophole::signal;
  render_graph g;
  g.sample_rate = 96000;
  g.mode = render_mode::anticipative;
  g.first_frame = 123456789012;
  g.frame_count = 987654321;
  g.output_latency = 4097; // plugin delay compensation travels with the graph
  g.media = {media_descriptor{"0123456789abcdef0123456789abcdef", 2, 4800000},
             media_descriptor{"fedcba9876543210fedcba9876543210", 1, 12}};
  g.partitions = {{"track 1 \xC3\xA9t\xC3\xA9"}, {"track 2"}, {"master"}};
  auto node = [&](node_kind kind, uint32_t partition, uint16_t channels,
                  std::vector<uint32_t> inputs, std::vector<parameter> params) {
    auto& n = loophole::test::append_node(g, kind, partition, channels, std::move(inputs),
                                          std::move(params));
    n.label = "node " + std::to_string(n.id) + std::string{"\0 with a NUL", 12};
    return n.id;
  };
  auto c0 = node(node_kind::clip_source, 0, 2, {},
                 {param("gain", 0.1), param("fade_in_frames", 4096), param("fade_in_shape", 2),
                  param("fade_out_frames", 9.0e15), param("fade_out_shape", 3)});
  g.nodes[c0].media = media_region{0, -5, 4799000, 1000};
  auto g0 = node(node_kind::gain, 0, 2, {c0}, {param("gain", 1.0 / 3.0)});
  g.nodes[g0].automation = {{"gain",
                             {{-7, 1e-300, curve_kind::exponential},
                              {std::numeric_limits<int64_t>::max(), 0.5, curve_kind::hold}},
                             {}}};
  auto p0 = node(node_kind::pan, 0, 2, {g0}, {param("position", -1.0)});
  {
    loophole::signal::modulation lfo;
    lfo.kind = loophole::signal::modulator_kind::steps;
    lfo.shape = loophole::signal::lfo_shape::triangle;
    lfo.depth = -0.25;
    lfo.in_db = true;
    lfo.clock = {{-3, 0.5, curve_kind::linear}, {96000, 1e9, curve_kind::linear}};
    lfo.steps = {1.0, -1.0, 5e-324};
    loophole::signal::modulation follower;
    follower.kind = loophole::signal::modulator_kind::follower;
    follower.attack_frames = 48.5;
    follower.release_frames = 4800;
    g.nodes[p0].automation = {{"position", {}, {lfo, follower}}};
  }
  auto c1 = node(node_kind::clip_source, 1, 1, {}, {});
  g.nodes[c1].media = media_region{1, std::numeric_limits<int64_t>::max(), 0, 12, 3, 7};
  auto p1 = node(node_kind::pan, 1, 2, {c1}, {param("position", 5e-324)});
  auto mix = node(node_kind::mix, 2, 2, {p1, p0, p1}, {});
  // A node with no media region beside clips that have one, and a clip without one (the
  // wire does not validate).
  node(node_kind::clip_source, 2, 2, {}, {});
  // Events with every extreme a byte and a frame can hold (the wire does not validate).
  auto synth = node(node_kind::instrument, 2, 2, {}, {param("attack_frames", 48)});
  g.nodes[synth].events = {{0, midi_status::note_on, 60, 100},
                           {-1, 0xFF, 0, 255},
                           {std::numeric_limits<int64_t>::max(), midi_status::pitch_bend, 127, 127},
                           {std::numeric_limits<int64_t>::min(), 0, 0x80, 0x7F}};
  // An impulse response embedded whole, with the float values that must keep their bits.
  auto reverb = node(node_kind::convolution, 2, 2, {mix}, {param("partition_frames", 64)});
  g.nodes[reverb].media = media_region{1, 0, 0, 3, 0, 0};
  g.nodes[reverb].embedded_audio = {1.0f, -0.0f, std::numeric_limits<float>::denorm_min(),
                                    std::numeric_limits<float>::quiet_NaN(), -1e38f, 0.25f};
  g.oversample = 4;
  auto out = node(node_kind::output, 2, 2, {reverb},
                  {param("bits", 24), param("dither", 1), param("dither_seed", 9007199254740992.0),
                   param("negative zero", -0.0)});
  g.output_node = out;
  return g;
}

load_job full_load_job() {
  load_job m;
  m.job = std::numeric_limits<uint64_t>::max();
  m.graph = full_graph();
  m.partitions = {0, 2, 1};
  m.bus_shm = "/loophole.1234.bus";
  m.bus_bytes = 1ull << 40;
  m.slots = 4;
  m.segment_frames = 65536;
  m.block_frames = 1024;
  return m;
}

// -- frames built by hand ---------------------------------------------------------------------

using packer = msgpack::packer<msgpack::sbuffer>;

std::string to_string(const msgpack::sbuffer& buf) {
  return {buf.data(), buf.size()};
}

template <class Body> std::string frame_with(uint32_t version, int64_t type, Body&& write_body) {
  msgpack::sbuffer buf;
  packer pk(buf);
  pk.pack_array(3);
  pk.pack(version);
  pk.pack(type);
  write_body(pk);
  return to_string(buf);
}

void pack_kv(packer& pk, const std::string& key, int64_t value) {
  pk.pack(key);
  pk.pack(value);
}

/// The bytes of a string literal, NULs included.
template <size_t N> std::string bytes(const char (&literal)[N]) {
  return {literal, N - 1};
}

void expect_refused(std::string_view frame, const std::string& reason = {}) {
  decoded got;
  BOOST_CHECK_NO_THROW(got = decode(frame));
  BOOST_TEST(!got.value.has_value());
  BOOST_TEST(!got.error.empty());
  if (!reason.empty())
    BOOST_TEST(got.error.find(reason) != std::string::npos, "error: " << got.error);
}

} // namespace

BOOST_AUTO_TEST_SUITE(round_trips)

BOOST_AUTO_TEST_CASE(hello_round_trips) {
  round_trip(hello{});
  round_trip(hello{protocol_version, 4242, "signal-3", "loophole 0.1.0 (abcdef)"});
  round_trip(hello{77, std::numeric_limits<int64_t>::min(), std::string(1000, 'x'), ""});
}

BOOST_AUTO_TEST_CASE(load_job_round_trips_with_a_full_graph) {
  round_trip(full_load_job());
  load_job empty;
  round_trip(empty);
}

BOOST_AUTO_TEST_CASE(job_ready_round_trips) {
  round_trip(job_ready{0});
  round_trip(job_ready{std::numeric_limits<uint64_t>::max()});
}

BOOST_AUTO_TEST_CASE(render_task_round_trips) {
  round_trip(render_task{1, 2, {3}, 4, -5, 6, false});
  round_trip(render_task{1, 2, {0, 5, 3, 17}, 4, -5, 6, true});
  round_trip(render_task{std::numeric_limits<uint64_t>::max(), std::numeric_limits<uint64_t>::max(),
                         {std::numeric_limits<uint32_t>::max()},
                         std::numeric_limits<uint32_t>::max(),
                         std::numeric_limits<int64_t>::min(),
                         std::numeric_limits<uint32_t>::max(), false});
}

BOOST_AUTO_TEST_CASE(task_done_round_trips) {
  round_trip(task_done{7, 8, {1, 2}, 0.999969482421875, 123456789, {}});
  round_trip(task_done{0, 0, {}, std::numeric_limits<double>::infinity(), 0, {}});
  round_trip(task_done{0, 0, {9}, -0.0, std::numeric_limits<uint64_t>::max(), {}});
  round_trip(task_done{0, 0, {0}, std::numeric_limits<double>::denorm_min(), 1, {}});
  round_trip(task_done{0, 0, {4, 3}, std::numeric_limits<double>::quiet_NaN(), 1, {}});
}

BOOST_AUTO_TEST_CASE(node_states_round_trip_as_binary_with_every_byte_value) {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i)
    all_bytes.push_back(static_cast<char>(i));
  round_trip(task_done{1, 2, {0}, 0.5, 3, {{4, all_bytes}, {5, ""}, {6, std::string(3 << 20, 'z')}}});
  load_job resumed = full_load_job();
  resumed.restore = {{0, all_bytes}, {3, std::string(1, '\0')}};
  resumed.recorder_offset = 4096;
  round_trip(resumed);
  round_trip(render_task{1, 2, {3}, 4, -5, 6, true});
}

BOOST_AUTO_TEST_CASE(failure_round_trips) {
  round_trip(failure{9, 10, 11, "node 4 ('drums / gain'): produced NaN"});
  round_trip(failure{});
}

BOOST_AUTO_TEST_CASE(heartbeat_round_trips) {
  round_trip(heartbeat{1, 2});
  round_trip(heartbeat{std::numeric_limits<uint64_t>::max(), 0});
}

BOOST_AUTO_TEST_CASE(unload_job_round_trips) {
  round_trip(unload_job{31337});
}

BOOST_AUTO_TEST_CASE(shutdown_round_trips) {
  round_trip(wire::shutdown{});
}

BOOST_AUTO_TEST_CASE(message_type_names_are_stable) {
  BOOST_TEST(to_string(message_type::hello) == "hello");
  BOOST_TEST(to_string(message_type::load_job) == "load_job");
  BOOST_TEST(to_string(message_type::job_ready) == "job_ready");
  BOOST_TEST(to_string(message_type::render_task) == "render_task");
  BOOST_TEST(to_string(message_type::task_done) == "task_done");
  BOOST_TEST(to_string(message_type::failure) == "failure");
  BOOST_TEST(to_string(message_type::heartbeat) == "heartbeat");
  BOOST_TEST(to_string(message_type::unload_job) == "unload_job");
  BOOST_TEST(to_string(message_type::shutdown) == "shutdown");
}

BOOST_AUTO_TEST_CASE(a_frame_is_an_array_of_version_type_and_a_map_body) {
  const auto frame = encode(message{render_task{1, 2, {3}, 4, 5, 6, false}});
  auto handle = msgpack::unpack(frame.data(), frame.size());
  const auto& root = handle.get();
  BOOST_TEST_REQUIRE(root.type == msgpack::type::ARRAY);
  BOOST_TEST_REQUIRE(root.via.array.size == 3u);
  BOOST_TEST(root.via.array.ptr[0].as<uint32_t>() == protocol_version);
  BOOST_TEST(root.via.array.ptr[1].as<int>() == static_cast<int>(message_type::render_task));
  BOOST_TEST(root.via.array.ptr[2].type == msgpack::type::MAP);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(forward_compatibility)

BOOST_AUTO_TEST_CASE(unknown_extra_keys_in_a_body_are_ignored) {
  const auto frame = frame_with(protocol_version, 4, [](packer& pk) {
    pk.pack_map(8);
    pack_kv(pk, "job", 7);
    pk.pack(std::string{"added_in_v2"});
    pk.pack_array(3);
    pk.pack(1);
    pk.pack(std::string{"two"});
    pk.pack_map(1);
    pack_kv(pk, "three", 3);
    pack_kv(pk, "task", 8);
    pk.pack(std::string{"partitions"});
    pk.pack(std::vector<uint32_t>{2});
    pack_kv(pk, "slot", 1);
    pk.pack(std::string{"another_new_key"});
    pk.pack(2.5);
    pack_kv(pk, "first_frame", -5);
    pack_kv(pk, "frames", 4096);
  });
  const auto got = decode(frame);
  BOOST_TEST_REQUIRE(got.error.empty(), got.error);
  BOOST_TEST_REQUIRE(std::holds_alternative<render_task>(*got.value));
  check_equal(std::get<render_task>(*got.value), render_task{7, 8, {2}, 1, -5, 4096});
}

BOOST_AUTO_TEST_CASE(missing_keys_keep_their_defaults) {
  const auto frame = frame_with(protocol_version, 4, [](packer& pk) {
    pk.pack_map(1);
    pack_kv(pk, "task", 99);
  });
  const auto got = decode(frame);
  BOOST_TEST_REQUIRE(got.error.empty(), got.error);
  check_equal(std::get<render_task>(*got.value), render_task{0, 99, {}, 0, 0, 0});
}

BOOST_AUTO_TEST_CASE(extra_keys_inside_a_nested_graph_node_are_ignored) {
  // A load_job whose graph has one node carrying a key this build does not know.
  const auto frame = frame_with(protocol_version, 2, [](packer& pk) {
    pk.pack_map(2);
    pack_kv(pk, "job", 5);
    pk.pack(std::string{"graph"});
    pk.pack_map(3);
    pack_kv(pk, "format_version", signal::render_graph::format_version);
    pack_kv(pk, "sample_rate", 44100);
    pk.pack(std::string{"nodes"});
    pk.pack_array(1);
    pk.pack_map(4);
    pack_kv(pk, "id", 0);
    pack_kv(pk, "kind", 1);
    pk.pack(std::string{"automation"});
    pk.pack_array(0);
    pk.pack(std::string{"future"});
    pk.pack_nil();
  });
  const auto got = decode(frame);
  BOOST_TEST_REQUIRE(got.error.empty(), got.error);
  const auto& job = std::get<load_job>(*got.value);
  BOOST_TEST(job.job == 5u);
  BOOST_TEST(job.graph.sample_rate == 44100u);
  BOOST_TEST_REQUIRE(job.graph.nodes.size() == 1u);
  BOOST_TEST((job.graph.nodes[0].kind == signal::node_kind::mix));
  BOOST_TEST(!job.graph.nodes[0].media.has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(refusals)

BOOST_AUTO_TEST_CASE(an_empty_frame_is_refused) {
  expect_refused("");
}

BOOST_AUTO_TEST_CASE(every_truncation_of_a_load_job_frame_is_refused) {
  const auto frame = encode(message{full_load_job()});
  BOOST_TEST_REQUIRE(frame.size() > 200u);
  for (size_t n = 0; n < frame.size(); ++n) {
    const auto got = decode(std::string_view{frame}.substr(0, n));
    if (got.value.has_value() || got.error.empty())
      BOOST_TEST_REQUIRE((!got.value.has_value() && !got.error.empty()),
                         "a prefix of " << n << " bytes: " << got.error);
  }
  BOOST_TEST(decode(frame).value.has_value());
}

BOOST_AUTO_TEST_CASE(a_wrong_protocol_version_is_refused) {
  for (uint32_t version : {0u, protocol_version - 1, protocol_version + 1, 0xFFFFFFFFu}) {
    auto frame = frame_with(version, 9, [](packer& pk) { pk.pack_map(0); });
    expect_refused(frame, "protocol version");
  }
  // A version of the wrong type.
  msgpack::sbuffer buf;
  packer pk(buf);
  pk.pack_array(3);
  pk.pack(std::string{"1"});
  pk.pack(9);
  pk.pack_map(0);
  expect_refused(to_string(buf));
}

BOOST_AUTO_TEST_CASE(an_unknown_message_type_is_refused) {
  for (int64_t type : {int64_t{0}, int64_t{10}, int64_t{255}}) {
    auto frame = frame_with(protocol_version, type, [](packer& pk) { pk.pack_map(0); });
    expect_refused(frame, "unknown message type");
  }
  for (int64_t type : {int64_t{-1}, int64_t{256}, int64_t{1} << 40}) {
    auto frame = frame_with(protocol_version, type, [](packer& pk) { pk.pack_map(0); });
    expect_refused(frame);
  }
}

BOOST_AUTO_TEST_CASE(a_body_that_is_not_a_map_is_refused) {
  expect_refused(frame_with(protocol_version, 1, [](packer& pk) { pk.pack_array(0); }),
                 "must be a map");
  expect_refused(frame_with(protocol_version, 9, [](packer& pk) { pk.pack_nil(); }),
                 "must be a map");
  expect_refused(frame_with(protocol_version, 3, [](packer& pk) { pk.pack(7); }), "must be a map");
  expect_refused(frame_with(protocol_version, 2, [](packer& pk) { pk.pack(std::string{"{}"}); }),
                 "must be a map");
}

BOOST_AUTO_TEST_CASE(a_frame_that_is_not_a_three_element_array_is_refused) {
  msgpack::sbuffer a;
  packer(a).pack_map(0);
  expect_refused(to_string(a), "array");
  msgpack::sbuffer b;
  packer pb(b);
  pb.pack_array(2);
  pb.pack(protocol_version);
  pb.pack(9);
  expect_refused(to_string(b), "array");
  msgpack::sbuffer c;
  packer(c).pack(42);
  expect_refused(to_string(c), "array");
}

BOOST_AUTO_TEST_CASE(fields_of_the_wrong_type_are_refused) {
  // hello with a string pid.
  expect_refused(frame_with(protocol_version, 1, [](packer& pk) {
    pk.pack_map(1);
    pk.pack(std::string{"pid"});
    pk.pack(std::string{"1234"});
  }));
  // render_task with a negative frame count into uint32.
  expect_refused(frame_with(protocol_version, 4, [](packer& pk) {
    pk.pack_map(1);
    pack_kv(pk, "frames", -1);
  }));
  // render_task with a partition too large for uint32.
  expect_refused(frame_with(protocol_version, 4, [](packer& pk) {
    pk.pack_map(1);
    pk.pack(std::string{"partitions"});
    pk.pack(std::vector<int64_t>{int64_t{1} << 33});
  }));
  // render_task whose partitions are not a list.
  expect_refused(frame_with(protocol_version, 4, [](packer& pk) {
    pk.pack_map(1);
    pack_kv(pk, "partitions", 3);
  }));
  // job_ready with a float job id.
  expect_refused(frame_with(protocol_version, 3, [](packer& pk) {
    pk.pack_map(1);
    pk.pack(std::string{"job"});
    pk.pack(1.5);
  }));
  // load_job whose graph is a number, whose nodes are a string.
  expect_refused(frame_with(protocol_version, 2, [](packer& pk) {
    pk.pack_map(1);
    pack_kv(pk, "graph", 5);
  }));
  expect_refused(frame_with(protocol_version, 2, [](packer& pk) {
    pk.pack_map(1);
    pk.pack(std::string{"graph"});
    pk.pack_map(1);
    pk.pack(std::string{"nodes"});
    pk.pack(std::string{"none"});
  }));
  // A map key that is not a string.
  expect_refused(frame_with(protocol_version, 7, [](packer& pk) {
    pk.pack_map(1);
    pk.pack(1);
    pk.pack(2);
  }));
}

BOOST_AUTO_TEST_CASE(graph_values_the_library_does_not_know_are_refused) {
  {
    // MIDI events are 11 bytes each.
    auto frame = frame_with(protocol_version, 2, [](packer& pk) {
      pk.pack_map(1);
      pk.pack(std::string{"graph"});
      pk.pack_map(1);
      pk.pack(std::string{"nodes"});
      pk.pack_array(1);
      pk.pack_map(1);
      pk.pack(std::string{"events"});
      pk.pack_bin(12);
      pk.pack_bin_body("0123456789ab", 12);
    });
    expect_refused(frame, "not a multiple of 11");
  }
  {
    auto frame = frame_with(protocol_version, 2, [](packer& pk) {
      pk.pack_map(1);
      pk.pack(std::string{"graph"});
      pk.pack_map(1);
      pack_kv(pk, "format_version", signal::render_graph::format_version + 1);
    });
    expect_refused(frame, "format");
  }
  {
    auto frame = frame_with(protocol_version, 2, [](packer& pk) {
      pk.pack_map(1);
      pk.pack(std::string{"graph"});
      pk.pack_map(1);
      pack_kv(pk, "mode", 3);
    });
    expect_refused(frame, "render mode");
  }
  {
    auto frame = frame_with(protocol_version, 2, [](packer& pk) {
      pk.pack_map(1);
      pk.pack(std::string{"graph"});
      pk.pack_map(1);
      pk.pack(std::string{"nodes"});
      pk.pack_array(1);
      pk.pack_map(1);
      pack_kv(pk, "kind", static_cast<int>(signal::last_node_kind) + 1);
    });
    expect_refused(frame, "node kind");
  }
}

BOOST_AUTO_TEST_CASE(a_frame_over_the_size_limit_is_refused_before_parsing) {
  // A valid frame padded past the limit inside a string: refused for its size alone.
  hello h;
  h.build = std::string(max_frame_bytes, 'b');
  const auto frame = encode(message{h});
  BOOST_TEST_REQUIRE(frame.size() > max_frame_bytes);
  expect_refused(frame, "limit");
  std::string raw(max_frame_bytes + 1, '\0');
  expect_refused(raw, "limit");
}

BOOST_AUTO_TEST_CASE(deeply_nested_arrays_are_refused) {
  for (size_t depth : {size_t{33}, size_t{40}, size_t{100000}}) {
    BOOST_TEST_CONTEXT("depth " << depth) {
      auto frame = frame_with(protocol_version, 1, [&](packer& pk) {
        pk.pack_map(1);
        pk.pack(std::string{"instance"});
        for (size_t i = 0; i < depth; ++i)
          pk.pack_array(1);
        pk.pack(0);
      });
      expect_refused(frame);
    }
  }
  // The frame's own array plus nesting well inside the limit is fine as far as depth goes
  // (the value is still of the wrong type for `instance`, so it is refused for that).
  auto shallow = frame_with(protocol_version, 1, [&](packer& pk) {
    pk.pack_map(1);
    pk.pack(std::string{"instance"});
    for (size_t i = 0; i < 5; ++i)
      pk.pack_array(1);
    pk.pack(0);
  });
  auto got = decode(shallow);
  BOOST_TEST(!got.value.has_value());
  BOOST_TEST(got.error.find("depth") == std::string::npos, got.error);
}

BOOST_AUTO_TEST_CASE(huge_declared_lengths_with_little_data_are_refused) {
  const std::vector<std::string> frames{
      // [1, 2, {"graph": array32 of 2^32 - 1 elements}] and nothing after
      bytes("\x93\x01\x02\x81\xA5"
            "graph"
            "\xDD\xFF\xFF\xFF\xFF"),
      // array32 of 2^20 - 1 elements (inside the element limit), no data
      bytes("\x93\x01\x02\x81\xA5"
            "graph"
            "\xDD\x00\x0F\xFF\xFF"),
      // map32 of 2^32 - 1 entries
      bytes("\x93\x01\x02\xDF\xFF\xFF\xFF\xFF"),
      // map32 of 2^16 - 1 entries (inside the entry limit), no data
      bytes("\x93\x01\x02\xDF\x00\x00\xFF\xFF"),
      // str32 of 2^32 - 1 bytes
      bytes("\x93\x01\x01\x81\xA5"
            "build"
            "\xDB\xFF\xFF\xFF\xFF"),
      // str32 of 2^20 bytes (inside the string limit), 3 given
      bytes("\x93\x01\x01\x81\xA5"
            "build"
            "\xDB\x00\x10\x00\x00"
            "abc"),
      // bin32 of 2^32 - 1 bytes
      bytes("\x93\x01\x01\x81\xA5"
            "build"
            "\xC6\xFF\xFF\xFF\xFF"),
      // the root itself: array32 of 2^32 - 1
      bytes("\xDD\xFF\xFF\xFF\xFF"),
      // ext32 (no ext types are allowed)
      bytes("\x93\x01\x01\x81\xA5"
            "build"
            "\xC9\x00\x00\x00\x04\x01"
            "xxxx"),
  };
  for (const auto& f : frames) {
    BOOST_TEST_CONTEXT("frame of " << f.size() << " bytes") {
      expect_refused(f);
    }
  }
}

BOOST_AUTO_TEST_CASE(ten_thousand_random_byte_strings_never_throw) {
  std::mt19937_64 rng(20240611);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<size_t> length(0, 96);
  size_t accepted = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string s(length(rng), '\0');
    for (auto& c : s)
      c = static_cast<char>(byte(rng));
    // Half of them start like a real frame, to get past the first checks.
    if (i % 2 == 0 && s.size() >= 3) {
      s[0] = '\x93';
      s[1] = '\x01';
      s[2] = static_cast<char>(1 + i % 9);
    }
    decoded got;
    BOOST_CHECK_NO_THROW(got = decode(s));
    // Exactly one of a value and an error.
    BOOST_TEST_REQUIRE(got.value.has_value() == got.error.empty(), "input " << i);
    accepted += got.value.has_value();
  }
  BOOST_TEST_MESSAGE(accepted << " of 10000 random frames decoded to a message");
}

BOOST_AUTO_TEST_CASE(ten_thousand_mutations_of_a_valid_frame_never_throw) {
  const auto frame = encode(message{full_load_job()});
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<size_t> where(0, frame.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 10000; ++i) {
    auto s = frame;
    for (int k = 0; k < 1 + i % 4; ++k)
      s[where(rng)] = static_cast<char>(byte(rng));
    decoded got;
    BOOST_CHECK_NO_THROW(got = decode(s));
    BOOST_TEST_REQUIRE(got.value.has_value() == got.error.empty(), "mutation " << i);
  }
}

BOOST_AUTO_TEST_SUITE_END()
