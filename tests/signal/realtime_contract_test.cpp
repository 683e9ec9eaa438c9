// The realtime contract of signal/node_processor.hpp and signal/partition_executor.hpp: once a
// graph is prepared, processing never allocates. Every operator new and delete of this test
// binary is replaced by a counting one; a graph holding every built node kind, with automation
// and modulators on its automatable parameters, is rendered block after block through
// partition_executor::run_rt, and the count must not move.
//
// Adding a node kind: give it a row in `node_table` (its parameters and lanes; `keyed` for a
// second, sidechain input). The last test fails while a kind make_processor builds has no row.

#define BOOST_TEST_MODULE signal_realtime_contract
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "signal/bus_layout.hpp"
#include "signal/node_processor.hpp"
#include "signal/partition_executor.hpp"
#include "signal/render_graph.hpp"
#include "tests/support/graph_nodes.hpp"

// -- counting allocation ------------------------------------------------------------------------

namespace {

std::atomic<bool> counting{false};
std::atomic<size_t> allocations{0}, deallocations{0};

void* counted_alloc(std::size_t size, std::size_t align) {
  if (counting.load(std::memory_order_relaxed))
    allocations.fetch_add(1, std::memory_order_relaxed);
  if (size == 0)
    size = 1;
  void* p = align > alignof(std::max_align_t)
              ? std::aligned_alloc(align, (size + align - 1) / align * align)
              : std::malloc(size);
  return p;
}

void counted_free(void* p) noexcept {
  if (p && counting.load(std::memory_order_relaxed))
    deallocations.fetch_add(1, std::memory_order_relaxed);
  std::free(p);
}

void* must(void* p) {
  if (!p)
    throw std::bad_alloc{};
  return p;
}

} // namespace

void* operator new(std::size_t n) { return must(counted_alloc(n, 0)); }
void* operator new[](std::size_t n) { return must(counted_alloc(n, 0)); }
void* operator new(std::size_t n, std::align_val_t a) {
  return must(counted_alloc(n, static_cast<std::size_t>(a)));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return must(counted_alloc(n, static_cast<std::size_t>(a)));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  counted_free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  counted_free(p);
}

using namespace loophole::signal;

namespace {

// -- the node table ------------------------------------------------------------------------------

modulation lfo(double depth) {
  modulation m;
  m.kind = modulator_kind::lfo;
  m.shape = lfo_shape::triangle;
  m.depth = depth;
  m.clock = {{0, 0.0, curve_kind::linear}, {48000, 3.0, curve_kind::linear}};
  return m;
}

modulation follower(double depth) {
  modulation m;
  m.kind = modulator_kind::follower;
  m.depth = depth;
  m.attack_frames = 20;
  m.release_frames = 2000;
  return m;
}

modulation steps(double depth) {
  modulation m;
  m.kind = modulator_kind::steps;
  m.depth = depth;
  m.clock = {{0, 0.0, curve_kind::linear}, {48000, 16.0, curve_kind::linear}};
  m.steps = {0.0, 1.0, -0.5, 0.25};
  return m;
}

/// A ramp from `from` to `to` over the first 40000 frames, then held.
std::vector<automation_point> ramp(double from, double to) {
  return {{0, from, curve_kind::linear}, {40000, to, curve_kind::hold}};
}

struct node_row {
  node_kind kind;
  std::vector<parameter> params;
  std::vector<automation_lane> automation;
  bool keyed = false;     ///< takes the sidechain key as its second input
  uint16_t channels = 2;  ///< of its output
  bool plays_media = false; ///< gets the graph's impulse response as its media region
};

/// Every processing node kind, in the order they are chained.
std::vector<node_row> node_table() {
  return {
    {node_kind::eq,
     {{"b1_type", 0}, {"b1_freq", 800}, {"b1_gain_db", 3}, {"b2_type", 5}, {"b2_freq", 120},
      {"b3_type", 1}, {"b3_freq", 12000}},
     {automation_lane{"b1_freq", ramp(500, 2000), {lfo(100)}},
      automation_lane{"b1_gain_db", {}, {follower(6)}},
      automation_lane{"b2_q", ramp(0.5, 2), {}},
      automation_lane{"b3_bw", {}, {steps(0.5)}}},
     false},
    {node_kind::compressor,
     {{"detector", 1}, {"rms_frames", 256}, {"lookahead_frames", 64}, {"attack_frames", 50},
      {"release_frames", 500}, {"knee_db", 6}},
     {automation_lane{"threshold_db", ramp(-30, -10), {lfo(3)}},
      automation_lane{"ratio", {}, {follower(2)}},
      automation_lane{"mix", ramp(1, 0.5), {}},
      automation_lane{"makeup_db", {}, {steps(2)}}},
     true},
    {node_kind::gate,
     {{"threshold_db", -50}, {"hold_frames", 100}, {"attack_frames", 10}, {"release_frames", 300}},
     {automation_lane{"range_db", ramp(-80, -20), {follower(5)}}},
     true},
    {node_kind::polarity, {{"mask", 1}}, {}, false},
    {node_kind::pan,
     {{"position", 0}, {"law", 1}},
     {automation_lane{"position", ramp(-0.5, 0.5), {lfo(0.2)}},
      automation_lane{"width", {}, {follower(0.5)}}},
     false},
    {node_kind::delay,
     {{"frames", 300}, {"feedback", 0.2}, {"dry", 1}},
     {automation_lane{"feedback", ramp(0, 0.5), {}}, automation_lane{"wet", {}, {lfo(0.3)}},
      automation_lane{"dry", {}, {follower(0.1)}}},
     false},
    {node_kind::meter, {}, {}, false},
    {node_kind::gain, {{"gain", 1}}, {automation_lane{"gain", ramp(0.5, 1.5), {lfo(0.1)}}}, false},
    {node_kind::saturation,
     {{"curve", 0}, {"oversample", 4}},
     {automation_lane{"drive_db", ramp(0, 18), {lfo(3)}}, automation_lane{"mix", {}, {steps(0.3)}}},
     false},
    {node_kind::eq,
     {{"b1_type", 2}, {"b1_freq", 60}, {"oversample", 2}},
     {automation_lane{"b1_freq", ramp(40, 80), {}}},
     false},
    {node_kind::compressor,
     {{"oversample", 2}, {"lookahead_frames", 16}},
     {automation_lane{"threshold_db", ramp(-20, -10), {}}},
     true},
    {node_kind::convolution,
     {{"partition_frames", 256}, {"dry", 0.5}},
     {automation_lane{"wet", ramp(0.2, 0.8), {lfo(0.1)}}},
     false, 2, true},
    {node_kind::surround_pan,
     {},
     {automation_lane{"azimuth_deg", ramp(-90, 90), {lfo(20)}},
      automation_lane{"spread", {}, {steps(0.3)}}},
     false, 6},
    {node_kind::fold_down, {{"normalise", 1}}, {}, false, 2},
    {node_kind::limiter,
     {{"lookahead_frames", 240}, {"release_frames", 2000}, {"true_peak", 1}},
     {automation_lane{"ceiling_db", ramp(-6, -1), {steps(0.5)}}},
     false},
  };
}

/// Kinds that are not chained from the table: sources, sums and the sink, which the graph
/// builds around it.
constexpr node_kind structural[] = {node_kind::instrument, node_kind::sampler, node_kind::synth,
                                    node_kind::mix, node_kind::output};

std::vector<midi_event> melody() {
  std::vector<midi_event> e;
  for (int64_t f = 0; f < 200000; f += 3000) {
    const auto pitch = static_cast<uint8_t>(48 + (f / 3000) % 24);
    e.push_back({f, midi_status::note_on, pitch, 100});
    e.push_back({f + 2500, midi_status::note_off, pitch, 0});
  }
  return e;
}

/// A key partition (an instrument exported to the other one) and a track partition: an
/// instrument, every row of the table in series, a mix with the dry instrument, the output.
render_graph make_graph(uint32_t rate) {
  render_graph g;
  g.sample_rate = rate;
  g.first_frame = 0;
  g.frame_count = 200000;
  g.partitions = {{"key"}, {"track"}};
  auto add = [&](node_kind kind, uint32_t partition, uint16_t channels,
                 std::vector<uint32_t> inputs) -> render_node& {
    return loophole::test::append_node(g, kind, partition, channels, std::move(inputs));
  };
  auto& key = add(node_kind::instrument, 0, 1, {});
  key.events = melody();
  const uint32_t key_id = key.id;
  // A short decaying noise: the convolution's response and the sampler's sample.
  g.media = {{"response", 1, 512}};
  media_region whole{0, 0, 0, 512, 0, 0};
  std::vector<float> response(512);
  uint32_t noise = 1;
  for (size_t i = 0; i < response.size(); ++i) {
    noise = noise * 1664525u + 1013904223u;
    response[i] = static_cast<float>((static_cast<double>(noise >> 8) / 8388608.0 - 1.0) *
                                     std::exp(-static_cast<double>(i) / 100.0));
  }
  auto& source = add(node_kind::instrument, 1, 2, {});
  source.params = {{"attack_frames", 100}, {"release_frames", 1000}};
  source.events = melody();
  const uint32_t source_id = source.id;
  auto& synth = add(node_kind::synth, 1, 2, {});
  synth.events = melody();
  synth.automation = {automation_lane{"cutoff_hz", ramp(200, 8000), {lfo(300)}}};
  const uint32_t synth_id = synth.id;
  auto& sampler = add(node_kind::sampler, 1, 2, {});
  sampler.events = melody();
  sampler.media = whole;
  sampler.embedded_audio = response;
  const uint32_t sampler_id = sampler.id;
  uint32_t last = add(node_kind::mix, 1, 2, {source_id, synth_id, sampler_id}).id;
  for (auto& row : node_table()) {
    std::vector<uint32_t> inputs{last};
    if (row.keyed)
      inputs.push_back(key_id);
    auto& n = add(row.kind, 1, row.channels, inputs);
    n.params = row.params;
    n.automation = row.automation;
    if (row.plays_media) {
      n.media = whole;
      n.embedded_audio = response;
    }
    last = n.id;
  }
  last = add(node_kind::mix, 1, 2, {last, source_id}).id;
  auto& out = add(node_kind::output, 1, 2, {last});
  out.params = {{"bits", 0}};
  g.output_node = out.id;
  return g;
}

struct free_deleter {
  void operator()(std::byte* p) const noexcept { std::free(p); }
};

} // namespace

BOOST_AUTO_TEST_CASE(processing_never_allocates) {
  for (auto precision : {sample_precision::float32, sample_precision::float64})
  for (uint32_t rate : {44100u, 48000u})
    for (uint32_t block : {1u, 64u, 1000u}) {
      auto g = make_graph(rate);
      g.precision = precision;
      const auto err = validate(g);
      BOOST_TEST_REQUIRE(!err.has_value(), (err ? err->to_string(g) : std::string{}));
      constexpr uint32_t segment = 4096;
      const auto layout = bus_layout::make(g, segment);
      std::unique_ptr<std::byte, free_deleter> slot(
        static_cast<std::byte*>(std::aligned_alloc(64, layout.slot_bytes)));
      std::vector<partition_executor> executors;
      executors.reserve(2);
      executors.emplace_back(g, 0, layout, block);
      executors.emplace_back(g, 1, layout, block);

      const int64_t frames = block == 1 ? 20000 : 200000;
      allocations = 0;
      deallocations = 0;
      counting = true;
      for (int64_t first = 0; first < frames; first += segment) {
        const auto count = static_cast<uint32_t>(std::min<int64_t>(segment, frames - first));
        for (auto& ex : executors)
          ex.run_rt(first, count, slot.get());
      }
      counting = false;
      const auto where = std::string{to_string(precision)} + ", rate " + std::to_string(rate) +
                         ", block " + std::to_string(block);
      BOOST_TEST(allocations.load() == 0u, where);
      BOOST_TEST(deallocations.load() == 0u, where);
      for (auto& ex : executors)
        BOOST_TEST(!ex.non_finite_node().has_value());
    }
}

BOOST_AUTO_TEST_CASE(the_counter_sees_allocations) {
  counting = true;
  allocations = 0;
  auto* p = new std::vector<int>(100);
  delete p;
  counting = false;
  BOOST_TEST(allocations.load() >= 2u);
}

BOOST_AUTO_TEST_CASE(every_built_node_kind_has_a_row) {
  const auto rows = node_table();
  render_graph g;
  g.sample_rate = 48000;
  for (int k = 0; k <= static_cast<int>(last_node_kind); ++k) {
    const auto kind = static_cast<node_kind>(k);
    if (kind == node_kind::clip_source || kind == node_kind::test_fault)
      continue; // a clip plays media windows, covered by the executor's own suite; faults misbehave
    if (std::find(std::begin(structural), std::end(structural), kind) != std::end(structural))
      continue;
    render_node n;
    n.kind = kind;
    n.channels = 2;
    n.inputs = {0};
    if (kind == node_kind::convolution || kind == node_kind::sampler) {
      n.media = media_region{0, 0, 0, 16, 0, 0};
      n.embedded_audio.assign(16, 0.0f);
      g.media = {{"response", 1, 16}};
    }
    if (kind == node_kind::fold_down)
      continue; // needs a surround input; in the chain after surround_pan
    const bool built = make_processor(g, n) != nullptr;
    const bool listed = std::any_of(rows.begin(), rows.end(),
                                    [&](const node_row& r) { return r.kind == kind; });
    BOOST_TEST((!built || listed), to_string(kind) << " is built but has no row in node_table");
  }
}

// -- the same graph in double ---------------------------------------------------------------------

namespace {

/// Renders frames [0, frames) of `g` in segments of `segment` frames and blocks of `block`,
/// through one executor per partition, and returns the sink's interleaved float samples.
/// With `split_at` > 0, the executors are replaced at that frame by new ones restored from
/// the old ones' snapshots (a checkpoint and a resume).
std::vector<float> render_sink(const render_graph& g, uint32_t block, int64_t frames,
                               int64_t split_at = 0) {
  constexpr uint32_t segment = 4096;
  const auto layout = bus_layout::make(g, segment);
  std::unique_ptr<std::byte, free_deleter> slot(
    static_cast<std::byte*>(std::aligned_alloc(64, layout.slot_bytes)));
  auto make = [&] {
    std::vector<partition_executor> executors;
    for (uint32_t p = 0; p < g.partitions.size(); ++p)
      executors.emplace_back(g, p, layout, block);
    return executors;
  };
  auto executors = make();
  std::vector<float> sink;
  for (int64_t first = 0; first < frames; first += segment) {
    if (split_at > 0 && first == split_at) {
      auto resumed = make();
      for (size_t p = 0; p < executors.size(); ++p)
        for (const auto& state : executors[p].snapshot()) {
          const auto why = resumed[p].restore(state.node, state.bytes);
          BOOST_TEST_REQUIRE(why.empty(), why);
        }
      executors = std::move(resumed);
    }
    const auto count = static_cast<uint32_t>(std::min<int64_t>(segment, frames - first));
    for (auto& ex : executors)
      ex.run_rt(first, count, slot.get());
    const auto* out = reinterpret_cast<const float*>(slot.get() + layout.sink_offset);
    sink.insert(sink.end(), out, out + size_t{count} * layout.sink_channels);
  }
  return sink;
}

} // namespace

// Every node kind in double runs the same algorithm as in float: the outputs of the whole chain
// agree to float precision, and are not the same bits (the double path is taken).
BOOST_AUTO_TEST_CASE(every_node_kind_in_double_agrees_with_float) {
  for (uint32_t rate : {44100u, 96000u}) {
    auto g = make_graph(rate);
    const auto single = render_sink(g, 256, 120000);
    g.precision = sample_precision::float64;
    const auto twice = render_sink(g, 256, 120000);
    BOOST_TEST_REQUIRE(single.size() == twice.size());
    double worst = 0, peak = 0;
    size_t differing = 0;
    for (size_t i = 0; i < single.size(); ++i) {
      worst = std::max(worst, std::abs(static_cast<double>(single[i]) - static_cast<double>(twice[i])));
      peak = std::max(peak, std::abs(static_cast<double>(twice[i])));
      differing += single[i] != twice[i];
    }
    BOOST_TEST(peak > 0.01, "rate " << rate << ": the chain is silent");
    BOOST_TEST(worst < 1e-4 * peak, "rate " << rate << ": float and double differ by " << worst
                                            << " (peak " << peak << ")");
    BOOST_TEST(differing > single.size() / 10, "rate " << rate << ": only " << differing
                                                       << " samples differ from float");
  }
}

// Snapshots of every node kind in either precision restore bit for bit: a render resumed
// from them mid-way is the unbroken render, for any block size.
BOOST_AUTO_TEST_CASE(every_node_kind_resumes_from_its_snapshot_bit_for_bit_in_both_precisions) {
  for (auto precision : {sample_precision::float32, sample_precision::float64})
    for (uint32_t block : {64u, 1000u}) {
      auto g = make_graph(48000);
      g.precision = precision;
      const auto unbroken = render_sink(g, block, 60000);
      const auto resumed = render_sink(g, block, 60000, 8 * 4096);
      BOOST_TEST((unbroken == resumed), to_string(precision) << ", block " << block);
    }
}

// -- cohorts ----------------------------------------------------------------------------------------

namespace {

/// `tracks` partitions of one shape (an instrument, a constant eq, a constant linked compressor,
/// a gain), their parameters different, and a master partition summing them into the output.
/// Odd tracks are mono, and every third has a second eq band, so cohorts form, split by layout,
/// and end short of a full vector.
render_graph cohort_graph(uint32_t tracks, sample_precision precision) {
  render_graph g;
  g.sample_rate = 48000;
  g.first_frame = 0;
  g.frame_count = 100000;
  g.precision = precision;
  auto add = [&](node_kind kind, uint32_t partition, uint16_t channels,
                 std::vector<uint32_t> inputs, std::vector<parameter> params) {
    auto& n = loophole::test::append_node(g, kind, partition, channels, std::move(inputs));
    n.params = std::move(params);
    return n.id;
  };
  std::vector<uint32_t> outs;
  for (uint32_t t = 0; t < tracks; ++t) {
    g.partitions.push_back({"track " + std::to_string(t)});
    const uint16_t channels = t % 2 == 0 ? 2 : 1;
    const auto source = add(node_kind::instrument, t, channels, {}, {{"attack_frames", 50.0 + t}});
    g.nodes[source].events = melody();
    std::vector<parameter> eq{{"b1_type", 0}, {"b1_freq", 200.0 + 150.0 * t}, {"b1_gain_db", 6}};
    if (t % 3 == 0)
      eq.insert(eq.end(), {{"b2_type", 2}, {"b2_freq", 40.0 + t}});
    const auto filtered = add(node_kind::eq, t, channels, {source}, eq);
    const auto squeezed =
      add(node_kind::compressor, t, channels, {filtered},
          {{"threshold_db", -30.0 + t}, {"ratio", 2.0 + t}, {"knee_db", static_cast<double>(t % 4)},
           {"attack_frames", 30.0 + 20 * t}, {"release_frames", 900.0 + 300 * t},
           {"lookahead_frames", t % 2 == 0 ? 32.0 : 0.0}, {"detector", t % 5 == 4 ? 1.0 : 0.0},
           {"rms_frames", 128}});
    outs.push_back(add(node_kind::gain, t, channels, {squeezed}, {{"gain", 0.3}}));
  }
  g.partitions.push_back({"master"});
  const uint32_t master = tracks;
  std::vector<uint32_t> stereo;
  for (auto o : outs)
    stereo.push_back(g.nodes[o].channels == 2 ? o
                                              : add(node_kind::pan, master, 2, {o}, {{"position", 0.0}}));
  const auto sum = add(node_kind::mix, master, 2, stereo, {});
  g.output_node = add(node_kind::output, master, 2, {sum}, {{"bits", 0}});
  return g;
}

/// The sink of `g`, its track partitions run one after the other or as one cohort.
std::vector<float> render_tracks(const render_graph& g, uint32_t block, bool together) {
  constexpr uint32_t segment = 4096;
  const auto layout = bus_layout::make(g, segment);
  std::unique_ptr<std::byte, free_deleter> slot(
    static_cast<std::byte*>(std::aligned_alloc(64, layout.slot_bytes)));
  std::vector<partition_executor> executors;
  executors.reserve(g.partitions.size());
  for (uint32_t p = 0; p < g.partitions.size(); ++p)
    executors.emplace_back(g, p, layout, block);
  std::vector<partition_executor*> tracks;
  for (size_t p = 0; p + 1 < executors.size(); ++p)
    tracks.push_back(&executors[p]);
  partition_cohort cohort{tracks};
  std::vector<float> sink;
  for (int64_t first = 0; first < g.frame_count; first += segment) {
    const auto count = static_cast<uint32_t>(std::min<int64_t>(segment, g.frame_count - first));
    if (together) {
      counting = true;
      cohort.run_rt(first, count, slot.get());
      counting = false;
    } else {
      for (auto* t : tracks)
        t->run_rt(first, count, slot.get());
    }
    executors.back().run_rt(first, count, slot.get());
    const auto* out = reinterpret_cast<const float*>(slot.get() + layout.sink_offset);
    sink.insert(sink.end(), out, out + size_t{count} * layout.sink_channels);
  }
  return sink;
}

} // namespace

// A cohort changes no bit and allocates nothing, whatever its size (short of a vector, two
// vectors and a half), block size and precision; and it does form: the eqs and compressors of
// tracks of one layout share keys, other layouts do not.
BOOST_AUTO_TEST_CASE(partitions_run_as_a_cohort_give_the_bits_they_give_alone) {
  {
    const auto g = cohort_graph(6, sample_precision::float32);
    auto key = [&](uint32_t track, uint32_t step) {
      return make_processor(g, g.nodes[track * 4 + step])->cohort_key();
    };
    for (uint32_t step : {1u, 2u}) { // the eq, the compressor
      BOOST_TEST(key(2, step) != 0u);
      BOOST_TEST(key(2, step) == key(4, step)); // stereo, one band
      BOOST_TEST(key(1, step) != key(2, step)); // mono against stereo
    }
    BOOST_TEST(key(0, 1) != key(2, 1)); // two eq bands against one
    BOOST_TEST(key(0, 0) == 0u);        // the instrument runs alone
  }
  for (auto precision : {sample_precision::float32, sample_precision::float64})
    for (uint32_t tracks : {3u, 10u, 21u})
      for (uint32_t block : {7u, 1024u}) {
        const auto g = cohort_graph(tracks, precision);
        const auto err = validate(g);
        BOOST_TEST_REQUIRE(!err.has_value(), (err ? err->to_string(g) : std::string{}));
        const auto alone = render_tracks(g, block, false);
        allocations = 0;
        const auto together = render_tracks(g, block, true);
        const auto where = std::string{to_string(precision)} + ", " + std::to_string(tracks) +
                           " tracks, block " + std::to_string(block);
        BOOST_TEST((alone == together), where);
        BOOST_TEST(allocations.load() == 0u, where);
        double peak = 0;
        for (float x : alone)
          peak = std::max(peak, std::abs(static_cast<double>(x)));
        BOOST_TEST(peak > 0.01, where << ": silent");
      }
}
