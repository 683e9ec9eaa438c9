// signal/partition_executor.hpp (with bus_layout, the built-in nodes, fade_curve, output_stage
// and tpdf_dither): graphs are built in code and rendered the way Pulse and Signal do it, one
// segment slot at a time, every partition in dependency order; results are compared with
// analytic expectations, swept over sample rates, block sizes and segment sizes.

#define BOOST_TEST_MODULE signal_partition_executor
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <numbers>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "signal/bus_layout.hpp"
#include "signal/fade_curve.hpp"
#include "signal/output_stage.hpp"
#include "signal/partition_executor.hpp"
#include "signal/render_graph.hpp"
#include "signal/tpdf_dither.hpp"
#include "tests/support/graph_nodes.hpp"

using namespace loophole::signal;

namespace {

// -- the sweep ------------------------------------------------------------------

constexpr uint32_t rates[] = {44100, 48000, 96000};
constexpr uint32_t blocks[] = {1, 64, 1000, 4096};
constexpr uint32_t segments[] = {4096, 65536};

// -- building graphs --------------------------------------------------------------

parameter param(std::string name, double value) {
  return parameter{std::move(name), value};
}

struct graph_builder {
  render_graph g;

  graph_builder(uint32_t rate, int64_t first, int64_t count) {
    g.sample_rate = rate;
    g.first_frame = first;
    g.frame_count = count;
  }

  uint32_t partition(std::string label) {
    g.partitions.push_back({std::move(label)});
    return static_cast<uint32_t>(g.partitions.size() - 1);
  }

  uint32_t media(uint16_t channels, int64_t frames) {
    g.media.push_back({"media" + std::to_string(g.media.size()), channels, frames});
    return static_cast<uint32_t>(g.media.size() - 1);
  }

  uint32_t node(node_kind kind, uint32_t partition, uint16_t channels, std::vector<uint32_t> inputs,
                std::vector<parameter> params = {}) {
    const auto id =
      loophole::test::append_node(g, kind, partition, channels, std::move(inputs), std::move(params))
        .id;
    if (kind == node_kind::output)
      g.output_node = id;
    return id;
  }

  uint32_t clip(uint32_t partition, uint16_t channels, media_region region,
                std::vector<parameter> params = {}) {
    auto id = node(node_kind::clip_source, partition, channels, {}, std::move(params));
    g.nodes[id].media = region;
    return id;
  }
};

// -- media buffers ------------------------------------------------------------------

/// A decoded media buffer: one vector per channel, at the graph's rate.
struct media_buffer {
  std::vector<std::vector<float>> channel;
};

// -- the render rig -----------------------------------------------------------------

struct free_deleter {
  void operator()(std::byte* p) const noexcept { std::free(p); }
};

/// Partitions in an order where each follows the partitions it reads from.
std::vector<uint32_t> partition_order(const render_graph& g) {
  const auto np = g.partitions.size();
  std::vector<std::vector<uint32_t>> succ(np);
  std::vector<size_t> indeg(np, 0);
  for (const auto& n : g.nodes)
    for (auto in : n.inputs) {
      auto from = g.nodes[in].partition;
      if (from != n.partition) {
        succ[from].push_back(n.partition);
        ++indeg[n.partition];
      }
    }
  std::queue<uint32_t> ready;
  for (uint32_t p = 0; p < np; ++p)
    if (indeg[p] == 0)
      ready.push(p);
  std::vector<uint32_t> order;
  while (!ready.empty()) {
    auto p = ready.front();
    ready.pop();
    order.push_back(p);
    for (auto q : succ[p])
      if (--indeg[q] == 0)
        ready.push(q);
  }
  return order;
}

/// One slot of bus memory and one executor per partition, driven segment by segment as Pulse
/// drives Signal.
class rig {
public:
  rig(const render_graph& g, uint32_t segment_frames, uint32_t block)
      : graph_(g), layout_(bus_layout::make(g, segment_frames)) {
    auto err = validate(g);
    BOOST_TEST_REQUIRE(!err.has_value(), (err ? err->to_string(g) : std::string{}));
    BOOST_TEST_REQUIRE(layout_.slot_bytes % 64u == 0u);
    slot_.reset(static_cast<std::byte*>(std::aligned_alloc(64, layout_.slot_bytes)));
    BOOST_TEST_REQUIRE(slot_ != nullptr);
    order_ = partition_order(g);
    BOOST_TEST_REQUIRE(order_.size() == g.partitions.size());
    executors_.reserve(g.partitions.size());
    for (uint32_t p = 0; p < g.partitions.size(); ++p)
      executors_.emplace_back(g, p, layout_, block);
  }

  const bus_layout& layout() const noexcept { return layout_; }
  std::byte* slot() const noexcept { return slot_.get(); }
  partition_executor& executor(uint32_t partition) { return executors_[partition]; }

  /// Fills every byte of the slot with 0xFF (a NaN as float): whatever a node reads that
  /// nobody wrote for this segment poisons the result.
  void poison() { std::memset(slot_.get(), 0xFF, layout_.slot_bytes); }

  /// Fills the media windows for timeline frames [first, first + count) as Pulse's
  /// segment_feeder does: window sample i holds the source frame the clip plays at timeline
  /// frame first + i, planar, segment_frames samples a channel; only the frames inside the
  /// clip's region are written.
  void fill_windows(int64_t first, uint32_t count, const std::vector<media_buffer>& media) {
    for (const auto& w : layout_.windows) {
      const auto& region = *graph_.nodes[w.node].media;
      const auto& buf = media.at(region.media_index);
      const int64_t s = std::max(first, region.timeline_start);
      const int64_t e = std::min(first + count, region.timeline_start + region.length);
      auto* window = reinterpret_cast<float*>(slot_.get() + w.offset);
      for (uint16_t c = 0; c < w.channels; ++c)
        for (int64_t t = s; t < e; ++t)
          window[size_t{c} * layout_.segment_frames + static_cast<size_t>(t - first)] =
              buf.channel[c][static_cast<size_t>(region.source_frame(t - region.timeline_start))];
    }
  }

  /// Runs every partition in dependency order.
  void run(int64_t first, uint32_t count) {
    for (auto p : order_)
      executors_[p].run_rt(first, count, slot_.get());
  }

  /// The sink's bytes for the last run of `count` frames.
  std::vector<std::byte> sink(uint32_t count) const {
    const auto* p = slot_.get() + layout_.sink_offset;
    return {p, p + size_t{count} * layout_.sink_channels * 4u};
  }

  /// Renders the graph's whole time span; returns the interleaved sink bytes.
  std::vector<std::byte> render(const std::vector<media_buffer>& media) {
    std::vector<std::byte> out;
    const int64_t end = graph_.first_frame + graph_.frame_count;
    for (int64_t first = graph_.first_frame; first < end; first += layout_.segment_frames) {
      const auto count =
          static_cast<uint32_t>(std::min<int64_t>(layout_.segment_frames, end - first));
      poison();
      fill_windows(first, count, media);
      run(first, count);
      for (uint32_t p = 0; p < executors_.size(); ++p)
        if (auto bad = executors_[p].non_finite_node(); bad && !first_non_finite_)
          first_non_finite_ = *bad;
      auto bytes = sink(count);
      out.insert(out.end(), bytes.begin(), bytes.end());
    }
    return out;
  }

  std::optional<uint32_t> first_non_finite() const noexcept { return first_non_finite_; }

private:
  const render_graph& graph_;
  bus_layout layout_;
  std::unique_ptr<std::byte, free_deleter> slot_;
  std::vector<uint32_t> order_;
  std::vector<partition_executor> executors_;
  std::optional<uint32_t> first_non_finite_;
};

std::vector<float> as_floats(const std::vector<std::byte>& bytes) {
  std::vector<float> v(bytes.size() / 4u);
  std::memcpy(v.data(), bytes.data(), v.size() * 4u);
  return v;
}

std::vector<int32_t> as_ints(const std::vector<std::byte>& bytes) {
  std::vector<int32_t> v(bytes.size() / 4u);
  std::memcpy(v.data(), bytes.data(), v.size() * 4u);
  return v;
}

std::string where(uint32_t rate, uint32_t block, uint32_t segment) {
  return "rate " + std::to_string(rate) + ", block " + std::to_string(block) + ", segment " +
         std::to_string(segment);
}

// -- reference formulas, written from the headers' comments -------------------------------

/// fade_curve.hpp: linear t; equal_power sin(t pi/2); exponential (e^(a t) - 1)/(e^a - 1) with
/// a = ln 1000; s_curve 0.5 - 0.5 cos(pi t).
double reference_shape(fade_shape shape, double t) {
  switch (shape) {
  case fade_shape::linear:
    return t;
  case fade_shape::equal_power:
    return std::sin(t * std::numbers::pi / 2.0);
  case fade_shape::exponential: {
    const double a = std::log(1000.0);
    return (std::exp(a * t) - 1.0) / (std::exp(a) - 1.0);
  }
  case fade_shape::s_curve:
    return 0.5 - 0.5 * std::cos(std::numbers::pi * t);
  }
  return t;
}

/// True when `actual` is `expected` rounded to float (allowing for `expected` itself being
/// a few double ulps off the true value).
bool is_float_rounding_of(float actual, double expected) {
  if (expected == 0.0)
    return actual == 0.0f;
  const double half_ulp = std::ldexp(1.0, std::ilogb(expected) - 24);
  return std::abs(static_cast<double>(actual) - expected) <= half_ulp * (1.0 + 1e-4);
}

constexpr fade_shape all_shapes[] = {fade_shape::linear, fade_shape::equal_power,
                                     fade_shape::exponential, fade_shape::s_curve};

double shape_param(fade_shape s) {
  return static_cast<double>(static_cast<int>(s));
}

// -- the two-track sine session -----------------------------------------------------------

/// Two tracks of sines (a mono clip panned left of centre, a stereo clip panned right) mixed
/// and scaled in a master partition into a float sink.
struct sine_session {
  static constexpr double amp_a = 0.5, freq_a = 440.0;
  static constexpr double amp_bl = 0.6, freq_bl = 1000.0;
  static constexpr double amp_br = 0.4, freq_br = 3000.0, phase_br = 0.3;
  static constexpr double clip_gain_a = 0.5, fader_a = 0.75, pan_a = -0.3;
  static constexpr double clip_gain_b = 0.9, fader_b = 0.6, pan_b = 0.5;
  static constexpr double master = 0.8;

  uint32_t rate;
  int64_t first, count;
  media_region region_a, region_b;
  render_graph graph;
  std::vector<media_buffer> media;

  sine_session(uint32_t r, uint16_t out_bits = 0, std::vector<parameter> extra_clip_params = {})
      : rate(r), first(1000), count(r / 4 + 1234) {
    const auto media_frames = static_cast<int64_t>(r / 2);
    region_a = media_region{0, first + 100, 250, r / 4 - 300};
    region_b = media_region{1, first - 500, 0, r / 4 + 900};
    graph_builder b(rate, first, count);
    auto pa = b.partition("track a"), pb = b.partition("track b"), pm = b.partition("master");
    b.media(1, media_frames);
    b.media(2, media_frames);
    auto params_a = extra_clip_params, params_b = extra_clip_params;
    params_a.push_back(param("gain", clip_gain_a));
    params_b.push_back(param("gain", clip_gain_b));
    auto ca = b.clip(pa, 1, region_a, params_a);
    auto ga = b.node(node_kind::gain, pa, 1, {ca}, {param("gain", fader_a)});
    auto na = b.node(node_kind::pan, pa, 2, {ga}, {param("position", pan_a)});
    auto cb = b.clip(pb, 2, region_b, params_b);
    auto gb = b.node(node_kind::gain, pb, 2, {cb}, {param("gain", fader_b)});
    auto nb = b.node(node_kind::pan, pb, 2, {gb}, {param("position", pan_b)});
    auto mix = b.node(node_kind::mix, pm, 2, {na, nb});
    auto mg = b.node(node_kind::gain, pm, 2, {mix}, {param("gain", master)});
    b.node(node_kind::output, pm, 2, {mg}, {param("bits", out_bits)});
    graph = b.g;

    media.resize(2);
    media[0].channel.resize(1);
    media[1].channel.resize(2);
    for (int64_t n = 0; n < media_frames; ++n) {
      media[0].channel[0].push_back(static_cast<float>(sample_a(n)));
      media[1].channel[0].push_back(static_cast<float>(sample_bl(n)));
      media[1].channel[1].push_back(static_cast<float>(sample_br(n)));
    }
  }

  double phase(double freq, int64_t n) const {
    return 2.0 * std::numbers::pi * freq * static_cast<double>(n) / rate;
  }
  double sample_a(int64_t n) const { return amp_a * std::sin(phase(freq_a, n)); }
  double sample_bl(int64_t n) const { return amp_bl * std::sin(phase(freq_bl, n)); }
  double sample_br(int64_t n) const { return amp_br * std::sin(phase(freq_br, n) + phase_br); }

  static bool inside(const media_region& r, int64_t t) {
    return t >= r.timeline_start && t < r.timeline_start + r.length;
  }

  /// The analytic output at timeline frame t, channel c (0 left, 1 right), in double.
  double expected(int64_t t, int c) const {
    const double theta_a = (pan_a + 1.0) * std::numbers::pi / 4.0;
    const double theta_b = (pan_b + 1.0) * std::numbers::pi / 4.0;
    double a = 0.0, b = 0.0;
    if (inside(region_a, t)) {
      const double x = sample_a(region_a.source_offset + t - region_a.timeline_start);
      a = x * clip_gain_a * fader_a * (c == 0 ? std::cos(theta_a) : std::sin(theta_a));
    }
    if (inside(region_b, t)) {
      const int64_t n = region_b.source_offset + t - region_b.timeline_start;
      b = c == 0 ? sample_bl(n) * clip_gain_b * fader_b * std::cos(theta_b)
                 : sample_br(n) * clip_gain_b * fader_b * std::sin(theta_b);
    }
    return (a + b) * master;
  }
};

/// A ramp media: frame n holds (n + 1) / 2^20, exact in float and never zero.
media_buffer ramp_media(int64_t frames) {
  media_buffer m;
  m.channel.resize(1);
  for (int64_t n = 0; n < frames; ++n)
    m.channel[0].push_back(std::ldexp(static_cast<float>(n + 1), -20));
  return m;
}

/// clip (partition 0, exported) -> gain 1 -> float output (partition 1).
render_graph ramp_graph(uint32_t rate, int64_t first, int64_t count, media_region region,
                        int64_t media_frames) {
  graph_builder b(rate, first, count);
  auto p0 = b.partition("track");
  auto p1 = b.partition("master");
  b.media(1, media_frames);
  auto c = b.clip(p0, 1, region);
  auto g = b.node(node_kind::gain, p1, 1, {c}, {param("gain", 1.0)});
  b.node(node_kind::output, p1, 1, {g}, {param("bits", 0)});
  return b.g;
}

media_buffer constant_media(int64_t frames, float level) {
  media_buffer m;
  m.channel.assign(1, std::vector<float>(static_cast<size_t>(frames), level));
  return m;
}

} // namespace

// -- summing, gain and pan ----------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(mixing)

BOOST_AUTO_TEST_CASE(gained_panned_sines_null_against_the_analytic_mix) {
  for (auto rate : rates) {
    sine_session s(rate);
    for (auto segment : segments)
      for (auto block : blocks) {
        BOOST_TEST_CONTEXT(where(rate, block, segment)) {
          rig r(s.graph, segment, block);
          auto out = as_floats(r.render(s.media));
          BOOST_TEST_REQUIRE(out.size() == static_cast<size_t>(s.count) * 2u);
          double peak_error = 0.0, peak_signal = 0.0;
          for (int64_t i = 0; i < s.count; ++i)
            for (int c = 0; c < 2; ++c) {
              const double want = s.expected(s.first + i, c);
              const double got = static_cast<double>(out[static_cast<size_t>(i * 2 + c)]);
              peak_error = std::max(peak_error, std::abs(got - want));
              peak_signal = std::max(peak_signal, std::abs(want));
            }
          BOOST_TEST(peak_signal > 0.1); // the sines are really there
          // -140 dBFS: 1e-7 of full scale.
          BOOST_TEST(peak_error < 1e-7, "peak error " << peak_error << " ("
                                                      << 20.0 * std::log10(peak_error) << " dBFS)");
          // After both regions end, exact silence.
          const int64_t tail = s.region_a.timeline_start + s.region_a.length - s.first;
          const int64_t tail_b = s.region_b.timeline_start + s.region_b.length - s.first;
          for (auto i = static_cast<size_t>(std::max(tail, tail_b)) * 2u; i < out.size(); ++i)
            BOOST_TEST_REQUIRE(out[i] == 0.0f);
        }
      }
  }
}

BOOST_AUTO_TEST_CASE(a_mix_sums_in_the_listed_order_and_a_sine_cancels_its_inverse) {
  // There is no negative gain, so the inverse is in the media: media 1 is media 0 negated.
  for (auto rate : rates) {
    graph_builder b(rate, 0, rate / 2);
    auto p = b.partition("all");
    b.media(1, rate);
    b.media(1, rate);
    auto c0 = b.clip(p, 1, media_region{0, 0, 0, rate / 2}, {param("gain", 0.7)});
    auto c1 = b.clip(p, 1, media_region{1, 0, 0, rate / 2}, {param("gain", 0.7)});
    auto mix = b.node(node_kind::mix, p, 1, {c0, c1});
    b.node(node_kind::output, p, 1, {mix}, {param("bits", 0)});
    std::vector<media_buffer> media(2);
    media[0].channel.resize(1);
    media[1].channel.resize(1);
    for (uint32_t n = 0; n < rate; ++n) {
      const auto x = static_cast<float>(
          0.9 * std::sin(2.0 * std::numbers::pi * 997.0 * static_cast<double>(n) / rate));
      media[0].channel[0].push_back(x);
      media[1].channel[0].push_back(-x);
    }
    for (auto block : blocks) {
      BOOST_TEST_CONTEXT(where(rate, block, 65536)) {
        rig r(b.g, 65536, block);
        auto out = as_floats(r.render(media));
        BOOST_TEST(std::all_of(out.begin(), out.end(), [](float v) { return v == 0.0f; }));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(pan_is_constant_power_with_a_mono_input_feeding_both_sides) {
  for (double position : {-1.0, -0.5, 0.0, 0.25, 1.0}) {
    graph_builder b(48000, 0, 64);
    auto p = b.partition("all");
    b.media(1, 64);
    auto c = b.clip(p, 1, media_region{0, 0, 0, 64});
    auto pan = b.node(node_kind::pan, p, 2, {c}, {param("position", position)});
    b.node(node_kind::output, p, 2, {pan}, {param("bits", 0)});
    std::vector<media_buffer> media(1);
    media[0].channel.assign(1, std::vector<float>(64, 1.0f));
    rig r(b.g, 4096, 64);
    auto out = as_floats(r.render(media));
    const double theta = (position + 1.0) * std::numbers::pi / 4.0;
    BOOST_TEST_CONTEXT("position " << position) {
      BOOST_TEST(out[0] == static_cast<float>(std::cos(theta)));
      BOOST_TEST(out[1] == static_cast<float>(std::sin(theta)));
      const double power = static_cast<double>(out[0]) * static_cast<double>(out[0]) +
                           static_cast<double>(out[1]) * static_cast<double>(out[1]);
      BOOST_TEST(std::abs(power - 1.0) < 1e-6);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

// -- clip placement -----------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(placement)

BOOST_AUTO_TEST_CASE(a_clip_plays_source_frame_o_at_timeline_frame_t_and_nothing_outside) {
  const int64_t media_frames = 300000;
  const std::vector<media_buffer> media{ramp_media(media_frames)};
  for (auto rate : rates)
    for (auto segment : segments) {
      const int64_t first = 5000;
      const int64_t count = 3 * int64_t{segment} / 2 + 77;
      // (timeline_start, source_offset, length): inside the span; straddling the first
      // segment boundary; starting before the span; running past its end; one frame long.
      const media_region cases[] = {
          {0, first + 10, 1234, 2000},    {0, first + segment - 3, 17, 9},
          {0, first - 100, 50, 300},      {0, first + count - 40, 7, 1000},
          {0, first + segment, 99999, 1},
      };
      for (const auto& region : cases)
        for (auto block : blocks) {
          BOOST_TEST_CONTEXT(where(rate, block, segment)
                             << ", clip at " << region.timeline_start << " from "
                             << region.source_offset << " for " << region.length) {
            auto g = ramp_graph(rate, first, count, region, media_frames);
            rig r(g, segment, block);
            auto out = as_floats(r.render(media));
            BOOST_TEST_REQUIRE(out.size() == static_cast<size_t>(count));
            size_t wrong = 0;
            for (int64_t i = 0; i < count; ++i) {
              const int64_t t = first + i;
              const bool in =
                  t >= region.timeline_start && t < region.timeline_start + region.length;
              const float want = in ? media[0].channel[0][static_cast<size_t>(
                                          region.source_offset + t - region.timeline_start)]
                                    : 0.0f;
              if (out[static_cast<size_t>(i)] != want && wrong++ < 3)
                BOOST_TEST(out[static_cast<size_t>(i)] == want, "timeline frame " << t);
            }
            BOOST_TEST(wrong == 0u);
          }
        }
    }
}

BOOST_AUTO_TEST_CASE(an_impulse_at_source_frame_o_lands_exactly_on_frame_t) {
  for (auto rate : rates)
    for (auto block : blocks) {
      const int64_t o = 12345, t0 = 70000;
      media_buffer m;
      m.channel.assign(1, std::vector<float>(50000, 0.0f));
      m.channel[0][static_cast<size_t>(o)] = 1.0f;
      auto g = ramp_graph(rate, 60000, 20000, media_region{0, t0, o, 30000}, 50000);
      rig r(g, 4096, block);
      auto out = as_floats(r.render({m}));
      BOOST_TEST_CONTEXT(where(rate, block, 4096)) {
        BOOST_TEST(out[static_cast<size_t>(t0 - 60000)] == 1.0f);
        BOOST_TEST(std::count(out.begin(), out.end(), 0.0f) ==
                   static_cast<std::ptrdiff_t>(out.size() - 1));
      }
    }
}

BOOST_AUTO_TEST_CASE(a_mono_media_fills_every_channel_of_its_clip) {
  graph_builder b(48000, 0, 100);
  auto p = b.partition("all");
  b.media(1, 100);
  auto c = b.clip(p, 2, media_region{0, 0, 0, 100});
  b.node(node_kind::output, p, 2, {c}, {param("bits", 0)});
  rig r(b.g, 4096, 64);
  const std::vector<media_buffer> media{ramp_media(100)};
  auto out = as_floats(r.render(media));
  for (size_t i = 0; i < 100; ++i) {
    BOOST_TEST_REQUIRE(out[2 * i] == media[0].channel[0][i]);
    BOOST_TEST_REQUIRE(out[2 * i + 1] == media[0].channel[0][i]);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// -- fades --------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(fades)

namespace {

struct fade_case {
  fade_shape in_shape, out_shape;
  int64_t fade_in, fade_out;
};

/// One clip of constant material `level` with fades, straight into a float sink.
render_graph fade_graph(uint32_t rate, int64_t region_start, int64_t length, const fade_case& f,
                        double clip_gain) {
  graph_builder b(rate, 0, region_start + length + 50);
  auto p = b.partition("all");
  b.media(1, length);
  auto c =
      b.clip(p, 1, media_region{0, region_start, 0, length},
             {param("gain", clip_gain), param("fade_in_frames", static_cast<double>(f.fade_in)),
              param("fade_in_shape", shape_param(f.in_shape)),
              param("fade_out_frames", static_cast<double>(f.fade_out)),
              param("fade_out_shape", shape_param(f.out_shape))});
  b.node(node_kind::output, p, 1, {c}, {param("bits", 0)});
  return b.g;
}

/// The gain at frame k of a region of `length`, from the header's description: fade in of L
/// frames: shape(k / L); fade out of L frames, j counted from its first frame: shape((L - j)/L).
double reference_clip_gain(int64_t k, int64_t length, const fade_case& f) {
  double g = 1.0;
  if (k < f.fade_in)
    g *= reference_shape(f.in_shape, static_cast<double>(k) / static_cast<double>(f.fade_in));
  const int64_t j = k - (length - f.fade_out);
  if (f.fade_out > 0 && j >= 0)
    g *= reference_shape(f.out_shape,
                         static_cast<double>(f.fade_out - j) / static_cast<double>(f.fade_out));
  return g;
}

} // namespace

BOOST_AUTO_TEST_CASE(every_fade_shape_is_sample_exact) {
  const float level = 0.75f;
  const double clip_gain = 0.5;
  const int64_t start = 4133, length = 10000;
  for (auto shape : all_shapes)
    for (auto rate : rates)
      for (auto block : blocks) {
        const fade_case f{shape, shape, 3000, 4001};
        BOOST_TEST_CONTEXT(to_string(shape) << ", " << where(rate, block, 4096)) {
          auto g = fade_graph(rate, start, length, f, clip_gain);
          rig r(g, 4096, block);
          auto out = as_floats(r.render({constant_media(length, level)}));
          size_t wrong = 0;
          for (int64_t i = 0; i < static_cast<int64_t>(out.size()); ++i) {
            const int64_t k = i - start;
            const double want = k < 0 || k >= length ? 0.0
                                                     : static_cast<double>(level) * clip_gain *
                                                           reference_clip_gain(k, length, f);
            const float got = out[static_cast<size_t>(i)];
            if (!is_float_rounding_of(got, want) && wrong++ < 3)
              BOOST_TEST(got == want, "region frame " << k);
          }
          BOOST_TEST(wrong == 0u);
          const auto at = [&](int64_t k) { return out[static_cast<size_t>(start + k)]; };
          const float full = level * 0.5f;
          BOOST_TEST(at(0) == 0.0f); // a fade in starts from silence
          BOOST_TEST(at(1) > 0.0f);
          BOOST_TEST(at(2999) < full);
          BOOST_TEST(at(3000) == full); // and reaches full level after fade_in frames
          BOOST_TEST(at(length - 4001 - 1) == full);
          BOOST_TEST(at(length - 4001) == full); // a fade out starts at full level
          BOOST_TEST(at(length - 1) > 0.0f);     // and its last frame is shape(1 / L)
          BOOST_TEST(at(length - 1) < at(length - 2));
          BOOST_TEST(at(length) == 0.0f);
        }
      }
}

BOOST_AUTO_TEST_CASE(any_pair_of_shapes_meeting_in_a_short_region_is_sample_exact) {
  // Fades may not overlap (validate refuses it): a fade in of 600 and a fade out of 400 over
  // 1000 frames meet, so every frame is inside one of them.
  for (auto in_shape : all_shapes)
    for (auto out_shape : all_shapes)
      for (auto block : {1u, 97u, 4096u}) {
        const fade_case f{in_shape, out_shape, 600, 400};
        BOOST_TEST_CONTEXT(to_string(in_shape)
                           << " in, " << to_string(out_shape) << " out, block " << block) {
          auto g = fade_graph(48000, 10, 1000, f, 1.0);
          rig r(g, 4096, block);
          auto out = as_floats(r.render({constant_media(1000, 1.0f)}));
          size_t wrong = 0;
          for (int64_t k = 0; k < 1000; ++k) {
            const double want = reference_clip_gain(k, 1000, f);
            const float got = out[static_cast<size_t>(10 + k)];
            if (!is_float_rounding_of(got, want) && wrong++ < 3)
              BOOST_TEST(got == want, "region frame " << k);
          }
          BOOST_TEST(wrong == 0u);
        }
      }
}

// Each clip's output is rounded to float before the mix adds them, so the crossfade of a
// constant c is exactly c when c * g rounds exactly (c a power of two: the gains k/L and
// (L-k)/L sum to 1 and the float roundings cancel), and otherwise within one float ulp of c.
BOOST_AUTO_TEST_CASE(a_linear_fade_out_over_a_linear_fade_in_sums_to_the_constant) {
  for (float level : {1.0f, 0.5f, 0.25f, 0.8f, 0.123f})
    for (int64_t fade : {int64_t{1}, int64_t{3}, int64_t{1000}, int64_t{4410}, int64_t{48000}})
      for (auto block : {1u, 1000u, 4096u}) {
        BOOST_TEST_CONTEXT("level " << level << ", crossfade " << fade << ", block " << block) {
          // clip A: [1000, 1000 + la) fading out over its last `fade` frames; clip B starts
          // where A's fade out starts and fades in over the same frames.
          const int64_t la = fade + 5000, lb = fade + 3000;
          const int64_t a0 = 1000, b0 = a0 + la - fade;
          graph_builder b(48000, 0, b0 + lb + 100);
          auto p = b.partition("all");
          b.media(1, std::max(la, lb));
          auto ca = b.clip(p, 1, media_region{0, a0, 0, la},
                           {param("fade_out_frames", static_cast<double>(fade))});
          auto cb = b.clip(p, 1, media_region{0, b0, 0, lb},
                           {param("fade_in_frames", static_cast<double>(fade))});
          auto mix = b.node(node_kind::mix, p, 1, {ca, cb});
          b.node(node_kind::output, p, 1, {mix}, {param("bits", 0)});
          rig r(b.g, 65536, block);
          auto out = as_floats(r.render({constant_media(std::max(la, lb), level)}));
          const bool dyadic = level == 1.0f || level == 0.5f || level == 0.25f;
          const double ulp = std::ldexp(1.0, std::ilogb(level) - 23);
          size_t wrong = 0;
          for (int64_t t = a0; t < b0 + lb; ++t) {
            const float got = out[static_cast<size_t>(t)];
            const bool ok =
                dyadic ? got == level
                       : std::abs(static_cast<double>(got) - static_cast<double>(level)) <= ulp;
            if (!ok && wrong++ < 3)
              BOOST_TEST(got == level, "timeline frame " << t);
          }
          BOOST_TEST(wrong == 0u);
        }
      }
}

BOOST_AUTO_TEST_CASE(equal_power_fades_keep_the_power_of_a_crossfade) {
  for (int64_t fade :
       {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{1000}, int64_t{44100}, int64_t{96001}}) {
    double worst = 0.0, worst_ref = 0.0;
    for (int64_t j = 0; j < fade; ++j) {
      // Fade in at its frame j, fade out at its frame j (region lengths chosen so both are in
      // their fades): the header's functions and the reference formula.
      const double gin =
          clip_fade_gain(j, fade + 10, fade, fade_shape::equal_power, 0, fade_shape::linear);
      const double gout =
          clip_fade_gain(10 + j, fade + 10, 0, fade_shape::linear, fade, fade_shape::equal_power);
      worst = std::max(worst, std::abs(gin * gin + gout * gout - 1.0));
      const double rin = reference_shape(fade_shape::equal_power,
                                         static_cast<double>(j) / static_cast<double>(fade));
      const double rout = reference_shape(fade_shape::equal_power, static_cast<double>(fade - j) /
                                                                       static_cast<double>(fade));
      worst_ref = std::max(worst_ref, std::abs(rin * rin + rout * rout - 1.0));
      if (j == 0)
        BOOST_TEST(gin == 0.0);
    }
    BOOST_TEST(worst < 1e-12, "fade " << fade << ": " << worst);
    BOOST_TEST(worst_ref < 1e-12, "fade " << fade << ": " << worst_ref);
  }
}

BOOST_AUTO_TEST_CASE(rendered_equal_power_crossfade_keeps_power_within_float_precision) {
  const int64_t fade = 4800, la = 10000, a0 = 100, b0 = a0 + la - fade;
  for (auto block : blocks) {
    // Each clip rendered on its own (material 1.0), then the powers summed.
    auto render_one = [&](bool first_clip) {
      graph_builder b(48000, 0, b0 + fade + 10);
      auto p = b.partition("all");
      b.media(1, la);
      auto c = first_clip ? b.clip(p, 1, media_region{0, a0, 0, la},
                                   {param("fade_out_frames", static_cast<double>(fade)),
                                    param("fade_out_shape", shape_param(fade_shape::equal_power))})
                          : b.clip(p, 1, media_region{0, b0, 0, la},
                                   {param("fade_in_frames", static_cast<double>(fade)),
                                    param("fade_in_shape", shape_param(fade_shape::equal_power))});
      b.node(node_kind::output, p, 1, {c}, {param("bits", 0)});
      rig r(b.g, 4096, block);
      return as_floats(r.render({constant_media(la, 1.0f)}));
    };
    auto a = render_one(true), b = render_one(false);
    double worst = 0.0;
    for (int64_t t = b0; t < b0 + fade; ++t) {
      const auto x = static_cast<double>(a[static_cast<size_t>(t)]);
      const auto y = static_cast<double>(b[static_cast<size_t>(t)]);
      worst = std::max(worst, std::abs(x * x + y * y - 1.0));
    }
    BOOST_TEST(worst < 3e-7, "block " << block << ": " << worst);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// -- invariance -----------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(invariance)

namespace {

std::vector<parameter> fade_params() {
  return {param("fade_in_frames", 1500), param("fade_in_shape", 1), param("fade_out_frames", 2777),
          param("fade_out_shape", 3)};
}

/// Renders `graph` for every block and segment size and checks the bytes never change.
/// Returns the number of configurations that differed from the first.
size_t differing_configurations(const render_graph& graph, const std::vector<media_buffer>& media) {
  std::optional<std::vector<std::byte>> reference;
  size_t differing = 0;
  for (auto segment : segments)
    for (auto block : blocks) {
      rig r(graph, segment, block);
      auto out = r.render(media);
      if (!reference) {
        reference = out;
        continue;
      }
      if (out != *reference) {
        size_t n = 0;
        for (size_t i = 0; i < out.size(); ++i)
          n += out[i] != (*reference)[i];
        BOOST_TEST_MESSAGE(where(graph.sample_rate, block, segment)
                           << ": " << n << " bytes differ from block 1, segment 4096");
        ++differing;
      }
    }
  return differing;
}

} // namespace

BOOST_AUTO_TEST_CASE(output_bytes_do_not_depend_on_block_or_segment_size_with_float_exact_gains) {
  for (auto rate : rates)
    for (uint16_t bits : {uint16_t{0}, uint16_t{24}}) {
      sine_session s(rate, bits, fade_params());
      // Float-exact clip gains: both of the clip's inner loops compute the same product.
      for (auto& n : s.graph.nodes)
        if (n.kind == node_kind::clip_source)
          for (auto& p : n.params)
            if (p.name == "gain")
              p.value = 0.5;
      if (bits)
        s.graph.nodes[s.graph.output_node].params.push_back(param("dither", 1));
      BOOST_TEST(differing_configurations(s.graph, s.media) == 0u,
                 "rate " << rate << ", bits " << bits);
    }
}

BOOST_AUTO_TEST_CASE(output_bytes_do_not_depend_on_block_or_segment_size) {
  for (auto rate : rates)
    for (uint16_t bits : {uint16_t{0}, uint16_t{24}}) {
      // Clip gains as a session gives them (0.5 and 0.9: -6.02 dB and -0.92 dB), with fades.
      sine_session s(rate, bits, fade_params());
      if (bits)
        s.graph.nodes[s.graph.output_node].params.push_back(param("dither", 1));
      // Regression: a clip gain that is not exact in float, with fades, must
      // round every frame the same way whatever block holds it.
      BOOST_TEST(differing_configurations(s.graph, s.media) == 0u,
                 "rate " << rate << ", bits " << bits);
    }
}

BOOST_AUTO_TEST_SUITE_END()

// -- the output stage ---------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(output_stage_quantisation)

namespace {

/// A clip of `values` (mono, gain 1) straight into an integer sink of `bits`.
std::vector<int32_t> quantise_through_graph(const std::vector<float>& values, uint16_t bits,
                                            std::vector<parameter> extra, uint32_t block,
                                            uint16_t channels = 1) {
  const auto n = static_cast<int64_t>(values.size());
  graph_builder b(48000, 0, n);
  auto p = b.partition("all");
  b.media(1, n);
  auto c = b.clip(p, channels, media_region{0, 0, 0, n});
  extra.push_back(param("bits", bits));
  b.node(node_kind::output, p, channels, {c}, std::move(extra));
  media_buffer m;
  m.channel.push_back(values);
  rig r(b.g, 4096, block);
  return as_ints(r.render({m}));
}

/// Round half up of x * 2^(bits-1), clipped to the word, left-aligned in 32 bits.
int32_t reference_quantise(float x, uint16_t bits) {
  const double full = std::ldexp(1.0, bits - 1);
  double v = std::floor(static_cast<double>(x) * full + 0.5);
  v = std::clamp(v, -full, full - 1.0);
  const auto q = static_cast<int64_t>(v);
  return static_cast<int32_t>(q * (int64_t{1} << (32 - bits)));
}

std::vector<float> test_values(uint16_t bits) {
  const float lsb = std::ldexp(1.0f, 1 - bits);
  std::vector<float> v{0.0f,
                       1.0f,
                       -1.0f,
                       0.5f,
                       -0.5f,
                       1.5f,
                       -3.0f,
                       0.999999f,
                       -0.999999f,
                       0.5f * lsb,
                       -0.5f * lsb,
                       1.5f * lsb,
                       -1.5f * lsb,
                       2.5f * lsb,
                       -2.5f * lsb,
                       0.49f * lsb,
                       -0.51f * lsb,
                       lsb,
                       -lsb,
                       1.0f - 0.5f * lsb,
                       1.0f - 1.5f * lsb,
                       -1.0f + 0.5f * lsb,
                       std::numeric_limits<float>::denorm_min(),
                       1e30f,
                       -1e30f};
  for (int i = 0; i < 2000; ++i) // a sweep through the whole range
    v.push_back(static_cast<float>(std::sin(0.0123 * i) * 1.05));
  return v;
}

} // namespace

BOOST_AUTO_TEST_CASE(without_dither_integers_are_round_half_up_left_aligned_and_clipped) {
  for (uint16_t bits : {uint16_t{8}, uint16_t{16}, uint16_t{24}, uint16_t{32}})
    for (auto block : {1u, 64u, 1000u}) {
      BOOST_TEST_CONTEXT(bits << " bits, block " << block) {
        const auto values = test_values(bits);
        auto out = quantise_through_graph(values, bits, {param("dither", 0)}, block);
        BOOST_TEST_REQUIRE(out.size() == values.size());
        for (size_t i = 0; i < values.size(); ++i)
          BOOST_TEST_REQUIRE(out[i] == reference_quantise(values[i], bits),
                             "value " << values[i] << " (index " << i << ")");
      }
    }
}

BOOST_AUTO_TEST_CASE(hand_computed_16_and_24_bit_words) {
  const float lsb16 = std::ldexp(1.0f, -15);
  auto q16 = quantise_through_graph(
      {0.5f, 1.0f, -1.0f, 1.5f * lsb16, -1.5f * lsb16, 0.5f * lsb16, -0.5f * lsb16, 2.0f, -2.0f},
      16, {}, 64);
  const std::vector<int32_t> want16{0x40000000, 0x7FFF0000, INT32_MIN,  2 << 16,  -1 * (1 << 16),
                                    1 << 16,    0,          0x7FFF0000, INT32_MIN};
  BOOST_TEST(q16 == want16, boost::test_tools::per_element());
  const float lsb24 = std::ldexp(1.0f, -23);
  auto q24 = quantise_through_graph(
      {0.25f, 1.0f, -1.0f, 0.5f * lsb24, -0.5f * lsb24, -1.5f * lsb24}, 24, {}, 64);
  const std::vector<int32_t> want24{0x20000000, 0x7FFFFF00, INT32_MIN, 1 << 8, 0, -1 * (1 << 8)};
  BOOST_TEST(q24 == want24, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(float_output_is_the_signal_unchanged) {
  const std::vector<float> values{0.0f, -0.0f, 1.0f, 3.5f, -1e-30f, 0.123456789f};
  graph_builder b(48000, 0, 6);
  auto p = b.partition("all");
  b.media(1, 6);
  auto c = b.clip(p, 1, media_region{0, 0, 0, 6});
  b.node(node_kind::output, p, 1, {c}, {param("bits", 0), param("dither", 1)});
  media_buffer m;
  m.channel.push_back(values);
  rig r(b.g, 4096, 4);
  auto out = r.render({m});
  std::vector<std::byte> want(values.size() * 4u);
  std::memcpy(want.data(), values.data(), want.size());
  BOOST_TEST((out == want));
}

BOOST_AUTO_TEST_CASE(dither_changes_a_word_by_at_most_one_lsb) {
  for (uint16_t bits : {uint16_t{8}, uint16_t{16}, uint16_t{24}}) {
    const auto values = test_values(bits);
    auto plain = quantise_through_graph(values, bits, {param("dither", 0)}, 64, 2);
    auto dithered = quantise_through_graph(values, bits, {param("dither", 1)}, 64, 2);
    BOOST_TEST_REQUIRE(plain.size() == dithered.size());
    size_t changed = 0;
    for (size_t i = 0; i < plain.size(); ++i) {
      const int64_t a = plain[i] >> (32 - bits), d = dithered[i] >> (32 - bits);
      BOOST_TEST_REQUIRE(std::abs(a - d) <= 1, bits << " bits, sample " << i);
      // and the low bits stay clear: still left-aligned
      BOOST_TEST_REQUIRE(
          (static_cast<uint32_t>(dithered[i]) & ((uint32_t{1} << (32 - bits)) - 1u)) == 0u);
      changed += a != d;
    }
    BOOST_TEST(changed > plain.size() / 10, bits << " bits: dither changed " << changed);
  }
}

BOOST_AUTO_TEST_CASE(thirty_two_bit_and_float_outputs_are_never_dithered) {
  const auto values = test_values(32);
  BOOST_TEST(quantise_through_graph(values, 32, {param("dither", 1)}, 64) ==
                 quantise_through_graph(values, 32, {param("dither", 0)}, 64),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(dither_is_deterministic_for_a_seed_and_differs_between_seeds) {
  const auto values = test_values(16);
  auto run = [&](double seed, uint32_t block) {
    return quantise_through_graph(values, 16, {param("dither", 1), param("dither_seed", seed)},
                                  block, 2);
  };
  auto a = run(1, 64);
  BOOST_TEST(a == run(1, 64), boost::test_tools::per_element());
  BOOST_TEST(a == run(1, 1), boost::test_tools::per_element()); // and block-independent
  auto b = run(2, 64);
  size_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i)
    differ += a[i] != b[i];
  BOOST_TEST(differ > a.size() / 10, "seeds 1 and 2 differ in " << differ << " words");
  // No seed given: the fixed default, the same every time.
  auto d1 = quantise_through_graph(values, 16, {param("dither", 1)}, 64, 2);
  auto d2 = quantise_through_graph(values, 16, {param("dither", 1)}, 1000, 2);
  BOOST_TEST(d1 == d2, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(tpdf_noise_has_zero_mean_and_a_variance_of_one_sixth_lsb_squared) {
  for (uint64_t seed : {default_dither_seed, uint64_t{1}, uint64_t{0xDEADBEEF}}) {
    constexpr int64_t frames = 500000;
    double sum = 0.0, sum_sq = 0.0, lo = 0.0, hi = 0.0;
    size_t inner_half = 0;
    for (int64_t f = 0; f < frames; ++f)
      for (uint16_t c = 0; c < 2; ++c) {
        const double n = tpdf_noise(seed, f, c);
        sum += n;
        sum_sq += n * n;
        lo = std::min(lo, n);
        hi = std::max(hi, n);
        inner_half += std::abs(n) < 0.5;
      }
    const double count = 2.0 * frames;
    const double mean = sum / count;
    const double variance = sum_sq / count - mean * mean;
    BOOST_TEST_CONTEXT("seed " << seed) {
      // Standard error of the mean: sqrt(1/6 / 1e6) = 4.1e-4.
      BOOST_TEST(std::abs(mean) < 2e-3);
      BOOST_TEST(std::abs(variance - 1.0 / 6.0) < 2e-3);
      BOOST_TEST(lo > -1.0);
      BOOST_TEST(hi < 1.0);
      // Triangular: P(|n| < 1/2) = 3/4.
      BOOST_TEST(std::abs(static_cast<double>(inner_half) / count - 0.75) < 3e-3);
    }
  }
}

// The output stage quantises in vectorised runs: every word, from float and from double
// views, must still be the scalar formula's.
namespace {

/// Quantises a sweep (past full scale both ways, with NaN and infinities) of `Sample` views
/// through the output stage; returns how many words differ from the scalar formula's.
template <class Sample>
size_t output_stage_mismatches(unsigned bits, bool dither, uint16_t channels, uint32_t frames) {
  render_node node;
  node.kind = node_kind::output;
  node.channels = channels;
  node.params = {param("bits", bits), param("dither", dither ? 1 : 0),
                 param("dither_seed", 12345)};
  const output_stage stage(node);
  std::vector<std::vector<Sample>> in(channels, std::vector<Sample>(frames));
  basic_audio_view<Sample> v;
  v.channels = channels;
  v.frames = frames;
  for (uint16_t c = 0; c < channels; ++c) {
    for (uint32_t i = 0; i < frames; ++i) {
      const uint32_t k = i * 7 + c * 3;
      in[c][i] = k % 97 == 5   ? std::numeric_limits<Sample>::quiet_NaN()
                 : k % 89 == 3 ? std::numeric_limits<Sample>::infinity() * (k % 2 ? 1 : -1)
                               : static_cast<Sample>(std::sin(0.37 * k) * 1.25);
    }
    v.channel[c] = in[c].data();
  }
  const int64_t first = 48000 * 3 + 11;
  std::vector<int32_t> out(size_t{frames} * channels, 0x5A5A5A5A);
  stage.write_rt(first, v, out.data());
  const double full = std::ldexp(1.0, static_cast<int>(bits) - 1);
  size_t wrong = 0;
  for (uint32_t i = 0; i < frames; ++i)
    for (uint16_t c = 0; c < channels; ++c) {
      const double noise = dither ? tpdf_noise(12345, first + i, c) : 0.0;
      wrong += out[size_t{i} * channels + c] !=
               quantise_left_aligned(static_cast<double>(in[c][i]), noise, bits, full);
    }
  return wrong;
}

} // namespace

// Runs the clone of the quantiser this CPU selects (LOOPHOLE_VECTOR_CLONES): on a CPU with
// AVX-512 that is the x86-64-v4 one, elsewhere AVX2 or the baseline.
BOOST_AUTO_TEST_CASE(the_output_stage_gives_every_sample_the_scalar_formulas_word) {
  for (unsigned bits : {8u, 16u, 24u})
    for (bool dither : {false, true})
      for (uint16_t channels : {uint16_t{1}, uint16_t{2}, uint16_t{3}, uint16_t{6}})
        for (uint32_t frames : {1u, 255u, 256u, 257u, 1000u})
          BOOST_TEST_CONTEXT(bits << " bits, dither " << dither << ", " << channels
                                  << " channels, " << frames << " frames") {
            BOOST_TEST(output_stage_mismatches<float>(bits, dither, channels, frames) == 0u);
            BOOST_TEST(output_stage_mismatches<double>(bits, dither, channels, frames) == 0u);
          }
}

BOOST_AUTO_TEST_CASE(tpdf_noise_is_a_pure_function_of_seed_frame_and_channel) {
  BOOST_TEST(tpdf_noise(7, 1000, 0) == tpdf_noise(7, 1000, 0));
  BOOST_TEST(tpdf_noise(7, 1000, 0) != tpdf_noise(7, 1000, 1));
  BOOST_TEST(tpdf_noise(7, 1000, 0) != tpdf_noise(7, 1001, 0));
  BOOST_TEST(tpdf_noise(7, 1000, 0) != tpdf_noise(8, 1000, 0));
}

BOOST_AUTO_TEST_SUITE_END()

// -- non-finite values ------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(non_finite)

namespace {

/// Runs one segment of `g` with the media windows filled with `value` (the whole window).
struct one_segment {
  render_graph graph;
  rig r;

  one_segment(render_graph g, uint32_t block) : graph(std::move(g)), r(graph, 4096, block) {}

  void run_with_windows(float value, int64_t first = 0, uint32_t count = 4096) {
    r.poison();
    for (const auto& w : r.layout().windows) {
      auto* p = reinterpret_cast<float*>(r.slot() + w.offset);
      std::fill_n(p, size_t{w.channels} * r.layout().segment_frames, value);
    }
    r.run(first, count);
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(a_nan_from_an_exported_clip_is_reported_at_that_clip) {
  for (auto block : blocks)
    for (float bad :
         {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
          -std::numeric_limits<float>::infinity()}) {
      BOOST_TEST_CONTEXT("block " << block << ", value " << bad) {
        one_segment s(ramp_graph(48000, 0, 4096, media_region{0, 100, 0, 1000}, 1000), block);
        s.run_with_windows(bad);
        BOOST_TEST((s.r.executor(0).non_finite_node() == std::optional<uint32_t>{0u}));
        // The clean-up run: finite media clear the report.
        s.run_with_windows(0.25f);
        BOOST_TEST(!s.r.executor(0).non_finite_node().has_value());
        BOOST_TEST(!s.r.executor(1).non_finite_node().has_value());
      }
    }
}

BOOST_AUTO_TEST_CASE(a_nan_inside_a_track_is_reported_at_the_node_that_made_it) {
  sine_session s(48000);
  // Track a: clip 0 -> gain 1 -> pan 2 (exported); track b: 3 -> 4 -> 5 (exported).
  for (auto block : blocks) {
    BOOST_TEST_CONTEXT("block " << block) {
      rig r(s.graph, 4096, block);
      r.poison();
      r.fill_windows(s.first, 4096, s.media);
      auto* window = reinterpret_cast<float*>(r.slot() + r.layout().window_of(0)->offset);
      window[2000] = std::numeric_limits<float>::quiet_NaN();
      r.run(s.first, 4096);
      // The clip (0) made it; the gain (1) and pan (2) only passed it on.
      BOOST_TEST((r.executor(0).non_finite_node() == std::optional<uint32_t>{0u}));
      BOOST_TEST(r.executor(0).non_finite_frame() <= s.first + 2000);
      BOOST_TEST(r.executor(0).non_finite_frame() + block > s.first + 2000);
      BOOST_TEST(!r.executor(1).non_finite_node().has_value());
    }
  }
}

BOOST_AUTO_TEST_CASE(media_outside_a_clips_region_is_never_read) {
  // The whole window is NaN but the region does not reach this segment.
  one_segment s(ramp_graph(48000, 0, 20000, media_region{0, 10000, 0, 1000}, 1000), 64);
  s.run_with_windows(std::numeric_limits<float>::quiet_NaN(), 0, 4096);
  BOOST_TEST(!s.r.executor(0).non_finite_node().has_value());
  auto out = as_floats(s.r.sink(4096));
  BOOST_TEST(std::all_of(out.begin(), out.end(), [](float v) { return v == 0.0f; }));
}

BOOST_AUTO_TEST_CASE(a_full_render_of_finite_media_reports_nothing) {
  sine_session s(44100);
  rig r(s.graph, 4096, 1000);
  r.render(s.media);
  BOOST_TEST(!r.first_non_finite().has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// -- the bus layout ---------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(layout)

BOOST_AUTO_TEST_CASE(windows_exports_and_sink_are_64_byte_aligned_and_disjoint) {
  for (auto segment : {1u, 3u, 4096u, 65536u}) {
    sine_session s(48000);
    auto l = bus_layout::make(s.graph, segment);
    BOOST_TEST_CONTEXT("segment " << segment) {
      BOOST_TEST(l.segment_frames == segment);
      BOOST_TEST_REQUIRE(l.windows.size() == 2u); // the two clips, in id order
      BOOST_TEST(l.windows[0].node == 0u);
      BOOST_TEST(l.windows[0].channels == 1u);
      BOOST_TEST(l.windows[1].node == 3u);
      BOOST_TEST(l.windows[1].channels == 2u);
      BOOST_TEST_REQUIRE(l.exports.size() == 2u); // the two pans
      BOOST_TEST(l.exports[0].node == 2u);
      BOOST_TEST(l.exports[1].node == 5u);
      BOOST_TEST(l.find(2) == &l.exports[0]);
      BOOST_TEST(l.find(1) == nullptr);
      BOOST_TEST(l.window_of(3) == &l.windows[1]);
      BOOST_TEST(l.window_of(2) == nullptr);
      BOOST_TEST(l.sink_channels == 2u);
      std::vector<std::pair<uint64_t, uint64_t>> spans;
      for (const auto& w : l.windows)
        spans.emplace_back(w.offset, w.offset + uint64_t{w.channels} * segment * 4u);
      for (const auto& e : l.exports)
        spans.emplace_back(e.offset, e.offset + uint64_t{e.channels} * segment * 4u);
      spans.emplace_back(l.sink_offset, l.sink_offset + uint64_t{l.sink_channels} * segment * 4u);
      std::sort(spans.begin(), spans.end());
      for (size_t i = 0; i < spans.size(); ++i) {
        BOOST_TEST(spans[i].first % 64u == 0u);
        if (i > 0)
          BOOST_TEST(spans[i].first >= spans[i - 1].second);
      }
      BOOST_TEST(l.slot_bytes >= spans.back().second);
      BOOST_TEST(l.slot_bytes % 64u == 0u);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(block_hook)

// Signal's heartbeat rides on this: after every block but the last.
BOOST_AUTO_TEST_CASE(the_hook_runs_between_blocks) {
  loophole::signal::render_graph g;
  g.sample_rate = 48000;
  g.frame_count = 10000;
  g.media.push_back({"0123456789abcdef0123456789abcdef", 1, 10000});
  g.partitions.push_back({"t"});
  loophole::signal::render_node c;
  c.id = 0;
  c.label = "clip";
  c.kind = loophole::signal::node_kind::clip_source;
  c.channels = 1;
  c.media = loophole::signal::media_region{0, 0, 0, 10000};
  loophole::signal::render_node o;
  o.id = 1;
  o.label = "out";
  o.kind = loophole::signal::node_kind::output;
  o.channels = 1;
  o.inputs = {0};
  o.params = {{"bits", 0}};
  g.nodes = {c, o};
  g.output_node = 1;
  BOOST_TEST_REQUIRE(!loophole::signal::validate(g));
  const auto layout = loophole::signal::bus_layout::make(g, 4096);
  std::vector<double> storage(layout.slot_bytes / sizeof(double) + 1, 0.0);
  auto* slot = reinterpret_cast<std::byte*>(storage.data());
  for (uint32_t block : {1000u, 1024u, 4096u}) {
    loophole::signal::partition_executor ex{g, 0, layout, block};
    int calls = 0;
    ex.run_rt(0, 4000, slot,
              {[](void* n) noexcept { ++*static_cast<int*>(n); }, &calls});
    BOOST_TEST(calls == static_cast<int>((4000 + block - 1) / block) - 1, "block " << block);
    ex.run_rt(0, 4000, slot); // no hook: fine
  }
}

BOOST_AUTO_TEST_SUITE_END()

// -- stateful nodes and checkpoints -------------------------------------------------------

BOOST_AUTO_TEST_SUITE(checkpoints)

namespace {

/// clip (mono impulse train media) -> delay -> output, all in one partition, float output.
render_graph delay_graph(uint32_t rate, int64_t frames, double delay, double feedback,
                         double wet, double dry) {
  graph_builder b(rate, 0, frames);
  auto p = b.partition("track");
  b.media(1, frames);
  auto c = b.clip(p, 1, media_region{0, 0, 0, frames});
  auto d = b.node(node_kind::delay, p, 1, {c},
                  {param("frames", delay), param("feedback", feedback), param("wet", wet),
                   param("dry", dry)});
  b.node(node_kind::output, p, 1, {d}, {param("bits", 0)});
  return b.g;
}

media_buffer noise_media(int64_t frames, uint32_t seed) {
  media_buffer m;
  m.channel.assign(1, std::vector<float>(static_cast<size_t>(frames)));
  uint32_t x = seed;
  for (auto& v : m.channel[0]) {
    x = x * 1664525u + 1013904223u;
    v = static_cast<float>(static_cast<int32_t>(x >> 8) - (1 << 23)) / static_cast<float>(1 << 24);
  }
  return m;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_delay_line_echoes_an_impulse_by_the_analytic_feedback_series) {
  // One impulse at frame 10: the output holds wet * feedback^(k-1) at 10 + k D, dry at 10.
  const int64_t frames = 5000;
  const uint32_t delay = 700;
  for (auto block : blocks) {
    BOOST_TEST_CONTEXT("block " << block) {
      auto g = delay_graph(48000, frames, delay, 0.5, 0.75, 0.25);
      rig r(g, 4096, block);
      media_buffer impulse;
      impulse.channel.assign(1, std::vector<float>(frames, 0.0f));
      impulse.channel[0][10] = 1.0f;
      auto out = as_floats(r.render({impulse}));
      BOOST_TEST_REQUIRE(out.size() == static_cast<size_t>(frames));
      for (int64_t i = 0; i < frames; ++i) {
        double expected = 0;
        if (i == 10)
          expected = 0.25;
        else if (i > 10 && (i - 10) % delay == 0)
          expected = 0.75 * std::pow(0.5, static_cast<double>((i - 10) / delay - 1));
        BOOST_TEST(out[static_cast<size_t>(i)] == static_cast<float>(expected),
                   "frame " << i << ": " << out[static_cast<size_t>(i)] << " vs " << expected);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_zero_delay_sums_dry_and_wet) {
  auto g = delay_graph(48000, 1000, 0, 0.0, 0.5, 0.25);
  rig r(g, 4096, 64);
  auto media = noise_media(1000, 7);
  auto out = as_floats(r.render({media}));
  for (size_t i = 0; i < out.size(); ++i)
    BOOST_TEST(out[i] == 0.25f * media.channel[0][i] + 0.5f * media.channel[0][i]);
}

BOOST_AUTO_TEST_CASE(a_render_resumed_from_a_snapshot_is_bit_identical_to_an_unbroken_one) {
  // The delay's line outlives a segment, so the second half depends on the first: a fresh
  // executor given the snapshot must continue exactly where the first one was.
  const int64_t frames = 3 * 4096;
  for (auto block : blocks) {
    BOOST_TEST_CONTEXT("block " << block) {
      auto g = delay_graph(44100, frames, 3000, 0.6, 0.8, 0.5);
      auto media = noise_media(frames, 42);
      rig whole(g, 4096, block);
      auto reference = whole.render({media});

      rig first(g, 4096, block);
      std::vector<std::byte> out;
      auto segment = [&](rig& r, int64_t s) {
        r.poison();
        r.fill_windows(s * 4096, 4096, {media});
        r.run(s * 4096, 4096);
        auto bytes = r.sink(4096);
        out.insert(out.end(), bytes.begin(), bytes.end());
      };
      segment(first, 0);
      auto states = first.executor(0).snapshot();
      BOOST_TEST_REQUIRE(states.size() == 1u); // the clip is stateless, the delay is not
      BOOST_TEST(states[0].node == 1u);
      BOOST_TEST(states[0].bytes.size() == 4u + 3000u * 4u);
      // What Pulse reckons from the node alone, to refuse graphs too big to checkpoint.
      BOOST_TEST(state_bytes(g.nodes[1]) == states[0].bytes.size());
      BOOST_TEST(state_bytes(g.nodes[0]) == 0u);

      rig resumed(g, 4096, block);
      for (const auto& s : states)
        BOOST_TEST_REQUIRE(resumed.executor(0).restore(s.node, s.bytes).empty());
      segment(resumed, 1);
      segment(resumed, 2);
      BOOST_TEST_REQUIRE(out.size() == reference.size());
      BOOST_TEST((out == reference), "the resumed render differs from the unbroken one");

      // Without the restore, it would not be the same: the test can fail.
      rig fresh(g, 4096, block);
      out.clear();
      segment(first, 0);
      segment(fresh, 1);
      BOOST_TEST(!std::equal(out.begin() + 4096 * 4, out.end(), reference.begin() + 4096 * 4));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_state_that_does_not_fit_is_refused_with_a_reason) {
  auto g = delay_graph(48000, 4096, 100, 0.0, 1.0, 0.0);
  rig r(g, 4096, 64);
  std::vector<std::byte> wrong(10);
  BOOST_TEST(!r.executor(0).restore(1, wrong).empty());
  std::vector<std::byte> bad_position(4 + 100 * 4);
  const uint32_t pos = 100; // one past the end of the line
  std::memcpy(bad_position.data(), &pos, 4);
  BOOST_TEST(!r.executor(0).restore(1, bad_position).empty());
  BOOST_TEST(r.executor(0).restore(7, {}).find("not processed") != std::string::npos);
  // The clip is stateless: an empty state fits it, a non-empty one does not.
  BOOST_TEST(r.executor(0).restore(0, {}).empty());
  BOOST_TEST(!r.executor(0).restore(0, wrong).empty());
}

BOOST_AUTO_TEST_CASE(a_fault_node_in_none_mode_passes_audio_and_nan_mode_is_caught_at_it) {
  for (auto block : blocks) {
    BOOST_TEST_CONTEXT("block " << block) {
      const int64_t frames = 10000;
      const int64_t at = 6000;
      for (auto mode : {fault_mode::none, fault_mode::nan}) {
        graph_builder b(48000, 0, frames);
        auto p = b.partition("track");
        auto m = b.partition("master");
        b.media(1, frames);
        auto c = b.clip(p, 1, media_region{0, 0, 0, frames});
        auto f = b.node(node_kind::test_fault, p, 1, {c},
                        {param("mode", static_cast<double>(mode)),
                         param("at_frame", static_cast<double>(at))});
        auto gn = b.node(node_kind::gain, m, 1, {f}, {param("gain", 1.0)});
        b.node(node_kind::output, m, 1, {gn}, {param("bits", 0)});
        rig r(b.g, 4096, block);
        auto media = noise_media(frames, 3);
        auto out = as_floats(r.render({media}));
        if (mode == fault_mode::none) {
          BOOST_TEST(!r.first_non_finite().has_value());
          for (size_t i = 0; i < out.size(); ++i)
            BOOST_TEST_REQUIRE(out[i] == media.channel[0][i]);
        } else {
          // Named at the fault node (1), not at the gain that exported it.
          BOOST_TEST((r.first_non_finite() == std::optional<uint32_t>{f}));
          BOOST_TEST(std::isnan(out[at]));
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(the_flight_recorder_names_the_node_and_block_in_progress) {
  auto g = delay_graph(48000, 4096, 10, 0.0, 1.0, 0.0);
  rig r(g, 4096, 1000);
  flight_record rec{};
  r.executor(0).set_recorder(&rec);
  media_buffer media = noise_media(4096, 1);
  r.fill_windows(0, 4096, {media});
  // Between blocks the record shows the last step of the block just done: the sink (node 2)
  // at that block's first frame.
  struct seen_t {
    flight_record* rec;
    std::vector<std::pair<uint32_t, int64_t>> entries;
    bool all_in_process = true;
  } seen{&rec, {}, true};
  r.executor(0).run_rt(0, 4096, r.slot(),
                       {[](void* p) noexcept {
                          auto* s = static_cast<seen_t*>(p);
                          s->all_in_process = s->all_in_process &&
                            s->rec->phase == static_cast<uint32_t>(recorder_phase::process);
                          s->entries.emplace_back(s->rec->node, s->rec->frame);
                        },
                        &seen});
  BOOST_TEST(seen.all_in_process);
  BOOST_TEST_REQUIRE(seen.entries.size() == 4u); // 5 blocks of at most 1000: a hook between each
  for (size_t i = 0; i < seen.entries.size(); ++i) {
    BOOST_TEST(seen.entries[i].first == 2u);
    BOOST_TEST(seen.entries[i].second == static_cast<int64_t>(i) * 1000);
  }
  // After a run: idle, at the end of the span.
  BOOST_TEST(rec.phase == static_cast<uint32_t>(recorder_phase::idle));
  BOOST_TEST(rec.frame == 4096);
  (void)r.executor(0).snapshot();
  BOOST_TEST(rec.phase == static_cast<uint32_t>(recorder_phase::idle));
}

BOOST_AUTO_TEST_SUITE_END()

// -- the instrument node ----------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(instrument)

namespace {

struct note {
  int64_t on, off;
  uint8_t pitch, velocity;
};

/// Events of notes (plus extra events), sorted as the validator wants them.
std::vector<midi_event> events_of(const std::vector<note>& notes,
                                  std::vector<midi_event> extra = {}) {
  auto events = std::move(extra);
  for (const auto& n : notes) {
    events.push_back({n.on, midi_status::note_on, n.pitch, n.velocity});
    events.push_back({n.off, midi_status::note_off, n.pitch, 0});
  }
  std::stable_sort(events.begin(), events.end(), [](const midi_event& a, const midi_event& b) {
    return a.frame != b.frame ? a.frame < b.frame : event_rank(a) < event_rank(b);
  });
  return events;
}

/// instrument (track partition) -> gain 1 -> float output (master partition).
render_graph instrument_graph(uint32_t rate, int64_t first, int64_t count,
                              std::vector<midi_event> events, double attack, double release,
                              uint16_t channels = 1) {
  graph_builder b(rate, first, count);
  auto p0 = b.partition("track");
  auto p1 = b.partition("master");
  auto i = b.node(node_kind::instrument, p0, channels, {},
                  {param("attack_frames", attack), param("release_frames", release)});
  b.g.nodes[i].events = std::move(events);
  auto g = b.node(node_kind::gain, p1, channels, {i}, {param("gain", 1.0)});
  b.node(node_kind::output, p1, channels, {g}, {param("bits", 0)});
  return b.g;
}

/// Equal temperament, A4 = 440 Hz.
double hz(double pitch) {
  return 440.0 * std::pow(2.0, (pitch - 69.0) / 12.0);
}

/// One note as the instrument's header comment describes it: the oscillator steps before it
/// sounds; a linear attack of A frames, (k+1)/A; from the note-off a linear release of R
/// frames from the level reached. `cycles(n)` is the phase at frame n.
template <class Phase>
double voice(const note& x, int64_t n, double attack, double release, double volume,
             Phase cycles) {
  if (n < x.on)
    return 0.0;
  auto held = [&](int64_t m) { return std::min(1.0, static_cast<double>(m - x.on + 1) / attack); };
  double env = 0.0;
  if (n < x.off)
    env = held(n);
  else if (static_cast<double>(n - x.off + 1) < release)
    env = held(x.off - 1) * (1.0 - static_cast<double>(n - x.off + 1) / release);
  return x.velocity / 127.0 * volume * env * std::sin(2.0 * std::numbers::pi * cycles(n));
}

double voice(const note& x, int64_t n, double attack, double release, uint32_t rate) {
  return voice(x, n, attack, release, 1.0, [&](int64_t m) {
    return hz(x.pitch) * static_cast<double>(m - x.on + 1) / rate;
  });
}

// Float rounding of a sum of a few voices of amplitude <= 1, and the double phase's drift.
constexpr double tolerance = 2e-6;

} // namespace

BOOST_AUTO_TEST_CASE(notes_match_the_analytic_sine_and_envelope_for_every_block_size) {
  const uint32_t rate = 48000;
  const double attack = 480, release = 960;
  // Overlapping notes, one released during its attack, note-ons mid-block for any block size.
  const std::vector<note> notes{{1037, 9000, 69, 127},
                                {5003, 5200, 72, 64},
                                {7777, 20011, 60, 100},
                                {9000, 12345, 69, 90}};
  const int64_t frames = 24000;
  std::vector<std::byte> first_bytes;
  for (auto block : blocks)
    for (auto segment : segments) {
      BOOST_TEST_CONTEXT(where(rate, block, segment)) {
        auto g = instrument_graph(rate, 0, frames, events_of(notes), attack, release);
        rig r(g, segment, block);
        const auto bytes = r.render({});
        const auto out = as_floats(bytes);
        BOOST_TEST_REQUIRE(out.size() == static_cast<size_t>(frames));
        double worst = 0;
        for (int64_t n = 0; n < frames; ++n) {
          double expected = 0;
          for (const auto& x : notes)
            expected += voice(x, n, attack, release, rate);
          worst = std::max(worst, std::abs(static_cast<double>(out[static_cast<size_t>(n)]) - expected));
        }
        BOOST_TEST(worst <= tolerance);
        // The first note starts on its frame: silence before, sin(2 pi f / rate) / A on it.
        BOOST_TEST(out[1036] == 0.0f);
        BOOST_TEST(std::abs(static_cast<double>(out[1037]) - std::sin(2 * std::numbers::pi * 440.0 / rate) / attack) <=
                   1e-9);
        // After the last release: silence.
        BOOST_TEST(out[20011 + 959] == 0.0f);
        BOOST_TEST(out[20011 + 958] != 0.0f);
        if (first_bytes.empty())
          first_bytes = bytes;
        BOOST_TEST((bytes == first_bytes), "the bytes depend on the block or segment size");
      }
    }
}

BOOST_AUTO_TEST_CASE(a_pitch_bend_keeps_the_phase_and_cc7_scales_from_its_frame) {
  const uint32_t rate = 44100;
  const note x{100, 30000, 57, 110};
  const int64_t bend_at = 4321, volume_at = 12345;
  // +4096 of 8192: one semitone up (the range is +-2). Low 7 bits first.
  const uint16_t bend = 8192 + 4096;
  const std::vector<midi_event> extra{
    {bend_at, midi_status::pitch_bend, static_cast<uint8_t>(bend & 0x7F),
     static_cast<uint8_t>(bend >> 7)},
    {volume_at, midi_status::control_change, 7, 64},
    {volume_at, midi_status::control_change, 1, 99}, // other controllers change nothing
  };
  for (auto block : {1u, 64u, 1000u}) {
    BOOST_TEST_CONTEXT("block " << block) {
      auto g = instrument_graph(rate, 0, 32000, events_of({x}, extra), 100, 100);
      rig r(g, 4096, block);
      const auto out = as_floats(r.render({}));
      double worst = 0;
      for (int64_t n = 0; n < 32000; ++n) {
        const double volume = n < volume_at ? 1.0 : 64.0 / 127.0;
        const double expected = voice(x, n, 100, 100, volume, [&](int64_t m) {
          const double f0 = hz(x.pitch), f1 = hz(x.pitch + 1.0);
          return m < bend_at ? f0 * static_cast<double>(m - x.on + 1) / rate
                             : (f0 * static_cast<double>(bend_at - x.on) +
                                f1 * static_cast<double>(m - bend_at + 1)) / rate;
        });
        worst = std::max(worst, std::abs(static_cast<double>(out[static_cast<size_t>(n)]) - expected));
      }
      BOOST_TEST(worst <= tolerance);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_render_that_starts_late_plays_what_sounds_there) {
  // The state at any frame is a function of the events before it: a range of the timeline
  // rendered alone is that range of the whole render, bit for bit.
  const std::vector<note> notes{{1000, 8000, 64, 100}, {3000, 20000, 67, 80}};
  auto whole_graph = instrument_graph(48000, 0, 24000, events_of(notes), 64, 500);
  rig whole(whole_graph, 4096, 64);
  const auto all = whole.render({});
  auto late_graph = instrument_graph(48000, 6001, 10000, events_of(notes), 64, 500);
  rig late(late_graph, 4096, 64);
  const auto part = late.render({});
  BOOST_TEST_REQUIRE(part.size() == 10000u * 4u);
  BOOST_TEST(std::equal(part.begin(), part.end(), all.begin() + 6001 * 4));
  BOOST_TEST(as_floats(part)[0] != 0.0f); // notes were sounding
}

BOOST_AUTO_TEST_CASE(voices_are_stolen_oldest_first_and_equal_frames_end_notes_first) {
  // Two voices, three notes: the third takes the first's voice. A note ending where the same
  // pitch starts again ends first, so the new one starts its attack afresh.
  const double attack = 1, release = 1; // no envelope: each note is its sine, exactly
  const std::vector<note> notes{{0, 2000, 60, 127}, {10, 2000, 64, 127}, {500, 1000, 67, 127},
                                {1000, 1500, 67, 127}};
  graph_builder b(48000, 0, 2000);
  auto p = b.partition("p");
  auto i = b.node(node_kind::instrument, p, 1, {},
                  {param("attack_frames", attack), param("release_frames", release),
                   param("voices", 2)});
  b.g.nodes[i].events = events_of(notes);
  b.node(node_kind::output, p, 1, {i}, {param("bits", 0)});
  rig r(b.g, 4096, 64);
  const auto out = as_floats(r.render({}));
  double worst = 0;
  for (int64_t n = 0; n < 2000; ++n) {
    // Note 0 sounds until 500, when note 2 steals its voice; then notes 1 and 2, 3.
    double expected = voice(notes[1], n, attack, release, 48000);
    if (n < 500)
      expected += voice(notes[0], n, attack, release, 48000);
    else if (n < 1000)
      expected += voice(notes[2], n, attack, release, 48000);
    else if (n < 1500)
      expected += voice(notes[3], n, attack, release, 48000);
    worst = std::max(worst, std::abs(static_cast<double>(out[static_cast<size_t>(n)]) - expected));
  }
  BOOST_TEST(worst <= tolerance);
}

BOOST_AUTO_TEST_CASE(a_render_resumed_from_a_snapshot_continues_bit_for_bit) {
  const std::vector<note> notes{{100, 6000, 62, 100}, {3000, 12000, 69, 70}};
  const std::vector<midi_event> bends{{5000, midi_status::pitch_bend, 0, 32}};
  auto g = instrument_graph(48000, 0, 3 * 4096, events_of(notes, bends), 200, 2000);
  rig whole(g, 4096, 64);
  const auto reference = whole.render({});

  rig first(g, 4096, 64);
  first.run(0, 4096);
  first.run(4096, 4096);
  const auto states = first.executor(0).snapshot();
  BOOST_TEST_REQUIRE(states.size() == 1u);
  BOOST_TEST(states[0].bytes.size() == state_bytes(g.nodes[0]));

  rig resumed(g, 4096, 64);
  BOOST_TEST_REQUIRE(resumed.executor(0).restore(0, states[0].bytes).empty());
  // The restored state is the snapshot's, voices and phases included.
  BOOST_TEST((resumed.executor(0).snapshot()[0].bytes == states[0].bytes));
  resumed.poison();
  resumed.run(2 * 4096, 4096);
  const auto tail = resumed.sink(4096);
  BOOST_TEST(std::equal(tail.begin(), tail.end(), reference.begin() + 2 * 4096 * 4));

  // A fresh executor's state is another: the comparison above can fail.
  rig fresh(g, 4096, 64);
  BOOST_TEST((fresh.executor(0).snapshot()[0].bytes != states[0].bytes));

  std::vector<std::byte> short_state(states[0].bytes.size() - 1);
  BOOST_TEST(!resumed.executor(0).restore(0, short_state).empty());
}

BOOST_AUTO_TEST_SUITE_END()

// A clip of unity gain followed by a node that does not fold into it hands that node its media
// window instead of copying it, in the blocks wholly inside its region and outside its fades:
// the output is -media exactly where the clip plays and silence elsewhere, whatever the blocks,
// and a NaN in the media is still reported at the clip.
BOOST_AUTO_TEST_CASE(a_unity_clip_passes_its_media_window_to_its_reader) {
  const uint32_t rate = 48000;
  const int64_t first = 0, count = 20000;
  const media_region region{0, 3000, 500, 12000};
  graph_builder b(rate, first, count);
  const auto p = b.partition("track");
  b.media(2, 20000);
  const auto clip = b.clip(p, 2, region, {param("gain", 1.0), param("fade_out_frames", 700)});
  const auto flip = b.node(node_kind::polarity, p, 2, {clip}, {});
  b.node(node_kind::output, p, 2, {flip}, {param("bits", 0)});
  std::vector<media_buffer> media(1);
  media[0].channel.assign(2, std::vector<float>(20000));
  for (size_t c = 0; c < 2; ++c)
    for (size_t n = 0; n < 20000; ++n)
      media[0].channel[c][n] = static_cast<float>(std::sin(0.01 * static_cast<double>(n) + static_cast<double>(c)));
  for (auto block : blocks) {
    BOOST_TEST_CONTEXT("block " << block) {
      rig r(b.g, 4096, block);
      const auto out = as_floats(r.render(media));
      BOOST_TEST_REQUIRE(out.size() == static_cast<size_t>(count) * 2u);
      BOOST_TEST(!r.first_non_finite().has_value());
      size_t wrong = 0;
      for (int64_t t = 0; t < count; ++t)
        for (size_t c = 0; c < 2; ++c) {
          const int64_t k = t - region.timeline_start;
          double expected = 0.0;
          if (k >= 0 && k < region.length) {
            const double x = media[0].channel[c][static_cast<size_t>(region.source_offset + k)];
            const double fade = clip_fade_gain(k, region.length, 0, fade_shape::linear, 700,
                                               fade_shape::linear);
            expected = -static_cast<double>(static_cast<float>(x * fade));
          }
          wrong += out[static_cast<size_t>(t) * 2 + c] != static_cast<float>(expected);
        }
      BOOST_TEST(wrong == 0u);
      // A NaN in the middle of the region, in a block that passes the window.
      r.poison();
      const auto poisoned = static_cast<size_t>(region.source_offset + 5000);
      media[0].channel[1][poisoned] = std::numeric_limits<float>::quiet_NaN();
      r.fill_windows(4096, 4096, media);
      r.run(4096, 4096);
      media[0].channel[1][poisoned] = 0.5f;
      BOOST_TEST((r.executor(0).non_finite_node() == std::optional<uint32_t>{clip}));
    }
  }
}
